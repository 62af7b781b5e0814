// The swarm security group: which ingress rules a Docker Swarm needs, which of them a group already has, and how
// a group's rules read as belt FirewallRules. Pure (no API calls): security-group.ts describes and authorizes.
import type {IpPermission} from '@aws-sdk/client-ec2'
import type {FirewallRule} from '../provider.js'

/** One ingress rule with a single source: `cidr` (admin) or the group itself (`self`). */
export interface WantedRule {
  protocol: 'tcp' | 'udp' | '50'
  from: number | null
  to: number | null
  source: {cidr: string} | {self: true}
  note: string
}

/** `bastionCidr`: the ssh_jump host's address, let in to SSH (and Docker TLS, which belt checks through it). */
export function swarmRules(adminCidr: string, bastionCidr: string | null = null): WantedRule[] {
  const admin = {cidr: adminCidr}
  const self = {self: true} as const
  const bastion: WantedRule[] = bastionCidr && bastionCidr !== adminCidr
    ? [{protocol: 'tcp', from: 22, to: 22, source: {cidr: bastionCidr}, note: 'SSH from the bastion (ssh_jump)'}]
    : []
  return [
    {protocol: 'tcp', from: 22, to: 22, source: admin, note: 'SSH (belt provision, belt docker)'},
    ...bastion,
    {protocol: 'tcp', from: 2376, to: 2376, source: admin, note: 'Docker Engine API over TLS (belt env)'},
    {protocol: 'tcp', from: 2377, to: 2377, source: self, note: 'swarm cluster management'},
    {protocol: 'tcp', from: 7946, to: 7946, source: self, note: 'swarm node discovery (gossip)'},
    {protocol: 'udp', from: 7946, to: 7946, source: self, note: 'swarm node discovery (gossip)'},
    {protocol: 'udp', from: 4789, to: 4789, source: self, note: 'overlay network traffic (VXLAN)'},
    {protocol: '50', from: null, to: null, source: self, note: 'encrypted overlay networks (ESP, IP protocol 50)'},
  ]
}

interface FlatRule {
  protocol: string
  from: number | null
  to: number | null
  cidr?: string
  groupId?: string
}

function normaliseProtocol(p: string | undefined): string {
  const v = (p ?? '').toLowerCase()
  return ({'6': 'tcp', '17': 'udp', '1': 'icmp', esp: '50', all: '-1'} as Record<string, string>)[v] ?? v
}

/** AWS groups sources per protocol/port range; split them into one rule per source. */
export function flatten(perms: IpPermission[] | undefined): FlatRule[] {
  const out: FlatRule[] = []
  for (const p of perms ?? []) {
    const protocol = normaliseProtocol(p.IpProtocol)
    const from = p.FromPort ?? null
    const to = p.ToPort ?? null
    for (const r of p.IpRanges ?? []) if (r.CidrIp) out.push({protocol, from, to, cidr: r.CidrIp})
    for (const r of p.Ipv6Ranges ?? []) if (r.CidrIpv6) out.push({protocol, from, to, cidr: r.CidrIpv6})
    for (const g of p.UserIdGroupPairs ?? []) if (g.GroupId) out.push({protocol, from, to, groupId: g.GroupId})
  }
  return out
}

function covers(have: FlatRule, want: WantedRule, groupId: string): boolean {
  const sameSource = 'cidr' in want.source ? have.cidr === want.source.cidr : have.groupId === groupId
  if (!sameSource) return false
  if (have.protocol === '-1') return true
  if (have.protocol !== want.protocol) return false
  if (want.from === null) return true
  // tcp/udp: -1 / absent ports mean all ports
  const lo = have.from === null || have.from === -1 ? 0 : have.from
  const hi = have.to === null || have.to === -1 ? 65535 : have.to
  return lo <= want.from && (want.to ?? want.from) <= hi
}

