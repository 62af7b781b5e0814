// The DigitalOcean walkthrough as a user runs it: the real CLI (subprocess) against the fake DigitalOcean API.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, RunResult, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

const NODE_KEYS = ['name', 'id', 'status', 'provider_status', 'public_ip', 'private_ip', 'region', 'size', 'memory_mb', 'tags']

/** A scratch folder, a running fake API and a `run` that passes the token and API URL like a user's shell. */
async function setup(t: import('node:test').TestContext, opts: ConstructorParameters<typeof FakeDigitalOcean>[0] = {}) {
  const {dir, cleanup} = scratchDir('belt-do-')
  const fake = new FakeDigitalOcean({activeAfterMs: 300, ...opts})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const outputs: RunResult[] = []
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const run = async (args: string[], extra: Record<string, string | undefined> = {}) => {
    const r = await belt(args, {cwd: dir, env: {...env, ...extra}})
    outputs.push(r)
    return r
  }
  return {dir, fake, url, run, outputs, env}
}

/** The cluster_id `belt cluster new` wrote (CONTRACT §9). */
function clusterId(dir: string, cluster: string): string {
  return /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', cluster, 'config.yml'), 'utf8'))![1]
}

function state(dir: string, cluster: string): {nodes: Record<string, {id: string}>; active_node: string | null; provider: Record<string, unknown>} {
  return JSON.parse(readFileSync(join(dir, '.belt', cluster, 'state.json'), 'utf8'))
}

