// `belt swarm join`'s failure modes on real hosts (local driver: namespaces with their own sshd and a real dockerd),
// the same cases test/e2e/swarm-lab.test.ts runs against the stand-in docker: a node already in another swarm, an
// unreachable node and --retry-failed, a worker named as the manager, Ctrl-C mid-join, and the join token in no
// output or file. One set of five hosts is made in `before` and shared; every test first puts the workers it uses
// into the state it needs, so each passes alone (--test-name-pattern). Needs root. Subnet 10.214.20.0/24.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunOptions, type RunResult} from '../lib/cli.js'
import {clusterHash, clusterLayout, nodeLayout} from '../../src/providers/local/layout.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const skip = skipUnless({root: 'network namespaces', commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables']})
const CLUSTER = 'sfail'
const WORKERS = ['w1', 'w2', 'w3']

let cwd: string
let cleanup: () => void
/** Everything belt printed in this file (the token check reads it); docker's own output of `join-token` is kept out. */
const transcript: string[] = []

async function run(args: string[], opts: Partial<RunOptions> = {}): Promise<RunResult> {
  const r = await belt(['--cluster', CLUSTER, ...args], {cwd, timeoutMs: 300_000, ...opts})
  transcript.push(r.stdout, r.stderr)
  return r
}

function state(): {failures: Record<string, {context?: {manager?: string}; failed: {name: string; error: string}[]}>} {
  return JSON.parse(readFileSync(join(cwd, '.belt', CLUSTER, 'state.json'), 'utf8'))
}

/** The node's own view: `active` in a swarm, `inactive` outside one (anything else is a half-done join); the swarm's
 *  id only on managers (workers are not told it). */
