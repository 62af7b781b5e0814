import {Args} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {checkClusterName, findBeltDir, listClusterNames, writeActiveCluster} from '../../core/config/store.js'
import {info} from '../../ui/output.js'

export default class ClusterUse extends BeltCommand {
  static description = 'Make a cluster the active one (same as `belt use NAME`)'
  static examples = ['<%= config.bin %> cluster use swarm2k', '<%= config.bin %> use swarm2k']
  static aliases = ['use']
  static args = {name: Args.string({description: 'cluster name', required: true})}

  async run(): Promise<void> {
    const {args} = await this.parse(ClusterUse)
    checkClusterName(args.name)
    const beltDir = findBeltDir()
    if (!beltDir || !existsSync(join(beltDir, args.name, 'config.yml'))) {
      const known = beltDir ? listClusterNames(beltDir) : []
      throw new UsageError(`no cluster named '${args.name}'${known.length ? `; clusters: ${known.join(', ')}` : ''}`)
    }
    writeActiveCluster(beltDir, args.name)
    info(`active cluster: ${args.name}`)
  }
}
