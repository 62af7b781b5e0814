// Waiting, one way for all of belt: an abort-aware sleep, one backoff formula, one retry loop and one poll loop.
// Every wait ends early on Ctrl-C (the signal from core/interrupt.ts) and never outlives its deadline.
import {Interrupted} from './errors.js'

/** Sleep that ends early — resolving, not throwing — when the signal aborts; callers check `signal.aborted`. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })
}

/** Throws the interruption error when the signal has aborted (no new work after Ctrl-C). */
export function throwIfInterrupted(signal: AbortSignal | undefined, message?: string): void {
  if (signal?.aborted) throw new Interrupted(message)
}

export function isInterrupted(err: unknown): err is Interrupted {
  return err instanceof Interrupted
}

export interface Backoff {
  /** The first step in ms; each later attempt doubles it (times `factor`). */
  baseMs: number
  /** No step is longer than this. */
  capMs: number
  factor?: number
  /** 'half' (default): a step lies between half and all of its full length, so callers that failed together spread. */
  jitter?: 'half' | 'none'
}

/** The delay before retry number `attempt` (1, 2, 3, ...): min(cap, base·factor^(attempt-1)), jittered. */
export function backoffDelay(attempt: number, b: Backoff): number {
  const full = Math.min(b.capMs, b.baseMs * (b.factor ?? 2) ** Math.max(0, attempt - 1))
  if (b.jitter === 'none') return Math.round(full)
  return Math.round(full / 2 + Math.random() * (full / 2))
}

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number
  backoff: Backoff
  signal?: AbortSignal
  /**
   * Whether a failure is worth another attempt: false gives up (the error is thrown), true waits the backoff step,
   * a number waits that many ms instead (a server's retry-after).
   */
  retryable: (err: unknown, attempt: number) => boolean | number
  /** Told before each wait: the attempt that failed, its error and the wait in ms. */
  onRetry?: (attempt: number, err: unknown, waitMs: number) => void
  /** No wait goes past this time (epoch ms): the last error is thrown instead. */
  deadline?: number
}

/**
 * Run `fn` until it succeeds, a failure is not retryable, the retries are spent or the deadline would be passed.
 * Ctrl-C during a wait throws the interruption error: no new attempt starts.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    throwIfInterrupted(opts.signal)
    try {
      return await fn(attempt)
    } catch (err) {
      const verdict = attempt > opts.retries ? false : opts.retryable(err, attempt)
      if (verdict === false) throw err
      const waitMs = typeof verdict === 'number' ? verdict : backoffDelay(attempt, opts.backoff)
      if (opts.deadline !== undefined && Date.now() + waitMs > opts.deadline) throw err
      opts.onRetry?.(attempt, err, waitMs)
      await sleep(waitMs, opts.signal)
      throwIfInterrupted(opts.signal)
    }
  }
}

export interface PollOptions<T> {
  /** When the last probe's value is what was waited for. */
  done: (value: T) => boolean
  timeoutMs: number
  signal?: AbortSignal
  intervalMs: number
  /** Grow the interval by this factor after each probe (1: fixed), up to maxIntervalMs. */
  growth?: number
  maxIntervalMs?: number
  /** Every probe's value, before the check: progress shows the final state too. */
  onEach?: (value: T) => void
}

export interface PollResult<T> {
  reached: boolean
  /** The last probe's value (undefined only when Ctrl-C came before the first probe answered). */
  last: T | undefined
  interrupted: boolean
}

/**
 * Probe until `done`, the deadline or Ctrl-C. A probe that throws ends the poll with that error, except when the
 * signal aborted meanwhile (the probe was cut short by Ctrl-C): then the poll returns interrupted.
 */
export async function poll<T>(probe: (signal?: AbortSignal) => Promise<T>, opts: PollOptions<T>): Promise<PollResult<T>> {
  const deadline = Date.now() + opts.timeoutMs
  let interval = opts.intervalMs
  let last: T | undefined
  for (;;) {
    if (opts.signal?.aborted) return {reached: false, last, interrupted: true}
    try {
      last = await probe(opts.signal)
    } catch (err) {
      if (opts.signal?.aborted) return {reached: false, last, interrupted: true}
      throw err
    }
    opts.onEach?.(last)
    if (opts.done(last)) return {reached: true, last, interrupted: false}
    const left = deadline - Date.now()
    if (left <= 0) return {reached: false, last, interrupted: false}
    await sleep(Math.min(interval, left), opts.signal)
    if (opts.growth && opts.growth !== 1) interval = Math.min(opts.maxIntervalMs ?? Infinity, Math.round(interval * opts.growth))
  }
}
