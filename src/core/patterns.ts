// Names back into patterns, the inverse of range.ts: w1..w40,x3 → 'w[1:40],x3'. Pure, no I/O. Used where belt
// suggests a command over exactly a set of names (the interrupted-create hint) without listing hundreds of them.

const NUMBERED = /^(.*?)(\d+)$/

/** A comma list of patterns that expands (range.ts) to exactly these names. Runs of 3 or more become a range. */
export function toPatterns(names: readonly string[]): string {
  const groups = new Map<string, {prefix: string; width: number; numbers: number[]}>()
  const plain: string[] = []
  for (const name of new Set(names)) {
    const m = NUMBERED.exec(name)
    if (!m || m[2].length > 15) {
      plain.push(name)
      continue
    }
    // w001 comes from w[001:…] (zero padding from the start bound's width); w100 and w7 from an unpadded range.
    const width = m[2].length > 1 && m[2].startsWith('0') ? m[2].length : 0
    const key = `${m[1]}\u0000${width}`
    const g = groups.get(key) ?? {prefix: m[1], width, numbers: []}
    g.numbers.push(Number(m[2]))
    groups.set(key, g)
  }
  const parts: {first: string; text: string}[] = plain.map((n) => ({first: n, text: n}))
  for (const g of groups.values()) {
    const fmt = (n: number) => g.prefix + (g.width ? String(n).padStart(g.width, '0') : String(n))
    const nums = g.numbers.sort((a, b) => a - b)
    for (let i = 0; i < nums.length;) {
      let j = i
      while (j + 1 < nums.length && nums[j + 1] === nums[j] + 1) j++
      const run = nums.slice(i, j + 1)
      const text = run.length >= 3 ? `${g.prefix}[${fmt(run[0]).slice(g.prefix.length)}:${run.at(-1)}]` : run.map(fmt).join(',')
      parts.push({first: fmt(run[0]), text})
      i = j + 1
    }
  }
  return parts.sort((a, b) => a.first.localeCompare(b.first, 'en', {numeric: true})).map((p) => p.text).join(',')
}
