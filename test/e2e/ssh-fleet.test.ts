// The SSH core and fleet runner against a real OpenSSH sshd answering on many addresses (test/lib/sshlab.ts):
// every good host succeeds; unreachable, refused, silent, key-refusing and key-changed hosts each fail with their
// own reason; host keys are recorded and enforced; timeouts, Ctrl-C, output caps, passphrases and sudo. Needs root.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {loadClusterAt, type Cluster} from '../../src/core/config/cluster.js'
import {BeltSshContext} from '../../src/ssh/context.js'
import {speedupStatus} from '../../src/ssh/ssh2-speedups.js'
import type {SshEndpoint} from '../../src/providers/provider.js'
import type {HostResult} from '../../src/ssh/types.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare']})
const HOSTS = 30
const KEY_REFUSED = 27
const TCP_REJECTED = 28
const TCP_DROPPED = 29
const KEY_CHANGED = 26

let lab: SshLab
let work: string

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: HOSTS, refuseKeyAt: [KEY_REFUSED], rejectTcpAt: [TCP_REJECTED], dropTcpAt: [TCP_DROPPED]})
  work = mkdtempSync(join(tmpdir(), 'belt-fleet-'))
})

after(async () => {
  await lab?.close()
  if (work) rmSync(work, {recursive: true, force: true})
})

let clusters = 0
function cluster(settings: Record<string, unknown> = {}): Cluster {
  const name = `c${clusters++}`
  const dir = join(work, '.belt', name)
  mkdirSync(dir, {recursive: true})
  const block = {ssh_key: lab.keyPath, ...settings}
  const yaml = `driver: generic\ngeneric:\n${Object.entries(block).filter(([, v]) => v !== undefined).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join('')}`
  writeFileSync(join(dir, 'config.yml'), yaml)
  return loadClusterAt(name, dir, join(dir, 'config.yml'))
}

function ep(i: number | string, user = 'root'): SshEndpoint {
  const host = typeof i === 'number' ? lab.hosts[i] : i
  return {name: typeof i === 'number' ? `h${i}` : `x-${host}`, host, port: 22, user, private_ip: null, public_ip: host}
}

const byName = <T>(results: HostResult<T>[]) => new Map(results.map((r) => [r.name, r]))

let keyChanged: Promise<string> | null = null
/** From now on host KEY_CHANGED presents another host key (done once per file, by whichever test needs it first). */
const changeHostKeyOnce = () => (keyChanged ??= lab.changeHostKey(lab.hosts[KEY_CHANGED]))

