import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError, Interrupted} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {onInterrupt} from '../core/interrupt.js'
import {parseDuration} from '../core/duration.js'
import {checkUserTag, ensureClusterId, refuseUnadopted} from '../core/config/identity.js'
import {providerFor} from '../providers/index.js'
import {byName, info, nodesTable, out, printJson, warn} from '../ui/output.js'
import {confirm} from '../ui/prompt.js'

const CONFIRM_ABOVE = 100

export default class Create extends BeltCommand {
  static description = 'Create nodes in name ranges; names that already exist in the cluster are skipped'
  static examples = [
    "<%= config.bin %> create 512mb 'node[1:4]'",
    "<%= config.bin %> create 8192MB 'mg[0:2]' --wait",
    "<%= config.bin %> create s-1vcpu-1gb 'w[001:120]' --tag workers --yes",
    "<%= config.bin %> create 1gb 'w[1:2000]' --dry-run",
  ]
  static usage = '<%= command.id %> SIZE PATTERN...'
  static strict = false
  static args = {
    size: Args.string({description: 'provider size (s-1vcpu-1gb, t3.small) or memory (512mb, 8192MB, 1gb)', required: true}),
    pattern: Args.string({description: "node names or patterns ('node[1:4]', 'mg0,w[1:3]'); more may follow", required: true}),
  }
  static flags = {
    region: Flags.string({description: 'region (default: the template\'s)'}),
    image: Flags.string({description: 'image (default: the template\'s)'}),
    tag: Flags.string({description: 'extra tag (repeatable)', multiple: true, default: []}),
    wait: Flags.boolean({description: 'wait until every named node is active'}),
    timeout: Flags.string({description: 'how long --wait waits', default: '15m'}),
    'dry-run': Flags.boolean({description: 'show what would be created; change nothing'}),
    yes: Flags.boolean({char: 'y', description: `do not ask before creating more than ${CONFIRM_ABOVE} nodes`}),
    json: Flags.boolean({description: 'print JSON: {"created": [node], "existing": [node]}'}),
  }

  async run(): Promise<void> {
    const {args, argv, flags} = await this.parse(Create)
    const patterns = (argv as string[]).slice(1)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    for (const t of flags.tag) checkUserTag(t, '--tag')
    const cluster = this.resolveCluster(flags)
    refuseUnadopted(cluster)
    const provider = await providerFor(cluster)
    const names = expandPatterns(patterns, (n, p) => provider.validateName(n, p))
    const opts = {size: args.size, names, region: flags.region, image: flags.image, tags: flags.tag}
    const plan = await provider.plan(opts)
    if (plan.sizeNote) info(plan.sizeNote)
    for (const n of plan.notes) info(n)
    if (plan.existing.length > 0) {
      info(`${plan.existing.length} of ${names.length} already exist in cluster '${cluster.name}' and are skipped: ${shorten(plan.existing.map((n) => n.name))}`)
    }
    const limitLine = plan.limit ? `account limit: ${plan.limit.used} of ${plan.limit.max} in use` : null
    if (flags['dry-run']) {
      info(`dry run: would create ${plan.toCreate.length} node(s) of size ${plan.size} in ${plan.region ?? 'the default region'}${plan.image ? ` from ${plan.image}` : ''}`)
      if (limitLine) info(limitLine)
      if (flags.json) printJson({would_create: plan.toCreate, size: plan.size, region: plan.region, image: plan.image, count: plan.toCreate.length, existing: plan.existing, limit: plan.limit})
      else for (const n of plan.toCreate) out(n)
      return
    }
    if (plan.limit && plan.limit.used + plan.toCreate.length > plan.limit.max) {
      throw new UsageError(`creating ${plan.toCreate.length} node(s) would exceed the account limit (${plan.limit.used} of ${plan.limit.max} in use)`)
    }
    if (plan.toCreate.length > CONFIRM_ABOVE && !flags.yes) {
      const ok = await confirm(`create ${plan.toCreate.length} nodes of size ${plan.size}?`, '--yes')
      if (!ok) throw new UsageError('cancelled; nothing was created')
    }
    // The first command that creates something gives the cluster its id (config.yml), before any resource exists.
    ensureClusterId(cluster)
    const scope = onInterrupt()
    let result
    try {
      // Called even when every name exists: providers converge what belongs to the cluster (firewall, security group).
      result = await provider.create({...opts, signal: scope.signal, onProgress: info}, plan)
      if (flags.wait && !scope.interrupted() && result.failed.length === 0) {
        const waited = await provider.wait({status: 'active', count: names.length, names, timeoutMs, signal: scope.signal,
          onProgress: (nodes) => info(`waiting: ${nodes.filter((n) => names.includes(n.name) && n.status === 'active').length}/${names.length} active`)})
        const byNameMap = new Map(waited.nodes.map((n) => [n.name, n]))
        result.created = result.created.map((n) => byNameMap.get(n.name) ?? n)
        result.existing = result.existing.map((n) => byNameMap.get(n.name) ?? n)
        if (!waited.reached && !scope.interrupted()) {
          result.failed.push({name: '(wait)', error: `not every node was active after ${flags.timeout}`})
        }
      }
    } finally {
      scope.dispose()
    }
    result.created.sort(byName)
    result.existing.sort(byName)
    if (flags.json) printJson({created: result.created, existing: result.existing, ...(result.failed.length ? {failed: result.failed} : {})})
    else if (result.created.length + result.existing.length > 0) out(nodesTable([...result.created, ...result.existing].sort(byName)))
    info(`created ${result.created.length}, existing ${result.existing.length}${result.failed.length ? `, failed ${result.failed.length}` : ''}`)
    // One line per distinct error (a refused batch of 2,000 names is one problem, not 2,000).
    const byError = new Map<string, string[]>()
    for (const f of result.failed) byError.set(f.error, [...(byError.get(f.error) ?? []), f.name])
    for (const [error, failedNames] of byError) warn(`${shorten(failedNames)}: ${error}`)
    if (result.interrupted || scope.interrupted()) throw new Interrupted(`interrupted: ${result.created.length} created and recorded; remove them with: belt rm --all --force`)
    if (result.failed.length > 0) throw new PartialFailure(`${result.failed.length} failure(s); re-run the same command to create only what is missing`)
  }
}

export function shorten(names: string[], max = 60): string {
  const s = names.join(',')
  return s.length <= max ? s : s.slice(0, max - 1).replace(/,[^,]*$/, '') + '…'
}
