// Swarm over SSH: the remote commands for init, join, leave and node changes, built in one visible place, and the
// parsing of what they print. Every command is idempotent (it looks before it acts, in the same remote command, so
// a join costs one connection and one exec per host). Join tokens are scrubbed from anything shown (registerSecret)
// and never appear in an argv on either side: the manager prints its token to our channel, and a node gets it on the
// join command's stdin, from where the shell's builtin printf feeds it to `curl --unix-socket <docker socket>` as the
// body of POST /swarm/join (the Engine API docker's own CLI uses). Only when the node has no curl, or docker's
// endpoint is not a local unix socket, does the join fall back to `docker swarm join --token "$t"`, which shows the
// token in the node's process list while it runs; joinNode reports that fallback so the command can say so.
//
// The last part holds the operations the swarm commands run (initManager, joinNodes, leaveNodes, runNodeOp): from
// names to a result for src/ui, with the manager connection, the fleet and the failure record in state.json.
import {ensureClusterDir, type Cluster} from '../core/config/cluster.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {onInterrupt} from '../core/interrupt.js'
import {expandPatterns} from '../core/range.js'
import {registerSecret, redact} from '../core/redact.js'
import {providerFor} from '../providers/index.js'
import {formatSeconds, oneLine, stepSignal} from '../ssh/fleet.js'
import {shellQuote} from '../ssh/quote.js'
import {activeNodeName, endpointsFor, endpointsFrom} from '../ssh/targets.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import type {SshEndpoint} from '../providers/provider.js'
import {allFailures, byNaturalName, fleetResult, runTracked} from '../ssh/fleet-result.js'
import type {FleetFailure, FleetHooks, FleetResult, HostOutcome} from '../ssh/fleet-result.js'

/** What belt reads from `docker info`: state, manager?, node ID, advertised address, the managers it knows. */
export const SWARM_INFO_FORMAT = '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}} {{.Swarm.NodeAddr}}{{range .Swarm.RemoteManagers}} {{.NodeID}}={{.Addr}}{{end}}'

export interface SwarmInfo {
  /** inactive | pending | active | error | locked */
  state: string
  manager: boolean
  nodeId: string
  nodeAddr: string
  managers: {id: string; addr: string}[]
}

/** A swarm-level refusal. `conflict`: the node's state forbids the request and nothing was changed (exit 2). */
export class SwarmError extends Error {
  constructor(message: string, readonly conflict = false) {
    super(message)
    this.name = 'SwarmError'
  }
}

export function parseSwarmInfo(line: string): SwarmInfo {
  const f = line.trim().split(' ')
  const managers = f.slice(4).filter(Boolean).map((m) => {
    const i = m.indexOf('=')
    return i < 0 ? {id: m, addr: ''} : {id: m.slice(0, i), addr: m.slice(i + 1)}
  })
  return {state: f[0] || 'unknown', manager: f[1] === 'true', nodeId: f[2] ?? '', nodeAddr: f[3] ?? '', managers}
}

/** The first line worth showing from a failed remote command (docker's own message), secrets scrubbed. */
export function remoteError(stderr: string, stdout: string, code: number | null): string {
  const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('belt-swarm:'))
  const line = lines.find((l) => /error|denied|cannot|not found|refused|failed|timeout|invalid/i.test(l)) ?? lines[0]
  return redact(line ?? `exit code ${code}`)
}

const q = shellQuote

// ---------------------------------------------------------------------------------------------- manager side --

export interface ManagerFacts {
  info: SwarmInfo
  token: string
  /** host:port workers dial. */
  address: string
}

export function readManagerCommand(role: 'worker' | 'manager'): string {
  return `docker info --format ${q(SWARM_INFO_FORMAT)} && docker swarm join-token -q ${role}`
}

/** Read the manager's state, join token and address in one exec. The token is registered as a secret at once. */
export async function readManager(session: SshSession, role: 'worker' | 'manager', signal?: AbortSignal): Promise<ManagerFacts> {
  const name = session.endpoint.name
  const r = await session.exec(readManagerCommand(role), {sudo: true, signal, maxOutputBytes: 64 * 1024})
  const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const token = lines.find((l) => l.startsWith('SWMTKN-')) ?? ''
  registerSecret(token)
  const infoLine = lines.find((l) => !l.startsWith('SWMTKN-'))
  if (!infoLine) throw new SwarmError(`${name}: cannot read docker info: ${remoteError(r.stderr, '', r.code)}`)
  const info = parseSwarmInfo(infoLine)
  if (info.state !== 'active') {
    throw new SwarmError(`${name} is not in a swarm (state: ${info.state}); start one with: belt swarm init ${name}`, true)
  }
  if (!info.manager) throw new SwarmError(`${name} is a swarm worker, not a manager; name a manager (belt docker node ls shows them)`, true)
  if (r.code !== 0 || !token) throw new SwarmError(`${name}: cannot read the ${role} join token: ${remoteError(r.stderr, '', r.code)}`)
  return {info, token, address: managerAddress(session.endpoint, info)}
}

