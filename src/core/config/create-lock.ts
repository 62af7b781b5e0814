// The per-cluster create lock (belt create): one create at a time per cluster, from planning until the API's replies
// are recorded, so a parallel create of overlapping names plans after this one's nodes exist.
import {mkdirSync, rmdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {UsageError} from '../errors.js'
import type {Cluster} from './cluster.js'
import {acquireLock} from './lock.js'

/** How long a create waits for another create on the same cluster (2,000 droplets take a few minutes). */
const CREATE_LOCK_WAIT_MS = 15 * 60_000

/**
 * Take the create lock (CREATE_LOCK_WAIT_MS at most; `onWait` once when it has to wait). When the cluster's folder
 * cannot be written, `unwritable` is the usage error to raise after planning, so the provider's own checks (such as
 * the local driver's "needs root") speak first. A folder made only for the lock is removed on release when nothing
 * else was written there.
 */
export async function lockCreate(cluster: Cluster, signal: AbortSignal,
  onWait: (line: string) => void): Promise<{release: () => Promise<void>; unwritable: UsageError | null}> {
  let madeDir: string | undefined
  try {
    madeDir = mkdirSync(cluster.dir, {recursive: true})
    const release = await acquireLock(join(cluster.dir, 'create'), {
      waitMs: CREATE_LOCK_WAIT_MS, signal, what: `another belt create on cluster '${cluster.name}'`,
      onWait: () => onWait(`waiting for another belt create on cluster '${cluster.name}'`),
    })
    return {release: async () => {
      await release()
      if (madeDir) removeIfEmpty(cluster.dir, madeDir)
    }, unwritable: null}
  } catch (err) {
    const code = permissionError(err)
    if (!code) throw err
    return {release: async () => {}, unwritable: new UsageError(`cannot write in ${cluster.dir} (${code}); belt create records its nodes there`)}
  }
}

/** EACCES, EPERM or EROFS (of the error or its cause), else null. */
function permissionError(err: unknown): string | null {
  const code = (err as {code?: string}).code ?? (err as {cause?: {code?: string}}).cause?.code
  return code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? code : null
}

/** rmdir `dir` and its parents up to `top` while they are empty (a failed create leaves no empty .belt folder). */
function removeIfEmpty(dir: string, top: string): void {
  for (let d = dir; d.startsWith(top); d = dirname(d)) {
    try {
      rmdirSync(d)
    } catch {
      return
    }
  }
}
