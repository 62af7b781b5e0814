// ssh/jump.ts and core/config/jump.ts: the ssh_jump value, ssh_address routing, and the jump host itself against
// two in-process ssh2 servers on loopback — a bastion that forwards direct-tcpip channels (and counts its TCP
// connections) and a node behind it: many node sessions share ONE bastion connection, a dropped one is reopened
// once, and a bastion whose key differs from the pinned one is refused.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {connect, type AddressInfo} from 'node:net'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import ssh2 from 'ssh2'
import {jumpArgument, jumpCidr, parseJump} from '../../../src/core/config/jump.js'
import {Credentials} from '../../../src/ssh/auth.js'
import {JumpHost, jumpCommandNote, routedEndpoint} from '../../../src/ssh/jump.js'
import {KnownHosts} from '../../../src/ssh/known-hosts.js'
import {openSession, type SessionSettings} from '../../../src/ssh/session.js'
import type {SshEndpoint} from '../../../src/providers/provider.js'

test('parseJump: [user@]host[:port], IPv6 in brackets; reasons for the rest', () => {
  assert.deepEqual(parseJump('admin@203.0.113.5'), {user: 'admin', host: '203.0.113.5', port: 22, text: 'admin@203.0.113.5'})
  assert.deepEqual(parseJump('bastion.example.com:2222'), {user: null, host: 'bastion.example.com', port: 2222, text: 'bastion.example.com:2222'})
  assert.deepEqual(parseJump('ops@[2001:db8::1]:22'), {user: 'ops', host: '2001:db8::1', port: 22, text: 'ops@[2001:db8::1]:22'})
  assert.match(parseJump('root@h:0') as string, /'0' is not a port/)
  assert.match(parseJump('root@h:x') as string, /'x' is not a port/)
  assert.match(parseJump('root@2001:db8::1') as string, /needs brackets/)
  assert.match(parseJump('root@[nope]:22') as string, /not an IPv6 address/)
  assert.match(parseJump('a b@h') as string, /not a user name/)
  assert.match(parseJump('root@') as string, /is not a host name/)
  assert.equal(parseJump(''), 'not a string')
  assert.equal(parseJump(5), 'not a string')
  assert.equal(jumpArgument(parseJump('[2001:db8::1]:2222') as never, 'root'), 'root@[2001:db8::1]:2222')
  assert.equal(jumpArgument(parseJump('ops@h') as never, 'root'), 'ops@h')
})

test('jumpCidr: an address becomes /32 or /128; a host name none', () => {
  assert.equal(jumpCidr('admin@198.51.100.9:2222'), '198.51.100.9/32')
  assert.equal(jumpCidr('[2001:db8::1]'), '2001:db8::1/128')
  assert.equal(jumpCidr('bastion.example.com'), null)
  assert.equal(jumpCidr(undefined), null)
})

test('routedEndpoint: ssh_address private dials the private address when known', () => {
  const ep: SshEndpoint = {name: 'w1', host: '203.0.113.11', port: 22, user: 'root', private_ip: '10.0.0.11', public_ip: '203.0.113.11'}
  assert.equal(routedEndpoint(ep, 'private').host, '10.0.0.11')
  assert.equal(routedEndpoint(ep, 'public'), ep)
  assert.equal(routedEndpoint({...ep, private_ip: null}, 'private').host, '203.0.113.11')
})

test('jumpCommandNote: ssh -J with the cluster known_hosts; none without ssh_jump', () => {
  assert.equal(jumpCommandNote({ssh_jump: '10.0.0.1:2222', ssh_user: 'ubuntu'}, '/p/known_hosts'),
    "# each command runs over SSH through the bastion, as: ssh -J ubuntu@10.0.0.1:2222 -o UserKnownHostsFile=/p/known_hosts ubuntu@NODE-ADDRESS '...'")
  assert.equal(jumpCommandNote({ssh_user: 'root'}, '/p/known_hosts'), null)
})

interface Lab {
  bastionPort: number
  nodePort: number
  /** TCP connections the bastion accepted. */
  bastionConnections: () => number
  dropBastionConnections: () => void
  dir: string
  keyPath: string
  close: () => Promise<void>
}

