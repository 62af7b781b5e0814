// Every config key belt knows, per driver, with its type, default and a one-line meaning.
// templates/<driver>.yml explains the same keys to users; validation and `cluster update` use this table.
import {UsageError} from '../errors.js'
import {expandPatterns, hostnameProblem, validateHostname} from '../range.js'
import {checkUserTag} from './identity.js'
import {parseJump} from './jump.js'

export const DRIVERS = ['digitalocean', 'ec2', 'generic', 'local'] as const
export type Driver = (typeof DRIVERS)[number]

export type KeyType = 'string' | 'int' | 'bool' | 'list' | 'string-or-list' | 'map' | 'cidr'
export interface KeySpec {
  type: KeyType
  /** Allowed values for enum-like strings. */
  values?: readonly string[]
  secret?: boolean
  min?: number
  max?: number
  /** The one default of the key (templates/<driver>.yml shows the same value, schema.test.ts checks both agree). */
  default?: unknown
}

// Each table is `as const` so that Settings<D> below is derived from it: a key's TypeScript type follows its `type`,
// and a key with a default is never undefined in resolved settings.
export const COMMON_KEYS = {
  ssh_user: {type: 'string', default: 'root'},
  ssh_port: {type: 'int', min: 1, max: 65535, default: 22},
  ssh_key: {type: 'string'},
  strict_host_key_checking: {type: 'string', values: ['accept-new', 'yes', 'no'], default: 'accept-new'},
  // A bastion, `[user@]host[:port]` (jump.ts): every SSH connection goes through one connection to it.
  ssh_jump: {type: 'string'},
  ssh_address: {type: 'string', values: ['public', 'private'], default: 'public'},
  concurrency: {type: 'int', min: 1, max: 10000, default: 100},
  engine_install: {type: 'bool', default: true},
  engine_install_url: {type: 'string', default: 'https://get.docker.com'},
  tls_key_type: {type: 'string', values: ['ecdsa', 'rsa'], default: 'ecdsa'},
  tls_san: {type: 'list', default: []},
  tls_ca_days: {type: 'int', min: 1, max: 36500, default: 3650},
  tls_cert_days: {type: 'int', min: 1, max: 36500, default: 730},
  // The `belt monitor` stack's images, pinned; a map written in config.yml replaces only the images it names.
  monitor_images: {
    type: 'map',
    default: {prometheus: 'prom/prometheus:v2.53.2', node_exporter: 'prom/node-exporter:v1.8.2', grafana: 'grafana/grafana:11.2.0'},
  },
} as const satisfies Record<string, KeySpec>

export const DRIVER_KEYS = {
  digitalocean: {
    region: {type: 'string', default: 'nyc1'},
    image: {type: 'string', default: 'docker-20-04'},
    ssh_key_fingerprint: {type: 'string-or-list'},
    access_token: {type: 'string', secret: true},
    api_url: {type: 'string'},
    tags: {type: 'list'},
    vpc_uuid: {type: 'string'},
    user_data: {type: 'string'},
    // Not in CONTRACT §2's list but needed by the cloud firewall: documented in the README.
    admin_cidr: {type: 'cidr'},
    encrypted_overlay: {type: 'bool'},
  },
  ec2: {
    // Ubuntu AMIs log in as ubuntu: this driver's own default of a common key.
    ssh_user: {type: 'string', default: 'ubuntu'},
    region: {type: 'string', default: 'us-east-1'},
    ami: {type: 'string'},
    key_name: {type: 'string'},
    subnet_id: {type: 'string'},
    security_group: {type: 'string'},
    admin_cidr: {type: 'cidr'},
    endpoint: {type: 'string'},
    batch_size: {type: 'int', min: 1, max: 1000, default: 100},
    user_data: {type: 'string'},
    tags: {type: 'list'},
  },
  generic: {
    hosts: {type: 'map'},
  },
  local: {
    subnet: {type: 'cidr', default: '10.213.0.0/16'},
    bridge: {type: 'string'},
    // A #! script each new host runs once at first boot, after its dockerd is up (CONTRACT §2, §11).
    user_data: {type: 'string'},
  },
} as const satisfies Record<Driver, Record<string, KeySpec>>

