// core/config/schema.ts is the one source of keys and defaults: templates/<driver>.yml shows every key of its driver
// with the schema's default, and resolved settings carry the defaults in their schema types.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'
import {DRIVERS, defaultsFor, keysFor, resolveSettings} from '../../../../src/core/config/schema.js'
import {ROOT} from '../../../lib/cli.js'

/** key → the value the template writes for it, set (`key: v`) or commented out (`# key: v`). */
function templateKeys(driver: string): Map<string, unknown> {
  const text = readFileSync(join(ROOT, 'templates', `${driver}.yml`), 'utf8')
  const out = new Map<string, unknown>()
  for (const line of text.split('\n')) {
    const m = /^ {2}(?:# )?([a-z_]+):(?:\s+(.*?))?\s*(?:#\s.*)?$/.exec(line)
    if (!m) continue
    let value: unknown
    try {
      value = m[2] === undefined || m[2] === '' ? undefined : parse(m[2])
    } catch {
      value = m[2]
    }
    if (!out.has(m[1])) out.set(m[1], value)
  }
  return out
}

test('every schema key appears in its driver template, and no template key is unknown', () => {
  for (const driver of DRIVERS) {
    const inTemplate = templateKeys(driver)
    const keys = Object.keys(keysFor(driver))
    const missing = keys.filter((k) => !inTemplate.has(k))
    assert.deepEqual(missing, [], `templates/${driver}.yml lacks keys`)
    const unknown = [...inTemplate.keys()].filter((k) => !keys.includes(k) && k !== 'cluster_id')
    assert.deepEqual(unknown, [], `templates/${driver}.yml has keys the schema does not know`)
  }
})

test("a template's shown value of a key with a default is the schema's default", () => {
  for (const driver of DRIVERS) {
    const inTemplate = templateKeys(driver)
    for (const [k, v] of Object.entries(defaultsFor(driver))) {
      const shown = inTemplate.get(k)
      if (shown === undefined) continue
      assert.deepEqual(shown, v, `templates/${driver}.yml ${k}: shows ${JSON.stringify(shown)}, the default is ${JSON.stringify(v)}`)
    }
  }
})

test('resolved settings: defaults per driver, driver defaults over common ones, values in their schema types', () => {
  const ec2 = resolveSettings('ec2', {})
  assert.equal(ec2.ssh_user, 'ubuntu')
  assert.equal(ec2.batch_size, 100)
  assert.equal(ec2.concurrency, 100)
  assert.equal(resolveSettings('digitalocean', {}).ssh_user, 'root')
  const s = resolveSettings('digitalocean', {region: 'fra1', tags: ['team=infra', 7], image: 12345, ssh_port: 2222})
  assert.equal(s.region, 'fra1')
  assert.deepEqual(s.tags, ['team=infra', '7'])
  assert.equal(s.image, '12345')
  assert.equal(s.ssh_port, 2222)
  // an empty key (YAML null) falls back to the default
  assert.equal(resolveSettings('local', {subnet: null}).subnet, '10.213.0.0/16')
  // defaults are copies: changing one cluster's list does not change another's
  const a = resolveSettings('local', {})
  a.tls_san.push('x')
  assert.deepEqual(resolveSettings('local', {}).tls_san, [])
})
