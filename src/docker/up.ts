// `belt up`: converge the cluster to its `swarm:` block (CONTRACT §10). Steps: list the cluster once, read the swarm
// through one manager, plan (up-plan.ts, pure), then a pipeline in which every node moves on as soon as its own step
// is done — create → active → SSH reachable → Docker TLS (per `tls`) → joined — with one task and one SSH session per
// node. Managers have their own chain (init once, then each join Reachable before the next), so they never queue
// behind workers; workers join as soon as the swarm exists. Then labels and drains in one exec through the manager,
// and the shrink: drain, delete, `docker node rm` of the Down nodes. Every step looks before it acts, so a re-run
// (after Ctrl-C or a SIGKILL) does only what is left.
import pLimit from 'p-limit'
import {setMaxListeners} from 'node:events'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {ensureClusterDir, type Cluster} from '../core/config/cluster.js'
import {lockCreate} from '../core/config/create-lock.js'
import {ensureClusterId} from '../core/config/identity.js'
import type {SwarmBlock} from '../core/config/schema.js'
import type {SwarmRecord} from '../core/config/state.js'
import {UsageError} from '../core/errors.js'
import {backoffDelay, sleep} from '../core/wait.js'
import {vcpusOf as doVcpus} from '../providers/digitalocean/sizes.js'
import {vcpusOf as ec2Vcpus} from '../providers/ec2/sizes.js'
import type {NodeInfo, Provider, SshEndpoint} from '../providers/provider.js'
import {addressProblem} from '../providers/provider.js'
import {pollScheduleFromEnv} from '../providers/wait.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import {KnownHosts} from '../ssh/known-hosts.js'
import {clusterKeyPaths, ensureClusterKey} from '../ssh/keys.js'
import {SshConnectError} from '../ssh/session.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {NODE_PATHS, provisionContext, provisionNode, SWARM_SYSCTL, WAIT_FOR_SSH_RETRIES, APPLY_SYSCTL, type ProvisionContext} from './provision.js'
import {abandonBootJoin, bootJoinWave, type BootJoinPrepared, prepareBootJoin} from './boot-join.js'
import {initSwarm, joinNode, managerAddress, readManager, type ManagerFacts} from './swarm.js'
import {ensureClusterTls, tlsPolicy} from './tls.js'
import {byNodeName, labelUpdates, planUp, type PlannedNode, type SwarmView, type UpPlan} from './up-plan.js'
import {applyLabels, drainCommand, execChecked, nodeRmCommand, readSwarmView} from './up-swarm.js'

export type UpStep = 'create' | 'active' | 'reachable' | 'tls' | 'init' | 'join' | 'label' | 'drain' | 'delete' | 'remove'

export interface UpFailure {
  name: string
  step: UpStep
  error: string
}

export interface UpCounts {
  create: {done: number; total: number}
  active: number
  reachable: number
  provisioned: number
  joined: number
  removed: number
  failed: number
}

export interface UpHooks {
  /** One line for stderr (a notice worth telling, a stage starting). */
  notice?: (line: string) => void
  /** The counts changed (the UI redraws its line, or prints when a stage moved). */
  progress?: (counts: UpCounts) => void
  /** The plan, before anything changes (not called with planOnly). */
  onPlan?: (plan: UpPlan) => void
  /** Removing pool members: asked once, before anything is removed (TTY prompt, --yes, or a refusal). */
  confirmRemove?: (names: string[]) => Promise<boolean>
}

export interface UpOptions {
  planOnly: boolean
  prune: boolean
  concurrency: number
  signal: AbortSignal
  /**
   * A new SSH context: the one a run starts with read the keys before a create generated the cluster key (local
   * hosts, and clouds without a key of the user's, are reached with it).
   */
  newSsh?: () => SshContext
  /** `swarm.join: cloud-init`: the boot-join watch (CONTRACT §11; create --join's flags). */
  boot?: {timeoutMs: number; fallback: 'ssh' | null; rotate: boolean}
}

export interface UpResult {
  plan: UpPlan
  created: string[]
  provisioned: string[]
  joined: string[]
  removed: string[]
  failed: UpFailure[]
  interrupted: boolean
  /** The manager the swarm was read through (or initialised on). */
  manager: string | null
}

/** Per node: connection, provisioning and join together (a fresh machine may install Docker: minutes). */
const NODE_TIMEOUT_MS = 25 * 60_000
/** How long a deleted node may take to show Down before it is removed with --force. */
const DOWN_WAIT_MS = 90_000
/** How long a joined manager may take to be Reachable before the next one joins. */
const REACHABLE_WAIT_MS = 120_000
/** How long a node may take to be active (a droplet, an instance) before it fails at 'active'. */
const ACTIVE_WAIT_MS = 15 * 60_000

export function swarmRecord(cluster: Cluster): SwarmRecord {
  const r = cluster.state.read().swarm
  return {id: r?.id ?? null, provisioned: Array.isArray(r?.provisioned) ? r.provisioned : []}
}

