// How `belt logs` and `belt stats` show a service's tasks: log lines passed through (prefixed "web.2@w3: " when
// there are several tasks), the stats table (redrawn in place on a terminal, one table per sample otherwise) and the
// stats JSON document; tasks that could not be reached are told on stderr.
import type {LogsResult} from '../docker/logs.js'
import type {StatsSample} from '../docker/stats.js'
import type {ServiceTasks} from '../docker/tasks.js'
import type {HostWriters} from '../ssh/remote-command.js'
import {prefixedWriters} from './fleet.js'
import {info, printJson, table} from './output.js'

/** One task's writers: straight through when it is the only one, else every line prefixed. */
export function taskWriters(prefix: string | null): HostWriters {
  if (prefix === null) return {stdout: process.stdout, stderr: process.stderr, close: async () => {}}
  return prefixedWriters(prefix)
}

function tellSkipped(found: ServiceTasks): void {
  for (const s of found.skipped) info(`${s.label}: skipped: ${s.why}`)
  if (found.tasks.length === 0 && found.skipped.length === 0) info(`${found.service} has no running task`)
}

export function renderLogsEnd(found: ServiceTasks, r: LogsResult): void {
  tellSkipped(found)
  for (const f of r.failed) info(`${f.name}: ${f.error}`)
}

export function statsTable(s: StatsSample): string {
  return table(['TASK', 'NODE', 'CPU %', 'MEM USAGE / LIMIT', 'MEM %', 'NET I/O'],
    s.tasks.map((t) => [t.task, t.node, t.cpu, t.mem_usage, t.mem_percent, t.net_io]))
}

/** CONTRACT-style --json: one document, the failures inside it. */
export function printStatsJson(s: StatsSample): void {
  printJson({
    service: s.service,
    tasks: s.tasks.map((t) => ({
      task: t.task, slot: t.slot, node: t.node, container: t.container, cpu_percent: t.cpu_percent, memory_bytes: t.memory_bytes,
      memory_limit_bytes: t.memory_limit_bytes, memory_percent: t.memory_percent, net_rx_bytes: t.net_rx_bytes, net_tx_bytes: t.net_tx_bytes,
    })),
    failed: s.failed,
  })
}

export function renderStatsOnce(found: ServiceTasks, s: StatsSample, json: boolean): void {
  if (json) return printStatsJson(s)
  tellSkipped(found)
  process.stdout.write(statsTable(s) + '\n')
  for (const f of s.failed) info(`${f.name}: ${f.error}`)
}

/**
 * A stream of samples on stdout: on a terminal each table replaces the last one (cursor moved up, lines cleared);
 * otherwise each table is printed after a blank line.
 */
export function statsStreamRenderer(found: ServiceTasks, stream: NodeJS.WriteStream = process.stdout): (s: StatsSample) => void {
  tellSkipped(found)
  let drawn = 0
  let first = true
  return (s) => {
    const failures = s.failed.map((f) => `${f.name}: ${f.error}`)
    if (stream.isTTY) {
      const lines = [...statsTable(s).split('\n'), ...failures]
      const up = drawn > 0 ? `\x1b[${drawn}F` : ''
      stream.write(up + lines.map((l) => `\x1b[2K${l}`).join('\n') + '\n' + (drawn > lines.length ? '\x1b[J' : ''))
      drawn = lines.length
    } else {
      stream.write((first ? '' : '\n') + statsTable(s) + '\n')
      for (const f of failures) info(f)
    }
    first = false
  }
}
