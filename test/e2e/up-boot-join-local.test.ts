// `belt up` with `swarm.join: cloud-init` on real hosts (local driver): the manager is created, initialised and kept
// over SSH; the workers are created afterwards with the boot-join user data (token + every manager address), join
// by themselves at first boot — their sshd logs show no login — and are watched through the manager; labels are set,
// the old worker token is refused afterwards (rotated), and a re-run changes nothing. Needs root; subnet
// 10.219.60.0/24.
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

const CLUSTER = 'upboot'
let cwd: string
let cleanup: () => void

function run(...args: string[]): Promise<RunResult> {
  return belt(['--cluster', CLUSTER, ...args], {cwd, timeoutMs: 900_000})
}

function stateText(): string {
  return readFileSync(join(cwd, '.belt', CLUSTER, 'state.json'), 'utf8')
}

/** A host's own file (its private /var/log), read from this machine. */
function hostFile(node: string, path: string): string {
  const dir = (JSON.parse(stateText()) as {nodes: Record<string, {dir: string}>}).nodes[node].dir
  const file = join(dir, 'root', path)
  return existsSync(file) ? readFileSync(file, 'utf8') : ''
}

interface UpDoc {
  plan: {create: string[]; join_managers: string[]; join_workers: string[]; remove: string[]}
  created: string[]
  joined: string[]
  removed: string[]
  failed: {name: string; step: string; error: string}[]
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-up-boot-join-'))
})

after(async () => {
  if (skip) return
  let down = await run('down', '--yes')
  if (down.code !== 0) down = await run('rm', '--all', '--force')
  if (down.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${down.code}\n${down.stderr}\n`)
  cleanup()
})

test('belt up with join: cloud-init: workers join by themselves at boot, no SSH to them; a re-run changes nothing', {skip, timeout: 15 * 60_000}, async () => {
  ok(await belt(['cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.219.60.0/24'], {cwd, timeoutMs: 60_000}), 'cluster new')
  ok(await run('cluster', 'update', 'swarm.managers.names=mg0', 'swarm.workers.web.names=w[1:3]', 'swarm.workers.web.labels.pool=web',
    'swarm.join=cloud-init', 'swarm.tls=none'), 'cluster update swarm')

  const up = await run('up', '--yes', '--json')
  assert.equal(up.code, 0, up.stderr)
  const doc = JSON.parse(up.stdout) as UpDoc
  assert.deepEqual(doc.created, ['mg0', 'w1', 'w2', 'w3'])
  assert.deepEqual(doc.joined, ['mg0', 'w1', 'w2', 'w3'])
  assert.deepEqual(doc.failed, [])
  assert.match(up.stderr, /join the swarm of mg0 by themselves at boot/)
  assert.match(up.stderr, /worker join token rotated/)

  for (const w of ['w1', 'w2', 'w3']) {
    const sshd = hostFile(w, '/var/log/sshd.log')
    assert.doesNotMatch(sshd, /Accepted|session opened|Connection from/i, `${w}: belt never logged in (${sshd})`)
    assert.match(hostFile(w, '/var/log/cloud-init-output.log'), /belt-boot-join: .* joined/)
  }
  const ls = ok(await run('--host', 'mg0', 'docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'), 'node ls')
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.trim()).sort(), ['mg0 Ready Leader', 'w1 Ready', 'w2 Ready', 'w3 Ready'])
  const labels = ok(await run('--host', 'mg0', 'docker', 'node', 'inspect', 'w2', '--format', '{{json .Spec.Labels}}'), 'labels')
  assert.equal((JSON.parse(labels.stdout) as Record<string, string>).pool, 'web')

  // Rotated: the token the user data carried (still in w1's own copy) no longer joins.
  const carried = /SWMTKN-1-[A-Za-z0-9-]+/.exec(hostFile('w1', '/root/.belt/user-data'))?.[0]
  assert.ok(carried, 'the user data carried a token')
  const now = ok(await run('--host', 'mg0', 'docker', 'swarm', 'join-token', '-q', 'worker'), 'token now').stdout.trim()
  assert.notEqual(now, carried)
  for (const text of [up.stdout, up.stderr, stateText()]) assert.doesNotMatch(text, /SWMTKN-1-/)

  // A re-run: nothing to create, join or rotate.
  const again = await run('up', '--yes', '--json')
  assert.equal(again.code, 0, again.stderr)
  const doc2 = JSON.parse(again.stdout) as UpDoc
  assert.deepEqual([doc2.plan.create, doc2.plan.join_workers, doc2.created, doc2.joined, doc2.removed], [[], [], [], [], []])
  assert.doesNotMatch(again.stderr, /rotated/)
  const still = ok(await run('--host', 'mg0', 'docker', 'swarm', 'join-token', '-q', 'worker'), 'token after the re-run').stdout.trim()
  assert.equal(still, now, 'a re-run does not rotate')

  ok(await run('cluster', 'update', 'swarm.join=ssh'), 'back to ssh')
  const refused = await run('up', '--fallback', 'ssh')
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr.trim(), /^belt: --fallback is for swarm\.join: cloud-init/)
})
