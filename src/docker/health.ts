// The swarm's health as `belt status` shows it: what one manager says about the swarm (docker info's Swarm block and
// docker node ls, read in one exec), turned into leader, managers and quorum, node counts, engine versions and drift
// between the cloud and the swarm (CONTRACT §12). The managers tried are the active node, then the managers state.json
// recorded at the last reading, then those a worker names: the next one when one does not answer. `--wait ready=N`
// polls through the same connection (no cloud polling while it watches). Nothing here prints.
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {poll} from '../core/wait.js'
import type {NodeInfo, SshEndpoint} from '../providers/provider.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {byNaturalName, type FleetFailure} from '../ssh/fleet-result.js'
import {remoteError} from './swarm.js'

// ------------------------------------------------------------------------------------------- the remote read --

/**
 * One exec on a node: docker info's Swarm block as JSON, then — on a manager — every node as docker node ls sees it.
 * `docker node ls` fails on a manager of a swarm without a leader (quorum lost): exit 5, docker's message on stderr.
 */
export const SWARM_HEALTH_COMMAND = [
  `i=$(docker info --format '{{json .Swarm}}') || exit 4`,
  `printf '%s\\n' "$i"`,
  `case "$i" in *'"ControlAvailable":true'*) docker node ls --format '{{json .}}' || exit 5;; esac`,
].join('\n')

/** Addresses of swarm nodes by id: only asked for when hostnames leave belt nodes unmatched (generic hosts). */
export function nodeAddressCommand(ids: string[]): string {
  return `docker node inspect --format '{{.ID}} {{.Status.Addr}}' ${ids.map((id) => `'${id.replace(/[^A-Za-z0-9]/g, '')}'`).join(' ')}`
}

/** docker info's Swarm block: the fields belt reads. */
export interface SwarmInfoBlock {
  NodeID: string
  NodeAddr: string
  LocalNodeState: string
  ControlAvailable: boolean
  Error: string
  RemoteManagers: {NodeID: string; Addr: string}[] | null
  Managers?: number
  Nodes?: number
  Cluster?: {ID?: string} | null
}

/** One node as docker node ls shows it, lower-cased. `manager` is '' for a worker. */
export interface SwarmNodeRow {
  id: string
  hostname: string
  /** ready | down | unknown | disconnected */
  status: string
  /** active | pause | drain */
  availability: string
  /** leader | reachable | unreachable | '' */
  manager: string
  engine: string
  /** Filled by the address lookup only. */
  addr?: string
}

export interface SwarmReading {
  info: SwarmInfoBlock
  /** null when the node is not a manager, or its swarm has no leader. */
  nodes: SwarmNodeRow[] | null
  /** docker's message when a manager could not list the nodes (no leader: quorum lost). */
  listError: string | null
}

/** A node's answer that is no reading (docker not answering, output not understood): try the next manager. */
export class HealthReadError extends Error {}

export function parseNodeRow(line: string): SwarmNodeRow {
  const j = JSON.parse(line) as Record<string, unknown>
  const s = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : '')
  const manager = s('ManagerStatus').toLowerCase()
  return {
    id: s('ID'), hostname: s('Hostname'), status: s('Status').toLowerCase(), availability: s('Availability').toLowerCase(),
    manager, engine: s('EngineVersion'),
  }
}

export function parseReading(stdout: string, stderr: string, code: number | null): SwarmReading {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  if (code === 4 || lines.length === 0) throw new HealthReadError(`docker info failed: ${remoteError(stderr, stdout, code)}`)
  let info: SwarmInfoBlock
  try {
    info = JSON.parse(lines[0]) as SwarmInfoBlock
  } catch {
    throw new HealthReadError(`docker info printed no JSON: ${oneLine(lines[0].slice(0, 200))}`)
  }
  if (code === 5) return {info, nodes: null, listError: remoteError(stderr, '', code)}
  if (code !== 0) throw new HealthReadError(remoteError(stderr, stdout, code))
  if (!info.ControlAvailable) return {info, nodes: null, listError: null}
  return {info, nodes: lines.slice(1).map(parseNodeRow), listError: null}
}

// ------------------------------------------------------------------------------------------- the health math --

export interface Quorum {
  holds: boolean
  /** Further manager failures the swarm survives. */
  tolerates: number
  /** Managers that must be reachable: a majority. */
  needs: number
}

/** Raft: a majority of the managers must be reachable (3 → 2, 5 → 3); what is left above it is tolerated. */
export function quorumOf(total: number, reachable: number): Quorum {
  const needs = Math.floor(total / 2) + 1
  const holds = total > 0 && reachable >= needs
  return {holds, tolerates: holds ? reachable - needs : 0, needs}
}

