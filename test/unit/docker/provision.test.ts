// The pure parts of provisioning: parsing what a node reports, the systemd drop-in, daemon.json, remote scripts'
// syntax, and `belt env` quoting. The remote side itself is exercised on real hosts in test/e2e/provision.test.ts.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  cleanDaemonJson,
  execStartsIn,
  inspectCommand,
  installDockerCommand,
  NODE_PATHS,
  parseInspectOutput,
  planDropIn,
  RESTART_DOCKER,
  type NodeFacts,
} from '../../../src/docker/provision.js'
import {setLine, shellFor, unsetLines} from '../../../src/commands/env.js'
import {skipUnless} from '../../lib/tools.js'

const DEBIAN_UNIT = `[Unit]
Description=Docker Application Container Engine
After=network-online.target docker.socket firewalld.service containerd.service

[Service]
Type=notify
EnvironmentFile=-/etc/default/docker
ExecStart=/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS
ExecReload=/bin/kill -s HUP $MAINPID

[Install]
WantedBy=multi-user.target
`

function facts(files: Record<string, string>, dockerd: string | null = '/usr/bin/dockerd'): NodeFacts {
  return {cloudInit: null, lockWaitSeconds: 0, locked: false, dockerd, systemctl: '/usr/bin/systemctl', keyMode: null, files: new Map(Object.entries(files))}
}

test('the node report is parsed exactly, with and without final newlines', () => {
  const out = [
    '@@belt cloud-init 2',
    '@@belt lock-wait 3',
    '@@belt dockerd /usr/sbin/dockerd',
    '@@belt systemctl /usr/bin/systemctl',
    '@@belt key-mode 600',
    `@@belt-file ${NODE_PATHS.ca}`, '-----BEGIN CERTIFICATE-----', 'AAA', '-----END CERTIFICATE-----', '', '@@belt-end',
    `@@belt-file ${NODE_PATHS.daemonJson}`, '{"debug": true}', '@@belt-end',
    `@@belt-file ${NODE_PATHS.sysctl}`, '', '@@belt-end',
    '',
  ].join('\n')
  const f = parseInspectOutput(out)
  assert.equal(f.cloudInit, 2)
  assert.equal(f.lockWaitSeconds, 3)
  assert.equal(f.locked, false)
  assert.equal(f.dockerd, '/usr/sbin/dockerd')
  assert.equal(f.keyMode, '600')
  assert.equal(f.files.get(NODE_PATHS.ca), '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n')
  assert.equal(f.files.get(NODE_PATHS.daemonJson), '{"debug": true}')
  assert.equal(f.files.get(NODE_PATHS.sysctl), '')
  assert.equal(f.files.has(NODE_PATHS.cert), false)
  const bare = parseInspectOutput('@@belt cloud-init absent\n@@belt locked 600\n@@belt dockerd \n@@belt systemctl \n')
  assert.deepEqual([bare.cloudInit, bare.locked, bare.lockWaitSeconds, bare.dockerd, bare.systemctl], [null, true, 600, null, null])
})

test('the remote scripts are valid POSIX sh and bash', () => {
  for (const shell of ['sh', 'bash']) {
    for (const script of [inspectCommand(), installDockerCommand("https://get.docker.com/?x=1&y='2'"), RESTART_DOCKER]) {
      execFileSync(shell, ['-n', '-c', script])
    }
  }
  assert.match(installDockerCommand("https://example.test/it's"), /'https:\/\/example\.test\/it'\\''s'/, 'the URL is quoted for the shell')
})

test('the drop-in keeps the distribution\'s ExecStart minus -H fd://, and adds the sockets and TLS flags', () => {
  const plan = planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT}, '/usr/sbin/dockerd'))
  assert.equal(plan.base, '/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS')
  const lines = plan.text.split('\n')
  assert.ok(lines.includes('[Service]'))
  assert.ok(lines.includes('ExecStart='), 'clears the unit\'s ExecStart first')
  assert.ok(lines.includes('ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS -H unix:///var/run/docker.sock -H tcp://0.0.0.0:2376 --tlsverify --tlscacert=/etc/docker/ca.pem --tlscert=/etc/docker/server.pem --tlskey=/etc/docker/server-key.pem'))
  assert.doesNotMatch(plan.text, /fd:\/\//)
  // Same input, same text: what makes a re-run a no-op.
  assert.equal(planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT}, '/usr/sbin/dockerd')).text, plan.text)
})

