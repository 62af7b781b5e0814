import {Args} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {UsageError} from '../core/errors.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import {providerFor} from '../providers/index.js'
import {info, out} from '../ui/output.js'

export default class Active extends BeltCommand {
  static description = 'Show or set the active node (the default target of `belt docker`, `swarm init`, ...)'
  static examples = ['<%= config.bin %> active', '<%= config.bin %> active mg0']
  static args = {node: Args.string({description: 'node to make active'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Active)
    const cluster = this.resolveCluster(flags)
    if (!args.node) {
      const a = cluster.state.read().active_node
      if (!a) throw new UsageError(`cluster '${cluster.name}' has no active node; set one with: belt active NODE`)
      out(a)
      return
    }
    const provider = await providerFor(cluster)
    const {missing} = await provider.endpoints([args.node])
    if (missing.length) throw new UsageError(`unknown node '${args.node}' in cluster '${cluster.name}'`)
    ensureClusterDir(cluster)
    cluster.state.update((s) => { s.active_node = args.node! })
    info(`active node: ${args.node}`)
  }
}
