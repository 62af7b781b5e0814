// The pure parts of the boot-join watch: reading `docker node ls`, which expected names are Ready, and which Down
// duplicates of a re-created node go.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseNodeLs, readiness, WATCH_COMMAND} from '../../../src/docker/boot-join.js'

test('docker node ls lines: id, hostname, status (lower-cased); junk ignored', () => {
  assert.match(WATCH_COMMAND, /docker node ls --format '\{\{\.ID\}\} \{\{\.Hostname\}\} \{\{\.Status\}\}'/)
  assert.deepEqual(parseNodeLs('abc w1 Ready\n\n  def w2 Down \n<ls>\n'), [
    {id: 'abc', hostname: 'w1', status: 'ready'},
    {id: 'def', hostname: 'w2', status: 'down'},
  ])
})

test('readiness: only expected names count; a Down duplicate of a Ready name is to be removed', () => {
  const nodes = parseNodeLs(['m mg0 Ready', 'a w1 Ready', 'b w1 Down', 'c w2 Down', 'd w3 Unknown', 'e w3 Ready', 'f x9 Ready'].join('\n'))
  const r = readiness(nodes, new Set(['w1', 'w2', 'w3', 'w4']))
  assert.deepEqual([...r.ready].sort(), ['w1', 'w3'])
  assert.deepEqual(r.duplicates.map((n) => n.id), ['b'], 'the Down twin of w1 only (w2 has no Ready node; Unknown is not Down)')
  assert.deepEqual(r.seen.get('w2'), ['down'])
  assert.equal(r.seen.get('w4'), undefined)
})
