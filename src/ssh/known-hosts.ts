// Host keys per cluster: .belt/<cluster>/known_hosts in OpenSSH's format (`host keytype base64`, `[host]:port` when
// the port is not 22, hashed `|1|salt|hash` entries and wildcards understood when the user copied lines in).
// Read once per run; new keys are appended as they are met (one small O_APPEND write per new host).
import {createHash, createHmac} from 'node:crypto'
import {appendFileSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {dirname} from 'node:path'
import {writeFileAtomic} from '../core/config/atomic.js'

export type StrictHostKeyChecking = 'accept-new' | 'yes' | 'no'

export interface KnownKey {
  /** 1-based line number in the file. */
  line: number
  type: string
  key: Buffer
  revoked: boolean
}

export type HostKeyVerdict =
  | {status: 'match'}
  | {status: 'unknown'}
  | {status: 'changed'; known: KnownKey[]}
  | {status: 'revoked'; known: KnownKey}

interface PatternEntry {
  patterns: string[]
  entry: KnownKey
}

/** `host` for port 22, else `[host]:port`, as OpenSSH writes it. */
export function hostToken(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

/** SHA256 fingerprint as OpenSSH prints it: `SHA256:` + unpadded base64. */
export function fingerprint(key: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(key).digest('base64').replace(/=+$/, '')
}

/** The algorithm name at the start of an SSH public key blob (`ssh-ed25519`, `ecdsa-sha2-nistp256`, ...). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown'
  const len = blob.readUInt32BE(0)
  if (len > 64 || 4 + len > blob.length) return 'unknown'
  return blob.toString('latin1', 4, 4 + len)
}

export class KnownHosts {
  readonly path: string
  private exact = new Map<string, KnownKey[]>()
  private patterned: PatternEntry[] = []
  private hashed: {salt: Buffer; hash: Buffer; entry: KnownKey}[] = []
  private lines = 0

  /** `beforeWrite` runs once before the first write (e.g. to create the cluster folder and .belt/.gitignore). */
  constructor(path: string, private beforeWrite?: () => void) {
    this.path = path
    this.load()
  }

  private load(): void {
    this.exact.clear()
    this.patterned = []
    this.hashed = []
    this.lines = 0
    if (!existsSync(this.path)) return
    const text = readFileSync(this.path, 'utf8')
    const lines = text.split('\n')
    this.lines = text.endsWith('\n') ? lines.length - 1 : lines.length
    for (let i = 0; i < lines.length; i++) {
      const raw = lines[i].trim()
      if (!raw || raw.startsWith('#')) continue
      const fields = raw.split(/\s+/)
      let marker: string | null = null
      if (fields[0].startsWith('@')) marker = fields.shift()!
      if (marker === '@cert-authority' || fields.length < 3) continue
      const [hosts, type, b64] = fields
      const entry: KnownKey = {line: i + 1, type, key: Buffer.from(b64, 'base64'), revoked: marker === '@revoked'}
      if (hosts.startsWith('|1|')) {
        const [, , salt, hash] = hosts.split('|')
        if (salt && hash) this.hashed.push({salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64'), entry})
        continue
      }
      const patterns = hosts.split(',')
      if (patterns.some((p) => /[*?!]/.test(p))) {
        this.patterned.push({patterns, entry})
        continue
      }
      for (const p of patterns) {
        const list = this.exact.get(p)
        if (list) list.push(entry)
        else this.exact.set(p, [entry])
      }
    }
  }

  /** Every key recorded for host:port (exact, hashed and wildcard entries). */
  lookup(host: string, port: number): KnownKey[] {
    const token = hostToken(host, port)
    const found = [...(this.exact.get(token) ?? [])]
    for (const h of this.hashed) {
      if (createHmac('sha1', h.salt).update(token).digest().equals(h.hash)) found.push(h.entry)
    }
    for (const p of this.patterned) if (matchesPatterns(token, p.patterns)) found.push(p.entry)
    return found
  }

  /** Key types known for host:port, to offer them first (as OpenSSH does) so a host presents the recorded key. */
  knownTypes(host: string, port: number): string[] {
    return [...new Set(this.lookup(host, port).filter((k) => !k.revoked).map((k) => k.type))]
  }

  check(host: string, port: number, key: Buffer): HostKeyVerdict {
    const known = this.lookup(host, port)
    const revoked = known.find((k) => k.revoked && k.key.equals(key))
    if (revoked) return {status: 'revoked', known: revoked}
    const valid = known.filter((k) => !k.revoked)
    if (valid.length === 0) return {status: 'unknown'}
    if (valid.some((k) => k.key.equals(key))) return {status: 'match'}
    return {status: 'changed', known: valid}
  }

  /** Record a key met for the first time. */
  add(host: string, port: number, key: Buffer): void {
    // A line with an empty host would match nothing OpenSSH writes and hide a blind dial: refuse it.
    if (host.trim() === '') throw new Error('refusing to record a host key for an empty host name')
    const token = hostToken(host, port)
    const line = `${token} ${keyType(key)} ${key.toString('base64')}\n`
    if (this.beforeWrite) {
      this.beforeWrite()
      this.beforeWrite = undefined
    }
    if (!existsSync(this.path)) mkdirSync(dirname(this.path), {recursive: true})
    appendFileSync(this.path, line, {mode: 0o644})
    this.lines++
    const entry: KnownKey = {line: this.lines, type: keyType(key), key, revoked: false}
    const list = this.exact.get(token)
    if (list) list.push(entry)
    else this.exact.set(token, [entry])
  }

  /**
   * A host that came back at another address (an EC2 instance stopped and started): its pinned keys now name the new
   * address, and the old address is forgotten (it may be handed to someone else's host). Returns the keys moved.
   */
  move(from: {host: string; port: number}, to: {host: string; port: number}): number {
    const keys = this.lookup(from.host, from.port).filter((k) => !k.revoked)
    if (keys.length === 0 || to.host.trim() === '') return 0
    this.forgetMany([from, to])
    const seen = new Set<string>()
    for (const k of keys) {
      const id = k.key.toString('base64')
      if (seen.has(id)) continue
      seen.add(id)
      this.add(to.host, to.port, k.key)
    }
    return seen.size
  }

  /** Remove every line naming host:port (plain or hashed); returns how many were removed. */
  forget(host: string, port: number): number {
    return this.forgetMany([{host, port}])
  }

  /** forget() for many hosts in one read and one write (e.g. after removing 2,000 nodes). */
  forgetMany(targets: readonly {host: string; port: number}[]): number {
    const named = targets.filter((t) => t.host.trim() !== '')
    if (!existsSync(this.path) || named.length === 0) return 0
    const tokens = new Set(named.map((t) => hostToken(t.host, t.port)))
    const lines = readFileSync(this.path, 'utf8').split('\n')
    let removed = 0
    const kept: string[] = []
    for (const line of lines) {
      if (lineNamesAny(line, tokens)) {
        removed++
        continue
      }
      kept.push(line)
    }
    if (removed > 0) {
      writeFileAtomic(this.path, kept.join('\n'), 0o644)
      this.load()
    }
    return removed
  }
}

function lineNamesAny(line: string, tokens: Set<string>): boolean {
  const raw = line.trim()
  if (!raw || raw.startsWith('#')) return false
  const fields = raw.split(/\s+/)
  if (fields[0].startsWith('@')) fields.shift()
  const hosts = fields[0] ?? ''
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|')
    if (!salt || !hash) return false
    const s = Buffer.from(salt, 'base64')
    const h = Buffer.from(hash, 'base64')
    for (const token of tokens) if (createHmac('sha1', s).update(token).digest().equals(h)) return true
    return false
  }
  return hosts.split(',').some((h) => tokens.has(h))
}

function matchesPatterns(token: string, patterns: string[]): boolean {
  let matched = false
  for (const p of patterns) {
    const negated = p.startsWith('!')
    const re = globToRegExp(negated ? p.slice(1) : p)
    if (re.test(token)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')
  return new RegExp(`^${body}$`)
}
