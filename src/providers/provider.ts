// The one interface every driver implements (digitalocean, ec2, generic, local). Commands only talk to this.
// Providers never print and never exit: they return results and report progress through callbacks.
import type {Cluster} from '../core/config/cluster.js'
import type {Driver} from '../core/config/schema.js'

export type NodeStatus = 'new' | 'active' | 'off' | 'gone' | 'unreachable'

/** A node as shown to users; the JSON shape of CONTRACT §4 (unknown values are null). */
export interface NodeInfo {
  name: string
  id: string | null
  status: NodeStatus
  provider_status: string | null
  public_ip: string | null
  private_ip: string | null
  region: string | null
  size: string | null
  memory_mb: number | null
  tags: string[]
}

/** How to reach a node over SSH. */
export interface SshEndpoint {
  name: string
  /** The address belt connects to; '' while the node has no address yet (the SSH layer refuses such an endpoint). */
  host: string
  port: number
  user: string
  /** The address swarm traffic should use when the provider knows one (private network). */
  private_ip: string | null
  public_ip: string | null
  /** Per-host key file (generic driver); otherwise the cluster-wide key order applies. */
  keyPath?: string
  /** Per-host bastion (generic `hosts.NAME.ssh_jump`); otherwise the cluster's ssh_jump applies. */
  jump?: string
  /** The node's status when the provider knows it (names why a node has no address yet). */
  status?: NodeStatus
}

/**
 * Why an endpoint must not be dialled, or null. A node without an address yet (a droplet still `new`, an instance
 * still pending) has host '': Node's net.connect would take that for localhost and log in to this machine's sshd.
 */
export function addressProblem(endpoint: SshEndpoint): string | null {
  if (endpoint.host.trim() !== '') return null
  return `no address yet (status ${endpoint.status ?? 'unknown'})`
}

export interface CreateOptions {
  size: string
  names: string[]
  region?: string
  image?: string
  tags: string[]
  /**
   * `belt up`: where the nodes go (a DigitalOcean region slug, an EC2 subnet id; only a label elsewhere), overriding
   * `region` / subnet_id.
   */
  zone?: string
  /** `belt up`: the pool the nodes belong to, tagged at create (`belt-pool:<pool>`, EC2 `belt-pool=<pool>`). */
  pool?: string
  signal?: AbortSignal
  /** Progress lines for stderr ("created 40/2000"). */
  onProgress?: (message: string) => void
  /**
   * The user data of the nodes made by one create request (joining at boot, CONTRACT §11), given that request's names:
   * one DigitalOcean POST (up to 10 names), one EC2 RunInstances batch, one local host. Replaces user_data (which it
   * already includes). Holds a secret: never logged, printed or written to this machine's disk.
   */
  userData?: (names: string[]) => string
}

export interface CreatePlan {
  /** The provider's size slug / instance type. */
  size: string
  memory_mb: number | null
  /** How SIZE was mapped (printed on stderr), e.g. "512mb → s-1vcpu-512mb-10gb (cheapest with 512 MB)". */
  sizeNote: string | null
  region: string | null
  image: string | null
  tags: string[]
  toCreate: string[]
  existing: NodeInfo[]
  /** Account limit when the API gives one. */
  limit: {max: number; used: number} | null
  /** Other lines worth telling (stderr). */
  notes: string[]
}

export interface Failure {
  name: string
  error: string
}

export interface CreateResult {
  created: NodeInfo[]
  existing: NodeInfo[]
  failed: Failure[]
  interrupted: boolean
  /** A state.json write failed after the cloud acted: the nodes above exist all the same; this says what was not recorded. */
  stateError?: string | null
}

export interface RemoveResult {
  removed: string[]
  failed: Failure[]
  interrupted: boolean
  /** A state.json write failed after the nodes were removed: they are gone all the same; this says what was not forgotten. */
  stateError?: string | null
}

/** One line for state writes that failed after the cloud acted ("could not record w1,w2 in state.json: reason"). */
export function stateErrorLine(verb: string, names: string[], errors: Error[]): string | null {
  if (errors.length === 0) return null
  const shown = names.length > 8 ? `${names.slice(0, 8).join(',')},… (${names.length})` : names.join(',')
  return `could not ${verb} ${shown || 'the cluster\'s records'} in state.json: ${errors[0].message}`
}