async function swarmState(node: string): Promise<{state: string; nodeId: string; clusterId: string}> {
  const r = ok(await run(['--host', node, 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{if .Swarm.ControlAvailable}}{{.Swarm.Cluster.ID}}{{end}}']), `docker info on ${node}`)
  const [s, nodeId = '', clusterId = ''] = r.stdout.trim().split(/\s+/)
  return {state: s, nodeId, clusterId}
}

/** The swarm id m1 manages. */
async function managerSwarm(): Promise<string> {
  return (await swarmState('m1')).clusterId
}

/** Put workers outside any swarm (a worker that is in none is reported `already`). */
async function outOfSwarm(...nodes: string[]): Promise<void> {
  ok(await run(['swarm', 'leave', nodes.join(','), '--force']), `leave ${nodes.join(',')}`)
}

/** Put workers into m1's swarm. */
async function inSwarm(...nodes: string[]): Promise<void> {
  ok(await run(['swarm', 'join', 'm1', nodes.join(',')]), `join ${nodes.join(',')}`)
}

/** Whether the manager sees the node as a ready member (by the id the node itself reports). */
async function readyOnManager(nodeId: string): Promise<boolean> {
  const r = await run(['docker', 'node', 'inspect', '--format', '{{.Status.State}}', nodeId])
  return r.code === 0 && r.stdout.trim() === 'ready'
}

/** A host's SSH port answering new connections with ICMP host-unreachable, from outside its namespace. */
function blockSsh(node: string, on: boolean): void {
  const ns = nodeLayout(clusterLayout(CLUSTER, clusterHash(join(cwd, '.belt', CLUSTER))), node).netns
  assert.ok(existsSync(`/run/netns/${ns}`), `network namespace of ${node} (${ns})`)
  const rule = ['INPUT', '-p', 'tcp', '--dport', '22', '--syn', '-j', 'REJECT', '--reject-with', 'icmp-host-unreachable']
  execFileSync('nsenter', [`--net=/run/netns/${ns}`, 'iptables', '-w', on ? '-I' : '-D', ...rule])
}

before(async () => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-swarm-failures-'))
  ok(await run(['cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.214.20.0/24']), 'cluster new')
  ok(await run(['create', '512mb', 'm1', 'w[1:3]', 'x1']), 'create')
  ok(await run(['swarm', 'init', 'm1']), 'swarm init m1')
  // x1 runs a swarm of its own, made with docker itself (not through belt, so belt's state knows nothing of it).
  const other = await belt(['--cluster', CLUSTER, '--host', 'x1', 'docker', 'swarm', 'init'], {cwd, timeoutMs: 120_000})
  assert.equal(other.code, 0, other.stderr)
})

after(async () => {
  if (skip) return
  let rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${rm.code}\n${rm.stderr}\n`)
  cleanup?.()
})

test('a node already in another swarm is reported with the way out and not joined; the others join', {skip, timeout: 5 * 60_000}, async () => {
  await outOfSwarm('w1')
  const x1Before = await swarmState('x1')
  assert.equal(x1Before.state, 'active')
  assert.notEqual(x1Before.clusterId, await managerSwarm(), 'x1 is in a swarm of its own')

  const r = await run(['swarm', 'join', 'm1', 'w1,x1', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.equal(doc.manager, 'm1')
  assert.deepEqual(doc.joined, ['w1'])
  assert.deepEqual(doc.already, [])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['x1'])
  assert.match(doc.failed[0].error, /^already in another swarm \(state active, managers \S+\); run: belt swarm leave x1 --force$/)

  const x1After = await swarmState('x1')
  assert.deepEqual(x1After, x1Before, 'x1 is still in its own swarm, as the same node')
  const w1 = await swarmState('w1')
  assert.equal(w1.state, 'active')
  assert.ok(await readyOnManager(w1.nodeId), 'w1 is a ready member of m1\'s swarm')

  // The way out the error names works: x1 leaves its swarm, and the retry joins it (and leaves no record behind).
  ok(await run(['swarm', 'leave', 'x1', '--force']), 'leave x1')
  const retry = await run(['swarm', 'join', '--retry-failed', '--json'])
  assert.equal(retry.code, 0, retry.stderr)
  assert.deepEqual(JSON.parse(retry.stdout), {manager: 'm1', joined: ['x1'], already: [], failed: []})
  assert.equal(state().failures['swarm join'], undefined)
})

test('an unreachable node fails with its reason; --retry-failed joins only it once it answers', {skip, timeout: 5 * 60_000}, async (t) => {
  await outOfSwarm('w1', 'w2')
  blockSsh('w2', true)
  let blocked = true
  t.after(() => { if (blocked) blockSsh('w2', false) })

  const r = await run(['swarm', 'join', 'm1', 'w[1:2]', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.joined, ['w1'])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['w2'])
  assert.match(doc.failed[0].error, /^host unreachable \(10\.214\.20\.\d+\)$/)
  assert.equal(state().failures['swarm join'].context?.manager, 'm1')
  assert.deepEqual(state().failures['swarm join'].failed.map((f) => f.name), ['w2'])
  assert.equal((await swarmState('w1')).state, 'active')

  blockSsh('w2', false)
  blocked = false
  const retry = await run(['swarm', 'join', '--retry-failed', '--json'])
  assert.equal(retry.code, 0, retry.stderr)
  assert.deepEqual(JSON.parse(retry.stdout), {manager: 'm1', joined: ['w2'], already: [], failed: []})
  assert.equal(state().failures['swarm join'], undefined, 'nothing left to retry')
  const w2 = await swarmState('w2')
  assert.equal(w2.state, 'active')
  assert.ok(await readyOnManager(w2.nodeId), 'w2 is a ready member of m1\'s swarm')
  const again = await run(['swarm', 'join', '--retry-failed'])
  assert.equal(again.code, 0, again.stderr)
  assert.match(again.stderr, /^nothing to retry: the last swarm join left no failures$/m)
})

test('a worker named as the manager is refused (exit 2) and nothing joins', {skip, timeout: 5 * 60_000}, async () => {
  await inSwarm('w1')
  await outOfSwarm('w3')
  const r = await run(['swarm', 'join', 'w1', 'w3'])
  assert.equal(r.code, 2, r.stderr)
  assert.match(r.stderr, /^belt: w1 is a swarm worker, not a manager/m)
  assert.equal(r.stdout, '')
  assert.equal((await swarmState('w3')).state, 'inactive', 'w3 was not joined anywhere')
})

test('Ctrl-C mid-join: exit 130, a summary, every node either joined or untouched, the rest kept for --retry-failed', {skip, timeout: 5 * 60_000}, async () => {
  await outOfSwarm(...WORKERS)
  let stderr = ''
  let interrupted = false
  const r = await run(['swarm', 'join', 'm1', 'w[1:3]', '--concurrency', '1'], {
    onSpawn: (child) => child.stderr!.on('data', (d) => {
      stderr += d
      if (!interrupted && /^w\d: joined$/m.test(stderr)) {
        interrupted = true
        child.kill('SIGINT')
      }
    }),
  })
  assert.ok(interrupted, `a node joined before the interrupt:\n${r.stderr}`)
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted: finishing what is in flight/)
  const joined = Number(/^joined\s+(\d+)/m.exec(r.stdout)?.[1])
  const notStarted = Number(/^not started\s+(\d+)/m.exec(r.stdout)?.[1])
  assert.ok(joined >= 1 && notStarted >= 1, r.stdout)
  assert.equal(joined + notStarted, WORKERS.length, r.stdout)

  // No half state: each worker is a ready member of m1's swarm or in no swarm at all.
  const members: string[] = []
  for (const w of WORKERS) {
    const s = await swarmState(w)
    if (s.state === 'active') {
      assert.ok(await readyOnManager(s.nodeId), `${w} is a ready member of m1's swarm`)
      members.push(w)
    } else {
      assert.equal(s.state, 'inactive', `${w} is either joined or untouched`)
    }
  }
  assert.equal(members.length, joined)
  const kept = state().failures['swarm join'].failed
  assert.deepEqual(kept.map((f) => f.name).sort(), WORKERS.filter((w) => !members.includes(w)))
  assert.ok(kept.every((f) => f.error === 'not started (interrupted)'), JSON.stringify(kept))

  const retry = await run(['swarm', 'join', '--retry-failed', '--json'])
  assert.equal(retry.code, 0, retry.stderr)
  assert.deepEqual(JSON.parse(retry.stdout).joined, WORKERS.filter((w) => !members.includes(w)))
  for (const w of WORKERS) assert.equal((await swarmState(w)).state, 'active', w)
})

