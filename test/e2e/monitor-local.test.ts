// `belt monitor` on a real swarm (local driver: namespaces with their own sshd and dockerd) with real Prometheus and
// node-exporter: Debian's packages unpacked into images (test/lib/deb-image.ts) and imported on every node, so the
// stack deploys without a registry (--resolve-image never). Grafana is not in Debian: a busybox httpd stands in for
// it, serving its own files, so the test reads what Grafana would be given (data source, dashboard, password) through
// `belt monitor --forward`. Asserted through Prometheus's HTTP API: every node's exporter is up, also a node that
// joins after the deploy, and every dashboard query is valid PromQL over real metrics. `--down` leaves nothing.
// Needs root; subnet 10.218.6.0/24.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync} from 'node:fs'
import {execFileSync} from 'node:child_process'
import {createServer} from 'node:net'
import {join} from 'node:path'
import {parse} from 'yaml'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {buildDebImage, cachedDeb, DEB_CACHE} from '../lib/deb-image.js'
import {lacking, skipOrFail} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const DEBS = ['prometheus', 'prometheus-node-exporter']
const skip = skipOrFail(lacking({
  root: 'network namespaces',
  commands: ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'tar', 'dpkg-deb', 'ldd'],
  files: ['/bin/busybox', ...DEBS.filter((p) => !cachedDeb(p)).map((p) => `${DEB_CACHE}/${p}_*.deb`)],
}))
const CLUSTER = 'lmon'
const IMAGES = {prometheus: 'belt-test/prometheus:deb', node_exporter: 'belt-test/node-exporter:deb', grafana: 'belt-test/grafana-standin:1'}

let cwd: string
let cleanup: () => void
let imageDir: string
const addr: Record<string, string> = {}
/** Everything belt printed here: the password must be in none of it. */
const transcript: string[] = []

async function run(...args: string[]): Promise<RunResult> {
  // The scratch folder has one cluster, the active one since `cluster new`.
  const r = await belt(args, {cwd, timeoutMs: 300_000})
  transcript.push(r.stdout, r.stderr)
  return r
}

async function waitFor<T>(probe: () => Promise<T>, done: (v: T) => boolean, what: string, timeoutMs = 240_000): Promise<T> {
  const start = Date.now()
  let last: T | undefined
  while (Date.now() - start < timeoutMs) {
    try {
      last = await probe()
      if (done(last)) return last
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 1000))
  }
  throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`)
}

interface Target {labels: Record<string, string>; health: string; lastError: string}

async function prometheus<T>(path: string): Promise<T> {
  const res = await fetch(`http://${addr.mon1}:9090${path}`, {signal: AbortSignal.timeout(10_000)})
  const body = (await res.json()) as {status: string; data: T}
  assert.equal(body.status, 'success', `${path}: ${JSON.stringify(body)}`)
  return body.data
}

/** node name → health of the `node` job's targets, as Prometheus reports them. */
async function nodeTargets(): Promise<Record<string, string>> {
  const data = await prometheus<{activeTargets: Target[]}>('/api/v1/targets?state=active')
  return Object.fromEntries(data.activeTargets.filter((t) => t.labels.job === 'node').map((t) => [t.labels.node, t.health]))
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const a = s.address()
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))))
    })
  })
}

before(() => {
  if (skip) return
  ;({dir: cwd, cleanup} = scratchDir('belt-monitor-local-'))
  imageDir = mkdtempSync('/tmp/belt-monitor-images-')
  buildDebImage({pkg: 'prometheus', binary: 'usr/bin/prometheus', entrypoint: '/bin/prometheus'}, imageDir)
  buildDebImage({pkg: 'prometheus-node-exporter', binary: 'usr/bin/prometheus-node-exporter', entrypoint: '/bin/node_exporter'}, imageDir)
  // Grafana's stand-in: busybox httpd on Grafana's port, serving the container's whole file tree.
  const root = join(imageDir, 'grafana-root', 'bin')
  mkdirSync(root, {recursive: true})
  copyFileSync('/bin/busybox', join(root, 'busybox'))
  symlinkSync('busybox', join(root, 'sh'))
  execFileSync('tar', ['-C', join(imageDir, 'grafana-root'), '-cf', join(imageDir, 'grafana.tar'), '.'])
})