/** The address workers dial: the provider's private address when it knows one, else what the manager advertises. */
export function managerAddress(ep: SshEndpoint, info: SwarmInfo): string {
  const own = info.managers.find((m) => m.id === info.nodeId)?.addr ?? ''
  const port = own.includes(':') ? own.slice(own.lastIndexOf(':') + 1) : '2377'
  if (ep.private_ip) return `${ep.private_ip}:${port}`
  if (own) return own
  return `${info.nodeAddr || ep.host}:${port}`
}

// ------------------------------------------------------------------------------------------------------ init --

export interface InitOptions {
  advertiseAddr: string
  drain: boolean
}

/** Init unless this node already manages a swarm; optionally drain it; print the resulting docker info. */
export function initCommand(o: InitOptions): string {
  return [
    `i=$(docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}') || exit 4`,
    `case "$i" in`,
    `  "active true") echo "belt-swarm: already" ;;`,
    `  inactive*) docker swarm init --advertise-addr ${q(o.advertiseAddr)} >/dev/null || exit $?; echo "belt-swarm: initialised" ;;`,
    `  *) echo "belt-swarm: state $i"; exit 5 ;;`,
    `esac`,
    ...(o.drain ? [`docker node update --availability drain "$(docker info --format '{{.Swarm.NodeID}}')" >/dev/null || exit $?`, `echo "belt-swarm: drained"`] : []),
    `docker info --format ${q(SWARM_INFO_FORMAT)}`,
  ].join('\n')
}

export interface InitResult {
  already: boolean
  drained: boolean
  info: SwarmInfo
}

export async function initSwarm(session: SshSession, o: InitOptions, signal?: AbortSignal): Promise<InitResult> {
  const r = await session.exec(initCommand(o), {sudo: true, signal})
  const lines = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean)
  const state = lines.find((l) => l.startsWith('belt-swarm: state '))
  if (state) {
    const s = state.slice('belt-swarm: state '.length)
    throw new SwarmError(s.startsWith('active')
      ? `${session.endpoint.name} is already a worker in a swarm; leave it first (belt swarm leave ${session.endpoint.name}) or promote it`
      : `${session.endpoint.name}: swarm state is '${s}'; fix the node or run belt swarm leave ${session.endpoint.name} --force`, true)
  }
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  const infoLine = lines.filter((l) => !l.startsWith('belt-swarm:')).pop() ?? ''
  return {already: lines.includes('belt-swarm: already'), drained: lines.includes('belt-swarm: drained'), info: parseSwarmInfo(infoLine)}
}

// ------------------------------------------------------------------------------------------------------ join --

export type JoinOutcome = 'joined' | 'already'

/** How a node joined: through the Engine API (token only on stdin and in the socket) or docker's argv (fallback). */
export type JoinPath = 'api' | 'argv'

/**
 * One remote command per target: read the token from stdin, look at the node's swarm state, and join only when it
 * is in none. A node whose managers include one of ours is already in this swarm; any other swarm is an error.
 * The join is POST /swarm/join on the docker socket through curl, the JSON body written by the shell's builtin
 * printf into curl's stdin (--data-binary @-); `docker context inspect` names the socket the docker CLI itself
 * would use (DOCKER_HOST included).
 */
