// `belt up` at CI size on the DigitalOcean driver: the fake API (150 ms per request, every droplet active after its
// own boot delay, the 250-per-minute window) hands out addresses of the SSH lab (one real sshd on every address, the
// stand-in docker keeping the swarm), so belt creates, waits, reaches and joins 3 managers + 200 workers for real over
// SSH. Checks: everyone joined exactly once, the JSON document of CONTRACT §10, labels set, workers joined while other
// droplets were still booting, a bounded number of API requests, and a re-run that creates and joins nothing (only the
// listing and one manager connection). Needs root (network namespaces); its own lab range 10.221.0.0/16.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse, stringify} from 'yaml'
import {belt, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare', 'iptables']})
const WORKERS = 200
const MANAGERS = 3
/** Boot delays spread 2–12 s by name: early workers can join long before the last droplet is active. */
const boot = (name: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0
  return 2000 + Math.round((h / 2 ** 32) * 10_000)
}

let lab: SshLab
let fake: FakeDigitalOcean
let cwd: string
let cleanup: () => void
let env: Record<string, string>

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: MANAGERS + WORKERS, joinLatency: 0.2, network: {prefix: '10.221', tag: 'upb'}})
  let next = 0
  fake = new FakeDigitalOcean({
    latencyMs: 150,
    activeAfterMs: boot,
    assignAddress: (name) => {
      if (next >= lab.hosts.length) throw new Error('the lab has no host left')
      const a = lab.hosts[next++]
      lab.setHostname(a, name)
      return {public: a, private: a}
    },
  })
  const url = await fake.start()
  ;({dir: cwd, cleanup} = scratchDir('belt-up-do-lab-'))
  env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '1000'}
  const r = await belt(['cluster', 'new', 'upl', '--driver', 'digitalocean'], {cwd, env})
  assert.equal(r.code, 0, r.stderr)
  const file = join(cwd, '.belt', 'upl', 'config.yml')
  const config = parse(readFileSync(file, 'utf8')) as Record<string, unknown>
  config.digitalocean = {
    ...(config.digitalocean as object), region: 'sgp1', image: 'docker-20-04', ssh_user: 'root', ssh_key: lab.keyPath,
    ssh_key_fingerprint: fake.seedKey(lab.publicKey, 'lab'),
  }
  config.swarm = {
    managers: {names: `mg[0:${MANAGERS - 1}]`, size: '8gb'},
    workers: [{name: 'web', names: `w[1:${WORKERS}]`, size: '1gb', labels: {pool: 'web'}}],
    join: 'ssh',
    tls: 'none',
  }
  writeFileSync(file, stringify(config))
})

after(async () => {
  await fake?.stop()
  cleanup?.()
  await lab?.close()
})

const up = () => belt(['up', '--yes', '--json'], {cwd, env, timeoutMs: 600_000})
const names = (pattern: 'mg' | 'w', n: number, from = pattern === 'mg' ? 0 : 1) => Array.from({length: n}, (_, i) => `${pattern}${i + from}`)
const natural = (a: string, b: string) => a.localeCompare(b, 'en', {numeric: true})

/** The stand-in's registry: hostname → its line's fields. */
function registry(): Map<string, {role: string; state: string; ms: string; labels: string}> {
  const m = new Map<string, {role: string; state: string; ms: string; labels: string}>()
  const dir = join(lab.stateDir, 'nodes')
  for (const f of readdirSync(dir).filter((x) => !x.startsWith('.'))) {
    const [, host, , role, , state, , ms, labels] = readFileSync(join(dir, f), 'utf8').trim().split(' ')
    m.set(host, {role, state, ms, labels})
  }
  return m
}

