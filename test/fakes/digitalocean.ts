// A stateful fake of the DigitalOcean API v2, on 127.0.0.1 (random port), speaking the real wire protocol:
// bearer auth (401 otherwise), JSON error bodies {id, message}, paths with or without a trailing slash, pagination
// (page/per_page ≤ 200, links.pages, meta.total), the ratelimit-* headers of the hourly budget and the 250-per-minute
// window (429 with retry-after beyond it). Droplets go new → active after a delay and then show public + private v4.
// Knobs: latency (slow replies), faults (429 / 5xx before or after the request took effect), active delay (one for
// all, or per droplet: staggered boots), addresses handed out by the caller (a lab's real hosts), limits,
// listing lag (eventual consistency: new droplets missing from GET /v2/droplets for a while, deleted ones still in it).
// Strict like the API: request bodies must be JSON sent as application/json (415 / 400), user_data at most 64 KiB.
// a create reply that leaves names out, a hook between a request's effect and its reply.
// Request counters per "METHOD /v2/route" let tests assert how belt used the API. Droplet power actions (by droplet
// and by tag) change the status at once (active / off) and are logged in `actions`.
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http'
import {createHash, randomBytes, randomUUID} from 'node:crypto'
import type {AddressInfo} from 'node:net'

export interface FakeDropletView {
  id: number
  name: string
  memory: number
  vcpus: number
  disk: number
  locked: boolean
  status: string
  kernel: null
  created_at: string
  features: string[]
  backup_ids: number[]
  next_backup_window: null
  snapshot_ids: number[]
  image: Record<string, unknown>
  volume_ids: string[]
  size: Record<string, unknown>
  size_slug: string
  networks: {v4: {ip_address: string; netmask: string; gateway: string; type: string}[]; v6: unknown[]}
  region: Record<string, unknown>
  tags: string[]
  vpc_uuid: string
}

interface FakeDroplet {
  id: number
  name: string
  status: string
  createdAt: number
  size: FakeSize
  region: string
  image: string | number
  tags: string[]
  sshKeys: (string | number)[]
  userData?: string
  publicIp: string
  privateIp: string
  /** How long this droplet stays `new` after its create (ms). */
  bootMs: number
}

export interface FakeSize {
  slug: string
  memory: number
  vcpus: number
  disk: number
  transfer: number
  price_monthly: number
  price_hourly: number
  regions: string[]
  available: boolean
  description: string
}

export interface Fault {
  /** Only requests with this method (GET, POST, ...). */
  method?: string
  /** Only this route ('/v2/droplets', '/v2/droplets/:id', ...). */
  route?: string
  status: number
  /** How many matching requests get this fault. */
  times: number
  /** For 429: the retry-after header in seconds. */
  retryAfter?: number
  /** For 5xx: the request takes effect first, then the error is returned (an ambiguous failure). */
  afterEffect?: boolean
}

export interface FakeOptions {
  token?: string
  /** How long a droplet stays `new` (ms): one delay for all, or per droplet (staggered boots; drawn at its create). */
  activeAfterMs?: number | ((name: string) => number)
  /**
   * The addresses a new droplet gets (e.g. hosts of an SSH lab, so belt dials only addresses that answer); default
   * 198.18.0.0/15 public and 10.120.0.0/16 private, which nothing listens on. Throwing refuses the create (422).
   */
  assignAddress?: (name: string) => {public: string; private: string}
  /** Delay before every reply (ms), or per request. */
  latencyMs?: number | ((method: string, route: string) => number)
  /** Requests allowed in the short window (DigitalOcean: 250 per 60 s). */
  perMinute?: number
  /** Length of the short window in ms (60 s; tests of the pacer may shorten it). */
  windowMs?: number
  perHour?: number
  dropletLimit?: number
  /** Eventual consistency of droplet listings; off when absent. */
  listingLag?: ListingLag
  /** Accept connections and read requests but never answer (a black hole in front of the API). */
  blackHole?: boolean
  /** Droplets with these names are made but left out of the create reply (an API reply that does not name them). */
  omitFromCreateReply?: (name: string) => boolean
  /** Told of every droplet a create makes (the boot-join bench boots it). */
  onDropletCreated?: (d: {id: number; name: string; userData?: string; createdAt: number; privateIp: string}) => void
  /** Called after a request took effect, before its reply is sent (e.g. to break the caller's state.json there). */
  afterEffect?: (method: string, route: string) => void
}

