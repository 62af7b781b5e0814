// The cloud firewall's rules: what belt owns, what it keeps, and when an update is due.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {desiredFirewall, firewallName, firewallRules, sameFirewall} from '../../../../src/providers/digitalocean/firewall.js'

test('firewall: belt owns its ports, keeps rules added for others, and notices changes', () => {
  const tag = 'belt-id:0123456789abcdef'
  const name = firewallName('lab_1', '0123456789abcdef')
  const first = desiredFirewall(name, tag, '203.0.113.0/24')
  assert.equal(first.name, 'belt-lab-1-01234567')
  const shown = firewallRules(first).map((r) => `${r.direction} ${r.protocol} ${r.ports} ${r.sources.join(',')}`)
  assert.deepEqual(shown, [
    'inbound tcp 22 203.0.113.0/24',
    'inbound tcp 2376 203.0.113.0/24',
    `inbound tcp 2377 tag:${tag}`,
    `inbound tcp 7946 tag:${tag}`,
    `inbound udp 7946 tag:${tag}`,
    `inbound udp 4789 tag:${tag}`,
    'outbound tcp all 0.0.0.0/0,::/0',
    'outbound udp all 0.0.0.0/0,::/0',
    'outbound icmp all 0.0.0.0/0,::/0',
  ])
  assert.ok(!shown.some((r) => / (esp|50) /.test(r)))
  // As the API returns it: icmp ports "0", a user's extra rule, an old admin CIDR.
  const existing = {
    id: 'fw1', ...first,
    inbound_rules: [...first.inbound_rules.map((r) => (r.ports === '22' ? {...r, sources: {addresses: ['198.51.100.0/24']}} : r)), {protocol: 'tcp', ports: '80', sources: {addresses: ['0.0.0.0/0']}}],
    outbound_rules: first.outbound_rules.map((r) => (r.protocol === 'icmp' ? {...r, ports: '0'} : r)),
  }
  const next = desiredFirewall(name, tag, '203.0.113.0/24', existing)
  assert.ok(!sameFirewall(existing, next), 'a changed admin_cidr is an update')
  assert.ok(next.inbound_rules.some((r) => r.ports === '80'), 'the user\'s 80/tcp rule is kept')
  assert.deepEqual(next.inbound_rules.filter((r) => r.ports === '22').map((r) => r.sources.addresses), [['203.0.113.0/24']])
  assert.ok(sameFirewall({...existing, ...next}, desiredFirewall(name, tag, '203.0.113.0/24', {...existing, ...next})), 'converged: no update')
})
