// Provider.wait() for every driver: poll the cluster's listing (one list call a round, never one call per node)
// until enough of the wanted nodes have the status, the deadline passes or Ctrl-C — the same on every driver.
import {poll} from '../core/wait.js'
import type {NodeInfo, WaitOptions} from './provider.js'

export interface PollSchedule {
  /** The first interval between listings, ms. */
  intervalMs: number
  /** Grow the interval by this factor each round (default 1: fixed) up to maxIntervalMs. */
  growth?: number
  maxIntervalMs?: number
}

/** The listing every test and bench may shorten: BELT_POLL_INTERVAL_MS, when set, fixes the interval. */
export function pollScheduleFromEnv(normal: PollSchedule, env: NodeJS.ProcessEnv = process.env): PollSchedule {
  const ms = Number(env.BELT_POLL_INTERVAL_MS)
  return Number.isFinite(ms) && ms > 0 ? {intervalMs: ms} : normal
}

export async function waitForNodes(
  list: (signal?: AbortSignal) => Promise<NodeInfo[]>,
  opts: WaitOptions,
  schedule: PollSchedule,
): Promise<{reached: boolean; nodes: NodeInfo[]}> {
  const names = opts.names ? new Set(opts.names) : null
  const counted = (nodes: NodeInfo[]) => nodes.filter((n) => n.status === opts.status && (!names || names.has(n.name))).length
  const r = await poll(list, {
    done: (nodes) => counted(nodes) >= opts.count,
    onEach: opts.onProgress,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    ...schedule,
  })
  return {reached: r.reached, nodes: r.last ?? []}
}
