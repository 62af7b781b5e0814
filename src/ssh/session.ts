// One SSH connection (ssh2) to one host: host-key checking against the cluster's known_hosts, login with the run's
// parsed credentials, and the session API (exec, stream, writeFile). Tuned for fleets: the algorithm lists put the
// cheap ones first (curve25519, ed25519, AES-GCM), keys are never re-parsed, one connection serves every command.
import ssh2 from 'ssh2'
import {randomBytes} from 'node:crypto'
import type {Algorithms, AuthenticationType, ClientChannel, ConnectConfig, ParsedKey, PseudoTtyOptions} from 'ssh2'
import type {Duplex} from 'node:stream'
import {addressProblem, type SshEndpoint} from '../providers/provider.js'
import {redact} from '../core/redact.js'
import {debugLog} from '../core/debug.js'
import type {Credentials, KeySource} from './auth.js'
import {fingerprint, hostToken, keyType, type KnownHosts, type StrictHostKeyChecking} from './known-hosts.js'
import {asRoot, shellQuote, sudoProblem} from './quote.js'
import {skipHostKeysProve} from './ssh2-speedups.js'
import type {ExecOptions, ExecResult, SshSession, StreamOptions, StreamResult} from './types.js'

const debug = debugLog('ssh')

export type ConnectFailureKind = 'refused' | 'unreachable' | 'timeout' | 'reset' | 'dns' | 'auth' | 'hostkey' | 'protocol'

/** What OpenSSH would shout about: the key a host presents differs from the recorded one (or none is recorded under `yes`). */
export interface HostKeyProblem {
  name: string
  host: string
  port: number
  file: string
  presentedType: string
  presented: string
  /** Recorded keys (fingerprint, line) when the key changed; empty when the host is unknown under `yes`. */
  known: {fingerprint: string; type: string; line: number}[]
  reason: 'changed' | 'unknown' | 'revoked'
}

/** The SSH connection itself failed (CONTRACT §5: 255 for single-host passthrough). */
export class SshConnectError extends Error {
  constructor(message: string, readonly kind: ConnectFailureKind, readonly retryable: boolean, readonly hostKey?: HostKeyProblem) {
    super(message)
    this.name = 'SshConnectError'
  }
}

/** A command could not start or finish (connection lost, timeout, sudo refused): never retried, it may have run. */
export class SshExecError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'SshExecError'
  }
}

export interface SessionSettings {
  credentials: Credentials
  knownHosts: KnownHosts
  strict: StrictHostKeyChecking
  connectTimeoutMs: number
  keepaliveMs: number
  onWarning?: (message: string) => void
}

// Cheap and common first. Older algorithms stay at the end so old servers still work.
const KEX = ['curve25519-sha256', 'curve25519-sha256@libssh.org', 'ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521',
  'diffie-hellman-group14-sha256', 'diffie-hellman-group16-sha512', 'diffie-hellman-group-exchange-sha256', 'diffie-hellman-group14-sha1']
const HOST_KEYS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
const CIPHERS = ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes256-gcm@openssh.com', 'aes128-ctr', 'aes192-ctr', 'aes256-ctr']
const MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com', 'hmac-sha2-256', 'hmac-sha2-512', 'hmac-sha1']
const BASE_ALGORITHMS = {kex: KEX, serverHostKey: HOST_KEYS, cipher: CIPHERS, hmac: MACS, compress: ['none']} as unknown as Algorithms

/** Offer the key types recorded for this host first (as OpenSSH does), so the host presents the key we know. */
function algorithmsFor(known: string[]): Algorithms {
  if (known.length === 0 || known[0] === HOST_KEYS[0]) return BASE_ALGORITHMS
  const first = known.filter((t) => HOST_KEYS.includes(t))
  return {...BASE_ALGORITHMS, serverHostKey: [...first, ...HOST_KEYS.filter((t) => !first.includes(t))]} as unknown as Algorithms
}

