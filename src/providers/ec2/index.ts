// The ec2 driver: EC2 instances as swarm nodes, through @aws-sdk/client-ec2. This file is the Provider that names
// the steps; each resource has its own file: batches (pure planning), launch (RunInstances + naming), inventory
// (listing), terminate, security-group, key-pair, network, images, tags, and state (state.json's ec2 block).
// A cluster's instances are those with its id tag (belt-cluster-id=<cluster_id>): listings filter by the name tag and
// split by the id, so instances of another project's cluster of the same name (foreign) or from before ids (legacy)
// are counted, never touched. The security group and key pair are named belt-<cluster>-<id8>.
import {randomBytes} from 'node:crypto'
import type {Tag} from '@aws-sdk/client-ec2'
import type {Cluster} from '../../core/config/cluster.js'
import {DRIVER_KEYS} from '../../core/config/schema.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import type {
  AdoptResult, CreateOptions, CreatePlan, CreateResult, FirewallRule, NodeInfo, PowerAction, PowerOptions, PowerResult, Provider,
  RemoveResult, SshEndpoint, WaitOptions,
} from '../provider.js'
import {strangersNote} from '../strangers.js'
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {adoptable, planLaunch} from './batches.js'
import {type Ec2Context, makeClient} from './client.js'
import {latestUbuntu} from './images.js'
import {adoptById, type Listed, listInstances} from './inventory.js'
import {ensureKeyPair} from './key-pair.js'
import {CreateLog, launchBatches, nameAdopted, recordExisting} from './launch.js'
import {findNetwork} from './network.js'
import {powerInstances} from './power.js'
import {deleteSecurityGroup, describeFirewall, ensureSecurityGroup} from './security-group.js'
import {architectureOf, resolveSize} from './sizes.js'
import {Ec2Records} from './state.js'
import {CLUSTER_TAG, ID_TAG, tagStrings, userTags} from './tags.js'
import {terminate} from './terminate.js'
import {userDataFor} from './user-data.js'

/** What plan() found that create() reuses: the listing, and the launch settings checked already. */
interface PlanExtra {
  inventory: Listed[]
  tags: Tag[]
  userData: string | undefined
}

export class Ec2Provider implements Provider {
  readonly driver = 'ec2' as const
  readonly region: string
  private readonly ctx: Ec2Context
  private readonly extras = new WeakMap<CreatePlan, PlanExtra>()
  /** Instances of the last listing with this cluster's name tag that are not ours (foreign or legacy). */
  private strangers: {foreign: number; legacy: number} | null = null

  constructor(readonly cluster: Cluster<'ec2'>, env: NodeJS.ProcessEnv = process.env) {
    // An empty region or endpoint means unset.
    this.region = cluster.settings.region || env.AWS_REGION || DRIVER_KEYS.ec2.region.default
    const client = makeClient(this.region, cluster.settings.endpoint || env.AWS_ENDPOINT_URL_EC2 || undefined, env)
    this.ctx = {client, region: this.region, cluster, records: new Ec2Records(cluster)}
  }

  validateName(name: string, pattern: string): void {
    // EC2 Name tags are free-form, but belt names become hostnames and certificate names.
    validateHostname(name, pattern)
  }

  // ---- create ------------------------------------------------------------------------------------------------

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    const s = this.cluster.settings
    if (opts.region && opts.region !== this.region) {
      throw new UsageError(`--region ${opts.region}: an ec2 cluster lives in one region (${this.region}); ` +
        `change it with: belt cluster update region=${opts.region}`)
    }
    const size = resolveSize(opts.size)
    if (!s.security_group && !s.admin_cidr) {
      throw new UsageError('admin_cidr is required when belt manages the security group (it is where SSH and Docker TLS may come from): ' +
        'belt cluster update admin_cidr=YOUR.IP.ADDRESS/32')
    }
    const tags = [...userTags(s.tags ?? [], opts.tags), ...(opts.pool ? [{Key: 'belt-pool', Value: opts.pool}] : [])]
    const userData = userDataFor(s, this.sshUser())
    const image = opts.image ?? (s.ami || undefined)
    if (image !== undefined && !/^ami-[0-9a-z]+$/.test(image)) {
      throw new UsageError(`${opts.image ? '--image' : 'ami'} '${image}' is not an AMI id (ami-...)`)
    }

    const inventory = await this.inventory(opts.signal)
    const wanted = new Set(opts.names)
    const done = new Map<string, NodeInfo>()
    for (const l of inventory) if (l.named && wanted.has(l.node.name) && l.node.status !== 'gone') done.set(l.node.name, l.node)
    const toCreate = opts.names.filter((n) => !done.has(n))
    const notes: string[] = []
    const adopting = adoptable(inventory).filter((l) => wanted.has(l.node.name)).length
    if (adopting > 0) notes.push(`${adopting} instance(s) launched by an interrupted create will be named, not launched again`)
    const strangers = this.foreignNote()
    if (strangers) notes.push(strangers)

