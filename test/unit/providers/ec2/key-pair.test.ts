// key-pair.ts: the fingerprint AWS shows for an imported ed25519 key.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ed25519Fingerprint} from '../../../../src/providers/ec2/key-pair.js'

test('ed25519 fingerprint as AWS shows it', () => {
  // sha256 of the key blob, base64 without padding
  assert.equal(ed25519Fingerprint('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 c'), 'Q7j1wOJ+CYuGabixNA3iBz/VOfatXqyvbFLALv1/HAw')
  assert.equal(ed25519Fingerprint('ssh-rsa AAAA c'), null)
})
