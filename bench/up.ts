// Up section: `belt up` of 3 managers + N workers against the fake DigitalOcean (150 ms per request, each droplet
// active 20–60 s after its create, the 250-per-minute window enforced) and the SSH lab (one sshd answering on every
// droplet's address, test/lib/sshlab.ts, with the stand-in docker keeping the swarm), beside the fixed "waves"
// baseline in the same run: `belt create` managers and workers → `belt status --wait` → `belt swarm init` →
// `belt swarm join` managers, then workers, as the Swarm2k chapter does by hand. Reports both wall times, the tail
// (from the last droplet becoming active — the fake knows when — to the last join), the busiest 60 s of requests,
// and what a re-run of `belt up` costs: API requests and SSH connections per host class (iptables counters).
import {spawn} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, appendFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {FakeDigitalOcean} from '../test/fakes/digitalocean.js'
import {startSshLab, type SshLab} from '../test/lib/sshlab.js'
import {BELT_BIN} from './join.js'
import {running} from './measure.js'
import {killTree} from './proc.js'

/** The lab's own range (COMMON: upbench owns 10.221.0.0/16); tag `upb` → netns bs-upb<S>. */
export const UP_NETWORK = {prefix: '10.221', tag: 'upb'}
export const MANAGERS = 3
export const LATENCY_MS = 150
export const BOOT_MIN_S = 20
export const BOOT_MAX_S = 60
/** belt's DigitalOcean wait lists every 5 s (src/providers/digitalocean/index.ts POLL_MS). */
export const POLL_S = 5

/** Labs now up (bench/main.ts tears them down on Ctrl-C). */
export const labsUp = new Set<SshLab>()

export interface Step {
  step: string
  wallS: number
  code: number | null
}

export interface UpRun {
  mode: 'waves' | 'up'
  wallS: number
  steps: Step[]
  /** Last droplet active → last node joined (the stand-in's state files' mtimes), seconds. */
  tailS: number
  /** Last droplet active → the command (sequence) ended, seconds. */
  tailToEndS: number
  /** First worker join → last droplet active, seconds: > 0 means workers joined while others still booted. */
  overlapS: number
  requests: number
  throttled: number
  peakPerMinute: number
  byCall: Record<string, number>
  joined: number
  managers: number
  expected: number
  logPath: string
  error?: string
  rerun?: {
    requests: number; byCall: Record<string, number>; connections: Record<string, number>; created: number; joined: number; code: number | null; wallS: number
  }
}

export interface UpResult {
  workers: number
  managers: number
  joinLatencyS: number
  latencyMs: number
  bootS: [number, number]
  pollS: number
  runs: UpRun[]
}

/** A droplet's boot time from its name (FNV-1a → uniform in [min, max] s): the same spread in both runs. */
export function bootMs(name: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return Math.round((BOOT_MIN_S + (h / 2 ** 32) * (BOOT_MAX_S - BOOT_MIN_S)) * 1000)
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(BELT_|DIGITALOCEAN_|AWS_|DEBUG$|SSH_AUTH_SOCK$)/.test(k)) env[k] = v
  return {...env, ...extra}
}

/** Run belt; every stderr line goes to `logPath` with its time since `t0` (for profiling the stages). */
function runBelt(args: string[], env: NodeJS.ProcessEnv, cwd: string, logPath: string, t0: number):
  Promise<{code: number | null; stdout: string; stderr: string}> {
  appendFileSync(logPath, `\n[${((Date.now() - t0) / 1000).toFixed(1)}] $ belt ${args.join(' ')}\n`)
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BELT_BIN, ...args], {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    running.add(c.pid!)
    const timer = setTimeout(() => killTree(c.pid!), 30 * 60_000)
    let stdout = ''
    let stderr = ''
    let partial = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      const lines = (partial + d).split('\n')
      partial = lines.pop() ?? ''
      const at = ((Date.now() - t0) / 1000).toFixed(1)
      for (const l of lines) appendFileSync(logPath, `[${at}] ${l.replace(/SWMTKN-[\w-]+/g, 'SWMTKN-…redacted')}\n`)
    })
    c.on('error', reject)
    c.on('exit', (code) => {
      clearTimeout(timer)
      running.delete(c.pid!)
      resolve({code, stdout, stderr})
    })
  })
}

