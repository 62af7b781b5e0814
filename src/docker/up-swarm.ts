// The remote commands `belt up` and `belt down` run through a manager, built here in one visible place: the swarm
// view (state, swarm id, every member with its role, reachability and labels) in one exec; label and drain changes
// for many nodes in one exec; `docker node rm` of many nodes in one call. Parsing of what they print is pure.
import {redact} from '../core/redact.js'
import {shellQuote} from '../ssh/quote.js'
import type {SshSession} from '../ssh/types.js'
import {remoteError, SwarmError} from './swarm.js'
import type {LabelUpdate, SwarmMember} from './up-plan.js'

const q = shellQuote

/** The member fields, labels last (their JSON may hold spaces). */
const MEMBER_FORMAT = '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} ' +
  '{{if .ManagerStatus}}{{if .ManagerStatus.Leader}}leader{{else}}{{.ManagerStatus.Reachability}}{{end}}{{else}}-{{end}} {{json .Spec.Labels}}'

/** docker info's swarm state, whether this node manages, and the swarm id; then (on a manager) every member. */
export const SWARM_VIEW_COMMAND = [
  `i=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{if .Swarm.Cluster}}{{.Swarm.Cluster.ID}}{{end}}') || exit 4`,
  `echo "belt-swarm-info $i"`,
  `case "$i" in "active true"*) ;; *) exit 0;; esac`,
  `ids=$(docker node ls -q) || exit $?`,
  `[ -z "$ids" ] || docker node inspect --format ${q(MEMBER_FORMAT)} $ids`,
].join('\n')

export interface NodeSwarmState {
  /** inactive | pending | active | error | locked */
  state: string
  manager: boolean
  /** The swarm id (managers only). */
  swarmId: string | null
  /** The members, when the node is a manager. */
  members: SwarmMember[]
}

export function parseMember(line: string): SwarmMember | null {
  const f = line.trim().split(' ')
  if (f.length < 8) return null
  const [id, hostname, addr, role, availability, state, ms] = f
  let labels: Record<string, string> = {}
  try {
    const parsed = JSON.parse(f.slice(7).join(' ')) as Record<string, string> | null
    labels = parsed ?? {}
  } catch {}
  return {id, hostname, addr, role, availability, state, managerStatus: ms === '-' ? '' : ms, labels}
}

export function parseSwarmView(stdout: string): NodeSwarmState {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const info = lines.find((l) => l.startsWith('belt-swarm-info '))
  if (!info) return {state: 'unknown', manager: false, swarmId: null, members: []}
  const [state, control, id] = info.slice('belt-swarm-info '.length).split(' ')
  const members = lines.filter((l) => !l.startsWith('belt-swarm-info ')).map(parseMember).filter((m): m is SwarmMember => m !== null)
  return {state: state || 'unknown', manager: control === 'true', swarmId: id || null, members}
}

export async function readSwarmView(session: SshSession, signal?: AbortSignal): Promise<NodeSwarmState> {
  const r = await session.exec(SWARM_VIEW_COMMAND, {sudo: true, signal, maxOutputBytes: 32 * 1024 * 1024})
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  return parseSwarmView(r.stdout)
}

/** One exec that sets labels (and drains) node after node, reporting `belt-node ID ok|failed why` per node. */
export function labelCommand(updates: LabelUpdate[]): string {
  return updates.map((u) => {
    const flags = [
      ...Object.entries(u.add).map(([k, v]) => `--label-add ${q(`${k}=${v}`)}`),
      ...(u.drain ? ['--availability drain'] : []),
    ].join(' ')
    return `if out=$(docker node update ${flags} ${q(u.id)} 2>&1 >/dev/null); then echo "belt-node ${u.id} ok"; ` +
      `else printf 'belt-node %s failed %s\\n' ${q(u.id)} "$(printf '%s' "$out" | head -n 1)"; fi`
  }).join('\n')
}

/** Per-node results of a batched command, by id: null = ok, else the error. */
function perNode(stdout: string, ids: string[], stderr: string, code: number | null): Map<string, string | null> {
  const out = new Map<string, string | null>()
  for (const line of stdout.split('\n')) {
    const m = /^belt-node (\S+) (ok|failed)(?: (.*))?$/.exec(line.trim())
    if (m) out.set(m[1], m[2] === 'ok' ? null : redact(m[3] ?? 'failed'))
  }
  for (const id of ids) if (!out.has(id)) out.set(id, remoteError(stderr, '', code))
  return out
}

export async function applyLabels(session: SshSession, updates: LabelUpdate[], signal?: AbortSignal): Promise<{name: string; error: string}[]> {
  const failed: {name: string; error: string}[] = []
  for (let i = 0; i < updates.length; i += 200) {
    const chunk = updates.slice(i, i + 200)
    const r = await session.exec(labelCommand(chunk), {sudo: true, signal, maxOutputBytes: 4 * 1024 * 1024})
    const res = perNode(r.stdout, chunk.map((u) => u.id), r.stderr, r.code)
    for (const u of chunk) {
      const err = res.get(u.id)
      if (err) failed.push({name: u.name, error: err})
    }
  }
  return failed
}

/** Drain many nodes in one exec (their tasks move before the machines go). */
export function drainCommand(ids: string[]): string {
  return `for n in ${ids.map(q).join(' ')}; do docker node update --availability drain "$n" >/dev/null 2>&1 && echo "belt-node $n ok" || echo "belt-node $n failed"; done`
}

/** `docker node rm` of many nodes per call: those Down plainly, the rest (their machines are deleted) with --force. */
export function nodeRmCommand(down: string[], force: string[]): string {
  const parts: string[] = []
  if (down.length) parts.push(`docker node rm ${down.map(q).join(' ')}`)
  if (force.length) parts.push(`docker node rm --force ${force.map(q).join(' ')}`)
  return parts.join('\n') || 'true'
}

/** `docker swarm leave --force` of a whole swarm from the last manager (belt down on generic hosts). */
export async function execChecked(session: SshSession, command: string, what: string, signal?: AbortSignal): Promise<string> {
  const r = await session.exec(command, {sudo: true, signal, maxOutputBytes: 4 * 1024 * 1024})
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${what}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  return r.stdout
}
