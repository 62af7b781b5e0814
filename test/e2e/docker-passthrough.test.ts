// `belt docker` and `belt ssh` as a user runs them (the built CLI), against the SSH lab (one real sshd answering on
// many addresses; a stand-in `docker` that prints its argv, one `<arg>` per line) through the generic driver:
// exact argv after quoting, no injection, exit codes, stdin, a TTY, 255 when SSH fails, the global --host form,
// docker's own -H / --help untouched, prefixed multi-host output, sudo for non-root users, changed host keys.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BELT, belt, cleanEnv, scratchDir} from '../lib/cli.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare']})

let lab: SshLab
let cwd: string
let cleanup: () => void
let bad: string

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: 8})
  ;({dir: cwd, cleanup} = scratchDir('belt-docker-'))
  bad = lab.unassigned(1)[0]
  mkdirSync(join(cwd, '.belt', 'lab'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'active'), 'lab\n')
  const hosts = lab.hosts.map((a, i) => `    h${i + 1}: ${a}\n`).join('')
  writeFileSync(join(cwd, '.belt', 'lab', 'config.yml'), [
    'driver: generic',
    'generic:',
    '  ssh_user: root',
    `  ssh_key: ${lab.keyPath}`,
    '  hosts:',
    hosts.trimEnd(),
    `    bad: ${bad}`,
    `    op: {address: ${lab.hosts[6]}, user: beltop}`,
    `    nosudo: {address: ${lab.hosts[7]}, user: beltnosudo}`,
    '',
  ].join('\n'))
  const r = await run(['active', 'h1'])
  assert.equal(r.code, 0, r.stderr)
})

after(async () => {
  cleanup?.()
  await lab?.close()
})

function run(args: string[], input?: string) {
  return belt(args, {cwd, input, timeoutMs: 60_000})
}

const argv = (...args: string[]) => args.map((a) => `<${a}>\n`).join('')

test('arguments reach docker exactly as given, through the remote shell', {skip}, async () => {
  const r = await run(['docker', 'run', 'img', 'sh', '-c', 'echo a; echo b'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, argv('run', 'img', 'sh', '-c', 'echo a; echo b'))
})

test('no injection: shell syntax in arguments stays data', {skip}, async () => {
  const marker = `/tmp/belt-pwned-${process.pid}`
  const evil = [`$(touch ${marker})`, ';', 'touch', marker, '`touch ' + marker + '`', '&&', '|', "'", '"', '$HOME', '*', '\\', 'a\nb']
  const r = await run(['docker', ...evil])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, argv(...evil))
  assert.equal(existsSync(marker), false)
})

test('one host: exit code, stdout, stderr and stdin pass straight through', {skip}, async () => {
  const failing = await run(['docker', 'lab-exit', '7'])
  assert.equal(failing.code, 7)
  assert.equal(failing.stdout, '')
  assert.equal(failing.stderr, 'lab: exiting with 7\n')
  const echoed = await run(['docker', 'lab-stdin'], 'line one\nline two\n')
  assert.equal(echoed.code, 0, echoed.stderr)
  assert.equal(echoed.stdout, 'line one\nline two\n')
  const noTty = await run(['docker', 'lab-tty'])
  assert.equal(noTty.stdout, 'notty\n')
})

test('one host from a terminal gets a remote TTY (docker exec -it works)', {skip}, () => {
  // `script` gives belt a real terminal as stdin/stdout.
  const r = spawnSync('script', ['-qec', `${process.execPath} ${BELT} docker lab-tty`, '/dev/null'], {cwd, env: cleanEnv(), encoding: 'utf8', timeout: 60_000, input: ''})
  assert.equal(r.status, 0, r.stderr)
  // Through a PTY the line ends in \r\n; `script` may echo a control character before it.
  assert.match(r.stdout, /(^|[^o])tty\r\r?\n/)
  assert.doesNotMatch(r.stdout, /notty/)
})

test('255 when the SSH connection itself fails', {skip}, async () => {
  const r = await run(['--host', 'bad', 'docker', 'ps'])
  assert.equal(r.code, 255)
  assert.match(r.stderr, /^belt: bad: host unreachable \(10\.215\.\d+\.\d+\)\n$/)
  const s = await run(['ssh', 'bad', '--', 'true'])
  assert.equal(s.code, 255)
})

test('the book\'s global form: belt --host PATTERN docker ... prefixes every line with the node', {skip}, async () => {
  const r = await run(['--host', 'h[1:3]', 'docker', 'lab-ip'])
  assert.equal(r.code, 0, r.stderr)
  const lines = r.stdout.trim().split('\n').sort()
  assert.deepEqual(lines, [`h1: ${lab.hosts[0]}`, `h2: ${lab.hosts[1]}`, `h3: ${lab.hosts[2]}`])
  const multi = await run(['--host', 'h[1:2]', 'docker', 'lab-lines', '3'])
  assert.deepEqual(multi.stdout.trim().split('\n').sort(), ['h1: line 1', 'h1: line 2', 'h1: line 3', 'h2: line 1', 'h2: line 2', 'h2: line 3'])
})

