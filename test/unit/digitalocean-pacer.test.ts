// Pure parts of the DigitalOcean driver: the pacer's request window, retry-after parsing and backoff, the size
// mapping, the API origin rules, and the firewall merge.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ApiPacer, flushWindow, parseRetryAfter, privateDir, RateWindow, shareWindow, sharedWindowFile} from '../../src/providers/digitalocean/pacer.js'
import {chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {chooseSize, parseMemorySize, DoSize} from '../../src/providers/digitalocean/sizes.js'
import {resolveEndpoint, resolveToken} from '../../src/providers/digitalocean/api.js'
import {desiredFirewall, firewallName, firewallRules, sameFirewall} from '../../src/providers/digitalocean/firewall.js'
import {UsageError} from '../../src/core/errors.js'

test('window: at most `limit` requests in any window; the next waits for the oldest to leave', () => {
  const w = new RateWindow(3, 1000)
  for (let i = 0; i < 3; i++) {
    assert.equal(w.delay(100 + i), 0)
    w.start()(100 + i)
  }
  assert.equal(w.used(102), 3)
  assert.equal(w.delay(500), 600, 'first request (done at 100) leaves the window at 1100')
  assert.equal(w.delay(1100), 0)
  assert.equal(w.used(1100), 2)
})

test('window: a request counts from its completion time, and in-flight requests count too', () => {
  const w = new RateWindow(2, 1000)
  const a = w.start()
  const b = w.start()
  assert.ok(w.delay(0) > 0, 'two in flight fill a window of two')
  a(300) // answered late: counts until 1300, not 1000
  b(50)
  assert.equal(w.delay(1000), 50, 'b (done at 50) leaves at 1050')
  w.start()(1050)
  assert.equal(w.delay(1100), 200, 'then a (done at 300) at 1300')
})

test('window: never more than limit in any window over a long run', () => {
  const w = new RateWindow(250, 60_000)
  const starts: number[] = []
  let now = 0
  while (starts.length < 1000) {
    const d = w.delay(now)
    if (d > 0) {
      now += d
      continue
    }
    starts.push(now)
    w.start()(now + 7) // each reply takes 7 ms
    now += 3
  }
  for (let i = 250; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 250] >= 60_000, `request ${i} would be the 251st within 60 s`)
  }
})

test('retry-after: seconds or an HTTP date', () => {
  assert.equal(parseRetryAfter('3'), 3000)
  assert.equal(parseRetryAfter('0.5'), 500)
  assert.equal(parseRetryAfter(undefined), null)
  assert.equal(parseRetryAfter('soon'), null)
  const d = parseRetryAfter(new Date(Date.now() + 10_000).toUTCString())!
  assert.ok(d > 8000 && d <= 10_000, String(d))
})

