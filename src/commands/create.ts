import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError, Interrupted} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {onInterrupt} from '../core/interrupt.js'
import {parseDuration} from '../core/duration.js'
import {checkUserTag, ensureClusterId, refuseUnadopted} from '../core/config/identity.js'
import {lockCreate} from '../core/config/create-lock.js'
import {toPatterns} from '../core/patterns.js'
import type {Cluster} from '../core/config/cluster.js'
import {providerFor} from '../providers/index.js'
import type {CreateOptions, CreateResult, NodeInfo, Provider, SshEndpoint} from '../providers/provider.js'
import type {SshContext} from '../ssh/types.js'
import {createDocument, printCreateJson, renderCreate, renderDryRun, tellPlan} from '../ui/create.js'
import {abandonBootJoin, bootJoinWave, prepareBootJoin, type BootJoinPrepared, type WaveResult} from '../docker/boot-join.js'
import {concurrencyFor, endpointsFor} from '../ssh/targets.js'
import {fleetHooks} from '../ui/fleet.js'
import {printUserData, renderBootJoin} from '../ui/boot-join.js'
import {DEFAULT_DEADLINE_SECONDS} from '../docker/user-data.js'
import {info} from '../ui/output.js'
import {confirm} from '../ui/prompt.js'

const CONFIRM_ABOVE = 100

interface JoinFlags {
  ssh: SshContext
  managerEp: SshEndpoint
  timeoutMs: number
  yes: boolean
  json: boolean
  print: boolean
  fallback: 'ssh' | null
  rotate: boolean
}

export default class Create extends BeltCommand {
  static description = 'Create nodes in name ranges; names that already exist in the cluster are skipped'
  static examples = [
    "<%= config.bin %> create 512mb 'node[1:4]'",
    "<%= config.bin %> create 8192MB 'mg[0:2]' --wait",
    "<%= config.bin %> create s-1vcpu-1gb 'w[001:120]' --tag workers --yes",
    "<%= config.bin %> create 1gb 'w[1:2000]' --dry-run",
    "<%= config.bin %> create 1gb 'w[1:2000]' --join mg0 --yes",
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
    timeout: Flags.string({description: 'how long --wait waits; with --join, how long belt watches the nodes join (the boot script gives up by then too)', default: '15m'}),
    'dry-run': Flags.boolean({description: 'show what would be created; change nothing'}),
    yes: Flags.boolean({char: 'y', description: `do not ask before creating more than ${CONFIRM_ABOVE} nodes`}),
    json: Flags.boolean({description: 'print JSON: {"created": [node], "existing": [node]} (+ "failed": [{"name", "error"}] when any; + "joined" with --join)'}),
    join: Flags.string({description: 'MANAGER: the new nodes join its swarm by themselves at boot (user data); belt watches through MANAGER', helpGroup: 'JOIN AT BOOT'}),
    fallback: Flags.string({description: 'with --join: join the nodes that did not join by themselves over SSH', options: ['ssh'], helpGroup: 'JOIN AT BOOT'}),
    'no-rotate': Flags.boolean({description: 'with --join: keep the worker join token (default: rotate it once every node joined)', helpGroup: 'JOIN AT BOOT'}),
    'print-command': Flags.boolean({description: 'with --join: print the user data (token redacted) and create nothing', helpGroup: 'JOIN AT BOOT'}),
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
    if (!flags.join && (flags.fallback || flags['no-rotate'] || flags['print-command'])) {
      throw new UsageError(`--${flags.fallback ? 'fallback' : flags['no-rotate'] ? 'no-rotate' : 'print-command'} needs --join MANAGER`)
    }
    if (flags['dry-run']) return this.dryRun(provider, opts, cluster.name, flags.json)
    if (flags.join) {
      const managerEp = (await endpointsFor(cluster, [flags.join], provider))[0]
      return this.withSsh(cluster, (ssh) => this.createJoined(cluster, provider, opts, {
        ssh, managerEp, timeoutMs, yes: flags.yes, json: flags.json, print: flags['print-command'], fallback: flags.fallback === 'ssh' ? 'ssh' : null,
        rotate: !flags['no-rotate'],
      }))
    }

    const scope = onInterrupt()
    const sofar: {result: CreateResult | null; existing: NodeInfo[]} = {result: null, existing: []}
    try {
      const result = await this.createLocked(cluster, provider, opts, flags.yes, scope.signal, sofar)
      if (flags.wait && !scope.interrupted() && result.failed.length === 0) {
        await this.waitActive(provider, result, names, timeoutMs, flags.timeout, scope.signal)
      }
    } catch (err) {
      // --json is one document in every outcome that got past the arguments: what was made, and why the rest was not.
      if (flags.json && !(err instanceof UsageError)) {
        const r = sofar.result ?? {created: [], existing: sofar.existing, failed: [], interrupted: scope.interrupted()}
        printCreateJson(createDocument(r, names, (err as Error).message, scope.interrupted()))
      }
      throw err
    } finally {
      scope.dispose()
    }
    const result = sofar.result!
    const interrupted = result.interrupted || scope.interrupted()
    const doc = createDocument(result, names, null, interrupted)
    renderCreate(doc, flags.json)
    if (interrupted) {
      const made = doc.created.map((n) => n.name)
      // Only this run's nodes: `rm --all` would also delete nodes that existed before it.
      throw new Interrupted(made.length
        ? `interrupted: ${made.length} created${result.stateError ? '' : ' and recorded'}; remove them with: belt rm '${toPatterns(made)}' --force`
        : 'interrupted: nothing was created')
    }
    if (doc.failed.length > 0) throw new PartialFailure(`${doc.failed.length} failure(s); re-run the same command to create only what is missing`)
    if (result.stateError) throw new PartialFailure('state.json could not be written; re-run the same command to record what was created')
  }

