// `belt rm` forgets the host keys of the nodes it removed: a node made again at the same address has a new host key
// and must not be refused as "changed". Real local-driver hosts and belt's own SSH. Needs root. Subnet 10.218.1.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'

const skip = skipUnless({root: 'network namespaces', commands: ['dockerd', 'sshd', 'ssh-keygen', 'ip', 'iptables', 'nsenter', 'unshare']})

test('rm forgets removed nodes\' host keys; a node made again at the same address is reachable', {skip}, async (t) => {
  const {dir, cleanup} = scratchDir()
  const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 300_000})
  t.after(async () => {
    await run('rm', '--all', '--force')
    cleanup()
  })
  let r = await run('cluster', 'new', 'kh', '--driver', 'local', 'subnet=10.218.1.0/24')
  assert.equal(r.code, 0, r.stderr)
  r = await run('create', '512mb', 'k[1:2]')
  assert.equal(r.code, 0, r.stderr)
  r = await run('ssh', 'k1', '--', 'hostname')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'k1')
  r = await run('ssh', 'k2', '--', 'true')
  assert.equal(r.code, 0, r.stderr)
  const kh = join(dir, '.belt', 'kh', 'known_hosts')
  const ip1 = (await run('ip', 'k1')).stdout.trim()
  const ip2 = (await run('ip', 'k2')).stdout.trim()
  assert.match(readFileSync(kh, 'utf8'), new RegExp(`^${ip1.replace(/\./g, '\\.')} `, 'm'))

  r = await run('rm', 'k1', '--force')
  assert.equal(r.code, 0, r.stderr)
  const after = existsSync(kh) ? readFileSync(kh, 'utf8') : ''
  assert.doesNotMatch(after, new RegExp(`^${ip1.replace(/\./g, '\\.')} `, 'm'), 'the removed node\'s key is forgotten')
  assert.match(after, new RegExp(`^${ip2.replace(/\./g, '\\.')} `, 'm'), 'the other node\'s key stays')

  r = await run('create', '512mb', 'k1')
  assert.equal(r.code, 0, r.stderr)
  assert.equal((await run('ip', 'k1')).stdout.trim(), ip1, 'made again at the same address')
  r = await run('ssh', 'k1', '--', 'hostname')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), 'k1')
})
