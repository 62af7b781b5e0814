// The local driver: every node is a host on this Linux machine — a network namespace on the cluster's bridge, with
// its own mount, pid and UTS namespaces, /etc/ssh, /etc/docker, /var/lib/docker, /run, sshd and dockerd — reached
// over SSH exactly like a droplet, so provisioning and swarm code cannot tell the difference. See docs/local.md.
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {existsSync, readdirSync, readFileSync, rmdirSync} from 'node:fs'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import {debugLog} from '../../core/debug.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {CreateOptions, CreatePlan, CreateResult, Failure, NodeInfo, Provider, RemoveResult, SshEndpoint, WaitOptions} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {ClusterLayout, LOCAL_ROOT, Subnet, allocateAddresses, checkBridgeName, clusterHash, clusterLayout, nodeLayout, NodeLayout, parseLocalSize, parseSubnet} from './layout.js'
import {LocalNodeRecord, checkNetworkFree, createNodeNetwork, ensureBridge, netnsExists, prepareNodeDir, probeNode, removeClusterNetwork, removeNodeDir, startNode, stopNode, writeClusterFiles} from './host.js'
import {preflight, sleep, withLock} from './system.js'

const debug = debugLog('local')

/** What state.json's provider area keeps for the cluster: fixed while it has hosts, whatever config.yml says later. */
interface LocalClusterState {
  hash: string
  bridge: string
  subnet: string
}

/** Hosts started at once. dockerd start-up is the slow part and is mostly waiting. */
const START_CONCURRENCY = 8

export class LocalProvider implements Provider {
  readonly driver = 'local' as const

  constructor(readonly cluster: Cluster<'local'>) {}

  validateName(name: string, pattern: string): void {
    validateHostname(name, pattern)
    if (name.length > 63) throw new UsageError(`invalid node name '${name}' from pattern '${pattern}': a local host's name is its hostname (at most 63 characters)`)
  }

  // -------------------------------------------------------------------------------------------------------------
  // State

  private records(): Record<string, LocalNodeRecord> {
    const out: Record<string, LocalNodeRecord> = {}
    for (const [name, rec] of Object.entries(this.cluster.state.read().nodes)) {
      if (rec && typeof rec === 'object' && typeof rec.netns === 'string' && typeof rec.address === 'string') out[name] = rec as LocalNodeRecord
    }
    return out
  }

  private saved(): LocalClusterState | null {
    const s = this.cluster.state.read().provider.local as LocalClusterState | undefined
    return s && typeof s.hash === 'string' ? s : null
  }

  /** The cluster's layout and subnet: as recorded while it has hosts, else from config.yml. */
  private network(): {cl: ClusterLayout; subnet: Subnet; notes: string[]} {
    const notes: string[] = []
    const wantSubnet = parseSubnet(String(this.cluster.settings.subnet ?? '10.213.0.0/16'))
    const wantBridge = this.cluster.settings.bridge === undefined || this.cluster.settings.bridge === null ? undefined : String(this.cluster.settings.bridge)
    if (wantBridge !== undefined) checkBridgeName(wantBridge)
    const saved = this.saved()
    if (saved && Object.keys(this.records()).length > 0) {
      const subnet = parseSubnet(saved.subnet)
      if (subnet.cidr !== wantSubnet.cidr) notes.push(`local: this cluster's hosts use subnet ${subnet.cidr}; config.yml's ${wantSubnet.cidr} applies once they are all removed`)
      if (wantBridge !== undefined && wantBridge !== saved.bridge) notes.push(`local: this cluster's hosts use bridge ${saved.bridge}; config.yml's ${wantBridge} applies once they are all removed`)
      return {cl: clusterLayout(this.cluster.name, saved.hash, saved.bridge), subnet, notes}
    }
    const hash = saved?.hash ?? clusterHash(this.cluster.dir)
    // Leftovers of this cluster without a state.json (it was lost): their bridge is named in cluster.json.
    const left = clusterLayout(this.cluster.name, hash)
    let bridge = wantBridge
    if (!saved && existsSync(left.root)) {
      try {
        bridge = String((JSON.parse(readFileSync(`${left.root}/cluster.json`, 'utf8')) as {bridge?: string}).bridge ?? '') || wantBridge
      } catch {}
    }
    return {cl: clusterLayout(this.cluster.name, hash, bridge), subnet: wantSubnet, notes}
  }

