// `belt monitor`: the cluster's monitoring stack (node-exporter, Prometheus, Grafana; rendered in monitor-files.ts).
// This module owns where its files live — `.belt/<cluster>/monitor/`: the versionable stack.yml and the files it
// names, and the generated Grafana admin password (0600, in a 0700 folder; its path is shown, never its content) —
// the remote commands that deploy and remove the stack through one manager (each a named string, shown by
// --print-command), and the --forward tunnel from 127.0.0.1 to Grafana over SSH.
import {chmodSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import {writeFileAtomic} from '../core/config/atomic.js'
import {COMMON_KEYS} from '../core/config/schema.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {registerSecret} from '../core/redact.js'
import {poll} from '../core/wait.js'
import type {SshEndpoint} from '../providers/provider.js'
import {createSshContext, type BeltSshContext} from '../ssh/context.js'
import {formatSeconds, oneLine, stepSignal} from '../ssh/fleet.js'
import {forwardLocalPort, PortInUseError} from '../ssh/forward.js'
import {shellQuote as q} from '../ssh/quote.js'
import {activeNodeName, endpointsFor} from '../ssh/targets.js'
import type {SshSession} from '../ssh/types.js'
import {remoteError, SwarmError} from './swarm.js'
import {GRAFANA_PORT, PASSWORD_FILE, renderStack, STACK_NAME, type MonitorImages, type StackFile} from './monitor-files.js'

export {GRAFANA_PORT, GRAFANA_USER, STACK_NAME} from './monitor-files.js'

export interface MonitorPaths {
  dir: string
  stackFile: string
  passwordFile: string
}

export function monitorPaths(cluster: Cluster): MonitorPaths {
  const dir = join(cluster.dir, 'monitor')
  return {dir, stackFile: join(dir, 'stack.yml'), passwordFile: join(dir, PASSWORD_FILE)}
}

/** The pinned defaults, with the images config.yml's monitor_images names instead. */
export function monitorImages(cluster: Cluster): MonitorImages {
  const given = (cluster.settings.monitor_images ?? {}) as Record<string, unknown>
  const images: MonitorImages = {...COMMON_KEYS.monitor_images.default}
  for (const k of Object.keys(images) as (keyof MonitorImages)[]) if (typeof given[k] === 'string') images[k] = given[k] as string
  return images
}

export interface WrittenFiles {
  paths: MonitorPaths
  /** What the manager needs: the stack's files and the password, stack.yml last. */
  upload: (StackFile & {mode: number})[]
  configNames: string[]
  /** The password file was made by this run. */
  passwordCreated: boolean
}

/**
 * Write the stack's files into `.belt/<cluster>/monitor/` (0700) and make the Grafana admin password once (0600);
 * a password file that exists is kept, so every deploy gives Grafana the same password.
 */
export function writeMonitorFiles(cluster: Cluster, images: MonitorImages): WrittenFiles {
  ensureClusterDir(cluster)
  const paths = monitorPaths(cluster)
  mkdirSync(paths.dir, {recursive: true, mode: 0o700})
  chmodSync(paths.dir, 0o700)
  const rendered = renderStack(cluster.name, images)
  for (const f of rendered.files) writeFileAtomic(join(paths.dir, f.name), f.content, 0o644)
  let passwordCreated = false
  if (!existsSync(paths.passwordFile)) {
    writeFileAtomic(paths.passwordFile, randomBytes(24).toString('base64url'), 0o600)
    passwordCreated = true
  }
  chmodSync(paths.passwordFile, 0o600)
  const password = readFileSync(paths.passwordFile, 'utf8')
  if (!password.trim()) throw new UsageError(`${paths.passwordFile} is empty; remove it and belt makes a new password`)
  registerSecret(password.trim())
  const [stack, ...others] = [...rendered.files].reverse()
  return {
    paths,
    upload: [
      ...others.reverse().map((f) => ({...f, mode: 0o644})),
      {name: PASSWORD_FILE, content: password, mode: 0o600},
      {...stack, mode: 0o644},
    ],
    configNames: rendered.configNames,
    passwordCreated,
  }
}

// ------------------------------------------------------------------------------------------- remote commands --

/** A private folder on the manager for the files `docker stack deploy` reads; the deploy removes it. */
export const STAGE_COMMAND = 'umask 077 && mktemp -d /tmp/belt-monitor.XXXXXXXX'

const MANAGER_CHECK = [
  `i=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') || exit 4`,
  `[ "$i" = "active true" ] || { echo "belt-monitor: not-manager $i"; exit 5; }`,
]

/** Deploy from the staged folder, remove the configs earlier deploys left (their content, and so names, changed). */
export function deployCommand(dir: string, configNames: string[]): string {
  const label = `label=com.docker.stack.namespace=${STACK_NAME}`
  return [
    `d=${q(dir)}`,
    `trap 'rm -rf "$d"' EXIT`,
    ...MANAGER_CHECK,
    `cd "$d" || exit 4`,
    `docker stack deploy --compose-file stack.yml --resolve-image never --prune ${STACK_NAME} || exit $?`,
    `keep=${q(` ${configNames.join(' ')} `)}`,
    `for c in $(docker config ls --filter ${label} --format '{{.Name}}'); do`,
    `  case "$keep" in *" $c "*) ;; *) docker config rm "$c" >/dev/null 2>&1 ;; esac`,
    `done`,
    `echo "belt-monitor: deployed"`,
  ].join('\n')
}

/** `docker stack rm` returns before the tasks are gone, and the stack's network goes only after them: wait for both. */
export function removeCommand(): string {
  const label = `label=com.docker.stack.namespace=${STACK_NAME}`
  return [
    ...MANAGER_CHECK,
    `left() { for x in service network config secret; do docker $x ls -q --filter ${label}; done; }`,
    `[ -n "$(left)" ] || { echo "belt-monitor: already"; exit 0; }`,
    `docker stack rm ${STACK_NAME} >/dev/null || exit $?`,
    `n=0`,
    `while [ -n "$(left)" ]; do`,
    `  n=$((n + 1)); [ $n -le 120 ] || { echo "belt-monitor: still there after 2 minutes: $(left | head -c 200)"; exit 6; }`,
    `  sleep 1`,
    `  for x in network config secret; do ids=$(docker $x ls -q --filter ${label}); [ -z "$ids" ] || docker $x rm $ids >/dev/null 2>&1; done`,
    `done`,
    `echo "belt-monitor: removed"`,
  ].join('\n')
}

/** Where Grafana's task runs (hostname), its state and docker's error for it, one task per line. */
export const GRAFANA_TASK_COMMAND =
  `docker service ps ${STACK_NAME}_grafana --filter desired-state=running --format '{{.Node}}\t{{.CurrentState}}\t{{.Error}}'`

function conflict(session: SshSession, out: string): void {
  const m = /belt-monitor: not-manager (.*)/.exec(out)
  if (!m) return
  const name = session.endpoint.name
  const state = m[1].trim()
  throw new SwarmError(state.startsWith('active')
    ? `${name} is a swarm worker, not a manager; belt monitor works through the active node: belt active MANAGER`
    : `${name} is not in a swarm (state: ${state || 'unknown'}); start one with: belt swarm init ${name}`, true)
}

/** Stage the files on the manager and deploy them; the staged folder is removed in every case. */
export async function deployStack(session: SshSession, files: WrittenFiles, signal?: AbortSignal): Promise<void> {
  const staged = await session.exec(STAGE_COMMAND, {sudo: true, signal, maxOutputBytes: 4096})
  const dir = staged.stdout.trim()
  if (staged.code !== 0 || !dir.startsWith('/tmp/belt-monitor.')) {
    throw new SwarmError(`cannot make a folder on ${session.endpoint.name}: ${remoteError(staged.stderr, staged.stdout, staged.code)}`)
  }
  let deployed = false
  try {
    for (const f of files.upload) await session.writeFile(`${dir}/${f.name}`, f.content, {mode: f.mode, sudo: true})
    const r = await session.exec(deployCommand(dir, files.configNames), {sudo: true, signal, maxOutputBytes: 256 * 1024})
    deployed = true
    conflict(session, r.stdout)
    if (r.code === 0 && r.stdout.includes('belt-monitor: deployed')) return
    if (/only updates to Labels are allowed/.test(r.stderr) && /secret/.test(r.stderr)) {
      throw new SwarmError(`the swarm holds another Grafana admin password than ${files.paths.passwordFile} (was the file made anew?); ` +
        'remove the stack with belt monitor --down, then run belt monitor again')
    }
    throw new SwarmError(`docker stack deploy on ${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  } finally {
    if (!deployed) await session.exec(`rm -rf ${q(dir)}`, {sudo: true, maxOutputBytes: 4096}).catch(() => undefined)
  }
}

export async function removeStack(session: SshSession, signal?: AbortSignal): Promise<'removed' | 'already'> {
  const r = await session.exec(removeCommand(), {sudo: true, signal, maxOutputBytes: 64 * 1024})
  conflict(session, r.stdout)
  if (r.code === 0 && r.stdout.includes('belt-monitor: already')) return 'already'
  if (r.code === 0 && r.stdout.includes('belt-monitor: removed')) return 'removed'
  const still = /belt-monitor: (still there .*)/.exec(r.stdout)
  throw new SwarmError(`${session.endpoint.name}: ${still ? still[1] : remoteError(r.stderr, r.stdout, r.code)}`)
}

export interface GrafanaTask {
  node: string
  state: string
  error: string
}

export async function grafanaTasks(session: SshSession, signal?: AbortSignal): Promise<GrafanaTask[]> {
  const r = await session.exec(GRAFANA_TASK_COMMAND, {sudo: true, signal, maxOutputBytes: 64 * 1024})
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  return r.stdout.split('\n').filter((l) => l.trim()).map((l) => {
    const [node, state, error] = l.split('\t')
    return {node: node.trim(), state: (state ?? '').trim(), error: (error ?? '').trim()}
  })
}

// ------------------------------------------------------------------------------------------------ the manager --

/**
 * The manager belt works through: the cluster's active node, as `belt swarm`'s node changes use it. The one place
 * this module picks a manager, so it follows when that choice moves into docker/swarm.ts. Unknown: exit 2.
 */
async function managerEndpoint(cluster: Cluster): Promise<SshEndpoint> {
  const name = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [ep] = await endpointsFor(cluster, [name])
  return ep
}

async function connectTo(ssh: BeltSshContext, ep: SshEndpoint, signal: AbortSignal, timeoutMs: number, what = ''): Promise<SshSession> {
  try {
    return await ssh.connect(ep, {signal})
  } catch (err) {
    const why = signal.aborted ? `no SSH login within ${formatSeconds(timeoutMs)}` : oneLine(err)
    throw new PartialFailure(`cannot reach ${what}${ep.name}: ${why}`)
  }
}

// ------------------------------------------------------------------------------------------- the operations --

export interface MonitorOptions {
  /** Connections, upload, deploy and (with a forward) waiting for Grafana together. */
  timeoutMs: number
  onWarning?: (message: string) => void
  /** Host-key problems met, for one OpenSSH-style warning each. */
  onHostKeyProblems?: (ssh: BeltSshContext) => void
}

export interface GrafanaForward {
  localPort: number
  /** Told once the local port listens: the URL and where Grafana runs. */
  onForwarding: (f: {url: string; node: string; port: number}) => void
}

export interface DeployResult {
  stack: string
  manager: string
  images: MonitorImages
  paths: MonitorPaths
  passwordCreated: boolean
  /** With a forward: how it ended (Ctrl-C: 'closed'). */
  forward?: 'closed' | 'connection-lost'
}

export interface RemoveResult {
  stack: string
  manager: string
  outcome: 'removed' | 'already'
}

/** A swarm refusal is a usage mistake (exit 2); anything else a failure (exit 1); Ctrl-C exits 130. */
function failure(err: unknown, where: string, interrupted: boolean, what: string): Error {
  if (interrupted) return new Interrupted(`interrupted while ${what}`)
  if (err instanceof UsageError || err instanceof PartialFailure) return err
  if (err instanceof SwarmError && err.conflict) return new UsageError(err.message)
  return new PartialFailure(`${where}: ${oneLine(err)}`)
}

/** Write the files, deploy them through the manager, and with `forward` tunnel to Grafana until Ctrl-C. */
export async function deployMonitor(cluster: Cluster, o: MonitorOptions & {forward?: GrafanaForward}): Promise<DeployResult> {
  const managerEp = await managerEndpoint(cluster)
  const images = monitorImages(cluster)
  const files = writeMonitorFiles(cluster, images)
  const ssh = createSshContext(cluster, {onWarning: o.onWarning})
  const scope = onInterrupt()
  const step = stepSignal(o.timeoutMs, scope.signal)
  const sessions: SshSession[] = []
  let manager = ''
  try {
    const session = await connectTo(ssh, managerEp, step.signal, o.timeoutMs, 'the manager ')
    sessions.push(session)
    manager = session.endpoint.name
    await deployStack(session, files, step.signal)
    const result: DeployResult = {stack: STACK_NAME, manager, images, paths: files.paths, passwordCreated: files.passwordCreated}
    if (!o.forward) return result
    const grafana = await waitForGrafana(session, step.signal, o.timeoutMs)
    const target = grafana === manager ? session : await connectTo(ssh, (await endpointsFor(cluster, [grafana]))[0], step.signal, o.timeoutMs)
    if (target !== session) sessions.push(target)
    step.dispose()
    result.forward = await forward(target, o.forward, scope.signal)
    return result
  } catch (err) {
    o.onHostKeyProblems?.(ssh)
    throw failure(err, manager ? `manager ${manager}` : 'monitor', scope.interrupted(), 'deploying the monitoring stack')
  } finally {
    for (const s of sessions) s.close()
    step.dispose()
    scope.dispose()
  }
}

export async function removeMonitor(cluster: Cluster, o: MonitorOptions): Promise<RemoveResult> {
  const managerEp = await managerEndpoint(cluster)
  const ssh = createSshContext(cluster, {onWarning: o.onWarning})
  const scope = onInterrupt()
  const step = stepSignal(o.timeoutMs, scope.signal)
  let session: SshSession | undefined
  try {
    session = await connectTo(ssh, managerEp, step.signal, o.timeoutMs, 'the manager ')
    return {stack: STACK_NAME, manager: session.endpoint.name, outcome: await removeStack(session, step.signal)}
  } catch (err) {
    o.onHostKeyProblems?.(ssh)
    throw failure(err, session ? `manager ${session.endpoint.name}` : 'monitor', scope.interrupted(), 'removing the monitoring stack')
  } finally {
    session?.close()
    step.dispose()
    scope.dispose()
  }
}

/** Grafana's node once its task runs (a fresh deploy may still be starting it); bounded by the run's timeout. */
async function waitForGrafana(session: SshSession, signal: AbortSignal, timeoutMs: number): Promise<string> {
  const running = (tasks: GrafanaTask[]) => tasks.find((t) => /^running\b/i.test(t.state))
  const r = await poll((s) => grafanaTasks(session, s), {
    done: (t) => Boolean(running(t)), timeoutMs, signal, intervalMs: 1000, growth: 1.5, maxIntervalMs: 5000,
  })
  if (r.reached) return running(r.last!)!.node
  const seen = (r.last ?? []).map((t) => `${t.node}: ${t.state}${t.error ? ` (${t.error})` : ''}`).join('; ')
  throw new PartialFailure(`Grafana is not running after ${formatSeconds(timeoutMs)}${seen ? `: ${seen}` : ' (no task yet)'}; ` +
    `see: belt docker service ps ${STACK_NAME}_grafana --no-trunc`)
}

async function forward(session: SshSession, o: GrafanaForward, interrupt: AbortSignal): Promise<'closed' | 'connection-lost'> {
  let f
  try {
    f = await forwardLocalPort(session, {localPort: o.localPort, remoteHost: '127.0.0.1', remotePort: GRAFANA_PORT})
  } catch (err) {
    if (err instanceof PortInUseError) throw new UsageError(`${err.message} on this machine; choose another with --port`)
    throw err
  }
  const stop = () => f.close()
  interrupt.addEventListener('abort', stop, {once: true})
  if (interrupt.aborted) f.close()
  o.onForwarding({url: `http://127.0.0.1:${f.port}/`, node: session.endpoint.name, port: f.port})
  const how = await f.stopped
  interrupt.removeEventListener('abort', stop)
  if (how === 'connection-lost') throw new PartialFailure(`the SSH connection to ${session.endpoint.name} ended; the forward to Grafana stopped`)
  return how
}