/** What `belt cluster adopt` did: state.json's nodes, each id-tagged now, already, missing from the cloud or refused. */
export interface AdoptResult {
  tagged: string[]
  already: string[]
  /** Listed in state.json, but the cloud has no such node with this cluster's name tag. */
  missing: string[]
  /** Refused: the node carries another cluster's id, or the tag call failed. */
  failed: Failure[]
}

export interface WaitOptions {
  /** Return once at least this many nodes (of `names`, when given) have this status. */
  names?: string[]
  status: NodeStatus
  count: number
  timeoutMs: number
  signal?: AbortSignal
  onProgress?: (nodes: NodeInfo[]) => void
}

export interface FirewallRule {
  direction: 'inbound' | 'outbound'
  protocol: string
  ports: string
  sources: string[]
  note: string
}

/** Power actions (`belt restart | stop | start`). */
export type PowerAction = 'restart' | 'stop' | 'start'

export interface PowerOptions {
  /** restart: a hard power cycle instead of a reboot (DigitalOcean only; others refuse it before acting). */
  hard: boolean
  /** Every node of the cluster is meant: a cluster-wide call where the API has one (DigitalOcean's tag actions). */
  whole: boolean
  signal?: AbortSignal
  onProgress?: (message: string) => void
}

export interface PowerResult {
  /** The action was accepted for these (local hosts: done). */
  ok: string[]
  /** Already in the wanted state: stop of a node that is off, start of one that runs. */
  already: string[]
  failed: Failure[]
  interrupted: boolean
}

export interface Provider {
  readonly driver: Driver
  readonly cluster: Cluster
  /** Throws a UsageError for names this provider would refuse. */
  validateName(name: string, pattern: string): void
  /** Everything `create` would do, without changing anything (also used by --dry-run). */
  plan(opts: CreateOptions): Promise<CreatePlan>
  create(opts: CreateOptions, plan: CreatePlan): Promise<CreateResult>
  /** This cluster's nodes only, all pages. */
  /**
   * `onPage`: the nodes of each page of a paged listing as it arrives (a poller hands them on at once); the result
   * is what counts — providers that list in one go need not call it.
   */
  list(opts?: {signal?: AbortSignal; onPage?: (nodes: NodeInfo[]) => void}): Promise<NodeInfo[]>
  /** Poll with list calls (never one call per node) until the count is reached; resolves with the last listing. */
  wait(opts: WaitOptions): Promise<{reached: boolean; nodes: NodeInfo[]}>
  /** Remove the named nodes, or all of this cluster's nodes. */
  remove(target: {names: string[]} | {all: true}, opts?: {signal?: AbortSignal; onProgress?: (m: string) => void}): Promise<RemoveResult>
  /**
   * How long to wait before the next full listing when polling, so the API's rate budget lasts (0: no reason to wait
   * longer than the poll interval). Providers without a request budget leave it out. `nodes`: how many the next listing
   * will return when the caller knows better than the last listing (droplets just created); `since`: when the last
   * listing started — then the answer is the wait from now (the listings left spread evenly from that one).
   */
  listSpacingMs?(opts?: {nodes?: number; since?: number}): number
  /**
   * SSH endpoints for names; unknown names come back in `missing`. `listing`: a list() the caller just made, used
   * instead of listing the cloud again.
   */
  endpoints(names: string[], listing?: NodeInfo[]): Promise<{found: SshEndpoint[]; missing: string[]}>
  /**
   * One line about nodes the last listing saw with this cluster's name tag but another cluster's id (foreign) or
   * none (legacy), or null. From the listing already made: no extra API call.
   */
  foreignNote?(): string | null
  /** Id-tag exactly the nodes state.json lists (clusters made before ids); cloud drivers only. */
  adopt?(): Promise<AdoptResult>
  /**
   * Power actions through the provider (cloud API, the local machine). Throws a UsageError before acting for what it
   * cannot do (--hard). Absent (generic): only restart, as `reboot` over SSH (src/power.ts).
   */
  power?(action: PowerAction, names: string[], opts: PowerOptions): Promise<PowerResult>
  /**
   * `belt down`, after every node is gone: remove what belt made for the cluster besides nodes (the DigitalOcean
   * firewall, the EC2 security group); returns one line per resource removed.
   */
  removeClusterResources?(opts?: {signal?: AbortSignal}): Promise<string[]>
  /** The swarm firewall rules, where the provider manages one. */
  firewall?(): Promise<{name: string; id: string | null; rules: FirewallRule[]} | null>
}
