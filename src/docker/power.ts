// belt restart | stop | start: power actions through the provider (cloud API, the local machine; on generic hosts
// only restart, as `reboot` over SSH), with what a swarm operator needs around them: stopping managers is refused
// when it would lose the swarm's quorum (unless --force), a public address that changed (EC2 stop and start) is
// reported, its pinned host keys move to the new address and state.json forgets the old one, and --wait waits until
// every node answers SSH again (and dockerd, after restart and start; after a restart, from a new boot).
import pLimit from 'p-limit'
import type {Cluster} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {expandPatterns} from '../core/range.js'
import {poll} from '../core/wait.js'
import {providerFor} from '../providers/index.js'
import {settledStatus} from '../providers/power.js'
import {pollScheduleFromEnv} from '../providers/wait.js'
import type {NodeInfo, PowerAction, PowerResult, Provider} from '../providers/provider.js'
import {byNaturalName, fleetResult, type FleetHooks, type FleetResult, type HostOutcome} from '../ssh/fleet-result.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import type {KnownHosts} from '../ssh/known-hosts.js'
import {activeNodeName, endpointsFor} from '../ssh/targets.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {quorumWithout, readMembers} from './swarm-view.js'

export const POWER_VERBS: Record<PowerAction, string> = {restart: 'restarted', stop: 'stopped', start: 'started'}

export interface PowerRequest {
  action: PowerAction
  patterns: string[]
  hard: boolean
  wait: boolean
  /** stop: even when the swarm would lose its quorum. */
  force: boolean
  /** The whole command's limit for the provider's status and --wait. */
  timeoutMs: number
  concurrency: number
}

export interface PowerPlan {
  provider: Provider
  names: string[]
  /** The cluster's nodes as the provider listed them before acting. */
  before: Map<string, NodeInfo>
  /** Every node of the cluster is named. */
  whole: boolean
}

export interface AddressChange {
  name: string
  from: string
  to: string
}

export interface PowerReport extends FleetResult {
  addresses: AddressChange[]
  /** Lines for stderr: quorum warnings, what to re-run. */
  notes: string[]
}

/** Everything that can be refused is refused here, before anything changes (exit 2). */
export async function planPower(cluster: Cluster, req: PowerRequest): Promise<PowerPlan> {
  const provider = await providerFor(cluster)
  const names = expandPatterns(req.patterns, (n, p) => provider.validateName(n, p))
  if (names.length === 0) throw new UsageError('no node names given')
  if (req.hard && req.action !== 'restart') throw new UsageError(`--hard applies to belt restart only, not belt ${req.action}`)
  if (!provider.power) {
    if (req.action !== 'restart') {
      throw new UsageError(`belt ${req.action}: the ${cluster.driver} driver cannot power hosts off or on (they are not behind a cloud API); only belt restart works there (reboot over SSH)`)
    }
    if (req.hard) throw new UsageError(`--hard: the ${cluster.driver} driver has no power cycle; belt restart reboots over SSH`)
  }
  const listed = await provider.list()
  const before = new Map<string, NodeInfo>()
  for (const n of listed) if (n.status !== 'gone' && !before.has(n.name)) before.set(n.name, n)
  const unknown = names.filter((n) => !before.has(n))
  if (unknown.length) {
    const shown = `${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? `, … (${unknown.length} in all)` : ''}`
    throw new UsageError(`unknown node${unknown.length > 1 ? 's' : ''} ${shown} in cluster '${cluster.name}'`)
  }
  const named = new Set(names)
  return {provider, names, before, whole: [...before.keys()].every((n) => named.has(n))}
}

/** The power action, its settling, the address bookkeeping and --wait; never throws for a host's failure. */
export async function runPower(cluster: Cluster, ssh: SshContext & {knownHosts?: KnownHosts}, plan: PowerPlan, req: PowerRequest,
  hooks: FleetHooks = {}): Promise<PowerReport> {
  const notes: string[] = []
  if (req.action !== 'start') await checkQuorum(cluster, ssh, plan, req, notes)
  const scope = onInterrupt()
  try {
    const marks = req.wait && req.action === 'restart' ? await bootMarks(ssh, plan, req) : new Map<string, string>()
    if (req.action === 'stop') rememberAddresses(cluster, plan)
    const r = plan.provider.power
      ? await plan.provider.power(req.action, plan.names, {hard: req.hard, whole: plan.whole, signal: scope.signal, onProgress: hooks.notice})
      : await rebootOverSsh(ssh, plan, req, scope.signal)
    const rows = new Map<string, HostOutcome>()
    for (const name of r.ok) rows.set(name, {name, outcome: POWER_VERBS[req.action]})
    for (const name of r.already) rows.set(name, {name, outcome: 'already'})
    for (const f of r.failed) rows.set(f.name, {name: f.name, outcome: 'failed', error: f.error})
    const addresses: AddressChange[] = []
    const settled = await settle(cluster, ssh, plan, req, r, scope.signal, notes, addresses)
    for (const [name, error] of settled) rows.set(name, {name, outcome: 'failed', error})
    if (req.wait && req.action !== 'stop') {
      const up = [...rows.values()].filter((o) => o.outcome !== 'failed').map((o) => o.name)
      for (const [name, error] of await waitForAnswers(cluster, ssh, plan.provider, up, marks, req, scope.signal)) {
        rows.set(name, {name, outcome: 'failed', error})
      }
    }
    const result = fleetResult(POWER_VERBS[req.action], [...rows.values()], {notStarted: [], interrupted: r.interrupted || scope.interrupted()})
    return {...result, addresses: addresses.sort((a, b) => byNaturalName(a.name, b.name)), notes}
  } finally {
    scope.dispose()
  }
}

