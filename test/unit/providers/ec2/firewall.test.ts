// firewall.ts: the swarm rules a security group lacks, as IpPermissions and as belt FirewallRules.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {describeRules, missingRules, swarmRules, toIpPermissions} from '../../../../src/providers/ec2/firewall.js'

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
