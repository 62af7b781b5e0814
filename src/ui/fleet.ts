// Progress and summaries for fleet commands (swarm join, provision, multi-host docker, swarm leave ...), generic
// over outcomes: each host ends as one named outcome ('joined', 'already', 'failed', ...).
//   - stderr is a TTY: one live listr2 line, "joined 1234/2000 · already 3 · failed 3 · 41 s" (never 2,000 rows);
//   - otherwise plain lines: every host for small fleets; for big ones failures as they happen plus a progress line
//     every 10 % or 15 s.
// Summaries go to stdout: outcome counts with compressed name lists ('w[1:1000],w[1004:2000]') and a failure table.
//   renderFleet prints a fleet command's result: that summary, or CONTRACT §4's JSON document.
import {Writable} from 'node:stream'
import {byName, info, out, printJson, table} from './output.js'
import {hostKeyWarning, type HostKeyProblem} from '../ssh/session.js'
import {allFailures, type FleetHooks, type FleetResult} from '../ssh/fleet-result.js'
import type {HostWriters} from '../ssh/remote-command.js'

export interface FleetRow {
  name: string
  outcome: string
  error?: string
}

export interface FleetProgressOptions {
  total: number
  /** Outcome names in display order; the first is the main verb ("joined 12/20"). */
  outcomes: string[]
  /** Outcome that counts as a failure (shown with its error in plain mode). Default 'failed'. */
  failure?: string
  /** Leading words of the live line, e.g. "swarm join". */
  label?: string
  stream?: NodeJS.WriteStream
  /** Force plain lines (tests, --json). Default: plain unless the stream is a TTY. */
  plain?: boolean
  /** Up to this many hosts, plain mode prints one line per host. Default 30. */
  perHostUpTo?: number
  /** Bytes moved so far (and in all, when known): shown after the host counts (belt scp). */
  bytes?: () => {done: number; total: number | null}
}

export class FleetProgress {
  private readonly counts = new Map<string, number>()
  private done = 0
  private readonly started = Date.now()
  private readonly stream: NodeJS.WriteStream
  private readonly plain: boolean
  private readonly failure: string
  private lastPlainAt = Date.now()
  private lastPlainDone = 0
  private finish: (() => void) | null = null
  private listr: Promise<unknown> | null = null
  private timer: NodeJS.Timeout | null = null
  private title: ((t: string) => void) | null = null

  constructor(private readonly opts: FleetProgressOptions) {
    this.stream = opts.stream ?? process.stderr
    // A terminal that reports no width (e.g. under `script`) would wrap the live line one character per row.
    this.plain = opts.plain ?? !(this.stream.isTTY && (this.stream.columns ?? 0) >= 20)
    this.failure = opts.failure ?? 'failed'
    for (const o of opts.outcomes) this.counts.set(o, 0)
  }

  /** The live line: "joined 12/20 · already 3 · failed 1 · 4 s". */
  line(): string {
    const [main, ...rest] = this.opts.outcomes
    const parts = [`${main} ${this.counts.get(main) ?? 0}/${this.opts.total}`]
    for (const o of rest) {
      const n = this.counts.get(o) ?? 0
      if (n > 0) parts.push(`${o} ${n}`)
    }
    if (this.opts.bytes) {
      const {done, total} = this.opts.bytes()
      parts.push(total === null ? formatBytes(done) : `${formatBytes(done)} of ${formatBytes(total)}`)
    }
    parts.push(`${Math.round((Date.now() - this.started) / 1000)} s`)
    return (this.opts.label ? `${this.opts.label}: ` : '') + parts.join(' · ')
  }

  start(): this {
    if (this.plain || this.opts.total === 0) return this
    const done = new Promise<void>((resolve) => { this.finish = resolve })
    // listr2 is loaded only for a terminal: plain runs (scripts, CI, benchmarks) do not pay for it.
    this.listr = import('listr2').then(({Listr, ProcessOutput}) => new Listr([{
      title: this.line(),
      task: async (_ctx: unknown, task: {title: string}) => {
        this.title = (t) => { task.title = t }
        await done
        task.title = this.line()
      },
    }], {
      renderer: 'default',
      registerSignalListeners: false,
      exitOnError: false,
      rendererOptions: {processOutput: new ProcessOutput(this.stream, this.stream)} as never,
    }).run()).catch(() => undefined)
    this.timer = setInterval(() => this.title?.(this.line()), 250)
    return this
  }

