// The local driver: every node is a host on this Linux machine — a network namespace on the cluster's bridge, with
// its own mount, pid and UTS namespaces, /etc/ssh, /etc/docker, /var/lib/docker, /run, sshd and dockerd — reached
// over SSH exactly like a droplet, so provisioning and swarm code cannot tell the difference. See docs/local.md.
// Here the Provider: plan, create (under the cluster's lock), list, wait, endpoints, remove; records.ts reads what is
// known, host.ts does the machine-level work, layout.ts names the parts.
import {existsSync, readFileSync, rmdirSync} from 'node:fs'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import {debugLog} from '../../core/debug.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {
  CreateOptions, CreatePlan, CreateResult, Failure, NodeInfo, Provider, RemoveResult, SshEndpoint, WaitOptions,
} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {type ClusterLayout, type NodeLayout, type Subnet, allocateAddresses, nodeLayout, parseLocalSize} from './layout.js'
import {
  type LocalNodeRecord, checkNetworkFree, createNodeNetwork, ensureBridge, netnsExists, prepareNodeDir, probeNode, removeClusterNetwork,
  removeNodeDir, startNode, stopNode, writeClusterFiles,
} from './host.js'
import {type LocalClusterState, clusterNetwork, hostInfo, hostRecords, leftovers, orphanNotes, savedNetwork} from './records.js'
import {preflight, withLock} from './system.js'

const debug = debugLog('local')

interface RemoveOptions {
  signal?: AbortSignal
  onProgress?: (m: string) => void
}

/** Hosts started at once. dockerd start-up is the slow part and is mostly waiting. */
const START_CONCURRENCY = 8

