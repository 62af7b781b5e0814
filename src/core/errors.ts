// The two kinds of error a user can meet. Everything else is a bug and shows a stack only with --debug.

/** A usage or configuration mistake, found before anything changed: one line, exit 2. */
export class UsageError extends Error {
  readonly exitCode = 2
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** It ran and something failed (a host, an API call, a timeout): the summary was printed, exit 1. */
export class PartialFailure extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode = 1) {
    super(message)
    this.name = 'PartialFailure'
    this.exitCode = exitCode
  }
}

/** Ctrl-C: no new work started, what was in flight finished or recorded; exit 130. */
export class Interrupted extends PartialFailure {
  constructor(message = 'interrupted') {
    super(message, 130)
    this.name = 'Interrupted'
  }
}

export function isUserFacing(err: unknown): err is UsageError | PartialFailure {
  return err instanceof UsageError || err instanceof PartialFailure
}
