// The `.belt/` folder: finding it, listing clusters, the active cluster, each cluster's config.yml and state.json.
// Layout: CONTRACT §1. Every write is atomic (atomic.ts).
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {parseDocument, Document, isMap} from 'yaml'
import {UsageError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'
import {checkClusterId, CLUSTER_ID_KEY} from './identity.js'
import {Driver, isDriver, isSecretKey, parseSwarmBlock, validateBlock, DRIVERS, type SwarmBlock} from './schema.js'
import {withFileLockSync} from './lock.js'

export const CLUSTER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/

const GITIGNORE = `# written by belt: keys, certificates and state never belong in git.
# config.yml files are meant to be versioned, and so are the monitoring stack's files (not its password).
*
!.gitignore
!*/
!*/config.yml
!*/monitor/stack.yml
!*/monitor/prometheus.yml
!*/monitor/grafana-datasource.yml
!*/monitor/grafana-dashboards.yml
!*/monitor/swarm-dashboard.json
`

export function checkClusterName(name: string): void {
  if (!CLUSTER_NAME.test(name)) {
    throw new UsageError(`invalid cluster name '${name}': use lowercase letters, digits, '-' and '_' (start with a letter or digit, at most 63 characters)`)
  }
}

/** A file belt could not read or make, as a configuration mistake (exit 2) that names it. */
export function fileError(path: string, err: unknown, what = 'config file'): UsageError {
  const code = (err as NodeJS.ErrnoException)?.code
  const reason: Record<string, string> = {
    ENOENT: 'does not exist',
    EISDIR: `is a directory, not a ${what}`,
    EACCES: 'is not accessible: permission denied',
    EPERM: 'is not accessible: operation not permitted',
    ENOTDIR: 'is not reachable: a folder on its path is a file',
    EEXIST: 'exists and is not a directory',
    ELOOP: 'is a symlink loop',
  }
  return new UsageError(`${path} ${reason[code ?? ''] ?? `cannot be used (${code ?? (err as Error)?.message})`}`)
}

/** Find `.belt/` in cwd or its nearest parent, or BELT_DIR. Returns null when there is none. */
export function findBeltDir(cwd = process.cwd(), env = process.env): string | null {
  if (env.BELT_DIR) {
    const dir = resolve(env.BELT_DIR)
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`BELT_DIR=${env.BELT_DIR} is not a directory`)
    return dir
  }
  let dir = resolve(cwd)
  for (;;) {
    const candidate = join(dir, '.belt')
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate
    const parent = dirname(dir)
    if (parent === dir) return null
    dir = parent
  }
}

/** The `.belt` folder, created (with its .gitignore) when a command needs one. */
export function ensureBeltDir(cwd = process.cwd(), env = process.env): string {
  const dir = findBeltDir(cwd, env) ?? join(resolve(cwd), '.belt')
  const gi = join(dir, '.gitignore')
  try {
    mkdirSync(dir, {recursive: true})
    if (!existsSync(gi)) writeFileAtomic(gi, GITIGNORE)
  } catch (err) {
    throw fileError(dir, err, 'folder')
  }
  return dir
}

export function listClusterNames(beltDir: string): string[] {
  if (!existsSync(beltDir)) return []
  let entries
  try {
    entries = readdirSync(beltDir, {withFileTypes: true})
  } catch (err) {
    throw fileError(beltDir, err, 'folder')
  }
  return entries
    .filter((d) => d.isDirectory() && CLUSTER_NAME.test(d.name) && existsSync(join(beltDir, d.name, 'config.yml')))
    .map((d) => d.name)
    .sort()
}

export function readActiveCluster(beltDir: string): string | null {
  const f = join(beltDir, 'active')
  if (!existsSync(f)) return null
  let name: string
  try {
    name = readFileSync(f, 'utf8').trim()
  } catch (err) {
    throw fileError(f, err, 'file')
  }
  return name || null
}

export function writeActiveCluster(beltDir: string, name: string | null): void {
  writeFileAtomic(join(beltDir, 'active'), name ? name + '\n' : '')
}

/** A parsed config.yml: the YAML document (comments kept for updates) and its plain values. */
export interface ConfigFile {
  path: string
  doc: Document
  driver: Driver
  /** The driver block's own values (not merged with defaults). */
  block: Record<string, unknown>
  /** The top-level cluster_id (CONTRACT §9); null until a command that creates something writes it. */
  clusterId: string | null
  /** The `swarm:` block (CONTRACT §10), checked; null when config.yml has none. */
  swarm: SwarmBlock | null
}

