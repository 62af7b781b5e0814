// The local driver on real parts: hosts in network/mount/pid namespaces on this machine with their own sshd and
// dockerd, reached with the real OpenSSH client; the systemctl stand-in driving a real dockerd; leftovers of killed
// runs; and `rm` leaving nothing behind. Needs root. Subnets 10.214.1.0/24 (main) and 10.214.3.0/24 (refusals).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile, execFileSync, spawn} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {BELT, belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {clusterHash, clusterLayout, nodeLayout, type ClusterLayout} from '../../src/providers/local/layout.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const SUBNET = '10.214.1.0/24'


const skip = skipUnless({root: 'network namespaces', commands: ['dockerd', 'docker', 'ssh', 'ssh-keyscan', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables']})

function sh(cmd: string, args: string[], opts: {env?: NodeJS.ProcessEnv; timeoutMs?: number} = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, {env: opts.env ?? cleanEnv(), timeout: opts.timeoutMs ?? 120_000, maxBuffer: 16 << 20}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, signal: null, stdout: String(stdout), stderr: String(stderr)})
    })
  })
}

interface Node {
  name: string
  id: string | null
  status: string
  provider_status: string | null
  public_ip: string | null
  private_ip: string | null
  region: string | null
  size: string | null
  memory_mb: number | null
  tags: string[]
}

const NODE_KEYS = ['id', 'memory_mb', 'name', 'private_ip', 'provider_status', 'public_ip', 'region', 'size', 'status', 'tags']

/** Everything of a local cluster still on this machine: namespaces, links, rules, processes, mounts, folders. */
function leftovers(cl: ClusterLayout, veths: string[]): string[] {
  const found: string[] = []
  const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : []
  for (const ns of netns) if (ns.startsWith(cl.netnsPrefix)) found.push(`netns ${ns}`)
  for (const link of [cl.bridge, ...veths]) if (existsSync(`/sys/class/net/${link}`)) found.push(`link ${link}`)
  for (const table of ['filter', 'nat']) {
    for (const line of execFileSync('iptables', ['-w', '-t', table, '-S'], {encoding: 'utf8'}).split('\n')) {
      if (line.includes(cl.marker)) found.push(`iptables -t ${table}: ${line}`)
    }
  }
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let cmdline = ''
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    } catch {
      continue
    }
    if (cmdline.includes(cl.root) || netns.some((ns) => ns.startsWith(cl.netnsPrefix) && cmdline.includes(ns))) found.push(`process ${pid}: ${cmdline.replace(/\0/g, ' ')}`)
  }
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (line.includes(cl.root) || line.includes(`/run/netns/${cl.netnsPrefix}`)) found.push(`mount ${line}`)
  }
  if (existsSync(cl.root)) found.push(`folder ${cl.root}`)
  return found
}

