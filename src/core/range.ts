// Name patterns: `node[1:4]` → node1..node4, `w[001:120]` zero-padded, comma lists `mg0,w[1:3]`.
// Pure: no I/O. Errors are UsageErrors that name the offending pattern.
import {UsageError} from './errors.js'

const RANGE = /\[([^\[\]]*)\]/

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

/** DigitalOcean's droplet-name rule (also a sane default for any hostname-like node name). */
const DO_NAME = /^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$/
export function validateHostname(name: string, pattern: string): void {
  if (name.length > 255 || !DO_NAME.test(name)) {
    throw new UsageError(`invalid node name '${name}' from pattern '${pattern}': use letters, digits, '.' and '-', ending in a letter or digit (at most 255 characters)`)
  }
}
