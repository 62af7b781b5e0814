// Day-2 fleet commands as a user runs them (the built CLI) against the SSH lab (one real sshd answering on many
// addresses, one shared file system) through the generic driver: `belt ssh` on many hosts (CONTRACT §12 parsing,
// prefixes, a failing host, exit codes, JSON), `belt scp` both ways (files, -r, NODE:SRC from several nodes into
// DEST/<name>/), and every new flag or argument refused as a one-line usage error.
import {test, before, after} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, readFileSync, writeFileSync, existsSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {belt, scratchDir} from '../lib/cli.js'
import {startSshLab, type SshLab} from '../lib/sshlab.js'
import {skipUnless} from '../lib/tools.js'
import {ok, usageLine} from '../lib/assert.js'

const skip = skipUnless({root: 'network namespaces', commands: ['sshd', 'ssh-keygen', 'ip', 'nsenter', 'unshare']})

let lab: SshLab
let cwd: string
let cleanup: () => void

before(async () => {
  if (skip) return
  lab = await startSshLab({hosts: 4})
  ;({dir: cwd, cleanup} = scratchDir('belt-fleet-ops-'))
  const bad = lab.unassigned(1)[0]
  mkdirSync(join(cwd, '.belt', 'lab'), {recursive: true})
  writeFileSync(join(cwd, '.belt', 'active'), 'lab\n')
  writeFileSync(join(cwd, '.belt', 'lab', 'config.yml'), [
    'driver: generic',
    'generic:',
    '  ssh_user: root',
    `  ssh_key: ${lab.keyPath}`,
    '  hosts:',
    ...lab.hosts.map((a, i) => `    h${i + 1}: ${a}`),
    `    bad: ${bad}`,
    '',
  ].join('\n'))
})

after(async () => {
  cleanup?.()
  await lab?.close()
})

const run = (...args: string[]) => belt(args, {cwd, timeoutMs: 60_000})
/** The lab address a session reached: sshd's side of $SSH_CONNECTION. */
const WHERE = 'set -- $SSH_CONNECTION; echo $3'

test('belt ssh on many hosts: prefixed lines, a failing host reported, exit 1; one host as before', {skip}, async () => {
  const r = await run('ssh', 'h[1:2]', 'bad', '--', WHERE)
  assert.equal(r.code, 1)
  assert.deepEqual(r.stdout.trim().split('\n').sort(), [`h1: ${lab.hosts[0]}`, `h2: ${lab.hosts[1]}`])
  assert.match(r.stderr, /^1 of 3 nodes failed:\n {2}bad: host unreachable \(10\.215\.\d+\.\d+\)\n/)
  assert.match(r.stderr, /the command failed on 1 of 3 nodes/)

  // Without --: the first word is the target (a pattern naming many is fine), the rest the command.
  const first = ok(await run('ssh', 'h[3:4]', 'echo', 'from', '$(hostname)', '>/dev/null;', WHERE), 'ssh PATTERN CMD')
  assert.deepEqual(first.stdout.trim().split('\n').sort(), [`h3: ${lab.hosts[2]}`, `h4: ${lab.hosts[3]}`])
  // With --: every word before it is a node or pattern; comma lists too.
  const listed = ok(await run('ssh', 'h1', 'h3,h4', '--concurrency', '2', '--', WHERE), 'ssh NODES -- CMD')
  assert.deepEqual(listed.stdout.trim().split('\n').sort(), [`h1: ${lab.hosts[0]}`, `h3: ${lab.hosts[2]}`, `h4: ${lab.hosts[3]}`])
  // A remote non-zero exit is a failure of that host; output lines keep their prefixes on stderr too.
  const codes = await run('ssh', 'h[1:2]', '--', 'echo oops >&2; exit 3')
  assert.equal(codes.code, 1)
  assert.match(codes.stderr, /^h1: oops$/m)
  assert.match(codes.stderr, /^ {2}h2: exit code 3$/m)

  // One host stays exactly as today: the remote exit code, unprefixed output.
  const one = await run('ssh', 'h2', '--', 'echo hi; exit 7')
  assert.equal(one.code, 7)
  assert.equal(one.stdout, 'hi\n')
  assert.equal((await run('ssh', 'bad', '--', 'true')).code, 255)
})