  record(name: string, outcome: string, error?: string): void {
    this.done++
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1)
    if (!this.plain) return
    const small = this.opts.total <= (this.opts.perHostUpTo ?? 30)
    if (small || outcome === this.failure) {
      this.stream.write(`${name}: ${outcome}${error ? `: ${error}` : ''}\n`)
      if (small) return
    }
    const now = Date.now()
    const step = Math.max(1, Math.ceil(this.opts.total / 10))
    if (this.done === this.opts.total || this.done - this.lastPlainDone >= step || now - this.lastPlainAt >= 15_000) {
      this.lastPlainAt = now
      this.lastPlainDone = this.done
      this.stream.write(this.line() + '\n')
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
    this.finish?.()
    this.finish = null
    if (this.listr) await this.listr
    this.listr = null
  }
}

/** 1536 → '1.5 KiB': sizes in progress lines. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
}

/** 'w1','w2','w3','w7' → 'w[1:3],w7' (belt's own pattern syntax, so it can be pasted back). */
export function compressNames(names: readonly string[]): string {
  const groups = new Map<string, {prefix: string; suffix: string; width: number; nums: number[]}>()
  const plain: string[] = []
  for (const name of names) {
    const m = /^(.*?)(\d+)(\D*)$/.exec(name)
    if (!m) {
      plain.push(name)
      continue
    }
    const [, prefix, digits, suffix] = m
    const width = digits.length > 1 && digits.startsWith('0') ? digits.length : 0
    const key = `${prefix}\u0000${suffix}\u0000${width}`
    let g = groups.get(key)
    if (!g) groups.set(key, (g = {prefix, suffix, width, nums: []}))
    g.nums.push(Number(digits))
  }
  const parts: {sortKey: string; text: string}[] = plain.map((p) => ({sortKey: p, text: p}))
  for (const g of groups.values()) {
    const nums = [...new Set(g.nums)].sort((a, b) => a - b)
    const fmt = (n: number) => (g.width ? String(n).padStart(g.width, '0') : String(n))
    let i = 0
    while (i < nums.length) {
      let j = i
      while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++
      const text = j - i >= 2 ? `${g.prefix}[${fmt(nums[i])}:${fmt(nums[j])}]${g.suffix}`
        : nums.slice(i, j + 1).map((n) => `${g.prefix}${fmt(n)}${g.suffix}`).join(',')
      parts.push({sortKey: `${g.prefix}${fmt(nums[i])}${g.suffix}`, text})
      i = j + 1
    }
  }
  parts.sort((a, b) => a.sortKey.localeCompare(b.sortKey, 'en', {numeric: true}))
  return parts.map((p) => p.text).join(',')
}

function clip(s: string, max: number): string {
  return s.length <= max ? s : s.slice(0, max - 1) + '…'
}

/**
 * The summary for stdout: one row per outcome (count and names), then every failure with its error.
 * `notStarted` are hosts Ctrl-C kept from starting.
 */
export function fleetSummary(rows: readonly FleetRow[], outcomes: readonly string[], opts: {failure?: string; notStarted?: readonly string[]} = {}): string {
  const failure = opts.failure ?? 'failed'
  const byOutcome = new Map<string, string[]>()
  for (const r of rows) {
    const list = byOutcome.get(r.outcome)
    if (list) list.push(r.name)
    else byOutcome.set(r.outcome, [r.name])
  }
  const order = [...outcomes, ...[...byOutcome.keys()].filter((o) => !outcomes.includes(o))]
  const counts: (string | number)[][] = []
  for (const o of order) {
    const names = byOutcome.get(o) ?? []
    if (names.length) counts.push([o, names.length, clip(compressNames(names), 200)])
  }
  if (opts.notStarted?.length) counts.push(['not started', opts.notStarted.length, clip(compressNames(opts.notStarted), 200)])
  let text = table(['RESULT', '#NODES', 'NODES'], counts)
  const failed = rows.filter((r) => r.outcome === failure).sort(byName)
  if (failed.length) text += '\n\n' + table(['NAME', 'ERROR'], failed.map((f) => [f.name, f.error ?? failure]))
  return text
}

