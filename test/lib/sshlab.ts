// A simulated fleet for SSH tests and the benchmark: ONE real OpenSSH sshd in a network namespace, answering on
// many addresses (each a "host"), with a stand-in `docker` (test/lib/standin-docker.sh) that keeps per-address swarm
// state. Runs as root; changes nothing outside what it creates:
//   - network namespace bs-lab<S> + veth bs-lab<S>h/bs-lab<S>n; addresses 10.215.<32*S>.0/19 on the namespace's lo,
//     routed through the veth (one neighbour entry however many hosts);
//   - sshd in its own mount namespace where /etc (a copy) and docker are bind-mounted from the lab folder: root logs
//     in with /bin/sh, `beltop` has passwordless sudo, `beltnosudo` none.
// Slots S = 0..7 let several test files run at once; a slot whose owner died is cleaned up and reused.
// `network` gives a lab its own /16 and name tag (netns bs-<tag><S>, slot locks in /run/belt-sshlab-<tag>), for
// tests and benches that must stay in an address range of their own.
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const SLOTS = 8
const STANDIN = fileURLToPath(new URL('./standin-docker.sh', import.meta.url))

export interface SshLabOptions {
  /** Number of good host addresses. */
  hosts: number
  /** Seconds the stand-in `docker swarm join` sleeps (the benchmark's join latency). Default 0. */
  joinLatency?: number
  /** Host indexes whose sshd refuses our key (Match LocalAddress → no authorized keys). */
  refuseKeyAt?: number[]
  /** Host indexes where TCP port 22 answers with a reset (connection refused). */
  rejectTcpAt?: number[]
  /** Host indexes where TCP port 22 silently drops packets (connect timeout). */
  dropTcpAt?: number[]
  /** The lab's own address range and name tag; default 10.215 / `lab` (netns bs-lab<S>). */
  network?: LabNetwork
}

export interface LabNetwork {
  /** First two octets of the /16 the slots are cut from, e.g. '10.221'. */
  prefix: string
  /** Short name tag (letters/digits, ≤ 5 characters: interface names are at most 15). */
  tag: string
}

const DEFAULT_NETWORK: LabNetwork = {prefix: '10.215', tag: 'lab'}

export interface SshLab {
  slot: number
  netns: string
  dir: string
  /** Good host addresses, index i ↔ hosts[i]. */
  hosts: string[]
  address(i: number): string
  /** Addresses inside the lab's subnet that no host answers on (no route: unreachable). */
  unassigned(count: number): string[]
  /** Private key (OpenSSH format) authorised for every lab user. */
  keyPath: string
  publicKey: string
  /** Host key the lab's sshd presents (OpenSSH public key line). */
  hostPublicKey: string
  /** The stand-in docker's state folder (one file per address, joins.log). */
  stateDir: string
  /** Lines of joins.log: "address manager-address role". */
  joins(): string[]
  /** Lines of calls.log, one per docker call: "address verb subverb" (e.g. "10.215.0.2 swarm join"). */
  calls(): string[]
  /** The hostname `docker info` / `node ls` show for an address (a fake cloud's droplet name). */
  setHostname(address: string, name: string): void
  /** Forget every swarm, join, call and hostname: all hosts are fresh nodes again. */
  resetState(): void
  /** Count new TCP connections to port 22 per group of addresses (iptables counters); `read` gives counts since `reset`. */
  connectionCounter(groups: Record<string, string[]>): {reset(): void; read(): Record<string, number>}
  /** Change the stand-in `docker swarm join` latency (seconds) from now on. */
  setJoinLatency(seconds: number): void
  /** Make every stand-in docker command sleep this long first (0: answer at once), as with a wedged daemon. */
  setInfoHang(seconds: number): void
  /** Start a second sshd with a different host key and redirect this address's port 22 to it. */
  changeHostKey(address: string): Promise<string>
  /** Run a command inside the lab's network namespace (as root on the machine). */
  nsExec(cmd: string[]): string
  /** sshd's log so far (for failing tests). */
  log(): string
  close(): Promise<void>
  /** Tear everything down at once (SIGKILL, synchronous): for a signal handler that exits right after. */
  kill(): void
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input})
}

