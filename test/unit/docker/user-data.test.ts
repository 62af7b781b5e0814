// The boot-join user data: what it contains, that it is valid sh, and that it really joins when run — against a
// stand-in docker (state in a folder) and an Engine API stand-in on a unix socket reached by the machine's real curl,
// or docker's CLI fallback; EC2's name comes from a stand-in IMDSv2.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:http'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {UsageError} from '../../../src/core/errors.js'
import {bootUserData, checkUserDataSize, joinScript, printableUserData, type JoinScriptOptions} from '../../../src/docker/user-data.js'

const TOKEN = 'SWMTKN-1-3pu6hszjas19xyp7ghgosyx9k8atbfcr8p2is99znpy26u2lkl-1awxwuwd3z9j1z3puu7rcgdbx'
const base: JoinScriptOptions = {names: {kind: 'hostname'}, managers: ['10.0.0.5:2377', '10.0.0.6:2377'], token: TOKEN, engineInstallUrl: null}

function shSyntax(script: string): void {
  const r = spawnSync('sh', ['-n'], {input: script})
  assert.equal(r.status, 0, `sh -n: ${r.stderr}`)
}

test('the script names every manager, holds the token once, and is valid sh in every name mode', () => {
  for (const names of [{kind: 'hostname'}, {kind: 'given', name: 'w1'}, {kind: 'launch-index', names: ['w1', 'w2', 'w3']}] as const) {
    const s = joinScript({...base, names, engineInstallUrl: 'https://get.docker.com'})
    shSyntax(s)
    assert.equal(s.split(TOKEN).length - 1, 1)
    assert.match(s, /"10\.0\.0\.5:2377","10\.0\.0\.6:2377"/)
    assert.match(s, /deadline=\$\(\( \$\(date \+%s\) \+ 900 \)\)/)
  }
  const ec2 = joinScript({...base, names: {kind: 'launch-index', names: ['w1', 'w2']}})
  assert.match(ec2, /X-aws-ec2-metadata-token-ttl-seconds/)
  assert.match(ec2, /set -- w1 w2/)
  assert.match(ec2, /preserve_hostname: true/)
  assert.doesNotMatch(joinScript(base), /preserve_hostname/)
})

test('refuses a malformed token or address (they go into JSON and shell words)', () => {
  assert.throws(() => joinScript({...base, token: 'SWMTKN-1-x"y'}), /malformed swarm join token/)
  assert.throws(() => joinScript({...base, managers: ["10.0.0.5:2377' ; rm -rf /"]}), /malformed manager address/)
  assert.throws(() => joinScript({...base, managers: []}), /no manager/)
})

test('the user\'s own user_data: cloud-config becomes multipart MIME first; a script runs first; else refused', () => {
  const mime = bootUserData({...base, userData: '#cloud-config\npackages: [htop]\n'})
  const boundary = /boundary="([^"]+)"/.exec(mime)![1]
  const parts = mime.split(`--${boundary}`)
  assert.equal(parts.length, 4)
  assert.match(parts[1], /text\/cloud-config[\s\S]*packages: \[htop\]/)
  assert.match(parts[2], /text\/x-shellscript[\s\S]*filename="zz-belt-boot-join\.sh"[\s\S]*#!\/bin\/sh/)
  const wrapped = bootUserData({...base, userData: '#!/bin/bash\necho hello from the user\n'})
  shSyntax(wrapped)
  assert.ok(wrapped.indexOf('echo hello from the user') < wrapped.indexOf('/swarm/join'))
  assert.throws(() => bootUserData({...base, userData: '#include https://example.com/x'}), UsageError)
  assert.equal(bootUserData({...base, userData: '  '}), joinScript(base))
})

test('printable user data has the token redacted; size limits are checked', () => {
  const p = printableUserData(joinScript(base), TOKEN)
  assert.ok(!p.includes(TOKEN))
  assert.match(p, /SWMTKN-…redacted/)
  assert.throws(() => checkUserDataSize('x'.repeat(16 * 1024 + 1), 'ec2'), /16 KB/)
  checkUserDataSize('x'.repeat(16 * 1024 + 1), 'digitalocean')
  assert.throws(() => checkUserDataSize('x'.repeat(64 * 1024 + 1), 'digitalocean'), /64 KiB/)
})

