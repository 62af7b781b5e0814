// Run one tool under /usr/bin/time and sample its process tree: wall time, orchestrator CPU (user + sys of the tool
// and every child it waited for, from getrusage(RUSAGE_CHILDREN) as GNU time reports it), the largest single
// process's max RSS (GNU time %M) and the peak of the summed RSS of the whole process tree (sampled from /proc).
import {spawn} from 'node:child_process'
import {closeSync, openSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {killTree, treeRss} from './proc.js'

export interface Measured {
  wallS: number
  userS: number
  sysS: number
  cpuS: number
  /** GNU time %M: the largest max RSS of any one process in the tree (for belt: belt's own peak). */
  maxRssBytes: number
  /** Peak over samples of the summed RSS of every process in the tree. */
  peakTreeRssBytes: number
  /** Peak of the summed PSS (shared pages split between their sharers) of the tree, sampled once a second. */
  peakTreePssBytes: number
  /** Most processes seen in the tree at one sample. */
  peakProcs: number
  samples: number
  exitCode: number | null
  signal: NodeJS.Signals | null
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** stdout and stderr of the tool go here (file path). */
  outputPath: string
  sampleMs?: number
  timeoutMs?: number
}

/** Trees still running (so Ctrl-C can end them). */
export const running = new Set<number>()

export function measure(cmd: string, args: string[], opts: MeasureOptions): Promise<Measured> {
  const timeFile = join(tmpdir(), `bb-time-${process.pid}-${Date.now()}`)
  const out = openSync(opts.outputPath, 'w')
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', out, out],
      detached: true,
    })
    const pid = child.pid!
    running.add(pid)
    let peak = 0
    let peakProcs = 0
    let samples = 0
    let peakPss = 0
    const sample = () => {
      // PSS (smaps_rollup) costs more to read: every 10th sample, i.e. once a second.
      const {bytes, pss, procs} = treeRss(pid, samples % 10 === 5)
      samples++
      if (bytes > peak) peak = bytes
      if (pss > peakPss) peakPss = pss
      if (procs > peakProcs) peakProcs = procs
    }
    const timer = setInterval(sample, opts.sampleMs ?? 100)
    const killer = opts.timeoutMs ? setTimeout(() => killTree(pid), opts.timeoutMs) : null
    child.on('error', (e) => {
      clearInterval(timer)
      reject(e)
    })
    child.on('exit', (code, signal) => {
      const wallS = Number(process.hrtime.bigint() - t0) / 1e9
      clearInterval(timer)
      if (killer) clearTimeout(killer)
      running.delete(pid)
      closeSync(out)
      let userS = NaN
      let sysS = NaN
      let maxRssKb = NaN
      try {
        // GNU time writes "Command exited with non-zero status N" first when the tool failed.
        const lines = readFileSync(timeFile, 'utf8').trim().split('\n')
        const f = lines[lines.length - 1].split(' ').map(Number)
        ;[, userS, sysS, maxRssKb] = f
      } catch {
        // killed before time could write
      }
      rmSync(timeFile, {force: true})
      resolve({
        wallS,
        userS,
        sysS,
        cpuS: userS + sysS,
        maxRssBytes: maxRssKb * 1024,
        peakTreeRssBytes: Math.max(peak, maxRssKb * 1024 || 0),
        peakTreePssBytes: peakPss,
        peakProcs,
        samples,
        exitCode: code,
        signal,
      })
    })
  })
}

/** Run a command `runs` times (sequentially) and return each wall time in ms. */
export async function wallTimes(cmd: string, args: string[], runs: number, opts: {env?: NodeJS.ProcessEnv; cwd?: string}): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise<void>((resolve, reject) => {
      const c = spawn(cmd, args, {env: opts.env, cwd: opts.cwd, stdio: ['ignore', 'ignore', 'pipe']})
      let err = ''
      c.stderr.on('data', (d) => (err += d))
      c.on('error', reject)
      c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`))))
    })
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  return times
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
