// What the local driver needs from this machine: the tools it runs (and the Debian packages that bring them),
// running them, reading /proc, killing a host's processes, and a per-cluster lock so two belt commands never
// change one cluster's hosts at the same time.
import {spawn} from 'node:child_process'
import {closeSync, existsSync, openSync, readFileSync, readdirSync, readlinkSync, unlinkSync, writeSync, mkdirSync} from 'node:fs'
import {delimiter, dirname, join} from 'node:path'
import {UsageError} from '../../core/errors.js'
import {debugLog} from '../../core/debug.js'
import {poll} from '../../core/wait.js'

const debug = debugLog('local')

/** Tool → Debian package that installs it. */
export const REQUIRED_TOOLS: Record<string, string> = {
  dockerd: 'docker.io',
  docker: 'docker.io',
  sshd: 'openssh-server',
  'ssh-keygen': 'openssh-client',
  ip: 'iproute2',
  nsenter: 'util-linux',
  unshare: 'util-linux',
  setsid: 'util-linux',
  iptables: 'iptables',
  mount: 'mount',
  bash: 'bash',
}

const SYSTEM_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

/** Absolute path of a tool on PATH or in the usual system folders (root's sbin folders are often not on PATH). */
export function findTool(name: string, path = process.env.PATH ?? ''): string | null {
  const dirs = [...path.split(delimiter).filter(Boolean), ...SYSTEM_DIRS]
  for (const d of dirs) {
    const p = join(d, name)
    if (existsSync(p)) return p
  }
  return null
}

/** Tools not found, with the packages to install. Pure given `find`, so it is testable. */
export function missingTools(find: (name: string) => string | null = (n) => findTool(n)): {tools: string[]; packages: string[]} {
  const tools = Object.keys(REQUIRED_TOOLS).filter((t) => !find(t))
  const packages = [...new Set(tools.map((t) => REQUIRED_TOOLS[t]))]
  return {tools, packages}
}

/** Refuse early (exit 2) when this machine cannot run local hosts. */
export function preflight(): void {
  if (process.platform !== 'linux') throw new UsageError('the local driver runs only on Linux (it uses network and mount namespaces)')
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UsageError('the local driver needs root (it creates network namespaces, a bridge and iptables rules, ' +
      'and runs sshd and dockerd): run belt as root')
  }
  const {tools, packages} = missingTools()
  if (tools.length) {
    throw new UsageError(`the local driver needs ${tools.join(', ')}: install them with: apt-get install -y ${packages.join(' ')}`)
  }
}

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Run a tool to completion. Throws with its stderr unless `allowFail`. */
export function run(cmd: string, args: string[], opts: {allowFail?: boolean; input?: string; timeoutMs?: number} = {}): Promise<RunResult> {
  const bin = cmd.startsWith('/') ? cmd : findTool(cmd) ?? cmd
  debug('run %s %o', bin, args)
  return new Promise((resolvePromise, reject) => {
    // detached: a Ctrl-C at the terminal reaches belt (which finishes what is in flight), not the tools it runs.
    const child = spawn(bin, args, {detached: true, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000)
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(new Error(`${cmd}: ${err.message}`))
    })
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code !== 0 && !opts.allowFail) {
        const why = stderr.trim().split('\n').pop() || `exit code ${code}`
        reject(new Error(`${cmd} ${args.join(' ')}: ${why}`))
      } else resolvePromise({code, stdout, stderr})
    })
    if (child.stdin) {
      child.stdin.on('error', () => {})
      child.stdin.end(opts.input)
    }
  })
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
  // A zombie still answers kill 0: it is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return false
  }
}

export function readLink(path: string): string | null {
  try {
    return readlinkSync(path)
  } catch {
    return null
  }
}

export function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

/** Every process id on this machine. */
export function allPids(): number[] {
  return readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number)
}

/** Processes whose command line has `arg` as one whole argument. */
export function pidsWithArg(arg: string): number[] {
  const out: number[] = []
  for (const pid of allPids()) {
    if (pid === process.pid) continue
    const cmdline = readText(`/proc/${pid}/cmdline`)
    if (cmdline && cmdline.split('\0').includes(arg)) out.push(pid)
  }
  return out
}

/** SIGKILL the processes and wait (bounded) until they are gone. */
export async function killAndWait(pids: Iterable<number>, timeoutMs = 15_000): Promise<number[]> {
  const list = [...new Set(pids)].filter((p) => p > 1 && p !== process.pid)
  for (const p of list) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
  let alive = list
  await poll(async () => (alive = alive.filter(isAlive)), {done: (left) => left.length === 0, timeoutMs, intervalMs: 25})
  return alive
}

/**
 * A per-cluster lock (a file created with O_EXCL holding our pid). A lock left by a dead process is taken over.
 * Waits up to `waitMs` for a live holder, then refuses.
 */
export async function withLock<T>(lockFile: string, what: string, fn: () => Promise<T>, waitMs = 120_000): Promise<T> {
  mkdirSync(dirname(lockFile), {recursive: true})
  const taken = await poll(async () => tryLock(lockFile), {done: (holder) => holder === null, timeoutMs: waitMs, intervalMs: 200})
  if (!taken.reached) throw new UsageError(`another belt command (pid ${taken.last}) is changing ${what}; try again when it has finished`)
  try {
    return await fn()
  } finally {
    try {
      if (readText(lockFile)?.trim() === String(process.pid)) unlinkSync(lockFile)
    } catch {}
  }
}

/** Take the lock file: null when it is ours now, else the live holder's pid (a dead holder's lock is taken over). */
function tryLock(lockFile: string): number | null {
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o644)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      return null
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(readText(lockFile)?.trim())
      if (holder && isAlive(holder)) return holder
      try {
        unlinkSync(lockFile)
      } catch {}
    }
  }
}
