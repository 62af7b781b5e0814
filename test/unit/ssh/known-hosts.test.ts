// The cluster's known_hosts: OpenSSH's format, [host]:port for other ports, hashed and wildcard entries, forgetting.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createHmac, randomBytes} from 'node:crypto'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import {fingerprint, hostToken, KnownHosts, keyType} from '../../../src/ssh/known-hosts.js'

function blob(): Buffer {
  const pub = ssh2.utils.generateKeyPairSync('ed25519').public
  return Buffer.from(pub.split(' ')[1], 'base64')
}

function scratch(t: {after: (fn: () => void) => void}): string {
  const dir = mkdtempSync(join(tmpdir(), 'belt-kh-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  return dir
}

test('records on first contact in OpenSSH format; matches after; a different key is "changed"', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const kh = new KnownHosts(path)
  const a = blob()
  const b = blob()
  assert.equal(kh.check('10.0.0.1', 22, a).status, 'unknown')
  kh.add('10.0.0.1', 22, a)
  kh.add('10.0.0.2', 2222, b)
  const text = readFileSync(path, 'utf8')
  assert.equal(text, `10.0.0.1 ssh-ed25519 ${a.toString('base64')}\n[10.0.0.2]:2222 ssh-ed25519 ${b.toString('base64')}\n`)
  // A fresh reader (next run) sees the same.
  const again = new KnownHosts(path)
  assert.equal(again.check('10.0.0.1', 22, a).status, 'match')
  assert.equal(again.check('10.0.0.2', 2222, b).status, 'match')
  assert.equal(again.check('10.0.0.2', 22, b).status, 'unknown')
  const changed = again.check('10.0.0.1', 22, b)
  assert.equal(changed.status, 'changed')
  assert.equal(changed.status === 'changed' && changed.known[0].line, 1)
})

test('OpenSSH can read what belt writes (ssh-keygen -F)', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const kh = new KnownHosts(path)
  const k = blob()
  kh.add('10.9.9.9', 2200, k)
  const found = execFileSync('ssh-keygen', ['-F', '[10.9.9.9]:2200', '-f', path], {encoding: 'utf8'})
  assert.match(found, /ssh-ed25519/)
  const fp = execFileSync('ssh-keygen', ['-l', '-f', path], {encoding: 'utf8'})
  assert.ok(fp.includes(fingerprint(k)), `${fp} should show ${fingerprint(k)}`)
})

test('hashed, wildcard and @revoked entries written by others are honoured', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const hashedKey = blob()
  const wildKey = blob()
  const revoked = blob()
  const salt = randomBytes(20)
  const hash = createHmac('sha1', salt).update('[10.1.1.1]:2222').digest()
  writeFileSync(path, [
    '# comment',
    `|1|${salt.toString('base64')}|${hash.toString('base64')} ssh-ed25519 ${hashedKey.toString('base64')}`,
    `10.2.*,!10.2.0.9 ssh-ed25519 ${wildKey.toString('base64')}`,
    `@revoked * ssh-ed25519 ${revoked.toString('base64')}`,
    '',
  ].join('\n'))
  const kh = new KnownHosts(path)
  assert.equal(kh.check('10.1.1.1', 2222, hashedKey).status, 'match')
  assert.equal(kh.check('10.2.3.4', 22, wildKey).status, 'match')
  assert.equal(kh.check('10.2.0.9', 22, wildKey).status, 'unknown')
  assert.equal(kh.check('10.3.0.1', 22, revoked).status, 'revoked')
})

test('forget removes plain and hashed lines for exactly that host:port', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const k = blob()
  const salt = randomBytes(20)
  const hash = createHmac('sha1', salt).update('10.0.0.1').digest()
  writeFileSync(path, `10.0.0.1 ssh-ed25519 ${k.toString('base64')}\n|1|${salt.toString('base64')}|${hash.toString('base64')} ssh-ed25519 ${k.toString('base64')}\n[10.0.0.1]:2222 ssh-ed25519 ${k.toString('base64')}\n`)
  const kh = new KnownHosts(path)
  assert.equal(kh.forget('10.0.0.1', 22), 2)
  assert.equal(kh.check('10.0.0.1', 22, k).status, 'unknown')
  assert.equal(kh.check('10.0.0.1', 2222, k).status, 'match')
  assert.equal(kh.forget('10.0.0.1', 22), 0)
})

test('helpers: host token, key type, fingerprint as OpenSSH prints it', () => {
  assert.equal(hostToken('h', 22), 'h')
  assert.equal(hostToken('h', 2222), '[h]:2222')
  const k = blob()
  assert.equal(keyType(k), 'ssh-ed25519')
  assert.match(fingerprint(k), /^SHA256:[A-Za-z0-9+/]{43}$/)
})

test('forgetMany removes many hosts in one pass', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const kh = new KnownHosts(path)
  const k = blob()
  for (let i = 0; i < 2000; i++) kh.add(`10.0.${i >> 8}.${i & 255}`, 22, k)
  const targets = Array.from({length: 1500}, (_, i) => ({host: `10.0.${i >> 8}.${i & 255}`, port: 22}))
  assert.equal(kh.forgetMany(targets), 1500)
  assert.equal(readFileSync(path, 'utf8').trim().split('\n').length, 500)
  assert.equal(kh.check('10.0.0.1', 22, k).status, 'unknown')
  assert.equal(kh.check('10.0.7.207', 22, k).status, 'match')
})

test('an empty host is never recorded, and forgetting it touches nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'belt-kh-'))
  try {
    const kh = new KnownHosts(join(dir, 'known_hosts'))
    const key = blob()
    assert.throws(() => kh.add('', 22, key), /empty host/)
    assert.throws(() => kh.add(' ', 2222, key), /empty host/)
    kh.add('10.0.0.1', 22, key)
    assert.equal(kh.forgetMany([{host: '', port: 22}]), 0)
    assert.equal(readFileSync(join(dir, 'known_hosts'), 'utf8').trim().split('\n').length, 1)
    assert.doesNotMatch(readFileSync(join(dir, 'known_hosts'), 'utf8'), /^(\s|\[\]:)/m)
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})

test('move: a host back at another address keeps its pinned keys there (hashed entries too); the old address is forgotten', (t) => {
  const dir = scratch(t)
  const path = join(dir, 'known_hosts')
  const a = blob()
  const b = blob()
  const salt = randomBytes(20)
  const hash = createHmac('sha1', salt).update('198.18.0.5').digest()
  writeFileSync(path, `198.18.0.5 ${keyType(a)} ${a.toString('base64')}\n|1|${salt.toString('base64')}|${hash.toString('base64')} ${keyType(b)} ${b.toString('base64')}\n`
    + `198.19.0.9 ${keyType(b)} ${b.toString('base64')}\n10.0.0.1 ${keyType(b)} ${b.toString('base64')}\n`)
  const kh = new KnownHosts(path)
  assert.equal(kh.move({host: '198.18.0.5', port: 22}, {host: '198.19.0.9', port: 22}), 2)
  assert.equal(kh.check('198.19.0.9', 22, a).status, 'match')
  assert.equal(kh.check('198.19.0.9', 22, b).status, 'match')
  assert.equal(kh.check('198.18.0.5', 22, a).status, 'unknown')
  assert.equal(readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('198.19.0.9 ')).length, 2, 'no duplicate lines')
  assert.equal(new KnownHosts(path).check('10.0.0.1', 22, b).status, 'match', 'other hosts untouched')
  assert.equal(kh.move({host: '203.0.113.1', port: 22}, {host: '203.0.113.2', port: 22}), 0, 'nothing pinned: nothing moved')
})
