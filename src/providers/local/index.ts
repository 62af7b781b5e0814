// The local driver: every node is a host on this Linux machine — a network namespace on the cluster's bridge, with
// its own mount, pid and UTS namespaces, /etc/ssh, /etc/docker, /var/lib/docker, /run, sshd and dockerd — reached
// over SSH exactly like a droplet, so provisioning and swarm code cannot tell the difference. See docs/local.md.
// Here the Provider: plan, create (under the cluster's lock; start.ts starts the hosts), list, wait, endpoints, remove;
// records.ts reads what is known, host.ts does the machine-level work, layout.ts names the parts.
import {existsSync} from 'node:fs'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import type {
  CreateOptions, CreatePlan, CreateResult, Failure, NodeInfo, PowerAction, PowerOptions, PowerResult, Provider, RemoveResult, SshEndpoint,
  WaitOptions,
} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {type ClusterLayout, type NodeLayout, allocateAddresses, nodeLayout, parseLocalSize} from './layout.js'
import {checkNetworkFree, netnsExists, removeClusterNetwork, removeNodeDir, stopNode} from './host.js'
import {clusterNetwork, hostInfo, hostRecords, leftovers, orphanNotes} from './records.js'
import {powerHosts} from './power.js'
import {START_CONCURRENCY, startHosts} from './start.js'
import {preflight, withLock} from './system.js'

interface RemoveOptions {
  signal?: AbortSignal
  onProgress?: (m: string) => void
}

export class LocalProvider implements Provider {
  readonly driver = 'local' as const

  constructor(readonly cluster: Cluster<'local'>) {}

  validateName(name: string, pattern: string): void {
    validateHostname(name, pattern)
    if (name.length > 63) {
      throw new UsageError(`invalid node name '${name}' from pattern '${pattern}': a local host's name is its hostname (at most 63 characters)`)
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // create

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    preflight()
    const {size, memory_mb} = parseLocalSize(opts.size)
    const {cl, subnet, notes} = clusterNetwork(this.cluster)
    await checkNetworkFree(cl, subnet)
    if (opts.region) notes.push('local: --region does not apply to local hosts; ignored')
    const ud = this.cluster.settings.user_data
    if (ud?.trim() && !ud.startsWith('#!')) throw new UsageError('local: user_data must be a #! script (local hosts have no cloud-init)')
    if (opts.image) notes.push('local: --image does not apply to local hosts (they run this machine\'s Docker); ignored')
    const records = hostRecords(this.cluster)
    const existing: NodeInfo[] = []
    const toCreate: string[] = []
    const restart: string[] = []
    for (const name of opts.names) {
      const rec = records[name]
      if (rec) {
        const info = hostInfo(name, rec)
        if (info.status === 'active' || info.status === 'new') {
          existing.push(info)
          continue
        }
        restart.push(name)
      }
      toCreate.push(name)
    }
    notes.push(...orphanNotes(cl.root))
    if (restart.length) {
      notes.push(`local: ${restart.length} host(s) are recorded but not running and will be started again with their data: ${restart.join(', ')}`)
    }
    const used = Object.values(records).map((r) => r.address)
    allocateAddresses(subnet, used, toCreate.length - restart.length)
    return {
      size,
      memory_mb,
      sizeNote: `size ${size}: recorded only; local hosts share this machine's CPU and memory`,
      region: null,
      image: null,
      tags: opts.pool ? [...opts.tags, `belt-pool:${opts.pool}`] : opts.tags,
      toCreate,
      existing,
      limit: null,
      notes,
    }
  }

  /** Under the cluster's lock: see start.ts. */
  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    preflight()
    const {cl, subnet} = clusterNetwork(this.cluster)
    return withLock(cl.lockFile, `local cluster '${this.cluster.name}'`, () => startHosts(this.cluster, cl, subnet, plan, opts))
  }


  // -------------------------------------------------------------------------------------------------------------
  // list, wait, endpoints

  async list(): Promise<NodeInfo[]> {
    return Object.entries(hostRecords(this.cluster)).map(([name, rec]) => hostInfo(name, rec))
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    return waitForNodes(() => this.list(), opts, pollScheduleFromEnv({intervalMs: 500}))
  }

