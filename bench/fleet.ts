// The simulated fleet the join bench runs against: ONE real OpenSSH sshd in a network namespace answering on N
// addresses, and a stand-in `docker` first on the login's PATH which behaves like an inactive Docker node, sleeps a
// join latency on `docker swarm join` and logs each join by the address sshd was reached on ($SSH_CONNECTION's
// server address). Names: netns/veth prefix `bb-`, subnet 10.220.0.0/16.
// The login is root, as on a fresh droplet (so belt adds no `sudo -n`), but with /bin/sh as its shell: sshd runs in
// its own mount namespace where /etc is a copy with root's shell changed (the machine's /etc is untouched), and the
// stand-in is bind-mounted over /usr/bin/docker there too, in case a command names it by path.
//
//   root netns  bb-h0 10.220.0.1 ──veth── bb-f0 10.220.0.2 + 10.220.0.10 (mg0) + 10.220.1.1 … (w1 …)  netns bb-fleet
//
// The root side routes 10.220.0.0/16 via 10.220.0.2, so it holds one neighbour entry, not one per address
// (the default neighbour table overflows at 1,024).
import {execFileSync, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {killTree} from './proc.js'

export const NETNS = 'bb-fleet'
export const VETH_HOST = 'bb-h0'
export const VETH_FLEET = 'bb-f0'
export const FLEET_USER = 'root'
export const FLEET_DIR = '/var/tmp/bb-bench'
export const HOST_SIDE = '10.220.0.1'
export const FLEET_SIDE = '10.220.0.2'
export const MANAGER_ADDRESS = '10.220.0.10'
export const JOIN_TOKEN = 'SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx'
export const MANAGER_TOKEN = 'SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-7p73s1dx5in4tatdymyhg9hu2'
export const CLUSTER_ID = 'k3bq1fu0mzdfxkbzrr7wfyb2a'
export const MANAGER_NODE_ID = 'mgr0q8y4c2lq3yqgq7w1kyh2v'

/** Worker i (1-based) → 10.220.(1 + ⌊(i-1)/250⌋).(1 + (i-1) mod 250): room for 63,000 workers. */
export function workerAddress(i: number): string {
  return `10.220.${1 + Math.floor((i - 1) / 250)}.${1 + ((i - 1) % 250)}`
}

export interface FleetPaths {
  dir: string
  bin: string
  state: string
  joinLog: string
  joined: string
  sshdConfig: string
  sshdPid: string
  sshdLog: string
  clientKey: string
  hostKey: string
  authorizedKeys: string
}

export function fleetPaths(dir = FLEET_DIR): FleetPaths {
  const state = join(dir, 'state')
  return {
    dir,
    bin: join(dir, 'bin'),
    state,
    joinLog: join(state, 'joins.log'),
    joined: join(state, 'joined'),
    sshdConfig: join(dir, 'sshd_config'),
    sshdPid: join(dir, 'sshd.pid'),
    sshdLog: join(dir, 'sshd.log'),
    clientKey: join(dir, 'client', 'id_ed25519'),
    hostKey: join(dir, 'hostkey', 'ssh_host_ed25519_key'),
    authorizedKeys: join(dir, 'authorized_keys'),
  }
}

function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, {encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe']})
}
function tryRun(cmd: string, args: string[]): void {
  spawnSync(cmd, args, {stdio: 'ignore'})
}

/** The stand-in `docker` (bench/standin-docker.sh) with this fleet's values filled in. */
function standInDocker(p: FleetPaths, latency: number): string {
  const values: Record<string, string> = {
    STATE: p.state,
    LATENCY: String(latency),
    MANAGER: MANAGER_ADDRESS,
    TOKEN_W: JOIN_TOKEN,
    TOKEN_M: MANAGER_TOKEN,
    CLUSTER_ID,
    MANAGER_NODE_ID,
  }
  return readFileSync(STAND_IN, 'utf8').replace(/@([A-Z_]+)@/g, (m, k: string) => (k in values ? `'${values[k]}'` : m))
}

const STAND_IN = fileURLToPath(new URL('./standin-docker.sh', import.meta.url))

export interface FleetOptions {
  /** Number of worker addresses (w1..wN); the manager mg0 is extra. */
  workers: number
  /** Seconds the stand-in sleeps on `docker swarm join`. */
  joinLatency: number
  maxStartups?: string
  log?: (line: string) => void
}

export class Fleet {
  readonly paths: FleetPaths
  private constructor(readonly workers: number, readonly joinLatency: number) {
    this.paths = fleetPaths()
  }

  /** Tear down leftovers of an earlier run, then build the fleet. */
  static up(opts: FleetOptions): Fleet {
    const log = opts.log ?? (() => {})
    Fleet.down()
    const f = new Fleet(opts.workers, opts.joinLatency)
    const p = f.paths
    log(`fleet: ${opts.workers} worker addresses + manager in netns ${NETNS} (10.220.0.0/16), one sshd`)
    for (const d of [p.dir, p.bin, p.state, p.joined, join(p.dir, 'client'), join(p.dir, 'hostkey')]) mkdirSync(d, {recursive: true})
    chmodSync(p.dir, 0o755)
    // The fleet's own /etc: a copy with root's shell set to /bin/sh, bind-mounted over /etc in sshd's mount namespace.
    // Not a bind mount of /etc/passwd alone: useradd & co. replace /etc/passwd by rename, and the kernel then detaches
    // a file bind-mounted over it in other namespaces — root would silently get bash (and its ~/.bashrc) back.
    const etc = join(p.dir, 'etc')
    run('cp', ['-a', '/etc', etc])
    const passwd = readFileSync(join(etc, 'passwd'), 'utf8').replace(/^root:([^:\n]*:0:0:[^:\n]*:[^:\n]*):[^:\n]*$/m, 'root:$1:/bin/sh')
    if (!/^root:[^\n]*:\/bin\/sh$/m.test(passwd)) throw new Error('cannot set root\'s shell to /bin/sh in the fleet\'s copy of /etc/passwd')
    writeFileSync(join(etc, 'passwd'), passwd, {mode: 0o644})
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bb-bench-client', '-f', p.clientKey])
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bb-bench-host', '-f', p.hostKey])
    writeFileSync(p.authorizedKeys, readFileSync(p.clientKey + '.pub'), {mode: 0o644})
    writeFileSync(join(p.bin, 'docker'), standInDocker(p, opts.joinLatency), {mode: 0o755})
    f.resetJoins()

    // Network: one veth, the fleet side holding every address.
    run('ip', ['netns', 'add', NETNS])
    run('ip', ['link', 'add', VETH_HOST, 'type', 'veth', 'peer', 'name', VETH_FLEET, 'netns', NETNS])
    run('ip', ['addr', 'add', HOST_SIDE, 'peer', FLEET_SIDE, 'dev', VETH_HOST])
    run('ip', ['link', 'set', VETH_HOST, 'up'])
    run('ip', ['route', 'add', '10.220.0.0/16', 'via', FLEET_SIDE, 'dev', VETH_HOST])
    const batch = [
      `link set lo up`,
      `addr add ${FLEET_SIDE} peer ${HOST_SIDE} dev ${VETH_FLEET}`,
      `addr add ${MANAGER_ADDRESS}/32 dev ${VETH_FLEET}`,
    ]
    for (let i = 1; i <= opts.workers; i++) batch.push(`addr add ${workerAddress(i)}/32 dev ${VETH_FLEET}`)
    batch.push(`link set ${VETH_FLEET} up`)
    run('ip', ['-n', NETNS, '-batch', '-'], batch.join('\n') + '\n')
    // Many sockets in TIME_WAIT per run: let the fleet namespace reuse them and take big bursts.
    run('nsenter', [`--net=/run/netns/${NETNS}`, 'sysctl', '-q', '-w', 'net.core.somaxconn=8192', 'net.ipv4.tcp_max_syn_backlog=8192'])

    // sshd: -r (no re-exec per connection) keeps the simulated servers' CPU per connection down; they share the
    // machine's cores with the tool being measured.
    const maxStartups = opts.maxStartups ?? '4000:30:8000'
    writeFileSync(
      p.sshdConfig,
      [
        'ListenAddress 0.0.0.0:22',
        `HostKey ${p.hostKey}`,
        `PidFile ${p.sshdPid}`,
        `AuthorizedKeysFile ${p.authorizedKeys}`,
        `AllowUsers ${FLEET_USER}`,
        'StrictModes no',
        'UsePAM no',
        'UseDNS no',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'PrintMotd no',
        'PrintLastLog no',
        'X11Forwarding no',
        'Compression no',
        'LogLevel ERROR',
        `MaxStartups ${maxStartups}`,
        'MaxSessions 100',
        'LoginGraceTime 120',
        `SetEnv PATH=${p.bin}:/usr/bin:/bin`,
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    )
    mkdirSync('/run/sshd', {recursive: true, mode: 0o755})
    const mounts = [`mount --bind ${join(p.dir, 'etc')} /etc`, ...['/usr/bin/docker', '/usr/local/bin/docker'].filter(existsSync).map((d) => `mount --bind ${join(p.bin, 'docker')} ${d}`)]
    const script = `set -e; ${mounts.join('; ')}; exec /usr/sbin/sshd -r -f ${p.sshdConfig} -E ${p.sshdLog}`
    run('nsenter', [`--net=/run/netns/${NETNS}`, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script])
    f.waitListening()
    return f
  }

  private waitListening(): void {
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline) {
      const r = spawnSync('ssh', [...this.sshArgs(), `${FLEET_USER}@${MANAGER_ADDRESS}`, 'docker info --format "{{.Swarm.LocalNodeState}}"'], {encoding: 'utf8'})
      if (r.status === 0 && r.stdout.trim() === 'active') return
      spawnSync('sleep', ['0.1'])
    }
    throw new Error(`fleet sshd did not answer on ${MANAGER_ADDRESS}; see ${this.paths.sshdLog}`)
  }

  /** Throw unless a session on the fleet runs dash as the login shell (bash would read root's ~/.bashrc per host). */
  checkShell(): void {
    const r = spawnSync('ssh', [...this.sshArgs(), `${FLEET_USER}@${MANAGER_ADDRESS}`, 'readlink /proc/$$/exe'], {encoding: 'utf8'})
    const shell = r.stdout.trim()
    if (!/\/dash$/.test(shell)) throw new Error(`the fleet's login shell is '${shell || r.stderr.trim()}', not /bin/sh (dash): figures would be wrong`)
  }

  /** OpenSSH options every OpenSSH-based peer uses (no host-key bookkeeping; curve25519 key exchange). */
  sshArgs(): string[] {
    return [
      '-i', this.paths.clientKey,
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR',
      '-o', 'KexAlgorithms=curve25519-sha256',
      '-o', 'ConnectTimeout=60',
    ]
  }

  /** CPU seconds (user + sys) of every finished process under the fleet sshd (its reaped children). */
  serverCpuS(): number {
    const pid = Number(readFileSync(this.paths.sshdPid, 'utf8').trim())
    const st = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ')
    // fields after ')' start at 3 (state): cutime = 16, cstime = 17 → indexes 13, 14; clock ticks of 1/100 s.
    return (Number(f[13]) + Number(f[14])) / 100
  }

  addresses(n: number): string[] {
    return Array.from({length: n}, (_, i) => workerAddress(i + 1))
  }

  /** Forget every join (all nodes inactive again). */
  resetJoins(): void {
    const p = this.paths
    writeFileSync(p.joinLog, '')
    writeFileSync(join(p.state, 'misc.log'), '')
    for (const f of readdirSync(p.joined)) rmSync(join(p.joined, f), {force: true})
  }

  /** Joins recorded since the last reset: address → count. */
  joins(): Map<string, number> {
    const m = new Map<string, number>()
    for (const line of readFileSync(this.paths.joinLog, 'utf8').split('\n')) {
      if (line) m.set(line, (m.get(line) ?? 0) + 1)
    }
    return m
  }

  miscCommands(): string[] {
    const f = join(this.paths.state, 'misc.log')
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : []
  }

  /** Remove everything a fleet (of this or an earlier, killed run) made: sshd (and its mount namespace), netns, veth, files. */
  static down(): void {
    const p = fleetPaths()
    // sshd and everything under it (per-connection sshd, shells, stand-in sleeps), by pid.
    if (existsSync(p.sshdPid)) {
      const pid = Number(readFileSync(p.sshdPid, 'utf8').trim())
      if (pid > 1 && isFleetSshd(pid)) killTree(pid, 'SIGKILL')
    }
    tryRun('ip', ['netns', 'del', NETNS])
    tryRun('ip', ['link', 'del', VETH_HOST])
    rmSync(p.dir, {recursive: true, force: true})
  }
}

function isFleetSshd(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(fleetPaths().sshdConfig)
  } catch {
    return false
  }
}