/** The wanted rules a group's current ingress does not already allow. */
export function missingRules(wanted: WantedRule[], current: IpPermission[] | undefined, groupId: string): WantedRule[] {
  const have = flatten(current)
  return wanted.filter((w) => !have.some((h) => covers(h, w, groupId)))
}

/** Wanted rules as AuthorizeSecurityGroupIngress IpPermissions (one per rule, so descriptions stay per source). */
export function toIpPermissions(rules: WantedRule[], groupId: string): IpPermission[] {
  return rules.map((r) => ({
    IpProtocol: r.protocol,
    ...(r.from !== null ? {FromPort: r.from, ToPort: r.to ?? r.from} : {}),
    ...('cidr' in r.source
      ? r.source.cidr.includes(':')
        ? {Ipv6Ranges: [{CidrIpv6: r.source.cidr, Description: `belt: ${r.note}`.slice(0, 255)}]}
        : {IpRanges: [{CidrIp: r.source.cidr, Description: `belt: ${r.note}`.slice(0, 255)}]}
      : {UserIdGroupPairs: [{GroupId: groupId, Description: `belt: ${r.note}`.slice(0, 255)}]}),
  }))
}

const KNOWN_NOTES: [string, number | null, string][] = [
  ['tcp', 22, 'SSH (belt provision, belt docker)'],
  ['tcp', 2376, 'Docker Engine API over TLS (belt env)'],
  ['tcp', 2377, 'swarm cluster management'],
  ['tcp', 7946, 'swarm node discovery (gossip)'],
  ['udp', 7946, 'swarm node discovery (gossip)'],
  ['udp', 4789, 'overlay network traffic (VXLAN)'],
  ['50', null, 'encrypted overlay networks (ESP, IP protocol 50)'],
]

function protocolLabel(p: string): string {
  return p === '50' ? 'esp' : p === '-1' ? 'all' : p
}

function portsLabel(protocol: string, from: number | null, to: number | null): string {
  if (protocol !== 'tcp' && protocol !== 'udp') return 'all'
  if (from === null || from === -1) return 'all'
  return from === to || to === null ? String(from) : `${from}-${to}`
}

/** A group's ingress as belt FirewallRules: one rule per protocol/port range, the group itself shown as its id. */
export function describeRules(perms: IpPermission[] | undefined, groupId: string): FirewallRule[] {
  const rules: FirewallRule[] = []
  for (const p of perms ?? []) {
    const protocol = normaliseProtocol(p.IpProtocol)
    const from = p.FromPort ?? null
    const to = p.ToPort ?? null
    const sources = [
      ...(p.IpRanges ?? []).map((r) => r.CidrIp!).filter(Boolean),
      ...(p.Ipv6Ranges ?? []).map((r) => r.CidrIpv6!).filter(Boolean),
      ...(p.UserIdGroupPairs ?? []).map((g) => g.GroupId!).filter(Boolean),
      ...(p.PrefixListIds ?? []).map((g) => g.PrefixListId!).filter(Boolean),
    ]
    const known = KNOWN_NOTES.find(([pr, port]) => pr === protocol && (port === null || (from === port && (to ?? from) === port)))
    const selfOnly = sources.length > 0 && sources.every((s) => s === groupId)
    const note = known ? known[2] + (selfOnly ? ' (from the group itself)' : '') : selfOnly ? 'from the group itself' : ''
    rules.push({direction: 'inbound', protocol: protocolLabel(protocol), ports: portsLabel(protocol, from, to), sources, note})
  }
  return rules
}

/** The rules belt would create, for `belt firewall` before the group exists. */
export function plannedRules(wanted: WantedRule[], groupLabel: string): FirewallRule[] {
  return wanted.map((w) => ({
    direction: 'inbound',
    protocol: protocolLabel(w.protocol),
    ports: portsLabel(w.protocol, w.from, w.to),
    sources: ['cidr' in w.source ? w.source.cidr : groupLabel],
    note: w.note + ('self' in w.source ? ' (from the group itself)' : ''),
  }))
}