function socketFailure(err: NodeJS.ErrnoException, where: string): SshConnectError {
  switch (err.code) {
    case 'ECONNREFUSED': return new SshConnectError(`connection refused (${where})`, 'refused', true)
    case 'EHOSTUNREACH': return new SshConnectError(`host unreachable (${where})`, 'unreachable', true)
    case 'ENETUNREACH': return new SshConnectError(`network unreachable (${where})`, 'unreachable', true)
    case 'ETIMEDOUT': return new SshConnectError(`connection timed out (${where})`, 'timeout', true)
    case 'ECONNRESET': case 'EPIPE': return new SshConnectError(`connection reset during SSH handshake (${where})`, 'reset', true)
    case 'ENOTFOUND': case 'EAI_AGAIN': return new SshConnectError(`cannot resolve host name (${where})`, 'dns', err.code === 'EAI_AGAIN')
    default: return new SshConnectError(`${err.message} (${where})`, 'protocol', false)
  }
}

/** Open, verify and authenticate one connection. Rejects with SshConnectError. */
export function openSession(endpoint: SshEndpoint, s: SessionSettings,
  opts: {timeoutMs?: number; signal?: AbortSignal; sock?: Duplex; keepalive?: boolean} = {}): Promise<Session> {
  const where = endpoint.port === 22 ? endpoint.host : `${endpoint.host}:${endpoint.port}`
  const hostKeyHost = endpoint.host
  const noAddress = addressProblem(endpoint)
  // Not retryable within this run: the address appears only in a later listing.
  if (noAddress) return Promise.reject(new SshConnectError(noAddress, 'unreachable', false))
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new SshConnectError(`not started (${where})`, 'timeout', false))
    const client = new ssh2.Client()
    let settled = false
    let tcpConnected = false
    let hostKeyProblem: HostKeyProblem | null = null
    let perHostKey: KeySource | null = null
    let perHostKeyError: string | null = null
    if (endpoint.keyPath) {
      const k = s.credentials.hostKey(endpoint.keyPath)
      if (k instanceof Error) perHostKeyError = k.message
      else perHostKey = k
    }
    const fail = (e: SshConnectError) => {
      if (settled) return
      settled = true
      cleanup()
      client.destroy()
      reject(e)
    }
    // Errors capture a stack when built: only build them when they will be used (this runs for every host).
    const onAbort = () => settled || fail(new SshConnectError(`timed out connecting (${where})`, 'timeout', false))
    opts.signal?.addEventListener('abort', onAbort, {once: true})
    const cleanup = () => opts.signal?.removeEventListener('abort', onAbort)

    client.on('connect', () => { tcpConnected = true })
    client.on('ready', () => {
      if (settled) return client.end()
      settled = true
      cleanup()
      resolve(new Session(endpoint, client, s))
    })
    client.on('error', (err: Error & {level?: string; code?: string}) => {
      if (settled) return
      debug('%s: %s (%s)', endpoint.name, err.message, err.level)
      // ssh2 reports a failing agent (or a key it could not sign with) and goes on with the next key: not fatal.
      if (err.level === 'agent' || (err.level === 'client-authentication' && /sign/i.test(err.message))) return
      if (hostKeyProblem) return fail(new SshConnectError(hostKeyMessage(hostKeyProblem), 'hostkey', false, hostKeyProblem))
      if (err.level === 'client-socket' || err.code) return fail(socketFailure(err as NodeJS.ErrnoException, where))
      if (err.level === 'client-timeout') {
        return fail(tcpConnected
          ? new SshConnectError(`timed out during SSH handshake (${where})`, 'timeout', true)
          : new SshConnectError(`connection timed out (${where})`, 'timeout', true))
      }
      if (err.level === 'client-authentication') {
        const extra = perHostKeyError ? `; ${perHostKeyError}` : ''
        const skipped = s.credentials.skipped.length ? `; skipped ${s.credentials.skipped.join('; ')}` : ''
        return fail(new SshConnectError(`permission denied (publickey) for ${endpoint.user}@${where}; tried ${s.credentials.describe(perHostKey ?? undefined)}${extra}${skipped}`, 'auth', false))
      }
      fail(new SshConnectError(`SSH ${err.level ?? 'protocol'} error: ${redact(err.message)} (${where})`, 'protocol', false))
    })
    client.on('close', () => settled || fail(new SshConnectError(`connection closed during SSH handshake (${where})`, 'reset', true)))

    const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
      const verdict = s.knownHosts.check(hostKeyHost, endpoint.port, key)
      if (verdict.status === 'match') return verify(true)
      const base = {
        name: endpoint.name, host: hostKeyHost, port: endpoint.port, file: s.knownHosts.path,
        presentedType: keyType(key), presented: fingerprint(key),
      }
      if (verdict.status === 'unknown') {
        if (s.strict === 'yes') {
          hostKeyProblem = {...base, known: [], reason: 'unknown'}
          return verify(false)
        }
        s.knownHosts.add(hostKeyHost, endpoint.port, key)
        return verify(true)
      }
      if (verdict.status === 'revoked') {
        hostKeyProblem = {...base, known: [{fingerprint: fingerprint(verdict.known.key), type: verdict.known.type, line: verdict.known.line}], reason: 'revoked'}
        return verify(false)
      }
      const problem: HostKeyProblem = {...base, known: verdict.known.map((k) => ({fingerprint: fingerprint(k.key), type: k.type, line: k.line})), reason: 'changed'}
      if (s.strict === 'no') {
        s.onWarning?.(`${hostKeyMessage(problem)} — connecting anyway because strict_host_key_checking is 'no'`)
        return verify(true)
      }
      hostKeyProblem = problem
      verify(false)
    }

    // Auth order: agent, this host's own key, then the run's keys (template ssh_key, ~/.ssh, cluster key).
    const methods: ({type: 'agent'; username: string; agent: unknown} | {type: 'publickey'; username: string; key: ParsedKey})[] = []
    if (s.credentials.agent) methods.push({type: 'agent', username: endpoint.user, agent: s.credentials.agent})
    if (perHostKey) methods.push({type: 'publickey', username: endpoint.user, key: perHostKey.key})
    for (const k of s.credentials.keys) methods.push({type: 'publickey', username: endpoint.user, key: k.key})
    let next = 0
    const authHandler = (_left: AuthenticationType[], _partial: boolean, cb: (m: unknown) => void): void => {
      cb(next < methods.length ? methods[next++] : false)
    }

    const config: ConnectConfig = {
      host: endpoint.host,
      port: endpoint.port,
      username: endpoint.user,
      readyTimeout: opts.timeoutMs ?? s.connectTimeoutMs,
      keepaliveInterval: opts.keepalive === false ? 0 : s.keepaliveMs,
      // A stream opened for us (a channel through the jump host, jump.ts) instead of a TCP connection.
      ...(opts.sock ? {sock: opts.sock} : {}),
      keepaliveCountMax: 4,
      algorithms: algorithmsFor(s.knownHosts.knownTypes(hostKeyHost, endpoint.port)),
      hostVerifier: hostVerifier as unknown as ConnectConfig['hostVerifier'],
      authHandler: authHandler as unknown as ConnectConfig['authHandler'],
      ident: 'belt',
    }
    try {
      client.connect(config)
      // SSH is a chain of small request/response packets: without TCP_NODELAY, Nagle + delayed ACKs add ~40 ms stalls.
      client.setNoDelay(true)
      skipHostKeysProve(client)
    } catch (err) {
      fail(new SshConnectError(`${(err as Error).message} (${where})`, 'protocol', false))
    }
  })
}

