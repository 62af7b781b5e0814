// What is known about a local cluster: its hosts' records and its network as state.json keeps them (the network fixed
// while it has hosts, whatever config.yml says later), a host as users see it, and what this machine holds that no
// record names — leftovers of this cluster, and hosts of clusters whose .belt folder is gone.
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import type {Cluster} from '../../core/config/cluster.js'
import type {NodeInfo} from '../provider.js'
import {type LocalNodeRecord, probeNode} from './host.js'
import {
  type ClusterLayout, LOCAL_ROOT, type NodeLayout, type Subnet, checkBridgeName, clusterHash, clusterLayout, nodeLayout, parseSubnet,
} from './layout.js'

/** What state.json's provider area keeps for the cluster: fixed while it has hosts, whatever config.yml says later. */
export interface LocalClusterState {
  hash: string
  bridge: string
  subnet: string
}

type LocalCluster = Cluster<'local'>

export function hostRecords(cluster: LocalCluster): Record<string, LocalNodeRecord> {
  const out: Record<string, LocalNodeRecord> = {}
  for (const [name, rec] of Object.entries(cluster.state.read().nodes)) {
    if (rec && typeof rec === 'object' && typeof rec.netns === 'string' && typeof rec.address === 'string') out[name] = rec as LocalNodeRecord
  }
  return out
}

export function savedNetwork(cluster: LocalCluster): LocalClusterState | null {
  const s = cluster.state.read().provider.local as LocalClusterState | undefined
  return s && typeof s.hash === 'string' ? s : null
}

/** The cluster's layout and subnet: as recorded while it has hosts, else from config.yml. */
export function clusterNetwork(cluster: LocalCluster): {cl: ClusterLayout; subnet: Subnet; notes: string[]} {
  const notes: string[] = []
  const wantSubnet = parseSubnet(cluster.settings.subnet)
  const wantBridge = cluster.settings.bridge
  if (wantBridge !== undefined) checkBridgeName(wantBridge)
  const saved = savedNetwork(cluster)
  if (saved && Object.keys(hostRecords(cluster)).length > 0) {
    const subnet = parseSubnet(saved.subnet)
    const later = 'applies once they are all removed'
    if (subnet.cidr !== wantSubnet.cidr) notes.push(`local: this cluster's hosts use subnet ${subnet.cidr}; config.yml's ${wantSubnet.cidr} ${later}`)
    if (wantBridge !== undefined && wantBridge !== saved.bridge) {
      notes.push(`local: this cluster's hosts use bridge ${saved.bridge}; config.yml's ${wantBridge} ${later}`)
    }
    return {cl: clusterLayout(cluster.name, saved.hash, saved.bridge), subnet, notes}
  }
  const hash = saved?.hash ?? clusterHash(cluster.dir)
  // Leftovers of this cluster without a state.json (it was lost): their bridge is named in cluster.json.
  const left = clusterLayout(cluster.name, hash)
  let bridge = wantBridge
  if (!saved && existsSync(left.root)) {
    try {
      bridge = String((JSON.parse(readFileSync(`${left.root}/cluster.json`, 'utf8')) as {bridge?: string}).bridge ?? '') || wantBridge
    } catch {}
  }
  return {cl: clusterLayout(cluster.name, hash, bridge), subnet: wantSubnet, notes}
}

/** A host as `ls` shows it, probed now. */
export function hostInfo(name: string, rec: LocalNodeRecord): NodeInfo {
  const p = probeNode(rec)
  return {
    name,
    id: rec.netns,
    status: p.status,
    provider_status: p.provider_status,
    public_ip: rec.address,
    private_ip: rec.address,
    region: null,
    size: rec.size ?? null,
    memory_mb: rec.memory_mb ?? null,
    tags: Array.isArray(rec.tags) ? rec.tags : [],
  }
}

/** Namespaces and host folders of this cluster that state.json does not list. */
export function leftovers(cluster: LocalCluster, cl: ClusterLayout): NodeLayout[] {
  const known = new Set(Object.values(hostRecords(cluster)).flatMap((r) => [r.netns, r.dir]))
  const out = new Map<string, NodeLayout>()
  const netnsDir = '/run/netns'
  for (const ns of existsSync(netnsDir) ? readdirSync(netnsDir) : []) {
    if (!ns.startsWith(cl.netnsPrefix) || known.has(ns)) continue
    const nl = nodeLayout(cl, ns.slice(cl.netnsPrefix.length))
    out.set(ns, {...nl, netns: ns})
  }
  for (const d of existsSync(cl.root) ? readdirSync(cl.root, {withFileTypes: true}) : []) {
    if (!d.isDirectory() || d.name === 'sbin') continue
    const nl = nodeLayout(cl, d.name)
    if (known.has(nl.dir) || out.has(nl.netns)) continue
    out.set(nl.netns, nl)
  }
  return [...out.values()]
}

/** Hosts of local clusters whose .belt folder is gone: nothing will ever remove them unless someone is told. */
export function orphanNotes(ownRoot: string): string[] {
  if (!existsSync(LOCAL_ROOT)) return []
  const notes: string[] = []
  for (const d of readdirSync(LOCAL_ROOT, {withFileTypes: true})) {
    const root = `${LOCAL_ROOT}/${d.name}`
    if (!d.isDirectory() || root === ownRoot) continue
    let info: {cluster?: string; cluster_dir?: string}
    try {
      info = JSON.parse(readFileSync(`${root}/cluster.json`, 'utf8'))
    } catch {
      continue
    }
    if (info.cluster_dir && !existsSync(info.cluster_dir)) {
      const project = info.cluster_dir.replace(/\/\.belt\/[^/]+$/, '')
      const removal = `(mkdir -p ${project} && cd ${project} && belt cluster new ${info.cluster} --driver local && belt rm --all --force)`
      notes.push(`local: ${root} holds hosts of cluster '${info.cluster}' whose folder ${info.cluster_dir} no longer exists; to remove them: ${removal}`)
    }
  }
  return notes
}
