// The cluster id in config.yml (CONTRACT §9): generated, placed, quoted and validated; comments and file modes kept.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {chmodSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseDocument} from 'yaml'
import {scratchDir} from '../../../lib/cli.js'
import {UsageError} from '../../../../src/core/errors.js'
import {checkUserTag, ensureClusterId, newClusterId, setClusterId} from '../../../../src/core/config/identity.js'
import {loadClusterAt} from '../../../../src/core/config/cluster.js'
import {parseConfigText} from '../../../../src/core/config/store.js'
import {strangersNote} from '../../../../src/providers/strangers.js'

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n')

test('ids: 16 lowercase hex characters, random', () => {
  const ids = new Set(Array.from({length: 50}, newClusterId))
  assert.equal(ids.size, 50)
  for (const id of ids) assert.match(id, /^[0-9a-f]{16}$/)
})

test('setClusterId: under driver:, quoted (an all-digit id stays a string), comments kept, replaced in place', () => {
  const doc = parseDocument('# head\ndriver: ec2 # d\n# block\nec2:\n  region: us-east-1 # r\n')
  setClusterId(doc, '1234567890123456')
  const text = doc.toString()
  assert.match(text, /^# head\ndriver: ec2 # d\ncluster_id: "1234567890123456" #/)
  assert.match(text, /# block\nec2:\n {2}region: us-east-1 # r\n$/)
  assert.equal(parseConfigText(text, 'config.yml').clusterId, '1234567890123456')
  setClusterId(doc, 'abcdefabcdefabcd')
  assert.equal(doc.toString().match(/cluster_id/g)!.length, 1)
  assert.equal(parseConfigText(doc.toString(), 'config.yml').clusterId, 'abcdefabcdefabcd')
  // A .belt.yml without driver: the id goes first, below the file's opening comment.
  const belt = parseDocument('# the book\ndigitalocean:\n  region: sgp1\n')
  setClusterId(belt, '0123456789abcdef')
  assert.match(belt.toString(), /^# the book\ncluster_id: "0123456789abcdef" #[^\n]*\ndigitalocean:\n/)
})

test('config.yml: a cluster_id that belt did not write is refused naming the file', () => {
  for (const bad of ['1234567890123456', '"ABCDEF0123456789"', '"abc"', '"0123456789abcdeg"', '[a]']) {
    assert.throws(() => parseConfigText(`driver: local\ncluster_id: ${bad}\nlocal: {}\n`, '/p/config.yml'), usage(/^\/p\/config\.yml: 'cluster_id' must be 16 to 64 lowercase hex/), bad)
  }
  assert.throws(() => parseConfigText('driver: local\nclusterid: x\nlocal: {}\n', 'c.yml'), usage(/unknown top-level key 'clusterid'/))
})

test('ensureClusterId: written once, file mode kept, an id written meanwhile by another process wins', () => {
  const {dir, cleanup} = scratchDir()
  try {
    const path = join(dir, 'config.yml')
    writeFileSync(path, '# mine\ndriver: local\nlocal:\n  subnet: 10.214.49.0/24 # lab\n')
    chmodSync(path, 0o600)
    const c = loadClusterAt('x', join(dir, 'x'), path)
    assert.equal(c.id, null)
    const id = ensureClusterId(c)
    assert.equal(c.id, id)
    assert.equal(statSync(path).mode & 0o777, 0o600)
    assert.match(readFileSync(path, 'utf8'), /subnet: 10\.214\.49\.0\/24 # lab/)
    assert.equal(ensureClusterId(c), id, 'stable')
    const stale = loadClusterAt('x', join(dir, 'x'), path)
    assert.equal(stale.id, id)
    const late = {...c, id: null}
    assert.equal(ensureClusterId(late), id, 're-read before writing')
  } finally {
    cleanup()
  }
})

test('belt- tags are refused; the foreign/legacy line', () => {
  assert.throws(() => checkUserTag('belt-cluster:other', '--tag'), usage(/^--tag: tag 'belt-cluster:other' is refused/))
  assert.throws(() => checkUserTag('BELT-id=x', 'tags'), usage(/refused/))
  checkUserTag('swarm', '--tag')
  checkUserTag('team=belt-x', '--tag')
  assert.equal(strangersNote({foreign: 0, legacy: 0}, 'droplet(s) tagged belt-cluster:a', 'belt-id'), null)
  assert.equal(strangersNote({foreign: 3, legacy: 2}, 'droplet(s) tagged belt-cluster:a', 'belt-id'),
    '3 droplet(s) tagged belt-cluster:a belong to another cluster (other belt-id); 2 have no belt-id (made before cluster ids: belt cluster adopt); they are not listed and never touched')
  assert.equal(strangersNote({foreign: 0, legacy: 1}, 'x', 'belt-id'), '1 x have no belt-id (made before cluster ids: belt cluster adopt); they are not listed and never touched')
})
