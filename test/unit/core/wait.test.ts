// core/wait.ts: the one sleep, backoff, retry and poll of belt.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {backoffDelay, poll, retry, sleep} from '../../../src/core/wait.js'
import {Interrupted} from '../../../src/core/errors.js'

test('sleep ends early, resolving, when the signal aborts', async () => {
  const ac = new AbortController()
  const started = Date.now()
  const p = sleep(60_000, ac.signal)
  ac.abort()
  await p
  assert.ok(Date.now() - started < 5_000)
  await sleep(60_000, ac.signal) // already aborted: returns at once
})

test('backoffDelay: doubles from base, capped, half jitter', () => {
  for (let i = 0; i < 200; i++) {
    const d1 = backoffDelay(1, {baseMs: 500, capMs: 5000})
    assert.ok(d1 >= 250 && d1 <= 500, `attempt 1: ${d1}`)
    const d3 = backoffDelay(3, {baseMs: 500, capMs: 5000})
    assert.ok(d3 >= 1000 && d3 <= 2000, `attempt 3: ${d3}`)
    const d9 = backoffDelay(9, {baseMs: 500, capMs: 5000})
    assert.ok(d9 >= 2500 && d9 <= 5000, `attempt 9 is capped: ${d9}`)
  }
  assert.equal(backoffDelay(2, {baseMs: 100, capMs: 1000, jitter: 'none'}), 200)
  assert.equal(backoffDelay(3, {baseMs: 100, capMs: 1000, factor: 3, jitter: 'none'}), 900)
})

test('retry: retries what is retryable, gives up on the rest, honours a server-named wait and the retry count', async () => {
  const seen: number[] = []
  const waits: number[] = []
  const v = await retry(
    async (attempt) => {
      seen.push(attempt)
      if (attempt < 3) throw new Error('flaky')
      return 'ok'
    },
    {retries: 5, backoff: {baseMs: 1, capMs: 2}, retryable: (_e, a) => (a === 1 ? 7 : true), onRetry: (_a, _e, ms) => waits.push(ms)},
  )
  assert.equal(v, 'ok')
  assert.deepEqual(seen, [1, 2, 3])
  assert.equal(waits[0], 7, 'a number from retryable is the wait')
  let calls = 0
  await assert.rejects(retry(async () => { calls++; throw new Error('fatal') }, {retries: 5, backoff: {baseMs: 1, capMs: 1}, retryable: () => false}), /fatal/)
  assert.equal(calls, 1, 'not retryable: one attempt')
  calls = 0
  await assert.rejects(retry(async () => { calls++; throw new Error('again') }, {retries: 2, backoff: {baseMs: 1, capMs: 1}, retryable: () => true}), /again/)
  assert.equal(calls, 3, 'first attempt + 2 retries')
  calls = 0
  await assert.rejects(
    retry(async () => { calls++; throw new Error('late') }, {retries: 9, backoff: {baseMs: 1, capMs: 1}, retryable: () => 60_000, deadline: Date.now() + 1000}),
    /late/,
  )
  assert.equal(calls, 1, 'a wait past the deadline is not taken')
})

test('retry: Ctrl-C during a wait throws the interruption error and starts no new attempt', async () => {
  const ac = new AbortController()
  let calls = 0
  const p = retry(async () => { calls++; throw new Error('down') }, {retries: 9, backoff: {baseMs: 60_000, capMs: 60_000}, retryable: () => true, signal: ac.signal})
  setImmediate(() => ac.abort())
  await assert.rejects(p, Interrupted)
  assert.equal(calls, 1)
})

test('poll: progress before the check, stops when done, at the deadline, or on Ctrl-C', async () => {
  let n = 0
  const progress: number[] = []
  const r = await poll(async () => ++n, {done: (v) => v >= 3, timeoutMs: 10_000, intervalMs: 1, onEach: (v) => progress.push(v)})
  assert.deepEqual(r, {reached: true, last: 3, interrupted: false})
  assert.deepEqual(progress, [1, 2, 3], 'the final probe is reported too')
  const t = await poll(async () => 0, {done: () => false, timeoutMs: 30, intervalMs: 5})
  assert.equal(t.reached, false)
  assert.equal(t.interrupted, false)
  const ac = new AbortController()
  const p = poll(async () => 0, {done: () => false, timeoutMs: 60_000, intervalMs: 60_000, signal: ac.signal})
  setImmediate(() => ac.abort())
  assert.deepEqual(await p, {reached: false, last: 0, interrupted: true})
  // A probe that fails because Ctrl-C cut it short is an interruption, any other failure is thrown.
  const ac2 = new AbortController()
  const cut = await poll(async () => { ac2.abort(); throw new Error('aborted request') }, {done: () => true, timeoutMs: 1000, intervalMs: 1, signal: ac2.signal})
  assert.equal(cut.interrupted, true)
  await assert.rejects(poll(async () => { throw new Error('api down') }, {done: () => true, timeoutMs: 1000, intervalMs: 1}), /api down/)
})

test('poll: the interval grows by the factor up to its cap', async () => {
  const at: number[] = []
  await poll(async () => at.push(Date.now()), {done: (v) => v >= 5, timeoutMs: 10_000, intervalMs: 10, growth: 2, maxIntervalMs: 40})
  const gaps = at.slice(1).map((t, i) => t - at[i])
  // 10, 20, 40, 40 (timers fire no earlier than asked)
  assert.ok(gaps[0] >= 9 && gaps[1] >= 19 && gaps[2] >= 39 && gaps[3] >= 39, `gaps ${gaps}`)
  assert.ok(gaps[3] < gaps[2] + 30, `capped: ${gaps}`)
})
