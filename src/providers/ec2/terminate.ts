// Removing instances: TerminateInstances in chunks of the listed instances chosen by name (or all of the cluster's),
// then the removed ones forgotten in state.json: their node records, the active node, and the batch records left
// with no live instance. After Ctrl-C no chunk starts.
import type {Failure, RemoveResult} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {keptBatches} from './batches.js'
import {call, describeError, type Ec2Context, sdk} from './client.js'
import type {Listed} from './inventory.js'

const TERMINATE_CHUNK = 1000

export async function terminate(
  ctx: Ec2Context, inventory: Listed[], target: {names: string[]} | {all: true},
  opts: {signal?: AbortSignal; onProgress?: (m: string) => void},
): Promise<RemoveResult> {
  const failed: Failure[] = []
  let chosen: Listed[]
  if ('all' in target) chosen = inventory
  else {
    const wanted = new Set(target.names)
    chosen = inventory.filter((l) => wanted.has(l.node.name))
    const have = new Set(chosen.map((l) => l.node.name))
    for (const n of target.names) if (!have.has(n)) failed.push({name: n, error: `no node named '${n}' in cluster '${ctx.cluster.name}'`})
  }
  // An instance already shutting down needs no second call, but it still counts as removed.
  const removed: Listed[] = chosen.filter((l) => l.instance.State?.Name === 'shutting-down')
  const toTerminate = chosen.filter((l) => l.instance.State?.Name !== 'shutting-down')
  let interrupted = false
  for (let i = 0; i < toTerminate.length; i += TERMINATE_CHUNK) {
    if (opts.signal?.aborted) {
      interrupted = true
      break
    }
    const chunk = toTerminate.slice(i, i + TERMINATE_CHUNK)
    try {
      const command = new sdk.TerminateInstancesCommand({InstanceIds: chunk.map((l) => l.node.id!)})
      await call('TerminateInstances', (o) => ctx.client.send(command, o))
      removed.push(...chunk)
      opts.onProgress?.(`terminating ${removed.length}/${chosen.length}`)
    } catch (err) {
      const error = describeError(err)
      for (const l of chunk) failed.push({name: l.node.name, error})
    }
  }
  const forgetAll = 'all' in target && !interrupted && failed.length === 0
  return {removed: removed.map((l) => l.node.name), failed, interrupted, stateError: forget(ctx, inventory, removed, forgetAll)}
}

/** Forget the removed instances; a failed write never turns a removed instance into a failure: it is reported on its own. */
function forget(ctx: Ec2Context, inventory: Listed[], removed: Listed[], all: boolean): string | null {
  const goneIds = new Set(removed.map((l) => l.node.id!))
  const goneNames = new Set(removed.map((l) => l.node.name))
  const liveIds = new Set(inventory.map((l) => l.node.id!).filter((id) => !goneIds.has(id)))
  // A name still carried by a live instance (a duplicate) keeps its record.
  const liveNames = new Set(inventory.filter((l) => liveIds.has(l.node.id!)).map((l) => l.node.name))
  const err = ctx.records.tryUpdate((s, state) => {
    for (const name of goneNames) if (!liveNames.has(name)) delete state.nodes[name]
    if (all) state.nodes = {}
    if (state.active_node && goneNames.has(state.active_node) && !state.nodes[state.active_node]) state.active_node = null
    s.batches = keptBatches(s.batches, inventory, liveIds)
  })
  return stateErrorLine('forget', [...goneNames], err ? [err] : [])
}
