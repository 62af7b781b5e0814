// The DigitalOcean driver. A cluster's droplets are exactly those tagged `belt-id:<cluster_id>` (next to the name
// tag `belt-cluster:<cluster>`): every listing, wait and removal is scoped by the id. Listings ask for the name tag
// once and split by the id tag here, so droplets of another project with the same cluster name (foreign) or from
// before cluster ids (legacy) are counted for `ls` without a second listing, and never touched.
// Creates go 10 names per POST /v2/droplets, several requests at a time, all paced per token (pacer.ts); each batch
// is recorded in state.json as it returns, and a batch whose outcome is unknown (5xx, reset, timeout) is looked up
// by tag before anything is posted again, so retries never duplicate.
import {waitForNodes} from '../wait.js'
import {createHash} from 'node:crypto'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {
  AdoptResult, CreateOptions, CreatePlan, CreateResult, Failure, FirewallRule, NodeInfo, NodeStatus, Provider, RemoveResult,
  SshEndpoint, WaitOptions,
} from '../provider.js'
import type {ProviderHooks} from '../index.js'
import {stateErrorLine} from '../provider.js'
import {DoApi, DoApiError, isAmbiguous, resolveEndpoint, resolveToken} from './api.js'
import {desiredFirewall, DoFirewall, firewallName, firewallRules, sameFirewall} from './firewall.js'
import {AbortedError, isAborted, sleep} from './pacer.js'
import {strangersNote} from '../strangers.js'
import {chooseSize, DoSize, SizeChoice} from './sizes.js'

/** DigitalOcean accepts at most 10 names per create request. */
export const CREATE_BATCH = 10
const CREATE_CONCURRENCY = 8
const DELETE_CONCURRENCY = 8
/** Rounds per batch for failures whose outcome is unknown (each round first looks up what exists). */
const CREATE_ROUNDS = 5
const PER_PAGE = 200
/**
 * DigitalOcean's droplet listings lag behind creates by a few seconds: after a create whose answer was lost, belt
 * lists only this long after the failure, so droplets that request made are seen and not made again.
 */
const LISTING_SETTLE_MS = Number(process.env.BELT_DO_LISTING_SETTLE_MS ?? 5000)
const SIZE_CACHE_MS = 24 * 3600_000
const DEFAULT_POLL_MS = 5000
const TAG_RULE = /^[a-zA-Z0-9_:-]{1,255}$/
/** Droplets per POST /v2/tags/{tag}/resources of `cluster adopt`. */
const ADOPT_CHUNK = 50

interface Droplet {
  id: number
  name: string
  status: string
  created_at?: string
  memory?: number
  size_slug?: string
  size?: {slug?: string; memory?: number}
  region?: {slug?: string} | string
  networks?: {v4?: {ip_address: string; type: string}[]}
  tags?: string[]
}

interface CachedSize {
  slug: string
  memory_mb: number | null
  note: string | null
  at: string
}

const STATUS: Record<string, NodeStatus> = {new: 'new', active: 'active', off: 'off', archive: 'gone'}

export function toNode(d: Droplet): NodeInfo {
  const v4 = d.networks?.v4 ?? []
  const region = typeof d.region === 'string' ? d.region : d.region?.slug
  return {
    name: d.name,
    id: String(d.id),
    status: STATUS[d.status] ?? 'new',
    provider_status: d.status ?? null,
    public_ip: v4.find((n) => n.type === 'public')?.ip_address ?? null,
    private_ip: v4.find((n) => n.type === 'private')?.ip_address ?? null,
    region: region ?? null,
    size: d.size_slug ?? d.size?.slug ?? null,
    memory_mb: d.memory ?? d.size?.memory ?? null,
    tags: d.tags ?? [],
  }
}

/** DigitalOcean's MD5 fingerprint of an OpenSSH public key line ("aa:bb:..."). */
export function md5Fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64')
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':')
}

/** Poll interval of wait(): 5 s; BELT_POLL_INTERVAL_MS shortens it (meant for tests against the fake API). */
export function pollIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.BELT_POLL_INTERVAL_MS)
  return Number.isFinite(v) && v > 0 ? v : DEFAULT_POLL_MS
}