// ---- quorum -------------------------------------------------------------------------------------------------

/**
 * Through the active manager: stopping managers that would leave fewer than a majority reachable is refused without
 * --force (docker's own rule for demote and leave); restarting them at once, or stopping some, is worth a warning.
 * No swarm, or no answer: nothing to check, said once.
 */
async function checkQuorum(cluster: Cluster, ssh: SshContext, plan: PowerPlan, req: PowerRequest, notes: string[]): Promise<void> {
  let name: string
  try {
    name = activeNodeName(cluster, '')
  } catch {
    return
  }
  if (!plan.before.has(name)) return
  const step = stepSignal(30_000)
  let session: SshSession | undefined
  let check
  try {
    const [ep] = await endpointsFor(cluster, [name], plan.provider)
    session = await ssh.connect(ep, {signal: step.signal})
    check = quorumWithout(await readMembers(session, step.signal), new Set(plan.names))
  } catch (err) {
    notes.push(`could not check the swarm's managers through ${name}: ${oneLine(err)}`)
    return
  } finally {
    session?.close()
    step.dispose()
  }
  if (check.taken === 0) return
  const what = `${check.taken} of ${check.managers} managers (${check.reachable} reachable)`
  if (!check.holds && req.action === 'stop' && !req.force) {
    throw new UsageError(`stopping ${what} would lose the swarm's quorum (it needs ${Math.floor(check.managers / 2) + 1}); use --force to stop them anyway`)
  }
  if (!check.holds) notes.push(`the swarm has no quorum while ${what} are ${req.action === 'stop' ? 'stopped' : 'restarting'}: no service changes until they are back`)
  else notes.push(`${what} are ${req.action === 'stop' ? 'stopped' : 'restarting'}; the swarm keeps its quorum`)
}

// ---- addresses ----------------------------------------------------------------------------------------------

/** stop: each node's public address, kept in state.json so the start (maybe days later) can tell and move its keys. */
function rememberAddresses(cluster: Cluster, plan: PowerPlan): void {
  const known = plan.names.map((n) => plan.before.get(n)!).filter((n) => n.public_ip)
  if (known.length === 0) return
  cluster.state.tryUpdate((s) => {
    for (const n of known) s.nodes[n.name] = {...(s.nodes[n.name] ?? {id: n.id}), stopped_public_ip: n.public_ip}
  })
}

/**
 * Wait for the provider's status the action leads to (start: running with its address, always — the address is what
 * the operator needs next; stop with --wait: off), then report and record changed addresses. Returns the nodes that
 * did not get there in time, with why.
 */
async function settle(cluster: Cluster, ssh: SshContext & {knownHosts?: KnownHosts}, plan: PowerPlan, req: PowerRequest, r: PowerResult,
  signal: AbortSignal, notes: string[], addresses: AddressChange[]): Promise<Map<string, string>> {
  const late = new Map<string, string>()
  const acted = r.ok
  if (acted.length === 0 || (req.action !== 'start' && !(req.wait && req.action === 'stop'))) return late
  const status = settledStatus(req.action)
  // Settled: the status, and not on the way there still (EC2 counts `stopping` as off, but cannot start it yet).
  const there = (n: NodeInfo | undefined) => n?.status === status && !/^(stopping|shutting-down|pending)$/.test(n.provider_status ?? '')
  const listing = (nodes: NodeInfo[]) => new Map(nodes.filter((n) => n.status !== 'gone').map((n) => [n.name, n]))
  const w = await poll((sig) => plan.provider.list({signal: sig}), {
    done: (nodes) => { const m = listing(nodes); return acted.every((name) => there(m.get(name))) },
    timeoutMs: req.timeoutMs, signal, ...pollScheduleFromEnv({intervalMs: 2000, growth: 1.5, maxIntervalMs: 5000}),
  })
  const now = listing(w.last ?? [])
  for (const name of acted) {
    const n = now.get(name)
    if (!there(n)) late.set(name, `still ${n?.provider_status ?? 'unlisted'} after ${Math.round(req.timeoutMs / 1000)} s`)
  }
  if (req.action !== 'start') return late
  const records = cluster.state.read().nodes
  const port = cluster.settings.ssh_port
  for (const name of acted) {
    const to = now.get(name)?.public_ip
    const from = (records[name]?.stopped_public_ip as string | undefined) ?? plan.before.get(name)?.public_ip
    if (to && from && to !== from) {
      addresses.push({name, from, to})
      ssh.knownHosts?.move({host: from, port}, {host: to, port})
    }
  }
  const started = new Set(acted.filter((n) => !late.has(n)))
  cluster.state.tryUpdate((s) => {
    for (const name of started) if (s.nodes[name]) delete s.nodes[name].stopped_public_ip
  })
  if (addresses.length) {
    const list = addresses.map((a) => a.name).join(',')
    notes.push(`known_hosts: the host keys of ${list} now name their new address`)
    notes.push(`TLS: server certificates issued by belt provision name the old address; re-issue them with: belt provision '${list}'`)
    notes.push(`docker contexts and scripts that use the old address: belt env / belt context print the new one`)
  }
  return late
}

