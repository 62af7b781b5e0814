// Joining at boot (CONTRACT §11): read the worker token and every manager address once (prepareBootJoin, one SSH
// connection), hand providers a user data per create request (user-data.ts), then watch the swarm through one
// manager connection until every expected node is Ready (bootJoinWave): no cloud polling and no SSH to the nodes
// meanwhile. Nodes that never appear fail with where to look, or are joined over SSH (--fallback ssh); a name that
// appears twice loses its Down duplicate; then the worker token is rotated — by the last boot-join wave of the
// cluster to finish (waves are recorded in state.json). The token lives only in closures here: not in a returned
// property, nor in state, logs or errors (registerSecret scrubs it from every message).
import {hostname} from 'node:os'
import {randomBytes} from 'node:crypto'
import {ensureClusterDir, type Cluster} from '../core/config/cluster.js'
import type {StateData} from '../core/config/state.js'
import {UsageError} from '../core/errors.js'
import {redact} from '../core/redact.js'
import {sleep} from '../core/wait.js'
import type {Failure, SshEndpoint} from '../providers/provider.js'
import {formatSeconds, oneLine} from '../ssh/fleet.js'
import {shellQuote} from '../ssh/quote.js'
import {endpointsFor} from '../ssh/targets.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {byNaturalName, type FleetHooks} from '../ssh/fleet-result.js'
import {joinNodes, managerAddress, onManager, readManager, remoteError, SwarmError} from './swarm.js'
import {
  BOOT_LOG, bootUserData, checkUserDataSize, DEFAULT_DEADLINE_SECONDS, printableUserData, type NameSource,
} from './user-data.js'

export interface BootJoinOptions {
  /** Bound on the manager read (connection included). */
  timeoutMs: number
  signal?: AbortSignal
  /** The script's own deadline from boot (default 15 min). */
  deadlineSeconds?: number
}

/** What prepareBootJoin read, and the user data it renders. Holds no token in any property. */
export interface BootJoinPrepared {
  manager: string
  /** host:port of every manager; the one read first. */
  managers: string[]
  deadlineSeconds: number
  /** The wave's record in state.json (bootJoinWave or abandonBootJoin removes it). */
  waveId: string
  /** The user data of one create request (CreateOptions.userData). Holds the token. */
  userData: (names: string[]) => string
  /** The same with the token redacted (--print-command). */
  printable: (names: string[]) => string
  /** Refuse (exit 2) user data over the cloud's limit for these names, before anything is created. */
  checkSize: (names: string[]) => void
  /** One token-free line: "nodes join the swarm of mg0 at boot (managers 10.0.0.5:2377, …; deadline 15m)". */
  description: string
}

function nameSource(cluster: Cluster, names: string[]): NameSource {
  switch (cluster.driver) {
    case 'digitalocean': return {kind: 'hostname'}
    case 'ec2': return {kind: 'launch-index', names}
    case 'local':
      if (names.length !== 1) throw new Error('a local host gets its own user data')
      return {kind: 'given', name: names[0]}
    default: throw new UsageError(`joining at boot needs a driver that creates nodes (digitalocean, ec2, local), not ${cluster.driver}`)
  }
}

/** Read the manager once (one SSH connection) and record the wave; the returned user data joins nodes to its swarm. */
export async function prepareBootJoin(cluster: Cluster, ssh: SshContext, managerEp: SshEndpoint, o: BootJoinOptions): Promise<BootJoinPrepared> {
  if (cluster.driver === 'generic') nameSource(cluster, [])
  const own = (cluster.settings as {user_data?: string}).user_data
  if (cluster.driver === 'local' && own?.trim() && !own.startsWith('#!')) {
    throw new UsageError('local: user_data must be a #! script (local hosts have no cloud-init)')
  }
  const slow = `no answer within ${formatSeconds(o.timeoutMs)} while reading its swarm state and worker join token`
  const facts = await onManager(ssh, managerEp, {timeoutMs: o.timeoutMs, signal: o.signal ?? new AbortController().signal, slow},
    (s, signal) => readManager(s, 'worker', signal))
  const first = managerAddress(managerEp, facts.info)
  const others = facts.info.managers.filter((m) => m.id !== facts.info.nodeId && m.addr).map((m) => m.addr)
  const managers = [...new Set([first, ...others])]
  const token = facts.token
  const deadlineSeconds = o.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS
  const settings = cluster.settings as {engine_install: boolean; engine_install_url: string}
  const render = (names: string[]) => bootUserData({
    names: nameSource(cluster, names), managers, token, deadlineSeconds, userData: own,
    engineInstallUrl: settings.engine_install ? settings.engine_install_url : null,
  })
  const limit = cluster.driver === 'ec2' ? 'ec2' : 'digitalocean'
  const batch = cluster.driver === 'ec2' ? (cluster.settings as {batch_size: number}).batch_size : cluster.driver === 'local' ? 1 : 10
  const waveId = startWave(cluster, o.timeoutMs)
  return {
    manager: managerEp.name,
    managers,
    deadlineSeconds,
    waveId,
    userData: render,
    printable: (names) => printableUserData(render(names), token),
    checkSize: (names) => {
      for (let i = 0; i < names.length; i += batch) checkUserDataSize(render(names.slice(i, i + batch)), limit)
    },
    description: `nodes join the swarm of ${managerEp.name} by themselves at boot (managers ${managers.join(', ')}; ` +
      `deadline ${formatSeconds(deadlineSeconds * 1000)} from boot)`,
  }
}