function text(v: unknown): string | undefined {
  if (typeof v === 'number') return String(v)
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

export class DigitalOceanProvider implements Provider {
  readonly driver = 'digitalocean' as const
  private doApi: DoApi | null = null
  /** Size mappings looked up by plan(), written to state.json by create(). */
  private sizeCacheUpdate: Record<string, CachedSize> | null = null
  /** The cluster listing run after an ambiguous create, shared by batches that failed before it started. */
  private lookup: {started: number; droplets: Promise<Droplet[]>} | null = null

  constructor(readonly cluster: Cluster<'digitalocean'>, private readonly hooks: ProviderHooks = {}) {}

  /** Droplets of the last listing that carry this cluster's name tag but are not ours (foreign or legacy). */
  private strangers: {foreign: number; legacy: number} | null = null

  get clusterTag(): string {
    return `belt-cluster:${this.cluster.name}`
  }

  /** The id tag, or null while the cluster has no id (then no droplet is ours). */
  get idTag(): string | null {
    return this.cluster.id ? `belt-id:${this.cluster.id}` : null
  }

  /** The firewall and uploaded key name: belt-<cluster>-<id8>. */
  private get resourceName(): string {
    return firewallName(this.cluster.name, this.cluster.id)
  }

  private get settings(): Record<string, unknown> {
    return this.cluster.settings
  }

  /** The API client; the token check happens here, on first use, before anything changes. */
  private get api(): DoApi {
    if (!this.doApi) {
      const token = resolveToken(this.settings)
      const {origin, endpoint, source} = resolveEndpoint(this.settings)
      // A token sent anywhere but the public API is worth a line: api_url may come from a versioned config.yml.
      if (source) this.hooks.onNotice?.(`sending the DigitalOcean token to ${origin} (${source})`)
      this.doApi = new DoApi({token, endpoint, onNotice: this.hooks.onNotice})
    }
    return this.doApi
  }

  validateName(name: string, pattern: string): void {
    validateHostname(name, pattern)
  }

  // ---- create ------------------------------------------------------------------------------------------------

  async plan(opts: CreateOptions): Promise<CreatePlan> {
    const region = text(opts.region) ?? text(this.settings.region) ?? null
    const image = text(opts.image) ?? text(this.settings.image) ?? null
    if (!region) throw new UsageError('no region: pass --region or set one with: belt cluster update region=nyc1')
    if (!image) throw new UsageError('no image: pass --image or set one with: belt cluster update image=docker-20-04')
    const tags = this.dropletTags(opts.tags)
    const firewall = this.firewallSetting()
    const api = this.api
    const signal = opts.signal
    const [size, droplets, account, count] = await Promise.all([
      this.resolveSize(opts.size, region, signal),
      this.listDroplets(signal),
      api.call('get account', (c) => c.account.getAccount(), signal),
      api.call('count droplets', (c) => c.droplet.listDroplets({page: 1, per_page: 1}), signal),
    ])
    const wanted = new Set(opts.names)
    const existing = new Map<string, NodeInfo>()
    for (const d of droplets) if (wanted.has(d.name) && !existing.has(d.name)) existing.set(d.name, toNode(d))
    for (const d of await this.recordedButUnlisted([...wanted].filter((n) => !existing.has(n)), signal)) existing.set(d.name, toNode(d))
    const notes: string[] = []
    if (!firewall) notes.push(`no cloud firewall is managed for cluster '${this.cluster.name}' (set admin_cidr to have belt create ${this.resourceName})`)
    else notes.push(`cloud firewall ${this.resourceName}: SSH and Docker TLS from ${firewall}, swarm ports between the cluster's droplets`)
    if (!this.settings.ssh_key_fingerprint && !this.recordedKey()) {
      notes.push(`no ssh_key_fingerprint: the cluster key (.belt/${this.cluster.name}/ssh/id_ed25519.pub) goes to the account once`)
    }
    const strangers = this.foreignNote()
    if (strangers) notes.push(strangers)
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
      notes,
    }
  }

  async create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult> {
    const signal = opts.signal
    const progress = opts.onProgress ?? (() => {})
    const created: NodeInfo[] = []
    const failed: Failure[] = []
    // Writes after the API acted never turn a made droplet into a failure: they are reported on their own.
    const unrecorded: string[] = []
    const stateErrors: Error[] = []
    const result = (): CreateResult => ({
      created, existing: plan.existing, failed, interrupted: Boolean(signal?.aborted), stateError: stateErrorLine('record', unrecorded, stateErrors),
    })
    ensureClusterDir(this.cluster)
    this.saveSizeCache()
    // Droplets found existing are recorded too (a create killed before its replies arrived left them unrecorded).
    const known = this.cluster.state.read().nodes
    const unknown = plan.existing.filter((n) => n.id !== null && known[n.name]?.id !== n.id)
    if (unknown.length > 0) {
      const err = this.cluster.state.tryUpdate((s) => {
        for (const n of unknown) s.nodes[n.name] = {...s.nodes[n.name], id: n.id, created_at: s.nodes[n.name]?.created_at ?? new Date().toISOString()}
      })
      if (err) {
        stateErrors.push(err)
        unrecorded.push(...unknown.map((n) => n.name))
      }
    }
    let sshKeys: (string | number)[]
    try {
      if (this.firewallSetting()) await this.ensureFirewall(signal, progress)
      if (plan.toCreate.length === 0) return result()
      sshKeys = await this.sshKeys(signal, progress)
    } catch (err) {
      if (isAborted(err)) return result()
      throw err
    }
    const image = plan.image && /^\d+$/.test(plan.image) ? Number(plan.image) : plan.image
    const body = {
      region: plan.region ?? undefined,
      size: plan.size,
      image: image ?? undefined,
      ssh_keys: sshKeys,
      // Recomputed: the plan may have been made before the cluster had its id.
      tags: this.dropletTags(opts.tags),
      user_data: text(this.settings.user_data),
      vpc_uuid: text(this.settings.vpc_uuid),
    }
    const batches = chunk(plan.toCreate, CREATE_BATCH)
    const total = plan.toCreate.length
    progress(`creating ${total} droplet(s) of size ${plan.size} in ${plan.region}: ${batches.length} request(s) of up to ${CREATE_BATCH} names`)
    let lastReport = 0
    let reported = 0
    const recordedIds = new Set<number>()
    const record = (droplets: Droplet[]) => {
      const fresh = droplets.filter((d) => !recordedIds.has(d.id))
      if (fresh.length === 0) return
      for (const d of fresh) recordedIds.add(d.id)
      const err = this.cluster.state.tryUpdate((s) => {
        for (const d of fresh) s.nodes[d.name] = {id: String(d.id), created_at: d.created_at ?? new Date().toISOString()}
      })
      if (err) {
        stateErrors.push(err)
        unrecorded.push(...fresh.map((d) => d.name))
      }
      created.push(...fresh.map(toNode))
      if (created.length >= total || Date.now() - lastReport > 1000) {
        lastReport = Date.now()
        reported = created.length
        progress(`created ${created.length}/${total}`)
      }
    }
    // After a definite refusal (4xx) the other batches would be refused the same way: stop starting them.
    let refusal: string | null = null
    const limit = pLimit(CREATE_CONCURRENCY)
    await Promise.all(batches.map((names) => limit(async () => {
      if (signal?.aborted) return
      if (refusal) {
        failed.push(...names.map((name) => ({name, error: `not attempted after an earlier refusal: ${refusal}`})))
        return
      }
      const error = await this.createBatch(names, body, record, signal)
      if (error) {
        if (error.definite && !refusal) refusal = error.message
        failed.push(...error.names.map((name) => ({name, error: error.message})))
      }
    })))
    if (reported !== created.length) progress(`created ${created.length}/${total}`)
    return result()
  }

  /**
   * One batch: POST the names; when the answer does not say what happened, list the cluster, record what exists
   * and post only the names still missing. Returns the names that failed (or null); names never sent because the
   * operation was aborted are neither created nor failed.
   */
  private async createBatch(
    names: string[], body: Record<string, unknown>, record: (d: Droplet[]) => void, signal?: AbortSignal,
  ): Promise<{names: string[]; message: string; definite: boolean} | null> {
    let pending = names
    let lastError = ''
    for (let round = 1; round <= CREATE_ROUNDS && pending.length > 0; round++) {
      if (signal?.aborted) return null
      try {
        const data = await this.api.call(`create ${pending.join(',')}`, (c) => c.droplet.createDroplets({...body, names: pending} as never), signal)
        record(((data as {droplets?: Droplet[]}).droplets ?? []))
        return null
      } catch (err) {
        if (isAborted(err)) return null
        if (!isAmbiguous(err)) {
          return {names: pending, message: (err as Error).message, definite: err instanceof DoApiError && err.status !== null}
        }
        lastError = (err as Error).message
        // The droplets may exist: look (even when interrupted — this is finishing in-flight work) before posting again,
        // once the listings have caught up with that request.
        let found: Droplet[]
        try {
          const settled = Date.now() + LISTING_SETTLE_MS
          await sleep(LISTING_SETTLE_MS)
          found = (await this.clusterLookup(settled)).filter((d) => pending.includes(d.name))
        } catch (lookupErr) {
          return {names: pending, message: `${lastError}; could not check which were created (${(lookupErr as Error).message}); see belt ls`, definite: false}
        }
        record(found)
        const made = new Set(found.map((d) => d.name))
        pending = pending.filter((n) => !made.has(n))
        if (pending.length === 0) return null
        try {
          await sleep(this.api.pacer.backoff(round), signal)
        } catch {
          return null
        }
      }
    }
    return pending.length ? {names: pending, message: lastError, definite: false} : null
  }

  /**
   * Droplets state.json records for these names that the listing did not show: a listing made just after a create
   * may not show it yet, so each is looked up by id (404: it is gone).
   */
  private async recordedButUnlisted(names: string[], signal?: AbortSignal): Promise<Droplet[]> {
    const nodes = this.cluster.state.read().nodes
    const ids = names.map((n) => Number(nodes[n]?.id)).filter((id) => Number.isInteger(id) && id > 0)
    const found = await Promise.all(ids.map(async (id) => {
      try {
        const data = await this.api.call(`get droplet ${id}`, (c) => c.droplet.getDroplet({droplet_id: id}), signal)
        const d = (data as {droplet?: Droplet}).droplet
        return d && (d.tags ?? []).includes(this.clusterTag) && names.includes(d.name) ? d : null
      } catch (err) {
        if (err instanceof DoApiError && err.status === 404) return null
        throw err
      }
    }))
    return found.filter((d): d is Droplet => d !== null)
  }

  /** A cluster listing that started at or after `since` (shared by batches that failed at about the same time). */
  private clusterLookup(since: number): Promise<Droplet[]> {
    if (!this.lookup || this.lookup.started < since) {
      const droplets = this.listDroplets(undefined)
      droplets.catch(() => {})
      this.lookup = {started: Date.now(), droplets}
    }
    return this.lookup.droplets
  }

  private dropletTags(extra: string[]): string[] {
    const configured = Array.isArray(this.settings.tags) ? (this.settings.tags as unknown[]).map(String) : []
    const own = this.idTag ? [this.clusterTag, this.idTag] : [this.clusterTag]
    const tags = [...new Set([...own, ...configured, ...extra])]
    for (const t of tags) {
      if (!TAG_RULE.test(t)) throw new UsageError(`invalid tag '${t}': DigitalOcean tags use letters, digits, '_', '-' and ':' (at most 255 characters)`)
    }
    return tags
  }

  private async resolveSize(size: string, region: string, signal?: AbortSignal): Promise<SizeChoice> {
    const key = `${size}@${region}`
    const cache = {...((this.cluster.state.read().provider.do_sizes ?? {}) as Record<string, CachedSize>)}
    const hit = cache[key]
    if (hit && Date.now() - Date.parse(hit.at) < SIZE_CACHE_MS) return hit
    const sizes = await this.api.listAll<DoSize>('list sizes', 'sizes', (c, page) => c.size.listSizes({page, per_page: PER_PAGE}), signal)
    const choice = chooseSize(size, sizes, region)
    for (const [k, v] of Object.entries(cache)) if (Date.now() - Date.parse(v.at) >= SIZE_CACHE_MS) delete cache[k]
    cache[key] = {slug: choice.slug, memory_mb: choice.memory_mb, note: choice.note, at: new Date().toISOString()}
    this.sizeCacheUpdate = cache
    return choice
  }

  private saveSizeCache(): void {
    const cache = this.sizeCacheUpdate
    if (!cache) return
    this.cluster.state.update((s) => {
      s.provider.do_sizes = cache
    })
    this.sizeCacheUpdate = null
  }

  private recordedKey(): {id: number; fingerprint: string} | null {
    const k = this.cluster.state.read().provider.do_ssh_key as {id: number; fingerprint: string} | undefined
    return k && typeof k.id === 'number' ? k : null
  }

  /** Key ids/fingerprints for new droplets: the template's, or the cluster key (uploaded once, reused after). */
  private async sshKeys(signal: AbortSignal | undefined, progress: (m: string) => void): Promise<(string | number)[]> {
    const fp = this.settings.ssh_key_fingerprint
    if (typeof fp === 'string' && fp.trim()) return [fp.trim()]
    if (Array.isArray(fp) && fp.length) return fp.map(String)
    const key = ensureClusterKey(this.cluster)
    const fingerprint = md5Fingerprint(key.publicKey)
    const blob = key.publicKey.split(/\s+/)[1]
    const keys = await this.api.listAll<{id: number; fingerprint: string; public_key: string}>(
      'list ssh keys', 'ssh_keys', (c, page) => c.sshKey.listSshKeys({page, per_page: PER_PAGE}), signal)
    let found = keys.find((k) => k.fingerprint === fingerprint || k.public_key?.split(/\s+/)[1] === blob)
    if (!found) {
      const data = await this.api.call('upload ssh key', (c) => c.sshKey.createSshKey({name: this.resourceName, public_key: key.publicKey}), signal)
      found = (data as {ssh_key: {id: number; fingerprint: string; public_key: string}}).ssh_key
      progress(`uploaded the cluster key ${key.publicPath} to the account (ssh key id ${found.id}, ${fingerprint})`)
    }
    const id = found.id
    const rec = this.recordedKey()
    if (!rec || rec.id !== id || rec.fingerprint !== fingerprint) {
      this.cluster.state.update((s) => {
        s.provider.do_ssh_key = {id, fingerprint}
      })
    }
    return [id]
  }

  // ---- firewall ----------------------------------------------------------------------------------------------

  /** admin_cidr when belt manages the firewall (null otherwise); refuses encrypted_overlay with a managed firewall. */
  private firewallSetting(): string | null {
    const cidr = text(this.settings.admin_cidr) ?? null
    if (cidr && this.settings.encrypted_overlay === true) {
      throw new UsageError('encrypted_overlay: true needs ESP (IP protocol 50) between nodes, which DigitalOcean cloud firewalls cannot allow; remove admin_cidr (no managed firewall) or set encrypted_overlay=false')
    }
    return cidr
  }

  private async ensureFirewall(signal: AbortSignal | undefined, progress: (m: string) => void): Promise<void> {
    const cidr = this.firewallSetting()!
    const name = this.resourceName
    const tag = this.idTag!
    // A firewall can only name existing tags; the droplets' tag may not exist yet.
    await this.api.call(`create tag ${tag}`, (c) => c.tag.createTag({name: tag}), signal)
    const existing = await this.findFirewall(signal)
    const want = desiredFirewall(name, tag, cidr, existing)
    if (!existing) {
      const data = await this.api.call(`create firewall ${name}`, (c) => c.firewall.createFirewall(want as never), signal)
      const id = (data as {firewall?: {id?: string}}).firewall?.id
      this.cluster.state.update((s) => {
        s.provider.do_firewall_id = id ?? null
      })
      progress(`created cloud firewall ${name} (SSH and Docker TLS from ${cidr}; swarm ports between droplets tagged ${tag})`)
    } else if (!sameFirewall(existing, want)) {
      await this.api.call(`update firewall ${name}`, (c) => c.firewall.updateFirewall({id: existing.id, ...want} as never), signal)
      progress(`updated cloud firewall ${name} (SSH and Docker TLS from ${cidr})`)
    }
  }

  private async findFirewall(signal?: AbortSignal): Promise<DoFirewall | null> {
    const name = this.resourceName
    const all = await this.api.listAll<DoFirewall>('list firewalls', 'firewalls', (c, page) => c.firewall.listFirewalls({page, per_page: PER_PAGE}), signal)
    return all.find((f) => f.name === name) ?? null
  }

  async firewall(): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
    const cidr = this.firewallSetting()
    if (!cidr) return null
    // Without an id nothing of this cluster exists yet; the rules shown name the id tag `belt create` will make.
    const existing = this.cluster.id ? await this.findFirewall() : null
    const shown = existing ?? desiredFirewall(this.resourceName, this.idTag ?? 'belt-id:<cluster_id>', cidr, null)
    return {name: shown.name, id: existing?.id ?? null, rules: firewallRules(shown)}
  }

  // ---- list, wait, endpoints ---------------------------------------------------------------------------------

  /**
   * This cluster's droplets, every page (per_page 200), de-duplicated (pages shift while droplets come and go).
   * Asks for the name tag and keeps those with the id tag; the others are counted (foreignNote) and dropped.
   */
  private async listDroplets(signal?: AbortSignal): Promise<Droplet[]> {
    const {ours, foreign, legacy} = await this.listByName(signal)
    this.strangers = {foreign: foreign.length, legacy: legacy.length}
    return ours
  }

  /** Every droplet with this cluster's name tag, split by its id tag. */
  private async listByName(signal?: AbortSignal): Promise<{ours: Droplet[]; foreign: Droplet[]; legacy: Droplet[]}> {
    const all = await this.api.listAll<Droplet>('list droplets', 'droplets',
      (c, page) => c.droplet.listDroplets({page, per_page: PER_PAGE, tag_name: this.clusterTag}), signal)
    const seen = new Set<number>()
    const out = {ours: [] as Droplet[], foreign: [] as Droplet[], legacy: [] as Droplet[]}
    for (const d of all) {
      const tags = d.tags ?? []
      if (seen.has(d.id) || !tags.includes(this.clusterTag)) continue
      seen.add(d.id)
      if (this.idTag && tags.includes(this.idTag)) out.ours.push(d)
      else if (tags.some((t) => t.startsWith('belt-id:'))) out.foreign.push(d)
      else out.legacy.push(d)
    }
    return out
  }

  foreignNote(): string | null {
    return strangersNote(this.strangers, `droplet(s) tagged ${this.clusterTag}`, 'belt-id')
  }

  async list(opts: {signal?: AbortSignal} = {}): Promise<NodeInfo[]> {
    return (await this.listDroplets(opts.signal)).map(toNode)
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    return waitForNodes((signal) => this.list({signal}), opts, {intervalMs: pollIntervalMs()})
  }

  async endpoints(names: string[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const byName = new Map<string, NodeInfo>()
    for (const n of await this.list()) if (!byName.has(n.name)) byName.set(n.name, n)
    const user = text(this.settings.ssh_user) ?? 'root'
    const port = Number(this.settings.ssh_port ?? 22)
    const found: SshEndpoint[] = []
    const missing: string[] = []
    for (const name of names) {
      const n = byName.get(name)
      if (!n) missing.push(name)
      else found.push({name, host: n.public_ip ?? n.private_ip ?? '', port, user, private_ip: n.private_ip, public_ip: n.public_ip, status: n.status})
    }
    return {found, missing}
  }

  // ---- adopt -------------------------------------------------------------------------------------------------

  /** Tag the droplets state.json lists (by droplet id) with the id tag; never one that carries another belt-id. */
  async adopt(): Promise<AdoptResult> {
    const tag = this.idTag
    if (!tag) throw new Error('bug: adopt before the cluster has its id')
    const result: AdoptResult = {tagged: [], already: [], missing: [], failed: []}
    const {ours, foreign, legacy} = await this.listByName()
    const byId = new Map<string, {d: Droplet; kind: 'ours' | 'foreign' | 'legacy'}>()
    for (const d of ours) byId.set(String(d.id), {d, kind: 'ours'})
    for (const d of foreign) byId.set(String(d.id), {d, kind: 'foreign'})
    for (const d of legacy) byId.set(String(d.id), {d, kind: 'legacy'})
    const toTag: {name: string; id: number}[] = []
    for (const [name, rec] of Object.entries(this.cluster.state.read().nodes)) {
      const hit = rec?.id ? byId.get(String(rec.id)) : undefined
      if (!hit) result.missing.push(name)
      else if (hit.kind === 'ours') result.already.push(name)
      else if (hit.kind === 'foreign') {
        const other = (hit.d.tags ?? []).find((t) => t.startsWith('belt-id:'))
        result.failed.push({name, error: `droplet ${hit.d.id} carries another cluster's id (${other}); not retagged`})
      } else toTag.push({name, id: hit.d.id})
    }
    if (toTag.length === 0) return result
    await this.api.call(`create tag ${tag}`, (c) => c.tag.createTag({name: tag}))
    for (const part of chunk(toTag, ADOPT_CHUNK)) {
      try {
        await this.api.call(`tag ${part.length} droplet(s) ${tag}`, (c) => c.tag.tagResources({
          tag_name: tag, resources: part.map((x) => ({resource_id: String(x.id), resource_type: 'droplet'})),
        } as never))
        result.tagged.push(...part.map((x) => x.name))
      } catch (err) {
        result.failed.push(...part.map((x) => ({name: x.name, error: (err as Error).message})))
      }
    }
    return result
  }

  // ---- remove ------------------------------------------------------------------------------------------------

  async remove(target: {names: string[]} | {all: true}, opts: {signal?: AbortSignal; onProgress?: (m: string) => void} = {}): Promise<RemoveResult> {
    const signal = opts.signal
    const progress = opts.onProgress ?? (() => {})
    const removed: string[] = []
    const failed: Failure[] = []
    let droplets: Droplet[]
    try {
      droplets = await this.listDroplets(signal)
    } catch (err) {
      if (isAborted(err)) return {removed, failed, interrupted: true}
      throw err
    }
    // A failed write after a delete never turns a removed droplet into a failure: it is reported on its own.
    const unforgotten: string[] = []
    const stateErrors: Error[] = []
    const forget = (names: string[], all = false) => {
      try {
        const state = this.cluster.state.read()
        const known = all ? Object.keys(state.nodes) : names.filter((n) => n in state.nodes)
        const clearActive = state.active_node !== null && (all || names.includes(state.active_node))
        if (known.length === 0 && !clearActive) return
        ensureClusterDir(this.cluster)
        this.cluster.state.update((s) => {
          for (const n of known) delete s.nodes[n]
          if (clearActive) s.active_node = null
        })
      } catch (err) {
        stateErrors.push(err as Error)
        unforgotten.push(...names)
      }
    }
    const stateError = () => stateErrorLine('forget', unforgotten, stateErrors)
    if ('all' in target) {
      const names = [...new Set(droplets.map((d) => d.name))]
      if (droplets.length > 0) {
        // By the id tag, never the name tag: that one is shared with other projects' clusters of the same name.
        const tag = this.idTag!
        progress(`removing ${droplets.length} droplet(s) tagged ${tag}`)
        try {
          await this.api.call(`delete droplets tagged ${tag}`, (c) => c.droplet.deleteDropletsByTag({tag_name: tag}), signal)
        } catch (err) {
          if (isAborted(err)) return {removed, failed, interrupted: true}
          throw err
        }
      }
      removed.push(...names)
      forget(names, true)
      return {removed, failed, interrupted: false, stateError: stateError()}
    }
    const byName = new Map<string, Droplet[]>()
    for (const d of droplets) byName.set(d.name, [...(byName.get(d.name) ?? []), d])
    const present = target.names.filter((n) => byName.has(n))
    for (const n of target.names) if (!byName.has(n)) failed.push({name: n, error: `no droplet named '${n}' in cluster '${this.cluster.name}'`})
    const limit = pLimit(DELETE_CONCURRENCY)
    let interrupted = false
    await Promise.all(present.map((name) => limit(async () => {
      if (signal?.aborted) {
        interrupted = true
        return
      }
      try {
        for (const d of byName.get(name)!) {
          try {
            await this.api.call(`delete ${name} (${d.id})`, (c) => c.droplet.deleteDroplet({droplet_id: d.id}), signal)
          } catch (err) {
            if (!(err instanceof DoApiError && err.status === 404)) throw err
          }
        }
        removed.push(name)
        forget([name])
      } catch (err) {
        if (err instanceof AbortedError) interrupted = true
        else failed.push({name, error: (err as Error).message})
      }
    })))
    if (removed.length) progress(`removed ${removed.length}/${present.length}`)
    return {removed, failed, interrupted, stateError: stateError()}
  }
}
