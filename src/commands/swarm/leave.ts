import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {Interrupted, PartialFailure} from '../../core/errors.js'
import {parseDuration} from '../../core/duration.js'
import {leaveNodes} from '../../docker/swarm.js'
import {concurrencyFor, endpointsFrom} from '../../ssh/targets.js'
import {fleetHooks, renderFleet} from '../../ui/fleet.js'

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
    const targets = await endpointsFrom(cluster, argv as string[])
    const opts = {force: flags.force, timeoutMs, concurrency: concurrencyFor(cluster, flags.concurrency)}
    const result = await this.withSsh(cluster, (ssh) => leaveNodes(ssh, targets, opts, fleetHooks()))
    renderFleet(result, {json: flags.json})
    if (result.interrupted) throw new Interrupted()
    if (result.failed.length) throw new PartialFailure(flags.json ? '' : `${result.failed.length} of ${result.total} nodes could not leave`)
  }
}
