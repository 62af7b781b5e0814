// Seeing a real swarm (local driver: namespaces with their own sshd and dockerd), only through belt: `status` with
// its swarm view (healthy, --wait ready=N, a node that never joined as drift, a manager whose dockerd is stopped,
// the next manager answering for an active node that does not, quorum lost), `logs` of a replicated service with 4
// tasks across nodes and of a global one, and `stats --no-stream --json`. Needs root; subnet 10.219.40.0/24.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, type ChildProcess} from 'node:child_process'
import {copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {ok, usageLine} from '../lib/assert.js'

const skip = skipUnless({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'tar'],
  files: ['/bin/busybox'],
})
const CLUSTER = 'health'

let cwd: string
let cleanup: () => void
let imageDir: string

function run(...args: string[]): Promise<RunResult> {
  return belt(args, {cwd, timeoutMs: 300_000})
}

async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 180_000): Promise<T> {
  const start = Date.now()
  let last: T | undefined
  while (Date.now() - start < timeoutMs) {
    last = await probe()
    if (done(last)) return last
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`)
}

interface Swarm {
  id: string
  leader: string | null
  managers: {total: number; reachable: number | null; unreachable: string[] | null}
  quorum: {holds: boolean; tolerates: number}
  nodes: {ready: number | null; down: number | null; drain: number | null}
  engine_versions: Record<string, number>
  drift: {not_in_swarm: string[] | null; unknown_to_belt: string[] | null}
}
interface StatusDoc {counts: Record<string, number>; nodes: {name: string}[]; swarm: Swarm | null; failed?: {name: string; error: string}[]}

async function status(...extra: string[]): Promise<{r: RunResult; doc: StatusDoc}> {
  const r = await run('status', '--json', ...extra)
  return {r, doc: JSON.parse(r.stdout) as StatusDoc}
}

/** A belt run in the background: its output so far, and SIGINT. */
function background(args: string[]): {child: () => ChildProcess | undefined; stdout: () => string; stderr: () => string; done: Promise<RunResult>} {
  let child: ChildProcess | undefined
  let stdout = ''
  let stderr = ''
  const done = belt(args, {cwd, timeoutMs: 300_000, onSpawn: (c) => {
    child = c
    c.stdout!.on('data', (d) => (stdout += d))
    c.stderr!.on('data', (d) => (stderr += d))
  }})
  return {child: () => child, stdout: () => stdout, stderr: () => stderr, done}
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-health-local-'))
  // An image without a registry: Debian's static busybox, imported on every node.
  imageDir = mkdtempSync('/tmp/belt-health-busybox-')
  const root = join(imageDir, 'root')
  mkdirSync(join(root, 'bin'), {recursive: true})
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'))
  for (const applet of ['sh', 'sleep']) symlinkSync('busybox', join(root, 'bin', applet))
  execFileSync('tar', ['-C', root, '-cf', join(imageDir, 'busybox.tar'), '.'])
})

after(async () => {
  if (skip) return
  let rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${rm.code}\n${rm.stderr}\n`)
  rmSync(imageDir, {recursive: true, force: true})
  cleanup()
})

test('status: a healthy swarm of 3 managers and a worker, a node that never joined; --wait ready=N', {skip, timeout: 10 * 60_000}, async () => {
  ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.219.40.0/24'), 'cluster new')
  ok(await run('create', '512mb', 'h[1:5]'), 'create')

  // Before any swarm: null, exit 0.
  const before = await status()
  assert.equal(before.r.code, 0, before.r.stderr)
  assert.equal(before.doc.swarm, null)

  ok(await run('swarm', 'init', 'h1'), 'swarm init')
  ok(await run('swarm', 'join', '--manager', 'h1', 'h2'), 'join h2 as manager')
  ok(await run('swarm', 'join', '--manager', 'h1', 'h3'), 'join h3 as manager')
  ok(await run('swarm', 'join', 'h1', 'h4'), 'join h4')

  const {r, doc} = await status('--wait', 'ready=4', '--timeout', '3m')
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(doc.counts, {active: 5})
  const s = doc.swarm!
  assert.match(s.id, /^[a-z0-9]{25}$/)
  assert.deepEqual({...s, id: 'ID', engine_versions: Object.values(s.engine_versions)}, {
    id: 'ID', leader: 'h1',
    managers: {total: 3, reachable: 3, unreachable: []},
    quorum: {holds: true, tolerates: 1},
    nodes: {ready: 4, down: 0, drain: 0},
    engine_versions: [4],
    drift: {not_in_swarm: ['h5'], unknown_to_belt: []},
  })
  assert.equal(doc.failed, undefined, 'every manager asked answered')
  const state = JSON.parse(readFileSync(join(cwd, '.belt', CLUSTER, 'state.json'), 'utf8')) as {swarm_managers: string[]}
  assert.deepEqual(state.swarm_managers, ['h1', 'h2', 'h3'], 'the managers are kept for the next run')

  const text = ok(await run('status'), 'status')
  assert.match(text.stdout, /^active\s+5\s+h1,h2,h3,h4,h5$/m)
  assert.match(text.stdout, /^swarm: +[a-z0-9]{12} \(through h1\)$/m)
  assert.match(text.stdout, /^leader: +h1$/m)
  assert.match(text.stdout, /^managers: +3 managers, all reachable: quorum holds, tolerates 1 failure$/m)
  assert.match(text.stdout, /^nodes: +4 in the swarm: 4 ready; availability 4 active$/m)
  assert.match(text.stdout, /^engines: +\S+ \(4\)$/m)
  assert.match(text.stdout, /^drift: +not in the swarm: 1 \(h5\); unknown to belt: none$/m)

  const late = await run('status', '--wait', 'ready=5', '--timeout', '3s')
  assert.equal(late.code, 1, late.stderr)
  assert.match(late.stderr, /^belt: timed out after 3s: 4 of 5 swarm nodes ready$/m)
})

