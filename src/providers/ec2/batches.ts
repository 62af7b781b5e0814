// Batch planning, pure (no client, no state store): which instances of an interrupted create are adopted (named,
// never launched again), which recorded batches are re-issued with their ClientToken (EC2 returns the original
// reservation if the launch did happen) or dropped, and the fresh batches for the remaining names. Also which batch
// records are complete after naming and which are kept after a removal.
import {createHash} from 'node:crypto'
import type {NodeStatus} from '../provider.js'

/** One RunInstances call, as recorded in state.json (state.provider.ec2.batches) before the call is made. */
export interface BatchRecord {
  id: string
  client_token: string
  /** Names in AmiLaunchIndex order. */
  names: string[]
  instance_ids: string[] | null
  named: boolean
  size: string
  image: string
  created_at: string
}

/** What planning reads of a listed instance (inventory.ts's Listed is one). */
export interface BatchMember {
  node: {name: string; id: string | null; status: NodeStatus}
  /** Carries its Name tag (false: launched by a batch that was interrupted before naming). */
  named: boolean
  /** The batch record it was launched by, when state.json has that record. */
  batchId: string | null
  instance: {AmiLaunchIndex?: number}
}

export interface LaunchInput<T extends BatchMember> {
  /** state.json's batch records. */
  records: BatchRecord[]
  /** This cluster's instances as listed. */
  inventory: T[]
  /** The names to create, in order. */
  wanted: string[]
  size: string
  image: string | null
  batchSize: number
  cluster: string
  /** Unique to this create: new batch ids are `<stamp>-1`, `<stamp>-2`, ... */
  stamp: string
  /** created_at of new batch records. */
  now: string
}

export interface LaunchPlan<T extends BatchMember> {
  /** Instances launched by an interrupted create: named, never launched again. */
  adopt: T[]
  /** Recorded batches never seen launched, re-issued as they are (same ClientToken). */
  reissue: BatchRecord[]
  /** New batches for the rest of the names, each to be recorded before its RunInstances call. */
  fresh: BatchRecord[]
  /** Ids of batch records to forget: never seen launched and no longer wanted as they are. */
  dropped: Set<string>
}

/** Listed instances launched by an interrupted create: unnamed, from a recorded batch, not terminated. */
export function adoptable<T extends BatchMember>(inventory: T[]): T[] {
  return inventory.filter((l) => !l.named && l.batchId !== null && l.node.status !== 'gone')
}

export function planLaunch<T extends BatchMember>(input: LaunchInput<T>): LaunchPlan<T> {
  const adopt = adoptable(input.inventory)
  const left = new Set(input.wanted)
  // Names of launched instances are never launched again, even when naming one fails (a re-run retries it).
  for (const l of adopt) left.delete(l.node.name)

  // A batch is re-issued only when this run still wants exactly its names with its size and image. Any listed
  // instance (even one shutting down) means the batch did launch: its token is never re-issued.
  const seen = new Set(input.inventory.map((l) => l.batchId).filter(Boolean))
  const reissue: BatchRecord[] = []
  const dropped = new Set<string>()
  for (const b of input.records) {
    if (b.named || seen.has(b.id)) continue
    if (b.instance_ids === null && b.size === input.size && b.image === input.image && b.names.every((n) => left.has(n))) {
      reissue.push(b)
      for (const n of b.names) left.delete(n)
    } else dropped.add(b.id)
  }

  const rest = input.wanted.filter((n) => left.has(n))
  const fresh: BatchRecord[] = []
  for (let i = 0; i < rest.length; i += input.batchSize) {
    const id = `${input.stamp}-${fresh.length + 1}`
    fresh.push({
      id,
      client_token: clientToken(input.cluster, id),
      names: rest.slice(i, i + input.batchSize),
      instance_ids: null,
      named: false,
      size: input.size,
      image: input.image ?? '',
      created_at: input.now,
    })
  }
  return {adopt, reissue, fresh, dropped}
}

/**
 * The adopted batches complete now: every live instance carries its Name (listed named, or named in `namedIds`).
 * Each comes with its live instance ids in launch order, for its record.
 */
export function completedBatches<T extends BatchMember>(
  adopted: T[], inventory: T[], namedIds: Set<string | null>,
): {batchId: string; ids: string[]}[] {
  const wanted = new Set(adopted.map((l) => l.batchId!))
  const live = new Map<string, T[]>()
  for (const l of inventory) {
    if (l.batchId === null || !wanted.has(l.batchId) || l.node.status === 'gone') continue
    const members = live.get(l.batchId) ?? []
    members.push(l)
    live.set(l.batchId, members)
  }
  return [...wanted].flatMap((batchId) => {
    const members = (live.get(batchId) ?? []).sort((a, b) => byLaunchIndex(a.instance, b.instance))
    return members.every((l) => l.named || namedIds.has(l.node.id)) ? [{batchId, ids: members.map((l) => l.node.id!)}] : []
  })
}

/** After a removal: keep a batch record while it has live instances, or while its launch may still be unseen (no ids, none listed). */
export function keptBatches(records: BatchRecord[], inventory: BatchMember[], liveIds: Set<string>): BatchRecord[] {
  const listed = new Map<string, string[]>()
  for (const l of inventory) {
    if (l.batchId === null) continue
    const ids = listed.get(l.batchId) ?? []
    ids.push(l.node.id!)
    listed.set(l.batchId, ids)
  }
  return records.filter((b) => {
    const ids = b.instance_ids ?? listed.get(b.id) ?? []
    return ids.some((id) => liveIds.has(id)) || (!b.named && ids.length === 0)
  })
}

export function byLaunchIndex(a: {AmiLaunchIndex?: number}, b: {AmiLaunchIndex?: number}): number {
  return (a.AmiLaunchIndex ?? 0) - (b.AmiLaunchIndex ?? 0)
}

/** ≤ 64 ASCII characters, stable for a cluster's batch: a retried or re-issued RunInstances returns the same reservation. */
export function clientToken(cluster: string, batchId: string): string {
  return 'belt-' + createHash('sha256').update(`${cluster}/${batchId}`).digest('hex').slice(0, 40)
}