test("docker's own -H, --host and --help after the docker arguments are passed through untouched", {skip}, async () => {
  const r = await run(['--host', 'h2', 'docker', '-H', 'tcp://1.2.3.4:2376', '--tls', 'ps'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, argv('-H', 'tcp://1.2.3.4:2376', '--tls', 'ps'))
  const late = await run(['docker', '--host', 'h2', 'ps', '--host', 'unix:///x.sock', '-D'])
  assert.equal(late.stdout, argv('ps', '--host', 'unix:///x.sock', '-D'))
  const help = await run(['docker', 'ps', '--help'])
  assert.equal(help.stdout, argv('ps', '--help'))
  const beltHelp = await run(['docker', '--help'])
  assert.match(beltHelp.stdout, /Run a docker command on nodes over SSH/)
})

test('many hosts: a failure is reported per host, summarised on stderr, exit 1; --json per the contract', {skip}, async () => {
  const r = await run(['--host', 'h1,h2,bad', 'docker', 'lab-ip'])
  assert.equal(r.code, 1)
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [`h1: ${lab.hosts[0]}`, `h2: ${lab.hosts[1]}`])
  assert.match(r.stderr, /^1 of 3 nodes failed:\n {2}bad: host unreachable \(10\.215\.\d+\.\d+\)\n/)
  const j = await run(['docker', '--host', 'h1,h2,bad', '--json', 'lab-exit', '0'])
  assert.equal(j.code, 1)
  const doc = JSON.parse(j.stdout)
  assert.deepEqual(doc.ok, ['h1', 'h2'])
  assert.deepEqual(doc.already, [])
  assert.equal(doc.failed.length, 1)
  assert.equal(doc.failed[0].name, 'bad')
  assert.match(doc.failed[0].error, /host unreachable/)
  assert.deepEqual(doc.results.map((x: {name: string}) => x.name), ['bad', 'h1', 'h2'])
  assert.equal(doc.results[1].exit_code, 0)
  const codes = await run(['docker', '--host', 'h[1:2]', '--json', 'lab-exit', '3'])
  assert.equal(codes.code, 1)
  assert.deepEqual(JSON.parse(codes.stdout).failed, [{name: 'h1', error: 'exit code 3: lab: exiting with 3'}, {name: 'h2', error: 'exit code 3: lab: exiting with 3'}])
})

test('no --host and no active node is a usage error', {skip}, async () => {
  const state = join(cwd, '.belt', 'lab', 'state.json')
  const saved = readFileSync(state, 'utf8')
  writeFileSync(state, JSON.stringify({...JSON.parse(saved), active_node: null}))
  try {
    const r = await run(['docker', 'ps'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^belt: cluster 'lab' has no active node; pass --host NODE, or set one with: belt active NODE\n$/)
    const nothing = await run(['--host', 'h1', 'docker'])
    assert.equal(nothing.code, 2)
  } finally {
    writeFileSync(state, saved)
  }
})

test('non-root ssh_user: docker runs through sudo -n; without passwordless sudo a clear per-host error', {skip}, async () => {
  const op = await run(['--host', 'op', 'docker', 'lab-whoami'])
  assert.equal(op.code, 0, op.stderr)
  assert.equal(op.stdout, 'root\n')
  const one = await run(['--host', 'nosudo', 'docker', 'info'])
  assert.equal(one.code, 1)
  assert.match(one.stderr, /belt: nosudo: user 'beltnosudo' has no passwordless sudo/)
  const many = await run(['--host', 'op,nosudo', 'docker', 'lab-whoami'])
  assert.equal(many.code, 1)
  assert.equal(many.stdout, 'op: root\n')
  assert.match(many.stderr, /nosudo: user 'beltnosudo' has no passwordless sudo \(sudo -n: a password is required\)/)
})

test('belt ssh: one command or a shell, exit code passed through', {skip}, async () => {
  const r = await run(['ssh', 'h3', '--', 'echo', 'hi', '&&', 'exit', '3'])
  assert.equal(r.code, 3)
  assert.equal(r.stdout, 'hi\n')
  const flags = await run(['ssh', 'h3', 'ls', '-d', '/'])
  assert.equal(flags.stdout, '/\n')
  const shell = await run(['ssh', 'h3'], 'echo from-stdin\nexit 4\n')
  assert.equal(shell.code, 4)
  assert.match(shell.stdout, /from-stdin/)
  const many = await run(['ssh', 'h[1:2]'])
  assert.equal(many.code, 2)
  assert.match(many.stderr, /a shell needs one node, 'h\[1:2\]' names 2; give a command/)
})

test('a changed host key is refused with an OpenSSH-style warning; --forget-host clears it', {skip}, async () => {
  const first = await run(['--host', 'h5', 'docker', 'lab-ip'])
  assert.equal(first.code, 0, first.stderr)
  await lab.changeHostKey(lab.hosts[4])
  const r = await run(['--host', 'h5', 'docker', 'lab-ip'])
  assert.equal(r.code, 255)
  assert.match(r.stderr, /@ {4}WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! {5}@/)
  assert.match(r.stderr, /The fingerprint for the ssh-ed25519 key sent by the remote host 10\.215\.\d+\.\d+ \(node h5\) is\nSHA256:\S+\./)
  assert.match(r.stderr, /Offending ssh-ed25519 key \(SHA256:\S+\) in .*\.belt\/lab\/known_hosts:\d+/)
  assert.match(r.stderr, /belt ssh --forget-host h5/)
  const forget = await run(['ssh', '--forget-host', 'h5'])
  assert.equal(forget.code, 0, forget.stderr)
  assert.match(forget.stderr, /removed 1 key for 10\.215\.\d+\.\d+ \(h5\) from .*known_hosts/)
  const again = await run(['--host', 'h5', 'docker', 'lab-ip'])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(again.stdout, `${lab.hosts[4]}\n`)
})
