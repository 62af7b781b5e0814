import {NodeOpCommand} from '../../base-command.js'

export default class SwarmActivate extends NodeOpCommand {
  static description = 'Make drained nodes available for tasks again (through the active manager)'
  static examples = ["<%= config.bin %> swarm activate 'w[1:3]'"]
  protected readonly op = 'activate'
}
