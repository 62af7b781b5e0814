// Where output goes: results on stdout, everything else (progress, hints, warnings) on stderr (CONTRACT §4).
import type {NodeInfo} from '../providers/provider.js'

export function out(line = ''): void {
  process.stdout.write(line + '\n')
}

/** Text for stdout as it is (a file's content that ends with its own newline). */
export function outText(text: string): void {
  process.stdout.write(text)
}

export function info(line: string): void {
  process.stderr.write(line + '\n')
}

export function warn(line: string): void {
  process.stderr.write(`warning: ${line}\n`)
}

/** After writing a config.yml that holds a secret (store.ts made it 0600). */
export function warnSecretInConfig(path: string, keys: string[]): void {
  if (keys.length === 0) return
  warn(`${path} holds ${keys.join(', ')} and is now mode 0600, but config.yml is meant for git: prefer DIGITALOCEAN_ACCESS_TOKEN`)
}

/** Exactly one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/**
 * Columns two spaces apart, each as wide as its widest cell; no trailing blanks. Linear in the rows (cli-table3's
 * layout took 10 s of CPU for the table of a 5,000-node create).
 */
export function table(head: string[], rows: (string | number | null | undefined)[][]): string {
  const all = [head, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))]
  const width = (text: string) => [...text].length
  const widths: number[] = []
  for (const r of all) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, width(c)) })
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i] - width(c)))).join('  ').trimEnd()).join('\n')
}

export function nodesTable(nodes: NodeInfo[]): string {
  return table(
    ['NAME', 'ID', 'STATUS', 'PUBLIC IPV4', 'PRIVATE IPV4', 'MEMORY', 'REGION'],
    nodes.map((n) => [n.name, n.id, n.status, n.public_ip, n.private_ip, n.memory_mb === null ? null : formatMemory(n.memory_mb), n.region]),
  )
}

export function formatMemory(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GB` : `${mb} MB`
}

/** Natural order: node2 before node10. */
export function byName<T extends {name: string}>(a: T, b: T): number {
  return a.name.localeCompare(b.name, 'en', {numeric: true})
}

/** 'w1,w2,w3,…' cut at about `max` characters on a name boundary: a list of names for one line of text. */
export function shorten(names: string[], max = 60): string {
  const s = names.join(',')
  return s.length <= max ? s : s.slice(0, max - 1).replace(/,[^,]*$/, '') + '…'
}
