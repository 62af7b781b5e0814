// The SSH API the rest of belt uses (swarm, provision, docker passthrough, bench). Implemented in src/ssh/*.
import type {SshEndpoint} from '../providers/provider.js'

export interface ExecOptions {
  /** Data written to the remote command's stdin (then EOF). */
  stdin?: string | Buffer
  /** Run through `sudo -n` when the login user is not root (CONTRACT §8). */
  sudo?: boolean
  timeoutMs?: number
  /** Keep at most this many bytes of stdout and of stderr (the tail is dropped, with a marker). Default 64 KiB. */
  maxOutputBytes?: number
  signal?: AbortSignal
  /** Pipe the remote stdout here (with backpressure) instead of collecting it; ExecResult.stdout is then ''. */
  stdout?: NodeJS.WritableStream
  /** Pipe the remote stderr here instead of collecting it; ExecResult.stderr is then ''. */
  stderr?: NodeJS.WritableStream
}

/** Interactive or pass-through use: streams wired straight through (belt docker / belt ssh on one host). */
export interface StreamOptions {
  /** Allocate a remote PTY (when the local stdin is a terminal). */
  pty?: {term: string; rows: number; cols: number} | false
  /** Local stdin, piped to the remote command (EOF is passed on); omit for no stdin. */
  stdin?: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  sudo?: boolean
  /** Register a window-size listener; return a function that unregisters it. */
  onResize?: (apply: (rows: number, cols: number) => void) => () => void
  /** Stop waiting when it aborts (--timeout): the channel is closed and StreamResult.stopped says why. */
  signal?: AbortSignal
}

export interface StreamResult {
  code: number | null
  signal: string | null
  /** Set when sudo -n refused (the user lacks passwordless sudo): what to tell the user. */
  sudoProblem: string | null
  /** The channel closed without an exit status (connection lost). */
  lost: boolean
  /** Set when the signal stopped the command (its reason, e.g. "timed out after 3s"); the command may still run. */
  stopped?: string
}

export interface ExecResult {
  /** Remote exit code; null when the command was killed by a signal or the channel closed without one. */
  code: number | null
  signal: string | null
  stdout: string
  stderr: string
}

/** One authenticated connection to one host. */
export interface SshSession {
  readonly endpoint: SshEndpoint
  /** `command` is a complete remote shell command line (quote arguments with shellQuote). */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>
  /** Wire local streams straight through; `command` null opens a login shell. */
  stream(command: string | null, opts: StreamOptions): Promise<StreamResult>
  /** Write a file atomically (temp file + mv, parent folders created) through one exec; with `sudo`, as root. */
  writeFile(path: string, data: string | Buffer, opts?: {mode?: number; sudo?: boolean}): Promise<void>
  /** The connection's SFTP channel (one per session, opened on first use): belt scp's transfers. */
  sftp(): Promise<import('ssh2').SFTPWrapper>
  /** A TCP connection the host opens to host:port (the far end of `ssh -L`), as a duplex stream. */
  forwardOut(host: string, port: number): Promise<import('node:stream').Duplex>
  /** Resolves when the connection ends: closed by either side or lost. */
  readonly closed: Promise<void>
  close(): void
}

export interface ConnectOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

/** Per-host outcome of a fleet run. */
export interface HostResult<T> {
  name: string
  ok: boolean
  value?: T
  /** One line, secrets redacted. */
  error?: string
  /** Set when the failure was the SSH connection itself (unreachable, auth, host key). */
  connectionFailed?: boolean
  durationMs: number
  attempts: number
}

export interface FleetOptions<T> {
  concurrency: number
  /** Per-host timeout, connection included. */
  timeoutMs?: number
  /** Retries for connection failures only (a command that may have taken effect is never re-run). */
  retries?: number
  /** Random delay before each host's first connection, to avoid thundering herds. */
  jitterMs?: number
  signal?: AbortSignal
  onResult?: (r: HostResult<T>) => void
  /** Called when a host's work starts (after jitter, before connecting). */
  onStart?: (name: string) => void
}

export interface FleetRun<T> {
  results: HostResult<T>[]
  interrupted: boolean
  /** Hosts never started because of Ctrl-C (they have no entry in `results`). */
  notStarted: string[]
}

/** Everything a command needs for SSH in one run: keys read and parsed once, host keys, the fleet runner. */
export interface SshContext {
  connect(endpoint: SshEndpoint, opts?: ConnectOptions): Promise<SshSession>
  /** Connect to each endpoint through a p-limit pool and run `task` with the session; the session is closed after. */
  runFleet<T>(endpoints: SshEndpoint[], task: (session: SshSession, signal: AbortSignal) => Promise<T>, opts: FleetOptions<T>): Promise<FleetRun<T>>
  /** With a bastion (ssh_jump), a TCP connection to the endpoint's host:port through it; null when belt dials directly. */
  tunnel?(endpoint: SshEndpoint): ((port: number, signal?: AbortSignal) => Promise<import('node:stream').Duplex>) | null
  close(): void
}
