// A local TCP port forwarded over one SSH session, as `ssh -L 127.0.0.1:PORT:HOST:HOSTPORT` does: every connection
// to the local port becomes a direct-tcpip channel on the session, to HOST:HOSTPORT as the remote host sees it.
// Only the loopback address listens: the forward is for the person running belt, not for their network.
import {createServer, type Server, type Socket} from 'node:net'
import {oneLine} from './fleet.js'
import type {SshSession} from './types.js'

export interface LocalForward {
  /** The local port (the one asked for, or the one the system chose for 0). */
  port: number
  /** Resolves when the forward has stopped: close() was called or the SSH connection ended. */
  stopped: Promise<'closed' | 'connection-lost'>
  close(): void
}

/** The local port is taken (by another program or an earlier forward). */
export class PortInUseError extends Error {
  constructor(readonly port: number) {
    super(`port ${port} on 127.0.0.1 is in use`)
    this.name = 'PortInUseError'
  }
}

export interface ForwardOptions {
  localPort: number
  remoteHost: string
  remotePort: number
  /** One line per connection that could not be forwarded (the remote end refused, say); the forward goes on. */
  onError?: (message: string) => void
}

export async function forwardLocalPort(session: SshSession, o: ForwardOptions): Promise<LocalForward> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    sock.pause()
    session.forwardOut(o.remoteHost, o.remotePort).then((ch) => {
      ch.on('error', () => sock.destroy())
      ch.on('close', () => sock.destroy())
      sock.on('close', () => ch.destroy())
      sock.pipe(ch).pipe(sock)
      sock.resume()
    }, (err) => {
      o.onError?.(oneLine(err))
      sock.destroy()
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' ? new PortInUseError(o.localPort) : err))
    server.listen(o.localPort, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : o.localPort
  let stop: (how: 'closed' | 'connection-lost') => void = () => {}
  const stopped = new Promise<'closed' | 'connection-lost'>((resolve) => {
    let done = false
    stop = (how) => {
      if (done) return
      done = true
      server.close()
      for (const s of sockets) s.destroy()
      resolve(how)
    }
  })
  void session.closed.then(() => stop('connection-lost'))
  return {port, stopped, close: () => stop('closed')}
}
