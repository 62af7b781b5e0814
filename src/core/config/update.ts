// `key=value` assignments (CONTRACT §2): YAML scalars, `key=[a,b]` lists, dotted keys into maps, `key=` removes.
// Applied to the YAML document so the template's comments survive; returns a +/- diff of the driver block.
import {Document, isScalar, parse as parseYaml} from 'yaml'
import {UsageError} from '../errors.js'
import {checkValue, Driver, isSecretKey, keysFor, validateBlock, validKeyList} from './schema.js'
import {CLUSTER_ID_KEY} from './identity.js'
import {ensureBlockMap} from './store.js'

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
  for (const arg of args) {
    const a = parseAssignment(arg)
    const top = a.path[0]
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
  target.contents = doc.contents
  const lines = diffBlocks(driver, before, after)
  return {lines, changed: lines.length > 0}
}

/** Replace a scalar's value in place so its trailing comment (`region: nyc1 # where`) survives. */
function setKeepingComments(doc: Document, path: string[], value: unknown): void {
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
