// The DigitalOcean driver at scale and under trouble, through the real CLI against the fake API: 2,000 droplets
// with a bounded number of calls, a 429 burst and 5xx failures that still end with exactly the requested droplets,
// Ctrl-C in the middle of a create, and the 250-requests-per-minute window never overrun.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import type {ChildProcess} from 'node:child_process'
import {belt, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean, FakeOptions} from '../fakes/digitalocean.js'

async function setup(t: import('node:test').TestContext, cluster: string, opts: FakeOptions = {}) {
  const {dir, cleanup} = scratchDir('belt-do-scale-')
  const fake = new FakeDigitalOcean({activeAfterMs: 300, ...opts})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '1000'}
  const run = (args: string[], extra: Record<string, string> = {}, more: Partial<Parameters<typeof belt>[1]> = {}) =>
    belt(args, {cwd: dir, env: {...env, ...extra}, timeoutMs: 300_000, ...more})
  const r = await run(['cluster', 'new', cluster, '--driver', 'digitalocean'])
  assert.equal(r.code, 0, r.stderr)
  const stateNodes = () => JSON.parse(readFileSync(join(dir, '.belt', cluster, 'state.json'), 'utf8')).nodes as Record<string, {id: string}>
  const id = /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', cluster, 'config.yml'), 'utf8'))![1]
  return {dir, fake, run, stateNodes, tag: `belt-cluster:${cluster}`, idTag: `belt-id:${id}`}
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