test('pacer: backoff is jittered, grows and is capped; a spent hour budget pauses until reset', async () => {
  const p = new ApiPacer({backoffBaseMs: 100, backoffCapMs: 1000})
  for (let i = 0; i < 50; i++) {
    const b1 = p.backoff(1)
    assert.ok(b1 >= 50 && b1 <= 100, String(b1))
    const b4 = p.backoff(4)
    assert.ok(b4 >= 400 && b4 <= 800, String(b4))
    assert.ok(p.backoff(20) <= 1000)
  }
  p.observe({'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + 30)})
  const ac = new AbortController()
  const waited: number[] = []
  const pending = p.acquire(ac.signal, (ms) => waited.push(ms))
  // Abort once the pacer has said how long it waits (polled, not slept on).
  for (let i = 0; waited.length === 0 && i < 1000; i++) await new Promise((r) => setTimeout(r, 1))
  ac.abort()
  await assert.rejects(pending, /aborted/)
  assert.ok(waited[0] > 25_000, `waits for the reset, got ${waited[0]}`)
})

test('memory sizes', () => {
  assert.equal(parseMemorySize('512mb'), 512)
  assert.equal(parseMemorySize('8192MB'), 8192)
  assert.equal(parseMemorySize('1gb'), 1024)
  assert.equal(parseMemorySize('2GB'), 2048)
  assert.equal(parseMemorySize('s-1vcpu-1gb'), null)
  assert.equal(parseMemorySize('0mb'), null)
})

const sizes: DoSize[] = [
  {slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, price_monthly: 6, regions: ['nyc1', 'sgp1'], available: true},
  {slug: 's-1vcpu-1gb-amd', memory: 1024, vcpus: 1, price_monthly: 7, regions: ['nyc1', 'sgp1'], available: true},
  {slug: 'a-4vcpu-8gb', memory: 8192, vcpus: 4, price_monthly: 48, regions: ['nyc1'], available: true},
  {slug: 'b-2vcpu-8gb', memory: 8192, vcpus: 2, price_monthly: 48, regions: ['nyc1'], available: true},
  {slug: 'c-1vcpu-8gb', memory: 8192, vcpus: 1, price_monthly: 40, regions: ['nyc1'], available: false},
  {slug: 's-2vcpu-2gb', memory: 2048, vcpus: 2, price_monthly: 18, regions: ['sgp1'], available: true},
]

test('size mapping: cheapest available slug with exactly that memory in the region; ties → fewer vCPUs', () => {
  assert.deepEqual(chooseSize('1gb', sizes, 'nyc1').slug, 's-1vcpu-1gb')
  const big = chooseSize('8192MB', sizes, 'nyc1')
  assert.equal(big.slug, 'b-2vcpu-8gb', 'same price: fewer vCPUs wins; unavailable sizes never')
  assert.match(big.note!, /8192MB → b-2vcpu-8gb \(cheapest with 8 GB in nyc1: 2 vCPUs, \$48\/mo\)/)
  assert.equal(chooseSize('s-1vcpu-1gb-amd', sizes, 'sgp1').note, null, 'a slug passes through')
  assert.throws(() => chooseSize('2gb', sizes, 'nyc1'), (e: Error) => e instanceof UsageError && /exactly 2 GB in nyc1/.test(e.message))
  assert.throws(() => chooseSize('a-4vcpu-8gb', sizes, 'sgp1'), /not available in sgp1/)
  assert.throws(() => chooseSize('huge', sizes, 'nyc1'), /unknown size 'huge'/)
})

test('API origin: without /v2; a trailing / or /v2 is tolerated; the token is required', () => {
  assert.equal(resolveEndpoint({}, {}).endpoint, 'https://api.digitalocean.com/v2')
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/'}).endpoint, 'http://127.0.0.1:9/v2')
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'http://127.0.0.1:9/v2/'}).endpoint, 'http://127.0.0.1:9/v2')
  assert.equal(resolveEndpoint({api_url: 'https://proxy.example/do/v2'}, {}).endpoint, 'https://proxy.example/do/v2')
  assert.throws(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'nope'}), /DIGITALOCEAN_API_URL/)
  assert.throws(() => resolveToken({}, {}), (e: Error) => e instanceof UsageError && /DIGITALOCEAN_ACCESS_TOKEN/.test(e.message))
  assert.equal(resolveToken({access_token: 'from-config-123'}, {DIGITALOCEAN_ACCESS_TOKEN: 'from-env-123'}), 'from-env-123')
})

test('API origin: plain http only to loopback addresses; a non-default origin is named with its source', () => {
  for (const ok of ['http://127.0.0.1:9', 'http://127.8.0.1', 'http://localhost:8080/', 'http://[::1]:9/v2']) {
    assert.doesNotThrow(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: ok}), ok)
  }
  for (const bad of ['http://10.0.0.1', 'http://api.example.com', 'http://127.0.0.1.example.com', 'http://[::2]']) {
    assert.throws(() => resolveEndpoint({}, {DIGITALOCEAN_API_URL: bad}), (e: Error) => e instanceof UsageError && /^DIGITALOCEAN_API_URL: .*plain http/.test(e.message), bad)
    assert.throws(() => resolveEndpoint({api_url: bad}, {}), (e: Error) => e instanceof UsageError && /^api_url: .*plain http/.test(e.message), bad)
  }
  assert.equal(resolveEndpoint({}, {}).source, null)
  assert.equal(resolveEndpoint({}, {DIGITALOCEAN_API_URL: 'https://api.digitalocean.com/v2'}).source, null)
  assert.equal(resolveEndpoint({api_url: 'https://proxy.example'}, {}).source, 'api_url')
})

test('rate-window file: in a private 0700 folder of this user; a folder with other modes or owners is refused', () => {
  const base = mkdtempSync(join(tmpdir(), 'belt-pacer-'))
  try {
    const mine = join(base, 'mine')
    assert.equal(privateDir(mine), mine)
    assert.equal(statSync(mine).mode & 0o777, 0o700)
    assert.equal(privateDir(mine), mine, 'an existing private folder is used')
    const open = join(base, 'open')
    mkdirSync(open)
    chmodSync(open, 0o755)
    assert.equal(privateDir(open), null, 'group/other access: refused')
    const link = join(base, 'link')
    symlinkSync(mine, link)
    assert.equal(privateDir(link), null, 'a symlink: refused')
    if (process.getuid?.() === 0) {
      const theirs = join(base, 'theirs')
      mkdirSync(theirs, {mode: 0o700})
      chownSync(theirs, 65534, 65534)
      assert.equal(privateDir(theirs), null, 'another owner: refused')
    }
    const saved = process.env.BELT_API_WINDOW_FILE
    delete process.env.BELT_API_WINDOW_FILE
    try {
      const file = sharedWindowFile('tok-123')!
      assert.match(file, new RegExp(`^${tmpdir()}/belt-${process.getuid?.()}/do-window-[0-9a-f]{16}\\.json$`))
      assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700)
    } finally {
      if (saved !== undefined) process.env.BELT_API_WINDOW_FILE = saved
    }
  } finally {
    rmSync(base, {recursive: true, force: true})
  }
})