type ValueOf<S> = S extends {type: 'int'}
  ? number
  : S extends {type: 'bool'}
    ? boolean
    : S extends {type: 'list'}
      ? string[]
      : S extends {type: 'string-or-list'}
        ? string | string[]
        : S extends {type: 'map'}
          ? Record<string, unknown>
          : S extends {values: readonly (infer V)[]}
            ? V
            : string
type Defaulted<K> = {[k in keyof K]: K[k] extends {default: unknown} ? k : never}[keyof K]
type SettingsOf<K> = {-readonly [k in Defaulted<K>]: ValueOf<K[k]>} & {-readonly [k in Exclude<keyof K, Defaulted<K>>]?: ValueOf<K[k]>}
type KeysOf<D extends Driver> = Omit<typeof COMMON_KEYS, keyof (typeof DRIVER_KEYS)[D]> & (typeof DRIVER_KEYS)[D]
/** A driver's resolved settings: defaults merged with the driver block, typed by the schema (cluster.ts makes them). */
export type Settings<D extends Driver = Driver> = D extends Driver ? SettingsOf<KeysOf<D>> : never
export type DigitalOceanSettings = Settings<'digitalocean'>
export type Ec2Settings = Settings<'ec2'>
export type GenericSettings = Settings<'generic'>
export type LocalSettings = Settings<'local'>

/** A driver's defaults, from the key tables (no other place states a default). */
export function defaultsFor(driver: Driver): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, spec] of Object.entries(keysFor(driver))) {
    if (!('default' in spec)) continue
    const d = spec.default
    out[k] = Array.isArray(d) ? [...d] : d && typeof d === 'object' ? {...d} : d
  }
  return out
}

/**
 * Defaults merged with a validated driver block, values in their schema types: a `string` written as a YAML
 * number becomes a string, list items become strings. Keys the schema does not know (none after validation) are kept.
 */
export function resolveSettings<D extends Driver>(driver: D, block: Record<string, unknown>): Settings<D> {
  const keys = keysFor(driver)
  const out = defaultsFor(driver)
  for (const [k, v] of Object.entries(block)) {
    if (v === null || v === undefined) continue
    const type = keys[k]?.type
    if ((type === 'string' || type === 'cidr') && typeof v === 'number') out[k] = String(v)
    else if (type === 'list' && Array.isArray(v)) out[k] = v.map(String)
    else out[k] = v
  }
  return out as Settings<D>
}

export function isDriver(s: unknown): s is Driver {
  return typeof s === 'string' && (DRIVERS as readonly string[]).includes(s)
}

export function keysFor(driver: Driver): Record<string, KeySpec> {
  return {...COMMON_KEYS, ...DRIVER_KEYS[driver]} as Record<string, KeySpec>
}

export function validKeyList(driver: Driver): string {
  return Object.keys(keysFor(driver)).sort().join(', ')
}

const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/
export function isCidr(s: string): boolean {
  const m = CIDR.exec(s)
  if (!m) return /^[0-9a-fA-F:]+\/\d{1,3}$/.test(s)
  return m.slice(1, 5).every((o) => Number(o) <= 255) && Number(m[5]) <= 32
}

/** Check one value against its key's spec; `where` names the file or command for the message. */
export function checkValue(driver: Driver, key: string, value: unknown, where: string): void {
  const spec = keysFor(driver)[key]
  if (!spec) throw new UsageError(`${where}: unknown key '${key}' for driver ${driver}; valid keys: ${validKeyList(driver)}`)
  if (value === null || value === undefined) return
  // A secret's rejected value is described by its kind only: it may be the token itself.
  const got = spec.secret ? kindOf(value) : JSON.stringify(value)
  const bad = (want: string) => new UsageError(`${where}: '${key}' must be ${want}, got ${got}`)
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string' && typeof value !== 'number') throw bad('a string')
      if (spec.values && !spec.values.includes(String(value))) throw bad(`one of ${spec.values.join(' | ')}`)
      break
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw bad('a whole number')
      if (spec.min !== undefined && value < spec.min) throw bad(`at least ${spec.min}`)
      if (spec.max !== undefined && value > spec.max) throw bad(`at most ${spec.max}`)
      break
    case 'bool':
      if (typeof value !== 'boolean') throw bad('true or false')
      break
    case 'list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' || typeof v === 'number')) throw bad('a list of strings')
      break
    case 'string-or-list':
      if (typeof value === 'string') break
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw bad('a string or a list of strings')
      break
    case 'map':
      if (typeof value !== 'object' || Array.isArray(value)) throw bad('a map')
      break
    case 'cidr':
      if (typeof value !== 'string' || !isCidr(value)) throw bad('a CIDR such as 203.0.113.0/24')
      break
  }
}

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'a list (value not shown)'
  if (typeof value === 'object') return 'a map (value not shown)'
  return `a ${typeof value} (value not shown)`
}

