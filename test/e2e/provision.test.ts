// `belt provision`, `env`, `certs` and `regenerate-certs` on real parts: local-driver hosts (network namespaces with
// their own sshd and dockerd), the real OpenSSH client to look at the nodes, and the stock docker CLI over TLS.
// Subnet 10.217.1.0/24.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile, execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {X509Certificate} from 'node:crypto'
import {BELT, belt, cleanEnv, scratchDir, type RunResult} from '../lib/cli.js'
import {skipUnless} from '../lib/tools.js'
import {ok} from '../lib/assert.js'

const SUBNET = '10.217.1.0/24'
const CLUSTER = 'tlse2e'
// How the docker CLI reports dockerd's TLS refusal of a client certificate: the alert, or a reset when the alert
// and the close arrive while the client is still writing its request.
const REFUSED = /remote error: tls: bad certificate|write: connection reset by peer/


const skip = skipUnless({root: 'network namespaces', commands: ['dockerd', 'docker', 'ssh', 'sshd', 'nsenter', 'unshare', 'ip', 'iptables', 'curl']})

function sh(cmd: string, args: string[], env: NodeJS.ProcessEnv, opts: {input?: string; cwd?: string} = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, {env, cwd: opts.cwd, timeout: 120_000, maxBuffer: 16 << 20}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, signal: null, stdout: String(stdout), stderr: String(stderr)})
    })
    if (opts.input !== undefined) child.stdin?.end(opts.input)
  })
}

