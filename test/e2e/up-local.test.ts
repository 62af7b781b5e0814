// `belt up` / `belt down` on real hosts (local driver: namespaces with their own sshd and dockerd): 3 managers over
// zones [a, b, c] and a pool of 4 form the swarm; a re-run changes nothing; the pool grows to 6 and shrinks to 2;
// `belt down` leaves no namespace or daemon. Then a `belt up` killed with SIGKILL mid-run and run again ends with
// exactly the template's nodes, each joined once. Last, the generic driver over hosts made the same way: nothing is
// created, its hosts are joined, and `belt down` only makes them leave. Needs root; subnets 10.219.2.0/24–10.219.4.0/24.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const skip = skipUnless({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables'],
})

let cwd: string
let cleanup: () => void

function run(...args: string[]): Promise<RunResult> {
  return belt(args, {cwd, timeoutMs: 600_000})
}

interface UpJson {
  plan: {create: string[]; join_managers: string[]; join_workers: string[]; remove: string[]; advice: string[]}
  created: string[]
  provisioned: string[]
  joined: string[]
  removed: string[]
  failed: {name: string; step: string; error: string}[]
}

async function up(cluster: string, ...extra: string[]): Promise<UpJson> {
  const r = await run('--cluster', cluster, 'up', '--yes', '--json', ...extra)
  assert.equal(r.code, 0, `belt up: exit ${r.code}\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(r.stdout) as UpJson
}

/** hostname status availability manager-status labels, sorted. */
async function nodeLs(cluster: string): Promise<string[]> {
  const ids = ok(await run('--cluster', cluster, 'docker', 'node', 'ls', '-q'), 'node ls').stdout.trim().split('\n')
  const r = ok(await run('--cluster', cluster, 'docker', 'node', 'inspect', '--format',
    '{{.Description.Hostname}} {{.Status.State}} {{if .ManagerStatus}}{{if .ManagerStatus.Leader}}leader{{else}}{{.ManagerStatus.Reachability}}{{end}}{{else}}worker{{end}} {{json .Spec.Labels}}', ...ids), 'node inspect')
  return r.stdout.trim().split('\n').map((l) => l.trim()).sort()
}

/** The cluster's network namespaces (bl-<hash>-<node>, the hash recorded in state.json while it has hosts). */
function netnsOf(hash: string): string[] {
  return existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`bl-${hash}-`)) : []
}

function hashOf(cluster: string): string {
  const st = JSON.parse(readFileSync(join(cwd, '.belt', cluster, 'state.json'), 'utf8')) as {provider: {local: {hash: string}}}
  return st.provider.local.hash
}

function stateNodes(cluster: string): string[] {
  const p = join(cwd, '.belt', cluster, 'state.json')
  if (!existsSync(p)) return []
  return Object.keys((JSON.parse(readFileSync(p, 'utf8')) as {nodes: Record<string, unknown>}).nodes).sort()
}

before(async () => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-up-local-'))
})

after(async () => {
  if (skip) return
  for (const c of ['upl', 'upk', 'upgh']) {
    if (!existsSync(join(cwd, '.belt', c))) continue
    let rm = await belt(['--cluster', c, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
    if (rm.code !== 0) rm = await belt(['--cluster', c, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
    if (rm.code !== 0) process.stderr.write(`cleanup of ${c}: exit ${rm.code}\n${rm.stderr}\n`)
  }
  cleanup()
})

test('belt up forms 3 managers over zones + a pool of 4; re-run is a no-op; grow, shrink; belt down leaves nothing', {skip, timeout: 20 * 60_000}, async () => {
  ok(await run('cluster', 'new', 'upl', '--driver', 'local', 'subnet=10.219.2.0/24'), 'cluster new')
  ok(await run('--cluster', 'upl', 'cluster', 'update', 'swarm.managers.names=mg[0:2]', 'swarm.managers.zones=[a,b,c]',
    'swarm.workers.web.names=w[1:4]', 'swarm.workers.web.labels.pool=web', 'swarm.tls=none'), 'cluster update swarm')

  const plan = ok(await run('--cluster', 'upl', 'up', '--plan'), 'up --plan')
  assert.match(plan.stdout, /^mg0\s+manager\s+managers\s+-\s+a\s+create, init$/m)
  assert.match(plan.stdout, /^mg2\s+manager\s+managers\s+-\s+c\s+create, join$/m)
  assert.match(plan.stdout, /3 managers, tolerate 1 failure; 7 to create, 7 to join, 0 to remove/)
  assert.equal(stateNodes('upl').length, 0, '--plan created nothing')

  const first = await up('upl')
  assert.deepEqual(first.created, ['mg0', 'mg1', 'mg2', 'w1', 'w2', 'w3', 'w4'])
  assert.deepEqual(first.joined, ['mg0', 'mg1', 'mg2', 'w1', 'w2', 'w3', 'w4'])
  assert.deepEqual(first.failed, [])
  assert.deepEqual(first.plan.join_managers, ['mg0', 'mg1', 'mg2'])
  assert.deepEqual(await nodeLs('upl'), [
    'mg0 ready leader {"belt.zone":"a"}', 'mg1 ready reachable {"belt.zone":"b"}', 'mg2 ready reachable {"belt.zone":"c"}',
    'w1 ready worker {"pool":"web"}', 'w2 ready worker {"pool":"web"}', 'w3 ready worker {"pool":"web"}', 'w4 ready worker {"pool":"web"}',
  ])

  const again = await up('upl')
  assert.deepEqual({...again.plan, advice: []}, {create: [], join_managers: [], join_workers: [], remove: [], advice: []})
  assert.deepEqual([again.created, again.joined, again.removed, again.failed], [[], [], [], []])

  ok(await run('--cluster', 'upl', 'cluster', 'update', 'swarm.workers.web.names=w[1:6]'), 'grow')
  const grown = await up('upl')
  assert.deepEqual(grown.created, ['w5', 'w6'])
  assert.deepEqual(grown.joined, ['w5', 'w6'])
  // A node just joined may show `unknown` until its first heartbeat: polled, bounded.
  let readyWorkers = 0
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    readyWorkers = (await nodeLs('upl')).filter((l) => / ready worker \{"pool":"web"\}$/.test(l)).length
    if (readyWorkers === 6) break
    await new Promise((r) => setTimeout(r, 500))
  }
  assert.equal(readyWorkers, 6)

  ok(await run('--cluster', 'upl', 'cluster', 'update', 'swarm.workers.web.names=w[1:2]'), 'shrink')
  const noTty = await run('--cluster', 'upl', 'up')
  assert.equal(noTty.code, 2, 'removal without a terminal needs --yes')
  assert.match(noTty.stderr, /refusing without a terminal; pass --yes, or --no-prune/)
  const kept = await up('upl', '--no-prune')
  assert.deepEqual(kept.plan.remove, [])
  const shrunk = await up('upl')
  assert.deepEqual(shrunk.plan.remove, ['w3', 'w4', 'w5', 'w6'])
  assert.deepEqual(shrunk.removed, ['w3', 'w4', 'w5', 'w6'])
  assert.deepEqual((await nodeLs('upl')).map((l) => l.split(' ')[0]), ['mg0', 'mg1', 'mg2', 'w1', 'w2'])
  assert.deepEqual(stateNodes('upl'), ['mg0', 'mg1', 'mg2', 'w1', 'w2'])

  const hash = hashOf('upl')
  assert.equal(netnsOf(hash).length, 5)
  const down = ok(await run('--cluster', 'upl', 'down', '--yes'), 'down')
  assert.match(down.stdout, /^removed\s+5\s/m)
  assert.deepEqual(stateNodes('upl'), [])
  assert.deepEqual(netnsOf(hash), [], 'no namespace left')
  const ls = ok(await run('--cluster', 'upl', 'ls', '--json'), 'ls')
  assert.deepEqual(JSON.parse(ls.stdout), [])
})

test('belt up killed with SIGKILL mid-run: a re-run ends with exactly the template\'s nodes, each joined once', {skip, timeout: 20 * 60_000}, async () => {
  ok(await run('cluster', 'new', 'upk', '--driver', 'local', 'subnet=10.219.3.0/24'), 'cluster new')
  ok(await run('--cluster', 'upk', 'cluster', 'update', 'swarm.managers.names=m0', 'swarm.workers.app.names=a[1:4]', 'swarm.tls=none'), 'update')
  // Killed as soon as the first host is recorded: the create of the manager is under way.
  const killed = await belt(['--cluster', 'upk', 'up', '--yes'], {cwd, timeoutMs: 300_000, onSpawn: (child) => {
    const timer = setInterval(() => {
      if (stateNodes('upk').length > 0) {
        clearInterval(timer)
        child.kill('SIGKILL')
      }
    }, 20)
    child.once('exit', () => clearInterval(timer))
  }})
  assert.equal(killed.signal, 'SIGKILL', `killed mid-run (exit ${killed.code}: ${killed.stderr})`)
  // Ctrl-C in the next run: exit 130 with the summary; no new work started after it.
  const stopped = await belt(['--cluster', 'upk', 'up', '--yes'], {cwd, timeoutMs: 300_000, onSpawn: (child) => {
    let sent = false
    child.stderr!.on('data', (d: Buffer) => {
      if (!sent && /^created \S+ \(10\.219\.3\./m.test(String(d))) {
        sent = true
        child.kill('SIGINT')
      }
    })
  }})
  assert.equal(stopped.code, 130, `Ctrl-C: exit 130\n${stopped.stdout}\n${stopped.stderr}`)
  assert.match(stopped.stderr, /interrupted: \d+ joined, \d+ created; re-run belt up to finish/)
  const done = await up('upk')
  assert.deepEqual(done.failed, [])
  const second = await up('upk')
  assert.deepEqual([second.created, second.joined, second.removed], [[], [], []])
  assert.deepEqual(stateNodes('upk'), ['a1', 'a2', 'a3', 'a4', 'm0'])
  const ls = await nodeLs('upk')
  assert.deepEqual(ls.map((l) => l.split(' ').slice(0, 2).join(' ')), ['a1 ready', 'a2 ready', 'a3 ready', 'a4 ready', 'm0 ready'], 'each joined once')
  const hash = hashOf('upk')
  ok(await run('--cluster', 'upk', 'down', '--yes'), 'down')
  assert.deepEqual(netnsOf(hash), [])
})

test('generic: belt up joins the inventory hosts (nothing created); belt down makes them leave, hosts stay', {skip, timeout: 10 * 60_000}, async () => {
  ok(await run('cluster', 'new', 'upgh', '--driver', 'local', 'subnet=10.219.4.0/24'), 'cluster new (hosts)')
  const made = JSON.parse(ok(await run('--cluster', 'upgh', 'create', '512mb', 'g[1:3]', '--json'), 'create').stdout) as {created: {name: string; public_ip: string}[]}
  const addr = Object.fromEntries(made.created.map((n) => [n.name, n.public_ip]))
  mkdirSync(join(cwd, '.belt', 'upg'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'upg', 'config.yml'), [
    'driver: generic', 'generic:', '  ssh_user: root', `  ssh_key: ${join(cwd, '.belt', 'upgh', 'ssh', 'id_ed25519')}`, '  hosts:',
    ...['g1', 'g2', 'g3'].map((g) => `    ${g}: {address: ${addr[g]}, private_address: ${addr[g]}}`),
    'swarm:', '  managers: {names: g1}', '  workers:', "    - {name: app, names: 'g[2:3]', labels: {tier: app}}", '  tls: none', '',
  ].join('\n'))
  const first = await up('upg')
  assert.deepEqual([first.created, first.joined, first.failed], [[], ['g1', 'g2', 'g3'], []])
  assert.deepEqual((await nodeLs('upg')).map((l) => l.replace(/ null$/, ' {}')), ['g1 ready leader {}', 'g2 ready worker {"tier":"app"}', 'g3 ready worker {"tier":"app"}'])
  const again = await up('upg')
  assert.deepEqual([again.plan.join_managers, again.plan.join_workers, again.joined], [[], [], []])
  const down = ok(await run('--cluster', 'upg', 'down', '--yes', '--json'), 'down')
  assert.deepEqual(JSON.parse(down.stdout), {removed: [], left: ['g1', 'g2', 'g3'], failed: []})
  const states = ok(await run('--cluster', 'upgh', '--host', 'g[1:3]', 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'), 'docker info')
  assert.deepEqual(states.stdout.trim().split('\n').sort(), ['g1: inactive', 'g2: inactive', 'g3: inactive'])
})