// ------------------------------------------------------------------------------------------------------- watch --

export interface WaveOptions {
  /** Every name expected to join (created by this wave, or existing ones that should be in the swarm). */
  names: string[]
  /** The whole watch; raised to the script's deadline when shorter. */
  timeoutMs: number
  fallback: 'ssh' | null
  rotate: boolean
  /** SSH fallback: hosts at once. */
  concurrency: number
  signal?: AbortSignal
  onProgress?: (message: string) => void
  /** Fallback fleet progress. */
  hooks?: FleetHooks
  /** First and longest poll interval (default 2 s and 10 s). */
  pollMs?: {first: number; max: number}
}

export interface WaveResult {
  manager: string
  joined: string[]
  /** Of `joined`: those the SSH fallback joined. */
  viaSsh: string[]
  failed: Failure[]
  /** Down duplicates removed from the swarm (`name (id)`). */
  duplicatesRemoved: string[]
  rotated: boolean
  /** Why the token was not rotated, when it was not. */
  rotateNote: string | null
  interrupted: boolean
  /** SSH connections this wave opened to the manager (the fallback's to the nodes not counted). */
  managerConnections: number
}

interface ListedNode {
  id: string
  hostname: string
  status: string
}

/** One line per node; Status is Ready, Down, Unknown or Disconnected. */
export const WATCH_COMMAND = `docker node ls --format '{{.ID}} {{.Hostname}} {{.Status}}'`

export function parseNodeLs(stdout: string): ListedNode[] {
  const out: ListedNode[] = []
  for (const line of stdout.split('\n')) {
    const [id, host, status] = line.trim().split(' ')
    if (id && host) out.push({id, hostname: host, status: (status ?? '').toLowerCase()})
  }
  return out
}

/** Which expected names are Ready, and the Down duplicates of names that are Ready. */
export function readiness(nodes: ListedNode[], expected: Set<string>): {ready: Set<string>; seen: Map<string, string[]>; duplicates: ListedNode[]} {
  const seen = new Map<string, string[]>()
  const byHost = new Map<string, ListedNode[]>()
  for (const n of nodes) {
    if (!expected.has(n.hostname)) continue
    byHost.set(n.hostname, [...(byHost.get(n.hostname) ?? []), n])
  }
  const ready = new Set<string>()
  const duplicates: ListedNode[] = []
  for (const [host, list] of byHost) {
    seen.set(host, list.map((n) => n.status))
    if (list.some((n) => n.status === 'ready')) {
      ready.add(host)
      if (list.length > 1) duplicates.push(...list.filter((n) => n.status === 'down'))
    }
  }
  return {ready, seen, duplicates}
}

/**
 * Watch the swarm through one manager connection until every name is Ready or the time is up; then the SSH fallback
 * for the missing (when asked), the Down duplicates removed, and the token rotated (when this is the last wave).
 */
