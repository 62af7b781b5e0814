// The machine-level parts of local hosts: the cluster's bridge and iptables rules, each host's network namespace and
// veth, its folder (own /etc/ssh, /etc/docker, ...), starting its init, looking at it, and taking it all down again
// (also when a killed run left only some of it behind).
import {spawn} from 'node:child_process'
import {chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {UsageError} from '../../core/errors.js'
import {writeFileAtomic} from '../../core/config/atomic.js'
import {debugLog} from '../../core/debug.js'
import {poll} from '../../core/wait.js'
import {ClusterLayout, NodeLayout, OWN_DIRS, Subnet, ipToInt, overlaps} from './layout.js'
import {INIT_SCRIPT, SYSTEMCTL_SCRIPT} from './scripts.js'
import {findTool, isAlive, killAndWait, pidsWithArg, readLink, readText, run} from './system.js'

const debug = debugLog('local')

/** What state.json keeps about one local host (besides id and created_at). */
export interface LocalNodeRecord {
  id: string | null
  created_at?: string
  driver: 'local'
  address: string
  netns: string
  veth: string
  dir: string
  size: string
  memory_mb: number | null
  tags: string[]
  /** The host's init as this machine sees it, and its pid namespace (to be sure a pid is still ours). */
  init_pid: number | null
  pidns: string | null
  /** `creating` until the host answered; `creator_pid` is the belt process making it. */
  phase: 'creating' | 'ready'
  creator_pid?: number
  [key: string]: unknown
}

export const READY_TIMEOUT_MS = 120_000

// ---------------------------------------------------------------------------------------------------------------
// Cluster level: scripts, mount points, bridge, iptables.

/** Write the init and systemctl stand-in (every create, so a newer belt's scripts apply to restarted hosts). */
export function writeClusterFiles(cl: ClusterLayout, info: Record<string, unknown>): void {
  mkdirSync(cl.sbin, {recursive: true, mode: 0o755})
  chmodSync(cl.root, 0o755)
  writeFileAtomic(cl.initScript, INIT_SCRIPT, 0o755)
  writeFileAtomic(join(cl.sbin, 'systemctl'), SYSTEMCTL_SCRIPT, 0o755)
  writeFileAtomic(join(cl.root, 'cluster.json'), JSON.stringify(info, null, 2) + '\n', 0o644)
  // Bind mounts need their mount points: create the few that may be missing on this machine (empty folders).
  for (const d of [...OWN_DIRS, '/usr/local/sbin']) mkdirSync(d, {recursive: true})
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`)
}

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`)
}

/**
 * Refuse (before changing anything) a bridge or subnet that belongs to something else: an existing interface of that
 * name that this cluster did not make, or a subnet this machine already routes elsewhere.
 */
export async function checkNetworkFree(cl: ClusterLayout, subnet: Subnet): Promise<void> {
  if (!linkExists(cl.bridge)) return checkSubnetFree(subnet, cl.bridge)
  const ours = cl.bridge === `bl-${cl.hash}` || (readJson(join(cl.root, 'cluster.json')) as {bridge?: string} | null)?.bridge === cl.bridge
  if (!ours || !existsSync(`/sys/class/net/${cl.bridge}/bridge`)) {
    throw new UsageError(`local: interface ${cl.bridge} already exists and is not this cluster's bridge; ` +
      'choose another name with: belt cluster update bridge=NAME')
  }
}

