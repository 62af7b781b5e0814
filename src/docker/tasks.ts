// A service's running tasks and where their containers are, found through one manager in one exec (docker service
// ps, docker inspect of the tasks, docker node inspect of their nodes), then matched to belt's nodes — what `belt
// logs` and `belt stats` reach over SSH, one connection per node hosting tasks. Nothing here prints.
import type {Cluster} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {providerFor} from '../providers/index.js'
import type {SshEndpoint} from '../providers/provider.js'
import {shellQuote as q} from '../ssh/quote.js'
import {activeNodeName, endpointsFor} from '../ssh/targets.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {byNaturalName} from '../ssh/fleet-result.js'
import {onManager, remoteError, SwarmError} from './swarm.js'

/** SERVICE, SERVICE.SLOT (replicated) or SERVICE.NODE (global). */
export interface TaskSelector {
  /** As given. */
  arg: string
}

/** Docker's service names: letters, digits, `-`, `_` and `.`, a letter or digit first. */
const SERVICE_ARG = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

export function parseSelector(arg: string): TaskSelector {
  if (!SERVICE_ARG.test(arg)) throw new UsageError(`SERVICE: '${arg}' is not a service name (SERVICE, SERVICE.SLOT or SERVICE.NODE)`)
  return {arg}
}

/**
 * On the manager: the whole word is the service when one has that name, else the part before the first dot, the
 * rest selecting the slot (or node). Then every task that should be running, with its container, and its node.
 */
export function findTasksCommand(arg: string): string {
  return [
    `arg=${q(arg)}`,
    `m=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') || exit 4`,
    `[ "$m" = "active true" ] || { echo "belt-tasks: not-manager $m"; exit 3; }`,
    `if docker service inspect "$arg" >/dev/null 2>&1; then svc=$arg; sel=`,
    `else svc=\${arg%%.*}; sel=\${arg#*.}`,
    `  if [ "$svc" = "$arg" ] || ! docker service inspect "$svc" >/dev/null 2>&1; then echo "belt-tasks: no-service"; exit 3; fi`,
    `fi`,
    `echo "belt-tasks: service $svc $(docker service inspect --format '{{if .Spec.Mode.Global}}global{{else}}replicated{{end}}' "$svc") $sel"`,
    `ids=$(docker service ps -q --no-trunc --filter desired-state=running "$svc") || exit 4`,
    `[ -n "$ids" ] || exit 0`,
    `docker inspect --type task --format 'belt-task {{.ID}} {{.Slot}} {{.NodeID}} {{.Status.State}} {{with .Status.ContainerStatus}}{{.ContainerID}}{{end}}' $ids || exit 4`,
    `nodes=$(docker inspect --type task --format '{{.NodeID}}' $ids | sort -u)`,
    `[ -z "$nodes" ] || docker node inspect --format 'belt-node {{.ID}} {{.Description.Hostname}} {{.Status.Addr}}' $nodes || exit 4`,
  ].join('\n')
}

export interface ServiceTask {
  /** "web.2" for a replicated service, "web" for a global one. */
  label: string
  service: string
  /** 0 for a global service's tasks. */
  slot: number
  taskId: string
  /** The task's state (running, starting, ...). */
  state: string
  /** '' while the task has no container yet. */
  container: string
  /** The swarm node's hostname, and the belt node it is (null: belt does not know it). */
  hostname: string
  node: string | null
}

export interface ServiceTasks {
  service: string
  mode: 'replicated' | 'global'
  /** Tasks with a container on a node belt knows, in slot / node order. */
  tasks: ServiceTask[]
  /** Tasks that cannot be reached: no container yet, or on a node belt does not know; with why. */
  skipped: {label: string; why: string}[]
  /** The node endpoint of each belt node hosting tasks. */
  endpoints: Map<string, SshEndpoint>
  manager: string
}

interface Parsed {
  service: string
  mode: 'replicated' | 'global'
  selector: string
  tasks: {id: string; slot: number; nodeId: string; state: string; container: string}[]
  nodes: Map<string, {hostname: string; addr: string}>
}

