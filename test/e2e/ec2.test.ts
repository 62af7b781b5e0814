// The EC2 walkthrough as a user runs it: the real CLI (subprocess, real @aws-sdk/client-ec2) against the fake EC2
// Query API. cluster new → create (batched) → ls → ip → status → re-run → security group → rm --all.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {EC2Client, RevokeSecurityGroupIngressCommand, StartInstancesCommand, StopInstancesCommand} from '@aws-sdk/client-ec2'
import {ec2State, liveNames, range, SECRET, setupEc2, until} from './ec2-setup.js'
import {TEST_CREDENTIALS, type Ec2Fake, type FakeRule} from '../fakes/ec2.js'

/** The cluster_id `belt cluster new` wrote (CONTRACT §9). */
function clusterId(dir: string, cluster: string): string {
  return /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', cluster, 'config.yml'), 'utf8'))![1]
}

const NODE_KEYS = ['name', 'id', 'status', 'provider_status', 'public_ip', 'private_ip', 'region', 'size', 'memory_mb', 'tags']

function shortError(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  assert.equal(stderr.trim().split('\n').length, 1, `one line, got: ${stderr}`)
}

/** The group's ingress as comparable strings: "tcp 22-22 from 203.0.113.0/24" / "50 any from self". */
function ruleStrings(fake: Ec2Fake, groupId: string): string[] {
  const g = fake.groups.get(groupId)!
  const show = (r: FakeRule) => `${r.protocol} ${r.from === null ? 'any' : `${r.from}-${r.to}`} from ${r.groupId === groupId ? 'self' : r.cidr ?? r.groupId}`
  return g.ingress.map(show).sort()
}

const SWARM_RULES = [
  '50 any from self',
  'tcp 22-22 from 203.0.113.0/24',
  'tcp 2376-2376 from 203.0.113.0/24',
  'tcp 2377-2377 from self',
  'tcp 7946-7946 from self',
  'udp 4789-4789 from self',
  'udp 7946-7946 from self',
]

