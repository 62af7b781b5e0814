// A service's tasks as the manager's one command reports them, matched to belt's nodes and picked by SERVICE.SLOT /
// SERVICE.NODE; the logs and stats commands built for them, and docker stats' text turned into numbers.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseTasks, selectTasks} from '../../../src/docker/tasks.js'
import {logsCommand, parseSince, parseTail, taskPrefix} from '../../../src/docker/logs.js'
import {parseBytes, parsePercent, statsCommand, taskStats} from '../../../src/docker/stats.js'
import type {SshEndpoint} from '../../../src/providers/provider.js'

const ep = (name: string, ip: string): SshEndpoint => ({name, host: ip, port: 22, user: 'root', private_ip: ip, public_ip: ip})
const EPS = [ep('w1', '10.0.0.1'), ep('w2', '10.0.0.2'), ep('g1', '203.0.113.7')]
const C = (n: number) => String(n).repeat(64)

const REPLICATED = [
  'belt-tasks: service web replicated 2',
  `belt-task t1 1 n1 running ${C(1)}`,
  `belt-task t2 2 n2 running ${C(2)}`,
  'belt-task t3 3 n3 running ',
  `belt-task t4 4 n9 running ${C(4)}`,
  'belt-node n1 w1 10.0.0.1', 'belt-node n2 w2 10.0.0.2', 'belt-node n3 w1 10.0.0.1', 'belt-node n9 stranger 10.9.9.9',
].join('\n')

test('replicated tasks: matched to belt nodes; no container yet and unknown nodes are skipped with why; a slot picks one', () => {
  const all = selectTasks(parseTasks(REPLICATED.replace(' replicated 2', ' replicated'), '', 0, 'web', 'mg0'), EPS, 'web', 'mg0')
  assert.deepEqual(all.tasks.map(taskPrefix), ['web.1@w1', 'web.2@w2'])
  assert.deepEqual(all.skipped, [
    {label: 'web.3@w1', why: 'no container yet (task running)'},
    {label: 'web.4@stranger', why: 'on stranger, a node belt does not know'},
  ])
  assert.deepEqual([...all.endpoints.keys()].sort(), ['w1', 'w2'])
  const two = selectTasks(parseTasks(REPLICATED, '', 0, 'web.2', 'mg0'), EPS, 'web.2', 'mg0')
  assert.deepEqual(two.tasks.map((t) => [t.label, t.node, t.container]), [['web.2', 'w2', C(2)]])
  assert.throws(() => selectTasks(parseTasks(REPLICATED.replace('replicated 2', 'replicated 7'), '', 0, 'web.7', 'mg0'), EPS, 'web.7', 'mg0'),
    /^UsageError: web\.7: the service web has no running task in slot 7$/)
})

test('global tasks: SERVICE.NODE by belt name or hostname (a generic host matched by address)', () => {
  const out = ['belt-tasks: service agent global g1', `belt-task a 0 n1 running ${C(1)}`, `belt-task b 0 n7 running ${C(7)}`,
    'belt-node n1 w1 10.0.0.1', 'belt-node n7 ip-203-0-113-7 203.0.113.7'].join('\n')
  const r = selectTasks(parseTasks(out, '', 0, 'agent.g1', 'mg0'), EPS, 'agent.g1', 'mg0')
  assert.deepEqual(r.tasks.map((t) => [taskPrefix(t), t.slot]), [['agent@g1', 0]])
  assert.equal(r.mode, 'global')
})

test('the manager says no: no such service (exit 2), a worker, docker failing', () => {
  assert.throws(() => parseTasks('belt-tasks: no-service', '', 3, 'nosuch', 'mg0'), /no service nosuch in the swarm/)
  assert.throws(() => parseTasks('belt-tasks: not-manager active false', '', 3, 'web', 'w1'), /w1 is a swarm worker, not a manager/)
  assert.throws(() => parseTasks('belt-tasks: not-manager inactive false', '', 3, 'web', 'w1'), /w1 is not in a swarm \(state: inactive\)/)
  assert.throws(() => parseTasks('', 'Cannot connect to the Docker daemon', 4, 'web', 'mg0'), /Cannot connect to the Docker daemon/)
})

test('logs flags and command', () => {
  assert.equal(parseTail('all'), 'all')
  assert.equal(parseTail('20'), '20')
  assert.throws(() => parseTail('-1'), /--tail/)
  for (const ok of ['10m', '1h30m', '90s', '2026-01-02', '2026-01-02T13:23:37Z', '2026-01-02T13:23:37+02:00', '1767360000']) assert.equal(parseSince(ok), ok)
  for (const bad of ['yesterday', '10 m', '', '-5m', "1m';rm"]) assert.throws(() => parseSince(bad), /--since/)
  assert.equal(logsCommand(C(1), {follow: true, tail: '5', since: '10m', timestamps: true}), `docker logs --follow --tail 5 --since 10m --timestamps ${C(1)}`)
  assert.equal(logsCommand('a b', {follow: false}), "docker logs 'a b'")
})

test('docker stats text as numbers', () => {
  assert.equal(parseBytes('7.3MiB'), Math.round(7.3 * 1024 * 1024))
  assert.equal(parseBytes('1.2kB'), 1200)
  assert.equal(parseBytes('0B'), 0)
  assert.equal(parseBytes('3.4GB'), 3.4e9)
  assert.equal(parseBytes('--'), null)
  assert.equal(parsePercent('0.74%'), 0.74)
  assert.equal(parsePercent('--'), null)
  assert.equal(statsCommand(['a', 'b c']), "docker stats --no-stream --no-trunc --format '{{json .}}' a 'b c'")
  const t = {label: 'web.1', service: 'web', slot: 1, taskId: 't', state: 'running', container: 'c', hostname: 'w1', node: 'w1'}
  const s = taskStats(t, {CPUPerc: '0.02%', MemUsage: '7.3MiB / 985.3MiB', MemPerc: '0.74%', NetIO: '1.2MB / 3.4MB'})
  assert.deepEqual([s.cpu_percent, s.memory_bytes, s.memory_limit_bytes, s.memory_percent, s.net_rx_bytes, s.net_tx_bytes],
    [0.02, Math.round(7.3 * 1024 ** 2), Math.round(985.3 * 1024 ** 2), 0.74, 1.2e6, 3.4e6])
})