function requireBlock(cluster: Cluster): SwarmBlock {
  if (!cluster.swarm) {
    throw new UsageError(`cluster '${cluster.name}' has no swarm: block in ${cluster.configPath}; add one (see the template) or: ` +
      "belt cluster update swarm.managers.names='mg[0:2]' swarm.managers.size=1gb")
  }
  return cluster.swarm
}

export function defaultZone(cluster: Cluster): string | null {
  if (cluster.driver === 'digitalocean') return (cluster.settings as {region?: string}).region?.trim() || null
  if (cluster.driver === 'ec2') return (cluster.settings as {subnet_id?: string}).subnet_id || null
  return null
}

function vcpusFor(cluster: Cluster): (size: string) => number | null {
  if (cluster.driver === 'digitalocean') return doVcpus
  if (cluster.driver === 'ec2') return ec2Vcpus
  return () => null
}

/**
 * SSH endpoints from the listing already made: the cloud drivers build them from its addresses (no second listing);
 * local and generic read their own records, which costs no API call.
 */
export async function endpointsOf(cluster: Cluster, provider: Provider, nodes: NodeInfo[]): Promise<Map<string, SshEndpoint>> {
  const out = new Map<string, SshEndpoint>()
  if (cluster.driver === 'local' || cluster.driver === 'generic') {
    for (const ep of (await provider.endpoints(nodes.map((n) => n.name))).found) out.set(ep.name, ep)
    return out
  }
  const user = cluster.settings.ssh_user || (cluster.driver === 'ec2' ? 'ubuntu' : 'root')
  const port = cluster.settings.ssh_port
  for (const n of nodes) {
    if (n.status === 'gone' || out.has(n.name)) continue
    out.set(n.name, {name: n.name, host: n.public_ip ?? n.private_ip ?? '', port, user, private_ip: n.private_ip, public_ip: n.public_ip, status: n.status})
  }
  return out
}

function usable(ep: SshEndpoint | undefined, node: NodeInfo | undefined): ep is SshEndpoint {
  return Boolean(ep && !addressProblem(ep) && (!node || node.status === 'active'))
}

/** Connect, retrying while a fresh machine's sshd comes up (only connection failures are retried). */
async function connectWithRetry(ssh: SshContext, ep: SshEndpoint, signal: AbortSignal, retries = WAIT_FOR_SSH_RETRIES): Promise<SshSession> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ssh.connect(ep, {signal})
    } catch (err) {
      const retryable = err instanceof SshConnectError && err.retryable
      if (!retryable || attempt > retries || signal.aborted) throw err
      await sleep(backoffDelay(attempt, {baseMs: 500, capMs: 5000}), signal)
    }
  }
}

interface Deferred<T> {
  promise: Promise<T>
  resolve: (v: T) => void
  reject: (e: Error) => void
  settled: boolean
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const d = {settled: false} as Deferred<T>
  d.promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  d.promise.catch(() => {})
  d.resolve = (v) => { if (!d.settled) { d.settled = true; resolve(v) } }
  d.reject = (e) => { if (!d.settled) { d.settled = true; reject(e) } }
  return d
}

/** A step failed: the node's task stops there and the failure names the step. */
class StepError extends Error {
  constructor(readonly step: UpStep, message: string) {
    super(message)
  }
}

/** The swarm a manager link reads and joins through: its session stays open for the whole run. */
interface ManagerLink {
  name: string
  session: SshSession
  worker: ManagerFacts
  manager: ManagerFacts | null
  swarmId: string | null
}

