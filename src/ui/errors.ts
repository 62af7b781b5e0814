// Turning any error into what the user sees: one line and an exit code; a stack only with --debug / DEBUG=belt*.
import {Errors} from '@oclif/core'
import {isUserFacing} from '../core/errors.js'
import {redact} from '../core/redact.js'
import {debugEnabled} from '../core/debug.js'

export function exitCodeFor(err: unknown): number {
  if (isUserFacing(err)) return err.exitCode
  const oclif = (err as {oclif?: {exit?: number}})?.oclif
  if (oclif && typeof oclif.exit === 'number') return oclif.exit
  return 1
}

export function handleError(err: unknown): never {
  const code = exitCodeFor(err)
  // oclif's this.exit(n) throws an ExitError: nothing to print.
  if (err instanceof Errors.ExitError) process.exit(code)
  const debug = debugEnabled()
  const message = redact(firstLine(err))
  if (isUserFacing(err)) {
    if (message) process.stderr.write(`belt: ${message}\n`)
  } else if ((err as {oclif?: unknown})?.oclif) {
    // oclif's own parse errors (unknown flag, missing argument): usage errors, exit 2.
    process.stderr.write(`belt: ${message}\n`)
  } else {
    process.stderr.write(`belt: unexpected error: ${message}${debug ? '' : ' (run with --debug for details)'}\n`)
  }
  if (debug && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n')
  process.exit(code)
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  // oclif wraps messages with ANSI and a "See more help" line; keep the substance.
  return msg.replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? ''
}
