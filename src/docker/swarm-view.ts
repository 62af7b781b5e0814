// The swarm as one manager sees it, for operations that take nodes away for a while (belt upgrade, restart, stop):
// every node's role, availability, state, manager reachability and leadership and engine version, in one exec; and
// the quorum arithmetic of Raft (a majority of the managers must stay reachable). Parsing and arithmetic are pure.
import type {SshEndpoint} from '../providers/provider.js'
import type {SshSession} from '../ssh/types.js'
import {remoteError, SwarmError} from './swarm.js'

export interface SwarmMember {
  id: string
  hostname: string
  addr: string
  role: 'manager' | 'worker'
  availability: string
  /** ready | down | unknown | disconnected */
  state: string
  /** reachable | unreachable | unknown; '' for workers. */
  reachability: string
  leader: boolean
  engine: string
}

const FORMAT = '{{.ID}} {{.Description.Hostname}} {{.Status.Addr}} {{.Spec.Role}} {{.Spec.Availability}} {{.Status.State}} '
  + '{{with .ManagerStatus}}{{.Reachability}} {{.Leader}}{{else}}- false{{end}} {{.Description.Engine.EngineVersion}}'

export const MEMBERS_COMMAND = `ids=$(docker node ls -q) || exit $?; [ -z "$ids" ] || docker node inspect --format '${FORMAT}' $ids`

export function parseMembers(stdout: string): SwarmMember[] {
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [id, hostname, addr, role, availability, state, reach, leader, engine] = l.split(' ')
    return {
      id, hostname, addr, role: role === 'manager' ? 'manager' : 'worker', availability, state,
      reachability: reach === '-' ? '' : reach, leader: leader === 'true', engine: engine ?? '',
    }
  })
}

export async function readMembers(session: SshSession, signal?: AbortSignal): Promise<SwarmMember[]> {
  const r = await session.exec(MEMBERS_COMMAND, {sudo: true, signal, maxOutputBytes: 16 * 1024 * 1024})
  if (r.code !== 0) throw new SwarmError(`${session.endpoint.name}: ${remoteError(r.stderr, r.stdout, r.code)}`)
  return parseMembers(r.stdout)
}

/** The member a belt node is: by hostname (belt names hosts after nodes), else by address; one that is not down first. */
export function memberOf(ep: SshEndpoint, members: SwarmMember[]): SwarmMember | null {
  const rank = (m: SwarmMember) => (m.state === 'down' ? 1 : 0)
  const byHost = members.filter((m) => m.hostname === ep.name).sort((a, b) => rank(a) - rank(b))
  if (byHost.length) return byHost[0]
  const addrs = new Set([ep.private_ip, ep.public_ip, ep.host].filter(Boolean))
  return members.filter((m) => addrs.has(m.addr)).sort((a, b) => rank(a) - rank(b))[0] ?? null
}

/** Managers needed for quorum: a majority. */
export function quorumOf(managers: number): number {
  return Math.floor(managers / 2) + 1
}

export interface QuorumCheck {
  managers: number
  reachable: number
  /** Reachable managers among those to be taken away. */
  taken: number
  /** Quorum still holds with them gone. */
  holds: boolean
}

/** Would the swarm keep its quorum without these nodes? */
export function quorumWithout(members: SwarmMember[], hostnames: Set<string>): QuorumCheck {
  const managers = members.filter((m) => m.role === 'manager')
  const reachable = managers.filter((m) => m.reachability === 'reachable')
  const taken = reachable.filter((m) => hostnames.has(m.hostname)).length
  return {managers: managers.length, reachable: reachable.length, taken, holds: reachable.length - taken >= quorumOf(managers.length)}
}

/** Every manager reachable and one leader: the swarm is whole again (the condition between two manager restarts). */
export function managersHealthy(members: SwarmMember[]): boolean {
  const managers = members.filter((m) => m.role === 'manager')
  return managers.length > 0 && managers.every((m) => m.reachability === 'reachable' && m.state === 'ready')
    && managers.filter((m) => m.leader).length === 1
}
