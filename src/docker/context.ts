// The docker CLI's context for a cluster, `belt-<cluster>`: made, updated, selected and removed by running the real
// `docker context` commands (argv arrays, never a shell), so docker keeps its own store (DOCKER_CONFIG) as it always
// does and copies the client key there itself. The cluster id in the context's description marks it as this
// cluster's: a context of the same name made by another project (every `.belt.yml` cluster is `default`) or by hand
// is never changed without --force.
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterId} from '../core/config/identity.js'
import {PartialFailure, UsageError} from '../core/errors.js'
import {providerFor} from '../providers/index.js'
import {addressProblem} from '../providers/provider.js'
import {DOCKER_TLS_PORT} from './engine-api.js'
import {dockerAddress} from './provision.js'
import {clusterTlsPaths, type ClusterTlsPaths} from './tls.js'

/** `docker context` only touches files on this machine; a docker that takes longer is stuck, not busy. */
const DOCKER_TIMEOUT_MS = 30_000

export function contextName(cluster: {name: string}): string {
  return `belt-${cluster.name}`
}

export function contextDescription(cluster: {name: string}, id: string): string {
  return `belt cluster ${cluster.name} (cluster_id ${id})`
}

/** The cluster id a context's description names, or null for a context belt did not make. */
export function contextClusterId(description: string): string | null {
  return /\(cluster_id ([0-9a-f]{16,64})\)/.exec(description)?.[1] ?? null
}

/** docker reads `--docker` as one CSV record: a field holding a comma or a quote is quoted, its quotes doubled. */
export function csvField(field: string): string {
  return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field
}

export function tcpHost(address: string): string {
  return `tcp://${address.includes(':') ? `[${address}]` : address}:${DOCKER_TLS_PORT}`
}

export function dockerEndpoint(host: string, paths: Pick<ClusterTlsPaths, 'ca' | 'cert' | 'key'>): string {
  return [`host=${host}`, `ca=${paths.ca}`, `cert=${paths.cert}`, `key=${paths.key}`].map(csvField).join(',')
}

/** One line of `docker context ls --format '{{json .}}'`. */
export interface DockerContext {
  Name: string
  Description: string
  DockerEndpoint: string
  Current: boolean
}

export interface ContextResult {
  context: string
  node: string
  host: string
  action: 'created' | 'updated'
  /** --use switched docker to it. */
  current: boolean
  /** What docker warned about (DOCKER_HOST or DOCKER_CONTEXT set in the environment override the current context). */
  warnings: string[]
}

export interface ContextRemoval {
  context: string
  action: 'removed' | 'absent'
  /** It was docker's current context; docker is back on `default`. */
  wasCurrent: boolean
}

/**
 * Create or update `belt-<cluster>` for NODE (default: the active node; `swarm init` makes the manager active) with
 * the cluster's TLS material, and with `use` make it docker's current context. Everything that can refuse (no node,
 * no certificates, a context of another cluster) is checked before anything is written.
 */
export async function writeContext(cluster: Cluster, opts: {node?: string; use?: boolean; force?: boolean} = {}): Promise<ContextResult> {
  const node = opts.node ?? cluster.state.read().active_node
  if (!node) throw new UsageError(`cluster '${cluster.name}' has no active node; name one (belt context NODE) or set it with: belt active NODE`)
  const provider = await providerFor(cluster)
  const {found} = await provider.endpoints([node])
  if (!found.length) throw new UsageError(`unknown node '${node}' in cluster '${cluster.name}'`)
  const noAddress = addressProblem(found[0])
  if (noAddress) throw new PartialFailure(`${node}: ${noAddress}; wait for it (belt status --wait active=N) and try again`)
  const paths = clusterTlsPaths(cluster)
  for (const f of [paths.ca, paths.cert, paths.key]) {
    if (!existsSync(f)) {
      throw new UsageError(`cluster '${cluster.name}' has no TLS certificates yet (${f} is missing); run: belt provision ${node}`)
    }
  }

  const name = contextName(cluster)
  const existing = await findContext(name)
  if (existing) refuseForeign(existing, cluster.id, opts.force, 'overwrites')
  const id = ensureClusterId(cluster)
  const host = tcpHost(dockerAddress(found[0]))
  const description = contextDescription(cluster, id)
  await docker(['context', existing ? 'update' : 'create', name, '--description', description, '--docker', dockerEndpoint(host, paths)])
  const warnings: string[] = []
  if (opts.use) warnings.push(...warningLines((await docker(['context', 'use', name])).stderr))
  return {context: name, node, host, action: existing ? 'updated' : 'created', current: !!opts.use, warnings}
}

