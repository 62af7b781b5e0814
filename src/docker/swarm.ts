// Swarm over SSH: the remote commands for init, join, leave and node changes, built in one visible place, and the
// parsing of what they print. Every command is idempotent (it looks before it acts, in the same remote command, so
// a join costs one connection and one exec per host). Join tokens are scrubbed from anything shown (registerSecret)
// and never appear in an argv on either side: the manager prints its token to our channel, and a node gets it on the
// join command's stdin, from where the shell's builtin printf feeds it to `curl --unix-socket <docker socket>` as the
// body of POST /swarm/join (the Engine API docker's own CLI uses). Only when the node has no curl, or docker's
// endpoint is not a local unix socket, does the join fall back to `docker swarm join --token "$t"`, which shows the
// token in the node's process list while it runs; joinNode reports that fallback so the command can say so.
import {registerSecret, redact} from '../core/redact.js'
import {shellQuote} from '../ssh/quote.js'
import type {SshSession} from '../ssh/types.js'
import type {SshEndpoint} from '../providers/provider.js'

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
export function joinCommand(address: string, managerIds: string[]): string {
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
    `  code=$(printf '{"ListenAddr":"0.0.0.0:2377","RemoteAddrs":["%s"],"JoinToken":"%s"}' "$addr" "$t" |`,
    `    curl -sS --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- -o /dev/stderr -w '%{http_code}' http://localhost/swarm/join) || exit 6`,
    `  [ "$code" = 200 ] || { echo >&2; echo "belt: POST /swarm/join answered $code" >&2; exit 7; }`,
    `  echo "belt-swarm: joined api"`,
    `else`,
    `  docker swarm join --token "$t" "$addr" && echo "belt-swarm: joined argv"`,
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

export async function joinNode(session: SshSession, manager: ManagerFacts, signal?: AbortSignal, onJoined?: (path: JoinPath) => void): Promise<JoinOutcome> {
  const ids = manager.info.managers.map((m) => m.id).filter(Boolean)
  if (!ids.includes(manager.info.nodeId)) ids.push(manager.info.nodeId)
  const r = await session.exec(joinCommand(manager.address, ids), {sudo: true, stdin: manager.token + '\n', signal, maxOutputBytes: 16 * 1024})
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

export interface NodeOpResult {
  name: string
  outcome: string
  error?: string
}

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
