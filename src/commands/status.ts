import {Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError, Interrupted} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {providerFor} from '../providers/index.js'
import type {NodeInfo, NodeStatus} from '../providers/provider.js'
import {type Column, renderTable, tableChoice, tableFlags} from '../ui/columns.js'
import {byName, info, out, printJson, shorten} from '../ui/output.js'

const STATUSES: NodeStatus[] = ['new', 'active', 'off', 'gone', 'unreachable']
const SYNONYMS: Record<string, NodeStatus> = {running: 'active', pending: 'new', stopped: 'off', terminated: 'gone'}

const COLUMNS: Column<{status: NodeStatus; names: string[]}>[] = [
  {key: 'status', head: 'STATUS', value: (r) => r.status},
  {key: 'count', head: '#NODES', value: (r) => r.names.length},
  {key: 'names', head: 'NAMES', value: (r) => shorten(r.names)},
]

export default class Status extends BeltCommand {
  static description = 'Count the cluster\'s nodes by status; --wait polls until enough are in a status'
  static examples = ['<%= config.bin %> status', '<%= config.bin %> status --wait active=3',
    '<%= config.bin %> status --wait active=2000 --timeout 30m --json', '<%= config.bin %> status --columns status,count --no-header']
  static flags = {
    wait: Flags.string({description: 'wait until at least N nodes have STATUS (STATUS=N, e.g. active=3)'}),
    timeout: Flags.string({description: 'how long --wait waits', default: '15m'}),
    json: Flags.boolean({description: 'print JSON: {"counts": {...}, "nodes": [node]}'}),
    ...tableFlags(COLUMNS),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const want = flags.wait ? parseWait(flags.wait) : null
    const choice = tableChoice(flags, COLUMNS)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const cluster = this.resolveCluster(flags)
    const provider = await providerFor(cluster)
    let nodes: NodeInfo[]
    let reached = true
    const scope = onInterrupt()
    try {
      if (want) {
        const r = await provider.wait({status: want.status, count: want.count, timeoutMs, signal: scope.signal,
          onProgress: (ns) => info(`waiting: ${ns.filter((n) => n.status === want.status).length}/${want.count} ${want.status}`)})
        nodes = r.nodes
        reached = r.reached
      } else nodes = await provider.list({signal: scope.signal})
    } finally {
      scope.dispose()
    }
    nodes.sort(byName)
    const strangers = provider.foreignNote?.()
    if (strangers) info(strangers)
    const counts: Record<string, number> = {}
    for (const n of nodes) counts[n.status] = (counts[n.status] ?? 0) + 1
    if (flags.json) printJson({counts, nodes})
    else {
      const rows = STATUSES.filter((s) => counts[s]).map((s) => ({status: s, names: nodes.filter((n) => n.status === s).map((n) => n.name)}))
      const text = renderTable(COLUMNS, rows, choice)
      if (text) out(text)
    }
    if (scope.interrupted()) throw new Interrupted()
    if (want && !reached) {
      throw new PartialFailure(`timed out after ${flags.timeout}: ${counts[want.status] ?? 0} of ${want.count} nodes ${want.status}`)
    }
  }
}

function parseWait(text: string): {status: NodeStatus; count: number} {
  const m = /^([a-z]+)=(\d+)$/.exec(text.trim())
  if (!m) throw new UsageError(`--wait: expected STATUS=N (e.g. active=3), got '${text}'`)
  const status = (SYNONYMS[m[1]] ?? m[1]) as NodeStatus
  if (!STATUSES.includes(status)) throw new UsageError(`--wait: unknown status '${m[1]}'; use one of ${STATUSES.join(', ')}`)
  return {status, count: Number(m[2])}
}
