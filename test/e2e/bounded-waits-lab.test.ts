// Every remote wait is bounded, against the SSH lab (one real sshd on many addresses, the stand-in docker): a manager
// whose `docker` hangs (swarm join --timeout, swarm init, node changes), and single-host `belt docker` / `belt ssh`
// where --timeout covers the command while, without it, nothing is cut off.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)' : false

let lab: SshLab
let cwd: string
let cleanup: () => void

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: 3})
  ;({dir: cwd, cleanup} = scratchDir('belt-waits-lab-'))
  mkdirSync(join(cwd, '.belt', 'lab'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'active'), 'lab\n')
  writeFileSync(join(cwd, '.belt', 'lab', 'config.yml'), [
    'driver: generic', 'generic:', `  ssh_key: ${lab.keyPath}`, '  hosts:', ...lab.hosts.map((a, i) => `    m${i}: ${a}`), '',
  ].join('\n'))
})

after(async () => {
  lab?.setInfoHang(0)
  cleanup?.()
  await lab?.close()
})

const run = (args: string[]) => belt(args, {cwd, timeoutMs: 60_000})

test('a manager whose docker hangs: swarm join --timeout fails with a clear reason, exit 1, --json one document', {skip}, async () => {
  const init = await run(['swarm', 'init', 'm0'])
  assert.equal(init.code, 0, init.stderr)
  lab.setInfoHang(30)
  try {
    let r = await run(['swarm', 'join', 'm0', 'm[1:2]', '--timeout', '2s', '--json'])
    assert.equal(r.code, 1, r.stderr)
    const doc = JSON.parse(r.stdout) as {manager: string; joined: string[]; already: string[]; failed: {name: string; error: string}[]}
    assert.deepEqual({...doc, failed: doc.failed.map((f) => f.name)}, {manager: 'm0', joined: [], already: [], failed: ['m1', 'm2']})
    for (const f of doc.failed) {
      assert.equal(f.error, 'manager m0: no answer within 2s while reading its swarm state and worker join token (is docker hanging on m0?)')
    }
    r = await run(['swarm', 'join', 'm0', 'm1', '--timeout', '2s'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^belt: manager m0: no answer within 2s while reading its swarm state and worker join token/m)
    assert.equal(lab.joins().length, 0, 'nothing joined')
  } finally {
    lab.setInfoHang(0)
  }
})

test('swarm init and node changes are bounded by --timeout when docker hangs', {skip}, async () => {
  lab.setInfoHang(30)
  try {
    let r = await run(['swarm', 'init', 'm1', '--timeout', '2s'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^belt: m1: timed out after 2s while the command ran; it may still be running on the host$/m)
    r = await run(['swarm', 'drain', 'm2', '--timeout', '2s'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /^belt: manager m0: timed out after 2s while the command ran; it may still be running on the host$/m)
  } finally {
    lab.setInfoHang(0)
  }
})

test('single-host docker and ssh: --timeout covers the command; without it nothing is cut off', {skip}, async () => {
  let r = await run(['docker', '--host', 'm1', '--timeout', '2s', 'lab-sleep', '30'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^belt: m1: timed out after 2s while docker ran; it may still be running on the host$/m)
  r = await run(['ssh', '--timeout', '2s', 'm1', '--', 'sleep 30'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /^belt: m1: timed out after 2s while the command ran; it may still be running on the host$/m)
  // No --timeout: a command longer than any default bound would be runs to its end with its own exit code.
  r = await run(['docker', '--host', 'm1', 'lab-exit', '7'])
  assert.equal(r.code, 7, r.stderr)
  r = await run(['ssh', '--timeout', '20s', 'm1', '--', 'sleep 1; exit 3'])
  assert.equal(r.code, 3, r.stderr)
})