interface Cloud {
  fake: FakeDigitalOcean
  env: NodeJS.ProcessEnv
  cwd: string
}

/** A fresh fake cloud handing out the lab's addresses in order, and a fresh cluster `bench` pointed at it. */
async function freshCloud(lab: SshLab, mode: string, workDir: string, swarm: Record<string, unknown> | null, logPath: string): Promise<Cloud> {
  lab.resetState()
  let next = 0
  const fake = new FakeDigitalOcean({
    latencyMs: LATENCY_MS,
    activeAfterMs: bootMs,
    assignAddress: (name) => {
      if (next >= lab.hosts.length) throw new Error(`the lab has only ${lab.hosts.length} hosts`)
      const a = lab.hosts[next++]
      lab.setHostname(a, name)
      // One address for both: the stand-in keys a node's state by the address sshd was reached on.
      return {public: a, private: a}
    },
  })
  const url = await fake.start()
  const fingerprint = fake.seedKey(lab.publicKey, 'bench-lab')
  const cwd = join(workDir, `up-${mode}`)
  mkdirSync(cwd, {recursive: true})
  const env = cleanEnv({
    BELT_DIR: join(cwd, '.belt'),
    DIGITALOCEAN_ACCESS_TOKEN: fake.token,
    DIGITALOCEAN_API_URL: url,
    BELT_API_WINDOW_FILE: join(cwd, 'api-window.json'),
  })
  const nw = await runBelt(['cluster', 'new', 'bench', '--driver', 'digitalocean'], env, cwd, logPath, Date.now())
  if (nw.code !== 0) throw new Error(`belt cluster new: ${nw.stderr.trim()}`)
  const file = join(cwd, '.belt', 'bench', 'config.yml')
  const config = parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  config.digitalocean = {...(config.digitalocean as object), region: 'sgp1', image: 'docker-20-04', ssh_user: 'root', ssh_key: lab.keyPath, ssh_key_fingerprint: fingerprint}
  if (swarm) config.swarm = swarm
  else delete config.swarm
  writeFileSync(file, stringify(config))
  return {fake, env, cwd}
}

/** When each lab address last changed its swarm state (init, join): the state files' mtimes. */
function joinTimes(lab: SshLab): Map<string, number> {
  const m = new Map<string, number>()
  for (const f of readdirSync(lab.stateDir)) {
    if (!/^\d+\.\d+\.\d+\.\d+$/.test(f)) continue
    const line = readFileSync(join(lab.stateDir, f), 'utf8')
    if (line.startsWith('active ')) m.set(f, statSync(join(lab.stateDir, f)).mtimeMs)
  }
  return m
}

function byCall(fake: FakeDigitalOcean, from = 0): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of fake.log.slice(from)) out[`${r.method} ${r.route}`] = (out[`${r.method} ${r.route}`] ?? 0) + 1
  return out
}

