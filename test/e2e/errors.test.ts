// Usage and configuration mistakes as a user meets them: the real CLI, exit code 2, exactly one stderr line that
// names the bad thing, nothing on stdout, no stack trace — for oclif's own parse errors of every command, for
// durations, node names and configuration files.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {BELT, belt, cleanEnv, ROOT, RunResult, scratchDir} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'
import {usageLine} from '../lib/assert.js'

interface ManifestCommand {
  strict?: boolean
  args: Record<string, {name: string; required?: boolean}>
  flags: Record<string, {name: string; type: string; options?: string[]; required?: boolean}>
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {commands: Record<string, ManifestCommand>}
/** `docker` and `ssh` parse their own flags (argv.ts): what follows belongs to the remote side. */
const PASSTHROUGH = new Set(['docker', 'ssh'])

/** Run independent CLI cases a few at a time (each is a separate belt process). */
async function runCases(cases: [string[], RegExp, string][], run: (args: string[]) => Promise<RunResult>): Promise<void> {
  const queue = [...cases]
  const worker = async () => {
    for (let c = queue.shift(); c; c = queue.shift()) usageLine(await run(c[0]), c[1], c[2])
  }
  await Promise.all([worker(), worker(), worker()])
}

test('oclif parse errors of every command: one line naming the argument or flag', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  const cases: [string[], RegExp, string][] = []
  for (const [id, cmd] of Object.entries(manifest.commands)) {
    if (PASSTHROUGH.has(id)) continue
    const words = id.split(':')
    const spaced = words.join(' ')
    cases.push([[...words, '--no-such-flag'], new RegExp(`^belt: unknown flag --no-such-flag \\(belt ${spaced} --help lists the flags\\)$`), `${spaced} --no-such-flag`])
    const required = Object.values(cmd.args).filter((a) => a.required).map((a) => a.name.toUpperCase())
    if (required.length > 0) {
      const names = required.length === 1 ? required[0] : `${required.slice(0, -1).join(', ')} and ${required.at(-1)}`
      cases.push([words, new RegExp(`^belt: missing arguments? ${names} \\(belt ${spaced} ${required[0]}.*\\)$`), `${spaced} without arguments`])
    }
    const filler = Object.values(cmd.args).filter((a) => a.required).map(() => 'n1')
    for (const [name, flag] of Object.entries(cmd.flags)) {
      if (flag.type !== 'option' || name === 'cluster' || name === 'config') continue
      if (flag.options) {
        const re = new RegExp(`^belt: --${name} must be one of ${flag.options.join(', ')}, got 'nonsense'$`)
        cases.push([[...words, ...filler, `--${name}`, 'nonsense'], re, `${spaced} --${name} nonsense`])
      }
      cases.push([[...words, ...filler, `--${name}`], new RegExp(`^belt: --${name} needs a value`), `${spaced} --${name} (no value)`])
    }
  }
  const whats = cases.map((c) => c[2])
  assert.ok(whats.includes('create without arguments') && whats.includes('cluster new --driver nonsense'), whats.join('\n'))
  await runCases(cases, (args) => belt(args, {cwd: dir}))
})

test('the error lines of the issue, word for word', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  usageLine(await run('create'), /^belt: missing arguments SIZE and PATTERN \(belt create SIZE PATTERN\.\.\.\)$/, 'create')
  usageLine(await run('create', '1gb'), /^belt: missing argument PATTERN \(belt create SIZE PATTERN\.\.\.\)$/, 'create 1gb')
  usageLine(await run('cluster', 'new', 'x'), /^belt: missing --driver \(one of digitalocean, ec2, generic, local\)$/, 'cluster new x')
  usageLine(await run('cluster', 'new'), /^belt: missing argument NAME \(belt cluster new NAME --driver DRIVER \[KEY=VALUE\.\.\.\]\)$/, 'cluster new')
  usageLine(await run('cluster', 'new', 'x', '--driver', 'vbox'), /^belt: --driver must be one of digitalocean, ec2, generic, local, got 'vbox'$/, 'vbox')
  usageLine(await run('cluster', 'use', 'a', 'b'), /^belt: unexpected argument 'b' \(belt cluster use NAME\)$/, 'cluster use a b')
  usageLine(await run('frobnicate'), /^belt: unknown command 'frobnicate' \(belt --help lists the commands\)$/, 'unknown command')
  usageLine(await run('cluster', 'frobnicate'), /^belt: unknown command 'cluster frobnicate'/, 'unknown subcommand')
  usageLine(await run('create', '1gb', 'n1', '--tag'), /^belt: --tag needs a value$/, '--tag')
  // oclif would turn `yes` into a first argument, shifting the size into the names (a node named '1gb' was made).
  usageLine(await run('create', '1gb', 'n1', '--wait=yes'), /^belt: --wait takes no value \(use --wait alone\)$/, '--wait=yes')
  usageLine(await run('ls', '--json=1'), /^belt: --json takes no value/, '--json=1')
})

