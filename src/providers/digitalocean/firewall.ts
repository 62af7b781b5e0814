// The swarm's cloud firewall on DigitalOcean: `belt-<cluster>-<id8>`, attached to droplets by the cluster's id tag
// (the name alone is shared by every project whose cluster has that name).
// belt owns the rules for SSH (22/tcp) and Docker TLS (2376/tcp) from admin_cidr, the swarm ports between the
// cluster's droplets (2377/tcp, 7946/tcp+udp, 4789/udp, by sources.tags) and "all outbound"; rules a user added
// for other ports (a published service's 80/tcp, say) are kept when belt updates the firewall.
// DigitalOcean firewalls only know tcp, udp and icmp: ESP (IP protocol 50, used by encrypted overlay networks)
// cannot be allowed, which is why the provider refuses encrypted_overlay together with a managed firewall.
import type {FirewallRule} from '../provider.js'

export interface DoRuleTargets {
  addresses?: string[]
  tags?: string[]
  droplet_ids?: number[]
  load_balancer_uids?: string[]
  kubernetes_ids?: string[]
}

export interface DoInboundRule {
  protocol: string
  ports?: string
  sources: DoRuleTargets
}

export interface DoOutboundRule {
  protocol: string
  ports?: string
  destinations: DoRuleTargets
}

export interface DoFirewall {
  id: string
  name: string
  status?: string
  inbound_rules: DoInboundRule[]
  outbound_rules: DoOutboundRule[]
  droplet_ids: number[]
  tags: string[]
}

export interface FirewallBody {
  name: string
  inbound_rules: DoInboundRule[]
  outbound_rules: DoOutboundRule[]
  droplet_ids: number[]
  tags: string[]
}

const EVERYWHERE = ['0.0.0.0/0', '::/0']

const NOTES: Record<string, string> = {
  'inbound tcp 22': 'SSH, from admin_cidr',
  'inbound tcp 2376': 'Docker TLS, from admin_cidr',
  'inbound tcp 2377': 'swarm management, between the cluster\'s nodes',
  'inbound tcp 7946': 'swarm gossip, between the cluster\'s nodes',
  'inbound udp 7946': 'swarm gossip, between the cluster\'s nodes',
  'inbound udp 4789': 'overlay network (VXLAN), between the cluster\'s nodes',
  'outbound tcp 0': 'all outbound',
  'outbound udp 0': 'all outbound',
  'outbound icmp 0': 'all outbound',
}

/** belt-<cluster>-<id8>; `<id8>` literally while the cluster has no id yet (only ever shown, never created). */
export function firewallName(cluster: string, clusterId: string | null): string {
  // Firewall names allow letters, digits, '.' and '-'; cluster names may hold '_'.
  return `belt-${cluster.replace(/_/g, '-')}-${clusterId ? clusterId.slice(0, 8) : '<id8>'}`
}

function managedInbound(tag: string, adminCidr: string): DoInboundRule[] {
  const admin = {addresses: [adminCidr]}
  const nodes = {tags: [tag]}
  return [
    {protocol: 'tcp', ports: '22', sources: admin},
    {protocol: 'tcp', ports: '2376', sources: admin},
    {protocol: 'tcp', ports: '2377', sources: nodes},
    {protocol: 'tcp', ports: '7946', sources: nodes},
    {protocol: 'udp', ports: '7946', sources: nodes},
    {protocol: 'udp', ports: '4789', sources: nodes},
  ]
}

function managedOutbound(): DoOutboundRule[] {
  return [
    {protocol: 'tcp', ports: '0', destinations: {addresses: EVERYWHERE}},
    {protocol: 'udp', ports: '0', destinations: {addresses: EVERYWHERE}},
    {protocol: 'icmp', destinations: {addresses: EVERYWHERE}},
  ]
}

function normPorts(protocol: string, ports: string | undefined): string {
  if (protocol === 'icmp') return '0'
  const p = (ports ?? '').trim()
  return p === '' || p === 'all' || p === '0' || p === '1-65535' ? '0' : p
}

function ruleKey(direction: string, r: {protocol: string; ports?: string}): string {
  return `${direction} ${r.protocol} ${normPorts(r.protocol, r.ports)}`
}

/** The firewall belt wants, keeping what a user added on other ports of an existing one. */
export function desiredFirewall(name: string, tag: string, adminCidr: string, existing?: DoFirewall | null): FirewallBody {
  const inbound = managedInbound(tag, adminCidr)
  const outbound = managedOutbound()
  const ownIn = new Set(inbound.map((r) => ruleKey('inbound', r)))
  const ownOut = new Set(outbound.map((r) => ruleKey('outbound', r)))
  return {
    name,
    inbound_rules: [...(existing?.inbound_rules ?? []).filter((r) => !ownIn.has(ruleKey('inbound', r))), ...inbound],
    outbound_rules: [...(existing?.outbound_rules ?? []).filter((r) => !ownOut.has(ruleKey('outbound', r))), ...outbound],
    droplet_ids: existing?.droplet_ids ?? [],
    tags: [...new Set([...(existing?.tags ?? []), tag])],
  }
}

function canonTargets(t: DoRuleTargets | undefined): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {}
  for (const k of ['addresses', 'tags', 'droplet_ids', 'load_balancer_uids', 'kubernetes_ids'] as const) {
    const v = t?.[k]
    if (v && v.length) out[k] = [...v].map(String).sort()
  }
  return out
}

function canon(fw: FirewallBody | DoFirewall): string {
  const inbound = fw.inbound_rules.map((r) => JSON.stringify([ruleKey('inbound', r), canonTargets(r.sources)])).sort()
  const outbound = fw.outbound_rules.map((r) => JSON.stringify([ruleKey('outbound', r), canonTargets(r.destinations)])).sort()
  return JSON.stringify([fw.name, inbound, outbound, [...fw.tags].sort(), [...fw.droplet_ids].map(String).sort()])
}

export function sameFirewall(a: FirewallBody | DoFirewall, b: FirewallBody | DoFirewall): boolean {
  return canon(a) === canon(b)
}

function targetWords(t: DoRuleTargets | undefined): string[] {
  return [
    ...(t?.addresses ?? []),
    ...(t?.tags ?? []).map((x) => `tag:${x}`),
    ...(t?.droplet_ids ?? []).map((x) => `droplet:${x}`),
    ...(t?.load_balancer_uids ?? []).map((x) => `load-balancer:${x}`),
    ...(t?.kubernetes_ids ?? []).map((x) => `kubernetes:${x}`),
  ]
}

/** The rules as `belt firewall` shows them. */
export function firewallRules(fw: FirewallBody | DoFirewall): FirewallRule[] {
  const show = (protocol: string, ports?: string) => (normPorts(protocol, ports) === '0' ? 'all' : normPorts(protocol, ports))
  return [
    ...fw.inbound_rules.map((r) => ({
      direction: 'inbound' as const,
      protocol: r.protocol,
      ports: show(r.protocol, r.ports),
      sources: targetWords(r.sources),
      note: NOTES[ruleKey('inbound', r)] ?? 'added outside belt (kept)',
    })),
    ...fw.outbound_rules.map((r) => ({
      direction: 'outbound' as const,
      protocol: r.protocol,
      ports: show(r.protocol, r.ports),
      sources: targetWords(r.destinations),
      note: NOTES[ruleKey('outbound', r)] ?? 'added outside belt (kept)',
    })),
  ]
}
