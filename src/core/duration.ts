// Durations for flags such as --timeout: 90 (seconds), 30s, 15m, 1h, 1h30m. Bounded: more than a day is a typo
// (and Node's timers overflow above 24.8 days, firing at once), zero or less leaves no time for anything.
import {UsageError} from './errors.js'

export const MAX_DURATION_MS = 24 * 3_600_000

export function parseDuration(text: string, flag: string): number {
  const s = text.trim()
  let total = 0
  if (/^\d+(\.\d+)?$/.test(s)) total = Number(s) * 1000
  else {
    const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g
    let consumed = 0
    for (const m of s.matchAll(re)) {
      if (m.index !== consumed) break
      consumed += m[0].length
      const n = Number(m[1])
      total += m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n * 3_600_000
    }
    if (consumed !== s.length || s.length === 0) throw new UsageError(`${flag}: invalid duration '${text}' (use e.g. 90s, 15m, 1h)`)
  }
  const ms = Math.round(total)
  if (ms > MAX_DURATION_MS) throw new UsageError(`${flag}: ${s} is more than 24h`)
  if (ms <= 0) throw new UsageError(`${flag}: ${s} leaves no time; give a duration above 0 (e.g. 90s, 15m, 1h)`)
  return ms
}