function settle(run: UpRun, lab: SshLab, fake: FakeDigitalOcean, t0: number, tEnd: number): void {
  const active = [...fake.activeTimes().values()]
  const lastActive = Math.max(...active)
  const joins = joinTimes(lab)
  const times = [...joins.values()]
  const workerTimes = [...joins].filter(([a]) => /^w\d+$/.test(hostnameOf(lab, a))).map(([, t]) => t)
  run.joined = joins.size
  run.managers = readdirSync(join(lab.stateDir, 'nodes')).filter((f) => !f.startsWith('.'))
    .map((f) => readFileSync(join(lab.stateDir, 'nodes', f), 'utf8').split(' ')[3]).filter((r) => r === 'manager').length
  run.tailS = times.length ? (Math.max(...times) - lastActive) / 1000 : NaN
  run.tailToEndS = (tEnd - lastActive) / 1000
  run.overlapS = workerTimes.length ? (lastActive - Math.min(...workerTimes)) / 1000 : NaN
  run.wallS = (tEnd - t0) / 1000
  run.requests = fake.log.length
  run.throttled = fake.log.filter((r) => r.status === 429).length
  run.peakPerMinute = fake.peakPerWindow()
  run.byCall = byCall(fake)
  // Each lab address joined at most once (joins.log: one line per successful join).
  const seen = new Map<string, number>()
  for (const l of lab.joins()) seen.set(l.split(' ')[0], (seen.get(l.split(' ')[0]) ?? 0) + 1)
  const twice = [...seen].filter(([, c]) => c > 1).length
  if (!run.error && twice) run.error = `${twice} nodes joined more than once`
  if (!run.error && (run.joined !== run.expected || run.managers !== MANAGERS)) {
    run.error = `${run.joined}/${run.expected} nodes in the swarm, ${run.managers}/${MANAGERS} managers`
  }
}

async function waves(lab: SshLab, n: number, workDir: string, log: (l: string) => void, logDir: string): Promise<UpRun> {
  const logPath = join(logDir, 'waves.log')
  writeFileSync(logPath, '')
  const run: UpRun = blankRun('waves', n, logPath)
  const {fake, env, cwd} = await freshCloud(lab, 'waves', workDir, null, logPath)
  const workers = `w[1:${n}]`
  const sequence: [string, string[]][] = [
    ['create managers', ['create', '8gb', `mg[0:${MANAGERS - 1}]`, '--yes']],
    ['create workers', ['create', '1gb', workers, '--yes']],
    ['status --wait', ['status', '--wait', `active=${n + MANAGERS}`, '--timeout', '20m']],
    ['swarm init', ['swarm', 'init', 'mg0']],
    ['join managers', ['swarm', 'join', 'mg0', `mg[1:${MANAGERS - 1}]`, '--manager']],
    ['join workers', ['swarm', 'join', 'mg0', workers]],
  ]
  const t0 = Date.now()
  try {
    for (const [step, args] of sequence) {
      const s0 = Date.now()
      log(`  waves: ${step} …`)
      const r = await runBelt(args, env, cwd, logPath, t0)
      run.steps.push({step, wallS: (Date.now() - s0) / 1000, code: r.code})
      if (r.code !== 0) {
        run.error = `${step}: belt ${args[0]} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}`
        break
      }
    }
    settle(run, lab, fake, t0, Date.now())
  } finally {
    await fake.stop()
  }
  return run
}

/** The swarm block `belt up` converges to: 3 managers, one pool of N workers. */
export function swarmBlock(n: number): Record<string, unknown> {
  return {
    managers: {names: `mg[0:${MANAGERS - 1}]`, size: '8gb'},
    workers: [{name: 'w', names: `w[1:${n}]`, size: '1gb'}],
    join: 'ssh',
    tls: 'none',
  }
}

async function pipelined(lab: SshLab, n: number, workDir: string, log: (l: string) => void, logDir: string): Promise<UpRun> {
  const logPath = join(logDir, 'up.log')
  writeFileSync(logPath, '')
  const run: UpRun = blankRun('up', n, logPath)
  const {fake, env, cwd} = await freshCloud(lab, 'up', workDir, swarmBlock(n), logPath)
  const t0 = Date.now()
  try {
    log('  up: belt up --yes --json …')
    const r = await runBelt(['up', '--yes', '--json'], env, cwd, logPath, t0)
    const tEnd = Date.now()
    run.steps.push({step: 'belt up', wallS: (tEnd - t0) / 1000, code: r.code})
    if (r.code !== 0) run.error = `belt up exited ${r.code}: ${failures(r.stdout) || r.stderr.trim().split('\n').slice(-2).join(' / ')}`
    settle(run, lab, fake, t0, tEnd)

    // The re-run: nothing to do, so only the listing and one look through each manager.
    log('  up: re-run …')
    const managerAddrs = lab.hosts.filter((a) => /^mg\d+$/.test(hostnameOf(lab, a)))
    const workerAddrs = lab.hosts.filter((a) => !managerAddrs.includes(a))
    const counter = lab.connectionCounter({managers: managerAddrs, workers: workerAddrs})
    counter.reset()
    const before = fake.log.length
    const r0 = Date.now()
    const again = await runBelt(['up', '--yes', '--json'], env, cwd, logPath, t0)
    let doc: {created?: string[]; joined?: string[]} = {}
    try {
      doc = JSON.parse(again.stdout)
    } catch {
      // reported through the counts below
    }
    run.rerun = {
      requests: fake.log.length - before, byCall: byCall(fake, before), connections: counter.read(),
      created: doc.created?.length ?? -1, joined: doc.joined?.length ?? -1, code: again.code, wallS: (Date.now() - r0) / 1000,
    }
  } finally {
    await fake.stop()
  }
  return run
}