export async function runUp(cluster: Cluster, ssh: SshContext, provider: Provider, o: UpOptions, hooks: UpHooks = {}): Promise<UpResult> {
  const block = requireBlock(cluster)
  if (block.join === 'cloud-init' && cluster.driver === 'generic') {
    throw new UsageError('swarm.join: cloud-init needs a driver that creates nodes (digitalocean, ec2, local); generic hosts exist already: use swarm.join=ssh')
  }
  const signal = o.signal
  setMaxListeners(o.concurrency + 64, signal)
  const notice = hooks.notice ?? (() => {})
  const listing = await provider.list({signal})
  const byName = new Map<string, NodeInfo>()
  for (const n of listing) if (n.status !== 'gone' && !byName.has(n.name)) byName.set(n.name, n)
  const endpoints = await endpointsOf(cluster, provider, listing)
  const record = swarmRecord(cluster)

  // The swarm as one manager sees it: the first named manager, in name order, that answers and manages a swarm.
  const opened = new Map<string, SshSession>()
  let view: SwarmView | null = null
  let link: ManagerLink | null = null
  const closeAll = () => { for (const s of opened.values()) s.close() }
  try {
    for (const name of [...block.managers.names].sort(byNodeName)) {
      const ep = endpoints.get(name)
      if (!usable(ep, byName.get(name)) || signal.aborted) continue
      const step = stepSignal(30_000, signal)
      try {
        const session = await connectWithRetry(ssh, ep, step.signal, 2)
        opened.set(name, session)
        const st = await readSwarmView(session, step.signal)
        if (st.state === 'active' && st.manager && st.swarmId) {
          view = {id: st.swarmId, manager: name, members: st.members}
          break
        }
      } catch (err) {
        notice(`${name}: not reachable now (${oneLine(err)}); it is worked on with the others`)
      } finally {
        step.dispose()
      }
    }

    const plan = planUp({
      driver: cluster.driver, block, defaultZone: defaultZone(cluster), nodes: listing, swarm: view,
      state: {swarmId: record.id, provisioned: record.provisioned}, vcpus: vcpusFor(cluster),
    })
    if (!o.prune) plan.remove = []
    const result: UpResult = {plan, created: [], provisioned: [], joined: [], removed: [], failed: [], interrupted: false, manager: view?.manager ?? plan.init}
    if (o.planOnly) return result
    if (plan.refusals.length) throw new UsageError(plan.refusals[0])
    hooks.onPlan?.(plan)
    if (plan.remove.length && hooks.confirmRemove && !(await hooks.confirmRemove(plan.remove.map((r) => r.name)))) {
      throw new UsageError('cancelled; nothing was changed')
    }
    if (view) {
      // The link's session stays open for the run (Pipeline.close()); a task on that manager opens its own.
      const session = opened.get(view.manager)!
      opened.delete(view.manager)
      link = {name: view.manager, session, worker: null as unknown as ManagerFacts, manager: null, swarmId: view.id}
    }
    const pipeline = new Pipeline(cluster, ssh, provider, o, hooks, plan, result, byName, endpoints, opened, link)
    try {
      await pipeline.run()
    } finally {
      pipeline.close()
    }
    return result
  } finally {
    closeAll()
  }
}

class Pipeline {
  private readonly waiters = new Map<string, Deferred<SshEndpoint>>()
  private readonly swarmReady = deferred<ManagerLink>()
  private readonly counts: UpCounts
  private readonly planned: Map<string, PlannedNode>
  private tls: ProvisionContext | null = null
  private polling = false
  private createsDone = false
  /** Ends the poller's sleep early: nothing is left to wait for (no need to sleep out the interval). */
  private wakePoller: () => void = () => {}
  /** A usage error met before anything was created: thrown once every task has settled. */
  private fatal: UsageError | null = null

  constructor(private readonly cluster: Cluster, private ssh: SshContext, private readonly provider: Provider,
    private readonly o: UpOptions, private readonly hooks: UpHooks, private readonly plan: UpPlan, private readonly result: UpResult,
    private readonly byName: Map<string, NodeInfo>, private readonly endpoints: Map<string, SshEndpoint>,
    private readonly opened: Map<string, SshSession>, private link: ManagerLink | null) {
    this.planned = new Map(plan.nodes.map((n) => [n.name, n]))
    this.counts = {
      create: {done: 0, total: plan.create.length}, active: 0, reachable: 0, provisioned: 0, joined: 0, removed: 0, failed: 0,
    }
  }

  /** The manager link's session (opened by init, or at discovery and then kept in `opened`). */
  close(): void {
    this.link?.session.close()
  }

  private get signal(): AbortSignal {
    return this.o.signal
  }

  private tick(): void {
    this.hooks.progress?.({...this.counts, create: {...this.counts.create}})
  }

  private fail(name: string, step: UpStep, err: unknown): void {
    this.result.failed.push({name, step, error: oneLine(err)})
    this.counts.failed++
    this.tick()
  }

  async run(): Promise<void> {
    const {plan} = this
    // join: cloud-init: workers are created once the managers are in the swarm (their user data needs the token and
    // every manager address), join themselves at boot and are watched through the manager: no SSH to them at all.
    const bootWorkers = new Set(this.cluster.swarm?.join === 'cloud-init' ? plan.nodes.filter((n) => n.role === 'worker').map((n) => n.name) : [])
    const work = new Set([...plan.join_managers, ...plan.join_workers, ...plan.provision].filter((n) => !bootWorkers.has(n)))
    if (plan.provision.length) {
      const tls = await ensureClusterTls(this.cluster, tlsPolicy(this.cluster.settings))
      this.tls = provisionContext(this.cluster, tls, {forceCerts: false, sysctl: plan.sysctl, verifyTimeoutMs: 90_000})
    }
    if (plan.create.length) ensureClusterId(this.cluster)
    ensureClusterDir(this.cluster)
    if (plan.create.length && !existsSync(clusterKeyPaths(this.cluster).privatePath) && this.o.newSsh) {
      ensureClusterKey(this.cluster)
      this.ssh = this.o.newSsh()
    }
    if (this.link) {
      try {
        await this.openLink(this.link.name, this.link.session, this.link.swarmId)
      } catch (err) {
        // Workers then fail at 'join' with this reason (swarmReady is rejected); the rest still runs.
        this.fail(this.link.name, 'join', err)
      }
    }
    for (const name of work) {
      const d = deferred<SshEndpoint>()
      d.promise.then(() => { this.counts.active++ }, () => {})
      this.waiters.set(name, d)
      const ep = this.endpoints.get(name)
      // generic hosts exist already: one whose SSH port did not answer the probe gets the connection's own retries.
      if (usable(ep, this.byName.get(name)) || (this.cluster.driver === 'generic' && ep)) d.resolve(ep!)
    }
    this.tick()
    const creating = this.createAll((n) => !bootWorkers.has(n.name)).finally(() => {
      this.createsDone = true
      if ([...this.waiters.values()].every((d) => d.settled)) this.wakePoller()
    })
    const polling = this.pollActive()
    const managers = this.managerChain()
    const workers = bootWorkers.size ? managers.then(() => this.bootJoinWorkers(bootWorkers)) : this.workerTasks()
    await Promise.all([creating, managers, workers])
    this.createsDone = true
    await polling
    if (!this.signal.aborted) await this.labelAll()
    if (!this.signal.aborted && plan.remove.length) await this.shrink()
    if (this.fatal) throw this.fatal
    this.result.interrupted = this.signal.aborted
    for (const k of ['created', 'provisioned', 'joined', 'removed'] as const) this.result[k].sort(byNodeName)
    this.result.failed.sort((a, b) => byNodeName(a.name, b.name))
  }

