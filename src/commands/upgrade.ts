import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {parseDuration} from '../core/duration.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {checkVersion, planUpgrade, runUpgrade, type UpgradeRequest} from '../docker/upgrade.js'
import {parseBatch} from '../docker/upgrade-plan.js'
import {fleetHooks} from '../ui/fleet.js'
import {renderUpgrade} from '../ui/upgrade.js'

export default class Upgrade extends BeltCommand {
  static description = 'Rolling Docker Engine upgrade to --version (nodes at it are skipped), or without it a rolling dockerd restart: '
    + 'drain, install, restart, wait until Ready, availability back; workers in batches, then managers one at a time, the leader last'
  static examples = [
    "<%= config.bin %> upgrade 'mg[0:2],w[1:100]'",
    "<%= config.bin %> upgrade 'mg[0:2],w[1:2000]' --version 27.3.1 --batch 10% --max-failures 5",
    "<%= config.bin %> upgrade 'w[1:20]' --version 27.3.1 --batch 4 --json",
  ]
  static strict = false
  static args = {patterns: Args.string({description: "nodes ('mg[0:2],w[1:100]')", required: true})}
  static flags = {
    version: Flags.string({description: 'the Docker Engine version to install (27.3.1); without it, a rolling restart'}),
    batch: Flags.string({description: 'workers at once: a number (5) or a percentage of the workers named (10%)', default: '1'}),
    'max-failures': Flags.integer({description: 'stop after this many nodes failed (a manager that fails always stops the managers\' part)', default: 1, min: 1}),
    timeout: Flags.string({description: 'per node: install, restart and wait until Ready', default: '15m'}),
    json: Flags.boolean({description: 'print JSON: {"target", "ok": [names], "already": [names], "failed": [{"name", "error"}], "nodes": [...]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Upgrade)
    if (flags.version !== undefined && flags.version.trim() === '') throw new UsageError('--version: give a version (27.3.1) or leave the flag out for a rolling restart')
    const req: UpgradeRequest = {
      patterns: argv as string[],
      version: flags.version === undefined ? null : checkVersion(flags.version.trim()),
      batch: parseBatch(flags.batch),
      maxFailures: flags['max-failures'],
      nodeTimeoutMs: parseDuration(flags.timeout, '--timeout'),
    }
    const cluster = this.resolveCluster(flags)
    const r = await this.withSsh(cluster, async (ssh) => runUpgrade(cluster, ssh, await planUpgrade(cluster, ssh, req), req, fleetHooks({plain: true})))
    renderUpgrade(r, flags.json)
    if (r.interrupted) throw new Interrupted()
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} of ${r.total} node(s) failed`)
  }
}
