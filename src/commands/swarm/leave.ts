import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {Interrupted, PartialFailure} from '../../core/errors.js'
import {parseDuration} from '../../core/duration.js'
import {onInterrupt} from '../../core/interrupt.js'
import {leaveNode} from '../../docker/swarm.js'
import {createSshContext} from '../../ssh/context.js'
import {endpointsForPatterns} from '../../ssh/targets.js'
import {FleetProgress, fleetSummary, printHostKeyWarnings, type FleetRow} from '../../ui/fleet.js'
import {out, printJson, warn} from '../../ui/output.js'

export default class SwarmLeave extends BeltCommand {
  static description = `Make nodes leave their swarm (runs docker swarm leave on each node, in parallel)

A node in no swarm is reported as already gone. A manager leaves only with --force. The swarm keeps listing a node that left as Down until you remove it: belt docker node rm NAME.`

  static examples = ["<%= config.bin %> swarm leave 'w[1:10]'", '<%= config.bin %> swarm leave mg0 --force']
  static strict = false
  static args = {patterns: Args.string({description: 'nodes that leave', required: true})}
  static flags = {
    force: Flags.boolean({description: 'leave even as a manager (docker swarm leave --force)'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'per-node time limit', default: '2m'}),
    json: Flags.boolean({description: 'print JSON: {"ok", "already", "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmLeave)
    const cluster = this.resolveCluster(flags)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const targets = await endpointsForPatterns(cluster, argv as string[])
    const ssh = createSshContext(cluster, {onWarning: warn})
    const progress = new FleetProgress({total: targets.length, outcomes: ['left', 'already', 'failed'], label: 'swarm leave'}).start()
    const scope = onInterrupt()
    let run
    try {
      run = await ssh.runFleet(targets, (s, signal) => leaveNode(s, flags.force, signal), {
        concurrency: flags.concurrency ?? Number(cluster.settings.concurrency ?? 100),
        timeoutMs,
        retries: 2,
        signal: scope.signal,
        onResult: (r) => progress.record(r.name, r.ok ? r.value! : 'failed', r.error),
      })
    } finally {
      scope.dispose()
      await progress.stop()
    }
    printHostKeyWarnings(ssh.hostKeyProblems)
    const rows: FleetRow[] = run.results.map((r) => ({name: r.name, outcome: r.ok ? r.value! : 'failed', error: r.error}))
    const pick = (o: string) => rows.filter((r) => r.outcome === o).map((r) => r.name).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
    const failed = rows.filter((r) => r.outcome === 'failed').map((r) => ({name: r.name, error: r.error ?? 'failed'}))
    failed.push(...run.notStarted.map((n) => ({name: n, error: 'not started (interrupted)'})))
    if (flags.json) printJson({ok: pick('left'), already: pick('already'), failed})
    else out(fleetSummary(rows, ['left', 'already', 'failed'], {notStarted: run.notStarted}))
    if (run.interrupted) throw new Interrupted()
    if (failed.length) throw new PartialFailure(flags.json ? '' : `${failed.length} of ${targets.length} nodes could not leave`)
  }
}
