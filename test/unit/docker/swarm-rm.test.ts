// swarm rm's plan from the manager's node list: Down entries go, up nodes need --force, managers never.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {nodeRmCommand, planRemove, type SwarmNode} from '../../../src/docker/swarm.js'

const node = (id: string, hostname: string, state = 'ready', role = 'worker'): SwarmNode => ({id, hostname, addr: `10.0.0.${id.length}`, role, availability: 'active', state})
const nodes = [node('m1', 'mg0', 'ready', 'manager'), node('a1', 'w1', 'down'), node('b1', 'w2'), node('c1', 'w3', 'down'), node('c2', 'w3'),
  node('d1', 'mg1', 'down', 'manager')]
const none = new Map()

test('--down alone: every Down worker; Down managers are reported, not removed', () => {
  const p = planRemove(nodes, {patterns: [], down: true, force: false}, [], none)
  assert.deepEqual(p.remove, [{name: 'w1', id: 'a1'}, {name: 'w3', id: 'c1'}])
  assert.deepEqual(p.managers, ['mg1'])
})

test('names: only the Down entry of a re-joined node; an up node is refused without --force; gone names are already', () => {
  const p = planRemove(nodes, {patterns: ['w1', 'w3', 'w9'], down: false, force: false}, ['w1', 'w3', 'w9'], none)
  assert.deepEqual(p.remove, [{name: 'w1', id: 'a1'}, {name: 'w3', id: 'c1'}])
  assert.deepEqual(p.already, ['w9'])
  assert.throws(() => planRemove(nodes, {patterns: ['w2'], down: false, force: false}, ['w1', 'w2'], none), /not Down in the swarm: w2; .*needs --force/)
  assert.deepEqual(planRemove(nodes, {patterns: ['w2'], down: false, force: true}, ['w2'], none).remove, [{name: 'w2', id: 'b1'}])
  // --down with names: the Down ones among them, the rest left alone (no refusal).
  assert.deepEqual(planRemove(nodes, {patterns: ['w1', 'w2'], down: true, force: false}, ['w1', 'w2'], none).remove, [{name: 'w1', id: 'a1'}])
  assert.deepEqual(planRemove(nodes, {patterns: ['mg0'], down: false, force: true}, ['mg0'], none).managers, ['mg0'])
})

test('one docker node rm per chunk, IDs quoted', () => {
  assert.equal(nodeRmCommand(['a1', 'b1'], false), 'docker node rm a1 b1')
  assert.equal(nodeRmCommand(['a1'], true), 'docker node rm --force a1')
})
