// `belt create --join` against the DigitalOcean and EC2 fakes (EC2 through the real @aws-sdk/client-ec2): the user
// data is decoded on the wire and checked — the script, the names (EC2: the batch's, picked by ami-launch-index), every
// manager address, the token — and the token is in no output of belt's and not in state.json. The manager is a
// droplet / instance whose public address is an SSH lab host (test/lib/sshlab.ts: a real sshd with a stand-in docker
// holding a swarm); the fakes boot nothing, so the watch ends with the reason and where to look. Needs root (the lab).
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync, writeFileSync} from 'node:fs'
import {parse, stringify} from 'yaml'
import {join} from 'node:path'
import {spawnSync} from 'node:child_process'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {belt, scratchDir, type RunResult} from '../lib/cli.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'
import {setupEc2} from './ec2-setup.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare']})

let lab: SshLab

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: 2})
})

after(async () => {
  await lab?.close()
})

/** The manager's swarm in the lab (stand-in docker): init through the lab's sshd, then its worker token. */
function labSwarm(i: number): string {
  const ssh = (cmd: string) => spawnSync('ssh', ['-i', lab.keyPath, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'LogLevel=ERROR', `root@${lab.address(i)}`, cmd], {encoding: 'utf8'})
  const init = ssh('docker swarm init --advertise-addr ' + lab.address(i))
  assert.equal(init.status, 0, init.stderr)
  const token = ssh('docker swarm join-token -q worker').stdout.trim()
  assert.match(token, /^SWMTKN-/)
  return token
}

function clusterId(dir: string, cluster: string): string {
  return /^cluster_id: "([0-9a-f]+)"/m.exec(readFileSync(join(dir, '.belt', cluster, 'config.yml'), 'utf8'))![1]
}

function noToken(token: string, texts: string[]): void {
  for (const t of texts) {
    assert.ok(!t.includes(token), 'the token is not in belt\'s output or state')
    assert.doesNotMatch(t, /SWMTKN-1-[A-Za-z0-9]/)
  }
}

test('DigitalOcean: every create request carries the boot-join script; the token only there', {skip, timeout: 120_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-boot-do-')
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(async () => { await fake.stop(); cleanup() })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const outputs: RunResult[] = []
  const run = async (...args: string[]) => {
    const r = await belt(args, {cwd: dir, env, timeoutMs: 90_000})
    outputs.push(r)
    return r
  }
  assert.equal((await run('cluster', 'new', 'bj', '--driver', 'digitalocean', 'region=sgp1', `ssh_key=${lab.keyPath}`,
    'strict_host_key_checking=no')).code, 0)
  // A multi-line user_data, as a user writes it in config.yml (a YAML block).
  const config = join(dir, '.belt', 'bj', 'config.yml')
  const doc0 = parse(readFileSync(config, 'utf8')) as {cluster_id: string; digitalocean: Record<string, unknown>}
  doc0.digitalocean.user_data = '#cloud-config\npackages: [htop]\n'
  writeFileSync(config, stringify(doc0))
  const token = labSwarm(0)
  fake.seedDroplet('mg0', ['belt-cluster:bj', `belt-id:${doc0.cluster_id}`])
  fake.setPublicIp('mg0', lab.address(0))

  const bad = await run('create', '1gb', 'w1', '--join', 'mg0', '--fallback', 'carrier-pigeon')
  assert.equal(bad.code, 2, bad.stderr)
  assert.match(bad.stderr, /fallback/)
  const r = await run('create', '1gb', 'w[1:12]', '--join', 'mg0', '--timeout', '2s', '--no-rotate', '--json')
  assert.equal(r.code, 1, r.stderr)
  const doc = JSON.parse(r.stdout) as {created: {name: string}[]; joined: string[]; failed: {name: string; error: string}[]}
  assert.equal(doc.created.length, 12)
  assert.deepEqual(doc.joined, [])
  assert.equal(doc.failed.length, 12)
  assert.match(doc.failed[0].error, /did not join within 2 ?s; its boot log is \/var\/log\/cloud-init-output\.log on the node/)
  assert.equal(fake.count('POST', '/v2/droplets'), 2, '12 names: two requests of up to 10')

  const mg0 = fake.list().find((d) => d.name === 'mg0')!
  const privateIp = mg0.networks.v4.find((n) => n.type === 'private')!.ip_address
  for (let i = 1; i <= 12; i++) {
    const ud = fake.userDataOf(`w${i}`)!
    // The user's cloud-config first, then the script; the name is the droplet's hostname.
    assert.match(ud, /^Content-Type: multipart\/mixed/)
    assert.match(ud, /text\/cloud-config[\s\S]*packages: \[htop\][\s\S]*text\/x-shellscript[\s\S]*#!\/bin\/sh/)
    assert.match(ud, /name=\$\(hostname\)/)
    assert.match(ud, new RegExp(`RemoteAddrs|addrs_json='"${privateIp.replace(/\./g, '\\.')}:2377"'`))
    assert.equal(ud.split(token).length - 1, 1, 'the token once, in the user data')
    assert.match(ud, /deadline=\$\(\( \$\(date \+%s\) \+ 2 \)\)/, 'the script gives up by the end of the watch')
  }
  noToken(token, [...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(join(dir, '.belt', 'bj', 'state.json'), 'utf8')])
})

test('EC2: each RunInstances batch carries its names for ami-launch-index; the token only there', {skip, timeout: 120_000}, async (t) => {
  const {dir, fake, run, outputs} = await setupEc2(t)
  assert.equal((await run(['cluster', 'new', 'bje', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', `ssh_key=${lab.keyPath}`,
    'strict_host_key_checking=no', 'ssh_user=root', 'batch_size=4'])).code, 0)
  const token = labSwarm(1)
  const inst = fake.seedInstance('mg0', [{key: 'belt-cluster', value: 'bje'}, {key: 'belt-cluster-id', value: clusterId(dir, 'bje')}])
  inst.publicIp = lab.address(1)

  const r = await run(['create', '1gb', 'w[1:10]', '--join', 'mg0', '--timeout', '2s', '--no-rotate'], {timeoutMs: 90_000})
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /did not join within 2 ?s/)
  const runs = fake.requests.filter((q) => q.action === 'RunInstances').map((q) => q.params)
  assert.equal(runs.length, 3, '10 names in batches of 4')
  const batches: string[][] = []
  for (const p of runs) {
    const ud = Buffer.from(String(p.UserData), 'base64').toString('utf8')
    assert.match(ud, /^#!\/bin\/sh/)
    assert.match(ud, /X-aws-ec2-metadata-token-ttl-seconds: 300/)
    assert.match(ud, /meta-data\/ami-launch-index/)
    assert.match(ud, /preserve_hostname: true/)
    assert.match(ud, new RegExp(`addrs_json='"${inst.privateIp.replace(/\./g, '\\.')}:2377"'`))
    assert.equal(ud.split(token).length - 1, 1)
    batches.push(/set -- ((?:w\d+ ?)+);/.exec(ud)![1].trim().split(' '))
  }
  assert.deepEqual(batches.flat().sort(), Array.from({length: 10}, (_, i) => `w${i + 1}`).sort())
  assert.deepEqual(batches.map((b) => b.length).sort(), [2, 4, 4])
  noToken(token, [...outputs.flatMap((o) => [o.stdout, o.stderr]), readFileSync(join(dir, '.belt', 'bje', 'state.json'), 'utf8')])
})
