// The cluster key generator: every pair is well formed, also the ~1 in 256 whose public key begins with a zero byte
// (ssh2's own generator dropped that byte); ssh2 parses both halves, signs with the private one and verifies with the
// public one; OpenSSH's ssh-keygen reads the private key back to the same public key.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import {generateEd25519KeyPair} from '../../../src/ssh/keys.js'
import {skipUnless} from '../../lib/tools.js'

function rawPublic(line: string): Buffer {
  const [type, b64, comment] = line.split(' ')
  assert.equal(type, 'ssh-ed25519')
  assert.equal(comment, 'belt-test')
  const blob = Buffer.from(b64, 'base64')
  const typeLen = blob.readUInt32BE(0)
  assert.equal(blob.subarray(4, 4 + typeLen).toString(), 'ssh-ed25519')
  const keyLen = blob.readUInt32BE(4 + typeLen)
  assert.equal(blob.length, 4 + typeLen + 4 + keyLen, 'nothing after the key')
  return blob.subarray(8 + typeLen, 8 + typeLen + keyLen)
}

test('5,000 generated ed25519 pairs: 32-byte public keys, both halves parse with ssh2 and match', () => {
  let leadingZero = 0
  for (let i = 0; i < 5000; i++) {
    const pair = generateEd25519KeyPair('belt-test')
    const raw = rawPublic(pair.public)
    assert.equal(raw.length, 32, `key ${i}: public key of ${raw.length} bytes`)
    if (raw[0] === 0) leadingZero++
    const pub = ssh2.utils.parseKey(pair.public)
    const priv = ssh2.utils.parseKey(pair.private)
    assert.ok(!(pub instanceof Error), `key ${i}: public: ${pub instanceof Error ? pub.message : ''}`)
    assert.ok(!(priv instanceof Error), `key ${i}: private: ${priv instanceof Error ? priv.message : ''}`)
    const p = (Array.isArray(pub) ? pub[0] : pub) as ssh2.ParsedKey
    const k = (Array.isArray(priv) ? priv[0] : priv) as ssh2.ParsedKey
    assert.equal(k.type, 'ssh-ed25519')
    assert.equal(k.comment, 'belt-test')
    assert.ok(k.getPublicSSH().equals(p.getPublicSSH()), `key ${i}: the private key's public half is the public key`)
    if (i % 250 === 0 || raw[0] === 0) {
      const data = Buffer.from(`message ${i}`)
      assert.ok(p.verify(data, k.sign(data)), `key ${i}: a signature of the private key verifies with the public key`)
    }
  }
  // 5,000 keys hold about 20 with a leading zero byte; none at all would mean the case was not exercised.
  assert.ok(leadingZero > 0, 'some public keys began with a zero byte')
})

test('ssh-keygen reads the private key back to the same public key', {skip: skipUnless({commands: ['ssh-keygen']})}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'belt-keys-'))
  try {
    for (let i = 0; i < 20; i++) {
      const pair = generateEd25519KeyPair('belt-test')
      const file = join(dir, `id_${i}`)
      writeFileSync(file, pair.private, {mode: 0o600})
      const derived = execFileSync('ssh-keygen', ['-y', '-f', file], {encoding: 'utf8'}).trim()
      assert.equal(derived.split(' ').slice(0, 2).join(' '), pair.public.split(' ').slice(0, 2).join(' '))
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
})