test('walkthrough: cluster new → create → status --wait → ip → ls → re-run → rm --all', async (t) => {
  const {dir, fake, run, outputs} = await setup(t)
  const other = fake.seedDroplet('node1', ['belt-cluster:someone-else'])
  fake.seedDroplet('db1', [])

  let r = await run(['cluster', 'new', 'swarm2k', '--driver', 'digitalocean', 'region=sgp1'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['create', '512mb', 'node[1:4]'])
  assert.equal(r.code, 0, r.stderr)
  const rows = r.stdout.trim().split('\n')
  assert.match(rows[0], /^NAME\s+ID\s+STATUS\s+PUBLIC IPV4\s+PRIVATE IPV4\s+MEMORY\s+REGION$/)
  assert.deepEqual(rows.slice(1).map((l) => l.split(/\s+/)[0]), ['node1', 'node2', 'node3', 'node4'])
  for (const row of rows.slice(1)) assert.match(row, /\s512 MB\s+sgp1$/)
  assert.match(r.stderr, /size 512mb → s-1vcpu-512mb-10gb \(cheapest with 512 MB in sgp1/, 'size mapping on stderr')
  assert.doesNotMatch(r.stdout, /s-1vcpu-512mb-10gb|→/, 'mapping not on stdout')
  assert.match(r.stderr, /no cloud firewall is managed/)
  assert.equal(fake.count('POST', '/v2/droplets'), 1)
  assert.equal(fake.count('POST', '/v2/account/keys'), 1, 'the cluster key is uploaded once')
  const created = fake.list('belt-cluster:swarm2k')
  assert.equal(created.length, 4)
  for (const d of created) {
    assert.equal(d.size_slug, 's-1vcpu-512mb-10gb')
    assert.equal(d.region.slug, 'sgp1')
  }
  const st = state(dir, 'swarm2k')
  assert.deepEqual(Object.keys(st.nodes).sort(), ['node1', 'node2', 'node3', 'node4'])
  assert.equal(st.nodes.node2.id, String(created.find((d) => d.name === 'node2')!.id))
  assert.ok(existsSync(join(dir, '.belt', 'swarm2k', 'ssh', 'id_ed25519')))

  r = await run(['status', '--wait', 'active=4', '--timeout', '1m'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^active\s+4\s+node1,node2,node3,node4$/m)
  assert.equal(fake.count('GET', '/v2/droplets/:id'), 0, 'never one GET per droplet')

  r = await run(['ip', 'node2'])
  assert.equal(r.code, 0, r.stderr)
  const node2 = fake.list('belt-cluster:swarm2k').find((d) => d.name === 'node2')!
  assert.equal(r.stdout, node2.networks.v4.find((n) => n.type === 'public')!.ip_address + '\n')
  r = await run(['ip', 'node[1:2]', '--private'])
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.startsWith('10.')), [true, true])

  r = await run(['ip', 'nosuch'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /nosuch/)
  assert.equal(r.stdout, '')

  r = await run(['active', 'node1'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const nodes = JSON.parse(r.stdout)
  assert.equal(nodes.length, 4, 'only this cluster\'s droplets (not someone-else\'s node1, not the untagged db1)')
  for (const n of nodes) {
    assert.deepEqual(Object.keys(n).sort(), [...NODE_KEYS].sort())
    assert.equal(typeof n.id, 'string')
    assert.equal(n.status, 'active')
    assert.equal(n.provider_status, 'active')
    assert.match(n.public_ip, /^198\./)
    assert.match(n.private_ip, /^10\./)
    assert.equal(n.size, 's-1vcpu-512mb-10gb')
    assert.equal(n.memory_mb, 512)
    assert.equal(n.region, 'sgp1')
    assert.deepEqual(n.tags, ['belt-cluster:swarm2k', `belt-id:${clusterId(dir, 'swarm2k')}`])
  }
  r = await run(['ls', 'node[3:9]'])
  assert.deepEqual(r.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['node3', 'node4'])

  // Re-run: nothing new, says so.
  const posts = fake.count('POST', '/v2/droplets')
  r = await run(['create', '512mb', 'node[1:4]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const again = JSON.parse(r.stdout)
  assert.deepEqual(again.created, [])
  assert.deepEqual(again.existing.map((n: {name: string}) => n.name), ['node1', 'node2', 'node3', 'node4'])
  assert.match(r.stderr, /4 of 4 already exist/)
  assert.equal(fake.count('POST', '/v2/droplets'), posts, 'nothing posted')
  assert.equal(fake.count('POST', '/v2/account/keys'), 1, 'the uploaded key is reused')

  // Partly existing: only the missing ones.
  r = await run(['create', '512mb', 'node[3:6]', '--tag', 'workers', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const partly = JSON.parse(r.stdout)
  assert.deepEqual(partly.created.map((n: {name: string}) => n.name), ['node5', 'node6'])
  assert.deepEqual(partly.existing.map((n: {name: string}) => n.name), ['node3', 'node4'])
  assert.deepEqual(partly.created[0].tags.sort(), ['belt-cluster:swarm2k', `belt-id:${clusterId(dir, 'swarm2k')}`, 'workers'])

  r = await run(['rm', 'node6'])
  assert.equal(r.code, 2, 'no terminal and no --force')
  assert.equal(fake.list('belt-cluster:swarm2k').length, 6)
  r = await run(['rm', 'node[5:6]', 'node1', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fake.list('belt-cluster:swarm2k').map((d) => d.name).sort(), ['node2', 'node3', 'node4'])
  assert.equal(state(dir, 'swarm2k').active_node, null, 'the removed active node is cleared')
  assert.equal(fake.count('DELETE', '/v2/droplets/:id'), 3)

  r = await run(['rm', 'nosuch', '--force'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /nosuch/)
  r = await run(['ls'], {DEBUG: 'belt*'})
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /belt:do GET \/droplets/, 'debug logs name the calls (and never the token: checked below)')

  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list('belt-cluster:swarm2k').length, 0, 'none left')
  assert.deepEqual(Object.keys(state(dir, 'swarm2k').nodes), [])
  assert.ok(fake.droplets.has(other.id), 'another cluster\'s droplet is untouched')
  assert.equal(fake.list().length, 2)

  r = await run(['status', '--json'])
  assert.deepEqual(JSON.parse(r.stdout), {counts: {}, nodes: [], swarm: null})

  for (const o of outputs) {
    assert.ok(!o.stdout.includes(fake.token) && !o.stderr.includes(fake.token), 'the token never appears in output')
    assert.doesNotMatch(o.stderr, /\n\s+at /, 'no stack traces')
  }
  assert.ok(!readFileSync(join(dir, '.belt', 'swarm2k', 'state.json'), 'utf8').includes(fake.token))
})

test('listings lagging behind creates and deletes: a re-run right after create converges, posting nothing twice', async (t) => {
  const {fake, run} = await setup(t, {listingLag: {seed: 9, newMs: 4000, deletedMs: 4000}})
  const tag = 'belt-cluster:lag'
  assert.equal((await run(['cluster', 'new', 'lag', '--driver', 'digitalocean'])).code, 0)
  let r = await run(['create', '512mb', 'node[1:4]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).created.length, 4)
  // Right away: the listing misses (some of) them, state.json knows their ids, so nothing is made again.
  r = await run(['create', '512mb', 'node[1:4]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const again = JSON.parse(r.stdout)
  assert.deepEqual(again.created, [])
  assert.deepEqual(again.existing.map((n: {name: string}) => n.name).sort(), ['node1', 'node2', 'node3', 'node4'])
  assert.equal(fake.count('POST', '/v2/droplets'), 1, 'one create request in all')
  assert.deepEqual(fake.list(tag).map((d) => d.name), ['node1', 'node2', 'node3', 'node4'], 'each droplet once')
  r = await run(['status', '--wait', 'active=4', '--timeout', '60s', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).counts.active, 4)
  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list(tag).length, 0, 'none left')
})

test('missing or refused token: exit 2 naming DIGITALOCEAN_ACCESS_TOKEN, nothing created', async (t) => {
  const {fake, run} = await setup(t)
  await run(['cluster', 'new', 'c1', '--driver', 'digitalocean'])
  let r = await run(['create', '1gb', 'w[1:3]'], {DIGITALOCEAN_ACCESS_TOKEN: undefined})
  assert.equal(r.code, 2)
  assert.match(r.stderr, /DIGITALOCEAN_ACCESS_TOKEN/)
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line')
  assert.equal(fake.log.length, 0, 'no API call was made')

  r = await run(['ls'], {DIGITALOCEAN_ACCESS_TOKEN: 'wrong-token-value-123'})
  assert.equal(r.code, 2)
  assert.match(r.stderr, /401.*DIGITALOCEAN_ACCESS_TOKEN/)
  assert.ok(!r.stderr.includes('wrong-token-value-123'))
  r = await run(['create', '1gb', 'w[1:3]'], {DIGITALOCEAN_ACCESS_TOKEN: 'wrong-token-value-123'})
  assert.equal(r.code, 2)
  assert.equal(fake.droplets.size, 0)
})

test('--dry-run creates nothing and shows the limit; >100 nodes need --yes without a terminal; bad input is exit 2', async (t) => {
  const {fake, url, run} = await setup(t, {dropletLimit: 150})
  // The API URL with a trailing /v2/ works as well.
  const env = {DIGITALOCEAN_API_URL: `${url}/v2/`}
  await run(['cluster', 'new', 'big', '--driver', 'digitalocean'])
  fake.seedDroplet('elsewhere', [])
  let r = await run(['create', '1gb', 'w[001:120]', '--dry-run'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /would create 120 node\(s\) of size s-1vcpu-1gb in nyc1/)
  assert.match(r.stderr, /account limit: 1 of 150 in use/)
  assert.equal(r.stdout.trim().split('\n').length, 120)
  assert.equal(r.stdout.trim().split('\n')[0], 'w001')
  r = await run(['create', '1gb', 'w[001:120]', '--dry-run', '--json'], env)
  const plan = JSON.parse(r.stdout)
  assert.equal(plan.count, 120)
  assert.deepEqual(plan.limit, {max: 150, used: 1})
  assert.equal(fake.count('POST', '/v2/droplets'), 0)
  assert.equal(fake.count('POST', '/v2/account/keys'), 0, 'dry run uploads no key')

  r = await run(['create', '1gb', 'w[001:120]'], env)
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--yes/)
  r = await run(['create', '1gb', 'w[001:160]', '--yes'], env)
  assert.equal(r.code, 2)
  assert.match(r.stderr, /account limit/)
  r = await run(['create', '1gb', 'bad_name[1:2]'], env)
  assert.equal(r.code, 2)
  assert.match(r.stderr, /invalid node name 'bad_name1'/)
  r = await run(['create', '3gb', 'x1'], env)
  assert.equal(r.code, 2, 's-1vcpu-3gb exists but is not available')
  assert.match(r.stderr, /no DigitalOcean size has exactly 3 GB in nyc1/)
  r = await run(['create', '1gb', 'x1', '--tag', 'bad tag'], env)
  assert.equal(r.code, 2)
  assert.match(r.stderr, /invalid tag 'bad tag'/)
  assert.equal(fake.count('POST', '/v2/droplets'), 0)
  assert.equal(fake.list().length, 1)
})

test('cloud firewall: created with the swarm rules, updated on admin_cidr change, refused with encrypted_overlay', async (t) => {
  const {dir, fake, run} = await setup(t)
  await run(['cluster', 'new', 'fw_test', '--driver', 'digitalocean', 'admin_cidr=203.0.113.0/24'])
  // Named and targeted by the cluster's id: another project's fw_test cluster has its own firewall.
  const id = clusterId(dir, 'fw_test')
  const fwName = `belt-fw-test-${id.slice(0, 8)}`
  const idTag = `belt-id:${id}`
  let r = await run(['firewall'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, new RegExp(`${fwName} does not exist yet`))

  r = await run(['create', '1gb', 'm[0:1]'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, new RegExp(`created cloud firewall ${fwName}`))
  assert.equal(fake.firewalls.size, 1)
  type Rule = {protocol: string; ports: string; sources: {addresses?: string[]; tags?: string[]}}
  const fw = [...fake.firewalls.values()][0] as {name: string; tags: string[]; inbound_rules: Rule[]; outbound_rules: unknown[]}
  assert.equal(fw.name, fwName)
  assert.deepEqual(fw.tags, [idTag])
  const inbound = fw.inbound_rules.map((x) => `${x.ports}/${x.protocol} ${(x.sources.addresses ?? x.sources.tags ?? []).join(',')}`).sort()
  assert.deepEqual(inbound, [
    '22/tcp 203.0.113.0/24',
    '2376/tcp 203.0.113.0/24',
    `2377/tcp ${idTag}`,
    `4789/udp ${idTag}`,
    `7946/tcp ${idTag}`,
    `7946/udp ${idTag}`,
  ])
  assert.equal(fw.outbound_rules.length, 3)

  r = await run(['firewall', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const shown = JSON.parse(r.stdout)
  assert.equal(shown.name, fwName)
  assert.equal(typeof shown.id, 'string')
  assert.equal(shown.rules.length, 9)
  assert.deepEqual(shown.rules[0], {direction: 'inbound', protocol: 'tcp', ports: '22', sources: ['203.0.113.0/24'], note: 'SSH, from admin_cidr'})

  // Re-run: nothing to change, no PUT.
  r = await run(['create', '1gb', 'm[0:1]'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.count('PUT', '/v2/firewalls/:id'), 0)
  assert.equal(fake.count('POST', '/v2/firewalls'), 1)

  await run(['cluster', 'update', 'admin_cidr=198.51.100.7/32'])
  r = await run(['create', '1gb', 'm[0:1]'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, new RegExp(`updated cloud firewall ${fwName}`))
  assert.equal(fake.count('PUT', '/v2/firewalls/:id'), 1)
  r = await run(['firewall'])
  assert.match(r.stdout, /^inbound\s+tcp\s+22\s+198\.51\.100\.7\/32\s/m)
  assert.doesNotMatch(r.stdout, /203\.0\.113/)

  await run(['cluster', 'update', 'encrypted_overlay=true'])
  const before = fake.log.length
  r = await run(['create', '1gb', 'm2'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /ESP/)
  assert.equal(fake.log.length, before, 'refused before any API call')
  r = await run(['firewall'])
  assert.equal(r.code, 2)
})

test('the fake API behaves like DigitalOcean at its edges', async (t) => {
  const {fake, url} = await setup(t)
  const call = (method: string, path: string, body?: unknown, token: string | null = fake.token) =>
    fetch(url + path, {method, headers: {...(token ? {authorization: `Bearer ${token}`} : {}), 'content-type': 'application/json'}, body: body === undefined ? undefined : JSON.stringify(body)})
  let res = await call('GET', '/v2/account', undefined, null)
  assert.equal(res.status, 401)
  assert.deepEqual(await res.json(), {id: 'unauthorized', message: 'Unable to authenticate you'})
  res = await call('GET', '/v2/account/')
  assert.equal(res.status, 200, 'trailing slash')
  assert.ok(res.headers.get('ratelimit-limit'))
  assert.ok(res.headers.get('ratelimit-remaining'))
  assert.ok(res.headers.get('ratelimit-reset'))
  res = await call('GET', '/v2/droplets?per_page=201')
  assert.equal(res.status, 422)
  const names = Array.from({length: 11}, (_, i) => `n${i}`)
  res = await call('POST', '/v2/droplets', {names, region: 'nyc1', size: 's-1vcpu-1gb', image: 'docker-20-04'})
  assert.equal(res.status, 422)
  assert.equal(((await res.json()) as {id: string}).id, 'unprocessable_entity')
  res = await call('POST', '/v2/droplets', {names: names.slice(0, 10), region: 'nyc1', size: 's-1vcpu-1gb', image: 'docker-20-04', tags: ['t1']})
  assert.equal(res.status, 202)
  res = await call('GET', '/v2/droplets?per_page=4&tag_name=t1')
  const page1 = (await res.json()) as {droplets: {status: string; networks: {v4: unknown[]}}[]; meta: {total: number}; links: {pages: {next: string}}}
  assert.equal(page1.droplets.length, 4)
  assert.equal(page1.meta.total, 10)
  assert.match(page1.links.pages.next, /page=2/)
  assert.equal(page1.droplets[0].status, 'new')
  assert.deepEqual(page1.droplets[0].networks.v4, [])
  fake.faults.push({method: 'GET', route: '/v2/sizes', status: 429, times: 1, retryAfter: 2})
  res = await call('GET', '/v2/sizes')
  assert.equal(res.status, 429)
  assert.equal(res.headers.get('retry-after'), '2')
  res = await call('POST', '/v2/firewalls', {name: 'x', inbound_rules: [{protocol: 'esp', sources: {addresses: ['10.0.0.0/8']}}]})
  assert.equal(res.status, 422, 'no ESP in DigitalOcean firewalls')
  res = await call('DELETE', '/v2/droplets?tag_name=t1')
  assert.equal(res.status, 204)
  assert.equal(fake.list().length, 0)
})
