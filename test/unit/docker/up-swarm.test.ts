// The remote commands belt up runs through a manager, and the parsing of what they print.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {APPLY_SYSCTL, SWARM_SYSCTL} from '../../../src/docker/provision.js'
import {sysctlScript} from '../../../src/docker/up.js'
import {labelCommand, nodeRmCommand, parseSwarmView} from '../../../src/docker/up-swarm.js'

test('the swarm view: state, swarm id, members with reachability and labels (JSON with spaces kept)', () => {
  const v = parseSwarmView([
    'belt-swarm-info active true swarmid123',
    'id1 mg0 10.0.0.2 manager active ready leader {"belt.zone":"a"}',
    'id2 mg1 10.0.0.3 manager drain ready reachable {}',
    'id3 w1 10.0.0.4 worker active down - {"note":"two words"}',
    'id4 w2 10.0.0.5 worker active ready - null',
  ].join('\n'))
  assert.equal(v.state, 'active')
  assert.equal(v.manager, true)
  assert.equal(v.swarmId, 'swarmid123')
  assert.deepEqual(v.members.map((m) => [m.hostname, m.managerStatus, m.state, m.labels]), [
    ['mg0', 'leader', 'ready', {'belt.zone': 'a'}], ['mg1', 'reachable', 'ready', {}], ['w1', '', 'down', {note: 'two words'}], ['w2', '', 'ready', {}],
  ])
  assert.deepEqual(parseSwarmView('belt-swarm-info inactive false '), {state: 'inactive', manager: false, swarmId: null, members: []})
})

test('labels and drains: one docker node update per node, values quoted', () => {
  const c = labelCommand([{name: 'w1', id: 'abc', add: {pool: "it's", 'belt.zone': 'a'}, drain: false}, {name: 'mg0', id: 'def', add: {}, drain: true}])
  assert.match(c, /docker node update --label-add 'pool=it'\\''s' --label-add belt\.zone=a abc /)
  assert.match(c, /docker node update --availability drain def /)
  assert.equal(nodeRmCommand(['a', 'b'], ['c']), 'docker node rm a b\ndocker node rm --force c')
  assert.equal(nodeRmCommand([], []), 'true')
})

test('the sysctl script (folded into a worker\'s join exec): writes the file once, byte for byte, and reads no stdin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'belt-up-sysctl-'))
  try {
    const f = join(dir, 'sysctl.d', '99-belt-swarm.conf')
    // The script runs before the join reads its token from stdin: the token must still be there afterwards.
    const run = () => execFileSync('sh', ['-c', sysctlScript(false, f) + '\nIFS= read -r t; echo "token:$t"'], {input: 'SWMTKN-1-abc\n', encoding: 'utf8'})
    assert.equal(run(), 'token:SWMTKN-1-abc\n')
    assert.equal(readFileSync(f, 'utf8'), SWARM_SYSCTL)
    assert.equal(statSync(f).mode & 0o777, 0o644)
    const before = statSync(f).mtimeMs
    assert.equal(run(), 'token:SWMTKN-1-abc\n')
    assert.equal(statSync(f).mtimeMs, before, 'an unchanged file is not rewritten')
    writeFileSync(f, 'old\n')
    run()
    assert.equal(readFileSync(f, 'utf8'), SWARM_SYSCTL, 'a different file is replaced')
    // Applied only inside the "differs" branch (never on a node whose file is already right).
    const withApply = sysctlScript(true, f)
    assert.ok(withApply.indexOf(APPLY_SYSCTL) > withApply.indexOf('then') && withApply.indexOf(APPLY_SYSCTL) < withApply.lastIndexOf('fi'))
    assert.ok(!sysctlScript(false, f).includes(APPLY_SYSCTL))
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