test('integer flags: --concurrency must be an integer ≥ 1, on every command that has it', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  // `docker` reads its flags itself, after resolving the cluster (whose concurrency is the default).
  const made = await belt(['cluster', 'new', 'lab', '--driver', 'local', 'subnet=10.214.54.0/24'], {cwd: dir})
  assert.equal(made.code, 0, made.stderr)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  const cases: string[][] = [
    ['provision', 'n1'],
    ['regenerate-certs', 'n1'],
    ['swarm', 'join', 'mg0', 'w1'],
    ['swarm', 'leave', 'w1'],
    ['docker'],
  ]
  const all: [string[], RegExp, string][] = []
  for (const c of cases) {
    const tail = c[0] === 'docker' ? ['ps'] : []
    for (const [value, re] of [
      ['-1', /^belt: --concurrency must be an integer ≥ 1, got -1$/],
      ['0', /^belt: --concurrency must be an integer ≥ 1, got 0$/],
      ['many', /^belt: --concurrency must be an integer( ≥ 1)?, got many$/],
    ] as const) {
      all.push([[...c, '--concurrency', value, ...tail], re, `${c.join(' ')} --concurrency ${value}`])
    }
  }
  await runCases(all, (args) => run(...args))
  usageLine(await run('provision', 'n1', '--concurrency'), /^belt: --concurrency needs a value$/, 'no value')
})

test('durations: above 24h, zero and negative are refused on every command that takes one', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  // A local cluster resolves without root or network, so each command gets as far as reading its flags.
  let r = await belt(['cluster', 'new', 'lab', '--driver', 'local', 'subnet=10.214.50.0/24'], {cwd: dir})
  assert.equal(r.code, 0, r.stderr)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  const cases: [string[], string][] = [
    [['create', '1gb', 'n1', '--wait'], '--timeout'],
    [['status', '--wait', 'active=1'], '--timeout'],
    [['provision', 'n1'], '--timeout'],
    [['provision', 'n1'], '--verify-timeout'],
    [['regenerate-certs', 'n1'], '--verify-timeout'],
    [['certs'], '--timeout'],
    [['swarm', 'join', 'mg0', 'w1'], '--timeout'],
    [['swarm', 'leave', 'w1'], '--timeout'],
    [['docker', '--host', 'n1'], '--timeout'],
  ]
  const all: [string[], RegExp, string][] = []
  for (const [c, flag] of cases) {
    const tail = c[0] === 'docker' ? ['ps'] : []
    const what = `${c.join(' ')} ${flag}`
    all.push([[...c, flag, '600h', ...tail], new RegExp(`^belt: ${flag}: 600h is more than 24h$`), `${what} 600h`])
    all.push([[...c, flag, '0s', ...tail], new RegExp(`^belt: ${flag}: 0s leaves no time`), `${what} 0s`])
    all.push([[...c, flag, '-5s', ...tail], new RegExp(`^belt: ${flag}: invalid duration '-5s'`), `${what} -5s`])
  }
  await runCases(all, (args) => run(...args))
  r = await run('status', '--wait', 'active=1', '--timeout', '24h1s')
  usageLine(r, /^belt: --timeout: 24h1s is more than 24h$/, '24h1s')
})

