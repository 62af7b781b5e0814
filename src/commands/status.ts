import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError, Interrupted} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {swarmStatus, type SwarmStatusResult} from '../docker/health.js'
import {providerFor} from '../providers/index.js'
import type {NodeInfo, NodeStatus} from '../providers/provider.js'
import {tableChoice, tableFlags} from '../ui/columns.js'
import {STATUS_COLUMNS, renderStatus, swarmProblem} from '../ui/health.js'
import {byName, info} from '../ui/output.js'

const STATUSES: NodeStatus[] = ['new', 'active', 'off', 'gone', 'unreachable']
const SYNONYMS: Record<string, NodeStatus> = {running: 'active', pending: 'new', stopped: 'off', terminated: 'gone'}

export default class Status extends BeltCommand {
  static description = `Count the cluster's nodes by status, and show the swarm's health through one manager

The swarm's view (leader, managers and quorum, nodes by state and availability, engine versions, drift between the \
cloud and the swarm) is read through the active node, or the next manager when it does not answer. Exit 1 when \
quorum is lost or a manager is unreachable.
--wait active=N polls the cloud until N nodes are active; --wait ready=N polls the swarm (through one manager \
connection) until N nodes are Ready.`

  static examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --wait active=3',
    '<%= config.bin %> status --wait ready=2000 --timeout 30m',
    '<%= config.bin %> status --json --no-swarm',
    '<%= config.bin %> status --columns status,count --no-header',
  ]

  static flags = {
    wait: Flags.string({description: 'wait until at least N nodes have STATUS (STATUS=N: active=3), or N swarm nodes are Ready (ready=N)'}),
    timeout: Flags.string({description: 'how long --wait waits', default: '15m'}),
    swarm: Flags.boolean({description: 'read the swarm through a manager (--no-swarm: the cloud only)', default: true, allowNo: true}),
    json: Flags.boolean({description: 'print JSON: {"counts": {...}, "nodes": [node], "swarm": {...} | null}'}),
    ...tableFlags(STATUS_COLUMNS),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const want = flags.wait ? parseWait(flags.wait) : null
    const choice = tableChoice(flags, STATUS_COLUMNS)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    if (want?.status === 'ready' && !flags.swarm) throw new UsageError('--wait ready=N reads the swarm: drop --no-swarm')
    const cluster = this.resolveCluster(flags)
    const provider = await providerFor(cluster)
    let nodes: NodeInfo[]
    let reached = true
    let swarm: SwarmStatusResult | null = null
    const scope = onInterrupt()
    try {
      const cloudWait = want && want.status !== 'ready' ? {status: want.status, count: want.count} : null
      if (cloudWait) {
        const r = await provider.wait({...cloudWait, timeoutMs, signal: scope.signal,
          onProgress: (ns) => info(`waiting: ${ns.filter((n) => n.status === cloudWait.status).length}/${cloudWait.count} ${cloudWait.status}`)})
        nodes = r.nodes
        reached = r.reached
      } else nodes = await provider.list({signal: scope.signal})
      nodes.sort(byName)
      if (flags.swarm && !scope.interrupted()) {
        // Endpoints from the listing just made: the cloud is listed once.
        const {found} = await provider.endpoints(nodes.map((n) => n.name), nodes)
        const ready = want?.status === 'ready' ? want.count : undefined
        swarm = await this.withSsh(cluster, (ssh) => swarmStatus(cluster, ssh, nodes, found, {
          ready, timeoutMs, signal: scope.signal,
          onWaiting: ready === undefined ? undefined : (n) => info(`waiting: ${n === null ? 'no manager answered' : `${n}/${ready} ready`}`),
        }))
      }
    } finally {
      scope.dispose()
    }
    const strangers = provider.foreignNote?.()
    if (strangers) info(strangers)
    const counts: Record<string, number> = {}
    for (const n of nodes) counts[n.status] = (counts[n.status] ?? 0) + 1
    renderStatus({counts, nodes, swarm}, flags.json, choice)
    if (scope.interrupted() || swarm?.interrupted) throw new Interrupted()
    if (want && want.status !== 'ready' && !reached) {
      throw new PartialFailure(`timed out after ${flags.timeout}: ${counts[want.status] ?? 0} of ${want.count} nodes ${want.status}`)
    }
    if (want?.status === 'ready' && !swarm?.reached) {
      throw new PartialFailure(`timed out after ${flags.timeout}: ${swarm?.view?.swarm.nodes.ready ?? 0} of ${want.count} swarm nodes ready`)
    }
    const problem = swarmProblem(swarm)
    if (problem) throw new PartialFailure(flags.json ? '' : `swarm: ${problem}`)
  }
}

function parseWait(text: string): {status: NodeStatus | 'ready'; count: number} {
  const m = /^([a-z]+)=(\d+)$/.exec(text.trim())
  if (!m) throw new UsageError(`--wait: expected STATUS=N (e.g. active=3, ready=3), got '${text}'`)
  if (m[1] === 'ready') return {status: 'ready', count: Number(m[2])}
  const status = (SYNONYMS[m[1]] ?? m[1]) as NodeStatus
  if (!STATUSES.includes(status)) throw new UsageError(`--wait: unknown status '${m[1]}'; use one of ${STATUSES.join(', ')} or ready (swarm nodes)`)
  return {status, count: Number(m[2])}
}
