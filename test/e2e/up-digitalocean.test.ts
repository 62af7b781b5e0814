// belt up --plan and belt down against the fake DigitalOcean API: the plan's placement over regions, the JSON of
// CONTRACT §10 with the chapter's advice, and belt down deleting every droplet of the cluster and its firewall
// (no SSH anywhere: nothing here dials the addresses the fake invents).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {belt, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

test('belt up --plan --json on DigitalOcean: regions per manager, pools, advice; belt down removes droplets and firewall', async (t) => {
  const {dir, cleanup} = scratchDir('belt-up-do-')
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const run = (...args: string[]) => belt(args, {cwd: dir, env})
  let r = await run('cluster', 'new', 'updo', '--driver', 'digitalocean', 'region=sgp1', 'admin_cidr=203.0.113.0/24')
  assert.equal(r.code, 0, r.stderr)
  r = await run('cluster', 'update', 'swarm.managers.names=mg[0:4]', 'swarm.managers.size=8gb', 'swarm.managers.zones=[sgp1,nyc3,fra1]',
    'swarm.workers.web.names=w[1:600]', 'swarm.workers.web.size=1gb')
  assert.equal(r.code, 0, r.stderr)

  const before = fake.log.length
  r = await run('up', '--plan', '--json')
  assert.equal(r.code, 0, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(Object.keys(doc), ['plan', 'created', 'provisioned', 'joined', 'removed', 'failed'])
  assert.equal(doc.plan.create.length, 605)
  assert.deepEqual(doc.plan.join_managers, ['mg0', 'mg1', 'mg2', 'mg3', 'mg4'])
  assert.equal(doc.plan.join_workers.length, 600)
  assert.deepEqual([doc.created, doc.provisioned, doc.joined, doc.removed, doc.failed], [[], [], [], [], []])
  assert.match(doc.plan.advice.join('\n'), /managers of size 8gb have 4 vCPUs: for 500–1,000 nodes give them at least 8/)
  assert.match(doc.plan.advice.join('\n'), /managers spread over 3 zones \(sgp1, nyc3, fra1\)/)
  assert.equal(fake.log.slice(before).filter((l) => l.method !== 'GET').length, 0, '--plan changes nothing')

  r = await run('up', '--plan')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^mg3\s+manager\s+managers\s+8gb\s+sgp1\s+create, tls, join$/m, '5 over 3 regions: 2+2+1')
  assert.match(r.stdout, /^mg4\s+manager\s+managers\s+8gb\s+nyc3\s+create, tls, join$/m)
  assert.match(r.stdout, /^w1\s+worker\s+web\s+1gb\s+sgp1\s+create, join$/m, 'pools default to the region')
  assert.match(r.stdout, /5 managers, tolerate 2 failures; 605 to create/)

  // Nodes made another way (belt create) and a firewall: belt down takes them all.
  r = await run('create', '512mb', 'x[1:3]')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list('belt-cluster:updo').length, 3)
  assert.equal(fake.firewalls.size, 1)
  r = await run('down')
  assert.equal(r.code, 2, 'no --yes off a terminal')
  r = await run('down', '--yes')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^removed\s+3\s+x1,x2,x3$/m)
  assert.match(r.stdout, /^removed firewall belt-updo-[0-9a-f]{8}$/m)
  assert.equal(fake.list('belt-cluster:updo').length, 0)
  assert.equal(fake.firewalls.size, 0)
})