  async endpoints(names: string[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const records = hostRecords(this.cluster)
    const found: SshEndpoint[] = []
    const missing: string[] = []
    const {ssh_user: user, ssh_port: port} = this.cluster.settings
    for (const name of names) {
      const rec = records[name]
      if (!rec) missing.push(name)
      else found.push({name, host: rec.address, port, user, private_ip: rec.address, public_ip: rec.address})
    }
    return {found, missing}
  }

  // -------------------------------------------------------------------------------------------------------------
  // power (power.ts)

  async power(action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult> {
    preflight()
    return powerHosts(this.cluster, action, names, opts)
  }

  // -------------------------------------------------------------------------------------------------------------
  // remove

  async remove(target: {names: string[]} | {all: true}, opts: RemoveOptions = {}): Promise<RemoveResult> {
    preflight()
    const {cl} = clusterNetwork(this.cluster)
    const run = async (): Promise<RemoveResult> => {
      const all = 'all' in target
      const result = await this.removeHosts(cl, all ? Object.keys(hostRecords(this.cluster)) : target.names, opts)
      if ((all || Object.keys(hostRecords(this.cluster)).length === 0) && !result.interrupted) {
        // Leftovers belt has no record of (a run killed before it wrote state.json, or a lost state.json).
        for (const nl of leftovers(this.cluster, cl)) {
          try {
            await stopNode(null, nl)
            removeNodeDir(nl)
          } catch (err) {
            result.failed.push({name: nl.dir, error: (err as Error).message})
          }
        }
      }
      if (Object.keys(hostRecords(this.cluster)).length === 0 && !result.interrupted) await this.removeClusterParts(cl, result)
      const {removed, failed, interrupted, unforgotten, stateErrors} = result
      return {removed, failed, interrupted, stateError: stateErrorLine('forget', unforgotten, stateErrors)}
    }
    if (!existsSync(cl.root)) return run()
    return withLock(cl.lockFile, `local cluster '${this.cluster.name}'`, run)
  }

  /** Stop and remove the named hosts (recorded or left over), forgetting each; a failed write is reported on its own. */
  private async removeHosts(cl: ClusterLayout, names: string[], opts: RemoveOptions) {
    const records = hostRecords(this.cluster)
    const result = {
      removed: [] as string[], failed: [] as Failure[], interrupted: false, unforgotten: [] as string[], stateErrors: [] as Error[],
    }
    const limit = pLimit(START_CONCURRENCY)
    await Promise.all(names.map((name) => limit(async () => {
      if (opts.signal?.aborted) {
        result.interrupted = true
        return
      }
      const rec = records[name]
      const nl: NodeLayout = rec ? {netns: rec.netns, veth: rec.veth, dir: rec.dir} : nodeLayout(cl, name)
      if (!rec && !netnsExists(nl.netns) && !existsSync(nl.dir)) {
        result.failed.push({name, error: `no node '${name}' in cluster '${this.cluster.name}'`})
        return
      }
      try {
        await stopNode(rec ?? null, nl)
        removeNodeDir(nl)
      } catch (err) {
        result.failed.push({name, error: (err as Error).message})
        return
      }
      result.removed.push(name)
      opts.onProgress?.(`removed ${name}`)
      // The host is gone whatever happens to this write: a failure is reported on its own, not as this host's.
      const err = this.cluster.state.tryUpdate((s) => {
        delete s.nodes[name]
        if (s.active_node === name) s.active_node = null
      })
      if (err) {
        result.stateErrors.push(err)
        result.unforgotten.push(name)
      }
    })))
    return result
  }

  /** The last host is gone: the bridge, iptables rules and cluster folder go, and state.json's network record. */
  private async removeClusterParts(cl: ClusterLayout, result: {failed: Failure[]; stateErrors: Error[]}): Promise<void> {
    try {
      await removeClusterNetwork(cl)
      removeNodeDir({netns: '', veth: '', dir: cl.root})
    } catch (err) {
      result.failed.push({name: cl.bridge, error: (err as Error).message})
      return
    }
    const err = this.cluster.state.tryUpdate((s) => { delete s.provider.local })
    if (err) result.stateErrors.push(err)
  }

  /**
   * Host folders and namespaces of this cluster on this machine that state.json does not list (a lost or emptied
   * state.json): `cluster rm` counts them with the listed hosts, so the machine, not the file, decides.
   */
  unrecorded(): string[] {
    return leftovers(this.cluster, clusterNetwork(this.cluster).cl).map((nl) => nl.dir)
  }
}
