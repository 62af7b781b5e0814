// TLS section: the key and certificate generation for N nodes, timed by bench/tls.ts (owned by the TLS work;
// called here, not rewritten). It prints one JSON document; we take its own timing when it gives one.
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {ROOT} from './join.js'

export interface TlsResult {
  nodes: number
  totalMs: number
  msPerNode: number
  /** What bench/tls.ts printed. */
  report?: unknown
  error?: string
}

export async function runTls(opts: {nodes: number; log: (l: string) => void}): Promise<TlsResult> {
  const script = join(ROOT, 'bench', 'tls.ts')
  if (!existsSync(script)) return {nodes: opts.nodes, totalMs: NaN, msPerNode: NaN, error: 'bench/tls.ts is not there yet'}
  opts.log(`tls: ${opts.nodes} nodes …`)
  const t0 = process.hrtime.bigint()
  const {code, stdout, stderr} = await new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
    const c = spawn(process.execPath, ['--import', 'tsx', script, String(opts.nodes)], {cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe']})
    let stdout = ''
    let stderr = ''
    c.stdout.setEncoding('utf8').on('data', (d) => (stdout += d))
    c.stderr.setEncoding('utf8').on('data', (d) => (stderr += d))
    c.on('error', reject)
    c.on('exit', (code) => resolve({code, stdout, stderr}))
  })
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6
  if (code !== 0) return {nodes: opts.nodes, totalMs: NaN, msPerNode: NaN, error: `bench/tls.ts exited ${code}: ${stderr.trim().split('\n').pop()}`}
  let report: Record<string, unknown> = {}
  try {
    report = JSON.parse(stdout)
  } catch {
    return {nodes: opts.nodes, totalMs: NaN, msPerNode: NaN, error: 'bench/tls.ts did not print JSON'}
  }
  const num = (...keys: string[]) => {
    for (const k of keys) if (typeof report[k] === 'number') return report[k] as number
    return undefined
  }
  const nodes = num('nodes', 'n', 'count') ?? opts.nodes
  // Its own measurement excludes the TypeScript loader's start-up; fall back to the subprocess wall time.
  const totalMs = num('totalMs', 'total_ms', 'ms', 'elapsedMs') ?? wallMs
  return {nodes, totalMs, msPerNode: totalMs / nodes, report}
}
