// API section: `belt create` + `belt status --wait` of many nodes against the fake DigitalOcean API
// (test/fakes/digitalocean.ts) and the fake EC2 server (test/fakes/ec2.ts), each behind a proxy adding a fixed
// latency per request, with nodes taking 30 s to become active. Counts every request, the create calls and the
// busiest 60 s window, and checks the fake ends with exactly the nodes asked for, all active.
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync} from 'node:fs'
import {join} from 'node:path'
import {BELT_BIN, ROOT} from './join.js'
import {LatencyProxy, ProxiedRequest} from './latency-proxy.js'

export interface ApiRun {
  api: 'digitalocean' | 'ec2'
  nodes: number
  wallS: number
  createWallS: number
  waitWallS: number
  requests: number
  createCalls: number
  listCalls: number
  peakPerMinute: number
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

interface Fake {
  start(): Promise<string>
  stop(): Promise<void>
  /** Nodes that exist (not deleted) and how many are active/running. */
  count(): {live: number; active: number}
}

function runBelt(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BELT_BIN, ...args], {cwd, env, stdio: ['ignore', 'pipe', 'pipe']})
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

async function digitalOceanFake(activeAfterMs: number): Promise<Fake> {
  const path = join(ROOT, 'test', 'fakes', 'digitalocean.ts')
  if (!existsSync(path)) throw new Error('test/fakes/digitalocean.ts is not there yet')
  const mod: Record<string, any> = await import(path)
  const Cls = mod.DigitalOceanFake ?? mod.FakeDigitalOcean ?? mod.DoFake ?? mod.FakeDoApi ?? Object.values(mod).find((v) => typeof v === 'function' && /fake/i.test(v.name))
  if (!Cls) throw new Error('test/fakes/digitalocean.ts exports no fake class the bench knows')
  const fake = new Cls({activeAfterMs, activeDelayMs: activeAfterMs, activeMs: activeAfterMs, newMs: activeAfterMs})
  for (const k of ['activeAfterMs', 'activeDelayMs', 'activeMs', 'newMs']) if (k in fake) fake[k] = activeAfterMs
  return {
    start: async () => {
      const r = await fake.start()
      return typeof r === 'string' ? r : fake.url
    },
    stop: () => fake.stop(),
    count: () => {
      const list: any[] = fake.droplets instanceof Map ? [...fake.droplets.values()] : Array.isArray(fake.droplets) ? fake.droplets : []
      const status = (d: any) => (typeof fake.status === 'function' ? fake.status(d) : d.status)
      return {live: list.length, active: list.filter((d) => status(d) === 'active').length}
    },
  }
}

async function ec2Fake(activeAfterMs: number): Promise<Fake> {
  const {Ec2Fake} = await import('../test/fakes/ec2.js')
  const fake = new Ec2Fake({pendingMs: activeAfterMs})
  return {
    start: () => fake.start(),
    stop: () => fake.stop(),
    count: () => {
      const live = fake.live()
      return {live: live.length, active: live.filter((i) => fake.state(i) === 'running').length}
    },
  }
}

async function oneApi(
  api: 'digitalocean' | 'ec2',
  nodes: number,
  opts: {latencyMs: number; activeAfterMs: number; workDir: string; log: (l: string) => void},
): Promise<ApiRun> {
  const run: ApiRun = {api, nodes, wallS: NaN, createWallS: NaN, waitWallS: NaN, requests: 0, createCalls: 0, listCalls: 0, peakPerMinute: 0, created: 0, active: 0, exitCodes: []}
  let fake: Fake
  try {
    fake = api === 'digitalocean' ? await digitalOceanFake(opts.activeAfterMs) : await ec2Fake(opts.activeAfterMs)
  } catch (e) {
    run.error = (e as Error).message
    return run
  }
  const url = await fake.start()
  const proxy = new LatencyProxy(url, opts.latencyMs)
  const purl = await proxy.start()
  const cwd = join(opts.workDir, `api-${api}`)
  mkdirSync(cwd, {recursive: true})
  const env = cleanEnv(
    api === 'digitalocean'
      ? {BELT_DIR: join(cwd, '.belt'), DIGITALOCEAN_ACCESS_TOKEN: 'bench-fake-token', DIGITALOCEAN_API_URL: purl}
      : {BELT_DIR: join(cwd, '.belt'), AWS_ENDPOINT_URL_EC2: purl, AWS_ACCESS_KEY_ID: 'AKIDBENCHFAKE', AWS_SECRET_ACCESS_KEY: 'bench-fake-secret', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true'},
  )
  const isCreate = (r: ProxiedRequest) => (api === 'digitalocean' ? r.method === 'POST' && /^\/v2\/droplets\/?(\?|$)/.test(r.path) : r.action === 'RunInstances')
  const isList = (r: ProxiedRequest) => (api === 'digitalocean' ? r.method === 'GET' && /^\/v2\/droplets\/?(\?|$)/.test(r.path) : r.action === 'DescribeInstances')
  try {
    const nw = await runBelt(['cluster', 'new', `bench-${api}`, '--driver', api], env, cwd)
    if (nw.code !== 0) throw new Error(`belt cluster new: ${nw.stderr.trim()}`)
    const size = api === 'digitalocean' ? '512mb' : 't3.micro'
    opts.log(`api: belt create ${size} 'node[1:${nodes}]' on ${api} (${opts.latencyMs} ms/request, ${opts.activeAfterMs / 1000} s to active) …`)
    const t0 = Date.now()
    const cr = await runBelt(['create', size, `node[1:${nodes}]`, '--yes', '--json'], env, cwd)
    run.createWallS = (Date.now() - t0) / 1000
    run.exitCodes.push(cr.code)
    if (cr.code !== 0) run.error = `belt create exited ${cr.code}: ${cr.stderr.trim().split('\n').slice(-2).join(' / ')}`
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
    run.requests = proxy.requests.length
    run.createCalls = proxy.requests.filter(isCreate).length
    run.listCalls = proxy.requests.filter(isList).length
    run.peakPerMinute = proxy.peakInWindow(60_000)
    await proxy.stop()
    await fake.stop()
  }
  return run
}

export async function runApi(opts: {quick: boolean; log: (l: string) => void; workDir: string}): Promise<ApiResult> {
  const latencyMs = 150
  const activeAfterMs = 30_000
  const runs: ApiRun[] = []
  runs.push(await oneApi('digitalocean', opts.quick ? 200 : 2000, {latencyMs, activeAfterMs, workDir: opts.workDir, log: opts.log}))
  runs.push(await oneApi('ec2', opts.quick ? 100 : 1000, {latencyMs, activeAfterMs, workDir: opts.workDir, log: opts.log}))
  return {latencyMs, activeAfterS: activeAfterMs / 1000, runs}
}