test('every good host succeeds and each bad one fails with its own reason', {skip}, async () => {
  const c = cluster()
  const ctx = new BeltSshContext(c, {connectTimeoutMs: 2000})
  const unreachable = lab.unassigned(1)[0]
  const eps = [...lab.hosts.map((_, i) => ep(i)), ep(unreachable)]
  const task = async (s: import('../../src/ssh/types.js').SshSession) => (await s.exec('docker lab-ip')).stdout.trim()

  // First contact records host keys (accept-new).
  const first = byName((await ctx.runFleet(eps, task, {concurrency: 10, retries: 1})).results)
  for (let i = 0; i < 26; i++) assert.equal(first.get(`h${i}`)?.value, lab.hosts[i], `h${i}: ${first.get(`h${i}`)?.error}`)
  const recorded = readFileSync(join(c.dir, 'known_hosts'), 'utf8').trim().split('\n')
  // The key-refusing host presented its host key before refusing us, so it is recorded too.
  assert.equal(recorded.length, 28)
  assert.ok(recorded.every((l) => /^10\.215\.\d+\.\d+ ssh-ed25519 AAAA/.test(l)), recorded[0])

  // One host now presents another host key (a second sshd behind a port redirect).
  await changeHostKeyOnce()
  const ctx2 = new BeltSshContext(c, {connectTimeoutMs: 2000})
  const run = await ctx2.runFleet(eps, task, {concurrency: 10, retries: 1})
  const r = byName(run.results)
  assert.equal(run.results.length, eps.length)
  for (let i = 0; i < 26; i++) {
    assert.equal(r.get(`h${i}`)?.ok, true, `h${i}: ${r.get(`h${i}`)?.error}`)
    assert.equal(r.get(`h${i}`)?.value, lab.hosts[i])
    assert.equal(r.get(`h${i}`)?.attempts, 1)
  }
  const changed = r.get(`h${KEY_CHANGED}`)!
  assert.equal(changed.ok, false)
  assert.equal(changed.connectionFailed, true)
  assert.equal(changed.attempts, 1, 'a changed host key is never retried')
  assert.match(changed.error!, new RegExp(`HOST KEY CHANGED for ${lab.hosts[KEY_CHANGED].replace(/\./g, '\\.')}: it presented ssh-ed25519 SHA256:\\S+, .*known_hosts:\\d+ has SHA256:\\S+; refused`))
  assert.match(changed.error!, /belt ssh --forget-host h26/)
  assert.equal(ctx2.hostKeyProblems.length, 1)
  assert.equal(ctx2.hostKeyProblems[0].reason, 'changed')

  const refusedKey = r.get(`h${KEY_REFUSED}`)!
  assert.match(refusedKey.error!, /^permission denied \(publickey\) for root@10\.215\.\d+\.\d+; tried /)
  assert.equal(refusedKey.attempts, 1, 'an authentication failure is never retried')

  const rejected = r.get(`h${TCP_REJECTED}`)!
  assert.match(rejected.error!, /^connection refused \(10\.215\.\d+\.\d+\)$/)
  assert.equal(rejected.attempts, 2, 'a refused connection is retried (retries: 1)')

  assert.match(r.get(`h${TCP_DROPPED}`)!.error!, /^connection timed out \(10\.215\.\d+\.\d+\)$/)
  assert.match(r.get(`x-${unreachable}`)!.error!, /^host unreachable \(10\.215\.\d+\.\d+\)$/)
  for (const bad of [KEY_CHANGED, KEY_REFUSED, TCP_REJECTED, TCP_DROPPED]) assert.equal(r.get(`h${bad}`)!.connectionFailed, true)

  // The recorded key is still the old one: nothing was overwritten.
  assert.equal(readFileSync(join(c.dir, 'known_hosts'), 'utf8').trim().split('\n').length, 28)
  // --forget-host's mechanism: after forgetting, the next contact records the new key and works.
  assert.equal(ctx2.knownHosts.forget(lab.hosts[KEY_CHANGED], 22), 1)
  const again = await new BeltSshContext(c).runFleet([ep(KEY_CHANGED)], task, {concurrency: 1})
  assert.equal(again.results[0].ok, true, again.results[0].error)
})

test('strict_host_key_checking: yes refuses unknown hosts; no accepts a changed key with a warning', {skip}, async () => {
  await changeHostKeyOnce()
  const strict = cluster({strict_host_key_checking: 'yes'})
  const task = async (s: import('../../src/ssh/types.js').SshSession) => (await s.exec('docker lab-ip')).stdout.trim()
  const ctx = new BeltSshContext(strict)
  const r = await ctx.runFleet([ep(0)], task, {concurrency: 1})
  assert.equal(r.results[0].ok, false)
  assert.match(r.results[0].error!, /no host key known for 10\.215\.\d+\.\d+ in .*known_hosts and strict_host_key_checking is 'yes'/)
  assert.equal(existsSync(join(strict.dir, 'known_hosts')), false, 'nothing recorded under yes')

  const loose = cluster({strict_host_key_checking: 'no'})
  const kh = join(loose.dir, 'known_hosts')
  // Pretend an older key was recorded for the host that now answers with the second sshd's key.
  writeFileSync(kh, `${lab.hosts[0]} ssh-ed25519 ${lab.hostPublicKey.split(' ')[1]}\n${lab.hosts[KEY_CHANGED]} ssh-ed25519 ${lab.hostPublicKey.split(' ')[1]}\n`)
  const warnings: string[] = []
  const ctx2 = new BeltSshContext(loose, {onWarning: (m) => warnings.push(m)})
  const r2 = await ctx2.runFleet([ep(0), ep(KEY_CHANGED)], task, {concurrency: 2})
  assert.ok(r2.results.every((x) => x.ok), JSON.stringify(r2.results))
  assert.equal(warnings.length, 1)
  assert.match(warnings[0], /HOST KEY CHANGED .* connecting anyway because strict_host_key_checking is 'no'/)
})