/** The cluster's bridge with the subnet's first address, and the forwarding/NAT rules (all idempotent). */
export async function ensureBridge(cl: ClusterLayout, subnet: Subnet): Promise<void> {
  if (!linkExists(cl.bridge)) {
    await checkSubnetFree(subnet, cl.bridge)
    await run('ip', ['link', 'add', 'name', cl.bridge, 'type', 'bridge'])
  }
  const want = `${subnet.gateway}/${subnet.prefix}`
  const shown = (await run('ip', ['-j', '-4', 'addr', 'show', 'dev', cl.bridge])).stdout
  const addrs = JSON.parse(shown || '[]') as {addr_info?: {local: string; prefixlen: number}[]}[]
  const have = addrs.flatMap((a) => a.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`)
  if (!have.includes(want)) {
    // Our own bridge left with another subnet (config changed after every host was removed): renumber it.
    if (have.length) await run('ip', ['-4', 'addr', 'flush', 'dev', cl.bridge])
    await run('ip', ['addr', 'add', want, 'dev', cl.bridge])
  }
  await run('ip', ['link', 'set', cl.bridge, 'up'])
  for (const [table, chain, spec, insert] of iptablesRules(cl, subnet)) {
    const check = await run('iptables', ['-w', '-t', table, '-C', chain, ...spec], {allowFail: true})
    if (check.code !== 0) await run('iptables', ['-w', '-t', table, insert ? '-I' : '-A', chain, ...(insert ? ['1'] : []), ...spec])
  }
}

/** dockerd sets the FORWARD policy to DROP: accept everything in and out of our bridge; NAT the rest of the way out. */
function iptablesRules(cl: ClusterLayout, subnet: Subnet): [string, string, string[], boolean][] {
  const mark = ['-m', 'comment', '--comment', cl.marker]
  return [
    ['filter', 'FORWARD', ['-i', cl.bridge, ...mark, '-j', 'ACCEPT'], true],
    ['filter', 'FORWARD', ['-o', cl.bridge, ...mark, '-j', 'ACCEPT'], true],
    ['nat', 'POSTROUTING', ['-s', subnet.cidr, '!', '-o', cl.bridge, ...mark, '-j', 'MASQUERADE'], false],
  ]
}

/** Refuse a subnet that already has a route on another interface (another cluster, a VPN, the LAN). */
export async function checkSubnetFree(subnet: Subnet, bridge: string): Promise<void> {
  const routes = JSON.parse((await run('ip', ['-j', '-4', 'route', 'show'])).stdout || '[]') as {dst: string; dev?: string}[]
  for (const r of routes) {
    if (!r.dst || r.dst === 'default' || r.dev === bridge) continue
    const [ip, len] = r.dst.split('/')
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) continue
    if (overlaps(subnet, {network: ipToInt(ip), prefix: len ? Number(len) : 32})) {
      throw new UsageError(`local: subnet ${subnet.cidr} overlaps ${r.dst} on ${r.dev ?? 'another interface'}; ` +
        'choose another with: belt cluster update subnet=10.213.0.0/16')
    }
  }
}

/** Remove the bridge and every iptables rule carrying this cluster's marker. */
export async function removeClusterNetwork(cl: ClusterLayout): Promise<void> {
  if (linkExists(cl.bridge)) await run('ip', ['link', 'del', cl.bridge])
  await removeMarkedRules(cl.marker)
}

export async function removeMarkedRules(marker: string): Promise<void> {
  for (const table of ['filter', 'nat']) {
    const listing = await run('iptables', ['-w', '-t', table, '-S'], {allowFail: true})
    for (const line of listing.stdout.split('\n')) {
      // iptables -S quotes comments ("belt-local:…"); ours have no spaces, so dropping the quotes is exact.
      const words = line.trim().replace(/"/g, '').split(/\s+/)
      if (words[0] !== '-A' || !words.includes(marker)) continue
      await run('iptables', ['-w', '-t', table, '-D', ...words.slice(1)], {allowFail: true})
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// One host: network namespace and veth.

export async function createNodeNetwork(cl: ClusterLayout, nl: NodeLayout, address: string, subnet: Subnet): Promise<void> {
  await run('ip', ['netns', 'add', nl.netns])
  await run('ip', ['link', 'add', nl.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nl.netns])
  await run('ip', ['link', 'set', nl.veth, 'master', cl.bridge, 'up'])
  const inNs = (args: string[]) => run('ip', ['-n', nl.netns, ...args])
  await inNs(['link', 'set', 'lo', 'up'])
  await inNs(['addr', 'add', `${address}/${subnet.prefix}`, 'dev', 'eth0'])
  await inNs(['link', 'set', 'eth0', 'up'])
  await inNs(['route', 'add', 'default', 'via', subnet.gateway])
  // A host made again at an address that was used before has a new MAC: forget the old neighbour entry here and in
  // the cluster's other hosts, or connections to it time out until the stale entry expires.
  await run('ip', ['neigh', 'flush', 'to', address], {allowFail: true})
  const others = existsSync('/run/netns') ? readdirSync('/run/netns').filter((ns) => ns.startsWith(cl.netnsPrefix) && ns !== nl.netns) : []
  await Promise.all(others.map((ns) => run('ip', ['-n', ns, 'neigh', 'flush', 'to', address], {allowFail: true})))
}

// ---------------------------------------------------------------------------------------------------------------
// One host: its folder.

export interface NodeFiles {
  node: string
  sshPort: number
  /** Public keys allowed to log in, per user (root always). */
  authorized: Record<string, string[]>
}

/** The host's own /etc/ssh, /etc/docker, ... under DIR/root. Existing host keys and docker data are kept. */
export async function prepareNodeDir(nl: NodeLayout, files: NodeFiles): Promise<void> {
  const root = join(nl.dir, 'root')
  for (const d of OWN_DIRS) mkdirSync(join(root, d), {recursive: true, mode: 0o755})
  chmodSync(join(root, '/var/lib/docker'), 0o710)
  chmodSync(join(root, '/root'), 0o700)
  const ssh = join(root, '/etc/ssh')
  for (const type of ['ed25519', 'ecdsa']) {
    const key = join(ssh, `ssh_host_${type}_key`)
    if (!existsSync(key) || !existsSync(key + '.pub')) {
      rmSync(key, {force: true})
      rmSync(key + '.pub', {force: true})
      await run('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `root@${files.node}`, '-f', key])
    }
  }
  writeFileAtomic(join(ssh, 'sshd_config'), sshdConfig(files), 0o644)
  const akDir = join(ssh, 'authorized_keys')
  mkdirSync(akDir, {recursive: true, mode: 0o755})
  for (const [user, keys] of Object.entries(files.authorized)) {
    // Keys someone added inside the host survive a restart.
    const had = (readText(join(akDir, user)) ?? '').split('\n').map((l) => l.trim()).filter(Boolean)
    writeFileAtomic(join(akDir, user), [...new Set([...had, ...keys])].join('\n') + '\n', 0o644)
  }
  const daemonJson = join(root, '/etc/docker/daemon.json')
  // No systemd inside: dockerd must use the cgroupfs driver. Kept if the user (or provisioning) changed the file.
  if (!existsSync(daemonJson)) writeFileAtomic(daemonJson, JSON.stringify({'exec-opts': ['native.cgroupdriver=cgroupfs']}, null, 2) + '\n', 0o644)
  const hosts = (readText('/etc/hosts') ?? '127.0.0.1\tlocalhost\n').split('\n').filter((l) => !/^\s*127\.0\.1\.1\s/.test(l)).join('\n').trimEnd()
  writeFileAtomic(join(root, '/etc/hosts'), `${hosts}\n127.0.1.1\t${files.node}\n`, 0o644)
  writeFileAtomic(join(root, '/etc/hostname'), files.node + '\n', 0o644)
}

function sshdConfig(f: NodeFiles): string {
  return `# Written by belt for local host ${f.node} (rewritten whenever the host is (re)started).
Port ${f.sshPort}
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile /etc/ssh/authorized_keys/%u .ssh/authorized_keys
UsePAM yes
PidFile /run/sshd.pid
MaxStartups 500:30:1000
MaxSessions 100
MaxAuthTries 20
UseDNS no
PrintMotd no
X11Forwarding no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
`
}

// ---------------------------------------------------------------------------------------------------------------
// One host: start, look, stop.

/**
 * Start the host's init inside its network namespace, detached from belt (its own session; belt may exit), and
 * wait until it reports that sshd and dockerd are up. Returns the init's pid and pid namespace.
 */
export async function startNode(cl: ClusterLayout, nl: NodeLayout, node: string): Promise<{init_pid: number; pidns: string}> {
  const status = join(nl.dir, 'init.status')
  rmSync(status, {force: true})
  const log = join(nl.dir, 'init.log')
  const fd = openSync(log, 'a')
  writeFileSync(fd, `--- ${new Date().toISOString()} starting ${node}\n`)
  const nsenter = findTool('nsenter') ?? 'nsenter'
  const args = [`--net=/run/netns/${nl.netns}`, findTool('unshare') ?? 'unshare', '--fork', '--pid', '--mount', '--uts', '--propagation', 'private',
    findTool('bash') ?? 'bash', cl.initScript, node, nl.dir, cl.sbin]
  debug('start %s: %s %o', node, nsenter, args)
  // A clean environment: nothing of belt's (tokens, BELT_*) leaks into the host's daemons.
  const env = {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', HOME: '/root'}
  const child = spawn(nsenter, args, {detached: true, stdio: ['ignore', fd, fd], env})
  closeSync(fd)
  let exited = false
  child.on('exit', () => (exited = true))
  child.on('error', () => (exited = true))
  try {
    const r = await poll(async () => readiness(status, log, exited), {done: (ready) => ready !== null, timeoutMs: READY_TIMEOUT_MS, intervalMs: 50})
    if (!r.reached) throw new Error(`not ready after ${READY_TIMEOUT_MS / 1000} s; see ${log}`)
    return r.last!
  } finally {
    child.unref()
  }
}

/** The init's report: ready (its pid and pid namespace), not yet (null), or why it failed (thrown). */
function readiness(status: string, log: string, exited: boolean): {init_pid: number; pidns: string} | null {
  const text = readText(status)?.trim()
  if (text?.startsWith('ready ')) {
    const init_pid = Number(text.split(/\s+/)[1])
    const pidns = readLink(`/proc/${init_pid}/ns/pid`)
    if (!init_pid || !pidns) throw new Error(`init reported ready but is gone; see ${log}`)
    return {init_pid, pidns}
  }
  if (text?.startsWith('failed: ')) throw new Error(text.slice('failed: '.length))
  if (exited) throw new Error(`init exited: ${lastLine(log)}; see ${log}`)
  return null
}

function lastLine(path: string): string {
  const lines = (readText(path) ?? '').trim().split('\n').filter((l) => !l.startsWith('--- '))
  return lines.pop() ?? 'no output'
}

export interface NodeProbe {
  status: 'new' | 'active' | 'off' | 'gone' | 'unreachable'
  provider_status: string
}

/** Is the recorded init still ours (same pid namespace), i.e. has the pid not been reused? */
export function initAlive(rec: Pick<LocalNodeRecord, 'init_pid' | 'pidns'>): boolean {
  if (!rec.init_pid || !rec.pidns) return false
  return isAlive(rec.init_pid) && readLink(`/proc/${rec.init_pid}/ns/pid`) === rec.pidns
}

/** A process of the host, by the pid file it wrote inside (read through the init's view of the host's files). */
function innerRunning(initPid: number, pidFile: string, comm: string): boolean {
  const nsPid = Number(readText(`/proc/${initPid}/root${pidFile}`)?.trim())
  if (!nsPid) return false
  const c = readText(`/proc/${initPid}/root/proc/${nsPid}/comm`)?.trim()
  if (c !== comm) return false
  const stat = readText(`/proc/${initPid}/root/proc/${nsPid}/stat`) ?? ''
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
}

export function probeNode(rec: LocalNodeRecord): NodeProbe {
  const netns = netnsExists(rec.netns)
  if (rec.phase === 'creating') {
    if (rec.creator_pid && rec.creator_pid !== process.pid && isAlive(rec.creator_pid)) return {status: 'new', provider_status: 'creating'}
    if (!initAlive(rec)) return {status: 'off', provider_status: 'incomplete (create did not finish)'}
  }
  if (!initAlive(rec)) {
    if (netns || existsSync(rec.dir)) return {status: 'off', provider_status: 'stopped'}
    return {status: 'gone', provider_status: 'gone'}
  }
  const init = rec.init_pid as number
  if (!netns) return {status: 'unreachable', provider_status: 'network namespace missing'}
  if (!innerRunning(init, '/run/sshd.pid', 'sshd')) return {status: 'unreachable', provider_status: 'sshd not running'}
  const dockerd = innerRunning(init, '/run/belt/dockerd.pid', 'dockerd')
  return {status: 'active', provider_status: dockerd ? 'running' : 'running (dockerd stopped)'}
}

/**
 * End every process of the host and remove its network namespace and veth. Works from any leftover: a recorded
 * init, processes still in the namespace, or processes started with the host's folder as an argument.
 */
export async function stopNode(rec: Pick<LocalNodeRecord, 'init_pid' | 'pidns'> | null, nl: NodeLayout): Promise<void> {
  const pids = new Set<number>()
  if (rec && initAlive(rec)) pids.add(rec.init_pid as number)
  if (netnsExists(nl.netns)) {
    const r = await run('ip', ['netns', 'pids', nl.netns], {allowFail: true})
    for (const p of r.stdout.split(/\s+/).filter(Boolean)) pids.add(Number(p))
  }
  for (const p of pidsWithArg(nl.dir)) pids.add(p)
  if (pids.size) {
    debug('killing %o', [...pids])
    const left = await killAndWait(pids)
    if (left.length) throw new Error(`processes ${left.join(', ')} did not end`)
  }
  if (netnsExists(nl.netns)) await run('ip', ['netns', 'del', nl.netns])
  // Deleting the namespace destroys the veth pair, asynchronously: delete it only if it is still there after that.
  if (linkExists(nl.veth)) {
    const del = await run('ip', ['link', 'del', nl.veth], {allowFail: true})
    if (del.code !== 0 && linkExists(nl.veth)) throw new Error(`ip link del ${nl.veth}: ${del.stderr.trim()}`)
  }
  // The namespace's mounts vanish with its last process; give the kernel a moment to finish that teardown.
  await poll(async () => mountedUnder(nl.dir), {done: (mounted) => !mounted, timeoutMs: 1000, intervalMs: 25})
}

/** Any mount (in this mount namespace) at or under the folder? */
export function mountedUnder(dir: string): boolean {
  const info = readText('/proc/self/mountinfo') ?? ''
  return info.split('\n').some((l) => {
    const mp = l.split(' ')[4]
    return mp === dir || mp?.startsWith(dir + '/')
  })
}

export function removeNodeDir(nl: NodeLayout): void {
  rmSync(nl.dir, {recursive: true, force: true})
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readText(path) ?? 'null')
  } catch {
    return null
  }
}
