// Droplets: their shape, the tags that make one this cluster's, finding them (the listing by the name tag, split by
// the id tag; a lookup by id for what a lagging listing misses), removing them, and id-tagging old ones (adopt).
// Creating them, in batches of 10, is droplet-batches.ts.
import {ensureClusterDir} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {isInterrupted} from '../../core/wait.js'
import pLimit from 'p-limit'
import type {AdoptResult, Failure, NodeInfo, NodeStatus, RemoveResult} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {DoApiError, type DoScope, PER_PAGE} from './api.js'

export interface Droplet {
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

const DELETE_CONCURRENCY = 8
const TAG_RULE = /^[a-zA-Z0-9_:-]{1,255}$/
/** Droplets per POST /v2/tags/{tag}/resources of `cluster adopt`. */
const ADOPT_CHUNK = 50

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

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** A new droplet's tags: the cluster's name and id tags, the template's tags, then the command's; all checked. */
export function dropletTags(scope: DoScope, extra: string[]): string[] {
  const own = scope.idTag ? [scope.clusterTag, scope.idTag] : [scope.clusterTag]
  const tags = [...new Set([...own, ...(scope.cluster.settings.tags ?? []), ...extra])]
  for (const t of tags) {
    if (!TAG_RULE.test(t)) throw new UsageError(`invalid tag '${t}': DigitalOcean tags use letters, digits, '_', '-' and ':' (at most 255 characters)`)
  }
  return tags
}

export interface DropletsByTag {
  ours: Droplet[]
  /** Another cluster's id tag: another project whose cluster has this name. */
  foreign: Droplet[]
  /** No id tag at all: made before cluster ids. */
  legacy: Droplet[]
}

/**
 * Every droplet with this cluster's name tag, every page (per_page 200), de-duplicated (pages shift while droplets
 * come and go), split by its id tag.
 */
export async function listByName(scope: DoScope, signal?: AbortSignal, onPage?: (ours: Droplet[]) => void): Promise<DropletsByTag> {
  const ours = (d: Droplet) => Boolean(scope.idTag && (d.tags ?? []).includes(scope.idTag) && (d.tags ?? []).includes(scope.clusterTag))
  const all = await scope.api.listAll<Droplet>('list droplets', 'droplets',
    (c, page) => c.droplet.listDroplets({page, per_page: PER_PAGE, tag_name: scope.clusterTag}), signal,
    onPage && ((page) => onPage(page.filter(ours))))
  const seen = new Set<number>()
  const out: DropletsByTag = {ours: [], foreign: [], legacy: []}
  for (const d of all) {
    const tags = d.tags ?? []
    if (seen.has(d.id) || !tags.includes(scope.clusterTag)) continue
    seen.add(d.id)
    if (scope.idTag && tags.includes(scope.idTag)) out.ours.push(d)
    else if (tags.some((t) => t.startsWith('belt-id:'))) out.foreign.push(d)
    else out.legacy.push(d)
  }
  return out
}

/**
 * Droplets state.json records for these names that the listing did not show: a listing made just after a create
 * may not show it yet, so each is looked up by id (404: it is gone).
 */
export async function recordedButUnlisted(scope: DoScope, names: string[], signal?: AbortSignal): Promise<Droplet[]> {
  const nodes = scope.cluster.state.read().nodes
  const wanted = new Set(names)
  const ids = names.map((n) => Number(nodes[n]?.id)).filter((id) => Number.isInteger(id) && id > 0)
  const found = await Promise.all(ids.map(async (id) => {
    try {
      const data = await scope.api.call(`get droplet ${id}`, (c) => c.droplet.getDroplet({droplet_id: id}), signal)
      const d = (data as {droplet?: Droplet}).droplet
      return d && (d.tags ?? []).includes(scope.clusterTag) && wanted.has(d.name) ? d : null
    } catch (err) {
      if (err instanceof DoApiError && err.status === 404) return null
      throw err
    }
  }))
  return found.filter((d): d is Droplet => d !== null)
}

// ---- remove --------------------------------------------------------------------------------------------------

export interface RemoveOptions {
  signal?: AbortSignal
  onProgress?: (m: string) => void
}

/** Remove the named droplets (each by id) or all of them (one call by the id tag), from this listing of ours. */
export async function removeDroplets(
  scope: DoScope, droplets: Droplet[], target: {names: string[]} | {all: true}, opts: RemoveOptions,
): Promise<RemoveResult> {
  const records = new StateForgetter(scope)
  const progress = opts.onProgress ?? (() => {})
  if ('all' in target) {
    const names = [...new Set(droplets.map((d) => d.name))]
    if (droplets.length > 0) {
      // By the id tag, never the name tag: that one is shared with other projects' clusters of the same name.
      const tag = scope.idTag!
      progress(`removing ${droplets.length} droplet(s) tagged ${tag}`)
      try {
        await scope.api.call(`delete droplets tagged ${tag}`, (c) => c.droplet.deleteDropletsByTag({tag_name: tag}), opts.signal)
      } catch (err) {
        if (isInterrupted(err)) return {removed: [], failed: [], interrupted: true}
        throw err
      }
    }
    records.forget(names, true)
    return {removed: names, failed: [], interrupted: false, stateError: records.error()}
  }
  const byName = new Map<string, Droplet[]>()
  for (const d of droplets) byName.set(d.name, [...(byName.get(d.name) ?? []), d])
  const present = target.names.filter((n) => byName.has(n))
  const removed: string[] = []
  const failed: Failure[] = target.names.filter((n) => !byName.has(n))
    .map((name) => ({name, error: `no droplet named '${name}' in cluster '${scope.cluster.name}'`}))
  const limit = pLimit(DELETE_CONCURRENCY)
  let interrupted = false
  await Promise.all(present.map((name) => limit(async () => {
    if (opts.signal?.aborted) {
      interrupted = true
      return
    }
    try {
      for (const d of byName.get(name)!) await deleteDroplet(scope, name, d.id, opts.signal)
      removed.push(name)
      records.forget([name])
    } catch (err) {
      if (isInterrupted(err)) interrupted = true
      else failed.push({name, error: (err as Error).message})
    }
  })))
  if (removed.length) progress(`removed ${removed.length}/${present.length}`)
  return {removed, failed, interrupted, stateError: records.error()}
}

/** Delete one droplet by id; one already gone (404) is removed all the same. */
async function deleteDroplet(scope: DoScope, name: string, id: number, signal?: AbortSignal): Promise<void> {
  try {
    await scope.api.call(`delete ${name} (${id})`, (c) => c.droplet.deleteDroplet({droplet_id: id}), signal)
  } catch (err) {
    if (!(err instanceof DoApiError && err.status === 404)) throw err
  }
}

/** state.json forgets removed droplets; a failed write never turns a removed droplet into a failure. */
class StateForgetter {
  private readonly unforgotten: string[] = []
  private readonly stateErrors: Error[] = []