/** One line for per-host results; the full OpenSSH-style warning comes from hostKeyWarning(). */
export function hostKeyMessage(p: HostKeyProblem): string {
  const token = hostToken(p.host, p.port)
  if (p.reason === 'unknown') {
    return `no host key known for ${token} in ${p.file} and strict_host_key_checking is 'yes' (it presented ${p.presentedType} ${p.presented})`
  }
  if (p.reason === 'revoked') return `host key ${p.presented} of ${token} is marked @revoked in ${p.file}:${p.known[0]?.line}`
  const lines = p.known.map((k) => k.line).join(',')
  return `HOST KEY CHANGED for ${token}: it presented ${p.presentedType} ${p.presented}, ${p.file}:${lines} has ${p.known[0].fingerprint}; refused (possible man-in-the-middle). If the host was rebuilt: belt ssh --forget-host ${p.name}`
}

/** The multi-line warning, as clear as OpenSSH's, printed once on stderr by commands. */
export function hostKeyWarning(p: HostKeyProblem): string {
  const token = hostToken(p.host, p.port)
  if (p.reason !== 'changed') return `warning: ${hostKeyMessage(p)}`
  const bar = '@'.repeat(59)
  return [
    bar,
    '@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @',
    bar,
    'IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!',
    'Someone could be eavesdropping on you right now (man-in-the-middle attack)!',
    'It is also possible that a host key has just been changed.',
    `The fingerprint for the ${p.presentedType} key sent by the remote host ${token} (node ${p.name}) is`,
    `${p.presented}.`,
    ...p.known.map((k) => `Offending ${k.type} key (${k.fingerprint}) in ${p.file}:${k.line}`),
    `Host key verification failed; belt did not connect to ${p.name}.`,
    `If the host was rebuilt, remove the old key: belt ssh --forget-host ${p.name}  (or delete line ${p.known.map((k) => k.line).join(', ')} of ${p.file})`,
  ].join('\n')
}

