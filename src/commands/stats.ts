import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {StatsSampler} from '../docker/stats.js'
import {findServiceTasks, parseSelector} from '../docker/tasks.js'
import {concurrencyFor} from '../ssh/targets.js'
import {renderStatsOnce, statsStreamRenderer} from '../ui/service.js'

export default class Stats extends BeltCommand {
  static description = `CPU, memory and network of every task of a service, across the nodes that run them

The tasks are found through the active node (a manager); each node hosting tasks gets one SSH connection, kept open \
between samples, and runs docker stats --no-stream for its tasks' containers. On a terminal the table is redrawn in \
place until Ctrl-C (exit 0); otherwise a table per sample. --json implies --no-stream: one document \
{"service", "tasks": [{"task", "slot", "node", "container", "cpu_percent", "memory_bytes", "memory_limit_bytes", \
"memory_percent", "net_rx_bytes", "net_tx_bytes"}], "failed": [{"name", "error"}]}.`

  static examples = [
    '<%= config.bin %> stats web',
    '<%= config.bin %> stats web --no-stream',
    '<%= config.bin %> stats web --json',
  ]

  static args = {service: Args.string({description: 'SERVICE (or SERVICE.SLOT / SERVICE.NODE for one task)', required: true})}
  static flags = {
    'no-stream': Flags.boolean({description: 'one sample, then exit'}),
    json: Flags.boolean({description: 'print one JSON document (implies --no-stream)'}),
    interval: Flags.string({description: 'time between samples when streaming', default: '2s'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'time limit for finding the tasks, and for each node\'s sample', default: '1m'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Stats)
    const selector = parseSelector(args.service)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const everyMs = parseDuration(flags.interval, '--interval')
    const once = flags['no-stream'] || flags.json
    const cluster = this.resolveCluster(flags)
    const concurrency = concurrencyFor(cluster, flags.concurrency)
    const scope = onInterrupt({quiet: !once})
    try {
      const failed = await this.withSsh(cluster, async (ssh) => {
        const found = await findServiceTasks(cluster, ssh, selector.arg, {timeoutMs, signal: scope.signal})
        const sampler = new StatsSampler(ssh, found, {concurrency, stepMs: timeoutMs})
        try {
          if (once) {
            const s = await sampler.sample(scope.signal)
            if (!scope.interrupted()) renderStatsOnce(found, s, flags.json)
            return s.failed.length
          }
          await sampler.stream(scope.signal, everyMs, statsStreamRenderer(found))
          return 0
        } finally {
          sampler.close()
        }
      })
      if (scope.interrupted() && once) throw new Interrupted()
      if (failed) throw new PartialFailure(flags.json ? '' : `no sample from ${failed} task${failed === 1 ? '' : 's'}`)
    } finally {
      scope.dispose()
    }
  }
}
