// Cluster identity (CONTRACT §9) as users meet it: two projects whose `.belt.yml` clusters are both called `default`
// on ONE fake DigitalOcean account / ONE fake EC2 account; nodes made before cluster ids; `cluster adopt`;
// `cluster rm` asking the cloud; `belt-` tags refused. The real CLI against the stateful fakes.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, RunResult, scratchDir, withoutApiNotice} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {Ec2Fake, TEST_CREDENTIALS} from '../fakes/ec2.js'

const DO_YML = `# our project's swarm (the book's .belt.yml)
digitalocean:
  region: sgp1   # close to the team
  image: docker-20-04
  admin_cidr: 203.0.113.0/24
`

const EC2_YML = `# the EC2 flavour
driver: ec2
ec2:
  admin_cidr: 203.0.113.0/24   # office
`

function idOf(file: string): string | null {
  return /^cluster_id: "([0-9a-f]{16,})"/m.exec(readFileSync(file, 'utf8'))?.[1] ?? null
}

function oneLine(r: RunResult): void {
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  assert.equal(withoutApiNotice(r.stderr).trim().split('\n').length, 1, `one line, got: ${r.stderr}`)
}

/** Two scratch projects (and more on demand) running the CLI against one fake account. */
function projects(t: import('node:test').TestContext, env: Record<string, string>) {
  const made: string[] = []
  const project = (yml: string | null) => {
    const {dir, cleanup} = scratchDir('belt-id-')
    t.after(cleanup)
    if (yml !== null) writeFileSync(join(dir, '.belt.yml'), yml)
    made.push(dir)
    const run = (args: string[], extra: Record<string, string | undefined> = {}) => belt(args, {cwd: dir, env: {...env, ...extra}})
    return {dir, run, yml: join(dir, '.belt.yml')}
  }
  return project
}

