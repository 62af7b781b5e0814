import {BeltCommand} from '../../base-command.js'
import {readConfigFile} from '../../core/config/store.js'
import {maskedConfig} from '../../core/config/update.js'
import {outText} from '../../ui/output.js'

export default class ClusterConfig extends BeltCommand {
  static description = 'Print the cluster\'s config.yml (secrets masked)'
  static examples = ['<%= config.bin %> cluster config', '<%= config.bin %> cluster config --cluster swarm2k']

  async run(): Promise<void> {
    const {flags} = await this.parse(ClusterConfig)
    const cluster = this.resolveCluster(flags)
    const cfg = readConfigFile(cluster.configPath)
    outText(maskedConfig(cfg.doc, cfg.driver))
  }
}
