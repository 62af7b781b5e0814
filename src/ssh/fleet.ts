// The fleet runner: one task on many hosts through a p-limit pool. Per host: one connection (retried, with backoff,
// only while the connection itself fails — a command that may have run is never re-run), the task, a timeout that
// covers both, and a small result. Ctrl-C (opts.signal) stops new hosts; in-flight ones finish or time out.
import pLimit from 'p-limit'
import {redact} from '../core/redact.js'
import type {SshEndpoint} from '../providers/provider.js'
import {SshConnectError} from './session.js'
import type {ConnectOptions, FleetOptions, FleetRun, HostResult, SshSession} from './types.js'
import {backoffDelay, sleep, type Backoff} from '../core/wait.js'
import {setMaxListeners} from 'node:events'

export type Connector = (endpoint: SshEndpoint, opts: ConnectOptions) => Promise<SshSession>

/** Steps between connection attempts: 0.5 s, 1 s, 2 s ... at most 5 s, each jittered (half to all of it) so a fleet spreads. */
const CONNECT_BACKOFF: Backoff = {baseMs: 500, capMs: 5000}

/** One line, secrets scrubbed, bounded length: what a per-host error may show. */
export function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  const line = redact(msg).replace(/\s*\n\s*/g, ' ').trim()
  return line.length > 500 ? line.slice(0, 497) + '...' : line
}


/** Resolve with the task, or reject as soon as the host's timeout fires even if the task ignores its signal. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, {once: true})
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v) },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e) },
    )
  })
}

export async function runFleet<T>(
  endpoints: SshEndpoint[],
  connect: Connector,
  task: (session: SshSession, signal: AbortSignal) => Promise<T>,
  opts: FleetOptions<T>,
): Promise<FleetRun<T>> {
  const concurrency = Math.max(1, Math.floor(opts.concurrency) || 1)
  // Every host in flight (at most `concurrency`) listens on the run's signal while it waits (jitter, backoff); that
  // is bounded, not a leak, so raise Node's default warning threshold of 10 to match.
  if (opts.signal) setMaxListeners(concurrency + 16, opts.signal)
  const retries = Math.max(0, opts.retries ?? 2)
  const limit = pLimit(concurrency)
  const results: HostResult<T>[] = []
  const notStarted: string[] = []
  const jitterWave = Math.min(endpoints.length, concurrency)
  const stopped = () => opts.signal?.aborted === true

  const runHost = async (ep: SshEndpoint): Promise<HostResult<T>> => {
    const started = performance.now()
    const ac = new AbortController()
    const timer = opts.timeoutMs
      ? setTimeout(() => ac.abort(new Error(`timed out after ${formatSeconds(opts.timeoutMs!)}`)), opts.timeoutMs)
      : undefined
    let attempts = 0
    const result = (ok: boolean, extra: Partial<HostResult<T>>): HostResult<T> =>
      ({name: ep.name, ok, durationMs: Math.round(performance.now() - started), attempts, ...extra})
    try {
      for (;;) {
        attempts++
        let session: SshSession
        try {
          session = await connect(ep, {signal: ac.signal})
        } catch (err) {
          const retryable = err instanceof SshConnectError && err.retryable
          if (retryable && attempts <= retries && !ac.signal.aborted && !stopped()) {
            await sleep(backoffDelay(attempts, CONNECT_BACKOFF), ac.signal)
            if (!ac.signal.aborted) continue
          }
          const msg = ac.signal.aborted && !(err instanceof SshConnectError && err.kind !== 'timeout')
            ? `${oneLine(ac.signal.reason)} while connecting`
            : oneLine(err)
          return result(false, {error: msg, connectionFailed: true})
        }
        try {
          const value = await untilAborted(task(session, ac.signal), ac.signal)
          return result(true, {value})
        } catch (err) {
          const msg = err === ac.signal.reason
            ? `${oneLine(err)} while the command ran; it may still be running on the host`
            : oneLine(err)
          return result(false, {error: msg})
        } finally {
          session.close()
        }
      }
    } finally {
      if (timer) clearTimeout(timer)
    }
  }

  await Promise.all(endpoints.map((ep, i) => limit(async () => {
    if (stopped()) return void notStarted.push(ep.name)
    if (opts.jitterMs && i < jitterWave) {
      // Only the first wave is spread; later hosts start as slots free up, which staggers them anyway.
      await sleep(Math.random() * opts.jitterMs, opts.signal)
      if (stopped()) return void notStarted.push(ep.name)
    }
    opts.onStart?.(ep.name)
    const r = await runHost(ep)
    results.push(r)
    opts.onResult?.(r)
  })))
  return {results, interrupted: stopped(), notStarted}
}

/**
 * A signal for one bounded step outside the fleet runner (a manager read, swarm init, a single-host command): it
 * aborts when `ms` pass (reason: "timed out after 5s") or when `parent` (the run's Ctrl-C signal) aborts.
 * Without `ms`, only the parent bounds it. Call dispose() when the step is over.
 */
export function stepSignal(ms: number | undefined, parent?: AbortSignal): {signal: AbortSignal; timedOut: () => boolean; dispose: () => void} {
  const ac = new AbortController()
  let timedOut = false
  const timer = ms ? setTimeout(() => { timedOut = true; ac.abort(new Error(`timed out after ${formatSeconds(ms)}`)) }, ms) : undefined
  const onParent = () => ac.abort(new Error('interrupted'))
  if (parent?.aborted) onParent()
  else parent?.addEventListener('abort', onParent, {once: true})
  return {
    signal: ac.signal,
    timedOut: () => timedOut,
    dispose: () => {
      if (timer) clearTimeout(timer)
      parent?.removeEventListener('abort', onParent)
    },
  }
}

export function formatSeconds(ms: number): string {
  const s = ms / 1000
  return Number.isInteger(s) ? `${s}s` : `${s.toFixed(1)}s`
}
