// argv pre-processing: global flags before the command word, and the `--` that keeps docker's/ssh's own flags away
// from oclif.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parsePassthrough, preprocessArgv} from '../../src/argv.js'

test('global --host before docker moves after it; docker flags are fenced off with --', () => {
  assert.deepEqual(preprocessArgv(['--host', 'w[1:9]', 'docker', 'ps']), ['docker', '--host', 'w[1:9]', '--', 'ps'])
  assert.deepEqual(preprocessArgv(['--host', 'n1', 'docker', '-H', 'tcp://1.2.3.4:2376', 'ps']), ['docker', '--host', 'n1', '--', '-H', 'tcp://1.2.3.4:2376', 'ps'])
  assert.deepEqual(preprocessArgv(['docker', '--host', 'n1', 'ps', '--help']), ['docker', '--host', 'n1', '--', 'ps', '--help'])
  assert.deepEqual(preprocessArgv(['docker', '--help']), ['docker', '--help'])
  assert.deepEqual(preprocessArgv(['docker', 'run', '--host', 'x']), ['docker', '--', 'run', '--host', 'x'])
  assert.deepEqual(preprocessArgv(['docker', '--', 'ps']), ['docker', '--', 'ps'])
  assert.deepEqual(preprocessArgv(['--json', 'docker', 'ps']), ['docker', '--json', '--', 'ps'])
})

test('ssh: the node is belt\'s, everything after it the remote command\'s', () => {
  assert.deepEqual(preprocessArgv(['ssh', 'mg0', 'ls', '-la']), ['ssh', 'mg0', '--', 'ls', '-la'])
  assert.deepEqual(preprocessArgv(['ssh', 'mg0']), ['ssh', 'mg0'])
  assert.deepEqual(preprocessArgv(['ssh', '--forget-host', 'mg0']), ['ssh', '--forget-host', 'mg0'])
  assert.deepEqual(preprocessArgv(['ssh', 'mg0', '--', 'uptime']), ['ssh', 'mg0', '--', 'uptime'])
})

test('ssh with --: every word before it is a node or pattern (CONTRACT §12)', () => {
  assert.deepEqual(preprocessArgv(['ssh', 'mg0', 'w[1:4]', '--', 'uptime']), ['ssh', 'mg0', 'w[1:4]', '--', 'uptime'])
  assert.deepEqual(parsePassthrough('ssh', ['mg0', 'w[1:4]', '--json', '--concurrency', '5', '--', 'ls', '-la']),
    {flags: {json: true, concurrency: '5'}, positional: ['mg0', 'w[1:4]'], rest: ['ls', '-la']})
  assert.deepEqual(preprocessArgv(['--json', 'ssh', 'w[1:4]', 'uptime', '-p']), ['ssh', '--json', 'w[1:4]', '--', 'uptime', '-p'])
  assert.throws(() => parsePassthrough('ssh', ['mg0', '-x', '--', 'true']), /unknown flag -x for belt ssh/)
})

test('other commands keep the old behaviour', () => {
  assert.deepEqual(preprocessArgv(['--cluster', 'c', 'ls']), ['ls', '--cluster', 'c'])
  assert.deepEqual(preprocessArgv(['swarm', 'join', 'mg0', 'w[1:3]']), ['swarm', 'join', 'mg0', 'w[1:3]'])
})

test('parsePassthrough splits belt flags from the rest', () => {
  assert.deepEqual(parsePassthrough('docker', ['--host', 'w[1:2]', '--json', '--', 'ps', '-a']), {flags: {host: 'w[1:2]', json: true}, positional: [], rest: ['ps', '-a']})
  assert.deepEqual(parsePassthrough('docker', ['--concurrency=5', 'ps']), {flags: {concurrency: '5'}, positional: [], rest: ['ps']})
  assert.deepEqual(parsePassthrough('ssh', ['mg0', '--', 'ls', '-la']), {flags: {}, positional: ['mg0'], rest: ['ls', '-la']})
  assert.throws(() => parsePassthrough('docker', ['--host']), /--host needs a value/)
})
