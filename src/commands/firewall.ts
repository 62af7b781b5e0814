import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {providerFor} from '../providers/index.js'
import type {FirewallRule} from '../providers/provider.js'
import {type Column, renderTable, tableChoice, tableFlags} from '../ui/columns.js'
import {info, out, printJson} from '../ui/output.js'

const COLUMNS: Column<FirewallRule>[] = [
  {key: 'direction', head: 'DIRECTION', value: (r) => r.direction},
  {key: 'protocol', head: 'PROTOCOL', value: (r) => r.protocol},
  {key: 'ports', head: 'PORTS', value: (r) => r.ports},
  {key: 'sources', head: 'FROM/TO', value: (r) => r.sources.join(',')},
  {key: 'note', head: 'NOTE', value: (r) => r.note},
]

export default class Firewall extends BeltCommand {
  static description = 'Show the swarm firewall belt manages for the cluster (DigitalOcean cloud firewall, EC2 security group)'
  static examples = ['<%= config.bin %> firewall', '<%= config.bin %> firewall --json', '<%= config.bin %> firewall --columns ports,sources --no-header']
  static flags = {
    json: Flags.boolean({description: 'print JSON: {"name", "id", "rules": [{"direction", "protocol", "ports", "sources", "note"}]}'}),
    ...tableFlags(COLUMNS),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Firewall)
    const choice = tableChoice(flags, COLUMNS)
    const cluster = this.resolveCluster(flags)
    const provider = await providerFor(cluster)
    const fw = provider.firewall ? await provider.firewall() : null
    if (!fw) {
      info(`cluster '${cluster.name}' has no firewall managed by belt${provider.firewall ? ' (set admin_cidr to have `belt create` manage one)' : ` (the ${cluster.driver} driver manages none)`}`)
      if (flags.json) printJson({name: null, id: null, rules: []})
      return
    }
    if (!fw.id) info(`${fw.name} does not exist yet: \`belt create\` creates it with these rules`)
    if (flags.json) return printJson(fw)
    if (fw.id) info(`${fw.name} (${fw.id})`)
    out(renderTable(COLUMNS, fw.rules, choice))
  }
}
