// The DigitalOcean driver: the Provider composed of one module per resource — droplets.ts (find, remove, adopt),
// droplet-batches.ts (create), ssh-keys.ts, firewall.ts, sizes.ts — over one paced API client (api.ts, pacer.ts).
// A cluster's droplets are exactly those tagged `belt-id:<cluster_id>` (next to the name tag `belt-cluster:<cluster>`):
// every listing, wait and removal is scoped by the id. Listings ask for the name tag once and split by the id tag,
// so droplets of another project with the same cluster name (foreign) or from before cluster ids (legacy) are counted
// for `ls` without a second listing, and never touched.
import type {Cluster} from '../../core/config/cluster.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import {isInterrupted} from '../../core/wait.js'
import type {ProviderHooks} from '../index.js'
import type {
  AdoptResult, CreateOptions, CreatePlan, CreateResult, FirewallRule, NodeInfo, PowerAction, PowerOptions, PowerResult, Provider,
  RemoveResult, SshEndpoint, WaitOptions,
} from '../provider.js'
import {strangersNote} from '../strangers.js'
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {DoApi, type DoScope, PER_PAGE} from './api.js'
import {resolveEndpoint, resolveToken} from './credentials.js'
import {CreateTally, createBody, createInBatches} from './droplet-batches.js'
import {
  adoptDroplets, type Droplet, dropletTags, listByName, recordedButUnlisted, removeDroplets, type RemoveOptions, toNode,
} from './droplets.js'
import {ensureFirewall, findFirewall, firewallCidr, firewallName, shownFirewall} from './firewall.js'
import {powerDroplets} from './power.js'
import {SizeLookup} from './sizes.js'
import {dropletKeys, keyWillBeUploaded} from './ssh-keys.js'

/** wait() lists every 5 s; BELT_POLL_INTERVAL_MS shortens it (meant for tests against the fake API). */
const POLL_MS = 5000

export class DigitalOceanProvider implements Provider, DoScope {
  readonly driver = 'digitalocean' as const
  private doApi: DoApi | null = null
  private readonly sizes = new SizeLookup(this)
  /** Droplets of the last listing that carry this cluster's name tag but are not ours (foreign or legacy). */
  private strangers: {foreign: number; legacy: number} | null = null
  /** Droplets the last listing returned (its pages are what the next listing costs). */
  private listed = 0

  constructor(readonly cluster: Cluster<'digitalocean'>, private readonly hooks: ProviderHooks = {}) {}

  get clusterTag(): string {
    return `belt-cluster:${this.cluster.name}`
  }

  get idTag(): string | null {
    return this.cluster.id ? `belt-id:${this.cluster.id}` : null
  }

  get resourceName(): string {
    return firewallName(this.cluster.name, this.cluster.id)
  }

  /** The API client; the token check happens here, on first use, before anything changes. */
  get api(): DoApi {
    if (!this.doApi) {
      const token = resolveToken(this.cluster.settings)
      const {origin, endpoint, source} = resolveEndpoint(this.cluster.settings)
      // A token sent anywhere but the public API is worth a line: api_url may come from a versioned config.yml.
      if (source) this.hooks.onNotice?.(`sending the DigitalOcean token to ${origin} (${source})`)
      this.doApi = new DoApi({token, endpoint, onNotice: this.hooks.onNotice})
    }
    return this.doApi
  }

