// inventory.ts: instance states as belt statuses.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {normaliseState} from '../../../../src/providers/ec2/inventory.js'

test('instance states normalise to belt statuses', () => {
  assert.deepEqual(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'].map(normaliseState), ['new', 'active', 'off', 'off', 'gone', 'gone'])
})
