// The monitoring stack's files (docker/monitor-files.ts) and where they live (docker/monitor.ts): a stack file that
// names the configured images and only files that exist, Prometheus discovering nodes through the swarm, Grafana
// provisioned with a dashboard whose every panel uses the provisioned data source, and the password only in its
// 0600 file. The real deploy is test/e2e/monitor-local.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {COMMON_KEYS, DRIVERS, resolveSettings, validateBlock} from '../../../src/core/config/schema.js'
import type {Cluster} from '../../../src/core/config/cluster.js'
import {StateStore} from '../../../src/core/config/state.js'
import {monitorImages, writeMonitorFiles, deployCommand, removeCommand} from '../../../src/docker/monitor.js'
import {DATASOURCE_UID, renderStack, swarmDashboard, STACK_NAME} from '../../../src/docker/monitor-files.js'
import {redact} from '../../../src/core/redact.js'
import {ROOT, scratchDir} from '../../lib/cli.js'

const IMAGES = {prometheus: 'p:1', node_exporter: 'n:1', grafana: 'g:1'}

function fakeCluster(dir: string, block: Record<string, unknown> = {}): Cluster {
  mkdirSync(join(dir, '.belt', 'c1'), {recursive: true})
  const cdir = join(dir, '.belt', 'c1')
  return {name: 'c1', dir: cdir, configPath: join(cdir, 'config.yml'), driver: 'local', id: null,
    settings: resolveSettings('local', block), block, state: new StateStore(cdir)} as Cluster
}

