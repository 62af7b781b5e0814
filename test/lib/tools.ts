// Which real parts this machine has, and what a test does when one is missing. Locally a test that cannot run is
// skipped with the reason; under CI (`CI` set, as `.ci/run` gets it) it is a failure naming the missing part, because
// ./scripts/setup installs every part there and a green run must mean every test ran.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import type {TestContext} from 'node:test'

/** True under CI: any non-empty value but `0` / `false` (GitHub, GitLab and .ci/run set `CI=true`). */
export const UNDER_CI = !/^(|0|false|no)$/i.test(process.env.CI ?? '')

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

export interface Needs {
  /** Why root is needed (e.g. 'network namespaces'); omitted: root is not needed. */
  root?: string
  /** Commands that must be on PATH (or in /usr/sbin). */
  commands?: string[]
  /** Files that must exist (e.g. '/bin/busybox'). */
  files?: string[]
}

/** What this machine lacks for a test, in one line, or false when it has everything. */
export function lacking(needs: Needs): string | false {
  const why: string[] = []
  if (needs.root && process.getuid?.() !== 0) why.push(`needs root (${needs.root})`)
  const commands = (needs.commands ?? []).filter((c) => !have(c))
  const files = (needs.files ?? []).filter((f) => !existsSync(f))
  if (commands.length + files.length > 0) why.push(`needs ${[...commands, ...files].join(', ')} (not installed; ./scripts/setup installs them)`)
  return why.length > 0 ? why.join('; ') : false
}

/**
 * The `skip` option for tests that need `needs`: false when this machine has it all; locally the reason (the test is
 * skipped); under CI it throws, so the file fails with the reason instead of reporting a silent skip.
 */
export function skipUnless(needs: Needs): string | false {
  return skipOrFail(lacking(needs))
}

export function skipOrFail(why: string | false): string | false {
  if (!why) return false
  if (UNDER_CI) throw new Error(`cannot run under CI: ${why}`)
  return why
}

/** Inside a test: true when `cond` holds; otherwise skips the test locally (false) and fails it under CI. */
export function requireOrSkip(t: TestContext, cond: boolean, why: string): boolean {
  if (cond) return true
  if (UNDER_CI) assert.fail(`cannot run under CI: ${why}`)
  t.skip(why)
  return false
}
