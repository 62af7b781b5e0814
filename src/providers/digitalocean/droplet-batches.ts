// Creating droplets: 10 names per POST /v2/droplets, several requests at a time (all paced per token, pacer.ts);
// each batch is recorded in state.json as it returns. A batch whose outcome is unknown (5xx, reset, timeout) is looked
// up by tag — once the listings have caught up with it — before anything is posted again, so retries never duplicate.
import pLimit from 'p-limit'
import type {Cluster} from '../../core/config/cluster.js'
import type {StateData} from '../../core/config/state.js'
import {backoffDelay, isInterrupted, sleep} from '../../core/wait.js'
import type {CreatePlan, CreateResult, Failure, NodeInfo} from '../provider.js'
import {stateErrorLine} from '../provider.js'
import {DoApiError, type DoScope, isAmbiguous, LISTING_RESERVE} from './api.js'
import {chunk, type Droplet, toNode} from './droplets.js'

/** DigitalOcean accepts at most 10 names per create request. */
export const CREATE_BATCH = 10
const CREATE_CONCURRENCY = 8
/** Rounds per batch for failures whose outcome is unknown (each round first looks up what exists). */
const CREATE_ROUNDS = 5
/**
 * DigitalOcean's droplet listings lag behind creates by a few seconds: after a create whose answer was lost, belt
 * lists only this long after the failure, so droplets that request made are seen and not made again.
 */
const LISTING_SETTLE_MS = Number(process.env.BELT_DO_LISTING_SETTLE_MS ?? 5000)

/** Records of created droplets are written out together at most this often (and at the end). */
const RECORD_EVERY_MS = 5000

/**
 * What one create made and failed. Writes after the API acted never turn a made droplet into a failure: they are
 * reported on their own (stateError). Created droplets are recorded in state.json together, every RECORD_EVERY_MS and
 * at the end: rewriting a state.json of 10,000 nodes after every request of 10 was most of a large create's CPU. A
 * create killed in between loses nothing: the next create records the droplets it finds by tag (recordExisting).
 */
export class CreateTally {
  readonly created: NodeInfo[] = []
  readonly failed: Failure[] = []
  private readonly unrecorded: string[] = []
  private readonly stateErrors: Error[] = []
  private readonly recordedIds = new Set<number>()
  private pending: Droplet[] = []
  private lastFlush = Date.now()

  constructor(private readonly cluster: Cluster<'digitalocean'>) {}

  /** Record droplets found existing whose ids state.json lacks (a create killed before its replies arrived). */
  recordExisting(existing: NodeInfo[]): void {
    const known = this.cluster.state.read().nodes
    const unknown = existing.filter((n) => n.id !== null && known[n.name]?.id !== n.id)
    if (unknown.length === 0) return
    const now = new Date().toISOString()
    this.tryRecord(unknown.map((n) => n.name), (s) => {
      for (const n of unknown) s.nodes[n.name] = {...s.nodes[n.name], id: n.id, created_at: s.nodes[n.name]?.created_at ?? now}
    })
  }

  /** Record droplets a create returned (or a lookup found), each once; returns how many were new. */
  recordCreated(droplets: Droplet[]): number {
    const fresh = droplets.filter((d) => !this.recordedIds.has(d.id))
    if (fresh.length === 0) return 0
    for (const d of fresh) this.recordedIds.add(d.id)
    this.pending.push(...fresh)
    if (Date.now() - this.lastFlush >= RECORD_EVERY_MS) this.flush()
    this.created.push(...fresh.map(toNode))
    return fresh.length
  }

  /** Write the droplets not yet recorded (one state.json write). */
  flush(): void {
    this.lastFlush = Date.now()
    const batch = this.pending
    if (batch.length === 0) return
    this.pending = []
    this.tryRecord(batch.map((d) => d.name), (s) => {
      for (const d of batch) s.nodes[d.name] = {id: String(d.id), created_at: d.created_at ?? new Date().toISOString()}
    })
  }

  result(existing: NodeInfo[], signal?: AbortSignal): CreateResult {
    this.flush()
    const stateError = stateErrorLine('record', this.unrecorded, this.stateErrors)
    return {created: this.created, existing, failed: this.failed, interrupted: Boolean(signal?.aborted), stateError}
  }

  private tryRecord(names: string[], change: (s: StateData) => void): void {
    const err = this.cluster.state.tryUpdate(change)
    if (err) {
      this.stateErrors.push(err)
      this.unrecorded.push(...names)
    }
  }
}

/** The POST body without names: the plan's size, region and image, the keys and tags, the template's extras. */
export function createBody(scope: DoScope, plan: CreatePlan, sshKeys: (string | number)[], tags: string[]): Record<string, unknown> {
  const image = plan.image && /^\d+$/.test(plan.image) ? Number(plan.image) : plan.image
  const s = scope.cluster.settings
  return {
    region: plan.region ?? undefined,
    size: plan.size,
    image: image ?? undefined,
    ssh_keys: sshKeys,
    tags,
    // Empty means unset; trimmed as the template's other text values are.
    user_data: s.user_data?.trim() || undefined,
    vpc_uuid: s.vpc_uuid?.trim() || undefined,
  }
}