/**
 * A writable that prefixes every line with `name: ` on its way to stdout/stderr, with backpressure (a slow reader
 * pauses the remote command through SSH flow control instead of growing memory). A line longer than 64 KiB is cut.
 */
export class LinePrefixer extends Writable {
  private partial = ''

  constructor(private readonly prefix: string, private readonly target: NodeJS.WritableStream) {
    super({decodeStrings: true})
  }

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = this.partial + chunk.toString('utf8')
    const lines = text.split('\n')
    this.partial = lines.pop() ?? ''
    if (this.partial.length > 65536) {
      lines.push(this.partial)
      this.partial = ''
    }
    if (lines.length === 0) return cb()
    const ok = this.target.write(lines.map((l) => `${this.prefix}${l.replace(/\r$/, '')}\n`).join(''))
    if (ok) cb()
    else this.target.once('drain', () => cb())
  }

  /** On end(): write out an unterminated last line. */
  _final(cb: (err?: Error | null) => void): void {
    if (this.partial) this.target.write(`${this.prefix}${this.partial}\n`)
    this.partial = ''
    cb()
  }

  /** end() and wait until everything queued has reached the target. */
  close(): Promise<void> {
    return new Promise((resolve) => this.end(() => resolve()))
  }
}

/** One OpenSSH-style warning per refused host key (stderr), however many times it was met. */
export function printHostKeyWarnings(problems: readonly HostKeyProblem[], stream: NodeJS.WritableStream = process.stderr): void {
  const seen = new Set<string>()
  for (const p of problems) {
    const key = `${p.host}:${p.port}`
    if (seen.has(key)) continue
    seen.add(key)
    stream.write(hostKeyWarning(p) + '\n')
  }
}

/** The hooks through which a fleet operation tells this terminal what happens: notices on stderr, live progress. */
export function fleetHooks(o: {plain?: boolean} = {}): FleetHooks {
  return {notice: info, progress: (spec) => new FleetProgress({...spec, plain: o.plain})}
}

/** One host's stdout and stderr on ours, every line prefixed with "name: ". */
export function prefixedWriters(name: string): HostWriters {
  const stdout = new LinePrefixer(`${name}: `, process.stdout)
  const stderr = new LinePrefixer(`${name}: `, process.stderr)
  return {stdout, stderr, close: async () => { await Promise.all([stdout.close(), stderr.close()]) }}
}

export interface RenderFleetOptions {
  json: boolean
  /** The JSON key of the hosts that changed: "ok" (CONTRACT §4), or swarm join's "joined". */
  key?: string
  /** JSON fields before the per-host lists (swarm's "manager") and after them (docker's "results"). */
  head?: Record<string, unknown>
  tail?: Record<string, unknown>
  /** false: stdout carries the hosts' own output, so the failures are listed on stderr instead of a summary table. */
  table?: boolean
}

/**
 * A fleet command's result: with --json one document {ok, already, failed} (hosts Ctrl-C kept from starting are
 * failures in it); else the summary on stdout (or, with `table: false`, the failures on stderr).
 */
export function renderFleet(r: FleetResult, o: RenderFleetOptions): void {
  const failed = allFailures(r)
  if (o.json) return printJson({...o.head, [o.key ?? 'ok']: r.ok, already: r.already, failed, ...o.tail})
  if (o.table === false) {
    if (failed.length) info(`${failed.length} of ${r.total} node${r.total === 1 ? '' : 's'} failed:`)
    for (const f of failed) info(`  ${f.name}: ${f.error}`)
    return
  }
  const rows: FleetRow[] = [
    ...r.ok.map((name) => ({name, outcome: r.verb})),
    ...r.already.map((name) => ({name, outcome: 'already'})),
    ...r.failed.map((f) => ({name: f.name, outcome: 'failed', error: f.error})),
  ]
  out(fleetSummary(rows, [r.verb, 'already', 'failed'], {notStarted: r.notStarted}))
}
