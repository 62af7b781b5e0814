// SIZE on the command line → a DigitalOcean size slug. Slugs (s-1vcpu-1gb) pass through after a check against
// /v2/sizes; the book's memory sizes (512mb, 8192MB, 1gb, 2GB) map to the cheapest available slug with exactly that
// much memory in the region (ties: fewer vCPUs, then the slug's name). chooseSize is pure; SizeLookup fetches
// /v2/sizes and caches each mapping for a day in state.json.
import {UsageError} from '../../core/errors.js'
import {type DoScope, PER_PAGE} from './api.js'

export interface DoSize {
  slug: string
  memory: number
  vcpus: number
  disk?: number
  price_monthly?: number
  price_hourly?: number
  regions?: string[]
  available?: boolean
  description?: string
}

export interface SizeChoice {
  slug: string
  memory_mb: number | null
  /** The line printed on stderr; null for a slug given as such. */
  note: string | null
}

const MEMORY = /^(\d+(?:\.\d+)?)\s*(mb|m|mib|gb|g|gib)$/i

/** '512mb' → 512, '8192MB' → 8192, '1gb' → 1024, '2GB' → 2048; null when SIZE is not a memory size. */
export function parseMemorySize(size: string): number | null {
  const m = MEMORY.exec(size.trim())
  if (!m) return null
  const n = Number(m[1])
  const mb = /^g/i.test(m[2]) ? n * 1024 : n
  return Number.isInteger(mb) && mb > 0 ? mb : null
}

function usable(s: DoSize, region: string | null): boolean {
  return s.available !== false && (!region || !s.regions || s.regions.includes(region))
}

function cheaper(a: DoSize, b: DoSize): number {
  return (a.price_monthly ?? Infinity) - (b.price_monthly ?? Infinity) || a.vcpus - b.vcpus || a.slug.localeCompare(b.slug)
}

export function chooseSize(size: string, sizes: DoSize[], region: string | null): SizeChoice {
  const where = region ? ` in ${region}` : ''
  const exact = sizes.find((s) => s.slug === size)
  if (exact) {
    if (!usable(exact, region)) throw new UsageError(`size '${size}' is not available${where}`)
    return {slug: exact.slug, memory_mb: exact.memory ?? null, note: null}
  }
  const mb = parseMemorySize(size)
  if (mb === null) {
    const some = sizes.filter((s) => usable(s, region)).sort(cheaper).slice(0, 4).map((s) => s.slug)
    const examples = some.length ? ` (e.g. ${some.join(', ')})` : ''
    throw new UsageError(`unknown size '${size}': give a DigitalOcean slug${examples} or a memory size such as 512mb, 1gb, 8192MB`)
  }
  const candidates = sizes.filter((s) => s.memory === mb && usable(s, region)).sort(cheaper)
  if (candidates.length === 0) {
    const mems = [...new Set(sizes.filter((s) => usable(s, region)).map((s) => s.memory))].sort((a, b) => a - b).slice(0, 8)
    throw new UsageError(`no DigitalOcean size has exactly ${memoryText(mb)}${where} (size '${size}'); memory sizes there: ${mems.map(memoryWord).join(', ')}`)
  }
  const best = candidates[0]
  const price = best.price_monthly !== undefined ? `, $${best.price_monthly}/mo` : ''
  return {
    slug: best.slug,
    memory_mb: best.memory,
    note: `size ${size} → ${best.slug} (cheapest with ${memoryText(mb)}${where}: ${best.vcpus} vCPU${best.vcpus === 1 ? '' : 's'}${price})`,
  }
}

function memoryWord(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024}gb` : `${mb}mb`
}

function memoryText(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`
}

const SIZE_CACHE_MS = 24 * 3600_000

interface CachedSize {
  slug: string
  memory_mb: number | null
  note: string | null
  at: string
}

/** plan() resolves SIZE (a day's cache in state.json first); create() writes the mappings plan() looked up. */
export class SizeLookup {
  private update: Record<string, CachedSize> | null = null

  constructor(private readonly scope: DoScope) {}

  async resolve(size: string, region: string, signal?: AbortSignal): Promise<SizeChoice> {
    const key = `${size}@${region}`
    const cache = {...((this.scope.cluster.state.read().provider.do_sizes ?? {}) as Record<string, CachedSize>)}
    const hit = cache[key]
    if (hit && Date.now() - Date.parse(hit.at) < SIZE_CACHE_MS) return hit
    const sizes = await this.scope.api.listAll<DoSize>('list sizes', 'sizes', (c, page) => c.size.listSizes({page, per_page: PER_PAGE}), signal)
    const choice = chooseSize(size, sizes, region)
    for (const [k, v] of Object.entries(cache)) if (Date.now() - Date.parse(v.at) >= SIZE_CACHE_MS) delete cache[k]
    cache[key] = {slug: choice.slug, memory_mb: choice.memory_mb, note: choice.note, at: new Date().toISOString()}
    this.update = cache
    return choice
  }

  save(): void {
    const cache = this.update
    if (!cache) return
    this.scope.cluster.state.update((s) => {
      s.provider.do_sizes = cache
    })
    this.update = null
  }
}

/**
 * vCPUs of the basic droplet chooseSize picks for a memory size (DigitalOcean's price list), for `belt up`'s advice
 * without an API call; the live /v2/sizes answer is authoritative when a droplet is created.
 */
const BASIC_VCPUS_BY_MEMORY: Record<number, number> = {512: 1, 1024: 1, 2048: 1, 4096: 2, 8192: 4, 16384: 8, 32768: 8, 65536: 16}

/** vCPUs of a size as `belt create` takes it (s-4vcpu-8gb, c-16, g-8vcpu-32gb, 8gb), or null when unknown. */
export function vcpusOf(size: string): number | null {
  const s = size.trim().toLowerCase()
  const named = /(?:^|-)(\d+)vcpu(?:-|$)/.exec(s) ?? /^(?:c|c2|m|m3|g|gd|so|so1_5)-(\d+)$/.exec(s)
  if (named) return Number(named[1])
  const mb = parseMemorySize(s)
  return mb === null ? null : BASIC_VCPUS_BY_MEMORY[mb] ?? null
}
