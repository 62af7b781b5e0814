// ssh_jump / ssh_address as a user writes them, against the fake clouds: the DigitalOcean firewall and the EC2
// security group let SSH in from the bastion's address; bad values are refused (exit 2, one line naming the key)
// before anything changes, for every driver and per generic host.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {ok, usageLine} from '../lib/assert.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {setupEc2} from './ec2-setup.js'
import type {FakeRule} from '../fakes/ec2.js'

const BASTION = '198.51.100.9'

test('DigitalOcean: the managed firewall lets SSH in from admin_cidr and the bastion', async (t) => {
  const {dir, cleanup} = scratchDir('belt-bastion-do-')
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const run = (...args: string[]) => belt(args, {cwd: dir, env: {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url}})
  ok(await run('cluster', 'new', 'priv', '--driver', 'digitalocean', 'admin_cidr=203.0.113.0/24', `ssh_jump=admin@${BASTION}`,
    'ssh_address=private'), 'cluster new')
  ok(await run('create', '1gb', 'w[1:2]'), 'create')
  type Rule = {protocol: string; ports: string; sources: {addresses?: string[]; tags?: string[]}}
  const fw = [...fake.firewalls.values()][0] as {inbound_rules: Rule[]}
  const ssh = fw.inbound_rules.find((r) => r.ports === '22')!
  assert.deepEqual(ssh.sources.addresses, ['203.0.113.0/24', `${BASTION}/32`])
  assert.deepEqual(fw.inbound_rules.find((r) => r.ports === '2376')!.sources.addresses, ['203.0.113.0/24'])
  const shown = JSON.parse(ok(await run('firewall', '--json'), 'firewall').stdout) as {rules: {ports: string; sources: string[]}[]}
  assert.deepEqual(shown.rules.find((r) => r.ports === '22')!.sources, ['203.0.113.0/24', `${BASTION}/32`])
  // Re-run: converged, no update.
  ok(await run('create', '1gb', 'w[1:2]'), 'create again')
  assert.equal(fake.count('PUT', '/v2/firewalls/:id'), 0)
})

test('EC2: the security group lets SSH in from the bastion', async (t) => {
  const {fake, run} = await setupEc2(t)
  ok(await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', `ssh_jump=ubuntu@${BASTION}:2222`]), 'cluster new')
  ok(await run(['create', '1gb', 'w[1:2]']), 'create')
  const [g] = [...fake.groups.values()]
  const ssh = g.ingress.filter((r: FakeRule) => r.protocol === 'tcp' && r.from === 22).map((r: FakeRule) => r.cidr).sort()
  assert.deepEqual(ssh, ['198.51.100.9/32', '203.0.113.0/24'])
  const before = fake.calls.AuthorizeSecurityGroupIngress
  ok(await run(['create', '1gb', 'w[1:2]']), 'create again')
  assert.equal(fake.calls.AuthorizeSecurityGroupIngress, before, 'nothing missing on a re-run')
})

test('bad ssh_jump / ssh_address: exit 2, one line naming the key, config.yml unchanged', async (t) => {
  const {dir, cleanup} = scratchDir('belt-bastion-bad-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  for (const driver of ['local', 'generic', 'digitalocean', 'ec2']) {
    ok(await run('cluster', 'new', `c-${driver}`, '--driver', driver), `cluster new ${driver}`)
    const config = join(dir, '.belt', `c-${driver}`, 'config.yml')
    const before = readFileSync(config, 'utf8')
    const update = (kv: string) => run('--cluster', `c-${driver}`, 'cluster', 'update', kv)
    usageLine(await update('ssh_jump=root@bastion:99999'), /'ssh_jump' must be user@host\[:port\] \('99999' is not a port/, `${driver} port`)
    usageLine(await update('ssh_jump=ro ot@bastion'), /'ssh_jump' must be user@host\[:port\] \('ro ot' is not a user name\)/, `${driver} user`)
    usageLine(await update('ssh_jump=root@2001:db8::1'), /'ssh_jump' must be .*needs brackets/, `${driver} v6`)
    usageLine(await update('ssh_jump=root@bad_host'), /'ssh_jump' must be .*'bad_host' is not a host name/, `${driver} host`)
    usageLine(await update('ssh_address=internal'), /'ssh_address' must be one of public \| private, got "internal"/, `${driver} ssh_address`)
    assert.equal(readFileSync(config, 'utf8'), before, 'config.yml unchanged')
    ok(await update('ssh_jump=root@[2001:db8::1]:2222'), `${driver} v6 with brackets`)
    ok(await update('ssh_address=private'), `${driver} ssh_address=private`)
  }
  usageLine(await run('--cluster', 'c-generic', 'cluster', 'update', 'hosts.w1.address=203.0.113.11', 'hosts.w1.ssh_jump=x@:1'),
    /'hosts\.w1\.ssh_jump' must be user@host\[:port\]/, 'per-host ssh_jump')
  ok(await run('--cluster', 'c-generic', 'cluster', 'update', 'hosts.w1.address=203.0.113.11', 'hosts.w1.ssh_jump=admin@203.0.113.5'),
    'per-host ssh_jump')
  // Hosts behind a bastion are listed without a probe of their SSH port (it is reachable only through the bastion).
  ok(await run('--cluster', 'c-generic', 'cluster', 'update', 'hosts.w2=203.0.113.12'), 'second host')
  type Listed = {name: string; status: string; provider_status: string}
  const listed = JSON.parse(ok(await run('--cluster', 'c-generic', 'ls', '--json'), 'generic ls').stdout) as Listed[]
  assert.deepEqual(listed.map((n) => [n.name, n.status, n.provider_status]), [
    ['w1', 'active', 'not probed: behind the bastion admin@203.0.113.5'],
    ['w2', 'active', 'not probed: behind the bastion root@[2001:db8::1]:2222'],
  ])
  // A config.yml edited by hand is checked when read.
  const config = join(dir, '.belt', 'c-local', 'config.yml')
  const text = readFileSync(config, 'utf8').replace(/ssh_jump: .*/, 'ssh_jump: "@"')
  writeFileSync(config, text)
  usageLine(await run('--cluster', 'c-local', 'ls'), /'ssh_jump' must be user@host\[:port\]/, 'hand-edited ssh_jump')
})
