// The join bench: `belt swarm join` against `xargs -P ssh`, `parallel-ssh` and `ansible -m raw` doing the same joins
// (the same remote command string) on the same simulated fleet, each checked against the stand-in's join log.
import {execFileSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {stringify} from 'yaml'
import {Fleet, FLEET_USER, JOIN_TOKEN, MANAGER_ADDRESS, MANAGER_NODE_ID, workerAddress} from './fleet.js'
import {joinCommand} from '../src/docker/swarm.js'
import {measure, Measured} from './measure.js'
import {descendants} from './proc.js'
import {readFileSync} from 'node:fs'

export const ROOT = new URL('../', import.meta.url).pathname
export const BELT_BIN = join(ROOT, 'bin', 'run.js')

export interface JoinRow {
  tool: string
  n: number
  concurrency: number
  wallS: number
  hostsPerS: number
  cpuS: number
  cpuMsPerHost: number
  /** belt: its own max RSS; process-per-host tools: the peak summed RSS of the tool's process tree. */
  peakRssMB: number
  maxSingleRssMB: number
  /** Peak summed PSS of the tool's process tree (sampled once a second; short runs may miss the peak). */
  peakPssMB: number
  peakProcs: number
  /** CPU the simulated fleet (sshd, shells, stand-in docker) spent per host: it shares the machine's cores. */
  serverCpuMsPerHost: number
  joined: number
  failures: number
  duplicates: number
  exitCode: number | null
  /** New TCP connections from this machine to the fleet's SSH port during the run (one per host, or 1 through ssh_jump). */
  sshConnections: number
  note?: string
}

export interface JoinTool {
  name: string
  concurrency: number
  command(n: number): {cmd: string; args: string[]; env: NodeJS.ProcessEnv}
}

/**
 * The remote command every tool sends to a worker: belt's own (src/docker/swarm.ts joinCommand — look, then join,
 * in one command). Belt passes the join token on the command's stdin; the peers get it inline instead (`t=TOKEN`
 * in place of the line that reads stdin), as an operator would write it for xargs — otherwise the same string.
 */
export async function remoteJoinCommand(): Promise<{belt: string; peers: string; source: string}> {
  const belt = joinCommand(`${MANAGER_ADDRESS}:2377`, [MANAGER_NODE_ID])
  const lines = belt.split('\n')
  const read = lines.findIndex((l) => /^IFS= read -r t\b/.test(l))
  if (read < 0) throw new Error('joinCommand no longer reads the token with `IFS= read -r t`: update bench/join.ts')
  lines[read] = `t=${JOIN_TOKEN}`
  return {belt, peers: lines.join('\n'), source: 'src/docker/swarm.ts joinCommand'}
}

export interface JoinBenchContext {
  fleet: Fleet
  workDir: string
  beltDir: string
  hostsFile: (n: number) => string
  /** The peers' remote command (token inline). */
  remote: string
  /** Belt's remote command (token on stdin), for the ssh2 loop row. */
  beltRemote: string
}

/**
 * A generic-driver cluster listing mg0 + w1..wMAX, as an operator of existing machines would write it; `jump`
 * names a bastion (ssh_jump) for the cluster `bench-jump`, which is otherwise the same.
 */
export function writeBeltCluster(beltDir: string, maxN: number, keyPath: string, jump?: string): void {
  const hosts: Record<string, string> = {mg0: MANAGER_ADDRESS}
  for (let i = 1; i <= maxN; i++) hosts[`w${i}`] = workerAddress(i)
  const config = {
    driver: 'generic',
    generic: {
      ssh_user: FLEET_USER,
      ssh_key: keyPath,
      // Like the peers' StrictHostKeyChecking=no + UserKnownHostsFile=/dev/null: no host-key bookkeeping.
      strict_host_key_checking: 'no',
      ...(jump ? {ssh_jump: jump} : {}),
      hosts,
    },
  }
  const name = jump ? 'bench-jump' : 'bench'
  mkdirSync(join(beltDir, name), {recursive: true})
  writeFileSync(join(beltDir, name, 'config.yml'), stringify(config))
  if (!jump) writeFileSync(join(beltDir, 'active'), 'bench\n')
}

/** The bastion of `bench-jump`: the manager's address (the one fleet sshd forwards to every worker address). */
export const JUMP = `${FLEET_USER}@${MANAGER_ADDRESS}`

/**
 * New TCP connections this machine opened to the fleet's SSH port while `fn` ran: an iptables counting rule (no
 * target) with a comment of its own, removed afterwards.
 */
export async function countSshConnections<T>(fn: () => Promise<T>): Promise<{value: T; connections: number}> {
  const rule = ['OUTPUT', '-d', '10.220.0.0/16', '-p', 'tcp', '--dport', '22', '--syn', '-m', 'comment', '--comment', `belt-bench-ssh-${process.pid}`]
  execFileSync('iptables', ['-w', '5', '-I', ...rule])
  try {
    const value = await fn()
    const listing = execFileSync('iptables', ['-w', '5', '-L', 'OUTPUT', '-v', '-n', '-x'], {encoding: 'utf8'})
    const line = listing.split('\n').find((l) => l.includes(`belt-bench-ssh-${process.pid}`))
    return {value, connections: line ? Number(line.trim().split(/\s+/)[0]) : NaN}
  } finally {
    execFileSync('iptables', ['-w', '5', '-D', ...rule])
  }
}

function baseEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(BELT_|DIGITALOCEAN_|AWS_|DEBUG$|SSH_AUTH_SOCK$|SSH_AGENT_PID$|ANSIBLE_)/.test(k)) continue
    env[k] = v
  }
  return {...env, ...extra}
}

