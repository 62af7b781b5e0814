// The fenced ssh2 speed-ups (src/ssh/ssh2-speedups.ts) against an in-process ssh2 Server, no root needed: belt logs
// in and runs a command with every speed-up active, and — with ssh2's internals changed the way an ssh2 update could
// change them — with every speed-up stepped aside. The server behaves like OpenSSH where the speed-ups matter: an
// Ed25519 host key, curve25519 key exchange, and a hostkeys-00@openssh.com announcement after login.
// The two scenarios share one process (the patches are process-wide), so they run in order: fallback first.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createPrivateKey} from 'node:crypto'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import type {Connection, ParsedKey} from 'ssh2'
import {loadClusterAt, type Cluster} from '../../../src/core/config/cluster.js'
import {BeltSshContext} from '../../../src/ssh/context.js'
import {speedupStatus} from '../../../src/ssh/ssh2-speedups.js'
import type {SshEndpoint} from '../../../src/providers/provider.js'

const require = createRequire(import.meta.url)
// ssh2's private modules, reached only by this test: the server needs them to send hostkeys-00 (ssh2 has no API
// for it), and the fallback scenario changes them.
const {sendPacket} = require('ssh2/lib/protocol/utils.js') as {sendPacket: (proto: unknown, packet: Buffer) => boolean}
const Protocol = require('ssh2/lib/protocol/Protocol.js') as {prototype: Record<string, unknown>}

const SSH_MSG_GLOBAL_REQUEST = 80
const ALL_OFF = {clientKeyObject: false, skipHostKeysProve: false, curve25519Jwk: false, ed25519VerifyJwk: false}
const ALL_ON = {clientKeyObject: true, skipHostKeysProve: true, curve25519Jwk: true, ed25519VerifyJwk: true}
const PROVE = 'hostkeys-prove-00@openssh.com'

const work = mkdtempSync(join(tmpdir(), 'belt-ssh2-speedups-'))
const hostKey = ssh2.utils.generateKeyPairSync('ed25519')
const clientKey = ssh2.utils.generateKeyPairSync('ed25519')
const keyPath = join(work, 'id_ed25519')
writeFileSync(keyPath, clientKey.private, {mode: 0o600})
const allowed = ssh2.utils.parseKey(clientKey.public) as ParsedKey
const hostPublic = (ssh2.utils.parseKey(hostKey.public) as ParsedKey).getPublicSSH()

/** What the server saw: global requests by name, finished connections. */
const seen = {requests: [] as string[], closed: 0}

/** OpenSSH's announcement of its host keys after login (want_reply false), which ssh2 answers with hostkeys-prove-00. */
function announceHostKeys(conn: Connection): void {
  type Writer = {allocStart: number; alloc(n: number): Buffer; finalize(b: Buffer): Buffer}
  const proto = (conn as unknown as {_protocol: {_packetRW: {write: Writer}}})._protocol
  const name = Buffer.from('hostkeys-00@openssh.com')
  const w = proto._packetRW.write
  let p = w.allocStart
  const packet = w.alloc(1 + 4 + name.length + 1 + 4 + hostPublic.length)
  packet[p] = SSH_MSG_GLOBAL_REQUEST
  packet.writeUInt32BE(name.length, ++p)
  name.copy(packet, (p += 4))
  packet[(p += name.length)] = 0
  packet.writeUInt32BE(hostPublic.length, ++p)
  hostPublic.copy(packet, p + 4)
  sendPacket(proto, w.finalize(packet))
}

const server = new ssh2.Server({
  hostKeys: [hostKey.private],
  // ssh2 asks only servers that name themselves OpenSSH for host-key proofs.
  ident: 'OpenSSH_9.6',
  debug: (line: string) => {
    const m = /Inbound: GLOBAL_REQUEST \((.*)\)$/.exec(line)
    if (m) seen.requests.push(m[1])
  },
}, (conn) => {
  conn.on('authentication', (ctx) => {
    const ours = ctx.method === 'publickey' && ctx.key.algo === allowed.type && ctx.key.data.equals(allowed.getPublicSSH())
    if (!ours) return ctx.reject(['publickey'])
    if (!ctx.signature) return ctx.accept() // the "would this key do?" query before signing
    if (allowed.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true) return ctx.accept()
    ctx.reject(['publickey'])
  })
  conn.on('ready', () => {
    announceHostKeys(conn)
    conn.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const stream = acceptExec()
        stream.write(`ran: ${info.command}\n`)
        stream.exit(0)
        stream.end()
      })
    })
  })
  conn.on('error', () => {})
  conn.on('close', () => seen.closed++)
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const port = (server.address() as AddressInfo).port
test.after(() => {
  server.close()
  rmSync(work, {recursive: true, force: true})
})

let clusters = 0
function cluster(): Cluster {
  const dir = join(work, '.belt', `c${clusters++}`)
  mkdirSync(dir, {recursive: true})
  writeFileSync(join(dir, 'config.yml'), `driver: generic\ngeneric:\n  ssh_key: ${JSON.stringify(keyPath)}\n`)
  return loadClusterAt(`c${clusters}`, dir, join(dir, 'config.yml'))
}

const endpoint: SshEndpoint = {name: 'n1', host: '127.0.0.1', port, user: 'belt', private_ip: null, public_ip: '127.0.0.1'}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!done()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((r) => setImmediate(r))
  }
}

