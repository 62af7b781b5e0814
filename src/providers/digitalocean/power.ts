// Power actions on droplets: reboot / power_off / power_on (and power_cycle for --hard) as one droplet action each,
// through the token's pacer (api.ts), so 2,000 droplets take the rate budget's time and never a 429 storm; a hard
// restart of the whole cluster is one tag-wide power_cycle on the cluster's id tag (never the shared name tag).
import type {PowerAction, PowerOptions, PowerResult} from '../provider.js'
import {eachNode, powerSplit} from '../power.js'
import type {DoScope} from './api.js'
import {listByName, toNode, type Droplet} from './droplets.js'

/** Droplet actions in flight at once; the pacer decides when each is sent. */
const ACTION_CONCURRENCY = 10

export function dropletActionType(action: PowerAction, hard: boolean): string {
  if (action === 'restart') return hard ? 'power_cycle' : 'reboot'
  return action === 'stop' ? 'power_off' : 'power_on'
}

export async function powerDroplets(scope: DoScope, action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult> {
  const droplets = (await listByName(scope, opts.signal)).ours
  const nodes = droplets.map((d) => ({...toNode(d), droplet: d}))
  const split = powerSplit(action, names, nodes, scope.cluster.name)
  const type = dropletActionType(action, opts.hard)
  const result: PowerResult = {ok: [], already: split.already, failed: split.failed, interrupted: false}
  if (action === 'restart' && opts.hard && opts.whole && split.send.length === droplets.length && scope.idTag) {
    const tag = scope.idTag
    opts.onProgress?.(`power_cycle of every droplet tagged ${tag}`)
    try {
      await scope.api.call(`power_cycle droplets tagged ${tag}`, (c) => c.droplet.doActionByDropletTag({tag_name: tag, type}), opts.signal)
      result.ok.push(...split.send.map((n) => n.name))
    } catch (err) {
      for (const n of split.send) result.failed.push({name: n.name, error: (err as Error).message})
    }
    return result
  }
  await eachNode(split.send, ACTION_CONCURRENCY, result, opts.signal, async (n) => {
    await dropletAction(scope, n.droplet, type, opts.signal)
    result.ok.push(n.name)
    opts.onProgress?.(`${type} ${n.name} (${result.ok.length}/${split.send.length})`)
  })
  return result
}

function dropletAction(scope: DoScope, d: Droplet, type: string, signal?: AbortSignal): Promise<unknown> {
  const what = `${type} ${d.name} (${d.id})`
  const droplet_id = d.id
  switch (type) {
    case 'reboot': return scope.api.call(what, (c) => c.droplet.rebootDroplet({droplet_id}), signal)
    case 'power_cycle': return scope.api.call(what, (c) => c.droplet.powerCycleDroplet({droplet_id}), signal)
    case 'power_off': return scope.api.call(what, (c) => c.droplet.powerOffDroplet({droplet_id}), signal)
    default: return scope.api.call(what, (c) => c.droplet.powerOnDroplet({droplet_id}), signal)
  }
}