async function startLab(): Promise<Lab> {
  const dir = mkdtempSync(join(tmpdir(), 'belt-jump-'))
  const user = ssh2.utils.generateKeyPairSync('ed25519')
  const keyPath = join(dir, 'id_ed25519')
  writeFileSync(keyPath, user.private, {mode: 0o600})
  const acceptAll = (client: ssh2.Connection) => {
    client.on('authentication', (ctx) => (ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey'])))
  }
  const clients: ssh2.Connection[] = []
  let connections = 0
  // The connection listener runs once per TCP connection: it counts them.
  const bastion = new ssh2.Server({hostKeys: [ssh2.utils.generateKeyPairSync('ed25519').private]}, (client) => {
    connections++
    clients.push(client)
    acceptAll(client)
    client.on('tcpip', (accept, reject, info) => {
      const upstream = connect(info.destPort, info.destIP)
      upstream.once('connect', () => {
        const ch = accept()
        ch.pipe(upstream).pipe(ch)
        ch.on('close', () => upstream.destroy())
      })
      upstream.once('error', () => reject())
    })
    client.on('error', () => {})
  })
  const node = new ssh2.Server({hostKeys: [ssh2.utils.generateKeyPairSync('ed25519').private]}, (client) => {
    acceptAll(client)
    client.on('session', (accept) => {
      accept().on('exec', (acc, _rej, info) => {
        const ch = acc()
        ch.write(`ran ${info.command}\n`)
        ch.exit(0)
        ch.end()
      })
    })
    client.on('error', () => {})
  })
  const listen = (s: InstanceType<typeof ssh2.Server>) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)))
  const bastionPort = await listen(bastion)
  const nodePort = await listen(node)
  return {
    bastionPort, nodePort, dir, keyPath,
    bastionConnections: () => connections,
    dropBastionConnections: () => { for (const c of clients.splice(0)) c.end() },
    close: async () => {
      for (const c of clients) c.end()
      await new Promise<void>((r) => bastion.close(() => r()))
      await new Promise<void>((r) => node.close(() => r()))
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met within 10s')
    await new Promise((r) => setImmediate(r))
  }
}

function settingsFor(lab: Lab, knownHosts: string): SessionSettings {
  return {
    credentials: new Credentials({sshKey: lab.keyPath, env: {HOME: lab.dir}, home: lab.dir}),
    knownHosts: new KnownHosts(knownHosts),
    strict: 'accept-new',
    connectTimeoutMs: 5_000,
    keepaliveMs: 15_000,
  }
}

test('JumpHost: 30 node sessions over ONE bastion connection; a drop reconnects once; a second drop is final', async (t) => {
  const lab = await startLab()
  t.after(() => lab.close())
  const settings = settingsFor(lab, join(lab.dir, 'known_hosts'))
  const jump = new JumpHost(parseJump(`root@127.0.0.1:${lab.bastionPort}`) as never, 'root', settings)
  t.after(() => jump.close())
  const node: SshEndpoint = {name: 'w', host: '127.0.0.1', port: lab.nodePort, user: 'root', private_ip: null, public_ip: null}
  const runOne = async (i: number) => {
    const session = await openSession(node, settings, {sock: await jump.channelTo(node.host, node.port)})
    try {
      return (await session.exec(`job ${i}`)).stdout
    } finally {
      session.close()
    }
  }
  // A node the bastion cannot reach: one line naming the bastion and the node, retryable like a refused connection.
  const refused = await jump.channelTo('127.0.0.1', 1).then(() => null, (e: Error & {retryable?: boolean}) => e)
  assert.match(refused?.message ?? '', /^jump host root@127\.0\.0\.1:\d+ could not connect to 127\.0\.0\.1:1 for us: /)
  assert.equal(refused?.retryable, true)
  const outputs = await Promise.all(Array.from({length: 30}, (_, i) => runOne(i)))
  assert.deepEqual(outputs, Array.from({length: 30}, (_, i) => `ran job ${i}\n`))
  assert.equal(lab.bastionConnections(), 1)
  assert.equal(jump.opened, 1)

  lab.dropBastionConnections()
  await until(() => jump.lost === 1)
  assert.equal(await runOne(31), 'ran job 31\n', 'reconnected after the drop')
  assert.equal(lab.bastionConnections(), 2)
  lab.dropBastionConnections()
  await until(() => jump.lost === 2)
  await assert.rejects(runOne(32), /lost twice; not reconnecting/)
  assert.equal(lab.bastionConnections(), 2)
})

test('JumpHost: the bastion key is pinned in known_hosts; another key is refused in one line', async (t) => {
  const lab = await startLab()
  t.after(() => lab.close())
  const knownHosts = join(lab.dir, 'known_hosts')
  const other = ssh2.utils.generateKeyPairSync('ed25519').public.split(' ')[1]
  writeFileSync(knownHosts, `[127.0.0.1]:${lab.bastionPort} ssh-ed25519 ${other}\n`)
  const jump = new JumpHost(parseJump(`root@127.0.0.1:${lab.bastionPort}`) as never, 'root', settingsFor(lab, knownHosts))
  t.after(() => jump.close())
  const err = await jump.channelTo('127.0.0.1', lab.nodePort).then(() => null, (e: Error) => e)
  assert.ok(err)
  assert.match(err.message, new RegExp(`^HOST KEY CHANGED for the jump host root@127\\.0\\.0\\.1:${lab.bastionPort} .*refused \\(possible man-in-the-middle\\)`))
  assert.doesNotMatch(err.message, /\n/)
  // Every later caller gets the same answer, without another login attempt.
  await assert.rejects(jump.channelTo('127.0.0.1', lab.nodePort), /HOST KEY CHANGED/)
  assert.equal(lab.bastionConnections(), 1)
})
