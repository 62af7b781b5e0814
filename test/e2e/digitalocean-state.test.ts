// State that cannot lose a node, names that exist once, reports that tell the truth — the real CLI against the fake
// DigitalOcean API: parallel creates of overlapping names, a create killed before its replies arrived, a create
// reply that leaves names out, state.json writes that fail after the API acted, and Ctrl-C.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {mkdirSync, readFileSync, renameSync, rmdirSync} from 'node:fs'
import {join} from 'node:path'
import lockfile from 'proper-lockfile'
import {belt, RunOptions, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean, FakeOptions} from '../fakes/digitalocean.js'
import {expandPatterns} from '../../src/core/range.js'

async function setup(t: import('node:test').TestContext, cluster: string, opts: FakeOptions = {}) {
  const {dir, cleanup} = scratchDir('belt-do-state-')
  const fake = new FakeDigitalOcean({activeAfterMs: 300, ...opts})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const run = (args: string[], extra: Partial<RunOptions> = {}) => belt(args, {cwd: dir, ...extra, env: {...env, ...extra.env}})
  const r = await run(['cluster', 'new', cluster, '--driver', 'digitalocean', 'region=sgp1'])
  assert.equal(r.code, 0, r.stderr)
  const statePath = join(dir, '.belt', cluster, 'state.json')
  const stateNodes = (): Record<string, {id: string}> => JSON.parse(readFileSync(statePath, 'utf8')).nodes
  return {dir, fake, run, tag: `belt-cluster:${cluster}`, statePath, stateNodes}
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** How many droplets carry each name. */
function nameCounts(fake: FakeDigitalOcean, tag: string): Map<string, number> {
  const counts = new Map<string, number>()
  for (const d of fake.list(tag)) counts.set(d.name, (counts.get(d.name) ?? 0) + 1)
  return counts
}

/** state.json replaced by a folder: every write (and re-read) of it fails until restore() puts it back. */
function breakState(path: string): {restore: () => void} {
  renameSync(path, path + '.saved')
  mkdirSync(path)
  return {restore: () => {
    rmdirSync(path)
    renameSync(path + '.saved', path)
  }}
}

test('4 parallel creates of overlapping names: state.json holds every node and each name exists once', async (t) => {
  // Replies take 100 ms, as a real API's do: without the create lock the four plans overlap and names are made twice.
  const {fake, run, tag, stateNodes} = await setup(t, 'par', {latencyMs: 100})
  const patterns = ['a[1:100]', 'a[51:150]', 'b[1:100]', 'a[131:150],b[71:150]']
  const results = await Promise.all(patterns.map((p) => run(['create', '1gb', p, '--yes'])))
  for (const r of results) assert.equal(r.code, 0, r.stderr)
  const wanted = expandPatterns(['a[1:150]', 'b[1:150]'])
  const counts = nameCounts(fake, tag)
  assert.deepEqual([...counts.keys()].sort(), [...wanted].sort(), 'exactly the requested names exist')
  for (const [name, n] of counts) assert.equal(n, 1, `${name} exists once`)
  const nodes = stateNodes()
  assert.deepEqual(Object.keys(nodes).sort(), [...wanted].sort(), 'state.json holds every node')
  for (const d of fake.list(tag)) assert.equal(nodes[d.name].id, String(d.id))
  // Each name was made by exactly one of the four and reported existing by the others that asked for it.
  const createdTotal = results.reduce((n, r) => n + Number(/created (\d+), existing/.exec(r.stderr)![1]), 0)
  assert.equal(createdTotal, wanted.length)
})

test('a create SIGKILLed before its replies arrived: the re-run waits out the stale lock and records every droplet', async (t) => {
  const {fake, run, tag, stateNodes} = await setup(t, 'kill', {latencyMs: (m, route) => (m === 'POST' && route === '/v2/droplets' ? 30_000 : 0)})
  let child: ChildProcess | null = null
  const killed = run(['create', '1gb', 'w[1:40]'], {onSpawn: (c) => (child = c)})
  await until('all 40 droplets made, replies held', () => fake.list(tag).length === 40)
  child!.kill('SIGKILL')
  assert.equal((await killed).signal, 'SIGKILL')
  assert.deepEqual(stateNodes(), {}, 'the replies never arrived: nothing recorded yet')

  fake.latencyMs = 0
  const r = await run(['create', '1gb', 'w[1:40]'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /waiting for another belt create on cluster 'kill'/, 'the killed run left its lock; it goes stale')
  assert.match(r.stderr, /40 of 40 already exist/)
  assert.match(r.stderr, /created 0, existing 40$/m)
  assert.equal(fake.list(tag).length, 40, 'nothing made twice')
  const nodes = stateNodes()
  for (const d of fake.list(tag)) assert.equal(nodes[d.name]?.id, String(d.id), `${d.name} recorded`)
})

test('a create reply that leaves names out: they are failed with a reason, exit 1; a re-run records them', async (t) => {
  const {fake, run, tag, stateNodes} = await setup(t, 'omit', {omitFromCreateReply: (n) => n === 'n2' || n === 'n3'})
  let r = await run(['create', '1gb', 'n[1:4]', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.created.map((n: {name: string}) => n.name), ['n1', 'n4'])
  assert.deepEqual(doc.failed, [
    {name: 'n2', error: 'the API did not report creating it; see belt ls'},
    {name: 'n3', error: 'the API did not report creating it; see belt ls'},
  ])
  assert.match(r.stderr, /created 2, existing 0, failed 2/)

  fake.omitFromCreateReply = () => true
  r = await run(['create', '1gb', 'm[1:3]'])
  assert.equal(r.code, 1, 'never exit 0 with "created 0" when nothing the API said was made')
  assert.match(r.stderr, /created 0, existing 0, failed 3/)
  assert.match(r.stderr, /m1,m2,m3: the API did not report creating it; see belt ls/)

  fake.omitFromCreateReply = null
  r = await run(['create', '1gb', 'n[1:4]', 'm[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /created 0, existing 7$/m)
  const nodes = stateNodes()
  for (const d of fake.list(tag)) assert.equal(nodes[d.name]?.id, String(d.id), `${d.name} recorded by the re-run`)
})

test('state.json unwritable after the API made the droplets: reported created, the write problem apart, exit 1', async (t) => {
  const {fake, run, tag, statePath, stateNodes} = await setup(t, 'wr')
  let broken: {restore: () => void} | null = null
  fake.afterEffect = (method, route) => {
    if (method === 'POST' && route === '/v2/droplets' && !broken) broken = breakState(statePath)
  }
  let r = await run(['create', '1gb', 'n[1:2]', '--json'])
  fake.afterEffect = null
  broken!.restore()
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.created.map((n: {name: string}) => n.name), ['n1', 'n2'], 'made droplets are reported created')
  assert.equal(doc.failed, undefined, 'and not failed')
  assert.match(doc.state_error, /^could not record n1,n2 in state\.json: /)
  assert.match(r.stderr, /created 2, existing 0$/m)
  assert.match(r.stderr, /warning: could not record n1,n2 in state\.json/)
  assert.deepEqual(stateNodes(), {})

  r = await run(['create', '1gb', 'n[1:2]'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(Object.keys(stateNodes()).sort(), ['n1', 'n2'], 'the re-run records them')
  assert.equal(fake.list(tag).length, 2)
})

test('rm of one node reports "removed 1", also when the state.json write after it fails', async (t) => {
  const {fake, run, tag, statePath, stateNodes} = await setup(t, 'rm1')
  let r = await run(['create', '1gb', 'n[1:3]'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['rm', 'n1', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /^removed 1$/m)
  assert.doesNotMatch(r.stderr, /failed/)

  let broken: {restore: () => void} | null = null
  fake.afterEffect = (method, route) => {
    if (method === 'DELETE' && route === '/v2/droplets/:id' && !broken) broken = breakState(statePath)
  }
  r = await run(['rm', 'n2', '--force'])
  fake.afterEffect = null
  broken!.restore()
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^removed 1$/m, 'one removal is one removal')
  assert.doesNotMatch(r.stderr, /failed 1/)
  assert.match(r.stderr, /warning: could not forget n2 in state\.json/)
  assert.deepEqual(fake.list(tag).map((d) => d.name), ['n3'])
  assert.deepEqual(Object.keys(stateNodes()).sort(), ['n2', 'n3'], 'n2 could not be forgotten')
})

test('Ctrl-C in a create: the hint names only this run\'s nodes, never rm --all', async (t) => {
  const {fake, run, tag} = await setup(t, 'hint', {latencyMs: (m, route) => (m === 'POST' && route === '/v2/droplets' ? 300 : 0)})
  let r = await run(['create', '1gb', 'old1,old2'])
  assert.equal(r.code, 0, r.stderr)
  let child: ChildProcess | null = null
  const pending = run(['create', '1gb', 'w[1:300]', '--yes', '--json'], {onSpawn: (c) => (child = c)})
  await until('a dozen create calls', () => fake.count('POST', '/v2/droplets') >= 13)
  child!.kill('SIGINT')
  r = await pending
  assert.equal(r.code, 130, r.stderr)
  const made = fake.list(tag).map((d) => d.name).filter((n) => n.startsWith('w'))
  assert.ok(made.length > 0 && made.length < 300, `${made.length} made`)
  const hint = /remove them with: belt rm '([^']+)' --force/.exec(r.stderr)
  assert.ok(hint, r.stderr)
  assert.deepEqual(expandPatterns([hint[1]]).sort(), [...made].sort(), 'the hint names exactly the nodes this run made')
  assert.doesNotMatch(r.stderr, /--all/)
  const doc = JSON.parse(r.stdout)
  assert.equal(doc.created.length, made.length)
  assert.equal(doc.created.length + doc.failed.length, 300, 'every requested name is created or failed')
  assert.ok(doc.failed.every((f: {error: string}) => f.error === 'not created: interrupted before it was sent'))
})

test('a second create waits for the create lock; Ctrl-C while waiting exits 130 and makes nothing', async (t) => {
  const {dir, fake, run} = await setup(t, 'wait')
  // Another create holds the lock (kept fresh, as belt does).
  const release = await lockfile.lock(join(dir, '.belt', 'wait', 'create'), {realpath: false, stale: 10_000, update: 1_000})
  t.after(() => release().catch(() => {}))
  let child: ChildProcess | null = null
  let stderr = ''
  const pending = run(['create', '1gb', 'n[1:2]', '--json'], {onSpawn: (c) => {
    child = c
    c.stderr!.on('data', (d) => (stderr += d))
  }})
  await until('the waiting line', () => /waiting for another belt create on cluster 'wait'/.test(stderr))
  child!.kill('SIGINT')
  const r = await pending
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted while waiting for another belt create on cluster 'wait'; nothing was changed/)
  assert.equal(r.stderr.match(/waiting for another belt create/g)!.length, 2, 'one waiting line (and the interrupted one)')
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.created, [])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['n1', 'n2'])
  assert.equal(fake.count('POST', '/v2/droplets'), 0)
  assert.equal(fake.count('GET', '/v2/droplets'), 0, 'not even planned while another create runs')
})

test('create --json prints one document also when the run fails as a whole', async (t) => {
  const {fake, run} = await setup(t, 'whole')
  fake.faults.push({method: 'POST', route: '/v2/account/keys', status: 422, times: 1})
  const r = await run(['create', '1gb', 'n[1:2]', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.created, [])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['n1', 'n2'])
  assert.ok(doc.failed.every((f: {error: string}) => f.error.length > 0 && !f.error.includes('\n')))
  assert.equal(fake.count('POST', '/v2/droplets'), 0)
})