test('local driver: real hosts with their own sshd and dockerd; systemctl stand-in; killed runs; rm leaves nothing', {skip, timeout: 10 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-local-e2e-')
  const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 300_000})
  const clusterDir = join(dir, '.belt', 'loc1')
  const cl = clusterLayout('loc1', clusterHash(clusterDir))
  const names = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']
  const veths = names.map((n) => nodeLayout(cl, n).veth)
  const extraPids: number[] = []
  t.after(async () => {
    for (const p of extraPids) try { process.kill(p, 'SIGKILL') } catch {}
    let rm = await run('rm', '--all', '--force')
    if (rm.code !== 0) rm = await run('rm', '--all', '--force')
    if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
    cleanup()
  })

  ok(await run('cluster', 'new', 'loc1', '--driver', 'local', `subnet=${SUBNET}`), 'cluster new')
  let r = await run('create', '512mb', 'n[1:3]', '--json')
  ok(r, 'create')
  const created = JSON.parse(r.stdout) as {created: Node[]; existing: Node[]}
  assert.deepEqual(created.created.map((n) => n.name), ['n1', 'n2', 'n3'])
  assert.deepEqual(created.existing, [])
  for (const n of created.created) {
    assert.deepEqual(Object.keys(n).sort(), NODE_KEYS)
    assert.equal(n.status, 'active')
    assert.equal(n.public_ip, n.private_ip)
    assert.equal(n.memory_mb, 512)
    assert.equal(n.id, nodeLayout(cl, n.name).netns)
  }
  assert.match(r.stderr, /recorded only/, 'SIZE is said to be recorded, not enforced')
  const addr = Object.fromEntries(created.created.map((n) => [n.name, n.public_ip as string]))
  assert.equal(addr.n1, '10.214.1.2', 'the bridge takes .1, hosts start at .2')
  assert.equal(new Set(Object.values(addr)).size, 3)

  const key = join(clusterDir, 'ssh', 'id_ed25519')
  const onNode = (name: string, command: string) =>
    sh('ssh', ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${addr[name]}`, command])
  const hostKey = async (name: string) => (await sh('ssh-keyscan', ['-t', 'ed25519', addr[name]])).stdout.split('\n').find((l) => l.includes('ssh-ed25519'))?.split(' ').slice(1).join(' ')

  // --- each host: its own hostname, its own dockerd; they reach each other and this machine ------------------
  const dockerIds: Record<string, string> = {}
  for (const name of ['n1', 'n2', 'n3']) {
    r = await onNode(name, 'hostname; docker info --format "{{.ID}} {{.CgroupDriver}}"; systemctl is-active docker')
    ok(r, `ssh ${name}`)
    const [hostname, info, active] = r.stdout.trim().split('\n')
    assert.equal(hostname, name)
    assert.match(info, /^\S+ cgroupfs$/)
    assert.equal(active, 'active')
    dockerIds[name] = info.split(' ')[0]
  }
  assert.equal(new Set(Object.values(dockerIds)).size, 3, 'three different daemons')
  ok(await onNode('n1', `echo > /dev/tcp/${addr.n2}/22 && echo > /dev/tcp/${addr.n3}/22`), 'n1 reaches n2 and n3')
  ok(await onNode('n3', `echo > /dev/tcp/${addr.n1}/22`), 'n3 reaches n1')
  const server = createServer((s) => s.end('hello from the machine\n'))
  await new Promise<void>((res) => server.listen(0, '10.214.1.1', res))
  const port = (server.address() as {port: number}).port
  r = await onNode('n2', `exec 3<>/dev/tcp/10.214.1.1/${port}; cat <&3`)
  server.close()
  ok(r, 'n2 reaches this machine')
  assert.equal(r.stdout.trim(), 'hello from the machine')

  // Shared: everything outside the host's own folders (a file in /tmp is visible). Own: /etc/docker.
  writeFileSync(join(dir, 'shared.txt'), 'shared\n')
  chmodSync(dir, 0o755)
  r = await onNode('n1', `cat ${join(dir, 'shared.txt')} && touch /etc/docker/only-n1 && test ! -e /var/lib/docker/only-n1`)
  ok(r, 'shared file')
  assert.equal(r.stdout.trim(), 'shared')
  assert.equal(existsSync('/etc/docker/only-n1'), false, "a host's /etc/docker is its own")
  ok(await onNode('n2', 'test ! -e /etc/docker/only-n1'), "n2 does not see n1's /etc/docker")

  // --- the systemctl stand-in: a docker.service.d drop-in's ExecStart takes effect, as on Ubuntu --------------
  const pidBefore = (await onNode('n2', 'systemctl show docker -p MainPID --value')).stdout.trim()
  assert.match(pidBefore, /^[1-9]\d*$/)
  const dropIn = '[Service]\nExecStart=\n# Ubuntu-style path and fd:// socket, as copied from docker.service\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2375 --tls=false\n'
  r = await onNode('n2', `mkdir -p /etc/systemd/system/docker.service.d && printf '%s' '${dropIn}' > /etc/systemd/system/docker.service.d/10-belt.conf && systemctl daemon-reload && systemctl restart docker && systemctl is-active docker && docker info --format '{{.ID}}'`)
  ok(r, 'drop-in + daemon-reload + restart')
  assert.deepEqual(r.stdout.trim().split('\n'), ['active', dockerIds.n2], 'same daemon data after restart')
  const pidAfter = (await onNode('n2', 'systemctl show docker -p MainPID --value')).stdout.trim()
  assert.notEqual(pidAfter, pidBefore, 'dockerd was restarted')
  const ping = await fetch(`http://${addr.n2}:2375/_ping`)
  assert.equal(await ping.text(), 'OK', 'dockerd listens on the drop-in\'s tcp socket')
  await assert.rejects(fetch(`http://${addr.n1}:2375/_ping`), (e: Error & {cause?: {code?: string}}) => e.cause?.code === 'ECONNREFUSED',
    'n1 has no drop-in, so no tcp socket: connection refused')
  // A broken ExecStart fails like systemd says, and the host recovers once it is fixed.
  r = await onNode('n2', `printf '[Service]\\nExecStart=\\nExecStart=dockerd --no-such-flag\\n' > /etc/systemd/system/docker.service.d/10-belt.conf && systemctl restart docker`)
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /Job for docker\.service failed/)
  r = await onNode('n2', 'systemctl is-active docker')
  assert.equal(r.code, 3)
  assert.equal(r.stdout.trim(), 'inactive')
  let ls = JSON.parse((await run('ls', '--json')).stdout) as Node[]
  assert.deepEqual(ls.find((n) => n.name === 'n2')!.provider_status, 'running (dockerd stopped)')
  ok(await onNode('n2', 'rm /etc/systemd/system/docker.service.d/10-belt.conf && systemctl daemon-reload && systemctl start docker && systemctl status docker >/dev/null'), 'back to plain dockerd')
  r = await onNode('n2', 'systemctl restart nosuch; echo "rc=$?"')
  assert.match(r.stderr, /Unit nosuch\.service not found/)
  assert.match(r.stdout, /rc=5/)

  // --- ls / ip / status ----------------------------------------------------------------------------------------
  ls = JSON.parse((await run('ls', '--json')).stdout) as Node[]
  assert.deepEqual(ls.map((n) => [n.name, n.status]), [['n1', 'active'], ['n2', 'active'], ['n3', 'active']])
  r = await run('ip', 'n[1:3]')
  ok(r, 'ip')
  assert.deepEqual(r.stdout.trim().split('\n'), [addr.n1, addr.n2, addr.n3])
  r = await run('ip', 'n2', '--private')
  assert.equal(r.stdout.trim(), addr.n2)
  let st = JSON.parse((await run('status', '--json')).stdout) as {counts: Record<string, number>; nodes: Node[]}
  assert.deepEqual(st.counts, {active: 3})

  // --- create again: nothing new --------------------------------------------------------------------------------
  r = await run('create', '512mb', 'n[1:3]', '--json')
  ok(r, 'create again')
  const again = JSON.parse(r.stdout) as {created: Node[]; existing: Node[]}
  assert.deepEqual(again.created, [])
  assert.deepEqual(again.existing.map((n) => n.name), ['n1', 'n2', 'n3'])

  // --- a host whose processes were killed: off, and `create` starts it again with its data and host key --------
  const keyBefore = await hostKey('n3')
  const state = () => JSON.parse(readFileSync(join(clusterDir, 'state.json'), 'utf8')) as {nodes: Record<string, Record<string, unknown>>}
  process.kill(state().nodes.n3.init_pid as number, 'SIGKILL')
  await waitFor(async () => (JSON.parse((await run('ls', '--json')).stdout) as Node[]).find((n) => n.name === 'n3')?.status === 'off', 'n3 off')
  r = await run('create', '512mb', 'n[1:3]', '--json')
  ok(r, 'create restarts n3')
  assert.deepEqual((JSON.parse(r.stdout) as {created: Node[]}).created.map((n) => n.name), ['n3'])
  r = await onNode('n3', 'docker info --format "{{.ID}}"')
  ok(r, 'n3 again')
  assert.equal(r.stdout.trim(), dockerIds.n3, 'same docker data')
  assert.equal(await hostKey('n3'), keyBefore, 'same host key')

  // --- leftovers of a run belt knows nothing about: stale namespace, veth, folder and process -----------------
  const n4 = nodeLayout(cl, 'n4')
  execFileSync('ip', ['netns', 'add', n4.netns])
  execFileSync('ip', ['link', 'add', n4.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n4.netns])
  mkdirSync(join(n4.dir, 'root', 'etc', 'docker'), {recursive: true})
  writeFileSync(join(n4.dir, 'root', 'etc', 'docker', 'stale'), 'x')
  const stale = spawn('nsenter', [`--net=/run/netns/${n4.netns}`, 'sleep', '600'], {detached: true, stdio: 'ignore'})
  extraPids.push(stale.pid!)
  stale.unref()
  r = await run('create', '512mb', 'n4')
  ok(r, 'create over leftovers')
  assert.equal(existsSync(join(n4.dir, 'root', 'etc', 'docker', 'stale')), false, 'stale folder replaced')
  await waitFor(() => stale.exitCode !== null || stale.signalCode !== null, 'the stale process in the namespace to end', 10_000, 20)
  addr.n4 = (await run('ip', 'n4')).stdout.trim()
  r = await onNode('n4', 'hostname')
  assert.equal(r.stdout.trim(), 'n4')

  // --- a belt create killed half-way: `create` finishes the job ------------------------------------------------
  const killed = spawn(process.execPath, [BELT, 'create', '512mb', 'n[5:6]'], {cwd: dir, env: cleanEnv(), stdio: 'ignore'})
  await waitFor(async () => JSON.stringify(state().nodes).includes('"creating"'), 'a record being created', 60_000, 5)
  killed.kill('SIGKILL')
  await new Promise((res) => killed.once('exit', res))
  r = await run('create', '512mb', 'n[5:6]', '--json')
  ok(r, 'create after a killed create')
  r = await run('ls', '--json')
  ls = JSON.parse(r.stdout) as Node[]
  assert.deepEqual(ls.map((n) => [n.name, n.status]), [['n1', 'active'], ['n2', 'active'], ['n3', 'active'], ['n4', 'active'], ['n5', 'active'], ['n6', 'active']])
  addr.n5 = ls.find((n) => n.name === 'n5')!.public_ip!
  ok(await onNode('n5', 'docker info >/dev/null'), 'n5 works')

  // --- Ctrl-C during create: hosts in flight are finished and recorded, no new ones start, exit 130 ------------
  const interrupted = spawn(process.execPath, [BELT, 'create', '512mb', 'm[1:10]'], {cwd: dir, env: cleanEnv(), stdio: 'ignore'})
  await waitFor(() => JSON.stringify(state().nodes).includes('"creating"'), 'a record being created', 60_000, 5)
  interrupted.kill('SIGINT')
  const code = await new Promise((res) => interrupted.once('exit', (c) => res(c)))
  assert.equal(code, 130)
  const ms = Object.entries(state().nodes).filter(([n]) => n.startsWith('m'))
  assert.ok(ms.length >= 1 && ms.length < 10, `${ms.length} of 10 hosts made before the interruption took effect`)
  assert.ok(ms.every(([, rec]) => rec.phase === 'ready'), 'every recorded host was finished')
  r = await run('create', '512mb', 'm[1:10]', '--json')
  ok(r, 'create the rest')
  assert.equal((JSON.parse(r.stdout) as {created: Node[]}).created.length, 10 - ms.length)

  // --- a half-made host (record + namespace, nothing running) is removed by rm ---------------------------------
  const n7 = nodeLayout(cl, 'n7')
  const s = state()
  s.nodes.n7 = {id: n7.netns, driver: 'local', address: '10.214.1.200', netns: n7.netns, veth: n7.veth, dir: n7.dir, size: '512mb', memory_mb: 512, tags: [], init_pid: null, pidns: null, phase: 'creating', creator_pid: 999_999_999}
  writeFileSync(join(clusterDir, 'state.json'), JSON.stringify(s))
  execFileSync('ip', ['netns', 'add', n7.netns])
  st = JSON.parse((await run('status', '--json')).stdout)
  assert.equal(st.nodes.find((n) => n.name === 'n7')!.status, 'off')
  ok(await run('rm', 'n7', '--force'), 'rm half-made')
  assert.equal(existsSync(`/run/netns/${n7.netns}`), false)

  // --- rm by name keeps the rest; an unknown name is a failure -------------------------------------------------
  ok(await run('rm', 'n1', '--force'), 'rm n1')
  assert.equal(existsSync(`/run/netns/${nodeLayout(cl, 'n1').netns}`), false)
  assert.ok(existsSync(`/sys/class/net/${cl.bridge}`), 'bridge stays while hosts remain')
  ok(await onNode('n2', 'docker info >/dev/null'), 'n2 still works')
  r = await run('rm', 'nosuch', '--force')
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no node 'nosuch'/)

  // --- rm --all: nothing left -----------------------------------------------------------------------------------
  r = await run('rm', '--all', '--force')
  ok(r, 'rm --all')
  assert.match(r.stderr, /removed 15/)
  assert.deepEqual(leftovers(cl, veths), [])
  assert.deepEqual(state().nodes, {})
  assert.deepEqual(JSON.parse((await run('ls', '--json')).stdout), [])
})