export function readConfigFile(path: string): ConfigFile {
  if (!existsSync(path)) throw new UsageError(`config file ${path} does not exist`)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw fileError(path, err)
  }
  return parseConfigText(text, path)
}

export function parseConfigText(text: string, path: string): ConfigFile {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new UsageError(`${path}: invalid YAML: ${e.message.split('\n')[0].replace(/:\s*$/, '')}`)
  }
  let data: Record<string, unknown>
  try {
    // yaml refuses to expand more than maxAliasCount aliases (a "billion laughs" file), with an error.
    data = (doc.toJS({maxAliasCount: 100}) ?? {}) as Record<string, unknown>
  } catch (err) {
    throw new UsageError(`${path}: invalid YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  if (typeof data !== 'object' || Array.isArray(data)) throw new UsageError(`${path}: expected a map at the top level`)
  let driver = data.driver
  if (driver === undefined) {
    // The book's `.belt.yml` has only a `digitalocean:` block: infer the driver from the single block.
    const blocks = Object.keys(data).filter((k) => isDriver(k))
    if (blocks.length === 1) driver = blocks[0]
  }
  if (!isDriver(driver)) {
    throw new UsageError(`${path}: 'driver' must be one of ${DRIVERS.join(' | ')}, got ${JSON.stringify(driver ?? null)}`)
  }
  for (const k of Object.keys(data)) {
    if (k !== 'driver' && k !== driver && k !== CLUSTER_ID_KEY && k !== SWARM_KEY) {
      throw new UsageError(`${path}: unknown top-level key '${k}'; expected 'driver', '${CLUSTER_ID_KEY}', '${SWARM_KEY}' and a '${driver}:' block`)
    }
  }
  const raw = data[driver] ?? {}
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) throw new UsageError(`${path}: '${driver}' must be a map of keys`)
  const block = raw as Record<string, unknown>
  validateBlock(driver, block, path)
  const clusterId = data[CLUSTER_ID_KEY] === undefined ? null : checkClusterId(data[CLUSTER_ID_KEY], path)
  const swarm = data[SWARM_KEY] === undefined || data[SWARM_KEY] === null ? null : parseSwarmBlock(driver, data[SWARM_KEY], path)
  return {path, doc, driver, block, clusterId, swarm}
}

export const SWARM_KEY = 'swarm'

/**
 * Write config.yml, keeping its mode; one holding a secret (access_token) is made 0600, since config.yml is otherwise
 * meant to be readable and versioned. Returns the secret keys it holds, so the command can warn about them.
 */
export function writeConfigFile(path: string, doc: Document): string[] {
  const secrets = secretKeysIn(doc)
  let mode = 0o644
  try {
    mode = statSync(path).mode & 0o777
  } catch {}
  writeFileAtomic(path, doc.toString({lineWidth: 0}), secrets.length ? mode & 0o600 : mode)
  return secrets
}

/** The secret keys (with a value) in any driver block of a config document. */
export function secretKeysIn(doc: Document): string[] {
  const data = (doc.toJS() ?? {}) as Record<string, unknown>
  const keys: string[] = []
  for (const driver of DRIVERS) {
    const block = data[driver]
    if (!block || typeof block !== 'object') continue
    for (const [k, v] of Object.entries(block)) if (isSecretKey(driver, k) && v !== null && v !== '') keys.push(k)
  }
  return keys
}

/**
 * Read-change-write of a config.yml under its lock (lock.ts): `change` edits cfg.doc, which is written atomically
 * when it differs from what was read, so two belt processes changing one config.yml never drop each other's change.
 */
export function updateConfigFile<T>(path: string, change: (cfg: ConfigFile) => T): T {
  return withFileLockSync(path, () => {
    const cfg = readConfigFile(path)
    const before = cfg.doc.toString({lineWidth: 0})
    const result = change(cfg)
    if (cfg.doc.toString({lineWidth: 0}) !== before) writeConfigFile(path, cfg.doc)
    return result
  })
}

export function ensureBlockMap(doc: Document, driver: Driver): void {
  const node = doc.get(driver)
  if (!isMap(node)) doc.set(driver, doc.createNode({}))
}

export function removeClusterDir(beltDir: string, name: string): void {
  rmSync(join(beltDir, name), {recursive: true, force: true})
}
