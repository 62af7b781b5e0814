// Secrets stay secret (CONTRACT §6), as a user runs belt: the real CLI against the fake DigitalOcean API with a token
// shaped like a real one. No debug output shows it, whatever DEBUG (or NODE_DEBUG) says; a refused value of a secret
// key is never echoed; a config.yml that holds a token is written 0600, with a warning that config.yml is meant for git.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {readFileSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse as parseYaml} from 'yaml'
import {belt, RunResult, scratchDir, withoutApiNotice} from '../lib/cli.js'
import {FakeDigitalOcean} from '../fakes/digitalocean.js'

/** A DigitalOcean personal access token as the control panel issues them. */
function realisticToken(): string {
  return `dop_v1_${randomBytes(32).toString('hex')}`
}

async function setup(t: import('node:test').TestContext) {
  const {dir, cleanup} = scratchDir('belt-secrets-')
  const fake = new FakeDigitalOcean({activeAfterMs: 200, token: realisticToken()})
  const url = await fake.start()
  t.after(async () => {
    await fake.stop()
    cleanup()
  })
  const env = {DIGITALOCEAN_ACCESS_TOKEN: fake.token, DIGITALOCEAN_API_URL: url, BELT_POLL_INTERVAL_MS: '100'}
  const run = (args: string[], extra: Record<string, string | undefined> = {}) => belt(args, {cwd: dir, env: {...env, ...extra}})
  return {dir, fake, url, run}
}

/** The token, or any 16 characters of its secret part, anywhere in stdout or stderr. */
function assertNoToken(r: RunResult, token: string, what: string): void {
  const all = r.stdout + r.stderr
  const secret = token.slice('dop_v1_'.length)
  for (let i = 0; i + 16 <= secret.length; i += 8) {
    assert.ok(!all.includes(secret.slice(i, i + 16)), `${what}: part of the token in the output:\n${all.slice(0, 3000)}`)
  }
}

function usageLine(r: RunResult, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit code\n${r.stderr}`)
  const lines = r.stderr.split('\n').filter(Boolean)
  assert.equal(lines.length, 1, `${what}: one stderr line, got:\n${r.stderr}`)
  assert.match(lines[0], re, what)
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`)
}

const mode = (path: string) => statSync(path).mode & 0o777