  // ---- create and active ------------------------------------------------------------------------------------

  /** The nodes to create, grouped by pool, size and zone: one provider create per group, managers first. */
  private async createAll(which: (n: PlannedNode) => boolean, userData?: (names: string[]) => string): Promise<void> {
    const groups = new Map<string, PlannedNode[]>()
    for (const n of this.plan.create.filter(which)) {
      // Zones only place nodes on the clouds; elsewhere they are labels, and one create serves the pool.
      const key = JSON.stringify([n.pool, n.size, this.cluster.driver === 'local' ? null : n.zone])
      groups.set(key, [...(groups.get(key) ?? []), n])
    }
    for (const nodes of groups.values()) {
      if (this.signal.aborted) break
      const first = nodes[0]
      const names = nodes.map((n) => n.name)
      const opts = {
        size: first.size ?? '1gb', names, tags: [], pool: first.pool, signal: this.signal, onProgress: this.hooks.notice,
        ...(first.zone && this.cluster.driver !== 'local' ? {zone: first.zone} : {}),
        ...(userData ? {userData} : {}),
      }
      const {release, unwritable} = await lockCreate(this.cluster, this.signal, this.hooks.notice ?? (() => {}))
      try {
        if (unwritable) throw unwritable
        const cplan = await this.provider.plan(opts)
        if (cplan.sizeNote) this.hooks.notice?.(cplan.sizeNote)
        const r = await this.provider.create(opts, cplan)
        const failed = new Map(r.failed.map((f) => [f.name, f.error]))
        for (const n of [...r.created, ...r.existing]) {
          if (!names.includes(n.name) || failed.has(n.name)) continue
          this.byName.set(n.name, n)
          if (r.created.some((c) => c.name === n.name)) this.result.created.push(n.name)
          this.counts.create.done++
        }
        for (const [name, error] of failed) this.rejectWaiter(name, 'create', error)
        for (const f of r.failed) if (!names.includes(f.name)) this.hooks.notice?.(`${f.name}: ${f.error}`)
        if (r.stateError) this.hooks.notice?.(r.stateError)
        await this.refreshEndpoints(names)
      } catch (err) {
        // A refusal before anything was made this run (a size the cloud does not know) ends the run with exit 2.
        if (err instanceof UsageError && this.result.created.length === 0) {
          this.fatal = err
          for (const n of this.plan.create.filter(which)) this.rejectWaiter(n.name, 'create', err)
          break
        }
        for (const name of names) this.rejectWaiter(name, 'create', err)
      } finally {
        await release()
      }
      this.tick()
    }
  }

  private rejectWaiter(name: string, step: UpStep, err: unknown): void {
    const d = this.waiters.get(name)
    if (d && !d.settled) d.reject(new StepError(step, oneLine(err)))
    // Nobody waits for a boot-joined worker: its failure is recorded here.
    else if (!d) this.fail(name, step, err)
  }

  /** Local and generic nodes are active as soon as they are made: their records give the endpoints at once. */
  private async refreshEndpoints(names: string[]): Promise<void> {
    if (this.cluster.driver !== 'local' && this.cluster.driver !== 'generic') return
    for (const ep of (await this.provider.endpoints(names)).found) {
      this.endpoints.set(ep.name, ep)
      const node = this.byName.get(ep.name)
      if (usable(ep, node)) this.waiters.get(ep.name)?.resolve(ep)
    }
  }

