// belt scp: files to and from many hosts over SFTP, and `docker save` archives into `docker load` over a command's
// stdin. Every host reads its files from disk on its own (nothing is held for the whole run, so memory stays flat
// however big the file or the fleet): a few large SFTP writes in flight per host (OpenSSH's sftp-server takes
// messages up to 256 KiB; ssh2 copies each write into its packet, so one read buffer per host is reused).
import {mkdirSync, readdirSync, statSync, type Stats} from 'node:fs'
import {open as openLocal, type FileHandle} from 'node:fs/promises'
import {createReadStream} from 'node:fs'
import {basename, join} from 'node:path'
import {posix} from 'node:path'
import {PassThrough, Transform, Writable, type Readable} from 'node:stream'
import type {SFTPWrapper, Stats as RemoteStats} from 'ssh2'
import {UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import type {SshEndpoint} from '../providers/provider.js'
import {byNaturalName, fleetResult, type FleetHooks, type FleetResult} from './fleet-result.js'
import type {ExecResult, HostResult, SshContext, SshSession} from './types.js'

/** Bytes per SFTP write (or read) request: under OpenSSH's 256 KiB message limit with room for the header. */
const CHUNK = 252 * 1024
/** Requests in flight per host and file: enough to keep the channel busy, few enough to bound memory. */
const IN_FLIGHT = 2

/** One local file or folder to send, walked once for the whole fleet. */
export interface LocalItem {
  /** The path as given. */
  path: string
  /** Its name on the far side (basename). */
  name: string
  dir: boolean
  mode: number
  size: number
  /** For a folder: everything under it, parents before children, paths relative to it (posix). */
  entries: {rel: string; dir: boolean; mode: number; size: number; local: string}[]
}

/** Check and walk the local sources before any host is touched: missing files and folders without -r are usage errors. */
export function localItems(paths: string[], recursive: boolean): LocalItem[] {
  return paths.map((p) => {
    let st: Stats
    try {
      st = statSync(p)
    } catch {
      throw new UsageError(`no such file: ${p}`)
    }
    const name = basename(p.replace(/\/+$/, '')) || p
    if (st.isFile()) return {path: p, name, dir: false, mode: st.mode & 0o7777, size: st.size, entries: []}
    if (!st.isDirectory()) throw new UsageError(`${p} is neither a file nor a folder`)
    if (!recursive) throw new UsageError(`${p} is a folder: copy it with -r`)
    const entries: LocalItem['entries'] = []
    const walk = (dir: string, rel: string) => {
      for (const e of readdirSync(dir).sort()) {
        const local = join(dir, e)
        const s = statSync(local)
        const r = rel ? `${rel}/${e}` : e
        if (s.isDirectory()) {
          entries.push({rel: r, dir: true, mode: s.mode & 0o7777, size: 0, local})
          walk(local, r)
        } else if (s.isFile()) entries.push({rel: r, dir: false, mode: s.mode & 0o7777, size: s.size, local})
      }
    }
    walk(p, '')
    return {path: p, name, dir: true, mode: st.mode & 0o7777, size: entries.reduce((n, e) => n + e.size, 0), entries}
  })
}

/** What --json shows of one host (CONTRACT §12's results, plus bytes moved). */
export interface CopyHostOutput {
  name: string
  exit_code: number | null
  stdout: string
  stderr: string
  error: string | null
  bytes: number
  duration_ms: number
}

export interface CopyResult extends FleetResult {
  hosts: CopyHostOutput[]
  /** Bytes moved in all. */
  bytes: number
}

interface HostCopy {
  bytes: number
  exec?: ExecResult
}

/** Remote paths: '' is the home folder; a leading ~/ is relative to it (SFTP has no ~). */
function remotePath(p: string): string {
  if (p === '' || p === '~') return '.'
  return p.startsWith('~/') ? p.slice(2) || '.' : p
}

const sftpCall = <T>(fn: (cb: (err: Error | null | undefined, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))))