test('the join tokens appear nowhere: stdout, stderr (also with debug logs), --print-command, state.json, known_hosts', {skip, timeout: 5 * 60_000}, async () => {
  await outOfSwarm('w3')
  ok(await run(['swarm', 'join', 'm1', 'w3'], {env: {DEBUG: 'belt*'}}), 'join with debug logs')
  ok(await run(['swarm', 'join', 'm1', 'w3', '--manager', '--print-command']), '--print-command')
  ok(await run(['swarm', 'join', 'm1', 'w3', '--json', '--debug']), 'join again with --debug')
  // The real tokens, asked of docker directly (this output is docker's, kept out of the transcript).
  const tokens: string[] = []
  for (const role of ['worker', 'manager']) {
    const r = await belt(['--cluster', CLUSTER, 'docker', 'swarm', 'join-token', '-q', role], {cwd, timeoutMs: 60_000})
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout.trim(), /^SWMTKN-1-[0-9a-z]+-[0-9a-z]+$/)
    tokens.push(r.stdout.trim())
  }
  const files: string[] = []
  const dir = join(cwd, '.belt', CLUSTER)
  for (const f of readdirSync(dir)) if (statSync(join(dir, f)).isFile()) files.push(readFileSync(join(dir, f), 'utf8'))
  assert.ok(existsSync(join(dir, 'known_hosts')) && existsSync(join(dir, 'state.json')), 'known_hosts and state.json were read')
  const everything = [...transcript, ...files]
  assert.ok(transcript.join('').includes('belt:'), 'the debug run produced debug lines to search')
  for (const text of everything) {
    for (const token of tokens) assert.ok(!text.includes(token), 'a join token leaked')
    // The secret part of any token (docker prints only SWMTKN-1-<ca hash>-<secret>; belt redacts it).
    assert.doesNotMatch(text, /SWMTKN-1-[0-9a-z]{20,}-[0-9a-z]{20,}/)
  }
})
