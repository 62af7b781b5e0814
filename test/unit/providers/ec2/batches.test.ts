// batches.ts: the pure planning of a create (adopt / re-issue / drop / fresh), completed and kept batch records,
// and client tokens. Plain objects stand for listed instances and state.json's records: no fake API, no state file.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {
  type BatchMember, type BatchRecord, clientToken, completedBatches, keptBatches, type LaunchInput, planLaunch,
} from '../../../../src/providers/ec2/batches.js'
import type {NodeStatus} from '../../../../src/providers/provider.js'

function record(id: string, names: string[], extra: Partial<BatchRecord> = {}): BatchRecord {
  const token = clientToken('aws', id)
  return {id, client_token: token, names, instance_ids: null, named: false, size: 't3.micro', image: 'ami-1', created_at: 't0', ...extra}
}

interface MemberOpts {batchId?: string | null; named?: boolean; status?: NodeStatus; index?: number}

function member(name: string, id: string, opts: MemberOpts = {}): BatchMember {
  return {
    node: {name, id, status: opts.status ?? 'active'},
    named: opts.named ?? true,
    batchId: opts.batchId ?? null,
    instance: {AmiLaunchIndex: opts.index ?? 0},
  }
}

function input(extra: Partial<LaunchInput<BatchMember>> = {}): LaunchInput<BatchMember> {
  return {
    records: [], inventory: [], wanted: [], size: 't3.micro', image: 'ami-1', batchSize: 100, cluster: 'aws', stamp: 's', now: 't1',
    ...extra,
  }
}

const names = (n: number, prefix = 'w') => Array.from({length: n}, (_, i) => `${prefix}${i + 1}`)

test('fresh batches: the wanted names in order, batch_size at a time, each with its own stable token', () => {
  const plan = planLaunch(input({wanted: names(250)}))
  assert.deepEqual(plan.adopt, [])
  assert.deepEqual(plan.reissue, [])
  assert.equal(plan.dropped.size, 0)
  const shape = plan.fresh.map((b) => [b.id, b.names.length, b.names[0]])
  assert.deepEqual(shape, [['s-1', 100, 'w1'], ['s-2', 100, 'w101'], ['s-3', 50, 'w201']])
  assert.deepEqual(plan.fresh[0], {
    id: 's-1', client_token: clientToken('aws', 's-1'), names: names(100), instance_ids: null, named: false,
    size: 't3.micro', image: 'ami-1', created_at: 't1',
  })
  assert.equal(new Set(plan.fresh.map((b) => b.client_token)).size, 3)
  // No image yet (create refuses to launch then): recorded as ''.
  assert.equal(planLaunch(input({wanted: ['a'], image: null})).fresh[0].image, '')
  assert.deepEqual(planLaunch(input()).fresh, [])
})

test('adopt: unnamed instances of a recorded batch are named, never launched again, even when not wanted now', () => {
  const inventory = [
    member('w1', 'i-1', {batchId: 'b1', named: false, index: 0}),
    member('w2', 'i-2', {batchId: 'b1', named: false, index: 1, status: 'gone'}),
    member('w3', 'i-3', {batchId: 'b1', named: true, index: 2}),
    member('i-4', 'i-4', {named: false}),
    member('x9', 'i-5', {batchId: 'b0', named: false}),
  ]
  const plan = planLaunch(input({inventory, wanted: ['w1', 'w2', 'w4']}))
  assert.deepEqual(plan.adopt.map((l) => l.node.id), ['i-1', 'i-5'])
  // w2's instance is terminated: it is launched anew; w1 is adopted, not launched.
  assert.deepEqual(plan.fresh.flatMap((b) => b.names), ['w2', 'w4'])
})

test('re-issue: a recorded batch never seen launched, still wanted exactly as it was, keeps its token', () => {
  const b1 = record('b1', ['w1', 'w2'])
  const plan = planLaunch(input({records: [b1], wanted: ['w1', 'w2', 'w3']}))
  assert.deepEqual(plan.reissue, [b1])
  assert.equal(plan.dropped.size, 0)
  assert.deepEqual(plan.fresh.flatMap((b) => b.names), ['w3'])
})