async function remoteStat(sftp: SFTPWrapper, path: string): Promise<RemoteStats | null> {
  try {
    return await sftpCall<RemoteStats>((cb) => sftp.stat(path, cb))
  } catch (err) {
    if ((err as {code?: number}).code === 2) return null // SSH_FX_NO_SUCH_FILE
    throw err
  }
}

async function remoteMkdir(sftp: SFTPWrapper, path: string, mode: number): Promise<void> {
  try {
    await sftpCall<void>((cb) => sftp.mkdir(path, {mode}, (err) => cb(err, undefined)))
  } catch (err) {
    const st = await remoteStat(sftp, path).catch(() => null)
    if (!st?.isDirectory()) throw new Error(`cannot make folder ${path}: ${(err as Error).message}`, {cause: err})
  }
}

/** The largest write the server takes (ssh2 learns it from limits@openssh.com), capped at CHUNK. */
function chunkFor(sftp: SFTPWrapper): number {
  const max = (sftp as unknown as {_maxWriteLen?: unknown})._maxWriteLen
  return typeof max === 'number' && max > 1024 ? Math.min(max, CHUNK) : 32 * 1024
}

/** One file from this disk to `path` on the host, IN_FLIGHT writes at a time, read into one reused buffer. */
async function putFile(sftp: SFTPWrapper, local: string, path: string, mode: number, onBytes: (n: number) => void, signal: AbortSignal): Promise<number> {
  const chunk = chunkFor(sftp)
  const fd: FileHandle = await openLocal(local, 'r')
  let handle: Buffer | undefined
  try {
    handle = await sftpCall<Buffer>((cb) => sftp.open(path, 'w', {mode}, cb))
    const buf = Buffer.allocUnsafe(chunk)
    let position = 0
    let failure: Error | null = null
    let inFlight = 0
    let wake: (() => void) | null = null
    const settle = () => { const w = wake; wake = null; w?.() }
    for (;;) {
      while (inFlight >= IN_FLIGHT && !failure) await new Promise<void>((r) => { wake = r })
      if (failure) throw failure
      if (signal.aborted) throw signal.reason
      const {bytesRead} = await fd.read(buf, 0, chunk, position)
      if (bytesRead === 0) break
      inFlight++
      const at = position
      // ssh2 copies the data into its packet before write() returns, so `buf` is free for the next read at once.
      sftp.write(handle, buf, 0, bytesRead, at, (err) => {
        inFlight--
        if (err) failure ??= err
        else onBytes(bytesRead)
        settle()
      })
      position += bytesRead
    }
    while (inFlight > 0 && !failure) await new Promise<void>((r) => { wake = r })
    if (failure) throw failure
    return position
  } finally {
    await fd.close()
    if (handle) await sftpCall<void>((cb) => sftp.close(handle!, (err) => cb(err, undefined))).catch(() => undefined)
  }
}

/** One file from the host to this disk, IN_FLIGHT reads at a time written out in order. */
async function getFile(sftp: SFTPWrapper, path: string, local: string, mode: number, onBytes: (n: number) => void, signal: AbortSignal): Promise<number> {
  const chunk = chunkFor(sftp)
  const handle = await sftpCall<Buffer>((cb) => sftp.open(path, 'r', cb))
  const fd = await openLocal(local, 'w', mode & 0o777 || 0o644)
  try {
    let position = 0
    for (;;) {
      if (signal.aborted) throw signal.reason
      const reads = Array.from({length: IN_FLIGHT}, (_, i) => {
        const buf = Buffer.allocUnsafe(chunk)
        const at = position + i * chunk
        return sftpCall<number>((cb) => sftp.read(handle, buf, 0, chunk, at, (err, n) => cb(err, n))).then((n) => ({n, buf, at}), (err) => {
          if ((err as {code?: number}).code === 1) return {n: 0, buf, at} // SSH_FX_EOF
          throw err
        })
      })
      let short = false
      for (const r of await Promise.all(reads)) {
        if (short || r.n === 0) { short = true; continue }
        await fd.write(r.buf, 0, r.n, r.at)
        onBytes(r.n)
        if (r.n < chunk) short = true
      }
      position += IN_FLIGHT * chunk
      if (short) break
    }
    const st = await fd.stat()
    return st.size
  } finally {
    await fd.close()
    await sftpCall<void>((cb) => sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined)
  }
}