test('belt ssh --json on many hosts: CONTRACT §12 document, exit codes per host', {skip}, async () => {
  const r = await run('ssh', 'h[1:2]', 'bad', '--json', '--', 'echo out; echo err >&2; [ "$(set -- $SSH_CONNECTION; echo $3)" != ' + lab.hosts[1] + ' ] || exit 4')
  assert.equal(r.code, 1)
  const doc = JSON.parse(r.stdout)
  assert.deepEqual(doc.ok, ['h1'])
  assert.deepEqual(doc.already, [])
  assert.deepEqual(doc.failed.map((f: {name: string}) => f.name), ['bad', 'h2'])
  assert.match(doc.failed[0].error, /host unreachable/)
  assert.equal(doc.failed[1].error, 'exit code 4: err')
  const byName = Object.fromEntries(doc.results.map((x: {name: string}) => [x.name, x]))
  assert.deepEqual([byName.h1.exit_code, byName.h1.stdout, byName.h1.stderr], [0, 'out\n', 'err\n'])
  assert.equal(byName.h2.exit_code, 4)
  assert.equal(byName.bad.exit_code, null)
  // --json on one host is the same document (captured, not passed through).
  const one = ok(await run('ssh', 'h1', '--json', '--', 'echo one'), 'ssh --json one host')
  assert.deepEqual(JSON.parse(one.stdout).results.map((x: {stdout: string}) => x.stdout), ['one\n'])
  // --timeout cuts each host's command and says so.
  const slow = await run('ssh', 'h[1:2]', '--timeout', '1s', '--json', '--', 'sleep 20')
  assert.equal(slow.code, 1)
  for (const f of JSON.parse(slow.stdout).failed) assert.match(f.error, /timed out after 1s while the command ran/)
})

test('belt scp: files and folders to many hosts, NODE:SRC back (several nodes into DEST/<name>/), per-host JSON', {skip}, async () => {
  const local = join(cwd, 'local')
  const remote = join(cwd, 'remote')
  mkdirSync(join(local, 'conf', 'sub'), {recursive: true})
  mkdirSync(remote, {recursive: true})
  // Bigger than one SFTP write, and not a multiple of it, so chunking and the short tail are both exercised.
  const big = Buffer.alloc(3 * 1024 * 1024 + 12345)
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 11)) & 0xff
  writeFileSync(join(local, 'big.bin'), big)
  writeFileSync(join(local, 'a.txt'), 'alpha\n', {mode: 0o640})
  writeFileSync(join(local, 'conf', 'one.conf'), 'one\n')
  writeFileSync(join(local, 'conf', 'sub', 'two.conf'), 'two\n')

  const up = ok(await run('scp', join(local, 'big.bin'), join(local, 'a.txt'), `h[1:3]:${remote}`, '--json'), 'scp files to a folder')
  const doc = JSON.parse(up.stdout)
  assert.deepEqual(doc.ok, ['h1', 'h2', 'h3'])
  assert.deepEqual(doc.failed, [])
  assert.deepEqual(doc.results.map((x: {bytes: number}) => x.bytes), Array(3).fill(big.length + 6))
  assert.ok(readFileSync(join(remote, 'big.bin')).equals(big), 'the file arrived intact')
  assert.equal(statSync(join(remote, 'a.txt')).mode & 0o777, 0o640, 'the local mode is kept')

  // One file to a path that is not a folder: that path is the file. The summary goes to stdout.
  const named = ok(await run('scp', join(local, 'a.txt'), `h1:${join(remote, 'renamed.txt')}`), 'scp to a file name')
  assert.match(named.stdout, /^copied\s+1\s+h1$/m)
  assert.equal(readFileSync(join(remote, 'renamed.txt'), 'utf8'), 'alpha\n')

  // -r: the folder under DEST (a folder), with everything in it.
  ok(await run('scp', '-r', join(local, 'conf'), `h[1:2]:${remote}`), 'scp -r')
  assert.equal(readFileSync(join(remote, 'conf', 'sub', 'two.conf'), 'utf8'), 'two\n')

  // Several files to a path that is no folder: each host fails alone; a failing host too.
  const bad = await run('scp', join(local, 'a.txt'), join(local, 'big.bin'), `h1,bad:${join(remote, 'nofolder')}`, '--json')
  assert.equal(bad.code, 1)
  const failed = JSON.parse(bad.stdout).failed
  assert.deepEqual(failed.map((f: {name: string}) => f.name), ['bad', 'h1'])
  assert.match(failed[0].error, /host unreachable/)
  assert.match(failed[1].error, /is not a folder on h1/)

  // NODE:SRC DEST: one node → DEST; several → DEST/<name>/<basename>; -r for folders.
  ok(await run('scp', `h2:${join(remote, 'big.bin')}`, join(cwd, 'back.bin')), 'scp NODE:SRC DEST')
  assert.ok(readFileSync(join(cwd, 'back.bin')).equals(big))
  ok(await run('scp', `h[1:3]:${join(remote, 'a.txt')}`, join(cwd, 'collected')), 'scp PATTERN:SRC DEST')
  for (const h of ['h1', 'h2', 'h3']) assert.equal(readFileSync(join(cwd, 'collected', h, 'a.txt'), 'utf8'), 'alpha\n')
  ok(await run('scp', '-r', `h1:${join(remote, 'conf')}`, join(cwd, 'conf-back')), 'scp -r NODE:SRC DEST')
  assert.equal(readFileSync(join(cwd, 'conf-back', 'sub', 'two.conf'), 'utf8'), 'two\n')
  const noR = await run('scp', `h1:${join(remote, 'conf')}`, join(cwd, 'x'))
  assert.equal(noR.code, 1)
  assert.match(noR.stdout, /is a folder: copy it with -r/)
  assert.equal(existsSync(join(cwd, 'x')), false)
})

