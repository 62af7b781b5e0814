// DEBUG as belt lets it be: only belt's own namespaces, whatever the user asked for (other libraries print tokens).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ownDebugNamespaces, restrictDebugEnv} from '../../../src/core/debug-env.js'

test('belt namespaces and exclusions are kept, others dropped, wildcards narrowed to belt*', () => {
  const cases: [string | undefined, string | undefined][] = [
    [undefined, undefined],
    ['', undefined],
    ['*', 'belt*'],
    ['belt*', 'belt*'],
    ['belt', 'belt'],
    ['belt:do,belt:ssh', 'belt:do,belt:ssh'],
    ['follow-redirects', undefined],
    ['follow-redirects,belt:do', 'belt:do'],
    ['*,-belt:ssh', 'belt*,-belt:ssh'],
    ['* -follow-redirects', 'belt*'],
    ['b*', 'belt*'],
    ['oclif*,axios', undefined],
    ['*:*', 'belt*'],
    ['-belt:do', undefined],
    ['beltway', undefined],
    ['*,belt*', 'belt*'],
  ]
  for (const [input, want] of cases) assert.equal(ownDebugNamespaces(input), want, `DEBUG=${input}`)
})

test('restrictDebugEnv narrows or removes DEBUG in place', () => {
  const env: NodeJS.ProcessEnv = {DEBUG: '*'}
  restrictDebugEnv(env)
  assert.equal(env.DEBUG, 'belt*')
  const other: NodeJS.ProcessEnv = {DEBUG: 'follow-redirects'}
  restrictDebugEnv(other)
  assert.ok(!('DEBUG' in other))
})
