// How provision and regenerate-certs show what they did: the cluster TLS files made on the way, the remote commands
// for --print-command, what changed per node, the summary or JSON, and the next step.
import type {ClusterTls} from '../docker/tls.js'
import type {ProvisionResult} from '../docker/provision.js'
import {renderFleet} from './fleet.js'
import {info, out} from './output.js'

/** Up to this many changed nodes, what changed on each is listed on stderr. */
const DETAIL_UP_TO = 30

export function announceTls(tls: ClusterTls): void {
  if (tls.created.includes('ca')) info(`created the cluster CA in ${tls.paths.dir} (ca-key.pem stays on this machine)`)
  if (tls.created.includes('client')) info(`issued the client certificate ${tls.paths.cert}`)
}

export function printRemoteCommands(steps: {step: string; command: string}[]): void {
  for (const s of steps) {
    out(`# ${s.step}`)
    out(s.command)
    out()
  }
}

/** Notices of every node and what changed per node (stderr, for fleets small enough to read), then the summary. */
export function renderProvision(r: ProvisionResult, json: boolean): void {
  for (const d of r.done) for (const n of d.outcome.notices) info(`${d.name}: note: ${n}`)
  const changed = r.done.filter((d) => !d.outcome.already)
  if (changed.length <= DETAIL_UP_TO) for (const d of changed) info(`${d.name}: ${d.outcome.changes.join('; ')}`)
  renderFleet(r, {json})
  if (r.done.length > 0 && !r.interrupted) info(`use Docker on a node with: eval "$(belt env ${r.done[0].name})"`)
}
