// Starting a local cluster's hosts for `belt create`: the bridge and the cluster's files, records with reserved
// addresses for new hosts, then each host's network (one at a time), folder and init (START_CONCURRENCY at a time).
import {mkdirSync, readFileSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import {writeFileAtomic} from '../../core/config/atomic.js'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {debugLog} from '../../core/debug.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {CreateOptions, CreatePlan, CreateResult, Failure, NodeInfo} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {type ClusterLayout, type NodeLayout, type Subnet, allocateAddresses, nodeLayout} from './layout.js'
import {
  type LocalNodeRecord, checkNetworkFree, createNodeNetwork, ensureBridge, prepareNodeDir, probeNode, removeNodeDir, startNode, stopNode,
  writeClusterFiles,
} from './host.js'
import {type LocalClusterState, hostInfo, hostRecords, savedNetwork} from './records.js'

const debug = debugLog('local')

type LocalCluster = Cluster<'local'>

/** Hosts started (and removed) at once. dockerd start-up is the slow part and is mostly waiting. */
export const START_CONCURRENCY = 8

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
  /** What a new host runs once at first boot: the boot-join user data, else user_data. */
  firstBoot: (name: string) => string | undefined
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

/**
 * Under the cluster's lock (the caller holds it): the bridge and cluster files, records for new hosts, then the hosts
 * started in parallel.
 */
export async function startHosts(
  cluster: LocalCluster, cl: ClusterLayout, subnet: Subnet, plan: CreatePlan, opts: CreateOptions,
): Promise<CreateResult> {
  const authorized = await prepareCluster(cluster, cl, subnet)
  const {existing, names, fresh} = reserveHosts(cluster, cl, subnet, plan)
  let netChain: Promise<unknown> = Promise.resolve()
  const run: HostStarts = {
    cl, subnet, names, fresh, authorized, signal: opts.signal, onProgress: opts.onProgress,
    firstBoot: (name) => opts.userData?.([name]) ?? (cluster.settings.user_data?.trim() ? cluster.settings.user_data : undefined),
    created: [], failed: [], unrecorded: [], stateErrors: [], interrupted: false, done: 0,
    serialNet: (fn) => {
      const p = netChain.then(fn)
      netChain = p.catch(() => {})
      return p
    },
  }
  const limit = pLimit(START_CONCURRENCY)
  await Promise.all(names.map((name) => limit(() => startHost(cluster, name, run))))
  const {created, failed, interrupted} = run
  return {created, existing, failed, interrupted, stateError: stateErrorLine('record', run.unrecorded, run.stateErrors)}
}

/** The bridge, the cluster's files and its network record; returns the keys every host authorizes. */
async function prepareCluster(cluster: LocalCluster, cl: ClusterLayout, subnet: Subnet): Promise<Record<string, string[]>> {
  if (!savedNetwork(cluster)) {
    try {
      await checkNetworkFree(cl, subnet)
    } catch (err) {
      try { rmdirSync(cl.root) } catch {}
      throw err
    }
  }
  const key = ensureClusterKey(cluster)
  const authorized = authorizedKeys(cluster, key.publicKey)
  writeClusterFiles(cl, {cluster: cluster.name, cluster_dir: cluster.dir, bridge: cl.bridge, subnet: subnet.cidr})
  await ensureBridge(cl, subnet)
  cluster.state.update((s) => {
    s.provider.local = {hash: cl.hash, bridge: cl.bridge, subnet: subnet.cidr} satisfies LocalClusterState
  })
  return authorized
}

/**
 * Decide again under the lock (another belt may have made some of these meanwhile), and reserve addresses for new
 * hosts in state.json before anything is made: race-free, and a killed run leaves a record that `rm` and the next
 * `create` know how to clean.
 */
function reserveHosts(
  cluster: LocalCluster, cl: ClusterLayout, subnet: Subnet, plan: CreatePlan,
): {existing: NodeInfo[]; names: string[]; fresh: Set<string>} {
  const records = hostRecords(cluster)
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
  cluster.state.update((s) => {
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
async function startHost(cluster: LocalCluster, name: string, run: HostStarts): Promise<void> {
  const isFresh = run.fresh.has(name)
  if (run.signal?.aborted) {
    run.interrupted = true
    if (isFresh) cluster.state.update((s) => { delete s.nodes[name] })
    return
  }
  const rec = hostRecords(cluster)[name]
  const nl: NodeLayout = {netns: rec.netns, veth: rec.veth, dir: rec.dir}
  cluster.state.update((s) => Object.assign(s.nodes[name], {phase: 'creating', creator_pid: process.pid}))
  try {
    await run.serialNet(async () => {
      await stopNode(rec, nl)
      // A folder left by an earlier host of the same name that belt no longer knows: start clean.
      if (isFresh) removeNodeDir(nl)
      await createNodeNetwork(run.cl, nl, rec.address, run.subnet)
    })
    await prepareNodeDir(nl, {node: name, sshPort: cluster.settings.ssh_port, authorized: run.authorized})
    if (isFresh) writeFirstBoot(nl, run.firstBoot(name))
    const started = await startNode(run.cl, nl, name)
    const err = cluster.state.tryUpdate((s) => {
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
    cluster.state.update((s) => { delete (s.nodes[name] as LocalNodeRecord).creator_pid })
  }
}

/**
 * The user data a new host runs at its first boot, in the host's own /root (0700): the init script runs it once,
 * detached, after dockerd is up (scripts.ts). Nothing of it is left on this machine's shared filesystem.
 */
function writeFirstBoot(nl: NodeLayout, userData: string | undefined): void {
  if (userData === undefined) return
  if (!userData.startsWith('#!')) throw new Error('user_data of a local host must be a #! script (there is no cloud-init)')
  const dir = join(nl.dir, 'root', 'root', '.belt')
  mkdirSync(dir, {recursive: true, mode: 0o700})
  writeFileAtomic(join(dir, 'user-data'), userData, 0o700)
}

/** The cluster key for root (and for ssh_user when it is another user), plus ssh_key's public half when set. */
function authorizedKeys(cluster: LocalCluster, clusterPublicKey: string): Record<string, string[]> {
  const keys = [clusterPublicKey]
  const extra = cluster.settings.ssh_key
  if (extra) {
    const pub = extra.replace(/^~(?=\/)/, process.env.HOME ?? '/root') + '.pub'
    try {
      keys.push(readFileSync(pub, 'utf8').trim())
    } catch {}
  }
  const user = cluster.settings.ssh_user
  return user === 'root' ? {root: keys} : {root: keys, [user]: keys}
}
