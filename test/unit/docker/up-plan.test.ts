// The pure plan of `belt up`: placement, what is created / joined / provisioned / removed, labels, refusals, advice.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseSwarmBlock, type Driver} from '../../../src/core/config/schema.js'
import {labelUpdates, planUp, quorumText, type SwarmMember, type UpPlanInput} from '../../../src/docker/up-plan.js'
import {vcpusOf as doVcpus} from '../../../src/providers/digitalocean/sizes.js'
import {vcpusOf as ec2Vcpus} from '../../../src/providers/ec2/sizes.js'
import type {NodeInfo} from '../../../src/providers/provider.js'

function node(name: string, o: Partial<NodeInfo> = {}): NodeInfo {
  return {
    name, id: name, status: 'active', provider_status: 'active', public_ip: `203.0.113.${name.length}`, private_ip: null,
    region: null, size: null, memory_mb: null, tags: [], ...o,
  }
}

function member(hostname: string, o: Partial<SwarmMember> = {}): SwarmMember {
  return {id: `id-${hostname}`, hostname, addr: '10.0.0.1', role: 'worker', availability: 'active', state: 'ready', managerStatus: '', labels: {}, ...o}
}

function input(block: unknown, o: Partial<UpPlanInput> = {}, driver: Driver = 'local'): UpPlanInput {
  return {
    driver, block: parseSwarmBlock(driver, block, 'test'), defaultZone: null, nodes: [], swarm: null,
    state: {swarmId: null, provisioned: []}, vcpus: () => null, ...o,
  }
}

const three = {managers: {names: 'mg[0:4]', zones: ['a', 'b', 'c']}, workers: [{name: 'web', names: 'w[1:3]', labels: {pool: 'web'}}]}

test('a fresh cluster: everything created, the first manager in name order inits, 5 over 3 zones = 2+2+1', () => {
  const p = planUp(input(three))
  assert.deepEqual(p.create.map((n) => n.name), ['mg0', 'mg1', 'mg2', 'mg3', 'mg4', 'w1', 'w2', 'w3'])
  assert.equal(p.init, 'mg0')
  assert.deepEqual(p.join_managers, ['mg0', 'mg1', 'mg2', 'mg3', 'mg4'])
  assert.deepEqual(p.join_workers, ['w1', 'w2', 'w3'])
  assert.deepEqual(p.nodes.filter((n) => n.role === 'manager').map((n) => n.zone), ['a', 'b', 'c', 'a', 'b'])
  assert.equal(p.quorum, '5 managers, tolerate 2 failures')
  assert.deepEqual(p.provision, ['mg0', 'mg1', 'mg2', 'mg3', 'mg4'], 'tls: managers by default')
  assert.deepEqual(p.nodes.find((n) => n.name === 'w2')!.labels, {pool: 'web'})
  assert.deepEqual(p.refusals, [])
  assert.match(p.advice.join('\n'), /managers spread over 3 zones \(a, b, c\)/)
  assert.match(p.advice.join('\n'), /explicit --advertise-addr/)
})

test('name order is natural: mg10 after mg9, so mg0 inits and zones follow that order', () => {
  const p = planUp(input({managers: {names: 'mg9,mg10,mg8', zones: ['x', 'y']}}))
  assert.equal(p.init, 'mg8')
  assert.deepEqual(p.nodes.map((n) => `${n.name}:${n.zone}`), ['mg8:x', 'mg9:y', 'mg10:x'])
})

test('a converged cluster: nothing to create, join, provision, label or remove', () => {
  const names = ['mg0', 'mg1', 'mg2', 'mg3', 'mg4', 'w1', 'w2', 'w3']
  const zones: Record<string, string> = {mg0: 'a', mg1: 'b', mg2: 'c', mg3: 'a', mg4: 'b'}
  const members = names.map((n) => n.startsWith('mg')
    ? member(n, {role: 'manager', managerStatus: n === 'mg0' ? 'leader' : 'reachable', labels: {'belt.zone': zones[n]}})
    : member(n, {labels: {pool: 'web'}}))
  const p = planUp(input(three, {
    nodes: names.map((n) => node(n, {tags: ['belt-pool:' + (n.startsWith('mg') ? 'managers' : 'web')]})),
    swarm: {id: 'swarm1', manager: 'mg0', members},
    state: {swarmId: 'swarm1', provisioned: names.filter((n) => n.startsWith('mg'))},
  }))
  assert.deepEqual([p.create, p.join_managers, p.join_workers, p.provision, p.remove, p.labels], [[], [], [], [], [], []])
  assert.equal(p.init, null)
  assert.doesNotMatch(p.advice.join('\n'), /advertise-addr/, 'nothing joins: no advice about joins')
})

