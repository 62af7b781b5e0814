// state.json of one cluster: nodes belt created or knows, the active node, last failures per command,
// and a provider-owned area (batch records, uploaded key ids, size cache). Every change is a read-change-write under
// the file's lock (lock.ts), written atomically, so parallel belt processes on one cluster never lose each other's.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {UsageError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'
import {withFileLockSync} from './lock.js'

export interface NodeRecord {
  id: string | null
  created_at?: string
  [key: string]: unknown
}

export interface FailureRecord {
  at: string
  /** Extra context for a re-run (e.g. the manager of a swarm join). */
  context?: Record<string, unknown>
  failed: {name: string; error: string}[]
}

export interface StateData {
  version: 1
  active_node: string | null
  nodes: Record<string, NodeRecord>
  failures: Record<string, FailureRecord>
  provider: Record<string, unknown>
  /** A rolling upgrade under way (belt upgrade): its target ('restart' or a version) and the nodes it finished. */
  upgrade?: {target: string; at: string; done: string[]}
  /** The swarm's managers (belt names) as `belt status` last saw them: tried after the active node. */
  swarm_managers?: string[]
  /** Boot-join waves still being watched (docker/boot-join.ts); absent when none. */
  boot_join?: unknown
  /** `belt up`: the swarm it initialised (a swarm of another id is refused) and the nodes it gave Docker TLS. */
  swarm?: SwarmRecord
}

export interface SwarmRecord {
  id: string | null
  provisioned: string[]
}

function emptyState(): StateData {
  return {version: 1, active_node: null, nodes: {}, failures: {}, provider: {}}
}

export class StateStore {
  readonly path: string
  private data: StateData | null = null

  constructor(clusterDir: string) {
    this.path = join(clusterDir, 'state.json')
  }

  read(): StateData {
    if (this.data) return this.data
    return this.load()
  }

  private load(): StateData {
    if (!existsSync(this.path)) return (this.data = emptyState())
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EISDIR') throw new UsageError(`${this.path} is a directory, not belt's state file`)
      if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`${this.path} is not accessible: permission denied`)
      throw new UsageError(`${this.path} cannot be read (${code ?? (err as Error).message})`)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      throw new UsageError(`${this.path} is not valid JSON (${(err as Error).message}); fix or remove it`)
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new UsageError(`${this.path} is not belt's state (a JSON object is expected); fix or remove it`)
    }
    this.data = {...emptyState(), ...(parsed as Partial<StateData>), version: 1}
    return this.data
  }

  /**
   * Apply a change and write it out atomically. Synchronous, so callers in one process never interleave; under the
   * lock the file is re-read first, so a change made meanwhile by another belt process on the cluster is kept.
   * Throws a PartialFailure naming the lock when another process holds it for too long.
   */
  update(change: (s: StateData) => void): StateData {
    return withFileLockSync(this.path, () => {
      const s = this.load()
      change(s)
      writeFileAtomic(this.path, JSON.stringify(s, null, 2) + '\n', 0o600)
      return s
    })
  }

  /**
   * update() for records of what the cloud already did: a failed write is returned, not thrown, so the caller still
   * reports the node as made (and the write problem separately).
   */
  tryUpdate(change: (s: StateData) => void): Error | null {
    try {
      this.update(change)
      return null
    } catch (err) {
      return err as Error
    }
  }
}