/**
 * DigitalOcean's listings lag behind creates and deletes: a new droplet is missing from GET /v2/droplets (GET by id
 * finds it) and a deleted one is still listed (GET by id: 404) for a while. Each droplet's lag is drawn uniformly
 * from [0, newMs] / [0, deletedMs] by a PRNG seeded per test, so a failure replays.
 */
export interface ListingLag {
  seed: number
  newMs: number
  deletedMs: number
}

/** The user_data limit of POST /v2/droplets. */
export const USER_DATA_MAX_BYTES = 64 * 1024

/** mulberry32: a small seeded PRNG in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface RequestRecord {
  method: string
  route: string
  path: string
  query: Record<string, string>
  status: number
  at: number
}

export const REGIONS = ['nyc1', 'nyc3', 'sfo3', 'ams3', 'sgp1', 'lon1', 'fra1', 'tor1', 'blr1', 'syd1']
const ALL = REGIONS
const IMAGES = ['docker-20-04', 'ubuntu-22-04-x64', 'ubuntu-24-04-x64', 'debian-12-x64']
const NAME_RULE = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/
const TAG_RULE = /^[a-zA-Z0-9_:-]{1,255}$/
const FIREWALL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,254}$/

function size(slug: string, memory: number, vcpus: number, disk: number, price: number, regions = ALL, available = true): FakeSize {
  return {slug, memory, vcpus, disk, transfer: 1, price_monthly: price, price_hourly: Math.round((price / 672) * 100000) / 100000, regions, available, description: 'Basic'}
}

/** A slice of the real catalogue (2024 prices), plus an unavailable and a region-limited size. */
export const SIZES: FakeSize[] = [
  size('s-1vcpu-512mb-10gb', 512, 1, 10, 4),
  size('s-1vcpu-1gb', 1024, 1, 25, 6),
  size('s-1vcpu-1gb-amd', 1024, 1, 25, 7),
  size('s-1vcpu-1gb-intel', 1024, 1, 25, 7),
  size('s-1vcpu-2gb', 2048, 1, 50, 12),
  size('s-2vcpu-2gb', 2048, 2, 60, 18),
  size('s-2vcpu-4gb', 4096, 2, 80, 24),
  size('c-2', 4096, 2, 25, 42),
  size('s-4vcpu-8gb', 8192, 4, 160, 48),
  size('g-2vcpu-8gb', 8192, 2, 25, 63),
  size('s-8vcpu-16gb', 16384, 8, 320, 96),
  size('m-2vcpu-16gb', 16384, 2, 50, 84, ['nyc1', 'nyc3', 'sfo3']),
  size('s-1vcpu-3gb', 3072, 1, 60, 15, ALL, false),
]

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

function md5Fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64')
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':')
}

class HttpError extends Error {
  constructor(readonly status: number, readonly id: string, message: string) {
    super(message)
  }
}

const unprocessable = (message: string) => new HttpError(422, 'unprocessable_entity', message)
const notFound = () => new HttpError(404, 'not_found', 'The resource you were accessing could not be found.')

export class FakeDigitalOcean {
  readonly token: string
  activeAfterMs: number | ((name: string) => number)
  assignAddress: ((name: string) => {public: string; private: string}) | null
  latencyMs: number | ((method: string, route: string) => number)
  perMinute: number
  windowMs: number
  perHour: number
  dropletLimit: number
  blackHole: boolean
  omitFromCreateReply: ((name: string) => boolean) | null
  afterEffect: ((method: string, route: string) => void) | null
  faults: Fault[] = []
  sizes: FakeSize[] = SIZES.map((s) => ({...s}))
  /** Every request received, in order. */
  readonly log: RequestRecord[] = []
  readonly counts = new Map<string, number>()
  private readonly onDropletCreated: FakeOptions['onDropletCreated'] | null
  readonly droplets = new Map<number, FakeDroplet>()
  readonly keys = new Map<number, {id: number; fingerprint: string; public_key: string; name: string}>()
  readonly tags = new Set<string>()
  readonly firewalls = new Map<string, Record<string, unknown>>()
  /** Requests refused with 429 because the per-minute window was full. */
  windowRefusals = 0
  private server: Server | null = null
  private origin = ''
  private nextId = 300_000_001
  private nextKeyId = 41_000_001
  private nextActionId = 2_000_000_001
  /** Power actions applied, in order: the droplet, the action type, and the tag when sent tag-wide. */
  readonly actions: {droplet_id: number; name: string; type: string; tag: string | null}[] = []
  private nextAddr = 0
  private minute: number[] = []
  private hour: number[] = []
  readonly listingLag: ListingLag | null
  private lagRandom: () => number
  /** Droplet id → when listings start showing it (only with listingLag). */
  private listedFrom = new Map<number, number>()
  /** Deleted droplets still listed, until the time given (only with listingLag). */
  private tombstones = new Map<number, {droplet: FakeDroplet; until: number}>()

