// Every config key belt knows, per driver, with its type, default and a one-line meaning.
// templates/<driver>.yml explains the same keys to users; validation and `cluster update` use this table.
import {UsageError} from '../errors.js'
import {hostnameProblem} from '../range.js'
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