export async function bootJoinWave(cluster: Cluster, ssh: SshContext, managerEp: SshEndpoint, prepared: BootJoinPrepared,
  o: WaveOptions): Promise<WaveResult> {
  const expected = new Set(o.names)
  const timeoutMs = Math.max(o.timeoutMs, prepared.deadlineSeconds * 1000)
  const deadline = Date.now() + timeoutMs
  const poll = o.pollMs ?? {first: 2000, max: 10_000}
  const result: WaveResult = {
    manager: managerEp.name, joined: [], viaSsh: [], failed: [], duplicatesRemoved: [], rotated: false, rotateNote: null,
    interrupted: false, managerConnections: 0,
  }
  let session: SshSession | null = null
  const connect = async (): Promise<SshSession> => {
    if (session) return session
    result.managerConnections++
    session = await ssh.connect(managerEp, {signal: o.signal, timeoutMs: 60_000})
    void session.closed.then(() => { session = null })
    return session
  }
  let state = {ready: new Set<string>(), seen: new Map<string, string[]>(), duplicates: [] as ListedNode[]}
  let lastError: string | null = null
  try {
    let delay = poll.first
    let shown = -1
    let shownAt = 0
    while (expected.size > 0) {
      if (o.signal?.aborted) {
        result.interrupted = true
        break
      }
      try {
        const s = await connect()
        const r = await s.exec(WATCH_COMMAND, {sudo: true, signal: o.signal, maxOutputBytes: 64 * 1024 * 1024})
        if (r.code !== 0) throw new SwarmError(remoteError(r.stderr, r.stdout, r.code))
        const before = state.ready.size
        state = readiness(parseNodeLs(r.stdout), expected)
        lastError = null
        delay = state.ready.size > before ? poll.first : Math.min(poll.max, Math.round(delay * 1.5))
      } catch (err) {
        if (o.signal?.aborted) continue
        lastError = oneLine(err)
        ;(session as SshSession | null)?.close()
        session = null
        delay = Math.min(poll.max, Math.round(delay * 1.5))
      }
      if (state.ready.size !== shown || Date.now() - shownAt > 30_000) {
        o.onProgress?.(`ready ${state.ready.size}/${expected.size}${lastError ? ` (manager ${managerEp.name}: ${lastError})` : ''}`)
        shown = state.ready.size
        shownAt = Date.now()
      }
      if (state.ready.size === expected.size || Date.now() >= deadline) break
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), o.signal)
    }
    result.joined = o.names.filter((n) => state.ready.has(n))
    const missing = o.names.filter((n) => !state.ready.has(n))
    const why = (name: string) => missingReason(state.seen.get(name), managerEp.name, timeoutMs, result.interrupted, lastError)
    if (missing.length && o.fallback === 'ssh' && !result.interrupted) {
      o.onProgress?.(`joining ${missing.length} node(s) that did not join by themselves over SSH (--fallback ssh)`)
      const fb = await sshFallback(cluster, ssh, managerEp, missing, o)
      result.viaSsh = fb.joined
      result.joined.push(...fb.joined)
      result.failed.push(...fb.failed.map((f) => ({name: f.name, error: `${why(f.name)}; over SSH: ${f.error}`})))
      result.managerConnections++
    } else {
      result.failed.push(...missing.map((name) => ({name, error: why(name)})))
    }
    result.failed.sort((a, b) => byNaturalName(a.name, b.name))
    if (state.duplicates.length && !result.interrupted) {
      result.duplicatesRemoved = await removeDuplicates(await connect(), state.duplicates, o.signal)
    }
  } finally {
    const rotate = await finishWave(cluster, prepared.waveId, o.rotate && !result.interrupted)
    if (rotate.rotate) {
      try {
        await rotateWorkerToken(await connect(), o.signal)
        result.rotated = true
      } catch (err) {
        result.rotateNote = `could not rotate the worker join token on ${managerEp.name}: ${oneLine(err)}; run: belt docker ${managerEp.name} swarm join-token --rotate worker`
      }
    } else result.rotateNote = rotate.note
    ;(session as SshSession | null)?.close()
  }
  return result
}

function missingReason(statuses: string[] | undefined, manager: string, timeoutMs: number, interrupted: boolean,
  lastError: string | null): string {
  if (statuses?.length) return `in the swarm but ${statuses.join('/')} after ${formatSeconds(timeoutMs)} (docker node ls on ${manager})`
  // No name in the reason: 2,000 nodes that did not join are one line (ui groups failures by reason).
  const where = `its boot log is ${BOOT_LOG} on the node (belt ssh NODE tail -n 30 ${BOOT_LOG})`
  if (interrupted) return `not seen in the swarm before the interruption; ${where}`
  if (lastError) return `not seen in the swarm; the manager ${manager} could not be read (${lastError})`
  return `did not join within ${formatSeconds(timeoutMs)}; ${where}`
}

