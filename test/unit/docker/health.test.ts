// The swarm health computation: quorum math, what one reading says (leader, managers, node counts, engines), drift
// both ways (incl. swarm nodes belt does not know, and generic hosts matched by address), and the no-leader reading.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {computeHealth, knownNodes, managerNames, parseReading, quorumOf, type SwarmReading} from '../../../src/docker/health.js'
import type {NodeInfo} from '../../../src/providers/provider.js'

function node(name: string, ip: string, status: NodeInfo['status'] = 'active'): NodeInfo {
  return {name, id: name, status, provider_status: null, public_ip: ip, private_ip: null, region: null, size: null, memory_mb: null, tags: []}
}

const INFO = {NodeID: 'id1', NodeAddr: '10.0.0.1', LocalNodeState: 'active', ControlAvailable: true, Error: '',
  RemoteManagers: [{NodeID: 'id1', Addr: '10.0.0.1:2377'}], Managers: 3, Nodes: 5, Cluster: {ID: 'swarmid0123456789abcdefgh'}}

function row(id: string, hostname: string, manager = '', status = 'Ready', availability = 'Active', engine = '27.3.1'): string {
  return JSON.stringify({ID: id, Hostname: hostname, ManagerStatus: manager, Status: status, Availability: availability, EngineVersion: engine, Self: false})
}

function reading(rows: string[]): SwarmReading {
  return parseReading([JSON.stringify(INFO), ...rows].join('\n'), '', 0)
}

test('quorum: a majority must be reachable; the rest above it is tolerated', () => {
  assert.deepEqual(quorumOf(1, 1), {holds: true, tolerates: 0, needs: 1})
  assert.deepEqual(quorumOf(3, 3), {holds: true, tolerates: 1, needs: 2})
  assert.deepEqual(quorumOf(3, 2), {holds: true, tolerates: 0, needs: 2})
  assert.deepEqual(quorumOf(3, 1), {holds: false, tolerates: 0, needs: 2})
  assert.deepEqual(quorumOf(5, 4), {holds: true, tolerates: 1, needs: 3})
  assert.deepEqual(quorumOf(5, 2), {holds: false, tolerates: 0, needs: 3})
  assert.deepEqual(quorumOf(7, 7), {holds: true, tolerates: 3, needs: 4})
  assert.deepEqual(quorumOf(0, 0), {holds: false, tolerates: 0, needs: 1})
})

test('a healthy reading: leader, managers, counts, engines, drift both ways', () => {
  const r = reading([
    row('id1', 'mg0', 'Leader'), row('id2', 'mg1', 'Reachable'), row('id3', 'mg2', 'Reachable'),
    row('id4', 'w1', '', 'Ready', 'Drain', '26.1.0'), row('id5', 'stray', '', 'Down'),
  ])
  const belt = knownNodes([node('mg0', '10.0.0.1'), node('mg1', '10.0.0.2'), node('mg2', '10.0.0.3'), node('w1', '10.0.0.4'),
    node('w2', '10.0.0.5'), node('w3', '10.0.0.6', 'gone')])
  const v = computeHealth(r, belt, 'mg0')
  assert.deepEqual(v.swarm, {
    id: 'swarmid0123456789abcdefgh', leader: 'mg0',
    managers: {total: 3, reachable: 3, unreachable: []},
    quorum: {holds: true, tolerates: 1},
    nodes: {ready: 4, down: 1, drain: 1},
    engine_versions: {'27.3.1': 4, '26.1.0': 1},
    // w3 is gone from the cloud (terminated): not drift. stray is in the swarm, and belt has no such node.
    drift: {not_in_swarm: ['w2'], unknown_to_belt: ['stray']},
  })
  assert.equal(v.healthy, true)
  assert.equal(v.total, 5)
  assert.deepEqual(v.byStatus, {ready: 4, down: 1})
  assert.deepEqual(v.byAvailability, {active: 4, drain: 1})
  assert.deepEqual(managerNames(r, belt), ['mg0', 'mg1', 'mg2'])
})

test('an unreachable manager: quorum holds with nothing to spare, not healthy; two: quorum lost', () => {
  const belt = knownNodes([node('mg0', 'a'), node('mg1', 'b'), node('mg2', 'c')])
  const one = computeHealth(reading([row('id1', 'mg0', 'Leader'), row('id2', 'mg1', 'Reachable'), row('id3', 'mg2', 'Unreachable', 'Down')]), belt, 'mg0')
  assert.deepEqual(one.swarm.managers, {total: 3, reachable: 2, unreachable: ['mg2']})
  assert.deepEqual(one.swarm.quorum, {holds: true, tolerates: 0})
  assert.equal(one.healthy, false)
  const two = computeHealth(reading([row('id1', 'mg0', 'Leader'), row('id2', 'mg1', 'Unreachable'), row('id3', 'mg2', 'Unreachable')]), belt, 'mg0')
  assert.deepEqual(two.swarm.quorum, {holds: false, tolerates: 0})
  assert.equal(two.needs, 2)
})

test('generic hosts with other hostnames are matched by address; duplicate hostnames after a re-join are one node', () => {
  const rows = parseReading([JSON.stringify(INFO), row('id1', 'ip-10-0-0-1', 'Leader'), row('id2', 'w1', '', 'Down'), row('id3', 'w1'),
    row('id9', 'other')].join('\n'), '', 0)
  rows.nodes![0].addr = '203.0.113.10'
  const belt = knownNodes([node('g1', '203.0.113.10'), node('w1', '203.0.113.11')])
  const v = computeHealth(rows, belt, 'g1')
  assert.equal(v.swarm.leader, 'g1')
  assert.deepEqual(v.swarm.drift, {not_in_swarm: [], unknown_to_belt: ['other']})
  assert.deepEqual(v.swarm.nodes, {ready: 3, down: 1, drain: 0})
})

test('a manager without a leader: quorum lost, what it cannot tell is null', () => {
  const r = parseReading(JSON.stringify(INFO), 'Error response from daemon: rpc error: code = Unknown desc = The swarm does not have a leader.', 5)
  assert.equal(r.nodes, null)
  assert.match(r.listError!, /does not have a leader/)
  const v = computeHealth(r, [], 'mg0')
  assert.deepEqual(v.swarm, {
    id: 'swarmid0123456789abcdefgh', leader: null, managers: {total: 3, reachable: null, unreachable: null},
    quorum: {holds: false, tolerates: 0}, nodes: {ready: null, down: null, drain: null}, engine_versions: {},
    drift: {not_in_swarm: null, unknown_to_belt: null},
  })
  assert.equal(v.healthy, false)
  assert.equal(v.needs, 2)
})

test('readings that are none: a worker lists no nodes; docker not answering is an error', () => {
  const worker = parseReading(JSON.stringify({...INFO, ControlAvailable: false}), '', 0)
  assert.equal(worker.nodes, null)
  assert.equal(worker.listError, null)
  assert.throws(() => parseReading('', 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', 4),
    /docker info failed: Cannot connect to the Docker daemon/)
  assert.throws(() => parseReading('not json', '', 0), /printed no JSON/)
})
