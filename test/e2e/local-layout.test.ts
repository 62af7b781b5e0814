// The local driver's pure parts: names that fit Linux's limits, subnet arithmetic and address allocation, SIZE,
// and the missing-tools message naming Debian packages. No root, no I/O.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {UsageError} from '../../src/core/errors.js'
import {allocateAddresses, clusterHash, clusterLayout, nodeLayout, overlaps, parseLocalSize, parseSubnet} from '../../src/providers/local/layout.js'
import {missingTools} from '../../src/providers/local/system.js'

test('names: bridge and veths at most 15 characters, derived (never the node name), stable, distinct per project', () => {
  const a = clusterLayout('lab', clusterHash('/home/a/project/.belt/lab'))
  const b = clusterLayout('lab', clusterHash('/home/b/project/.belt/lab'))
  assert.notEqual(a.bridge, b.bridge, 'the same cluster name in two projects gets two bridges')
  assert.equal(a.bridge, clusterLayout('lab', clusterHash('/home/a/project/.belt/lab')).bridge, 'stable')
  assert.match(a.bridge, /^bl-[0-9a-f]{8}$/)
  const long = 'w'.repeat(63)
  const veths = new Set<string>()
  for (const node of ['n1', 'n2', long, 'node-with.dots']) {
    const nl = nodeLayout(a, node)
    assert.ok(nl.veth.length <= 15 && nl.veth.startsWith('bl-') && !nl.veth.includes(node), nl.veth)
    assert.ok(nl.netns.startsWith(a.netnsPrefix) && nl.netns.length <= 64, nl.netns)
    assert.ok(nl.dir.startsWith(a.root + '/'))
    veths.add(nl.veth)
  }
  assert.equal(veths.size, 4)
  assert.equal(nodeLayout(a, 'n1').netns, `${a.netnsPrefix}n1`, 'short names stay readable in `ip netns list`')
  assert.notEqual(nodeLayout(a, 'n1').veth, nodeLayout(b, 'n1').veth)
  assert.equal(clusterLayout('lab', 'abcd1234', 'mybr0').bridge, 'mybr0')
})

test('subnet: normalised, bridge takes the first address, hosts the rest', () => {
  const s = parseSubnet('10.213.7.9/16')
  assert.equal(s.cidr, '10.213.0.0/16')
  assert.equal(s.gateway, '10.213.0.1')
  assert.deepEqual(allocateAddresses(s, [], 3), ['10.213.0.2', '10.213.0.3', '10.213.0.4'])
  assert.deepEqual(allocateAddresses(s, ['10.213.0.2', '10.213.0.4'], 3), ['10.213.0.3', '10.213.0.5', '10.213.0.6'], 'holes are reused')
  const small = parseSubnet('192.168.5.0/29')
  assert.deepEqual(allocateAddresses(small, [], 5), ['192.168.5.2', '192.168.5.3', '192.168.5.4', '192.168.5.5', '192.168.5.6'], 'never the broadcast address')
  assert.throws(() => allocateAddresses(small, ['192.168.5.2'], 5), /room for 4 more node\(s\), not 5/)
  for (const bad of ['10.213.0.0', '10.213.0.0/30', '300.1.1.1/16', 'fd00::/64', '10.0.0.0/7']) {
    assert.throws(() => parseSubnet(bad), (e: unknown) => e instanceof UsageError && e.message.includes(bad), bad)
  }
  assert.ok(overlaps(parseSubnet('10.213.0.0/16'), parseSubnet('10.213.4.0/24')))
  assert.ok(!overlaps(parseSubnet('10.213.0.0/16'), parseSubnet('10.214.0.0/24')))
})

test('SIZE: memory forms and `local` are recorded; anything else is refused', () => {
  assert.deepEqual(parseLocalSize('512mb'), {size: '512mb', memory_mb: 512})
  assert.deepEqual(parseLocalSize('8192MB'), {size: '8192mb', memory_mb: 8192})
  assert.deepEqual(parseLocalSize('1gb'), {size: '1gb', memory_mb: 1024})
  assert.deepEqual(parseLocalSize('2G'), {size: '2g', memory_mb: 2048})
  assert.deepEqual(parseLocalSize('local'), {size: 'local', memory_mb: null})
  for (const bad of ['s-1vcpu-1gb', 't3.small', '0mb', 'big']) assert.throws(() => parseLocalSize(bad), UsageError, bad)
})

test('missing tools are named with the Debian packages that install them', () => {
  const none = missingTools(() => '/usr/bin/x')
  assert.deepEqual(none, {tools: [], packages: []})
  const r = missingTools((name) => (['dockerd', 'docker', 'sshd', 'unshare', 'nsenter'].includes(name) ? null : `/usr/bin/${name}`))
  assert.deepEqual(r.tools, ['dockerd', 'docker', 'sshd', 'nsenter', 'unshare'])
  assert.deepEqual(r.packages, ['docker.io', 'openssh-server', 'util-linux'])
})