async function doAccount(t: import('node:test').TestContext) {
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(() => fake.stop())
  return {fake, project: projects(t, {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'})}
}

async function ec2Account(t: import('node:test').TestContext) {
  const fake = new Ec2Fake({pendingMs: 100})
  const url = await fake.start()
  t.after(() => fake.stop())
  const {dir, cleanup} = scratchDir('belt-id-aws-')
  t.after(cleanup)
  return {fake, project: projects(t, {
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey, AWS_ENDPOINT_URL_EC2: url,
    AWS_CONFIG_FILE: join(dir, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'), AWS_EC2_METADATA_DISABLED: 'true', BELT_POLL_INTERVAL_MS: '100',
  })}
}

test('DigitalOcean: two `default` clusters on one account never see or touch each other; read-only commands never write config.yml', async (t) => {
  const {fake, project} = await doAccount(t)
  const a = project(DO_YML)
  const b = project(DO_YML)
  const legacy = fake.seedDroplet('old1', ['belt-cluster:default'])

  // Before anything is created there is no id, and read-only commands (and a dry run) do not make one.
  const before = readFileSync(a.yml)
  const mtime = statSync(a.yml).mtimeMs
  for (const args of [['ls'], ['status'], ['firewall'], ['cluster', 'ls'], ['cluster', 'config'], ['create', '1gb', 'node1', '--dry-run']]) {
    const r = await a.run(args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  }
  assert.deepEqual(readFileSync(a.yml), before, 'config.yml unchanged')
  assert.equal(statSync(a.yml).mtimeMs, mtime, 'config.yml not rewritten')

  let r = await a.run(['create', '1gb', 'node[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  r = await b.run(['create', '1gb', 'node[1:2]'])
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /already exist/, "A's node1 and node2 are not B's")
  const idA = idOf(a.yml)!
  const idB = idOf(b.yml)!
  assert.ok(idA && idB && idA !== idB, 'each project got its own id')
  assert.match(readFileSync(a.yml, 'utf8'), /^# our project's swarm/, 'comments kept')
  assert.match(readFileSync(a.yml, 'utf8'), /region: sgp1 +# close to the team/, 'trailing comments kept')

  // Tags, firewall and uploaded key carry the id.
  for (const d of fake.list('belt-cluster:default').filter((x) => x.id !== legacy.id)) {
    const own = d.tags.filter((x) => x.startsWith('belt-id:'))
    assert.equal(own.length, 1, `${d.name}: one id tag`)
  }
  assert.equal(fake.list(`belt-id:${idA}`).length, 3)
  assert.equal(fake.list(`belt-id:${idB}`).length, 2)
  const fws = [...fake.firewalls.values()] as {name: string; tags: string[]}[]
  assert.deepEqual(fws.map((f) => f.name).sort(), [`belt-default-${idA.slice(0, 8)}`, `belt-default-${idB.slice(0, 8)}`].sort())
  for (const f of fws) assert.deepEqual(f.tags, [f.name.endsWith(idA.slice(0, 8)) ? `belt-id:${idA}` : `belt-id:${idB}`])
  assert.deepEqual([...fake.keys.values()].map((k) => k.name).sort(), [`belt-default-${idA.slice(0, 8)}`, `belt-default-${idB.slice(0, 8)}`].sort())

  // ls: only our own; one stderr line counts the others — from the one listing ls makes anyway.
  const listings = fake.count('GET', '/v2/droplets')
  r = await a.run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.count('GET', '/v2/droplets') - listings, 1, 'one listing (one page), no extra call for the count')
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name).sort(), ['node1', 'node2', 'node3'])
  assert.match(r.stderr, /^2 droplet\(s\) tagged belt-cluster:default belong to another cluster \(other belt-id\); 1 have no belt-id \(made before cluster ids: belt cluster adopt\)/m)
  oneLine(r)
  r = await b.run(['status'])
  assert.match(r.stdout, /^active\s+2\s+node1,node2$/m)
  assert.match(r.stderr, /^3 droplet\(s\) tagged belt-cluster:default belong to another cluster/m)

  // Read-only commands with an id: config.yml bytes and mtime unchanged.
  const withId = readFileSync(a.yml)
  const mtime2 = statSync(a.yml).mtimeMs
  for (const args of [['ls'], ['status'], ['ip', 'node1'], ['cluster', 'ls'], ['cluster', 'config'], ['firewall'], ['ls', '--json']]) {
    r = await a.run(args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
  }
  assert.deepEqual(readFileSync(a.yml), withId)
  assert.equal(statSync(a.yml).mtimeMs, mtime2)

  // rm --all --force in A deletes by A's id tag: B's droplets and the legacy one stay.
  r = await a.run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  const bulk = fake.log.filter((q) => q.method === 'DELETE' && q.route === '/v2/droplets')
  assert.deepEqual(bulk.map((q) => q.query.tag_name), [`belt-id:${idA}`])
  assert.deepEqual(fake.list().map((d) => d.name).sort(), ['node1', 'node2', 'old1'])
  assert.equal(fake.list(`belt-id:${idB}`).length, 2)
  r = await b.run(['ls', '--json'])
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name).sort(), ['node1', 'node2'])
  assert.doesNotMatch(r.stderr, /another cluster/)
  assert.match(r.stderr, /^1 droplet\(s\) tagged belt-cluster:default have no belt-id/m)
  // B's rm of a name A also had only ever reaches B's droplet.
  r = await b.run(['rm', 'node2', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fake.list().map((d) => d.name).sort(), ['node1', 'old1'])
  assert.ok(fake.droplets.has(legacy.id), 'the legacy droplet is never touched')
})

test('belt- tags and cluster_id are refused (exit 2, one line); a bad cluster_id in config.yml is a config error', async (t) => {
  const {fake, project} = await doAccount(t)
  const p = project(DO_YML)
  let r = await p.run(['create', '1gb', 'x1', '--tag', 'belt-cluster:other'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /--tag: tag 'belt-cluster:other' is refused: tags beginning 'belt-' are belt's own/)
  oneLine(r)
  r = await p.run(['cluster', 'update', 'tags=[web,belt-id:0123456789abcdef]'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /tag 'belt-id:0123456789abcdef' is refused/)
  oneLine(r)
  r = await p.run(['cluster', 'update', 'cluster_id=0123456789abcdef'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /'cluster_id' is never set by hand/)
  oneLine(r)
  assert.equal(readFileSync(p.yml, 'utf8'), DO_YML, 'refused updates change nothing')
  assert.equal(fake.count('POST', '/v2/droplets'), 0)

  r = await p.run(['cluster', 'new', 'mine', '--driver', 'digitalocean', 'cluster_id=0123456789abcdef'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /never set by hand/)
  r = await p.run(['cluster', 'new', 'mine', '--driver', 'ec2'])
  assert.equal(r.code, 0, r.stderr)
  const cfg = join(p.dir, '.belt', 'mine', 'config.yml')
  assert.match(readFileSync(cfg, 'utf8'), /^driver: ec2\ncluster_id: "[0-9a-f]{16}" # belt.s id for/m, 'cluster new writes the id under driver:')
  assert.match(readFileSync(cfg, 'utf8'), /^# belt cluster template/m, 'template comments kept')
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^cluster_id: .*$/m, 'cluster_id: NOT-HEX'))
  r = await p.run(['--cluster', 'mine', 'ls'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /config\.yml: 'cluster_id' must be 16 to 64 lowercase hex characters/)
  oneLine(r)

  // EC2: a belt- tag key is refused the same way.
  writeFileSync(cfg, readFileSync(cfg, 'utf8').replace(/^cluster_id: .*$/m, 'cluster_id: "0123456789abcdef"'))
  r = await p.run(['--cluster', 'mine', 'create', '1gb', 'x1', '--tag', 'belt-cluster=other'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /tag 'belt-cluster=other' is refused/)
  oneLine(r)
})

test('DigitalOcean: legacy nodes are counted, untouched; cluster adopt id-tags exactly the state.json nodes', async (t) => {
  const {fake, project} = await doAccount(t)
  const p = project(DO_YML)
  const n1 = fake.seedDroplet('n1', ['belt-cluster:default'])
  const n2 = fake.seedDroplet('n2', ['belt-cluster:default', 'web'])
  const stranger = fake.seedDroplet('n9', ['belt-cluster:default'])
  const foreign = fake.seedDroplet('n3', ['belt-cluster:default', 'belt-id:ffffffffffffffff'])
  // The cluster as an older belt left it: state.json lists its droplets, config.yml has no id.
  mkdirSync(join(p.dir, '.belt', 'default'), {recursive: true})
  const nodes = {n1: {id: String(n1.id)}, n2: {id: String(n2.id)}, n3: {id: String(foreign.id)}, gone1: {id: '123'}}
  writeFileSync(join(p.dir, '.belt', 'default', 'state.json'), JSON.stringify({version: 1, active_node: null, nodes, failures: {}, provider: {}}))

  let r = await p.run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [], 'legacy droplets are not listed as ours')
  assert.match(r.stderr, /^1 droplet\(s\) tagged belt-cluster:default belong to another cluster \(other belt-id\); 3 have no belt-id \(made before cluster ids: belt cluster adopt\)/m)
  for (const args of [['create', '1gb', 'n4'], ['rm', '--all', '--force']]) {
    r = await p.run(args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, /made before cluster ids .*: run belt cluster adopt first/)
    oneLine(r)
  }
  assert.equal(idOf(p.yml), null)
  assert.equal(fake.list().length, 4, 'nothing created or removed')

  r = await p.run(['cluster', 'adopt'])
  assert.equal(r.code, 1, 'n3 carries another cluster\'s id: refused')
  const id = idOf(p.yml)!
  assert.ok(id, 'adopt wrote the id')
  assert.match(readFileSync(p.yml, 'utf8'), /^# our project's swarm/, 'comments kept')
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['n1', 'n2'], 'prints what it tagged')
  assert.match(r.stderr, /tagged 2, already tagged 0, not in the cloud 1, refused 1/)
  assert.match(r.stderr, /state\.json lists 1 node\(s\) the cloud does not have under this cluster's name tag: gone1/)
  assert.match(r.stderr, /n3: droplet \d+ carries another cluster's id \(belt-id:ffffffffffffffff\); not retagged/)
  assert.equal(fake.count('POST', '/v2/tags/:id/resources'), 1, 'one tag call for both droplets')
  assert.deepEqual(fake.list(`belt-id:${id}`).map((d) => d.name).sort(), ['n1', 'n2'])
  assert.deepEqual(fake.list().find((d) => d.id === stranger.id)!.tags, ['belt-cluster:default'], 'a legacy droplet state.json does not list stays untagged')
  assert.deepEqual(fake.list().find((d) => d.id === foreign.id)!.tags, ['belt-cluster:default', 'belt-id:ffffffffffffffff'], 'never retagged')

  r = await p.run(['cluster', 'adopt', '--json'])
  const again = JSON.parse(r.stdout)
  assert.equal(again.cluster_id, id)
  assert.deepEqual(again.tagged, [])
  assert.deepEqual(again.already.sort(), ['n1', 'n2'])
  assert.equal(fake.count('POST', '/v2/tags/:id/resources'), 1, 'a re-run tags nothing')

  r = await p.run(['ls', '--json'])
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name).sort(), ['n1', 'n2'])
  r = await p.run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(fake.list().map((d) => d.name).sort(), ['n3', 'n9'], 'only the adopted droplets were removed')
})

test('cluster rm asks the cloud, not state.json: refuses while droplets carry the id, even with an empty state.json', async (t) => {
  const {fake, project} = await doAccount(t)
  const p = project(null)
  let r = await p.run(['cluster', 'new', 'c1', '--driver', 'digitalocean'])
  assert.equal(r.code, 0, r.stderr)
  r = await p.run(['create', '1gb', 'w[1:2]'])
  assert.equal(r.code, 0, r.stderr)
  const id = idOf(join(p.dir, '.belt', 'c1', 'config.yml'))!
  const statePath = join(p.dir, '.belt', 'c1', 'state.json')
  writeFileSync(statePath, JSON.stringify({version: 1, active_node: null, nodes: {}, failures: {}, provider: {}}))
  r = await p.run(['cluster', 'rm', 'c1'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, new RegExp(`cluster 'c1' still has 2 node\\(s\\) tagged belt-id:${id}; remove them first`))
  oneLine(r)
  // The other way round: state.json lists a node the cloud does not have — that alone does not block.
  r = await p.run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list().length, 0)
  writeFileSync(statePath, JSON.stringify({version: 1, active_node: null, nodes: {w9: {id: '42'}}, failures: {}, provider: {}}))
  r = await p.run(['cluster', 'rm', 'c1'])
  assert.equal(r.code, 0, r.stderr)

  // --force removes the folder without asking the cloud (even without a token).
  r = await p.run(['cluster', 'new', 'c2', '--driver', 'digitalocean'])
  assert.equal(r.code, 0, r.stderr)
  r = await p.run(['--cluster', 'c2', 'create', '1gb', 'v1'])
  assert.equal(r.code, 0, r.stderr)
  r = await p.run(['cluster', 'rm', 'c2'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /still has 1 node/)
  r = await p.run(['cluster', 'rm', 'c2', '--force'], {DIGITALOCEAN_ACCESS_TOKEN: undefined})
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.list().length, 1, '--force removes the folder, not the droplet')
})

test('EC2: two `default` clusters on one account: own instances, key pairs and security groups; legacy counted; adopt', async (t) => {
  const {fake, project} = await ec2Account(t)
  const a = project(EC2_YML)
  const b = project(EC2_YML)
  const old = fake.seedInstance('old1', [{key: 'belt-cluster', value: 'default'}])

  let r = await a.run(['create', '1gb', 'w[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  r = await b.run(['create', '1gb', 'w[1:2]'])
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /already exist/)
  const idA = idOf(a.yml)!
  const idB = idOf(b.yml)!
  assert.ok(idA && idB && idA !== idB)
  assert.match(readFileSync(a.yml, 'utf8'), /^driver: ec2\ncluster_id: "[0-9a-f]+"/m, 'the id goes under driver:')
  assert.match(readFileSync(a.yml, 'utf8'), /admin_cidr: 203\.0\.113\.0\/24 +# office/, 'comments kept')

  const names = {a: `belt-default-${idA.slice(0, 8)}`, b: `belt-default-${idB.slice(0, 8)}`}
  assert.deepEqual([...fake.keyPairs.keys()].sort(), [names.a, names.b].sort(), 'one key pair each')
  const groups = [...fake.groups.values()].filter((g) => g.groupName.startsWith('belt-'))
  assert.deepEqual(groups.map((g) => g.groupName).sort(), [names.a, names.b].sort(), 'one security group each')
  for (const g of groups) assert.equal(fake.tag(g, 'belt-cluster-id'), g.groupName === names.a ? idA : idB)
  const ofA = fake.live().filter((i) => fake.tag(i, 'belt-cluster-id') === idA)
  assert.equal(ofA.length, 3)
  const groupA = groups.find((g) => g.groupName === names.a)!.groupId
  for (const i of ofA) {
    assert.deepEqual(i.groupIds, [groupA])
    assert.equal(i.keyName, names.a)
  }

  const describes = fake.calls.DescribeInstances ?? 0
  r = await a.run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal((fake.calls.DescribeInstances ?? 0) - describes, 1, 'one listing, no extra call for the count')
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name), ['w1', 'w2', 'w3'])
  assert.match(r.stderr, /^2 instance\(s\) tagged belt-cluster=default belong to another cluster \(other belt-cluster-id\); 1 have no belt-cluster-id \(made before cluster ids: belt cluster adopt\)/m)
  r = await b.run(['status'])
  assert.match(r.stdout, /^active\s+2\s+w1,w2$/m)
  assert.match(r.stderr, /^3 instance\(s\) tagged belt-cluster=default belong to another cluster/m)

  r = await a.run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  const terminated = fake.requests.filter((q) => q.action === 'TerminateInstances').flatMap((q) => Object.entries(q.params).filter(([k]) => k.startsWith('InstanceId.')).map(([, v]) => v))
  assert.deepEqual(terminated.sort(), ofA.map((i) => i.instanceId).sort(), 'exactly A\'s instances')
  assert.equal(fake.live().filter((i) => fake.tag(i, 'belt-cluster-id') === idB).length, 2, "B's instances live")
  assert.ok(fake.live().some((i) => i.instanceId === old.instanceId), 'the legacy instance is untouched')
  r = await b.run(['ls', '--json'])
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name), ['w1', 'w2'])

  // A cluster made before ids: adopt tags exactly what its state.json lists (one CreateTags call).
  const l = project(EC2_YML.replace(/^driver: ec2\n/m, 'driver: ec2\n'))
  const mine = fake.seedInstance('m1', [{key: 'belt-cluster', value: 'default'}])
  mkdirSync(join(l.dir, '.belt', 'default'), {recursive: true})
  writeFileSync(join(l.dir, '.belt', 'default', 'state.json'), JSON.stringify({version: 1, active_node: null, nodes: {m1: {id: mine.instanceId}, m2: {id: 'i-0nosuch'}}, failures: {}, provider: {}}))
  const tagsBefore = fake.calls.CreateTags ?? 0
  r = await l.run(['cluster', 'adopt'])
  assert.equal(r.code, 0, r.stderr)
  const idL = idOf(l.yml)!
  assert.equal(r.stdout, 'm1\n')
  assert.match(r.stderr, /not in the cloud 1/)
  assert.equal((fake.calls.CreateTags ?? 0) - tagsBefore, 1)
  assert.equal(fake.tag(mine, 'belt-cluster-id'), idL)
  assert.equal(fake.tag(old, 'belt-cluster-id'), undefined, 'a legacy instance state.json does not list stays untagged')
  r = await l.run(['ls', '--json'])
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name), ['m1'])
  assert.match(r.stderr, /2 instance\(s\) tagged belt-cluster=default belong to another cluster .*; 1 have no belt-cluster-id/)
})