test('existing nodes never move: a node keeps its belt.zone label (or the region DigitalOcean reports)', () => {
  const block = {managers: {names: 'mg[0:2]', size: '8gb', zones: ['sgp1', 'nyc3', 'fra1']}}
  const p = planUp(input(block, {
    nodes: [node('mg0', {region: 'ams3'}), node('mg1', {region: 'nyc3'})],
    swarm: {id: 's', manager: 'mg1', members: [member('mg1', {role: 'manager', managerStatus: 'leader', labels: {'belt.zone': 'lon1'}})]},
    defaultZone: 'nyc1',
  }, 'digitalocean'))
  assert.deepEqual(p.nodes.map((n) => `${n.name}:${n.zone}`), ['mg0:ams3', 'mg1:lon1', 'mg2:fra1'])
  assert.deepEqual(p.create.map((n) => n.name), ['mg2'])
  assert.equal(p.init, null, 'a swarm exists')
  assert.deepEqual(p.join_managers, ['mg0', 'mg2'])
})

test('pools default to the driver block\'s region; labels missing on joined nodes are planned, managers drained', () => {
  const block = {managers: {names: 'mg0', size: '1gb', drain: true}, workers: [{name: 'db', names: 'd1', size: '2gb', labels: {disk: 'ssd'}}]}
  const members = [member('mg0', {role: 'manager', managerStatus: 'leader', labels: {'belt.zone': 'nyc1'}}), member('d1', {labels: {disk: 'hdd'}})]
  const p = planUp(input(block, {nodes: [node('mg0'), node('d1')], swarm: {id: 's', manager: 'mg0', members}, defaultZone: 'nyc1'}, 'digitalocean'))
  assert.deepEqual(p.labels, [
    {name: 'mg0', id: 'id-mg0', add: {}, drain: true},
    {name: 'd1', id: 'id-d1', add: {'belt.zone': 'nyc1', disk: 'ssd'}, drain: false},
  ])
  assert.deepEqual(labelUpdates(p.nodes, members.map((m) => ({...m, availability: 'drain', labels: {'belt.zone': 'nyc1', disk: 'ssd'}})), true), [])
})

test('shrink: tagged pool members the block no longer names are removed; untagged nodes and managers are not', () => {
  const block = {managers: {names: 'mg0'}, workers: [{name: 'web', names: 'w[1:2]'}]}
  const nodes = [node('mg0'), node('w1', {tags: ['belt-pool:web']}), node('w2'), node('w3', {tags: ['belt-pool:web']}),
    node('w4', {tags: ['belt-pool:old']}), node('made-by-create')]
  const members = [member('mg0', {role: 'manager', managerStatus: 'leader'}), member('w1'), member('w2'), member('w3')]
  const p = planUp(input(block, {nodes, swarm: {id: 's', manager: 'mg0', members}}))
  assert.deepEqual(p.remove, [{name: 'w3', swarmId: 'id-w3'}, {name: 'w4', swarmId: null}])
  assert.deepEqual(p.refusals, [])
})