/** Send every item to one host: into DEST when it is a folder there, else (one item) as DEST. */
async function uploadTo(session: SshSession, items: LocalItem[], dest: string, onBytes: (n: number) => void, signal: AbortSignal): Promise<HostCopy> {
  const sftp = await session.sftp()
  const target = remotePath(dest)
  // DEST/ names a folder (as with scp): no stat round trip per host.
  const intoFolder = dest.endsWith('/') || Boolean((await remoteStat(sftp, target))?.isDirectory())
  if (!intoFolder && items.length > 1) throw new Error(`${dest || '~'} is not a folder on ${session.endpoint.name}`)
  let bytes = 0
  for (const item of items) {
    const to = intoFolder ? posix.join(target, item.name) : target
    if (!item.dir) {
      bytes += await putFile(sftp, item.path, to, item.mode, onBytes, signal)
      continue
    }
    await remoteMkdir(sftp, to, item.mode)
    for (const e of item.entries) {
      if (signal.aborted) throw signal.reason
      const path = posix.join(to, e.rel)
      if (e.dir) await remoteMkdir(sftp, path, e.mode)
      else bytes += await putFile(sftp, e.local, path, e.mode, onBytes, signal)
    }
  }
  return {bytes}
}

/** Fetch SRC from one host to `local` (a file, or with -r a folder made there). */
async function downloadFrom(session: SshSession, src: string, local: string, recursive: boolean, onBytes: (n: number) => void,
  signal: AbortSignal): Promise<HostCopy> {
  const sftp = await session.sftp()
  const from = remotePath(src)
  const st = await remoteStat(sftp, from)
  if (!st) throw new Error(`no such file: ${src}`)
  if (!st.isDirectory()) return {bytes: await getFile(sftp, from, local, st.mode, onBytes, signal)}
  if (!recursive) throw new Error(`${src} is a folder: copy it with -r`)
  let bytes = 0
  const walk = async (dir: string, into: string): Promise<void> => {
    mkdirSync(into, {recursive: true})
    const list = await sftpCall<{filename: string; attrs: RemoteStats}[]>((cb) => sftp.readdir(dir, cb))
    for (const e of list.sort((a, b) => a.filename.localeCompare(b.filename))) {
      if (signal.aborted) throw signal.reason
      const path = posix.join(dir, e.filename)
      const to = join(into, e.filename)
      if (e.attrs.isDirectory()) await walk(path, to)
      else if (e.attrs.isFile()) bytes += await getFile(sftp, path, to, e.attrs.mode, onBytes, signal)
    }
  }
  await walk(from, local)
  return {bytes}
}

/** A Writable that keeps the first `max` bytes (docker load's output). */
class Capture extends Writable {
  private chunks: Buffer[] = []
  private size = 0
  constructor(private readonly max: number) {
    super()
  }
  _write(b: Buffer, _e: BufferEncoding, cb: () => void): void {
    if (this.size < this.max) {
      this.chunks.push(b.subarray(0, this.max - this.size))
      this.size += Math.min(b.length, this.max - this.size)
    }
    cb()
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8')
  }
}

/**
 * `--load -`: one stdin for every host, read once. Each host that got connected registers a sink; once every host has
 * registered or failed, chunks go to all sinks, each next chunk only when every sink took the last one (the slowest
 * host sets the pace, so memory holds one chunk). A host that fails drops out; the rest go on.
 */
export class StdinFanout {
  private readonly sinks = new Set<PassThrough>()
  private expected: number
  private started = false
  private stopped = false

  constructor(private readonly source: Readable, hosts: number) {
    this.expected = hosts
  }

  /** A sink for one host (call when its connection is up). */
  sink(): PassThrough {
    const s = new PassThrough({highWaterMark: 256 * 1024})
    this.sinks.add(s)
    s.once('close', () => this.sinks.delete(s))
    // A host that failed destroys its sink; a write racing that is its failure, already reported, not the run's.
    s.on('error', () => undefined)
    this.maybeStart()
    return s
  }