function cappedCollector(max: number) {
  const chunks: Buffer[] = []
  let size = 0
  let dropped = 0
  return {
    push(b: Buffer) {
      if (size >= max) { dropped += b.length; return }
      const room = max - size
      if (b.length > room) {
        chunks.push(b.subarray(0, room))
        dropped += b.length - room
        size = max
      } else {
        chunks.push(b)
        size += b.length
      }
    },
    head(n: number): string {
      return Buffer.concat(chunks).subarray(0, n).toString('utf8')
    },
    text(): string {
      const s = Buffer.concat(chunks).toString('utf8')
      return dropped ? `${s}\n[… ${dropped} more bytes not kept]\n` : s
    },
  }
}

interface ExitStatus {
  code: number | null
  signal: string | null
}

export class Session implements SshSession {
  private ended = false
  readonly closed: Promise<void>
  constructor(readonly endpoint: SshEndpoint, private readonly client: InstanceType<typeof ssh2.Client>, private readonly s: SessionSettings) {
    // Errors after login (connection lost) surface through the running command's channel.
    client.on('error', (err) => debug('%s: %s', endpoint.name, err.message))
    this.closed = new Promise((resolve) => client.once('close', () => resolve()))
  }

  private get where(): string {
    return this.endpoint.port === 22 ? this.endpoint.host : `${this.endpoint.host}:${this.endpoint.port}`
  }

