// Name patterns: `node[1:4]` → node1..node4, `w[001:120]` zero-padded, comma lists `mg0,w[1:3]`.
// Pure: no I/O. Errors are UsageErrors that name the offending pattern.
import {UsageError} from './errors.js'

const RANGE = /\[([^[\]]*)\]/

/** Expand one token (no commas) into names. */
export function expandToken(token: string): string[] {
  const pattern = token.trim()
  if (pattern === '') throw new UsageError(`empty name in pattern '${token}'`)
  const opens = countOf(pattern, '[')
  const closes = countOf(pattern, ']')
  if (opens !== closes) throw new UsageError(`unbalanced brackets in pattern '${pattern}'`)
  if (opens === 0) return [pattern]
  if (opens > 1) throw new UsageError(`pattern '${pattern}' has more than one range; use one range per pattern`)
  const m = RANGE.exec(pattern)
  if (!m) throw new UsageError(`unbalanced brackets in pattern '${pattern}'`)
  const prefix = pattern.slice(0, m.index)
  const suffix = pattern.slice(m.index + m[0].length)
  const bounds = m[1].split(':')
  if (bounds.length !== 2) throw new UsageError(`range in pattern '${pattern}' must be [START:END]`)
  const [a, b] = bounds.map((s) => s.trim())
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) {
    throw new UsageError(`range bounds in pattern '${pattern}' must be non-negative integers`)
  }
  const start = Number(a)
  const end = Number(b)
  if (start > end) throw new UsageError(`range start ${start} is greater than end ${end} in pattern '${pattern}'`)
  if (end - start >= 1_000_000) throw new UsageError(`range in pattern '${pattern}' is larger than 1000000 names`)
  const width = a.length > 1 && a.startsWith('0') ? a.length : 0
  const out = new Array<string>(end - start + 1)
  for (let i = start; i <= end; i++) {
    out[i - start] = prefix + (width ? String(i).padStart(width, '0') : String(i)) + suffix
  }
  return out
}

function countOf(s: string, ch: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) if (s[i] === ch) n++
  return n
}

/** Split comma lists (commas inside brackets are not separators) into tokens. */
export function splitList(arg: string): string[] {
  const tokens: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of arg) {
    if (ch === '[') depth++
    else if (ch === ']') depth--
    if (ch === ',' && depth === 0) {
      tokens.push(cur)
      cur = ''
    } else cur += ch
  }
  tokens.push(cur)
  return tokens
}

/**
 * Expand every argument (each may be a comma list of patterns) into a de-duplicated list of names, in order.
 * `validate` is called once per token's names (providers pass their name rule).
 */
export function expandPatterns(args: readonly string[], validate?: (name: string, pattern: string) => void): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const arg of args) {
    for (const token of splitList(arg)) {
      if (token.trim() === '') throw new UsageError(`empty name in pattern '${arg}'`)
      for (const name of expandToken(token)) {
        if (seen.has(name)) continue
        if (validate) validate(name, token.trim())
        seen.add(name)
        out.push(name)
      }
    }
  }
  return out
}

/** A host-name label (CONTRACT §9): letters, digits and '-', starting and ending with a letter or digit, ≤ 63. */
const LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/
export const MAX_HOSTNAME = 253
const HOSTNAME = new RegExp(`^${LABEL.source.slice(1, -1)}(\\.${LABEL.source.slice(1, -1)})*$`)

/** Why a node name is not a host name, or null when it is one. */
export function hostnameProblem(name: string): string | null {
  // The one-regex test first: patterns expand to 100,000 names, and the reason is only needed for a bad one.
  if (name.length <= MAX_HOSTNAME && HOSTNAME.test(name)) return null
  if (name.startsWith('-')) return "a name cannot start with '-' (flags go before a `--`)"
  if (name.length > MAX_HOSTNAME) return `a host name has at most ${MAX_HOSTNAME} characters, this one ${name.length}`
  for (const label of name.split('.')) {
    if (label === '') return "a host name has no empty part (a leading, trailing or doubled '.')"
    if (label.length > 63) return `each '.'-separated part has at most 63 characters, '${label.slice(0, 12)}…' has ${label.length}`
    if (!LABEL.test(label)) return "use letters, digits and '-' between dots, each part starting and ending with a letter or digit"
  }
  return null
}

/** Node names are host names: droplet and instance names, hostnames of local hosts, certificate names. */
export function validateHostname(name: string, pattern: string): void {
  const problem = hostnameProblem(name)
  if (problem) throw new UsageError(`invalid node name '${name}'${pattern === name ? '' : ` from pattern '${pattern}'`}: ${problem}`)
}
