import {BeltCommand} from '../../base-command.js'
import {nodeOpArgs, nodeOpFlags, runNodeOp} from './promote.js'

export default class SwarmDrain extends BeltCommand {
  static description = 'Drain nodes: their tasks move elsewhere and no new ones are scheduled there (through the active manager)'
  static examples = ["<%= config.bin %> swarm drain 'w[1:3]'"]
  static strict = false
  static args = nodeOpArgs
  static flags = nodeOpFlags

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmDrain)
    await runNodeOp(this.resolveCluster(flags), 'drain', argv as string[], flags.json, flags.timeout)
  }
}