  /**
   * Start a command. The exit status is captured here, synchronously: ssh2 may process the channel's data, EOF,
   * exit-status and close packets in the same tick as the exec reply, before an awaiting caller resumes.
   */
  private openChannel(command: string | null, pty: PseudoTtyOptions | false): Promise<{ch: ClientChannel; exit: ExitStatus}> {
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: ClientChannel) => {
        if (err) return reject(new SshExecError(`could not start the command: ${redact(err.message)} (${this.where})`))
        const exit: ExitStatus = {code: null, signal: null}
        ch.on('exit', (c: number | null, sig?: string) => {
          if (typeof c === 'number') exit.code = c
          else if (sig) exit.signal = sig
        })
        resolve({ch, exit})
      }
      try {
        if (command === null) this.client.shell(pty || false, cb)
        else if (pty) this.client.exec(command, {pty}, cb)
        else this.client.exec(command, cb)
      } catch (err) {
        reject(new SshExecError(`connection lost before the command started (${this.where}): ${(err as Error).message}`))
      }
    })
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const full = opts.sudo ? asRoot(command, this.endpoint.user) : command
    const max = opts.maxOutputBytes ?? 64 * 1024
    const {ch, exit} = await this.openChannel(full, false)
    return new Promise<ExecResult>((resolve, reject) => {
      const out = cappedCollector(opts.stdout ? 0 : max)
      const err = cappedCollector(opts.stderr ? 4096 : max)
      let done = false
      let timer: NodeJS.Timeout | undefined
      const finish = (e?: Error) => {
        if (done) return
        done = true
        if (timer) clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onAbort)
        if (e) return reject(e)
        const stderr = err.text()
        const {code, signal} = exit
        if (opts.sudo) {
          const problem = sudoProblem(this.endpoint.user, code, opts.stderr ? err.head(4096) : stderr)
          if (problem) return reject(new SshExecError(problem))
        }
        if (code === null && signal === null) {
          return reject(new SshExecError(`connection closed before the command finished (${this.where}); it may or may not have run`))
        }
        resolve({code, signal, stdout: out.text(), stderr: opts.stderr ? '' : stderr})
      }
      const onAbort = () => {
        const reason = opts.signal?.reason
        ch.close()
        finish(new SshExecError(`${reason instanceof Error ? reason.message : 'stopped'} while the command ran; it may still be running on the host`))
      }
      if (opts.signal?.aborted) return onAbort()
      opts.signal?.addEventListener('abort', onAbort, {once: true})
      if (opts.timeoutMs) {
        timer = setTimeout(() => {
          ch.close()
          finish(new SshExecError(`timed out after ${Math.round(opts.timeoutMs! / 1000)}s while the command ran; it may still be running on the host`))
        }, opts.timeoutMs)
      }
      if (opts.stdout) ch.pipe(opts.stdout, {end: false})
      else ch.on('data', (b: Buffer) => out.push(b))
      if (opts.stderr) {
        ch.stderr.on('data', (b: Buffer) => err.push(b))
        ch.stderr.pipe(opts.stderr, {end: false})
      } else ch.stderr.on('data', (b: Buffer) => err.push(b))
      ch.on('close', () => {
        if (opts.stdout) ch.unpipe(opts.stdout)
        if (opts.stderr) ch.stderr.unpipe(opts.stderr)
        finish()
      })
      ch.on('error', (e: Error) => finish(new SshExecError(`${redact(e.message)} (${this.where})`)))
      // A quick command may have finished (and ssh2 ended our side) before we got here.
      if (!ch.writableEnded) {
        if (opts.stdin !== undefined) ch.end(opts.stdin)
        else ch.end()
      }
    })
  }

  async stream(command: string | null, opts: StreamOptions): Promise<StreamResult> {
    const full = command !== null && opts.sudo ? asRoot(command, this.endpoint.user) : command
    const {ch, exit} = await this.openChannel(full, opts.pty ?? false)
    return new Promise<StreamResult>((resolve) => {
      const errHead: Buffer[] = []
      let errHeadSize = 0
      ch.pipe(opts.stdout, {end: false})
      ch.stderr.on('data', (b: Buffer) => {
        if (errHeadSize < 4096) { errHead.push(b); errHeadSize += b.length }
      })
      ch.stderr.pipe(opts.stderr, {end: false})
      const onResize = opts.onResize ? opts.onResize((rows, cols) => ch.setWindow(rows, cols, 0, 0)) : undefined
      let stopped: string | undefined
      const onAbort = () => {
        const reason = opts.signal?.reason
        stopped = reason instanceof Error ? reason.message : 'stopped'
        ch.close()
      }
      if (opts.signal?.aborted) onAbort()
      else opts.signal?.addEventListener('abort', onAbort, {once: true})
      const stdin = opts.stdin
      if (stdin) {
        stdin.pipe(ch)
      } else if (!ch.writableEnded) ch.end()
      ch.on('close', () => {
        const {code, signal} = exit
        if (stdin) {
          stdin.unpipe(ch)
          stdin.pause()
        }
        onResize?.()
        ch.unpipe(opts.stdout)
        ch.stderr.unpipe(opts.stderr)
        const sudo = opts.sudo && command !== null ? sudoProblem(this.endpoint.user, code, Buffer.concat(errHead).toString('utf8')) : null
        opts.signal?.removeEventListener('abort', onAbort)
        resolve({code, signal, sudoProblem: sudo, lost: !stopped && code === null && signal === null, ...(stopped ? {stopped} : {})})
      })
    })
  }

  async writeFile(path: string, data: string | Buffer, opts: {mode?: number; sudo?: boolean} = {}): Promise<void> {
    // Uploaded over SFTP (never `printf | tee`, never on a command line) to a private staging file, then installed
    // in one command — through `sudo -n` when asked — with its mode and an atomic rename into place.
    const stage = `/tmp/.belt-upload-${randomBytes(8).toString('hex')}`
    const sftp = await this.sftp()
    await new Promise<void>((resolve, reject) => {
      sftp.writeFile(stage, data, {mode: 0o600}, (err) => (err ? reject(err) : resolve()))
    }).catch((err: Error) => {
      throw new SshExecError(`could not upload ${path} to ${this.endpoint.name} over SFTP: ${err.message}`)
    })
    const mode = (opts.mode ?? 0o644).toString(8)
    const p = shellQuote(path)
    // The installed temporary is unique too: two writers of one path (two belt runs, hosts sharing a filesystem)
    // must not rename each other's file away.
    const tmp = shellQuote(`${path}.belt-tmp-${stage.slice(-16)}`)
    const st = shellQuote(stage)
    const cmd = `mkdir -p "$(dirname ${p})" && install -m ${mode} ${st} ${tmp} && mv -f ${tmp} ${p}; rc=$?; rm -f ${st}; exit $rc`
    const r = await this.exec(cmd, {sudo: opts.sudo, maxOutputBytes: 4096})
    if (r.code !== 0) throw new SshExecError(`could not write ${path} on ${this.endpoint.name}: ${r.stderr.trim().split('\n')[0] || `exit code ${r.code}`}`)
  }

  private sftpChannel: Promise<import('ssh2').SFTPWrapper> | null = null

  /** One SFTP channel per session, opened on first use. */
  sftp(): Promise<import('ssh2').SFTPWrapper> {
    if (!this.sftpChannel) {
      this.sftpChannel = new Promise((resolve, reject) => {
        this.client.sftp((err, sftp) => (err ? reject(new SshExecError(`${this.endpoint.name}: no SFTP subsystem (${err.message})`)) : resolve(sftp)))
      })
      this.sftpChannel.catch(() => { this.sftpChannel = null })
    }
    return this.sftpChannel
  }

  forwardOut(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const fail = (message: string) =>
        reject(new SshExecError(`${this.endpoint.name} could not connect to ${host}:${port} for us: ${redact(message)}`))
      try {
        // The origin address is only informative to the server (sshd logs it); OpenSSH sends the local end's.
        this.client.forwardOut('127.0.0.1', 0, host, port, (err, ch) => (err ? fail(err.message) : resolve(ch)))
      } catch (err) {
        fail((err as Error).message)
      }
    })
  }

  close(): void {
    if (this.ended) return
    this.ended = true
    this.client.end()
  }
}
