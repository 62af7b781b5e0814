// `belt context` against a real swarm: local-driver hosts (network namespaces with their own sshd and dockerd),
// provisioned with Docker TLS by belt, then the stock docker CLI through the context `belt-ctxlab` — by --context,
// as docker's current context after --use, pointed at a worker — and removed by `belt cluster rm`. A private
// DOCKER_CONFIG keeps this machine's own contexts untouched. Needs root; subnet 10.218.5.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'

const SUBNET = '10.218.5.0/24'
const CLUSTER = 'ctxlab'
const CONTEXT = `belt-${CLUSTER}`

const skip = skipUnless({root: 'network namespaces', commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables']})

test('docker --context belt-<cluster> node ls on a local swarm, --use, a worker, cluster rm', {skip, timeout: 15 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-context-local-')
  const env = {DOCKER_CONFIG: join(dir, 'docker-config'), HOME: dir}
  const run = (...args: string[]) => belt(args, {cwd: dir, env, timeoutMs: 300_000})
  t.after(async () => {
    if (!existsSync(join(dir, '.belt', CLUSTER, 'config.yml'))) return cleanup()
    let rm = await run('--cluster', CLUSTER, 'rm', '--all', '--force')
    if (rm.code !== 0) rm = await run('--cluster', CLUSTER, 'rm', '--all', '--force')
    if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
    cleanup()
  })
  const ok = (r: RunResult, what: string) => {
    assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}\n${r.stdout}`)
    return r
  }
  const docker = (...args: string[]) => new Promise<RunResult>((resolve) => {
    execFile('docker', args, {env: cleanEnv(env), timeout: 60_000}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, signal: null, stdout: String(stdout), stderr: String(stderr)})
    })
  })

  // The README's walkthrough: a swarm, TLS on every node.
  ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', `subnet=${SUBNET}`), 'cluster new')
  ok(await run('create', '512mb', 'node[1:2]'), 'create')
  ok(await run('swarm', 'init', 'node1'), 'swarm init')
  ok(await run('swarm', 'join', 'node1', 'node2'), 'swarm join')
  ok(await run('provision', 'node[1:2]'), 'provision')
  const nodes = JSON.parse(ok(await run('ls', '--json'), 'ls').stdout) as {name: string; public_ip: string}[]
  const ip = (name: string) => nodes.find((n) => n.name === name)!.public_ip

  // Default node: the active one, which swarm init made the manager.
  let r = ok(await run('context'), 'context')
  assert.equal(r.stdout, `created docker context '${CONTEXT}': node1 at tcp://${ip('node1')}:2376\n`)
  r = ok(await docker('--context', CONTEXT, 'node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'), 'docker --context node ls')
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.trim()).sort(), ['node1 Ready Leader', 'node2 Ready'])
  assert.equal((await docker('context', 'show')).stdout.trim(), 'default', 'not current without --use')

  // --use: plain `docker` now talks to the swarm over TLS.
  r = ok(await run('context', '--use'), 'context --use')
  assert.match(r.stdout, /^updated docker context 'belt-ctxlab': node1 at /)
  assert.equal((await docker('context', 'show')).stdout.trim(), CONTEXT)
  r = ok(await docker('node', 'ls', '--format', '{{.Hostname}}'), 'docker node ls (current context)')
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['node1', 'node2'])

  // Pointed at the worker: its own engine over TLS (a worker is not a swarm manager).
  ok(await run('context', 'node2'), 'context node2')
  r = ok(await docker('info', '--format', '{{.Name}} {{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'), 'docker info on node2')
  assert.equal(r.stdout.trim(), 'node2 active false')
  r = await docker('node', 'ls')
  assert.notEqual(r.code, 0, 'node ls needs a manager')
  assert.match(r.stderr, /not a swarm manager/)

  // A context whose TLS material is not this cluster's is refused by dockerd: the endpoint really checks certificates.
  ok(await docker('context', 'create', 'stranger', '--docker', `host=tcp://${ip('node1')}:2376`), 'context without TLS')
  r = await docker('--context', 'stranger', 'node', 'ls')
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /HTTP request to an HTTPS server|tls|certificate/i)

  // cluster rm (once the nodes are gone) removes the cluster's context; docker falls back to default.
  ok(await run('context', 'node1'), 'back to node1')
  ok(await run('rm', '--all', '--force'), 'rm --all')
  r = ok(await run('cluster', 'rm', CLUSTER), 'cluster rm')
  assert.match(r.stderr, new RegExp(`^removed docker context '${CONTEXT}' \\(it was docker's current context; docker uses 'default' now\\)$`, 'm'))
  r = ok(await docker('context', 'ls', '--format', '{{.Name}}'), 'context ls')
  assert.deepEqual(r.stdout.trim().split('\n').sort(), ['default', 'stranger'])
  assert.equal((await docker('context', 'show')).stdout.trim(), 'default')
})