test('the stack: configured images, node-exporter global on the host network, Prometheus and Grafana on managers in host mode', () => {
  const {files, configNames} = renderStack('c1', IMAGES)
  const stackFile = files.find((f) => f.name === 'stack.yml')!
  assert.equal(files.at(-1)!.name, 'stack.yml')
  const stack = parse(stackFile.content)
  assert.equal(stack.services['node-exporter'].image, 'n:1')
  assert.equal(stack.services.prometheus.image, 'p:1')
  assert.equal(stack.services.grafana.image, 'g:1')
  assert.equal(stack.services['node-exporter'].deploy.mode, 'global')
  assert.deepEqual(stack.networks.hostnet, {external: true, name: 'host'})
  for (const s of ['prometheus', 'grafana']) {
    assert.deepEqual(stack.services[s].deploy.placement.constraints, ['node.role == manager'])
    assert.equal(stack.services[s].deploy.endpoint_mode, 'dnsrr', `${s}: no virtual IP (it needs IPVS)`)
    for (const p of stack.services[s].ports) assert.equal(p.mode, 'host', `${s}: no routing mesh`)
  }
  assert.ok(stack.services.prometheus.volumes.includes('/var/run/docker.sock:/var/run/docker.sock:ro'))
  assert.equal(stack.services.prometheus.user, '0:0')
  // Every file the stack names is one belt writes (or the password file), and the config names carry content hashes.
  const written = new Set([...files.map((f) => f.name), 'grafana-admin-password'])
  for (const c of [...Object.values(stack.configs), ...Object.values(stack.secrets)] as {file: string; name: string}[]) {
    assert.ok(written.has(c.file.replace(/^\.\//, '')), `${c.file} is written`)
    assert.ok(c.name.startsWith(`${STACK_NAME}-`))
  }
  assert.deepEqual(configNames, Object.values(stack.configs).map((c) => (c as {name: string}).name))
  assert.equal(stack.services.grafana.environment.GF_SECURITY_ADMIN_PASSWORD__FILE, '/run/secrets/grafana_admin_password')
  assert.doesNotMatch(stackFile.content, /&a\d|\*a\d/, 'no YAML anchors: a person reads this file')
  // Same images, same bytes (a versioned stack.yml changes only when something changed); other images, other bytes.
  assert.equal(renderStack('c1', IMAGES).files.at(-1)!.content, stackFile.content)
  assert.notEqual(renderStack('c1', {...IMAGES, grafana: 'g:2'}).files.at(-1)!.content, stackFile.content)
})

test('Prometheus finds nodes through the swarm (role nodes) and scrapes each at its address on 9100', () => {
  const prom = parse(renderStack('c1', IMAGES).files.find((f) => f.name === 'prometheus.yml')!.content)
  const job = prom.scrape_configs.find((j: {job_name: string}) => j.job_name === 'node')
  assert.deepEqual(job.dockerswarm_sd_configs.map((c: {role: string; host: string}) => [c.role, c.host]), [['nodes', 'unix:///var/run/docker.sock']])
  const address = job.relabel_configs.find((r: {target_label: string}) => r.target_label === '__address__')
  assert.deepEqual(address.source_labels, ['__meta_dockerswarm_node_address'])
  assert.equal(address.replacement, '$1:9100')
  assert.ok(job.relabel_configs.some((r: {target_label: string; source_labels: string[]}) => r.target_label === 'node' && r.source_labels[0] === '__meta_dockerswarm_node_hostname'))
})

test('Grafana: the data source is Prometheus by uid; the dashboard is valid JSON whose every panel and variable uses it', () => {
  const {files} = renderStack('c1', IMAGES)
  const ds = parse(files.find((f) => f.name === 'grafana-datasource.yml')!.content)
  assert.deepEqual(ds.datasources.map((d: {uid: string; type: string; url: string}) => [d.uid, d.type, d.url]), [[DATASOURCE_UID, 'prometheus', 'http://prometheus:9090']])
  const provider = parse(files.find((f) => f.name === 'grafana-dashboards.yml')!.content)
  assert.equal(provider.providers[0].options.path, '/etc/grafana/dashboards')
  type Panel = {title: string; id: number; datasource: unknown; targets: {datasource: unknown; expr: string}[]}
  type Dashboard = {panels: Panel[]; templating: {list: {datasource: {uid: string}}[]}}
  const dash = JSON.parse(files.find((f) => f.name === 'swarm-dashboard.json')!.content) as Dashboard
  assert.deepEqual(dash as unknown, swarmDashboard())
  const titles = dash.panels.map((p: {title: string}) => p.title)
  for (const want of [/^Nodes up$/, /^CPU/, /^Memory used/, /^Load/, /^Network received/, /^Network sent/]) {
    assert.ok(titles.some((t: string) => want.test(t)), `a panel ${want}`)
  }
  const ids = new Set()
  for (const p of dash.panels) {
    assert.deepEqual(p.datasource, {type: 'prometheus', uid: DATASOURCE_UID}, p.title)
    for (const t of p.targets) assert.deepEqual(t.datasource, {type: 'prometheus', uid: DATASOURCE_UID}, p.title)
    assert.ok(p.targets[0].expr, p.title)
    ids.add(p.id)
  }
  assert.equal(ids.size, dash.panels.length, 'panel ids are unique')
  for (const v of dash.templating.list) assert.equal(v.datasource.uid, DATASOURCE_UID)
})

test('monitor_images: pinned defaults, each image replaceable alone; unknown names and non-strings refused', () => {
  const {dir, cleanup} = scratchDir('belt-monitor-unit-')
  try {
    assert.deepEqual(monitorImages(fakeCluster(dir)), COMMON_KEYS.monitor_images.default)
    for (const image of Object.values(COMMON_KEYS.monitor_images.default)) assert.match(image, /:v?\d+\.\d+\.\d+$/, 'pinned to a version')
    assert.deepEqual(monitorImages(fakeCluster(dir, {monitor_images: {grafana: 'g:2'}})), {...COMMON_KEYS.monitor_images.default, grafana: 'g:2'})
    assert.throws(() => validateBlock('local', {monitor_images: {grafna: 'x'}}, 'config.yml'), /unknown key 'monitor_images.grafna'; valid keys: prometheus, node_exporter, grafana/)
    assert.throws(() => validateBlock('local', {monitor_images: {grafana: 5}}, 'config.yml'), /'monitor_images.grafana' must be an image reference/)
    assert.throws(() => validateBlock('local', {monitor_images: 'x'}, 'config.yml'), /'monitor_images' must be a map/)
  } finally {
    cleanup()
  }
})

test('every template lists the default images under its commented monitor_images', () => {
  for (const driver of DRIVERS) {
    const text = readFileSync(join(ROOT, 'templates', `${driver}.yml`), 'utf8')
    for (const [k, v] of Object.entries(COMMON_KEYS.monitor_images.default)) {
      assert.match(text, new RegExp(`^ {2}# {3}${k}: ${v.replace(/[.]/g, '\\.')}$`, 'm'), `templates/${driver}.yml shows ${k}: ${v}`)
    }
  }
})

test('the files: a 0700 folder, the password 0600 made once and kept, never in the files meant for git', () => {
  const {dir, cleanup} = scratchDir('belt-monitor-unit-')
  try {
    const cluster = fakeCluster(dir)
    const first = writeMonitorFiles(cluster, IMAGES)
    assert.equal(first.passwordCreated, true)
    assert.equal(statSync(first.paths.dir).mode & 0o777, 0o700)
    assert.equal(statSync(first.paths.passwordFile).mode & 0o777, 0o600)
    const password = readFileSync(first.paths.passwordFile, 'utf8')
    assert.ok(password.length >= 24)
    assert.equal(redact(`x ${password} y`), 'x …redacted y', 'registered as a secret: scrubbed from anything shown')
    for (const f of first.upload.filter((u) => u.name !== 'grafana-admin-password')) {
      assert.ok(!readFileSync(join(first.paths.dir, f.name), 'utf8').includes(password), `${f.name} has no password`)
      assert.equal(f.mode, 0o644)
    }
    assert.equal(first.upload.find((u) => u.name === 'grafana-admin-password')!.mode, 0o600)
    assert.equal(first.upload.at(-1)!.name, 'stack.yml', 'the stack file last: every file it names is there before it')
    const again = writeMonitorFiles(cluster, IMAGES)
    assert.equal(again.passwordCreated, false)
    assert.equal(readFileSync(again.paths.passwordFile, 'utf8'), password)
    // A mode loosened by hand is tightened again.
    writeFileSync(first.paths.passwordFile, password, {mode: 0o644})
    writeMonitorFiles(cluster, IMAGES)
    assert.equal(statSync(first.paths.passwordFile).mode & 0o777, 0o600)
    // .belt/.gitignore versions the stack's files but not the password.
    const gi = readFileSync(join(dir, '.belt', '.gitignore'), 'utf8')
    assert.match(gi, /^!\*\/monitor\/stack\.yml$/m)
    const unignored = gi.split('\n').filter((l) => l.startsWith('!'))
    assert.ok(!unignored.some((l) => /password|monitor\/\*?$/.test(l)), `nothing un-ignores the password: ${unignored.join(' ')}`)
  } finally {
    cleanup()
  }
})

test('remote commands: deploy never resolves images in a registry and removes its staged folder; down waits for the stack to go', () => {
  const deploy = deployCommand('/tmp/belt-monitor.abc', ['belt-monitor-prometheus-1'])
  assert.match(deploy, /docker stack deploy --compose-file stack\.yml --resolve-image never --prune belt-monitor/)
  assert.match(deploy, /trap 'rm -rf "\$d"' EXIT/)
  assert.match(deploy, /"active true"/, 'refuses a node that is not a manager')
  const down = removeCommand()
  assert.match(down, /docker stack rm belt-monitor/)
  assert.match(down, /while \[ -n "\$\(left\)" \]/)
})
