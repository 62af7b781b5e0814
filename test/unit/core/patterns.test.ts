import {test} from 'node:test'
import assert from 'node:assert/strict'
import {toPatterns} from '../../../src/core/patterns.js'
import {expandPatterns} from '../../../src/core/range.js'

const roundTrip = (names: string[]) => assert.deepEqual(expandPatterns([toPatterns(names)]).sort(), [...new Set(names)].sort())

test('names back into patterns: runs become ranges, the rest stays listed, expansion gives exactly the names', () => {
  assert.equal(toPatterns(['w1', 'w2', 'w3', 'w4']), 'w[1:4]')
  assert.equal(toPatterns(['w3', 'x', 'w1', 'w2', 'w7', 'w8']), 'w[1:3],w7,w8,x')
  assert.equal(toPatterns(['w001', 'w002', 'w003', 'w100', 'w101', 'w102']), 'w[001:3],w[100:102]')
  assert.equal(toPatterns(['mg0', 'w9', 'w10', 'w11']), 'mg0,w[9:11]')
  assert.equal(toPatterns([]), '')
  roundTrip(['a1', 'a2', 'a5', 'b', 'c09', 'c10', 'c11', 'n1.example', 'x7y', 'w001', 'w010', 'w099', 'w100'])
  roundTrip(Array.from({length: 400}, (_, i) => `w${i * 3 % 401}`))
})
