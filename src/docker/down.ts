// `belt down`: the swarm and every node of the cluster go. Cloud and local nodes are deleted by the cluster's id tag
// (no SSH to a node about to be deleted: deleting every node takes the swarm with it), then what belt made around
// them (firewall, security group) and the docker context `belt-<cluster>`. On `generic` the hosts stay: each leaves
// the swarm (workers first, then the managers).
import {join} from 'node:path'
import type {Cluster} from '../core/config/cluster.js'
import type {Failure, Provider, SshEndpoint} from '../providers/provider.js'
import {oneLine} from '../ssh/fleet.js'
import {KnownHosts} from '../ssh/known-hosts.js'
import type {SshContext} from '../ssh/types.js'
import {forgetContext} from './context.js'
import {leaveNodes} from './swarm.js'

export interface DownResult {
  /** Nodes deleted. */
  removed: string[]
  /** generic: hosts that left the swarm. */
  left: string[]
  /** Other resources removed ("firewall belt-x-1234abcd", "docker context belt-x"). */
  extras: string[]
  failed: Failure[]
  interrupted: boolean
}

export async function runDown(cluster: Cluster, ssh: SshContext, provider: Provider,
  o: {signal: AbortSignal; concurrency: number; onProgress?: (line: string) => void}): Promise<DownResult> {
  const nodes = await provider.list({signal: o.signal})
  const result: DownResult = {removed: [], left: [], extras: [], failed: [], interrupted: false}
  const eps = (await provider.endpoints(nodes.map((n) => n.name))).found
  if (cluster.driver === 'generic') {
    const managers = new Set(cluster.swarm?.managers.names ?? [])
    const waves: SshEndpoint[][] = [eps.filter((e) => !managers.has(e.name)), eps.filter((e) => managers.has(e.name))]
    for (const wave of waves) {
      if (wave.length === 0 || o.signal.aborted) continue
      const r = await leaveNodes(ssh, wave, {force: true, timeoutMs: 120_000, concurrency: o.concurrency})
      result.left.push(...r.ok)
      result.failed.push(...r.failed)
    }
  } else {
    const r = await provider.remove({all: true}, {signal: o.signal, onProgress: o.onProgress})
    result.removed.push(...r.removed)
    result.failed.push(...r.failed)
    result.interrupted = r.interrupted
    if (r.stateError) result.failed.push({name: 'state.json', error: r.stateError})
    const gone = new Set(r.removed)
    new KnownHosts(join(cluster.dir, 'known_hosts')).forgetMany(eps.filter((e) => gone.has(e.name) && e.host))
    if (!r.interrupted && r.failed.length === 0 && provider.removeClusterResources) {
      try {
        result.extras.push(...await provider.removeClusterResources({signal: o.signal}))
      } catch (err) {
        result.failed.push({name: 'cluster resources', error: oneLine(err)})
      }
    }
  }
  if (result.failed.length === 0 && !o.signal.aborted) {
    cluster.state.tryUpdate((s) => {
      delete s.swarm
      if (cluster.driver === 'generic') s.active_node = null
    })
    const ctx = await forgetContext(cluster)
    if (ctx && !ctx.startsWith('warning')) result.extras.push(ctx.replace(/^removed /, ''))
    else if (ctx) o.onProgress?.(ctx)
  }
  result.interrupted ||= o.signal.aborted
  const natural = (a: string, b: string) => a.localeCompare(b, 'en', {numeric: true})
  result.removed.sort(natural)
  result.left.sort(natural)
  return result
}
