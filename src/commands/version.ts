import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {versions} from '../core/versions.js'
import {out, printJson} from '../ui/output.js'

export default class Version extends BeltCommand {
  static description = 'Show the versions of belt, Node.js, ssh2, the AWS EC2 SDK, the DigitalOcean SDK (dots-wrapper) and oclif (for bug reports)'
  static examples = ['<%= config.bin %> version', '<%= config.bin %> version --json']
  static flags = {
    json: Flags.boolean({description: 'print JSON: {"belt", "node", "ssh2", "@aws-sdk/client-ec2", "dots-wrapper", "@oclif/core", "platform"}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Version)
    const v = versions(this.config.version)
    if (flags.json) return printJson(v)
    const width = Math.max(...Object.keys(v).map((k) => k.length))
    for (const [k, value] of Object.entries(v)) out(`${k.padEnd(width)}  ${value ?? 'not installed'}`)
  }
}
