// The order of a rolling upgrade (or restart), pure: nodes already at the version or done earlier in the same
// upgrade are skipped; workers go in batches (--batch N or P% of the workers); managers one at a time, the leader
// last. Which manager goes next is decided again before each one (leadership may move), by nextManager.
import {UsageError} from '../core/errors.js'
import {byNaturalName} from '../ssh/fleet-result.js'

export type BatchSize = {count: number} | {percent: number}

export interface RolloutNode {
  name: string
  role: 'manager' | 'worker'
  leader: boolean
  /** The engine version the swarm reports for the node. */
  engine: string
}

export interface Rollout {
  /** Worker batches, in order. */
  workerBatches: string[][]
  /** Managers to do (one at a time; nextManager picks the order). */
  managers: string[]
  /** Skipped, with why ('at 27.3.1', 'done earlier in this upgrade'). */
  skipped: {name: string; why: string}[]
}

export function parseBatch(text: string): BatchSize {
  const t = text.trim()
  const pct = /^(\d+)%$/.exec(t)
  if (pct) {
    const percent = Number(pct[1])
    if (percent < 1 || percent > 100) throw new UsageError(`--batch: a percentage is 1% to 100%, got '${text}'`)
    return {percent}
  }
  if (!/^\d+$/.test(t) || Number(t) < 1) throw new UsageError(`--batch: expected a number of workers (5) or a percentage of them (10%), got '${text}'`)
  return {count: Number(t)}
}

/** Workers per batch: at least one; a percentage of all the workers named (not only those left to do). */
export function batchCount(size: BatchSize, workers: number): number {
  if ('count' in size) return size.count
  return Math.max(1, Math.floor((workers * size.percent) / 100))
}

export function planRollout(nodes: RolloutNode[], size: BatchSize, o: {version: string | null; done: ReadonlySet<string>}): Rollout {
  const skipped: {name: string; why: string}[] = []
  const todo: RolloutNode[] = []
  for (const n of [...nodes].sort((a, b) => byNaturalName(a.name, b.name))) {
    if (o.done.has(n.name)) skipped.push({name: n.name, why: 'done earlier in this upgrade'})
    else if (o.version && n.engine === o.version) skipped.push({name: n.name, why: `at ${o.version}`})
    else todo.push(n)
  }
  const workers = todo.filter((n) => n.role === 'worker').map((n) => n.name)
  const per = batchCount(size, nodes.filter((n) => n.role === 'worker').length)
  const workerBatches: string[][] = []
  for (let i = 0; i < workers.length; i += per) workerBatches.push(workers.slice(i, i + per))
  const managers = todo.filter((n) => n.role === 'manager')
  // Followers first, the leader last (as it is now; nextManager checks again before each).
  managers.sort((a, b) => Number(a.leader) - Number(b.leader) || byNaturalName(a.name, b.name))
  return {workerBatches, managers: managers.map((n) => n.name), skipped}
}

/** The next manager to do: the first left that is not the leader now; the leader only when it is the last one. */
export function nextManager(left: readonly string[], leader: string | null): string | null {
  if (left.length === 0) return null
  return left.find((n) => n !== leader) ?? left[0]
}
