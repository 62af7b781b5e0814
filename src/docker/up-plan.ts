// What `belt up` will do, decided in one pure function from what is known before anything changes: the `swarm:`
// block, the provider's listing (with its pool tags), the swarm as a manager's `docker node ls` shows it, and
// state.json. No I/O here: up.ts gathers the inputs, runs the plan, and uses labelUpdates() again after its joins.
import type {Driver, SwarmBlock} from '../core/config/schema.js'
import {MANAGER_POOL} from '../core/config/schema.js'
import type {NodeInfo} from '../providers/provider.js'
import type {SwarmNode} from './swarm.js'

/** One node as a manager's `docker node inspect` shows it: swarm.ts's node (state: ready | down | unknown | disconnected) and more. */
export interface SwarmMember extends SwarmNode {
  /** leader | reachable | unreachable | '' (workers) */
  managerStatus: string
  labels: Record<string, string>
}

export interface SwarmView {
  /** The swarm's id (docker info .Swarm.Cluster.ID). */
  id: string
  /** The belt node the view was read from. */
  manager: string
  members: SwarmMember[]
}

export interface UpPlanInput {
  driver: Driver
  block: SwarmBlock
  /** Where a node without zones goes: DigitalOcean's region, EC2's subnet_id; null on local / generic (no label). */
  defaultZone: string | null
  nodes: NodeInfo[]
  swarm: SwarmView | null
  /** state.json: the swarm id belt initialised, and the nodes given Docker TLS by belt up. */
  state: {swarmId: string | null; provisioned: string[]}
  /** vCPUs of a size as the block writes it, or null when unknown (local, generic, an unknown slug). */
  vcpus: (size: string) => number | null
}

export type UpRole = 'manager' | 'worker'

export interface PlannedNode {
  name: string
  role: UpRole
  /** The pool's name; the managers' is MANAGER_POOL. */
  pool: string
  size: string | null
  zone: string | null
  /** The node labels it should carry: belt.zone (when it has a zone) and its pool's labels. */
  labels: Record<string, string>
  /** In the provider's listing now. */
  exists: boolean
  /** Its status in the listing (null when not listed). */
  status: NodeInfo['status'] | null
  /** In the swarm now (a member with its hostname that is not down). */
  joined: boolean
}

export interface LabelUpdate {
  name: string
  id: string
  add: Record<string, string>
  drain: boolean
}

export interface Removal {
  name: string
  /** Its swarm node id when the swarm lists it. */
  swarmId: string | null
}

export interface UpPlan {
  nodes: PlannedNode[]
  create: PlannedNode[]
  /** The manager that runs swarm init (first in name order), or null when a swarm exists. */
  init: string | null
  /** Managers that join (init's first), one at a time, in name order. */
  join_managers: string[]
  join_workers: string[]
  /** Nodes given Docker TLS this run (per `tls`). */
  provision: string[]
  remove: Removal[]
  /** Label and drain changes of nodes already in the swarm. */
  labels: LabelUpdate[]
  /** Why belt up refuses to go on (each one line, exit 2); empty when it may. */
  refusals: string[]
  advice: string[]
  /** "3 managers, tolerate 1 failure" */
  quorum: string
  /** Above 1,000 nodes: write the neighbour-table sysctls on every node belt up works on. */
  sysctl: boolean
}

/** Natural name order: mg2 before mg10. */
export function byNodeName(a: string, b: string): number {
  return a.localeCompare(b, 'en', {numeric: true})
}

export function quorumText(managers: number): string {
  const t = Math.floor((managers - 1) / 2)
  return `${managers} manager${managers === 1 ? '' : 's'}, tolerate ${t} failure${t === 1 ? '' : 's'}`
}

/** The pool a listed node was tagged with at create (DigitalOcean / local `belt-pool:web`, EC2 `belt-pool=web`). */
export function poolOf(node: Pick<NodeInfo, 'tags'>): string | null {
  for (const t of node.tags) {
    const m = /^belt-pool[:=](.+)$/.exec(t)
    if (m) return m[1]
  }
  return null
}

