// `belt stats`: CPU, memory and network of every task of a service, sampled on the nodes that run them (docker stats
// --no-stream over SSH, one connection per node hosting tasks, kept open between samples when streaming), and
// docker's text turned into numbers for --json. The tasks come from tasks.ts. Nothing here prints.
import pLimit from 'p-limit'
import {sleep} from '../core/wait.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import {shellQuote as q} from '../ssh/quote.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {byNaturalName, type FleetFailure} from '../ssh/fleet-result.js'
import {remoteError} from './swarm.js'
import {taskPrefix} from './logs.js'
import type {ServiceTask, ServiceTasks} from './tasks.js'

export function statsCommand(containers: string[]): string {
  return `docker stats --no-stream --no-trunc --format '{{json .}}' ${containers.map(q).join(' ')}`
}

/** One task's sample: docker's own text, and the numbers --json shows (null when docker printed none). */
export interface TaskStats {
  task: string
  slot: number | null
  node: string
  container: string
  cpu: string
  mem_usage: string
  mem_percent: string
  net_io: string
  cpu_percent: number | null
  memory_bytes: number | null
  memory_limit_bytes: number | null
  memory_percent: number | null
  net_rx_bytes: number | null
  net_tx_bytes: number | null
}

const UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, pib: 1024 ** 5,
}

/** "1.5MiB" → 1572864, "12.3kB" → 12300 (docker's units: binary for memory, decimal for network), else null. */
export function parseBytes(text: string): number | null {
  const m = /^\s*([\d.]+)\s*([kmgtp]?i?b)\s*$/i.exec(text)
  if (!m) return null
  const unit = UNITS[m[2].toLowerCase()]
  return unit === undefined ? null : Math.round(Number(m[1]) * unit)
}

export function parsePercent(text: string): number | null {
  const m = /^\s*([\d.]+)\s*%\s*$/.exec(text)
  return m ? Number(m[1]) : null
}

function pair(text: string): [number | null, number | null] {
  const [a, b] = text.split('/')
  return [parseBytes(a ?? ''), parseBytes(b ?? '')]
}

export function taskStats(t: ServiceTask, j: Record<string, string>): TaskStats {
  const [mem, limit] = pair(j.MemUsage ?? '')
  const [rx, tx] = pair(j.NetIO ?? '')
  return {
    task: t.label, slot: t.slot || null, node: t.node ?? t.hostname, container: t.container,
    cpu: j.CPUPerc ?? '', mem_usage: j.MemUsage ?? '', mem_percent: j.MemPerc ?? '', net_io: j.NetIO ?? '',
    cpu_percent: parsePercent(j.CPUPerc ?? ''), memory_bytes: mem, memory_limit_bytes: limit, memory_percent: parsePercent(j.MemPerc ?? ''),
    net_rx_bytes: rx, net_tx_bytes: tx,
  }
}

export interface StatsSample {
  service: string
  tasks: TaskStats[]
  failed: FleetFailure[]
}

/**
 * The sessions of the nodes hosting a service's tasks: opened once (in parallel, `concurrency` at once), each
 * sample one exec per node.
 */
export class StatsSampler {
  private readonly sessions = new Map<string, SshSession>()
  private readonly byNode = new Map<string, ServiceTask[]>()
  private readonly limit: ReturnType<typeof pLimit>

  constructor(private readonly ssh: SshContext, private readonly found: ServiceTasks, private readonly o: {concurrency: number; stepMs: number}) {
    for (const t of found.tasks) this.byNode.set(t.node!, [...(this.byNode.get(t.node!) ?? []), t])
    this.limit = pLimit(Math.max(1, o.concurrency))
  }

  async sample(signal: AbortSignal): Promise<StatsSample> {
    const tasks: TaskStats[] = []
    const failed: FleetFailure[] = []
    await Promise.all([...this.byNode].map(([node, list]) => this.limit(async () => {
      if (signal.aborted) return
      const step = stepSignal(this.o.stepMs, signal)
      try {
        let s = this.sessions.get(node)
        if (!s) {
          s = await this.ssh.connect(this.found.endpoints.get(node)!, {signal: step.signal})
          this.sessions.set(node, s)
          void s.closed.then(() => { if (this.sessions.get(node) === s) this.sessions.delete(node) })
        }
        const r = await s.exec(statsCommand(list.map((t) => t.container)), {sudo: true, signal: step.signal, maxOutputBytes: 4 * 1024 * 1024})
        const rows = new Map<string, Record<string, string>>()
        for (const line of r.stdout.split('\n')) {
          if (!line.trim().startsWith('{')) continue
          const j = JSON.parse(line) as Record<string, string>
          rows.set(j.ID ?? j.Container ?? '', j)
        }
        for (const t of list) {
          const j = rows.get(t.container) ?? [...rows.values()].find((v) => t.container.startsWith(v.ID ?? '\u0000'))
          if (j) tasks.push(taskStats(t, j))
          else failed.push({name: taskPrefix(t), error: r.code === 0 ? 'no sample (the container ended?)' : remoteError(r.stderr, '', r.code)})
        }
      } catch (err) {
        if (signal.aborted) return
        this.sessions.get(node)?.close()
        this.sessions.delete(node)
        const why = step.timedOut() ? `no answer within ${this.o.stepMs / 1000}s` : oneLine(err)
        for (const t of list) failed.push({name: taskPrefix(t), error: why})
      } finally {
        step.dispose()
      }
    })))
    tasks.sort((a, b) => (a.slot ?? 0) - (b.slot ?? 0) || byNaturalName(a.node, b.node))
    failed.sort((a, b) => byNaturalName(a.name, b.name))
    return {service: this.found.service, tasks, failed}
  }

  /** Sample, hand each to `each`, until the signal aborts; the pause between samples is `everyMs` at most. */
  async stream(signal: AbortSignal, everyMs: number, each: (s: StatsSample) => void): Promise<void> {
    while (!signal.aborted) {
      const started = Date.now()
      const s = await this.sample(signal)
      if (signal.aborted) return
      each(s)
      await sleep(Math.max(0, everyMs - (Date.now() - started)), signal)
    }
  }

  close(): void {
    for (const s of this.sessions.values()) s.close()
    this.sessions.clear()
  }
}
