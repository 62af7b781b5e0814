import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {providerFor} from '../providers/index.js'
import {info, out, printJson, table} from '../ui/output.js'

export default class Firewall extends BeltCommand {
  static description = 'Show the swarm firewall belt manages for the cluster (DigitalOcean cloud firewall, EC2 security group)'
  static examples = ['<%= config.bin %> firewall', '<%= config.bin %> firewall --json']
  static flags = {json: Flags.boolean({description: 'print JSON: {"name", "id", "rules": [{"direction", "protocol", "ports", "sources", "note"}]}'})}

  async run(): Promise<void> {
    const {flags} = await this.parse(Firewall)
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
    out(table(['DIRECTION', 'PROTOCOL', 'PORTS', 'FROM/TO', 'NOTE'], fw.rules.map((r) => [r.direction, r.protocol, r.ports, r.sources.join(','), r.note])))
  }
}
