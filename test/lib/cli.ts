// Run the real `belt` binary (bin/run.js → dist/) as a subprocess, in a scratch working directory.
import {spawn} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const BELT = join(ROOT, 'bin', 'run.js')

export interface RunResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunOptions {
  cwd: string
  env?: Record<string, string | undefined>
  input?: string
  /** Called with the child once started (e.g. to send SIGINT at the right moment). */
  onSpawn?: (child: import('node:child_process').ChildProcess) => void
  timeoutMs?: number
}

/** A clean environment: no cloud tokens or BELT_* leaking from the developer's shell. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue
    if (/^(BELT_|DIGITALOCEAN_|AWS_|DEBUG$|SSH_AUTH_SOCK$)/.test(k)) continue
    env[k] = v
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v
  return env
}

export function belt(args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    // The DigitalOcean pacer shares its minute window between belt processes of one token through a file; each
    // test's processes share one file in its own folder, so tests running side by side don't slow each other down.
    const env = cleanEnv({BELT_API_WINDOW_FILE: join(opts.cwd, '.belt-api-window.json'), ...opts.env})
    const child = spawn(process.execPath, [BELT, ...args], {cwd: opts.cwd, env, stdio: ['pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({code, signal, stdout, stderr})
    })
    if (opts.input !== undefined) child.stdin.end(opts.input)
    else child.stdin.end()
    opts.onSpawn?.(child)
  })
}

export function scratchDir(prefix = 'belt-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})}
}

/** stderr without the line naming a non-default DigitalOcean origin (every run against the fake API prints it). */
export function withoutApiNotice(stderr: string): string {
  return stderr.split('\n').filter((l) => !l.startsWith('sending the DigitalOcean token to ')).join('\n')
}
