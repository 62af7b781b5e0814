// 1,000 EC2 instances through the real SDK against the fake: RunInstances once per batch, one CreateTags per
// instance (each Name differs), listings paged with NextToken — never one DescribeInstances per instance. EC2
// throttles a fleet this size, so the fake does too (a request token bucket like EC2's: RequestLimitExceeded when it
// is empty); the counts are of the calls EC2 served, and belt still ends with exactly the requested instances.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {ec2State, liveNames, range, setupEc2} from './ec2-setup.js'

test('1,000-instance create + wait + status + rm: call counts', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  fake.pageLimit = 300 // EC2 may return fewer than MaxResults: 1,000 instances are 4 pages
  fake.rateLimit = {burst: 100, perSecond: 50}
  let r = await run(['cluster', 'new', 'big', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24'])
  assert.equal(r.code, 0, r.stderr)

  r = await run(['create', '1gb', 'w[1:1000]'], {timeoutMs: 30_000})
  assert.equal(r.code, 2, 'more than 100 nodes without a terminal needs --yes')
  assert.equal(fake.calls.RunInstances, undefined)

  r = await run(['create', '1gb', 'w[1:1000]', '--wait', '--yes', '--json'], {timeoutMs: 300_000})
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  assert.equal(out.created.length, 1000)
  assert.ok(out.created.every((n: {status: string}) => n.status === 'active'))

  assert.ok(Object.values(fake.throttled).reduce((a, b) => a + b, 0) > 0, 'some calls were throttled')
  assert.equal(fake.served('RunInstances'), Math.ceil(1000 / 100), 'batch_size 100 → 10 RunInstances')
  for (const q of fake.requests.filter((x) => x.action === 'RunInstances')) {
    assert.equal(q.params.MinCount, '100')
    assert.equal(q.params.MaxCount, '100')
  }
  const tagCalls = fake.requests.filter((x) => x.action === 'CreateTags' && !x.throttled)
  assert.equal(tagCalls.length, 1000, 'one CreateTags per instance')
  assert.equal(new Set(tagCalls.map((q) => q.params['ResourceId.1'])).size, 1000, 'each instance named once')
  assert.ok(tagCalls.every((q) => !('ResourceId.2' in q.params) && q.params['Tag.1.Key'] === 'Name'))

  const describes = fake.requests.filter((x) => x.action === 'DescribeInstances' && !x.throttled)
  const listings = describes.filter((q) => !q.params.NextToken).length
  assert.ok(describes.every((q) => q.params.MaxResults === '1000' && !('InstanceId.1' in q.params) && q.params['Filter.1.Value.1'] === 'big'))
  assert.ok(describes.some((q) => q.params.NextToken), 'NextToken paging used')
  assert.ok(describes.length <= 1 + 4 * (listings - 1), `${describes.length} DescribeInstances for ${listings} listings`)
  assert.ok(describes.length < 60, `never per instance (${describes.length} calls)`)
  assert.deepEqual(liveNames(fake), range('w', 1, 1000))
  const st = ec2State(dir, 'big')
  assert.equal(st.batches.length, 10)
  assert.ok(st.batches.every((b) => b.named && b.instance_ids!.length === 100))
  assert.equal(Object.keys(st.nodes).length, 1000)

  const before = fake.served('DescribeInstances')
  r = await run(['status', '--wait', 'active=1000', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).counts, {active: 1000})
  assert.equal(fake.served('DescribeInstances') - before, 4, 'one listing: four pages')

  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.served('TerminateInstances'), 1, '1,000 instances in one TerminateInstances')
  assert.equal(fake.live().length, 0)
  assert.deepEqual(ec2State(dir, 'big').nodes, {})
})
