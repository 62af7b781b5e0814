import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import type {Cluster} from '../../core/config/cluster.js'
import {PartialFailure, UsageError} from '../../core/errors.js'
import {changeNodes, opVerb, SwarmError, type NodeOp} from '../../docker/swarm.js'
import {createSshContext} from '../../ssh/context.js'
import {oneLine} from '../../ssh/fleet.js'
import {activeNodeName, endpointsFor, endpointsForPatterns} from '../../ssh/targets.js'
import {fleetSummary, printHostKeyWarnings} from '../../ui/fleet.js'
import {info, out, printJson, warn} from '../../ui/output.js'

/** The flags every node change shares (promote, demote, drain, activate). */
export const nodeOpFlags = {
  json: Flags.boolean({description: 'print JSON: {"manager", "ok", "already", "failed": [{"name", "error"}]}'}),
}

export const nodeOpArgs = {patterns: Args.string({description: "nodes ('w[1:3]', 'node2,node3')", required: true})}

/** Apply a node change through the active manager and report it; shared by the four commands. */
export async function runNodeOp(cluster: Cluster, op: NodeOp, patterns: string[], json: boolean): Promise<void> {
  const managerName = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [managerEp] = await endpointsFor(cluster, [managerName])
  const targets = await endpointsForPatterns(cluster, patterns)
  const ssh = createSshContext(cluster, {onWarning: warn})
  let session
  try {
    session = await ssh.connect(managerEp)
  } catch (err) {
    printHostKeyWarnings(ssh.hostKeyProblems)
    throw new PartialFailure(`cannot reach the manager ${managerName}: ${oneLine(err)}`)
  }
  let results
  try {
    results = await changeNodes(session, op, targets)
  } catch (err) {
    if (err instanceof SwarmError && err.conflict) throw new UsageError(err.message)
    throw new PartialFailure(`manager ${managerName}: ${oneLine(err)}`)
  } finally {
    session.close()
  }
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
    await runNodeOp(this.resolveCluster(flags), 'promote', argv as string[], flags.json)
  }
}