test('a per-host timeout stops a hung command without retrying it', {skip}, async () => {
  const ctx = new BeltSshContext(cluster())
  const run = await ctx.runFleet([ep(1), ep(2)], async (s, signal) => s.exec('docker lab-sleep 30', {signal}), {concurrency: 2, timeoutMs: 1500, retries: 3})
  for (const r of run.results) {
    assert.equal(r.ok, false)
    assert.equal(r.attempts, 1)
    assert.equal(r.connectionFailed, undefined)
    assert.match(r.error!, /^timed out after 1\.5s while the command ran; it may still be running on the host$/)
  }
})

test('Ctrl-C: no new hosts start, in-flight ones finish, the rest are reported as not started', {skip}, async () => {
  const ctx = new BeltSshContext(cluster())
  const ac = new AbortController()
  let started = 0
  const run = await ctx.runFleet(lab.hosts.slice(0, 8).map((_, i) => ep(i)), async (s) => (await s.exec('docker lab-sleep 1')).code, {
    concurrency: 2,
    signal: ac.signal,
    onStart: () => {
      if (++started === 2) ac.abort()
    },
  })
  assert.equal(run.interrupted, true)
  assert.equal(run.results.length, 2)
  assert.ok(run.results.every((r) => r.ok && r.value === 0), JSON.stringify(run.results))
  assert.equal(run.notStarted.length, 6)
})

test('output is capped per host; exit codes and stdin come through', {skip}, async () => {
  const ctx = new BeltSshContext(cluster())
  const s = await ctx.connect(ep(3))
  try {
    const big = await s.exec('docker lab-lines 50000', {maxOutputBytes: 1000})
    assert.equal(big.code, 0)
    assert.ok(big.stdout.startsWith('line 1\nline 2\n'))
    assert.match(big.stdout, /\[… \d+ more bytes not kept\]\n$/)
    assert.ok(big.stdout.length < 1100)
    const failing = await s.exec('docker lab-exit 42')
    assert.equal(failing.code, 42)
    assert.equal(failing.stderr, 'lab: exiting with 42\n')
    const echoed = await s.exec('docker lab-stdin', {stdin: 'hello\nworld\n'})
    assert.equal(echoed.stdout, 'hello\nworld\n')
  } finally {
    s.close()
  }
  assert.equal(speedupStatus().clientKeyObject, true)
  assert.equal(speedupStatus().skipHostKeysProve, true)
  assert.equal(speedupStatus().curve25519Jwk, true)
  assert.equal(speedupStatus().ed25519VerifyJwk, true)
})