async function sshFallback(cluster: Cluster, ssh: SshContext, managerEp: SshEndpoint, names: string[], o: WaveOptions) {
  let targets: SshEndpoint[]
  try {
    targets = await endpointsFor(cluster, names)
  } catch (err) {
    return {joined: [] as string[], failed: names.map((name) => ({name, error: oneLine(err)}))}
  }
  const plan = {manager: managerEp.name, role: 'worker' as const, names, nothing: null, managerEp, targets, earlier: []}
  const r = await joinNodes(cluster, ssh, plan, {timeoutMs: 120_000, concurrency: o.concurrency}, o.hooks)
  return {joined: [...r.ok, ...r.already], failed: r.failed}
}

async function removeDuplicates(session: SshSession, nodes: ListedNode[], signal?: AbortSignal): Promise<string[]> {
  const r = await session.exec(`docker node rm ${nodes.map((n) => shellQuote(n.id)).join(' ')}`, {sudo: true, signal})
  if (r.code !== 0) return []
  return nodes.map((n) => `${n.hostname} (${n.id.slice(0, 12)})`)
}

export const ROTATE_COMMAND = 'docker swarm join-token --rotate -q worker >/dev/null && echo belt-rotated'

async function rotateWorkerToken(session: SshSession, signal?: AbortSignal): Promise<void> {
  const r = await session.exec(ROTATE_COMMAND, {sudo: true, signal})
  if (r.code !== 0 || !r.stdout.includes('belt-rotated')) throw new SwarmError(redact(remoteError(r.stderr, '', r.code)))
}

// -------------------------------------------------------------------------------------------------- waves --

/** A boot-join wave in state.json: who watches it, and until when it may (another machine's pid cannot be checked). */
export interface WaveRecord {
  id: string
  host: string
  pid: number
  started_at: string
  expires_at: string
}

interface BootJoinState {
  waves: WaveRecord[]
  /** A wave that wanted to rotate finished while others were still watching: the last one rotates. */
  rotate_pending?: boolean
}

function bootState(s: StateData): BootJoinState {
  const b = (s.boot_join ?? {waves: []}) as BootJoinState
  s.boot_join = b
  return b
}

function waveAlive(w: WaveRecord, now: number): boolean {
  if (Date.parse(w.expires_at) < now) return false
  if (w.host !== hostname()) return true
  try {
    process.kill(w.pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function startWave(cluster: Cluster, timeoutMs: number): string {
  const id = randomBytes(6).toString('hex')
  const now = Date.now()
  // Creates come first, then the watch (at least the script's deadline): a generous lease; the pid decides locally.
  const expires = new Date(now + Math.max(timeoutMs, DEFAULT_DEADLINE_SECONDS * 1000) + 6 * 3600_000).toISOString()
  ensureClusterDir(cluster)
  cluster.state.update((s) => {
    const b = bootState(s)
    b.waves = b.waves.filter((w) => waveAlive(w, now))
    b.waves.push({id, host: hostname(), pid: process.pid, started_at: new Date(now).toISOString(), expires_at: expires})
  })
  return id
}

/** End this wave; rotate when it is the last one watching and this or an earlier wave asked for it. */
export async function finishWave(cluster: Cluster, waveId: string, wantRotate: boolean): Promise<{rotate: boolean; note: string | null}> {
  let out: {rotate: boolean; note: string | null} = {rotate: false, note: null}
  const now = Date.now()
  const err = cluster.state.tryUpdate((s) => {
    const b = bootState(s)
    b.waves = b.waves.filter((w) => w.id !== waveId && waveAlive(w, now))
    if (b.waves.length > 0) {
      if (wantRotate) b.rotate_pending = true
      out = {rotate: false, note: wantRotate ? `not rotated yet: ${b.waves.length} other boot-join wave(s) of this cluster are still joining; the last one to finish rotates` : 'not rotated (--no-rotate)'}
      return
    }
    const rotate = wantRotate || Boolean(b.rotate_pending)
    delete s.boot_join
    out = {rotate, note: rotate ? null : 'not rotated (--no-rotate)'}
  })
  if (err) return {rotate: wantRotate, note: null}
  return out
}

/** A prepared wave that never started watching (the create failed first): forget it without rotating. */
export async function abandonBootJoin(cluster: Cluster, prepared: BootJoinPrepared): Promise<void> {
  await finishWave(cluster, prepared.waveId, false)
}