test('local driver refuses bad input before changing anything (exit 2)', {skip, timeout: 120_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-local-refuse-')
  const run = (args: string[], env?: Record<string, string>) => belt(args, {cwd: dir, timeoutMs: 60_000, env})
  t.after(async () => {
    try { execFileSync('ip', ['link', 'del', 'bl-e2e-dummy'], {stdio: 'ignore'}) } catch {}
    cleanup()
  })
  const oneLine2 = (r: RunResult, re: RegExp, what: string) => {
    assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`)
    assert.match(r.stderr, re, what)
    assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line`)
  }
  assert.equal((await run(['cluster', 'new', 'ref', '--driver', 'local', 'subnet=10.214.3.0/24'])).code, 0)
  const clusterDir = join(dir, '.belt', 'ref')
  const cl = clusterLayout('ref', clusterHash(clusterDir))

  oneLine2(await run(['create', 's-1vcpu-1gb', 'a1']), /SIZE 's-1vcpu-1gb' must be memory such as 512mb/, 'size')
  oneLine2(await run(['create', '1gb', 'bad_name']), /invalid node name 'bad_name'/, 'name')
  oneLine2(await run(['create', '1gb', 'x'.repeat(64)]), /at most 63 characters/, 'long name')

  // A subnet that is already routed elsewhere on this machine.
  execFileSync('ip', ['link', 'add', 'bl-e2e-dummy', 'type', 'bridge'])
  execFileSync('ip', ['addr', 'add', '10.214.3.1/24', 'dev', 'bl-e2e-dummy'])
  execFileSync('ip', ['link', 'set', 'bl-e2e-dummy', 'up'])
  oneLine2(await run(['create', '1gb', 'a1']), /subnet 10\.214\.3\.0\/24 overlaps 10\.214\.3\.0\/24 on bl-e2e-dummy/, 'overlap')
  assert.equal(existsSync(`/sys/class/net/${cl.bridge}`), false, 'no bridge was made')
  assert.equal(existsSync('/run/netns/' + nodeLayout(cl, 'a1').netns), false, 'no namespace was made')

  assert.equal((await run(['cluster', 'update', 'subnet=10.214.3.0/30'])).code, 0)
  oneLine2(await run(['create', '1gb', 'a1']), /prefix between \/8 and \/29/, 'tiny subnet')
  assert.equal((await run(['cluster', 'update', 'subnet=10.214.4.0/29'])).code, 0)
  oneLine2(await run(['create', '1gb', 'a[1:6]']), /has room for 5 more node\(s\), not 6/, 'full subnet')
  assert.equal((await run(['cluster', 'update', 'subnet=10.214.4.0/24', 'bridge=lo'])).code, 0)
  oneLine2(await run(['create', '1gb', 'a1']), /interface lo already exists and is not this cluster's bridge/, 'someone else\'s interface')
  assert.equal((await run(['cluster', 'update', 'bridge=much-too-long-name'])).code, 0)
  oneLine2(await run(['create', '1gb', 'a1']), /bridge 'much-too-long-name' is not a valid interface name/, 'bridge name')

  // Not root: said plainly.
  chmodSync(dir, 0o755)
  execFileSync('chmod', ['-R', 'a+rX', dir])
  const asNobody = await sh('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BELT, 'create', '1gb', 'a1'],
    {env: cleanEnv({HOME: dir, BELT_DIR: join(dir, '.belt')})})
  assert.equal(asNobody.code, 2, asNobody.stderr)
  assert.match(asNobody.stderr, /the local driver needs root/)
  assert.deepEqual(leftovers(cl, []), [])
})

