import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {parseDuration} from '../core/duration.js'
import {refuseUnadopted} from '../core/config/identity.js'
import {runUp, type UpResult} from '../docker/up.js'
import {providerFor} from '../providers/index.js'
import {concurrencyFor} from '../ssh/targets.js'
import {createSshContext} from '../ssh/context.js'
import {info, shorten, warn} from '../ui/output.js'
import {confirm, isInteractive} from '../ui/prompt.js'
import {renderPlan, renderUp, UpProgress} from '../ui/up.js'

export default class Up extends BeltCommand {
  static description = `Converge the cluster to its swarm: block: create what is missing, init once, join managers one at a time and workers as they come up, label, and remove pool members the block no longer names

Every node moves on as soon as its own step is done (create → active → SSH reachable → Docker TLS per swarm.tls → joined). Safe to re-run: what is done is left as it is; after Ctrl-C or a crash the next run finishes the job.`

  static examples = [
    '<%= config.bin %> up --plan',
    '<%= config.bin %> up --yes',
    '<%= config.bin %> up --json --concurrency 200',
    '<%= config.bin %> up --no-prune',
    '<%= config.bin %> up --yes --timeout 30m --fallback ssh   # swarm.join: cloud-init',
  ]

  static flags = {
    plan: Flags.boolean({description: 'show what belt up would do, and do nothing'}),
    yes: Flags.boolean({char: 'y', description: 'remove pool members the block no longer names without asking (required without a terminal)'}),
    'no-prune': Flags.boolean({description: 'keep pool members the block no longer names'}),
    json: Flags.boolean({description: 'print JSON: {"plan": {...}, "created", "provisioned", "joined", "removed", "failed": [{"name", "step", "error"}]}'}),
    concurrency: Flags.integer({description: "nodes worked on at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'swarm.join: cloud-init: how long belt watches the workers join (at least the boot script\'s 15m deadline)', helpGroup: 'JOIN AT BOOT'}),
    fallback: Flags.string({description: 'swarm.join: cloud-init: join the workers that did not join by themselves over SSH', options: ['ssh'], helpGroup: 'JOIN AT BOOT'}),
    'no-rotate': Flags.boolean({description: 'swarm.join: cloud-init: keep the worker join token (default: rotate it once the workers joined)', helpGroup: 'JOIN AT BOOT'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Up)
    const cluster = this.resolveCluster(flags)
    refuseUnadopted(cluster)
    const bootFlag = flags.timeout !== undefined ? 'timeout' : flags.fallback ? 'fallback' : flags['no-rotate'] ? 'no-rotate' : null
    if (bootFlag && cluster.swarm?.join !== 'cloud-init') throw new UsageError(`--${bootFlag} is for swarm.join: cloud-init (this block joins over ssh)`)
    const boot = {timeoutMs: parseDuration(flags.timeout ?? '15m', '--timeout'), fallback: flags.fallback === 'ssh' ? 'ssh' as const : null, rotate: !flags['no-rotate']}
    const provider = await providerFor(cluster)
    const progress = new UpProgress({quiet: flags.json})
    const scope = onInterrupt()
    let r: UpResult
    try {
      r = await this.withSsh(cluster, (ssh) => runUp(cluster, ssh, provider, {
        planOnly: flags.plan, prune: !flags['no-prune'], concurrency: concurrencyFor(cluster, flags.concurrency), signal: scope.signal,
        newSsh: () => createSshContext(cluster, {onWarning: warn}), boot,
      }, {
        notice: (line) => { progress.clear(); info(line) },
        progress: (c) => progress.update(c),
        onPlan: (plan) => { if (!flags.json) renderPlan(plan, {toStdout: false}) },
        confirmRemove: async (names) => {
          const question = `remove ${names.length} pool member(s) the block no longer names (${shorten(names)})?`
          if (flags.yes) return true
          if (!isInteractive()) throw new UsageError(`${question.replace(/\?$/, '')}: refusing without a terminal; pass --yes, or --no-prune to keep them`)
          return confirm(question, '--yes')
        },
      }))
    } finally {
      progress.done()
      scope.dispose()
    }
    if (flags.plan) {
      // The plan is shown even when belt up would refuse it; the refusal is the exit code (2) and its line.
      if (flags.json) renderUp(r, true)
      else renderPlan(r.plan, {toStdout: true})
      if (r.plan.refusals.length) throw new UsageError(r.plan.refusals[0])
      return
    }
    renderUp(r, flags.json)
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.joined.length} joined, ${r.created.length} created; re-run belt up to finish`)
    if (r.failed.length) throw new PartialFailure(flags.json ? '' : `${r.failed.length} node(s) failed; fix the cause and re-run belt up (finished nodes are skipped)`)
  }
}