/** belt up's failures by step and first error ("59 at join: …, e.g. w17"), from its JSON document. */
function failures(stdout: string): string {
  try {
    const doc = JSON.parse(stdout) as {failed?: {name: string; step: string; error: string}[]}
    const by = new Map<string, {n: number; example: string}>()
    for (const f of doc.failed ?? []) {
      const k = `${f.step}: ${f.error.replace(/\d+(\.\d+){3}/g, 'ADDR')}`
      const e = by.get(k) ?? {n: 0, example: f.name}
      e.n++
      by.set(k, e)
    }
    return [...by].map(([k, e]) => `${e.n} at ${k} (e.g. ${e.example})`).join('; ')
  } catch {
    return ''
  }
}

function hostnameOf(lab: SshLab, address: string): string {
  try {
    return readFileSync(join(lab.stateDir, 'names', address), 'utf8').trim()
  } catch {
    return ''
  }
}

function blankRun(mode: 'waves' | 'up', n: number, logPath: string): UpRun {
  return {
    mode, wallS: NaN, steps: [], tailS: NaN, tailToEndS: NaN, overlapS: NaN, requests: 0, throttled: 0, peakPerMinute: 0, byCall: {},
    joined: 0, managers: 0, expected: n + MANAGERS, logPath,
  }
}

export async function runUp(opts: {workers: number; joinLatencyS: number; log: (l: string) => void; workDir: string; skipUp?: boolean}): Promise<UpResult> {
  const {workers: n, log} = opts
  const logDir = join(tmpdir(), 'belt-bench-up')
  mkdirSync(logDir, {recursive: true})
  log(`up: SSH lab of ${n + MANAGERS} hosts in ${UP_NETWORK.prefix}.0.0/16 (netns bs-${UP_NETWORK.tag}*), join latency ${opts.joinLatencyS} s; logs in ${logDir}`)
  const lab = await startSshLab({hosts: n + MANAGERS, joinLatency: opts.joinLatencyS, network: UP_NETWORK})
  labsUp.add(lab)
  const result: UpResult = {
    workers: n, managers: MANAGERS, joinLatencyS: opts.joinLatencyS, latencyMs: LATENCY_MS, bootS: [BOOT_MIN_S, BOOT_MAX_S], pollS: POLL_S, runs: [],
  }
  try {
    for (const mode of ['waves', 'up'] as const) {
      if (mode === 'up' && opts.skipUp) continue
      let r: UpRun
      try {
        r = mode === 'waves' ? await waves(lab, n, opts.workDir, log, logDir) : await pipelined(lab, n, opts.workDir, log, logDir)
      } catch (e) {
        r = {...blankRun(mode, n, join(logDir, `${mode}.log`)), error: (e as Error).message}
      }
      log(`  ${mode}: ${r.wallS.toFixed(1)} s, tail ${r.tailS.toFixed(1)} s, ${r.requests} requests, peak ${r.peakPerMinute}/60 s, ${r.joined}/${r.expected} joined${r.error ? ' — ' + r.error : ''}`)
      result.runs.push(r)
    }
  } finally {
    labsUp.delete(lab)
    await lab.close()
  }
  return result
}
