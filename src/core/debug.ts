// Debug logging (DEBUG=belt* or --debug). Never pass secrets to it; what it writes is scrubbed anyway (redact.ts).
import {formatWithOptions, type InspectOptions} from 'node:util'
import createDebug from 'debug'
import {restrictDebugEnv} from './debug-env.js'
import {redact} from './redact.js'

// bin/run.js has narrowed DEBUG already; this covers belt loaded another way, and re-reads the narrowed value for
// any debugger a library made before.
restrictDebugEnv(process.env)
createDebug.enable(process.env.DEBUG ?? '')
createDebug.log = (...args: unknown[]) => {
  process.stderr.write(redact(formatWithOptions((createDebug.inspectOpts ?? {}) as InspectOptions, ...args)) + '\n')
}

// NODE_DEBUG is read by Node itself before any of belt runs, and its http section prints request headers: when it is
// set, whatever reaches stderr is scrubbed.
if (process.env.NODE_DEBUG) scrubStderr()

function scrubStderr(): void {
  const write = process.stderr.write.bind(process.stderr) as (chunk: unknown, ...rest: unknown[]) => boolean
  const scrubbed = (chunk: unknown, ...rest: unknown[]): boolean => {
    const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : null
    return text === null ? write(chunk, ...rest) : write(redact(text), ...rest)
  }
  process.stderr.write = scrubbed as typeof process.stderr.write
}

export function debugLog(namespace: string): createDebug.Debugger {
  return createDebug(`belt:${namespace}`)
}

/** Turn debug output on for this process (belt's own --debug; main.ts decides which --debug is belt's). */
export function enableDebug(): void {
  restrictDebugEnv(process.env)
  if (!process.env.DEBUG) process.env.DEBUG = 'belt*'
  createDebug.enable(process.env.DEBUG)
}

export function debugEnabled(): boolean {
  return createDebug.enabled('belt') || createDebug.enabled('belt:*')
}
