import {Flags} from '@oclif/core'
import {PowerCommand} from '../power-command.js'

export default class Restart extends PowerCommand {
  static description = 'Restart nodes through the provider: DigitalOcean reboot (--hard: power cycle), EC2 RebootInstances, local hosts, generic hosts by reboot over SSH'
  static examples = [
    "<%= config.bin %> restart w3 --wait",
    "<%= config.bin %> restart 'w[1:2000]' --json",
    "<%= config.bin %> restart 'mg[0:2],w[1:100]' --hard",
  ]
  // Own copies: oclif's parse reads a command's own statics only.
  static strict = false
  static args = PowerCommand.args
  static flags = {
    ...PowerCommand.flags,
    hard: Flags.boolean({description: 'a power cycle instead of a reboot (DigitalOcean: one tag-wide power_cycle when every node is named; local: no clean dockerd stop)'}),
  }

  protected readonly action = 'restart'

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Restart)
    await this.power(argv as string[], flags)
  }
}