  /** While nodes wait to be active, one listing per poll interval (never a call per node) hands each on as it is. */
  private async pollActive(): Promise<void> {
    if (this.polling) return
    this.polling = true
    const schedule = pollScheduleFromEnv(this.cluster.driver === 'digitalocean' ? {intervalMs: 5000} : {intervalMs: 1000})
    const started = Date.now()
    // run()'s listing counts as the last one.
    let lastList = started
    const pending = () => [...this.waiters.entries()].filter(([, d]) => !d.settled)
    while (!this.signal.aborted) {
      const waiting = pending()
      let didList = false
      if (waiting.length === 0 && this.createsDone) break
      const creating = new Set(this.plan.create.map((n) => n.name))
      // Names no create is still working on and the listing lacks: nothing will make them.
      if (this.createsDone && Date.now() - started > ACTIVE_WAIT_MS) {
        for (const [name] of waiting) this.rejectWaiter(name, 'active', new Error(`not active within ${ACTIVE_WAIT_MS / 60_000} min`))
        break
      }
      if (waiting.length > 0 && (this.createsDone || waiting.some(([n]) => this.byName.has(n) || !creating.has(n)))) {
        // When the API's rate budget is short (right after the creates), the listings it allows are spread evenly from
        // the last one to when the window frees up — the wait comes before a listing (recomputed as the budget moves),
        // so none is spent at once with nothing booted yet, leaving a long blind gap and one large hand-off.
        const wait = this.listWait(lastList, schedule.intervalMs)
        if (wait > 0) {
          // In short naps: the wait shrinks faster than time passes (the horizon comes nearer as well).
          await this.nap(Math.min(wait, 1000))
          continue
        }
        lastList = Date.now()
        didList = true
        try {
          const nodes = await this.provider.list({signal: this.signal, onPage: (page) => this.handOnPage(page)})
          for (const n of nodes) if (n.status !== 'gone') this.byName.set(n.name, n)
          const eps = await endpointsOf(this.cluster, this.provider, nodes)
          for (const [name, d] of waiting) {
            const ep = eps.get(name)
            if (ep) this.endpoints.set(name, ep)
            const listed = this.byName.get(name)
            if (usable(ep, listed)) {
              d.resolve(ep)
            } else if (listed?.status === 'off' && !creating.has(name)) {
              this.rejectWaiter(name, 'active', new Error(`the node is off (${listed.provider_status ?? 'stopped'}); start it (belt start ${name}) and re-run`))
            } else if (this.createsDone && !this.byName.has(name) && !creating.has(name)) {
              this.rejectWaiter(name, 'active', new Error('not in the cluster\'s listing'))
            }
          }
          this.tick()
        } catch (err) {
          if (this.signal.aborted) break
          this.hooks.notice?.(`listing the cluster failed (${oneLine(err)}); trying again`)
        }
      }
      // That listing handed on the last waiting node: done, without sleeping out another interval.
      if (this.createsDone && pending().length === 0) break
      await this.nap(didList ? Math.min(this.listWait(lastList, schedule.intervalMs), 1000) : schedule.intervalMs)
    }
    for (const [name] of pending()) this.rejectWaiter(name, 'active', new Error('interrupted'))
  }

  /**
   * Milliseconds from now until the next listing: one poll interval after the last, or later while the API's budget
   * is short (priced at the listing the cluster will need, droplets just created included).
   */
  private listWait(lastList: number, intervalMs: number): number {
    const budget = this.provider.listSpacingMs?.({nodes: Math.max(this.byName.size, this.planned.size), since: lastList}) ?? 0
    return Math.max(lastList + intervalMs - Date.now(), budget, 0)
  }

  /** A page of a listing in progress: its active nodes go on at once (the whole listing takes seconds at 2,000). */
  private handOnPage(page: NodeInfo[]): void {
    const active = page.filter((n) => n.status === 'active' && this.waiters.get(n.name)?.settled === false)
    if (active.length === 0) return
    endpointsOf(this.cluster, this.provider, active).then((eps) => {
      for (const n of active) {
        const ep = eps.get(n.name)
        if (!usable(ep, n)) continue
        this.byName.set(n.name, n)
        this.endpoints.set(n.name, ep)
        this.waiters.get(n.name)?.resolve(ep)
      }
      this.tick()
    }, () => {})
  }

  /** Sleep, woken early by wakePoller (nothing is left to wait for) or Ctrl-C. */
  private async nap(ms: number): Promise<void> {
    const nap = new AbortController()
    this.wakePoller = () => nap.abort()
    await sleep(ms, AbortSignal.any([this.signal, nap.signal])).catch(() => {})
    this.wakePoller = () => {}
  }

  // ---- one task per node ------------------------------------------------------------------------------------

  private needsTls(name: string): boolean {
    return this.plan.provision.includes(name)
  }

