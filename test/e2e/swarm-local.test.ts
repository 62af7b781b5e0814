// A real Docker Swarm on real hosts (local driver: namespaces with their own sshd and dockerd), driven only through
// belt: init, join (and again: already), `belt docker node ls`, prefixed multi-host output, a service of a locally
// imported busybox image scaled to 4, node changes through the manager; then the generic driver against hosts made
// the same way, logging in as a non-root user with passwordless sudo. Needs root; subnets 10.216.1.0/24, 10.216.2.0/24.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawn, type ChildProcess} from 'node:child_process'
import {mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, copyFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {have, skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const skip = skipUnless({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'sudo', 'useradd', 'tar'],
  files: ['/bin/busybox'],
})

let cwd: string
let cleanup: () => void
let imageDir: string
const user = `beltsudo${process.pid % 100000}`

function run(...args: string[]): Promise<RunResult> {
  return belt(args, {cwd, timeoutMs: 300_000})
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const start = Date.now()
  while (Date.now() - start < timeoutMs) {
    if (await check()) return
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`timed out waiting for ${what}`)
}

/** The host-side pid of a local host's sshd listener: in the pid namespace of its init (state.json), named sshd. */
function sshdPidOf(cluster: string, node: string): number {
  const st = JSON.parse(readFileSync(join(cwd, '.belt', cluster, 'state.json'), 'utf8')) as {nodes: Record<string, {init_pid: number}>}
  const init = st.nodes[node].init_pid
  const ns = readlinkSync(`/proc/${init}/ns/pid`)
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === init && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sshd' && readlinkSync(`/proc/${pid}/ns/pid`) === ns) return Number(pid)
    } catch {}
  }
  throw new Error(`no sshd found for ${node}`)
}

/** strace every execve under a node's sshd (each SSH command's processes), with full argv, into a file. */
async function traceExecs(pid: number, file: string): Promise<ChildProcess> {
  const child = spawn('strace', ['-f', '-qq', '-e', 'trace=execve', '-s', '65535', '-o', file, '-p', String(pid)], {stdio: 'ignore'})
  await waitFor(async () => /^TracerPid:\s*[1-9]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')), `strace attached to ${pid}`, 30_000)
  return child
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-swarm-local-'))
  // An image without a registry: a tarball holding Debian's static busybox, imported on every node.
  imageDir = mkdtempSync('/tmp/belt-busybox-')
  const root = join(imageDir, 'root')
  mkdirSync(join(root, 'bin'), {recursive: true})
  copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'))
  for (const applet of ['sh', 'sleep']) symlinkSync('busybox', join(root, 'bin', applet))
  execFileSync('tar', ['-C', root, '-cf', join(imageDir, 'busybox.tar'), '.'])
})

