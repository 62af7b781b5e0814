// How `belt create --join` shows what it did (CONTRACT §11): the create's table, then who joined at boot (or over
// SSH), who did not and why, whether the token was rotated; --json is {"created", "existing", "joined", "failed"}.
import type {WaveResult} from '../docker/boot-join.js'
import type {CreateDocument} from './create.js'
import {renderCreate} from './create.js'
import {info, out, printJson, shorten, warn} from './output.js'

export interface BootJoinDocument {
  create: CreateDocument
  /** Null when nothing was watched (nothing created, or the run stopped before). */
  wave: WaveResult | null
}

export function bootJoinJson(d: BootJoinDocument): Record<string, unknown> {
  return {
    created: d.create.created,
    existing: d.create.existing,
    joined: d.wave?.joined ?? [],
    failed: [...d.create.failed, ...(d.wave?.failed ?? [])],
    ...(d.create.stateError ? {state_error: d.create.stateError} : {}),
  }
}

export function renderBootJoin(d: BootJoinDocument, json: boolean): void {
  if (json) printJson(bootJoinJson(d))
  // The create's own lines (table on stdout only without --json, summary and failures on stderr).
  renderCreate(d.create, false, {table: !json})
  const w = d.wave
  if (!w) return
  const boot = w.joined.length - w.viaSsh.length
  info(`joined ${w.joined.length}: ${boot} by themselves at boot${w.viaSsh.length ? `, ${w.viaSsh.length} over SSH (--fallback ssh)` : ''}` +
    `${w.failed.length ? `; ${w.failed.length} did not join` : ''} (swarm of ${w.manager})`)
  const byError = new Map<string, string[]>()
  for (const f of w.failed) byError.set(f.error, [...(byError.get(f.error) ?? []), f.name])
  for (const [error, names] of byError) warn(`${shorten(names)}: ${error}`)
  if (w.duplicatesRemoved.length) info(`removed Down duplicates from the swarm: ${w.duplicatesRemoved.join(', ')}`)
  if (w.rotated) info(`rotated the worker join token on ${w.manager} (the one in the nodes' user data no longer joins)`)
  else if (w.rotateNote) (w.rotateNote.startsWith('could not') ? warn : info)(w.rotateNote)
}

/** --print-command: the user data of the first create request, token redacted. */
export function printUserData(description: string, userData: string): void {
  out(`# ${description}`)
  out('# the user data of each create request (the join token redacted):')
  out(userData.trimEnd())
}