test('a manager the block no longer names is never removed: refused, with how (demote first)', () => {
  const block = {managers: {names: 'mg[0:2]'}}
  const nodes = ['mg0', 'mg1', 'mg2', 'mg3', 'mg4'].map((n) => node(n, {tags: ['belt-pool:managers']}))
  const members = ['mg0', 'mg1', 'mg2', 'mg3', 'mg4'].map((n) => member(n, {role: 'manager', managerStatus: 'reachable'}))
  const p = planUp(input(block, {nodes, swarm: {id: 's', manager: 'mg0', members}}))
  assert.equal(p.refusals.length, 1)
  assert.match(p.refusals[0], /^mg3,mg4: managers the block no longer names; .*demote first \(belt swarm demote 'mg3,mg4'\)/)
  // Demoted, they are workers and go like any pool member.
  const demoted = members.map((m) => (m.hostname > 'mg2' ? {...m, role: 'worker', managerStatus: ''} : m))
  assert.deepEqual(planUp(input(block, {nodes, swarm: {id: 's', manager: 'mg0', members: demoted}})).remove.map((r) => r.name), ['mg3', 'mg4'])
})

test('a swarm of another id than state.json records is refused', () => {
  const p = planUp(input({managers: {names: 'mg0'}}, {
    nodes: [node('mg0')], swarm: {id: 'other0000000', manager: 'mg0', members: [member('mg0', {role: 'manager'})]},
    state: {swarmId: 'mine00000000', provisioned: []},
  }))
  assert.match(p.refusals[0], /mg0 is in swarm other0000000, but belt up initialised swarm mine00000000/)
})

test('generic: nothing is created; names missing from hosts are refused', () => {
  const block = {managers: {names: 'mg0'}, workers: [{name: 'w', names: 'w[1:2]'}]}
  const p = planUp(input(block, {nodes: [node('mg0'), node('w1')]}, 'generic'))
  assert.deepEqual(p.create, [])
  assert.match(p.refusals[0], /^generic: w2 named by swarm: but not in generic.hosts/)
})

test('tls: all provisions every node not yet recorded; none provisions nothing', () => {
  const block = (tls: string) => ({managers: {names: 'mg0'}, workers: [{name: 'w', names: 'w[1:2]'}], tls})
  const nodes = [node('mg0'), node('w1'), node('w2')]
  assert.deepEqual(planUp(input(block('all'), {nodes, state: {swarmId: null, provisioned: ['w1']}})).provision, ['mg0', 'w2'])
  assert.deepEqual(planUp(input(block('none'), {nodes})).provision, [])
})

test("the chapter's advice: manager vCPUs by cluster size, > 1,000 nodes, sysctls", () => {
  const big = (workers: string, size: string, driver: Driver) => planUp(input({
    managers: {names: 'mg[0:2]', size}, workers: [{name: 'w', names: workers, size: '1gb'}],
  }, {vcpus: driver === 'ec2' ? ec2Vcpus : doVcpus}, driver))
  const mid = big('w[1:700]', '8gb', 'digitalocean')
  assert.match(mid.advice.join('\n'), /managers of size 8gb have 4 vCPUs: for 500–1,000 nodes give them at least 8/)
  assert.equal(mid.sysctl, false)
  const ok = big('w[1:700]', 's-8vcpu-16gb', 'digitalocean')
  assert.doesNotMatch(ok.advice.join('\n'), /vCPUs/)
  const huge = big('w[1:2100]', 'm5.2xlarge', 'ec2')
  assert.match(huge.advice.join('\n'), /managers of size m5.2xlarge have 8 vCPUs: above 2,000 nodes give them at least 16/)
  assert.match(huge.advice.join('\n'), /2103 nodes: the stable production setups .* 500–1,000 nodes/)
  assert.match(huge.advice.join('\n'), /gc_thresh1\.\.3/)
  assert.equal(huge.sysctl, true)
})

test('quorum text and vCPU tables', () => {
  assert.equal(quorumText(1), '1 manager, tolerate 0 failures')
  assert.equal(quorumText(3), '3 managers, tolerate 1 failure')
  assert.equal(quorumText(7), '7 managers, tolerate 3 failures')
  assert.deepEqual(['s-4vcpu-8gb', 'c-16', 'g-8vcpu-32gb', '1gb', '8gb', 'weird'].map(doVcpus), [4, 16, 8, 1, 4, null])
  assert.deepEqual(['t3.large', 'm5.4xlarge', 'c6i.large', 'r5.xlarge', '8gb', 'x9.huge'].map(ec2Vcpus), [2, 16, 2, 4, 2, null])
})
