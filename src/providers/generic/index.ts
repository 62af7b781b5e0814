// The generic driver: machines you already have, listed in config.yml (`hosts: {name: address}` or a map with
// address, private_address, user, port, ssh_key). belt never creates or deletes them; `ls` probes each SSH port.
import {pollScheduleFromEnv, waitForNodes} from '../wait.js'
import {connect} from 'node:net'
import {homedir} from 'node:os'
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'
import {validateHostname} from '../../core/range.js'
import type {CreateOptions, CreatePlan, CreateResult, NodeInfo, Provider, RemoveResult, SshEndpoint, WaitOptions} from '../provider.js'

/** One host of the template, with the block's defaults applied. */
export interface GenericHost {
  name: string
  address: string
  private_address: string | null
  user: string
  port: number
  ssh_key: string | null
  ssh_jump?: string
}

const PROBE_TIMEOUT_MS = 2_000
const PROBE_CONCURRENCY = 256

export class GenericProvider implements Provider {
  readonly driver = 'generic' as const

  constructor(readonly cluster: Cluster<'generic'>) {}

  /** The template's names are host names (checked when config.yml is read); a pattern naming anything else is refused. */
  validateName(name: string, pattern: string): void {
    validateHostname(name, pattern)
  }

  hosts(): GenericHost[] {
    const {hosts, ssh_user: user, ssh_port: port} = this.cluster.settings
    // Each entry was checked when config.yml was read: an address, or a map with an address (schema.ts).
    return Object.entries(hosts ?? {}).map(([name, h]) => {
      if (typeof h === 'string' || typeof h === 'number') {
        return {name, address: String(h), private_address: null, user, port, ssh_key: null}
      }
      const m = (h ?? {}) as Record<string, unknown>
      return {
        name,
        address: String(m.address),
        private_address: m.private_address === undefined || m.private_address === null ? null : String(m.private_address),
        user: m.user === undefined || m.user === null ? user : String(m.user),
        port: m.port === undefined || m.port === null ? port : Number(m.port),
        ssh_key: typeof m.ssh_key === 'string' && m.ssh_key ? expandHome(m.ssh_key) : null,
        ...(typeof m.ssh_jump === 'string' && m.ssh_jump ? {ssh_jump: m.ssh_jump} : {}),
      }
    })
  }

  async plan(_opts: CreateOptions): Promise<CreatePlan> {
    throw new UsageError('the generic driver uses the hosts in config.yml: add one with belt cluster update hosts.NAME=ADDRESS')
  }

  async create(_opts: CreateOptions, _plan: CreatePlan): Promise<CreateResult> {
    throw new UsageError('the generic driver uses the hosts in config.yml: add one with belt cluster update hosts.NAME=ADDRESS')
  }

  async list(opts: {signal?: AbortSignal} = {}): Promise<NodeInfo[]> {
    const limit = pLimit(PROBE_CONCURRENCY)
    return Promise.all(this.hosts().map((h) => limit(async () => {
      // Behind a bastion the port cannot be probed from here (only through it, over SSH): listed as it is written.
      const jump = h.ssh_jump ?? this.cluster.settings.ssh_jump
      const probe = jump ? 'behind' : opts.signal?.aborted ? 'not probed (interrupted)' : await probeTcp(h.address, h.port, PROBE_TIMEOUT_MS)
      return {
        name: h.name,
        id: null,
        status: probe === 'open' || probe === 'behind' ? 'active' : 'unreachable',
        provider_status: probe === 'behind' ? `not probed: behind the bastion ${jump}`
          : probe === 'open' ? `ssh port ${h.port} open` : `ssh port ${h.port}: ${probe}`,
        public_ip: h.address,
        private_ip: h.private_address,
        region: null,
        size: null,
        memory_mb: null,
        tags: [],
      } satisfies NodeInfo
    })))
  }

  async wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}> {
    return waitForNodes((signal) => this.list({signal}), opts, pollScheduleFromEnv({intervalMs: 1_000}))
  }

  async remove(): Promise<RemoveResult> {
    throw new UsageError('the generic driver does not remove machines: take a host out of config.yml with belt cluster update hosts.NAME=')
  }

  async endpoints(names: string[]): Promise<{found: SshEndpoint[]; missing: string[]}> {
    const byName = new Map(this.hosts().map((h) => [h.name, h]))
    const found: SshEndpoint[] = []
    const missing: string[] = []
    for (const name of names) {
      const h = byName.get(name)
      if (!h) {
        missing.push(name)
        continue
      }
      found.push({
        name, host: h.address, port: h.port, user: h.user, private_ip: h.private_address, public_ip: h.address,
        ...(h.ssh_key ? {keyPath: h.ssh_key} : {}),
        ...(h.ssh_jump ? {jump: h.ssh_jump} : {}),
      })
    }
    return {found, missing}
  }
}

function expandHome(path: string): string {
  return path === '~' ? homedir() : path.replace(/^~(?=\/)/, homedir())
}

/** TCP connect to the SSH port: 'open', or why not (refused, timeout, no route, DNS). */
export function probeTcp(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({host, port})
    const done = (result: string) => {
      clearTimeout(timer)
      socket.removeAllListeners()
      socket.on('error', () => {})
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done(`no answer within ${timeoutMs / 1000} s`), timeoutMs)
    socket.once('connect', () => done('open'))
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const why: Record<string, string> = {
        ECONNREFUSED: 'connection refused', EHOSTUNREACH: 'no route to host', ENETUNREACH: 'network unreachable',
        ENOTFOUND: 'unknown host name', EAI_AGAIN: 'name lookup failed',
      }
      done(why[err.code ?? ''] ?? err.message)
    })
  })
}
