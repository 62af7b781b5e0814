import {BeltCommand} from '../../base-command.js'
import {UsageError} from '../../core/errors.js'
import {secretKeysIn, updateConfigFile} from '../../core/config/store.js'
import {applyAssignments} from '../../core/config/update.js'
import {info, out, warnSecretInConfig} from '../../ui/output.js'

export default class ClusterUpdate extends BeltCommand {
  static description = 'Set keys of the cluster\'s driver block (key=value; key=[a,b] for lists; dotted keys into maps; key= removes)'
  static examples = [
    '<%= config.bin %> cluster update region=sgp1',
    '<%= config.bin %> cluster update tags=[swarm,prod] concurrency=200',
    '<%= config.bin %> cluster update hosts.w2=203.0.113.12 hosts.w1.port=22',
    '<%= config.bin %> cluster update ssh_key_fingerprint=',
    {description: 'Reach private nodes through a bastion (one SSH connection to it carries all of them)',
      command: '<%= config.bin %> cluster update ssh_jump=admin@203.0.113.5 ssh_address=private'},
    {description: 'A generic host behind its own bastion', command: '<%= config.bin %> cluster update hosts.w1.ssh_jump=admin@203.0.113.5:2222'},
  ]
  static strict = false

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(ClusterUpdate)
    const assignments = argv as string[]
    if (assignments.length === 0) throw new UsageError('nothing to update: give key=value (see belt cluster update --help)')
    const cluster = this.resolveCluster(flags)
    // Under the file's lock: another belt changing this config.yml at the same time keeps its change too.
    const diff = updateConfigFile(cluster.configPath, (cfg) => ({
      ...applyAssignments(cfg.doc, cfg.driver, assignments, 'cluster update'),
      secrets: secretKeysIn(cfg.doc),
    }))
    if (!diff.changed) {
      info(`cluster '${cluster.name}': nothing changed`)
      return
    }
    warnSecretInConfig(cluster.configPath, diff.secrets)
    for (const l of diff.lines) out(l)
  }
}