after(async () => {
  if (skip) return
  for (const c of ['lsw', 'lsud']) {
    let rm = await belt(['--cluster', c, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
    if (rm.code !== 0) rm = await belt(['--cluster', c, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
    if (rm.code !== 0) process.stderr.write(`cleanup of ${c}: exit ${rm.code}\n${rm.stderr}\n`)
  }
  try { execFileSync('userdel', ['-r', user], {stdio: 'ignore'}) } catch {}
  rmSync(`/etc/sudoers.d/${user}`, {force: true})
  rmSync(imageDir, {recursive: true, force: true})
  cleanup()
})

test('a real 4-node swarm: init, join twice, node ls, prefixed output, a service scaled to 4', {skip, timeout: 10 * 60_000}, async () => {
  ok(await run('cluster', 'new', 'lsw', '--driver', 'local', 'subnet=10.216.1.0/24'), 'cluster new')
  ok(await run('create', '512mb', 'node[1:4]'), 'create')

  const init = ok(await run('swarm', 'init', 'node1'), 'swarm init')
  assert.match(init.stdout, /^swarm initialised on node1 \(node \w+, 10\.216\.1\.\d+:2377\)$/m)

  // Every process started on the joining nodes is traced with its full argv: the join token must be in none.
  const traces = have('strace') ? await Promise.all(['node2', 'node3', 'node4'].map(async (n) => {
    const file = join(cwd, `exec-${n}.trace`)
    return {n, file, child: await traceExecs(sshdPidOf('lsw', n), file)}
  })) : []
  const join1 = ok(await run('swarm', 'join', 'node1', 'node[2:4]', '--json'), 'swarm join')
  assert.deepEqual(JSON.parse(join1.stdout), {manager: 'node1', joined: ['node2', 'node3', 'node4'], already: [], failed: []})
  assert.doesNotMatch(join1.stderr, /swarm join --token/, 'joined through the Engine API, not the argv fallback')
  for (const t of traces) {
    const exited = new Promise((r) => t.child.once('exit', r))
    t.child.kill('SIGINT')
    await exited
    const trace = readFileSync(t.file, 'utf8')
    assert.match(trace, /execve\("[^"]*curl", \["curl", "-sS", "--unix-socket"/, `${t.n}: the join went through curl to the docker socket`)
    assert.match(trace, /execve\("[^"]*docker", \["docker", "info"/, `${t.n}: the trace saw the join command's processes`)
    assert.doesNotMatch(trace, /SWMTKN-1-/, `${t.n}: no process of the join had the token in its argv`)
  }
  const join2 = ok(await run('swarm', 'join', 'node1', 'node[2:4]'), 'swarm join again')
  assert.match(join2.stdout, /^already\s+3\s+node\[2:4\]$/m)
  assert.doesNotMatch(join2.stdout, /^joined/m)

  const ls = ok(await run('docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'), 'docker node ls')
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.trim()).sort(), ['node1 Ready Leader', 'node2 Ready', 'node3 Ready', 'node4 Ready'])

  const infos = ok(await run('--host', 'node[2:4]', 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Name}}'), 'docker info on 3 nodes')
  assert.deepEqual(infos.stdout.trim().split('\n').sort(), ['node2: active node2', 'node3: active node3', 'node4: active node4'])

  // A service of a locally imported image: imported on every node, created without resolving it in a registry.
  ok(await run('--host', 'node[1:4]', 'docker', 'import', join(imageDir, 'busybox.tar'), 'belt-busybox:1'), 'docker import')
  ok(await run('docker', 'service', 'create', '--detach', '--no-resolve-image', '--name', 'sleeper', 'belt-busybox:1', 'sleep', '3600'), 'service create')
  ok(await run('docker', 'service', 'scale', '--detach', 'sleeper=4'), 'service scale')
  await waitFor(async () => {
    const r = await run('docker', 'service', 'ls', '--filter', 'name=sleeper', '--format', '{{.Replicas}}')
    return r.code === 0 && r.stdout.trim() === '4/4'
  }, 'sleeper at 4/4', 180_000)
  const ps = ok(await run('docker', 'service', 'ps', 'sleeper', '--filter', 'desired-state=running', '--format', '{{.Node}}'), 'service ps')
  assert.equal(ps.stdout.trim().split('\n').length, 4)
})

test('node changes through the active manager, and leave', {skip, timeout: 5 * 60_000}, async () => {
  const role = async (n: string) => (await run('docker', 'node', 'inspect', '--format', '{{.Spec.Role}} {{.Spec.Availability}}', n)).stdout.trim()
  const drain = ok(await run('swarm', 'drain', 'node[3:4]', '--json'), 'drain')
  assert.deepEqual(JSON.parse(drain.stdout), {manager: 'node1', ok: ['node3', 'node4'], already: [], failed: []})
  assert.equal(await role('node3'), 'worker drain')
  const again = ok(await run('swarm', 'drain', 'node3'), 'drain again')
  assert.match(again.stdout, /^already\s+1\s+node3$/m)
  ok(await run('swarm', 'activate', 'node[3:4]'), 'activate')
  assert.equal(await role('node4'), 'worker active')
  ok(await run('swarm', 'promote', 'node2'), 'promote')
  assert.equal(await role('node2'), 'manager active')
  // Docker answers `node promote` before the new manager is in the raft group; demoting it before then fails with
  // "can't find manager in raft memberlist" (a Docker race, not belt's). An operator waits for Reachable: so do we.
  await waitFor(async () => {
    const r = await run('docker', 'node', 'inspect', '--format', '{{.ManagerStatus.Reachability}}', 'node2')
    return r.code === 0 && r.stdout.trim() === 'reachable'
  }, 'node2 reachable as a manager', 60_000)
  ok(await run('swarm', 'demote', 'node2'), 'demote')
  assert.equal(await role('node2'), 'worker active')

  const leave = ok(await run('swarm', 'leave', 'node4', '--json'), 'leave')
  assert.deepEqual(JSON.parse(leave.stdout), {ok: ['node4'], already: [], failed: []})
  const state = ok(await run('--host', 'node4', 'docker', 'info', '--format', '{{.Swarm.LocalNodeState}}'), 'node4 state')
  assert.equal(state.stdout.trim(), 'inactive')
  const manager = await run('swarm', 'leave', 'node1')
  assert.equal(manager.code, 1)
  assert.match(manager.stdout, /^node1\s+it is a manager; demote it first or use --force/m)
  // Re-joining after a leave works (the swarm still lists the old node4 as down until `docker node rm`).
  const rejoin = ok(await run('swarm', 'join', 'node1', 'node4'), 'rejoin')
  assert.match(rejoin.stdout, /^joined\s+1\s+node4$/m)
})

test('generic driver on hosts made the same way, as a non-root user through sudo -n', {skip, timeout: 5 * 60_000}, async () => {
  ok(await run('cluster', 'new', 'lsud', '--driver', 'local', 'subnet=10.216.2.0/24'), 'cluster new lsud')
  const created = JSON.parse(ok(await run('--cluster', 'lsud', 'create', '512mb', 'g[1:2]', '--json'), 'create g1 g2').stdout) as {created: {name: string; public_ip: string}[]}
  const addr = Object.fromEntries(created.created.map((n) => [n.name, n.public_ip]))
  // The user and its passwordless sudo, made over SSH as root (a local host shares /etc/passwd and /etc/sudoers.d
  // with this machine; its /etc/ssh is its own, so each host authorises the key for the user).
  ok(await run('--cluster', 'lsud', 'ssh', 'g1', '--',
    `useradd -m -s /bin/sh ${user} && echo '${user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/${user} && chmod 440 /etc/sudoers.d/${user}`), 'useradd')
  for (const g of ['g1', 'g2']) {
    ok(await run('--cluster', 'lsud', 'ssh', g, '--', `cp /etc/ssh/authorized_keys/root /etc/ssh/authorized_keys/${user}`), `authorise ${g}`)
  }
  mkdirSync(join(cwd, '.belt', 'gen'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'gen', 'config.yml'), [
    'driver: generic',
    'generic:',
    `  ssh_user: ${user}`,
    `  ssh_key: ${join(cwd, '.belt', 'lsud', 'ssh', 'id_ed25519')}`,
    '  hosts:',
    `    g1: ${addr.g1}`,
    `    g2: {address: ${addr.g2}, private_address: ${addr.g2}}`,
    '',
  ].join('\n'))
  const gen = (...args: string[]) => run('--cluster', 'gen', ...args)
  const who = ok(await gen('ssh', 'g1', '--', 'id', '-un'), 'ssh as the user')
  assert.equal(who.stdout.trim(), user)
  ok(await gen('swarm', 'init', 'g1'), 'swarm init through sudo')
  const joined = ok(await gen('swarm', 'join', 'g1', 'g2', '--json'), 'swarm join through sudo')
  assert.deepEqual(JSON.parse(joined.stdout).joined, ['g2'])
  assert.doesNotMatch(joined.stderr, /swarm join --token/, 'joined through the Engine API (curl under sudo -n), not the argv fallback')
  const ls = ok(await gen('docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}'), 'docker node ls through sudo')
  assert.deepEqual(ls.stdout.trim().split('\n').sort(), ['g1 Ready', 'g2 Ready'])
})