test('logs of a replicated service with 4 tasks across nodes, one slot, a global service, --follow and Ctrl-C', {skip, timeout: 10 * 60_000}, async () => {
  ok(await run('--host', 'h[1:4]', 'docker', 'import', join(imageDir, 'busybox.tar'), 'belt-busybox:1'), 'docker import')
  const say = 'echo "hello from slot $SLOT on $NODE"; echo "oops $SLOT" >&2; exec sleep 3600'
  ok(await run('docker', 'service', 'create', '--detach', '--no-resolve-image', '--name', 'echo', '--replicas', '4',
    '--env', 'SLOT={{.Task.Slot}}', '--env', 'NODE={{.Node.Hostname}}', 'belt-busybox:1', 'sh', '-c', say), 'service create')
  await waitFor(() => run('docker', 'service', 'ls', '--filter', 'name=echo', '--format', '{{.Replicas}}'), (r) => r.stdout.trim() === '4/4', 'echo at 4/4')

  const logs = ok(await run('logs', 'echo'), 'logs echo')
  const lines = logs.stdout.trim().split('\n').sort()
  assert.equal(lines.length, 4, logs.stdout)
  const nodes = new Set<string>()
  for (const [i, line] of lines.entries()) {
    const m = /^echo\.(\d)@(h[1-4]): hello from slot (\d) on (h[1-4])$/.exec(line)
    assert.ok(m, `prefixed line: ${line}`)
    assert.equal(m[1], String(i + 1))
    assert.equal(m[3], m[1], 'the slot of the prefix is the task\'s')
    assert.equal(m[4], m[2], 'the node of the prefix is where the task runs')
    nodes.add(m[2])
  }
  assert.ok(nodes.size >= 2, `the tasks ran on several nodes: ${[...nodes]}`)
  assert.doesNotMatch(logs.stdout, /oops/, 'stderr stays on stderr')
  assert.deepEqual(logs.stderr.trim().split('\n').sort(), lines.map((l) => l.replace(/: hello from slot (\d) on .*/, ': oops $1')))

  const one = ok(await run('logs', 'echo.2'), 'logs echo.2')
  assert.match(one.stdout, /^hello from slot 2 on h[1-4]\n$/, 'one task: no prefix')
  assert.equal(one.stderr, 'oops 2\n')
  assert.equal(ok(await run('logs', 'echo', '--tail', '0'), 'logs --tail 0').stdout, '')
  assert.equal(ok(await run('logs', 'echo', '--since', '1h', '--timestamps'), 'logs --since').stdout.trim().split('\n').length, 4)
  usageLine(await run('logs', 'nosuch'), /^belt: no service nosuch in the swarm/, 'unknown service')
  usageLine(await run('logs', 'echo.9'), /^belt: echo\.9: the service echo has no running task in slot 9$/, 'unknown slot')

  // A global service: SERVICE.NODE is its task on that node.
  ok(await run('docker', 'service', 'create', '--detach', '--no-resolve-image', '--name', 'gecho', '--mode', 'global',
    '--env', 'SLOT=g', '--env', 'NODE={{.Node.Hostname}}', 'belt-busybox:1', 'sh', '-c', say), 'global service create')
  await waitFor(() => run('docker', 'service', 'ls', '--filter', 'name=gecho', '--format', '{{.Replicas}}'), (r) => r.stdout.trim() === '4/4', 'gecho on 4 nodes')
  const g = ok(await run('logs', 'gecho.h3'), 'logs gecho.h3')
  assert.equal(g.stdout, 'hello from slot g on h3\n')
  const all = ok(await run('logs', 'gecho'), 'logs gecho')
  assert.deepEqual(all.stdout.trim().split('\n').sort(), ['h1', 'h2', 'h3', 'h4'].map((h) => `gecho@${h}: hello from slot g on ${h}`))

  // --follow streams until Ctrl-C, then exits 0 with nothing more said.
  const f = background(['logs', 'echo', '--follow'])
  await waitFor(async () => f.stdout().split('\n').filter(Boolean).length, (n) => n >= 4, 'the followed lines', 60_000)
  f.child()!.kill('SIGINT')
  const fr = await f.done
  assert.equal(fr.code, 0, fr.stderr)
  assert.equal(fr.stdout.trim().split('\n').length, 4)
  assert.doesNotMatch(fr.stderr, /interrupted|Error/)
})

