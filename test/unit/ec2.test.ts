// The ec2 driver's pure parts: SIZE mapping, memory table, architecture, state normalisation, swarm rules.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {architectureOf, memoryOf, resolveSize} from '../../src/providers/ec2/sizes.js'
import {describeRules, missingRules, swarmRules, toIpPermissions} from '../../src/providers/ec2/firewall.js'
import {clientToken, ed25519Fingerprint, normaliseState} from '../../src/providers/ec2/index.js'
import {UsageError} from '../../src/core/errors.js'

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

test('instance states normalise to belt statuses', () => {
  assert.deepEqual(['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'].map(normaliseState), ['new', 'active', 'off', 'off', 'gone', 'gone'])
})

test('client tokens are stable, distinct and within 64 characters', () => {
  assert.equal(clientToken('aws', 'b1'), clientToken('aws', 'b1'))
  assert.notEqual(clientToken('aws', 'b1'), clientToken('aws', 'b2'))
  assert.notEqual(clientToken('aws', 'b1'), clientToken('gcp', 'b1'))
  assert.ok(clientToken('x'.repeat(63), 'y'.repeat(40)).length <= 64)
})

test('ed25519 fingerprint as AWS shows it', () => {
  // sha256 of the key blob, base64 without padding
  assert.equal(ed25519Fingerprint('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq0 c'), 'Q7j1wOJ+CYuGabixNA3iBz/VOfatXqyvbFLALv1/HAw')
  assert.equal(ed25519Fingerprint('ssh-rsa AAAA c'), null)
})

test('swarm rules: what a group lacks, with all-traffic and port-range rules counted', () => {
  const sg = 'sg-1'
  const wanted = swarmRules('203.0.113.0/24')
  assert.equal(missingRules(wanted, [], sg).length, 7)
  // A group allowing everything from itself and SSH/2376 in one range from admin lacks nothing.
  const full = [
    {IpProtocol: '-1', UserIdGroupPairs: [{GroupId: sg}]},
    {IpProtocol: 'tcp', FromPort: 0, ToPort: 65535, IpRanges: [{CidrIp: '203.0.113.0/24'}]},
  ]
  assert.deepEqual(missingRules(wanted, full, sg), [])
  // The admin ports from another CIDR do not count; a self rule from another group does not count.
  const other = [
    {IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{CidrIp: '0.0.0.0/0'}]},
    {IpProtocol: '50', UserIdGroupPairs: [{GroupId: 'sg-2'}]},
    {IpProtocol: 'udp', FromPort: 4789, ToPort: 4789, UserIdGroupPairs: [{GroupId: sg}]},
  ]
  const lacking = missingRules(wanted, other, sg).map((r) => `${r.protocol}/${r.from}`)
  assert.deepEqual(lacking, ['tcp/22', 'tcp/2376', 'tcp/2377', 'tcp/7946', 'udp/7946', '50/null'])
  const perms = toIpPermissions(wanted, sg)
  assert.deepEqual(perms.at(-1), {IpProtocol: '50', UserIdGroupPairs: [{GroupId: sg, Description: 'belt: encrypted overlay networks (ESP, IP protocol 50)'}]})
  assert.deepEqual(describeRules(perms, sg).map((r) => `${r.protocol} ${r.ports} ${r.sources.join(',')}`), [
    'tcp 22 203.0.113.0/24', 'tcp 2376 203.0.113.0/24', 'tcp 2377 sg-1', 'tcp 7946 sg-1', 'udp 7946 sg-1', 'udp 4789 sg-1', 'esp all sg-1',
  ])
})