// ---- generic: reboot over SSH --------------------------------------------------------------------------------

/** The reboot is left to run after the command returns, so the SSH exec ends cleanly before the host goes down. */
export const REBOOT_COMMAND = "nohup sh -c 'sleep 1; reboot || systemctl reboot' >/dev/null 2>&1 &"

async function rebootOverSsh(ssh: SshContext, plan: PowerPlan, req: PowerRequest, signal: AbortSignal): Promise<PowerResult> {
  const targets = await endpointsFor(plan.provider.cluster, plan.names, plan.provider)
  const run = await ssh.runFleet(targets, async (s, sig) => {
    const r = await s.exec(REBOOT_COMMAND, {sudo: true, signal: sig})
    if (r.code !== 0) throw new Error(`reboot: ${(r.stderr || r.stdout).trim().split('\n')[0] || `exit code ${r.code}`}`)
  }, {concurrency: req.concurrency, timeoutMs: 60_000, retries: 2, signal})
  return {
    ok: run.results.filter((h) => h.ok).map((h) => h.name),
    already: [],
    failed: [...run.results.filter((h) => !h.ok).map((h) => ({name: h.name, error: h.error ?? 'failed'})),
      ...run.notStarted.map((name) => ({name, error: 'not started (interrupted)'}))],
    interrupted: run.interrupted,
  }
}

// ---- --wait -------------------------------------------------------------------------------------------------

/** What changes when a host boots: the kernel's boot id (a VM), and pid 1's start time (a local host's own init). */
export const BOOT_MARK_COMMAND = "echo \"$(cat /proc/sys/kernel/random/boot_id 2>/dev/null) $(cut -d' ' -f22 /proc/1/stat)\""

async function bootMarks(ssh: SshContext, plan: PowerPlan, req: PowerRequest): Promise<Map<string, string>> {
  const targets = await endpointsFor(plan.provider.cluster, plan.names, plan.provider)
  const run = await ssh.runFleet(targets, async (s, sig) => (await s.exec(BOOT_MARK_COMMAND, {signal: sig})).stdout.trim(),
    {concurrency: req.concurrency, timeoutMs: 30_000, retries: 1})
  return new Map(run.results.filter((h) => h.ok && h.value).map((h) => [h.name, h.value as string]))
}

/** After restart and start: dockerd must answer too. */
const DOCKER_ANSWERS = "docker version --format '{{.Server.Version}}' >/dev/null"

/**
 * --wait: each node until it answers SSH (with the addresses the provider lists now) and dockerd answers, from a new
 * boot after a restart; bounded by the request's time limit. Returns the nodes that did not, with why.
 */
async function waitForAnswers(cluster: Cluster, ssh: SshContext, provider: Provider, names: string[], marks: Map<string, string>,
  req: PowerRequest, signal: AbortSignal): Promise<Map<string, string>> {
  const failed = new Map<string, string>()
  if (names.length === 0) return failed
  const targets = await endpointsFor(cluster, names, provider)
  const deadline = Date.now() + req.timeoutMs
  const limit = pLimit(req.concurrency)
  await Promise.all(targets.map((ep) => limit(async () => {
    let why = 'no answer'
    const r = await poll(async () => {
      const step = stepSignal(Math.max(1000, Math.min(20_000, deadline - Date.now())), signal)
      let session: SshSession | undefined
      try {
        session = await ssh.connect(ep, {signal: step.signal})
        const x = await session.exec(`${BOOT_MARK_COMMAND} && ${DOCKER_ANSWERS}`, {sudo: true, signal: step.signal})
        const mark = x.stdout.trim().split('\n')[0] ?? ''
        if (marks.has(ep.name) && marks.get(ep.name) === mark) return (why = 'answers, but has not restarted yet', false)
        if (x.code !== 0) return (why = `dockerd does not answer: ${oneLine((x.stderr || x.stdout).trim() || `exit code ${x.code}`)}`, false)
        return true
      } catch (err) {
        why = oneLine(err)
        return false
      } finally {
        session?.close()
        step.dispose()
      }
    }, {done: (up) => up, timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 1000, growth: 1.5, maxIntervalMs: 5000, signal})
    if (!r.reached) failed.set(ep.name, r.interrupted ? 'interrupted while waiting' : `not back within the time limit: ${why}`)
  })))
  return failed
}