  constructor(opts: FakeOptions = {}) {
    this.token = opts.token ?? `fake-${randomBytes(16).toString('hex')}`
    this.activeAfterMs = opts.activeAfterMs ?? 1000
    this.assignAddress = opts.assignAddress ?? null
    this.latencyMs = opts.latencyMs ?? 0
    this.perMinute = opts.perMinute ?? 250
    this.windowMs = opts.windowMs ?? 60_000
    this.perHour = opts.perHour ?? 5000
    this.dropletLimit = opts.dropletLimit ?? 10_000
    this.listingLag = opts.listingLag ?? null
    this.lagRandom = seededRandom(opts.listingLag?.seed ?? 0)
    this.blackHole = opts.blackHole ?? false
    this.omitFromCreateReply = opts.omitFromCreateReply ?? null
    this.afterEffect = opts.afterEffect ?? null
    this.onDropletCreated = opts.onDropletCreated ?? null
  }

  /** Start listening on 127.0.0.1; resolves with the API origin (no /v2), as DIGITALOCEAN_API_URL takes it. */
  async start(): Promise<string> {
    const server = createServer((req, res) => {
      if (this.blackHole) {
        this.log.push({method: req.method ?? 'GET', route: 'black hole', path: req.url ?? '/', query: {}, status: 0, at: Date.now()})
        return void req.resume()
      }
      this.handle(req, res).catch((err) => {
        if (!res.headersSent) this.reply(res, 500, {id: 'server_error', message: String(err)})
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    this.server = server
    this.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    return this.origin
  }

  async stop(): Promise<void> {
    const s = this.server
    if (!s) return
    this.server = null
    s.closeAllConnections()
    await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  get url(): string {
    return this.origin
  }

  /** Requests received for "METHOD /v2/route" (route with :id placeholders). */
  count(method: string, route: string): number {
    return this.counts.get(`${method} ${route}`) ?? 0
  }

  /** Droplets as the API shows them now (status advanced by time). */
  list(tag?: string): FakeDropletView[] {
    return [...this.droplets.values()].filter((d) => !tag || d.tags.includes(tag)).sort((a, b) => a.id - b.id).map((d) => this.view(d))
  }

  /** Seed a droplet directly (e.g. one of another cluster, to prove belt stays inside its tag). */
  seedDroplet(name: string, tags: string[], status = 'active'): FakeDropletView {
    const d = this.makeDroplet(name, this.sizes[1], 'nyc1', 'docker-20-04', tags, [])
    d.status = status
    for (const t of tags) this.tags.add(t)
    return this.view(d)
  }

  /** Give a droplet a public address of the test's own (a lab sshd it may really log in to). */
  setPublicIp(name: string, ip: string): void {
    for (const d of this.droplets.values()) if (d.name === name) d.publicIp = ip
  }

  /** The user_data each droplet was created with. */
  userDataOf(name: string): string | undefined {
    for (const d of this.droplets.values()) if (d.name === name) return d.userData
    return undefined
  }

  setStatus(name: string, status: string): void {
    for (const d of this.droplets.values()) if (d.name === name) d.status = status
  }

  /** Put a public key on the account directly (no request logged); returns its fingerprint for ssh_key_fingerprint. */
  seedKey(publicKey: string, name = 'seeded'): string {
    const fingerprint = md5Fingerprint(publicKey)
    const key = {id: this.nextKeyId++, fingerprint, public_key: publicKey.trim(), name}
    this.keys.set(key.id, key)
    return fingerprint
  }

  /** When each live droplet became (or will become) active: name → epoch ms. The fake knows; belt has to poll. */
  activeTimes(): Map<string, number> {
    const m = new Map<string, number>()
    for (const d of this.droplets.values()) m.set(d.name, d.createdAt + d.bootMs)
    return m
  }

  /** The most requests (refused ones included) that arrived within any one window (60 s) since `from` (epoch ms). */
  peakPerWindow(from = 0): number {
    const at = this.log.filter((r) => r.at >= from).map((r) => r.at)
    let peak = 0
    for (let i = 0, j = 0; i < at.length; i++) {
      while (at[i] - at[j] >= this.windowMs) j++
      peak = Math.max(peak, i - j + 1)
    }
    return peak
  }

  // ---- HTTP plumbing -----------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
    const method = (req.method ?? 'GET').toUpperCase()
    const route = routeOf(path)
    const query = Object.fromEntries(url.searchParams)
    this.counts.set(`${method} ${route}`, (this.counts.get(`${method} ${route}`) ?? 0) + 1)
    const record: RequestRecord = {method, route, path, query, status: 0, at: Date.now()}
    this.log.push(record)
    const text = await readBody(req)
    const send = async (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      const ms = typeof this.latencyMs === 'function' ? this.latencyMs(method, route) : this.latencyMs
      if (ms > 0) await sleep(ms)
      record.status = status
      this.reply(res, status, payload, headers)
    }

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      return send(401, {id: 'unauthorized', message: 'Unable to authenticate you'})
    }
    const now = Date.now()
    this.prune(now)
    if (this.minute.length >= this.perMinute || this.hour.length >= this.perHour) {
      if (this.minute.length >= this.perMinute) this.windowRefusals++
      const until = this.minute.length >= this.perMinute ? this.minute[this.minute.length - this.perMinute] + this.windowMs : this.hour[0] + 3_600_000
      return send(429, {id: 'too_many_requests', message: 'API Rate limit exceeded.'}, {'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000)))})
    }
    this.minute.push(now)
    this.hour.push(now)

    const parsed = parseJsonBody(req.headers['content-type'], text)
    if (parsed instanceof HttpError) return send(parsed.status, {id: parsed.id, message: parsed.message})
    const body = parsed

    const fault = this.faults.find((f) => f.times > 0 && (!f.method || f.method === method) && (!f.route || f.route === route))
    if (fault) fault.times--
    if (fault && fault.status === 429) {
      return send(429, {id: 'too_many_requests', message: 'API Rate limit exceeded.'}, {'retry-after': String(fault.retryAfter ?? 1)})
    }
    if (fault && !fault.afterEffect) return send(fault.status, {id: 'server_error', message: 'Server Error'})

    let status: number
    let payload: unknown
    try {
      ;[status, payload] = this.route(method, route, path, query, body)
    } catch (err) {
      if (!(err instanceof HttpError)) throw err
      status = err.status
      payload = {id: err.id, message: err.message}
    }
    this.afterEffect?.(method, route)
    if (fault) return send(fault.status, {id: 'server_error', message: 'Server Error'})
    return send(status, payload)
  }

  private reply(res: ServerResponse, status: number, payload: unknown, extra: Record<string, string> = {}): void {
    const now = Date.now()
    this.prune(now)
    const headers: Record<string, string> = {
      'ratelimit-limit': String(this.perHour),
      'ratelimit-remaining': String(Math.max(0, this.perHour - this.hour.length)),
      'ratelimit-reset': String(Math.ceil(((this.hour[0] ?? now) + 3_600_000) / 1000)),
      ...extra,
    }
    if (payload === undefined || status === 204) {
      res.writeHead(status, headers).end()
      return
    }
    const text = JSON.stringify(payload)
    res.writeHead(status, {...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text))}).end(text)
  }

  private prune(now: number): void {
    while (this.minute.length && this.minute[0] <= now - this.windowMs) this.minute.shift()
    while (this.hour.length && this.hour[0] <= now - 3_600_000) this.hour.shift()
  }

  // ---- the API -----------------------------------------------------------------------------------------------

  private route(method: string, route: string, path: string, q: Record<string, string>, body: unknown): [number, unknown] {
    const id = path.split('/')[3]
    const b = (body ?? {}) as Record<string, unknown>
    switch (`${method} ${route}`) {
      case 'GET /v2/account':
        return [200, {account: {droplet_limit: this.dropletLimit, floating_ip_limit: 3, volume_limit: 100, email: 'ops@example.com', uuid: 'b6fr89dbf6d9156cace5f3c78dc9851d957381ef', email_verified: true, status: 'active', status_message: '', team: {uuid: '5df3e3004a17e242b7c20ca6c9fc25b701a47ece', name: 'My Team'}}}]
      case 'GET /v2/sizes':
        return [200, this.page(q, 'sizes', this.sizes, '/v2/sizes')]
      case 'GET /v2/droplets': {
        let ds = this.listedDroplets().sort((a, b2) => a.id - b2.id)
        if (q.tag_name) ds = ds.filter((d) => d.tags.includes(q.tag_name))
        if (q.name) ds = ds.filter((d) => d.name === q.name)
        return [200, this.page(q, 'droplets', ds, '/v2/droplets', (d) => this.view(d))]
      }
      case 'POST /v2/droplets':
        return this.createDroplets(b)
      case 'DELETE /v2/droplets': {
        if (!q.tag_name) throw unprocessable('tag_name is required to delete droplets in bulk')
        for (const [k, d] of this.droplets) if (d.tags.includes(q.tag_name)) this.deleteDroplet(k)
        return [204, undefined]
      }
      case 'GET /v2/droplets/:id': {
        const d = this.droplets.get(Number(id))
        if (!d) throw notFound()
        return [200, {droplet: this.view(d)}]
      }
      case 'DELETE /v2/droplets/:id': {
        if (!this.deleteDroplet(Number(id))) throw notFound()
        return [204, undefined]
      }
      case 'POST /v2/droplets/:id/actions': {
        const d = this.droplets.get(Number(id))
        if (!d) throw notFound()
        return [201, {action: this.powerAction(d, String(b.type ?? ''), null)}]
      }
      case 'POST /v2/droplets/actions': {
        const tag = q.tag_name
        if (!tag) throw unprocessable('tag_name is required')
        const type = String(b.type ?? '')
        if (!TAG_ACTIONS.includes(type)) throw unprocessable(`action type '${type}' is not supported for tags`)
        const ds = [...this.droplets.values()].filter((d) => d.tags.includes(tag))
        return [201, {actions: ds.map((d) => this.powerAction(d, type, tag))}]
      }
      case 'GET /v2/account/keys':
        return [200, this.page(q, 'ssh_keys', [...this.keys.values()], '/v2/account/keys')]
      case 'POST /v2/account/keys': {
        const pub = String(b.public_key ?? '').trim()
        if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp\d+) [A-Za-z0-9+/=]+( .*)?$/.test(pub)) throw unprocessable('Key invalid type, we support \'ssh-rsa\', \'ssh-ed25519\', \'ecdsa-sha2-nistp256\'')
        if (!b.name) throw unprocessable('Name is too short (minimum is 1 character)')
        const fingerprint = md5Fingerprint(pub)
        if ([...this.keys.values()].some((k) => k.fingerprint === fingerprint)) throw unprocessable('SSH Key is already in use on your account')
        const key = {id: this.nextKeyId++, fingerprint, public_key: pub, name: String(b.name)}
        this.keys.set(key.id, key)
        return [201, {ssh_key: key}]
      }
      case 'GET /v2/account/keys/:id': {
        const key = [...this.keys.values()].find((k) => String(k.id) === id || k.fingerprint === id)
        if (!key) throw notFound()
        return [200, {ssh_key: key}]
      }
      case 'POST /v2/tags': {
        const name = String(b.name ?? '')
        if (!TAG_RULE.test(name)) throw unprocessable(`tag name '${name}' is invalid`)
        this.tags.add(name)
        return [201, {tag: {name, resources: {count: 0, droplets: {count: 0}}}}]
      }
      case 'GET /v2/tags/:id': {
        const name = decodeURIComponent(id)
        if (!this.tags.has(name)) throw notFound()
        return [200, {tag: {name, resources: {count: 0}}}]
      }
      case 'POST /v2/tags/:id/resources':
        return this.tagResources(decodeURIComponent(id), b)
      case 'GET /v2/firewalls':
        return [200, this.page(q, 'firewalls', [...this.firewalls.values()], '/v2/firewalls')]
      case 'POST /v2/firewalls': {
        const fw = this.checkFirewall(b, null)
        this.firewalls.set(String(fw.id), fw)
        return [202, {firewall: fw}]
      }
      case 'GET /v2/firewalls/:id': {
        const fw = this.firewalls.get(id)
        if (!fw) throw notFound()
        return [200, {firewall: fw}]
      }
      case 'PUT /v2/firewalls/:id': {
        const old = this.firewalls.get(id)
        if (!old) throw notFound()
        const fw = this.checkFirewall(b, old)
        this.firewalls.set(id, fw)
        return [200, {firewall: fw}]
      }
      case 'DELETE /v2/firewalls/:id': {
        if (!this.firewalls.delete(id)) throw notFound()
        return [204, undefined]
      }
    }
    throw notFound()
  }

  /** A droplet action of the power family, applied at once (the real API takes seconds); logged in `actions`. */
  private powerAction(d: FakeDroplet, type: string, tag: string | null): Record<string, unknown> {
    if (!POWER_ACTIONS.includes(type)) throw unprocessable(`unknown action type '${type}'`)
    if (d.status === 'new') throw unprocessable('Droplet is currently being created')
    if (type === 'power_on' && d.status === 'active' && !tag) throw unprocessable('Droplet is already powered on')
    if (type === 'power_off' && d.status === 'off' && !tag) throw unprocessable('Droplet is already powered off')
    if (type === 'reboot' && d.status === 'off') throw unprocessable('Droplet is powered off')
    d.status = type === 'power_off' ? 'off' : 'active'
    this.actions.push({droplet_id: d.id, name: d.name, type, tag})
    const now = new Date().toISOString()
    return {id: this.nextActionId++, status: 'in-progress', type, started_at: now, completed_at: null, resource_id: d.id, resource_type: 'droplet', region_slug: d.region}
  }

  /** POST /v2/tags/{tag}/resources: the tag must exist; droplets only (what belt tags). 204 on success. */
  private tagResources(tag: string, b: Record<string, unknown>): [number, unknown] {
    if (!this.tags.has(tag)) throw notFound()
    const resources = b.resources
    if (!Array.isArray(resources) || resources.length === 0) throw unprocessable('resources must be a non-empty list')
    const droplets = resources.map((r: {resource_id?: unknown; resource_type?: unknown}) => {
      if (r?.resource_type !== 'droplet') throw unprocessable(`resource_type '${String(r?.resource_type)}' is not supported here`)
      const d = this.droplets.get(Number(r.resource_id))
      if (!d) throw notFound()
      return d
    })
    for (const d of droplets) if (!d.tags.includes(tag)) d.tags.push(tag)
    return [204, undefined]
  }

  private page<T>(q: Record<string, string>, key: string, items: T[], path: string, view: (x: T) => unknown = (x) => x): Record<string, unknown> {
    const perPage = q.per_page === undefined ? 20 : Number(q.per_page)
    const page = q.page === undefined ? 1 : Number(q.page)
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 200) throw unprocessable('per_page must be between 1 and 200')
    if (!Number.isInteger(page) || page < 1) throw unprocessable('page must be a positive integer')
    const last = Math.max(1, Math.ceil(items.length / perPage))
    const link = (p: number) => {
      const u = new URL(path, 'https://api.digitalocean.com')
      for (const [k, v] of Object.entries(q)) u.searchParams.set(k, v)
      u.searchParams.set('page', String(p))
      u.searchParams.set('per_page', String(perPage))
      return u.toString()
    }
    const pages: Record<string, string> = {}
    if (page > 1) Object.assign(pages, {first: link(1), prev: link(Math.min(page - 1, last))})
    if (page < last) Object.assign(pages, {next: link(page + 1), last: link(last)})
    return {
      [key]: items.slice((page - 1) * perPage, page * perPage).map(view),
      links: Object.keys(pages).length ? {pages} : {},
      meta: {total: items.length},
    }
  }

