// Where output goes: results on stdout, everything else (progress, hints, warnings) on stderr (CONTRACT §4).
import type {NodeInfo} from '../providers/provider.js'
import {type Column, DEFAULT_CHOICE, renderTable, type TableChoice} from './columns.js'

export {table} from './columns.js'

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

/** The table every list command prints (ls, create): CONTRACT §4's node fields, the default ones first. */
export const NODE_COLUMNS: Column<NodeInfo>[] = [
  {key: 'name', head: 'NAME', value: (n) => n.name},
  {key: 'id', head: 'ID', value: (n) => n.id},
  {key: 'status', head: 'STATUS', value: (n) => n.status},
  {key: 'public_ip', head: 'PUBLIC IPV4', value: (n) => n.public_ip},
  {key: 'private_ip', head: 'PRIVATE IPV4', value: (n) => n.private_ip},
  {key: 'memory', head: 'MEMORY', value: (n) => (n.memory_mb === null ? null : formatMemory(n.memory_mb))},
  {key: 'region', head: 'REGION', value: (n) => n.region},
  {key: 'size', head: 'SIZE', value: (n) => n.size, extra: true},
  {key: 'provider_status', head: 'PROVIDER STATUS', value: (n) => n.provider_status, extra: true},
  {key: 'tags', head: 'TAGS', value: (n) => n.tags.join(',') || null, extra: true},
]

export function nodesTable(nodes: NodeInfo[], choice: TableChoice = DEFAULT_CHOICE): string {
  return renderTable(NODE_COLUMNS, nodes, choice)
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
