// `belt logs`: each task's container log, read on the node that runs it (docker logs over SSH, one connection per
// node hosting tasks), stdout and stderr kept apart. The tasks come from tasks.ts. With --follow it streams until
// every log ends or Ctrl-C (the signal), which closes the channels. Nothing here prints: output goes to the writers.
import pLimit from 'p-limit'
import {UsageError} from '../core/errors.js'
import {oneLine} from '../ssh/fleet.js'
import {shellQuote as q} from '../ssh/quote.js'
import type {HostWriters} from '../ssh/remote-command.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import type {FleetFailure} from '../ssh/fleet-result.js'
import type {ServiceTask, ServiceTasks} from './tasks.js'

export interface LogsOptions {
  follow: boolean
  /** Lines from the end: a count or 'all'. */
  tail?: string
  /** docker's --since: a duration (10m, 1h30m) or a timestamp (2026-01-02T13:23:37Z, unix seconds). */
  since?: string
  timestamps?: boolean
}

/** --tail: a whole number or `all`. */
export function parseTail(text: string): string {
  if (text === 'all' || /^\d+$/.test(text)) return text
  throw new UsageError(`--tail: expected a number of lines or 'all', got '${text}'`)
}

/** --since: what docker logs accepts — a Go duration (90s, 10m, 1h30m), an RFC 3339 date or time, unix seconds. */
export function parseSince(text: string): string {
  const duration = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/
  const date = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/
  const unix = /^\d{9,}(\.\d+)?$/
  if (duration.test(text) || date.test(text) || unix.test(text)) return text
  throw new UsageError(`--since: expected a duration (10m, 1h30m), a date (2026-01-02T13:23:37Z) or unix seconds, got '${text}'`)
}

export function logsCommand(container: string, o: LogsOptions): string {
  return ['docker', 'logs', ...(o.follow ? ['--follow'] : []), ...(o.tail ? ['--tail', q(o.tail)] : []),
    ...(o.since ? ['--since', q(o.since)] : []), ...(o.timestamps ? ['--timestamps'] : []), q(container)].join(' ')
}

/** "web.2@w3": a task's prefix when several are shown ("web@w3" for a global service's). */
export function taskPrefix(t: ServiceTask): string {
  return `${t.label}@${t.node ?? t.hostname}`
}

export interface LogsResult {
  /** Tasks whose log was read to its end (or until Ctrl-C). */
  shown: string[]
  failed: FleetFailure[]
}

/**
 * Every task's log, nodes in parallel (`concurrency` at once unless following: then all, as each stream stays
 * open). `writers(prefix)` gets null for the prefix when there is only one task: its output passes unchanged.
 */
export async function streamLogs(ssh: SshContext, found: ServiceTasks, o: LogsOptions & {concurrency: number; signal: AbortSignal},
  writers: (prefix: string | null) => HostWriters): Promise<LogsResult> {
  const byNode = new Map<string, ServiceTask[]>()
  for (const t of found.tasks) byNode.set(t.node!, [...(byNode.get(t.node!) ?? []), t])
  const single = found.tasks.length === 1
  const shown: string[] = []
  const failed: FleetFailure[] = []
  const limit = pLimit(o.follow ? Math.max(1, byNode.size) : o.concurrency)
  await Promise.all([...byNode].map(([node, tasks]) => limit(async () => {
    if (o.signal.aborted) return
    let session: SshSession
    try {
      session = await ssh.connect(found.endpoints.get(node)!, {signal: o.signal})
    } catch (err) {
      for (const t of tasks) failed.push({name: taskPrefix(t), error: oneLine(err)})
      return
    }
    try {
      await Promise.all(tasks.map(async (t) => {
        const w = writers(single ? null : taskPrefix(t))
        try {
          const r = await session.exec(logsCommand(t.container, o), {sudo: true, signal: o.signal, stdout: w.stdout, stderr: w.stderr})
          if (r.code === 0) shown.push(taskPrefix(t))
          else failed.push({name: taskPrefix(t), error: r.code === null ? `killed by ${r.signal}` : `docker logs exit code ${r.code}`})
        } catch (err) {
          if (o.signal.aborted) shown.push(taskPrefix(t))
          else failed.push({name: taskPrefix(t), error: oneLine(err)})
        } finally {
          await w.close()
        }
      }))
    } finally {
      session.close()
    }
  })))
  return {shown, failed}
}
