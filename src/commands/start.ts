import {PowerCommand} from '../power-command.js'

export default class Start extends PowerCommand {
  static description = 'Power nodes on through the provider (DigitalOcean power_on, EC2 StartInstances, local hosts); a new public address is reported and its host keys follow'
  static examples = [
    "<%= config.bin %> start 'w[1:10]'",
    "<%= config.bin %> start w7 --wait --json",
  ]
  // Own copies: oclif's parse reads a command's own statics only.
  static strict = false
  static args = PowerCommand.args
  static flags = PowerCommand.flags

  protected readonly action = 'start'

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Start)
    await this.power(argv as string[], flags)
  }
}