/** Validate a whole driver block. */
export function validateBlock(driver: Driver, block: Record<string, unknown>, where: string): void {
  for (const [k, v] of Object.entries(block)) checkValue(driver, k, v, where)
  if (Array.isArray(block.tags)) for (const t of block.tags) checkUserTag(String(t), `${where}: tags`)
  if (driver === 'generic' && block.hosts) validateGenericHosts(block.hosts as Record<string, unknown>, where)
  if (block.monitor_images) validateMonitorImages(block.monitor_images as Record<string, unknown>, where)
  if (block.ssh_jump !== undefined && block.ssh_jump !== null) checkJump('ssh_jump', block.ssh_jump, where)
}

function checkJump(key: string, value: unknown, where: string): void {
  const jump = parseJump(typeof value === 'number' ? String(value) : value)
  if (typeof jump === 'string') throw new UsageError(`${where}: '${key}' must be user@host[:port] (${jump}), got ${JSON.stringify(value)}`)
}

function validateMonitorImages(images: Record<string, unknown>, where: string): void {
  const names = Object.keys(COMMON_KEYS.monitor_images.default)
  for (const [name, image] of Object.entries(images)) {
    if (!names.includes(name)) throw new UsageError(`${where}: unknown key 'monitor_images.${name}'; valid keys: ${names.join(', ')}`)
    if (typeof image !== 'string' || !/^[^\s]+$/.test(image)) {
      throw new UsageError(`${where}: 'monitor_images.${name}' must be an image reference such as ${COMMON_KEYS.monitor_images.default[name as 'grafana']}, got ${JSON.stringify(image)}`)
    }
  }
}

const HOST_KEYS = ['address', 'private_address', 'user', 'port', 'ssh_key', 'ssh_jump']
function validateGenericHosts(hosts: Record<string, unknown>, where: string): void {
  for (const [name, h] of Object.entries(hosts)) {
    const problem = hostnameProblem(name)
    if (problem) throw new UsageError(`${where}: hosts.${name}: invalid node name '${name}': ${problem}`)
    if (typeof h === 'string') continue
    if (!h || typeof h !== 'object' || Array.isArray(h)) {
      throw new UsageError(`${where}: hosts.${name} must be an address or a map with ${HOST_KEYS.join(', ')}`)
    }
    for (const [k, v] of Object.entries(h)) {
      if (!HOST_KEYS.includes(k)) throw new UsageError(`${where}: unknown key 'hosts.${name}.${k}'; valid keys: ${HOST_KEYS.join(', ')}`)
      if (k === 'port' && (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)) {
        throw new UsageError(`${where}: 'hosts.${name}.port' must be a port number, got ${JSON.stringify(v)}`)
      }
      if (k === 'ssh_jump') checkJump(`hosts.${name}.ssh_jump`, v, where)
    }
    if (!('address' in h)) throw new UsageError(`${where}: hosts.${name} has no address`)
  }
}

export function isSecretKey(driver: Driver, key: string): boolean {
  return Boolean(keysFor(driver)[key]?.secret)
}

// ---------------------------------------------------------------------------------------------------------------
// The `swarm:` block (CONTRACT §10): what `belt up` converges to. Parsed and checked here like every key, so a bad
// block is one line naming the key (exit 2) before anything changes; src/docker/up-plan.ts reads the typed result.

export const SWARM_JOIN = ['ssh', 'cloud-init'] as const
export const SWARM_TLS = ['managers', 'all', 'none'] as const
/** The pool name of the managers' tag (belt-pool:managers): no worker pool may take it. */
export const MANAGER_POOL = 'managers'
const SWARM_KEYS = ['managers', 'workers', 'join', 'tls']
const MANAGER_KEYS = ['names', 'size', 'zones', 'drain']
const POOL_KEYS = ['name', 'names', 'size', 'zones', 'labels']
const POOL_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/
const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const ZONE_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/
/** DigitalOcean's region slugs (a zone of the digitalocean driver is one of them). */
export const DO_REGIONS = ['ams2', 'ams3', 'atl1', 'blr1', 'fra1', 'lon1', 'nyc1', 'nyc2', 'nyc3', 'sfo1', 'sfo2', 'sfo3', 'sgp1', 'syd1', 'tor1']
const EC2_SUBNET = /^subnet-[0-9a-f]{8,17}$/