  private createDroplets(b: Record<string, unknown>): [number, unknown] {
    const single = b.names === undefined
    const names = single ? [b.name] : b.names
    if (!Array.isArray(names) || names.length === 0) throw unprocessable('You must specify a name or names for the Droplet(s)')
    if (names.length > 10) throw unprocessable('You may only create up to 10 Droplets at once.')
    for (const n of names) {
      if (typeof n !== 'string' || n.length > 255 || !NAME_RULE.test(n)) throw unprocessable(`Name Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -): ${String(n)}`)
    }
    const region = String(b.region ?? '')
    if (!REGIONS.includes(region)) throw unprocessable('You specified an invalid region for Droplet creation.')
    const sz = this.sizes.find((s) => s.slug === b.size)
    if (!sz) throw unprocessable('You specified an invalid size for Droplet creation.')
    if (!sz.available || !sz.regions.includes(region)) throw unprocessable('Size is not available in this region.')
    const image = b.image
    if (!(typeof image === 'number' || (typeof image === 'string' && IMAGES.includes(image)))) throw unprocessable('You specified an invalid image for Droplet creation.')
    if (typeof b.user_data === 'string' && Buffer.byteLength(b.user_data) > USER_DATA_MAX_BYTES) {
      throw unprocessable(`user_data is ${Buffer.byteLength(b.user_data)} bytes; the limit is 64 KiB`)
    }
    const sshKeys = Array.isArray(b.ssh_keys) ? b.ssh_keys : []
    for (const k of sshKeys) {
      if (![...this.keys.values()].some((key) => key.id === k || key.fingerprint === k || String(key.id) === String(k))) throw unprocessable('You specified an invalid SSH key ID or fingerprint for Droplet creation.')
    }
    const tags = Array.isArray(b.tags) ? b.tags.map(String) : []
    for (const t of tags) if (!TAG_RULE.test(t)) throw unprocessable(`tag name '${t}' is invalid`)
    if (this.droplets.size + names.length > this.dropletLimit) {
      throw unprocessable(`creating this/these droplet(s) will exceed your droplet limit`)
    }
    for (const t of tags) this.tags.add(t)
    const addresses = (names as string[]).map((n) => {
      try {
        return this.assignAddress?.(n) ?? null
      } catch (err) {
        throw unprocessable(`no address for ${n}: ${(err as Error).message}`)
      }
    })
    const userData = b.user_data as string | undefined
    const made = (names as string[]).map((n, i) => this.makeDroplet(n, sz, region, image, tags, sshKeys as (string | number)[], userData, addresses[i]))
    const actions = made.map((d) => ({id: d.id + 1_000_000_000, rel: 'create', href: `https://api.digitalocean.com/v2/actions/${d.id + 1_000_000_000}`}))
    if (single) return [202, {droplet: this.view(made[0]), links: {actions}}]
    const omit = this.omitFromCreateReply
    return [202, {droplets: made.filter((d) => !omit?.(d.name)).map((d) => this.view(d)), links: {actions}}]
  }

