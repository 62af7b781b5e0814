// The order of a rolling upgrade: skips (at the version, done earlier), worker batches by count and percentage,
// managers after the workers with the leader last, and the next manager chosen again when leadership moved.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {batchCount, nextManager, parseBatch, planRollout, type RolloutNode} from '../../../src/docker/upgrade-plan.js'
import {checkVersion, installVersionCommand} from '../../../src/docker/upgrade.js'
import {spawnSync} from 'node:child_process'

const node = (name: string, role: 'manager' | 'worker', engine = '27.3.1', leader = false): RolloutNode => ({name, role, engine, leader})

test('parseBatch: a count or a percentage; anything else is a usage error naming --batch', () => {
  assert.deepEqual(parseBatch('5'), {count: 5})
  assert.deepEqual(parseBatch('10%'), {percent: 10})
  for (const bad of ['0', '-1', '1.5', 'x', '0%', '101%', '']) assert.throws(() => parseBatch(bad), /--batch/, bad)
})

test('batchCount: a percentage of all the workers named, at least one', () => {
  assert.equal(batchCount({count: 3}, 100), 3)
  assert.equal(batchCount({percent: 10}, 2000), 200)
  assert.equal(batchCount({percent: 10}, 5), 1)
  assert.equal(batchCount({percent: 100}, 7), 7)
})

test('planRollout: workers in batches in natural order, then managers with the leader last', () => {
  const nodes = [node('mg0', 'manager', '27.3.1', true), node('w10', 'worker'), node('mg2', 'manager'), node('w2', 'worker'),
    node('w1', 'worker'), node('mg1', 'manager')]
  const r = planRollout(nodes, {count: 2}, {version: null, done: new Set()})
  assert.deepEqual(r.workerBatches, [['w1', 'w2'], ['w10']])
  assert.deepEqual(r.managers, ['mg1', 'mg2', 'mg0'])
  assert.deepEqual(r.skipped, [])
})

test('planRollout: nodes at the version and nodes done earlier in this upgrade are skipped; a percentage counts them too', () => {
  const nodes = [node('mg0', 'manager', '27.3.1', true), node('w1', 'worker', '27.3.1'), node('w2', 'worker', '26.1.0'),
    node('w3', 'worker', '26.1.0'), node('w4', 'worker', '26.1.0')]
  const r = planRollout(nodes, {percent: 50}, {version: '27.3.1', done: new Set(['w3'])})
  assert.deepEqual(r.skipped, [{name: 'mg0', why: 'at 27.3.1'}, {name: 'w1', why: 'at 27.3.1'}, {name: 'w3', why: 'done earlier in this upgrade'}])
  assert.deepEqual(r.workerBatches, [['w2', 'w4']], '50% of 4 workers: 2 at once')
  assert.deepEqual(r.managers, [])
})

test('nextManager: never the leader while another is left; the leader when it is the last', () => {
  assert.equal(nextManager(['mg0', 'mg1', 'mg2'], 'mg0'), 'mg1')
  assert.equal(nextManager(['mg2', 'mg0'], 'mg2'), 'mg0', 'leadership moved to mg2: it goes last now')
  assert.equal(nextManager(['mg0'], 'mg0'), 'mg0')
  assert.equal(nextManager(['mg1'], null), 'mg1')
  assert.equal(nextManager([], 'mg0'), null)
})

test('checkVersion: docker version strings only (they reach a shell and apt)', () => {
  for (const v of ['27.3.1', '24.0', '20.10.24+dfsg1', '28.0.0-rc.1']) assert.equal(checkVersion(v), v)
  for (const v of ['27;reboot', '$(id)', 'latest', '27.3.1 ', 'v27']) assert.throws(() => checkVersion(v), /--version/, v)
})

test('the remote install command is valid sh, both ways (install URL and pinned packages)', () => {
  for (const url of ['file:///tmp/x.sh', null]) {
    const r = spawnSync('sh', ['-n'], {input: installVersionCommand('27.3.1', url)})
    assert.equal(r.status, 0, String(r.stderr))
  }
  assert.match(installVersionCommand('27.3.1', 'https://get.docker.com'), /VERSION="\$want" sh/)
  assert.match(installVersionCommand('27.3.1', null), /docker-ce=\$p/)
})
