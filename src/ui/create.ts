// How belt create shows what it did (CONTRACT §4): every requested name as created, existing or failed — never
// silently absent — as a table or {"created", "existing"} JSON, with one warning line per distinct error.
import type {CreatePlan, CreateResult, NodeInfo} from '../providers/provider.js'
import {byName, info, nodesTable, out, printJson, shorten, warn} from './output.js'

export interface CreateDocument {
  created: NodeInfo[]
  existing: NodeInfo[]
  failed: {name: string; error: string}[]
  stateError: string | null
}

/** The result with every requested name accounted for; `error` is why the run stopped, when it did. */
export function createDocument(r: CreateResult, names: string[], error: string | null, interrupted: boolean): CreateDocument {
  const created = [...r.created].sort(byName)
  const existing = [...r.existing].sort(byName)
  const failed = [...r.failed]
  const accounted = new Set([...created, ...existing, ...failed].map((n) => n.name))
  const reason = error ?? (interrupted ? 'not created: interrupted before it was sent' : 'the API did not report creating it; see belt ls')
  for (const name of names) if (!accounted.has(name)) failed.push({name, error: reason})
  return {created, existing, failed, stateError: r.stateError ?? null}
}

/** `{"created", "existing"}`, plus `failed` and `state_error` when there are any. */
export function printCreateJson(doc: CreateDocument): void {
  printJson({created: doc.created, existing: doc.existing, ...(doc.failed.length ? {failed: doc.failed} : {}),
    ...(doc.stateError ? {state_error: doc.stateError} : {})})
}

export function renderCreate(doc: CreateDocument, json: boolean, o: {table?: boolean} = {}): void {
  if (json) printCreateJson(doc)
  else if (o.table !== false && doc.created.length + doc.existing.length > 0) out(nodesTable([...doc.created, ...doc.existing].sort(byName)))
  info(`created ${doc.created.length}, existing ${doc.existing.length}${doc.failed.length ? `, failed ${doc.failed.length}` : ''}`)
  // One line per distinct error (a refused batch of 2,000 names is one problem, not 2,000).
  const byError = new Map<string, string[]>()
  for (const f of doc.failed) byError.set(f.error, [...(byError.get(f.error) ?? []), f.name])
  for (const [error, failedNames] of byError) warn(`${shorten(failedNames)}: ${error}`)
  if (doc.stateError) warn(`${doc.stateError} (the nodes exist; a re-run of the same command records them)`)
}

/** The provider's notes on a plan and which names exist already. */
export function tellPlan(plan: CreatePlan, cluster: string, count: number): void {
  if (plan.sizeNote) info(plan.sizeNote)
  for (const n of plan.notes) info(n)
  if (plan.existing.length > 0) {
    info(`${plan.existing.length} of ${count} already exist in cluster '${cluster}' and are skipped: ${shorten(plan.existing.map((n) => n.name))}`)
  }
}

export function renderDryRun(plan: CreatePlan, json: boolean): void {
  info(`dry run: would create ${plan.toCreate.length} node(s) of size ${plan.size} in ${plan.region ?? 'the default region'}${plan.image ? ` from ${plan.image}` : ''}`)
  if (plan.limit) info(`account limit: ${plan.limit.used} of ${plan.limit.max} in use`)
  if (json) {
    printJson({would_create: plan.toCreate, size: plan.size, region: plan.region, image: plan.image, count: plan.toCreate.length, existing: plan.existing,
      limit: plan.limit})
  } else for (const n of plan.toCreate) out(n)
}