export function tools(ctx: JoinBenchContext): {belt: (c: number, cluster?: string) => JoinTool; peers: JoinTool[]; reference: JoinTool} {
  const sshArgs = ctx.fleet.sshArgs()
  const belt = (concurrency: number, cluster = 'bench'): JoinTool => ({
    name: cluster === 'bench-jump' ? 'belt swarm join (ssh_jump)' : 'belt swarm join',
    concurrency,
    command: (n) => ({
      cmd: process.execPath,
      args: [BELT_BIN, 'swarm', 'join', 'mg0', `w[1:${n}]`, '--concurrency', String(concurrency)],
      env: baseEnv({BELT_DIR: ctx.beltDir, BELT_CLUSTER: cluster}),
    }),
  })
  const xargs: JoinTool = {
    name: 'xargs -P ssh',
    concurrency: 100,
    command: (n) => ({
      cmd: 'xargs',
      args: ['-P', '100', '-a', ctx.hostsFile(n), '-I', '{}', 'ssh', ...sshArgs, `${FLEET_USER}@{}`, ctx.remote],
      env: baseEnv(),
    }),
  }
  const pssh: JoinTool = {
    name: 'parallel-ssh',
    concurrency: 100,
    command: (n) => ({
      cmd: 'parallel-ssh',
      // -t 0: no per-host timeout (its default of 60 s would cut slow hosts under load, which is not the point).
      args: ['-p', '100', '-t', '0', '-h', ctx.hostsFile(n), '-l', FLEET_USER, '-x', sshArgs.map(q).join(' '), ctx.remote],
      env: baseEnv(),
    }),
  }
  const ansible: JoinTool = {
    name: 'ansible -m raw',
    concurrency: 100,
    command: (n) => ({
      cmd: 'ansible',
      // {% raw %}: ansible runs its arguments through Jinja2; the remote command (with {{...}}) must reach ssh as is.
      args: ['all', '-i', join(ctx.workDir, `inventory-${n}.ini`), '-f', '100', '-m', 'raw', '-a', `{% raw %}${ctx.remote}{% endraw %}`, '-u', FLEET_USER, '--private-key', ctx.fleet.paths.clientKey],
      env: baseEnv({
        ANSIBLE_HOST_KEY_CHECKING: 'False',
        // Ansible's default ssh_args add ControlMaster=auto/ControlPersist=60s: masters that outlive the run
        // (their CPU escapes the measurement) and help nothing for one command per host. Same options as the others.
        ANSIBLE_SSH_ARGS: '-o ControlMaster=no -o IdentitiesOnly=yes -o UserKnownHostsFile=/dev/null -o KexAlgorithms=curve25519-sha256 -o LogLevel=ERROR',
        ANSIBLE_TIMEOUT: '60',
        ANSIBLE_HOME: join(ctx.workDir, 'ansible-home'),
        ANSIBLE_LOCAL_TEMP: join(ctx.workDir, 'ansible-tmp'),
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_DEPRECATION_WARNINGS: 'False',
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      }),
    }),
  }
  const ssh2Loop: JoinTool = {
    name: 'ssh2 + p-limit loop',
    concurrency: 100,
    command: (n) => ({
      cmd: process.execPath,
      args: [join(ROOT, 'bench', 'ssh2-loop.mjs'), ctx.fleet.paths.clientKey, FLEET_USER, '100', ctx.hostsFile(n), ctx.beltRemote, JOIN_TOKEN + '\n'],
      env: baseEnv(),
    }),
  }
  return {belt, peers: [xargs, pssh, ansible], reference: ssh2Loop}
}

