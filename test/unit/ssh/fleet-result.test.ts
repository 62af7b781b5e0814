// Fleet results: per-host outcomes sorted into ok / already / failed in natural name order, not-started hosts apart.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {allFailures, fleetResult} from '../../../src/ssh/fleet-result.js'

test('fleetResult sorts outcomes by natural name and counts not-started hosts in the total', () => {
  const r = fleetResult('joined', [
    {name: 'w10', outcome: 'joined'}, {name: 'w2', outcome: 'joined'}, {name: 'w3', outcome: 'already'},
    {name: 'w11', outcome: 'failed', error: 'host unreachable'}, {name: 'w4', outcome: 'failed'},
  ], {notStarted: ['w12'], interrupted: true})
  assert.deepEqual(r.ok, ['w2', 'w10'])
  assert.deepEqual(r.already, ['w3'])
  assert.deepEqual(r.failed, [{name: 'w4', error: 'failed'}, {name: 'w11', error: 'host unreachable'}])
  assert.equal(r.total, 6)
  assert.equal(r.interrupted, true)
  assert.deepEqual(allFailures(r).map((f) => f.name), ['w4', 'w11', 'w12'])
  assert.equal(allFailures(r)[2].error, 'not started (interrupted)')
})

test('fleetResult of nothing is empty and not interrupted', () => {
  assert.deepEqual(fleetResult('ok', []), {verb: 'ok', total: 0, ok: [], already: [], failed: [], notStarted: [], interrupted: false})
})
