// Locks between belt processes working on one cluster, with proper-lockfile: a lock is a `<file>.lock` folder made
// with mkdir (atomic on every file system); while held its mtime is refreshed, and a lock whose mtime is older than
// `stale` was left by a killed process and is taken over. Two kinds:
// - short, synchronous read-change-write sections (state.json, config.yml): withFileLockSync;
// - the per-cluster create lock, held from planning until the API's replies are recorded: acquireLock.
import {mkdirSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {Interrupted, PartialFailure} from '../errors.js'
import {sleep} from '../wait.js'

type ProperLockfile = typeof import('proper-lockfile')
let loaded: ProperLockfile | null = null
/** Loaded on first use: most commands only read, and start-up time matters (~15 ms for the library and its deps). */
function lockfile(): ProperLockfile {
  return (loaded ??= createRequire(import.meta.url)('proper-lockfile') as ProperLockfile)
}

/** A read-change-write section takes milliseconds; a lock this old was left by a process killed inside one. */
const SYNC_STALE_MS = 5_000
/** Longer than SYNC_STALE_MS, so a lock left by a killed process is recovered before waiting gives up. */
const SYNC_WAIT_MS = 8_000
/**
 * The create lock's mtime is refreshed every second from the event loop. A synchronous wait above blocks the loop
 * for at most SYNC_WAIT_MS, so the stale threshold is above that plus one refresh: a live holder is never taken over.
 */
const ASYNC_STALE_MS = 10_000
const ASYNC_UPDATE_MS = 1_000

const pause = new Int32Array(new SharedArrayBuffer(4))
/** Files whose synchronous section this process is inside. */
const held = new Set<string>()

/** Block this thread for ms (synchronous callers cannot await; this does not spin the CPU). */
function sleepSync(ms: number): void {
  Atomics.wait(pause, 0, 0, ms)
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code
}

/** A lock that could not be made for another reason than being held (permissions, a missing folder); keeps the cause. */
function lockFailure(path: string, err: unknown): PartialFailure {
  return Object.assign(new PartialFailure(`could not lock ${path} (${path}.lock): ${(err as Error).message}`), {cause: err})
}

/**
 * Run fn while holding `<path>.lock`. Waits (a few ms at a time) while another process holds it, up to SYNC_WAIT_MS,
 * then fails naming the lock folder. The folder of `path` is created when missing.
 */
export function withFileLockSync<T>(path: string, fn: () => T): T {
  // A section that enters another section of the same file already holds its lock (waiting would never end).
  if (held.has(path)) return fn()
  mkdirSync(dirname(path), {recursive: true})
  const deadline = Date.now() + SYNC_WAIT_MS
  let release: () => void
  for (;;) {
    try {
      // The section never yields, so the lock cannot be compromised while held; nothing to do if it were.
      release = lockfile().lockSync(path, {realpath: false, stale: SYNC_STALE_MS, onCompromised: () => {}})
      break
    } catch (err) {
      if (code(err) !== 'ELOCKED') throw lockFailure(path, err)
      if (Date.now() >= deadline) {
        throw new PartialFailure(`${path} stayed locked by another belt process for ${SYNC_WAIT_MS / 1000} s (lock folder ${path}.lock); try again`)
      }
      sleepSync(2 + Math.floor(Math.random() * 10))
    }
  }
  held.add(path)
  try {
    return fn()
  } finally {
    held.delete(path)
    try {
      release()
    } catch {}
  }
}

export interface AcquireOptions {
  /** Give up after this long (PartialFailure naming the lock). */
  waitMs: number
  /** Ctrl-C while waiting: throws Interrupted. */
  signal?: AbortSignal
  /** Called once when the wait has lasted about a second (the caller says who it is waiting for). */
  onWait?: () => void
  /** What holds the lock, for the give-up message ("another belt create on cluster 'x'"). */
  what: string
}

/** Take `<path>.lock` for a long operation; resolves with its release function. */
export async function acquireLock(path: string, opts: AcquireOptions): Promise<() => Promise<void>> {
  mkdirSync(dirname(path), {recursive: true})
  const started = Date.now()
  let told = false
  for (let attempt = 0; ; attempt++) {
    if (opts.signal?.aborted) throw new Interrupted(`interrupted while waiting for ${opts.what}; nothing was changed`)
    try {
      const release = await lockfile().lock(path, {
        realpath: false, stale: ASYNC_STALE_MS, update: ASYNC_UPDATE_MS,
        // Only possible when the event loop stalled for longer than the stale threshold; the operation goes on, and
        // releasing an already-lost lock must not fail the command.
        onCompromised: () => {},
      })
      return async () => {
        try {
          await release()
        } catch {}
      }
    } catch (err) {
      // The folder went away meanwhile (a failed create removes a folder it made only for its lock): make it again.
      if (code(err) === 'ENOENT' && attempt < 100) {
        mkdirSync(dirname(path), {recursive: true})
        continue
      }
      if (code(err) !== 'ELOCKED') throw lockFailure(path, err)
    }
    const waited = Date.now() - started
    if (waited >= opts.waitMs) {
      throw new PartialFailure(`gave up after ${Math.round(waited / 1000)} s waiting for ${opts.what} (lock folder ${path}.lock)`)
    }
    if (!told && waited >= 1000) {
      told = true
      opts.onWait?.()
    }
    await sleep(Math.min(50 + attempt * 25, 250), opts.signal)
  }
}
