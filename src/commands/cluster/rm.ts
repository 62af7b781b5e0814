import {Args, Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {checkClusterName, findBeltDir, readActiveCluster, removeClusterDir, writeActiveCluster} from '../../core/config/store.js'
import {Cluster, loadClusterAt} from '../../core/config/cluster.js'
import {providerFor} from '../../providers/index.js'
import {forgetContext} from '../../docker/context.js'
import {info} from '../../ui/output.js'

export default class ClusterRm extends BeltCommand {
  static description = 'Remove a cluster\'s folder (template, state, keys, certificates); refuses while the provider still has nodes of it'
  static examples = ['<%= config.bin %> cluster rm lab', '<%= config.bin %> cluster rm lab --force']
  static args = {name: Args.string({description: 'cluster name', required: true})}
  static flags = {
    force: Flags.boolean({char: 'f', description: 'remove the folder even though nodes of the cluster still exist (they are not removed)'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterRm)
    checkClusterName(args.name)
    const beltDir = findBeltDir()
    if (!beltDir || !existsSync(join(beltDir, args.name, 'config.yml'))) throw new UsageError(`no cluster named '${args.name}'`)
    const c = loadClusterAt(args.name, join(beltDir, args.name), join(beltDir, args.name, 'config.yml'))
    if (!flags.force) {
      const left = await remainingNodes(c)
      if (left.count > 0) {
        throw new UsageError(`cluster '${args.name}' still has ${left.count} node(s) ${left.where}; `
          + `remove them first (belt rm --all --cluster ${args.name}) or use --force`)
      }
    }
    removeClusterDir(beltDir, args.name)
    if (readActiveCluster(beltDir) === args.name) writeActiveCluster(beltDir, null)
    info(`removed cluster '${args.name}'`)
    const context = await forgetContext(c)
    if (context) info(context)
  }
}

/**
 * Nodes that would be left without their keys: what the provider lists (the cloud, by the cluster's id; the local
 * driver's hosts on this machine, recorded or not), never state.json alone. A cloud cluster without an id was made
 * before cluster ids: its nodes are found only through state.json. generic hosts are the user's own machines, which
 * belt never creates: state.json's records decide, as before.
 */
async function remainingNodes(c: Cluster): Promise<{count: number; where: string}> {
  const recorded = Object.keys(c.state.read().nodes).length
  if (c.driver === 'generic') return {count: recorded, where: 'in state.json'}
  if (c.driver !== 'local' && !c.id) return {count: recorded, where: 'in state.json (made before cluster ids: belt cluster adopt)'}
  const provider = await providerFor(c)
  const live = (await provider.list()).filter((n) => n.status !== 'gone').length
  const unrecorded = 'unrecorded' in provider ? (provider as {unrecorded(): string[]}).unrecorded().length : 0
  const where = c.driver === 'local' ? 'on this machine'
    : c.driver === 'digitalocean' ? `tagged belt-id:${c.id}` : `tagged belt-cluster-id=${c.id}`
  return {count: live + unrecorded, where}
}
