// belt scp's words: which side is remote (CONTRACT §12: split at the first `:` outside brackets).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseCopyArgs, splitRemote} from '../../../src/core/copy-args.js'

test('PATTERN:PATH splits at the first : outside brackets; local paths stay local', () => {
  assert.deepEqual(splitRemote("w[1:4]:/tmp"), {target: 'w[1:4]', path: '/tmp'})
  assert.deepEqual(splitRemote('mg0,w[1:3]:/opt/a:b'), {target: 'mg0,w[1:3]', path: '/opt/a:b'})
  assert.deepEqual(splitRemote('w1:'), {target: 'w1', path: ''})
  assert.equal(splitRemote('./a:b'), null)
  assert.equal(splitRemote('/abs/x:y'), null)
  assert.equal(splitRemote(':x'), null)
  assert.equal(splitRemote('w[1:4]'), null)
  assert.equal(splitRemote('file.txt'), null)
})

test('upload, download and --load forms; the others are usage errors', () => {
  assert.deepEqual(parseCopyArgs(['a', 'b', 'w[1:4]:/tmp']), {kind: 'upload', sources: ['a', 'b'], target: 'w[1:4]', dest: '/tmp'})
  assert.deepEqual(parseCopyArgs(['w1:/etc/hosts', '.']), {kind: 'download', target: 'w1', src: '/etc/hosts', dest: '.'})
  assert.deepEqual(parseCopyArgs(['w[1:2]', 'mg0'], {load: 'app.tar'}), {kind: 'load', archive: 'app.tar', targets: ['w[1:2]', 'mg0']})
  assert.throws(() => parseCopyArgs(['a']), /belt scp FILE\.\.\./)
  assert.throws(() => parseCopyArgs(['a', 'b']), /no NODE:PATH among a b/)
  assert.throws(() => parseCopyArgs(['w1:/a', 'w2:/b']), /from nodes to nodes/)
  assert.throws(() => parseCopyArgs(['w1:/a', 'b', 'c']), /takes one source/)
  assert.throws(() => parseCopyArgs(['w1:/tmp'], {load: 'x.tar'}), /--load takes nodes or patterns, not w1:\/tmp/)
  assert.throws(() => parseCopyArgs([], {load: 'x.tar'}), /which nodes\?/)
})
