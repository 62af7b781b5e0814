// The `.belt/` folder: finding it, listing clusters, the active cluster, each cluster's config.yml and state.json.
// Layout: CONTRACT §1. Every write is atomic (atomic.ts).
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {parseDocument, Document, isMap} from 'yaml'
import {UsageError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'
import {withFileLockSync} from './lock.js'
import {Driver, isDriver, validateBlock, DRIVERS} from './schema.js'

export const CLUSTER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/

const GITIGNORE = `# written by belt: keys, certificates and state never belong in git.
# config.yml files are meant to be versioned.
*
!.gitignore
!*/
!*/config.yml
`

export function checkClusterName(name: string): void {
  if (!CLUSTER_NAME.test(name)) {
    throw new UsageError(`invalid cluster name '${name}': use lowercase letters, digits, '-' and '_' (start with a letter or digit, at most 63 characters)`)
  }
}

/** Find `.belt/` in cwd or its nearest parent, or BELT_DIR. Returns null when there is none. */
export function findBeltDir(cwd = process.cwd(), env = process.env): string | null {
  if (env.BELT_DIR) return resolve(env.BELT_DIR)
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
  mkdirSync(dir, {recursive: true})
  const gi = join(dir, '.gitignore')
  if (!existsSync(gi)) writeFileAtomic(gi, GITIGNORE)
  return dir
}

export function listClusterNames(beltDir: string): string[] {
  if (!existsSync(beltDir)) return []
  return readdirSync(beltDir, {withFileTypes: true})
    .filter((d) => d.isDirectory() && CLUSTER_NAME.test(d.name) && existsSync(join(beltDir, d.name, 'config.yml')))
    .map((d) => d.name)
    .sort()
}

export function readActiveCluster(beltDir: string): string | null {
  const f = join(beltDir, 'active')
  if (!existsSync(f)) return null
  const name = readFileSync(f, 'utf8').trim()
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
}

export function readConfigFile(path: string): ConfigFile {
  if (!existsSync(path)) throw new UsageError(`config file ${path} does not exist`)
  const text = readFileSync(path, 'utf8')
  return parseConfigText(text, path)
}

export function parseConfigText(text: string, path: string): ConfigFile {
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new UsageError(`${path}: invalid YAML: ${e.message.split('\n')[0]}`)
  }
  const data = (doc.toJS() ?? {}) as Record<string, unknown>
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
    if (k !== 'driver' && k !== driver) {
      throw new UsageError(`${path}: unknown top-level key '${k}'; expected 'driver' and a '${driver}:' block`)
    }
  }
  const raw = data[driver] ?? {}
  if (typeof raw !== 'object' || Array.isArray(raw) || raw === null) throw new UsageError(`${path}: '${driver}' must be a map of keys`)
  const block = raw as Record<string, unknown>
  validateBlock(driver, block, path)
  return {path, doc, driver, block}
}

export function writeConfigFile(path: string, doc: Document): void {
  writeFileAtomic(path, doc.toString({lineWidth: 0}))
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