export function joinCommand(address: string, managerIds: string[], advertiseAddr?: string): string {
  // An explicit advertise address (belt up gives the node's private one) keeps docker from guessing among interfaces.
  const adv = advertiseAddr ? `"AdvertiseAddr":"${advertiseAddr.replace(/[^0-9A-Za-z.:[\]_-]/g, '')}",` : ''
  return [
    `addr=${q(address)}`,
    `mgrs=${q(` ${managerIds.join(' ')} `)}`,
    `IFS= read -r t || { echo "belt: no join token on stdin" >&2; exit 3; }`,
    // The token goes into a JSON string and a shell word: refuse anything but its own alphabet.
    `case "$t" in SWMTKN-*[!A-Za-z0-9-]*|'') echo "belt: malformed join token on stdin" >&2; exit 3;; SWMTKN-*) ;; *) echo "belt: malformed join token on stdin" >&2; exit 3;; esac`,
    `i=$(docker info --format '{{.Swarm.LocalNodeState}}{{range .Swarm.RemoteManagers}} {{.NodeID}}{{end}}') || exit 4`,
    `set -f; set -- $i; s=\${1:-unknown}; [ $# -gt 0 ] && shift`,
    `if [ "$s" != inactive ]; then`,
    `  for m do case "$mgrs" in *" $m "*) echo "belt-swarm: already"; exit 0;; esac; done`,
    `  echo "belt-swarm: other $s $*"; exit 5`,
    `fi`,
    `sock=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null) || sock=`,
    `case "$sock" in unix:///*) sock=\${sock#unix://};; *) sock=;; esac`,
    `if [ -n "$sock" ] && [ -S "$sock" ] && command -v curl >/dev/null 2>&1; then`,
    `  code=$(printf '{"ListenAddr":"0.0.0.0:2377",${adv}"RemoteAddrs":["%s"],"JoinToken":"%s"}' "$addr" "$t" |`,
    `    curl -sS --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- -o /dev/stderr -w '%{http_code}' http://localhost/swarm/join) || exit 6`,
    `  [ "$code" = 200 ] || { echo >&2; echo "belt: POST /swarm/join answered $code" >&2; exit 7; }`,
    `  echo "belt-swarm: joined api"`,
    `else`,
    `  docker swarm join${advertiseAddr ? ` --advertise-addr ${q(advertiseAddr)}` : ''} --token "$t" "$addr" && echo "belt-swarm: joined argv"`,
    `fi`,
  ].join('\n')
}

/** The Engine API's error body ({"message": "..."}) as docker's CLI would print it, else the first useful line. */
function joinError(stderr: string, stdout: string, code: number | null): string {
  for (const line of stderr.split('\n')) {
    const m = /^\s*(\{"message":.*\})\s*$/.exec(line)
    if (!m) continue
    try {
      const msg = (JSON.parse(m[1]) as {message?: unknown}).message
      if (typeof msg === 'string' && msg) return redact(`Error response from daemon: ${msg}`)
    } catch {
      // not JSON after all: fall through to the generic line
    }
  }
  return remoteError(stderr, stdout, code)
}

/**
 * `prelude`: shell run first in the same exec (belt up's sysctl file: one round trip per node, not four); it must not
 * read stdin (the token comes there) and exits non-zero with a line on stderr when it fails.
 */
export async function joinNode(session: SshSession, manager: ManagerFacts, signal?: AbortSignal, onJoined?: (path: JoinPath) => void,
  advertiseAddr?: string, prelude?: string): Promise<JoinOutcome> {
  const ids = manager.info.managers.map((m) => m.id).filter(Boolean)
  if (!ids.includes(manager.info.nodeId)) ids.push(manager.info.nodeId)
  const command = (prelude ? prelude + '\n' : '') + joinCommand(manager.address, ids, advertiseAddr)
  const r = await session.exec(command, {sudo: true, stdin: manager.token + '\n', signal, maxOutputBytes: 16 * 1024})
  const out = r.stdout
  if (out.includes('belt-swarm: already')) return 'already'
  const joined = /belt-swarm: joined (api|argv)/.exec(out)
  if (r.code === 0 && joined) {
    onJoined?.(joined[1] as JoinPath)
    return 'joined'
  }
  const other = /belt-swarm: other (\S+)(.*)/.exec(out)
  if (other) {
    const [, state, mgrs] = other
    if (state === 'active' || state === 'pending' || state === 'locked') {
      throw new SwarmError(`already in another swarm (state ${state}${mgrs.trim() ? `, managers ${mgrs.trim().split(' ').map((m) => m.slice(0, 12)).join(' ')}` : ''}); run: belt swarm leave ${session.endpoint.name} --force`)
    }
    throw new SwarmError(`docker reports swarm state '${state}'; run: belt swarm leave ${session.endpoint.name} --force, then join again`)
  }
  throw new SwarmError(joinError(r.stderr, out, r.code))
}

// ----------------------------------------------------------------------------------------------------- leave --

export function leaveCommand(force: boolean): string {
  return [
    `s=$(docker info --format '{{.Swarm.LocalNodeState}}') || exit 4`,
    `if [ "$s" = inactive ]; then echo "belt-swarm: already"; exit 0; fi`,
    `docker swarm leave${force ? ' --force' : ''} >/dev/null && echo "belt-swarm: left"`,
  ].join('\n')
}

export async function leaveNode(session: SshSession, force: boolean, signal?: AbortSignal): Promise<'left' | 'already'> {
  const r = await session.exec(leaveCommand(force), {sudo: true, signal})
  if (r.stdout.includes('belt-swarm: already')) return 'already'
  if (r.code === 0 && r.stdout.includes('belt-swarm: left')) return 'left'
  const msg = remoteError(r.stderr, r.stdout, r.code)
  throw new SwarmError(/participating as a manager/.test(msg) ? `it is a manager; demote it first or use --force (${msg})` : msg)
}