test('provision, env, certs, regenerate-certs on local hosts with real dockerd and the docker CLI', {skip, timeout: 15 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-tls-e2e-')
  const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 300_000})
  t.after(async () => {
    const rm = await run('rm', '--all', '--force')
    if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
    cleanup()
  })

  ok(await run('cluster', 'new', CLUSTER, '--driver', 'local', `subnet=${SUBNET}`), 'cluster new')
  ok(await run('create', '1gb', 'node[1:2]'), 'create')
  const nodes = JSON.parse((await run('ls', '--json')).stdout) as {name: string; id: string; public_ip: string}[]
  const node = (name: string) => nodes.find((n) => n.name === name)!
  const certsDir = join(dir, '.belt', CLUSTER, 'certs')
  const sshKey = join(dir, '.belt', CLUSTER, 'ssh', 'id_ed25519')
  const onNode = (ip: string, command: string) =>
    sh('ssh', ['-i', sshKey, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR', `root@${ip}`, command], cleanEnv())
  const docker = (env: Record<string, string>, ...args: string[]) => sh('docker', args, {...cleanEnv(), HOME: dir, DOCKER_CONFIG: join(dir, '.docker'), ...env})
  // A `belt` on PATH, so the shell line below is exactly the README's.
  mkdirSync(join(dir, 'bin'))
  writeFileSync(join(dir, 'bin', 'belt'), `#!/bin/sh\nexec ${process.execPath} ${BELT} "$@"\n`, {mode: 0o755})
  const shellEnv = {...cleanEnv(), PATH: `${join(dir, 'bin')}:${process.env.PATH}`, HOME: dir, DOCKER_CONFIG: join(dir, '.docker')}
  /** The docker CLI in a shell configured exactly as the README says: eval "$(belt env NODE)". */
  const dockerViaEnv = (envArgs: string, dockerArgs: string) =>
    sh('bash', ['-c', `eval "$(belt env ${envArgs})"; [ -n "$DOCKER_HOST" ] || exit 99; docker ${dockerArgs}`], shellEnv, {cwd: dir})
  const dockerdPid = async (ip: string) => (await onNode(ip, 'systemctl show docker -p MainPID --value')).stdout.trim()

  // Dry look first: the commands provision would run, no change anywhere.
  const printed = await run('provision', 'node1', '--print-command')
  ok(printed, 'print-command')
  assert.match(printed.stdout, /cloud-init status --wait/)
  assert.match(printed.stdout, /systemctl daemon-reload && systemctl restart docker/)
  assert.doesNotMatch(printed.stdout, /PRIVATE KEY/)

  // A daemon.json that names `hosts` would stop dockerd from starting next to -H flags: provision removes it.
  const ip1 = node('node1').public_ip
  const ip2 = node('node2').public_ip
  ok(await onNode(ip2, `printf '%s' '{"hosts": ["unix:///var/run/docker.sock"], "debug": false}' > /etc/docker/daemon.json`), 'write daemon.json')

  // --- provision ---------------------------------------------------------------------------------------------
  let r = await run('provision', 'node[1:2]', '--json', '--sysctl-large-cluster')
  ok(r, 'provision')
  assert.deepEqual(JSON.parse(r.stdout), {ok: ['node1', 'node2'], already: [], failed: []})
  assert.match(r.stderr, /created the cluster CA/)
  assert.match(r.stderr, /99-belt-swarm\.conf; not applied/, 'sysctl on local hosts: written, not applied, with a notice')
  for (const f of ['ca-key.pem', 'key.pem']) assert.equal(statSync(join(certsDir, f)).mode & 0o777, 0o600, `${f} is 0600`)

  const daemonJson = JSON.parse((await onNode(ip2, 'cat /etc/docker/daemon.json')).stdout)
  assert.deepEqual(daemonJson, {debug: false}, 'hosts removed, other keys kept')
  const remote = await onNode(ip1, 'stat -c "%n %a" /etc/docker/ca.pem /etc/docker/server.pem /etc/docker/server-key.pem; ls -A /etc/docker; cat /etc/systemd/system/docker.service.d/10-belt.conf; cat /etc/sysctl.d/99-belt-swarm.conf')
  ok(remote, 'inspect node1')
  assert.match(remote.stdout, /^\/etc\/docker\/server-key\.pem 600$/m)
  assert.match(remote.stdout, /^\/etc\/docker\/server\.pem 644$/m)
  assert.doesNotMatch(remote.stdout, /ca-key/, 'the CA key is never uploaded')
  assert.match(remote.stdout, /^ExecStart=$/m)
  assert.match(remote.stdout, /^ExecStart=\S*dockerd .*-H unix:\/\/\/var\/run\/docker\.sock -H tcp:\/\/0\.0\.0\.0:2376 --tlsverify --tlscacert=\/etc\/docker\/ca\.pem --tlscert=\/etc\/docker\/server\.pem --tlskey=\/etc\/docker\/server-key\.pem$/m)
  assert.doesNotMatch(remote.stdout, /fd:\/\//)
  assert.match(remote.stdout, /net\.ipv4\.neigh\.default\.gc_thresh3 = 32768/)
  // No trace of the CA's private key anywhere on the node.
  const caKeyLine = readFileSync(join(certsDir, 'ca-key.pem'), 'utf8').split('\n')[1]
  assert.equal((await onNode(ip1, `grep -rlF -- '${caKeyLine}' /etc/docker /etc/systemd/system /etc/sysctl.d || true`)).stdout.trim(), '')

  // --- the stock docker CLI over TLS, configured by belt env -----------------------------------------------
  r = await dockerViaEnv('node1', "version --format '{{.Server.Version}}'")
  ok(r, 'docker version over TLS')
  assert.match(r.stdout.trim(), /^\d+\.\d+/)
  r = await run('env', 'node1')
  assert.match(r.stdout, new RegExp(`^export DOCKER_HOST="tcp://${ip1.replace(/\./g, '\\.')}:2376"$`, 'm'))
  assert.match(r.stderr, /^# eval "\$\(belt env node1\)"$/m, 'the eval hint goes to stderr')
  assert.doesNotMatch(r.stdout, /^#/m, 'stdout holds only the variables')
  ok(await dockerViaEnv('node1', `swarm init --advertise-addr ${ip1}`), 'docker swarm init over TLS')
  r = await dockerViaEnv('node1', "node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'")
  ok(r, 'docker node ls over TLS')
  assert.equal(r.stdout.trim(), 'node1 Ready Leader')

  // A client without our certificate is refused: no TLS at all, no client certificate, a certificate from another
  // CA, and the server's own certificate (it lacks clientAuth).
  const tcp = {DOCKER_HOST: `tcp://${ip1}:2376`}
  r = await docker(tcp, 'version')
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /HTTP request to an HTTPS server/)
  const strangers = mkdtempSync(join(tmpdir(), 'belt-tls-stranger-'))
  t.after(() => rmSync(strangers, {recursive: true, force: true}))
  const curl = await sh('curl', ['-sS', '--max-time', '10', '--cacert', join(certsDir, 'ca.pem'), `https://${ip1}:2376/_ping`], cleanEnv())
  // curl 56: dockerd (Go TLS) refuses with a bad_certificate alert, read after curl's side of the handshake.
  assert.equal(curl.code, 56, `a TLS client without a certificate is refused: ${curl.stderr}`)
  assert.match(curl.stderr, /alert bad certificate/)
  // The docker CLI trusting our CA but holding no client certificate.
  writeFileSync(join(strangers, 'ca.pem'), readFileSync(join(certsDir, 'ca.pem')))
  r = await docker({...tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: strangers}, 'version')
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /client authentication|bad certificate|certificate required/, 'refused for want of a client certificate')
  // A client certificate from another CA.
  const {createCertificateAuthority, issueClientCertificate} = await import('../../src/docker/tls.js')
  const foreignCa = await createCertificateAuthority('intruder', {keyType: 'ecdsa', caDays: 10, certDays: 10, extraSans: []})
  const foreign = await issueClientCertificate(foreignCa, 'intruder', {keyType: 'ecdsa', caDays: 10, certDays: 10, extraSans: []})
  writeFileSync(join(strangers, 'cert.pem'), foreign.certPem)
  writeFileSync(join(strangers, 'key.pem'), foreign.keyPem)
  r = await docker({...tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: strangers}, 'version')
  // dockerd (Go TLS) answers a client certificate it cannot verify with a bad_certificate alert and closes;
  // a client that is still writing its request when the alert lands sees the reset instead of the alert.
  assert.equal(r.code, 1, `a client certificate from another CA is refused: ${r.stderr}`)
  assert.match(r.stderr, REFUSED)
  const serverPem = (await onNode(ip1, 'cat /etc/docker/server.pem')).stdout
  const serverKey = (await onNode(ip1, 'cat /etc/docker/server-key.pem')).stdout
  writeFileSync(join(strangers, 'cert.pem'), serverPem)
  writeFileSync(join(strangers, 'key.pem'), serverKey)
  r = await docker({...tcp, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: strangers}, 'version')
  assert.equal(r.code, 1, `a server certificate is not a client certificate: ${r.stderr}`)
  assert.match(r.stderr, REFUSED, 'refused for its key usage (serverAuth only)')

  // --- idempotent: a second run changes nothing and restarts nothing ----------------------------------------
  const pidBefore = await dockerdPid(ip1)
  const mtimeBefore = (await onNode(ip1, 'stat -c %Y /etc/docker/server.pem /etc/systemd/system/docker.service.d/10-belt.conf')).stdout
  assert.match(pidBefore, /^[1-9]\d*$/)
  r = await run('provision', 'node[1:2]', '--json', '--sysctl-large-cluster')
  ok(r, 'provision again')
  assert.deepEqual(JSON.parse(r.stdout), {ok: [], already: ['node1', 'node2'], failed: []})
  assert.equal(await dockerdPid(ip1), pidBefore, 'dockerd was not restarted')
  assert.equal((await onNode(ip1, 'stat -c %Y /etc/docker/server.pem /etc/systemd/system/docker.service.d/10-belt.conf')).stdout, mtimeBefore)

  // --- belt certs ----------------------------------------------------------------------------------------------
  r = await run('certs', '--json')
  ok(r, 'certs')
  const report = JSON.parse(r.stdout)
  assert.equal(report.nodes.length, 2)
  for (const n of report.nodes) {
    assert.equal(n.status, 'ok', JSON.stringify(n))
    assert.ok(n.days_left >= 728 && n.days_left <= 730, `days_left ${n.days_left}`)
    assert.ok(n.sans.includes(n.address) && n.sans.includes(n.name) && n.sans.includes('127.0.0.1') && n.sans.includes('localhost'))
    assert.equal(n.issued_by_cluster_ca, true)
  }
  assert.equal(report.nodes[0].fingerprint, new X509Certificate(serverPem).fingerprint256)

  // --- an address the certificate does not name -----------------------------------------------------------
  // node1 gains a second address; its certificate does not name it, so the docker CLI (Go) refuses it.
  const ns1 = node('node1').id
  const newIp = '10.217.1.61'
  execFileSync('nsenter', [`--net=/run/netns/${ns1}`, 'ip', 'addr', 'add', `${newIp}/24`, 'dev', 'eth0'])
  r = await docker({DOCKER_HOST: `tcp://${newIp}:2376`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certsDir}, 'version')
  assert.notEqual(r.code, 0)
  assert.match(r.stderr, /x509: certificate is valid for .*not 10\.217\.1\.61/)
  // The node's address changes (as a cloud reports after a stop/start): belt certs notices the mismatch.
  const statePath = join(dir, '.belt', CLUSTER, 'state.json')
  const state = JSON.parse(readFileSync(statePath, 'utf8'))
  state.nodes.node1.address = newIp
  writeFileSync(statePath, JSON.stringify(state, null, 2))
  r = await run('certs', 'node1')
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stdout, /^node1\s+10\.217\.1\.61:2376\s.*\serror$/m)
  assert.match(r.stderr, /SANs do not include 10\.217\.1\.61.*belt regenerate-certs node1/)
  r = await dockerViaEnv('node1', 'version')
  assert.notEqual(r.code, 0, 'belt env now points at the new address, which the old certificate does not name')
  // ... and regenerate-certs fixes it.
  const pidOld = await dockerdPid(ip1)
  r = await run('regenerate-certs', 'node1', '--json')
  ok(r, 'regenerate-certs')
  assert.deepEqual(JSON.parse(r.stdout), {ok: ['node1'], already: [], failed: []})
  assert.notEqual(await dockerdPid(newIp), pidOld, 'dockerd restarted with the new certificate')
  ok(await run('certs', 'node1'), 'certs after regenerate')
  r = await dockerViaEnv('node1', "node ls --format '{{.Hostname}}'")
  ok(r, 'docker over TLS at the new address')
  assert.equal(r.stdout.trim(), 'node1', 'the swarm survived the restart')

  // tls_san: an extra name for every node; provision notices the SANs changed and reissues without --force.
  ok(await run('cluster', 'update', 'tls_san=[docker.example.test,10.217.1.62]'), 'tls_san')
  execFileSync('nsenter', [`--net=/run/netns/${node('node2').id}`, 'ip', 'addr', 'add', '10.217.1.62/24', 'dev', 'eth0'])
  r = await run('provision', 'node2', '--json')
  ok(r, 'provision after tls_san')
  assert.deepEqual(JSON.parse(r.stdout).ok, ['node2'])
  r = await docker({DOCKER_HOST: 'tcp://10.217.1.62:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certsDir}, 'version', '--format', '{{.Server.Os}}')
  ok(r, 'docker via a tls_san address')
  assert.equal(r.stdout.trim(), 'linux')

  // --client-certs: a new client certificate from the same CA works at once, the old one is replaced on disk.
  const oldClient = readFileSync(join(certsDir, 'cert.pem'), 'utf8')
  ok(await run('regenerate-certs', '--client-certs'), 'client certs')
  assert.notEqual(readFileSync(join(certsDir, 'cert.pem'), 'utf8'), oldClient)
  assert.equal(statSync(join(certsDir, 'key.pem')).mode & 0o777, 0o600)
  ok(await dockerViaEnv('node2', 'version'), 'docker with the new client certificate')

  // RSA keys for the nodes (tls_key_type: rsa) work with dockerd and the docker CLI too.
  ok(await run('cluster', 'update', 'tls_key_type=rsa'), 'tls_key_type')
  ok(await run('provision', 'node2', '--force'), 'provision --force with RSA')
  const rsaCert = new X509Certificate((await onNode(ip2, 'cat /etc/docker/server.pem')).stdout)
  assert.equal(rsaCert.publicKey.asymmetricKeyType, 'rsa')
  ok(await dockerViaEnv('node2', 'version'), 'docker over TLS with an RSA server key')
})

test('provision reports unknown nodes before changing anything', {skip}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-tls-e2e-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  assert.equal((await run('cluster', 'new', 'tlsempty', '--driver', 'local', 'subnet=10.217.2.0/24')).code, 0)
  const r = await run('provision', 'ghost[1:2]')
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^belt: unknown nodes ghost1, ghost2 in cluster 'tlsempty'$/m)
  const e = await run('env', 'ghost1')
  assert.equal(e.code, 2)
  assert.match(e.stderr, /no TLS certificates yet.*belt provision ghost1/)
})