/** The swarm as `status --json` shows it (CONTRACT §12); null where the manager could not tell (no leader). */
export interface SwarmHealth {
  id: string | null
  leader: string | null
  managers: {total: number; reachable: number | null; unreachable: string[] | null}
  quorum: {holds: boolean; tolerates: number}
  /** ready: status Ready; down: every other status (down, unknown, disconnected); drain: availability drain. */
  nodes: {ready: number | null; down: number | null; drain: number | null}
  engine_versions: Record<string, number>
  drift: {not_in_swarm: string[] | null; unknown_to_belt: string[] | null}
}

/** SwarmHealth plus what the terminal view shows beside it. */
export interface SwarmView {
  swarm: SwarmHealth
  /** The manager that answered. */
  through: string
  /** Swarm nodes; null when unknown. */
  total: number | null
  byStatus: Record<string, number>
  byAvailability: Record<string, number>
  /** Managers needed for quorum. */
  needs: number
  /** docker's message when the nodes could not be listed. */
  listError: string | null
  /** Quorum holds and every manager is reachable. */
  healthy: boolean
}

/** A belt node as drift sees it: its name and the addresses a swarm node may report. */
export interface KnownNode {
  name: string
  addresses: string[]
}

export function knownNodes(nodes: NodeInfo[]): KnownNode[] {
  return nodes.filter((n) => n.status !== 'gone')
    .map((n) => ({name: n.name, addresses: [n.private_ip, n.public_ip].filter((a): a is string => Boolean(a))}))
}

/**
 * Which belt node each swarm node is: by hostname (belt names hosts after nodes), else by address. Returns swarm
 * node id → belt name.
 */
export function matchBelt(rows: SwarmNodeRow[], belt: KnownNode[]): Map<string, string> {
  const names = new Set(belt.map((b) => b.name))
  const byAddr = new Map<string, string>()
  for (const b of belt) for (const a of b.addresses) byAddr.set(a, b.name)
  const matched = new Map<string, string>()
  for (const r of rows) {
    if (names.has(r.hostname)) matched.set(r.id, r.hostname)
    else if (r.addr && byAddr.has(r.addr)) matched.set(r.id, byAddr.get(r.addr)!)
  }
  return matched
}

function tally(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1
  return counts
}

/** The health of one reading, against the nodes the cloud lists for the cluster. */
export function computeHealth(reading: SwarmReading, belt: KnownNode[], through: string): SwarmView {
  const info = reading.info
  const id = info.Cluster?.ID || null
  const rows = reading.nodes
  if (!rows) {
    // A manager of a swarm without a leader: the managers it knows, nothing it can tell about their reachability.
    const total = info.Managers ?? info.RemoteManagers?.length ?? 0
    return {
      swarm: {
        id, leader: null, managers: {total, reachable: null, unreachable: null}, quorum: {holds: false, tolerates: 0},
        nodes: {ready: null, down: null, drain: null}, engine_versions: {}, drift: {not_in_swarm: null, unknown_to_belt: null},
      },
      through, total: info.Nodes ?? null, byStatus: {}, byAvailability: {}, needs: quorumOf(total, 0).needs,
      listError: reading.listError, healthy: false,
    }
  }
  const matched = matchBelt(rows, belt)
  const shown = (r: SwarmNodeRow) => matched.get(r.id) ?? r.hostname
  const managers = rows.filter((r) => r.manager !== '')
  const reachable = managers.filter((r) => r.manager === 'leader' || r.manager === 'reachable')
  const unreachable = managers.filter((r) => !reachable.includes(r)).map(shown).sort(byNaturalName)
  const leader = managers.find((r) => r.manager === 'leader')
  const q = quorumOf(managers.length, reachable.length)
  const holds = q.holds && leader !== undefined
  const inSwarm = new Set(matched.values())
  const engines = tally(rows.map((r) => r.engine || 'unknown'))
  const sortedEngines = Object.fromEntries(Object.entries(engines).sort(([a], [b]) => b.localeCompare(a, 'en', {numeric: true})))
  return {
    swarm: {
      id,
      leader: leader ? shown(leader) : null,
      managers: {total: managers.length, reachable: reachable.length, unreachable},
      quorum: {holds, tolerates: holds ? q.tolerates : 0},
      nodes: {
        ready: rows.filter((r) => r.status === 'ready').length,
        down: rows.filter((r) => r.status !== 'ready').length,
        drain: rows.filter((r) => r.availability === 'drain').length,
      },
      engine_versions: sortedEngines,
      drift: {
        not_in_swarm: belt.map((b) => b.name).filter((n) => !inSwarm.has(n)).sort(byNaturalName),
        unknown_to_belt: [...new Set(rows.filter((r) => !matched.has(r.id)).map((r) => r.hostname))].sort(byNaturalName),
      },
    },
    through,
    total: rows.length,
    byStatus: tally(rows.map((r) => r.status)),
    byAvailability: tally(rows.map((r) => r.availability)),
    needs: q.needs,
    listError: null,
    healthy: holds && unreachable.length === 0,
  }
}