  private makeDroplet(
    name: string,
    sz: FakeSize,
    region: string,
    image: string | number,
    tags: string[],
    sshKeys: (string | number)[],
    userData?: string,
    address: {public: string; private: string} | null = null,
  ): FakeDroplet {
    const n = this.nextAddr++
    const bootMs = typeof this.activeAfterMs === 'function' ? this.activeAfterMs(name) : this.activeAfterMs
    const d: FakeDroplet = {
      id: this.nextId++, name, status: 'new', createdAt: Date.now(), size: sz, region, image, tags: [...tags], sshKeys, userData, bootMs,
      // 198.18.0.0/15 (benchmarking) for public, 10.120.0.0/16+ for the VPC
      publicIp: address?.public ?? `198.${18 + Math.floor(n / 254 / 256)}.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`,
      privateIp: address?.private ?? `10.${120 + Math.floor(n / 254 / 256)}.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`,
    }
    this.droplets.set(d.id, d)
    this.onDropletCreated?.(d)
    if (this.listingLag) this.listedFrom.set(d.id, d.createdAt + this.lagRandom() * this.listingLag.newMs)
    return d
  }

  // ---- eventual consistency (listingLag) ---------------------------------------------------------------------

  /** How long after its creation a droplet is first listed (0 without listingLag). */
  listedAfterMs(id: number): number {
    const d = this.droplets.get(id) ?? this.tombstones.get(id)?.droplet
    return d ? Math.max(0, (this.listedFrom.get(id) ?? d.createdAt) - d.createdAt) : 0
  }