/** Log in through a fresh SSH context (a fresh HOME: no agent, no ~/.ssh keys), run one command, close. */
async function loginAndRun(): Promise<{stdout: string; code: number | null; requests: string[]; queued: number}> {
  seen.requests = []
  const closedBefore = seen.closed
  const ctx = new BeltSshContext(cluster(), {connectTimeoutMs: 5000, env: {HOME: join(work, 'home')}})
  const session = await ctx.connect(endpoint)
  let r
  try {
    r = await session.exec('uname -a')
  } finally {
    session.close()
  }
  // Every packet the client sent has arrived once the server sees the connection close.
  await until('the server to see the connection close', () => seen.closed > closedBefore)
  const queued = ((session as unknown as {client: {_callbacks: unknown[]}}).client._callbacks ?? []).length
  return {stdout: r.stdout, code: r.code, requests: [...seen.requests], queued}
}

/** The prototype of ssh2's private curve25519 exchange class, from one plain ssh2 login. */
async function curve25519Prototype(): Promise<Record<string, unknown>> {
  const client = new ssh2.Client()
  const proto = await new Promise<Record<string, unknown>>((resolve, reject) => {
    client.on('ready', () => resolve(Object.getPrototypeOf((client as unknown as {_protocol: {_kex: object}})._protocol._kex)))
    client.on('error', reject)
    client.connect({host: '127.0.0.1', port, username: 'belt', privateKey: clientKey.private, algorithms: {kex: ['curve25519-sha256']}})
  })
  client.end()
  assert.equal(typeof proto.computeSecret, 'function', 'ssh2 has a curve25519 exchange class')
  return proto
}

/**
 * ssh2 as a later version might look, still consistent with itself, at each place a speed-up touches: the private
 * key held as a KeyObject rather than PEM text, verify() an own property of each parsed key, openssh_hostKeysProve
 * taking a second argument, the curve25519 key pair kept in another field. Returns the undo.
 */
function changeSsh2Internals(kex: Record<string, unknown>): () => void {
  const undo: (() => void)[] = []
  const utils = ssh2.utils as unknown as {parseKey: (...a: unknown[]) => unknown}
  const parseKey = utils.parseKey
  utils.parseKey = (...args: unknown[]) => {
    const parsed = parseKey(...args)
    for (const key of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!key || key instanceof Error) continue
      const k = key as ParsedKey & Record<symbol, unknown>
      const pem = Object.getOwnPropertySymbols(k).find((s) => s.description === 'Private key PEM')!
      if (typeof k[pem] === 'string') k[pem] = createPrivateKey(k[pem] as string)
      const verify = k.verify
      Object.defineProperty(k, 'verify', {value: verify, writable: true, configurable: true})
    }
    return parsed
  }
  undo.push(() => { utils.parseKey = parseKey })

  const prove = Protocol.prototype.openssh_hostKeysProve as (keys: unknown) => void
  Protocol.prototype.openssh_hostKeysProve = function (keys: unknown, _options?: unknown) {
    return prove.call(this, keys)
  }
  undo.push(() => { Protocol.prototype.openssh_hostKeysProve = prove })

  // The pair lives in _pair between calls; inside ssh2's methods (however nested) it is in _keys, as they expect.
  type Kex = {_keys?: unknown; _pair?: unknown; _inside?: boolean}
  const renamed = (fn: (...a: unknown[]) => unknown) => function (this: Kex, ...args: unknown[]) {
    if (this._inside) return fn.apply(this, args)
    this._inside = true
    this._keys = this._pair ?? null
    try {
      return fn.apply(this, args)
    } finally {
      this._pair = this._keys
      this._keys = null
      this._inside = false
    }
  }
  for (const m of ['generateKeys', 'getPublicKey', 'computeSecret']) {
    const original = kex[m] as (...a: unknown[]) => unknown
    kex[m] = renamed(original)
    undo.push(() => { kex[m] = original })
  }
  return () => undo.reverse().forEach((f) => f())
}

test('ssh2 speed-ups: fallback when the internals changed, then every speed-up active; both log in and run a command', async (t) => {
  const kex = await curve25519Prototype()

  await t.test('fallback: each speed-up sees the change and leaves ssh2 alone', async () => {
    const restore = changeSsh2Internals(kex)
    try {
      const r = await loginAndRun()
      assert.equal(r.code, 0)
      assert.equal(r.stdout, 'ran: uname -a\n')
      assert.deepEqual({...speedupStatus()}, ALL_OFF)
      // ssh2's own code answered the host-key announcement; its reply callback was consumed, not left queued.
      assert.deepEqual(r.requests, [PROVE])
      assert.equal(r.queued, 0)
      // Our versions were not installed on ssh2's classes.
      assert.ok(String(kex.computeSecret).includes('fn.apply'), 'curve25519 exchange left as ssh2 (changed) has it')
    } finally {
      restore()
    }
  })

  await t.test('patched: every speed-up active against the ssh2 version package.json pins', async () => {
    const r = await loginAndRun()
    assert.equal(r.code, 0)
    assert.equal(r.stdout, 'ran: uname -a\n')
    assert.deepEqual({...speedupStatus()}, ALL_ON)
    // No proof was asked for, and dropping its callback left ssh2's reply queue in step.
    assert.deepEqual(r.requests, [])
    assert.equal(r.queued, 0)
    // The server side shares ssh2's classes: a second login, with curve25519 and Ed25519 ours on both ends.
    const again = await loginAndRun()
    assert.equal(again.stdout, 'ran: uname -a\n')
  })
})