export interface SwarmManagers {
  /** The pattern as written ('mg[0:2]'). */
  pattern: string
  /** Expanded, in the pattern's order. */
  names: string[]
  size: string | null
  zones: string[]
  drain: boolean
}

export interface SwarmPool {
  name: string
  pattern: string
  names: string[]
  size: string | null
  zones: string[]
  labels: Record<string, string>
}

export interface SwarmBlock {
  managers: SwarmManagers
  workers: SwarmPool[]
  join: (typeof SWARM_JOIN)[number]
  tls: (typeof SWARM_TLS)[number]
}

function isMapValue(v: unknown): v is Record<string, unknown> {
  return Boolean(v) && typeof v === 'object' && !Array.isArray(v)
}

/** Parse and check a `swarm:` block; every problem is a UsageError naming its key (`swarm.workers[1].name`). */
export function parseSwarmBlock(driver: Driver, raw: unknown, where: string): SwarmBlock {
  const bad = (key: string, why: string) => new UsageError(`${where}: '${key}' ${why}`)
  if (!isMapValue(raw)) throw bad('swarm', 'must be a map with managers, workers, join, tls')
  for (const k of Object.keys(raw)) {
    if (!SWARM_KEYS.includes(k)) throw new UsageError(`${where}: unknown key 'swarm.${k}'; valid keys: ${SWARM_KEYS.join(', ')}`)
  }
  const join = raw.join ?? 'ssh'
  if (typeof join !== 'string' || !(SWARM_JOIN as readonly string[]).includes(join)) throw bad('swarm.join', `must be one of ${SWARM_JOIN.join(' | ')}, got ${JSON.stringify(join)}`)
  const tls = raw.tls ?? 'managers'
  if (typeof tls !== 'string' || !(SWARM_TLS as readonly string[]).includes(tls)) throw bad('swarm.tls', `must be one of ${SWARM_TLS.join(' | ')}, got ${JSON.stringify(tls)}`)
  if (join === 'cloud-init' && tls === 'all') {
    throw bad('swarm.tls', "cannot be 'all' with join: cloud-init (workers that join at boot get no Docker TLS endpoint); use tls: managers")
  }
  const m = raw.managers
  if (!isMapValue(m)) throw bad('swarm.managers', "must be a map with names (e.g. names: 'mg[0:2]')")
  for (const k of Object.keys(m)) {
    if (!MANAGER_KEYS.includes(k)) throw new UsageError(`${where}: unknown key 'swarm.managers.${k}'; valid keys: ${MANAGER_KEYS.join(', ')}`)
  }
  const mNames = swarmNames(m.names, 'swarm.managers.names', where)
  if (mNames.names.length % 2 === 0 || mNames.names.length > 7) {
    throw bad('swarm.managers.names', `must name 1, 3, 5 or 7 managers (an odd count keeps a Raft majority), got ${mNames.names.length}`)
  }
  if (m.drain !== undefined && typeof m.drain !== 'boolean') throw bad('swarm.managers.drain', `must be true or false, got ${JSON.stringify(m.drain)}`)
  const managers: SwarmManagers = {
    ...mNames, size: swarmSize(driver, m.size, 'swarm.managers.size', where), zones: swarmZones(driver, m.zones, 'swarm.managers.zones', where),
    drain: m.drain === true,
  }
  const owner = new Map<string, string>(managers.names.map((n) => [n, 'swarm.managers.names']))
  const workers: SwarmPool[] = []
  const rawPools = raw.workers ?? []
  if (!Array.isArray(rawPools)) throw bad('swarm.workers', 'must be a list of pools (- name: web ...)')
  rawPools.forEach((p: unknown, i: number) => {
    const key = `swarm.workers[${i}]`
    if (!isMapValue(p)) throw bad(key, 'must be a map with name, names, size')
    for (const k of Object.keys(p)) {
      if (!POOL_KEYS.includes(k)) throw new UsageError(`${where}: unknown key '${key}.${k}'; valid keys: ${POOL_KEYS.join(', ')}`)
    }
    if (p.name === undefined || p.name === null || p.name === '') throw bad(`${key}.name`, 'is missing: every pool needs a name (its nodes are tagged belt-pool:<name>)')
    const name = String(p.name)
    if (!POOL_NAME.test(name)) throw bad(`${key}.name`, `must be lowercase letters, digits, '-' and '_' (it becomes a tag), got ${JSON.stringify(p.name)}`)
    if (name === MANAGER_POOL) throw bad(`${key}.name`, `'${MANAGER_POOL}' is the managers' own pool name; choose another`)
    const dup = workers.findIndex((w) => w.name === name)
    if (dup >= 0) throw bad(`${key}.name`, `'${name}' is also the name of swarm.workers[${dup}]; pool names are unique`)
    const names = swarmNames(p.names, `${key}.names`, where)
    for (const n of names.names) {
      const other = owner.get(n)
      if (other) throw bad(`${key}.names`, `('${names.pattern}') overlaps ${other} at '${n}'; a node belongs to one pool`)
      owner.set(n, `${key}.names`)
    }
    const labels: Record<string, string> = {}
    if (p.labels !== undefined && p.labels !== null) {
      if (!isMapValue(p.labels)) throw bad(`${key}.labels`, 'must be a map of node labels ({pool: web})')
      for (const [lk, lv] of Object.entries(p.labels)) {
        if (!LABEL_KEY.test(lk) || lk === 'belt.zone') throw bad(`${key}.labels.${lk}`, lk === 'belt.zone' ? 'is set by belt from the zone' : 'is not a valid label key')
        if (lv === null || typeof lv === 'object') throw bad(`${key}.labels.${lk}`, `must be a string, got ${JSON.stringify(lv)}`)
        labels[lk] = String(lv)
      }
    }
    workers.push({name, ...names, size: swarmSize(driver, p.size, `${key}.size`, where), zones: swarmZones(driver, p.zones, `${key}.zones`, where), labels})
  })
  return {managers, workers, join: join as SwarmBlock['join'], tls: tls as SwarmBlock['tls']}
}

