// Debug logging (DEBUG=belt* or --debug). Never pass secrets to it.
import createDebug from 'debug'

export function debugLog(namespace: string): createDebug.Debugger {
  return createDebug(`belt:${namespace}`)
}

export function debugEnabled(): boolean {
  return process.argv.includes('--debug') || createDebug.enabled('belt')
}