  validateName(name: string, pattern: string): void {
    validateHostname(name, pattern)
  }

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    // An empty --region / region: '' is unset (then the error below names how to set one).
    const region = opts.zone?.trim() || opts.region?.trim() || this.cluster.settings.region.trim() || null
    const image = opts.image?.trim() || this.cluster.settings.image.trim() || null
    if (!region) throw new UsageError('no region: pass --region or set one with: belt cluster update region=nyc1')
    if (!image) throw new UsageError('no image: pass --image or set one with: belt cluster update image=docker-20-04')
    const tags = dropletTags(this, poolTags(opts))
    const firewall = firewallCidr(this.cluster.settings)
    const api = this.api
    const signal = opts.signal
    const [size, droplets, account, count] = await Promise.all([
      this.sizes.resolve(opts.size, region, signal),
      this.listDroplets(signal),
      api.call('get account', (c) => c.account.getAccount(), signal),
      api.call('count droplets', (c) => c.droplet.listDroplets({page: 1, per_page: 1}), signal),
    ])
    const wanted = new Set(opts.names)
    const existing = new Map<string, NodeInfo>()
    for (const d of droplets) if (wanted.has(d.name) && !existing.has(d.name)) existing.set(d.name, toNode(d))
    const unlisted = [...wanted].filter((n) => !existing.has(n))
    for (const d of await recordedButUnlisted(this, unlisted, signal)) existing.set(d.name, toNode(d))
    const max = (account as {account?: {droplet_limit?: number}}).account?.droplet_limit
    const used = (count as {meta?: {total?: number}}).meta?.total
    return {
      size: size.slug,
      memory_mb: size.memory_mb,
      sizeNote: size.note,
      region,
      image,
      tags,
      toCreate: opts.names.filter((n) => !existing.has(n)),
      existing: [...existing.values()],
      limit: typeof max === 'number' && typeof used === 'number' ? {max, used} : null,
      notes: this.planNotes(firewall),
    }
  }

  private planNotes(firewall: string | null): string[] {
    const notes: string[] = []
    const name = this.resourceName
    if (!firewall) notes.push(`no cloud firewall is managed for cluster '${this.cluster.name}' (set admin_cidr to have belt create ${name})`)
    else notes.push(`cloud firewall ${name}: SSH and Docker TLS from ${firewall}, swarm ports between the cluster's droplets`)
    if (keyWillBeUploaded(this.cluster)) {
      notes.push(`no ssh_key_fingerprint: the cluster key (.belt/${this.cluster.name}/ssh/id_ed25519.pub) goes to the account once`)
    }
    const strangers = this.foreignNote()
    if (strangers) notes.push(strangers)
    return notes
  }

  /** Converge the firewall, record what exists, upload the key if needed, then create the missing droplets. */
  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    const signal = opts.signal
    const progress = opts.onProgress ?? (() => {})
    const tally = new CreateTally(this.cluster)
    ensureClusterDir(this.cluster)
    this.sizes.save()
    // Droplets found existing are recorded too (a create killed before its replies arrived left them unrecorded).
    tally.recordExisting(plan.existing)
    let sshKeys: (string | number)[]
    try {
      const cidr = firewallCidr(this.cluster.settings)
      if (cidr) await ensureFirewall(this, cidr, signal, progress)
      if (plan.toCreate.length === 0) return tally.result(plan.existing, signal)
      sshKeys = await dropletKeys(this, signal, progress)
    } catch (err) {
      if (isInterrupted(err)) return tally.result(plan.existing, signal)
      throw err
    }
    // Tags recomputed: the plan may have been made before the cluster had its id.
    const body = createBody(this, plan, sshKeys, dropletTags(this, poolTags(opts)))
    await createInBatches(this, tally, {plan, body, list: () => this.listDroplets(undefined), signal, progress, userData: opts.userData})
    return tally.result(plan.existing, signal)
  }

  /** This cluster's droplets (the id tag); the others with its name tag are counted for foreignNote() and dropped. */
  private async listDroplets(signal?: AbortSignal, onPage?: (ours: Droplet[]) => void): Promise<Droplet[]> {
    const {ours, foreign, legacy} = await listByName(this, signal, onPage)
    this.strangers = {foreign: foreign.length, legacy: legacy.length}
    this.listed = ours.length + foreign.length + legacy.length
    return ours
  }

  foreignNote(): string | null {
    return strangersNote(this.strangers, `droplet(s) tagged ${this.clusterTag}`, 'belt-id')
  }

  async list(opts: {signal?: AbortSignal; onPage?: (nodes: NodeInfo[]) => void} = {}): Promise<NodeInfo[]> {
    const onPage = opts.onPage
    return (await this.listDroplets(opts.signal, onPage && ((page) => onPage(page.map(toNode))))).map(toNode)
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    return waitForNodes((signal) => this.list({signal}), opts, pollScheduleFromEnv({intervalMs: POLL_MS}))
  }

  listSpacingMs(opts: {nodes?: number; since?: number} = {}): number {
    const pages = Math.max(1, Math.ceil(Math.max(this.listed, opts.nodes ?? 0) / PER_PAGE))
    return this.api.pacer.window.spreadMs(pages, Date.now(), opts.since)
  }

  async endpoints(names: string[], listing?: NodeInfo[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const byName = new Map<string, NodeInfo>()
    for (const n of listing ?? await this.list()) if (!byName.has(n.name)) byName.set(n.name, n)
    const {ssh_user: user, ssh_port: port} = this.cluster.settings
    const found: SshEndpoint[] = []
    const missing: string[] = []
    for (const name of names) {
      const n = byName.get(name)
      if (!n) missing.push(name)
      else {
        const host = n.public_ip ?? n.private_ip ?? ''
        found.push({name, host, port, user, private_ip: n.private_ip, public_ip: n.public_ip, status: n.status})
      }
    }
    return {found, missing}
  }

  async adopt(): Promise<AdoptResult> {
    return adoptDroplets(this, await listByName(this))
  }

  async remove(target: {names: string[]} | {all: true}, opts: RemoveOptions = {}): Promise<RemoveResult> {
    let droplets: Droplet[]
    try {
      droplets = await this.listDroplets(opts.signal)
    } catch (err) {
      if (isInterrupted(err)) return {removed: [], failed: [], interrupted: true}
      throw err
    }
    return removeDroplets(this, droplets, target, opts)
  }

  async power(action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult> {
    return powerDroplets(this, action, names, opts)
  }

  async firewall(): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
    return shownFirewall(this)
  }

  /** `belt down`: the cluster's firewall (found by its name, which carries the cluster id). */
  async removeClusterResources(opts: {signal?: AbortSignal} = {}): Promise<string[]> {
    if (!this.cluster.id) return []
    const fw = await findFirewall(this, opts.signal)
    if (!fw) return []
    await this.api.call(`delete firewall ${fw.name}`, (c) => c.firewall.deleteFirewall({firewall_id: fw.id}), opts.signal)
    this.cluster.state.tryUpdate((s) => { delete s.provider.do_firewall_id })
    return [`firewall ${fw.name}`]
  }
}

/** --tag values plus belt up's pool tag. */
function poolTags(opts: CreateOptions): string[] {
  return opts.pool ? [...opts.tags, `belt-pool:${opts.pool}`] : opts.tags
}
