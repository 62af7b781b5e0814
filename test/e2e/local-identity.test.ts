// Cluster identity on the local driver (CONTRACT §9): two projects whose `.belt.yml` clusters are both `default`
// get hosts of the same name on one machine that never see each other (namespaces, bridges and folders are named
// by a hash of the project's cluster folder); `cluster rm` asks the machine, not state.json. Needs root.
// Subnets 10.214.40.0/24, 10.214.41.0/24, 10.214.42.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {clusterHash, clusterLayout, nodeLayout} from '../../src/providers/local/layout.js'
import {have} from '../lib/tools.js'

const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)'
  : !['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables'].every(have) ? 'needs docker.io, openssh-server, iproute2, util-linux, iptables'
    : false

interface Node {name: string; id: string; status: string; public_ip: string}

test('local: two `default` projects with a host n1 each never see or remove each other\'s; cluster rm asks the machine', {skip, timeout: 10 * 60_000}, async (t) => {
  const project = (subnet: string) => {
    const {dir, cleanup} = scratchDir('belt-local-id-')
    writeFileSync(join(dir, '.belt.yml'), `local:\n  subnet: ${subnet}\n`)
    const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 300_000})
    t.after(async () => {
      const rm = await run('rm', '--all', '--force')
      if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
      cleanup()
    })
    return {dir, run}
  }
  const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}\n${r.stdout}`)
  const a = project('10.214.40.0/24')
  const b = project('10.214.41.0/24')
  const layoutA = clusterLayout('default', clusterHash(join(a.dir, '.belt', 'default')))
  const layoutB = clusterLayout('default', clusterHash(join(b.dir, '.belt', 'default')))
  assert.notEqual(layoutA.hash, layoutB.hash)
  assert.notEqual(nodeLayout(layoutA, 'n1').netns, nodeLayout(layoutB, 'n1').netns)

  ok(await a.run('create', '512mb', 'n1'), 'create in A')
  const r = await b.run('create', '512mb', 'n1')
  ok(r, 'create in B')
  assert.doesNotMatch(r.stderr, /already exist/, "A's n1 is not B's")

  const ls = async (p: typeof a) => {
    const out = await p.run('ls', '--json')
    ok(out, 'ls')
    return JSON.parse(out.stdout) as Node[]
  }
  const [na, nb] = [await ls(a), await ls(b)]
  assert.deepEqual(na.map((n) => `${n.name} ${n.status} ${n.public_ip}`), ['n1 active 10.214.40.2'])
  assert.deepEqual(nb.map((n) => `${n.name} ${n.status} ${n.public_ip}`), ['n1 active 10.214.41.2'])
  assert.notEqual(na[0].id, nb[0].id, 'two namespaces')

  ok(await a.run('rm', '--all', '--force'), 'rm --all in A')
  assert.deepEqual(await ls(a), [])
  assert.deepEqual((await ls(b)).map((n) => `${n.name} ${n.status}`), ['n1 active'], "B's host survives A's rm --all")
  assert.ok(existsSync(`/run/netns/${nodeLayout(layoutB, 'n1').netns}`))

  // cluster rm: the host on this machine counts even when state.json no longer lists it.
  const c = project('10.214.42.0/24')
  ok(await c.run('cluster', 'new', 'loc', '--driver', 'local', 'subnet=10.214.42.0/24'), 'cluster new')
  ok(await c.run('create', '512mb', 'h1'), 'create h1')
  writeFileSync(join(c.dir, '.belt', 'loc', 'state.json'), JSON.stringify({version: 1, active_node: null, nodes: {}, failures: {}, provider: {}}))
  const refused = await c.run('cluster', 'rm', 'loc')
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, /cluster 'loc' still has 1 node\(s\) on this machine/)
  ok(await c.run('rm', '--all', '--force'), 'rm --all removes the unrecorded host')
  ok(await c.run('cluster', 'rm', 'loc'), 'cluster rm once the machine has none')
})
