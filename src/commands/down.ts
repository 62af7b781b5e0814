import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {refuseUnadopted} from '../core/config/identity.js'
import {runDown} from '../docker/down.js'
import {providerFor} from '../providers/index.js'
import {concurrencyFor} from '../ssh/targets.js'
import {info} from '../ui/output.js'
import {confirm} from '../ui/prompt.js'
import {renderDown} from '../ui/up.js'

export default class Down extends BeltCommand {
  static description = `Take the swarm down: delete every node of the cluster (by its id tag), the firewall or security group belt made, and the docker context belt-<cluster>

No SSH to nodes about to be deleted. On the generic driver the hosts stay and only leave the swarm.`

  static examples = ['<%= config.bin %> down', '<%= config.bin %> down --yes']

  static flags = {
    yes: Flags.boolean({char: 'y', description: 'do not ask (required without a terminal)'}),
    json: Flags.boolean({description: 'print JSON: {"removed": [names], "left": [names], "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Down)
    const cluster = this.resolveCluster(flags)
    refuseUnadopted(cluster)
    const provider = await providerFor(cluster)
    if (!flags.yes) {
      const what = cluster.driver === 'generic' ? `make every host of cluster '${cluster.name}' leave the swarm` : `delete every node of cluster '${cluster.name}' and its swarm`
      const ok = await confirm(`${what}?`, '--yes')
      if (!ok) throw new UsageError('cancelled; nothing was changed')
    }
    const scope = onInterrupt()
    let r
    try {
      r = await this.withSsh(cluster, (ssh) => runDown(cluster, ssh, provider, {signal: scope.signal, concurrency: concurrencyFor(cluster), onProgress: info}))
    } finally {
      scope.dispose()
    }
    renderDown(r, flags.json)
    if (r.interrupted) throw new Interrupted()
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} failure(s); re-run belt down`)
  }
}
