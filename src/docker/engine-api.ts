// The Docker Engine API over mutual TLS, as the stock docker CLI speaks it to tcp://HOST:2376: verify the daemon
// (GET /_ping, GET /version) and read the certificate it presents. Used by provision (verification after the
// restart), regenerate-certs and `belt certs`. Errors are one line and name the address.
import {request} from 'node:https'
import type {ClientRequestArgs} from 'node:http'
import {checkServerIdentity, connect as tlsConnect, type ConnectionOptions, type PeerCertificate, type TLSSocket} from 'node:tls'
import {isIP} from 'node:net'
import type {Duplex} from 'node:stream'
import {X509Certificate} from 'node:crypto'
import {sleep} from '../core/wait.js'

export const DOCKER_TLS_PORT = 2376

/** The operator's side of mutual TLS: the cluster CA and the client certificate (PEM). */
export interface ClientTls {
  ca: string
  cert: string
  key: string
}

export interface EngineTarget {
  /** The address the client dials (and whose name or IP must be in the server certificate's SANs). */
  host: string
  port?: number
  /** Open the TCP connection some other way (through the bastion, ssh_jump) instead of dialling host:port. */
  dial?: () => Promise<Duplex>
}

export interface EngineVersion {
  Version: string
  ApiVersion: string
  Os?: string
  Arch?: string
  KernelVersion?: string
}

export interface EngineCheck {
  version: EngineVersion
  /** The certificate the daemon presented (PEM). */
  serverCertPem: string
  fingerprint256: string
}

function where(t: EngineTarget): string {
  const port = t.port ?? DOCKER_TLS_PORT
  return isIP(t.host) === 6 ? `[${t.host}]:${port}` : `${t.host}:${port}`
}

/**
 * Why the daemon could not be used. `network`: nothing answered (unreachable, filtered, timed out) — a restart on
 * the node cannot help; `refused`: nothing listens on the port; `tls`/`http`: something answered, wrongly.
 */
export type EngineErrorKind = 'network' | 'refused' | 'tls' | 'http' | 'stopped'

export class EngineError extends Error {
  constructor(message: string, readonly kind: EngineErrorKind) {
    super(message)
    this.name = 'EngineError'
  }
}

function kindOf(err: unknown): EngineErrorKind {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ECONNREFUSED': return 'refused'
    case 'EHOSTUNREACH': case 'ENETUNREACH': case 'ETIMEDOUT': case 'EAI_AGAIN': case 'ENOTFOUND': return 'network'
    case 'ECONNRESET': case 'EPIPE': return 'http'
    default: return 'tls'
  }
}

function engineError(err: unknown, t: EngineTarget): EngineError {
  return new EngineError(describeTlsError(err, t), kindOf(err))
}

/** Node's TLS errors in the words an operator needs (what the docker CLI would also refuse). */
export function describeTlsError(err: unknown, t: EngineTarget): string {
  const e = err as NodeJS.ErrnoException & {reason?: string}
  const at = where(t)
  switch (e.code) {
    case 'ECONNREFUSED': return `connection refused on ${at} (dockerd not listening with TLS yet?)`
    case 'EHOSTUNREACH': case 'ENETUNREACH': return `${at} is unreachable`
    case 'ETIMEDOUT': return `timed out connecting to ${at}`
    case 'ECONNRESET': return `connection reset by ${at}`
    case 'ERR_TLS_CERT_ALTNAME_INVALID': return `the certificate of ${at} does not name ${t.host} (${e.reason ?? 'SAN mismatch'}); run belt regenerate-certs`
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `the certificate of ${at} was not issued by this cluster's CA (${e.code}); run belt provision --force`
    case 'CERT_HAS_EXPIRED': return `the certificate of ${at} has expired; run belt regenerate-certs`
    case 'CERT_NOT_YET_VALID': return `the certificate of ${at} is not valid yet (clock skew?)`
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return `${at} does not speak TLS (${e.message.split('\n')[0]})`
    default: return `${at}: ${String(e.message ?? e).split('\n')[0]}`
  }
}

