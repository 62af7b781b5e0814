// Joining at boot on real hosts (local driver: namespaces with their own sshd and dockerd): a manager from
// `belt swarm init`, then `belt create 1gb 'w[1:3]' --join mg0`: the hosts run the boot-join user data at first boot
// and join by themselves — their sshd logs show no login at all — `docker node ls` shows them Ready, the old worker
// token is refused afterwards (rotated), and the token is in no output, log or state. Needs root; subnet
// 10.219.10.0/24 (helper "boot").
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const skip = skipUnless({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'curl'],
})

const CLUSTER = 'bootj'
let cwd: string
let cleanup: () => void

function run(...args: string[]): Promise<RunResult> {
  return belt(args, {cwd, timeoutMs: 600_000})
}

function state(): {nodes: Record<string, {dir: string}>} & Record<string, unknown> {
  return JSON.parse(readFileSync(join(cwd, '.belt', CLUSTER, 'state.json'), 'utf8'))
}

/** A host's own file (its private /var/log, /root), read from this machine. */
function hostFile(node: string, path: string): string {
  const file = join(state().nodes[node].dir, 'root', path)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-boot-join-local-'))
})

after(async () => {
  if (skip) return
  let rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${rm.code}\n${rm.stderr}\n`)
  cleanup()
})

test('create --join: three local hosts join the swarm by themselves at boot; the token is rotated', {skip, timeout: 15 * 60_000}, async () => {
  ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.219.10.0/24'), 'cluster new')
  ok(await run('create', '1gb', 'mg0,x1'), 'create the manager and a spare host')
  ok(await run('swarm', 'init', 'mg0'), 'swarm init')
  const old = ok(await run('--host', 'mg0', 'docker', 'swarm', 'join-token', '-q', 'worker'), 'read the worker token').stdout.trim()
  assert.match(old, /^SWMTKN-1-/)

  // Bad input, before anything is created (exit 2).
  const unknown = await run('create', '1gb', 'w9', '--join', 'nosuch')
  assert.equal(unknown.code, 2, unknown.stderr)
  assert.match(unknown.stderr, /unknown node nosuch/)
  const notSwarm = await run('create', '1gb', 'w9', '--join', 'x1')
  assert.equal(notSwarm.code, 2, notSwarm.stderr)
  assert.match(notSwarm.stderr, /x1 is not in a swarm/)
  assert.equal(state().nodes.w9, undefined, 'nothing was created')

  const printed = ok(await run('create', '1gb', 'w[1:3]', '--join', 'mg0', '--print-command'), '--print-command')
  assert.match(printed.stdout, /SWMTKN-…redacted/)
  assert.match(printed.stdout, /name=w1\b/)
  assert.ok(!printed.stdout.includes(old) && !printed.stderr.includes(old))
  assert.equal(state().nodes.w1, undefined, '--print-command created nothing')

  // With debug logs on: the token must not be in them either.
  const created = await belt(['create', '1gb', 'w[1:3]', '--join', 'mg0', '--json'], {cwd, timeoutMs: 600_000, env: {DEBUG: 'belt*'}})
  assert.equal(created.code, 0, created.stderr)
  const doc = JSON.parse(created.stdout) as {created: {name: string}[]; existing: unknown[]; joined: string[]; failed: unknown[]}
  assert.deepEqual(Object.keys(doc), ['created', 'existing', 'joined', 'failed'])
  assert.deepEqual(doc.created.map((n) => n.name), ['w1', 'w2', 'w3'])
  assert.deepEqual(doc.joined, ['w1', 'w2', 'w3'])
  assert.deepEqual(doc.failed, [])
  assert.match(created.stderr, /ready 3\/3/)
  assert.match(created.stderr, /rotated the worker join token on mg0/)

  for (const w of ['w1', 'w2', 'w3']) {
    const sshd = hostFile(w, '/var/log/sshd.log')
    assert.doesNotMatch(sshd, /Accepted|session opened|Connection from/i, `${w}: belt never logged in (${sshd})`)
    const boot = hostFile(w, '/var/log/cloud-init-output.log')
    assert.match(boot, new RegExp(`belt-boot-join: .* node ${w}: joining`), boot)
    assert.match(boot, /belt-boot-join: .* joined/)
    assert.doesNotMatch(boot, /SWMTKN-1-/)
    assert.ok(hostFile(w, '/root/.belt/user-data').includes('SWMTKN-1-'), 'the user data lives in the host\'s own /root')
  }
  assert.ok(!existsSync('/root/.belt/user-data') || !readFileSync('/root/.belt/user-data', 'utf8').includes(old), 'not in the machine\'s /root')

  const ls = ok(await run('--host', 'mg0', 'docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}'), 'docker node ls')
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.trim()).sort(), ['mg0 Ready', 'w1 Ready', 'w2 Ready', 'w3 Ready'])

  // Rotated: the token in the user data (the one read before) no longer joins.
  const now = ok(await run('--host', 'mg0', 'docker', 'swarm', 'join-token', '-q', 'worker'), 'read the token again').stdout.trim()
  assert.notEqual(now, old)
  const addr = ok(await run('--host', 'mg0', 'docker', 'info', '--format', '{{.Swarm.NodeAddr}}'), 'manager address').stdout.trim()
  const refused = await run('--host', 'x1', 'docker', 'swarm', 'join', '--token', old, `${addr}:2377`)
  assert.notEqual(refused.code, 0)
  assert.match(refused.stderr + refused.stdout, /invalid join token|token/i)

  // The token is nowhere in belt's output or its state.
  for (const text of [created.stdout, created.stderr, readFileSync(join(cwd, '.belt', CLUSTER, 'state.json'), 'utf8')]) {
    assert.ok(!text.includes(old), 'no token')
    assert.doesNotMatch(text, /SWMTKN-1-/)
  }
  assert.equal(state().boot_join, undefined, 'the wave record is gone')
})