  /** Active → reachable → TLS, on one session the caller goes on using (and closes). */
  private async reach(name: string, signal: AbortSignal): Promise<SshSession> {
    let ep: SshEndpoint
    try {
      ep = await this.waiters.get(name)!.promise
    } catch (err) {
      throw err instanceof StepError ? err : new StepError('active', oneLine(err))
    }
    let session = this.opened.get(name)
    if (session) this.opened.delete(name)
    else {
      try {
        session = await connectWithRetry(this.ssh, ep, signal)
      } catch (err) {
        throw new StepError('reachable', oneLine(err))
      }
    }
    this.counts.reachable++
    this.tick()
    try {
      if (this.needsTls(name) && this.tls) {
        await provisionNode(session, ep, this.tls, signal)
        this.result.provisioned.push(name)
        this.counts.provisioned++
        this.recordProvisioned(name)
        this.tick()
      } else if (this.plan.sysctl && !this.plan.join_workers.includes(name)) {
        // A joining worker writes it in its join exec (joinWorkersBySsh): one round trip, not two.
        await session.exec(this.sysctlScript(), {sudo: true, signal}).then((r) => {
          if (r.code !== 0) throw new Error(r.stderr.trim().split('\n')[0] || `exit code ${r.code}`)
        })
      }
    } catch (err) {
      session.close()
      throw new StepError('tls', oneLine(err))
    }
    return session
  }

  private sysctlScript(): string {
    return sysctlScript(this.cluster.driver !== 'local')
  }

  private recordProvisioned(name: string): void {
    this.cluster.state.tryUpdate((s) => {
      const r = s.swarm ?? {id: null, provisioned: []}
      if (!r.provisioned.includes(name)) r.provisioned.push(name)
      s.swarm = r
    })
  }

  private advertise(ep: SshEndpoint): string {
    return ep.private_ip ?? ep.public_ip ?? ep.host
  }

  /** Managers one at a time in name order: the first inits (when no swarm exists), the others join and are Reachable. */
  private async managerChain(): Promise<void> {
    const managers = this.plan.nodes.filter((n) => n.role === 'manager' &&
      (this.plan.join_managers.includes(n.name) || this.needsTls(n.name)))
    if (!this.link && !this.plan.init) this.swarmReady.reject(new Error('no manager to start the swarm on'))
    for (const m of managers) {
      if (this.signal.aborted) break
      const step = stepSignal(NODE_TIMEOUT_MS, this.signal)
      let session: SshSession | null = null
      let keep = false
      try {
        session = await this.reach(m.name, step.signal)
        if (!this.plan.join_managers.includes(m.name)) continue
        if (!this.link) {
          keep = await this.initOn(m.name, session, step.signal)
        } else {
          await this.joinManager(m.name, session, step.signal)
        }
      } catch (err) {
        const s = err instanceof StepError ? err.step : this.link ? 'join' : 'init'
        this.fail(m.name, s, err)
        if (!this.link) this.swarmReady.reject(new Error(`no swarm: ${m.name} failed at ${s}`))
      } finally {
        if (!keep) session?.close()
        step.dispose()
      }
    }
    if (!this.link) this.swarmReady.reject(new Error('no swarm: no manager could start it'))
  }

  /** swarm init on the first manager (left as it is when it manages a swarm already); its session becomes the link. */
  private async initOn(name: string, session: SshSession, signal: AbortSignal): Promise<boolean> {
    const ep = session.endpoint
    let r
    try {
      r = await initSwarm(session, {advertiseAddr: this.advertise(ep), drain: false}, signal)
    } catch (err) {
      throw new StepError('init', oneLine(err))
    }
    const st = await readSwarmView(session, signal)
    const recorded = swarmRecord(this.cluster).id
    if (st.swarmId && recorded && recorded !== st.swarmId && r.already) {
      throw new StepError('init', `${name} manages swarm ${st.swarmId.slice(0, 12)}, not ${recorded.slice(0, 12)} (state.json); belt up never joins another swarm`)
    }
    this.cluster.state.update((s) => {
      s.swarm = {id: st.swarmId, provisioned: s.swarm?.provisioned ?? []}
      s.active_node = name
    })
    if (!r.already) {
      this.result.joined.push(name)
      this.counts.joined++
      this.tick()
    }
    this.result.manager = name
    await this.openLink(name, session, st.swarmId)
    return true
  }

  private async openLink(name: string, session: SshSession, swarmId: string | null): Promise<void> {
    try {
      const worker = await readManager(session, 'worker', this.signal)
      this.link = {name, session, worker, manager: null, swarmId}
      this.swarmReady.resolve(this.link)
    } catch (err) {
      this.swarmReady.reject(new Error(`cannot read the join token from ${name}: ${oneLine(err)}`))
      throw err
    }
  }

