// Who belt logs in as: the SSH agent first, then the template's ssh_key, ~/.ssh/id_ed25519, ~/.ssh/id_rsa and the
// cluster's own key. Every key file is read and parsed once per run (not per host); the agent is asked for its
// identities once. Passphrases come from BELT_SSH_PASSPHRASE.
import {existsSync, readFileSync} from 'node:fs'
import {homedir} from 'node:os'
import {resolve} from 'node:path'
import ssh2 from 'ssh2'
import type {BaseAgent as BaseAgentType, ParsedKey, SignCallback, SigningRequestOptions} from 'ssh2'
import {UsageError} from '../core/errors.js'
import {withKeyObject} from './ssh2-speedups.js'

export interface KeySource {
  /** How to name it in messages: "~/.ssh/id_ed25519", "cluster key". */
  label: string
  key: ParsedKey
}

export interface CredentialOptions {
  /** The template's ssh_key (may start with ~). */
  sshKey?: string | null
  /** .belt/<cluster>/ssh/id_ed25519 */
  clusterKeyPath?: string | null
  env?: NodeJS.ProcessEnv
  home?: string
  cwd?: string
}

/** Asks a real agent for its identities once per run; signing still goes to the agent each time. */
class CachedAgent extends (ssh2.BaseAgent as unknown as new () => BaseAgentType) {
  private readonly inner: BaseAgentType
  private identities: Promise<ParsedKey[]> | null = null

  constructor(socketPath: string) {
    super()
    this.inner = new ssh2.OpenSSHAgent(socketPath) as unknown as BaseAgentType
  }

  getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    this.identities ??= new Promise((resolve) => {
      this.inner.getIdentities((err, keys) => resolve(err || !keys ? [] : (keys as ParsedKey[])))
    })
    this.identities.then((keys) => cb(undefined, keys))
  }

  sign(pubKey: ParsedKey, data: Buffer, options: SigningRequestOptions | SignCallback, cb?: SignCallback): void {
    if (typeof options === 'function') this.inner.sign(pubKey, data, options)
    else this.inner.sign(pubKey, data, options, cb)
  }
}

export class Credentials {
  readonly agent: BaseAgentType | null
  readonly keys: KeySource[]
  /** Keys we could not use, with the reason; named when a login fails. */
  readonly skipped: string[]
  private readonly perHost = new Map<string, KeySource | Error>()
  private readonly env: NodeJS.ProcessEnv
  private readonly home: string
  private readonly cwd: string

  constructor(opts: CredentialOptions = {}) {
    this.env = opts.env ?? process.env
    this.home = opts.home ?? this.env.HOME ?? homedir()
    this.cwd = opts.cwd ?? process.cwd()
    const sock = this.env.SSH_AUTH_SOCK
    this.agent = sock && existsSync(sock) ? new CachedAgent(sock) : null
    this.keys = []
    this.skipped = []
    const seen = new Set<string>()
    const candidates: {path: string; label: string; explicit: boolean}[] = []
    if (opts.sshKey) candidates.push({path: this.expand(opts.sshKey), label: opts.sshKey, explicit: true})
    candidates.push({path: resolve(this.home, '.ssh/id_ed25519'), label: '~/.ssh/id_ed25519', explicit: false})
    candidates.push({path: resolve(this.home, '.ssh/id_rsa'), label: '~/.ssh/id_rsa', explicit: false})
    if (opts.clusterKeyPath) candidates.push({path: opts.clusterKeyPath, label: 'cluster key', explicit: false})
    for (const c of candidates) {
      if (seen.has(c.path)) continue
      seen.add(c.path)
      if (!existsSync(c.path)) {
        if (c.explicit) throw new UsageError(`ssh_key: ${c.label} does not exist`)
        continue
      }
      const parsed = this.parseFile(c.path, c.label)
      if (parsed instanceof Error) {
        if (c.explicit) throw new UsageError(`ssh_key: ${parsed.message}`)
        this.skipped.push(parsed.message)
        continue
      }
      this.keys.push(parsed)
    }
  }

  /** A per-host key file (generic driver's hosts.NAME.ssh_key), parsed once however many hosts name it. */
  hostKey(path: string): KeySource | Error {
    const full = this.expand(path)
    let k = this.perHost.get(full)
    if (!k) {
      k = existsSync(full) ? this.parseFile(full, path) : new Error(`ssh key ${path} does not exist`)
      this.perHost.set(full, k)
    }
    return k
  }

  /** "agent, ~/.ssh/id_ed25519, cluster key" — what a failed login tried. */
  describe(extra?: KeySource): string {
    const parts: string[] = []
    if (this.agent) parts.push('ssh-agent')
    if (extra) parts.push(extra.label)
    for (const k of this.keys) parts.push(k.label)
    return parts.length ? parts.join(', ') : 'no keys (no ssh-agent, no ~/.ssh/id_ed25519 or id_rsa, no cluster key)'
  }

  private expand(p: string): string {
    if (p === '~') return this.home
    if (p.startsWith('~/')) return resolve(this.home, p.slice(2))
    return resolve(this.cwd, p)
  }

  private parseFile(path: string, label: string): KeySource | Error {
    let data: Buffer
    try {
      data = readFileSync(path)
    } catch (err) {
      return new Error(`${label}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
    }
    const passphrase = this.env.BELT_SSH_PASSPHRASE
    let parsed = ssh2.utils.parseKey(data, passphrase || undefined)
    if (Array.isArray(parsed)) parsed = parsed[0]
    if (parsed instanceof Error) {
      const msg = parsed.message
      if (/encrypted|passphrase/i.test(msg)) {
        return new Error(passphrase
          ? `${label}: BELT_SSH_PASSPHRASE does not decrypt it`
          : `${label} is encrypted; set BELT_SSH_PASSPHRASE or add it to ssh-agent`)
      }
      return new Error(`${label}: not a private key ssh2 can read (${msg})`)
    }
    if (!parsed.isPrivateKey()) return new Error(`${label}: not a private key`)
    return {label, key: withKeyObject(parsed)}
  }
}

