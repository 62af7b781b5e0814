// belt restart / stop / start share everything but the action and a flag or two: parse, plan (every refusal before
// anything changes), run, render. The story is src/docker/power.ts.
import {Args, Flags} from '@oclif/core'
import {BeltCommand} from './base-command.js'
import {parseDuration} from './core/duration.js'
import {Interrupted, PartialFailure} from './core/errors.js'
import {planPower, runPower, type PowerRequest} from './docker/power.js'
import type {PowerAction} from './providers/provider.js'
import {concurrencyFor} from './ssh/targets.js'
import {fleetHooks} from './ui/fleet.js'
import {renderPower} from './ui/power.js'

export abstract class PowerCommand extends BeltCommand {
  static strict = false
  static args = {patterns: Args.string({description: "nodes ('w[1:3]', 'mg0,w[1:3]')", required: true})}
  static flags = {
    wait: Flags.boolean({description: 'wait until the nodes answer SSH again (and dockerd, after restart and start)'}),
    timeout: Flags.string({description: 'how long to wait for the provider\'s status and --wait', default: '10m'}),
    concurrency: Flags.integer({description: 'hosts at once for SSH (default: the template\'s concurrency)', min: 1}),
    json: Flags.boolean({description: 'print JSON: {"ok": [names], "already": [names], "failed": [{"name", "error"}], "addresses": [{"name", "from", "to"}]}'}),
  }

  protected abstract readonly action: PowerAction

  protected async power(argv: string[], flags: {wait: boolean; timeout: string; concurrency?: number; json: boolean; hard?: boolean;
    force?: boolean; cluster?: string; config?: string}): Promise<void> {
    const cluster = this.resolveCluster(flags)
    const req: PowerRequest = {
      action: this.action, patterns: argv, hard: flags.hard ?? false, wait: flags.wait, force: flags.force ?? false,
      timeoutMs: parseDuration(flags.timeout, '--timeout'), concurrency: concurrencyFor(cluster, flags.concurrency),
    }
    const plan = await planPower(cluster, req)
    const r = await this.withSsh(cluster, (ssh) => runPower(cluster, ssh, plan, req, fleetHooks({plain: flags.json || undefined})))
    renderPower(r, flags.json)
    if (r.interrupted) throw new Interrupted()
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} of ${r.total} node(s) failed`)
  }
}
