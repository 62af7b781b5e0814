// SIZE for the ec2 driver: an instance type passes through (`t3.small`, `m5.large`); the book's memory sizes
// (`512mb`, `1gb`, `8192MB`) map to the burstable t3 type with that memory. memory_mb of common types is built in
// (EC2's DescribeInstanceTypes would cost a call per listing; unknown types show null).
import {UsageError} from '../../core/errors.js'

/** Memory size (MB) → the t3 type with exactly that memory (t3 has 2 vCPUs up to xlarge, 8 at 2xlarge). */
const T3_BY_MEMORY: [number, string, number][] = [
  [512, 't3.nano', 2],
  [1024, 't3.micro', 2],
  [2048, 't3.small', 2],
  [4096, 't3.medium', 2],
  [8192, 't3.large', 2],
  [16384, 't3.xlarge', 4],
  [32768, 't3.2xlarge', 8],
]

const BURSTABLE: Record<string, number> = {nano: 512, micro: 1024, small: 2048, medium: 4096, large: 8192, xlarge: 16384, '2xlarge': 32768}

/** GiB per vCPU of the general (m), compute (c) and memory (r) families: large = 2 vCPUs, Nxlarge = 4N vCPUs. */
const GIB_PER_VCPU: Record<string, number> = {c: 2, m: 4, r: 8}
const FAMILIES = ['5', '5a', '5n', '5d', '6i', '6a', '6g', '6gd', '6id', '7i', '7a', '7g', '7gd', '8g']

export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/
const MEMORY = /^(\d+(?:\.\d+)?)\s*(mb|mib|m|gb|gib|g)$/i

/** Memory in MB of common instance types; null when the table does not know the type. */
export function memoryOf(type: string | null | undefined): number | null {
  if (!type) return null
  const [family, size] = type.split('.')
  if (['t2', 't3', 't3a', 't4g'].includes(family)) return BURSTABLE[size] ?? null
  const m = /^([cmr])(\d+[a-z]*)$/.exec(family)
  if (!m || !FAMILIES.includes(m[2])) return null
  const perVcpu = GIB_PER_VCPU[m[1]]
  if (size === 'medium') return /^[678]/.test(m[2]) && /[ag]/.test(m[2]) ? perVcpu * 1024 : null
  if (size === 'large') return perVcpu * 2 * 1024
  const x = /^(\d*)xlarge$/.exec(size)
  if (!x) return null
  return perVcpu * 4 * Number(x[1] || 1) * 1024
}

/** Graviton types need an arm64 image. */
export function architectureOf(type: string): 'x86_64' | 'arm64' {
  return /^(a1|[a-z]+\d+[a-z-]*g[a-z]*)\./.test(type) ? 'arm64' : 'x86_64'
}

export interface ResolvedSize {
  type: string
  memory_mb: number | null
  /** How a memory size was mapped (stderr); null when SIZE was already an instance type. */
  note: string | null
}

export function resolveSize(size: string): ResolvedSize {
  const s = size.trim()
  const mem = MEMORY.exec(s)
  if (mem) {
    const n = Number(mem[1])
    const mb = Math.round(/^g/i.test(mem[2]) ? n * 1024 : n)
    const hit = T3_BY_MEMORY.find(([m]) => m === mb)
    if (!hit) {
      const sizes = T3_BY_MEMORY.map(([m]) => label(m).replace(' ', '').toLowerCase()).join(', ')
      throw new UsageError(`size '${size}': no t3 type has ${mb} MB; use one of ${sizes} or an instance type such as m5.large`)
    }
    return {type: hit[1], memory_mb: hit[0], note: `size ${size} → ${hit[1]} (${label(hit[0])}, ${hit[2]} vCPUs)`}
  }
  if (INSTANCE_TYPE.test(s)) return {type: s, memory_mb: memoryOf(s), note: null}
  throw new UsageError(`size '${size}' is neither an EC2 instance type (t3.small) nor a memory size (512mb, 1gb, 8192MB)`)
}

function label(mb: number): string {
  return mb >= 1024 ? `${mb / 1024} GB` : `${mb} MB`
}

/** vCPUs of an instance type or memory size as `belt create` takes it (t3.large, m5.4xlarge, 8gb), or null when unknown. */
export function vcpusOf(size: string): number | null {
  const s = size.trim()
  const mem = MEMORY.exec(s)
  if (mem) {
    const n = Number(mem[1])
    const mb = Math.round(/^g/i.test(mem[2]) ? n * 1024 : n)
    return T3_BY_MEMORY.find(([m]) => m === mb)?.[2] ?? null
  }
  if (!INSTANCE_TYPE.test(s)) return null
  const [family, kind] = s.split('.')
  if (['t2', 't3', 't3a', 't4g'].includes(family)) {
    const t3 = T3_BY_MEMORY.find(([, type]) => type === `t3.${kind}`)
    return t3 ? t3[2] : null
  }
  if (!/^[cmr]\d+[a-z]*$/.test(family)) return null
  if (kind === 'medium') return 1
  if (kind === 'large') return 2
  const x = /^(\d*)xlarge$/.exec(kind)
  return x ? 4 * Number(x[1] || 1) : null
}
