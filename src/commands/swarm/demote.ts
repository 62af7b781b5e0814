import {BeltCommand} from '../../base-command.js'
import {nodeOpArgs, nodeOpFlags, runNodeOp} from './promote.js'

export default class SwarmDemote extends BeltCommand {
  static description = 'Make manager nodes workers (through the active manager)'
  static examples = ["<%= config.bin %> swarm demote 'mg[1:2]'"]
  static strict = false
  static args = nodeOpArgs
  static flags = nodeOpFlags

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmDemote)
    await runNodeOp(this.resolveCluster(flags), 'demote', argv as string[], flags.json, flags.timeout)
  }
}
