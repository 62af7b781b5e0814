// Finding instances: DescribeInstances filtered by the cluster's name tag, every page (never one call per instance),
// split by the id tag into ours, foreign (another project's cluster of the same name) and legacy (from before ids).
// A name is the Name tag, else the batch record's name at the instance's launch index (launched by an interrupted
// create). Also the id tagging of `cluster adopt`, which works from the same listing.
import type {Instance} from '@aws-sdk/client-ec2'
import type {AdoptResult, NodeInfo, NodeStatus} from '../provider.js'
import type {BatchMember} from './batches.js'
import {call, describeError, type Ec2Context, sdk} from './client.js'
import {memoryOf} from './sizes.js'
import {BATCH_TAG, CLUSTER_TAG, ID_TAG, tagStrings, tagValue} from './tags.js'

/** Every state but terminated: terminated instances are gone (AWS keeps showing them for about an hour). */
const LISTED_STATES = ['pending', 'running', 'shutting-down', 'stopping', 'stopped']
const PAGE_SIZE = 1000
/** Instances per CreateTags call of `cluster adopt` (all get the same tag). */
const ADOPT_CHUNK = 500

/** One listed instance with the name belt resolved for it. */
export interface Listed extends BatchMember {
  node: NodeInfo
  instance: Instance
}

export interface Inventory {
  ours: Listed[]
  foreign: Listed[]
  legacy: Listed[]
}

export function normaliseState(state: string | undefined): NodeStatus {
  switch (state) {
    case 'pending': return 'new'
    case 'running': return 'active'
    case 'stopping':
    case 'stopped': return 'off'
    default: return 'gone' // shutting-down, terminated
  }
}

/** Every instance with the cluster's name tag (not terminated), split by its id tag. */
export async function listInstances(ctx: Ec2Context, signal?: AbortSignal): Promise<Inventory> {
  const batchNames = new Map(ctx.records.read().batches.map((b) => [b.id, b.names]))
  const split: Inventory = {ours: [], foreign: [], legacy: []}
  const clusterId = ctx.cluster.id
  let token: string | undefined
  do {
    const page = await call('DescribeInstances', (o) => ctx.client.send(new sdk.DescribeInstancesCommand({
      Filters: [{Name: `tag:${CLUSTER_TAG}`, Values: [ctx.cluster.name]}, {Name: 'instance-state-name', Values: LISTED_STATES}],
      MaxResults: PAGE_SIZE,
      NextToken: token,
    }), o), signal)
    for (const r of page.Reservations ?? []) {
      for (const inst of r.Instances ?? []) {
        const tagName = tagValue(inst, 'Name')
        const batchId = tagValue(inst, BATCH_TAG) ?? null
        const fromBatch = batchId ? batchNames.get(batchId)?.[inst.AmiLaunchIndex ?? -1] : undefined
        const name = tagName || fromBatch || inst.InstanceId!
        const id = tagValue(inst, ID_TAG)
        const which = id === undefined ? split.legacy : clusterId && id === clusterId ? split.ours : split.foreign
        which.push({node: toNode(inst, name, ctx.region), instance: inst, named: Boolean(tagName), batchId: fromBatch ? batchId : null})
      }
    }
    token = page.NextToken || undefined
  } while (token)
  return split
}

export function toNode(inst: Instance, name: string, region: string): NodeInfo {
  return {
    name,
    id: inst.InstanceId ?? null,
    status: normaliseState(inst.State?.Name),
    provider_status: inst.State?.Name ?? null,
    public_ip: inst.PublicIpAddress || null,
    private_ip: inst.PrivateIpAddress || null,
    region,
    size: inst.InstanceType ?? null,
    memory_mb: memoryOf(inst.InstanceType),
    tags: tagStrings(inst.Tags).sort(),
  }
}

/** Tag the instances state.json lists (by instance id) with belt-cluster-id; never one with another cluster's id. */
export async function adoptById(ctx: Ec2Context): Promise<AdoptResult> {
  const id = ctx.cluster.id
  if (!id) throw new Error('bug: adopt before the cluster has its id')
  const result: AdoptResult = {tagged: [], already: [], missing: [], failed: []}
  const {ours, foreign, legacy} = await listInstances(ctx)
  const byId = new Map<string, {l: Listed; kind: keyof Inventory}>()
  for (const l of ours) byId.set(l.node.id!, {l, kind: 'ours'})
  for (const l of foreign) byId.set(l.node.id!, {l, kind: 'foreign'})
  for (const l of legacy) byId.set(l.node.id!, {l, kind: 'legacy'})
  const toTag: {name: string; id: string}[] = []
  for (const [name, rec] of Object.entries(ctx.cluster.state.read().nodes)) {
    const hit = rec?.id ? byId.get(String(rec.id)) : undefined
    if (!hit || hit.l.node.status === 'gone') result.missing.push(name)
    else if (hit.kind === 'ours') result.already.push(name)
    else if (hit.kind === 'foreign') {
      const other = `${ID_TAG}=${tagValue(hit.l.instance, ID_TAG)}`
      result.failed.push({name, error: `instance ${hit.l.node.id} carries another cluster's id (${other}); not retagged`})
    } else toTag.push({name, id: hit.l.node.id!})
  }
  for (let i = 0; i < toTag.length; i += ADOPT_CHUNK) {
    const part = toTag.slice(i, i + ADOPT_CHUNK)
    try {
      const command = new sdk.CreateTagsCommand({Resources: part.map((x) => x.id), Tags: [{Key: ID_TAG, Value: id}]})
      await call('CreateTags', (o) => ctx.client.send(command, o))
      result.tagged.push(...part.map((x) => x.name))
    } catch (err) {
      result.failed.push(...part.map((x) => ({name: x.name, error: describeError(err)})))
    }
  }
  return result
}
