// How `belt status` shows the cloud and the swarm: the counts table, then the swarm's lines (leader, managers with
// the quorum in words, nodes, engines, drift); with --json CONTRACT §4's document with §12's "swarm" added.
import type {NodeInfo, NodeStatus} from '../providers/provider.js'
import type {SwarmStatusResult, SwarmView} from '../docker/health.js'
import {compressNames} from './fleet.js'
import {type Column, renderTable, type TableChoice} from './columns.js'
import {info, out, printJson, shorten} from './output.js'

const STATUSES: NodeStatus[] = ['new', 'active', 'off', 'gone', 'unreachable']

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** "3 managers, 1 unreachable (mg2): quorum holds, no further failure tolerated" */
export function quorumLine(v: SwarmView): string {
  const {managers, quorum} = v.swarm
  const n = managers.total
  if (managers.unreachable === null) return `${plural(n, 'manager')}, no leader: quorum lost (needs ${v.needs} reachable)`
  const u = managers.unreachable
  const head = `${plural(n, 'manager')}, ${u.length ? `${u.length} unreachable (${compressNames(u)})` : n === 1 ? 'reachable' : 'all reachable'}`
  if (!quorum.holds) return `${head}: quorum lost (needs ${v.needs} reachable${v.swarm.leader ? '' : ', no leader'})`
  const t = quorum.tolerates
  const tail = t === 0 ? (u.length ? 'no further failure tolerated' : 'no failure tolerated')
    : `tolerates ${plural(t, u.length ? 'more failure' : 'failure')}`
  return `${head}: quorum holds, ${tail}`
}

function counts(c: Record<string, number>, order: string[]): string {
  const keys = [...order.filter((k) => c[k]), ...Object.keys(c).filter((k) => !order.includes(k)).sort()]
  return keys.map((k) => `${c[k]} ${k}`).join(', ')
}

function names(list: string[] | null): string {
  if (list === null) return 'unknown'
  return list.length ? `${list.length} (${shorten([compressNames(list)], 80)})` : 'none'
}

/** The swarm's lines for a terminal. */
export function swarmLines(v: SwarmView): string[] {
  const s = v.swarm
  const lines = [
    `swarm:     ${s.id ? s.id.slice(0, 12) : 'unknown id'} (through ${v.through})`,
    `leader:    ${s.leader ?? 'none'}`,
    `managers:  ${quorumLine(v)}`,
  ]
  if (v.total === null || s.nodes.ready === null) {
    lines.push(`nodes:     unknown: ${v.listError ?? 'the manager cannot list them'}`)
    return lines
  }
  lines.push(
    `nodes:     ${v.total} in the swarm: ${counts(v.byStatus, ['ready', 'down', 'unknown', 'disconnected'])}; ` +
      `availability ${counts(v.byAvailability, ['active', 'pause', 'drain'])}`,
    `engines:   ${Object.entries(s.engine_versions).map(([ver, c]) => `${ver} (${c})`).join(', ') || 'none'}`,
    `drift:     not in the swarm: ${names(s.drift.not_in_swarm)}; unknown to belt: ${names(s.drift.unknown_to_belt)}`,
  )
  return lines
}

export interface StatusOutput {
  counts: Record<string, number>
  nodes: NodeInfo[]
  /** null: the swarm was not asked (--no-swarm). */
  swarm: SwarmStatusResult | null
}

/** The status table's columns (`--columns`). */
export const STATUS_COLUMNS: Column<{status: NodeStatus; names: string[]}>[] = [
  {key: 'status', head: 'STATUS', value: (r) => r.status},
  {key: 'count', head: '#NODES', value: (r) => r.names.length},
  {key: 'names', head: 'NAMES', value: (r) => shorten(r.names)},
]

export function renderStatus(o: StatusOutput, json: boolean, choice?: TableChoice): void {
  const sw = o.swarm
  if (json) {
    const doc: Record<string, unknown> = {counts: o.counts, nodes: o.nodes}
    if (sw) doc.swarm = sw.view?.swarm ?? null
    if (sw?.failed.length) doc.failed = sw.failed
    return printJson(doc)
  }
  const rows = STATUSES.filter((s) => o.counts[s]).map((s) => ({status: s, names: o.nodes.filter((n) => n.status === s).map((n) => n.name)}))
  const text = renderTable(STATUS_COLUMNS, rows, choice)
  if (text) out(text)
  if (!sw) return
  for (const f of sw.failed) info(`swarm: ${f.name} did not answer: ${f.error}`)
  if (sw.view) {
    out()
    for (const l of swarmLines(sw.view)) out(l)
  } else if (sw.unreadable) info('swarm: no manager answered')
  else if (sw.asked.length === 0) info('no swarm known: no active node (belt swarm init MANAGER, or belt active MANAGER)')
  else info(`no swarm: ${sw.asked.join(', ')} ${sw.asked.length === 1 ? 'is' : 'are'} in none (start one with: belt swarm init MANAGER)`)
}

/** Why status exits 1 because of the swarm, or null. */
export function swarmProblem(sw: SwarmStatusResult | null): string | null {
  if (!sw) return null
  if (sw.unreadable) return `no manager answered (${sw.failed.map((f) => f.name).join(', ') || 'none known'})`
  const v = sw.view
  if (!v || v.healthy) return null
  return quorumLine(v)
}
