// Where a local cluster lives on this machine and what its parts are called: folders, bridge, network namespaces,
// veths, the iptables marker, and the subnet arithmetic. Pure: no I/O, so tests can compute the same names.
import {createHash} from 'node:crypto'
import {resolve} from 'node:path'
import {UsageError} from '../../core/errors.js'

/** Every local host's own files live under here (bind-mounted into its mount namespace). */
export const LOCAL_ROOT = '/var/lib/belt-local'
/** Host folders each local host gets its own copy of (bind mounts of <node>/root/<path>). */
// /root too: a real host has its own root home, and the machine's root shell startup files (here pyenv's) would
// otherwise run, slowly and with shared locks, in every root SSH command on every local host.
export const OWN_DIRS = ['/etc/docker', '/var/lib/docker', '/etc/systemd/system', '/etc/ssh', '/etc/sysctl.d', '/var/log', '/root'] as const

export interface ClusterLayout {
  /** 8 hex characters from the cluster folder's absolute path: the same cluster name in two projects never collides. */
  hash: string
  /** /var/lib/belt-local/<cluster>-<hash> */
  root: string
  /** The folder bind-mounted over /usr/local/sbin inside every host (holds the systemctl stand-in). */
  sbin: string
  initScript: string
  lockFile: string
  bridge: string
  /** iptables comment on every rule belt adds for this cluster. */
  marker: string
  /** Network namespaces of this cluster are named `${netnsPrefix}<node>`. */
  netnsPrefix: string
}

export function hashOf(text: string, chars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars)
}

export function clusterHash(clusterDir: string): string {
  return hashOf(resolve(clusterDir), 8)
}

export function clusterLayout(clusterName: string, hash: string, bridge?: string): ClusterLayout {
  const root = `${LOCAL_ROOT}/${clusterName}-${hash}`
  return {
    hash,
    root,
    sbin: `${root}/sbin`,
    initScript: `${root}/init.sh`,
    lockFile: `${root}/.lock`,
    bridge: bridge ?? `bl-${hash}`,
    marker: `belt-local:${hash}`,
    netnsPrefix: `bl-${hash}-`,
  }
}

export interface NodeLayout {
  netns: string
  /** Host end of the node's veth pair (the other end is eth0 inside the namespace). */
  veth: string
  dir: string
}

export function nodeLayout(cl: ClusterLayout, node: string): NodeLayout {
  const plain = cl.netnsPrefix + node
  return {
    netns: plain.length <= 64 ? plain : cl.netnsPrefix + hashOf(node, 16),
    // Interface names are at most 15 characters: derive them, never reuse node names.
    veth: 'bl-' + hashOf(`${cl.hash}/${node}`, 12),
    dir: `${cl.root}/${node}`,
  }
}

/** Linux interface names: 1–15 characters, no '/', ':' or whitespace. */
export function checkBridgeName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) {
    throw new UsageError(`local: bridge '${name}' is not a valid interface name (1-15 letters, digits, '.', '-', '_')`)
  }
}

export interface Subnet {
  /** As written normalised: 10.213.0.0/16 */
  cidr: string
  network: number
  prefix: number
  /** The bridge's address (the first one). */
  gateway: string
  /** Node addresses go from first to last (inclusive). */
  first: number
  last: number
}

export function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number)
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export function parseSubnet(text: string): Subnet {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(String(text).trim())
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) {
    throw new UsageError(`local: subnet '${text}' must be an IPv4 CIDR such as 10.213.0.0/16`)
  }
  const prefix = Number(m[5])
  if (prefix < 8 || prefix > 29) throw new UsageError(`local: subnet '${text}' must have a prefix between /8 and /29`)
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
  const network = (ipToInt(m.slice(1, 5).join('.')) & mask) >>> 0
  const broadcast = (network | (~mask >>> 0)) >>> 0
  return {
    cidr: `${intToIp(network)}/${prefix}`,
    network,
    prefix,
    gateway: intToIp(network + 1),
    first: network + 2,
    last: broadcast - 1,
  }
}

/** Do two CIDRs share any address? */
export function overlaps(a: {network: number; prefix: number}, b: {network: number; prefix: number}): boolean {
  const p = Math.min(a.prefix, b.prefix)
  const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0
  return ((a.network & mask) >>> 0) === ((b.network & mask) >>> 0)
}

/** The lowest `count` free addresses of the subnet, skipping `used`. Throws when the subnet is full. */
export function allocateAddresses(subnet: Subnet, used: Iterable<string>, count: number): string[] {
  const taken = new Set<number>()
  for (const u of used) taken.add(ipToInt(u))
  const out: string[] = []
  for (let a = subnet.first; a <= subnet.last && out.length < count; a++) {
    if (!taken.has(a)) out.push(intToIp(a))
  }
  if (out.length < count) {
    throw new UsageError(`local: subnet ${subnet.cidr} has room for ${out.length} more node(s), not ${count}; ` +
      'use a larger one with belt cluster update subnet=...')
  }
  return out
}

/** SIZE for the local driver: a memory figure (512mb, 1gb, 8192MB, 2g) or `local`. Recorded, not enforced. */
export function parseLocalSize(size: string): {size: string; memory_mb: number | null} {
  const s = size.trim()
  if (/^local$/i.test(s)) return {size: 'local', memory_mb: null}
  const m = /^(\d+(?:\.\d+)?)\s*(m|mb|mib|g|gb|gib)$/i.exec(s)
  if (!m) {
    throw new UsageError(`local: SIZE '${size}' must be memory such as 512mb, 1gb, 8192MB, or 'local' (it is recorded, not enforced)`)
  }
  const n = Number(m[1])
  const mb = /^g/i.test(m[2]) ? n * 1024 : n
  if (!Number.isFinite(mb) || mb <= 0) throw new UsageError(`local: SIZE '${size}' must be more than 0`)
  return {size: s.toLowerCase(), memory_mb: Math.round(mb)}
}