test('drop: recorded batches unseen but no longer wanted as they are are forgotten, their names launched fresh', () => {
  const records = [
    record('size', ['a1'], {size: 't3.small'}),
    record('image', ['a2'], {image: 'ami-2'}),
    record('ids', ['a3'], {instance_ids: ['i-9']}),
    record('partly', ['a4', 'z1']),
    record('dup', ['a5']),
    record('dup2', ['a5']),
  ]
  const plan = planLaunch(input({records, wanted: ['a1', 'a2', 'a3', 'a4', 'a5']}))
  assert.deepEqual(plan.reissue.map((b) => b.id), ['dup'])
  assert.deepEqual([...plan.dropped], ['size', 'image', 'ids', 'partly', 'dup2'])
  assert.deepEqual(plan.fresh.flatMap((b) => b.names), ['a1', 'a2', 'a3', 'a4'])
  // A name adopted from the listing makes the batch that also names it not re-issuable.
  const adoptedToo = planLaunch(input({
    records: [record('b2', ['a1', 'a2'])], inventory: [member('a1', 'i-1', {batchId: 'b1', named: false})], wanted: ['a1', 'a2'],
  }))
  assert.deepEqual([...adoptedToo.dropped], ['b2'])
  assert.deepEqual(adoptedToo.fresh.flatMap((b) => b.names), ['a2'])
})

test('a batch seen launched (any listed instance, even one shutting down) or closed is neither re-issued nor dropped', () => {
  const records = [record('seen', ['w1']), record('closed', ['w2'], {named: true})]
  const inventory = [member('w1', 'i-1', {batchId: 'seen', status: 'gone'})]
  const plan = planLaunch(input({records, inventory, wanted: ['w1', 'w2']}))
  assert.deepEqual(plan.reissue, [])
  assert.equal(plan.dropped.size, 0)
  assert.deepEqual(plan.fresh.flatMap((b) => b.names), ['w1', 'w2'])
})

test('completed batches: every live instance named (listed so or just now), ids in launch order', () => {
  const inventory = [
    member('w2', 'i-2', {batchId: 'b1', named: false, index: 1}),
    member('w1', 'i-1', {batchId: 'b1', named: true, index: 0}),
    member('w3', 'i-3', {batchId: 'b1', named: false, index: 2, status: 'gone'}),
    member('v1', 'i-4', {batchId: 'b2', named: false, index: 0}),
    member('v2', 'i-5', {batchId: 'b2', named: false, index: 1}),
  ]
  const adopted = [inventory[0], inventory[3], inventory[4]]
  assert.deepEqual(completedBatches(adopted, inventory, new Set(['i-2', 'i-4'])), [{batchId: 'b1', ids: ['i-1', 'i-2']}])
  assert.deepEqual(completedBatches(adopted, inventory, new Set(['i-2', 'i-4', 'i-5'])).map((c) => c.batchId), ['b1', 'b2'])
  assert.deepEqual(completedBatches([], inventory, new Set()), [])
})

test('kept batches after a removal: live instances, or a launch that may still be unseen', () => {
  const records = [
    record('live', ['w1'], {instance_ids: ['i-1'], named: true}),
    record('gone', ['w2'], {instance_ids: ['i-2'], named: true}),
    record('unseen', ['w3']),
    record('listed', ['w4']),
    record('named-empty', ['w5'], {named: true}),
  ]
  const inventory = [member('w4', 'i-4', {batchId: 'listed'})]
  assert.deepEqual(keptBatches(records, inventory, new Set(['i-1'])).map((b) => b.id), ['live', 'unseen'])
  assert.deepEqual(keptBatches(records, inventory, new Set(['i-1', 'i-4'])).map((b) => b.id), ['live', 'unseen', 'listed'])
})

test('client tokens are stable, distinct and within 64 characters', () => {
  assert.equal(clientToken('aws', 'b1'), clientToken('aws', 'b1'))
  assert.notEqual(clientToken('aws', 'b1'), clientToken('aws', 'b2'))
  assert.notEqual(clientToken('aws', 'b1'), clientToken('gcp', 'b1'))
  assert.ok(clientToken('x'.repeat(63), 'y'.repeat(40)).length <= 64)
})