test('walkthrough: cluster new → create in batches → ls → ip → status → re-run → rm --all', async (t) => {
  const {dir, fake, url, run, outputs} = await setupEc2(t)

  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24'])
  // The key pair and security group carry the cluster id: another project's `aws` cluster has its own.
  const id = clusterId(dir, 'aws')
  const own = `belt-aws-${id.slice(0, 8)}`
  assert.equal(r.code, 0, r.stderr)
  r = await run(['cluster', 'update', 'batch_size=5'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['create', '1gb', 'w[1:20]', '--wait'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /size 1gb → t3\.micro/, 'size mapping on stderr')
  assert.doesNotMatch(r.stdout, /→/)
  assert.match(r.stderr, /ubuntu-noble-24\.04-amd64-server-20250805 \(ami-0noble0000000000b\)/)
  const rows = r.stdout.trim().split('\n')
  assert.match(rows[0], /^NAME\s+ID\s+STATUS\s+PUBLIC IPV4\s+PRIVATE IPV4\s+MEMORY\s+REGION$/)
  assert.deepEqual(rows.slice(1).map((l) => l.split(/\s+/)[0]), range('w', 1, 20))
  for (const row of rows.slice(1)) assert.match(row, /^w\d+\s+i-\w+\s+active\s+198\.\d+\.\d+\.\d+\s+172\.31\.\d+\.\d+\s+1 GB\s+us-east-1$/)

  // Four RunInstances of exactly five, each with its own ClientToken and the launch tags.
  assert.equal(fake.calls.RunInstances, 4)
  const runs = fake.requests.filter((q) => q.action === 'RunInstances').map((q) => q.params)
  const tokens = new Set(runs.map((p) => p.ClientToken))
  assert.equal(tokens.size, 4, 'one ClientToken per batch')
  const st = ec2State(dir, 'aws')
  assert.equal(st.batches.length, 4)
  for (const p of runs) {
    assert.equal(p.MinCount, '5')
    assert.equal(p.MaxCount, '5')
    assert.equal(p.InstanceType, 't3.micro')
    assert.equal(p.ImageId, 'ami-0noble0000000000b', 'the newest Canonical Ubuntu LTS server image, not a newer impostor or minimal image')
    assert.equal(p.KeyName, own)
    assert.ok(p.ClientToken.length <= 64)
    const batch = st.batches.find((b) => b.client_token === p.ClientToken)
    assert.ok(batch, 'every launched batch was recorded in state.json')
    assert.equal(p['TagSpecification.1.ResourceType'], 'instance')
    const tags = Object.fromEntries(Object.keys(p).filter((k) => /^TagSpecification\.1\.Tag\.\d+\.Key$/.test(k)).map((k) => [p[k], p[k.replace(/Key$/, 'Value')]]))
    assert.deepEqual(tags, {'belt-cluster': 'aws', 'belt-cluster-id': id, 'belt-batch': batch.id})
    assert.match(Buffer.from(p.UserData, 'base64').toString('utf8'), /get\.docker\.com/, 'default user data installs Docker')
  }
  // Exact Name tags: the batch's names in AmiLaunchIndex order.
  for (const b of st.batches) {
    assert.equal(b.named, true)
    assert.equal(b.instance_ids!.length, 5)
    b.instance_ids!.forEach((id, k) => {
      const inst = fake.instances.get(id)!
      assert.equal(inst.launchIndex, k)
      assert.equal(fake.tag(inst, 'Name'), b.names[k])
    })
  }
  assert.equal(fake.calls.CreateTags, 20)
  assert.deepEqual(liveNames(fake), range('w', 1, 20))
  assert.deepEqual(Object.keys(st.nodes).sort(), range('w', 1, 20).sort())
  assert.equal(fake.calls.ImportKeyPair, 1)
  const pub = readFileSync(join(dir, '.belt', 'aws', 'ssh', 'id_ed25519.pub'), 'utf8').trim()
  assert.equal(fake.keyPairs.get(own)!.publicKey, pub, 'the cluster key was imported')
  // Polled with filtered, paged listings, never per instance.
  for (const q of fake.requests.filter((x) => x.action === 'DescribeInstances')) {
    assert.equal(q.params['Filter.1.Name'], 'tag:belt-cluster')
    assert.equal(q.params['Filter.1.Value.1'], 'aws')
    assert.equal(q.params['Filter.2.Name'], 'instance-state-name')
    assert.equal(q.params.MaxResults, '1000')
    assert.ok(!('InstanceId.1' in q.params))
  }

  // Security group belt-aws-<id8>: admin ports from admin_cidr, swarm ports from the group itself.
  const groups = [...fake.groups.values()]
  assert.equal(groups.length, 1)
  assert.equal(groups[0].groupName, own)
  assert.equal(fake.tag(groups[0], 'belt-cluster'), 'aws')
  assert.equal(fake.tag(groups[0], 'belt-cluster-id'), id)
  assert.deepEqual(ruleStrings(fake, groups[0].groupId), SWARM_RULES)
  for (const id of st.batches.flatMap((b) => b.instance_ids!)) assert.deepEqual(fake.instances.get(id)!.groupIds, [groups[0].groupId])

  r = await run(['firewall', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const fw = JSON.parse(r.stdout)
  assert.equal(fw.name, own)
  assert.equal(fw.id, groups[0].groupId)
  const fwRules = fw.rules.map((x: {protocol: string; ports: string; sources: string[]}) => `${x.protocol} ${x.ports} ${x.sources.join(',')}`).sort()
  const sg = groups[0].groupId
  assert.deepEqual(fwRules, [`esp all ${sg}`, 'tcp 22 203.0.113.0/24', 'tcp 2376 203.0.113.0/24', `tcp 2377 ${sg}`, `tcp 7946 ${sg}`, `udp 4789 ${sg}`, `udp 7946 ${sg}`])

  // ls / ls --json (CONTRACT §4 node shape, EC2 tags as key=value).
  r = await run(['ls'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim().split('\n').length, 21)
  r = await run(['ls', 'w[1:3]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const nodes = JSON.parse(r.stdout)
  assert.deepEqual(nodes.map((n: {name: string}) => n.name), ['w1', 'w2', 'w3'])
  for (const n of nodes) {
    assert.deepEqual(Object.keys(n), NODE_KEYS)
    assert.equal(typeof n.id, 'string')
    assert.equal(n.status, 'active')
    assert.equal(n.provider_status, 'running')
    assert.equal(n.size, 't3.micro')
    assert.equal(n.memory_mb, 1024)
    assert.equal(n.region, 'us-east-1')
    assert.ok(n.tags.includes('belt-cluster=aws'))
    assert.ok(n.tags.includes(`belt-cluster-id=${id}`))
    assert.ok(n.tags.includes(`Name=${n.name}`))
  }

  // ip: public by default, --private, unknown node → exit 1 naming it.
  const w3 = fake.live().find((i) => fake.tag(i, 'Name') === 'w3')!
  r = await run(['ip', 'w3'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `${w3.publicIp}\n`)
  r = await run(['ip', 'w3', '--private'])
  assert.equal(r.stdout, `${w3.privateIp}\n`)
  r = await run(['ip', 'w99'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /w99/)

  r = await run(['active', 'w1'])
  assert.equal(r.code, 0, r.stderr)

  // status (running is accepted as a synonym of active); --no-swarm: the fake's addresses are never dialled.
  r = await run(['status', '--wait', 'running=20', '--json', '--no-swarm'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).counts, {active: 20})

  // A re-run creates only the missing names; the security group needs nothing.
  const authorizeBefore = fake.calls.AuthorizeSecurityGroupIngress
  r = await run(['create', '1gb', 'w[1:22]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const cr = JSON.parse(r.stdout)
  assert.deepEqual(cr.created.map((n: {name: string}) => n.name), ['w21', 'w22'])
  assert.equal(cr.existing.length, 20)
  assert.match(r.stderr, /20 of 22 already exist/)
  assert.equal(fake.calls.RunInstances, 5)
  assert.equal(fake.calls.ImportKeyPair, 1, 'the key pair is imported once')
  assert.equal(fake.calls.CreateSecurityGroup, 1)
  assert.equal(fake.calls.AuthorizeSecurityGroupIngress, authorizeBefore)

  // Rules removed behind belt's back (and admin_cidr changed, to IPv6) are restored by `belt create`, even with nothing to create.
  const aws = new EC2Client({region: 'us-east-1', endpoint: url, credentials: {accessKeyId: 'AKIDEXAMPLEBELT', secretAccessKey: SECRET}})
  t.after(() => aws.destroy())
  await aws.send(new RevokeSecurityGroupIngressCommand({GroupId: sg, IpPermissions: [
    {IpProtocol: '50', UserIdGroupPairs: [{GroupId: sg}]},
    {IpProtocol: 'udp', FromPort: 7946, ToPort: 7946, UserIdGroupPairs: [{GroupId: sg}]},
  ]}))
  assert.equal(ruleStrings(fake, sg).length, 5)
  r = await run(['cluster', 'update', 'admin_cidr=2001:db8::/32'])
  assert.equal(r.code, 0, r.stderr)
  r = await run(['create', '1gb', 'w[1:22]'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.calls.RunInstances, 5)
  assert.match(r.stderr, /added 4 swarm rule\(s\)/)
  assert.deepEqual(ruleStrings(fake, sg), [...SWARM_RULES, 'tcp 22-22 from 2001:db8::/32', 'tcp 2376-2376 from 2001:db8::/32'].sort())

  // rm of one node, then rm --all: only this cluster's instances, state.json follows.
  const stranger = fake.live().length
  r = await run(['rm', 'w1', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.live().length, stranger - 1)
  assert.equal(ec2State(dir, 'aws').active_node, null, 'the removed active node is cleared')
  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.live().length, 0)
  assert.equal(fake.calls.TerminateInstances, 2)
  assert.deepEqual(ec2State(dir, 'aws').nodes, {})
  assert.deepEqual(ec2State(dir, 'aws').batches, [])
  r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout), [], 'terminated instances are not listed')

  for (const o of outputs) {
    assert.ok(!(o.stdout + o.stderr).includes(SECRET), 'the AWS secret key is never printed')
    assert.doesNotMatch(o.stderr, /NodeVersionSupportWarning/)
  }
})

test('a wrong AWS secret: one line naming SignatureDoesNotMatch, exit 2, the secret nowhere', async (t) => {
  const {fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'auth', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24'])
  assert.equal(r.code, 0, r.stderr)
  const wrong = 'Wr0ngSecretWr0ngSecretWr0ngSecretWr0ngSe'
  for (const args of [['ls'], ['create', '1gb', 'n[1:2]']]) {
    r = await run(args, {env: {AWS_SECRET_ACCESS_KEY: wrong}})
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, /^belt: AWS rejected the credentials \(SignatureDoesNotMatch\): The request signature we calculated does not match/m)
    assert.equal(r.stderr.trim().split('\n').filter((l) => l.startsWith('belt:')).length, 1, 'one line')
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    assert.ok(!r.stderr.includes(wrong) && !r.stderr.includes(SECRET), 'no secret in the message')
  }
  r = await run(['ls'], {env: {AWS_ACCESS_KEY_ID: 'AKIDSOMEONEELSE'}})
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /^belt: AWS rejected the credentials \(AuthFailure\): AWS was not able to validate the provided access credentials$/m)
  assert.equal(fake.calls.RunInstances, undefined, 'nothing launched')
})

test('stopped instances are `off` in ls and status, end to end; started again they are active; a lagging describe still converges', async (t) => {
  const {fake, run} = await setupEc2(t)
  fake.describeLagMs = 1500
  let r = await run(['cluster', 'new', 'power', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24'])
  assert.equal(r.code, 0, r.stderr)
  r = await run(['create', '1gb', 'p[1:3]', '--wait', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).created.map((n: {name: string; status: string}) => `${n.name} ${n.status}`), ['p1 active', 'p2 active', 'p3 active'])
  assert.deepEqual(liveNames(fake), ['p1', 'p2', 'p3'], 'each launched once although describes lagged')
  const id = (name: string) => fake.live().find((i) => fake.tag(i, 'Name') === name)!.instanceId
  const ec2 = new EC2Client({endpoint: fake.url, region: 'us-east-1', credentials: {accessKeyId: TEST_CREDENTIALS.accessKeyId, secretAccessKey: SECRET}})
  t.after(() => ec2.destroy())
  await ec2.send(new StopInstancesCommand({InstanceIds: [id('p1'), id('p2')]}))
  await until(() => fake.live().filter((i) => fake.state(i) === 'stopped').length === 2, 'p1, p2 stopped')
  r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  type Listed = {name: string; status: string; provider_status: string; public_ip: string | null}
  assert.deepEqual(JSON.parse(r.stdout).map((n: Listed) => [n.name, n.status, n.provider_status, n.public_ip === null]),
    [['p1', 'off', 'stopped', true], ['p2', 'off', 'stopped', true], ['p3', 'active', 'running', false]])
  r = await run(['status', '--json'])
  assert.deepEqual(JSON.parse(r.stdout).counts, {active: 1, off: 2})
  r = await run(['ls'])
  assert.match(r.stdout, /^p1\s+\S+\s+off\b/m, 'the table says off')
  await ec2.send(new StartInstancesCommand({InstanceIds: [id('p1'), id('p2')]}))
  r = await run(['status', '--wait', 'active=3', '--timeout', '60s', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).counts, {active: 3})
})

test('config errors: missing admin_cidr, bad size, bad tag, no credentials, other region → exit 2 before any change', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'bare', '--driver', 'ec2'])
  assert.equal(r.code, 0, r.stderr)
  const own = `belt-bare-${clusterId(dir, 'bare').slice(0, 8)}`

  r = await run(['create', '1gb', 'w[1:3]'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /admin_cidr/)
  shortError(r.stderr)
  assert.deepEqual(fake.calls, {}, 'refused before any API call')

  r = await run(['cluster', 'update', 'admin_cidr=203.0.113.0/24'])
  assert.equal(r.code, 0, r.stderr)
  for (const [args, re] of [
    [['create', '3gb', 'w1'], /size '3gb': no t3 type has 3072 MB/],
    [['create', 'huge', 'w1'], /size 'huge' is neither/],
    [['create', '1gb', 'w1', '--tag', 'Name=x'], /tag key 'Name' is reserved/],
    [['create', '1gb', 'w1', '--region', 'eu-west-1'], /one region \(us-east-1\)/],
    [['create', '1gb', 'bad_name'], /invalid node name 'bad_name'/],
    [['create', '1gb', 'w1', '--image', 'ubuntu'], /not an AMI id/],
  ] as const) {
    r = await run([...args])
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, re)
    shortError(r.stderr)
  }
  assert.equal(fake.calls.RunInstances, undefined)

  r = await run(['ls'], {env: {AWS_ACCESS_KEY_ID: undefined, AWS_SECRET_ACCESS_KEY: undefined}})
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /no AWS credentials/)
  shortError(r.stderr)

  // belt-<cluster>-<id8> exists in the region but holds another key (e.g. .belt/ was recreated): refused, not used.
  fake.keyPairs.set(own, {keyPairId: 'key-0other', keyName: own, fingerprint: 'Q7j1wOJ+CYuGabixNA3iBz/VOfatXqyvbFLALv1/HAw=', keyType: 'ed25519', publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 other'})
  r = await run(['create', '1gb', 'w1'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, new RegExp(`^belt: key pair '${own}' in us-east-1 is not .*id_ed25519\\.pub.*\\n$`, 'm'))
  assert.doesNotMatch(r.stderr, /\n\s+at /)
  assert.equal(fake.calls.CreateSecurityGroup, undefined)
  fake.keyPairs.delete(own)

  // key_name that does not exist: refused before the security group is created.
  r = await run(['cluster', 'update', 'key_name=nope'])
  assert.equal(r.code, 0, r.stderr)
  r = await run(['create', '1gb', 'w1'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /key_name 'nope' is not a key pair in us-east-1/)
  assert.equal(fake.calls.CreateSecurityGroup, undefined)
})

test('existing security group, custom subnet without public IPs, instance type and Graviton AMI, failed launch', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  // A user-managed group in the non-default VPC, lacking the swarm's ESP rule.
  fake.groups.set('sg-0user0000000000001', {
    groupId: 'sg-0user0000000000001', groupName: 'mine', description: 'user', vpcId: 'vpc-0fake000000000002', tags: [],
    ingress: [{protocol: 'tcp', from: 0, to: 65535, groupId: 'sg-0user0000000000001'}, {protocol: 'udp', from: 0, to: 65535, groupId: 'sg-0user0000000000001'}],
  })
  let r = await run(['cluster', 'new', 'vpc', '--driver', 'ec2', 'security_group=mine', 'subnet_id=subnet-0fake00000000002a', 'tags=[team=infra,env=lab]'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['create', 't4g.small', 'a[1:2]', '--tag', 'role=worker', '--wait', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /does not allow esp between nodes/, 'a user group lacking swarm rules is warned about, not changed')
  assert.match(r.stderr, /does not assign public IPv4 addresses/)
  assert.equal(fake.calls.CreateSecurityGroup, undefined)
  assert.equal(fake.calls.AuthorizeSecurityGroupIngress, undefined)
  const p = fake.requests.find((q) => q.action === 'RunInstances')!.params
  assert.equal(p.ImageId, 'ami-0noblearm00000000', 'Graviton types get the arm64 image')
  assert.equal(p.InstanceType, 't4g.small')
  assert.equal(p.SubnetId, 'subnet-0fake00000000002a')
  assert.equal(p['SecurityGroupId.1'], 'sg-0user0000000000001')
  const created = JSON.parse(r.stdout).created
  assert.deepEqual(created.map((n: {name: string}) => n.name), ['a1', 'a2'])
  for (const n of created) {
    assert.equal(n.public_ip, null)
    assert.match(n.private_ip, /^10\.20\./)
    assert.equal(n.memory_mb, 2048)
    for (const tag of ['team=infra', 'env=lab', 'role=worker', 'belt-cluster=vpc']) assert.ok(n.tags.includes(tag), tag)
  }
  r = await run(['ip', 'a1'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no public address/)
  r = await run(['ip', 'a1', '--private'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^10\.20\.\d+\.\d+\n$/)

  r = await run(['firewall', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).id, 'sg-0user0000000000001')

  // A launch EC2 refuses: every name of the batch fails (one line), exit 1; a later good run does not reuse it.
  r = await run(['create', 't3.micro', 'b[1:3]', '--image', 'ami-0doesnotexist0000'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /b1,b2,b3: InvalidAMIID\.NotFound/)
  assert.equal(ec2State(dir, 'vpc').batches.filter((b) => !b.named).length, 1, 'the failed batch stays recorded')
  r = await run(['create', 't3.micro', 'b[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(liveNames(fake), ['a1', 'a2', 'b1', 'b2', 'b3'])
  assert.ok(ec2State(dir, 'vpc').batches.every((b) => b.named))
})
