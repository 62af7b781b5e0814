// The DigitalOcean pacer: its request window, retry-after parsing, backoff steps, the hour budget's pause and
// the window file shared between belt processes of one token.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ApiPacer, flushWindow, parseRetryAfter, privateDir, RateWindow, shareWindow, sharedWindowFile} from '../../../../src/providers/digitalocean/pacer.js'
import {chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Interrupted} from '../../../../src/core/errors.js'

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
  await assert.rejects(pending, (e: Error) => e instanceof Interrupted && e.exitCode === 130, 'Ctrl-C is the one interruption error')
  assert.ok(waited[0] > 25_000, `waits for the reset, got ${waited[0]}`)
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

test('the minute window is handed on through a file: a later window of the token counts what an earlier one flushed; the file is named by a hash', async (t) => {
  const {mkdtempSync, rmSync, readFileSync, statSync} = await import('node:fs')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')
  const {RateWindow, shareWindow, flushWindow, sharedWindowFile} = await import('../../../../src/providers/digitalocean/pacer.js')
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

test('spreadMs: a short budget is spread over what is left of the window; a full one says how long until a job fits', () => {
  const w = new RateWindow(250, 60_000)
  assert.equal(w.spreadMs(11, 0), 0, 'an empty window: no reason to wait')
  for (let i = 0; i < 215; i++) w.start()(1000)
  // 35 left: three listings of 11 pages until the burst leaves the window at 61 s; from 5 s that is one per ~18.7 s.
  assert.equal(w.spreadMs(11, 5000), Math.floor(56_000 / 3))
  for (let i = 0; i < 30; i++) w.start()(6000)
  assert.equal(w.spreadMs(11, 7000), 54_000, '5 left: wait until 6 leave at 61 s')
  assert.ok(w.spreadMs(11, 61_000) < 5000, 'the burst has left: plenty again (below any poll interval)')
})

test('spreadMs with since: the wait from now, the listings left spaced evenly from the last one to the window freeing', () => {
  const w = new RateWindow(250, 60_000)
  for (let i = 0; i < 210; i++) w.start()(1000)
  // Right after the burst (last listing at 0.5 s), 40 left = 3 listings of 11 until 61 s: no listing at once.
  const at6 = w.spreadMs(11, 6000, 500)
  assert.ok(at6 > 5000, `waits (${at6} ms) rather than listing with nothing booted`)
  // It comes when the time since the last listing reaches the even spacing of what is left: at ~15.6 s here.
  assert.equal(w.spreadMs(11, 15_700, 500), 0)
  assert.ok(w.spreadMs(11, 15_500, 500) > 0)
  for (let i = 0; i < 33; i++) w.start()(15_600)
  // 7 left, no listing fits: the wait until one does (from now, whatever since says).
  assert.equal(w.spreadMs(11, 20_000, 15_500), 61_000 - 20_000)
})

test('a reserve keeps slots free: a create waits where a listing still goes', () => {
  const w = new RateWindow(10, 60_000)
  for (let i = 0; i < 7; i++) w.start()(1000)
  assert.equal(w.delay(2000), 0, 'a listing: 7 of 10 used')
  assert.ok(w.delay(2000, 3) > 0, 'a create with 3 reserved: 7 of 7 used, it waits')
  assert.equal(w.delay(2000, 2), 0)
})
