// The API pacer: one per DigitalOcean token in this process, shared by every call made with that token.
// DigitalOcean allows 250 requests in any 60 s (answering 429 beyond that) and 5,000 per hour (reported in the
// ratelimit-limit / ratelimit-remaining / ratelimit-reset headers). The pacer keeps the minute window itself,
// pauses everyone when the hour budget is spent or a 429 names a retry-after, and holds the token's backoff steps.
// Ctrl-C before a request starts throws core's Interrupted: the request is never sent.
import {createHash} from 'node:crypto'
import {closeSync, constants, lstatSync, mkdirSync, openSync, readFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {writeFileAtomic} from '../../core/config/atomic.js'
import {type Backoff, backoffDelay, sleep, throwIfInterrupted} from '../../core/wait.js'

/** Why a request was not sent: its operation was interrupted before the pacer let it start. */
const NOT_SENT_MESSAGE = 'interrupted: DigitalOcean API request not sent (aborted)'

/**
 * A sliding window of request times. A request counts from its start until it completes, and then from its
 * completion time — later than the moment the server counted it — so client and server clocks of the window never
 * disagree in the server's disfavour.
 */
export class RateWindow {
  private times: number[] = []
  private inFlight = 0

  constructor(readonly limit: number, readonly windowMs: number) {}

  /**
   * Milliseconds to wait before another request may start at `now`; 0 means go. `reserve` slots are kept free for
   * other requests (a create leaves room for the listings that wait for its droplets).
   */
  delay(now: number, reserve = 0): number {
    this.prune(now)
    const used = this.inFlight + this.times.length
    const limit = Math.max(1, this.limit - reserve)
    if (used < limit) return 0
    // Need (used - limit + 1) finished entries to leave the window; in-flight ones only leave after they finish.
    const k = used - limit
    if (k >= this.times.length) return Math.min(250, this.windowMs)
    return Math.max(1, this.times[k] + this.windowMs - now)
  }

  /** Count a request starting now; call the returned function with the completion time when it is answered. */
  start(): (finishedAt: number) => void {
    this.inFlight++
    let done = false
    return (finishedAt: number) => {
      if (done) return
      done = true
      this.inFlight--
      // keep `times` sorted (completions arrive nearly in order; insertion from the end is cheap)
      let i = this.times.length
      while (i > 0 && this.times[i - 1] > finishedAt) i--
      this.times.splice(i, 0, finishedAt)
    }
  }

  /** Completion times still inside the window at `now` (what another process must count too). */
  recent(now: number): number[] {
    this.prune(now)
    return [...this.times]
  }

  /** Count requests another belt process made (completion times), so both stay inside one budget. */
  seed(times: readonly number[], now: number): void {
    for (const t of times) if (Number.isFinite(t) && t > now - this.windowMs && t <= now) this.start()(t)
  }

  /** Requests counted in the window at `now` (in flight included). */
  used(now: number): number {
    this.prune(now)
    return this.inFlight + this.times.length
  }

  /**
   * How far apart repeated jobs of `cost` requests (a listing of several pages) should start so the budget left now
   * lasts until the window's oldest request leaves it: 0 when it lasts anyway. After a burst (2,000 droplets created
   * in 200 requests) polling every few seconds would spend the rest at once and then wait the window out blind.
   * With `since` (the last job's start), the wait from `now` instead; when no job fits, the wait until one does.
   */
  spreadMs(cost: number, now: number, since?: number): number {
    const used = this.used(now)
    const left = this.limit - used
    if (this.times.length === 0) return 0
    const horizon = this.times[0] + this.windowMs - now
    const jobs = Math.floor(left / Math.max(1, cost))
    if (jobs <= 0) return Math.max(0, this.delayFor(cost, now))
    const gap = Math.floor(horizon / jobs)
    // `since`: when the last job started. Then the answer is the wait from now: the jobs left, evenly spaced from
    // that one, the last of them as the oldest request leaves (none spent at once right after a burst).
    return since === undefined ? Math.max(0, gap) : Math.max(0, since + gap - now)
  }

  /** Milliseconds until `cost` requests could start back to back. */
  private delayFor(cost: number, now: number): number {
    const k = this.inFlight + this.times.length - this.limit + cost - 1
    if (k < 0) return 0
    if (k >= this.times.length) return this.windowMs
    return this.times[k] + this.windowMs - now
  }

  private prune(now: number): void {
    let n = 0
    while (n < this.times.length && this.times[n] <= now - this.windowMs) n++
    if (n) this.times.splice(0, n)
  }
}

export interface PacerOptions {
  /** Requests allowed in any window (DigitalOcean: 250). */
  limit?: number
  /** Window length in ms (DigitalOcean: 60 s). */
  windowMs?: number
  /** First backoff step in ms (doubles per attempt, capped, with jitter). */
  backoffBaseMs?: number
  backoffCapMs?: number
}

export const DO_REQUESTS_PER_MINUTE = 250

export class ApiPacer {
  readonly window: RateWindow
  private pausedUntil = 0
  /** What the current pause obeys (named in waits the user sees). */
  private pauseWhy = 'rate limit pause'
  /** The steps of every retry made with this token: 429s without retry-after, 5xx and network retries, create rounds. */
  readonly backoffSteps: Backoff

  constructor(opts: PacerOptions = {}) {
    this.window = new RateWindow(opts.limit ?? DO_REQUESTS_PER_MINUTE, opts.windowMs ?? 60_000)
    this.backoffSteps = {baseMs: opts.backoffBaseMs ?? 500, capMs: opts.backoffCapMs ?? 20_000, jitter: 'half'}
  }

  /** Wait for a slot (window and pauses); resolves with the release function to call when the reply is in. */
  async acquire(signal?: AbortSignal, onWait?: (ms: number, why: string) => void, reserve = 0): Promise<() => void> {
    for (;;) {
      throwIfInterrupted(signal, NOT_SENT_MESSAGE)
      const now = Date.now()
      const pause = this.pausedUntil - now
      const slot = this.window.delay(now, reserve)
      const wait = Math.max(pause, slot)
      if (wait <= 0) {
        const finish = this.window.start()
        return () => finish(Date.now())
      }
      onWait?.(wait, pause >= slot ? this.pauseWhy : 'request window full')
      await sleep(wait, signal)
    }
  }

  /** Read the hour budget headers: when nothing is left, everyone waits for the reset. */
  observe(headers: Record<string, unknown> | undefined): void {
    if (!headers) return
    const remaining = Number(header(headers, 'ratelimit-remaining'))
    const reset = Number(header(headers, 'ratelimit-reset'))
    if (Number.isFinite(remaining) && remaining <= 0 && Number.isFinite(reset) && reset > 0) {
      this.pauseUntil(reset * 1000, 'hourly budget spent')
    }
  }

  /** A 429: pause every caller for retry-after (or a backoff step when the server named none). */
  throttled(headers: Record<string, unknown> | undefined, attempt: number): number {
    const ra = parseRetryAfter(header(headers ?? {}, 'retry-after'))
    const ms = ra ?? this.backoff(attempt)
    this.pauseUntil(Date.now() + ms, ra === null ? '429 backoff' : 'retry-after')
    return ms
  }

  pauseUntil(at: number, why = 'rate limit pause'): void {
    if (at > this.pausedUntil) {
      this.pausedUntil = at
      this.pauseWhy = why
    }
  }

  /** The wait before retry `attempt` (1, 2, 3...): between half and all of base·2^(attempt-1), capped. */
  backoff(attempt: number): number {
    return backoffDelay(attempt, this.backoffSteps)
  }
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const h = headers as {get?: (n: string) => unknown}
  const v = typeof h.get === 'function' ? h.get(name) : headers[name] ?? headers[name.toLowerCase()]
  if (v === undefined || v === null) return undefined
  return Array.isArray(v) ? String(v[0]) : String(v)
}

/** retry-after: seconds, or an HTTP date. Returns milliseconds (null when absent or unreadable). */
export function parseRetryAfter(value: string | undefined): number | null {
  if (value === undefined || value.trim() === '') return null
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000)
  const at = Date.parse(value)
  return Number.isNaN(at) ? null : Math.max(0, at - Date.now())
}

