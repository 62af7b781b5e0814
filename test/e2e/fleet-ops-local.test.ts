// Day-2 fleet commands on real hosts (local driver: namespaces with their own sshd and dockerd), only through belt:
// `belt ssh` on all of them, `belt scp --load` of a `docker save` archive to 4 hosts and a service of that image
// running on every one, then `belt swarm rm` refusing a node that is up and removing it with --down once its dockerd
// is stopped. Needs root; subnet 10.219.20.0/24 (helper "fleet").
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'
import {BELT, belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {ok, usageLine} from '../lib/assert.js'

const skip = skipUnless({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'tar'],
  files: ['/bin/busybox'],
})

const CLUSTER = 'fleetops'
const IMAGE = 'belt-fleet-busybox:1'
let cwd: string
let cleanup: () => void
let imageDir: string

function run(...args: string[]): Promise<RunResult> {
  return belt(['--cluster', CLUSTER, ...args], {cwd, timeoutMs: 300_000})
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** belt with a file as its stdin (binary: the cli helper takes text only). */
function beltWithStdin(args: string[], file: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const fd = openSync(file, 'r')
    const child = spawn(process.execPath, [BELT, ...args], {cwd, env: cleanEnv(), stdio: [fd, 'pipe', 'pipe']})
    closeSync(fd)
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
  })
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-fleet-local-'))
  // A root file system holding Debian's static busybox, for `docker import` on one node and `docker save` from there.
  imageDir = mkdtempSync('/tmp/belt-fleet-image-')
  const root = join(imageDir, 'root')
  mkdirSync(join(root, 'bin'), {recursive: true})
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'))
  for (const applet of ['sh', 'sleep']) symlinkSync('busybox', join(root, 'bin', applet))
  execFileSync('tar', ['-C', root, '-cf', join(imageDir, 'rootfs.tar'), '.'])
})

