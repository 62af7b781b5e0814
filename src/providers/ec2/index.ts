// The ec2 driver: EC2 instances as swarm nodes, through @aws-sdk/client-ec2.
// create: RunInstances in batches (MinCount = MaxCount ≤ batch_size) with a ClientToken per batch and launch tags
// belt-cluster / belt-cluster-id / belt-batch, then one exact `Name` tag per instance (by AmiLaunchIndex). Every
// batch is recorded in state.json before RunInstances is called, so a create killed between launch and naming is adopted by a re-run
// (instances found by their belt-batch tag are named, never launched again). Listing and waiting use
// DescribeInstances with filters and NextToken paging, never one call per instance. A cluster's instances are those
// with its id tag (belt-cluster-id=<cluster_id>): listings filter by the name tag and split by the id here, so
// instances of another project's cluster of the same name (foreign) or from before ids (legacy) are counted, never
// touched. The security group and key pair are named belt-<cluster>-<id8>.
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import type {_InstanceType, EC2Client, Instance, SecurityGroup, Tag} from '@aws-sdk/client-ec2'
import {createHash, randomBytes} from 'node:crypto'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import {debugLog} from '../../core/debug.js'
import {Interrupted, PartialFailure, UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {
  AdoptResult, CreateOptions, CreatePlan, CreateResult, Failure, FirewallRule, NodeInfo, NodeStatus, Provider, RemoveResult, SshEndpoint, WaitOptions,
} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {describeError, errorCode, makeClient, sdk, translate} from './client.js'
import {describeRules, missingRules, plannedRules, swarmRules, toIpPermissions} from './firewall.js'
import {architectureOf, memoryOf, resolveSize} from './sizes.js'
import {defaultUserData} from './user-data.js'
import {sleep} from '../../core/wait.js'
import type {Ec2Settings} from '../../core/config/schema.js'
import {strangersNote} from '../strangers.js'

const debug = debugLog('ec2')

export const CANONICAL_OWNER = '099720109477'
/** Ubuntu LTS releases belt picks from when no `ami` is set. */
const UBUNTU_LTS = ['jammy-22.04', 'noble-24.04']
const CLUSTER_TAG = 'belt-cluster'
const ID_TAG = 'belt-cluster-id'
const BATCH_TAG = 'belt-batch'
const RESERVED_TAGS = new Set(['Name', CLUSTER_TAG, ID_TAG, BATCH_TAG])
/** Instances per CreateTags call of `cluster adopt` (all get the same tag). */
const ADOPT_CHUNK = 500
/** Every state but terminated: terminated instances are gone (AWS keeps showing them for about an hour). */
const LISTED_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped']
const PAGE_SIZE = 1000
const TERMINATE_CHUNK = 1000
/** RunInstances calls in flight: EC2's RunInstances request bucket is small (refills ~2/s). */
const LAUNCH_CONCURRENCY = 4
/** CreateTags calls in flight (one per instance: each Name differs). */
const TAG_CONCURRENCY = 16
const USER_DATA_MAX = 16 * 1024
/** Retries of a call that answered InvalidInstanceID.NotFound for an instance just launched (0.25 s, doubling). */
const NOT_FOUND_RETRIES = 5
/** Calls whose failures are reported per node (in `failed`) rather than thrown. */
const PER_NODE_ACTIONS = new Set(['RunInstances', 'CreateTags', 'TerminateInstances'])

/** One RunInstances call, as recorded in state.json (state.provider.ec2.batches) before the call is made. */
export interface BatchRecord {
  id: string
  client_token: string
  /** Names in AmiLaunchIndex order. */
  names: string[]
  instance_ids: string[] | null
  named: boolean
  size: string
  image: string
  created_at: string
}

interface Ec2State {
  batches: BatchRecord[]
  security_group?: {id: string; name: string; vpc_id: string | null}
  key_name?: string
}

/** One listed instance with the name belt resolved for it. */
interface Listed {
  node: NodeInfo
  instance: Instance
  /** Carries its Name tag (false: launched by a batch that was interrupted before naming). */
  named: boolean
  batchId: string | null
}

interface PlanExtra {
  inventory: Listed[]
  tags: Tag[]
  userData: string | undefined
  adopt: Listed[]
}

export function normaliseState(state: string | undefined): NodeStatus {
  switch (state) {
    case 'pending': return 'new'
    case 'running': return 'active'
    case 'stopping':
    case 'stopped': return 'off'
    default: return 'gone' // shutting-down, terminated
  }
}

export class Ec2Provider implements Provider {
  readonly driver = 'ec2' as const
  readonly region: string
  private readonly client: EC2Client
  private readonly extras = new WeakMap<CreatePlan, PlanExtra>()
  /** Instances of the last listing with this cluster's name tag that are not ours (foreign or legacy). */
  private strangers: {foreign: number; legacy: number} | null = null

  constructor(readonly cluster: Cluster<'ec2'>, env: NodeJS.ProcessEnv = process.env) {
    this.region = this.setting('region') ?? env.AWS_REGION ?? 'us-east-1'
    this.client = makeClient(this.region, this.setting('endpoint') ?? (env.AWS_ENDPOINT_URL_EC2 || undefined), env)
  }

  validateName(name: string, pattern: string): void {
    // EC2 Name tags are free-form, but belt names become hostnames and certificate names.
    validateHostname(name, pattern)
  }

  // ---- create ------------------------------------------------------------------------------------------------

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    if (opts.region && opts.region !== this.region) {
      throw new UsageError(`--region ${opts.region}: an ec2 cluster lives in one region (${this.region}); change it with: belt cluster update region=${opts.region}`)
    }
    const size = resolveSize(opts.size)
    if (!this.setting('security_group') && !this.setting('admin_cidr')) {
      throw new UsageError(`admin_cidr is required when belt manages the security group (it is where SSH and Docker TLS may come from): belt cluster update admin_cidr=YOUR.IP.ADDRESS/32`)
    }
    const tags = this.userTags(opts.tags)
    const userData = this.userData()
    const image = opts.image ?? this.setting('ami')
    if (image !== undefined && !/^ami-[0-9a-z]+$/.test(image)) throw new UsageError(`${opts.image ? '--image' : 'ami'} '${image}' is not an AMI id (ami-...)`)

    const inventory = await this.inventory(opts.signal)
    const wanted = new Set(opts.names)
    const done = new Map<string, NodeInfo>()
    for (const l of inventory) if (l.named && wanted.has(l.node.name) && l.node.status !== 'gone') done.set(l.node.name, l.node)
    const adopt = inventory.filter((l) => !l.named && l.batchId !== null && l.node.status !== 'gone')
    const toCreate = opts.names.filter((n) => !done.has(n))
    const notes: string[] = []
    const adopting = adopt.filter((l) => wanted.has(l.node.name)).length
    if (adopting > 0) notes.push(`${adopting} instance(s) launched by an interrupted create will be named, not launched again`)
    const strangers = this.foreignNote()
    if (strangers) notes.push(strangers)

    let imageId: string | null = image ?? null
    if (!imageId && toCreate.length > adopting) {
      const latest = await this.latestUbuntu(architectureOf(size.type), opts.signal)
      imageId = latest.id
      notes.push(`image: ${latest.name} (${latest.id}), the latest Ubuntu LTS from Canonical`)
    }
    const plan: CreatePlan = {
      size: size.type,
      memory_mb: size.memory_mb,
      sizeNote: size.note,
      region: this.region,
      image: imageId,
      tags: tags.map((t) => `${t.Key}=${t.Value ?? ''}`),
      toCreate,
      existing: [...done.values()],
      limit: null,
      notes,
    }
    this.extras.set(plan, {inventory, tags, userData, adopt})
    return plan
  }

  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    let extra = this.extras.get(plan)
    if (!extra) extra = this.extras.get(await this.plan(opts))!
    const progress = opts.onProgress ?? (() => {})
    const created: NodeInfo[] = []
    const failed: Failure[] = []
    const toCreate = new Set(plan.toCreate)
    // Writes after EC2 acted never turn a launched instance into a failure: they are reported on their own.
    const unrecorded: string[] = []
    const stateErrors: Error[] = []
    const noteState = (err: Error | null, names: string[]) => {
      if (!err) return
      stateErrors.push(err)
      unrecorded.push(...names)
    }

    // Everything that can refuse (network, key pair) runs before anything is changed. The security group is
    // converged even when every name exists (a re-run restores missing swarm rules).
    const net = await this.network()
    if (net.note && plan.toCreate.length > 0) progress(net.note)
    const adoptNames = new Set(extra.adopt.map((l) => l.node.name))
    const keyName = plan.toCreate.some((n) => !adoptNames.has(n)) ? await this.keyPair(progress) : ''
    const groupId = await this.ensureSecurityGroup(net.vpcId, progress)
    // Named instances found existing are recorded too (a create killed after naming may not have recorded them).
    const known = this.cluster.state.read().nodes
    const unknown = plan.existing.filter((n) => n.id !== null && known[n.name]?.id !== n.id)
    if (unknown.length > 0) {
      noteState(this.tryUpdateState((_s, state) => {
        for (const n of unknown) state.nodes[n.name] = {...state.nodes[n.name], id: n.id, created_at: state.nodes[n.name]?.created_at ?? new Date().toISOString()}
      }), unknown.map((n) => n.name))
    }

    // 1. Adopt instances of interrupted batches: name them, never launch them again.
    const batches = this.batches()
    const adopted = await this.nameInstances(extra.adopt.map((l) => ({instance: l.instance, name: l.node.name, batchId: l.batchId!})), failed)
    for (const n of adopted) if (toCreate.has(n.name)) created.push(n)
    // Names of launched instances are never launched again, even when naming one failed (a re-run retries it).
    for (const l of extra.adopt) toCreate.delete(l.node.name)
    if (adopted.length) progress(`named ${adopted.length} instance(s) launched by an interrupted create`)
    const adoptedIds = new Set(adopted.map((n) => n.id))
    noteState(this.recordNamed(adopted, [...new Set(extra.adopt.map((l) => l.batchId!))].flatMap((batchId) => {
      const live = extra.inventory.filter((l) => l.batchId === batchId && l.node.status !== 'gone').sort((a, b) => byLaunchIndex(a.instance, b.instance))
      return live.every((l) => l.named || adoptedIds.has(l.node.id)) ? [{batchId, ids: live.map((l) => l.node.id!)}] : []
    })), adopted.map((n) => n.name))

    // 2. Batches recorded but never seen launched: re-issue them with the same ClientToken (EC2 returns the
    //    original reservation if the launch did happen), when this run still wants exactly those names.
    // Any listed instance (even one shutting down) means the batch did launch: never re-issue its token.
    const seenBatches = new Set(extra.inventory.map((l) => l.batchId).filter(Boolean))
    const reissue: BatchRecord[] = []
    const dropped: string[] = []
    for (const b of batches) {
      if (b.named || seenBatches.has(b.id)) continue
      if (b.instance_ids === null && b.size === plan.size && b.image === plan.image && b.names.every((n) => toCreate.has(n))) {
        reissue.push(b)
        for (const n of b.names) toCreate.delete(n)
      } else dropped.push(b.id)
    }
    if (dropped.length) noteState(this.tryUpdateState((s) => { s.batches = s.batches.filter((b) => !dropped.includes(b.id)) }), [])

    // 3. New batches for the rest, each recorded before its RunInstances call.
    const batchSize = this.batchSize()
    const rest = plan.toCreate.filter((n) => toCreate.has(n))
    const stamp = Date.now().toString(36) + randomBytes(3).toString('hex')
    const fresh: BatchRecord[] = []
    for (let i = 0; i < rest.length; i += batchSize) {
      const id = `${stamp}-${fresh.length + 1}`
      fresh.push({
        id, client_token: clientToken(this.cluster.name, id), names: rest.slice(i, i + batchSize), instance_ids: null, named: false,
        size: plan.size, image: plan.image ?? '', created_at: new Date().toISOString(),
      })
    }
    const all = [...reissue, ...fresh]
    if (all.length > 0 && !plan.image) throw new UsageError('no image to launch: set ami')
    const total = all.reduce((n, b) => n + b.names.length, 0)
    let launched = 0
    let interrupted = false
    const launch = pLimit(LAUNCH_CONCURRENCY)
    const tagPool = pLimit(TAG_CONCURRENCY)
    await Promise.all(all.map((batch) => launch(async () => {
      if (opts.signal?.aborted) {
        interrupted = true
        return
      }
      if (!reissue.includes(batch)) {
        // The record comes first, so a killed create is adopted by a re-run: without it, nothing is launched.
        const err = this.tryUpdateState((s) => { s.batches.push(batch) })
        if (err) {
          for (const name of batch.names) failed.push({name, error: `not launched: could not record its batch in state.json first (${err.message})`})
          return
        }
      }
      let instances: Instance[]
      try {
        instances = await this.runBatch(batch, plan, extra, keyName, groupId, net.subnetId)
      } catch (err) {
        const error = describeError(err)
        for (const name of batch.names) failed.push({name, error})
        if (errorCode(err) === 'IdempotentParameterMismatch') noteState(this.tryUpdateState((s) => { s.batches = s.batches.filter((b) => b.id !== batch.id) }), [])
        return
      }
      const ids = [...instances].sort(byLaunchIndex).map((i) => i.InstanceId!)
      if (instances.every((i) => i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down')) {
        // The token named a reservation that has since been terminated: nothing new was launched.
        for (const name of batch.names) failed.push({name, error: `batch ${batch.id} was launched before and its instances are terminated; re-run to launch anew`})
        noteState(this.tryUpdateState((s) => { s.batches = s.batches.filter((b) => b.id !== batch.id) }), [])
        return
      }
      // Each instance is recorded under its name as soon as EC2 returns it, before naming (which may fail or be killed).
      const launchedNames = instances.map((inst) => batch.names[inst.AmiLaunchIndex ?? -1]).filter((n): n is string => Boolean(n))
      noteState(this.tryUpdateState((s, state) => {
        const b = s.batches.find((x) => x.id === batch.id)
        if (b) b.instance_ids = ids
        const now = new Date().toISOString()
        for (const inst of instances) {
          const name = batch.names[inst.AmiLaunchIndex ?? -1]
          if (name) state.nodes[name] = {...state.nodes[name], id: inst.InstanceId!, created_at: state.nodes[name]?.created_at ?? now}
        }
      }), launchedNames)
      launched += instances.length
      progress(`launched ${launched}/${total} instance(s)`)
      // Naming is part of the launch: it finishes even after Ctrl-C, so nothing is left unnamed.
      const targets = instances.map((inst) => ({instance: inst, name: batch.names[inst.AmiLaunchIndex ?? -1], batchId: batch.id}))
      const named = await this.nameInstances(targets, failed, tagPool)
      created.push(...named)
      noteState(this.recordNamed(named, named.length === instances.length ? [{batchId: batch.id, ids}] : []), named.map((n) => n.name))
    })))
    if (opts.signal?.aborted) interrupted = true
    return {created, existing: plan.existing, failed, interrupted, stateError: stateErrorLine('record', [...new Set(unrecorded)], stateErrors)}
  }

  private async runBatch(batch: BatchRecord, plan: CreatePlan, extra: PlanExtra, keyName: string, groupId: string, subnetId: string | null): Promise<Instance[]> {
    const n = batch.names.length
    const launchTags: Tag[] = [...this.ownTags(), {Key: BATCH_TAG, Value: batch.id}, ...extra.tags]
    const out = await this.call('RunInstances', (o) => this.client.send(new sdk.RunInstancesCommand({
      ImageId: batch.image || plan.image!,
      InstanceType: batch.size as _InstanceType,
      MinCount: n,
      MaxCount: n,
      ClientToken: batch.client_token,
      KeyName: keyName,
      SecurityGroupIds: [groupId],
      ...(subnetId ? {SubnetId: subnetId} : {}),
      ...(extra.userData ? {UserData: Buffer.from(extra.userData, 'utf8').toString('base64')} : {}),
      MetadataOptions: {HttpTokens: 'required', HttpEndpoint: 'enabled'},
      TagSpecifications: [
        {ResourceType: 'instance', Tags: launchTags},
        {ResourceType: 'volume', Tags: [...this.ownTags(), ...extra.tags]},
      ],
    }), o))
    const instances = out.Instances ?? []
    if (instances.length !== n) throw new PartialFailure(`RunInstances returned ${instances.length} instance(s) for a batch of ${n}`)
    return instances
  }

  /** One CreateTags per instance (each Name differs); returns the nodes that now carry their Name. */
  private async nameInstances(targets: {instance: Instance; name: string | undefined; batchId: string}[], failed: Failure[], pool = pLimit(TAG_CONCURRENCY)): Promise<NodeInfo[]> {
    const named: NodeInfo[] = []
    await Promise.all(targets.map((t) => pool(async () => {
      const id = t.instance.InstanceId!
      if (!t.name) {
        failed.push({name: id, error: `launch index ${t.instance.AmiLaunchIndex} has no name in batch ${t.batchId}`})
        return
      }
      try {
        await this.retryNotFound(() => this.call('CreateTags', (o) => this.client.send(new sdk.CreateTagsCommand({Resources: [id], Tags: [{Key: 'Name', Value: t.name}]}), o)))
        const inst = {...t.instance, Tags: [...(t.instance.Tags ?? []).filter((x) => x.Key !== 'Name'), {Key: 'Name', Value: t.name}]}
        named.push(this.toNode(inst, t.name))
      } catch (err) {
        failed.push({name: t.name, error: `launched as ${id} but not named (a re-run names it): ${describeError(err)}`})
      }
    })))
    return named
  }

  /** EC2 is eventually consistent: right after RunInstances, calls naming a new instance may answer NotFound. */
  private async retryNotFound<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        if (errorCode(err) !== 'InvalidInstanceID.NotFound' || attempt >= NOT_FOUND_RETRIES) throw err
        await sleep(250 * 2 ** attempt)
      }
    }
  }

  /** Record named nodes in state.nodes and close the batches whose every instance now carries its Name. */
  private recordNamed(named: NodeInfo[], closed: {batchId: string; ids: string[]}[]): Error | null {
    if (named.length === 0 && closed.length === 0) return null
    return this.tryUpdateState((s, state) => {
      const now = new Date().toISOString()
      for (const n of named) state.nodes[n.name] = {id: n.id, created_at: state.nodes[n.name]?.created_at ?? now}
      for (const c of closed) {
        const b = s.batches.find((x) => x.id === c.batchId)
        if (b) {
          b.instance_ids = c.ids
          b.named = true
        }
      }
    })
  }

  // ---- list / wait / endpoints / remove ---------------------------------------------------------------------

  async list(opts: {signal?: AbortSignal} = {}): Promise<NodeInfo[]> {
    return (await this.inventory(opts.signal)).map((l) => l.node)
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    // Instances take tens of seconds to boot: poll soon, then back off to one listing per 5 s.
    return waitForNodes((signal) => this.list({signal}), opts, pollScheduleFromEnv({intervalMs: 1000, growth: 1.5, maxIntervalMs: 5000}))
  }

  async endpoints(names: string[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const nodes = await this.list()
    const byName = new Map<string, NodeInfo>()
    for (const n of nodes) if (n.status !== 'gone' || !byName.has(n.name)) byName.set(n.name, n)
    const user = this.setting('ssh_user') ?? 'ubuntu'
    const port = Number(this.cluster.settings.ssh_port ?? 22)
    const found: SshEndpoint[] = []
    const missing: string[] = []
    for (const name of names) {
      const n = byName.get(name)
      if (!n || n.status === 'gone') missing.push(name)
      else found.push({name, host: n.public_ip ?? n.private_ip ?? '', port, user, private_ip: n.private_ip, public_ip: n.public_ip, status: n.status})
    }
    return {found, missing}
  }

  async remove(target: {names: string[]} | {all: true}, opts: {signal?: AbortSignal; onProgress?: (m: string) => void} = {}): Promise<RemoveResult> {
    const inventory = await this.inventory(opts.signal)
    const failed: Failure[] = []
    let chosen: Listed[]
    if ('all' in target) chosen = inventory
    else {
      const wanted = new Set(target.names)
      chosen = inventory.filter((l) => wanted.has(l.node.name))
      const have = new Set(chosen.map((l) => l.node.name))
      for (const n of target.names) if (!have.has(n)) failed.push({name: n, error: `no node named '${n}' in cluster '${this.cluster.name}'`})
    }
    // An instance already shutting down needs no second call, but it still counts as removed.
    const removed: Listed[] = chosen.filter((l) => l.instance.State?.Name === 'shutting-down')
    const toTerminate = chosen.filter((l) => l.instance.State?.Name !== 'shutting-down')
    let interrupted = false
    for (let i = 0; i < toTerminate.length; i += TERMINATE_CHUNK) {
      if (opts.signal?.aborted) {
        interrupted = true
        break
      }
      const chunk = toTerminate.slice(i, i + TERMINATE_CHUNK)
      try {
        await this.call('TerminateInstances', (o) => this.client.send(new sdk.TerminateInstancesCommand({InstanceIds: chunk.map((l) => l.node.id!)}), o))
        removed.push(...chunk)
        opts.onProgress?.(`terminating ${removed.length}/${chosen.length}`)
      } catch (err) {
        const error = describeError(err)
        for (const l of chunk) failed.push({name: l.node.name, error})
      }
    }
    const goneIds = new Set(removed.map((l) => l.node.id!))
    const goneNames = new Set(removed.map((l) => l.node.name))
    const liveIds = new Set(inventory.map((l) => l.node.id!).filter((id) => !goneIds.has(id)))
    // A failed write after terminating never turns a removed instance into a failure: it is reported on its own.
    const stateErr = this.tryUpdateState((s, state) => {
      for (const name of goneNames) {
        if (!inventory.some((l) => l.node.name === name && liveIds.has(l.node.id!))) delete state.nodes[name]
      }
      if ('all' in target && !interrupted && failed.length === 0) state.nodes = {}
      if (state.active_node && goneNames.has(state.active_node) && !state.nodes[state.active_node]) state.active_node = null
      // Keep a batch record while it has live instances, or while its launch may still be unseen (no ids, none listed).
      s.batches = s.batches.filter((b) => {
        const ids = b.instance_ids ?? inventory.filter((l) => l.batchId === b.id).map((l) => l.node.id!)
        return ids.some((id) => liveIds.has(id)) || (!b.named && ids.length === 0)
      })
    })
    return {removed: removed.map((l) => l.node.name), failed, interrupted, stateError: stateErrorLine('forget', [...goneNames], stateErr ? [stateErr] : [])}
  }

  // ---- adopt -------------------------------------------------------------------------------------------------

  /** Tag the instances state.json lists (by instance id) with belt-cluster-id; never one with another cluster's id. */
  async adopt(): Promise<AdoptResult> {
    const id = this.cluster.id
    if (!id) throw new Error('bug: adopt before the cluster has its id')
    const result: AdoptResult = {tagged: [], already: [], missing: [], failed: []}
    const {ours, foreign, legacy} = await this.inventoryByName()
    const byId = new Map<string, {l: Listed; kind: 'ours' | 'foreign' | 'legacy'}>()
    for (const l of ours) byId.set(l.node.id!, {l, kind: 'ours'})
    for (const l of foreign) byId.set(l.node.id!, {l, kind: 'foreign'})
    for (const l of legacy) byId.set(l.node.id!, {l, kind: 'legacy'})
    const toTag: {name: string; id: string}[] = []
    for (const [name, rec] of Object.entries(this.cluster.state.read().nodes)) {
      const hit = rec?.id ? byId.get(String(rec.id)) : undefined
      if (!hit || hit.l.node.status === 'gone') result.missing.push(name)
      else if (hit.kind === 'ours') result.already.push(name)
      else if (hit.kind === 'foreign') {
        const other = `${ID_TAG}=${tagValue(hit.l.instance, ID_TAG)}`
        result.failed.push({name, error: `instance ${hit.l.node.id} carries another cluster's id (${other}); not retagged`})
      } else toTag.push({name, id: hit.l.node.id!})
    }
    for (let i = 0; i < toTag.length; i += ADOPT_CHUNK) {
      const part = toTag.slice(i, i + ADOPT_CHUNK)
      try {
        const command = new sdk.CreateTagsCommand({Resources: part.map((x) => x.id), Tags: [{Key: ID_TAG, Value: id}]})
        await this.call('CreateTags', (o) => this.client.send(command, o))
        result.tagged.push(...part.map((x) => x.name))
      } catch (err) {
        result.failed.push(...part.map((x) => ({name: x.name, error: describeError(err)})))
      }
    }
    return result
  }

  // ---- firewall ----------------------------------------------------------------------------------------------

  async firewall(): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
    const configured = this.setting('security_group')
    if (configured) {
      const g = await this.findGroup(configured, null)
      if (!g) throw new PartialFailure(`security group '${configured}' not found in ${this.region}`)
      return {name: g.GroupName ?? configured, id: g.GroupId ?? null, rules: describeRules(g.IpPermissions, g.GroupId!)}
    }
    const name = this.groupName()
    const net = await this.network()
    const g = await this.findGroup(name, net.vpcId)
    if (g) return {name, id: g.GroupId ?? null, rules: describeRules(g.IpPermissions, g.GroupId!)}
    const admin = this.setting('admin_cidr')
    return admin ? {name, id: null, rules: plannedRules(swarmRules(admin), name)} : null
  }

  // ---- pieces ------------------------------------------------------------------------------------------------

  /** belt-cluster=<name> and belt-cluster-id=<id> (every resource belt makes carries both). */
  private ownTags(): Tag[] {
    if (!this.cluster.id) throw new Error('bug: a resource was about to be made before the cluster had its id')
    return [{Key: CLUSTER_TAG, Value: this.cluster.name}, {Key: ID_TAG, Value: this.cluster.id}]
  }

  /** belt-<cluster>-<id8>: the security group and key pair (the name alone is shared between projects). */
  private resourceName(): string {
    return `belt-${this.cluster.name}-${this.cluster.id ? this.cluster.id.slice(0, 8) : '<id8>'}`
  }

  foreignNote(): string | null {
    return strangersNote(this.strangers, `instance(s) tagged ${CLUSTER_TAG}=${this.cluster.name}`, ID_TAG)
  }

  /** This cluster's instances (not terminated), with names resolved: Name tag, else the batch record. */
  private async inventory(signal?: AbortSignal): Promise<Listed[]> {
    const {ours, foreign, legacy} = await this.inventoryByName(signal)
    this.strangers = {foreign: foreign.length, legacy: legacy.length}
    return ours
  }

  /** Every instance with this cluster's name tag, split by its id tag. */
  private async inventoryByName(signal?: AbortSignal): Promise<{ours: Listed[]; foreign: Listed[]; legacy: Listed[]}> {
    const batchNames = new Map(this.batches().map((b) => [b.id, b.names]))
    const split = {ours: [] as Listed[], foreign: [] as Listed[], legacy: [] as Listed[]}
    let token: string | undefined
    do {
      const page = await this.call('DescribeInstances', (o) => this.client.send(new sdk.DescribeInstancesCommand({
        Filters: [{Name: `tag:${CLUSTER_TAG}`, Values: [this.cluster.name]}, {Name: 'instance-state-name', Values: LISTED_STATES}],
        MaxResults: PAGE_SIZE,
        NextToken: token,
      }), o), signal)
      for (const r of page.Reservations ?? []) {
        for (const inst of r.Instances ?? []) {
          const tagName = tagValue(inst, 'Name')
          const batchId = tagValue(inst, BATCH_TAG) ?? null
          const fromBatch = batchId ? batchNames.get(batchId)?.[inst.AmiLaunchIndex ?? -1] : undefined
          const name = tagName || fromBatch || inst.InstanceId!
          const id = tagValue(inst, ID_TAG)
          const which = id === undefined ? split.legacy : this.cluster.id && id === this.cluster.id ? split.ours : split.foreign
          which.push({node: this.toNode(inst, name), instance: inst, named: Boolean(tagName), batchId: fromBatch ? batchId : null})
        }
      }
      token = page.NextToken || undefined
    } while (token)
    return split
  }

  private toNode(inst: Instance, name: string): NodeInfo {
    const tags = (inst.Tags ?? []).map((t) => `${t.Key}=${t.Value ?? ''}`).sort()
    return {
      name,
      id: inst.InstanceId ?? null,
      status: normaliseState(inst.State?.Name),
      provider_status: inst.State?.Name ?? null,
      public_ip: inst.PublicIpAddress || null,
      private_ip: inst.PrivateIpAddress || null,
      region: this.region,
      size: inst.InstanceType ?? null,
      memory_mb: memoryOf(inst.InstanceType),
      tags,
    }
  }

  private async latestUbuntu(arch: 'x86_64' | 'arm64', signal?: AbortSignal): Promise<{id: string; name: string}> {
    const a = arch === 'arm64' ? 'arm64' : 'amd64'
    const out = await this.call('DescribeImages', (o) => this.client.send(new sdk.DescribeImagesCommand({
      Owners: [CANONICAL_OWNER],
      Filters: [
        {Name: 'name', Values: UBUNTU_LTS.map((r) => `ubuntu/images/hvm-ssd*/ubuntu-${r}-${a}-server-*`)},
        {Name: 'state', Values: ['available']},
        {Name: 'architecture', Values: [arch]},
      ],
    }), o), signal)
    const images = (out.Images ?? []).filter((i) => i.ImageId && i.OwnerId === CANONICAL_OWNER)
    images.sort((x, y) => String(y.CreationDate ?? '').localeCompare(String(x.CreationDate ?? '')))
    if (!images[0]) throw new PartialFailure(`no Ubuntu LTS image (${UBUNTU_LTS.join(', ')}, ${a}) from Canonical in ${this.region}; set ami`)
    return {id: images[0].ImageId!, name: (images[0].Name ?? images[0].ImageId!).split('/').pop()!}
  }

  /** The subnet (when set) and the VPC the security group belongs to. */
  private async network(): Promise<{subnetId: string | null; vpcId: string | null; note: string | null}> {
    const subnetId = this.setting('subnet_id') ?? null
    if (subnetId) {
      let out
      try {
        out = await this.call('DescribeSubnets', (o) => this.client.send(new sdk.DescribeSubnetsCommand({SubnetIds: [subnetId]}), o))
      } catch (err) {
        if (errorCode(err) === 'InvalidSubnetID.NotFound') throw new UsageError(`subnet_id '${subnetId}' does not exist in ${this.region}`)
        throw err
      }
      const s = out.Subnets?.[0]
      if (!s) throw new UsageError(`subnet_id '${subnetId}' does not exist in ${this.region}`)
      const note = s.MapPublicIpOnLaunch ? null : `subnet ${subnetId} does not assign public IPv4 addresses: nodes are reached on their private addresses`
      return {subnetId, vpcId: s.VpcId ?? null, note}
    }
    const out = await this.call('DescribeVpcs', (o) => this.client.send(new sdk.DescribeVpcsCommand({Filters: [{Name: 'is-default', Values: ['true']}]}), o))
    const vpc = out.Vpcs?.[0]
    if (!vpc) throw new UsageError(`${this.region} has no default VPC: set subnet_id`)
    return {subnetId: null, vpcId: vpc.VpcId ?? null, note: null}
  }

  /** key_name when set (it must exist), else the cluster key imported once as belt-<cluster>-<id8>. */
  private async keyPair(progress: (m: string) => void): Promise<string> {
    const configured = this.setting('key_name')
    const name = configured ?? this.resourceName()
    const out = await this.call('DescribeKeyPairs', (o) => this.client.send(new sdk.DescribeKeyPairsCommand({Filters: [{Name: 'key-name', Values: [name]}]}), o))
    const existing = (out.KeyPairs ?? []).find((k) => k.KeyName === name)
    if (configured) {
      if (!existing) throw new UsageError(`key_name '${configured}' is not a key pair in ${this.region}`)
      return configured
    }
    const key = ensureClusterKey(this.cluster)
    if (existing) {
      const mine = ed25519Fingerprint(key.publicKey)
      const theirs = (existing.KeyFingerprint ?? '').replace(/^SHA256:/, '').replace(/=+$/, '')
      if (mine && existing.KeyType === 'ed25519' && theirs && mine !== theirs) {
        throw new UsageError(`key pair '${name}' in ${this.region} is not ${key.publicPath}; delete it (aws ec2 delete-key-pair --key-name ${name}) or set key_name`)
      }
      return name
    }
    try {
      await this.call('ImportKeyPair', (o) => this.client.send(new sdk.ImportKeyPairCommand({
        KeyName: name,
        PublicKeyMaterial: Buffer.from(key.publicKey + '\n', 'utf8'),
        TagSpecifications: [{ResourceType: 'key-pair', Tags: this.ownTags()}],
      }), o))
      progress(`imported ${key.publicPath} as key pair ${name}`)
    } catch (err) {
      if (errorCode(err) !== 'InvalidKeyPair.Duplicate') throw translate(err, 'ImportKeyPair')
    }
    this.updateState((s) => { s.key_name = name })
    return name
  }

  /**
   * belt-<cluster>-<id8>, or the group state.json records: an adopted cluster keeps the group its older nodes are
   * in, since the swarm rules allow traffic only between members of one group.
   */
  private groupName(): string {
    return this.ec2State(this.cluster.state.read()).security_group?.name ?? this.resourceName()
  }

  private async findGroup(nameOrId: string, vpcId: string | null): Promise<SecurityGroup | null> {
    const filters = nameOrId.startsWith('sg-')
      ? [{Name: 'group-id', Values: [nameOrId]}]
      : [{Name: 'group-name', Values: [nameOrId]}, ...(vpcId ? [{Name: 'vpc-id', Values: [vpcId]}] : [])]
    const out = await this.call('DescribeSecurityGroups', (o) => this.client.send(new sdk.DescribeSecurityGroupsCommand({Filters: filters}), o))
    return out.SecurityGroups?.[0] ?? null
  }

  /** security_group when set (used as it is), else belt-<cluster> created or completed with the swarm rules. */
  private async ensureSecurityGroup(vpcId: string | null, progress: (m: string) => void): Promise<string> {
    const configured = this.setting('security_group')
    if (configured) {
      const g = await this.findGroup(configured, vpcId)
      if (!g?.GroupId) throw new UsageError(`security_group '${configured}' does not exist in ${this.region}${vpcId ? ` (VPC ${vpcId})` : ''}`)
      const lacking = missingRules(swarmRules('0.0.0.0/0'), g.IpPermissions, g.GroupId).filter((r) => 'self' in r.source)
      if (lacking.length) progress(`warning: security group ${g.GroupId} does not allow ${lacking.map((r) => `${r.protocol === '50' ? 'esp' : `${r.from}/${r.protocol}`}`).join(', ')} between nodes; swarm joins or overlay networks may hang`)
      return g.GroupId
    }
    const name = this.groupName()
    const admin = this.setting('admin_cidr')!
    let g = await this.findGroup(name, vpcId)
    if (!g) {
      try {
        const out = await this.call('CreateSecurityGroup', (o) => this.client.send(new sdk.CreateSecurityGroupCommand({
          GroupName: name,
          Description: `belt: swarm nodes of cluster ${this.cluster.name}`,
          ...(vpcId ? {VpcId: vpcId} : {}),
          TagSpecifications: [{ResourceType: 'security-group', Tags: [...this.ownTags(), {Key: 'Name', Value: name}]}],
        }), o))
        g = {GroupId: out.GroupId, GroupName: name, IpPermissions: []}
        progress(`created security group ${name} (${out.GroupId})`)
      } catch (err) {
        if (errorCode(err) !== 'InvalidGroup.Duplicate') throw translate(err, 'CreateSecurityGroup')
        g = await this.findGroup(name, vpcId)
        if (!g) throw new PartialFailure(`security group ${name} exists but cannot be described`)
      }
    }
    const groupId = g.GroupId!
    const missing = missingRules(swarmRules(admin), g.IpPermissions, groupId)
    if (missing.length) {
      try {
        await this.call('AuthorizeSecurityGroupIngress', (o) => this.client.send(new sdk.AuthorizeSecurityGroupIngressCommand({GroupId: groupId, IpPermissions: toIpPermissions(missing, groupId)}), o))
      } catch (err) {
        if (errorCode(err) !== 'InvalidPermission.Duplicate') throw translate(err, 'AuthorizeSecurityGroupIngress')
      }
      progress(`security group ${name}: added ${missing.length} swarm rule(s)`)
    }
    this.updateState((s) => { s.security_group = {id: groupId, name, vpc_id: vpcId} })
    return groupId
  }

  /** Every API call goes through here: debug timing, and SDK errors turned into belt errors (per-node calls keep theirs). */
  private async call<T>(action: string, fn: (o: {abortSignal?: AbortSignal} | undefined) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const started = Date.now()
    try {
      const out = await fn(signal ? {abortSignal: signal} : undefined)
      debug('%s ok in %d ms', action, Date.now() - started)
      return out
    } catch (err) {
      debug('%s failed in %d ms: %s', action, Date.now() - started, errorCode(err))
      if (signal?.aborted) throw new Interrupted()
      throw PER_NODE_ACTIONS.has(action) ? err : translate(err, action)
    }
  }

  private userTags(flagTags: string[]): Tag[] {
    const fromTemplate = Array.isArray(this.cluster.settings.tags) ? (this.cluster.settings.tags as unknown[]).map(String) : []
    const tags = new Map<string, string>()
    for (const [raw, where] of [...fromTemplate.map((t) => [t, 'tags']), ...flagTags.map((t) => [t, '--tag'])]) {
      const eq = raw.indexOf('=')
      const key = (eq >= 0 ? raw.slice(0, eq) : raw).trim()
      const value = eq >= 0 ? raw.slice(eq + 1) : ''
      if (!key || key.length > 128 || value.length > 256) throw new UsageError(`${where}: '${raw}' must be key=value (key up to 128 characters, value up to 256)`)
      if (RESERVED_TAGS.has(key) || key.startsWith('aws:')) throw new UsageError(`${where}: tag key '${key}' is reserved (belt sets Name, ${CLUSTER_TAG}, ${ID_TAG} and ${BATCH_TAG})`)
      tags.set(key, value)
    }
    if (tags.size > 40) throw new UsageError('at most 40 extra tags (EC2 allows 50 per instance)')
    return [...tags].map(([Key, Value]) => ({Key, Value}))
  }

  private userData(): string | undefined {
    const configured = this.cluster.settings.user_data
    if (typeof configured === 'string') {
      if (Buffer.byteLength(configured) > USER_DATA_MAX) throw new UsageError(`user_data is larger than EC2's 16 KB limit`)
      return configured === '' ? undefined : configured
    }
    if (this.cluster.settings.engine_install === false) return undefined
    return defaultUserData(String(this.cluster.settings.engine_install_url ?? 'https://get.docker.com'), this.setting('ssh_user') ?? 'ubuntu')
  }

  private batchSize(): number {
    const n = Number(this.cluster.settings.batch_size ?? 100)
    return Number.isInteger(n) && n >= 1 ? Math.min(n, 1000) : 100
  }

  private setting(key: keyof Ec2Settings): string | undefined {
    const v = this.cluster.settings[key]
    if (v === undefined || v === null || v === '') return undefined
    return String(v)
  }

  private batches(): BatchRecord[] {
    return this.ec2State(this.cluster.state.read()).batches
  }

  private ec2State(state: {provider: Record<string, unknown>}): Ec2State {
    const cur = state.provider.ec2 as Ec2State | undefined
    if (cur && Array.isArray(cur.batches)) return cur
    const fresh: Ec2State = {...(cur ?? {}), batches: []}
    state.provider.ec2 = fresh
    return fresh
  }

  private updateState(change: (s: Ec2State, state: ReturnType<Cluster['state']['read']>) => void): void {
    ensureClusterDir(this.cluster)
    this.cluster.state.update((state) => change(this.ec2State(state), state))
  }

  /** updateState for records of what EC2 already did: a failed write is returned, not thrown. */
  private tryUpdateState(change: (s: Ec2State, state: ReturnType<Cluster['state']['read']>) => void): Error | null {
    try {
      this.updateState(change)
      return null
    } catch (err) {
      return err as Error
    }
  }
}

function tagValue(inst: Instance, key: string): string | undefined {
  return inst.Tags?.find((t) => t.Key === key)?.Value
}

function byLaunchIndex(a: Instance, b: Instance): number {
  return (a.AmiLaunchIndex ?? 0) - (b.AmiLaunchIndex ?? 0)
}

/** ≤ 64 ASCII characters, stable for a cluster's batch: a retried or re-issued RunInstances returns the same reservation. */
export function clientToken(cluster: string, batchId: string): string {
  return 'belt-' + createHash('sha256').update(`${cluster}/${batchId}`).digest('hex').slice(0, 40)
}

/** The SHA-256 fingerprint AWS shows for an imported ed25519 key (base64, no padding); null for other key types. */
export function ed25519Fingerprint(publicKey: string): string | null {
  const [type, blob] = publicKey.trim().split(/\s+/)
  if (type !== 'ssh-ed25519' || !blob) return null
  return createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')
}
