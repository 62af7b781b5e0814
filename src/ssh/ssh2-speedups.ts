// Speed-ups to ssh2's private internals, fenced. CPU per host matters at 2,000 hosts: most of ssh2's cost per
// connection is not SSH itself but OpenSSL 3 decoding PEM/DER key text again on every call (~0.1 ms each) and an
// extra host-key proof round. These adjustments keep ssh2's protocol code and change only how keys reach OpenSSL.
//
// Nothing here runs at import. The SSH context installs them (installSsh2Speedups, withKeyObject on each parsed key,
// skipHostKeysProve on each client). Each one first checks that the internals it touches look as in the ssh2 version
// package.json pins, and self-tests against ssh2's own code where it replaces a computation; when anything differs it
// leaves ssh2 alone and says why on `--debug` (belt:ssh2-speedups). An ssh2 update can cost speed, never logins.
// speedupStatus() says which ones are active (test/unit/ssh/ssh2-speedups.test.ts, test/e2e/ssh-fleet.test.ts).
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
  sign as cryptoSign,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto'
import ssh2 from 'ssh2'
import type {ParsedKey} from 'ssh2'
import {debugLog} from '../core/debug.js'

const debug = debugLog('ssh2-speedups')

type Speedup = 'clientKeyObject' | 'skipHostKeysProve' | 'curve25519Jwk' | 'ed25519VerifyJwk'
const status: Record<Speedup, boolean> = {clientKeyObject: false, skipHostKeysProve: false, curve25519Jwk: false, ed25519VerifyJwk: false}

/** Which adjustments are in effect (the latest verdict for the per-key and per-connection ones). */
export function speedupStatus(): Readonly<Record<Speedup, boolean>> {
  return status
}

/** Each reason is told once per process: the checks that fail run for every key or connection. */
const told = new Set<string>()
function off(speedup: Speedup, reason: string): false {
  status[speedup] = false
  const line = `${speedup} off: ${reason}; ssh2's own code is used`
  if (!told.has(line)) {
    told.add(line)
    debug(line)
  }
  return false
}

/** The process-wide adjustment (how ssh2 checks Ed25519 signatures). Called by BeltSshContext; safe to call again. */
export function installSsh2Speedups(): Readonly<Record<Speedup, boolean>> {
  installEd25519Verify()
  return status
}

type Fn = (...args: never[]) => unknown

// --- client key: sign with a decoded KeyObject instead of PEM text ---

/**
 * ssh2 signs with the PEM text of the key, so OpenSSL decodes the private key on every login (~0.8 ms for ed25519).
 * Decode it once into a KeyObject and let ssh2's own sign() use that. Kept only if a signature made that way
 * verifies with ssh2's own verify().
 */
export function withKeyObject(key: ParsedKey): ParsedKey {
  const skip = (reason: string) => (off('clientKeyObject', reason), key)
  const pemSym = Object.getOwnPropertySymbols(key).find((s) => s.description === 'Private key PEM')
  const holder = key as unknown as Record<symbol, unknown>
  if (!pemSym) return skip('parsed keys have no "Private key PEM" symbol')
  if (typeof holder[pemSym] !== 'string') return skip('the private key is not held as PEM text')
  if (typeof key.sign !== 'function' || typeof key.verify !== 'function') return skip('parsed keys have no sign()/verify()')
  let keyObject: KeyObject
  try {
    keyObject = createPrivateKey(holder[pemSym] as string)
  } catch {
    return skip('OpenSSL could not decode the key ssh2 parsed')
  }
  const fast = Object.create(key) as Record<symbol, unknown>
  fast[pemSym] = keyObject
  const sign = key.sign
  const fastSign = (data: Buffer, algo?: string) => sign.call(fast as unknown as ParsedKey, data, algo)
  const probe = randomBytes(32)
  const signature = fastSign(probe)
  if (!Buffer.isBuffer(signature) || key.verify(probe, signature) !== true) {
    return skip('a signature made with the decoded key did not verify')
  }
  key.sign = fastSign
  status.clientKeyObject = true
  return key
}