  /**
   * Plan, confirm and create under the cluster's create lock, held until the API's replies are recorded: a parallel
   * create of overlapping names plans after this one's nodes exist, so no name is ever made twice. `sofar` keeps what
   * is known for --json when it throws.
   */
  private async createLocked(cluster: Cluster, provider: Provider, opts: CreateOptions, yes: boolean, signal: AbortSignal,
    sofar: {result: CreateResult | null; existing: NodeInfo[]}): Promise<CreateResult> {
    const {release, unwritable} = await lockCreate(cluster, signal, info)
    try {
      const plan = await provider.plan(opts)
      if (unwritable) throw unwritable
      sofar.existing = plan.existing
      tellPlan(plan, cluster.name, opts.names.length)
      if (plan.limit && plan.limit.used + plan.toCreate.length > plan.limit.max) {
        throw new UsageError(`creating ${plan.toCreate.length} node(s) would exceed the account limit (${plan.limit.used} of ${plan.limit.max} in use)`)
      }
      if (plan.toCreate.length > CONFIRM_ABOVE && !yes) {
        const ok = await confirm(`create ${plan.toCreate.length} nodes of size ${plan.size}?`, '--yes')
        if (!ok) throw new UsageError('cancelled; nothing was created')
      }
      if (signal.aborted) throw new Interrupted('interrupted: nothing was created')
      // The first command that creates something gives the cluster its id (config.yml), before any resource exists.
      ensureClusterId(cluster)
      // Called even when every name exists: providers converge what belongs to the cluster (firewall, security group).
      sofar.result = await provider.create({...opts, signal, onProgress: info}, plan)
      return sofar.result
    } finally {
      await release()
    }
  }

  /**
   * create --join: read the manager (one connection), create with the boot-join user data, watch the swarm through
   * one manager connection, fall back, rotate (docker/boot-join.ts), then render.
   */
  private async createJoined(cluster: Cluster, provider: Provider, opts: CreateOptions, j: JoinFlags): Promise<void> {
    const scope = onInterrupt()
    let prepared: BootJoinPrepared | null = null
    const sofar: {result: CreateResult | null; existing: NodeInfo[]} = {result: null, existing: []}
    let wave: WaveResult | null = null
    try {
      // The script gives up no later than the watch (--timeout): the watch is never shorter than its deadline.
      const deadlineSeconds = Math.min(DEFAULT_DEADLINE_SECONDS, Math.max(1, Math.floor(j.timeoutMs / 1000)))
      prepared = await prepareBootJoin(cluster, j.ssh, j.managerEp, {timeoutMs: 120_000, signal: scope.signal, deadlineSeconds})
      prepared.checkSize(opts.names)
      if (j.print) return printUserData(prepared.description, prepared.printable(opts.names.slice(0, cluster.driver === 'local' ? 1 : 10)))
      info(prepared.description)
      const result = await this.createLocked(cluster, provider, {...opts, userData: prepared.userData}, j.yes, scope.signal, sofar)
      const names = [...result.created, ...result.existing].map((n) => n.name)
      if (result.created.length > 0 && !scope.interrupted()) {
        wave = await bootJoinWave(cluster, j.ssh, j.managerEp, prepared, {
          names, timeoutMs: j.timeoutMs, fallback: j.fallback, rotate: j.rotate, concurrency: concurrencyFor(cluster),
          signal: scope.signal, onProgress: info, hooks: fleetHooks(),
        })
        prepared = null
      }
    } catch (err) {
      if (j.json && !(err instanceof UsageError)) {
        const r = sofar.result ?? {created: [], existing: sofar.existing, failed: [], interrupted: scope.interrupted()}
        printCreateJson(createDocument(r, opts.names, (err as Error).message, scope.interrupted()))
      }
      throw err
    } finally {
      if (prepared) await abandonBootJoin(cluster, prepared)
      scope.dispose()
    }
    const result = sofar.result!
    const doc = createDocument(result, opts.names, null, result.interrupted || scope.interrupted())
    renderBootJoin({create: doc, wave}, j.json)
    if (result.interrupted || scope.interrupted() || wave?.interrupted) throw new Interrupted('interrupted: see the summary above; re-run the same command to finish')
    const failed = doc.failed.length + (wave?.failed.length ?? 0)
    if (failed > 0) throw new PartialFailure(j.json ? '' : `${failed} node(s) failed to be created or to join`)
    if (result.stateError) throw new PartialFailure('state.json could not be written; re-run the same command to record what was created')
  }

  private async dryRun(provider: Provider, opts: CreateOptions, cluster: string, json: boolean): Promise<void> {
    const plan = await provider.plan(opts)
    tellPlan(plan, cluster, opts.names.length)
    renderDryRun(plan, json)
  }

  private async waitActive(provider: Provider, result: CreateResult, names: string[], timeoutMs: number, timeout: string, signal: AbortSignal): Promise<void> {
    const wanted = new Set(names)
    const waited = await provider.wait({status: 'active', count: names.length, names, timeoutMs, signal,
      onProgress: (nodes) => info(`waiting: ${nodes.filter((n) => wanted.has(n.name) && n.status === 'active').length}/${names.length} active`)})
    const byNameMap = new Map(waited.nodes.map((n) => [n.name, n]))
    result.created = result.created.map((n) => byNameMap.get(n.name) ?? n)
    result.existing = result.existing.map((n) => byNameMap.get(n.name) ?? n)
    if (!waited.reached && !signal.aborted) {
      result.failed.push({name: '(wait)', error: `not every node was active after ${timeout}`})
    }
  }
}
