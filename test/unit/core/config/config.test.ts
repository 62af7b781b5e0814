import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, readdirSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parseDocument} from 'yaml'
import {scratchDir} from '../../../lib/cli.js'
import {UsageError} from '../../../../src/core/errors.js'
import {applyAssignments, maskedConfig, parseAssignment} from '../../../../src/core/config/update.js'
import {parseConfigText} from '../../../../src/core/config/store.js'
import {resolveCluster, type Cluster} from '../../../../src/core/config/cluster.js'
import {StateStore} from '../../../../src/core/config/state.js'
import {parseDuration} from '../../../../src/core/duration.js'
import {redact, registerSecret} from '../../../../src/core/redact.js'
import {preprocessArgv} from '../../../../src/argv.js'

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n')

test('assignments: YAML scalars, lists, dotted keys, removal', () => {
  assert.deepEqual(parseAssignment('concurrency=5'), {path: ['concurrency'], value: 5, remove: false})
  assert.deepEqual(parseAssignment('engine_install=false'), {path: ['engine_install'], value: false, remove: false})
  assert.deepEqual(parseAssignment('tags=[a,b]'), {path: ['tags'], value: ['a', 'b'], remove: false})
  assert.deepEqual(parseAssignment('user_data=a b'), {path: ['user_data'], value: 'a b', remove: false})
  assert.deepEqual(parseAssignment('hosts.w1.port=22'), {path: ['hosts', 'w1', 'port'], value: 22, remove: false})
  assert.deepEqual(parseAssignment('ssh_key_fingerprint='), {path: ['ssh_key_fingerprint'], value: undefined, remove: true})
  assert.throws(() => parseAssignment('novalue'), usage(/expected key=value, got 'novalue'/))
})

