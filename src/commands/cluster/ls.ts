import {Flags} from '@oclif/core'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {findBeltDir, listClusterNames, readActiveCluster} from '../../core/config/store.js'
import {loadClusterAt} from '../../core/config/cluster.js'
import {type Column, quietFlag, renderTable, tableChoice, tableFlags} from '../../ui/columns.js'
import {info, out, printJson} from '../../ui/output.js'

interface ClusterRow {
  name: string
  driver: string
  active: boolean
  nodes: number
}

const COLUMNS: Column<ClusterRow>[] = [
  {key: 'name', head: 'CLUSTER', value: (r) => r.name},
  {key: 'active', head: 'ACTIVE', value: (r) => (r.active ? '*' : '')},
  {key: 'driver', head: 'DRIVER', value: (r) => r.driver},
  {key: 'nodes', head: '#NODES', value: (r) => r.nodes},
]

export default class ClusterLs extends BeltCommand {
  static description = 'List clusters (the active one is marked)'
  static examples = ['<%= config.bin %> cluster ls', '<%= config.bin %> cluster ls --json', '<%= config.bin %> cluster ls -q',
    '<%= config.bin %> cluster ls --columns name,driver --no-header']
  static flags = {json: Flags.boolean({description: 'print JSON'}), ...quietFlag, ...tableFlags(COLUMNS)}

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterLs)
    const choice = tableChoice(flags, COLUMNS)
    const beltDir = findBeltDir()
    const names = beltDir ? listClusterNames(beltDir) : []
    const active = beltDir ? readActiveCluster(beltDir) : null
    const rows: ClusterRow[] = names.map((name) => {
      const c = loadClusterAt(name, join(beltDir!, name), join(beltDir!, name, 'config.yml'))
      return {name, driver: c.driver, active: name === active, nodes: Object.keys(c.state.read().nodes).length}
    })
    if (flags.json) return printJson(rows)
    if (rows.length === 0) {
      info('no clusters yet: belt cluster new NAME --driver digitalocean|ec2|generic|local')
      return
    }
    out(renderTable(COLUMNS, rows, choice))
  }
}