test('the drop-in: other flags, continuation lines, earlier drop-ins, belt\'s own, and no unit at all', () => {
  const unit = '[Service]\nExecStart=-/usr/bin/dockerd \\\n  --host=fd:// --tlsverify --tlscert /x.pem -H tcp://1.2.3.4:2375 --log-level=warn\n'
  assert.deepEqual(execStartsIn(unit), ['-/usr/bin/dockerd    --host=fd:// --tlsverify --tlscert /x.pem -H tcp://1.2.3.4:2375 --log-level=warn'])
  assert.equal(planDropIn(facts({'/usr/lib/systemd/system/docker.service': unit})).base, '/usr/bin/dockerd --log-level=warn')
  // An earlier drop-in's ExecStart is what systemd would run: belt starts from it.
  const early = '[Service]\nExecStart=\nExecStart=/opt/bin/dockerd --data-root=/data\n'
  assert.equal(planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT, '/etc/systemd/system/docker.service.d/05-data.conf': early})).base, '/opt/bin/dockerd --data-root=/data')
  // belt's own drop-in is not an input (else every run would stack flags).
  const own = planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT})).text
  assert.equal(planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT, [NODE_PATHS.dropIn]: own})).text, own)
  // No unit file anywhere: dockerd from PATH.
  assert.equal(planDropIn(facts({}, '/usr/local/bin/dockerd')).base, '/usr/local/bin/dockerd')
  // Comments and other sections do not count.
  assert.deepEqual(execStartsIn('[Unit]\nExecStart=/nope\n[Service]\n# ExecStart=/commented\nExecStart = /yes\n'), ['/yes'])
})

test('a drop-in read after 10-belt.conf that sets ExecStart is an error naming it', () => {
  const late = '[Service]\nExecStart=\nExecStart=/usr/bin/dockerd -H fd://\n'
  assert.throws(
    () => planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT, '/etc/systemd/system/docker.service.d/override.conf': late})),
    /\/etc\/systemd\/system\/docker\.service\.d\/override\.conf sets ExecStart and is read after .*10-belt\.conf/,
  )
  // A late drop-in that only sets other things is fine.
  planDropIn(facts({'/lib/systemd/system/docker.service': DEBIAN_UNIT, '/etc/systemd/system/docker.service.d/override.conf': '[Service]\nLimitNOFILE=1048576\n'}))
})

test('daemon.json: keys that clash with the flags are removed, the rest kept; broken JSON is an error', () => {
  assert.equal(cleanDaemonJson(undefined), null)
  assert.equal(cleanDaemonJson('  \n'), null)
  assert.equal(cleanDaemonJson('{"debug": true, "log-driver": "json-file"}'), null)
  const r = cleanDaemonJson('{"hosts": ["unix:///var/run/docker.sock"], "tlsverify": false, "tlscert": "/x", "debug": true, "log-opts": {"max-size": "10m"}}')!
  assert.deepEqual(r.removed, ['hosts', 'tlsverify', 'tlscert'])
  assert.deepEqual(JSON.parse(r.text), {debug: true, 'log-opts': {'max-size': '10m'}})
  assert.throws(() => cleanDaemonJson('{"hosts": [}'), /daemon\.json is not valid JSON/)
  assert.throws(() => cleanDaemonJson('[1]'), /not a JSON object/)
})

test('belt env: shell syntax and quoting', () => {
  assert.equal(shellFor(undefined, '/usr/bin/fish'), 'fish')
  assert.equal(shellFor(undefined, '/usr/bin/pwsh'), 'powershell')
  assert.equal(shellFor(undefined, '/bin/zsh'), 'bash')
  assert.equal(shellFor(undefined, undefined), 'bash')
  assert.equal(shellFor('fish', '/bin/bash'), 'fish')
  const tricky = `/home/a b/it's "$HOME"\\x`
  const bash = setLine('bash', 'DOCKER_CERT_PATH', tricky)
  assert.equal(execFileSync('bash', ['-c', `${bash}; printf %s "$DOCKER_CERT_PATH"`], {encoding: 'utf8'}), tricky)
  assert.equal(execFileSync('sh', ['-c', `${bash.replace(/^export /, 'export ')}; printf %s "$DOCKER_CERT_PATH"`], {encoding: 'utf8'}), tricky)
  assert.equal(setLine('fish', 'BELT_NODE', "it's"), "set -gx BELT_NODE 'it\\'s';")
  assert.equal(setLine('powershell', 'BELT_NODE', "it's"), "$Env:BELT_NODE = 'it''s'")
  assert.deepEqual(unsetLines('bash'), ['unset DOCKER_TLS_VERIFY DOCKER_HOST DOCKER_CERT_PATH BELT_NODE'])
  assert.equal(unsetLines('fish').length, 4)
})

test('the install command fetches and runs the script, and reports its failures', {skip: skipUnless({commands: ['curl', 'dockerd']})}, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'belt-install-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  const run = (url: string) => spawnSync('sh', ['-c', installDockerCommand(url)], {encoding: 'utf8'})
  writeFileSync(join(dir, 'good.sh'), `echo installing; touch ${join(dir, 'ran')}\n`)
  writeFileSync(join(dir, 'bad.sh'), 'echo step one; echo "E: Unable to locate package docker-ce" >&2; exit 100\n')
  const good = run(`file://${join(dir, 'good.sh')}`)
  assert.equal(good.status, 0, good.stderr)
  assert.equal(spawnSync('test', ['-e', join(dir, 'ran')]).status, 0, 'the script ran')
  const bad = run(`file://${join(dir, 'bad.sh')}`)
  assert.equal(bad.status, 1)
  assert.match(bad.stderr, /E: Unable to locate package docker-ce/)
  const missing = run(`file://${join(dir, 'nope.sh')}`)
  assert.equal(missing.status, 1)
  assert.match(missing.stderr, /could not download file:\/\//)
})