// --- host key proofs: not asked for ---

type Ssh2Client = InstanceType<typeof ssh2.Client>
const proveChecked = new WeakMap<Fn, string | null>()

/** Why `fn` is not the hostkeys-prove-00 sender this patch expects (null when it is). */
function proveProblem(fn: unknown): string | null {
  if (typeof fn !== 'function') return 'the protocol has no openssh_hostKeysProve()'
  let problem = proveChecked.get(fn as Fn)
  if (problem === undefined) {
    problem = fn.length !== 1 || !Function.prototype.toString.call(fn).includes('hostkeys-prove-00@openssh.com')
      ? 'openssh_hostKeysProve() is not the one-argument hostkeys-prove-00 sender'
      : null
    proveChecked.set(fn as Fn, problem)
  }
  return problem
}

/**
 * OpenSSH servers announce all their host keys after login (hostkeys-00@openssh.com) and ssh2 answers every time by
 * asking the server to prove each one (hostkeys-prove-00): one server signature and one client verification per host
 * key (RSA + ECDSA + Ed25519 on a stock server) for keys belt never uses. For this client only, don't send that
 * request and drop the reply callback ssh2 queued just before sending it. Also arms the curve25519 adjustment.
 */
export function skipHostKeysProve(client: Ssh2Client): void {
  const c = client as unknown as {_protocol?: Record<string, unknown>; _callbacks?: unknown[]}
  const proto = c._protocol
  if (!proto || typeof proto !== 'object') return void off('skipHostKeysProve', 'the client has no _protocol')
  const problem = proveProblem(proto.openssh_hostKeysProve)
  if (problem) off('skipHostKeysProve', problem)
  else if (!Array.isArray(c._callbacks)) off('skipHostKeysProve', 'the client has no _callbacks queue')
  else {
    const original = proto.openssh_hostKeysProve as (keys: unknown) => void
    proto.openssh_hostKeysProve = function (keys: unknown) {
      // ssh2 1.17 pushes the reply callback, then calls this: the callback is the queue's last entry.
      if (Array.isArray(c._callbacks) && typeof c._callbacks.at(-1) === 'function') c._callbacks.pop()
      else original.call(this, keys)
    }
    status.skipHostKeysProve = true
  }
  watchKex(proto)
}

// --- curve25519 key exchange: raw keys through JWK instead of DER (OpenSSL 3's DER decoder costs ~0.2 ms a time) ---

interface Curve25519Kex {
  _keys: {publicKey: KeyObject; privateKey: KeyObject} | null
  generateKeys(): void
  getPublicKey(): Buffer
  computeSecret(other: Buffer): Buffer | Error
}
type KexPrototype = Record<string, unknown> & Partial<Curve25519Kex>

/** The raw key of an X25519/Ed25519 public key: the last 32 bytes of its SPKI DER. */
const RAW_25519_BYTES = 32
/** The raw public key of each key pair our generateKeys() made, encoded by the generating job itself. */
const rawPublicKeys = new WeakMap<object, Buffer>()

/**
 * An X25519 key pair whose public half the generating job already encodes (DER). Not a later JWK export of the
 * KeyObject: in Node 20 the GC may collect the key's generating job while that export holds the key's mutex, and the
 * process deadlocks (seen at 2,000 logins). The public KeyObject is made only if something asks for it.
 */
function x25519KeyPair(): {publicKey: KeyObject; privateKey: KeyObject} {
  // Only the public half is encoded; Node returns the private half as a KeyObject (its types want both encodings).
  const pair = generateKeyPairSync('x25519', {publicKeyEncoding: {type: 'spki', format: 'der'}}) as unknown as {publicKey: Buffer; privateKey: KeyObject}
  const der = pair.publicKey
  let publicKey: KeyObject | null = null
  const keys = {
    privateKey: pair.privateKey,
    get publicKey(): KeyObject {
      return (publicKey ??= createPublicKey({key: der, format: 'der', type: 'spki'}))
    },
  }
  rawPublicKeys.set(keys, der.subarray(der.length - RAW_25519_BYTES))
  return keys
}

