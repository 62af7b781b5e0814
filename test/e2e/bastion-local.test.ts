// A private fleet behind a bastion, for real: local-driver hosts (network namespaces with their own sshd and dockerd);
// one of them is the bastion, and marked iptables rules on this machine reject SSH (22) and Docker TLS (2376) to
// every other host — so `belt swarm init/join`, `belt docker`, `belt provision` and `belt certs` only work through the jump
// host (ssh_jump). The bastion's own sshd log proves that a multi-node join made ONE connection to it; a bastion
// presenting another key than the pinned one is refused. The rules carry a comment unique to this run and are
// removed afterwards, also when the test fails. Needs root; subnet 10.219.50.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {clusterHash, clusterLayout, nodeLayout} from '../../src/providers/local/layout.js'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'

const SUBNET = '10.219.50.0/24'
const CLUSTER = 'bastlab'
const MARK = `belt-habits-bastion-${process.pid}`

const skip = skipUnless({root: 'network namespaces and iptables', commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables']})

function iptables(...args: string[]): string {
  return execFileSync('iptables', ['-w', '5', ...args], {encoding: 'utf8'})
}

/** Delete every OUTPUT rule carrying this run's comment (by its spec, as iptables -S prints it). */
function removeMarkedRules(): void {
  for (const line of iptables('-S', 'OUTPUT').split('\n')) {
    if (!line.includes(MARK)) continue
    const spec = line.replace(/^-A OUTPUT /, '').match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"|"$/g, ''))
    iptables('-D', 'OUTPUT', ...spec)
  }
}

test('swarm join, docker and provision only through the bastion; one bastion connection for a multi-node join; its key pinned',
  {skip, timeout: 15 * 60_000}, async (t) => {
    const {dir, cleanup} = scratchDir('belt-bastion-local-')
    const run = (...args: string[]) => belt(args, {cwd: dir, env: {HOME: dir}, timeoutMs: 300_000})
    t.after(async () => {
      removeMarkedRules()
      if (existsSync(join(dir, '.belt', CLUSTER, 'config.yml'))) {
        let rm = await run('--cluster', CLUSTER, 'rm', '--all', '--force')
        if (rm.code !== 0) rm = await run('--cluster', CLUSTER, 'rm', '--all', '--force')
        if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
      }
      cleanup()
    })
    const ok = (r: RunResult, what: string) => {
      assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}\n${r.stdout}`)
      return r
    }

    ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', `subnet=${SUBNET}`), 'cluster new')
    ok(await run('create', '512mb', 'bast', 'node[1:3]'), 'create')
    const nodes = JSON.parse(ok(await run('ls', '--json'), 'ls').stdout) as {name: string; public_ip: string}[]
    const ip = (name: string) => nodes.find((n) => n.name === name)!.public_ip
    const behind = ['node1', 'node2', 'node3']

    // From this machine, only the bastion answers on 22; every new connection to it is counted by a rule of its own.
    for (const n of behind) {
      for (const port of ['22', '2376']) {
        iptables('-I', 'OUTPUT', '-d', `${ip(n)}/32`, '-p', 'tcp', '--dport', port, '-m', 'comment', '--comment', MARK,
          '-j', 'REJECT', '--reject-with', 'tcp-reset')
      }
    }
    iptables('-I', 'OUTPUT', '-d', `${ip('bast')}/32`, '-p', 'tcp', '--dport', '22', '--syn', '-m', 'comment', '--comment', MARK)
    const bastionConnections = () => {
      const line = iptables('-L', 'OUTPUT', '-v', '-n', '-x').split('\n').find((l) => l.includes(MARK) && l.includes(ip('bast')))!
      return Number(line.trim().split(/\s+/)[0])
    }
    const cl = clusterLayout(CLUSTER, clusterHash(join(dir, '.belt', CLUSTER)))
    const bastionLog = join(nodeLayout(cl, 'bast').dir, 'root', 'var', 'log', 'sshd.log')
    const bastionLogins = () => (readFileSync(bastionLog, 'utf8').match(/Accepted publickey/g) ?? []).length

    // Without the jump host nothing reaches the nodes.
    let r = await run('swarm', 'init', 'node1')
    assert.equal(r.code, 1, `swarm init without ssh_jump must fail:\n${r.stderr}`)
    assert.match(r.stderr, /refused/)
    r = await run('--host', 'node1', 'docker', 'info')
    assert.equal(r.code, 255, `docker without ssh_jump: exit ${r.code}\n${r.stderr}`)

    // With it, everything goes through the bastion.
    ok(await run('cluster', 'update', `ssh_jump=root@${ip('bast')}`), 'cluster update ssh_jump')
    ok(await run('swarm', 'init', 'node1'), 'swarm init through the bastion')
    const connectionsBefore = bastionConnections()
    const loginsBefore = bastionLogins()
    r = ok(await run('swarm', 'join', 'node1', 'node2', 'node3', '--json'), 'swarm join through the bastion')
    assert.deepEqual((JSON.parse(r.stdout) as {joined: string[]}).joined.sort(), ['node2', 'node3'])
    assert.equal(bastionConnections() - connectionsBefore, 1, 'one TCP connection to the bastion for the manager and two nodes')
    assert.equal(bastionLogins() - loginsBefore, 1, 'one SSH login on the bastion')
    r = ok(await run('docker', 'node', 'ls', '--format', '{{.Hostname}} {{.Status}}'), 'docker node ls through the bastion')
    assert.deepEqual(r.stdout.trim().split('\n').sort(), ['node1 Ready', 'node2 Ready', 'node3 Ready'])

    // provision's TLS check dials 2376, which is rejected from here too: it goes through the jump host as well.
    r = ok(await run('provision', 'node2', '--json'), 'provision through the bastion')
    assert.deepEqual((JSON.parse(r.stdout) as {ok: string[]}).ok, ['node2'])
    r = ok(await run('provision', 'node2', '--json'), 'provision again: checked over TLS through the bastion')
    assert.deepEqual((JSON.parse(r.stdout) as {already: string[]}).already, ['node2'])

    // belt certs reads the presented certificate through the jump host as well.
    r = ok(await run('certs', 'node2', '--json'), 'certs through the bastion')
    assert.equal((JSON.parse(r.stdout) as {nodes: {status: string}[]}).nodes[0].status, 'ok')

    // --print-command shows how its commands reach a node.
    r = ok(await run('swarm', 'join', '--print-command'), 'join --print-command')
    assert.match(r.stdout, new RegExp(`^# each command runs over SSH through the bastion, as: ssh -J root@${ip('bast').replace(/\./g, '\\.')} `))

    // A bastion presenting a key other than the pinned one is refused, in one line naming it.
    const knownHosts = join(dir, '.belt', CLUSTER, 'known_hosts')
    const lines = readFileSync(knownHosts, 'utf8').split('\n')
    const other = lines.find((l) => l.startsWith(`${ip('node2')} ssh-ed25519 `))!.split(' ')[2]
    writeFileSync(knownHosts, lines.map((l) => (l.startsWith(`${ip('bast')} ssh-ed25519 `) ? `${ip('bast')} ssh-ed25519 ${other}` : l)).join('\n'))
    r = await run('docker', 'node', 'ls')
    assert.equal(r.code, 255, `docker with a changed bastion key: exit ${r.code}\n${r.stderr}`)
    assert.match(r.stderr, new RegExp(`HOST KEY CHANGED for the jump host root@${ip('bast').replace(/\./g, '\\.')} .*refused`))
    assert.doesNotMatch(r.stdout + r.stderr, /node1 Ready/)
  })
