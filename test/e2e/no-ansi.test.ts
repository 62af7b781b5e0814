// Output for pipes and NO_COLOR terminals is plain text: every command in the oclif manifest (belt's own and the
// autocomplete plugin's) is run non-TTY with --help, and the read-only ones for real against a cluster on the fake
// DigitalOcean API (tables, JSON, --print-command, errors) — no ESC byte may appear on stdout or stderr, with and
// without NO_COLOR. The manifest is the one `npm run build` writes, so a new command is covered without a change here.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import pLimit from 'p-limit'
import {BELT, belt, cleanEnv, ROOT, scratchDir, type RunResult} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

function commandIds(): string[] {
  const read = (path: string) => Object.keys((JSON.parse(readFileSync(path, 'utf8')) as {commands: Record<string, unknown>}).commands)
  const own = read(join(ROOT, 'oclif.manifest.json'))
  const plugin = read(join(ROOT, 'node_modules', '@oclif', 'plugin-autocomplete', 'oclif.manifest.json'))
  return [...own, ...plugin]
}

const ESC = '\u001b'
/** Each run twice: as a pipe sees belt, and with NO_COLOR set too. */
const COLOURS: Record<string, string>[] = [{}, {NO_COLOR: '1'}]

function assertPlain(r: RunResult, what: string): void {
  const at = (r.stdout + r.stderr).indexOf(ESC)
  assert.equal(at, -1, `${what}: ESC in output near ${JSON.stringify((r.stdout + r.stderr).slice(Math.max(0, at - 20), at + 20))}`)
}

test('no ANSI escape codes in non-TTY output: every command --help, and real runs of the read-only ones', {timeout: 10 * 60_000}, async (t) => {
  const {dir, cleanup} = scratchDir('belt-no-ansi-')
  const fake = new FakeDigitalOcean({activeAfterMs: 100})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const base = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100', TERM: 'xterm-256color'}
  const run = (args: string[], env: Record<string, string> = {}) => belt(args, {cwd: dir, env: {...base, ...env}})
  const limit = pLimit(6)

  const ids = commandIds()
  assert.ok(ids.length >= 30, `the manifest lists belt's commands (${ids.length})`)
  assert.ok(ids.includes('autocomplete') && ids.includes('swarm:join') && ids.includes('ls'))
  await Promise.all(ids.flatMap((id) => COLOURS.map((env) => limit(async () => {
    const r = await run([...id.split(':'), '--help'], env)
    assert.equal(r.code, 0, `belt ${id.replace(/:/g, ' ')} --help: exit ${r.code}\n${r.stderr}`)
    assert.match(r.stdout, /USAGE/, `${id} --help prints its usage`)
    assertPlain(r, `belt ${id} --help ${JSON.stringify(env)}`)
  }))))

  // A cluster with nodes on the fake cloud, then the read-only commands for real (and a few refusals).
  for (const args of [
    ['cluster', 'new', 'plain', '--driver', 'digitalocean', 'admin_cidr=203.0.113.0/24'],
    ['create', '1gb', 'w[1:3]', '--wait'],
    ['active', 'w1'],
  ]) {
    const r = await run(args)
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`)
    assertPlain(r, args.join(' '))
  }
  const readOnly: string[][] = [
    ['ls'], ['ls', '--json'], ['ls', '-q'], ['ls', '--columns', 'name,status', '--no-header'], ['status'], ['status', '--json'],
    ['cluster', 'ls'], ['cluster', 'ls', '--json'], ['cluster', 'config'], ['firewall'], ['firewall', '--json'], ['ip', 'w1'],
    ['ip', 'w[1:3]', '--private'], ['active'], ['version'], ['version', '--json'], ['create', '1gb', 'x[1:2]', '--dry-run'],
    ['swarm', 'join', '--print-command'], ['swarm', 'init', '--print-command'], ['provision', 'w1', '--print-command'],
    ['monitor', '--print-command'], ['autocomplete', 'bash'], ['autocomplete', 'zsh'], ['autocomplete', 'powershell'],
    // Refusals and errors are plain text too.
    ['ls', '--columns', 'bogus'], ['rm', 'w1'], ['frobnicate'], ['ls', '--frobnicate'], ['cluster', 'update', 'ssh_jump=@'],
    ['certs'], ['env', 'w1'], ['context', '--rm'],
  ]
  await Promise.all(readOnly.flatMap((args) => COLOURS.map((env) => limit(async () => {
    const r = await run(args, env)
    assert.ok(r.code !== null && r.code <= 2, `belt ${args.join(' ')}: exit ${r.code}\n${r.stderr}`)
    assertPlain(r, `belt ${args.join(' ')} ${JSON.stringify(env)}`)
  }))))
})

/** belt on a terminal: util-linux `script` gives it a pseudo-terminal; what the terminal received comes back. */
function onTty(args: string[], env: Record<string, string>): Promise<string> {
  const line = [process.execPath, BELT, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  return new Promise((resolve, reject) => {
    // -e: script exits with belt's code; a refusal (exit 2) still has its output checked.
    // A terminal as an operator has one: outside CI (oclif colours nothing when CI is set, so the harness could not
    // tell colour from none).
    const ttyEnv: NodeJS.ProcessEnv = cleanEnv({TERM: 'xterm-256color', ...env})
    delete ttyEnv.CI
    execFile('script', ['-qec', line, '/dev/null'], {env: ttyEnv, timeout: 60_000},
      (err, stdout) => (err && typeof err.code !== 'number' ? reject(err) : resolve(String(stdout))))
  })
}

test('NO_COLOR on a terminal: help and errors without escape codes (and with them without NO_COLOR)', async () => {
  const ids = commandIds()
  // The harness can see colour: oclif colours help on a terminal unless NO_COLOR says otherwise.
  assert.ok((await onTty(['ls', '--help'], {})).includes(ESC), 'a terminal without NO_COLOR gets colour')
  for (const id of ids) {
    const text = await onTty([...id.split(':'), '--help'], {NO_COLOR: '1'})
    assert.match(text, /USAGE/)
    assert.ok(!text.includes(ESC), `belt ${id} --help on a terminal with NO_COLOR: ESC in ${JSON.stringify(text.slice(0, 200))}`)
  }
  for (const args of [['frobnicate'], ['ls', '--columns', 'bogus'], ['version']]) {
    const text = await onTty(args, {NO_COLOR: '1', BELT_DIR: '/nonexistent/.belt'})
    assert.ok(!text.includes(ESC), `belt ${args.join(' ')} on a terminal with NO_COLOR: ${JSON.stringify(text)}`)
  }
})