test('local driver: hosts whose .belt folder was deleted are pointed out, and removed by re-creating the cluster there', {skip, timeout: 180_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-local-orphan-')
  const other = scratchDir('belt-local-other-')
  const run = (args: string[], cwd = dir) => belt(args, {cwd, timeoutMs: 120_000})
  const cl = clusterLayout('orph', clusterHash(join(dir, '.belt', 'orph')))
  t.after(async () => {
    await run(['cluster', 'new', 'orph', '--driver', 'local'])
    await run(['rm', '--all', '--force'])
    cleanup()
    other.cleanup()
  })
  ok(await run(['cluster', 'new', 'orph', '--driver', 'local', 'subnet=10.214.5.0/24', 'bridge=bl-e2e-orph']), 'cluster new')
  ok(await run(['create', '1gb', 'o[1:2]']), 'create')
  execFileSync('rm', ['-rf', join(dir, '.belt')])

  // Another cluster's create tells about them (a dry run changes nothing).
  ok(await run(['cluster', 'new', 'other', '--driver', 'local', 'subnet=10.214.6.0/24'], other.dir), 'cluster new other')
  const r = await run(['create', '1gb', 'x1', '--dry-run'], other.dir)
  ok(r, 'dry run')
  assert.ok(r.stderr.includes(`${cl.root} holds hosts of cluster 'orph' whose folder ${join(dir, '.belt', 'orph')} no longer exists`), r.stderr)

  // The recipe from that note: the same cluster name in the same place finds them (custom bridge included).
  ok(await run(['cluster', 'new', 'orph', '--driver', 'local']), 'cluster new again')
  const rm = await run(['rm', '--all', '--force'])
  ok(rm, 'rm --all')
  assert.deepEqual(leftovers({...cl, bridge: 'bl-e2e-orph'}, ['o1', 'o2'].map((n) => nodeLayout(cl, n).veth)), [])
})

async function waitFor(cond: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}