/** The tag belt up puts on the nodes of a pool, in the driver's tag syntax. */
export function poolTag(driver: Driver, pool: string): string {
  return driver === 'ec2' ? `belt-pool=${pool}` : `belt-pool:${pool}`
}

/** The swarm member of a belt node: by hostname (belt names hosts after nodes), the one not down first. */
export function memberOf(name: string, members: SwarmMember[], addrs: (string | null)[] = []): SwarmMember | null {
  const rank = (m: SwarmMember) => (m.state === 'down' ? 1 : 0)
  const byHost = members.filter((m) => m.hostname === name).sort((a, b) => rank(a) - rank(b))
  if (byHost.length) return byHost[0]
  const want = new Set(addrs.filter(Boolean))
  return members.filter((m) => want.has(m.addr)).sort((a, b) => rank(a) - rank(b))[0] ?? null
}

function place(names: string[], zones: string[], fallback: string | null): Map<string, string | null> {
  const sorted = [...names].sort(byNodeName)
  return new Map(sorted.map((n, i) => [n, zones.length ? zones[i % zones.length] : fallback]))
}

export function planUp(input: UpPlanInput): UpPlan {
  const {block, driver, swarm} = input
  const listed = new Map<string, NodeInfo>()
  for (const n of input.nodes) if (n.status !== 'gone' && !listed.has(n.name)) listed.set(n.name, n)
  const members = swarm?.members ?? []
  const refusals: string[] = []
  const advice: string[] = []

  const nodes: PlannedNode[] = []
  const add = (name: string, role: UpRole, pool: string, size: string | null, planned: string | null, poolLabels: Record<string, string>) => {
    const node = listed.get(name)
    const member = node || driver === 'generic' ? memberOf(name, members, node ? [node.private_ip, node.public_ip] : []) : null
    const joined = Boolean(member && member.state !== 'down')
    // Existing nodes never move: their label (or the region the cloud reports) wins over the placement.
    const zone = (joined ? member!.labels['belt.zone'] : undefined) ?? (node && driver === 'digitalocean' ? node.region : null) ?? planned
    const labels: Record<string, string> = {...(zone ? {'belt.zone': zone} : {}), ...poolLabels}
    nodes.push({name, role, pool, size, zone, labels, exists: Boolean(node), status: node?.status ?? null, joined})
  }
  const mZones = place(block.managers.names, block.managers.zones, input.defaultZone)
  for (const name of [...block.managers.names].sort(byNodeName)) {
    add(name, 'manager', MANAGER_POOL, block.managers.size, mZones.get(name) ?? null, {})
  }
  for (const pool of block.workers) {
    const zones = place(pool.names, pool.zones, input.defaultZone)
    for (const name of pool.names) add(name, 'worker', pool.name, pool.size, zones.get(name) ?? null, pool.labels)
  }
  const managers = nodes.filter((n) => n.role === 'manager')
  const workers = nodes.filter((n) => n.role === 'worker')

  if (driver === 'generic') {
    const missing = nodes.filter((n) => !n.exists).map((n) => n.name)
    if (missing.length) {
      refusals.push(`generic: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? `, … (${missing.length})` : ''} named by swarm: but not in generic.hosts; add them (belt cluster update hosts.NAME=ADDRESS)`)
    }
  }
  if (swarm && input.state.swarmId && swarm.id !== input.state.swarmId) {
    refusals.push(`${swarm.manager} is in swarm ${swarm.id.slice(0, 12)}, but belt up initialised swarm ${input.state.swarmId.slice(0, 12)} (state.json); ` +
      `belt up never joins another swarm: leave it (belt swarm leave ${swarm.manager} --force) or remove state.json's swarm record`)
  }
  for (const m of managers) {
    const member = memberOf(m.name, members)
    if (member && member.state !== 'down' && member.role !== 'manager') {
      refusals.push(`${m.name} is named in swarm.managers but is a worker of the swarm; promote it first: belt swarm promote ${m.name}`)
    }
  }

  // A local host that is recorded but not running (a create killed half-way) is started again by its create.
  const restart = (n: PlannedNode) => driver === 'local' && n.exists && n.status !== 'active' && n.status !== 'new'
  const create = driver === 'generic' ? [] : nodes.filter((n) => !n.exists || restart(n))
  const init = swarm ? null : managers[0]?.name ?? null
  const join_managers = managers.filter((m) => !m.joined).map((m) => m.name)
  const join_workers = workers.filter((w) => !w.joined).map((w) => w.name)
  const tlsFor = (n: PlannedNode) => block.tls === 'all' || (block.tls === 'managers' && n.role === 'manager')
  const provisioned = new Set(input.state.provisioned)
  const provision = nodes.filter((n) => tlsFor(n) && (!n.exists || restart(n) || !provisioned.has(n.name))).map((n) => n.name)

  // Pool members belt up made (tagged) that the block no longer names: drained, deleted, removed from the swarm.
  const named = new Set(nodes.map((n) => n.name))
  const remove: Removal[] = []
  const keptManagers: string[] = []
  for (const n of listed.values()) {
    const pool = poolOf(n)
    if (!pool || named.has(n.name)) continue
    const member = memberOf(n.name, members, [n.private_ip, n.public_ip])
    if (member && member.role === 'manager' && member.state !== 'down') keptManagers.push(n.name)
    else remove.push({name: n.name, swarmId: member?.id ?? null})
  }
  if (keptManagers.length) {
    keptManagers.sort(byNodeName)
    const list = keptManagers.join(',')
    refusals.push(`${list}: manager${keptManagers.length > 1 ? 's' : ''} the block no longer names; belt up never removes a manager (quorum): ` +
      `demote first (belt swarm demote '${list}'), then re-run belt up`)
  }
  remove.sort((a, b) => byNodeName(a.name, b.name))

  const labels = labelUpdates(nodes.filter((n) => n.joined), members, block.managers.drain)

  const total = nodes.length
  const mSize = block.managers.size
  const v = mSize ? input.vcpus(mSize) : null
  if (v !== null && total > 2000 && v < 16) {
    advice.push(`managers of size ${mSize} have ${v} vCPUs: above 2,000 nodes give them at least 16 (Raft recovery pegs the leader's CPU)`)
  } else if (v !== null && total >= 500 && v < 8) {
    advice.push(`managers of size ${mSize} have ${v} vCPUs: for 500–1,000 nodes give them at least 8 (Raft recovery pegs the leader's CPU)`)
  }
  if (total > 1000) {
    advice.push(`${total} nodes: the stable production setups of the Swarm2k/3k experiments had 500–1,000 nodes per swarm`)
    advice.push(`${total} nodes: belt up writes the neighbour-table sysctls (net.ipv4.neigh.default.gc_thresh1..3) on every node it works on, as provision --sysctl-large-cluster does`)
  }
  const zones = [...new Set(managers.map((m) => m.zone).filter((z): z is string => Boolean(z)))]
  if (zones.length > 1) {
    advice.push(`managers spread over ${zones.length} zones (${zones.join(', ')}): Raft wants low latency between managers; the experiments kept them in one data centre`)
  }
  if (init || join_managers.length || join_workers.length) {
    advice.push('every init and join names an explicit --advertise-addr (the node\'s private address when it has one)')
  }
  return {
    nodes, create, init, join_managers, join_workers, provision, remove, labels, refusals, advice,
    quorum: quorumText(managers.length), sysctl: total > 1000,
  }
}

/** Labels (and the managers' drain) each joined node still lacks, from what the swarm shows now. */
export function labelUpdates(nodes: PlannedNode[], members: SwarmMember[], drainManagers: boolean): LabelUpdate[] {
  const out: LabelUpdate[] = []
  for (const n of nodes) {
    const member = memberOf(n.name, members)
    if (!member || member.state === 'down') continue
    const add: Record<string, string> = {}
    for (const [k, val] of Object.entries(n.labels)) if (member.labels[k] !== val) add[k] = val
    const drain = drainManagers && n.role === 'manager' && member.availability !== 'drain'
    if (Object.keys(add).length || drain) out.push({name: n.name, id: member.id, add, drain})
  }
  return out
}
