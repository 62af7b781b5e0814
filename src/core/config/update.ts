// `key=value` assignments (CONTRACT §2): YAML scalars, `key=[a,b]` lists, dotted keys into maps, `key=` removes.
// Applied to the YAML document so the template's comments survive; returns a +/- diff of the driver block.
import {Document, isScalar, parse as parseYaml} from 'yaml'
import {UsageError} from '../errors.js'
import {checkValue, Driver, isSecretKey, keysFor, parseSwarmBlock, validateBlock, validKeyList} from './schema.js'
import {CLUSTER_ID_KEY} from './identity.js'
import {ensureBlockMap, SWARM_KEY} from './store.js'

export interface Assignment {
  path: string[]
  value: unknown
  remove: boolean
}

export function parseAssignment(arg: string): Assignment {
  const eq = arg.indexOf('=')
  if (eq <= 0) throw new UsageError(`expected key=value, got '${arg}'`)
  const key = arg.slice(0, eq).trim()
  const raw = arg.slice(eq + 1)
  const path = key.split('.')
  // The key alone: the value may be a secret.
  if (path.some((p) => p === '')) throw new UsageError(`invalid key '${key}' (empty part between dots)`)
  if (raw === '') return {path, value: undefined, remove: true}
  let value: unknown
  try {
    value = parseYaml(raw)
  } catch {
    // Not valid YAML (e.g. `a: b`): take it as a plain string.
    value = raw
  }
  if (value === null) value = raw
  return {path, value, remove: false}
}

export interface BlockDiff {
  lines: string[]
  changed: boolean
}

/** Apply all assignments or none: the document changes only when every one is valid. */
export function applyAssignments(target: Document, driver: Driver, args: string[], where: string): BlockDiff {
  const doc = target.clone()
  ensureBlockMap(doc, driver)
  const before = (doc.toJS()?.[driver] ?? {}) as Record<string, unknown>
  const swarmBefore = doc.toJS()?.[SWARM_KEY] as unknown
  for (const arg of args) {
    const a = parseAssignment(arg)
    const top = a.path[0]
    if (top === SWARM_KEY) {
      applySwarmAssignment(doc, a)
      continue
    }
    if (top === CLUSTER_ID_KEY) {
      throw new UsageError(`'${CLUSTER_ID_KEY}' is never set by hand: belt writes it once, and the cloud resources of the cluster carry it`)
    }
    if (!keysFor(driver)[top]) {
      throw new UsageError(`unknown key '${top}' for driver ${driver}; valid keys: ${validKeyList(driver)}`)
    }
    if (a.path.length > 1 && keysFor(driver)[top].type !== 'map') {
      throw new UsageError(`'${top}' is not a map, so '${a.path.join('.')}' cannot be set`)
    }
    if (a.path.length === 1 && !a.remove) checkValue(driver, top, a.value, where)
    if (a.remove) doc.deleteIn([driver, ...a.path])
    else setKeepingComments(doc, [driver, ...a.path], a.value)
  }
  const after = (doc.toJS()?.[driver] ?? {}) as Record<string, unknown>
  validateBlock(driver, after, where)
  const swarmAfter = doc.toJS()?.[SWARM_KEY] as unknown
  if (swarmAfter !== undefined && swarmAfter !== null) parseSwarmBlock(driver, swarmAfter, where)
  target.contents = doc.contents
  const lines = [...diffBlocks(driver, before, after), ...diffBlocks(driver, swarmForDiff(swarmBefore), swarmForDiff(swarmAfter))]
  return {lines, changed: lines.length > 0}
}

/**
 * `swarm.managers.names=mg[0:4]`, `swarm.join=cloud-init`, and pools by their name: `swarm.workers.web.size=2gb`
 * (a pool not yet in the list is appended), `swarm.workers.web=` removes the pool. Checked as a whole afterwards.
 */
