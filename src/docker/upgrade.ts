// belt upgrade: a rolling Docker Engine upgrade (with --version) or a rolling dockerd restart (without) that keeps
// the swarm whole. Per node: drain it through a manager → install the pinned version (engine_install_url with
// VERSION=V, or with engine_install_url empty the distribution's package pinned to V) → restart dockerd → wait until
// the swarm sees it Ready (a manager: until it answers `docker node ls` itself and every manager is Reachable under
// one leader) → put its availability back (a node that was drained stays drained). Workers go in batches, then the
// managers one at a time with the leader last; the next manager never starts while any manager is not Reachable.
// Progress is kept in state.json (locked, atomic) so a re-run of the same upgrade skips the nodes it finished.
import pLimit from 'p-limit'
import type {Cluster} from '../core/config/cluster.js'
import {PartialFailure, UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {poll} from '../core/wait.js'
import {providerFor} from '../providers/index.js'
import type {SshEndpoint} from '../providers/provider.js'
import {byNaturalName, fleetResult, type FleetHooks, type FleetResult, type HostOutcome} from '../ssh/fleet-result.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import {shellQuote} from '../ssh/quote.js'
import {activeNodeName, endpointsFor, endpointsFrom} from '../ssh/targets.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {RESTART_DOCKER, WAIT_FOR_PACKAGE_LOCKS} from './provision.js'
import {remoteError} from './swarm.js'
import {managersHealthy, memberOf, readMembers, type SwarmMember} from './swarm-view.js'
import {nextManager, planRollout, type BatchSize, type RolloutNode} from './upgrade-plan.js'

export interface UpgradeRequest {
  patterns: string[]
  /** null: a rolling restart. */
  version: string | null
  batch: BatchSize
  /** Stop once this many nodes failed. */
  maxFailures: number
  /** Per node: the install, the restart and the wait until Ready. */
  nodeTimeoutMs: number
}

export interface UpgradeReport extends FleetResult {
  target: string
  /** The swarm locks its managers on restart (autolock): they need `docker swarm unlock`. */
  autolock: boolean
  /** Per node, in the order done: name, role, the engine before and after. */
  nodes: {name: string; role: string; from: string; to: string | null}[]
  notes: string[]
}

/** Versions as docker prints them (27.3.1, 24.0.7, 20.10.24+dfsg1): no shell or apt metacharacters. */
export function checkVersion(v: string): string {
  if (!/^\d+\.\d+(\.\d+)?([-+~][0-9A-Za-z.+~-]+)?$/.test(v)) throw new UsageError(`--version: expected a Docker Engine version such as 27.3.1, got '${v}'`)
  return v
}

// ---- remote commands ----------------------------------------------------------------------------------------

export const ENGINE_VERSION_COMMAND = "docker version --format '{{.Server.Version}}'"

/** Is the swarm autolocked? Only managers know (docker info shows the cluster spec there). */
export const AUTOLOCK_COMMAND = "docker info --format '{{with .Swarm.Cluster}}{{.Spec.EncryptionConfig.AutoLockManagers}}{{end}}'"

/**
 * Install Docker Engine `version` on a node, unless it runs that version already. With an install URL (Docker's
 * convenience script, or a script of one's own), the script runs with VERSION=<version>, as get.docker.com takes it;
 * without one (engine_install_url empty), apt installs docker-ce (or the distribution's docker.io) pinned to it.
 */
export function installVersionCommand(version: string, url: string | null): string {
  const v = shellQuote(version)
  const fetch = url === null ? '' : `d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
u=${shellQuote(url)}
if command -v curl >/dev/null 2>&1; then curl -fsSL "$u" -o "$d/install.sh"
elif command -v wget >/dev/null 2>&1; then wget -qO "$d/install.sh" "$u"
else echo "neither curl nor wget is installed to fetch the install script" >&2; exit 1; fi || { echo "could not download $u" >&2; exit 1; }
VERSION="$want" sh "$d/install.sh" > "$d/log" 2>&1 || { tail -n 5 "$d/log" >&2; exit 1; }`
  const packages = `command -v apt-get >/dev/null 2>&1 || { echo "engine_install_url is empty and there is no apt-get: cannot pin Docker $want here" >&2; exit 1; }
pick() { apt-cache madison "$1" 2>/dev/null | awk -v w="$want" '{ v = $3; sub(/^[0-9]+:/, "", v); if (index(v, w) == 1) { print $3; exit } }'; }
if dpkg -s docker-ce >/dev/null 2>&1 || [ -n "$(pick docker-ce)" ]; then
  p=$(pick docker-ce); [ -n "$p" ] || { echo "docker-ce $want is not in this node's apt sources" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "docker-ce=$p" "docker-ce-cli=$p" >/dev/null || exit 1
else
  p=$(pick docker.io); [ -n "$p" ] || { echo "neither docker-ce nor docker.io $want is in this node's apt sources" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-downgrades "docker.io=$p" >/dev/null || exit 1
fi`
  return `set -u
want=${v}
cur=$(${ENGINE_VERSION_COMMAND} 2>/dev/null) || cur=
if [ "$cur" = "$want" ]; then echo "belt-upgrade: at $cur"; exit 0; fi
${WAIT_FOR_PACKAGE_LOCKS.replace('${LOCK_WAIT_SECONDS}', '300')}
${url === null ? packages : fetch}
echo "belt-upgrade: installed"`
}

/** After the install (or alone, for a rolling restart): restart dockerd and print the version that answers. */
export const RESTART_AND_REPORT = `${RESTART_DOCKER} || exit $?
${ENGINE_VERSION_COMMAND}`

function availabilityCommand(id: string, availability: string): string {
  return `docker node update --availability ${shellQuote(availability)} ${shellQuote(id)} >/dev/null`
}

// ---- the operation -------------------------------------------------------------------------------------------

interface Target {
  ep: SshEndpoint
  member: SwarmMember
}

/** The managers of the cluster, as endpoints, for reaching the swarm while one of them restarts. */
interface SwarmAccess {
  managers: SshEndpoint[]
  /** The one that answered last (tried first next time). */
  last: string | null
}

/** Run `work` on the first of these hosts (not `except`) that answers, the one that answered last tried first. */
async function onFirstThatAnswers<T>(ssh: SshContext, access: SwarmAccess, except: string | null, signal: AbortSignal,
  work: (s: SshSession, signal: AbortSignal) => Promise<T>): Promise<T> {
  const order = [...access.managers].filter((m) => m.name !== except)
    .sort((a, b) => Number(b.name === access.last) - Number(a.name === access.last))
  let lastErr: unknown = new Error('no other manager to ask')
  for (const ep of order) {
    const step = stepSignal(60_000, signal)
    let session: SshSession | undefined
    try {
      session = await ssh.connect(ep, {signal: step.signal})
      const v = await work(session, step.signal)
      access.last = ep.name
      return v
    } catch (err) {
      lastErr = err
      if (signal.aborted) throw err
    } finally {
      session?.close()
      step.dispose()
    }
  }
  throw lastErr
}

/** Names the active node and the targets; everything refusable is refused here (exit 2) before anything changes. */
export async function planUpgrade(cluster: Cluster, ssh: SshContext, req: UpgradeRequest) {
  const provider = await providerFor(cluster)
  const targets = await endpointsFrom(cluster, req.patterns, provider)
  const active = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [activeEp] = await endpointsFor(cluster, [active], provider)
  const step = stepSignal(60_000)
  let members: SwarmMember[]
  let autolock: boolean
  let session: SshSession | undefined
  try {
    session = await ssh.connect(activeEp, {signal: step.signal}).catch((err) => {
      throw new PartialFailure(`cannot reach the manager ${active}: ${oneLine(err)}`)
    })
    members = await readMembers(session, step.signal)
    autolock = (await session.exec(AUTOLOCK_COMMAND, {sudo: true, signal: step.signal})).stdout.trim() === 'true'
  } catch (err) {
    if (err instanceof PartialFailure) throw err
    throw new PartialFailure(`manager ${active}: ${oneLine(err)}`)
  } finally {
    session?.close()
    step.dispose()
  }
  const matched: Target[] = []
  const strangers: string[] = []
  for (const ep of targets) {
    const member = memberOf(ep, members)
    if (member) matched.push({ep, member})
    else strangers.push(ep.name)
  }
  if (strangers.length) {
    throw new UsageError(`not in the swarm managed by ${active}: ${strangers.slice(0, 5).join(', ')}${strangers.length > 5 ? ', …' : ''}`)
  }
  if (!managersHealthy(members)) {
    const bad = members.filter((m) => m.role === 'manager' && (m.reachability !== 'reachable' || m.state !== 'ready')).map((m) => m.hostname)
    throw new PartialFailure(`not every manager is Reachable (${bad.join(', ') || 'no leader'}); belt upgrade starts only on a whole swarm`)
  }
  // Every manager of the cluster, to reach the swarm through while one restarts.
  const managerNames = members.filter((m) => m.role === 'manager').map((m) => m.hostname)
  const known = new Set((await provider.list()).map((n) => n.name))
  const managers = await endpointsFor(cluster, managerNames.filter((n) => known.has(n)), provider)
  return {targets: matched, access: {managers, last: active} as SwarmAccess, autolock}
}

export type UpgradePlan = Awaited<ReturnType<typeof planUpgrade>>

export async function runUpgrade(cluster: Cluster, ssh: SshContext, plan: UpgradePlan, req: UpgradeRequest,
  hooks: FleetHooks = {}): Promise<UpgradeReport> {
  const target = req.version ?? 'restart'
  const verb = req.version ? 'upgraded' : 'restarted'
  const url = cluster.settings.engine_install_url ? cluster.settings.engine_install_url : null
  const notes: string[] = []
  const record = cluster.state.read().upgrade
  const done = new Set(record?.target === target ? record.done : [])
  cluster.state.update((s) => {
    s.upgrade = {target, at: record?.target === target ? record.at : new Date().toISOString(), done: [...done]}
  })
  const byName = new Map(plan.targets.map((t) => [t.ep.name, t]))
  const nodes: RolloutNode[] = plan.targets.map((t) => ({name: t.ep.name, role: t.member.role, leader: t.member.leader, engine: t.member.engine}))
  const rollout = planRollout(nodes, req.batch, {version: req.version, done})
  const rows: HostOutcome[] = rollout.skipped.map((s) => ({name: s.name, outcome: 'already'}))
  for (const s of rollout.skipped) hooks.notice?.(`${s.name}: skipped (${s.why})`)
  if (plan.autolock) {
    notes.push('this swarm is autolocked: a restarted manager stays locked until someone runs docker swarm unlock on it '
      + '(with the key from docker swarm unlock-key on another manager); belt waits for that before the next manager')
  }
  const report: UpgradeReport['nodes'] = []
  let failures = 0
  const scope = onInterrupt()
  const stopWhy = () => (scope.signal.aborted ? 'not started (interrupted)'
    : `not started: the upgrade stopped after ${failures} failure(s); fix the cause and re-run the same command to continue`)
  const one = async (name: string) => {
    const t = byName.get(name)!
    try {
      const to = await upgradeNode(ssh, plan, t, req, url, scope.signal, hooks)
      rows.push({name, outcome: verb})
      report.push({name, role: t.member.role, from: t.member.engine, to})
      cluster.state.update((s) => {
        if (s.upgrade?.target === target && !s.upgrade.done.includes(name)) s.upgrade.done.push(name)
      })
      hooks.notice?.(`${name}: ${verb}${req.version ? ` (${t.member.engine} → ${to})` : ''}`)
    } catch (err) {
      failures++
      rows.push({name, outcome: 'failed', error: oneLine(err)})
      report.push({name, role: t.member.role, from: t.member.engine, to: null})
      hooks.notice?.(`${name}: failed: ${oneLine(err)}`)
    }
  }
  const halted = () => scope.signal.aborted || failures >= req.maxFailures
  try {
    for (const batch of rollout.workerBatches) {
      if (halted()) {
        for (const name of batch) rows.push({name, outcome: 'failed', error: stopWhy()})
        continue
      }
      hooks.notice?.(`workers: ${batch.join(', ')}`)
      const limit = pLimit(batch.length)
      await Promise.all(batch.map((name) => limit(() => one(name))))
    }
    const left = [...rollout.managers]
    while (left.length) {
      if (halted()) {
        for (const name of left) rows.push({name, outcome: 'failed', error: stopWhy()})
        break
      }
      // The leader now (it may have moved), through any manager; and the swarm whole before the next one.
      const members = await onFirstThatAnswers(ssh, plan.access, null, scope.signal, (s, sig) => readMembers(s, sig)).catch(() => null)
      if (!members || !managersHealthy(members)) {
        failures = Math.max(failures, req.maxFailures)
        for (const name of left) rows.push({name, outcome: 'failed', error: 'not started: not every manager is Reachable; fix the swarm and re-run'})
        break
      }
      const leader = members.find((m) => m.leader)?.hostname ?? null
      const name = nextManager(left, leader)!
      left.splice(left.indexOf(name), 1)
      hooks.notice?.(`manager ${name}${name === leader ? ' (the leader)' : ''}`)
      const before = failures
      await one(name)
      // A manager that failed stops the managers' part whatever --max-failures says: quorum comes first.
      if (failures > before) failures = Math.max(failures, req.maxFailures)
    }
  } finally {
    scope.dispose()
  }
  const result = fleetResult(verb, rows, {notStarted: [], interrupted: scope.interrupted()})
  if (result.failed.length === 0) cluster.state.update((s) => { delete s.upgrade })
  report.sort((a, b) => byNaturalName(a.name, b.name))
  return {...result, target, autolock: plan.autolock, nodes: report, notes}
}

/** One node: drain → install → restart → Ready → availability back. Returns the engine version it runs after. */
async function upgradeNode(ssh: SshContext, plan: UpgradePlan, t: Target, req: UpgradeRequest, url: string | null,
  signal: AbortSignal, hooks: FleetHooks): Promise<string> {
  const name = t.ep.name
  const prev = t.member.availability
  const isManager = t.member.role === 'manager'
  const solo = plan.access.managers.filter((m) => m.name !== name).length === 0
  const viaManager = <T>(work: (s: SshSession, sig: AbortSignal) => Promise<T>) => onFirstThatAnswers(ssh, plan.access, solo ? null : name, signal, work)
  const exec = async (s: SshSession, command: string, sig: AbortSignal, what: string) => {
    const r = await s.exec(command, {sudo: true, signal: sig})
    if (r.code !== 0) throw new Error(`${what}: ${remoteError(r.stderr, r.stdout, r.code)}`)
    return r.stdout
  }
  if (prev !== 'drain') await viaManager((s, sig) => exec(s, availabilityCommand(t.member.id, 'drain'), sig, 'drain'))
  const step = stepSignal(req.nodeTimeoutMs, signal)
  let version: string
  try {
    const session = await ssh.connect(t.ep, {signal: step.signal})
    try {
      if (req.version) {
        const out = await exec(session, installVersionCommand(req.version, url), step.signal, 'install')
        if (out.includes('belt-upgrade: installed')) hooks.notice?.(`${name}: installed Docker ${req.version}`)
      }
      version = (await exec(session, RESTART_AND_REPORT, step.signal, 'restart dockerd')).trim().split('\n').pop() ?? ''
    } finally {
      session.close()
    }
    if (req.version && version !== req.version) throw new Error(`dockerd answers as ${version || 'unknown'} after the install, not ${req.version}`)
    await waitUntilReady(ssh, plan, t, isManager, solo, step.signal, viaManager)
  } catch (err) {
    // A node whose engine did not come back as asked gets no tasks until someone looks at it.
    const left = prev === 'drain' ? '' : ` (left drained; when fixed: belt swarm activate ${name})`
    if (step.timedOut()) throw new Error(`not Ready within ${Math.round(req.nodeTimeoutMs / 1000)} s (${oneLine(err)})${left}`, {cause: err})
    throw new Error(`${oneLine(err)}${left}`, {cause: err})
  } finally {
    step.dispose()
  }
  if (prev !== 'drain') await viaManager((s, sig) => exec(s, availabilityCommand(t.member.id, prev), sig, `availability ${prev}`))
  return version
}

/**
 * Ready as the swarm sees it. A worker: its node is ready in a manager's list. A manager: it answers `docker node ls`
 * itself (it rejoined Raft; a locked one says so) and every manager is Reachable under one leader.
 */
async function waitUntilReady(ssh: SshContext, plan: UpgradePlan, t: Target, isManager: boolean, solo: boolean, signal: AbortSignal,
  viaManager: <T>(work: (s: SshSession, sig: AbortSignal) => Promise<T>) => Promise<T>): Promise<void> {
  let why = 'not yet'
  const r = await poll(async () => {
    try {
      if (isManager) {
        const own = await onFirstThatAnswers(ssh, {managers: [t.ep], last: null}, null, signal, async (s, sig) => {
          const state = (await s.exec("docker info --format '{{.Swarm.LocalNodeState}}'", {sudo: true, signal: sig})).stdout.trim()
          if (state === 'locked') throw new Error('locked (autolock): run docker swarm unlock on it, then belt upgrade again')
          return readMembers(s, sig)
        })
        const members = solo ? own : await viaManager((s, sig) => readMembers(s, sig))
        if (managersHealthy(members) && managersHealthy(own)) return true
        why = 'not every manager is Reachable yet'
        return false
      }
      // Its own dockerd back in the swarm, and the managers seeing it ready (not a heartbeat from before the restart).
      const own = await onFirstThatAnswers(ssh, {managers: [t.ep], last: null}, null, signal,
        async (s, sig) => (await s.exec("docker info --format '{{.Swarm.LocalNodeState}}'", {sudo: true, signal: sig})).stdout.trim())
      if (own !== 'active') return (why = `its swarm state is ${own || 'unknown'}`, false)
      const members = await viaManager((s, sig) => readMembers(s, sig))
      const m = members.find((x) => x.id === t.member.id)
      why = `the swarm shows it ${m?.state ?? 'missing'}`
      return m?.state === 'ready'
    } catch (err) {
      why = oneLine(err)
      if (/locked \(autolock\)/.test(why)) throw err
      return false
    }
  }, {done: (ok) => ok, timeoutMs: 24 * 3_600_000, intervalMs: 500, growth: 1.5, maxIntervalMs: 3000, signal})
  if (!r.reached) throw new Error(why)
}
