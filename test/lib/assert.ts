// Assertions on a belt run that many test files share: it succeeded, or it failed as a usage mistake must (exit 2,
// exactly one stderr line naming the bad thing, no stack trace, nothing on stdout).
import assert from 'node:assert/strict'
import type {RunResult} from './cli.js'

/** The run exited 0; its output is shown when it did not. */
export function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what}: exit ${r.code}\n${r.stderr}\n${r.stdout}`)
  return r
}

/** A usage or configuration mistake: exit 2, one stderr line matching `re`, no stack trace, nothing on stdout. */
export function usageLine(r: RunResult, re: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit code 2, got ${r.code}\n${r.stderr}\n${r.stdout}`)
  const lines = r.stderr.split('\n').filter(Boolean)
  assert.equal(lines.length, 1, `${what}: exactly one stderr line, got:\n${r.stderr}`)
  assert.match(lines[0], re, what)
  assert.doesNotMatch(r.stderr, /\n\s+at |unexpected error/, `${what}: no stack trace`)
  assert.equal(r.stdout, '', `${what}: nothing on stdout`)
}
