// A cluster's identity (CONTRACT §9): the random `cluster_id` at the top of config.yml, which every cloud resource
// of the cluster carries (DigitalOcean tag belt-id:<id>, EC2 tag belt-cluster-id=<id>, names belt-<name>-<id8>).
// The name alone is not an identity: every `.belt.yml` project is called `default`. config.yml is versioned, so a
// teammate with the same repository acts on the same cluster. Only commands that create something write the id.
import {randomBytes} from 'node:crypto'
import {statSync} from 'node:fs'
import {Document, isMap, isScalar, Scalar} from 'yaml'
import {UsageError} from '../errors.js'
import type {Cluster} from './cluster.js'
import {writeFileAtomic} from './atomic.js'
import {readConfigFile} from './store.js'

export const CLUSTER_ID_KEY = 'cluster_id'
export const CLUSTER_ID = /^[0-9a-f]{16,64}$/
/** belt's own tags (and EC2 tag keys) start with this; users may not set them. */
export const OWN_TAG_PREFIX = 'belt-'

export function newClusterId(): string {
  return randomBytes(8).toString('hex')
}

/** The first 8 characters, as they appear in resource names (belt-<name>-<id8>). */
export function id8(id: string): string {
  return id.slice(0, 8)
}

export function checkClusterId(value: unknown, where: string): string {
  if (typeof value !== 'string' || !CLUSTER_ID.test(value)) {
    throw new UsageError(`${where}: 'cluster_id' must be 16 to 64 lowercase hex characters written by belt, got ${JSON.stringify(value)}`)
  }
  return value
}

/** Refuse a user tag that looks like one of belt's (`--tag belt-cluster:other` would move a node between clusters). */
export function checkUserTag(tag: string, where: string): void {
  if (tag.trim().toLowerCase().startsWith(OWN_TAG_PREFIX)) {
    throw new UsageError(`${where}: tag '${tag}' is refused: tags beginning '${OWN_TAG_PREFIX}' are belt's own`)
  }
}

/** Put `cluster_id: <id>` right after `driver:` (or first), keeping every comment of the document. */
export function setClusterId(doc: Document, id: string): void {
  if (!isMap(doc.contents)) doc.contents = doc.createNode({}) as never
  const map = doc.contents as unknown as {items: {key: unknown}[]}
  const existing = doc.get(CLUSTER_ID_KEY, true)
  if (isScalar(existing)) {
    existing.value = id
    return
  }
  const value = new Scalar(id)
  // Quoted: an id of only digits (or digits and one 'e') would otherwise read back as a number.
  value.type = Scalar.QUOTE_DOUBLE
  value.comment = ' belt\'s id for this cluster\'s cloud resources: never edit it or copy it to another project'
  const pair = doc.createPair(CLUSTER_ID_KEY, value)
  const at = map.items.findIndex((p) => isScalar(p.key) && p.key.value === 'driver')
  const first = map.items[0]?.key
  if (at === -1 && isScalar(first) && first.commentBefore) {
    // The file's opening comment belongs to the file, not to the block that happens to come first.
    ;(pair.key as Scalar).commentBefore = first.commentBefore
    first.commentBefore = undefined
  }
  map.items.splice(at + 1, 0, pair as never)
}

/**
 * The cluster's id, written to config.yml first when it has none (only commands that create something call this).
 * The file is read again just before writing, so an id another belt process wrote meanwhile is kept.
 */
export function ensureClusterId(cluster: Cluster): string {
  if (cluster.id) return cluster.id
  const cfg = readConfigFile(cluster.configPath)
  if (cfg.clusterId) return (cluster.id = cfg.clusterId)
  const id = newClusterId()
  setClusterId(cfg.doc, id)
  // Keep the file's mode: a config.yml holding a token is 0600.
  writeFileAtomic(cluster.configPath, cfg.doc.toString({lineWidth: 0}), statSync(cluster.configPath).mode & 0o777)
  cluster.id = id
  return id
}

/**
 * Before `create` on a cloud driver: a cluster whose state.json lists nodes but whose config.yml has no id was made
 * before cluster ids. Its nodes carry only the name tag, so they are not this cluster's any more (they could be
 * another project's): creating now would make their names a second time. `belt cluster adopt` settles it first.
 */
export function refuseUnadopted(cluster: Cluster): void {
  if (cluster.id || (cluster.driver !== 'digitalocean' && cluster.driver !== 'ec2')) return
  const known = Object.keys(cluster.state.read().nodes).length
  if (known > 0) {
    throw new UsageError(`cluster '${cluster.name}' was made before cluster ids `
      + `(state.json lists ${known} node(s), config.yml has no cluster_id): run belt cluster adopt first`)
  }
}
