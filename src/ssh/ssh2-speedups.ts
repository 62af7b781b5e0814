// CPU per host matters at 2,000 hosts (issue 6: belt's orchestrator CPU must stay a fraction of OpenSSH's). Most of
// ssh2's cost per connection is not SSH itself but OpenSSL 3 decoding PEM/DER key text again on every call (~0.1 ms
// each) and an extra host-key proof round. These adjustments keep ssh2's protocol code and change only how keys
// reach OpenSSL. Each is feature-detected: if ssh2's internals change, belt falls back to ssh2's own behaviour
// (slower, still correct), and speedupStatus() — checked by a test — says which ones are active.
import {createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, verify as cryptoVerify, type KeyObject} from 'node:crypto'
import ssh2 from 'ssh2'
import type {ParsedKey} from 'ssh2'

const status = {clientKeyObject: false, skipHostKeysProve: false, curve25519Jwk: false, ed25519VerifyJwk: false}

/** Which adjustments are in effect (for tests and --debug). */
export function speedupStatus(): Readonly<typeof status> {
  return status
}

/**
 * ssh2 signs with the PEM text of the key, so OpenSSL decodes the private key on every login (~0.8 ms for ed25519).
 * Decode it once into a KeyObject and let ssh2's own sign() use that.
 */
export function withKeyObject(key: ParsedKey): ParsedKey {
  const pemSym = Object.getOwnPropertySymbols(key).find((s) => s.description === 'Private key PEM')
  const holder = key as unknown as Record<symbol, unknown>
  if (!pemSym || typeof holder[pemSym] !== 'string') return key
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey(holder[pemSym] as string)
  } catch {
    return key
  }
  const fast = Object.create(key) as Record<symbol, unknown>
  fast[pemSym] = keyObject
  const sign = key.sign
  key.sign = (data: Buffer, algo?: string) => sign.call(fast as unknown as ParsedKey, data, algo)
  status.clientKeyObject = true
  return key
}

type Ssh2Client = InstanceType<typeof ssh2.Client>

/**
 * OpenSSH servers announce all their host keys after login (hostkeys-00@openssh.com) and ssh2 answers every time by
 * asking the server to prove each one (hostkeys-prove-00): one server signature and one client verification per host
 * key (RSA + ECDSA + Ed25519 on a stock server) for keys belt never uses. Drop that request, and the reply callback
 * ssh2 queued for it, for this client only.
 */
export function skipHostKeysProve(client: Ssh2Client): void {
  const c = client as unknown as {_protocol?: Record<string, unknown>; _callbacks?: unknown[]}
  const proto = c._protocol
  if (!proto || typeof proto.openssh_hostKeysProve !== 'function' || !Array.isArray(c._callbacks)) return
  proto.openssh_hostKeysProve = () => {
    c._callbacks!.pop()
  }
  status.skipHostKeysProve = true
  patchKexOnce(proto)
}

// --- curve25519 key exchange: raw keys through JWK instead of DER (OpenSSL 3's DER decoder costs ~0.2 ms a time) ---

/** The key-exchange class is private to ssh2; catch its prototype when the first exchange object is assigned. */
function patchKexOnce(protocol: Record<string, unknown>): void {
  if (status.curve25519Jwk) return
  let value: unknown = protocol._kex
  Object.defineProperty(protocol, '_kex', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (v: unknown) => {
      value = v
      const k = v as {type?: string} | null
      if (k && typeof k === 'object' && k.type === '25519') {
        patchCurve25519(Object.getPrototypeOf(k))
        // Back to a plain property: later connections pay nothing for this watch.
        Object.defineProperty(protocol, '_kex', {configurable: true, enumerable: true, writable: true, value: v})
      }
    },
  })
}

function toMpint(buf: Buffer): Buffer {
  let idx = 0
  while (idx < buf.length - 1 && buf[idx] === 0) idx++
  const body = buf.subarray(idx)
  return body[0] & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : Buffer.from(body)
}

function patchCurve25519(proto: Record<string, unknown>): void {
  if (!proto || typeof proto.getPublicKey !== 'function' || typeof proto.computeSecret !== 'function') return
  type Kex = {_keys: {publicKey: KeyObject; privateKey: KeyObject} | null}
  proto.generateKeys = function (this: Kex) {
    if (!this._keys) this._keys = generateKeyPairSync('x25519')
  }
  proto.getPublicKey = function (this: Kex) {
    if (!this._keys) this._keys = generateKeyPairSync('x25519')
    return Buffer.from(this._keys.publicKey.export({format: 'jwk'}).x as string, 'base64url')
  }
  proto.computeSecret = function (this: Kex, other: Buffer) {
    if (!this._keys) this._keys = generateKeyPairSync('x25519')
    try {
      if (other.length !== 32) throw new Error('invalid curve25519 public key length')
      const publicKey = createPublicKey({key: {kty: 'OKP', crv: 'X25519', x: other.toString('base64url')}, format: 'jwk'})
      return toMpint(diffieHellman({privateKey: this._keys.privateKey, publicKey}))
    } catch (err) {
      return err
    }
  }
  status.curve25519Jwk = true
}

// --- host key signature check: Ed25519 public keys through JWK instead of PEM ---

function patchEd25519Verify(): void {
  const probe = ssh2.utils.parseKey('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHkZGYbjtMvT6O1iKMKNL2R8L81upFrfRPMIeksnQ4S7')
  if (probe instanceof Error || Array.isArray(probe)) return
  let base: Record<string, unknown> | null = Object.getPrototypeOf(probe)
  while (base && !Object.prototype.hasOwnProperty.call(base, 'verify')) base = Object.getPrototypeOf(base)
  if (!base || typeof base.verify !== 'function') return
  const original = base.verify as (this: ParsedKey, data: Buffer, sig: Buffer, algo?: string) => boolean | Error
  base.verify = function (this: ParsedKey, data: Buffer, signature: Buffer, algo?: string) {
    if (this.type !== 'ssh-ed25519') return original.call(this, data, signature, algo)
    const blob = this.getPublicSSH()
    if (!Buffer.isBuffer(blob) || blob.length < 32) return original.call(this, data, signature, algo)
    try {
      const key = createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: blob.subarray(blob.length - 32).toString('base64url')}, format: 'jwk'})
      return cryptoVerify(null, data, key, signature)
    } catch (err) {
      return err as Error
    }
  }
  status.ed25519VerifyJwk = true
}

patchEd25519Verify()
