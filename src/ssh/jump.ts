// The bastion (`ssh_jump`), as `ssh -J` uses one: ONE SSH connection to the jump host per run, and every connection
// belt makes to a node is a direct-tcpip channel over it (ssh2 forwardOut) carrying that node's own SSH session —
// end to end, so the node's host key is checked as always and the jump host never sees a key or a command.
// A 2,000-node join is one connection to the bastion, not 2,000. Its host key is pinned in the cluster's known_hosts
// like any node's. If the connection drops, the next use reconnects, once per run; a second drop is final.
// Its TCP socket is referenced only while channels are open, so an idle jump connection never keeps belt running.
import {connect as tcpConnect, type Socket} from 'node:net'
import type {Duplex} from 'node:stream'
import {type JumpSpec, jumpArgument, parseJump} from '../core/config/jump.js'
import {UsageError} from '../core/errors.js'
import type {SshEndpoint} from '../providers/provider.js'
import {hostToken} from './known-hosts.js'
import {hostKeyMessage, openSession, SshConnectError, type Session, type SessionSettings} from './session.js'

/** What `ssh_address` picks: the private address when asked and known, else the address the provider gave. */
export function routedEndpoint(ep: SshEndpoint, sshAddress: string | undefined): SshEndpoint {
  if (sshAddress !== 'private' || !ep.private_ip || ep.private_ip === ep.host) return ep
  return {...ep, host: ep.private_ip}
}

/** The jump spec for a value already validated with the config (schema.ts); a bad one here is a bug in the caller. */
export function jumpSpec(value: string): JumpSpec {
  const spec = parseJump(value)
  if (typeof spec === 'string') throw new UsageError(`ssh_jump must be user@host[:port] (${spec}), got ${JSON.stringify(value)}`)
  return spec
}

export class JumpHost {
  /** Connections made to the jump host in this run (1 normally; 2 after a reconnect). */
  opened = 0
  private current: Promise<Session> | null = null
  private socket: Socket | null = null
  private drops = 0
  private users = 0
  private closed = false
  readonly endpoint: SshEndpoint

  constructor(readonly spec: JumpSpec, defaultUser: string, private readonly settings: SessionSettings) {
    this.endpoint = {
      name: `jump host ${jumpArgument(spec, defaultUser)}`, host: spec.host, port: spec.port, user: spec.user ?? defaultUser,
      private_ip: null, public_ip: spec.host,
    }
  }

  /** A channel from the jump host to host:port, for one node's SSH session (or the Docker TLS check). */
  async channelTo(host: string, port: number, signal?: AbortSignal): Promise<Duplex> {
    this.hold(1)
    let ch: Duplex
    try {
      const session = await untilAborted(this.session(), signal, `timed out connecting to the ${this.endpoint.name}`)
      ch = await session.forwardOut(host, port).catch((err: Error) => {
        // The jump host could not reach the node (not up yet, filtered): as a refused connection, retried by the fleet.
        // The message names the jump host already ("jump host admin@… could not connect to 10.0.0.5:22 for us: …").
        throw new SshConnectError(err.message, 'refused', true)
      })
    } catch (err) {
      this.hold(-1)
      throw err
    }
    let released = false
    ch.once('close', () => {
      if (released) return
      released = true
      this.hold(-1)
    })
    return ch
  }

  /** How often the jump connection was lost in this run. */
  get lost(): number {
    return this.drops
  }

  close(): void {
    this.closed = true
    const c = this.current
    this.current = null
    void c?.then((s) => s.close(), () => {})
  }

  private session(): Promise<Session> {
    if (this.closed) return Promise.reject(new SshConnectError(`the ${this.endpoint.name} connection is closed`, 'reset', false))
    if (this.current) return this.current
    this.opened++
    const socket = tcpConnect({host: this.spec.host, port: this.spec.port})
    socket.setNoDelay(true)
    socket.setKeepAlive(true, 15_000)
    if (this.users === 0) socket.unref()
    this.socket = socket
    const opening = openSession(this.endpoint, this.settings, {sock: socket, keepalive: false}).then((s) => {
      void s.closed.then(() => this.dropped(opening))
      return s
    }, (err: unknown) => {
      // Every host waiting on it gets this one answer: not retried per host (2,000 logins to a bastion that said no).
      // A refused bastion key is told in this one line (the OpenSSH-style warning's advice names nodes, not bastions).
      throw new SshConnectError(jumpFailure(err, this.endpoint.name), err instanceof SshConnectError ? err.kind : 'protocol', false)
    })
    this.current = opening
    return opening
  }

  private dropped(which: Promise<Session>): void {
    if (this.current !== which || this.closed) return
    this.drops++
    this.socket = null
    this.current = this.drops > 1
      ? Promise.reject(new SshConnectError(`the connection to the ${this.endpoint.name} was lost twice; not reconnecting`, 'reset', false))
      : null
    this.current?.catch(() => {})
  }

  /** The jump socket keeps belt running only while a channel over it is wanted. */
  private hold(delta: number): void {
    this.users += delta
    if (!this.socket) return
    if (this.users > 0) this.socket.ref()
    else this.socket.unref()
  }
}

function jumpFailure(err: unknown, name: string): string {
  if (err instanceof SshConnectError && err.hostKey) {
    const p = err.hostKey
    if (p.reason === 'changed') {
      return `HOST KEY CHANGED for the ${name} (${hostToken(p.host, p.port)}): it presented ${p.presentedType} ${p.presented}, ` +
        `${p.file}:${p.known.map((k) => k.line).join(',')} has ${p.known[0].fingerprint}; refused (possible man-in-the-middle). ` +
        `If the bastion was rebuilt, delete that line of ${p.file}`
    }
    return `${name}: ${hostKeyMessage(p).replace(/ If the host was rebuilt.*$/, '')}`
  }
  const msg = err instanceof Error ? err.message : String(err)
  return msg.includes(name) ? msg : `${name}: ${msg}`
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, message: string): Promise<T> {
  if (!signal) return p
  if (signal.aborted) return Promise.reject(new SshConnectError(message, 'timeout', false))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new SshConnectError(message, 'timeout', false))
    signal.addEventListener('abort', onAbort, {once: true})
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v) },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}

/**
 * For --print-command behind a bastion: how the commands shown reach a node, in OpenSSH's words (belt itself speaks
 * SSH through ssh2, over one jump connection). Null without ssh_jump.
 */
export function jumpCommandNote(settings: {ssh_jump?: string; ssh_user: string}, knownHosts: string): string | null {
  if (!settings.ssh_jump) return null
  const jump = jumpArgument(jumpSpec(settings.ssh_jump), settings.ssh_user)
  return `# each command runs over SSH through the bastion, as: ssh -J ${jump} -o UserKnownHostsFile=${knownHosts} ` +
    `${settings.ssh_user}@NODE-ADDRESS '...'`
}
