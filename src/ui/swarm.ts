// How the swarm commands show what they did: swarm init's line, swarm join's --print-command, its summary and the
// warning about nodes that joined with the token on their command line.
import {fleetResult} from '../ssh/fleet-result.js'
import {joinCommand, readManagerCommand, type InitManagerResult, type JoinPlan, type JoinResult, type Role} from '../docker/swarm.js'
import {renderFleet} from './fleet.js'
import {info, out, printJson, warn} from './output.js'

export function renderInit(r: InitManagerResult, json: boolean): void {
  if (json) return printJson({manager: r.name, address: r.address, node_id: r.info.nodeId, already: r.already, drained: r.drained})
  const node = `node ${r.info.nodeId.slice(0, 12)}, ${r.address}`
  out(r.already ? `${r.name} already manages a swarm (${node})` : `swarm initialised on ${r.name} (${node})`)
  if (r.drained) info(`${r.name} is drained: tasks run on workers only`)
  info(`active node: ${r.name}; next: belt swarm join ${r.name} 'NODES'`)
}

export function printJoinCommands(role: Role): void {
  out(`# on the manager (one command: its swarm state, its managers, the ${role} join token)`)
  out(readManagerCommand(role))
  out()
  out('# on each node (one command; the token arrives on stdin and goes to dockerd as the body of POST /swarm/join through curl,')
  out('# never on a command line; only a node without curl or a local docker socket falls back to docker swarm join --token)')
  out(joinCommand('MANAGER-ADDRESS:2377', ['MANAGER-NODE-ID']))
  out()
  out("# when ssh_user is not root, each runs as: sudo -n sh -c '...'")
}

/** --retry-failed with nothing to retry: say so; --json still prints its document. */
export function renderNothingToJoin(plan: JoinPlan, json: boolean): void {
  info(plan.nothing ?? 'nothing to join')
  if (json) renderFleet(fleetResult('joined', []), {json, key: 'joined', head: {manager: plan.manager}})
}

/** CONTRACT §4 with "joined" and "manager"; when the manager could not be read, only --json prints (its document). */
export function renderJoin(r: JoinResult, json: boolean): void {
  const doc = {json, key: 'joined', head: {manager: r.manager}}
  if (r.managerError) {
    if (json) renderFleet(r, doc)
    return
  }
  const n = r.viaArgv.length
  if (n) {
    const names = `${r.viaArgv.slice(0, 5).join(', ')}${n > 5 ? ', …' : ''}`
    warn(`${n} node${n === 1 ? '' : 's'} (${names}) had no curl or no local docker socket and joined with docker swarm join --token: `
      + 'the token was in their process list while it ran; install curl there to avoid that')
  }
  renderFleet(r, doc)
  if (!json && (r.failed.length || r.notStarted.length)) info('retry the failed nodes with: belt swarm join --retry-failed')
}