test('rate-window file: never read or written through a symlink', () => {
  const base = mkdtempSync(join(tmpdir(), 'belt-pacer-'))
  try {
    const now = Date.now()
    const target = join(base, 'elsewhere.json')
    writeFileSync(target, JSON.stringify([now - 10, now - 5]))
    const path = join(base, 'window.json')
    symlinkSync(target, path)
    const w = new RateWindow(250, 60_000)
    shareWindow(w, path)
    assert.equal(w.used(Date.now()), 0, 'nothing seeded through the symlink')
    w.start()(Date.now())
    flushWindow(w, path)
    assert.equal(lstatSync(path).isSymbolicLink(), false, 'the link itself was replaced')
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as number[]).length, 1)
    assert.deepEqual(JSON.parse(readFileSync(target, 'utf8')), [now - 10, now - 5], 'the target is untouched')
  } finally {
    rmSync(base, {recursive: true, force: true})
  }
})

test('firewall: belt owns its ports, keeps rules added for others, and notices changes', () => {
  const tag = 'belt-id:0123456789abcdef'
  const name = firewallName('lab_1', '0123456789abcdef')
  const first = desiredFirewall(name, tag, '203.0.113.0/24')
  assert.equal(first.name, 'belt-lab-1-01234567')
  const shown = firewallRules(first).map((r) => `${r.direction} ${r.protocol} ${r.ports} ${r.sources.join(',')}`)
  assert.deepEqual(shown, [
    'inbound tcp 22 203.0.113.0/24',
    'inbound tcp 2376 203.0.113.0/24',
    `inbound tcp 2377 tag:${tag}`,
    `inbound tcp 7946 tag:${tag}`,
    `inbound udp 7946 tag:${tag}`,
    `inbound udp 4789 tag:${tag}`,
    'outbound tcp all 0.0.0.0/0,::/0',
    'outbound udp all 0.0.0.0/0,::/0',
    'outbound icmp all 0.0.0.0/0,::/0',
  ])
  assert.ok(!shown.some((r) => / (esp|50) /.test(r)))
  // As the API returns it: icmp ports "0", a user's extra rule, an old admin CIDR.
  const existing = {
    id: 'fw1', ...first,
    inbound_rules: [...first.inbound_rules.map((r) => (r.ports === '22' ? {...r, sources: {addresses: ['198.51.100.0/24']}} : r)), {protocol: 'tcp', ports: '80', sources: {addresses: ['0.0.0.0/0']}}],
    outbound_rules: first.outbound_rules.map((r) => (r.protocol === 'icmp' ? {...r, ports: '0'} : r)),
  }
  const next = desiredFirewall(name, tag, '203.0.113.0/24', existing)
  assert.ok(!sameFirewall(existing, next), 'a changed admin_cidr is an update')
  assert.ok(next.inbound_rules.some((r) => r.ports === '80'), 'the user\'s 80/tcp rule is kept')
  assert.deepEqual(next.inbound_rules.filter((r) => r.ports === '22').map((r) => r.sources.addresses), [['203.0.113.0/24']])
  assert.ok(sameFirewall({...existing, ...next}, desiredFirewall(name, tag, '203.0.113.0/24', {...existing, ...next})), 'converged: no update')
})

test('the minute window is handed on through a file: a later window of the token counts what an earlier one flushed; the file is named by a hash', async (t) => {
  const {mkdtempSync, rmSync, readFileSync, statSync} = await import('node:fs')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  const {RateWindow, shareWindow, flushWindow, sharedWindowFile} = await import('../../src/providers/digitalocean/pacer.js')
  const dir = mkdtempSync(join(tmpdir(), 'belt-window-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  const file = join(dir, 'window.json')
  // "belt create": 240 requests, then it exits (flush)
  const first = new RateWindow(250, 60_000)
  shareWindow(first, file)
  for (let i = 0; i < 240; i++) first.start()(Date.now())
  flushWindow(first, file)
  assert.equal(statSync(file).mode & 0o777, 0o600)
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).length, 240)
  // "belt status --wait" right after: it starts with the 240 counted, so only 10 more fit in this minute
  const second = new RateWindow(250, 60_000)
  shareWindow(second, file)
  assert.equal(second.used(Date.now()), 240)
  for (let i = 0; i < 10; i++) {
    assert.equal(second.delay(Date.now()), 0)
    second.start()(Date.now())
  }
  assert.ok(second.delay(Date.now()) > 50_000, 'the 251st request in the minute waits for the window')
  // times older than the window are dropped; the file is named by a hash, never the token
  const name = sharedWindowFile('dop_v1_secret-token-value')!
  assert.doesNotMatch(name, /secret/)
})