    let imageId: string | null = image ?? null
    if (!imageId && toCreate.length > adopting) {
      const latest = await latestUbuntu(this.ctx, architectureOf(size.type), opts.signal)
      imageId = latest.id
      notes.push(`image: ${latest.name} (${latest.id}), the latest Ubuntu LTS from Canonical`)
    }
    const plan: CreatePlan = {
      size: size.type, memory_mb: size.memory_mb, sizeNote: size.note, region: this.region, image: imageId, tags: tagStrings(tags),
      toCreate, existing: [...done.values()], limit: null, notes,
    }
    this.extras.set(plan, {inventory, tags, userData})
    return plan
  }

  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    const extra = this.extras.get(plan) ?? this.extras.get(await this.plan(opts))!
    const progress = opts.onProgress ?? (() => {})
    const log = new CreateLog()
    const launch = planLaunch({
      records: this.ctx.records.read().batches, inventory: extra.inventory, wanted: plan.toCreate, size: plan.size, image: plan.image,
      batchSize: this.cluster.settings.batch_size, cluster: this.cluster.name,
      stamp: Date.now().toString(36) + randomBytes(3).toString('hex'), now: new Date().toISOString(),
    })

    // Everything that can refuse (network, key pair) runs before anything is changed. The security group is
    // converged even when every name exists (a re-run restores missing swarm rules).
    const net = await findNetwork(this.ctx, opts.zone)
    if (net.note && plan.toCreate.length > 0) progress(net.note)
    const adoptNames = new Set(launch.adopt.map((l) => l.node.name))
    const keyName = plan.toCreate.some((n) => !adoptNames.has(n)) ? await ensureKeyPair(this.ctx, progress) : ''
    const groupId = await ensureSecurityGroup(this.ctx, net.vpcId, progress)
    recordExisting(this.ctx, plan.existing, log)

    // 1. Adopt instances of interrupted batches: name them, never launch them again.
    const adopted = await nameAdopted(this.ctx, launch.adopt, extra.inventory, log)
    const wanted = new Set(plan.toCreate)
    log.created.push(...adopted.filter((n) => wanted.has(n.name)))
    if (adopted.length) progress(`named ${adopted.length} instance(s) launched by an interrupted create`)
    // 2. Batches recorded but never seen launched are re-issued (launched below) or, unwanted as they are, forgotten.
    if (launch.dropped.size) {
      log.noteState(this.ctx.records.tryUpdate((s) => { s.batches = s.batches.filter((b) => !launch.dropped.has(b.id)) }), [])
    }
    // 3. The re-issued and the fresh batches.
    if (launch.reissue.length + launch.fresh.length > 0 && !plan.image) throw new UsageError('no image to launch: set ami')
    const spec = {image: plan.image ?? '', keyName, groupId, subnetId: net.subnetId, tags: extra.tags, userData: extra.userData,
      batchUserData: opts.userData}
    const interrupted = await launchBatches(this.ctx, launch, spec, log, {signal: opts.signal, progress})
    return {created: log.created, existing: plan.existing, failed: log.failed, interrupted, stateError: log.stateError()}
  }

  // ---- list / wait / endpoints / remove ---------------------------------------------------------------------

  async list(opts: {signal?: AbortSignal} = {}): Promise<NodeInfo[]> {
    return (await this.inventory(opts.signal)).map((l) => l.node)
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    // Instances take tens of seconds to boot: poll soon, then back off to one listing per 5 s.
    return waitForNodes((signal) => this.list({signal}), opts, pollScheduleFromEnv({intervalMs: 1000, growth: 1.5, maxIntervalMs: 5000}))
  }

  async endpoints(names: string[], listing?: NodeInfo[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const nodes = listing ?? await this.list()
    const byName = new Map<string, NodeInfo>()
    for (const n of nodes) if (n.status !== 'gone' || !byName.has(n.name)) byName.set(n.name, n)
    const user = this.sshUser()
    const port = this.cluster.settings.ssh_port
    const found: SshEndpoint[] = []
    const missing: string[] = []
    for (const name of names) {
      const n = byName.get(name)
      if (!n || n.status === 'gone') missing.push(name)
      else {
        const host = n.public_ip ?? n.private_ip ?? ''
        found.push({name, host, port, user, private_ip: n.private_ip, public_ip: n.public_ip, status: n.status})
      }
    }
    return {found, missing}
  }

  async remove(
    target: {names: string[]} | {all: true}, opts: {signal?: AbortSignal; onProgress?: (m: string) => void} = {},
  ): Promise<RemoveResult> {
    return terminate(this.ctx, await this.inventory(opts.signal), target, opts)
  }

  async power(action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult> {
    if (opts.hard) return powerInstances(this.ctx, [], action, names, opts)
    return powerInstances(this.ctx, await this.inventory(opts.signal), action, names, opts)
  }

  // ---- adopt / firewall / strangers --------------------------------------------------------------------------

  /** Tag the instances state.json lists (by instance id) with belt-cluster-id; never one with another cluster's id. */
  async adopt(): Promise<AdoptResult> {
    return adoptById(this.ctx)
  }

  async firewall(): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
    return describeFirewall(this.ctx)
  }

  async removeClusterResources(opts: {signal?: AbortSignal} = {}): Promise<string[]> {
    return deleteSecurityGroup(this.ctx, opts.signal)
  }

  foreignNote(): string | null {
    return strangersNote(this.strangers, `instance(s) tagged ${CLUSTER_TAG}=${this.cluster.name}`, ID_TAG)
  }

  /** This cluster's instances (not terminated), with names resolved; counts the strangers for foreignNote(). */
  private async inventory(signal?: AbortSignal): Promise<Listed[]> {
    const {ours, foreign, legacy} = await listInstances(this.ctx, signal)
    this.strangers = {foreign: foreign.length, legacy: legacy.length}
    return ours
  }

  /** ssh_user; an empty value means the driver's default. */
  private sshUser(): string {
    return this.cluster.settings.ssh_user || DRIVER_KEYS.ec2.ssh_user.default
  }
}
