// Everything a command needs for SSH in one run, built once from the resolved cluster: credentials (keys parsed
// once), the cluster's known_hosts, strict_host_key_checking, and the fleet runner bound to them. Building one also
// installs the fenced ssh2 speed-ups (ssh2-speedups.ts), which check ssh2's internals before touching them.
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import type {SshEndpoint} from '../providers/provider.js'
import {Credentials} from './auth.js'
import {runFleet} from './fleet.js'
import {clusterKeyPaths} from './keys.js'
import {KnownHosts, type StrictHostKeyChecking} from './known-hosts.js'
import {openSession, SshConnectError, type HostKeyProblem, type SessionSettings} from './session.js'
import {installSsh2Speedups} from './ssh2-speedups.js'
import {JumpHost, jumpSpec, routedEndpoint} from './jump.js'
import {addressProblem} from '../providers/provider.js'
import type {Duplex} from 'node:stream'
import type {ConnectOptions, FleetOptions, FleetRun, SshContext, SshSession} from './types.js'

export interface SshContextOptions {
  /** Time allowed for TCP connect + SSH handshake + login. Default 20 s. */
  connectTimeoutMs?: number
  keepaliveMs?: number
  /** Warnings worth telling the user (stderr), e.g. a changed key accepted under strict_host_key_checking: no. */
  onWarning?: (message: string) => void
  env?: NodeJS.ProcessEnv
}

export class BeltSshContext implements SshContext {
  readonly knownHosts: KnownHosts
  readonly credentials: Credentials
  readonly strict: StrictHostKeyChecking
  /** Host-key refusals met in this run, for one OpenSSH-style warning each at the end. */
  readonly hostKeyProblems: HostKeyProblem[] = []
  private readonly settings: SessionSettings

  constructor(readonly cluster: Cluster, opts: SshContextOptions = {}) {
    installSsh2Speedups()
    const strict = String(cluster.settings.strict_host_key_checking ?? 'accept-new')
    this.strict = (['accept-new', 'yes', 'no'].includes(strict) ? strict : 'accept-new') as StrictHostKeyChecking
    const sshKey = typeof cluster.settings.ssh_key === 'string' && cluster.settings.ssh_key ? cluster.settings.ssh_key : null
    const clusterKey = clusterKeyPaths(cluster).privatePath
    this.credentials = new Credentials({sshKey, clusterKeyPath: existsSync(clusterKey) ? clusterKey : null, env: opts.env})
    this.knownHosts = new KnownHosts(join(cluster.dir, 'known_hosts'), () => ensureClusterDir(cluster))
    this.settings = {
      credentials: this.credentials,
      knownHosts: this.knownHosts,
      strict: this.strict,
      connectTimeoutMs: opts.connectTimeoutMs ?? 20_000,
      keepaliveMs: opts.keepaliveMs ?? 15_000,
      onWarning: opts.onWarning,
    }
  }

  /** Bastions of this run by `ssh_jump` value: one connection each, shared by every node behind it (jump.ts). */
  readonly jumps = new Map<string, JumpHost>()

  /** The jump host `endpoint` is reached through (its own `jump`, else the cluster's ssh_jump), or null. */
  jumpFor(endpoint: SshEndpoint): JumpHost | null {
    const value = endpoint.jump ?? this.cluster.settings.ssh_jump
    if (!value) return null
    let jump = this.jumps.get(value)
    if (!jump) {
      jump = new JumpHost(jumpSpec(value), this.cluster.settings.ssh_user, this.settings)
      this.jumps.set(value, jump)
    }
    return jump
  }

  /** The address belt dials for `endpoint` (ssh_address: private picks the private one). */
  route(endpoint: SshEndpoint): SshEndpoint {
    return routedEndpoint(endpoint, this.cluster.settings.ssh_address)
  }

  /** With a bastion, a TCP connection to the node's host:port through it (the Docker TLS check); null without one. */
  tunnel(endpoint: SshEndpoint): ((port: number, signal?: AbortSignal) => Promise<Duplex>) | null {
    const jump = this.jumpFor(endpoint)
    const ep = this.route(endpoint)
    return jump ? (port, signal) => jump.channelTo(ep.host, port, signal) : null
  }

  async connect(endpoint: SshEndpoint, opts: ConnectOptions = {}): Promise<SshSession> {
    const ep = this.route(endpoint)
    try {
      const jump = addressProblem(ep) ? null : this.jumpFor(ep)
      const sock = jump ? await jump.channelTo(ep.host, ep.port, opts.signal) : undefined
      return await openSession(ep, this.settings, {...opts, sock})
    } catch (err) {
      if (err instanceof SshConnectError && err.hostKey) this.hostKeyProblems.push(err.hostKey)
      throw err
    }
  }

  runFleet<T>(endpoints: SshEndpoint[], task: (session: SshSession, signal: AbortSignal) => Promise<T>, opts: FleetOptions<T>): Promise<FleetRun<T>> {
    return runFleet(endpoints, (ep, o) => this.connect(ep, o), task, opts)
  }

  close(): void {
    for (const j of this.jumps.values()) j.close()
  }
}

export function createSshContext(cluster: Cluster, opts: SshContextOptions = {}): BeltSshContext {
  return new BeltSshContext(cluster, opts)
}
