import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {parseSince, parseTail, streamLogs} from '../docker/logs.js'
import {findServiceTasks, parseSelector} from '../docker/tasks.js'
import {concurrencyFor} from '../ssh/targets.js'
import {renderLogsEnd, taskWriters} from '../ui/service.js'

export default class Logs extends BeltCommand {
  static description = `Show the logs of a service's tasks, read on the nodes that run them

The tasks are found through the active node (a manager); each task's container log is read on its node over SSH \
(docker logs), one connection per node. With several tasks every line is prefixed "service.slot@node: " \
("service@node: " for a global service); stdout and stderr stay apart. SERVICE.SLOT picks one task of a replicated \
service, SERVICE.NODE the task of a global service on that node. --follow streams until Ctrl-C (exit 0).`

  static examples = [
    '<%= config.bin %> logs web',
    '<%= config.bin %> logs web.2 --follow',
    '<%= config.bin %> logs web --tail 20 --since 10m',
    '<%= config.bin %> logs belt-monitor_node-exporter.w17',
  ]

  static args = {service: Args.string({description: 'SERVICE, SERVICE.SLOT (replicated) or SERVICE.NODE (global)', required: true})}
  static flags = {
    follow: Flags.boolean({char: 'f', description: 'keep streaming new lines until Ctrl-C'}),
    tail: Flags.string({description: "lines from the end of each task's log (a number or 'all')"}),
    since: Flags.string({description: 'only lines since a duration ago (10m, 1h30m) or a date (2026-01-02T13:23:37Z)'}),
    timestamps: Flags.boolean({char: 't', description: 'show timestamps'}),
    concurrency: Flags.integer({description: "nodes at once without --follow (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'time limit for finding the tasks through the manager', default: '1m'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Logs)
    const selector = parseSelector(args.service)
    const tail = flags.tail === undefined ? undefined : parseTail(flags.tail)
    const since = flags.since === undefined ? undefined : parseSince(flags.since)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const cluster = this.resolveCluster(flags)
    const concurrency = concurrencyFor(cluster, flags.concurrency)
    const scope = onInterrupt({quiet: flags.follow})
    try {
      const r = await this.withSsh(cluster, async (ssh) => {
        const found = await findServiceTasks(cluster, ssh, selector.arg, {timeoutMs, signal: scope.signal})
        const o = {follow: flags.follow, tail, since, timestamps: flags.timestamps, concurrency, signal: scope.signal}
        const logs = await streamLogs(ssh, found, o, taskWriters)
        return {found, logs}
      })
      renderLogsEnd(r.found, r.logs)
      if (scope.interrupted() && !flags.follow) throw new Interrupted()
      if (r.logs.failed.length) throw new PartialFailure(`no log from ${r.logs.failed.length} of ${r.found.tasks.length} tasks`)
    } finally {
      scope.dispose()
    }
  }
}