// ----------------------------------------------------------------------------------------------- run for real --

interface Sandbox {
  dir: string
  bin: string
  env: NodeJS.ProcessEnv
  log: string
  cleanup: () => void
}

/**
 * A folder with stand-ins on PATH: docker (swarm state in a file; `info` fails the first DOWN times, as a starting
 * dockerd does), hostname (records), curl for IMDSv2 (anything else goes to the real curl).
 */
function sandbox(o: {down?: number; socket?: boolean} = {}): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'belt-boot-ud-'))
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  mkdirSync(join(dir, 'etc', 'cloud', 'cloud.cfg.d'), {recursive: true})
  writeFileSync(join(dir, 'etc', 'hosts'), '127.0.0.1 localhost\n')
  writeFileSync(join(dir, 'down'), String(o.down ?? 0))
  const tool = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\nD=${dir}\n${body}\n`)
    chmodSync(join(bin, name), 0o755)
  }
  tool('docker', [
    'echo "$*" | sed -e "s/SWMTKN-[A-Za-z0-9-]*/TOKEN/" >> $D/docker-calls',
    'case "$1 $2" in',
    '  "info --format") n=$(cat $D/down); if [ "$n" -gt 0 ]; then echo $((n - 1)) > $D/down; echo "Cannot connect" >&2; exit 1; fi',
    '    cat $D/state 2>/dev/null || echo inactive ;;',
    `  "context inspect") ${o.socket ? 'echo "unix://$D/docker.sock"' : 'echo "tcp://127.0.0.1:2376"'} ;;`,
    '  "swarm join") shift 2; printf "%s\\n" "$*" >> $D/cli-joins; [ "$2" = "$(cat $D/token)" ] && [ "$3" = "$(cat $D/good)" ] || { echo "Error: rejected" >&2; exit 1; }; echo active > $D/state ;;',
    '  *) exit 1 ;;',
    'esac',
  ].join('\n'))
  tool('hostname', 'if [ $# -gt 0 ]; then echo "$1" > $D/hostname-set; else cat $D/hostname-set 2>/dev/null || echo ip-10-0-0-9; fi')
  tool('curl', [
    'case "$*" in',
    '  *169.254.169.254/latest/api/token*) case "$*" in *"-X PUT"*) echo IMDSTOKEN ;; *) exit 22 ;; esac ;;',
    '  *ami-launch-index*) case "$*" in *"X-aws-ec2-metadata-token: IMDSTOKEN"*) cat $D/index ;; *) echo 401; exit 22 ;; esac ;;',
    '  *) exec /usr/bin/curl "$@" ;;',
    'esac',
  ].join('\n'))
  const log = join(dir, 'cloud-init-output.log')
  return {dir, bin, log, env: {PATH: `${bin}:/usr/bin:/bin`, BELT_LOG: log, BELT_ETC: join(dir, 'etc')}, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

function runScript(sb: Sandbox, script: string, timeoutMs = 60_000): Promise<number | null> {
  const file = join(sb.dir, 'user-data')
  writeFileSync(file, script)
  return new Promise((resolve, reject) => {
    const child = spawn('sh', [file], {env: sb.env, stdio: 'ignore'})
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('script did not finish')) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve(code) })
  })
}

/** POST /swarm/join on a unix socket: 200 for the right token, else 400 (as dockerd); records each body. */
async function engineApi(sb: Sandbox, token: string): Promise<{bodies: Record<string, unknown>[]; server: Server}> {
  const bodies: Record<string, unknown>[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const b = JSON.parse(body) as Record<string, unknown>
      bodies.push(b)
      if (req.url === '/swarm/join' && b.JoinToken === token) {
        writeFileSync(join(sb.dir, 'state'), 'active\n')
        res.writeHead(200).end()
      } else {
        res.writeHead(400, {'content-type': 'application/json'}).end(JSON.stringify({message: `invalid join token ${String(b.JoinToken)}`}))
      }
    })
  })
  await new Promise<void>((r) => server.listen(join(sb.dir, 'docker.sock'), r))
  return {bodies, server}
}

test('run for real: waits for dockerd, joins through the Engine API with every manager, logs without the token', async (t) => {
  const sb = sandbox({down: 2, socket: true})
  t.after(sb.cleanup)
  const api = await engineApi(sb, TOKEN)
  t.after(() => api.server.close())
  const code = await runScript(sb, bootUserData({...base, names: {kind: 'given', name: 'w7'}, userData: '#!/bin/sh\necho user-script-ran\n'}))
  const log = readFileSync(sb.log, 'utf8')
  assert.equal(code, 0, log)
  assert.equal(api.bodies.length, 1)
  assert.deepEqual(api.bodies[0], {ListenAddr: '0.0.0.0:2377', RemoteAddrs: ['10.0.0.5:2377', '10.0.0.6:2377'], JoinToken: TOKEN})
  assert.match(log, /user-script-ran[\s\S]*user_data exited with status 0[\s\S]*node w7: joining[\s\S]*joined \(attempt 1\)/)
  assert.ok(!log.includes(TOKEN) && !log.includes('SWMTKN-1'), log)
  assert.equal(readFileSync(join(sb.dir, 'hostname-set'), 'utf8').trim(), 'w7')
})

test('run for real: a refused token is retried with backoff until the deadline, never logged', async (t) => {
  const sb = sandbox({socket: true})
  t.after(sb.cleanup)
  const api = await engineApi(sb, 'SWMTKN-1-other')
  t.after(() => api.server.close())
  const code = await runScript(sb, joinScript({...base, names: {kind: 'given', name: 'w1'}, deadlineSeconds: 3}))
  const log = readFileSync(sb.log, 'utf8')
  assert.equal(code, 1)
  assert.ok(api.bodies.length >= 2, `retried: ${api.bodies.length}`)
  assert.match(log, /attempt 1: .*invalid join token SWMTKN-redacted/)
  assert.match(log, /giving up/)
  assert.ok(!log.includes(TOKEN), log)
})

test('run for real on EC2: the name comes from ami-launch-index (IMDSv2); docker\'s CLI rotates through the managers', async (t) => {
  const sb = sandbox({socket: false})
  t.after(sb.cleanup)
  writeFileSync(join(sb.dir, 'index'), '2\n')
  writeFileSync(join(sb.dir, 'token'), TOKEN)
  writeFileSync(join(sb.dir, 'good'), '10.0.0.6:2377')
  const code = await runScript(sb, joinScript({...base, names: {kind: 'launch-index', names: ['w1', 'w2', 'w3']}}), 60_000)
  const log = readFileSync(sb.log, 'utf8')
  assert.equal(code, 0, log)
  assert.equal(readFileSync(join(sb.dir, 'hostname-set'), 'utf8').trim(), 'w3')
  assert.equal(readFileSync(join(sb.dir, 'etc', 'hostname'), 'utf8').trim(), 'w3')
  assert.match(readFileSync(join(sb.dir, 'etc', 'hosts'), 'utf8'), /127\.0\.1\.1 w3/)
  assert.match(readFileSync(join(sb.dir, 'etc', 'cloud', 'cloud.cfg.d', '99-belt-hostname.cfg'), 'utf8'), /preserve_hostname: true/)
  const joins = readFileSync(join(sb.dir, 'cli-joins'), 'utf8').trim().split('\n')
  assert.deepEqual(joins.map((j) => j.split(' ').pop()), ['10.0.0.5:2377', '10.0.0.6:2377'])
  assert.match(log, /joined through 10\.0\.0\.6:2377 \(attempt 2\)/)
  assert.ok(!log.includes(TOKEN), log)
})

test('run for real: a node already in a swarm is left as it is', async (t) => {
  const sb = sandbox()
  t.after(sb.cleanup)
  writeFileSync(join(sb.dir, 'state'), 'active\n')
  assert.equal(await runScript(sb, joinScript({...base, names: {kind: 'given', name: 'w1'}})), 0)
  assert.match(readFileSync(sb.log, 'utf8'), /node w1 is in the swarm/)
  assert.ok(!existsSync(join(sb.dir, 'cli-joins')))
})
