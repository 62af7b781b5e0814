// shellQuote / shellJoin against a real POSIX shell: what the remote shell sees must be exactly the argv we meant.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {asRoot, shellJoin, shellQuote, sudoProblem} from '../../../src/ssh/quote.js'

const tricky = [
  'plain', '', ' ', 'two words', "it's", '"double"', '$HOME', '$(touch /tmp/belt-pwned)', '`id`', 'a;b', 'a&&b', 'a|b',
  '*', '?', '[ab]', '~', '~root', 'x\ny', 'tab\there', '\\', "'", "''", '-H', '--host=tcp://1.2.3.4:2376', '{{.Swarm.NodeID}}',
  'ünïcødé', '#comment', '!bang', 'a=b', '%', 'semi;colon', '>redirect', '<in', '2>&1',
]

for (const shell of ['/bin/sh', '/bin/bash']) {
  test(`every tricky argument reaches ${shell} unchanged`, () => {
    const line = `printf '<%s>\\n' ${shellJoin(tricky)}`
    const got = execFileSync(shell, ['-c', line], {encoding: 'utf8', cwd: '/'})
    assert.equal(got, tricky.map((a) => `<${a}>\n`).join(''))
  })
}

test('safe words stay unquoted; the rest is single-quoted', () => {
  assert.equal(shellQuote('docker'), 'docker')
  assert.equal(shellQuote('10.0.0.1:2377'), '10.0.0.1:2377')
  assert.equal(shellQuote('a b'), "'a b'")
  assert.equal(shellQuote("it's"), "'it'\\''s'")
  assert.equal(shellQuote(''), "''")
})

test('asRoot wraps in sudo -n only for users other than root', () => {
  assert.equal(asRoot('docker ps', 'root'), 'docker ps')
  assert.equal(asRoot('docker ps', 'ubuntu'), "sudo -n sh -c 'docker ps'")
  const got = execFileSync('/bin/sh', ['-c', asRoot(`printf '<%s>\\n' ${shellJoin(['a b', "c'd"])}`, 'root')], {encoding: 'utf8'})
  assert.equal(got, '<a b>\n<c\'d>\n')
})

test('sudo refusals become one clear line; other failures are left alone', () => {
  assert.match(sudoProblem('ubuntu', 1, 'sudo: a password is required\n')!, /user 'ubuntu' has no passwordless sudo/)
  assert.match(sudoProblem('ubuntu', 1, 'sudo: a terminal is required to read the password\n')!, /no passwordless sudo/)
  assert.match(sudoProblem('bob', 1, 'bob is not in the sudoers file.  This incident will be reported.\nsudo: x\n') ?? 'sudo: x', /sudo/)
  assert.match(sudoProblem('ubuntu', 127, 'sh: 1: sudo: not found\n')!, /sudo is not installed/)
  assert.equal(sudoProblem('root', 1, 'sudo: a password is required'), null)
  assert.equal(sudoProblem('ubuntu', 1, 'Error response from daemon: nope'), null)
  assert.equal(sudoProblem('ubuntu', 0, 'sudo: unable to resolve host x'), null)
})
