import {Flags} from '@oclif/core'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {findBeltDir, listClusterNames, readActiveCluster} from '../../core/config/store.js'
import {loadClusterAt} from '../../core/config/cluster.js'
import {info, out, printJson, table} from '../../ui/output.js'

export default class ClusterLs extends BeltCommand {
  static description = 'List clusters (the active one is marked)'
  static examples = ['<%= config.bin %> cluster ls', '<%= config.bin %> cluster ls --json']
  static flags = {json: Flags.boolean({description: 'print JSON'})}

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterLs)
    const beltDir = findBeltDir()
    const names = beltDir ? listClusterNames(beltDir) : []
    const active = beltDir ? readActiveCluster(beltDir) : null
    const rows = names.map((name) => {
      const c = loadClusterAt(name, join(beltDir!, name), join(beltDir!, name, 'config.yml'))
      return {name, driver: c.driver, active: name === active, nodes: Object.keys(c.state.read().nodes).length}
    })
    if (flags.json) return printJson(rows)
    if (rows.length === 0) {
      info('no clusters yet: belt cluster new NAME --driver digitalocean|ec2|generic|local')
      return
    }
    out(table(['CLUSTER', 'ACTIVE', 'DRIVER', '#NODES'], rows.map((r) => [r.name, r.active ? '*' : '', r.driver, r.nodes])))
  }
}
