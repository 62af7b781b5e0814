// API section: `belt create` + `belt status --wait` of many nodes against the fake DigitalOcean API
// (test/fakes/digitalocean.ts) and the fake EC2 server (test/fakes/ec2.ts), each behind a proxy adding a fixed
// latency per request, with nodes taking 30 s to become active. Counts every request, the create calls and the
// busiest 60 s window, and checks the fake ends with exactly the nodes asked for, all active.
import {spawn} from 'node:child_process'
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {BELT_BIN} from './join.js'
// Static imports: everything the TypeScript loader has to compile is compiled at start-up, not in the middle of a run.
import {FakeDigitalOcean} from '../test/fakes/digitalocean.js'
import {Ec2Fake} from '../test/fakes/ec2.js'
import {LatencyProxy} from './latency-proxy.js'
import {running} from './measure.js'
import {killTree} from './proc.js'

export interface ApiRun {
  api: 'digitalocean' | 'ec2'
  nodes: number
  wallS: number
  createWallS: number
  waitWallS: number
  requests: number
  createCalls: number
  listCalls: number
  /** Replies refusing the call for rate (429 / RequestLimitExceeded). */
  throttled: number
  peakPerMinute: number
  /** Requests per call ("POST /v2/droplets", "RunInstances", ...). */
  byCall: Record<string, number>
  created: number
  active: number
  exitCodes: (number | null)[]
  error?: string
}

export interface ApiResult {
  latencyMs: number
  activeAfterS: number
  runs: ApiRun[]
}

/** One fake API, started, with what the bench needs to read from it afterwards. */
interface Fake {
  /** URL belt is pointed at. */
  url: string
  env: NodeJS.ProcessEnv
  size: string
  /** `belt cluster update` arguments the driver needs. */
  settings: string[]
  /** Arrival time of every request, what it was ("POST /v2/droplets", "RunInstances"), create / list call, 429. */
  requests(): {at: number; what: string; create: boolean; list: boolean; throttled: boolean}[]
  /** Nodes that exist (not deleted) and how many are active/running. */
  count(): {live: number; active: number}
  stop(): Promise<void>
}

function runBelt(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BELT_BIN, ...args], {cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true})
    running.add(c.pid!)
    // A stuck belt must not stall the bench: 20 minutes is far beyond any healthy create or wait here.
    const timer = setTimeout(() => killTree(c.pid!), 20 * 60_000)
    c.on('exit', () => {
      clearTimeout(timer)
      running.delete(c.pid!)
    })
    let stdout = ''
    let stderr = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    c.on('error', reject)
    c.on('exit', (code) => resolve({code, stdout, stderr}))
  })
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!/^(BELT_|DIGITALOCEAN_|AWS_|DEBUG$|SSH_AUTH_SOCK$)/.test(k)) env[k] = v
  return {...env, ...extra}
}

/** The fake DigitalOcean API with its own latency knob (every reply delayed) and its 250/min window. */
async function digitalOceanFake(o: {latencyMs: number; activeAfterMs: number; cwd: string}): Promise<Fake> {
  const fake = new FakeDigitalOcean({latencyMs: o.latencyMs, activeAfterMs: o.activeAfterMs})
  const url = await fake.start()
  return {
    url,
    size: '512mb',
    settings: [],
    env: {BELT_DIR: join(o.cwd, '.belt'), DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url},
    requests: () =>
      fake.log.map((r) => ({at: r.at, what: `${r.method} ${r.route}`, create: r.method === 'POST' && r.route === '/v2/droplets', list: r.method === 'GET' && r.route === '/v2/droplets', throttled: r.status === 429})),
    count: () => {
      const list = fake.list()
      return {live: list.length, active: list.filter((d) => d.status === 'active').length}
    },
    stop: () => fake.stop(),
  }
}

/** The fake EC2 server has no latency knob: a proxy in front of it adds the latency and records each Action. */
async function ec2Fake(o: {latencyMs: number; activeAfterMs: number; cwd: string}): Promise<Fake> {
  const fake = new Ec2Fake({pendingMs: o.activeAfterMs, credentials: {accessKeyId: 'AKIDBENCHFAKE', secretAccessKey: 'bench-fake-secret'}})
  const proxy = new LatencyProxy(await fake.start(), o.latencyMs)
  const url = await proxy.start()
  return {
    url,
    size: 't3.micro',
    // belt manages the security group; it needs the operator's address for SSH / Docker TLS.
    settings: ['admin_cidr=203.0.113.7/32'],
    env: {BELT_DIR: join(o.cwd, '.belt'), AWS_ENDPOINT_URL_EC2: url, AWS_ACCESS_KEY_ID: 'AKIDBENCHFAKE', AWS_SECRET_ACCESS_KEY: 'bench-fake-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true'},
    requests: () => proxy.requests.map((r) => ({at: r.at, what: r.action ?? `${r.method} ${r.path}`, create: r.action === 'RunInstances', list: r.action === 'DescribeInstances', throttled: r.status === 503 || r.status === 429})),
    count: () => {
      const live = fake.live()
      return {live: live.length, active: live.filter((i) => fake.state(i) === 'running').length}
    },
    stop: async () => {
      await proxy.stop()
      await fake.stop()
    },
  }
}