export interface BatchRun {
  /** Its toCreate are the names to make. */
  plan: CreatePlan
  body: Record<string, unknown>
  /** The cluster's listing, for the lookup after an ambiguous create. */
  list: () => Promise<Droplet[]>
  signal?: AbortSignal
  progress: (message: string) => void
  /** Per request: replaces the body's user_data (CreateOptions.userData). */
  userData?: (names: string[]) => string
}

/** A batch that failed: its names, why, and whether the API refused it for sure (4xx). */
interface BatchFailure {
  names: string[]
  message: string
  definite: boolean
}

/** Create the plan's names in batches of 10 into the tally; names never sent because of Ctrl-C are neither created nor failed. */
export async function createInBatches(scope: DoScope, tally: CreateTally, run: BatchRun): Promise<void> {
  const {plan} = run
  const batches = chunk(plan.toCreate, CREATE_BATCH)
  const total = plan.toCreate.length
  run.progress(`creating ${total} droplet(s) of size ${plan.size} in ${plan.region}: ${batches.length} request(s) of up to ${CREATE_BATCH} names`)
  let lastReport = 0
  let reported = 0
  const record = (droplets: Droplet[]) => {
    if (tally.recordCreated(droplets) === 0) return
    const done = tally.created.length
    if (done >= total || Date.now() - lastReport > 1000) {
      lastReport = Date.now()
      reported = done
      run.progress(`created ${done}/${total}`)
    }
  }
  const batch = new BatchCreator(scope, run, record)
  // After a definite refusal (4xx) the other batches would be refused the same way: stop starting them.
  let refusal: string | null = null
  const limit = pLimit(CREATE_CONCURRENCY)
  await Promise.all(batches.map((names) => limit(async () => {
    if (run.signal?.aborted) return
    if (refusal) {
      tally.failed.push(...names.map((name) => ({name, error: `not attempted after an earlier refusal: ${refusal}`})))
      return
    }
    const error = await batch.create(names)
    if (error) {
      if (error.definite && !refusal) refusal = error.message
      tally.failed.push(...error.names.map((name) => ({name, error: error.message})))
    }
  })))
  if (reported !== tally.created.length) run.progress(`created ${tally.created.length}/${total}`)
}

class BatchCreator {
  /** The cluster listing run after an ambiguous create, shared by batches that failed before it started. */
  private lookup: {started: number; droplets: Promise<Droplet[]>} | null = null

  constructor(private readonly scope: DoScope, private readonly run: BatchRun, private readonly record: (d: Droplet[]) => void) {}

  /**
   * One batch: POST the names; when the answer does not say what happened, list the cluster, record what exists
   * and post only the names still missing. Returns the names that failed (or null); names never sent because the
   * operation was aborted are neither created nor failed.
   */
  async create(names: string[]): Promise<BatchFailure | null> {
    const {api} = this.scope
    const signal = this.run.signal
    let pending = names
    let lastError = ''
    for (let round = 1; round <= CREATE_ROUNDS && pending.length > 0; round++) {
      if (signal?.aborted) return null
      try {
        const body = {...this.run.body, names: pending, ...(this.run.userData ? {user_data: this.run.userData(pending)} : {})}
        const data = await api.call(`create ${pending.join(',')}`, (c) => c.droplet.createDroplets(body as never), signal, {reserve: LISTING_RESERVE})
        this.record(((data as {droplets?: Droplet[]}).droplets ?? []))
        return null
      } catch (err) {
        if (isInterrupted(err)) return null
        if (!isAmbiguous(err)) {
          return {names: pending, message: (err as Error).message, definite: err instanceof DoApiError && err.status !== null}
        }
        lastError = (err as Error).message
      }
      // The droplets may exist: look (even when interrupted — this is finishing in-flight work) before posting again,
      // once the listings have caught up with that request.
      let found: Droplet[]
      try {
        const settled = Date.now() + LISTING_SETTLE_MS
        await sleep(LISTING_SETTLE_MS)
        const unsure = new Set(pending)
        found = (await this.clusterLookup(settled)).filter((d) => unsure.has(d.name))
      } catch (lookupErr) {
        const message = `${lastError}; could not check which were created (${(lookupErr as Error).message}); see belt ls`
        return {names: pending, message, definite: false}
      }
      this.record(found)
      const made = new Set(found.map((d) => d.name))
      pending = pending.filter((n) => !made.has(n))
      if (pending.length === 0) return null
      await sleep(backoffDelay(round, api.pacer.backoffSteps), signal)
      if (signal?.aborted) return null
    }
    return pending.length ? {names: pending, message: lastError, definite: false} : null
  }

  /** A cluster listing that started at or after `since` (shared by batches that failed at about the same time). */
  private clusterLookup(since: number): Promise<Droplet[]> {
    if (!this.lookup || this.lookup.started < since) {
      const droplets = this.run.list()
      droplets.catch(() => {})
      this.lookup = {started: Date.now(), droplets}
    }
    return this.lookup.droplets
  }
}
