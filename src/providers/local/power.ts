// Power actions on local hosts, under the cluster's lock: stop ends the host as a shutdown would (its dockerd stopped
// through the host's own systemctl first, unless --hard; then every process of the host and its network namespace),
// start starts it again exactly as `create` starts a recorded host (its folder, keys and /var/lib/docker kept, same
// address), and restart is both. Done when it returns: no separate wait for the provider's status.
import type {Cluster} from '../../core/config/cluster.js'
import type {CreatePlan, PowerAction, PowerOptions, PowerResult} from '../provider.js'
import {eachNode, powerSplit} from '../power.js'
import {type LocalNodeRecord, initAlive, stopNode} from './host.js'
import {clusterNetwork, hostInfo, hostRecords} from './records.js'
import {START_CONCURRENCY, startHosts} from './start.js'
import {findTool, run, withLock} from './system.js'

type LocalCluster = Cluster<'local'>

/** dockerd's clean shutdown inside the host (its own systemctl stand-in), bounded; a failure only makes it a hard stop. */
async function stopDockerInside(rec: LocalNodeRecord): Promise<void> {
  if (!initAlive(rec)) return
  const args = ['-t', String(rec.init_pid), '-m', '-u', '-n', '-p', '--', '/usr/local/sbin/systemctl', 'stop', 'docker']
  await run(findTool('nsenter') ?? 'nsenter', args, {allowFail: true, timeoutMs: 90_000})
}

export async function powerHosts(cluster: LocalCluster, action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult> {
  const {cl, subnet} = clusterNetwork(cluster)
  return withLock(cl.lockFile, `local cluster '${cluster.name}'`, async () => {
    const records = hostRecords(cluster)
    const nodes = Object.entries(records).map(([name, rec]) => ({...hostInfo(name, rec), rec}))
    const split = powerSplit(action, names, nodes, cluster.name)
    const result: PowerResult = {ok: [], already: split.already, failed: split.failed, interrupted: false}
    let toStart = split.send
    if (action !== 'start') {
      const stopped: typeof toStart = []
      await eachNode(split.send, START_CONCURRENCY, result, opts.signal, async (n) => {
        if (!opts.hard) await stopDockerInside(n.rec)
        await stopNode(n.rec, {netns: n.rec.netns, veth: n.rec.veth, dir: n.rec.dir})
        stopped.push(n)
        opts.onProgress?.(`stopped ${n.name}`)
      })
      if (action === 'stop') {
        result.ok.push(...stopped.map((n) => n.name))
        return result
      }
      toStart = stopped
    }
    if (toStart.length === 0) return result
    const plan: CreatePlan = {
      size: '', memory_mb: null, sizeNote: null, region: null, image: null, tags: [], toCreate: toStart.map((n) => n.name), existing: [],
      limit: null, notes: [],
    }
    const r = await startHosts(cluster, cl, subnet, plan, {size: '', names: plan.toCreate, tags: [], signal: opts.signal, onProgress: opts.onProgress})
    result.ok.push(...r.created.map((n) => n.name), ...r.existing.map((n) => n.name))
    result.failed.push(...r.failed)
    result.interrupted ||= r.interrupted
    for (const n of toStart) {
      if (!result.ok.includes(n.name) && !result.failed.some((f) => f.name === n.name)) result.failed.push({name: n.name, error: 'not started (interrupted)'})
    }
    return result
  })
}
