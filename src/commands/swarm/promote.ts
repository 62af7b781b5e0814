import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import type {Cluster} from '../../core/config/cluster.js'
import {Interrupted, PartialFailure, UsageError} from '../../core/errors.js'
import {changeNodes, opVerb, SwarmError, type NodeOp} from '../../docker/swarm.js'
import {createSshContext} from '../../ssh/context.js'
import {formatSeconds, oneLine, stepSignal} from '../../ssh/fleet.js'
import {parseDuration} from '../../core/duration.js'
import {onInterrupt} from '../../core/interrupt.js'
import {activeNodeName, endpointsFor, endpointsForPatterns} from '../../ssh/targets.js'
import {fleetSummary, printHostKeyWarnings} from '../../ui/fleet.js'
import {info, out, printJson, warn} from '../../ui/output.js'

/** The flags every node change shares (promote, demote, drain, activate). */
export const nodeOpFlags = {
  json: Flags.boolean({description: 'print JSON: {"manager", "ok", "already", "failed": [{"name", "error"}]}'}),
  timeout: Flags.string({description: 'time limit for the manager connection and the change together (default: 2m plus 1s per node)'}),
}

export const nodeOpArgs = {patterns: Args.string({description: "nodes ('w[1:3]', 'node2,node3')", required: true})}

/** Apply a node change through the active manager and report it; shared by the four commands. */
export async function runNodeOp(cluster: Cluster, op: NodeOp, patterns: string[], json: boolean, timeout?: string): Promise<void> {
  const givenMs = timeout === undefined ? undefined : parseDuration(timeout, '--timeout')
  const managerName = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [managerEp] = await endpointsFor(cluster, [managerName])
  const targets = await endpointsForPatterns(cluster, patterns)
  // The manager changes the nodes one after another in one command: the default grows with their number.
  const timeoutMs = givenMs ?? 120_000 + 1000 * targets.length
  const ssh = createSshContext(cluster, {onWarning: warn})
  const scope = onInterrupt()
  const step = stepSignal(timeoutMs, scope.signal)
  let results
  try {
    let session
    try {
      session = await ssh.connect(managerEp, {signal: step.signal})
    } catch (err) {
      printHostKeyWarnings(ssh.hostKeyProblems)
      throw new PartialFailure(`cannot reach the manager ${managerName}: ${step.timedOut() ? `no SSH login within ${formatSeconds(timeoutMs)}` : oneLine(err)}`)
    }
    try {
      results = await changeNodes(session, op, targets, step.signal)
    } catch (err) {
      if (err instanceof SwarmError && err.conflict) throw new UsageError(err.message)
      throw new PartialFailure(`manager ${managerName}: ${oneLine(err)}`)
    } finally {
      session.close()
    }
  } finally {
    step.dispose()
    scope.dispose()
  }
  if (scope.interrupted()) throw new Interrupted()
  const verb = opVerb(op)
  const pick = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.name).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
  const failed = results.filter((r) => r.outcome === 'failed').map((r) => ({name: r.name, error: r.error ?? 'failed'}))
  if (json) printJson({manager: managerName, ok: pick(verb), already: pick('already'), failed})
  else {
    info(`through the manager ${managerName}`)
    out(fleetSummary(results, [verb, 'already', 'failed']))
  }
  if (failed.length) throw new PartialFailure(json ? '' : `${failed.length} of ${targets.length} nodes could not be ${verb}`)
}

export default class SwarmPromote extends BeltCommand {
  static description = 'Make worker nodes managers (through the active manager)'
  static examples = ["<%= config.bin %> swarm promote 'mg[1:2]'"]
  static strict = false
  static args = nodeOpArgs
  static flags = nodeOpFlags

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmPromote)
    await runNodeOp(this.resolveCluster(flags), 'promote', argv as string[], flags.json, flags.timeout)
  }
}