function tryRun(cmd: string, args: string[]): void {
  try {
    run(cmd, args)
  } catch {}
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function base(slot: number): number {
  return slot * 32
}

function lockDir(net: LabNetwork): string {
  return net.tag === DEFAULT_NETWORK.tag ? '/run/belt-sshlab' : `/run/belt-sshlab-${net.tag}`
}

/** Host i of a slot: <prefix>.<32S + (i+2)/254>.<(i+2)%254 + 1>, skipping .0 and .255 of every /24. */
function hostAddress(net: LabNetwork, slot: number, i: number): string {
  const n = i + 1
  const third = base(slot) + Math.floor(n / 254)
  const fourth = (n % 254) + 1
  if (third >= base(slot) + 31) throw new Error(`sshlab: host index ${i} is beyond the slot's /19`)
  return `${net.prefix}.${third}.${fourth}`
}

function cleanupSlot(net: LabNetwork, slot: number): void {
  const LOCK_DIR = lockDir(net)
  const ns = `bs-${net.tag}${slot}`
  const pidFile = join(LOCK_DIR, `slot${slot}.pids`)
  if (existsSync(pidFile)) {
    for (const p of readFileSync(pidFile, 'utf8').split(/\s+/).filter(Boolean)) {
      try { process.kill(Number(p), 'SIGKILL') } catch {}
    }
    rmSync(pidFile, {force: true})
  }
  tryRun('ip', ['netns', 'del', ns])
  tryRun('ip', ['link', 'del', `${ns}h`])
  const dirFile = join(LOCK_DIR, `slot${slot}.dir`)
  if (existsSync(dirFile)) {
    const d = readFileSync(dirFile, 'utf8').trim()
    if (d.startsWith('/tmp/belt-sshlab-')) rmSync(d, {recursive: true, force: true})
    rmSync(dirFile, {force: true})
  }
}

function acquireSlot(net: LabNetwork): number {
  const LOCK_DIR = lockDir(net)
  mkdirSync(LOCK_DIR, {recursive: true})
  for (let attempt = 0; attempt < 2; attempt++) {
    for (let s = 0; s < SLOTS; s++) {
      const lock = join(LOCK_DIR, `slot${s}.lock`)
      try {
        const fd = openSync(lock, 'wx')
        writeSync(fd, String(process.pid))
        closeSync(fd)
        cleanupSlot(net, s) // leftovers of a killed run
        return s
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const owner = Number(readFileSync(lock, 'utf8').trim())
        if (attempt === 1 && owner && !alive(owner)) {
          cleanupSlot(net, s)
          rmSync(lock, {force: true})
        }
      }
    }
  }
  throw new Error('sshlab: all 8 lab slots are in use')
}

function releaseSlot(net: LabNetwork, slot: number): void {
  cleanupSlot(net, slot)
  rmSync(join(lockDir(net), `slot${slot}.lock`), {force: true})
}

function recordPid(net: LabNetwork, slot: number, pid: number | undefined): void {
  if (!pid) return
  const f = join(lockDir(net), `slot${slot}.pids`)
  const prev = existsSync(f) ? readFileSync(f, 'utf8') : ''
  writeFileSync(f, `${prev}${pid}\n`)
}

function sshdConfig(dir: string, port: number, hostKey: string, refuse: string[]): string {
  const lines = [
    `Port ${port}`,
    'ListenAddress 0.0.0.0',
    `HostKey ${hostKey}`,
    `PidFile ${dir}/sshd-${port}.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    'StrictModes no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    'MaxStartups 10000:100:10000',
    'MaxSessions 100',
    'MaxAuthTries 10',
    'LoginGraceTime 120',
    'LogLevel ERROR',
    'Subsystem sftp internal-sftp',
  ]
  if (refuse.length) lines.push(`Match LocalAddress ${refuse.join(',')}`, '  AuthorizedKeysFile none')
  return lines.join('\n') + '\n'
}

async function waitForLog(child: ChildProcess, check: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`sshlab: ${what} exited (${child.exitCode})`)
    if (check()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`sshlab: ${what} did not come up in ${timeoutMs} ms`)
}

function listening(ns: string, port: number): boolean {
  try {
    const out = run('nsenter', [`--net=/run/netns/${ns}`, 'ss', '-Hltn', `sport = :${port}`])
    return out.trim().length > 0
  } catch {
    return false
  }
}

export async function startSshLab(opts: SshLabOptions): Promise<SshLab> {
  const net = opts.network ?? DEFAULT_NETWORK
  if (!/^\d{1,3}\.\d{1,3}$/.test(net.prefix) || !/^[a-z0-9]{1,5}$/.test(net.tag)) throw new Error(`sshlab: bad network ${JSON.stringify(net)}`)
  const slot = acquireSlot(net)
  const ns = `bs-${net.tag}${slot}`
  const children: ChildProcess[] = []
  const dir = mkdtempSync('/tmp/belt-sshlab-')
  writeFileSync(join(lockDir(net), `slot${slot}.dir`), dir)
  try {
    chmodSync(dir, 0o755)
    const stateDir = join(dir, 'state')
    const freshState = () => {
      rmSync(stateDir, {recursive: true, force: true})
      for (const d of [stateDir, join(stateDir, 'nodes'), join(stateDir, 'names')]) {
        mkdirSync(d)
        chmodSync(d, 0o1777)
      }
    }
    freshState()
    // The lab's own /etc: a copy, bind-mounted over /etc in sshd's mount namespace. Not bind mounts of single files:
    // useradd & co. replace /etc/passwd by rename, and the kernel then detaches a file mounted over it in other
    // namespaces (another test adding a user would silently give the lab the machine's users and root's bash back).
    run('cp', ['-a', '/etc', join(dir, 'etc')])
    mkdirSync(join(dir, 'bin'))
    for (const u of ['beltop', 'beltnosudo']) mkdirSync(join(dir, 'home', u), {recursive: true})

    // Users: root with /bin/sh (fast logins, stand-in on the default PATH), one sudoer, one without sudo.
    const passwd = readFileSync(join(dir, 'etc/passwd'), 'utf8').split('\n').filter(Boolean)
      .map((l) => (l.startsWith('root:') ? l.replace(/:[^:]*$/, ':/bin/sh') : l))
      .filter((l) => !/^belt(op|nosudo):/.test(l))
    passwd.push(`beltop:x:4201:4201::${dir}/home/beltop:/bin/sh`, `beltnosudo:x:4202:4202::${dir}/home/beltnosudo:/bin/sh`)
    writeFileSync(join(dir, 'etc/passwd'), passwd.join('\n') + '\n', {mode: 0o644})
    const shadow = readFileSync(join(dir, 'etc/shadow'), 'utf8').split('\n').filter(Boolean)
      .map((l) => (l.startsWith('root:') ? l.replace(/^root:[^:]*:/, 'root:*:') : l))
    shadow.push('beltop:*:19000:0:99999:7:::', 'beltnosudo:*:19000:0:99999:7:::')
    writeFileSync(join(dir, 'etc/shadow'), shadow.join('\n') + '\n', {mode: 0o640})
    const group = readFileSync(join(dir, 'etc/group'), 'utf8').split('\n').filter(Boolean)
    group.push('beltop:x:4201:', 'beltnosudo:x:4202:')
    writeFileSync(join(dir, 'etc/group'), group.join('\n') + '\n', {mode: 0o644})
    writeFileSync(join(dir, 'etc/sudoers.d/belt-lab'), 'Defaults env_keep += "SSH_CONNECTION"\nbeltop ALL=(ALL:ALL) NOPASSWD: ALL\n', {mode: 0o440})
    writeFileSync(join(dir, 'bin/docker'),
      readFileSync(STANDIN, 'utf8').replace('@STATE@', stateDir).replace(/@LATENCYFILE@/g, join(dir, 'latency'))
        .replace(/@HANGFILE@/g, join(dir, 'hang')), {mode: 0o755})
    writeFileSync(join(dir, 'latency'), `${opts.joinLatency ?? 0}\n`)

    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'belt-sshlab-client', '-f', join(dir, 'id_ed25519')])
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'belt-sshlab-host', '-f', join(dir, 'ssh_host_ed25519_key')])
    const publicKey = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8').trim()
    writeFileSync(join(dir, 'authorized_keys'), publicKey + '\n', {mode: 0o644})

    const hosts = Array.from({length: opts.hosts}, (_, i) => hostAddress(net, slot, i))
    const b = base(slot)
    const P = net.prefix
    const linkRoot = `${P}.${b + 31}.249`
    const linkNs = `${P}.${b + 31}.250`
    run('ip', ['netns', 'add', ns])
    run('ip', ['link', 'add', `${ns}h`, 'type', 'veth', 'peer', 'name', `${ns}n`])
    run('ip', ['link', 'set', `${ns}n`, 'netns', ns])
    run('ip', ['addr', 'add', `${linkRoot}/30`, 'dev', `${ns}h`])
    run('ip', ['link', 'set', `${ns}h`, 'up'])
    const batch = [
      `link set lo up`,
      `addr add ${linkNs}/30 dev ${ns}n`,
      `link set ${ns}n up`,
      `route add default via ${linkRoot}`,
      // Addresses of the slot that no host holds answer "host unreachable" at once (local addresses win over this).
      `route add unreachable ${P}.${b}.0/19`,
      ...hosts.map((a) => `addr add ${a}/32 dev lo`),
    ]
    run('ip', ['-n', ns, '-batch', '-'], batch.join('\n') + '\n')
    run('ip', ['route', 'add', `${P}.${b}.0/19`, 'via', linkNs, 'dev', `${ns}h`])
    // With forwarding off the kernel drops packets for the unreachable route silently; on, it answers ICMP.
    run('nsenter', [`--net=/run/netns/${ns}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const ipt = (args: string[]) => run('nsenter', [`--net=/run/netns/${ns}`, 'iptables', '-w', ...args])
    for (const i of opts.rejectTcpAt ?? []) ipt(['-A', 'INPUT', '-d', hosts[i], '-p', 'tcp', '--dport', '22', '-j', 'REJECT', '--reject-with', 'tcp-reset'])
    for (const i of opts.dropTcpAt ?? []) ipt(['-A', 'INPUT', '-d', hosts[i], '-p', 'tcp', '--dport', '22', '-j', 'DROP'])

    const startSshd = async (port: number, hostKey: string, refuse: string[]): Promise<void> => {
      const cfg = join(dir, `sshd-${port}.config`)
      writeFileSync(cfg, sshdConfig(dir, port, hostKey, refuse))
      const logPath = join(dir, `sshd-${port}.log`)
      const logFd = openSync(logPath, 'a')
      const mounts = [
        `mount --bind ${dir}/etc /etc`,
        ...['/usr/bin/docker', '/usr/local/bin/docker'].filter(existsSync).map((p) => `mount --bind ${dir}/bin/docker ${p}`),
      ]
      const script = `set -e; ${mounts.join('; ')}; mkdir -p /run/sshd; exec /usr/sbin/sshd -D -e -f ${cfg}`
      const child = spawn('nsenter', [`--net=/run/netns/${ns}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script],
        {stdio: ['ignore', logFd, logFd], detached: true})
      closeSync(logFd)
      child.unref()
      children.push(child)
      recordPid(net, slot, child.pid)
      await waitForLog(child, () => listening(ns, port), `sshd on port ${port}`)
    }

    await startSshd(22, join(dir, 'ssh_host_ed25519_key'), (opts.refuseKeyAt ?? []).map((i) => hosts[i]))
    // Root must log in with dash (bash would read the machine's ~/.bashrc on every login and skew every figure).
    const probe = opts.refuseKeyAt?.includes(0) || opts.rejectTcpAt?.includes(0) || opts.dropTcpAt?.includes(0) ? null : hosts[0]
    if (probe) {
      const shell = run('ssh', ['-i', join(dir, 'id_ed25519'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'LogLevel=ERROR', `root@${probe}`, 'readlink /proc/$$/exe']).trim()
      if (!shell.endsWith('/dash')) throw new Error(`sshlab: root's login shell is '${shell}', not dash`)
    }
    const hostPublicKey = readFileSync(join(dir, 'ssh_host_ed25519_key.pub'), 'utf8').trim()
    let extraPort = 2222

    const lab: SshLab = {
      slot,
      netns: ns,
      dir,
      hosts,
      address: (i) => hostAddress(net, slot, i),
      unassigned: (count) => Array.from({length: count}, (_, k) => `${P}.${b + 30}.${200 + k}`),
      keyPath: join(dir, 'id_ed25519'),
      publicKey,
      hostPublicKey,
      stateDir,
      joins: () => {
        const f = join(stateDir, 'joins.log')
        return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []
      },
      calls: () => {
        const f = join(stateDir, 'calls.log')
        return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []
      },
      setHostname: (address, name) => writeFileSync(join(stateDir, 'names', address), `${name}\n`),
      resetState: freshState,
      connectionCounter: (groups) => {
        const chain = 'BELTCOUNT'
        tryRun('nsenter', [`--net=/run/netns/${ns}`, 'iptables', '-w', '-N', chain])
        ipt(['-F', chain])
        tryRun('nsenter', [`--net=/run/netns/${ns}`, 'iptables', '-w', '-D', 'INPUT', '-p', 'tcp', '--dport', '22', '--syn', '-j', chain])
        ipt(['-I', 'INPUT', '1', '-p', 'tcp', '--dport', '22', '--syn', '-j', chain])
        const names = Object.keys(groups)
        // One rule per address, a RETURN after it: a connection counts once, in the first group naming its address.
        for (const [g, addrs] of Object.entries(groups)) {
          for (const a of addrs) ipt(['-A', chain, '-d', a, '-m', 'comment', '--comment', `g${names.indexOf(g)}`, '-j', 'RETURN'])
        }
        return {
          reset: () => void ipt(['-Z', chain]),
          read: () => {
            const counts: Record<string, number> = Object.fromEntries(names.map((g) => [g, 0]))
            for (const line of ipt(['-L', chain, '-n', '-v', '-x']).split('\n')) {
              const m = /^\s*(\d+)\s+\d+\s+RETURN.*\/\* g(\d+) \*\//.exec(line)
              if (m) counts[names[Number(m[2])]] += Number(m[1])
            }
            return counts
          },
        }
      },
      setJoinLatency: (seconds) => writeFileSync(join(dir, 'latency'), `${seconds}\n`),
      setInfoHang: (seconds) => writeFileSync(join(dir, 'hang'), `${seconds}\n`),
      changeHostKey: async (address) => {
        const port = extraPort++
        const key = join(dir, `ssh_host_ed25519_key_${port}`)
        run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `belt-sshlab-host-${port}`, '-f', key])
        await startSshd(port, key, [])
        ipt(['-t', 'nat', '-A', 'PREROUTING', '-d', address, '-p', 'tcp', '--dport', '22', '-j', 'DNAT', '--to-destination', `${address}:${port}`])
        return readFileSync(key + '.pub', 'utf8').trim()
      },
      nsExec: (cmd) => run('nsenter', [`--net=/run/netns/${ns}`, ...cmd]),
      log: () => {
        let s = ''
        for (const f of ['sshd-22.log', 'sshd-2222.log']) if (existsSync(join(dir, f))) s += readFileSync(join(dir, f), 'utf8')
        return s
      },
      close: async () => {
        for (const c of children) {
          if (c.exitCode === null && c.pid) {
            try { process.kill(c.pid, 'SIGTERM') } catch {}
          }
        }
        await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null
          : new Promise<void>((r) => { const t = setTimeout(r, 3000); c.once('exit', () => { clearTimeout(t); r() }) }))))
        releaseSlot(net, slot)
      },
      kill: () => {
        for (const c of children) if (c.pid && c.exitCode === null) try { process.kill(c.pid, 'SIGKILL') } catch {}
        releaseSlot(net, slot)
      },
    }
    return lab
  } catch (err) {
    for (const c of children) if (c.pid) try { process.kill(c.pid, 'SIGKILL') } catch {}
    releaseSlot(net, slot)
    throw err
  }
}
