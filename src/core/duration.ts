// Durations for flags such as --timeout: 90 (seconds), 30s, 15m, 1h, 1h30m.
import {UsageError} from './errors.js'

export function parseDuration(text: string, flag: string): number {
  const s = text.trim()
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
  let total = 0
  let consumed = 0
  for (const m of s.matchAll(re)) {
    if (m.index !== consumed) break
    consumed += m[0].length
    const n = Number(m[1])
    total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000
  }
  if (consumed !== s.length || s.length === 0) throw new UsageError(`${flag}: invalid duration '${text}' (use e.g. 90s, 15m, 1h)`)
  return Math.round(total)
}