/** Most of `ts` (sorted or not) within any window of `windowMs`. */
export function peakInWindow(ts: number[], windowMs = 60_000): number {
  const s = [...ts].sort((a, b) => a - b)
  let best = 0
  let lo = 0
  for (let hi = 0; hi < s.length; hi++) {
    while (s[hi] - s[lo] >= windowMs) lo++
    best = Math.max(best, hi - lo + 1)
  }
  return best
}

async function oneApi(
  api: 'digitalocean' | 'ec2',
  nodes: number,
  opts: {latencyMs: number; activeAfterMs: number; workDir: string; log: (l: string) => void},
): Promise<ApiRun> {
  const run: ApiRun = {
    api, nodes, wallS: NaN, createWallS: NaN, waitWallS: NaN, requests: 0, createCalls: 0, listCalls: 0, throttled: 0,
    peakPerMinute: 0, byCall: {}, created: 0, active: 0, exitCodes: [],
  }
  const cwd = join(opts.workDir, `api-${api}`)
  mkdirSync(cwd, {recursive: true})
  let fake: Fake
  try {
    fake = api === 'digitalocean' ? await digitalOceanFake({...opts, cwd}) : await ec2Fake({...opts, cwd})
  } catch (e) {
    run.error = (e as Error).message
    return run
  }
  const env = cleanEnv(fake.env)
  try {
    const nw = await runBelt(['cluster', 'new', `bench-${api}`, '--driver', api], env, cwd)
    if (nw.code !== 0) throw new Error(`belt cluster new: ${nw.stderr.trim()}`)
    for (const kv of fake.settings) {
      const up = await runBelt(['cluster', 'update', kv], env, cwd)
      if (up.code !== 0) throw new Error(`belt cluster update ${kv}: ${up.stderr.trim()}`)
    }
    opts.log(`api: belt create ${fake.size} 'node[1:${nodes}]' on ${api} (${opts.latencyMs} ms/request, ${opts.activeAfterMs / 1000} s to active) …`)
    const t0 = Date.now()
    const cr = await runBelt(['create', fake.size, `node[1:${nodes}]`, '--yes', '--json'], env, cwd)
    run.createWallS = (Date.now() - t0) / 1000
    run.exitCodes.push(cr.code)
    if (cr.code !== 0) throw new Error(`belt create exited ${cr.code}: ${cr.stderr.trim().split('\n').slice(-2).join(' / ')}`)
    const t1 = Date.now()
    const st = await runBelt(['status', '--wait', `active=${nodes}`, '--timeout', '15m'], env, cwd)
    run.waitWallS = (Date.now() - t1) / 1000
    run.wallS = (Date.now() - t0) / 1000
    run.exitCodes.push(st.code)
    if (st.code !== 0 && !run.error) run.error = `belt status --wait exited ${st.code}: ${st.stderr.trim().split('\n').slice(-2).join(' / ')}`
    const c = fake.count()
    run.created = c.live
    run.active = c.active
    if (!run.error && (c.live !== nodes || c.active !== nodes)) run.error = `the fake holds ${c.live} nodes (${c.active} active), expected ${nodes}`
  } catch (e) {
    run.error = (e as Error).message
  } finally {
    const reqs = fake.requests()
    run.requests = reqs.length
    run.createCalls = reqs.filter((r) => r.create).length
    run.listCalls = reqs.filter((r) => r.list).length
    run.throttled = reqs.filter((r) => r.throttled).length
    run.peakPerMinute = peakInWindow(reqs.map((r) => r.at))
    for (const r of reqs) run.byCall[r.what] = (run.byCall[r.what] ?? 0) + 1
    await fake.stop()
  }
  return run
}

export async function runApi(opts: {quick: boolean; log: (l: string) => void; workDir: string; onRun?: (runs: ApiRun[]) => void}): Promise<ApiResult> {
  const latencyMs = 150
  const activeAfterMs = 30_000
  const runs: ApiRun[] = []
  for (const [api, nodes] of [['digitalocean', opts.quick ? 200 : 2000], ['ec2', opts.quick ? 100 : 1000]] as const) {
    const r = await oneApi(api, nodes, {latencyMs, activeAfterMs, workDir: opts.workDir, log: opts.log})
    opts.log(`  ${api}: ${r.wallS.toFixed(1)} s, ${r.requests} requests, ${r.createCalls} creates, peak ${r.peakPerMinute}/60 s, ${r.active}/${nodes} active${r.error ? ' — ' + r.error : ''}`)
    runs.push(r)
    opts.onRun?.(runs)
  }
  return {latencyMs, activeAfterS: activeAfterMs / 1000, runs}
}
