import {Args, Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {checkClusterName, findBeltDir, readActiveCluster, removeClusterDir, writeActiveCluster} from '../../core/config/store.js'
import {loadClusterAt} from '../../core/config/cluster.js'
import {info} from '../../ui/output.js'

export default class ClusterRm extends BeltCommand {
  static description = 'Remove a cluster\'s folder (template, state, keys, certificates); refuses while it still has nodes'
  static examples = ['<%= config.bin %> cluster rm lab', '<%= config.bin %> cluster rm lab --force']
  static args = {name: Args.string({description: 'cluster name', required: true})}
  static flags = {force: Flags.boolean({char: 'f', description: 'remove even though belt still knows nodes of it'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterRm)
    checkClusterName(args.name)
    const beltDir = findBeltDir()
    if (!beltDir || !existsSync(join(beltDir, args.name, 'config.yml'))) throw new UsageError(`no cluster named '${args.name}'`)
    const c = loadClusterAt(args.name, join(beltDir, args.name), join(beltDir, args.name, 'config.yml'))
    const nodes = Object.keys(c.state.read().nodes)
    if (nodes.length > 0 && !flags.force) {
      throw new UsageError(`cluster '${args.name}' still has ${nodes.length} node(s); remove them first (belt rm --all --cluster ${args.name}) or use --force`)
    }
    removeClusterDir(beltDir, args.name)
    if (readActiveCluster(beltDir) === args.name) writeActiveCluster(beltDir, null)
    info(`removed cluster '${args.name}'`)
  }
}
