// Launching and naming instances, as batches.ts planned them: each fresh batch is recorded in state.json before its
// RunInstances call (MinCount = MaxCount, its ClientToken, launch tags belt-cluster / belt-cluster-id / belt-batch),
// each launched instance is recorded under its name at once, then named with one exact `Name` tag (by AmiLaunchIndex).
// A create killed anywhere in between is adopted by a re-run: instances found by their belt-batch tag are named,
// never launched again. Failures are per node; state writes after EC2 acted are reported on their own.
import type {_InstanceType, Instance, Tag} from '@aws-sdk/client-ec2'
import pLimit, {type LimitFunction} from 'p-limit'
import {PartialFailure} from '../../core/errors.js'
import {retry} from '../../core/wait.js'
import type {Failure, NodeInfo} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {type BatchRecord, byLaunchIndex, completedBatches} from './batches.js'
import {call, describeError, type Ec2Context, errorCode, sdk} from './client.js'
import {type Listed, toNode} from './inventory.js'
import {recordNodeId} from './state.js'
import {BATCH_TAG, ownTags} from './tags.js'

/** RunInstances calls in flight: EC2's RunInstances request bucket is small (refills ~2/s). */
const LAUNCH_CONCURRENCY = 4
/** CreateTags calls in flight (one per instance: each Name differs). */
const TAG_CONCURRENCY = 16
/** Retries of a call that answered InvalidInstanceID.NotFound for an instance just launched (0.25 s, doubling). */
const NOT_FOUND_RETRIES = 5
const NOT_FOUND_BACKOFF = {baseMs: 250, capMs: 250 * 2 ** (NOT_FOUND_RETRIES - 1), jitter: 'none'} as const

/** What one create made and failed, and the state writes that failed after EC2 acted. */
export class CreateLog {
  readonly created: NodeInfo[] = []
  readonly failed: Failure[] = []
  private readonly unrecorded: string[] = []
  private readonly stateErrors: Error[] = []

  fail(names: string[], error: string): void {
    for (const name of names) this.failed.push({name, error})
  }

  /** A state write after EC2 acted: a failure leaves the nodes made, and is reported once, naming them. */
  noteState(err: Error | null, names: string[]): void {
    if (!err) return
    this.stateErrors.push(err)
    this.unrecorded.push(...names)
  }

  stateError(): string | null {
    return stateErrorLine('record', [...new Set(this.unrecorded)], this.stateErrors)
  }
}

/** What every RunInstances of one create shares. */
export interface LaunchSpec {
  image: string
  keyName: string
  groupId: string
  subnetId: string | null
  tags: Tag[]
  userData: string | undefined
  /** Per batch (one RunInstances shares one user data): replaces userData (CreateOptions.userData). */
  batchUserData?: (names: string[]) => string
}

/** Named instances found existing are recorded too (a create killed after naming may not have recorded them). */
export function recordExisting(ctx: Ec2Context, existing: NodeInfo[], log: CreateLog): void {
  const known = ctx.cluster.state.read().nodes
  const unknown = existing.filter((n) => n.id !== null && known[n.name]?.id !== n.id)
  if (unknown.length === 0) return
  const now = new Date().toISOString()
  log.noteState(ctx.records.tryUpdate((_s, state) => {
    for (const n of unknown) recordNodeId(state, n.name, n.id!, now)
  }), unknown.map((n) => n.name))
}

/** Name the instances of interrupted batches (never launched again) and close the batches now complete. */
export async function nameAdopted(ctx: Ec2Context, adopt: Listed[], inventory: Listed[], log: CreateLog): Promise<NodeInfo[]> {
  const adopted = await nameInstances(ctx, adopt.map((l) => ({instance: l.instance, name: l.node.name, batchId: l.batchId!})), log)
  const complete = completedBatches(adopt, inventory, new Set(adopted.map((n) => n.id)))
  log.noteState(recordNamed(ctx, adopted, complete), adopted.map((n) => n.name))
  return adopted
}

/**
 * Launch the batches, LAUNCH_CONCURRENCY at a time; re-issued ones are recorded already. After Ctrl-C no batch
 * starts, while those in flight are launched and named to the end. Returns whether it was interrupted.
 */
export async function launchBatches(
  ctx: Ec2Context, batches: {reissue: BatchRecord[]; fresh: BatchRecord[]}, spec: LaunchSpec, log: CreateLog,
  opts: {signal?: AbortSignal; progress: (m: string) => void},
): Promise<boolean> {
  const reissued = new Set(batches.reissue)
  const all = [...batches.reissue, ...batches.fresh]
  const total = all.reduce((n, b) => n + b.names.length, 0)
  let launched = 0
  const launchPool = pLimit(LAUNCH_CONCURRENCY)
  const tagPool = pLimit(TAG_CONCURRENCY)
  await Promise.all(all.map((batch) => launchPool(async () => {
    if (opts.signal?.aborted) return
    if (!reissued.has(batch)) {
      // The record comes first, so a killed create is adopted by a re-run: without it, nothing is launched.
      const err = ctx.records.tryUpdate((s) => { s.batches.push(batch) })
      if (err) return log.fail(batch.names, `not launched: could not record its batch in state.json first (${err.message})`)
    }
    const instances = await runBatch(ctx, batch, spec, log)
    if (!instances) return
    launched += instances.length
    opts.progress(`launched ${launched}/${total} instance(s)`)
    const ids = [...instances].sort(byLaunchIndex).map((i) => i.InstanceId!)
    const targets = instances.map((inst) => ({instance: inst, name: batch.names[inst.AmiLaunchIndex ?? -1], batchId: batch.id}))
    const named = await nameInstances(ctx, targets, log, tagPool)
    log.created.push(...named)
    log.noteState(recordNamed(ctx, named, named.length === instances.length ? [{batchId: batch.id, ids}] : []), named.map((n) => n.name))
  })))
  return Boolean(opts.signal?.aborted)
}