// -------------------------------------------------------------------------------- node changes via a manager --

export type NodeOp = 'promote' | 'demote' | 'drain' | 'activate'

const OPS: Record<NodeOp, {field: 'role' | 'availability'; want: string; command: string; verb: string}> = {
  promote: {field: 'role', want: 'manager', command: 'docker node promote', verb: 'promoted'},
  demote: {field: 'role', want: 'worker', command: 'docker node demote', verb: 'demoted'},
  drain: {field: 'availability', want: 'drain', command: 'docker node update --availability drain', verb: 'drained'},
  activate: {field: 'availability', want: 'active', command: 'docker node update --availability active', verb: 'activated'},
}

export function opVerb(op: NodeOp): string {
  return OPS[op].verb
}

export interface SwarmNode {
  id: string
  hostname: string
  addr: string
  role: string
  availability: string
  state: string
}

export const NODE_LIST_COMMAND = `ids=$(docker node ls -q) || exit $?; [ -z "$ids" ] || docker node inspect --format '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}}' $ids`

export async function listNodes(session: SshSession, signal?: AbortSignal): Promise<SwarmNode[]> {
  const r = await session.exec(NODE_LIST_COMMAND, {sudo: true, signal, maxOutputBytes: 16 * 1024 * 1024})
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [id, hostname, addr, role, availability, state] = l.split(' ')
    return {id, hostname, addr, role, availability, state}
  })
}

/**
 * Which swarm node is this belt node: by hostname (belt names hosts after nodes), else by address — generic hosts
 * may have any hostname. Several nodes may share a hostname after re-joins: prefer the one that is not down.
 */
export function matchNode(ep: SshEndpoint, nodes: SwarmNode[]): SwarmNode | null {
  const rank = (n: SwarmNode) => (n.state === 'down' ? 1 : 0)
  const byHost = nodes.filter((n) => n.hostname === ep.name).sort((a, b) => rank(a) - rank(b))
  if (byHost.length) return byHost[0]
  const addrs = new Set([ep.private_ip, ep.public_ip, ep.host].filter(Boolean))
  const byAddr = nodes.filter((n) => addrs.has(n.addr)).sort((a, b) => rank(a) - rank(b))
  return byAddr[0] ?? null
}

export type NodeOpResult = HostOutcome

/** Apply one change to many nodes through one manager: one exec that looks first and reports per node. */
export function nodeOpCommand(op: NodeOp, ids: string[]): string {
  const o = OPS[op]
  const pick = o.field === 'role' ? '${cur%% *}' : '${cur#* }'
  return [
    `for n in ${ids.map(q).join(' ')}; do`,
    `  if ! cur=$(docker node inspect --format '{{.Spec.Role}} {{.Spec.Availability}}' "$n" 2>&1); then`,
    `    printf 'belt-node %s failed %s\\n' "$n" "$(printf '%s' "$cur" | head -n 1)"; continue`,
    `  fi`,
    `  if [ "${pick}" = ${q(o.want)} ]; then printf 'belt-node %s already\\n' "$n"; continue; fi`,
    `  if out=$(${o.command} "$n" 2>&1); then printf 'belt-node %s ok\\n' "$n"`,
    `  else printf 'belt-node %s failed %s\\n' "$n" "$(printf '%s' "$out" | head -n 1)"; fi`,
    `done`,
  ].join('\n')
}

export async function applyNodeOp(session: SshSession, op: NodeOp, targets: {name: string; id: string}[], signal?: AbortSignal): Promise<NodeOpResult[]> {
  const results: NodeOpResult[] = []
  const byId = new Map(targets.map((t) => [t.id, t.name]))
  for (let i = 0; i < targets.length; i += 500) {
    const chunk = targets.slice(i, i + 500)
    const r = await session.exec(nodeOpCommand(op, chunk.map((t) => t.id)), {sudo: true, signal, maxOutputBytes: 4 * 1024 * 1024})
    const seen = new Set<string>()
    for (const line of r.stdout.split('\n')) {
      const m = /^belt-node (\S+) (ok|already|failed)(?: (.*))?$/.exec(line.trim())
      if (!m) continue
      const name = byId.get(m[1]) ?? m[1]
      seen.add(m[1])
      results.push(m[2] === 'ok' ? {name, outcome: OPS[op].verb}
        : m[2] === 'already' ? {name, outcome: 'already'}
          : {name, outcome: 'failed', error: redact(m[3] ?? 'failed')})
    }
    for (const t of chunk) {
      if (!seen.has(t.id)) results.push({name: t.name, outcome: 'failed', error: remoteError(r.stderr, '', r.code)})
    }
  }
  return results
}

