// state.json of one cluster: nodes belt created or knows, the active node, last failures per command,
// and a provider-owned area (batch records, uploaded key ids, size cache). Written atomically on every change.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {UsageError} from '../errors.js'
import {writeFileAtomic} from './atomic.js'

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
    try {
      const parsed = JSON.parse(readFileSync(this.path, 'utf8')) as Partial<StateData>
      this.data = {...emptyState(), ...parsed, version: 1}
    } catch (err) {
      throw new UsageError(`${this.path} is not valid JSON (${(err as Error).message}); fix or remove it`)
    }
    return this.data
  }

  /**
   * Apply a change and write it out atomically. Synchronous, so callers in one process never interleave; the file is
   * re-read first so a change made meanwhile by another belt process on the same cluster is kept, not overwritten.
   */
  update(change: (s: StateData) => void): StateData {
    const s = this.load()
    change(s)
    writeFileAtomic(this.path, JSON.stringify(s, null, 2) + '\n', 0o600)
    return s
  }
}
