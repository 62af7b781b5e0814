import {test} from 'node:test'
import assert from 'node:assert/strict'
import {expandPatterns, validateHostname} from '../../../src/core/range.js'
import {UsageError} from '../../../src/core/errors.js'

const good: [string[], string[]][] = [
  [['node[1:4]'], ['node1', 'node2', 'node3', 'node4']],
  [['mg[0:2]'], ['mg0', 'mg1', 'mg2']],
  [['w[001:003]'], ['w001', 'w002', 'w003']],
  [['w[08:11]'], ['w08', 'w09', 'w10', 'w11']],
  [['mg0,w[1:3]'], ['mg0', 'w1', 'w2', 'w3']],
  [['a', 'b[1:2]'], ['a', 'b1', 'b2']],
  [['n[5:5]'], ['n5']],
  [['[1:3]x'], ['1x', '2x', '3x']],
  [['db[1:2].prod'], ['db1.prod', 'db2.prod']],
  [['plain'], ['plain']],
  [['a,a,b'], ['a', 'b']],
]

test('host names at the limits are accepted', () => {
  const label63 = 'x'.repeat(63)
  const name253 = [label63, label63, label63, 'y'.repeat(61)].join('.')
  assert.equal(name253.length, 253)
  for (const name of [label63, name253, 'a', '1', '0-0', 'Node-1.Example.COM', 'w001']) {
    assert.doesNotThrow(() => validateHostname(name, name), name.slice(0, 20))
  }
})

for (const [input, want] of good) {
  test(`expands ${input.join(' ')}`, () => {
    assert.deepEqual(expandPatterns(input, validateHostname), want)
  })
}

const bad: [string, RegExp][] = [
  ['node[4:1]', /start 4 is greater than end 1 in pattern 'node\[4:1\]'/],
  ['node[a:3]', /pattern 'node\[a:3\]' must be non-negative integers/],
  ['node[1:3', /unbalanced brackets in pattern 'node\[1:3'/],
  ['node1:3]', /unbalanced brackets/],
  ['a[1:2]b[1:2]', /more than one range/],
  ['', /empty name/],
  ['a,,b', /empty name in pattern 'a,,b'/],
  ['node[1]', /must be \[START:END\]/],
  ['bad.', /invalid node name 'bad.'/],
  ['a b', /invalid node name 'a b'/],
  ['bad_name', /invalid node name 'bad_name'/],
  ['x'.repeat(256), /at most 253 characters/],
  ['node[1:3]-', /invalid node name 'node1-' from pattern 'node\[1:3\]-'/],
  // Host names (CONTRACT §9): labels of 1–63 letters, digits and '-', not starting or ending with '-'; 253 in all.
  ['-n1', /invalid node name '-n1': a name cannot start with '-'/],
  ['--dry-run', /invalid node name '--dry-run': a name cannot start with '-'/],
  ['.n1', /invalid node name '.n1': a host name has no empty part/],
  ['a..b', /invalid node name 'a..b': a host name has no empty part/],
  ['n1.', /invalid node name 'n1.'/],
  ['a.-b', /invalid node name 'a.-b': .*starting and ending with a letter or digit/],
  ['a-.b', /invalid node name 'a-.b'/],
  ['x'.repeat(64), /part has at most 63 characters, 'x{12}…' has 64/],
  [`db.${'x'.repeat(64)}.prod`, /at most 63 characters/],
  [Array(64).fill('abc').join('.'), /at most 253 characters, this one 255/],
  ['w[1:2].-x', /invalid node name 'w1.-x' from pattern 'w\[1:2\].-x'/],
]
for (const [input, re] of bad) {
  test(`refuses '${input.slice(0, 20)}'`, () => {
    assert.throws(() => expandPatterns([input], validateHostname), (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'))
  })
}

test('expands 100,000 names, in order, each once (how fast: npm run bench -- --only startup)', () => {
  const names = expandPatterns(['w[1:100000]'], validateHostname)
  assert.equal(names.length, 100000)
  assert.equal(names[0], 'w1')
  assert.equal(names[99999], 'w100000')
  assert.equal(new Set(names).size, 100000)
})