/**
 * promote / demote / drain / activate: through one manager, one connection, two execs (the node list, then the
 * change with a look first). Belt names are matched to swarm nodes by hostname, else by address.
 */
export async function changeNodes(manager: SshSession, op: NodeOp, targets: SshEndpoint[], signal?: AbortSignal): Promise<NodeOpResult[]> {
  const nodes = await listNodes(manager, signal)
  const results: NodeOpResult[] = []
  const matched: {name: string; id: string}[] = []
  for (const ep of targets) {
    const n = matchNode(ep, nodes)
    if (n) matched.push({name: ep.name, id: n.id})
    else results.push({name: ep.name, outcome: 'failed', error: `not a node of the swarm managed by ${manager.endpoint.name} (no node with hostname ${ep.name} or address ${ep.private_ip ?? ep.host})`})
  }
  if (matched.length) results.push(...await applyNodeOp(manager, op, matched, signal))
  return results
}

// ------------------------------------------------------------------------------------------------ operations --

export type Role = 'worker' | 'manager'

export interface ManagerStep {
  timeoutMs: number
  /** Ctrl-C. */
  signal: AbortSignal
  /** swarm init: the host is becoming the manager, and errors name it alone ("mg0: …" rather than "manager mg0: …"). */
  first?: boolean
  /** Said instead of the bare timeout when the work (not the login) runs out of time. */
  slow?: string
}

/**
 * Bounded work on one manager: connect, run, close, all within `timeoutMs` and Ctrl-C. A refusal of the node's swarm
 * state (SwarmError.conflict) is a usage error; anything else a PartialFailure that names the host.
 */
export async function onManager<T>(ssh: SshContext, ep: SshEndpoint, o: ManagerStep,
  work: (session: SshSession, signal: AbortSignal) => Promise<T>): Promise<T> {
  const step = stepSignal(o.timeoutMs, o.signal)
  let session: SshSession | undefined
  try {
    try {
      session = await ssh.connect(ep, {signal: step.signal})
    } catch (err) {
      const why = step.timedOut() ? `no SSH login within ${formatSeconds(o.timeoutMs)}` : oneLine(err)
      throw new PartialFailure(`${o.first ? ep.name : `cannot reach the manager ${ep.name}`}: ${why}`)
    }
    try {
      return await work(session, step.signal)
    } catch (err) {
      if (err instanceof SwarmError && err.conflict) throw new UsageError(err.message)
      throw new PartialFailure(`${o.first ? ep.name : `manager ${ep.name}`}: ${o.slow && step.timedOut() ? o.slow : oneLine(err)}`)
    }
  } finally {
    session?.close()
    step.dispose()
  }
}

export interface InitManagerResult extends InitResult {
  name: string
  /** host:port other nodes dial. */
  address: string
}

/** swarm init on one node (a node that manages a swarm already is left as it is); it becomes the active node. */
export async function initManager(cluster: Cluster, ssh: SshContext, ep: SshEndpoint,
  o: {advertiseAddr?: string; drain: boolean; timeoutMs: number}): Promise<InitManagerResult> {
  const advertiseAddr = o.advertiseAddr ?? ep.private_ip ?? ep.public_ip ?? ep.host
  const scope = onInterrupt()
  let result: InitResult
  try {
    const step = {timeoutMs: o.timeoutMs, signal: scope.signal, first: true}
    result = await onManager(ssh, ep, step, (s, signal) => initSwarm(s, {advertiseAddr, drain: o.drain}, signal))
  } finally {
    scope.dispose()
  }
  if (scope.interrupted()) throw new Interrupted()
  ensureClusterDir(cluster)
  cluster.state.update((s) => { s.active_node = ep.name })
  return {...result, name: ep.name, address: managerAddress(ep, result.info)}
}

/** state.json's failure record of swarm join: the nodes still outstanding for one manager and role. */
const JOIN_RECORD = 'swarm join'

export interface JoinRequest {
  /** MANAGER then PATTERN... as given; both optional with retryFailed. */
  args: string[]
  asManagers: boolean
  retryFailed: boolean
}

export interface JoinPlan {
  /** Null only when there is nothing to do. */
  manager: string | null
  role: Role
  names: string[]
  /** Why there is nothing to do (--retry-failed with nothing that failed, or none matching), else null. */
  nothing: string | null
  managerEp?: SshEndpoint
  targets: SshEndpoint[]
  /** The failures of the last join this run continues (same manager and role), kept unless this run retries them. */
  earlier: FleetFailure[]
}

