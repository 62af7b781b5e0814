// sizes.ts: SIZE mapping to instance types, the memory table, architectures.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {architectureOf, memoryOf, resolveSize} from '../../../../src/providers/ec2/sizes.js'
import {UsageError} from '../../../../src/core/errors.js'

test('memory sizes map to t3 types; instance types pass through', () => {
  const table: [string, string, number | null][] = [
    ['512mb', 't3.nano', 512], ['1gb', 't3.micro', 1024], ['2gb', 't3.small', 2048], ['4gb', 't3.medium', 4096],
    ['8gb', 't3.large', 8192], ['8192MB', 't3.large', 8192], ['16gb', 't3.xlarge', 16384], ['32GB', 't3.2xlarge', 32768],
    ['0.5gb', 't3.nano', 512], ['t3.small', 't3.small', 2048], ['m5.large', 'm5.large', 8192], ['c6i.4xlarge', 'c6i.4xlarge', 32768],
    ['r6g.medium', 'r6g.medium', 8192], ['x2iedn.xlarge', 'x2iedn.xlarge', null],
  ]
  for (const [size, type, mb] of table) {
    const r = resolveSize(size)
    assert.equal(r.type, type, size)
    assert.equal(r.memory_mb, mb, size)
    assert.equal(r.note === null, size === type, `note only for mapped sizes (${size})`)
  }
  assert.equal(resolveSize('1gb').note, 'size 1gb → t3.micro (1 GB, 2 vCPUs)')
  for (const bad of ['3gb', '100mb', 'big', 't3', '1 tb']) assert.throws(() => resolveSize(bad), UsageError, bad)
})

test('memory table and architectures', () => {
  assert.equal(memoryOf('t2.micro'), 1024)
  assert.equal(memoryOf('m7i.24xlarge'), 393216)
  assert.equal(memoryOf('c5.9xlarge'), 73728)
  assert.equal(memoryOf('r5.12xlarge'), 393216)
  assert.equal(memoryOf('p4d.24xlarge'), null)
  assert.equal(memoryOf(undefined), null)
  for (const t of ['t4g.small', 'm6g.large', 'c7gn.xlarge', 'r8g.large', 'a1.large', 'm7gd.medium', 'g5g.xlarge']) assert.equal(architectureOf(t), 'arm64', t)
  for (const t of ['t3.small', 'm5.large', 'g4dn.xlarge', 'c6i.large', 'x2iedn.xlarge', 'inf2.xlarge']) assert.equal(architectureOf(t), 'x86_64', t)
})