export function parseTasks(stdout: string, stderr: string, code: number | null, arg: string, manager: string): Parsed {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const notManager = lines.find((l) => l.startsWith('belt-tasks: not-manager'))
  if (notManager) {
    const state = notManager.split(' ')[2]
    throw new SwarmError(state === 'active'
      ? `${manager} is a swarm worker, not a manager; belt logs and stats work through the active node: belt active MANAGER`
      : `${manager} is not in a swarm (state: ${state}); set a manager with: belt active MANAGER`, true)
  }
  if (lines.includes('belt-tasks: no-service')) throw new SwarmError(`no service ${arg} in the swarm (belt docker service ls lists them)`, true)
  const head = lines.find((l) => l.startsWith('belt-tasks: service '))
  if (code !== 0 || !head) throw new SwarmError(remoteError(stderr, stdout, code))
  const [, , service, mode, selector = ''] = head.split(' ')
  const tasks: Parsed['tasks'] = []
  const nodes: Parsed['nodes'] = new Map()
  for (const l of lines) {
    const f = l.split(' ')
    if (f[0] === 'belt-task') tasks.push({id: f[1], slot: Number(f[2]) || 0, nodeId: f[3], state: f[4] ?? '', container: f[5] ?? ''})
    else if (f[0] === 'belt-node') nodes.set(f[1], {hostname: f[2] ?? '', addr: f[3] ?? ''})
  }
  return {service, mode: mode === 'global' ? 'global' : 'replicated', selector, tasks, nodes}
}

/** The belt node a swarm node is: by hostname, else by address. */
function beltNodeOf(hostname: string, addr: string, endpoints: SshEndpoint[]): SshEndpoint | undefined {
  return endpoints.find((e) => e.name === hostname) ?? endpoints.find((e) => addr && (e.private_ip === addr || e.public_ip === addr || e.host === addr))
}

/** Keep the tasks the selector names and match them to belt's nodes. */
export function selectTasks(p: Parsed, endpoints: SshEndpoint[], arg: string, manager: string): ServiceTasks {
  const picked: ServiceTask[] = []
  const skipped: ServiceTasks['skipped'] = []
  const used = new Map<string, SshEndpoint>()
  for (const t of p.tasks) {
    const n = p.nodes.get(t.nodeId) ?? {hostname: t.nodeId.slice(0, 12), addr: ''}
    const ep = beltNodeOf(n.hostname, n.addr, endpoints)
    const label = p.mode === 'global' ? p.service : `${p.service}.${t.slot}`
    if (p.selector) {
      const wanted = p.mode === 'global' ? p.selector === n.hostname || p.selector === ep?.name : p.selector === String(t.slot)
      if (!wanted) continue
    }
    const task: ServiceTask = {label, service: p.service, slot: p.mode === 'global' ? 0 : t.slot, taskId: t.id, state: t.state,
      container: t.container, hostname: n.hostname, node: ep?.name ?? null}
    if (!t.container) skipped.push({label: `${label}@${task.node ?? n.hostname}`, why: `no container yet (task ${t.state})`})
    else if (!ep) skipped.push({label: `${label}@${n.hostname}`, why: `on ${n.hostname}, a node belt does not know`})
    else {
      picked.push(task)
      used.set(ep.name, ep)
    }
  }
  if (p.selector && picked.length === 0 && skipped.length === 0) {
    throw new UsageError(p.mode === 'global'
      ? `${arg}: the global service ${p.service} runs no task on a node named ${p.selector}`
      : `${arg}: the service ${p.service} has no running task in slot ${p.selector}`)
  }
  picked.sort((a, b) => a.slot - b.slot || byNaturalName(a.node ?? '', b.node ?? ''))
  return {service: p.service, mode: p.mode, tasks: picked, skipped, endpoints: used, manager}
}

/** The tasks of SERVICE[.SLOT] through the active node (a manager): one connection, one exec. */
export async function findServiceTasks(cluster: Cluster, ssh: SshContext, arg: string,
  o: {timeoutMs: number; signal: AbortSignal}): Promise<ServiceTasks> {
  const name = activeNodeName(cluster, 'set a manager with: belt active MANAGER')
  const provider = await providerFor(cluster)
  const listing = await provider.list({signal: o.signal})
  const {found} = await provider.endpoints(listing.map((n) => n.name), listing)
  const manager = found.find((e) => e.name === name) ?? (await endpointsFor(cluster, [name], provider))[0]
  const parsed = await onManager(ssh, manager, {timeoutMs: o.timeoutMs, signal: o.signal}, async (s: SshSession, signal) => {
    const r = await s.exec(findTasksCommand(arg), {sudo: true, signal, maxOutputBytes: 16 * 1024 * 1024})
    return parseTasks(r.stdout, r.stderr, r.code, arg, name)
  })
  return selectTasks(parsed, found, arg, name)
}
