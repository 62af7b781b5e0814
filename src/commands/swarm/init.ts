import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {parseDuration} from '../../core/duration.js'
import {initCommand, initManager} from '../../docker/swarm.js'
import {activeNodeName, endpointsFor} from '../../ssh/targets.js'
import {out} from '../../ui/output.js'
import {renderInit} from '../../ui/swarm.js'

export default class SwarmInit extends BeltCommand {
  static description = `Start a swarm on a node (default: the active node); it becomes the active node

Advertises the node's private address when the provider knows one, else its public one. Safe to re-run: a node that already manages a swarm is left as it is.`

  static examples = [
    '<%= config.bin %> swarm init mg0',
    '<%= config.bin %> swarm init mg0 --drain',
    '<%= config.bin %> swarm init node1 --advertise-addr 10.0.0.5',
  ]

  static args = {node: Args.string({description: 'the first manager (default: the active node)'})}
  static flags = {
    'advertise-addr': Flags.string({description: 'address other nodes reach the manager on (default: private, else public address)'}),
    drain: Flags.boolean({description: 'set the manager to drain so tasks run only on workers (a Swarm2k lesson for big swarms)'}),
    json: Flags.boolean({description: 'print JSON: {"manager", "address", "node_id", "already", "drained"}'}),
    'print-command': Flags.boolean({description: 'print the remote command and run nothing'}),
    timeout: Flags.string({description: 'time limit for the connection and the init together', default: '2m'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(SwarmInit)
    if (flags['print-command']) {
      this.printJumpNote(flags)
      return out(initCommand({advertiseAddr: flags['advertise-addr'] ?? 'ADVERTISE-ADDRESS', drain: flags.drain}))
    }
    const cluster = this.resolveCluster(flags)
    const [ep] = await endpointsFor(cluster, [args.node ?? activeNodeName(cluster, 'name the node: belt swarm init NODE')])
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const opts = {advertiseAddr: flags['advertise-addr'], drain: flags.drain, timeoutMs}
    const result = await this.withSsh(cluster, (ssh) => initManager(cluster, ssh, ep, opts))
    renderInit(result, flags.json)
  }
}
