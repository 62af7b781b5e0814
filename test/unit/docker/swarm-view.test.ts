// The manager's view of the swarm: parsing the one-exec node listing and the quorum arithmetic.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {managersHealthy, parseMembers, quorumOf, quorumWithout} from '../../../src/docker/swarm-view.js'

const LISTING = [
  'id0 mg0 10.0.0.1 manager active ready reachable true 27.3.1',
  'id1 mg1 10.0.0.2 manager drain ready reachable false 27.3.1',
  'id2 mg2 10.0.0.3 manager active down unreachable false 26.1.0',
  'id3 w1 10.0.0.4 worker active ready - false 27.3.1',
].join('\n')

test('parseMembers: roles, reachability, the leader and engine versions', () => {
  const m = parseMembers(LISTING + '\n')
  assert.equal(m.length, 4)
  assert.deepEqual(m[0], {id: 'id0', hostname: 'mg0', addr: '10.0.0.1', role: 'manager', availability: 'active', state: 'ready', reachability: 'reachable', leader: true, engine: '27.3.1'})
  assert.equal(m[3].reachability, '')
  assert.equal(m[3].role, 'worker')
})

test('quorum: a majority of the managers; stopping reachable managers counts against it', () => {
  assert.deepEqual([1, 2, 3, 5, 7].map(quorumOf), [1, 2, 2, 3, 4])
  const m = parseMembers(LISTING)
  assert.deepEqual(quorumWithout(m, new Set(['w1'])), {managers: 3, reachable: 2, taken: 0, holds: true})
  assert.deepEqual(quorumWithout(m, new Set(['mg1'])), {managers: 3, reachable: 2, taken: 1, holds: false})
  assert.deepEqual(quorumWithout(m, new Set(['mg2'])), {managers: 3, reachable: 2, taken: 0, holds: true}, 'mg2 is down already')
})

test('managersHealthy: every manager reachable and ready, one leader', () => {
  assert.equal(managersHealthy(parseMembers(LISTING)), false)
  const whole = parseMembers(LISTING.replace('down unreachable', 'ready reachable'))
  assert.equal(managersHealthy(whole), true)
  assert.equal(managersHealthy(parseMembers(LISTING.replace('down unreachable', 'ready reachable').replace('reachable true', 'reachable false'))), false, 'no leader')
})
