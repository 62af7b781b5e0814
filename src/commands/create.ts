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
import {acquireLock} from '../core/config/lock.js'
import {toPatterns} from '../core/patterns.js'
import type {CreateOptions, CreatePlan, CreateResult, NodeInfo, Provider} from '../providers/provider.js'
import type {Cluster} from '../core/config/cluster.js'
import {mkdirSync, rmdirSync} from 'node:fs'
import {dirname, join} from 'node:path'

const CONFIRM_ABOVE = 100
/** How long a create waits for another create on the same cluster (2,000 droplets take a few minutes). */
const CREATE_LOCK_WAIT_MS = 15 * 60_000

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
    json: Flags.boolean({description: 'print JSON: {"created": [node], "existing": [node]} (+ "failed": [{"name", "error"}] when any)'}),
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
    if (flags['dry-run']) return this.dryRun(provider, opts, cluster.name, names.length, flags.json)

    let result: CreateResult | null = null
    let existing: NodeInfo[] = []
    const scope = onInterrupt()
    try {
      // One create at a time per cluster, from planning until the API's replies are recorded: a parallel create of
      // overlapping names plans after this one's nodes exist, so no name is ever made twice.
      const {release, unwritable} = await lockCreate(cluster, scope.signal)
      try {
        const plan = await provider.plan(opts)
        if (unwritable) throw unwritable
        existing = plan.existing
        this.tell(plan, cluster.name, names.length)
        if (plan.limit && plan.limit.used + plan.toCreate.length > plan.limit.max) {
          throw new UsageError(`creating ${plan.toCreate.length} node(s) would exceed the account limit (${plan.limit.used} of ${plan.limit.max} in use)`)
        }
        if (plan.toCreate.length > CONFIRM_ABOVE && !flags.yes) {
          const ok = await confirm(`create ${plan.toCreate.length} nodes of size ${plan.size}?`, '--yes')
          if (!ok) throw new UsageError('cancelled; nothing was created')
        }
        if (scope.interrupted()) throw new Interrupted('interrupted: nothing was created')
        // The first command that creates something gives the cluster its id (config.yml), before any resource exists.
        ensureClusterId(cluster)
        // Called even when every name exists: providers converge what belongs to the cluster (firewall, security group).
        result = await provider.create({...opts, signal: scope.signal, onProgress: info}, plan)
      } finally {
        await release()
      }
      if (flags.wait && !scope.interrupted() && result.failed.length === 0) {
        await this.waitActive(provider, result, names, timeoutMs, flags.timeout, scope.signal)
      }
    } catch (err) {
      // --json is one document in every outcome that got past the arguments: what was made, and why the rest was not.
      if (flags.json && !(err instanceof UsageError)) {
        const r = result ?? {created: [], existing, failed: [], interrupted: scope.interrupted()}
        printJson(this.json(this.document(r, names, (err as Error).message, scope.interrupted())))
      }
      throw err
    } finally {
      scope.dispose()
    }
    const interrupted = result.interrupted || scope.interrupted()
    const doc = this.document(result, names, null, interrupted)
    if (flags.json) printJson(this.json(doc))
    else if (doc.created.length + doc.existing.length > 0) out(nodesTable([...doc.created, ...doc.existing].sort(byName)))
    info(`created ${doc.created.length}, existing ${doc.existing.length}${doc.failed.length ? `, failed ${doc.failed.length}` : ''}`)
    // One line per distinct error (a refused batch of 2,000 names is one problem, not 2,000).
    const byError = new Map<string, string[]>()
    for (const f of doc.failed) byError.set(f.error, [...(byError.get(f.error) ?? []), f.name])
    for (const [error, failedNames] of byError) warn(`${shorten(failedNames)}: ${error}`)
    if (result.stateError) warn(`${result.stateError} (the nodes exist; a re-run of the same command records them)`)
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

  /** The result as CONTRACT §4 shows it; every requested name is created, existing or failed, never silently absent. */
  private document(r: CreateResult, names: string[], error: string | null, interrupted: boolean) {
    const created = [...r.created].sort(byName)
    const existing = [...r.existing].sort(byName)
    const failed = [...r.failed]
    const accounted = new Set([...created, ...existing, ...failed].map((n) => n.name))
    const reason = error ?? (interrupted ? 'not created: interrupted before it was sent' : 'the API did not report creating it; see belt ls')
    for (const name of names) if (!accounted.has(name)) failed.push({name, error: reason})
    return {created, existing, failed, stateError: r.stateError ?? null}
  }

  /** `{"created", "existing"}`, plus `failed` and `state_error` when there are any. */
  private json(doc: ReturnType<Create['document']>) {
    return {created: doc.created, existing: doc.existing, ...(doc.failed.length ? {failed: doc.failed} : {}), ...(doc.stateError ? {state_error: doc.stateError} : {})}
  }

  private tell(plan: CreatePlan, cluster: string, count: number): void {
    if (plan.sizeNote) info(plan.sizeNote)
    for (const n of plan.notes) info(n)
    if (plan.existing.length > 0) {
      info(`${plan.existing.length} of ${count} already exist in cluster '${cluster}' and are skipped: ${shorten(plan.existing.map((n) => n.name))}`)
    }
  }

  private async dryRun(provider: Provider, opts: CreateOptions, cluster: string, count: number, json: boolean): Promise<void> {
    const plan = await provider.plan(opts)
    this.tell(plan, cluster, count)
    info(`dry run: would create ${plan.toCreate.length} node(s) of size ${plan.size} in ${plan.region ?? 'the default region'}${plan.image ? ` from ${plan.image}` : ''}`)
    if (plan.limit) info(`account limit: ${plan.limit.used} of ${plan.limit.max} in use`)
    if (json) printJson({would_create: plan.toCreate, size: plan.size, region: plan.region, image: plan.image, count: plan.toCreate.length, existing: plan.existing, limit: plan.limit})
    else for (const n of plan.toCreate) out(n)
  }

  private async waitActive(provider: Provider, result: CreateResult, names: string[], timeoutMs: number, timeout: string, signal: AbortSignal): Promise<void> {
    const waited = await provider.wait({status: 'active', count: names.length, names, timeoutMs, signal,
      onProgress: (nodes) => info(`waiting: ${nodes.filter((n) => names.includes(n.name) && n.status === 'active').length}/${names.length} active`)})
    const byNameMap = new Map(waited.nodes.map((n) => [n.name, n]))
    result.created = result.created.map((n) => byNameMap.get(n.name) ?? n)
    result.existing = result.existing.map((n) => byNameMap.get(n.name) ?? n)
    if (!waited.reached && !signal.aborted) {
      result.failed.push({name: '(wait)', error: `not every node was active after ${timeout}`})
    }
  }
}