/** RunInstances for one batch, and the record of what it launched; null (the names failed) when nothing new runs. */
async function runBatch(ctx: Ec2Context, batch: BatchRecord, spec: LaunchSpec, log: CreateLog): Promise<Instance[] | null> {
  const forget = () => log.noteState(ctx.records.tryUpdate((s) => { s.batches = s.batches.filter((b) => b.id !== batch.id) }), [])
  let instances: Instance[]
  try {
    instances = await runInstances(ctx, batch, spec)
  } catch (err) {
    log.fail(batch.names, describeError(err))
    if (errorCode(err) === 'IdempotentParameterMismatch') forget()
    return null
  }
  if (instances.every((i) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down')) {
    // The token named a reservation that has since been terminated: nothing new was launched.
    log.fail(batch.names, `batch ${batch.id} was launched before and its instances are terminated; re-run to launch anew`)
    forget()
    return null
  }
  // Each instance is recorded under its name as soon as EC2 returns it, before naming (which may fail or be killed).
  const ids = [...instances].sort(byLaunchIndex).map((i) => i.InstanceId!)
  const launchedNames = instances.map((inst) => batch.names[inst.AmiLaunchIndex ?? -1]).filter((n): n is string => Boolean(n))
  log.noteState(ctx.records.tryUpdate((s, state) => {
    const b = s.batches.find((x) => x.id === batch.id)
    if (b) b.instance_ids = ids
    const now = new Date().toISOString()
    for (const inst of instances) {
      const name = batch.names[inst.AmiLaunchIndex ?? -1]
      if (name) recordNodeId(state, name, inst.InstanceId!, now)
    }
  }), launchedNames)
  return instances
}

function userDataParam(userData: string | undefined): {UserData?: string} {
  return userData ? {UserData: Buffer.from(userData, 'utf8').toString('base64')} : {}
}

async function runInstances(ctx: Ec2Context, batch: BatchRecord, spec: LaunchSpec): Promise<Instance[]> {
  const n = batch.names.length
  const own = ownTags(ctx.cluster)
  // Not cut short by Ctrl-C (no signal): a launch in flight finishes, so its instances are recorded and named.
  const out = await call('RunInstances', (o) => ctx.client.send(new sdk.RunInstancesCommand({
    ImageId: batch.image || spec.image,
    InstanceType: batch.size as _InstanceType,
    MinCount: n,
    MaxCount: n,
    ClientToken: batch.client_token,
    KeyName: spec.keyName,
    SecurityGroupIds: [spec.groupId],
    ...(spec.subnetId ? {SubnetId: spec.subnetId} : {}),
    ...userDataParam(spec.batchUserData ? spec.batchUserData(batch.names) : spec.userData),
    MetadataOptions: {HttpTokens: 'required', HttpEndpoint: 'enabled'},
    TagSpecifications: [
      {ResourceType: 'instance', Tags: [...own, {Key: BATCH_TAG, Value: batch.id}, ...spec.tags]},
      {ResourceType: 'volume', Tags: [...own, ...spec.tags]},
    ],
  }), o))
  const instances = out.Instances ?? []
  if (instances.length !== n) throw new PartialFailure(`RunInstances returned ${instances.length} instance(s) for a batch of ${n}`)
  return instances
}

interface NameTarget {
  instance: Instance
  name: string | undefined
  batchId: string
}

/** One CreateTags per instance (each Name differs); returns the nodes that now carry their Name. */
async function nameInstances(
  ctx: Ec2Context, targets: NameTarget[], log: CreateLog, pool: LimitFunction = pLimit(TAG_CONCURRENCY),
): Promise<NodeInfo[]> {
  const named: NodeInfo[] = []
  await Promise.all(targets.map((t) => pool(async () => {
    const id = t.instance.InstanceId!
    if (!t.name) return log.fail([id], `launch index ${t.instance.AmiLaunchIndex} has no name in batch ${t.batchId}`)
    const name = t.name
    try {
      // EC2 is eventually consistent: right after RunInstances, a call naming a new instance may answer NotFound.
      const tag = {Resources: [id], Tags: [{Key: 'Name', Value: name}]}
      await retry(() => call('CreateTags', (o) => ctx.client.send(new sdk.CreateTagsCommand(tag), o)), {
        retries: NOT_FOUND_RETRIES,
        backoff: NOT_FOUND_BACKOFF,
        retryable: (err) => errorCode(err) === 'InvalidInstanceID.NotFound',
      })
      const inst = {...t.instance, Tags: [...(t.instance.Tags ?? []).filter((x) => x.Key !== 'Name'), {Key: 'Name', Value: name}]}
      named.push(toNode(inst, name, ctx.region))
    } catch (err) {
      log.fail([name], `launched as ${id} but not named (a re-run names it): ${describeError(err)}`)
    }
  })))
  return named
}

/** Record named nodes in state.nodes and close the batches whose every instance now carries its Name. */
function recordNamed(ctx: Ec2Context, named: NodeInfo[], closed: {batchId: string; ids: string[]}[]): Error | null {
  if (named.length === 0 && closed.length === 0) return null
  return ctx.records.tryUpdate((s, state) => {
    const now = new Date().toISOString()
    for (const n of named) state.nodes[n.name] = {id: n.id, created_at: state.nodes[n.name]?.created_at ?? now}
    const byId = new Map(closed.map((c) => [c.batchId, c.ids]))
    for (const b of s.batches) {
      const ids = byId.get(b.id)
      if (!ids) continue
      b.instance_ids = ids
      b.named = true
    }
  })
}
