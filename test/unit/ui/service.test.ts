// belt stats' stream: on a terminal each table replaces the last one in place; elsewhere a table per sample.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {statsStreamRenderer} from '../../../src/ui/service.js'
import type {StatsSample, TaskStats} from '../../../src/docker/stats.js'
import type {ServiceTasks} from '../../../src/docker/tasks.js'

const found: ServiceTasks = {service: 'web', mode: 'replicated', tasks: [], skipped: [], endpoints: new Map(), manager: 'mg0'}

function sample(cpu: string, n = 2): StatsSample {
  const t = (i: number): TaskStats => ({task: `web.${i}`, slot: i, node: `w${i}`, container: 'c', cpu, mem_usage: '7MiB / 1GiB', mem_percent: '0.7%',
    net_io: '1kB / 2kB', cpu_percent: null, memory_bytes: null, memory_limit_bytes: null, memory_percent: null, net_rx_bytes: null, net_tx_bytes: null})
  return {service: 'web', tasks: Array.from({length: n}, (_, i) => t(i + 1)), failed: []}
}

function stream(isTTY: boolean): {writes: string[]; s: NodeJS.WriteStream} {
  const writes: string[] = []
  return {writes, s: {isTTY, write: (x: string) => { writes.push(x); return true }} as unknown as NodeJS.WriteStream}
}

test('on a terminal: the second table moves the cursor up over the first and clears each line', () => {
  const {writes, s} = stream(true)
  const render = statsStreamRenderer(found, s)
  render(sample('1.00%'))
  render(sample('2.00%'))
  assert.equal(writes.length, 2)
  assert.ok(!writes[0].includes('\x1b[3F'), 'nothing to move over the first time')
  assert.ok(writes[1].startsWith('\x1b[3F\x1b[2KTASK'), 'up over the 3 lines drawn, then redrawn')
  assert.match(writes[1], /2\.00%/)
  render(sample('3.00%', 1))
  assert.ok(writes[2].endsWith('\x1b[J'), 'a shorter table clears what is left below it')
})

test('elsewhere: a table per sample, a blank line between', () => {
  const {writes, s} = stream(false)
  const render = statsStreamRenderer(found, s)
  render(sample('1.00%'))
  render(sample('2.00%'))
  assert.ok(!writes.join('').includes('\x1b'), 'no escape sequences')
  assert.match(writes[0], /^TASK/)
  assert.match(writes[1], /^\nTASK/)
})
