import {BeltCommand} from '../../base-command.js'
import {nodeOpArgs, nodeOpFlags, runNodeOp} from './promote.js'

export default class SwarmActivate extends BeltCommand {
  static description = 'Make drained nodes available for tasks again (through the active manager)'
  static examples = ["<%= config.bin %> swarm activate 'w[1:3]'"]
  static strict = false
  static args = nodeOpArgs
  static flags = nodeOpFlags

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmActivate)
    await runNodeOp(this.resolveCluster(flags), 'activate', argv as string[], flags.json, flags.timeout)
  }
}
