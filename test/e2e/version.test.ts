// `belt version` as a user runs it: the versions of belt, Node and the libraries that talk to the outside world, as
// installed; `--json` is one document; no cluster needed.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {belt, ROOT, scratchDir} from '../lib/cli.js'
import {ok, usageLine} from '../lib/assert.js'

test('belt version: belt, Node, ssh2, the EC2 and DigitalOcean SDKs and oclif; --json is one document', async (t) => {
  const {dir, cleanup} = scratchDir('belt-version-')
  t.after(cleanup)
  const run = (...args: string[]) => belt(args, {cwd: dir})
  const installed = (pkg: string) => (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as {version: string}).version
  const expected = {
    belt: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version,
    node: process.versions.node,
    ssh2: installed('ssh2'),
    '@aws-sdk/client-ec2': installed('@aws-sdk/client-ec2'),
    'dots-wrapper': installed('dots-wrapper'),
    '@oclif/core': installed('@oclif/core'),
    platform: `${process.platform}-${process.arch}`,
  }
  const json = ok(await run('version', '--json'), 'version --json')
  assert.deepEqual(JSON.parse(json.stdout), expected)
  assert.equal(json.stderr, '')
  const text = ok(await run('version'), 'version')
  const rows = text.stdout.trim().split('\n').map((l) => l.split(/\s{2,}/))
  assert.deepEqual(Object.fromEntries(rows), expected)
  // No cluster is needed, and none is made.
  assert.equal(existsSync(join(dir, '.belt')), false)

  usageLine(await run('version', '--frobnicate'), /^belt: unknown flag --frobnicate \(belt version --help lists the flags\)$/, 'version --frobnicate')
  usageLine(await run('version', '--json=yes'), /^belt: --json takes no value \(use --json alone\)$/, 'version --json=yes')
  usageLine(await run('version', 'extra'), /^belt: unknown command 'version extra'/, 'version extra')
})