/** The managers of a reading as belt names (what state.json keeps for the next run). */
export function managerNames(reading: SwarmReading, belt: KnownNode[]): string[] {
  if (!reading.nodes) return []
  const matched = matchBelt(reading.nodes, belt)
  return reading.nodes.filter((r) => r.manager !== '' && matched.has(r.id)).map((r) => matched.get(r.id)!).sort(byNaturalName)
}

// ------------------------------------------------------------------------------------ one manager connection --

export type SwarmAnswer =
  | {kind: 'read'; manager: string; reading: SwarmReading}
  /** Every node that answered is in no swarm. */
  | {kind: 'none'}
  /** No node answered with a reading: why, per node. */
  | {kind: 'unreadable'}

export interface ManagerLinkOptions {
  /** Time for one node: login and the read together. */
  stepMs: number
}

/**
 * The connection `status` reads the swarm through: kept open between reads (--wait), and moved to the next candidate
 * when a node does not answer, answers as a worker (its managers become candidates) or is in no swarm.
 */
export class ManagerLink {
  private session: SshSession | null = null
  /** Why nodes did not answer, by name: the last failure of each, kept for the output. */
  readonly failures = new Map<string, string>()

  constructor(private readonly ssh: SshContext, private readonly candidates: SshEndpoint[],
    private readonly byAddress: (addr: string) => SshEndpoint | undefined, private readonly o: ManagerLinkOptions) {}

  get failed(): FleetFailure[] {
    return [...this.failures].map(([name, error]) => ({name, error})).sort((a, b) => byNaturalName(a.name, b.name))
  }

  async read(signal?: AbortSignal): Promise<SwarmAnswer> {
    if (this.session) {
      const s = this.session
      try {
        const reading = await this.readOn(s, signal)
        if (reading.info.LocalNodeState === 'active' && reading.info.ControlAvailable) return {kind: 'read', manager: s.endpoint.name, reading}
      } catch (err) {
        this.failures.set(s.endpoint.name, oneLine(err))
      }
      this.drop()
    }
    const queue = [...this.candidates]
    const seen = new Set<string>()
    let none = false
    while (queue.length) {
      const ep = queue.shift()!
      if (seen.has(ep.name)) continue
      seen.add(ep.name)
      if (signal?.aborted) break
      const step = stepSignal(this.o.stepMs, signal)
      let session: SshSession | undefined
      try {
        session = await this.ssh.connect(ep, {signal: step.signal})
        const reading = await this.readOn(session, step.signal)
        const state = reading.info.LocalNodeState
        if (state === 'inactive') {
          none = true
          continue
        }
        if (state === 'active' && !reading.info.ControlAvailable) {
          // A worker: it knows its managers' addresses.
          for (const m of reading.info.RemoteManagers ?? []) {
            const next = this.byAddress(m.Addr.replace(/:\d+$/, ''))
            if (next) queue.push(next)
          }
          continue
        }
        if (state !== 'active') {
          this.failures.set(ep.name, `swarm state '${state}'${reading.info.Error ? `: ${reading.info.Error}` : ''}`)
          continue
        }
        this.failures.delete(ep.name)
        this.session = session
        session = undefined
        return {kind: 'read', manager: ep.name, reading}
      } catch (err) {
        this.failures.set(ep.name, step.timedOut() ? `no answer within ${this.o.stepMs / 1000}s` : oneLine(err))
      } finally {
        session?.close()
        step.dispose()
      }
    }
    // In no swarm only when every node asked answered so; a silent one may be the swarm's manager.
    return none && this.failures.size === 0 ? {kind: 'none'} : {kind: 'unreadable'}
  }

  /** Addresses for swarm nodes whose hostname is no belt name, through the open connection. */
  async addresses(ids: string[], signal?: AbortSignal): Promise<Map<string, string>> {
    const found = new Map<string, string>()
    if (!this.session || ids.length === 0) return found
    const r = await this.session.exec(nodeAddressCommand(ids), {sudo: true, signal, maxOutputBytes: 4 * 1024 * 1024})
    for (const line of r.stdout.split('\n')) {
      const [id, addr] = line.trim().split(' ')
      if (id && addr) found.set(id, addr)
    }
    return found
  }

  private async readOn(s: SshSession, signal?: AbortSignal): Promise<SwarmReading> {
    const r = await s.exec(SWARM_HEALTH_COMMAND, {sudo: true, signal, maxOutputBytes: 64 * 1024 * 1024})
    return parseReading(r.stdout, r.stderr, r.code)
  }

  private drop(): void {
    this.session?.close()
    this.session = null
  }

  close(): void {
    this.drop()
  }
}