/** Who joins which manager, as what: from the arguments, or from the failure record for --retry-failed. */
export async function planJoin(cluster: Cluster, req: JoinRequest): Promise<JoinPlan> {
  const record = cluster.state.read().failures[JOIN_RECORD]
  let manager: string | undefined = req.args[0]
  const patterns = req.args.slice(1)
  let role: Role = req.asManagers ? 'manager' : 'worker'
  let names: string[]
  const provider = await providerFor(cluster)
  const none = (nothing: string): JoinPlan => ({manager: manager ?? null, role, names: [], nothing, targets: [], earlier: []})
  if (req.retryFailed) {
    const failed = record?.failed.map((f) => f.name) ?? []
    if (typeof record?.context?.manager === 'string') manager ??= record.context.manager
    if (failed.length === 0) return none('nothing to retry: the last swarm join left no failures')
    if (!req.asManagers && record?.context?.role === 'manager') role = 'manager'
    const wanted = patterns.length ? new Set(expandPatterns(patterns)) : null
    names = failed.filter((n) => !wanted || wanted.has(n))
    if (names.length === 0) return none(`none of the nodes that failed last time (${failed.length}) match ${patterns.join(' ')}`)
  } else {
    if (!manager) throw new UsageError("which manager? belt swarm join MANAGER 'NODES' (or --retry-failed)")
    if (patterns.length === 0) throw new UsageError(`which nodes? belt swarm join ${manager} 'node[2:4]'`)
    names = expandPatterns(patterns, (n, p) => provider.validateName(n, p))
  }
  if (!manager) throw new UsageError('which manager? the failure record names none: belt swarm join MANAGER --retry-failed')
  const [managerEp] = await endpointsFor(cluster, [manager], provider)
  const targets = await endpointsFor(cluster, names, provider)
  const same = record?.context?.manager === manager && (record?.context?.role ?? 'worker') === role
  return {manager, role, names, nothing: null, managerEp, targets, earlier: same ? record?.failed ?? [] : []}
}

export interface JoinResult extends FleetResult {
  manager: string
  /** Set when the manager could not be read: every node failed with this reason and nothing was joined. */
  managerError: string | null
  /** Nodes without curl or a local docker socket, joined through `docker swarm join --token`. */
  viaArgv: string[]
}

/**
 * Read the manager once (its state, its managers, the join token), then join every target in parallel: one
 * connection and one command per node. The record in state.json ends up holding the nodes still outstanding for this
 * manager and role: this run settles those it attempted and keeps earlier failures it did not touch.
 */
export async function joinNodes(cluster: Cluster, ssh: SshContext, plan: JoinPlan, o: {timeoutMs: number; concurrency: number},
  hooks: FleetHooks = {}): Promise<JoinResult> {
  const manager = plan.manager!
  const keep = (failures: FleetFailure[]) => recordJoin(cluster, plan, failures)
  const scope = onInterrupt()
  let facts: ManagerFacts
  try {
    const slow = `no answer within ${formatSeconds(o.timeoutMs)} while reading its swarm state and ${plan.role} join token (is docker hanging on ${manager}?)`
    const step = {timeoutMs: o.timeoutMs, signal: scope.signal, slow}
    facts = await onManager(ssh, plan.managerEp!, step, (s, signal) => readManager(s, plan.role, signal))
  } catch (err) {
    scope.dispose()
    if (err instanceof UsageError) throw err
    // --json still prints its one document: every node failed for the manager's reason (and is kept for a retry).
    const reason = oneLine(err)
    const rows = plan.names.map((name) => ({name, outcome: 'failed', error: reason}))
    const result = fleetResult('joined', rows, {notStarted: [], interrupted: scope.interrupted()})
    keep(result.failed)
    return {...result, manager, managerError: reason, viaArgv: []}
  }
  const n = plan.targets.length
  hooks.notice?.(`joining ${n} node${n === 1 ? '' : 's'} as ${plan.role}${n === 1 ? '' : 's'} to the swarm of ${manager} (${facts.address})`)
  const viaArgv: string[] = []
  let fleet
  try {
    const join = (s: SshSession, signal: AbortSignal) => joinNode(s, facts, signal, (path) => { if (path === 'argv') viaArgv.push(s.endpoint.name) })
    fleet = await runTracked(ssh, plan.targets, join, {
      concurrency: o.concurrency, timeoutMs: o.timeoutMs, retries: 2, jitterMs: Math.min(1000, n * 5), signal: scope.signal,
      label: 'swarm join', outcomes: ['joined', 'already', 'failed'], outcomeOf: (v) => v,
    }, hooks)
  } finally {
    scope.dispose()
  }
  const result = fleetResult('joined', fleet.rows, fleet.run)
  keep(allFailures(result))
  return {...result, manager, managerError: null, viaArgv: viaArgv.sort(byNaturalName)}
}

