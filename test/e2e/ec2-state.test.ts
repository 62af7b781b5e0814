// State that cannot lose a node on EC2: parallel creates of overlapping names (the create lock), instances recorded
// as soon as RunInstances returns them, named instances found existing recorded by a re-run.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {ec2State, liveNames, range, setupEc2, until} from './ec2-setup.js'

test('ec2: 4 parallel creates of overlapping names: state.json holds every instance and each name exists once', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=10'])
  assert.equal(r.code, 0, r.stderr)
  const results = await Promise.all(['a[1:30]', 'a[21:50]', 'b[1:30]', 'a[41:50],b[21:40]'].map((p) => run(['create', '1gb', p])))
  for (const res of results) assert.equal(res.code, 0, res.stderr)
  const wanted = [...range('a', 1, 50), ...range('b', 1, 40)].sort()
  assert.deepEqual([...liveNames(fake)].sort(), wanted, 'each name exactly once')
  const st = ec2State(dir, 'aws')
  assert.deepEqual(Object.keys(st.nodes).sort(), wanted, 'state.json holds every instance')
  for (const i of fake.live()) assert.equal(st.nodes[fake.tag(i, 'Name')!].id, i.instanceId)
  r = await run(['create', '1gb', 'a[1:50]'])
  assert.match(r.stderr, /created 0, existing 50$/m)
})

test('ec2: instances are recorded when RunInstances returns them, before naming; named ones found existing are recorded', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=5'])
  assert.equal(r.code, 0, r.stderr)
  fake.stall.CreateTags = 'before'
  let child: ChildProcess | null = null
  const killed = run(['create', '1gb', 'w[1:10]'], {onSpawn: (c) => (child = c)})
  await until(() => fake.instances.size === 10 && fake.stalled >= 2, 'both batches launched, naming stalled')
  child!.kill('SIGKILL')
  await killed
  delete fake.stall.CreateTags
  fake.releaseStalled()
  const st = ec2State(dir, 'aws')
  assert.deepEqual(Object.keys(st.nodes).sort(), range('w', 1, 10).sort(), 'recorded before naming')
  for (const b of st.batches) b.instance_ids!.forEach((id, k) => assert.equal(st.nodes[b.names[k]].id, id))

  r = await run(['create', '1gb', 'w[1:10]'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(liveNames(fake), range('w', 1, 10))

  // state.json lost its node records (a write that failed, a hand edit): the next create records what it finds.
  const path = join(dir, '.belt', 'aws', 'state.json')
  writeFileSync(path, JSON.stringify({...JSON.parse(readFileSync(path, 'utf8')), nodes: {}}))
  r = await run(['create', '1gb', 'w[1:12]'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /created 2, existing 10$/m)
  const nodes = ec2State(dir, 'aws').nodes
  assert.deepEqual(Object.keys(nodes).sort(), range('w', 1, 12).sort())
  for (const i of fake.live()) assert.equal(nodes[fake.tag(i, 'Name')!].id, i.instanceId)
})
