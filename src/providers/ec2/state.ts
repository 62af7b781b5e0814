// The ec2 block of state.json (state.provider.ec2): the batch records, and the security group and key pair belt made.
// Records of what EC2 already did are written with tryUpdate: a failed write is reported on its own, never turned
// into a failure of what EC2 did.
import type {Cluster} from '../../core/config/cluster.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import type {StateData} from '../../core/config/state.js'
import type {BatchRecord} from './batches.js'

export interface Ec2State {
  batches: BatchRecord[]
  security_group?: {id: string; name: string; vpc_id: string | null}
  key_name?: string
}

export type StateChange = (s: Ec2State, state: StateData) => void

export class Ec2Records {
  constructor(private readonly cluster: Cluster<'ec2'>) {}

  read(): Ec2State {
    return ec2Block(this.cluster.state.read())
  }

  update(change: StateChange): void {
    ensureClusterDir(this.cluster)
    this.cluster.state.update((state) => change(ec2Block(state), state))
  }

  /** update() for records of what EC2 already did: a failed write is returned, not thrown. */
  tryUpdate(change: StateChange): Error | null {
    try {
      this.update(change)
      return null
    } catch (err) {
      return err as Error
    }
  }
}

/** state.nodes[name] gets the instance id; its other fields and first created_at stay. */
export function recordNodeId(state: StateData, name: string, id: string, now: string): void {
  state.nodes[name] = {...state.nodes[name], id, created_at: state.nodes[name]?.created_at ?? now}
}

function ec2Block(state: {provider: Record<string, unknown>}): Ec2State {
  const cur = state.provider.ec2 as Ec2State | undefined
  if (cur && Array.isArray(cur.batches)) return cur
  const fresh: Ec2State = {...(cur ?? {}), batches: []}
  state.provider.ec2 = fresh
  return fresh
}