function seconds(ms: number): string {
  const s = ms / 1000
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`
}

function certPem(raw: Buffer): string {
  return new X509Certificate(raw).toString()
}

/** One HTTPS request with the client certificate; the server certificate must chain to `tls.ca` and name the host. */
export function engineRequest(
  t: EngineTarget,
  tls: ClientTls,
  path: string,
  opts: {timeoutMs?: number; signal?: AbortSignal} = {},
): Promise<{status: number; body: string; peer: PeerCertificate}> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  return new Promise((resolve, reject) => {
    let settled = false
    const done = (err: Error | null, value?: {status: number; body: string; peer: PeerCertificate}) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (err) reject(err)
      else resolve(value!)
    }
    const req = request({
      host: t.host,
      port: t.port ?? DOCKER_TLS_PORT,
      path,
      method: 'GET',
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: true,
      // No SNI for addresses (as Go's client); host names are checked against the SANs either way.
      servername: isIP(t.host) ? '' : t.host,
      headers: {'User-Agent': 'belt', Accept: 'application/json'},
      // No agent: a fresh connection per request (as agent: false), or the one t.dial opens, wrapped in TLS here.
      ...(t.dial ? {createConnection: tunnelled(t.dial)} : {agent: false}),
    }, (res) => {
      const peer = (res.socket as TLSSocket).getPeerCertificate()
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        size += c.length
        if (size <= 1 << 20) chunks.push(c)
      })
      res.on('end', () => done(null, {status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), peer}))
      res.on('error', (e) => done(engineError(e, t)))
    })
    // A connection that opens and then hangs is the daemon's fault; one that never opens is the network's.
    let connected = false
    req.on('socket', (sock) => sock.once('connect', () => (connected = true)))
    const timer = setTimeout(() => {
      req.destroy()
      done(connected
        ? new EngineError(`${where(t)} accepted the connection but did not answer within ${seconds(timeoutMs)}`, 'http')
        : new EngineError(`no answer from ${where(t)} within ${seconds(timeoutMs)}`, 'network'))
    }, timeoutMs)
    const onAbort = () => {
      req.destroy()
      done(new EngineError(`stopped while waiting for ${where(t)}`, 'stopped'))
    }
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, {once: true})
    req.on('error', (e) => done(engineError(e, t)))
    req.end()
  })
}

/** https.request's createConnection for a dialled stream: TLS over it, with the request's own TLS options. */
function tunnelled(dial: () => Promise<Duplex>) {
  return (opts: ClientRequestArgs, done: (err: Error | null, socket: Duplex) => void): undefined => {
    // The request's options carry its TLS settings (ca, cert, key, servername; host for the name check), as an agent passes them.
    const tlsOptions = opts as unknown as ConnectionOptions
    dial().then((socket) => done(null, tlsConnect({...tlsOptions, socket})),
      // The jump host could not open it: to the checks, as a refused connection (dockerd not listening yet).
      (err: Error) => done(Object.assign(err, {code: 'ECONNREFUSED'}), undefined as unknown as Duplex))
    return undefined
  }
}

/** GET /_ping and GET /version over mutual TLS, as `docker version` does. Rejects with a one-line reason. */
export async function checkEngine(t: EngineTarget, tls: ClientTls, opts: {timeoutMs?: number; signal?: AbortSignal} = {}): Promise<EngineCheck> {
  const ping = await engineRequest(t, tls, '/_ping', opts)
  if (ping.status !== 200 || ping.body.trim() !== 'OK') throw new EngineError(`${where(t)}: GET /_ping answered ${ping.status} ${ping.body.trim().slice(0, 80)}`, 'http')
  const v = await engineRequest(t, tls, '/version', opts)
  if (v.status !== 200) throw new EngineError(`${where(t)}: GET /version answered ${v.status}`, 'http')
  let version: EngineVersion
  try {
    version = JSON.parse(v.body) as EngineVersion
  } catch {
    throw new EngineError(`${where(t)}: GET /version did not return JSON`, 'http')
  }
  if (typeof version.Version !== 'string') throw new EngineError(`${where(t)}: GET /version has no Version`, 'http')
  return {version, serverCertPem: certPem(ping.peer.raw), fingerprint256: ping.peer.fingerprint256}
}

/** Poll checkEngine until it answers (dockerd is restarting) or the time is up; the last error explains a failure. */
export async function waitForEngine(
  t: EngineTarget,
  tls: ClientTls,
  opts: {timeoutMs: number; intervalMs?: number; signal?: AbortSignal},
): Promise<EngineCheck> {
  const deadline = Date.now() + opts.timeoutMs
  let last: Error
  for (;;) {
    const left = deadline - Date.now()
    try {
      return await checkEngine(t, tls, {timeoutMs: Math.max(1000, Math.min(10_000, left)), signal: opts.signal})
    } catch (err) {
      last = err as Error
    }
    if (opts.signal?.aborted) throw last
    if (Date.now() + (opts.intervalMs ?? 500) >= deadline) {
      throw new EngineError(`dockerd did not answer over TLS within ${seconds(opts.timeoutMs)}: ${last.message}`, last instanceof EngineError ? last.kind : 'tls')
    }
    await sleep(opts.intervalMs ?? 500, opts.signal)
  }
}

export interface PresentedCertificate {
  /** The server certificate (PEM) as presented in the handshake. */
  certPem: string
  /** Chains to the given CA. */
  trusted: boolean
  /** Why not, when it does not (OpenSSL's code, e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE). */
  trustError: string | null
  /** The dialled address is in its SANs. */
  hostMatches: boolean
  hostError: string | null
}

/**
 * Read the certificate a daemon presents on 2376, without trusting it first — so `belt certs` can report on a
 * certificate that is expired, from another CA or for another address. The client certificate is offered so a
 * tlsverify daemon completes the handshake.
 */
export async function readPresentedCertificate(
  t: EngineTarget,
  tls: ClientTls,
  opts: {timeoutMs?: number; signal?: AbortSignal} = {},
): Promise<PresentedCertificate> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  // Through t.dial (the bastion) the TLS session runs over the stream it opens; the handshake is the same.
  let tunnel: Duplex | undefined
  if (t.dial) {
    try {
      tunnel = await t.dial()
    } catch (err) {
      throw engineError(Object.assign(err as Error, {code: 'ECONNREFUSED'}), t)
    }
  }
  return new Promise((resolve, reject) => {
    let settled = false
    const finish = (err: Error | null, value?: PresentedCertificate) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      socket.destroy()
      if (err) reject(err)
      else resolve(value!)
    }
    const socket = tlsConnect({
      host: t.host,
      port: t.port ?? DOCKER_TLS_PORT,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: false,
      servername: isIP(t.host) ? '' : t.host,
      ...(tunnel ? {socket: tunnel} : {}),
    }, () => {
      const peer = socket.getPeerCertificate()
      if (!peer?.raw) return finish(new EngineError(`${where(t)} presented no certificate`, 'tls'))
      const identity = checkServerIdentity(t.host, peer)
      finish(null, {
        certPem: certPem(peer.raw),
        trusted: socket.authorized,
        trustError: socket.authorized ? null : String(socket.authorizationError ?? 'not trusted'),
        hostMatches: identity === undefined,
        hostError: identity ? identity.message : null,
      })
    })
    socket.on('error', (e) => finish(engineError(e, t)))
    const timer = setTimeout(() => finish(new EngineError(`no TLS answer from ${where(t)} within ${seconds(timeoutMs)}`, 'network')), timeoutMs)
    const onAbort = () => finish(new EngineError(`stopped while waiting for ${where(t)}`, 'stopped'))
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, {once: true})
  })
}
