// Debug logging (DEBUG=belt* or --debug). Never pass secrets to it.
import createDebug from 'debug'

export function debugLog(namespace: string): createDebug.Debugger {
  return createDebug(`belt:${namespace}`)
}

/** Turn debug output on for this process (belt's own --debug; main.ts decides which --debug is belt's). */
export function enableDebug(): void {
  if (!process.env.DEBUG) process.env.DEBUG = 'belt*'
  createDebug.enable(process.env.DEBUG)
}

export function debugEnabled(): boolean {
  return createDebug.enabled('belt') || createDebug.enabled('belt:*')
}
