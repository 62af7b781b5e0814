// Which named nodes a power action calls for, which are already there, and which fail before any call.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {powerSplit} from '../../../src/providers/power.js'
import {dropletActionType} from '../../../src/providers/digitalocean/power.js'
import type {NodeStatus} from '../../../src/providers/provider.js'

const nodes = [
  {name: 'a', status: 'active' as NodeStatus}, {name: 'b', status: 'off' as NodeStatus}, {name: 'c', status: 'new' as NodeStatus},
  {name: 'd', status: 'gone' as NodeStatus}, {name: 'd', status: 'active' as NodeStatus},
]

test('powerSplit: stop of an off node and start of a running one are already; restart of an off one fails; unknown fails', () => {
  const names = (xs: {name: string}[]) => xs.map((x) => x.name)
  const stop = powerSplit('stop', ['a', 'b', 'd', 'x'], nodes, 'k')
  assert.deepEqual([names(stop.send), stop.already], [['a', 'd'], ['b']], 'd: the live one of two listed')
  assert.deepEqual(stop.failed, [{name: 'x', error: "no node 'x' in cluster 'k'"}])
  const start = powerSplit('start', ['a', 'b', 'c'], nodes, 'k')
  assert.deepEqual([names(start.send), start.already], [['b'], ['a', 'c']])
  const restart = powerSplit('restart', ['a', 'b'], nodes, 'k')
  assert.deepEqual(names(restart.send), ['a'])
  assert.match(restart.failed[0].error, /b is off; start it with: belt start b/)
})

test('droplet action types', () => {
  assert.equal(dropletActionType('restart', false), 'reboot')
  assert.equal(dropletActionType('restart', true), 'power_cycle')
  assert.equal(dropletActionType('stop', false), 'power_off')
  assert.equal(dropletActionType('start', false), 'power_on')
})
