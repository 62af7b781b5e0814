// The status renderers: the quorum in words for every case, and the swarm's lines for a terminal.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {computeHealth, parseReading, type SwarmView} from '../../../src/docker/health.js'
import {quorumLine, swarmLines, swarmProblem} from '../../../src/ui/health.js'

const INFO = {NodeID: 'a', NodeAddr: '', LocalNodeState: 'active', ControlAvailable: true, Error: '', RemoteManagers: [], Managers: 3,
  Cluster: {ID: 'k2x8c0ffee0123456789abcde'}}

function view(managers: string[], workers = 0): SwarmView {
  const rows = managers.map((m, i) => JSON.stringify({ID: `m${i}`, Hostname: `mg${i}`, ManagerStatus: m, Status: m === 'Unreachable' ? 'Down' : 'Ready',
    Availability: 'Active', EngineVersion: '27.3.1'}))
  for (let i = 1; i <= workers; i++) rows.push(JSON.stringify({ID: `w${i}`, Hostname: `w${i}`, ManagerStatus: '', Status: 'Ready', Availability: 'Active', EngineVersion: '27.3.1'}))
  const names = [...managers.map((_, i) => `mg${i}`), ...Array.from({length: workers}, (_, i) => `w${i + 1}`), 'w99']
  return computeHealth(parseReading([JSON.stringify(INFO), ...rows].join('\n'), '', 0), names.map((name) => ({name, addresses: []})), 'mg0')
}

test('the quorum in words', () => {
  assert.equal(quorumLine(view(['Leader'])), '1 manager, reachable: quorum holds, no failure tolerated')
  assert.equal(quorumLine(view(['Leader', 'Reachable', 'Reachable'])), '3 managers, all reachable: quorum holds, tolerates 1 failure')
  assert.equal(quorumLine(view(['Leader', 'Reachable', 'Unreachable'])), '3 managers, 1 unreachable (mg2): quorum holds, no further failure tolerated')
  assert.equal(quorumLine(view(['Leader', 'Unreachable', 'Unreachable'])), '3 managers, 2 unreachable (mg1,mg2): quorum lost (needs 2 reachable)')
  assert.equal(quorumLine(view(['Leader', 'Reachable', 'Reachable', 'Reachable', 'Unreachable'])),
    '5 managers, 1 unreachable (mg4): quorum holds, tolerates 1 more failure')
  assert.equal(quorumLine(view(['Leader', 'Reachable', 'Reachable', 'Reachable', 'Reachable'])), '5 managers, all reachable: quorum holds, tolerates 2 failures')
  const noLeader = computeHealth(parseReading(JSON.stringify(INFO), 'The swarm does not have a leader', 5), [], 'mg0')
  assert.equal(quorumLine(noLeader), '3 managers, no leader: quorum lost (needs 2 reachable)')
})

test('the swarm lines: healthy with drift, and degraded', () => {
  assert.deepEqual(swarmLines(view(['Leader', 'Reachable', 'Reachable'], 3)), [
    'swarm:     k2x8c0ffee01 (through mg0)',
    'leader:    mg0',
    'managers:  3 managers, all reachable: quorum holds, tolerates 1 failure',
    'nodes:     6 in the swarm: 6 ready; availability 6 active',
    'engines:   27.3.1 (6)',
    'drift:     not in the swarm: 1 (w99); unknown to belt: none',
  ])
  const degraded = view(['Leader', 'Reachable', 'Unreachable'], 1)
  assert.equal(swarmLines(degraded)[3], 'nodes:     4 in the swarm: 3 ready, 1 down; availability 4 active')
  assert.equal(swarmProblem({view: degraded, asked: ['mg0'], failed: [], unreadable: false, reached: true, interrupted: false}),
    '3 managers, 1 unreachable (mg2): quorum holds, no further failure tolerated')
  assert.equal(swarmProblem({view: view(['Leader']), asked: ['mg0'], failed: [], unreadable: false, reached: true, interrupted: false}), null)
  assert.equal(swarmProblem({view: null, asked: ['mg0'], failed: [{name: 'mg0', error: 'refused'}], unreadable: true, reached: true, interrupted: false}),
    'no manager answered (mg0)')
  const noLeader = computeHealth(parseReading(JSON.stringify(INFO), 'The swarm does not have a leader', 5), [], 'mg0')
  assert.deepEqual(swarmLines(noLeader).slice(1), [
    'leader:    none',
    'managers:  3 managers, no leader: quorum lost (needs 2 reachable)',
    'nodes:     unknown: The swarm does not have a leader',
  ])
})