function q(s: string): string {
  return /^[A-Za-z0-9_/.,:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

export function prepareFiles(ctx: {workDir: string}, ns: number[]): (n: number) => string {
  mkdirSync(join(ctx.workDir, 'ansible-home'), {recursive: true})
  mkdirSync(join(ctx.workDir, 'ansible-tmp'), {recursive: true})
  for (const n of ns) {
    const addrs = Array.from({length: n}, (_, i) => workerAddress(i + 1))
    writeFileSync(join(ctx.workDir, `hosts-${n}.txt`), addrs.join('\n') + '\n')
    writeFileSync(join(ctx.workDir, `inventory-${n}.ini`), '[fleet]\n' + addrs.join('\n') + '\n')
  }
  return (n) => join(ctx.workDir, `hosts-${n}.txt`)
}

/** Wait until the fleet sshd has no session children left (the previous tool's connections are gone). */
export async function fleetQuiet(fleet: Fleet, timeoutMs = 60_000): Promise<void> {
  const pid = Number(readFileSync(fleet.paths.sshdPid, 'utf8').trim())
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (descendants(pid).length <= 1) return
    await new Promise((r) => setTimeout(r, 200))
  }
}

export async function runJoin(ctx: JoinBenchContext, tool: JoinTool, n: number): Promise<{row: JoinRow; m: Measured; outputPath: string}> {
  await fleetQuiet(ctx.fleet)
  ctx.fleet.checkShell()
  ctx.fleet.resetJoins()
  const server0 = ctx.fleet.serverCpuS()
  const {cmd, args, env} = tool.command(n)
  const slug = tool.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()
  const outputPath = join(ctx.workDir, `${slug}-${n}-c${tool.concurrency}.out`)
  const {value: m, connections} = await countSshConnections(() => measure(cmd, args, {env, cwd: ctx.workDir, outputPath, timeoutMs: 15 * 60_000}))
  await fleetQuiet(ctx.fleet)
  ctx.fleet.checkShell()
  const serverCpuS = ctx.fleet.serverCpuS() - server0
  const joins = ctx.fleet.joins()
  let joined = 0
  let duplicates = 0
  for (let i = 1; i <= n; i++) {
    const c = joins.get(workerAddress(i)) ?? 0
    if (c >= 1) joined++
    if (c > 1) duplicates++
  }
  const targets = new Set(Array.from({length: n}, (_, i) => workerAddress(i + 1)))
  const strays = [...joins.keys()].filter((a) => !targets.has(a)).length
  const row: JoinRow = {
    tool: tool.name,
    n,
    concurrency: tool.concurrency,
    wallS: m.wallS,
    hostsPerS: n / m.wallS,
    cpuS: m.cpuS,
    cpuMsPerHost: (m.cpuS * 1000) / n,
    peakRssMB: (tool.name.startsWith('belt') ? m.maxRssBytes : m.peakTreeRssBytes) / 2 ** 20,
    maxSingleRssMB: m.maxRssBytes / 2 ** 20,
    peakPssMB: m.peakTreePssBytes / 2 ** 20,
    peakProcs: m.peakProcs,
    serverCpuMsPerHost: (serverCpuS * 1000) / n,
    joined,
    failures: n - joined + duplicates + strays,
    duplicates,
    exitCode: m.exitCode,
    sshConnections: connections,
  }
  if (m.exitCode !== 0 || row.failures > 0) {
    const tail = readFileSync(outputPath, 'utf8').trim().split('\n').slice(-3).join(' / ').replace(/SWMTKN-[\w-]+/g, 'SWMTKN-…redacted')
    row.note = `exit ${m.exitCode ?? m.signal}: ${tail.slice(0, 400)}`
  }
  return {row, m, outputPath}
}