function recordJoin(cluster: Cluster, plan: JoinPlan, failures: FleetFailure[]): void {
  const attempted = new Set(plan.names)
  const remaining = [...plan.earlier.filter((f) => !attempted.has(f.name)), ...failures]
  ensureClusterDir(cluster)
  cluster.state.update((s) => {
    const context = {manager: plan.manager, role: plan.role}
    if (remaining.length) s.failures[JOIN_RECORD] = {at: new Date().toISOString(), context, failed: remaining}
    else delete s.failures[JOIN_RECORD]
  })
}

/** docker swarm leave on every target, in parallel; a node in no swarm is 'already'. */
export async function leaveNodes(ssh: SshContext, targets: SshEndpoint[], o: {force: boolean; timeoutMs: number; concurrency: number},
  hooks: FleetHooks = {}): Promise<FleetResult> {
  const scope = onInterrupt()
  try {
    const {run, rows} = await runTracked(ssh, targets, (s, signal) => leaveNode(s, o.force, signal), {
      concurrency: o.concurrency, timeoutMs: o.timeoutMs, retries: 2, signal: scope.signal,
      label: 'swarm leave', outcomes: ['left', 'already', 'failed'], outcomeOf: (v) => v,
    }, hooks)
    return fleetResult('left', rows, run)
  } finally {
    scope.dispose()
  }
}

/** The manager a node change goes through (the active node) and the nodes it changes. */
export async function nodeOpTargets(cluster: Cluster, patterns: string[]): Promise<{manager: SshEndpoint; targets: SshEndpoint[]}> {
  const name = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [manager] = await endpointsFor(cluster, [name])
  return {manager, targets: await endpointsFrom(cluster, patterns)}
}

/**
 * promote / demote / drain / activate through one manager. The manager changes the nodes one after another in one
 * command, so the default time limit grows with their number.
 */
export async function runNodeOp(ssh: SshContext, op: NodeOp, manager: SshEndpoint, targets: SshEndpoint[],
  o: {timeoutMs?: number}): Promise<FleetResult> {
  const timeoutMs = o.timeoutMs ?? 120_000 + 1000 * targets.length
  const scope = onInterrupt()
  let rows: HostOutcome[]
  try {
    rows = await onManager(ssh, manager, {timeoutMs, signal: scope.signal}, (s, signal) => changeNodes(s, op, targets, signal))
  } finally {
    scope.dispose()
  }
  if (scope.interrupted()) throw new Interrupted()
  return fleetResult(opVerb(op), rows)
}

// ------------------------------------------------------------------------------------------- swarm rm --

/** IDs per `docker node rm` call: one exec per chunk keeps a 2,000-node clean-up to a few commands. */
const RM_CHUNK = 500

export interface RemoveRequest {
  /** Node names or patterns; empty with `down`: every node the manager sees as Down. */
  patterns: string[]
  down: boolean
  force: boolean
}

export interface RemovePlan {
  /** Swarm entries to remove, each under the name it is reported by (belt name or swarm hostname). */
  remove: {name: string; id: string}[]
  /** Names that are in no swarm entry (gone already). */
  already: string[]
  /** Managers asked for: never removed, with what to do instead. */
  managers: string[]
}

/**
 * Which swarm entries `swarm rm` removes, from the manager's node list. A name's Down entries go (a node that re-joined
 * leaves a Down entry under its old ID: only that one is removed); a name with no Down entry needs `force`, and
 * without it the command refuses naming those nodes before anything changes. Managers are never removed: docker refuses
 * to remove a raft member, so they must be demoted first.
 */
