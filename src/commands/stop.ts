import {Flags} from '@oclif/core'
import {PowerCommand} from '../power-command.js'

export default class Stop extends PowerCommand {
  static description = 'Power nodes off through the provider (DigitalOcean power_off, EC2 StopInstances, local hosts); refused when it would lose the swarm\'s quorum'
  static examples = [
    "<%= config.bin %> stop 'w[1:10]'",
    "<%= config.bin %> stop w7 --wait --json",
    "<%= config.bin %> stop 'mg[0:2]' --force",
  ]
  // Own copies: oclif's parse reads a command's own statics only.
  static strict = false
  static args = PowerCommand.args
  static flags = {
    ...PowerCommand.flags,
    force: Flags.boolean({description: 'stop managers even when the swarm would lose its quorum'}),
  }

  protected readonly action = 'stop'

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Stop)
    await this.power(argv as string[], flags)
  }
}
