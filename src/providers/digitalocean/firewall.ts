// The swarm's cloud firewall on DigitalOcean: `belt-<cluster>-<id8>`, attached to droplets by the cluster's id tag
// (the name alone is shared by every project whose cluster has that name).
// belt owns the rules for SSH (22/tcp) and Docker TLS (2376/tcp) from admin_cidr, the swarm ports between the
// cluster's droplets (2377/tcp, 7946/tcp+udp, 4789/udp, by sources.tags) and "all outbound"; rules a user added
// for other ports (a published service's 80/tcp, say) are kept when belt updates the firewall.
// DigitalOcean firewalls only know tcp, udp and icmp: ESP (IP protocol 50, used by encrypted overlay networks)
// cannot be allowed, which is why the provider refuses encrypted_overlay together with a managed firewall.
// The rules and their merge are pure; ensureFirewall, findFirewall and shownFirewall make the API calls.
import {UsageError} from '../../core/errors.js'
import type {DigitalOceanSettings} from '../../core/config/schema.js'
import {jumpCidr} from '../../core/config/jump.js'
import type {FirewallRule} from '../provider.js'
import {type DoScope, PER_PAGE} from './api.js'

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

function managedInbound(tag: string, adminCidr: string, bastionCidr: string | null): DoInboundRule[] {
  const admin = {addresses: [adminCidr]}
  const nodes = {tags: [tag]}
  // The bastion (ssh_jump, when it names an address) may reach SSH too: belt's connections to nodes come from it.
  const ssh = bastionCidr && bastionCidr !== adminCidr ? {addresses: [adminCidr, bastionCidr]} : admin
  return [
    {protocol: 'tcp', ports: '22', sources: ssh},
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
export function desiredFirewall(name: string, tag: string, adminCidr: string, existing?: DoFirewall | null,
  bastionCidr: string | null = null): FirewallBody {
  const inbound = managedInbound(tag, adminCidr, bastionCidr)
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
  const rule = (direction: 'inbound' | 'outbound', r: {protocol: string; ports?: string}, peers: DoRuleTargets | undefined) => ({
    direction,
    protocol: r.protocol,
    ports: show(r.protocol, r.ports),
    sources: targetWords(peers),
    note: NOTES[ruleKey(direction, r)] ?? 'added outside belt (kept)',
  })
  return [
    ...fw.inbound_rules.map((r) => rule('inbound', r, r.sources)),
    ...fw.outbound_rules.map((r) => rule('outbound', r, r.destinations)),
  ]
}

// ---- the firewall in the account ------------------------------------------------------------------------------

/** admin_cidr when belt manages the firewall (null otherwise); refuses encrypted_overlay with a managed firewall. */
export function firewallCidr(settings: Pick<DigitalOceanSettings, 'admin_cidr' | 'encrypted_overlay'>): string | null {
  const cidr = settings.admin_cidr?.trim() || null
  if (cidr && settings.encrypted_overlay === true) {
    throw new UsageError('encrypted_overlay: true needs ESP (IP protocol 50) between nodes, which DigitalOcean cloud firewalls ' +
      'cannot allow; remove admin_cidr (no managed firewall) or set encrypted_overlay=false')
  }
  return cidr
}

/** Create the cluster's firewall, or update it when its rules differ from what belt wants (keeping a user's own). */
export async function ensureFirewall(
  scope: DoScope, cidr: string, signal: AbortSignal | undefined, progress: (m: string) => void,
): Promise<void> {
  const {api, cluster} = scope
  const name = scope.resourceName
  const tag = scope.idTag!
  // A firewall can only name existing tags; the droplets' tag may not exist yet.
  await api.call(`create tag ${tag}`, (c) => c.tag.createTag({name: tag}), signal)
  const existing = await findFirewall(scope, signal)
  const want = desiredFirewall(name, tag, cidr, existing, jumpCidr(cluster.settings.ssh_jump))
  if (!existing) {
    const data = await api.call(`create firewall ${name}`, (c) => c.firewall.createFirewall(want as never), signal)
    const id = (data as {firewall?: {id?: string}}).firewall?.id
    cluster.state.update((s) => {
      s.provider.do_firewall_id = id ?? null
    })
    progress(`created cloud firewall ${name} (SSH and Docker TLS from ${cidr}; swarm ports between droplets tagged ${tag})`)
  } else if (!sameFirewall(existing, want)) {
    await api.call(`update firewall ${name}`, (c) => c.firewall.updateFirewall({id: existing.id, ...want} as never), signal)
    progress(`updated cloud firewall ${name} (SSH and Docker TLS from ${cidr})`)
  }
}

export async function findFirewall(scope: DoScope, signal?: AbortSignal): Promise<DoFirewall | null> {
  const all = await scope.api.listAll<DoFirewall>('list firewalls', 'firewalls',
    (c, page) => c.firewall.listFirewalls({page, per_page: PER_PAGE}), signal)
  return all.find((f) => f.name === scope.resourceName) ?? null
}

/** What `belt firewall` shows: the firewall as it is, or as `belt create` would make it; null when none is managed. */
export async function shownFirewall(scope: DoScope): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null> {
  const cidr = firewallCidr(scope.cluster.settings)
  if (!cidr) return null
  // Without an id nothing of this cluster exists yet; the rules shown name the id tag `belt create` will make.
  const existing = scope.cluster.id ? await findFirewall(scope) : null
  const shown = existing ?? desiredFirewall(scope.resourceName, scope.idTag ?? 'belt-id:<cluster_id>', cidr, null, jumpCidr(scope.cluster.settings.ssh_jump))
  return {name: shown.name, id: existing?.id ?? null, rules: firewallRules(shown)}
}