test('2,000 droplets: ≤ 200 create calls, status --wait polls by page (never per droplet), rm --all in one call', async (t) => {
  const {fake, run, stateNodes, tag} = await setup(t, 'swarm2k', {activeAfterMs: 1500})
  let r = await run(['create', '1gb', 'w[1:2000]', '--yes'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim().split('\n').length, 2001, 'header + 2,000 rows')
  const creates = fake.count('POST', '/v2/droplets')
  assert.ok(creates <= 200, `${creates} create calls`)
  const made = fake.list(tag)
  assert.equal(made.length, 2000)
  assert.equal(new Set(made.map((d) => d.name)).size, 2000, 'no name twice')
  assert.equal(Object.keys(stateNodes()).length, 2000)

  const before = fake.log.length
  r = await run(['status', '--wait', 'active=2000', '--timeout', '3m'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^active\s+2000\s+w1,w2,/m)
  const polls = fake.log.slice(before).filter((q) => q.method === 'GET' && q.route === '/v2/droplets' && q.status === 200)
  assert.ok(polls.length >= 10 && polls.length % 10 === 0, `each poll is 10 pages of 200, got ${polls.length} page calls`)
  for (const q of polls) {
    assert.equal(q.query.per_page, '200')
    assert.equal(q.query.tag_name, tag)
  }
  assert.equal(fake.count('GET', '/v2/droplets/:id'), 0, 'never one GET per droplet')

  r = await run(['ls', '--json'])
  const nodes = JSON.parse(r.stdout) as {name: string; status: string}[]
  assert.equal(nodes.length, 2000)
  assert.ok(nodes.every((n) => n.status === 'active'))
  assert.equal(nodes[1].name, 'w2', 'natural order')

  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list(tag).length, 0)
  assert.equal(fake.count('DELETE', '/v2/droplets'), 1)
  assert.equal(fake.count('DELETE', '/v2/droplets/:id'), 0)
  assert.deepEqual(stateNodes(), {})
})

test('429 burst and 5xx (before and after the create took effect), listings lagging: exactly the requested droplets, none twice', async (t) => {
  // Listings lag like DigitalOcean's: a droplet made by a create whose answer was lost is not listed at once.
  const {fake, run, stateNodes, tag} = await setup(t, 'rough', {listingLag: {seed: 16, newMs: 3000, deletedMs: 3000}})
  fake.faults.push(
    {method: 'POST', route: '/v2/droplets', status: 429, times: 12, retryAfter: 1},
    {method: 'POST', route: '/v2/droplets', status: 500, times: 3, afterEffect: true},
    {method: 'POST', route: '/v2/droplets', status: 503, times: 2},
    {method: 'GET', route: '/v2/droplets', status: 502, times: 2},
    {method: 'GET', route: '/v2/sizes', status: 429, times: 1, retryAfter: 1},
  )
  const r = await run(['create', '512mb', 'n[1:100]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(fake.faults.every((f) => f.times === 0), 'every injected fault was met')
  const names = fake.list(tag).map((d) => d.name)
  assert.equal(names.length, 100, `exactly 100 droplets, got ${names.length}`)
  assert.equal(new Set(names).size, 100, 'none twice')
  const out = JSON.parse(r.stdout)
  assert.equal(out.created.length, 100)
  assert.equal(out.failed, undefined)
  const recorded = stateNodes()
  assert.equal(Object.keys(recorded).length, 100)
  for (const d of fake.list(tag)) assert.equal(recorded[d.name]?.id, String(d.id), `state.json has ${d.name}'s real id`)
  // Each of the 10 batches took effect exactly once: 202s plus the 500s that came after the effect.
  const effective = fake.log.filter((q) => q.method === 'POST' && q.route === '/v2/droplets' && q.status === 202).length
  assert.equal(effective + 3, 10)
})

test('Ctrl-C in the middle of a create: exit 130, state.json records what was made, rm --all --force leaves none', async (t) => {
  const {fake, run, stateNodes, tag} = await setup(t, 'halt', {latencyMs: (method, route) => (method === 'POST' && route === '/v2/droplets' ? 400 : 0)})
  let child: ChildProcess | null = null
  const pending = run(['create', '1gb', 'w[1:400]', '--yes'], {}, {onSpawn: (c) => (child = c)})
  await until('a dozen create calls', () => fake.count('POST', '/v2/droplets') >= 12)
  child!.kill('SIGINT')
  const r = await pending
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted/)
  const made = fake.list(tag)
  assert.ok(made.length > 0 && made.length < 400, `${made.length} made`)
  const recorded = stateNodes()
  assert.deepEqual(Object.keys(recorded).sort(), made.map((d) => d.name).sort(), 'state.json names every droplet made')
  for (const d of made) assert.equal(recorded[d.name].id, String(d.id))
  assert.match(r.stderr, new RegExp(`created ${made.length}, existing 0`))
  const posts = fake.count('POST', '/v2/droplets')
  await new Promise((res) => setTimeout(res, 500))
  assert.equal(fake.count('POST', '/v2/droplets'), posts, 'nothing sent after exit')

  const rm = await run(['rm', '--all', '--force'])
  assert.equal(rm.code, 0, rm.stderr)
  assert.equal(fake.list(tag).length, 0)
  assert.deepEqual(stateNodes(), {})
})

test('the pacer keeps to 250 requests in any 60 s: the real window is never overrun', async (t) => {
  const {fake, run, tag, idTag} = await setup(t, 'pace')
  fake.seedDroplet('n1', [tag, idTag], 'off')
  const r = await run(['status', '--wait', 'active=1', '--timeout', '64s'], {BELT_POLL_INTERVAL_MS: '5'})
  assert.equal(r.code, 1, 'times out: the node stays off')
  assert.match(r.stderr, /timed out after 64s: 0 of 1 nodes active/)
  const lists = fake.count('GET', '/v2/droplets')
  assert.ok(lists > 250, `went past one window's worth of requests (${lists})`)
  assert.equal(fake.windowRefusals, 0, 'the fake never had to refuse a request')
  const at = fake.log.map((q) => q.at)
  for (let i = 250; i < at.length; i++) assert.ok(at[i] - at[i - 250] >= 59_000, `request ${i} arrived ${at[i] - at[i - 250]} ms after request ${i - 250}`)
})
