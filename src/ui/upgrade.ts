// How belt upgrade shows what it did: its notes (autolock) on stderr, the per-node table (role, engine before and
// after) and the summary on stdout, or one JSON document ({ok, already, failed} plus "target" and "nodes").
import type {UpgradeReport} from '../docker/upgrade.js'
import {renderFleet} from './fleet.js'
import {info, out, table} from './output.js'

export function renderUpgrade(r: UpgradeReport, json: boolean): void {
  for (const n of r.notes) info(n)
  if (json) return renderFleet(r, {json, head: {target: r.target}, tail: {nodes: r.nodes}})
  if (r.nodes.length) {
    const failed = new Map(r.failed.map((f) => [f.name, f.error]))
    out(table(['NODE', 'ROLE', 'ENGINE BEFORE', 'ENGINE AFTER', 'RESULT'],
      r.nodes.map((n) => [n.name, n.role, n.from, n.to ?? '-', failed.has(n.name) ? `failed: ${failed.get(n.name)}` : r.verb])))
    out()
  }
  renderFleet(r, {json})
  if (r.failed.length) info('fix the cause and re-run the same command: nodes finished in this upgrade are skipped')
}
