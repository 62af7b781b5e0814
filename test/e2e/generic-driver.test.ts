// The generic driver against real machines: two local-driver hosts (real sshd) listed in a generic config.yml,
// one address nobody answers on and one closed port. `ls`/`status`/`ip` show them honestly; `create`/`rm` refuse
// (exit 2); every endpoint (string form, map form with its own user/port/key) logs in with the real OpenSSH client.
// Needs root for the local hosts. Subnet 10.214.2.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {loadClusterAt, type Cluster} from '../../src/core/config/cluster.js'
import {GenericProvider} from '../../src/providers/generic/index.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'


const skip = skipUnless({root: 'local hosts for the generic driver to point at', commands: ['dockerd', 'ssh', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables']})

function sh(cmd: string, args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, {env: cleanEnv(), timeout: 60_000}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, signal: null, stdout: String(stdout), stderr: String(stderr)})
    })
  })
}

interface Node {
  name: string
  status: string
  provider_status: string | null
  public_ip: string | null
  private_ip: string | null
  [k: string]: unknown
}

test('generic driver: hosts from config.yml, active/unreachable, create and rm refused, per-host endpoints', {skip, timeout: 5 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-generic-e2e-')
  const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 120_000})
  t.after(async () => {
    let rm = await run('--cluster', 'gsrc', 'rm', '--all', '--force')
    if (rm.code !== 0) rm = await run('--cluster', 'gsrc', 'rm', '--all', '--force')
    if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
    cleanup()
  })

  // Two real machines to point at: local-driver hosts with their own sshd.
  ok(await run('cluster', 'new', 'gsrc', '--driver', 'local', 'subnet=10.214.2.0/24'), 'cluster new gsrc')
  ok(await run('--cluster', 'gsrc', 'create', '1gb', 'h[1:2]'), 'create local hosts')
  const key = join(dir, '.belt', 'gsrc', 'ssh', 'id_ed25519')

  ok(await run('cluster', 'new', 'gen', '--driver', 'generic'), 'cluster new gen')
  const configPath = join(dir, '.belt', 'gen', 'config.yml')
  writeFileSync(configPath, `driver: generic
generic:
  ssh_user: root
  ssh_key: ${key}
  hosts:
    g1: 10.214.2.2
    g2:
      address: 10.214.2.3
      private_address: 10.214.2.3
      user: root
      port: 22
      ssh_key: ${key}
    g3: 10.214.2.200        # inside the bridge's subnet, nobody there
    g4:
      address: 10.214.2.2
      port: 2222            # a real machine, a closed port
`)
  const gen = (...args: string[]) => run('--cluster', 'gen', ...args)

  // --- ls / status / ip --------------------------------------------------------------------------------------
  let r = await gen('ls', '--json')
  ok(r, 'ls')
  const nodes = JSON.parse(r.stdout) as Node[]
  assert.deepEqual(nodes.map((n) => [n.name, n.status]), [['g1', 'active'], ['g2', 'active'], ['g3', 'unreachable'], ['g4', 'unreachable']])
  for (const n of nodes) assert.deepEqual(Object.keys(n).sort(), ['id', 'memory_mb', 'name', 'private_ip', 'provider_status', 'public_ip', 'region', 'size', 'status', 'tags'])
  const byName = Object.fromEntries(nodes.map((n) => [n.name, n]))
  assert.equal(byName.g1.public_ip, '10.214.2.2')
  assert.equal(byName.g1.private_ip, null, 'no private_address given: unknown, not guessed')
  assert.equal(byName.g2.private_ip, '10.214.2.3')
  assert.match(byName.g4.provider_status!, /2222: connection refused/)
  assert.match(byName.g3.provider_status!, /ssh port 22: (no answer|no route)/)
  r = await gen('ls')
  ok(r, 'ls table')
  assert.match(r.stdout, /^g3\s+-\s+unreachable\s+10\.214\.2\.200/m)

  r = await gen('status', '--json')
  assert.deepEqual(JSON.parse(r.stdout).counts, {active: 2, unreachable: 2})
  ok(await gen('status', '--wait', 'active=2', '--timeout', '30s'), 'status --wait active=2')
  r = await gen('status', '--wait', 'active=3', '--timeout', '2s')
  assert.equal(r.code, 1, 'waiting for more active hosts than there are times out with exit 1')

  r = await gen('ip', 'g1', 'g2')
  ok(r, 'ip')
  assert.deepEqual(r.stdout.trim().split('\n'), ['10.214.2.2', '10.214.2.3'])
  r = await gen('ip', 'g2', '--private')
  assert.equal(r.stdout.trim(), '10.214.2.3')
  r = await gen('ip', 'g1', '--private')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no private address/)

  // --- create and rm do not apply ----------------------------------------------------------------------------
  r = await gen('create', '1gb', 'g5')
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /the generic driver uses the hosts in config\.yml: add one with belt cluster update hosts\.NAME=ADDRESS/)
  assert.equal(r.stderr.trim().split('\n').length, 1)
  r = await gen('rm', 'g1', '--force')
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /belt cluster update hosts\.NAME=/)

  // The documented way to add and drop a host works, and ls follows config.yml.
  ok(await gen('cluster', 'update', 'hosts.g5=10.214.2.3'), 'cluster update hosts.g5=')
  ok(await gen('cluster', 'update', 'hosts.g3='), 'cluster update hosts.g3= (remove)')
  r = await gen('ls', '--json')
  assert.deepEqual((JSON.parse(r.stdout) as Node[]).map((n) => [n.name, n.status]), [['g1', 'active'], ['g2', 'active'], ['g4', 'unreachable'], ['g5', 'active']])

  // --- endpoints: per-host user, port and key, as the SSH core receives them --------------------------------
  const provider = new GenericProvider(loadClusterAt('gen', join(dir, '.belt', 'gen'), configPath) as Cluster<'generic'>)
  const eps = await provider.endpoints(['g1', 'g2', 'g4', 'nosuch'])
  assert.deepEqual(eps.missing, ['nosuch'])
  const ep = Object.fromEntries(eps.found.map((e) => [e.name, e]))
  assert.deepEqual({...ep.g1}, {name: 'g1', host: '10.214.2.2', port: 22, user: 'root', private_ip: null, public_ip: '10.214.2.2'})
  assert.deepEqual({...ep.g2}, {name: 'g2', host: '10.214.2.3', port: 22, user: 'root', private_ip: '10.214.2.3', public_ip: '10.214.2.3', keyPath: key})
  assert.equal(ep.g4.port, 2222)
  for (const [name, hostname] of [['g1', 'h1'], ['g2', 'h2']]) {
    const e = ep[name]
    r = await sh('ssh', ['-i', e.keyPath ?? key, '-p', String(e.port), '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `${e.user}@${e.host}`, 'hostname'])
    ok(r, `ssh ${name}`)
    assert.equal(r.stdout.trim(), hostname)
  }
})