// ------------------------------------------------------------------------------------------------ the operation --

export interface SwarmStatusOptions {
  /** --wait ready=N: poll until at least N swarm nodes are Ready. */
  ready?: number
  timeoutMs: number
  signal?: AbortSignal
  /** Each reading while waiting (progress). */
  onWaiting?: (ready: number | null) => void
}

export interface SwarmStatusResult {
  /** null: no swarm (no manager known, or every node asked is in none). */
  view: SwarmView | null
  /** The nodes asked first (the active node, the recorded managers); empty: no swarm is known. */
  asked: string[]
  /** Nodes that did not answer (also when another one did). */
  failed: FleetFailure[]
  /** No node answered with a reading although a swarm is known. */
  unreadable: boolean
  /** --wait reached (true without --wait). */
  reached: boolean
  interrupted: boolean
}

const STEP_MS = 30_000

/**
 * The swarm's health through one manager: the active node first, then the managers recorded in state.json. The
 * cloud listing `nodes` (made once by the caller) gives both the endpoints and the drift. The managers seen are
 * recorded for the next run.
 */
export async function swarmStatus(cluster: Cluster, ssh: SshContext, nodes: NodeInfo[], endpoints: SshEndpoint[],
  o: SwarmStatusOptions): Promise<SwarmStatusResult> {
  const state = cluster.state.read()
  const byName = new Map(endpoints.map((e) => [e.name, e]))
  const wanted = [...new Set([state.active_node, ...(state.swarm_managers ?? [])].filter((n): n is string => Boolean(n)))]
  const candidates = wanted.map((n) => byName.get(n)).filter((e): e is SshEndpoint => e !== undefined)
  const none: SwarmStatusResult = {view: null, asked: [], failed: [], unreadable: false, reached: o.ready === undefined, interrupted: false}
  if (candidates.length === 0) {
    if (o.ready !== undefined) throw new UsageError(`--wait ready=${o.ready}: cluster '${cluster.name}' has no active node to read the swarm through (belt swarm init MANAGER, or belt active MANAGER)`)
    return none
  }
  const byAddress = (addr: string) => endpoints.find((e) => e.private_ip === addr || e.public_ip === addr || e.host === addr)
  const link = new ManagerLink(ssh, candidates, byAddress, {stepMs: Math.min(STEP_MS, o.timeoutMs)})
  const belt = knownNodes(nodes)
  try {
    let answer: SwarmAnswer
    let reached = true
    let interrupted = false
    if (o.ready === undefined) answer = await link.read(o.signal)
    else {
      const want = o.ready
      const r = await poll<SwarmAnswer>((signal) => link.read(signal), {
        done: (a) => readyCount(a) >= want, timeoutMs: o.timeoutMs, signal: o.signal, intervalMs: 1000, growth: 1.5, maxIntervalMs: 5000,
        onEach: (a) => o.onWaiting?.(a.kind === 'read' ? readyCount(a) : null),
      })
      answer = r.last ?? {kind: 'unreadable'}
      reached = r.reached
      interrupted = r.interrupted
    }
    if (answer.kind !== 'read') {
      return {view: null, asked: candidates.map((c) => c.name), failed: link.failed, unreadable: answer.kind === 'unreadable', reached, interrupted}
    }
    const reading = answer.reading
    if (reading.nodes) {
      // Generic hosts may have any hostname: match the rest by address (one more exec, only then).
      const names = new Set(belt.map((b) => b.name))
      const unmatchedRows = reading.nodes.filter((r) => !names.has(r.hostname))
      const hostnames = new Set(reading.nodes.map((r) => r.hostname))
      if (unmatchedRows.length && belt.some((b) => !hostnames.has(b.name))) {
        try {
          const addrs = await link.addresses(unmatchedRows.map((r) => r.id), o.signal)
          for (const r of unmatchedRows) r.addr = addrs.get(r.id)
        } catch {
          // Drift by hostname only, then.
        }
      }
      recordManagers(cluster, managerNames(reading, belt))
    }
    const view = computeHealth(reading, belt, answer.manager)
    return {view, asked: candidates.map((c) => c.name), failed: link.failed, unreadable: false, reached, interrupted}
  } finally {
    link.close()
  }
}

function readyCount(a: SwarmAnswer): number {
  return a.kind === 'read' && a.reading.nodes ? a.reading.nodes.filter((r) => r.status === 'ready').length : -1
}

/** state.json keeps the managers last seen, so the next run finds one when the active node does not answer. */
function recordManagers(cluster: Cluster, names: string[]): void {
  if (names.length === 0) return
  const before = cluster.state.read().swarm_managers ?? []
  if (before.length === names.length && before.every((n, i) => n === names[i])) return
  ensureClusterDir(cluster)
  cluster.state.tryUpdate((s) => { s.swarm_managers = names })
}