function swarmNames(v: unknown, key: string, where: string): {pattern: string; names: string[]} {
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`${where}: '${key}' must be a name pattern such as 'w[1:4]', got ${JSON.stringify(v ?? null)}`)
  const pattern = String(v)
  let names: string[]
  try {
    names = expandPatterns([pattern], (n, p) => validateHostname(n, p))
  } catch (err) {
    throw new UsageError(`${where}: '${key}': ${(err as Error).message}`)
  }
  if (names.length === 0) throw new UsageError(`${where}: '${key}' names no node`)
  return {pattern, names}
}

function swarmSize(driver: Driver, v: unknown, key: string, where: string): string | null {
  if (v === undefined || v === null || v === '') {
    if (driver === 'digitalocean' || driver === 'ec2') throw new UsageError(`${where}: '${key}' is missing: give a size as in belt create (1gb, s-1vcpu-1gb, t3.small)`)
    return null
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new UsageError(`${where}: '${key}' must be a size such as 1gb, got ${JSON.stringify(v)}`)
  return String(v)
}

function swarmZones(driver: Driver, v: unknown, key: string, where: string): string[] {
  if (v === undefined || v === null) return []
  const list = Array.isArray(v) ? v : [v]
  if (list.length === 0) return []
  return list.map((z, i) => {
    const zone = typeof z === 'string' || typeof z === 'number' ? String(z) : ''
    const at = `${key}[${i}]`
    if (driver === 'digitalocean' && !DO_REGIONS.includes(zone)) {
      throw new UsageError(`${where}: '${at}': unknown DigitalOcean region ${JSON.stringify(z)}; regions: ${DO_REGIONS.join(', ')}`)
    }
    if (driver === 'ec2' && !EC2_SUBNET.test(zone)) {
      throw new UsageError(`${where}: '${at}': an EC2 zone is a subnet id (subnet-0123abcd, one per availability zone), got ${JSON.stringify(z)}`)
    }
    if (!ZONE_LABEL.test(zone)) throw new UsageError(`${where}: '${at}': a zone label uses letters, digits, '.', '_' and '-', got ${JSON.stringify(z)}`)
    return zone
  })
}
