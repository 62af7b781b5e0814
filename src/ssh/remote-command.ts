// The user's own command on nodes (belt docker, belt ssh): on one host wired straight to this terminal; on many in
// parallel, each host's output captured (--json) or streamed through the caller's writers, with a result per host.
import {onInterrupt} from '../core/interrupt.js'
import type {SshEndpoint} from '../providers/provider.js'
import {oneLine, stepSignal} from './fleet.js'
import {byNaturalName, fleetResult, type FleetResult} from './fleet-result.js'
import {passthrough} from './passthrough.js'
import type {ExecResult, HostResult, SshContext, StreamResult} from './types.js'

/** One host's pass-through: the remote command's result, or why SSH could not log in. */
export type HostPassthrough = StreamResult | {connectError: string}

/**
 * Connect and wire `command` (null: a login shell) to this terminal. `timeoutMs`, when given, bounds the connection
 * and the command together; without it nothing is cut off, so `docker logs -f` or a shell run until they end.
 */
export async function passthroughOn(ssh: SshContext, ep: SshEndpoint, command: string | null,
  opts: {tty?: boolean; sudo?: boolean; timeoutMs?: number}): Promise<HostPassthrough> {
  const step = stepSignal(opts.timeoutMs)
  try {
    let session
    try {
      session = await ssh.connect(ep, {signal: step.signal})
    } catch (err) {
      return {connectError: oneLine(err)}
    }
    try {
      return await passthrough(session, command, {tty: opts.tty, sudo: opts.sudo, signal: step.signal})
    } finally {
      session.close()
    }
  } finally {
    step.dispose()
  }
}

/** What --json shows of one host's run. */
export interface HostOutput {
  name: string
  exit_code: number | null
  stdout: string
  stderr: string
  error: string | null
  duration_ms: number
}

export interface FleetCommandResult extends FleetResult {
  hosts: HostOutput[]
}

/** Writers for one host's stdout and stderr (the ui prefixes every line with the host's name). */
export interface HostWriters {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  close(): Promise<void>
}

/** Per-host output kept when captured (stdout and stderr each); less per host for big fleets so memory stays bounded. */
const captureBytes = (hosts: number) => (hosts > 200 ? 16 * 1024 : 64 * 1024)

/**
 * `command` on every endpoint in parallel, no stdin: as root (belt docker) unless `sudo` is false (belt ssh runs as the
 * login user, as OpenSSH does). With `writers`, output streams through them as it comes; without, it is captured for
 * the result, and a failure names the first line of the host's stderr.
 */
export async function runOnFleet(ssh: SshContext, endpoints: SshEndpoint[], command: string,
  o: {concurrency: number; timeoutMs?: number; writers?: (name: string) => HostWriters; sudo?: boolean}): Promise<FleetCommandResult> {
  const sudo = o.sudo ?? true
  const scope = onInterrupt()
  let run
  try {
    run = await ssh.runFleet(endpoints, async (session, signal): Promise<ExecResult> => {
      if (!o.writers) return session.exec(command, {sudo, signal, maxOutputBytes: captureBytes(endpoints.length)})
      const w = o.writers(session.endpoint.name)
      try {
        return await session.exec(command, {sudo, signal, stdout: w.stdout, stderr: w.stderr})
      } finally {
        await w.close()
      }
    }, {concurrency: o.concurrency, timeoutMs: o.timeoutMs, retries: 2, jitterMs: Math.min(1000, endpoints.length * 5), signal: scope.signal})
  } finally {
    scope.dispose()
  }
  const results = [...run.results].sort((a, b) => byNaturalName(a.name, b.name))
  const failureOf = (r: HostResult<ExecResult>): string | null => {
    if (!r.ok) return r.error ?? 'failed'
    const v = r.value!
    if (v.code === 0) return null
    const why = v.code === null ? `killed by ${v.signal}` : `exit code ${v.code}`
    const first = o.writers ? undefined : v.stderr.split('\n').map((l) => l.trim()).find(Boolean)
    return first ? `${why}: ${first}` : why
  }
  const hosts = results.map((r) => ({
    name: r.name,
    exit_code: r.ok ? r.value!.code : null,
    stdout: r.ok ? r.value!.stdout : '',
    stderr: r.ok ? r.value!.stderr : '',
    error: failureOf(r),
    duration_ms: r.durationMs,
  }))
  const rows = hosts.map((h) => (h.error === null ? {name: h.name, outcome: 'ok'} : {name: h.name, outcome: 'failed', error: h.error}))
  return {...fleetResult('ok', rows, run), hosts}
}
