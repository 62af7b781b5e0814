import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {providerFor} from '../providers/index.js'
import {out, warn} from '../ui/output.js'

export default class Ip extends BeltCommand {
  static description = 'Print node addresses, one per line (public by default)'
  static examples = ['<%= config.bin %> ip mg0', "<%= config.bin %> ip 'node[1:4]' --private"]
  static strict = false
  static args = {nodes: Args.string({description: 'node names or patterns', required: true})}
  static flags = {private: Flags.boolean({description: 'the private address instead'})}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Ip)
    const cluster = this.resolveCluster(flags)
    const provider = await providerFor(cluster)
    const names = expandPatterns(argv as string[])
    const {found, missing} = await provider.endpoints(names)
    const byName = new Map(found.map((e) => [e.name, e]))
    const problems: string[] = missing.map((n) => `unknown node '${n}' in cluster '${cluster.name}'`)
    for (const name of names) {
      const e = byName.get(name)
      if (!e) continue
      const addr = flags.private ? e.private_ip : e.public_ip
      if (addr) out(addr)
      else problems.push(`node '${name}' has no ${flags.private ? 'private' : 'public'} address yet`)
    }
    for (const p of problems.slice(0, -1)) warn(p)
    if (problems.length) throw new PartialFailure(problems[problems.length - 1])
  }
}