function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({type: 'spki', format: 'der'})
  return der.subarray(der.length - RAW_25519_BYTES)
}

/** Our versions of the three methods, installed once on ssh2's (private) curve25519 exchange class. */
const jwkCurve25519: Pick<Curve25519Kex, 'generateKeys' | 'getPublicKey' | 'computeSecret'> = {
  generateKeys(this: Curve25519Kex) {
    if (!this._keys) this._keys = x25519KeyPair()
  },
  getPublicKey(this: Curve25519Kex) {
    if (!this._keys) this._keys = x25519KeyPair()
    return rawPublicKeys.get(this._keys) ?? rawPublicKey(this._keys.publicKey)
  },
  computeSecret(this: Curve25519Kex, other: Buffer) {
    if (!this._keys) this._keys = x25519KeyPair()
    try {
      if (other.length !== 32) throw new Error('invalid curve25519 public key length')
      const publicKey = createPublicKey({key: {kty: 'OKP', crv: 'X25519', x: other.toString('base64url')}, format: 'jwk'})
      return toMpint(diffieHellman({privateKey: this._keys.privateKey, publicKey}))
    } catch (err) {
      return err as Error
    }
  },
}

/** The key-exchange class is private to ssh2: catch its prototype when the first exchange object is assigned. */
function watchKex(protocol: Record<string, unknown>): void {
  if (status.curve25519Jwk) return
  const slot = Object.getOwnPropertyDescriptor(protocol, '_kex')
  if (!slot || !slot.configurable || !slot.writable) return void off('curve25519Jwk', 'the protocol has no plain _kex property')
  let value: unknown = slot.value
  Object.defineProperty(protocol, '_kex', {
    configurable: true,
    enumerable: slot.enumerable,
    get: () => value,
    set: (v: unknown) => {
      value = v
      const k = v as {type?: unknown} | null
      if (!k || typeof k !== 'object' || k.type !== '25519') return
      useJwkCurve25519(Object.getPrototypeOf(k) as KexPrototype)
      // Back to a plain property: the rest of this connection pays nothing for the watch.
      Object.defineProperty(protocol, '_kex', {configurable: true, enumerable: slot.enumerable, writable: true, value: v})
    },
  })
}

/** ssh2 methods whose self-test failed: not tested again on every connection. */
const kexFailed = new WeakSet<Fn>()

function useJwkCurve25519(proto: KexPrototype): void {
  if (proto.computeSecret === jwkCurve25519.computeSecret) return void (status.curve25519Jwk = true)
  const {generateKeys, getPublicKey, computeSecret} = proto
  if (typeof generateKeys !== 'function' || typeof getPublicKey !== 'function' || typeof computeSecret !== 'function') {
    return void off('curve25519Jwk', 'the curve25519 exchange has no generateKeys/getPublicKey/computeSecret')
  }
  if (kexFailed.has(computeSecret as Fn) || !sameAsSsh2(proto)) {
    kexFailed.add(computeSecret as Fn)
    return void off('curve25519Jwk', 'the curve25519 self-test failed')
  }
  Object.assign(proto, jwkCurve25519)
  status.curve25519Jwk = true
}

/**
 * Our methods read the key pair ssh2's own generateKeys() made (same `_keys` field) and agree with ssh2's own
 * computeSecret() on the shared secret, in both directions. Runs once per ssh2 class, on bare instances.
 */
function sameAsSsh2(proto: KexPrototype): boolean {
  try {
    const theirs = Object.assign(Object.create(proto) as Curve25519Kex, {_keys: null})
    const ours = Object.assign(Object.create(proto) as Curve25519Kex, {_keys: null})
    const theirPublic = proto.getPublicKey!.call(theirs)
    const ourPublic = jwkCurve25519.getPublicKey.call(ours)
    const a = proto.computeSecret!.call(theirs, ourPublic)
    const b = jwkCurve25519.computeSecret.call(ours, theirPublic)
    const c = jwkCurve25519.computeSecret.call(theirs, ourPublic)
    return Buffer.isBuffer(theirPublic) && theirPublic.equals(jwkCurve25519.getPublicKey.call(theirs))
      && Buffer.isBuffer(a) && Buffer.isBuffer(b) && Buffer.isBuffer(c) && a.equals(b) && a.equals(c)
  } catch {
    return false
  }
}

