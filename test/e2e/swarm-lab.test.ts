// `belt swarm init / join` as a user runs them, against the SSH lab (one real sshd on many addresses; the stand-in
// docker keeps each address's swarm state): idempotent joins, a node in another swarm, unreachable nodes, the
// failure record and --retry-failed, --manager, and the join token never leaving the manager's session.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BELT, belt, cleanEnv, scratchDir} from '../lib/cli.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare']})
const N = 40
/** Hosts s0..s19 for the Ctrl-C and terminal tests. */
const SPARE = 20

let lab: SshLab
let cwd: string
let cleanup: () => void
const transcript: string[] = []

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: N + SPARE})
  ;({dir: cwd, cleanup} = scratchDir('belt-swarm-lab-'))
  mkdirSync(join(cwd, '.belt', 'lab'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'active'), 'lab\n')
  writeFileSync(join(cwd, '.belt', 'lab', 'config.yml'), [
    'driver: generic',
    'generic:',
    `  ssh_key: ${lab.keyPath}`,
    '  hosts:',
    ...lab.hosts.map((a, i) => `    n${i}: ${a}`),
    ...Array.from({length: SPARE}, (_, i) => `    s${i}: ${lab.hosts[N + i]}`),
    `    gone: ${lab.unassigned(1)[0]}`,
    '',
  ].join('\n'))
})

after(async () => {
  cleanup?.()
  await lab?.close()
})

async function run(args: string[]) {
  const r = await belt(args, {cwd, timeoutMs: 120_000})
  transcript.push(r.stdout, r.stderr)
  return r
}