test('node names are host names: refused before any API call, also after --', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  const fake = new FakeDigitalOcean()
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url}
  const run = (...args: string[]) => belt(args, {cwd: dir, env})
  const r = await run('cluster', 'new', 'names', '--driver', 'digitalocean')
  assert.equal(r.code, 0, r.stderr)
  const long = 'x'.repeat(64)
  const cases: [string[], RegExp][] = [
    [['create', '1gb', '--', '-n1', '--dry-run'], /^belt: invalid node name '-n1': a name cannot start with '-'/],
    [['create', '1gb', '--', 'ok1', '--dry-run'], /^belt: invalid node name '--dry-run': a name cannot start with '-'/],
    [['create', '1gb', '.n1'], /^belt: invalid node name '\.n1': a host name has no empty part/],
    [['create', '1gb', 'a..b'], /^belt: invalid node name 'a\.\.b': a host name has no empty part/],
    [['create', '1gb', 'n1.'], /^belt: invalid node name 'n1\.'/],
    [['create', '1gb', long], new RegExp(`^belt: invalid node name '${long}': each '\\.'-separated part has at most 63 characters`)],
    [['create', '1gb', Array(64).fill('abc').join('.')], /at most 253 characters, this one 255$/],
    [['create', '1gb', 'w[1:3]_x'], /^belt: invalid node name 'w1_x' from pattern 'w\[1:3\]_x'/],
    [['swarm', 'join', 'mg0', '--', '-w1'], /^belt: invalid node name '-w1'/],
    [['provision', 'a..b'], /^belt: invalid node name 'a\.\.b'/],
  ]
  for (const [args, re] of cases) usageLine(await run(...args), re, args.join(' ').slice(0, 60))
  assert.deepEqual([...fake.counts.keys()].filter((k) => k.startsWith('POST')), [], 'nothing created')
  assert.equal(fake.list().length, 0)
})

test('generic hosts and local names: host names too (local keeps its stricter 63-character hostname)', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  let r = await run('cluster', 'new', 'gen', '--driver', 'generic', 'hosts.mg0=203.0.113.10')
  assert.equal(r.code, 0, r.stderr)
  const cfgPath = join(dir, '.belt', 'gen', 'config.yml')
  const before = readFileSync(cfgPath, 'utf8')
  r = await run('cluster', 'update', 'hosts.-w1=203.0.113.11')
  usageLine(r, /^belt: cluster update: hosts\.-w1: invalid node name '-w1': a name cannot start with '-'/, 'hosts.-w1')
  assert.equal(readFileSync(cfgPath, 'utf8'), before, 'nothing written')
  writeFileSync(cfgPath, 'driver: generic\ngeneric:\n  hosts:\n    bad_name: 203.0.113.10\n')
  r = await run('ls')
  usageLine(r, new RegExp(`^belt: ${cfgPath}: hosts\\.bad_name: invalid node name 'bad_name'`), 'hand-written bad_name')

  r = await run('cluster', 'new', 'lab', '--driver', 'local', 'subnet=10.214.51.0/24')
  assert.equal(r.code, 0, r.stderr)
  const name = `${'a'.repeat(40)}.${'b'.repeat(30)}`
  r = await run('--cluster', 'lab', 'create', '1gb', name)
  usageLine(r, /a local host's name is its hostname \(at most 63 characters\)$/, 'local 71 characters')
})

