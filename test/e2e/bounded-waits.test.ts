// Waits that end and say so, and dials that never happen, as a user meets them through the real CLI: a DigitalOcean
// API that rate-limits, fails or never answers, an EC2 endpoint that accepts and stays silent, api_url over http,
// and nodes without an address yet (no connection may reach this machine — a blind dial of host '' lands on
// localhost:ssh_port, where a listener counts connections).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer, type Server, type Socket} from 'node:net'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

const CLUSTER_ID = '0123456789abcdef0123'

async function setup(t: import('node:test').TestContext, opts: ConstructorParameters<typeof FakeDigitalOcean>[0] = {}, config: string[] = []) {
  const {dir, cleanup} = scratchDir('belt-waits-')
  const fake = new FakeDigitalOcean({activeAfterMs: 300, ...opts})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  mkdirSync(join(dir, '.belt', 'w'), {recursive: true})
  writeFileSync(join(dir, '.belt', 'active'), 'w\n')
  // A cluster of its own (CONTRACT §9): seeded droplets carry both the name tag and this id tag.
  writeFileSync(join(dir, '.belt', 'w', 'config.yml'), ['driver: digitalocean', `cluster_id: "${CLUSTER_ID}"`, 'digitalocean:', '  region: nyc1', ...config, ''].join('\n'))
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const run = (args: string[], extra: Record<string, string | undefined> = {}) => belt(args, {cwd: dir, env: {...env, ...extra}})
  return {dir, fake, url, run}
}

/** A TCP listener that accepts and never answers; counts the connections it got. */
async function blackHole(host = '127.0.0.1'): Promise<{port: number; connections: () => number; close: () => Promise<void>}> {
  const sockets = new Set<Socket>()
  let count = 0
  const server: Server = createServer((s) => {
    count++
    sockets.add(s)
    s.on('error', () => {})
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, host, resolve))
  const port = (server.address() as {port: number}).port
  return {
    port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function oneJson(stdout: string): unknown {
  return JSON.parse(stdout)
}

test('api_url over plain http is refused unless it is a loopback address, naming the key', async (t) => {
  const {run} = await setup(t, {}, ['  api_url: http://api.example.com'])
  let r = await run(['ls'], {DIGITALOCEAN_API_URL: undefined})
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /api_url: 'http:\/\/api\.example\.com' would send the access token over plain http; use https/)
  assert.equal(r.stderr.trim().split('\n').length, 1)
  r = await run(['ls'], {DIGITALOCEAN_API_URL: 'http://10.0.0.1:8080'})
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /^belt: DIGITALOCEAN_API_URL: 'http:\/\/10\.0\.0\.1:8080' would send the access token over plain http/m)
})

test('a token sent to a non-default API origin is named on stderr', async (t) => {
  const {run, url} = await setup(t)
  const r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(oneJson(r.stdout), [])
  assert.ok(r.stderr.includes(`sending the DigitalOcean token to ${url} (DIGITALOCEAN_API_URL)`), r.stderr)
})

test('a retry-after above 10 minutes fails at once with that reason', async (t) => {
  const {run, fake} = await setup(t)
  fake.faults.push({method: 'GET', route: '/v2/droplets', status: 429, times: 1, retryAfter: 3600})
  const r = await run(['ls'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /DigitalOcean API: list droplets: rate limited for 3600 s \(retry-after\), longer than belt waits \(10 min\); try again later/)
  assert.equal(fake.count('GET', '/v2/droplets'), 1, 'not sent again')
})

test('a rate-limit wait longer than 5 s is named on stderr, then the command goes on', async (t) => {
  const {run, fake} = await setup(t)
  fake.faults.push({method: 'GET', route: '/v2/droplets', status: 429, times: 1, retryAfter: 6})
  const r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(oneJson(r.stdout), [])
  assert.match(r.stderr, /^rate limited: waiting 6 s \(retry-after\)$/m)
  assert.equal(fake.count('GET', '/v2/droplets'), 2)
})

test('5xx forever: retries stop within the time bound and the error says so', async (t) => {
  const {run, fake} = await setup(t)
  fake.faults.push({method: 'GET', route: '/v2/droplets', status: 503, times: Infinity})
  const r = await run(['ls'], {BELT_API_TIMEOUT_MS: '1500'})
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /DigitalOcean API: list droplets: 503 server_error: Server Error \(gave up after \d attempts? in \d+ s\)/)
  assert.ok(fake.count('GET', '/v2/droplets') < 6, `bounded: ${fake.count('GET', '/v2/droplets')} attempts`)
})

test('a DigitalOcean API that never answers: the request times out, retries are bounded, one line', async (t) => {
  const {run, fake} = await setup(t, {blackHole: true})
  const r = await run(['ls'], {BELT_API_TIMEOUT_MS: '500'})
  assert.equal(r.code, 1, r.stderr)
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('sending the DigitalOcean token'))
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0], /^belt: DigitalOcean API: list droplets: .*timeout of 500ms exceeded \(gave up after \d attempts? in \d+ s\)$/)
  assert.ok(fake.log.length >= 1)
})