test('a non-root ssh_user provisions through sudo -n; one without passwordless sudo gets a clear per-host error', {skip: skip || skipUnless({commands: ['useradd', 'userdel', 'sudo']}), timeout: 10 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-tls-e2e-')
  const run = (...args: string[]) => belt(args, {cwd: dir, timeoutMs: 300_000})
  const users = ['belttlsop', 'belttlsnosudo']
  const sudoers = '/etc/sudoers.d/belt-tls-e2e'
  t.after(async () => {
    const rm = await run('rm', '--all', '--force')
    if (rm.code !== 0) process.stderr.write(`belt rm --all --force (cleanup) exited ${rm.code}:\n${rm.stderr}\n`)
    rmSync(sudoers, {force: true})
    for (const u of users) {
      try {
        execFileSync('userdel', [u], {stdio: 'ignore'})
      } catch {}
    }
    cleanup()
  })
  for (const u of users) {
    try {
      execFileSync('id', [u], {stdio: 'ignore'})
    } catch {
      execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', u])
    }
  }
  writeFileSync(sudoers, `${users[0]} ALL=(ALL) NOPASSWD:ALL\n`, {mode: 0o440})
  ok(await run('cluster', 'new', 'tlsop', '--driver', 'local', 'subnet=10.217.3.0/24', `ssh_user=${users[0]}`), 'cluster new')
  ok(await run('create', '1gb', 'op1'), 'create')
  let r = await run('provision', 'op1', '--json')
  ok(r, 'provision as a sudoer')
  assert.deepEqual(JSON.parse(r.stdout), {ok: ['op1'], already: [], failed: []})
  const ip = (JSON.parse((await run('ls', '--json')).stdout) as {public_ip: string}[])[0].public_ip
  const sshKey = join(dir, '.belt', 'tlsop', 'ssh', 'id_ed25519')
  const stat = await sh('ssh', ['-i', sshKey, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
    `root@${ip}`, 'stat -c "%U %a" /etc/docker/server-key.pem /etc/systemd/system/docker.service.d/10-belt.conf'], cleanEnv())
  ok(stat, 'stat')
  assert.deepEqual(stat.stdout.trim().split('\n'), ['root 600', 'root 644'])
  r = await run('provision', 'op1', '--json')
  ok(r, 'provision again as a sudoer')
  assert.deepEqual(JSON.parse(r.stdout).already, ['op1'])

  // The same node through a user without passwordless sudo: one clear line, exit 1.
  ok(await run('cluster', 'update', `ssh_user=${users[1]}`), 'switch user')
  // The local driver authorised the key for the user it was created with; authorise the second one as well.
  ok(await sh('ssh', ['-i', sshKey, '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'BatchMode=yes', '-o', 'LogLevel=ERROR',
    `root@${ip}`, `cp /etc/ssh/authorized_keys/${users[0]} /etc/ssh/authorized_keys/${users[1]}`], cleanEnv()), 'authorise')
  r = await run('provision', 'op1', '--json', '--force')
  assert.equal(r.code, 1, r.stderr)
  const failed = JSON.parse(r.stdout).failed
  assert.equal(failed.length, 1)
  assert.match(failed[0].error, new RegExp(`user '${users[1]}' has no passwordless sudo`))
})