  /** A host that will never take a sink (its connection failed). */
  dropped(): void {
    this.expected--
    this.maybeStart()
  }

  /** Ctrl-C: hosts that never started would be waited for forever; end every sink (docker load sees a short archive). */
  stop(): void {
    this.started = true
    this.stopped = true
    for (const s of this.sinks) s.end()
  }

  private maybeStart(): void {
    if (this.started || this.sinks.size < this.expected) return
    this.started = true
    void this.pump()
  }

  private async pump(): Promise<void> {
    try {
      for await (const chunk of this.source) {
        if (this.stopped || this.sinks.size === 0) break
        await Promise.all([...this.sinks].filter((s) => !s.writableEnded).map((s) => (s.write(chunk) ? null : new Promise<void>((r) => {
          s.once('drain', r)
          s.once('close', r)
        }))))
      }
    } finally {
      for (const s of this.sinks) if (!s.writableEnded) s.end()
    }
  }
}

/** `docker load` on one host, the archive streamed from disk into its stdin (nothing is written on the host but docker's own). */
async function loadOn(session: SshSession, archive: string | StdinFanout, onBytes: (n: number) => void, signal: AbortSignal): Promise<HostCopy> {
  const file = typeof archive === 'string' ? createReadStream(archive, {highWaterMark: 256 * 1024}) : archive.sink()
  let bytes = 0
  // Counted on the way through (a 'data' listener on the file itself would start it flowing before the channel opens).
  const input = file.pipe(new Transform({
    transform(b: Buffer, _e, cb) {
      bytes += b.length
      onBytes(b.length)
      cb(null, b)
    },
  }))
  const stdout = new Capture(16 * 1024)
  const stderr = new Capture(16 * 1024)
  try {
    const r = await session.stream('docker load', {stdin: input, stdout, stderr, sudo: true, signal})
    if (r.stopped) throw new Error(`${r.stopped} while docker load ran`)
    if (r.sudoProblem) throw new Error(r.sudoProblem)
    if (r.lost) throw new Error('the SSH connection closed before docker load finished')
    return {bytes, exec: {code: r.code, signal: r.signal, stdout: stdout.text(), stderr: stderr.text()}}
  } finally {
    file.destroy()
    input.destroy()
  }
}

export type CopyWork =
  | {kind: 'upload'; items: LocalItem[]; dest: string}
  | {kind: 'download'; src: string; dest: string; recursive: boolean}
  | {kind: 'load'; archive: string}
  | {kind: 'load-stdin'; stdin: Readable}

/** Where NODE:SRC lands for one host: DEST (or DEST/<basename> when DEST is a folder); several hosts: DEST/<name>/<basename>. */
export function downloadTarget(src: string, dest: string, name: string, hosts: number): string {
  const base = posix.basename(src.replace(/\/+$/, '')) || name
  if (hosts > 1) return join(dest, name, base)
  try {
    if (statSync(dest).isDirectory()) return join(dest, base)
  } catch {
    // DEST does not exist: it is the new file's (or folder's) name
  }
  return dest
}

/** Check what can be checked before any host is touched (local side). */
export function checkCopyWork(work: CopyWork, hosts: number): void {
  if (work.kind === 'download') {
    if (work.src === '' || work.src === '~') throw new UsageError('which remote file? belt scp NODE:PATH DEST')
    if (hosts > 1) {
      let st: Stats | null
      try { st = statSync(work.dest) } catch { st = null }
      if (st && !st.isDirectory()) throw new UsageError(`${work.dest} is a file: several nodes' copies go into DEST/<name>/, so DEST must be a folder`)
    }
  }
  if (work.kind === 'load-stdin' && process.stdin.isTTY) throw new UsageError('--load - reads the archive from stdin, which is a terminal: pipe docker save into it')
  if (work.kind === 'load') {
    let st: Stats
    try {
      st = statSync(work.archive)
    } catch {
      throw new UsageError(`no such file: ${work.archive}`)
    }
    if (!st.isFile()) throw new UsageError(`--load ${work.archive} is not a file (docker save -o FILE makes one)`)
  }
}

