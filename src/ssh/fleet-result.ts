// What the fleet operations share (provision, swarm join / leave / node changes, docker on many nodes): the result
// they hand to src/ui (CONTRACT §4's ok / already / failed, plus the hosts Ctrl-C kept from starting), the hooks
// through which they tell what happens while they run, and the fleet run with progress around it. Nothing here prints.
import type {SshEndpoint} from '../providers/provider.js'
import type {FleetOptions, FleetRun, SshContext, SshSession} from './types.js'

export interface FleetFailure {
  name: string
  error: string
}

/** One host's end: an outcome name ('joined', 'already', 'failed' …) and, for a failure, why. */
export interface HostOutcome {
  name: string
  outcome: string
  error?: string
}

export interface FleetResult {
  /** The outcome of a host that changed ('joined', 'provisioned', 'left', 'promoted' …): the summary's first row. */
  verb: string
  /** Hosts asked for. */
  total: number
  ok: string[]
  already: string[]
  /** Hosts that ran and failed, with why, by name. Hosts Ctrl-C kept from starting are in `notStarted` only. */
  failed: FleetFailure[]
  notStarted: string[]
  interrupted: boolean
}

/** Live per-host progress (src/ui/fleet.ts FleetProgress is one). */
export interface FleetProgressLike {
  start(): unknown
  record(name: string, outcome: string, error?: string): void
  stop(): Promise<void>
}

/** How a fleet operation tells its caller what happens while it runs (the ui renders; the operation never prints). */
export interface FleetHooks {
  /** A line worth telling now (stderr). */
  notice?: (line: string) => void
  /** Progress for `total` hosts, outcomes in display order (the first is the main verb). */
  progress?: (o: {total: number; outcomes: string[]; label: string; bytes?: () => {done: number; total: number | null}}) => FleetProgressLike
}

/** Natural order: node2 before node10. */
export function byNaturalName(a: string, b: string): number {
  return a.localeCompare(b, 'en', {numeric: true})
}

/** Sort per-host outcomes into a FleetResult (names in natural order). */
export function fleetResult(verb: string, rows: readonly HostOutcome[],
  run: {notStarted: string[]; interrupted: boolean} = {notStarted: [], interrupted: false}): FleetResult {
  const pick = (o: string) => rows.filter((r) => r.outcome === o).map((r) => r.name).sort(byNaturalName)
  const failed = rows.filter((r) => r.outcome === 'failed').map((r) => ({name: r.name, error: r.error ?? 'failed'}))
  return {
    verb,
    total: rows.length + run.notStarted.length,
    ok: pick(verb),
    already: pick('already'),
    failed: failed.sort((a, b) => byNaturalName(a.name, b.name)),
    notStarted: run.notStarted,
    interrupted: run.interrupted,
  }
}

/** The failures to keep or show for a result: those that ran and failed, then those Ctrl-C kept from starting. */
export function allFailures(r: FleetResult): FleetFailure[] {
  return [...r.failed, ...r.notStarted.map((name) => ({name, error: 'not started (interrupted)'}))]
}

/**
 * ssh.runFleet with the caller's live progress around it: started before the first host, every host recorded as
 * `outcomeOf` its value (or 'failed'), stopped after the last one, also when the run throws.
 */
export async function runTracked<T>(ssh: SshContext, targets: SshEndpoint[], task: (session: SshSession, signal: AbortSignal) => Promise<T>,
  opts: FleetOptions<T> & {label: string; outcomes: string[]; outcomeOf: (value: T) => string},
  hooks: FleetHooks): Promise<{run: FleetRun<T>; rows: HostOutcome[]}> {
  const {label, outcomes, outcomeOf, ...fleet} = opts
  const progress = hooks.progress?.({total: targets.length, outcomes, label})
  progress?.start()
  try {
    const run = await ssh.runFleet(targets, task, {
      ...fleet,
      onResult: (r) => progress?.record(r.name, r.ok ? outcomeOf(r.value as T) : 'failed', r.error),
    })
    const rows = run.results.map((r) => ({name: r.name, outcome: r.ok ? outcomeOf(r.value as T) : 'failed', error: r.error}))
    return {run, rows}
  } finally {
    await progress?.stop()
  }
}