// What a test needs from the ones before it, made sure of first, so each also passes alone (--test-name-pattern).
// Every step is idempotent: after the earlier tests ran it changes nothing.
async function given(args: string[], code = 0) {
  const r = await run(args)
  assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`)
}
/** n0 manages the swarm. */
const managerN0 = () => given(['swarm', 'init', 'n0'])
/** The first test's join: n39 in a swarm of its own, `gone` unreachable, so both are in the failure record. */
async function joinedWithFailures() {
  await managerN0()
  await given(['swarm', 'init', 'n39'])
  await given(['swarm', 'join', 'n0', `n[1:${N - 1}]`, 'gone'], 1)
}

test('init, then join in parallel: idempotent, other swarms and unreachable nodes reported per node', {skip}, async () => {
  const init = await run(['swarm', 'init', 'n0'])
  assert.equal(init.code, 0, init.stderr)
  assert.match(init.stdout, new RegExp(`^swarm initialised on n0 \\(node \\S+, ${lab.hosts[0].replace(/\./g, '\\.')}:2377\\)\\n$`))
  const again = await run(['swarm', 'init', 'n0', '--json'])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(JSON.parse(again.stdout).already, true)
  assert.equal(JSON.parse(readFileSync(join(cwd, '.belt', 'lab', 'state.json'), 'utf8')).active_node, 'n0')

  // n39 belongs to a different swarm.
  const other = await run(['swarm', 'init', 'n39'])
  assert.equal(other.code, 0, other.stderr)

  const r = await run(['swarm', 'join', 'n0', `n[1:${N - 1}]`, 'gone', '--json'])
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout)
  assert.equal(doc.manager, 'n0')
  assert.deepEqual(doc.joined, Array.from({length: N - 2}, (_, i) => `n${i + 1}`))
  assert.deepEqual(doc.already, [])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['gone', `n${N - 1}`])
  assert.match(doc.failed[0].error, /^host unreachable \(10\.215\.\d+\.\d+\)$/)
  assert.match(doc.failed[1].error, /^already in another swarm \(state active, managers \S+\); run: belt swarm leave n39 --force$/)
  // Each node joined exactly once, through the manager's address.
  const joins = lab.joins()
  assert.equal(joins.length, N - 2)
  assert.ok(joins.every((l) => l.endsWith(` ${lab.hosts[0]}:2377 worker`)), joins[0])
  // Progress on stderr: plain lines without a terminal (a big fleet would get periodic lines instead).
  assert.match(r.stderr, /^joining 40 nodes as workers to the swarm of n0 \(10\.215\.\d+\.\d+:2377\)$/m)
  assert.match(r.stderr, /^gone: failed: host unreachable/m)
  assert.match(r.stderr, /^swarm join: joined 38\/40 · failed 2 · \d+ s$/m)
  // The stand-in docker is no Engine (no socket behind `docker context inspect`): the lab joins by the argv fallback,
  // and belt says so — the token was in those nodes' process lists.
  assert.match(r.stderr, /^warning: 38 nodes \(n\d+, .*\) had no curl or no local docker socket and joined with docker swarm join --token/m)

  // Failures are kept for --retry-failed, with the manager; never the token.
  const state = JSON.parse(readFileSync(join(cwd, '.belt', 'lab', 'state.json'), 'utf8'))
  assert.equal(state.failures['swarm join'].context.manager, 'n0')
  assert.deepEqual(state.failures['swarm join'].failed.map((f: {name: string}) => f.name), ['gone', `n${N - 1}`])

  // A second run changes nothing and says so.
  const second = await run(['swarm', 'join', 'n0', `n[1:${N - 2}]`])
  assert.equal(second.code, 0, second.stderr)
  assert.match(second.stdout, new RegExp(`^already\\s+${N - 2}\\s+n\\[1:${N - 2}\\]$`, 'm'))
  assert.equal(lab.joins().length, N - 2)
})

test('--retry-failed joins only the nodes that failed, and updates the record', {skip}, async () => {
  await joinedWithFailures()
  const leave = await run(['swarm', 'leave', `n${N - 1}`, '--force'])
  assert.equal(leave.code, 0, leave.stderr)
  assert.match(leave.stdout, new RegExp(`^left\\s+1\\s+n${N - 1}$`, 'm'))
  const r = await run(['swarm', 'join', '--retry-failed'])
  assert.equal(r.code, 1)
  assert.match(r.stdout, new RegExp(`^joined\\s+1\\s+n${N - 1}$`, 'm'))
  assert.match(r.stdout, /^failed\s+1\s+gone$/m)
  assert.match(r.stdout, /^gone\s+host unreachable/m)
  const state = JSON.parse(readFileSync(join(cwd, '.belt', 'lab', 'state.json'), 'utf8'))
  assert.deepEqual(state.failures['swarm join'].failed.map((f: {name: string}) => f.name), ['gone'])
  // Narrowed to a pattern that matches none of them: nothing to do.
  const none = await run(['swarm', 'join', 'n0', 'n1', '--retry-failed'])
  assert.equal(none.code, 0)
  assert.match(none.stderr, /none of the nodes that failed last time \(1\) match n1/)
})

test('--manager joins as managers; a worker is refused as the manager to join through', {skip}, async () => {
  await managerN0()
  await given(['swarm', 'join', 'n0', 'n[1:2]'])
  const r = await run(['swarm', 'join', '--manager', 'n0', 'n2'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^already\s+1\s+n2$/m, 'n2 is already in this swarm (as a worker): not re-joined')
  const w = await run(['swarm', 'join', 'n1', 'n3'])
  assert.equal(w.code, 2)
  assert.match(w.stderr, /^belt: n1 is a swarm worker, not a manager/m)
  const unknown = await run(['swarm', 'join', 'n0', 'nope[1:2]'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /^belt: unknown nodes nope1, nope2 in cluster 'lab'/)
})

test('Ctrl-C: no new nodes start, in-flight joins finish, summary, exit 130; the rest is kept for --retry-failed', {skip}, async () => {
  await managerN0()
  lab.setJoinLatency(1)
  let stderr = ''
  let interrupted = false
  const r = await belt(['swarm', 'join', 'n0', `s[0:${SPARE - 1}]`, '--concurrency', '2'], {
    cwd,
    timeoutMs: 120_000,
    onSpawn: (child) => child.stderr!.on('data', (d) => {
      stderr += d
      if (!interrupted && /^s\d+: joined$/m.test(stderr)) {
        interrupted = true
        child.kill('SIGINT')
      }
    }),
  })
  transcript.push(r.stdout, r.stderr)
  lab.setJoinLatency(0)
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted: finishing what is in flight/)
  const joined = Number(/^joined\s+(\d+)/m.exec(r.stdout)?.[1])
  const notStarted = Number(/^not started\s+(\d+)/m.exec(r.stdout)?.[1])
  assert.ok(joined >= 1 && joined <= 4, r.stdout)
  assert.equal(joined + notStarted, SPARE, r.stdout)
  const state = JSON.parse(readFileSync(join(cwd, '.belt', 'lab', 'state.json'), 'utf8'))
  const kept = state.failures['swarm join'].failed as {name: string; error: string}[]
  assert.equal(kept.filter((f) => f.error === 'not started (interrupted)').length, notStarted)
  const retry = await run(['swarm', 'join', 'n0', 's[0:19]', '--retry-failed'])
  assert.equal(retry.code, 0, retry.stderr)
  assert.match(retry.stdout, new RegExp(`^joined\\s+${notStarted}\\s`, 'm'))
})

test('on a terminal, progress is one live line', {skip}, async () => {
  await managerN0()
  await given(['swarm', 'join', 'n0', `s[0:${SPARE - 1}]`])
  const r = spawnSync('script', ['-qec', `stty cols 100 rows 30; ${process.execPath} ${BELT} swarm join n0 's[0:${SPARE - 1}]'`, '/dev/null'], {cwd, env: cleanEnv(), encoding: 'utf8', timeout: 60_000})
  transcript.push(r.stdout)
  assert.equal(r.status, 0, r.stdout)
  // eslint-disable-next-line no-control-regex -- looking for ESC is the point
  assert.match(r.stdout, /\u001b\[/, 'terminal control sequences')
  assert.match(r.stdout, /swarm join: joined 0\/20 · already 20 · \d+ s/)
  assert.doesNotMatch(r.stdout, /^s\d+: already/m, 'no per-node lines on a terminal')
  assert.match(r.stdout, /already\s+20\s+s\[0:19\]/)
})

test('the join token appears nowhere: outputs, state.json, known_hosts', {skip}, async () => {
  await managerN0()
  await given(['swarm', 'join', 'n0', 'n[1:2]'])
  await given(['swarm', 'join', 'n0', 'n[1:2]', '--json'])
  await given(['swarm', 'join', 'n0', 'n[1:2]', '--print-command'])
  const everything = [...transcript]
  for (const f of readdirSync(join(cwd, '.belt', 'lab'))) {
    if (f === 'ssh') continue
    everything.push(readFileSync(join(cwd, '.belt', 'lab', f), 'utf8'))
  }
  assert.ok(everything.length > 10)
  for (const text of everything) assert.doesNotMatch(text, /SWMTKN-1-lab/)
})