after(async () => {
  if (skip) return
  let rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) rm = await belt(['--cluster', CLUSTER, 'rm', '--all', '--force'], {cwd, timeoutMs: 300_000})
  if (rm.code !== 0) process.stderr.write(`cleanup of ${CLUSTER}: exit ${rm.code}\n${rm.stderr}\n`)
  rmSync(imageDir, {recursive: true, force: true})
  cleanup()
})

test('monitor: real Prometheus scrapes every node, also one that joins later; Grafana gets its files; --down leaves nothing', {skip, timeout: 15 * 60_000}, async () => {
  ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', 'subnet=10.218.6.0/24'), 'cluster new')
  const created = JSON.parse(ok(await run('create', '512mb', 'mon[1:3]', '--json'), 'create').stdout) as {created: {name: string; public_ip: string}[]}
  for (const n of created.created) addr[n.name] = n.public_ip
  ok(await run('swarm', 'init', 'mon1'), 'swarm init')
  ok(await run('swarm', 'join', 'mon1', 'mon2'), 'swarm join mon2')
  const entry = (cmd: string[]) => `ENTRYPOINT ${JSON.stringify(cmd)}`
  for (const [tar, image, cmd] of [
    ['prometheus.tar', IMAGES.prometheus, ['/bin/prometheus']],
    ['prometheus-node-exporter.tar', IMAGES.node_exporter, ['/bin/node_exporter']],
    ['grafana.tar', IMAGES.grafana, ['/bin/busybox', 'httpd', '-f', '-p', '3000', '-h', '/']],
  ] as const) {
    ok(await run('--host', 'mon[1:3]', 'docker', 'import', '--change', entry([...cmd]), join(imageDir, tar), image), `import ${image}`)
  }
  ok(await run('cluster', 'update', ...Object.entries(IMAGES).map(([k, v]) => `monitor_images.${k}=${v}`)), 'monitor_images')

  const up = JSON.parse(ok(await run('monitor', '--json'), 'monitor').stdout) as Record<string, unknown>
  const dir = join(cwd, '.belt', CLUSTER, 'monitor')
  assert.deepEqual(up, {stack: 'belt-monitor', manager: 'mon1', stack_file: join(dir, 'stack.yml'), password_file: join(dir, 'grafana-admin-password'), images: IMAGES})
  assert.equal(statSync(dir).mode & 0o777, 0o700)
  assert.equal(statSync(join(dir, 'grafana-admin-password')).mode & 0o777, 0o600)
  const password = readFileSync(join(dir, 'grafana-admin-password'), 'utf8')
  const stack = parse(readFileSync(join(dir, 'stack.yml'), 'utf8'))
  assert.equal(stack.services.prometheus.image, IMAGES.prometheus)

  // Both nodes of the swarm are targets and up; then a node joins and is scraped without running belt again.
  await waitFor(nodeTargets, (t) => t.mon1 === 'up' && t.mon2 === 'up' && Object.keys(t).length === 2, 'mon1 and mon2 scraped')
  ok(await run('swarm', 'join', 'mon1', 'mon3'), 'swarm join mon3')
  const targets = await waitFor(nodeTargets, (t) => ['mon1', 'mon2', 'mon3'].every((n) => t[n] === 'up'), 'mon3 scraped after joining')
  assert.deepEqual(Object.keys(targets).sort(), ['mon1', 'mon2', 'mon3'])

  // Every query of the dashboard is valid PromQL over metrics the real node-exporter has.
  const dashboard = JSON.parse(readFileSync(join(dir, 'swarm-dashboard.json'), 'utf8')) as {panels: {title: string; targets: {expr: string}[]}[]}
  for (const p of dashboard.panels) {
    const query = p.targets[0].expr.replaceAll('$node', '.*').replaceAll('$__rate_interval', '1m')
    const data = await waitFor(() => prometheus<{result: unknown[]}>(`/api/v1/query?query=${encodeURIComponent(query)}`), (d) => d.result.length > 0, `data for ${p.title}`, 120_000)
    if (p.title === 'Nodes up') assert.equal((data.result[0] as {value: [number, string]}).value[1], '3')
  }

  // Re-running converges: same password, still exit 0.
  ok(await run('monitor'), 'monitor again')
  assert.equal(readFileSync(join(dir, 'grafana-admin-password'), 'utf8'), password)

  // --forward: Grafana's port on 127.0.0.1 over SSH; the stand-in shows the files Grafana was given.
  const port = await freePort()
  let child: import('node:child_process').ChildProcess | undefined
  let stdout = ''
  const forwarding = belt(['--cluster', CLUSTER, 'monitor', '--forward', '--port', String(port)], {
    cwd, timeoutMs: 300_000, onSpawn: (c) => { child = c; c.stdout!.on('data', (d) => (stdout += d)) },
  })
  const url = await waitFor(async () => /^Grafana: (http:\/\/127\.0\.0\.1:\d+\/) \(user admin, password in (.*)\)$/m.exec(stdout), (m) => m !== null, 'the forward URL', 120_000)
  assert.equal(url![1], `http://127.0.0.1:${port}/`)
  assert.equal(url![2], join('.belt', CLUSTER, 'monitor', 'grafana-admin-password'))
  const get = async (path: string) => {
    const res = await fetch(new URL(path, url![1]), {signal: AbortSignal.timeout(10_000)})
    assert.equal(res.status, 200, path)
    return res.text()
  }
  const datasource = parse(await get('etc/grafana/provisioning/datasources/belt.yml'))
  const uid = datasource.datasources[0].uid
  assert.equal(datasource.datasources[0].type, 'prometheus')
  const provider = parse(await get('etc/grafana/provisioning/dashboards/belt.yml'))
  const served = JSON.parse(await get(`${provider.providers[0].options.path.slice(1)}/swarm.json`)) as {panels: {datasource: {uid: string}}[]}
  assert.ok(served.panels.length >= 6)
  for (const p of served.panels) assert.equal(p.datasource.uid, uid, 'every panel uses the provisioned data source')
  assert.equal(await get('run/secrets/grafana_admin_password'), password, 'Grafana gets the password of the file')
  child!.kill('SIGINT')
  const fwd = await forwarding
  transcript.push(fwd.stdout, fwd.stderr)
  assert.equal(fwd.code, 0, `forward: exit ${fwd.code}\n${fwd.stderr}`)
  assert.match(fwd.stderr, new RegExp(`forwarding 127\\.0\\.0\\.1:${port} to Grafana on mon1 over SSH`))

  // The data source's URL answers from Grafana's own network (the stack's overlay, name resolved by swarm DNS).
  const grafanaId = ok(await run('docker', 'ps', '-q', '--filter', 'label=com.docker.swarm.service.name=belt-monitor_grafana'), 'grafana container').stdout.trim()
  const ready = ok(await run('docker', 'exec', grafanaId, '/bin/busybox', 'wget', '-qO-', `${datasource.datasources[0].url}/-/ready`), 'prometheus from grafana')
  assert.match(ready.stdout, /Ready/)

  // --down: no service, network, config or secret of the stack is left; a second --down finds nothing.
  const down = ok(await run('monitor', '--down'), 'monitor --down')
  assert.match(down.stdout, /^stack belt-monitor removed from the swarm \(through mon1\)$/m)
  assert.equal(ok(await run('docker', 'service', 'ls', '-q'), 'service ls').stdout.trim(), '')
  for (const kind of ['network', 'config', 'secret']) {
    const left = ok(await run('docker', kind, 'ls', '-q', '--filter', 'label=com.docker.stack.namespace=belt-monitor'), `${kind} ls`)
    assert.equal(left.stdout.trim(), '', `no ${kind} of the stack left`)
  }
  const again = JSON.parse(ok(await run('monitor', '--down', '--json'), 'monitor --down again').stdout)
  assert.deepEqual(again, {stack: 'belt-monitor', manager: 'mon1', removed: false})
  assert.ok(existsSync(join(dir, 'stack.yml')), 'the files stay (they are versioned)')

  for (const text of transcript) assert.ok(!text.includes(password), 'the password is printed nowhere')
})

test('monitor through a worker is refused (exit 2) and changes nothing on the swarm', {skip, timeout: 5 * 60_000}, async () => {
  ok(await run('active', 'mon2'), 'active mon2')
  try {
    const r = await run('monitor')
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, /^belt: mon2 is a swarm worker, not a manager; belt monitor works through the active node: belt active MANAGER$/m)
    const down = await run('monitor', '--down')
    assert.equal(down.code, 2, down.stderr)
  } finally {
    ok(await run('active', 'mon1'), 'active mon1')
  }
  assert.equal(ok(await run('docker', 'service', 'ls', '-q'), 'service ls').stdout.trim(), '')
})