test('an EC2 endpoint that accepts and never answers: belt ls fails in bounded time with one line, exit 1', async (t) => {
  const hole = await blackHole()
  const {dir, cleanup} = scratchDir('belt-waits-ec2-')
  t.after(async () => {
    await hole.close()
    cleanup()
  })
  mkdirSync(join(dir, '.belt', 'e'), {recursive: true})
  writeFileSync(join(dir, '.belt', 'active'), 'e\n')
  writeFileSync(join(dir, '.belt', 'e', 'config.yml'), 'driver: ec2\nec2:\n  region: us-east-1\n')
  const endpoint = `http://127.0.0.1:${hole.port}`
  const r = await belt(['ls'], {
    cwd: dir,
    env: {
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLEBELT', AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET',
      AWS_ENDPOINT_URL_EC2: endpoint, AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      AWS_EC2_METADATA_DISABLED: 'true', BELT_API_TIMEOUT_MS: '500',
    },
  })
  assert.equal(r.code, 1, r.stderr)
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  assert.equal(r.stderr.trim(), `belt: EC2 DescribeInstances: no answer from ${endpoint} within 2 s (each attempt times out after 0.5 s); check the endpoint and the network`)
  assert.ok(hole.connections() >= 1, 'the request reached the black hole')
})

test('a node without an address is never dialled: docker, ssh, swarm join fail for it; nothing reaches localhost', async (t) => {
  // The blind dial of host '' goes to localhost:ssh_port; listen there (both loopbacks) and count.
  const v4 = await blackHole('127.0.0.1')
  let v6: Awaited<ReturnType<typeof blackHole>> | null = null
  try {
    v6 = await blackHole('::1')
  } catch {}
  t.after(async () => {
    await v4.close()
    await v6?.close()
  })
  const {dir, run, fake} = await setup(t, {activeAfterMs: 3_600_000}, [`  ssh_port: ${v4.port}`])
  fake.seedDroplet('n1', ['belt-cluster:w', `belt-id:${CLUSTER_ID}`], 'new')
  fake.seedDroplet('n2', ['belt-cluster:w', `belt-id:${CLUSTER_ID}`], 'new')
  const listed = oneJson((await run(['ls', '--json'])).stdout) as {name: string; public_ip: string | null}[]
  assert.deepEqual(listed.map((n) => [n.name, n.public_ip]), [['n1', null], ['n2', null]])

  let r = await run(['docker', '--host', 'n1', 'ps'])
  assert.equal(r.code, 255, r.stderr)
  assert.match(r.stderr, /^belt: n1: no address yet \(status new\)$/m)

  r = await run(['ssh', 'n1', '--', 'true'])
  assert.equal(r.code, 255, r.stderr)
  assert.match(r.stderr, /^belt: n1: no address yet \(status new\)$/m)

  r = await run(['--host', 'n[1:2]', 'docker', '--json', 'ps'])
  assert.equal(r.code, 1, r.stderr)
  const fleet = oneJson(r.stdout) as {failed: {name: string; error: string}[]}
  assert.deepEqual(fleet.failed, [{name: 'n1', error: 'no address yet (status new)'}, {name: 'n2', error: 'no address yet (status new)'}])

  r = await run(['swarm', 'join', 'n1', 'n2', '--json'])
  assert.equal(r.code, 1, r.stderr)
  assert.deepEqual(oneJson(r.stdout), {manager: 'n1', joined: [], already: [], failed: [{name: 'n2', error: 'cannot reach the manager n1: no address yet (status new)'}]})

  r = await run(['swarm', 'join', 'n1', 'n2'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^belt: cannot reach the manager n1: no address yet \(status new\)$/m)

  r = await run(['swarm', 'init', 'n1'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^belt: n1: no address yet \(status new\)$/m)

  assert.equal(v4.connections(), 0, 'nothing connected to 127.0.0.1')
  assert.equal(v6?.connections() ?? 0, 0, 'nothing connected to ::1')
  const kh = join(dir, '.belt', 'w', 'known_hosts')
  if (existsSync(kh)) for (const line of readFileSync(kh, 'utf8').split('\n').filter(Boolean)) assert.doesNotMatch(line, /^(\s|\[\]:)/, 'no empty-host line')
})

test('swarm join --json with an unreachable manager prints one document and exits 1', async (t) => {
  const closed = await blackHole()
  const port = closed.port
  await closed.close()
  const {dir, cleanup} = scratchDir('belt-waits-gen-')
  t.after(cleanup)
  mkdirSync(join(dir, '.belt', 'g'), {recursive: true})
  writeFileSync(join(dir, '.belt', 'active'), 'g\n')
  writeFileSync(join(dir, '.belt', 'g', 'config.yml'), ['driver: generic', 'generic:', `  ssh_port: ${port}`, '  hosts:', '    mg: 127.0.0.1', '    w1: 127.0.0.1', '    w2: 127.0.0.1', ''].join('\n'))
  const r = await belt(['swarm', 'join', 'mg', 'w[1:2]', '--json', '--timeout', '5s'], {cwd: dir})
  assert.equal(r.code, 1, r.stderr)
  const doc = oneJson(r.stdout) as {manager: string; joined: string[]; already: string[]; failed: {name: string; error: string}[]}
  assert.equal(doc.manager, 'mg')
  assert.deepEqual([doc.joined, doc.already], [[], []])
  assert.deepEqual(doc.failed.map((f) => f.name), ['w1', 'w2'])
  for (const f of doc.failed) assert.match(f.error, /^cannot reach the manager mg: connection refused/)
  // Kept for --retry-failed like any failure of the run.
  const state = JSON.parse(readFileSync(join(dir, '.belt', 'g', 'state.json'), 'utf8'))
  assert.deepEqual(state.failures['swarm join'].failed.map((f: {name: string}) => f.name), ['w1', 'w2'])
})