  private deleteDroplet(id: number): boolean {
    const d = this.droplets.get(id)
    if (!d) return false
    this.droplets.delete(id)
    if (this.listingLag) this.tombstones.set(id, {droplet: d, until: Date.now() + this.lagRandom() * this.listingLag.deletedMs})
    return true
  }

  /** What GET /v2/droplets shows now: without listingLag exactly the droplets that exist. */
  private listedDroplets(): FakeDroplet[] {
    if (!this.listingLag) return [...this.droplets.values()]
    const now = Date.now()
    for (const [id, t] of this.tombstones) if (t.until <= now) this.tombstones.delete(id)
    return [
      ...[...this.droplets.values()].filter((d) => (this.listedFrom.get(d.id) ?? 0) <= now),
      ...[...this.tombstones.values()].map((t) => t.droplet),
    ]
  }

  private view(d: FakeDroplet): FakeDropletView {
    if (d.status === 'new' && Date.now() - d.createdAt >= d.bootMs) d.status = 'active'
    const up = d.status !== 'new'
    return {
      id: d.id,
      name: d.name,
      memory: d.size.memory,
      vcpus: d.size.vcpus,
      disk: d.size.disk,
      locked: false,
      status: d.status,
      kernel: null,
      created_at: new Date(d.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      features: ['private_networking'],
      backup_ids: [],
      next_backup_window: null,
      snapshot_ids: [],
      image: typeof d.image === 'number' ? {id: d.image, name: 'snapshot', distribution: 'Unknown'} : {id: 100000000 + IMAGES.indexOf(d.image), name: d.image, slug: d.image, distribution: 'Ubuntu', public: true},
      volume_ids: [],
      size: {...d.size},
      size_slug: d.size.slug,
      networks: {
        v4: up
          ? [
              {ip_address: d.publicIp, netmask: '255.254.0.0', gateway: '198.18.0.1', type: 'public'},
              {ip_address: d.privateIp, netmask: '255.255.0.0', gateway: '10.120.0.1', type: 'private'},
            ]
          : [],
        v6: [],
      },
      region: {name: d.region.toUpperCase(), slug: d.region, features: ['private_networking', 'backups'], available: true, sizes: this.sizes.map((s) => s.slug)},
      tags: [...d.tags],
      vpc_uuid: '760e09ef-dc84-11e8-981e-3cfdfeaae000',
    }
  }

  private checkFirewall(b: Record<string, unknown>, old: Record<string, unknown> | null): Record<string, unknown> {
    const name = String(b.name ?? '')
    if (!FIREWALL_NAME.test(name)) throw unprocessable(`name '${name}' is invalid: use letters, digits, '.' and '-'`)
    for (const fw of this.firewalls.values()) {
      if (fw.name === name && fw !== old) throw new HttpError(409, 'conflict', 'duplicate name')
    }
    const tags = Array.isArray(b.tags) ? b.tags.map(String) : []
    const checkTargets = (t: unknown, where: string) => {
      const targets = (t ?? {}) as Record<string, unknown[]>
      const n = ['addresses', 'tags', 'droplet_ids', 'load_balancer_uids', 'kubernetes_ids'].reduce((acc, k) => acc + (Array.isArray(targets[k]) ? targets[k].length : 0), 0)
      if (n === 0) throw unprocessable(`${where}: at least one source or destination is required`)
      for (const tag of (targets.tags ?? []) as string[]) if (!this.tags.has(tag)) throw unprocessable(`tag '${tag}' not found`)
      for (const a of (targets.addresses ?? []) as string[]) if (!/^[0-9a-fA-F.:]+(\/\d{1,3})?$/.test(a)) throw unprocessable('invalid address')
      return targets
    }
    const rules = (list: unknown, dir: 'sources' | 'destinations') => {
      if (list !== undefined && !Array.isArray(list)) throw unprocessable(`${dir === 'sources' ? 'inbound' : 'outbound'}_rules must be a list`)
      return ((list ?? []) as Record<string, unknown>[]).map((r) => {
        const protocol = String(r.protocol ?? '')
        if (!['tcp', 'udp', 'icmp'].includes(protocol)) throw unprocessable(`invalid protocol '${protocol}': must be one of tcp, udp, icmp`)
        let ports = r.ports === undefined ? '' : String(r.ports)
        if (protocol === 'icmp') ports = '0'
        else if (ports === 'all') ports = '0'
        else if (!/^(\d{1,5}|\d{1,5}-\d{1,5})$/.test(ports)) throw unprocessable(`invalid ports '${ports}'`)
        return {protocol, ports, [dir]: checkTargets(r[dir], `${protocol} ${ports}`)}
      })
    }
    for (const t of tags) if (!this.tags.has(t)) throw unprocessable(`tag '${t}' not found`)
    return {
      id: old?.id ?? randomUUID(),
      name,
      status: 'succeeded',
      created_at: old?.created_at ?? new Date().toISOString(),
      inbound_rules: rules(b.inbound_rules, 'sources'),
      outbound_rules: rules(b.outbound_rules, 'destinations'),
      droplet_ids: Array.isArray(b.droplet_ids) ? b.droplet_ids : [],
      tags,
      pending_changes: [],
    }
  }
}

/** Droplet actions belt sends (by droplet), and those DigitalOcean takes by tag. */
const POWER_ACTIONS = ['reboot', 'power_cycle', 'power_off', 'power_on', 'shutdown']
const TAG_ACTIONS = ['power_cycle', 'power_on', 'power_off', 'shutdown']

function routeOf(path: string): string {
  const p = path.split('/')
  if (p[1] !== 'v2') return path
  if (p.length === 4 && p[2] === 'droplets' && p[3] === 'actions') return '/v2/droplets/actions'
  if (p.length === 5 && p[2] === 'droplets' && p[4] === 'actions') return '/v2/droplets/:id/actions'
  if (p.length === 4 && ['droplets', 'firewalls', 'tags', 'sizes'].includes(p[2])) return `/v2/${p[2]}/:id`
  if (p.length === 5 && p[2] === 'account' && p[3] === 'keys') return '/v2/account/keys/:id'
  if (p.length === 5 && p[2] === 'tags' && p[4] === 'resources') return '/v2/tags/:id/resources'
  return path
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', reject)
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
  })
}

/** A request body as the API takes it: JSON, sent as application/json (415 otherwise); malformed JSON is a 400. */
function parseJsonBody(contentType: string | undefined, text: string): unknown {
  if (!text) return undefined
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) {
    return new HttpError(415, 'unsupported_media_type', `Content-Type must be application/json, not ${contentType ?? 'none'}`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    return new HttpError(400, 'bad_request', `malformed JSON: ${(err as Error).message}`)
  }
}