test("DEBUG='*', --debug and NODE_DEBUG never show the token; belt's own debug lines still appear", async (t) => {
  const {fake, run} = await setup(t)
  let r = await run(['cluster', 'new', 'sec', '--driver', 'digitalocean', 'region=sgp1'])
  assert.equal(r.code, 0, r.stderr)

  // follow-redirects (under axios, under dots-wrapper) logs every request's options, Authorization header included.
  r = await run(['ls'], {DEBUG: '*'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, "DEBUG='*' belt ls")
  assert.match(r.stderr, /belt:do GET \/droplets → 200/, "belt's own debug lines appear")
  assert.doesNotMatch(r.stderr, /follow-redirects|oclif:/, 'no other library debugs')

  r = await run(['create', '1gb', 'n[1:2]', '--wait', '--timeout', '1m'], {DEBUG: '*'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, "DEBUG='*' belt create")
  assert.match(r.stderr, /belt:do POST \/droplets/)

  r = await run(['ls', '--debug'])
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'belt ls --debug')
  assert.match(r.stderr, /belt:do GET \/droplets/)

  // Naming another library outright turns nothing of it on; with --debug, belt's namespaces come on instead.
  r = await run(['ls', '--debug'], {DEBUG: 'follow-redirects,axios,oclif*'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'DEBUG=follow-redirects belt ls --debug')
  assert.doesNotMatch(r.stderr, /follow-redirects/)
  assert.match(r.stderr, /belt:do GET \/droplets/)

  r = await run(['ls'], {DEBUG: 'follow-redirects'})
  assert.equal(r.code, 0, r.stderr)
  assert.equal(withoutApiNotice(r.stderr), '', 'nothing of follow-redirects')

  // Node's own http debug prints the request headers too.
  r = await run(['ls', '--json'], {NODE_DEBUG: 'http,https,net,tls'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'NODE_DEBUG=http belt ls')
  assert.match(r.stderr, /^HTTP \d+:/m, 'NODE_DEBUG output is there, scrubbed')
  assert.equal(JSON.parse(r.stdout).length, 2)

  // oclif's debug prints argv, which may hold the token.
  r = await run(['cluster', 'update', `access_token=${fake.token}`], {DEBUG: '*'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, "DEBUG='*' belt cluster update access_token=…")
})

test('a token only in config.yml stays out of debug output too', async (t) => {
  const {fake, run} = await setup(t)
  let r = await run(['cluster', 'new', 'cfg', '--driver', 'digitalocean', `access_token=${fake.token}`], {DIGITALOCEAN_ACCESS_TOKEN: undefined})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'cluster new access_token=…')
  r = await run(['ls', '--debug'], {DIGITALOCEAN_ACCESS_TOKEN: undefined, DEBUG: '*'})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'ls with the token from config.yml')
  assert.equal(fake.count('GET', '/v2/droplets'), 1, 'the request went out, with the token from config.yml')
  r = await run(['cluster', 'config'], {DIGITALOCEAN_ACCESS_TOKEN: undefined})
  assert.equal(r.code, 0, r.stderr)
  assertNoToken(r, fake.token, 'cluster config')
})

test('a refused value of a secret key is never echoed', async (t) => {
  const {dir, fake, run} = await setup(t)
  const token = fake.token
  let r = await run(['cluster', 'new', 'sec', '--driver', 'digitalocean'])
  assert.equal(r.code, 0, r.stderr)
  const cfgPath = join(dir, '.belt', 'sec', 'config.yml')
  const before = readFileSync(cfgPath, 'utf8')

  for (const arg of [`access_token=[${token}]`, `access_token={t: ${token}}`, `access_token=[a, ${token}]`]) {
    r = await run(['cluster', 'update', arg])
    usageLine(r, /^belt: cluster update: 'access_token' must be a string, got a (list|map) \(value not shown\)$/, arg)
    assertNoToken(r, token, arg)
  }
  r = await run(['cluster', 'update', `access_token.x=${token}`])
  usageLine(r, /'access_token' is not a map/, 'access_token.x=')
  assertNoToken(r, token, 'access_token.x=')
  r = await run(['cluster', 'update', `access_token..=${token}`])
  usageLine(r, /^belt: invalid key 'access_token\.\.'/, 'access_token..=')
  assertNoToken(r, token, 'access_token..=')
  r = await run(['cluster', 'update', `--access-token=${token}`])
  usageLine(r, /^belt: unknown flag --access-token \(belt cluster update --help lists the flags\)$/, '--access-token=')
  assertNoToken(r, token, '--access-token=')
  assert.equal(readFileSync(cfgPath, 'utf8'), before, 'nothing written')

  r = await run(['cluster', 'new', 'other', '--driver', 'digitalocean', `access_token=[${token}]`])
  usageLine(r, /^belt: cluster new: 'access_token' must be a string, got a list \(value not shown\)$/, 'cluster new')
  assertNoToken(r, token, 'cluster new access_token=[…]')

  // The same mistake written by hand in config.yml.
  writeFileSync(cfgPath, `driver: digitalocean\ndigitalocean:\n  access_token:\n    - ${token}\n`)
  r = await run(['ls'])
  usageLine(r, /config\.yml: 'access_token' must be a string, got a list \(value not shown\)$/, 'hand-written config.yml')
  assertNoToken(r, token, 'ls with a list token in config.yml')
})

test('config.yml holding access_token is written 0600 with a one-line warning that it is meant for git', async (t) => {
  const {dir, fake, run} = await setup(t)
  const token = fake.token
  const warning = /^warning: .*\/config\.yml holds access_token and is now mode 0600, but config\.yml is meant for git: prefer DIGITALOCEAN_ACCESS_TOKEN$/
  const warnings = (r: RunResult) => r.stderr.split('\n').filter((l) => l.startsWith('warning:'))

  // cluster new with the token
  let r = await run(['cluster', 'new', 'tok', '--driver', 'digitalocean', `access_token=${token}`])
  assert.equal(r.code, 0, r.stderr)
  const tokPath = join(dir, '.belt', 'tok', 'config.yml')
  assert.equal(mode(tokPath), 0o600)
  assert.equal(warnings(r).length, 1, r.stderr)
  assert.match(warnings(r)[0], warning)
  assert.match(r.stdout + r.stderr, /\+ access_token: "\*+"/, 'the diff masks it')
  assertNoToken(r, token, 'cluster new')

  // cluster new without a token: versionable as usual, no warning
  r = await run(['cluster', 'new', 'plain', '--driver', 'digitalocean'])
  assert.equal(r.code, 0, r.stderr)
  const plainPath = join(dir, '.belt', 'plain', 'config.yml')
  assert.equal(mode(plainPath), 0o644 & ~process.umask())
  assert.deepEqual(warnings(r), [])

  // cluster update that adds the token
  r = await run(['cluster', 'update', `access_token=${token}`, '--cluster', 'plain'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(mode(plainPath), 0o600)
  assert.equal(warnings(r).length, 1, r.stderr)
  assert.match(warnings(r)[0], warning)
  assert.deepEqual(r.stdout.trim().split('\n'), ['+ access_token: "********"'])

  // any later write of a config.yml that holds it keeps 0600 (and says so again)
  r = await run(['cluster', 'update', 'region=fra1', '--cluster', 'plain'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(mode(plainPath), 0o600)
  assert.equal(warnings(r).length, 1)

  // removing it: no warning; the mode stays as it is (belt never loosens a file's mode)
  r = await run(['cluster', 'update', 'access_token=', '--cluster', 'plain'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(warnings(r), [])
  assert.equal(mode(plainPath), 0o600)
  assert.equal(parseYaml(readFileSync(plainPath, 'utf8')).digitalocean.access_token, undefined)

  // the file keeps working: the token from config.yml is used
  r = await run(['ls', '--cluster', 'tok'], {DIGITALOCEAN_ACCESS_TOKEN: undefined})
  assert.equal(r.code, 0, r.stderr)
})
