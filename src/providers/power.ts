// What every driver's power action shares: which of the named nodes get the call, which are already in the wanted
// state, and which cannot be acted on (unknown, gone, or off for a restart). Pure; the drivers make the calls.
import pLimit from 'p-limit'
import type {Failure, NodeStatus, PowerAction, PowerResult} from './provider.js'

export interface PowerSplit<T> {
  send: T[]
  already: string[]
  failed: Failure[]
}

/** The status a node has once the action is over. */
export function settledStatus(action: PowerAction): NodeStatus {
  return action === 'stop' ? 'off' : 'active'
}

export function powerSplit<T extends {name: string; status: NodeStatus}>(action: PowerAction, names: string[], nodes: T[],
  cluster: string): PowerSplit<T> {
  const byName = new Map<string, T>()
  // A name listed twice (a replaced node still shutting down): the one not gone.
  for (const n of nodes) if (!byName.has(n.name) || byName.get(n.name)!.status === 'gone') byName.set(n.name, n)
  const out: PowerSplit<T> = {send: [], already: [], failed: []}
  for (const name of names) {
    const n = byName.get(name)
    if (!n || n.status === 'gone') out.failed.push({name, error: `no node '${name}' in cluster '${cluster}'`})
    else if (action === 'stop' && n.status === 'off') out.already.push(name)
    else if (action === 'start' && (n.status === 'active' || n.status === 'new')) out.already.push(name)
    else if (action === 'restart' && n.status === 'off') out.failed.push({name, error: `${name} is off; start it with: belt start ${name}`})
    else out.send.push(n)
  }
  return out
}

/**
 * One power action per node, `concurrency` at a time: a node not started before Ctrl-C fails as "not started
 * (interrupted)", an action that throws fails its node with the reason; `act` records its own success.
 */
export async function eachNode<T extends {name: string}>(nodes: T[], concurrency: number, result: PowerResult,
  signal: AbortSignal | undefined, act: (n: T) => Promise<void>): Promise<void> {
  const limit = pLimit(concurrency)
  await Promise.all(nodes.map((n) => limit(async () => {
    if (signal?.aborted) {
      result.interrupted = true
      result.failed.push({name: n.name, error: 'not started (interrupted)'})
      return
    }
    try {
      await act(n)
    } catch (err) {
      result.failed.push({name: n.name, error: (err as Error).message})
    }
  })))
}
