// `belt context` with the real docker CLI and a private DOCKER_CONFIG (this machine's contexts are never touched), on
// a generic cluster whose hosts are documentation addresses nobody answers on: `docker context` only writes files, so
// no daemon is needed here (test/e2e/context-local.test.ts talks to a real swarm through the context). The scratch
// folder's name holds a comma and a space, so the certificate paths handed to `docker context --docker` (one CSV
// record) must be quoted to arrive whole.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {cpSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {resolveCluster} from '../../src/core/config/cluster.js'
import {ensureClusterTls, tlsPolicy} from '../../src/docker/tls.js'
import {usageLine} from '../lib/assert.js'

const skip = skipUnless({commands: ['docker']})

interface Inspected {
  Name: string
  Metadata: {Description: string}
  Endpoints: {docker: {Host: string; SkipTLSVerify: boolean}}
  TLSMaterial: {docker?: string[]}
  Storage: {TLSPath: string}
}

test('belt context: create, update, --use, --rm, another cluster\'s context refused, cluster rm', {skip, timeout: 120_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-context, e2e-')
  t.after(cleanup)
  const dockerConfig = join(dir, 'docker-config')
  const env = {DOCKER_CONFIG: dockerConfig, HOME: dir}
  const run = (...args: string[]) => belt(args, {cwd: dir, env})
  const docker = (...args: string[]) => new Promise<RunResult>((resolve) => {
    execFile('docker', args, {env: cleanEnv(env), timeout: 30_000}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, signal: null, stdout: String(stdout), stderr: String(stderr)})
    })
  })
  const inspect = async (name: string): Promise<Inspected | null> => {
    const r = await docker('context', 'inspect', name)
    return r.code === 0 ? (JSON.parse(r.stdout) as Inspected[])[0] : null
  }
  const current = async () => (await docker('context', 'show')).stdout.trim()
  const ok = (r: RunResult, what: string) => {
    assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}\n${r.stdout}`)
    return r
  }

  ok(await run('cluster', 'new', 'ctxg', '--driver', 'generic', 'hosts.g1=203.0.113.10', 'hosts.g2=2001:db8::2'), 'cluster new')
  const id = /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', 'ctxg', 'config.yml'), 'utf8'))![1]

  // Refused before anything exists: no active node, an unknown node, no certificates yet.
  usageLine(await run('context'), /^belt: cluster 'ctxg' has no active node; name one \(belt context NODE\)/, 'no active node')
  usageLine(await run('context', 'nope'), /^belt: unknown node 'nope' in cluster 'ctxg'$/, 'unknown node')
  usageLine(await run('context', 'g1'), /^belt: cluster 'ctxg' has no TLS certificates yet \(.*ca\.pem is missing\); run: belt provision g1$/,
    'no certs')
  assert.equal(await inspect('belt-ctxg'), null, 'nothing was created')

  // The cluster's CA and client certificate, as `belt provision` makes them.
  const cluster = resolveCluster({cwd: dir, env: {}})
  const tls = await ensureClusterTls(cluster, tlsPolicy(cluster.settings as Record<string, unknown>))
  assert.match(tls.paths.ca, /, e2e-/, 'the certificate paths hold a comma and a space')

  let r = ok(await run('context', 'g1'), 'context g1')
  assert.equal(r.stdout, `created docker context 'belt-ctxg': g1 at tcp://203.0.113.10:2376\n`)
  assert.match(r.stderr, /^use it: docker --context belt-ctxg node ls$/m)
  let c = (await inspect('belt-ctxg'))!
  assert.equal(c.Endpoints.docker.Host, 'tcp://203.0.113.10:2376')
  assert.equal(c.Endpoints.docker.SkipTLSVerify, false)
  assert.equal(c.Metadata.Description, `belt cluster ctxg (cluster_id ${id})`)
  assert.deepEqual(c.TLSMaterial.docker?.sort(), ['ca.pem', 'cert.pem', 'key.pem'])
  // docker's own copy of the material: the same files, the key private to the user (CONTRACT §6).
  const stored = join(c.Storage.TLSPath, 'docker')
  assert.equal(readFileSync(join(stored, 'ca.pem'), 'utf8'), readFileSync(tls.paths.ca, 'utf8'))
  assert.equal(readFileSync(join(stored, 'cert.pem'), 'utf8'), readFileSync(tls.paths.cert, 'utf8'))
  assert.equal(readFileSync(join(stored, 'key.pem'), 'utf8'), readFileSync(tls.paths.key, 'utf8'))
  assert.equal(statSync(join(stored, 'key.pem')).mode & 0o777, 0o600)
  assert.equal(await current(), 'default', 'without --use docker keeps its current context')

  // Again, on another node (an IPv6 address), and made current.
  r = ok(await run('context', 'g2', '--use'), 'context g2 --use')
  assert.equal(r.stdout, `updated docker context 'belt-ctxg': g2 at tcp://[2001:db8::2]:2376\n`)
  assert.match(r.stderr, /^docker's current context is now 'belt-ctxg'/m)
  assert.equal((await inspect('belt-ctxg'))!.Endpoints.docker.Host, 'tcp://[2001:db8::2]:2376')
  assert.equal(await current(), 'belt-ctxg')
  // The default node is the active one; docker's warning that DOCKER_HOST overrides contexts is passed on.
  ok(await run('active', 'g1'), 'active g1')
  r = ok(await belt(['context', '--use'], {cwd: dir, env: {...env, DOCKER_HOST: 'tcp://198.51.100.9:2376'}}), 'context --use with DOCKER_HOST')
  assert.equal(r.stdout, `updated docker context 'belt-ctxg': g1 at tcp://203.0.113.10:2376\n`)
  assert.match(r.stderr, /^warning: DOCKER_HOST environment variable overrides the active context/m)
  for (const out of [r.stdout, r.stderr]) assert.doesNotMatch(out, /PRIVATE KEY/, 'no key material printed')

  // Bad input: one line naming it, nothing changed.
  usageLine(await run('context', 'g1', '--rm'), /^belt: --rm takes no NODE \(got 'g1'\)/, '--rm NODE')
  usageLine(await run('context', '--rm', '--use'), /^belt: --rm and --use cannot be combined$/, '--rm --use')
  usageLine(await run('context', '--use=yes'), /^belt: --use takes no value \(use --use alone\)$/, '--use=yes')
  usageLine(await run('context', '--frobnicate'), /^belt: unknown flag --frobnicate \(belt context --help lists the flags\)$/, 'unknown flag')
  usageLine(await run('context', 'g1', 'g2'), /^belt: unexpected argument 'g2' \(belt context \[NODE\]\)$/, 'two nodes')
  // Without the docker CLI: a setup problem, named (PATH holds only node, so belt itself still starts).
  const nodeOnly = mkdtempSync(join(dir, 'path-'))
  symlinkSync(process.execPath, join(nodeOnly, 'node'))
  usageLine(await belt(['context', 'g1'], {cwd: dir, env: {...env, PATH: nodeOnly}}),
    /^belt: the docker CLI is not installed \(or not on PATH\)/, 'no docker')
  assert.equal((await inspect('belt-ctxg'))!.Endpoints.docker.Host, 'tcp://203.0.113.10:2376', 'bad input changed nothing')

  // --rm of docker's current context: removed, docker is back on default; again: nothing to remove, exit 0.
  r = ok(await run('context', '--rm'), 'context --rm')
  assert.equal(r.stdout, `removed docker context 'belt-ctxg'\n`)
  assert.match(r.stderr, /it was docker's current context; docker uses 'default' now/)
  assert.equal(await inspect('belt-ctxg'), null)
  assert.equal(await current(), 'default')
  r = ok(await run('context', '--rm'), 'context --rm again')
  assert.equal(r.stdout, `no docker context 'belt-ctxg'\n`)

  // A context of that name that belongs to another cluster id, and one made by hand: never changed without --force.
  const other = 'ffffffffffffffff'
  for (const [description, re] of [
    [`belt cluster ctxg (cluster_id ${other})`,
      new RegExp(`^belt: docker context 'belt-ctxg' belongs to another belt cluster \\(cluster_id ${other}\\); --force`)],
    ['my own staging engine', /^belt: docker context 'belt-ctxg' was not made by belt for this cluster; --force/],
  ] as const) {
    ok(await docker('context', 'create', 'belt-ctxg', '--description', description, '--docker', 'host=tcp://198.51.100.1:2376'), 'foreign context')
    usageLine(await run('context', 'g1'), new RegExp(re.source + ' overwrites it$'), `overwrite: ${description}`)
    usageLine(await run('context', 'g1', '--use'), new RegExp(re.source + ' overwrites it$'), `overwrite --use: ${description}`)
    usageLine(await run('context', '--rm'), new RegExp(re.source + ' removes it$'), `remove: ${description}`)
    c = (await inspect('belt-ctxg'))!
    assert.equal(c.Endpoints.docker.Host, 'tcp://198.51.100.1:2376', 'the foreign context is untouched')
    assert.equal(c.Metadata.Description, description)
    assert.equal(await current(), 'default', 'and not made current')
    // `cluster rm` of this cluster leaves it alone too (checked below with a live cluster); --rm --force removes it.
    ok(await run('context', '--rm', '--force'), '--rm --force')
    assert.equal(await inspect('belt-ctxg'), null)
  }
  const foreign = ['context', 'create', 'belt-ctxg', '--description', `belt cluster ctxg (cluster_id ${other})`, '--docker', 'host=tcp://198.51.100.1:2376']
  ok(await docker(...foreign), 'foreign again')
  r = ok(await run('context', 'g1', '--force'), 'context --force')
  assert.equal(r.stdout, `updated docker context 'belt-ctxg': g1 at tcp://203.0.113.10:2376\n`)
  c = (await inspect('belt-ctxg'))!
  assert.equal(c.Metadata.Description, `belt cluster ctxg (cluster_id ${id})`, 'now this cluster\'s')
  assert.equal(c.Endpoints.docker.Host, 'tcp://203.0.113.10:2376')

  // `cluster rm` removes this cluster's context, and leaves a context of the same name that belongs to another id
  // alone: the same cluster folder is removed twice (restored in between), first against a store holding another's.
  const otherConfig = join(dir, 'docker-config-other')
  const otherEnv = {...env, DOCKER_CONFIG: otherConfig}
  await new Promise<void>((resolve, reject) => execFile('docker', foreign, {env: cleanEnv(otherEnv)}, (e) => (e ? reject(e) : resolve())))
  const folder = join(dir, '.belt', 'ctxg')
  cpSync(folder, join(dir, 'ctxg-copy'), {recursive: true})
  r = ok(await belt(['cluster', 'rm', 'ctxg'], {cwd: dir, env: otherEnv}), 'cluster rm against the other store')
  assert.doesNotMatch(r.stderr, /docker context/)
  assert.equal(readdirSync(join(otherConfig, 'contexts', 'meta')).length, 1, 'the other cluster\'s context is still there')
  cpSync(join(dir, 'ctxg-copy'), folder, {recursive: true})
  r = ok(await run('cluster', 'rm', 'ctxg'), 'cluster rm')
  assert.match(r.stderr, /^removed docker context 'belt-ctxg'$/m)
  assert.equal(await inspect('belt-ctxg'), null, 'cluster rm removed its context')
})
