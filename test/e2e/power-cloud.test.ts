// belt restart / stop / start against the fake clouds (the real CLI as a subprocess): which API calls each action
// makes — DigitalOcean droplet actions one per droplet, a hard restart of the whole cluster as one tag-wide
// power_cycle on the id tag; EC2 Reboot/Stop/StartInstances in one call per chunk — what is "already", and an EC2
// stop and start whose new public address is reported, with the pinned host key moved to it. Bad input: exit 2.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir, withoutApiNotice, type RunResult} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {setupEc2, until} from './ec2-setup.js'
import {usageLine} from '../lib/assert.js'

async function setupDo(t: import('node:test').TestContext) {
  const {dir, cleanup} = scratchDir('belt-power-do-')
  const fake = new FakeDigitalOcean({activeAfterMs: 0})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '50'}
  const run = async (args: string[]) => {
    const r = await belt(args, {cwd: dir, env})
    return {...r, stderr: withoutApiNotice(r.stderr)}
  }
  assert.equal((await run(['cluster', 'new', 'pw', '--driver', 'digitalocean', 'region=sgp1'])).code, 0)
  const c = await run(['create', '512mb', 'node[1:3]'])
  assert.equal(c.code, 0, c.stderr)
  const id = /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', 'pw', 'config.yml'), 'utf8'))![1]
  return {dir, fake, run, idTag: `belt-id:${id}`}
}

function json(r: RunResult): {ok: string[]; already: string[]; failed: {name: string; error: string}[]; addresses: unknown[]} {
  return JSON.parse(r.stdout)
}