function toMpint(buf: Buffer): Buffer {
  let idx = 0
  while (idx < buf.length - 1 && buf[idx] === 0) idx++
  const body = buf.subarray(idx)
  return body[0] & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : Buffer.from(body)
}

// --- host key signature check: Ed25519 public keys through JWK instead of PEM ---

type Verify = (this: ParsedKey, data: Buffer, signature: Buffer, algo?: string) => boolean | Error
let ourVerify: Verify | null = null
/** ssh2 verify() methods whose self-test failed. */
const verifyFailed = new WeakSet<Fn>()

function jwkVerify(original: Verify): Verify {
  return function verify(this: ParsedKey, data: Buffer, signature: Buffer, algo?: string) {
    if (this.type !== 'ssh-ed25519') return original.call(this, data, signature, algo)
    const blob = this.getPublicSSH()
    if (!Buffer.isBuffer(blob) || blob.length < 32) return original.call(this, data, signature, algo)
    try {
      const x = blob.subarray(blob.length - 32).toString('base64url')
      return cryptoVerify(null, data, createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x}, format: 'jwk'}), signature)
    } catch (err) {
      return err as Error
    }
  }
}

/** A fresh Ed25519 key as ssh2 parses it, and a good and a bad signature from it. */
function ed25519Probe(): {key: ParsedKey; data: Buffer; good: Buffer; bad: Buffer} | null {
  const {publicKey, privateKey} = generateKeyPairSync('ed25519')
  const sshString = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  const raw = rawPublicKey(publicKey)
  const blob = Buffer.concat([sshString(Buffer.from('ssh-ed25519')), sshString(raw)])
  const key = ssh2.utils.parseKey(`ssh-ed25519 ${blob.toString('base64')}`)
  if (key instanceof Error || Array.isArray(key)) return null
  const data = randomBytes(32)
  const good = cryptoSign(null, data, privateKey)
  const bad = Buffer.from(good)
  bad[0] ^= 1
  return {key, data, good, bad}
}

function installEd25519Verify(): void {
  const probe = ed25519Probe()
  if (!probe) return void off('ed25519VerifyJwk', 'ssh2 cannot parse an ssh-ed25519 public key')
  let base: Record<string, unknown> | null = Object.getPrototypeOf(probe.key)
  while (base && !Object.prototype.hasOwnProperty.call(base, 'verify')) base = Object.getPrototypeOf(base)
  if (!base || typeof base.verify !== 'function') return void off('ed25519VerifyJwk', 'parsed keys inherit no verify()')
  if (base.verify === ourVerify) {
    if (probe.key.verify === ourVerify) return void (status.ed25519VerifyJwk = true)
    return void off('ed25519VerifyJwk', 'parsed keys do not use the inherited verify()')
  }
  const original = base.verify as Verify
  if (verifyFailed.has(original)) return void off('ed25519VerifyJwk', 'the Ed25519 self-test failed')
  const patched = jwkVerify(original)
  const {key, data, good, bad} = probe
  const agrees = original.call(key, data, good) === true && patched.call(key, data, good) === true
    && original.call(key, data, bad) === false && patched.call(key, data, bad) === false
  if (!agrees) {
    verifyFailed.add(original)
    return void off('ed25519VerifyJwk', 'the Ed25519 self-test failed')
  }
  base.verify = patched
  // A key that carries its own verify() would never reach the prototype's.
  if (key.verify !== patched) {
    base.verify = original
    return void off('ed25519VerifyJwk', 'parsed keys do not use the inherited verify()')
  }
  ourVerify = patched
  status.ed25519VerifyJwk = true
}
