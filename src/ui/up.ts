// belt up / belt down on the terminal: the plan as a table, one live progress line on a TTY (plain lines
// otherwise), the summary, and the one JSON document of CONTRACT §10.
import type {UpCounts, UpResult} from '../docker/up.js'
import type {UpPlan} from '../docker/up-plan.js'
import type {DownResult} from '../docker/down.js'
import {info, out, printJson, shorten, table} from './output.js'

export interface UpDocument {
  plan: {create: string[]; join_managers: string[]; join_workers: string[]; remove: string[]; advice: string[]}
  created: string[]
  provisioned: string[]
  joined: string[]
  removed: string[]
  failed: {name: string; step: string; error: string}[]
}

export function upDocument(r: UpResult): UpDocument {
  const p = r.plan
  return {
    plan: {
      create: p.create.map((n) => n.name),
      join_managers: p.join_managers,
      join_workers: p.join_workers,
      remove: p.remove.map((x) => x.name),
      advice: p.advice,
    },
    created: r.created, provisioned: r.provisioned, joined: r.joined, removed: r.removed, failed: r.failed,
  }
}

/** The plan: what is created where, who inits and joins, what is removed; the quorum; advice on stderr. */
export function renderPlan(plan: UpPlan, o: {toStdout: boolean}): void {
  const write = o.toStdout ? out : info
  const joinM = new Set(plan.join_managers)
  const joinW = new Set(plan.join_workers)
  const creating = new Set(plan.create.map((n) => n.name))
  const tls = new Set(plan.provision)
  const rows = plan.nodes.map((n) => {
    const todo = [
      creating.has(n.name) ? 'create' : null,
      tls.has(n.name) ? 'tls' : null,
      plan.init === n.name ? 'init' : joinM.has(n.name) || joinW.has(n.name) ? 'join' : null,
    ].filter(Boolean).join(', ') || 'nothing'
    return [n.name, n.role, n.pool, n.size, n.zone, todo]
  })
  for (const r of plan.remove) rows.push([r.name, '-', '-', '-', '-', 'remove'])
  const busy = rows.filter((r) => r[5] !== 'nothing')
  const idle = rows.length - busy.length
  // Thousands of nodes: show those with something to do, and count the rest.
  const shown = busy.length > 200 ? busy.slice(0, 200) : busy
  if (shown.length) write(table(['NAME', 'ROLE', 'POOL', 'SIZE', 'ZONE', 'TO DO'], shown))
  if (busy.length > shown.length) write(`… and ${busy.length - shown.length} more with something to do`)
  write(`${plan.quorum}; ${plan.create.length} to create, ${plan.join_managers.length + plan.join_workers.length} to join, ` +
    `${plan.remove.length} to remove${idle ? `, ${idle} already done` : ''}`)
  for (const a of plan.advice) info(`advice: ${a}`)
}

/** The counts as one line: "created 1200/2000 · active 1000 · reachable 900 · joined 850". */
export function countsLine(c: UpCounts): string {
  const parts = [
    c.create.total ? `created ${c.create.done}/${c.create.total}` : null,
    `active ${c.active}`, `reachable ${c.reachable}`,
    c.provisioned ? `tls ${c.provisioned}` : null,
    `joined ${c.joined}`,
    c.removed ? `removed ${c.removed}` : null,
    c.failed ? `failed ${c.failed}` : null,
  ]
  return parts.filter(Boolean).join(' · ')
}

/** One redrawn line on a terminal; plain lines (at most one a second, and the last) otherwise. */
export class UpProgress {
  private last = ''
  private lastAt = 0
  private pending: string | null = null
  private readonly tty: boolean

  constructor(o: {quiet?: boolean} = {}) {
    this.tty = Boolean(process.stderr.isTTY) && !o.quiet
  }

  update(c: UpCounts): void {
    const line = countsLine(c)
    if (line === this.last) return
    this.last = line
    if (this.tty) {
      process.stderr.write(`\r\x1b[K${line}`)
      return
    }
    const now = Date.now()
    if (now - this.lastAt >= 1000) {
      this.lastAt = now
      this.pending = null
      info(line)
    } else this.pending = line
  }

  /** Before any other line is written (a notice) and at the end. */
  clear(): void {
    if (this.tty && this.last) process.stderr.write('\r\x1b[K')
  }

  done(): void {
    if (this.tty && this.last) process.stderr.write(`\r\x1b[K${this.last}\n`)
    else if (this.pending) info(this.pending)
    this.pending = null
  }
}

export function renderUp(r: UpResult, json: boolean): void {
  if (json) return printJson(upDocument(r))
  const rows: [string, string[]][] = [['created', r.created], ['tls', r.provisioned], ['joined', r.joined], ['removed', r.removed]]
  const any = rows.some(([, names]) => names.length) || r.failed.length
  if (!any) out(`nothing to do: the swarm matches the block (${r.plan.quorum})`)
  for (const [what, names] of rows) if (names.length) out(`${what.padEnd(8)} ${String(names.length).padStart(5)}  ${shorten(names)}`)
  for (const f of r.failed) out(`failed   ${f.name} at ${f.step}: ${f.error}`)
}

export function renderDown(r: DownResult, json: boolean): void {
  if (json) return printJson({removed: r.removed, left: r.left, failed: r.failed})
  if (r.left.length) out(`left the swarm ${String(r.left.length).padStart(5)}  ${shorten(r.left)}`)
  if (r.removed.length) out(`removed ${String(r.removed.length).padStart(5)}  ${shorten(r.removed)}`)
  for (const x of r.extras) out(`removed ${x}`)
  if (!r.removed.length && !r.left.length && !r.extras.length && !r.failed.length) out('nothing to remove')
  for (const f of r.failed) out(`failed  ${f.name}: ${f.error}`)
}