test('configuration mistakes exit 2 naming the file', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  const run = (args: string[], env: Record<string, string> = {}, cwd = dir) => belt(args, {cwd, env})
  const r = await run(['cluster', 'new', 'lab', '--driver', 'local', 'subnet=10.214.52.0/24'])
  assert.equal(r.code, 0, r.stderr)
  const cfgPath = join(dir, '.belt', 'lab', 'config.yml')

  // --config naming a directory
  usageLine(await run(['ls', '--config', '/tmp']), /^belt: \/tmp is a directory, not a config file$/, '--config /tmp')
  // BELT_DIR that is not a directory
  usageLine(await run(['ls'], {BELT_DIR: '/dev/null'}), /^belt: BELT_DIR=\/dev\/null is not a directory$/, 'BELT_DIR=/dev/null ls')
  usageLine(await run(['cluster', 'new', 'x', '--driver', 'local'], {BELT_DIR: '/dev/null'}), /^belt: BELT_DIR=\/dev\/null is not a directory$/, 'cluster new')
  // a config.yml that is a directory
  const other = join(dir, 'other')
  mkdirSync(join(other, '.belt', 'c2', 'config.yml'), {recursive: true})
  writeFileSync(join(other, '.belt', 'active'), 'c2\n')
  usageLine(await run(['ls'], {}, other), /^belt: \S+\/\.belt\/c2\/config\.yml is a directory, not a config file$/, 'config.yml dir')
  usageLine(await run(['cluster', 'ls'], {}, other), /config\.yml is a directory, not a config file$/, 'cluster ls')
  // .belt that is a file where a command needs to make it
  const plain = join(dir, 'plain')
  mkdirSync(plain)
  writeFileSync(join(plain, '.belt'), 'not a folder\n')
  usageLine(await run(['cluster', 'new', 'x', '--driver', 'local'], {BELT_DIR: join(plain, '.belt')}), /^belt: BELT_DIR=\S+ is not a directory$/, '.belt file')
  // a YAML alias bomb ("billion laughs"): refused quickly, not expanded
  const laughs = ['driver: local', 'local:', '  bridge: x', 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (const [k, p] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g'], ['i', 'h']]) {
    laughs.push(`${k}: &${k} [${Array(9).fill(`*${p}`).join(',')}]`)
  }
  const bomb = join(dir, 'bomb.yml')
  writeFileSync(bomb, laughs.join('\n') + '\n')
  usageLine(await run(['ls', '--config', bomb]), new RegExp(`^belt: ${bomb}: invalid YAML: .*alias`), 'alias bomb')
  // invalid YAML
  writeFileSync(cfgPath, 'driver: local\nlocal:\n  subnet: [\n')
  usageLine(await run(['ls']), new RegExp(`^belt: ${cfgPath}: invalid YAML: \\S.*[^:]$`), 'invalid YAML')
  writeFileSync(cfgPath, 'driver: local\nlocal:\n  subnet: 10.214.52.0/24\n')
  // state.json that is not JSON
  writeFileSync(join(dir, '.belt', 'lab', 'state.json'), '{"nodes": ')
  usageLine(await run(['ls']), /^belt: \S+\/\.belt\/lab\/state\.json is not valid JSON/, 'state.json')
  // state.json that is JSON but not an object, and one that is a directory
  writeFileSync(join(dir, '.belt', 'lab', 'state.json'), '[]\n')
  usageLine(await run(['ls']), /^belt: \S+\/state\.json is not belt's state \(a JSON object is expected\); fix or remove it$/, 'state.json []')
  rmSync(join(dir, '.belt', 'lab', 'state.json'))
  mkdirSync(join(dir, '.belt', 'lab', 'state.json'))
  usageLine(await run(['ls']), /^belt: \S+\/state\.json is a directory, not belt's state file$/, 'state.json dir')
})

test('an unreadable config.yml (EACCES) exits 2 naming it', async (t) => {
  const {dir, cleanup} = scratchDir('belt-errors-')
  t.after(cleanup)
  let r = await belt(['cluster', 'new', 'lab', '--driver', 'local', 'subnet=10.214.53.0/24'], {cwd: dir})
  assert.equal(r.code, 0, r.stderr)
  const cfgPath = join(dir, '.belt', 'lab', 'config.yml')
  chmodSync(cfgPath, 0)
  // As root, permissions are not checked unless the capabilities that bypass them are dropped.
  const wrapper = process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search'] : []
  if (wrapper.length && spawnSync('setpriv', ['--version']).status !== 0) return t.skip('setpriv is needed to drop root\'s file capabilities')
  const argv = [...wrapper, process.execPath, BELT, 'ls']
  const p = spawnSync(argv[0], argv.slice(1), {cwd: dir, env: cleanEnv(), encoding: 'utf8'})
  r = {code: p.status, signal: p.signal, stdout: p.stdout, stderr: p.stderr}
  usageLine(r, new RegExp(`^belt: ${cfgPath} is not accessible: permission denied$`), 'EACCES')
})
