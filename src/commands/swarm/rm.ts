import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {PartialFailure} from '../../core/errors.js'
import {parseDuration} from '../../core/duration.js'
import {removeNodes} from '../../docker/swarm.js'
import {renderFleet} from '../../ui/fleet.js'
import {info} from '../../ui/output.js'

export default class SwarmRm extends BeltCommand {
  static description = `Remove nodes from the swarm's node list, through the active manager (docker node rm, 500 IDs per call)

For nodes that died or left: the swarm lists them as Down until they are removed. A name's Down entries are removed (after a node re-joined, only its old Down entry goes). A node that is still up is refused, naming it, unless --force (docker node rm --force). --down picks every node the manager sees as Down (with patterns: the Down ones among them).
Managers are never removed: docker refuses to remove a raft member; demote it first (belt swarm demote NAME), then remove it. Names in the swarm no more are reported as already removed. The machines themselves are not touched (belt rm deletes them).`

  static examples = [
    '<%= config.bin %> swarm rm --down',
    "<%= config.bin %> swarm rm 'w[1:20]'",
    "<%= config.bin %> swarm rm 'w[1:20]' --down --json",
    '<%= config.bin %> swarm rm w7 --force',
  ]

  static strict = false
  static args = {patterns: Args.string({description: "nodes to remove ('w[1:20]', 'w3,w9'); none with --down: every Down node"})}
  static flags = {
    down: Flags.boolean({description: 'every node the manager sees as Down (with patterns: only those of them)'}),
    force: Flags.boolean({description: 'also remove nodes that are not Down (docker node rm --force)'}),
    json: Flags.boolean({description: 'print JSON: {"manager", "ok", "already", "failed": [{"name", "error"}]}'}),
    timeout: Flags.string({description: 'time limit for the manager connection and the removal (default: 2m plus 0.1s per node)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmRm)
    const cluster = this.resolveCluster(flags)
    const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout')
    const req = {patterns: argv as string[], down: flags.down, force: flags.force}
    const r = await this.withSsh(cluster, (ssh) => removeNodes(cluster, ssh, req, {timeoutMs}))
    if (!flags.json) info(`through the manager ${r.manager}`)
    if (!flags.json && r.total === 0) info('nothing to remove: the manager sees no node Down')
    renderFleet(r, {json: flags.json, head: {manager: r.manager}})
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} of ${r.total} nodes could not be removed`)
  }
}