  private info(name: string, rec: LocalNodeRecord): NodeInfo {
    const p = probeNode(rec)
    return {
      name,
      id: rec.netns,
      status: p.status,
      provider_status: p.provider_status,
      public_ip: rec.address,
      private_ip: rec.address,
      region: null,
      size: rec.size ?? null,
      memory_mb: rec.memory_mb ?? null,
      tags: Array.isArray(rec.tags) ? rec.tags : [],
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // create

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    preflight()
    const {size, memory_mb} = parseLocalSize(opts.size)
    const {cl, subnet, notes} = this.network()
    await checkNetworkFree(cl, subnet)
    if (opts.region) notes.push('local: --region does not apply to local hosts; ignored')
    if (opts.image) notes.push('local: --image does not apply to local hosts (they run this machine\'s Docker); ignored')
    const records = this.records()
    const existing: NodeInfo[] = []
    const toCreate: string[] = []
    const restart: string[] = []
    for (const name of opts.names) {
      const rec = records[name]
      if (rec) {
        const info = this.info(name, rec)
        if (info.status === 'active' || info.status === 'new') {
          existing.push(info)
          continue
        }
        restart.push(name)
      }
      toCreate.push(name)
    }
    notes.push(...orphanNotes(cl.root))
    if (restart.length) notes.push(`local: ${restart.length} host(s) are recorded but not running and will be started again with their data: ${restart.join(', ')}`)
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

  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    preflight()
    const {cl, subnet} = this.network()
    return withLock(cl.lockFile, `local cluster '${this.cluster.name}'`, async () => {
      if (!this.saved()) {
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

      // Decide again under the lock: another belt may have made some of these meanwhile.
      const records = this.records()
      const existing = [...plan.existing]
      const names: string[] = []
      for (const name of plan.toCreate) {
        const rec = records[name]
        if (rec && ['active', 'new'].includes(probeNode(rec).status)) existing.push(this.info(name, rec))
        else names.push(name)
      }
      // Addresses for new hosts are reserved in state.json before anything is made: race-free, and a killed run
      // leaves a record that `rm` and the next `create` know how to clean.
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

      const created: NodeInfo[] = []
      const failed: Failure[] = []
      // A failed write after a host started never turns it into a failure (nor stops it): it is reported on its own.
      const unrecorded: string[] = []
      const stateErrors: Error[] = []
      let interrupted = false
      let done = 0
      // Namespace and link changes one at a time (cheap); sshd/dockerd start-up in parallel (the slow part).
      let netChain: Promise<unknown> = Promise.resolve()
      const serialNet = <T>(fn: () => Promise<T>): Promise<T> => {
        const p = netChain.then(fn)
        netChain = p.catch(() => {})
        return p
      }
      const limit = pLimit(START_CONCURRENCY)
      await Promise.all(names.map((name) => limit(async () => {
        const isFresh = fresh.includes(name)
        if (opts.signal?.aborted) {
          interrupted = true
          if (isFresh) this.cluster.state.update((s) => { delete s.nodes[name] })
          return
        }
        const rec = this.records()[name]
        const nl: NodeLayout = {netns: rec.netns, veth: rec.veth, dir: rec.dir}
        this.cluster.state.update((s) => Object.assign(s.nodes[name], {phase: 'creating', creator_pid: process.pid}))
        try {
          await serialNet(async () => {
            await stopNode(rec, nl)
            // A folder left by an earlier host of the same name that belt no longer knows: start clean.
            if (isFresh) removeNodeDir(nl)
            await createNodeNetwork(cl, nl, rec.address, subnet)
          })
          await prepareNodeDir(nl, {node: name, sshPort: Number(this.cluster.settings.ssh_port ?? 22), authorized})
          const started = await startNode(cl, nl, name)
          const err = this.cluster.state.tryUpdate((s) => {
            const r = s.nodes[name] as LocalNodeRecord
            Object.assign(r, {init_pid: started.init_pid, pidns: started.pidns, phase: 'ready'})
            delete r.creator_pid
          })
          if (err) {
            stateErrors.push(err)
            unrecorded.push(name)
          }
          created.push(this.info(name, {...rec, init_pid: started.init_pid, pidns: started.pidns}))
          done++
          opts.onProgress?.(`created ${name} (${rec.address}) ${done}/${names.length}`)
        } catch (err) {
          const message = (err as Error).message
          debug('create %s failed: %s', name, message)
          failed.push({name, error: message})
          // Leave no half-running host behind; the record (and folder, with its logs) stays for a re-run or rm.
          try { await serialNet(() => stopNode(rec, nl)) } catch {}
          this.cluster.state.update((s) => { delete (s.nodes[name] as LocalNodeRecord).creator_pid })
        }
      })))
      return {created, existing, failed, interrupted, stateError: stateErrorLine('record', unrecorded, stateErrors)}
    })
  }

  /** The cluster key for root (and for ssh_user when it is another user), plus ssh_key's public half when set. */
  private authorizedKeys(clusterPublicKey: string): Record<string, string[]> {
    const keys = [clusterPublicKey]
    const extra = this.cluster.settings.ssh_key
    if (typeof extra === 'string' && extra) {
      const pub = extra.replace(/^~(?=\/)/, process.env.HOME ?? '/root') + '.pub'
      try {
        keys.push(readFileSync(pub, 'utf8').trim())
      } catch {}
    }
    const user = String(this.cluster.settings.ssh_user ?? 'root')
    return user === 'root' ? {root: keys} : {root: keys, [user]: keys}
  }

  // -------------------------------------------------------------------------------------------------------------
  // list, wait, endpoints

  async list(): Promise<NodeInfo[]> {
    return Object.entries(this.records()).map(([name, rec]) => this.info(name, rec))
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    return waitForNodes(() => this.list(), opts, pollScheduleFromEnv({intervalMs: 500}))
  }

  async endpoints(names: string[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const records = this.records()
    const found: SshEndpoint[] = []
    const missing: string[] = []
    const user = String(this.cluster.settings.ssh_user ?? 'root')
    const port = Number(this.cluster.settings.ssh_port ?? 22)
    for (const name of names) {
      const rec = records[name]
      if (!rec) missing.push(name)
      else found.push({name, host: rec.address, port, user, private_ip: rec.address, public_ip: rec.address})
    }
    return {found, missing}
  }

  // -------------------------------------------------------------------------------------------------------------
  // remove

  async remove(target: {names: string[]} | {all: true}, opts: {signal?: AbortSignal; onProgress?: (m: string) => void} = {}): Promise<RemoveResult> {
    preflight()
    const {cl} = this.network()
    const run = async (): Promise<RemoveResult> => {
      const records = this.records()
      const all = 'all' in target
      const names = all ? Object.keys(records) : target.names
      const removed: string[] = []
      const failed: Failure[] = []
      const unforgotten: string[] = []
      const stateErrors: Error[] = []
      let interrupted = false
      const limit = pLimit(START_CONCURRENCY)
      await Promise.all(names.map((name) => limit(async () => {
        if (opts.signal?.aborted) {
          interrupted = true
          return
        }
        const rec = records[name]
        const nl: NodeLayout = rec ? {netns: rec.netns, veth: rec.veth, dir: rec.dir} : nodeLayout(cl, name)
        if (!rec && !netnsExists(nl.netns) && !existsSync(nl.dir)) {
          failed.push({name, error: `no node '${name}' in cluster '${this.cluster.name}'`})
          return
        }
        try {
          await stopNode(rec ?? null, nl)
          removeNodeDir(nl)
        } catch (err) {
          failed.push({name, error: (err as Error).message})
          return
        }
        removed.push(name)
        opts.onProgress?.(`removed ${name}`)
        // The host is gone whatever happens to this write: a failure is reported on its own, not as this host's.
        const err = this.cluster.state.tryUpdate((s) => {
          delete s.nodes[name]
          if (s.active_node === name) s.active_node = null
        })
        if (err) {
          stateErrors.push(err)
          unforgotten.push(name)
        }
      })))
      if ((all || Object.keys(this.records()).length === 0) && !interrupted) {
        // Leftovers belt has no record of (a run killed before it wrote state.json, or a lost state.json).
        for (const nl of this.leftovers(cl)) {
          try {
            await stopNode(null, nl)
            removeNodeDir(nl)
          } catch (err) {
            failed.push({name: nl.dir, error: (err as Error).message})
          }
        }
      }
      if (Object.keys(this.records()).length === 0 && !interrupted) {
        let gone = false
        try {
          await removeClusterNetwork(cl)
          removeNodeDir({netns: '', veth: '', dir: cl.root})
          gone = true
        } catch (err) {
          failed.push({name: cl.bridge, error: (err as Error).message})
        }
        const err = gone ? this.cluster.state.tryUpdate((s) => { delete s.provider.local }) : null
        if (err) stateErrors.push(err)
      }
      return {removed, failed, interrupted, stateError: stateErrorLine('forget', unforgotten, stateErrors)}
    }
    if (!existsSync(cl.root)) return run()
    return withLock(cl.lockFile, `local cluster '${this.cluster.name}'`, run)
  }

  /**
   * Host folders and namespaces of this cluster on this machine that state.json does not list (a lost or emptied
   * state.json): `cluster rm` counts them with the listed hosts, so the machine, not the file, decides.
   */
  unrecorded(): string[] {
    return this.leftovers(this.network().cl).map((nl) => nl.dir)
  }

  /** Namespaces and host folders of this cluster that state.json does not list. */
  private leftovers(cl: ClusterLayout): NodeLayout[] {
    const known = new Set(Object.values(this.records()).flatMap((r) => [r.netns, r.dir]))
    const out = new Map<string, NodeLayout>()
    const netnsDir = '/run/netns'
    for (const ns of existsSync(netnsDir) ? readdirSync(netnsDir) : []) {
      if (!ns.startsWith(cl.netnsPrefix) || known.has(ns)) continue
      const nl = nodeLayout(cl, ns.slice(cl.netnsPrefix.length))
      out.set(ns, {...nl, netns: ns})
    }
    for (const d of existsSync(cl.root) ? readdirSync(cl.root, {withFileTypes: true}) : []) {
      if (!d.isDirectory() || d.name === 'sbin') continue
      const nl = nodeLayout(cl, d.name)
      if (known.has(nl.dir) || out.has(nl.netns)) continue
      out.set(nl.netns, nl)
    }
    return [...out.values()]
  }
}

/** Hosts of local clusters whose .belt folder is gone: nothing will ever remove them unless someone is told. */
function orphanNotes(ownRoot: string): string[] {
  if (!existsSync(LOCAL_ROOT)) return []
  const notes: string[] = []
  for (const d of readdirSync(LOCAL_ROOT, {withFileTypes: true})) {
    const root = `${LOCAL_ROOT}/${d.name}`
    if (!d.isDirectory() || root === ownRoot) continue
    let info: {cluster?: string; cluster_dir?: string} = {}
    try {
      info = JSON.parse(readFileSync(`${root}/cluster.json`, 'utf8'))
    } catch {
      continue
    }
    if (info.cluster_dir && !existsSync(info.cluster_dir)) {
      const project = info.cluster_dir.replace(/\/\.belt\/[^/]+$/, '')
      notes.push(`local: ${root} holds hosts of cluster '${info.cluster}' whose folder ${info.cluster_dir} no longer exists; to remove them: (mkdir -p ${project} && cd ${project} && belt cluster new ${info.cluster} --driver local && belt rm --all --force)`)
    }
  }
  return notes
}