  constructor(private readonly scope: DoScope) {}

  forget(names: string[], all = false): void {
    const cluster = this.scope.cluster
    try {
      const state = cluster.state.read()
      const known = all ? Object.keys(state.nodes) : names.filter((n) => n in state.nodes)
      const clearActive = state.active_node !== null && (all || new Set(names).has(state.active_node))
      if (known.length === 0 && !clearActive) return
      ensureClusterDir(cluster)
      cluster.state.update((s) => {
        for (const n of known) delete s.nodes[n]
        if (clearActive) s.active_node = null
      })
    } catch (err) {
      this.stateErrors.push(err as Error)
      this.unforgotten.push(...names)
    }
  }

  error(): string | null {
    return stateErrorLine('forget', this.unforgotten, this.stateErrors)
  }
}

// ---- adopt ---------------------------------------------------------------------------------------------------

/** Tag the droplets state.json lists (by droplet id) with the id tag; never one that carries another belt-id. */
export async function adoptDroplets(scope: DoScope, split: DropletsByTag): Promise<AdoptResult> {
  const tag = scope.idTag
  if (!tag) throw new Error('bug: adopt before the cluster has its id')
  const result: AdoptResult = {tagged: [], already: [], missing: [], failed: []}
  const byId = new Map<string, {d: Droplet; kind: keyof DropletsByTag}>()
  for (const kind of ['ours', 'foreign', 'legacy'] as const) for (const d of split[kind]) byId.set(String(d.id), {d, kind})
  const toTag: {name: string; id: number}[] = []
  for (const [name, rec] of Object.entries(scope.cluster.state.read().nodes)) {
    const hit = rec?.id ? byId.get(String(rec.id)) : undefined
    if (!hit) result.missing.push(name)
    else if (hit.kind === 'ours') result.already.push(name)
    else if (hit.kind === 'foreign') {
      const other = (hit.d.tags ?? []).find((t) => t.startsWith('belt-id:'))
      result.failed.push({name, error: `droplet ${hit.d.id} carries another cluster's id (${other}); not retagged`})
    } else toTag.push({name, id: hit.d.id})
  }
  if (toTag.length === 0) return result
  await scope.api.call(`create tag ${tag}`, (c) => c.tag.createTag({name: tag}))
  for (const part of chunk(toTag, ADOPT_CHUNK)) {
    try {
      await scope.api.call(`tag ${part.length} droplet(s) ${tag}`, (c) => c.tag.tagResources({
        tag_name: tag, resources: part.map((x) => ({resource_id: String(x.id), resource_type: 'droplet'})),
      } as never))
      result.tagged.push(...part.map((x) => x.name))
    } catch (err) {
      result.failed.push(...part.map((x) => ({name: x.name, error: (err as Error).message})))
    }
  }
  return result
}