test('bad input to the new commands: exit 2, one line naming the bad thing', {skip}, async () => {
  const f = join(cwd, 'input.txt')
  writeFileSync(f, 'x\n')
  const cases: [string[], RegExp][] = [
    [['ssh', 'h[1:2]'], /^belt: a shell needs one node, 'h\[1:2\]' names 2; give a command/],
    [['ssh', 'h1', '-x', '--', 'true'], /^belt: unknown flag -x for belt ssh/],
    [['ssh', 'h[1:2]', '--tty', '--', 'true'], /^belt: --tty needs one node/],
    [['ssh', 'h[1:2]', '--concurrency', '0', '--', 'true'], /--concurrency must be an integer ≥ 1, got 0/],
    [['ssh', 'h[1:2]', '--timeout', 'soon', '--', 'true'], /--timeout: invalid duration 'soon'/],
    [['ssh', 'h1', 'nope', '--', 'true'], /unknown node nope in cluster 'lab'/],
    [['ssh', 'h[2:1]', '--', 'true'], /h\[2:1\]/],
    [['scp', f], /belt scp FILE\.\.\. 'PATTERN':DEST or belt scp NODE:SRC DEST/],
    [['scp', f, join(cwd, 'y')], /no NODE:PATH among/],
    [['scp', join(cwd, 'missing'), 'h1:/tmp'], /no such file: .*missing/],
    [['scp', cwd, 'h1:/tmp'], /is a folder: copy it with -r/],
    [['scp', 'h1:/a', 'h2:/b'], /copying from nodes to nodes is not supported/],
    [['scp', 'h1:/a', 'b', 'c'], /takes one source and one local destination/],
    [['scp', 'h[1:2]:/etc/hostname', f], /is a file: several nodes' copies go into DEST\/<name>\//],
    [['scp', 'h1:', join(cwd, 'z')], /which remote file\?/],
    [['scp', f, 'nope:/tmp'], /unknown node nope/],
    [['scp', '--load', join(cwd, 'missing.tar'), 'h1'], /no such file: .*missing\.tar/],
    [['scp', '--load', f, 'h1:/tmp'], /--load takes nodes or patterns, not h1:\/tmp/],
    [['scp', '--load', '-', 'h[1:4]', '--concurrency', '2'], /--load - reads stdin once for all nodes at the same time: 4 nodes need --concurrency 4/],
    [['scp', '--load', cwd, 'h1'], /is not a file/],
    [['scp', '-r', '--load', f, 'h1'], /--load takes no -r/],
    [['scp', f, 'h1:/tmp', '--concurrency', '0'], /concurrency/],
    [['scp', f, 'h1:/tmp', '--timeout', 'x'], /--timeout: invalid duration 'x'/],
    [['swarm', 'rm'], /which nodes\? belt swarm rm 'PATTERN'\.\.\. or belt swarm rm --down/],
    [['swarm', 'rm', 'h[3:1]'], /h\[3:1\]/],
    [['swarm', 'rm', '--down', '--timeout', 'x'], /--timeout: invalid duration 'x'/],
    [['swarm', 'rm', '--down=yes'], /--down takes no value/],
  ]
  for (const [args, re] of cases) usageLine(await run(...args), re, args.join(' '))
})