/** Bytes the whole run moves, when known up front (uploads and loads), for the progress line. */
export function plannedBytes(work: CopyWork, hosts: number): number | null {
  if (work.kind === 'upload') return hosts * work.items.reduce((n, i) => n + i.size, 0)
  if (work.kind === 'load') return hosts * statSync(work.archive).size
  return null
}

/**
 * The copy on every endpoint in parallel (bounded by `concurrency`), with progress in hosts and bytes. A host fails
 * alone (its error in the result); `docker load` exiting non-zero is a failure with docker's first stderr line.
 */
export async function copyOnFleet(ssh: SshContext, endpoints: SshEndpoint[], work: CopyWork,
  o: {concurrency: number; timeoutMs?: number}, hooks: FleetHooks = {}): Promise<CopyResult> {
  const load = work.kind === 'load' || work.kind === 'load-stdin'
  const verb = load ? 'loaded' : 'copied'
  const fanout = work.kind === 'load-stdin' ? new StdinFanout(work.stdin, endpoints.length) : null
  const registered = new Set<string>()
  let moved = 0
  const onBytes = (n: number) => { moved += n }
  const total = plannedBytes(work, endpoints.length)
  const progress = hooks.progress?.({total: endpoints.length, outcomes: [verb, 'failed'], label: `scp${load ? ' --load' : ''}`,
    bytes: () => ({done: moved, total})})
  const scope = onInterrupt()
  scope.signal.addEventListener('abort', () => fanout?.stop(), {once: true})
  progress?.start()
  let run
  try {
    const task = (session: SshSession, signal: AbortSignal): Promise<HostCopy> => {
      if (work.kind === 'upload') return uploadTo(session, work.items, work.dest, onBytes, signal)
      if (work.kind === 'load') return loadOn(session, work.archive, onBytes, signal)
      if (work.kind === 'load-stdin') {
        registered.add(session.endpoint.name)
        return loadOn(session, fanout!, onBytes, signal)
      }
      const local = downloadTarget(work.src, work.dest, session.endpoint.name, endpoints.length)
      if (endpoints.length > 1) mkdirSync(join(work.dest, session.endpoint.name), {recursive: true})
      return downloadFrom(session, work.src, local, work.recursive, onBytes, signal)
    }
    run = await ssh.runFleet(endpoints, task, {
      concurrency: o.concurrency, timeoutMs: o.timeoutMs, retries: 2, jitterMs: Math.min(1000, endpoints.length * 5), signal: scope.signal,
      onResult: (r) => {
        if (fanout && !registered.has(r.name)) fanout.dropped()
        progress?.record(r.name, failureOf(r) === null ? verb : 'failed', failureOf(r) ?? undefined)
      },
    })
  } finally {
    scope.dispose()
    await progress?.stop()
  }
  const hosts = [...run.results].sort((a, b) => byNaturalName(a.name, b.name)).map((r): CopyHostOutput => ({
    name: r.name,
    exit_code: r.ok ? (r.value!.exec ? r.value!.exec.code : 0) : null,
    stdout: r.value?.exec?.stdout ?? '',
    stderr: r.value?.exec?.stderr ?? '',
    error: failureOf(r),
    bytes: r.value?.bytes ?? 0,
    duration_ms: r.durationMs,
  }))
  const rows = hosts.map((h) => (h.error === null ? {name: h.name, outcome: verb} : {name: h.name, outcome: 'failed', error: h.error}))
  return {...fleetResult(verb, rows, run), hosts, bytes: moved}
}

function failureOf(r: HostResult<HostCopy>): string | null {
  if (!r.ok) return r.error ?? 'failed'
  const e = r.value?.exec
  if (!e || e.code === 0) return null
  const why = e.code === null ? `killed by ${e.signal}` : `exit code ${e.code}`
  const first = e.stderr.split('\n').map((l) => l.trim()).find(Boolean)
  return first ? `${why}: ${first}` : why
}
