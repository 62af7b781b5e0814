// The cluster commands as a user runs them: the real CLI in a scratch folder.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'

function noStack(stderr: string): void {
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace')
  assert.ok(stderr.trim().split('\n').length <= 2, `short error, got: ${stderr}`)
}

test('cluster new / ls / use / update / config / rm', async (t) => {
  const {dir, cleanup} = scratchDir()
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})

  let r = await run('cluster', 'new', 'swarm2k', '--driver', 'digitalocean', 'region=sgp1')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /'swarm2k' is now the active cluster/)
  const cfgPath = join(dir, '.belt', 'swarm2k', 'config.yml')
  const cfg = readFileSync(cfgPath, 'utf8')
  assert.match(cfg, /^driver: digitalocean$/m)
  assert.match(cfg, /region: sgp1/)
  assert.match(cfg, /# .*DIGITALOCEAN_ACCESS_TOKEN/, 'template comments kept')
  assert.ok(existsSync(join(dir, '.belt', '.gitignore')))

  r = await run('cluster', 'new', 'lab', '--driver', 'local')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /belt use lab/)

  r = await run('cluster', 'ls')
  assert.equal(r.code, 0)
  const lines = r.stdout.trim().split('\n')
  assert.match(lines[0], /^CLUSTER\s+ACTIVE\s+DRIVER\s+#NODES$/)
  assert.match(lines.find((l) => l.startsWith('swarm2k'))!, /^swarm2k\s+\*\s+digitalocean\s+0$/)
  assert.match(lines.find((l) => l.startsWith('lab'))!, /^lab\s+local\s+0$/)

  r = await run('use', 'lab')
  assert.equal(r.code, 0, r.stderr)
  r = await run('cluster', 'ls', '--json')
  assert.deepEqual(JSON.parse(r.stdout), [
    {name: 'lab', driver: 'local', active: true, nodes: 0},
    {name: 'swarm2k', driver: 'digitalocean', active: false, nodes: 0},
  ])

  r = await run('cluster', 'update', 'concurrency=200', 'tls_san=[swarm.example.com]', '--cluster', 'swarm2k')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(r.stdout.trim().split('\n'), ['+ concurrency: 200', '+ tls_san: ["swarm.example.com"]'])
  r = await run('cluster', 'update', 'region=fra1', 'access_token=dop_v1_secretsecretsecret00', '--cluster', 'swarm2k')
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /- region: "sgp1"\n\+ region: "fra1"/)
  assert.doesNotMatch(r.stdout + r.stderr, /secretsecret/)

  r = await belt(['cluster', 'config'], {cwd: dir, env: {BELT_CLUSTER: 'swarm2k'}})
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /region: fra1/)
  assert.match(r.stdout, /access_token: "?\*+"?/)
  assert.doesNotMatch(r.stdout, /secretsecret/)

  // bad input: exit 2, one line naming the bad thing, nothing changed
  const before = readFileSync(cfgPath, 'utf8')
  r = await run('cluster', 'update', 'regoin=x', '--cluster', 'swarm2k')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /unknown key 'regoin' for driver digitalocean; valid keys: .*region/)
  noStack(r.stderr)
  r = await run('cluster', 'update', 'region=x', 'concurrency=many', '--cluster', 'swarm2k')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /'concurrency' must be a whole number/)
  assert.equal(readFileSync(cfgPath, 'utf8'), before, 'a refused update changes nothing')

  r = await run('cluster', 'new', 'Bad.Name', '--driver', 'local')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /invalid cluster name 'Bad.Name'/)
  r = await run('cluster', 'new', 'x', '--driver', 'vbox')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /vbox/)
  noStack(r.stderr)
  r = await run('cluster', 'new', 'lab', '--driver', 'local')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /cluster 'lab' already exists/)
  r = await run('use', 'nope')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /no cluster named 'nope'; clusters: lab, swarm2k/)
  r = await run('--cluster', 'nope', 'ls')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /no cluster named 'nope'/)
  r = await run('status', '--wait', 'fast=3')
  assert.equal(r.code, 2)
  r = await run('frobnicate')
  assert.equal(r.code, 2, r.stderr)
  noStack(r.stderr)

  // cluster rm asks the provider, not state.json: a record of a host this machine does not have blocks nothing.
  // (Refusals while the provider has nodes, and --force: test/e2e/cluster-identity.test.ts.)
  writeFileSync(join(dir, '.belt', 'lab', 'state.json'), JSON.stringify({version: 1, active_node: null, nodes: {n1: {id: '1'}}, failures: {}, provider: {}}))
  r = await run('cluster', 'rm', 'lab')
  assert.equal(r.code, 0, r.stderr)
  assert.ok(!existsSync(join(dir, '.belt', 'lab')))
  r = await run('cluster', 'ls', '--json')
  assert.deepEqual(JSON.parse(r.stdout).map((c: {name: string}) => c.name), ['swarm2k'])
})

test('.belt.yml is the cluster "default"; --config wins; state goes to .belt/default', async (t) => {
  const {dir, cleanup} = scratchDir()
  t.after(cleanup)
  writeFileSync(join(dir, '.belt.yml'), 'digitalocean:\n  region: sgp1\n')
  let r = await belt(['cluster', 'config'], {cwd: dir})
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /region: sgp1/)
  mkdirSync(join(dir, 'conf'))
  writeFileSync(join(dir, 'conf', 'x.yml'), 'driver: local\nlocal:\n  subnet: 10.213.9.0/24\n')
  r = await belt(['--config', 'conf/x.yml', 'cluster', 'config'], {cwd: dir})
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /subnet: 10.213.9.0\/24/)
  r = await belt(['active'], {cwd: dir})
  assert.equal(r.code, 2)
  assert.match(r.stderr, /cluster 'default' has no active node/)
})

test('every command has examples in --help; --version comes from package.json', async (t) => {
  const {dir, cleanup} = scratchDir()
  t.after(cleanup)
  const manifest = JSON.parse(readFileSync(new URL('../../oclif.manifest.json', import.meta.url), 'utf8'))
  const ids = Object.keys(manifest.commands)
  assert.ok(ids.length >= 10, `commands: ${ids.join(', ')}`)
  for (const id of ids) assert.ok(manifest.commands[id].examples?.length > 0, `${id} has examples`)
  const r = await belt(['create', '--help'], {cwd: dir})
  assert.equal(r.code, 0)
  assert.match(r.stdout, /EXAMPLES/)
  assert.match(r.stdout, /create 512mb 'node\[1:4\]'/)
  const v = await belt(['--version'], {cwd: dir})
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
  assert.match(v.stdout, new RegExp(`belt/${pkg.version.replace(/\./g, '\\.')}`))
  void statSync
})