/** One create under the lock: the hosts to start and what became of them. */
interface HostStarts {
  cl: ClusterLayout
  subnet: Subnet
  /** Names to start; `fresh` ones got their record (and address) in this create. */
  names: string[]
  fresh: Set<string>
  authorized: Record<string, string[]>
  signal?: AbortSignal
  onProgress?: (message: string) => void
  created: NodeInfo[]
  failed: Failure[]
  /** A failed write after a host started never turns it into a failure (nor stops it): it is reported on its own. */
  unrecorded: string[]
  stateErrors: Error[]
  interrupted: boolean
  done: number
  /** Namespace and link changes one at a time (cheap); sshd/dockerd start-up in parallel (the slow part). */
  serialNet: <T>(fn: () => Promise<T>) => Promise<T>
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
      tags: opts.tags,
      toCreate,
      existing,
      limit: null,
      notes,
    }
  }

  /** Under the cluster's lock: the bridge and cluster files, records for new hosts, then the hosts started in parallel. */
  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    preflight()
    const {cl, subnet} = clusterNetwork(this.cluster)
    return withLock(cl.lockFile, `local cluster '${this.cluster.name}'`, async () => {
      const authorized = await this.prepareCluster(cl, subnet)
      const {existing, names, fresh} = this.reserveHosts(cl, subnet, plan)
      let netChain: Promise<unknown> = Promise.resolve()
      const run: HostStarts = {
        cl, subnet, names, fresh, authorized, signal: opts.signal, onProgress: opts.onProgress,
        created: [], failed: [], unrecorded: [], stateErrors: [], interrupted: false, done: 0,
        serialNet: (fn) => {
          const p = netChain.then(fn)
          netChain = p.catch(() => {})
          return p
        },
      }
      const limit = pLimit(START_CONCURRENCY)
      await Promise.all(names.map((name) => limit(() => this.startHost(name, run))))
      const {created, failed, interrupted} = run
      return {created, existing, failed, interrupted, stateError: stateErrorLine('record', run.unrecorded, run.stateErrors)}
    })
  }

  /** The bridge, the cluster's files and its network record; returns the keys every host authorizes. */
  private async prepareCluster(cl: ClusterLayout, subnet: Subnet): Promise<Record<string, string[]>> {
    if (!savedNetwork(this.cluster)) {
      try {
        await checkNetworkFree(cl, subnet)
      } catch (err) {
        try { rmdirSync(cl.root) } catch {}
        throw err
      }
    }
    const key = ensureClusterKey(this.cluster)
    const authorized = this.authorizedKeys(key.publicKey)
    writeClusterFiles(cl, {cluster: this.cluster.name, cluster_dir: this.cluster.dir, bridge: cl.bridge, subnet: subnet.cidr})
    await ensureBridge(cl, subnet)
    this.cluster.state.update((s) => {
      s.provider.local = {hash: cl.hash, bridge: cl.bridge, subnet: subnet.cidr} satisfies LocalClusterState
    })
    return authorized
  }

  /**
   * Decide again under the lock (another belt may have made some of these meanwhile), and reserve addresses for new
   * hosts in state.json before anything is made: race-free, and a killed run leaves a record that `rm` and the next
   * `create` know how to clean.
   */
  private reserveHosts(cl: ClusterLayout, subnet: Subnet, plan: CreatePlan): {existing: NodeInfo[]; names: string[]; fresh: Set<string>} {
    const records = hostRecords(this.cluster)
    const existing = [...plan.existing]
    const names: string[] = []
    for (const name of plan.toCreate) {
      const rec = records[name]
      if (rec && ['active', 'new'].includes(probeNode(rec).status)) existing.push(hostInfo(name, rec))
      else names.push(name)
    }
    const fresh = names.filter((n) => !records[n])
    const addresses = allocateAddresses(subnet, Object.values(records).map((r) => r.address), fresh.length)
    const now = new Date().toISOString()
    this.cluster.state.update((s) => {
      fresh.forEach((name, i) => {
        const nl = nodeLayout(cl, name)
        s.nodes[name] = {
          id: nl.netns, created_at: now, driver: 'local', address: addresses[i], netns: nl.netns, veth: nl.veth, dir: nl.dir,
          size: plan.size, memory_mb: plan.memory_mb, tags: plan.tags, init_pid: null, pidns: null, phase: 'creating', creator_pid: process.pid,
        } satisfies LocalNodeRecord
      })
    })
    return {existing, names, fresh: new Set(fresh)}
  }

  /** One host: its network (serialised), folder and init; a failure stops what was started and keeps the record. */
  private async startHost(name: string, run: HostStarts): Promise<void> {
    const isFresh = run.fresh.has(name)
    if (run.signal?.aborted) {
      run.interrupted = true
      if (isFresh) this.cluster.state.update((s) => { delete s.nodes[name] })
      return
    }
    const rec = hostRecords(this.cluster)[name]
    const nl: NodeLayout = {netns: rec.netns, veth: rec.veth, dir: rec.dir}
    this.cluster.state.update((s) => Object.assign(s.nodes[name], {phase: 'creating', creator_pid: process.pid}))
    try {
      await run.serialNet(async () => {
        await stopNode(rec, nl)
        // A folder left by an earlier host of the same name that belt no longer knows: start clean.
        if (isFresh) removeNodeDir(nl)
        await createNodeNetwork(run.cl, nl, rec.address, run.subnet)
      })
      await prepareNodeDir(nl, {node: name, sshPort: this.cluster.settings.ssh_port, authorized: run.authorized})
      const started = await startNode(run.cl, nl, name)
      const err = this.cluster.state.tryUpdate((s) => {
        const r = s.nodes[name] as LocalNodeRecord
        Object.assign(r, {init_pid: started.init_pid, pidns: started.pidns, phase: 'ready'})
        delete r.creator_pid
      })
      if (err) {
        run.stateErrors.push(err)
        run.unrecorded.push(name)
      }
      run.created.push(hostInfo(name, {...rec, init_pid: started.init_pid, pidns: started.pidns}))
      run.done++
      run.onProgress?.(`created ${name} (${rec.address}) ${run.done}/${run.names.length}`)
    } catch (err) {
      const message = (err as Error).message
      debug('create %s failed: %s', name, message)
      run.failed.push({name, error: message})
      // Leave no half-running host behind; the record (and folder, with its logs) stays for a re-run or rm.
      try { await run.serialNet(() => stopNode(rec, nl)) } catch {}
      this.cluster.state.update((s) => { delete (s.nodes[name] as LocalNodeRecord).creator_pid })
    }
  }

  /** The cluster key for root (and for ssh_user when it is another user), plus ssh_key's public half when set. */
  private authorizedKeys(clusterPublicKey: string): Record<string, string[]> {
    const keys = [clusterPublicKey]
    const extra = this.cluster.settings.ssh_key
    if (extra) {
      const pub = extra.replace(/^~(?=\/)/, process.env.HOME ?? '/root') + '.pub'
      try {
        keys.push(readFileSync(pub, 'utf8').trim())
      } catch {}
    }
    const user = this.cluster.settings.ssh_user
    return user === 'root' ? {root: keys} : {root: keys, [user]: keys}
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
