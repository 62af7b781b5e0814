// Which hosts a command acts on: name patterns → SSH endpoints (in the order given), the cluster's every node, or the
// active node; and how many of them at once. Unknown names are a usage error before anything is touched.
import type {Cluster} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {providerFor} from '../providers/index.js'
import type {Provider, SshEndpoint} from '../providers/provider.js'

function listNames(names: string[]): string {
  return `${names.slice(0, 5).join(', ')}${names.length > 5 ? `, … (${names.length} in all)` : ''}`
}

/** Endpoints of these names, in their order; any unknown name is a usage error. */
export async function endpointsFor(cluster: Cluster, names: string[], provider?: Provider): Promise<SshEndpoint[]> {
  const p = provider ?? (await providerFor(cluster))
  const {found, missing} = await p.endpoints(names)
  if (missing.length) throw new UsageError(`unknown node${missing.length > 1 ? 's' : ''} ${listNames(missing)} in cluster '${cluster.name}'`)
  const order = new Map(names.map((n, i) => [n, i]))
  return found.sort((a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0))
}

/** Expand patterns ('w[1:9]', 'mg0,w[1:3]'), checking each name against the driver, and resolve them. */
export async function endpointsFrom(cluster: Cluster, patterns: string[], provider?: Provider): Promise<SshEndpoint[]> {
  const p = provider ?? (await providerFor(cluster))
  const names = expandPatterns(patterns, (n, pat) => p.validateName(n, pat))
  if (names.length === 0) throw new UsageError('no node names given')
  return endpointsFor(cluster, names, p)
}

/** Every node the provider lists for the cluster that has an endpoint. */
export async function allEndpoints(cluster: Cluster): Promise<SshEndpoint[]> {
  const provider = await providerFor(cluster)
  const names = (await provider.list()).map((n) => n.name)
  return (await provider.endpoints(names)).found
}

/** The cluster's active node (`belt active`, set by `belt swarm init`). */
export function activeNodeName(cluster: Cluster, hint: string): string {
  const name = cluster.state.read().active_node
  if (!name) throw new UsageError(`cluster '${cluster.name}' has no active node; ${hint}`)
  return name
}

/** Hosts at once: --concurrency when given, else the cluster's `concurrency` setting (its default lives in schema.ts). */
export function concurrencyFor(cluster: Cluster, flag?: number): number {
  return flag ?? cluster.settings.concurrency
}
