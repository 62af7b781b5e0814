import {NodeOpCommand} from '../../base-command.js'

export default class SwarmPromote extends NodeOpCommand {
  static description = 'Make worker nodes managers (through the active manager)'
  static examples = ["<%= config.bin %> swarm promote 'mg[1:2]'"]
  protected readonly op = 'promote'
}