function applySwarmAssignment(doc: Document, a: Assignment): void {
  const [, section, ...rest] = a.path
  const key = a.path.join('.')
  if (!section) {
    if (a.remove) return void doc.delete(SWARM_KEY)
    throw new UsageError(`'${SWARM_KEY}' is a block: set its keys (swarm.managers.names=mg[0:2], swarm.workers.web.size=1gb)`)
  }
  if (section !== 'workers' || rest.length === 0) {
    if (a.remove) doc.deleteIn(a.path)
    else setKeepingComments(doc, a.path, a.value)
    return
  }
  const pools = (doc.getIn([SWARM_KEY, 'workers']) as {items?: unknown[]} | undefined)?.items ?? []
  const poolNames = ((doc.toJS()?.[SWARM_KEY]?.workers ?? []) as {name?: unknown}[]).map((p) => String(p?.name ?? ''))
  const [pool, ...inner] = rest
  let index = poolNames.indexOf(pool)
  if (index < 0 && /^\d+$/.test(pool) && Number(pool) < pools.length) index = Number(pool)
  if (a.remove) {
    if (index < 0) throw new UsageError(`'${key}': no pool named '${pool}' in swarm.workers`)
    if (inner.length === 0) doc.deleteIn([SWARM_KEY, 'workers', index])
    else doc.deleteIn([SWARM_KEY, 'workers', index, ...inner])
    return
  }
  if (inner.length === 0) throw new UsageError(`'${key}' is a pool: set its keys (${key}.names='w[1:4]', ${key}.size=1gb)`)
  if (index < 0) {
    if (!doc.hasIn([SWARM_KEY, 'workers'])) doc.setIn([SWARM_KEY, 'workers'], doc.createNode([]))
    ;(doc.getIn([SWARM_KEY, 'workers']) as {add: (v: unknown) => void}).add(doc.createNode({name: pool}))
    index = pools.length
  }
  setKeepingComments(doc, [SWARM_KEY, 'workers', index, ...inner], a.value)
}

/** The swarm block as a map for diff lines: pools keyed by their name (swarm.workers.web.size). */
function swarmForDiff(v: unknown): Record<string, unknown> {
  if (!v || typeof v !== 'object') return {}
  const s = v as Record<string, unknown>
  const workers = Array.isArray(s.workers)
    ? Object.fromEntries(s.workers.map((p: Record<string, unknown>, i: number) => [String(p?.name ?? i), p]))
    : s.workers
  return {[SWARM_KEY]: {...s, ...(workers === undefined ? {} : {workers})}}
}

/** Replace a scalar's value in place so its trailing comment (`region: nyc1 # where`) survives. */
function setKeepingComments(doc: Document, path: (string | number)[], value: unknown): void {
  const node = doc.getIn(path, true)
  if (isScalar(node) && (typeof value !== 'object' || value === null)) node.value = value
  else doc.setIn(path, doc.createNode(value))
}

function flatten(prefix: string, v: unknown, out: Map<string, string>): void {
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out)
  } else out.set(prefix, JSON.stringify(v))
}

export function diffBlocks(driver: Driver, before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const a = new Map<string, string>()
  const b = new Map<string, string>()
  flatten('', before, a)
  flatten('', after, b)
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort()
  const lines: string[] = []
  const show = (k: string, v: string) => (isSecretKey(driver, k.split('.')[0]) ? '"********"' : v)
  for (const k of keys) {
    if (a.get(k) === b.get(k)) continue
    if (a.has(k)) lines.push(`- ${k}: ${show(k, a.get(k)!)}`)
    if (b.has(k)) lines.push(`+ ${k}: ${show(k, b.get(k)!)}`)
  }
  return lines
}

/** The config as YAML with secrets masked, for printing. */
export function maskedConfig(doc: Document, driver: Driver): string {
  const copy = doc.clone()
  const block = copy.get(driver) as {items?: {key: {value?: unknown}}[]} | undefined
  for (const item of block?.items ?? []) {
    const key = String(item.key?.value ?? '')
    if (isSecretKey(driver, key)) copy.setIn([driver, key], '********')
  }
  return copy.toString({lineWidth: 0})
}