/**
 * The cluster's create lock (CREATE_LOCK_WAIT_MS at most; one stderr line when it has to wait). When the cluster's
 * folder cannot be written, `unwritable` is the usage error to raise after planning, so the provider's own checks
 * (such as the local driver's "needs root") speak first. A folder made only for the lock is removed on release when
 * nothing else was written there.
 */
async function lockCreate(cluster: Cluster, signal: AbortSignal): Promise<{release: () => Promise<void>; unwritable: UsageError | null}> {
  let madeDir: string | undefined
  try {
    madeDir = mkdirSync(cluster.dir, {recursive: true})
    const release = await acquireLock(join(cluster.dir, 'create'), {
      waitMs: CREATE_LOCK_WAIT_MS, signal, what: `another belt create on cluster '${cluster.name}'`,
      onWait: () => info(`waiting for another belt create on cluster '${cluster.name}'`),
    })
    return {release: async () => {
      await release()
      if (madeDir) removeIfEmpty(cluster.dir, madeDir)
    }, unwritable: null}
  } catch (err) {
    const code = permissionError(err)
    if (!code) throw err
    return {release: async () => {}, unwritable: new UsageError(`cannot write in ${cluster.dir} (${code}); belt create records its nodes there`)}
  }
}

/** EACCES, EPERM or EROFS (of the error or its cause), else null. */
function permissionError(err: unknown): string | null {
  const code = (err as {code?: string}).code ?? (err as {cause?: {code?: string}}).cause?.code
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? code : null
}

/** rmdir `dir` and its parents up to `top` while they are empty (a failed create leaves no empty .belt folder). */
function removeIfEmpty(dir: string, top: string): void {
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d)
    } catch {
      return
    }
  }
}

export function shorten(names: string[], max = 60): string {
  const s = names.join(',')
  return s.length <= max ? s : s.slice(0, max - 1).replace(/,[^,]*$/, '') + '…'
}