export function planRemove(nodes: SwarmNode[], req: RemoveRequest, names: string[], known: Map<string, SshEndpoint>): RemovePlan {
  const plan: RemovePlan = {remove: [], already: [], managers: []}
  const notDown: string[] = []
  const isDown = (n: SwarmNode) => n.state === 'down' || n.state === 'unknown' || n.state === 'disconnected'
  if (names.length === 0 && req.down) {
    for (const n of nodes.filter(isDown)) {
      if (n.role === 'manager') plan.managers.push(n.hostname)
      else plan.remove.push({name: n.hostname, id: n.id})
    }
    return plan
  }
  for (const name of names) {
    const ep = known.get(name)
    let entries = nodes.filter((n) => n.hostname === name)
    if (entries.length === 0 && ep) {
      const addrs = new Set([ep.private_ip, ep.public_ip, ep.host].filter(Boolean))
      entries = nodes.filter((n) => addrs.has(n.addr))
    }
    if (entries.length === 0) {
      plan.already.push(name)
      continue
    }
    const down = entries.filter(isDown)
    const picked = down.length ? down : req.down ? [] : entries
    if (picked.length === 0) continue // --down with patterns: only the Down ones among them
    if (picked.some((n) => n.role === 'manager')) {
      plan.managers.push(name)
      continue
    }
    if (!down.length && !req.force) notDown.push(name)
    for (const n of picked) plan.remove.push({name, id: n.id})
  }
  if (notDown.length) {
    const list = notDown.length > 10 ? `${notDown.slice(0, 10).join(', ')}, … (${notDown.length} in all)` : notDown.join(', ')
    throw new SwarmError(`not Down in the swarm: ${list}; removing a node that is still up needs --force (or drain and stop it first)`, true)
  }
  return plan
}

export function nodeRmCommand(ids: string[], force: boolean): string {
  return `docker node rm${force ? ' --force' : ''} ${ids.map(q).join(' ')}`
}

/** Remove the planned entries through the manager, RM_CHUNK IDs per `docker node rm`; per-name outcomes. */
export async function removeEntries(session: SshSession, entries: {name: string; id: string}[], force: boolean, signal?: AbortSignal): Promise<HostOutcome[]> {
  const failedBy = new Map<string, string>()
  for (let i = 0; i < entries.length; i += RM_CHUNK) {
    const chunk = entries.slice(i, i + RM_CHUNK)
    const r = await session.exec(nodeRmCommand(chunk.map((e) => e.id), force), {sudo: true, signal, maxOutputBytes: 4 * 1024 * 1024})
    // docker prints each removed ID on stdout and one error line per refused one on stderr, then exits 1.
    const removed = new Set(r.stdout.split('\n').map((l) => l.trim()).filter(Boolean))
    const errors = r.stderr.split('\n').map((l) => l.trim()).filter(Boolean)
    for (const e of chunk) {
      if (removed.has(e.id)) continue
      const line = errors.find((l) => l.includes(e.id)) ?? errors[0] ?? `exit code ${r.code}`
      failedBy.set(e.name, redact(line))
    }
  }
  const names = [...new Set(entries.map((e) => e.name))]
  return names.map((name) => (failedBy.has(name) ? {name, outcome: 'failed', error: failedBy.get(name)} : {name, outcome: 'removed'}))
}

/** belt swarm rm: read the swarm through the active manager, plan, remove; one connection, a few execs. */
export async function removeNodes(cluster: Cluster, ssh: SshContext, req: RemoveRequest, o: {timeoutMs?: number}): Promise<FleetResult & {manager: string}> {
  if (!req.down && req.patterns.length === 0) throw new UsageError("which nodes? belt swarm rm 'PATTERN'... or belt swarm rm --down")
  const provider = await providerFor(cluster)
  const names = req.patterns.length ? expandPatterns(req.patterns, (n, p) => provider.validateName(n, p)) : []
  const managerName = activeNodeName(cluster, 'run belt swarm init MANAGER first, or set the manager with: belt active MANAGER')
  const [manager] = await endpointsFor(cluster, [managerName], provider)
  const {found} = await provider.endpoints(names)
  const known = new Map(found.map((ep) => [ep.name, ep]))
  const timeoutMs = o.timeoutMs ?? 120_000 + 100 * names.length
  const scope = onInterrupt()
  let rows: HostOutcome[]
  try {
    rows = await onManager(ssh, manager, {timeoutMs, signal: scope.signal}, async (s, signal) => {
      const plan = planRemove(await listNodes(s, signal), req, names, known)
      const unknown = plan.already.filter((n) => !known.has(n))
      if (unknown.length) throw new SwarmError(`unknown node${unknown.length > 1 ? 's' : ''} ${unknown.slice(0, 5).join(', ')}: neither in cluster '${cluster.name}' nor in the swarm`, true)
      const out: HostOutcome[] = plan.already.map((name) => ({name, outcome: 'already'}))
      for (const name of plan.managers) {
        out.push({name, outcome: 'failed', error: `a manager: demote it first (belt swarm demote ${name}), then belt swarm rm ${name}`})
      }
      if (plan.remove.length) out.push(...await removeEntries(s, plan.remove, req.force, signal))
      return out
    })
  } finally {
    scope.dispose()
  }
  if (scope.interrupted()) throw new Interrupted()
  return {...fleetResult('removed', rows), manager: manager.name}
}
