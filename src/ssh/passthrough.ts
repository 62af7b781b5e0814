// Wiring this terminal to one remote command (belt docker / belt ssh on one host): stdin, stdout, stderr and the exit
// code pass straight through; a PTY (raw mode, window size) when the local stdin is a terminal.
import {constants} from 'node:os'
import type {SshSession, StreamResult} from './types.js'

export interface PassthroughOptions {
  /** Allocate a PTY. Default: when stdin is a terminal. */
  tty?: boolean
  sudo?: boolean
  /** --timeout: stop waiting for the command when it aborts. */
  signal?: AbortSignal
}

/** Run `command` (null: login shell) wired to this process's stdio; resolves with the result. */
export async function passthrough(session: SshSession, command: string | null, opts: PassthroughOptions = {}): Promise<StreamResult> {
  const stdin = process.stdin
  const tty = opts.tty ?? Boolean(stdin.isTTY)
  const rawable = tty && stdin.isTTY && typeof stdin.setRawMode === 'function'
  if (rawable) stdin.setRawMode(true)
  try {
    return await session.stream(command, {
      pty: tty ? {term: process.env.TERM || 'xterm-256color', rows: process.stdout.rows || 24, cols: process.stdout.columns || 80} : false,
      stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      sudo: opts.sudo,
      signal: opts.signal,
      onResize: tty && process.stdout.isTTY
        ? (apply) => {
          const h = () => apply(process.stdout.rows, process.stdout.columns)
          process.stdout.on('resize', h)
          return () => process.stdout.off('resize', h)
        }
        : undefined,
    })
  } finally {
    if (rawable) stdin.setRawMode(false)
  }
}

/** The exit code to return for a finished remote command (CONTRACT §5); 255 when SSH lost the connection. */
export function exitCodeOf(r: {code: number | null; signal: string | null; lost?: boolean}): number {
  if (typeof r.code === 'number') return r.code
  if (r.signal) {
    const n = (constants.signals as Record<string, number>)[r.signal.startsWith('SIG') ? r.signal : `SIG${r.signal}`]
    return n ? 128 + n : 255
  }
  return 255
}