test('stats --no-stream --json: every task of the service, from the nodes that run them', {skip, timeout: 5 * 60_000}, async () => {
  const r = ok(await run('stats', 'echo', '--json'), 'stats --json')
  const doc = JSON.parse(r.stdout) as {service: string; tasks: Record<string, unknown>[]; failed: unknown[]}
  assert.equal(doc.service, 'echo')
  assert.deepEqual(doc.failed, [])
  assert.deepEqual(doc.tasks.map((t) => t.task), ['echo.1', 'echo.2', 'echo.3', 'echo.4'])
  for (const t of doc.tasks) {
    assert.deepEqual(Object.keys(t), ['task', 'slot', 'node', 'container', 'cpu_percent', 'memory_bytes', 'memory_limit_bytes',
      'memory_percent', 'net_rx_bytes', 'net_tx_bytes'])
    assert.match(String(t.node), /^h[1-4]$/)
    assert.match(String(t.container), /^[0-9a-f]{64}$/)
    assert.equal(typeof t.cpu_percent, 'number')
    assert.ok((t.memory_bytes as number) > 0, `memory of ${t.task}`)
    assert.ok((t.memory_limit_bytes as number) >= (t.memory_bytes as number))
    assert.equal(typeof t.net_rx_bytes, 'number')
  }
  const table = ok(await run('stats', 'echo', '--no-stream'), 'stats --no-stream')
  const rows = table.stdout.trim().split('\n')
  assert.match(rows[0], /^TASK\s+NODE\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O$/)
  assert.deepEqual(rows.slice(1).map((l) => l.split(/\s+/)[0]), ['echo.1', 'echo.2', 'echo.3', 'echo.4'])

  // Streaming without a terminal: a table per sample, until Ctrl-C (exit 0).
  const s = background(['stats', 'echo', '--interval', '1s'])
  await waitFor(async () => (s.stdout().match(/^TASK/gm) ?? []).length, (n) => n >= 2, 'two samples', 60_000)
  s.child()!.kill('SIGINT')
  const sr = await s.done
  assert.equal(sr.code, 0, sr.stderr)
})

test('status: a manager whose dockerd is stopped, the next manager for an active node that does not answer, quorum lost', {skip, timeout: 10 * 60_000}, async () => {
  ok(await run('ssh', 'h3', '--', 'systemctl stop docker'), 'stop dockerd on h3')
  const {r, doc} = await waitFor(() => status(), (x) => x.doc.swarm?.managers.unreachable?.length === 1, 'h3 unreachable')
  assert.equal(r.code, 1, 'a manager is unreachable: exit 1')
  assert.deepEqual(doc.swarm!.managers, {total: 3, reachable: 2, unreachable: ['h3']})
  assert.deepEqual(doc.swarm!.quorum, {holds: true, tolerates: 0})
  const text = await run('status')
  assert.equal(text.code, 1)
  assert.match(text.stdout, /^managers: +3 managers, 1 unreachable \(h3\): quorum holds, no further failure tolerated$/m)
  assert.match(text.stderr, /^belt: swarm: 3 managers, 1 unreachable \(h3\): quorum holds, no further failure tolerated$/m)

  // The active node does not answer: the next manager state.json knows does.
  ok(await run('active', 'h3'), 'active h3')
  const via = await status()
  assert.equal(via.r.code, 1)
  assert.equal(via.doc.swarm!.leader, 'h1')
  assert.deepEqual(via.doc.failed!.map((f) => f.name), ['h3'])
  assert.match(via.doc.failed![0].error, /docker/i)
  const viaText = await run('status')
  assert.match(viaText.stdout, /^swarm: +\S+ \(through h1\)$/m)
  assert.match(viaText.stderr, /^swarm: h3 did not answer: /m)
  ok(await run('active', 'h1'), 'active h1')

  // Two of three managers down: no leader, quorum lost.
  ok(await run('ssh', 'h2', '--', 'systemctl stop docker'), 'stop dockerd on h2')
  // First the leader still lists the nodes (both others unreachable); once it steps down it can list none.
  const lost = await waitFor(() => status(), (x) => x.doc.swarm?.quorum.holds === false, 'quorum lost')
  assert.equal(lost.r.code, 1)
  assert.equal(lost.doc.swarm!.managers.total, 3)
  assert.deepEqual(lost.doc.swarm!.quorum, {holds: false, tolerates: 0})
  const lostText = await run('status')
  assert.equal(lostText.code, 1)
  assert.match(lostText.stdout, /^managers: +3 managers, (no leader|2 unreachable \(h2,h3\)): quorum lost \(needs 2 reachable\)$/m)
  assert.match(lostText.stderr, /^belt: swarm: 3 managers, .*quorum lost/m)
})