test('DigitalOcean: reboot / power_off / power_on one action per droplet; already; a hard restart of all is one tag-wide power_cycle', async (t) => {
  const {fake, run, idTag} = await setupDo(t)
  let r = await run(['restart', 'node[1:2]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r), {ok: ['node1', 'node2'], already: [], failed: [], addresses: []})
  assert.deepEqual(fake.actions.map((a) => [a.name, a.type, a.tag]).sort(), [['node1', 'reboot', null], ['node2', 'reboot', null]])
  assert.equal(fake.count('POST', '/v2/droplets/:id/actions'), 2)

  r = await run(['stop', 'node3', '--wait', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r), {ok: ['node3'], already: [], failed: [], addresses: []})
  assert.equal(fake.list().find((d) => d.name === 'node3')!.status, 'off')
  r = await run(['stop', 'node3'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^already\s+1\s+node3$/m)
  assert.equal(fake.actions.filter((a) => a.type === 'power_off').length, 1, 'an off droplet gets no second power_off')

  r = await run(['restart', 'node3'])
  assert.equal(r.code, 1, 'a restart of an off droplet fails')
  assert.match(r.stdout + r.stderr, /node3 is off; start it with: belt start node3/)

  r = await run(['start', 'node[1:3]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r), {ok: ['node3'], already: ['node1', 'node2'], failed: [], addresses: []})
  assert.deepEqual(fake.actions.filter((a) => a.type === 'power_on').map((a) => a.name), ['node3'])

  const before = fake.count('POST', '/v2/droplets/:id/actions')
  r = await run(['restart', 'node[1:3]', '--hard', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r).ok, ['node1', 'node2', 'node3'])
  assert.equal(fake.count('POST', '/v2/droplets/actions'), 1, 'one tag-wide call')
  assert.equal(fake.count('POST', '/v2/droplets/:id/actions'), before, 'no per-droplet call')
  assert.deepEqual([...new Set(fake.actions.filter((a) => a.type === 'power_cycle').map((a) => a.tag))], [idTag], 'by the id tag')

  // Part of the cluster: power_cycle per droplet.
  r = await run(['restart', 'node2', '--hard'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.count('POST', '/v2/droplets/actions'), 1)
  assert.deepEqual(fake.actions.at(-1), {droplet_id: fake.list().find((d) => d.name === 'node2')!.id, name: 'node2', type: 'power_cycle', tag: null})
})

test('EC2: one RebootInstances / StopInstances / StartInstances call per chunk; a started instance\'s new address is reported and its host key moved', async (t) => {
  const {dir, fake, run} = await setupEc2(t, {stoppingMs: 100})
  assert.equal((await run(['cluster', 'new', 'pe', '--driver', 'ec2', 'region=us-east-1', 'admin_cidr=203.0.113.0/24'])).code, 0)
  let r = await run(['create', 't3.micro', 'w[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  await until(() => fake.live().every((i) => fake.state(i) === 'running'), 'running')

  r = await run(['restart', 'w[1:3]', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r), {ok: ['w1', 'w2', 'w3'], already: [], failed: [], addresses: []})
  assert.equal(fake.served('RebootInstances'), 1, 'one call for three instances')
  assert.deepEqual([...fake.reboots.values()], [1, 1, 1])

  const w2 = fake.live().find((i) => fake.tag(i, 'Name') === 'w2')!
  const oldIp = w2.publicIp
  const known = join(dir, '.belt', 'pe', 'known_hosts')
  const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl'
  writeFileSync(known, `${oldIp} ssh-ed25519 ${key}\n`)

  r = await run(['stop', 'w[2:3]', '--wait', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(json(r).ok, ['w2', 'w3'])
  assert.equal(fake.served('StopInstances'), 1)
  assert.equal(fake.state(w2), 'stopped')

  r = await run(['start', 'w[1:3]'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.served('StartInstances'), 1)
  assert.notEqual(w2.publicIp, oldIp, 'the fake gave w2 another address')
  assert.match(r.stdout, new RegExp(`^w2: new public address ${w2.publicIp.replace(/\./g, '\\.')} \\(was ${oldIp.replace(/\./g, '\\.')}\\)$`, 'm'))
  assert.match(r.stdout, /^already\s+1\s+w1$/m)
  assert.match(r.stderr, /re-issue them with: belt provision 'w2,w3'/)
  assert.equal(readFileSync(known, 'utf8'), `${w2.publicIp} ssh-ed25519 ${key}\n`, 'the pinned key names the new address only')
  const st = JSON.parse(readFileSync(join(dir, '.belt', 'pe', 'state.json'), 'utf8'))
  assert.equal(st.nodes.w2.stopped_public_ip, undefined, 'the remembered address is forgotten once started')

  r = await run(['restart', 'w1', '--hard'])
  usageLine(r, /--hard: EC2 has no hard reboot/, 'restart --hard on ec2')
})

test('bad input of restart / stop / start / upgrade: exit 2, one line naming it, nothing called', async (t) => {
  const {fake, run} = await setupDo(t)
  const cases: [string[], RegExp][] = [
    [['stop', 'node1', '--hard'], /unknown flag --hard/],
    [['start', 'node1', '--hard'], /unknown flag --hard/],
    [['restart', 'node9'], /unknown node node9 in cluster 'pw'/],
    [['restart', 'node1', '--timeout', 'soon'], /--timeout/],
    [['restart', 'node1', '--concurrency', '0'], /--concurrency/],
    [['restart', 'node1', '--wait=yes'], /--wait takes no value/],
    [['start', 'node1', '--force'], /--force/],
    [['stop', 'node1', '--force=yes'], /--force takes no value/],
    [['restart', 'node1', '--hard=1'], /--hard takes no value/],
    [['start', 'node1', '--json=true'], /--json takes no value/],
    [['upgrade', 'node1', '--json=yes'], /--json takes no value/],
    [['restart'], /missing argument PATTERNS/],
    [['stop', 'bad_name!'], /bad_name!/],
    [['upgrade', 'node1', '--batch', '0'], /--batch: expected a number of workers/],
    [['upgrade', 'node1', '--batch', '150%'], /--batch: a percentage is 1% to 100%/],
    [['upgrade', 'node1', '--batch', 'x'], /--batch/],
    [['upgrade', 'node1', '--max-failures', '0'], /--max-failures/],
    [['upgrade', 'node1', '--max-failures', 'two'], /--max-failures/],
    [['upgrade', 'node1', '--version', '27;rm -rf /'], /--version: expected a Docker Engine version/],
    [['upgrade', 'node1', '--version', ''], /--version/],
    [['upgrade', 'node1', '--timeout', 'forever'], /--timeout/],
    [['upgrade', 'nosuch'], /unknown node nosuch/],
    [['upgrade', 'node1'], /no active node/],
  ]
  for (const [args, re] of cases) {
    const r = await run(args)
    usageLine(r, re, args.join(' '))
  }
  assert.equal(fake.actions.length, 0)
})

test('generic: stop and start are refused naming the driver; restart is reboot over SSH', async (t) => {
  const {dir, cleanup} = scratchDir('belt-power-generic-')
  t.after(cleanup)
  const run = (args: string[]) => belt(args, {cwd: dir})
  assert.equal((await run(['cluster', 'new', 'pg', '--driver', 'generic', 'hosts.h1=192.0.2.10'])).code, 0)
  for (const action of ['stop', 'start']) {
    const r = await run([action, 'h1'])
    usageLine(r, new RegExp(`belt ${action}: the generic driver cannot power hosts off or on`), action)
  }
  const r = await run(['restart', 'h1', '--hard'])
  usageLine(r, /--hard: the generic driver has no power cycle/, 'restart --hard on generic')
})
