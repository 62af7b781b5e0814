import {NodeOpCommand} from '../../base-command.js'

export default class SwarmDrain extends NodeOpCommand {
  static description = 'Drain nodes: their tasks move elsewhere and no new ones are scheduled there (through the active manager)'
  static examples = ["<%= config.bin %> swarm drain 'w[1:3]'"]
  protected readonly op = 'drain'
}
