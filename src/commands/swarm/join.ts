import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {Interrupted, PartialFailure} from '../../core/errors.js'
import {parseDuration} from '../../core/duration.js'
import {joinNodes, planJoin} from '../../docker/swarm.js'
import {concurrencyFor} from '../../ssh/targets.js'
import {fleetHooks} from '../../ui/fleet.js'
import {printJoinCommands, renderJoin, renderNothingToJoin} from '../../ui/swarm.js'

export default class SwarmJoin extends BeltCommand {
  static description = `Join nodes to the swarm of MANAGER, in parallel

The join token is read once from MANAGER; then each node gets one SSH connection and one remote command that checks and joins. Safe to re-run: a node already in this swarm is reported as already joined; a node in another swarm is an error for that node. The token never appears in any output, nor in a command line on the nodes (it reaches dockerd as the body of POST /swarm/join; without curl on a node, docker swarm join --token is the reported fallback). --timeout bounds the manager read too.
Failures are kept in state.json: --retry-failed joins only those again (MANAGER and PATTERN optional then).`

  static examples = [
    "<%= config.bin %> swarm join mg0 'node[2:4]'",
    "<%= config.bin %> swarm join mg0 'w[1:2000]' --concurrency 200",
    "<%= config.bin %> swarm join --manager mg0 'mg[1:2]'",
    '<%= config.bin %> swarm join --retry-failed',
  ]

  static strict = false
  static args = {
    manager: Args.string({description: 'a manager of the swarm'}),
    patterns: Args.string({description: "nodes to join ('w[1:2000]', 'node2,node3')"}),
  }

  static flags = {
    manager: Flags.boolean({description: 'join the nodes as managers (default: workers)'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'per-node time limit, connection included', default: '2m'}),
    'retry-failed': Flags.boolean({description: 'join only the nodes that failed last time (kept in state.json)'}),
    json: Flags.boolean({description: 'print JSON: {"manager", "joined", "already", "failed": [{"name", "error"}]}'}),
    'print-command': Flags.boolean({description: 'print the remote commands (on the manager, then on each node) and run nothing'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmJoin)
    if (flags['print-command']) {
      this.printJumpNote(flags)
      return printJoinCommands(flags.manager ? 'manager' : 'worker')
    }
    const cluster = this.resolveCluster(flags)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const plan = await planJoin(cluster, {args: argv as string[], asManagers: flags.manager, retryFailed: flags['retry-failed']})
    if (plan.nothing) return renderNothingToJoin(plan, flags.json)
    const opts = {timeoutMs, concurrency: concurrencyFor(cluster, flags.concurrency)}
    const r = await this.withSsh(cluster, (ssh) => joinNodes(cluster, ssh, plan, opts, fleetHooks()))
    renderJoin(r, flags.json)
    if (r.managerError && r.interrupted) throw new Interrupted(`interrupted while reading the manager ${r.manager}; nothing was joined`)
    if (r.managerError) throw new PartialFailure(flags.json ? '' : r.managerError)
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.notStarted.length} node(s) not started (kept for --retry-failed)`)
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} of ${r.total} nodes failed to join`)
  }
}
