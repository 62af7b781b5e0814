// Ctrl-C for long operations: the first SIGINT aborts the signal (no new work starts, in-flight work finishes
// or is recorded, a summary is printed, exit 130); a second one exits at once.

export interface InterruptScope {
  signal: AbortSignal
  interrupted(): boolean
  dispose(): void
}

/** `quiet`: Ctrl-C is the expected end (a follow-stream such as logs -f): no notice. */
export function onInterrupt(o: {quiet?: boolean} = {}): InterruptScope {
  const ac = new AbortController()
  let count = 0
  const handler = () => {
    count++
    if (count === 1) {
      if (!o.quiet) process.stderr.write('\ninterrupted: finishing what is in flight (Ctrl-C again to quit now)\n')
      ac.abort()
    } else process.exit(130)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    signal: ac.signal,
    interrupted: () => ac.signal.aborted,
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
