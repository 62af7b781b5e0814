// Fleet summaries: compressed name lists (belt's own pattern syntax), outcome counts, failure tables, plain progress.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {PassThrough} from 'node:stream'
import {expandPatterns} from '../../../src/core/range.js'
import {compressNames, FleetProgress, fleetSummary, LinePrefixer} from '../../../src/ui/fleet.js'

test('compressNames gives patterns that expand back to the same names', () => {
  const cases: [string[], string][] = [
    [['w1', 'w2', 'w3', 'w7'], 'w[1:3],w7'],
    [['w1', 'w2'], 'w1,w2'],
    [['mg0', 'w001', 'w002', 'w003', 'w010'], 'mg0,w[001:003],w010'],
    [['db1.prod', 'db2.prod', 'db3.prod'], 'db[1:3].prod'],
    [['alpha', 'node10', 'node9', 'node11'], 'alpha,node[9:11]'],
  ]
  for (const [names, want] of cases) {
    assert.equal(compressNames(names), want)
    assert.deepEqual(new Set(expandPatterns([compressNames(names)])), new Set(names))
  }
  const big = expandPatterns(['w[1:2000]']).filter((n) => !['w1001', 'w1002', 'w1003'].includes(n))
  assert.equal(compressNames(big), 'w[1:1000],w[1004:2000]')
})

test('fleetSummary: counts per outcome, then every failure', () => {
  const text = fleetSummary([
    {name: 'w2', outcome: 'joined'}, {name: 'w1', outcome: 'joined'}, {name: 'w3', outcome: 'already'},
    {name: 'w5', outcome: 'failed', error: 'connection refused (10.0.0.5)'},
  ], ['joined', 'already', 'failed'], {notStarted: ['w6']})
  assert.match(text, /^RESULT\s+#NODES\s+NODES$/m)
  assert.match(text, /^joined\s+2\s+w1,w2$/m)
  assert.match(text, /^already\s+1\s+w3$/m)
  assert.match(text, /^not started\s+1\s+w6$/m)
  assert.match(text, /^w5\s+connection refused \(10\.0\.0\.5\)$/m)
})

test('plain progress: one line per host for small fleets, failures and a periodic line for big ones', () => {
  const small = new PassThrough()
  let text = ''
  small.on('data', (d) => (text += d))
  const p = new FleetProgress({total: 2, outcomes: ['joined', 'already', 'failed'], stream: small as unknown as NodeJS.WriteStream, plain: true}).start()
  p.record('a', 'joined')
  p.record('b', 'failed', 'boom')
  assert.equal(text, 'a: joined\nb: failed: boom\n')
  const bigStream = new PassThrough()
  let big = ''
  bigStream.on('data', (d) => (big += d))
  const q = new FleetProgress({total: 100, outcomes: ['joined', 'already', 'failed'], label: 'swarm join', stream: bigStream as unknown as NodeJS.WriteStream, plain: true}).start()
  for (let i = 0; i < 100; i++) q.record(`w${i}`, i === 50 ? 'failed' : 'joined', i === 50 ? 'nope' : undefined)
  const lines = big.trim().split('\n')
  assert.ok(lines.includes('w50: failed: nope'))
  assert.equal(lines.filter((l) => l.startsWith('swarm join: joined')).length, 10)
  assert.match(lines[lines.length - 1], /^swarm join: joined 99\/100 · failed 1 · \d+ s$/)
})

test('LinePrefixer prefixes every line, joins split chunks, ends an unterminated last line', async () => {
  const sink = new PassThrough()
  let text = ''
  sink.on('data', (d) => (text += d))
  const p = new LinePrefixer('w1: ', sink)
  p.write('hel')
  p.write('lo\nwor')
  p.write('ld\r\n\nlast')
  await p.close()
  assert.equal(text, 'w1: hello\nw1: world\nw1: \nw1: last\n')
})
