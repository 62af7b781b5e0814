import {NodeOpCommand} from '../../base-command.js'

export default class SwarmDemote extends NodeOpCommand {
  static description = 'Make manager nodes workers (through the active manager)'
  static examples = ["<%= config.bin %> swarm demote 'mg[1:2]'"]
  protected readonly op = 'demote'
}