const pacers = new Map<string, ApiPacer>()

/**
 * The pacer for a token: one per process, and its minute window is shared with the other belt processes of the same
 * token on this machine (`belt create` followed at once by `belt status --wait` must not together go over 250 a
 * minute). The window's request times are kept in a small file named by a hash of the token (never the token), read
 * when the pacer is made and merged back when the process exits.
 */
export function pacerFor(token: string, opts?: PacerOptions, windowFile = sharedWindowFile(token)): ApiPacer {
  const key = createHash('sha256').update(token).digest('hex')
  let p = pacers.get(key)
  if (!p) {
    p = new ApiPacer(opts)
    pacers.set(key, p)
    if (windowFile) shareWindow(p.window, windowFile)
  }
  return p
}

export function sharedWindowFile(token: string): string | null {
  if (process.env.BELT_API_WINDOW_FILE === '') return null
  if (process.env.BELT_API_WINDOW_FILE) return process.env.BELT_API_WINDOW_FILE
  const hash = createHash('sha256').update('belt-do-window:' + token).digest('hex').slice(0, 16)
  const dir = privateDir(join(tmpdir(), `belt-${process.getuid?.() ?? 'user'}`))
  return dir ? join(dir, `do-window-${hash}.json`) : null
}

/**
 * The per-user folder for files shared between this user's belt processes: made 0700, and used only when it is a
 * real folder (not a symlink) owned by this user with no access for others — the temp folder is shared with every
 * user of the machine. Returns null (no sharing) otherwise.
 */
