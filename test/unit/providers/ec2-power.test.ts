// EC2 power calls in chunks of POWER_CHUNK instance ids; a failed chunk fails its nodes only.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {POWER_CHUNK, powerInstances} from '../../../src/providers/ec2/power.js'
import type {Ec2Context} from '../../../src/providers/ec2/client.js'
import type {Listed} from '../../../src/providers/ec2/inventory.js'

test('StopInstances for 2,500 instances: three calls (1,000 + 1,000 + 500); a failed call fails its chunk', async () => {
  const sent: {name: string; ids: string[]}[] = []
  const client = {
    send: async (cmd: {constructor: {name: string}; input: {InstanceIds: string[]}}) => {
      sent.push({name: cmd.constructor.name, ids: cmd.input.InstanceIds})
      if (sent.length === 2) throw Object.assign(new Error('Request limit exceeded.'), {name: 'RequestLimitExceeded'})
      return {}
    },
  }
  const ctx = {client, region: 'us-east-1', cluster: {name: 'k'}, records: {}} as unknown as Ec2Context
  const inventory = Array.from({length: 2500}, (_, i) => ({node: {name: `w${i + 1}`, status: 'active', id: `i-${i + 1}`}})) as unknown as Listed[]
  const r = await powerInstances(ctx, inventory, 'stop', inventory.map((l) => l.node.name), {hard: false, whole: true})
  assert.equal(POWER_CHUNK, 1000)
  assert.deepEqual(sent.map((s) => [s.name, s.ids.length]), [['StopInstancesCommand', 1000], ['StopInstancesCommand', 1000], ['StopInstancesCommand', 500]])
  assert.equal(r.ok.length, 1500)
  assert.equal(r.failed.length, 1000)
  assert.deepEqual([r.failed[0].name, r.failed.at(-1)!.name], ['w1001', 'w2000'])
  assert.match(r.failed[0].error, /RequestLimitExceeded|Request limit/)
})
