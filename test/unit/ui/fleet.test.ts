// renderFleet: CONTRACT §4's JSON document (fields around the lists, not-started hosts as failures), the summary table,
// or the failure list on stderr when stdout carries the hosts' own output.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {fleetResult} from '../../../src/ssh/fleet-result.js'
import {renderFleet} from '../../../src/ui/fleet.js'

function captured(fn: () => void): {stdout: string; stderr: string} {
  const got = {stdout: '', stderr: ''}
  const [out, err] = [process.stdout.write, process.stderr.write]
  process.stdout.write = ((s: string) => { got.stdout += s; return true }) as typeof process.stdout.write
  process.stderr.write = ((s: string) => { got.stderr += s; return true }) as typeof process.stderr.write
  try {
    fn()
  } finally {
    process.stdout.write = out
    process.stderr.write = err
  }
  return got
}

const result = fleetResult('joined', [{name: 'n2', outcome: 'joined'}, {name: 'n3', outcome: 'failed', error: 'exit code 1'}],
  {notStarted: ['n4'], interrupted: true})

test('renderFleet --json: one document, fields in order, not-started hosts among the failures', () => {
  const {stdout, stderr} = captured(() => renderFleet(result, {json: true, key: 'joined', head: {manager: 'n1'}, tail: {extra: 1}}))
  assert.equal(stderr, '')
  assert.deepEqual(Object.keys(JSON.parse(stdout)), ['manager', 'joined', 'already', 'failed', 'extra'])
  assert.deepEqual(JSON.parse(stdout).failed, [{name: 'n3', error: 'exit code 1'}, {name: 'n4', error: 'not started (interrupted)'}])
})

test('renderFleet: the summary on stdout, or the failures on stderr with table: false', () => {
  const summary = captured(() => renderFleet(result, {json: false}))
  assert.match(summary.stdout, /^joined\s+1\s+n2$/m)
  assert.match(summary.stdout, /^not started\s+1\s+n4$/m)
  assert.match(summary.stdout, /^n3\s+exit code 1$/m)
  const list = captured(() => renderFleet(result, {json: false, table: false}))
  assert.equal(list.stdout, '')
  assert.equal(list.stderr, '2 of 3 nodes failed:\n  n3: exit code 1\n  n4: not started (interrupted)\n')
})
