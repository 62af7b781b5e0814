// Versions as installed: read from each package's own package.json; a package that is not installed is null.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {installedVersion, versions} from '../../../src/core/versions.js'

test('installed versions, and null for a package that is not there', () => {
  const ssh2 = JSON.parse(readFileSync(new URL('../../../node_modules/ssh2/package.json', import.meta.url), 'utf8')) as {version: string}
  assert.equal(installedVersion('ssh2', import.meta.url), ssh2.version)
  assert.equal(installedVersion('no-such-package-belt-test', import.meta.url), null)
  const v = versions('9.9.9')
  assert.equal(v.belt, '9.9.9')
  assert.equal(v.node, process.versions.node)
  assert.deepEqual(Object.keys(v), ['belt', 'node', 'ssh2', '@aws-sdk/client-ec2', 'dots-wrapper', '@oclif/core', 'platform'])
  for (const k of ['ssh2', '@aws-sdk/client-ec2', 'dots-wrapper', '@oclif/core'] as const) assert.match(v[k] ?? '', /^\d+\.\d+\.\d+/)
})
