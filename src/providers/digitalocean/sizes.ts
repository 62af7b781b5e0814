// SIZE on the command line → a DigitalOcean size slug. Slugs (s-1vcpu-1gb) pass through after a check against
// /v2/sizes; the book's memory sizes (512mb, 8192MB, 1gb, 2GB) map to the cheapest available slug with exactly that
// much memory in the region (ties: fewer vCPUs, then the slug's name). Pure: the caller fetches and caches.
import {UsageError} from '../../core/errors.js'

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
    throw new UsageError(`unknown size '${size}': give a DigitalOcean slug${some.length ? ` (e.g. ${some.join(', ')})` : ''} or a memory size such as 512mb, 1gb, 8192MB`)
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
