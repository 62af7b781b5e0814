// Power actions on instances: RebootInstances / StopInstances / StartInstances, up to POWER_CHUNK instance ids per
// call. A stopped instance loses its public address and gets a new one when started (src/power.ts reports it).
import {UsageError} from '../../core/errors.js'
import type {PowerAction, PowerOptions, PowerResult} from '../provider.js'
import {powerSplit} from '../power.js'
import {call, describeError, type Ec2Context, sdk} from './client.js'
import type {Listed} from './inventory.js'

/** Instance ids per call (as for TerminateInstances). */
export const POWER_CHUNK = 1000

const CALLS = {restart: 'RebootInstances', stop: 'StopInstances', start: 'StartInstances'} as const

export function powerCommand(action: PowerAction, ids: string[]) {
  const InstanceIds = ids
  if (action === 'restart') return new sdk.RebootInstancesCommand({InstanceIds})
  return action === 'stop' ? new sdk.StopInstancesCommand({InstanceIds}) : new sdk.StartInstancesCommand({InstanceIds})
}

export async function powerInstances(ctx: Ec2Context, inventory: Listed[], action: PowerAction, names: string[],
  opts: PowerOptions): Promise<PowerResult> {
  if (opts.hard) throw new UsageError('--hard: EC2 has no hard reboot; belt restart on ec2 is RebootInstances (stop and start changes the public address)')
  const nodes = inventory.map((l) => ({name: l.node.name, status: l.node.status, id: l.node.id!}))
  const split = powerSplit(action, names, nodes, ctx.cluster.name)
  const result: PowerResult = {ok: [], already: split.already, failed: split.failed, interrupted: false}
  for (let i = 0; i < split.send.length; i += POWER_CHUNK) {
    const chunk = split.send.slice(i, i + POWER_CHUNK)
    if (opts.signal?.aborted) {
      result.interrupted = true
      for (const n of chunk) result.failed.push({name: n.name, error: 'not started (interrupted)'})
      continue
    }
    try {
      const command = powerCommand(action, chunk.map((n) => n.id))
      await call(CALLS[action], (o) => ctx.client.send(command as never, o))
      result.ok.push(...chunk.map((n) => n.name))
      opts.onProgress?.(`${CALLS[action]} ${result.ok.length}/${split.send.length}`)
    } catch (err) {
      const error = describeError(err)
      for (const n of chunk) result.failed.push({name: n.name, error})
    }
  }
  return result
}