test('an encrypted key needs BELT_SSH_PASSPHRASE; per-host keys are used', {skip}, async () => {
  const key = join(work, 'enc_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'open sesame', '-C', 'enc', '-f', key])
  writeFileSync(join(lab.dir, 'authorized_keys'), `${lab.publicKey}\n${readFileSync(key + '.pub', 'utf8')}`)
  const task = async (s: import('../../src/ssh/types.js').SshSession) => (await s.exec('docker lab-ip')).stdout.trim()
  // Without the passphrase the configured key is a usage error before anything happens.
  assert.throws(() => new BeltSshContext(cluster({ssh_key: key}), {env: {}}), /ssh_key: .*enc_ed25519 is encrypted; set BELT_SSH_PASSPHRASE or add it to ssh-agent/)
  assert.throws(() => new BeltSshContext(cluster({ssh_key: key}), {env: {BELT_SSH_PASSPHRASE: 'wrong'}}), /BELT_SSH_PASSPHRASE does not decrypt it/)
  const ok = await new BeltSshContext(cluster({ssh_key: key}), {env: {BELT_SSH_PASSPHRASE: 'open sesame'}}).runFleet([ep(4)], task, {concurrency: 1})
  assert.equal(ok.results[0].value, lab.hosts[4], ok.results[0].error)
  // A host's own key (generic driver's hosts.NAME.ssh_key) on top of the cluster-wide order.
  const c = cluster({ssh_key: join(work, 'missing-key-is-only-per-host')})
  assert.throws(() => new BeltSshContext(c, {env: {}}), /ssh_key: .*does not exist/)
  const other = join(work, 'other_ed25519')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'other', '-f', other])
  const ctx = new BeltSshContext(cluster({ssh_key: other}), {env: {}})
  const refused = await ctx.runFleet([ep(5)], task, {concurrency: 1})
  assert.match(refused.results[0].error!, /permission denied \(publickey\).*tried .*other_ed25519/)
  const perHost = await ctx.runFleet([{...ep(5), keyPath: lab.keyPath}], task, {concurrency: 1})
  assert.equal(perHost.results[0].value, lab.hosts[5], perHost.results[0].error)
})

test('the SSH agent comes first, and is asked for its keys once per run', {skip}, async (t) => {
  const sock = join(work, 'agent.sock')
  const out = execFileSync('ssh-agent', ['-a', sock], {encoding: 'utf8'})
  const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1])
  t.after(() => { try { process.kill(pid) } catch {} })
  execFileSync('ssh-add', ['-q', lab.keyPath], {env: {...process.env, SSH_AUTH_SOCK: sock}, stdio: 'ignore'})
  // No key file anywhere: only the agent can log in.
  const c = cluster({ssh_key: undefined})
  const ctx = new BeltSshContext(c, {env: {SSH_AUTH_SOCK: sock, HOME: work}})
  assert.equal(ctx.credentials.keys.length, 0)
  const run = await ctx.runFleet([ep(8), ep(9), ep(10)], async (s) => (await s.exec('docker lab-ip')).stdout.trim(), {concurrency: 3})
  assert.deepEqual(run.results.map((r) => r.value).sort(), [lab.hosts[8], lab.hosts[9], lab.hosts[10]].sort(), JSON.stringify(run.results))
  const none = await new BeltSshContext(c, {env: {HOME: work}}).runFleet([ep(8)], async () => 1, {concurrency: 1})
  assert.match(none.results[0].error!, /permission denied \(publickey\) for root@\S+; tried no keys/)
})

test('non-root users: sudo -n for root commands, and a clear error without passwordless sudo', {skip}, async () => {
  const ctx = new BeltSshContext(cluster())
  const op = await ctx.connect(ep(6, 'beltop'))
  try {
    assert.equal((await op.exec('docker lab-whoami')).stdout.trim(), 'beltop')
    assert.equal((await op.exec('docker lab-whoami', {sudo: true})).stdout.trim(), 'root')
    const path = `/tmp/belt-fleet-test-${process.pid}/sub/file.conf`
    await op.writeFile(path, 'x=1\n', {mode: 0o640, sudo: true})
    try {
      const st = statSync(path)
      assert.equal(st.uid, 0)
      assert.equal(st.mode & 0o777, 0o640)
      assert.equal(readFileSync(path, 'utf8'), 'x=1\n')
    } finally {
      rmSync(`/tmp/belt-fleet-test-${process.pid}`, {recursive: true, force: true})
    }
  } finally {
    op.close()
  }
  const run = await ctx.runFleet([ep(7, 'beltnosudo')], async (s) => s.exec('docker info', {sudo: true}), {concurrency: 1})
  assert.equal(run.results[0].ok, false)
  assert.match(run.results[0].error!, /^user 'beltnosudo' has no passwordless sudo \(sudo -n: a password is required\); allow it \(NOPASSWD in \/etc\/sudoers\.d\) or use ssh_user: root$/)
})