test('belt up of 3 + 200 on the fake DigitalOcean and the SSH lab: pipelined, complete, and a no-op when re-run', {skip, timeout: 15 * 60_000}, async () => {
  const r = await up()
  assert.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout)
  const all = [...names('mg', MANAGERS), ...names('w', WORKERS)].sort(natural)
  assert.deepEqual(Object.keys(doc).sort(), ['created', 'failed', 'joined', 'plan', 'provisioned', 'removed'])
  assert.deepEqual(Object.keys(doc.plan).sort(), ['advice', 'create', 'join_managers', 'join_workers', 'remove'].sort())
  assert.deepEqual([...doc.plan.create].sort(natural), all)
  assert.deepEqual(doc.plan.join_managers, names('mg', MANAGERS))
  assert.deepEqual([...doc.plan.join_workers].sort(natural), names('w', WORKERS))
  assert.deepEqual(doc.plan.remove, [])
  assert.ok(Array.isArray(doc.plan.advice))
  assert.deepEqual([...doc.created].sort(natural), all)
  assert.deepEqual([...doc.joined].sort(natural), all)
  assert.deepEqual(doc.provisioned, [], 'tls: none')
  assert.deepEqual(doc.removed, [])
  assert.deepEqual(doc.failed, [])

  // The swarm as the stand-in keeps it: one leader, two reachable managers, 200 ready workers, labels set.
  const reg = registry()
  assert.equal(reg.size, MANAGERS + WORKERS)
  assert.deepEqual(names('mg', MANAGERS).map((n) => reg.get(n)?.ms).sort(), ['Leader', 'Reachable', 'Reachable'])
  for (const w of names('w', WORKERS)) {
    const e = reg.get(w)
    assert.ok(e && e.role === 'worker' && e.state === 'ready', `${w}: ${JSON.stringify(e)}`)
    assert.deepEqual(e.labels.split(',').sort(), ['belt.zone=sgp1', 'pool=web'], w)
  }
  // Each node joined exactly once (joins.log: one line per join; the first manager inits instead).
  const joins = lab.joins().map((l) => l.split(' ')[0])
  assert.equal(joins.length, MANAGERS - 1 + WORKERS)
  assert.equal(new Set(joins).size, joins.length, 'no node joined twice')

  // Pipelined: workers joined while other droplets were still booting (the fake knows when each became active; the
  // stand-in's per-address state file was written at the join).
  const lastActive = Math.max(...fake.activeTimes().values())
  const workerJoins = lab.hosts.filter((a) => /^w\d+$/.test(readFileSync(join(lab.stateDir, 'names', a), 'utf8').trim()))
    .map((a) => statSync(join(lab.stateDir, a)).mtimeMs)
  const early = workerJoins.filter((t) => t < lastActive).length
  assert.ok(early >= WORKERS / 4, `only ${early} workers joined before the last droplet was active`)

  // Requests bounded: creates in batches of 10 per group (1 for the managers, 20 for the workers), listings by page,
  // never one call per droplet, and never beyond the window.
  assert.equal(fake.count('POST', '/v2/droplets'), 21)
  assert.equal(fake.count('GET', '/v2/droplets/:id'), 0, 'never one GET per droplet')
  assert.ok(fake.log.length <= 120, `${fake.log.length} requests: ${JSON.stringify(Object.fromEntries(fake.counts))}`)
  assert.ok(fake.peakPerWindow() <= 250)
  assert.equal(fake.log.filter((q) => q.status === 429).length, 0, 'no request refused for rate')

  // A re-run: nothing created, nothing joined; a listing and one manager connection, no worker touched.
  const counter = lab.connectionCounter({managers: lab.hosts.slice(0, MANAGERS), workers: lab.hosts.slice(MANAGERS)})
  counter.reset()
  const before = fake.log.length
  const again = await up()
  assert.equal(again.code, 0, again.stderr)
  const doc2 = JSON.parse(again.stdout)
  assert.deepEqual({created: doc2.created, joined: doc2.joined, removed: doc2.removed, failed: doc2.failed}, {created: [], joined: [], removed: [], failed: []})
  assert.deepEqual({create: doc2.plan.create, join_managers: doc2.plan.join_managers, join_workers: doc2.plan.join_workers},
    {create: [], join_managers: [], join_workers: []})
  const requests = fake.log.slice(before)
  assert.ok(requests.length <= 20, `re-run made ${requests.length} requests: ${requests.map((q) => `${q.method} ${q.route}`).join(', ')}`)
  assert.equal(requests.filter((q) => q.method !== 'GET').length, 0, 're-run only reads the API')
  assert.equal(lab.joins().length, MANAGERS - 1 + WORKERS, 're-run joins nothing')
  const conns = counter.read()
  assert.equal(conns.workers, 0, 're-run connects to no worker')
  assert.ok(conns.managers >= 1 && conns.managers <= MANAGERS, `re-run: ${conns.managers} manager connections`)
})