export function privateDir(dir: string): string | null {
  try {
    mkdirSync(dir, {mode: 0o700})
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return null
  }
  try {
    const st = lstatSync(dir)
    const uid = process.getuid?.()
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) return null
    return dir
  } catch {
    return null
  }
}

function readWindowFile(path: string): number[] {
  let fd: number | undefined
  try {
    // O_NOFOLLOW: a symlink planted at the path is never followed (it fails with ELOOP and is treated as empty).
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
    const data = JSON.parse(readFileSync(fd, 'utf8')) as unknown
    return Array.isArray(data) ? data.filter((t): t is number => typeof t === 'number') : []
  } catch {
    return []
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Seed the window from the file now, and merge this process's requests back into it when the process exits. */
export function shareWindow(window: RateWindow, path: string): void {
  window.seed(readWindowFile(path), Date.now())
  process.once('exit', () => flushWindow(window, path))
}

export function flushWindow(window: RateWindow, path: string): void {
  const now = Date.now()
  // A multiset union (per timestamp, the larger count): entries this process seeded from the file are not counted
  // twice, and what other processes wrote meanwhile is kept.
  const counts = new Map<number, number>()
  const tally = (times: number[]) => {
    const mine = new Map<number, number>()
    for (const t of times) if (t > now - window.windowMs) mine.set(t, (mine.get(t) ?? 0) + 1)
    for (const [t, n] of mine) counts.set(t, Math.max(counts.get(t) ?? 0, n))
  }
  tally(readWindowFile(path))
  tally(window.recent(now))
  const merged = [...counts].sort((a, b) => a[0] - b[0]).flatMap(([t, n]) => Array<number>(n).fill(t))
  try {
    // A temp file beside it, renamed over the path: rename replaces a symlink itself, never writes through it.
    writeFileAtomic(path, JSON.stringify(merged), 0o600)
  } catch {
    // Sharing the budget is a courtesy between processes; the server's 429 + retry-after still protects us.
  }
}
