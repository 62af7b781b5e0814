// Which hosts a command acts on: name patterns → SSH endpoints (in the order given), or the active node.
// Unknown names are a usage error before anything is touched.
import type {Cluster} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {providerFor} from '../providers/index.js'
import type {Provider, SshEndpoint} from '../providers/provider.js'

function listNames(names: string[]): string {
  return `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, … (${names.length} in all)` : ''}`
}

export async function endpointsFor(cluster: Cluster, names: string[], provider?: Provider): Promise<SshEndpoint[]> {
  const p = provider ?? (await providerFor(cluster))
  const {found, missing} = await p.endpoints(names)
  if (missing.length) {
    throw new UsageError(`unknown node${missing.length > 1 ? 's' : ''} ${listNames(missing)} in cluster '${cluster.name}' (belt ls shows its nodes)`)
  }
  const order = new Map(names.map((n, i) => [n, i]))
  return found.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
}

/** Expand patterns ('w[1:9]', 'mg0,w[1:3]') and resolve them. */
export async function endpointsForPatterns(cluster: Cluster, patterns: string[], provider?: Provider): Promise<SshEndpoint[]> {
  const p = provider ?? (await providerFor(cluster))
  const names = expandPatterns(patterns, (n, pat) => p.validateName(n, pat))
  if (names.length === 0) throw new UsageError('no node names given')
  return endpointsFor(cluster, names, p)
}

/** The cluster's active node (`belt active`, set by `belt swarm init`). */
export function activeNodeName(cluster: Cluster, hint: string): string {
  const name = cluster.state.read().active_node
  if (!name) throw new UsageError(`cluster '${cluster.name}' has no active node; ${hint}`)
  return name
}
