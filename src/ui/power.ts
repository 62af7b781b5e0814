// How belt restart / stop / start show what they did: the notes (quorum, what to re-run) on stderr, the summary or
// the JSON document ({ok, already, failed} plus "addresses"), and each public address that changed on stdout.
import type {PowerReport} from '../docker/power.js'
import {renderFleet} from './fleet.js'
import {info, out} from './output.js'

export function renderPower(r: PowerReport, json: boolean): void {
  for (const n of r.notes) info(n)
  renderFleet(r, {json, tail: {addresses: r.addresses}})
  if (json) return
  for (const a of r.addresses) out(`${a.name}: new public address ${a.to} (was ${a.from})`)
}