/** `belt context --rm`: remove `belt-<cluster>`; one of another cluster only with `force`. */
export async function removeContext(cluster: Cluster, opts: {force?: boolean} = {}): Promise<ContextRemoval> {
  const name = contextName(cluster)
  const existing = await findContext(name)
  if (!existing) return {context: name, action: 'absent', wasCurrent: false}
  refuseForeign(existing, cluster.id, opts.force, 'removes')
  // -f: docker refuses to remove its current context without it, and then falls back to `default`.
  await docker(['context', 'rm', '--force', name])
  return {context: name, action: 'removed', wasCurrent: existing.Current}
}

/**
 * For `cluster rm`: remove the cluster's context when it is this cluster's, and say so; otherwise leave it. Never
 * throws: the cluster is gone already, and a machine without the docker CLI has no context to remove.
 */
export async function forgetContext(cluster: Cluster): Promise<string | null> {
  const name = contextName(cluster)
  try {
    const existing = await findContext(name)
    if (!existing || !cluster.id || contextClusterId(existing.Description) !== cluster.id) return null
    await docker(['context', 'rm', '--force', name])
    const current = existing.Current ? ' (it was docker\'s current context; docker uses \'default\' now)' : ''
    return `removed docker context '${name}'${current}`
  } catch (err) {
    if (err instanceof UsageError) return null
    return `warning: docker context '${name}' was not removed: ${(err as Error).message}`
  }
}

function refuseForeign(existing: DockerContext, id: string | null, force: boolean | undefined, verb: 'overwrites' | 'removes'): void {
  const owner = contextClusterId(existing.Description)
  if (force || (owner !== null && owner === id)) return
  throw new UsageError(owner
    ? `docker context '${existing.Name}' belongs to another belt cluster (cluster_id ${owner}); --force ${verb} it`
    : `docker context '${existing.Name}' was not made by belt for this cluster; --force ${verb} it`)
}

export async function findContext(name: string): Promise<DockerContext | null> {
  const {stdout} = await docker(['context', 'ls', '--format', '{{json .}}'])
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue
    const c = JSON.parse(line) as DockerContext
    if (c.Name !== name) continue
    return {Name: c.Name, Description: c.Description ?? '', DockerEndpoint: c.DockerEndpoint ?? '', Current: !!c.Current}
  }
  return null
}

function warningLines(stderr: string): string[] {
  return stderr.split('\n').map((l) => l.trim()).filter((l) => /^warning\b/i.test(l)).map((l) => l.replace(/^warning:\s*/i, ''))
}

/** Run the docker CLI; a missing one is a setup problem (exit 2), a failing one names its command and reason (exit 1). */
function docker(args: string[]): Promise<{stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    execFile('docker', args, {timeout: DOCKER_TIMEOUT_MS, maxBuffer: 16 << 20}, (err, stdout, stderr) => {
      if (!err) return resolve({stdout, stderr})
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(new UsageError('the docker CLI is not installed (or not on PATH); belt context runs `docker context`'))
      }
      const reason = String(stderr).trim().split('\n').filter(Boolean).pop() ?? (err.killed ? 'timed out' : err.message)
      reject(new PartialFailure(`docker ${args.slice(0, 2).join(' ')} failed: ${reason}`))
    })
  })
}