test('update keeps comments, prints a diff, refuses unknown keys with the valid ones listed', () => {
  const cfg = parseConfigText('driver: digitalocean\ndigitalocean:\n  region: nyc1 # where\n  image: docker-20-04\n', 'config.yml')
  const diff = applyAssignments(cfg.doc, 'digitalocean', ['region=sgp1', 'tags=[swarm,prod]', 'image='], 'test')
  assert.deepEqual(diff.lines, ['- image: "docker-20-04"', '- region: "nyc1"', '+ region: "sgp1"', '+ tags: ["swarm","prod"]'])
  const text = cfg.doc.toString()
  assert.match(text, /region: sgp1 # where/)
  assert.doesNotMatch(text, /image/)
  assert.throws(() => applyAssignments(cfg.doc, 'digitalocean', ['regoin=x'], 'test'), usage(/unknown key 'regoin' for driver digitalocean; valid keys: .*region/))
  assert.throws(() => applyAssignments(cfg.doc, 'digitalocean', ['concurrency=lots'], 'test'), usage(/'concurrency' must be a whole number/))
  assert.throws(() => applyAssignments(cfg.doc, 'digitalocean', ['admin_cidr=10.0.0.0/99'], 'test'), usage(/'admin_cidr' must be a CIDR/))
  assert.throws(() => applyAssignments(cfg.doc, 'digitalocean', ['region.x=1'], 'test'), usage(/'region' is not a map/))
})

test('generic hosts: dotted keys into maps and per-host validation', () => {
  const cfg = parseConfigText('driver: generic\ngeneric:\n  hosts: {}\n', 'config.yml')
  applyAssignments(cfg.doc, 'generic', ['hosts.mg0=203.0.113.10', 'hosts.w1.address=203.0.113.11', 'hosts.w1.port=2222'], 'test')
  assert.deepEqual(cfg.doc.toJS().generic.hosts, {mg0: '203.0.113.10', w1: {address: '203.0.113.11', port: 2222}})
  assert.throws(() => applyAssignments(cfg.doc, 'generic', ['hosts.w1.prot=22'], 'test'), usage(/unknown key 'hosts.w1.prot'/))
  assert.throws(() => applyAssignments(cfg.doc, 'generic', ['hosts.w2.port=22'], 'test'), usage(/hosts.w2 has no address/))
})

test('config files are validated with clear messages', () => {
  assert.throws(() => parseConfigText('driver: docean\n', 'c.yml'), usage(/c.yml: 'driver' must be one of digitalocean \| ec2 \| generic \| local, got "docean"/))
  assert.throws(() => parseConfigText('driver: local\nlocal:\n  subnet: [\n', 'c.yml'), usage(/c.yml: invalid YAML/))
  assert.throws(() => parseConfigText('driver: local\nec2: {}\n', 'c.yml'), usage(/unknown top-level key 'ec2'/))
  assert.throws(() => parseConfigText('driver: local\nlocal:\n  ssh_port: 70000\n', 'c.yml'), usage(/'ssh_port' must be at most 65535/))
  assert.throws(() => parseConfigText('driver: local\nlocal:\n  strict_host_key_checking: maybe\n', 'c.yml'), usage(/one of accept-new \| yes \| no/))
  // The book's .belt.yml has only a digitalocean: block.
  assert.equal(parseConfigText('digitalocean:\n  region: sgp1\n', '.belt.yml').driver, 'digitalocean')
})

test('secrets are masked when the config is printed', () => {
  const cfg = parseConfigText('driver: digitalocean\ndigitalocean:\n  access_token: dop_v1_0123456789abcdef0123\n', 'c.yml')
  const text = maskedConfig(cfg.doc, 'digitalocean')
  assert.doesNotMatch(text, /0123456789abcdef/)
  assert.match(text, /access_token: "?\*{8}"?/)
})

test('cluster precedence: --config > --cluster/BELT_CLUSTER > active > .belt.yml', (t) => {
  const {dir, cleanup} = scratchDir()
  t.after(cleanup)
  const belt = join(dir, '.belt')
  for (const n of ['one', 'two']) {
    mkdirSync(join(belt, n), {recursive: true})
    writeFileSync(join(belt, n, 'config.yml'), `driver: local\nlocal:\n  subnet: 10.213.${n === 'one' ? 1 : 2}.0/24\n`)
  }
  writeFileSync(join(dir, '.belt.yml'), 'digitalocean:\n  region: sgp1\n')
  writeFileSync(join(dir, 'other.yml'), 'driver: generic\ngeneric:\n  hosts: {}\n')
  const env = {}
  // no active cluster yet: .belt.yml is the cluster "default"
  assert.equal(resolveCluster({cwd: dir, env}).name, 'default')
  writeFileSync(join(belt, 'active'), 'one\n')
  assert.equal(resolveCluster({cwd: dir, env}).name, 'one')
  assert.equal(resolveCluster({cwd: dir, env: {BELT_CLUSTER: 'two'}}).name, 'two')
  assert.equal(resolveCluster({cwd: dir, env: {BELT_CLUSTER: 'two'}, cluster: 'one'}).name, 'one')
  const c = resolveCluster({cwd: dir, env: {BELT_CLUSTER: 'two'}, config: 'other.yml'})
  assert.equal(c.name, 'default')
  assert.equal(c.driver, 'generic')
  // found from a subfolder, like git
  mkdirSync(join(dir, 'sub', 'deeper'), {recursive: true})
  assert.equal(resolveCluster({cwd: join(dir, 'sub', 'deeper'), env}).name, 'one')
  // BELT_DIR names the .belt folder itself
  assert.equal(resolveCluster({cwd: '/', env: {BELT_DIR: belt}}).name, 'one')
  assert.throws(() => resolveCluster({cwd: dir, env, cluster: 'three'}), usage(/no cluster named 'three'; clusters: one, two/))
  assert.throws(() => resolveCluster({cwd: dir, env, cluster: 'Bad/Name'}), usage(/invalid cluster name 'Bad\/Name'/))
  // settings merge defaults under the block
  assert.equal(resolveCluster({cwd: dir, env}).settings.concurrency, 100)
  assert.equal((resolveCluster({cwd: dir, env}) as Cluster<'local'>).settings.subnet, '10.213.1.0/24')
})

test('state writes replace the file whole (write beside it, then rename: a new inode each time) and leave no temp files', (t) => {
  const {dir, cleanup} = scratchDir()
  t.after(cleanup)
  const s = new StateStore(dir)
  // The new content is written to another file while the old one still exists, then renamed over it: every write
  // gives state.json another inode than it had, so a reader (or a crash) sees the old file or the new one, never half.
  let inode = -1
  for (let i = 0; i < 50; i++) {
    s.update((d) => { d.nodes[`n${i}`] = {id: String(i)} })
    const now = statSync(join(dir, 'state.json')).ino
    assert.notEqual(now, inode, `write ${i} replaced the file instead of rewriting it in place`)
    inode = now
  }
  const reread = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'))
  assert.equal(Object.keys(reread.nodes).length, 50)
  assert.deepEqual(readdirSync(dir), ['state.json'])
  writeFileSync(join(dir, 'state.json'), '{broken')
  assert.throws(() => new StateStore(dir).read(), usage(/state.json is not valid JSON/))
})

test('durations', () => {
  assert.equal(parseDuration('15m', '--timeout'), 900_000)
  assert.equal(parseDuration('90', '--timeout'), 90_000)
  assert.equal(parseDuration('1h30m', '--timeout'), 5_400_000)
  assert.equal(parseDuration('250ms', '--timeout'), 250)
  assert.throws(() => parseDuration('soon', '--timeout'), usage(/--timeout: invalid duration 'soon'/))
  assert.throws(() => parseDuration('5x', '--timeout'), usage(/invalid duration/))
})

test('redaction of join tokens, DO tokens, bearer headers and registered secrets', () => {
  assert.equal(redact('docker swarm join --token SWMTKN-1-abc123-def456 10.0.0.1:2377'), 'docker swarm join --token SWMTKN-…redacted 10.0.0.1:2377')
  assert.doesNotMatch(redact('Authorization: Bearer abcdef0123456789'), /abcdef0123456789/)
  registerSecret('my-secret-token-value')
  assert.equal(redact('token my-secret-token-value leaked'), 'token …redacted leaked')
})

test('argv: global flags before the command word move after it (pass-through commands: test/unit/argv.test.ts)', () => {
  assert.deepEqual(preprocessArgv(['--cluster', 'lab', 'cluster', 'ls']), ['cluster', 'ls', '--cluster', 'lab'])
  assert.deepEqual(preprocessArgv(['--json', '--cluster=lab', 'status']), ['status', '--json', '--cluster=lab'])
  assert.deepEqual(preprocessArgv(['ls', '--json']), ['ls', '--json'])
  assert.deepEqual(preprocessArgv(['--debug']), ['--debug'])
})

void parseDocument
