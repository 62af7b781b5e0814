import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import {Interrupted, PartialFailure, UsageError} from '../../core/errors.js'
import {initCommand, initSwarm, managerAddress, SwarmError} from '../../docker/swarm.js'
import {createSshContext} from '../../ssh/context.js'
import {formatSeconds, oneLine, stepSignal} from '../../ssh/fleet.js'
import {parseDuration} from '../../core/duration.js'
import {onInterrupt} from '../../core/interrupt.js'
import {activeNodeName, endpointsFor} from '../../ssh/targets.js'
import {printHostKeyWarnings} from '../../ui/fleet.js'
import {info, out, printJson, warn} from '../../ui/output.js'

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
      out(initCommand({advertiseAddr: flags['advertise-addr'] ?? 'ADVERTISE-ADDRESS', drain: flags.drain}))
      return
    }
    const cluster = this.resolveCluster(flags)
    const name = args.node ?? activeNodeName(cluster, 'name the node: belt swarm init NODE')
    const [ep] = await endpointsFor(cluster, [name])
    const advertiseAddr = flags['advertise-addr'] ?? ep.private_ip ?? ep.public_ip ?? ep.host
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const ssh = createSshContext(cluster, {onWarning: warn})
    const scope = onInterrupt()
    const step = stepSignal(timeoutMs, scope.signal)
    let result
    try {
      let session
      try {
        session = await ssh.connect(ep, {signal: step.signal})
      } catch (err) {
        printHostKeyWarnings(ssh.hostKeyProblems)
        throw new PartialFailure(`${name}: ${step.timedOut() ? `no SSH login within ${formatSeconds(timeoutMs)}` : oneLine(err)}`)
      }
      try {
        result = await initSwarm(session, {advertiseAddr, drain: flags.drain}, step.signal)
      } catch (err) {
        if (err instanceof SwarmError && err.conflict) throw new UsageError(err.message)
        throw new PartialFailure(`${name}: ${oneLine(err)}`)
      } finally {
        session.close()
      }
    } finally {
      step.dispose()
      scope.dispose()
    }
    if (scope.interrupted()) throw new Interrupted()
    ensureClusterDir(cluster)
    cluster.state.update((s) => { s.active_node = name })
    const address = managerAddress(ep, result.info)
    if (flags.json) {
      printJson({manager: name, address, node_id: result.info.nodeId, already: result.already, drained: result.drained})
      return
    }
    out(result.already ? `${name} already manages a swarm (node ${result.info.nodeId.slice(0, 12)}, ${address})` : `swarm initialised on ${name} (node ${result.info.nodeId.slice(0, 12)}, ${address})`)
    if (result.drained) info(`${name} is drained: tasks run on workers only`)
    info(`active node: ${name}; next: belt swarm join ${name} 'NODES'`)
  }
}
