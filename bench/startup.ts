// Start-up: `belt cluster ls` (reads .belt/, every cluster's config and state; no network) against `node -e 0`.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {BELT_BIN} from './join.js'
import {median, wallTimes} from './measure.js'

export interface StartupResult {
  runs: number
  clusters: number
  beltMedianMs: number
  nodeMedianMs: number
  ratio: number
  beltMs: number[]
  nodeMs: number[]
}

export async function runStartup(runs = 21): Promise<StartupResult> {
  const dir = mkdtempSync(join(tmpdir(), 'bb-startup-'))
  try {
    const env: NodeJS.ProcessEnv = {...process.env, BELT_DIR: join(dir, '.belt')}
    delete env.BELT_CLUSTER
    delete env.DEBUG
    const drivers = ['generic', 'local', 'digitalocean', 'ec2']
    for (const [i, d] of drivers.entries()) {
      await wallTimes(process.execPath, [BELT_BIN, 'cluster', 'new', `c${i}-${d}`, '--driver', d], 1, {env, cwd: dir})
    }
    // Warm both once (page cache), then alternate so drift hits both equally.
    await wallTimes(process.execPath, [BELT_BIN, 'cluster', 'ls'], 2, {env, cwd: dir})
    await wallTimes(process.execPath, ['-e', '0'], 2, {env, cwd: dir})
    const beltMs: number[] = []
    const nodeMs: number[] = []
    for (let i = 0; i < runs; i++) {
      beltMs.push(...(await wallTimes(process.execPath, [BELT_BIN, 'cluster', 'ls'], 1, {env, cwd: dir})))
      nodeMs.push(...(await wallTimes(process.execPath, ['-e', '0'], 1, {env, cwd: dir})))
    }
    const b = median(beltMs)
    const n = median(nodeMs)
    return {runs, clusters: drivers.length, beltMedianMs: b, nodeMedianMs: n, ratio: b / n, beltMs, nodeMs}
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