  private async joinManager(name: string, session: SshSession, signal: AbortSignal): Promise<void> {
    const link = this.link!
    try {
      link.manager ??= await readManager(link.session, 'manager', signal)
      const outcome = await joinNode(session, link.manager, signal, undefined, this.advertise(session.endpoint))
      if (outcome === 'joined') {
        this.result.joined.push(name)
        this.counts.joined++
        this.tick()
      }
    } catch (err) {
      throw new StepError('join', oneLine(err))
    }
    // Reachable before the next manager joins: two joining at once can cost the Raft majority.
    const deadline = Date.now() + REACHABLE_WAIT_MS
    for (;;) {
      const st = await readSwarmView(link.session, signal)
      const me = st.members.find((m) => m.hostname === name && m.state !== 'down')
      if (me && (me.managerStatus === 'reachable' || me.managerStatus === 'leader')) return
      if (Date.now() > deadline) throw new StepError('join', `joined, but not Reachable within ${REACHABLE_WAIT_MS / 1000}s`)
      await sleep(500, signal)
    }
  }

  /** Workers: reachable and TLS as soon as each is active; the join waits only for the swarm to exist. */
  private async workerTasks(): Promise<void> {
    const joinWorker = joinWorkerBy()
    const limit = pLimit(Math.max(1, this.o.concurrency))
    const workers = this.plan.nodes.filter((n) => n.role === 'worker' && (this.plan.join_workers.includes(n.name) || this.needsTls(n.name)))
    await Promise.all(workers.map(async (w) => {
      // Waiting to be active holds no slot: only connected work does.
      await this.waiters.get(w.name)!.promise.catch(() => {})
      await limit(async () => {
        if (this.signal.aborted) return
        const step = stepSignal(NODE_TIMEOUT_MS, this.signal)
        let session: SshSession | null = null
        try {
          session = await this.reach(w.name, step.signal)
          if (!this.plan.join_workers.includes(w.name)) return
          let link: ManagerLink
          try {
            link = await this.swarmReady.promise
          } catch (err) {
            throw new StepError('join', oneLine(err))
          }
          const prelude = this.plan.sysctl && !this.needsTls(w.name) ? this.sysctlScript() : undefined
          if (await joinWorker(session, link, step.signal, this.advertise(session.endpoint), prelude)) {
            this.result.joined.push(w.name)
            this.counts.joined++
            this.tick()
          }
        } catch (err) {
          this.fail(w.name, err instanceof StepError ? err.step : 'join', err)
        } finally {
          session?.close()
          step.dispose()
        }
      })
    }))
  }

  /**
   * join: cloud-init: once the managers are in the swarm, read the token and every manager address once, create the
   * workers with that user data, then watch them join through one manager connection (bootJoinWave); the worker
   * token is rotated at the end (CONTRACT §11). Workers already created but not joined (an earlier run) are watched too.
   */
  private async bootJoinWorkers(workers: Set<string>): Promise<void> {
    const expected = this.plan.join_workers.filter((n) => workers.has(n))
    if (expected.length === 0 || this.signal.aborted) return
    const link = this.link
    if (!link) {
      for (const name of expected) this.fail(name, 'create', new Error('no swarm to join: the managers failed (see above)'))
      return
    }
    const boot = this.o.boot ?? {timeoutMs: 15 * 60_000, fallback: null, rotate: true}
    let prepared: BootJoinPrepared
    try {
      prepared = await prepareBootJoin(this.cluster, this.ssh, link.session.endpoint, {timeoutMs: 60_000, signal: this.signal})
    } catch (err) {
      for (const name of expected) this.fail(name, 'join', err)
      return
    }
    let watched = false
    try {
      prepared.checkSize(this.plan.create.filter((n) => workers.has(n.name)).map((n) => n.name))
      await this.createAll((n) => workers.has(n.name), prepared.userData)
      if (this.fatal) return
      const failed = new Set(this.result.failed.map((f) => f.name))
      const names = expected.filter((n) => !failed.has(n))
      if (names.length === 0 || this.signal.aborted) return
      this.hooks.notice?.(`${prepared.description}; watching ${names.length} through ${link.name}`)
      watched = true
      const w = await bootJoinWave(this.cluster, this.ssh, link.session.endpoint, prepared, {
        names, timeoutMs: boot.timeoutMs, fallback: boot.fallback, rotate: boot.rotate, concurrency: this.o.concurrency,
        signal: this.signal, onProgress: this.hooks.notice,
      })
      for (const name of w.joined) {
        this.result.joined.push(name)
        this.counts.joined++
      }
      this.tick()
      for (const f of w.failed) this.fail(f.name, 'join', new Error(f.error))
      if (w.duplicatesRemoved.length) this.hooks.notice?.(`removed Down duplicates from the swarm: ${w.duplicatesRemoved.join(', ')}`)
      this.hooks.notice?.(w.rotated ? 'worker join token rotated (the one in the nodes\' user data no longer works)' : `worker join token kept: ${w.rotateNote ?? 'not rotated'}`)
    } catch (err) {
      if (err instanceof UsageError) this.fatal ??= err
      for (const name of expected) if (!this.result.joined.includes(name) && !this.result.failed.some((f) => f.name === name)) this.fail(name, 'join', err)
    } finally {
      if (!watched) await abandonBootJoin(this.cluster, prepared).catch(() => {})
    }
  }

  // ---- labels and shrink ------------------------------------------------------------------------------------