after(async () => {
  if (skip) return
  let rm = await run('rm', '--all', '--force')
  if (rm.code !== 0) rm = await run('rm', '--all', '--force')
  if (rm.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${rm.code}\n${rm.stderr}\n`)
  rmSync(imageDir, {recursive: true, force: true})
  cleanup()
})

test('scp --load of an image archive to 4 hosts, a service of it on all; swarm rm --down after a dockerd stops', {skip, timeout: 12 * 60_000}, async () => {
  ok(await belt(['cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.219.20.0/24'], {cwd, timeoutMs: 60_000}), 'cluster new')
  ok(await run('create', '512mb', 'node[1:4]'), 'create')
  ok(await run('swarm', 'init', 'node1'), 'swarm init')
  ok(await run('swarm', 'join', 'node1', 'node[2:4]'), 'swarm join')

  // belt ssh on every real host: each answers with its own hostname, prefixed.
  const names = ok(await run('ssh', 'node[1:4]', '--', 'hostname'), 'ssh on 4 hosts')
  assert.deepEqual(names.stdout.trim().split('\n').sort(), ['node1: node1', 'node2: node2', 'node3: node3', 'node4: node4'])

  // The archive: imported and saved on node1 (this machine runs no dockerd of its own), then removed there, so the
  // image reaches every node only through scp --load.
  const archive = join(imageDir, 'image.tar')
  ok(await run('--host', 'node1', 'docker', 'import', join(imageDir, 'rootfs.tar'), IMAGE), 'docker import')
  ok(await run('--host', 'node1', 'docker', 'save', '-o', archive, IMAGE), 'docker save')
  ok(await run('--host', 'node1', 'docker', 'image', 'rm', IMAGE), 'docker image rm')
  assert.ok(statSync(archive).size > 100_000, 'a real archive')
  const before = await run('--host', 'node[1:4]', 'docker', 'image', 'inspect', IMAGE)
  assert.equal(before.code, 1, 'no node has the image yet')

  const load = ok(await run('scp', '--load', archive, 'node[1:4]', '--json'), 'scp --load')
  const doc = JSON.parse(load.stdout)
  assert.deepEqual(doc.ok, ['node1', 'node2', 'node3', 'node4'])
  assert.deepEqual(doc.failed, [])
  for (const r of doc.results) {
    assert.equal(r.exit_code, 0)
    assert.match(r.stdout, new RegExp(`Loaded image: ${IMAGE.replace('.', '\\.')}`))
    assert.equal(r.bytes, statSync(archive).size)
  }
  ok(await run('--host', 'node[1:4]', 'docker', 'image', 'inspect', '--format', '{{.Id}}', IMAGE), 'every node has the image')
  // --load -: the archive read once from stdin, sent to two nodes at the same time (after they dropped the image).
  ok(await run('--host', 'node[3:4]', 'docker', 'image', 'rm', IMAGE), 'docker image rm on node3, node4')
  const piped = await beltWithStdin(['--cluster', CLUSTER, 'scp', '--load', '-', 'node[3:4]', '--json'], archive)
  assert.equal(piped.code, 0, piped.stderr)
  const pipedDoc = JSON.parse(piped.stdout)
  assert.deepEqual(pipedDoc.ok, ['node3', 'node4'])
  for (const r of pipedDoc.results) assert.equal(r.bytes, statSync(archive).size)
  ok(await run('--host', 'node[3:4]', 'docker', 'image', 'inspect', '--format', '{{.Id}}', IMAGE), 'node3 and node4 have the image again')

  ok(await run('docker', 'service', 'create', '--detach', '--mode', 'global', '--no-resolve-image', '--name', 'loaded', IMAGE, 'sleep', '3600'), 'service create')
  await waitFor(async () => {
    const r = await run('docker', 'service', 'ps', 'loaded', '--filter', 'desired-state=running', '--format', '{{.Node}} {{.CurrentState}}')
    const running = r.stdout.trim().split('\n').filter((l) => / Running /.test(l)).map((l) => l.split(' ')[0]).sort()
    return r.code === 0 && running.join(',') === 'node1,node2,node3,node4'
  }, 'a running task of the loaded image on each of the 4 nodes', 180_000)

  // swarm rm: a node that is up is refused, naming it, before anything changes; a manager is never removed.
  usageLine(await run('swarm', 'rm', 'node4'), /^belt: not Down in the swarm: node4; removing a node that is still up needs --force/, 'swarm rm of an up node')
  const mgr = await run('swarm', 'rm', 'node1', '--force', '--json')
  assert.equal(mgr.code, 1)
  assert.deepEqual(JSON.parse(mgr.stdout).failed, [{name: 'node1', error: 'a manager: demote it first (belt swarm demote node1), then belt swarm rm node1'}])
  const nothing = ok(await run('swarm', 'rm', '--down', '--json'), 'swarm rm --down with nothing Down')
  assert.deepEqual(JSON.parse(nothing.stdout), {manager: 'node1', ok: [], already: [], failed: []})

  ok(await run('ssh', 'node4', '--', 'systemctl stop docker'), 'stop node4\'s dockerd')
  await waitFor(async () => {
    const r = await run('docker', 'node', 'inspect', '--format', '{{.Status.State}}', 'node4')
    return r.code === 0 && r.stdout.trim() === 'down'
  }, 'the manager to see node4 Down', 120_000)
  const rm = ok(await run('swarm', 'rm', '--down', '--json'), 'swarm rm --down')
  assert.deepEqual(JSON.parse(rm.stdout), {manager: 'node1', ok: ['node4'], already: [], failed: []})
  const ls = ok(await run('docker', 'node', 'ls', '--format', '{{.Hostname}}'), 'node ls')
  assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['node1', 'node2', 'node3'])
  const again = ok(await run('swarm', 'rm', 'node4'), 'swarm rm again')
  assert.match(again.stdout, /^already\s+1\s+node4$/m)
  assert.equal(existsSync(archive), true)
})
