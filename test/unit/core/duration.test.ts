// --timeout and friends: the accepted forms, and the bounds (above 0, at most 24 h; Node's timers overflow later).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {MAX_DURATION_MS, parseDuration} from '../../../src/core/duration.js'
import {UsageError} from '../../../src/core/errors.js'

const usage = (re: RegExp) => (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n')

test('durations up to 24h are accepted', () => {
  assert.equal(parseDuration('24h', '--timeout'), MAX_DURATION_MS)
  assert.equal(parseDuration('23h59m60s', '--timeout'), MAX_DURATION_MS)
  assert.equal(parseDuration('86400', '--timeout'), MAX_DURATION_MS)
  assert.equal(parseDuration('1ms', '--timeout'), 1)
  assert.equal(parseDuration(' 90s ', '--timeout'), 90_000)
})

test('more than 24h is refused, naming the flag and the value', () => {
  assert.throws(() => parseDuration('600h', '--timeout'), usage(/^--timeout: 600h is more than 24h$/))
  assert.throws(() => parseDuration('24h1ms', '--verify-timeout'), usage(/^--verify-timeout: 24h1ms is more than 24h$/))
  assert.throws(() => parseDuration('86401', '--timeout'), usage(/^--timeout: 86401 is more than 24h$/))
  // 2^31 ms and beyond is where setTimeout fires at once; far beyond, Number precision goes too.
  assert.throws(() => parseDuration('99999999999999999999h', '--timeout'), usage(/more than 24h/))
})

test('zero and negative durations are refused', () => {
  assert.throws(() => parseDuration('0', '--timeout'), usage(/^--timeout: 0 leaves no time/))
  assert.throws(() => parseDuration('0s', '--timeout'), usage(/^--timeout: 0s leaves no time/))
  assert.throws(() => parseDuration('0h0m', '--timeout'), usage(/leaves no time/))
  assert.throws(() => parseDuration('0.0001', '--timeout'), usage(/leaves no time/), 'rounds to 0 ms')
  assert.throws(() => parseDuration('-5s', '--timeout'), usage(/^--timeout: invalid duration '-5s'/))
  assert.throws(() => parseDuration('', '--timeout'), usage(/invalid duration/))
})