  /** Labels and drains every joined node still lacks, in one exec through the manager. */
  private async labelAll(): Promise<void> {
    const link = this.link
    if (!link) return
    try {
      const st = await readSwarmView(link.session, this.signal)
      const updates = labelUpdates(this.plan.nodes, st.members, this.cluster.swarm!.managers.drain)
      if (updates.length === 0) return
      for (const f of await applyLabels(link.session, updates, this.signal)) this.fail(f.name, 'label', new Error(f.error))
    } catch (err) {
      this.fail(link.name, 'label', err)
    }
  }

  /** Pool members the block no longer names: drained (tasks move), deleted, then removed from the swarm as Down. */
  private async shrink(): Promise<void> {
    const removals = this.plan.remove
    const link = this.link
    const ids = removals.filter((r) => r.swarmId).map((r) => r.swarmId!)
    if (link && ids.length) {
      try {
        await execChecked(link.session, drainCommand(ids), 'drain', this.signal)
      } catch (err) {
        this.hooks.notice?.(`draining before removal: ${oneLine(err)}`)
      }
    }
    const names = removals.map((r) => r.name)
    const eps = names.map((n) => this.endpoints.get(n)).filter((e): e is SshEndpoint => Boolean(e?.host))
    let removed: string[]
    try {
      const r = await this.provider.remove({names}, {signal: this.signal, onProgress: this.hooks.notice})
      removed = r.removed
      for (const f of r.failed) this.fail(f.name, 'delete', new Error(f.error))
      if (r.stateError) this.hooks.notice?.(r.stateError)
    } catch (err) {
      for (const n of names) this.fail(n, 'delete', err)
      return
    }
    const gone = new Set(removed)
    new KnownHosts(join(this.cluster.dir, 'known_hosts')).forgetMany(eps.filter((e) => gone.has(e.name)))
    this.cluster.state.tryUpdate((s) => {
      if (s.swarm) s.swarm.provisioned = s.swarm.provisioned.filter((n) => !gone.has(n))
    })
    const inSwarm = removals.filter((r) => r.swarmId && gone.has(r.name))
    if (link && inSwarm.length) {
      try {
        const want = new Set(inSwarm.map((r) => r.swarmId!))
        const deadline = Date.now() + DOWN_WAIT_MS
        let down: string[] = []
        for (;;) {
          const st = await readSwarmView(link.session, this.signal)
          const present = st.members.filter((m) => want.has(m.id))
          down = present.filter((m) => m.state === 'down').map((m) => m.id)
          if (down.length === present.length || Date.now() > deadline) {
            const force = present.filter((m) => m.state !== 'down').map((m) => m.id)
            await execChecked(link.session, nodeRmCommand(down, force), 'docker node rm', this.signal)
            break
          }
          await sleep(1000, this.signal)
        }
      } catch (err) {
        for (const r of inSwarm) this.fail(r.name, 'remove', err)
        return
      }
    }
    this.result.removed.push(...removed)
    this.counts.removed += removed.length
    this.tick()
  }
}

/**
 * How workers join, chosen by `swarm.join`: over SSH here (one exec on the node's own session). Joining at boot
 * (`cloud-init`) slots in as another function of this shape.
 */
type JoinWorker = (session: SshSession, link: ManagerLink, signal: AbortSignal, advertiseAddr: string, prelude?: string) => Promise<boolean>

function joinWorkerBy(): JoinWorker {
  return joinWorkersBySsh
}

async function joinWorkersBySsh(session: SshSession, link: ManagerLink, signal: AbortSignal, advertiseAddr: string, prelude?: string): Promise<boolean> {
  try {
    return (await joinNode(session, link.worker, signal, undefined, advertiseAddr, prelude)) === 'joined'
  } catch (err) {
    throw new StepError('join', oneLine(err))
  }
}

/**
 * The neighbour-table settings on a node belt up does not provision (above 1,000 nodes), as shell for one exec:
 * written (atomically, by rename) and applied only when the file differs; reads no stdin.
 */
export function sysctlScript(apply: boolean, f: string = NODE_PATHS.sysctl): string {
  const fail = `{ echo "belt: could not write ${f}" >&2; exit 8; }`
  return [
    `belt_want=$(cat <<'BELT_SYSCTL_EOF'`,
    SWARM_SYSCTL.replace(/\n$/, ''),
    'BELT_SYSCTL_EOF',
    ')',
    `if [ "$(cat ${f} 2>/dev/null)" != "$belt_want" ]; then`,
    `  mkdir -p ${dirname(f)} && printf '%s\\n' "$belt_want" > ${f}.belt-tmp-$$ && chmod 644 ${f}.belt-tmp-$$ && mv -f ${f}.belt-tmp-$$ ${f} || ${fail}`,
    ...(apply ? [`  ${APPLY_SYSCTL} || { echo "belt: ${APPLY_SYSCTL} failed" >&2; exit 8; }`] : []),
    'fi',
  ].join('\n')
}

export {managerAddress}
