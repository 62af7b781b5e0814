// EC2 creates that meet trouble: RequestLimitExceeded and lost replies (retried by the SDK's adaptive mode, made
// safe by the per-batch ClientToken), a create SIGKILLed between launch and naming (adopted by a re-run, never
// launched again), a kill during RunInstances, and Ctrl-C (exit 130, everything launched is named and recorded).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {ChildProcess} from 'node:child_process'
import {ec2State, liveNames, range, SECRET, setupEc2, until} from './ec2-setup.js'

test('throttled and lossy API: exactly the requested names, each once, one reservation per batch', async (t) => {
  const {dir, fake, run, outputs} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=10'])
  assert.equal(r.code, 0, r.stderr)
  // EC2's own limiter: a token bucket per account; an empty bucket answers RequestLimitExceeded (HTTP 503).
  fake.rateLimit = {burst: 10, perSecond: 20}
  fake.throttleActions = ['RunInstances']
  fake.throttleBurst = 2 // and the first two RunInstances calls are refused outright
  fake.loseResponses.RunInstances = 2 // launched, but the reply is lost (503): the SDK retries with the same ClientToken
  fake.loseResponses.CreateTags = 2
  // Eventual consistency: EC2 does not know a just-launched instance yet when it is named.
  fake.failNext.CreateTags = {code: 'InvalidInstanceID.NotFound', count: 3}

  r = await run(['create', '1gb', 'w[1:30]', '--wait'])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(fake.throttled.RunInstances >= 2)
  assert.ok(fake.calls.RunInstances >= 3 + 2 + 2, 'RunInstances was retried after throttling and lost replies')
  assert.equal(fake.reservations.size, 3, 'retries returned the original reservations')
  assert.equal(fake.failNext.CreateTags.count, 0, 'NotFound was answered three times')
  assert.equal(fake.instances.size, 30, 'no instance launched twice')
  assert.deepEqual(liveNames(fake), range('w', 1, 30))
  const st = ec2State(dir, 'aws')
  assert.equal(st.batches.length, 3)
  assert.ok(st.batches.every((b) => b.named))
  assert.deepEqual(Object.keys(st.nodes).length, 30)

  // A re-run under the same weather changes nothing.
  r = await run(['create', '1gb', 'w[1:30]'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.instances.size, 30)
  for (const o of outputs) assert.ok(!(o.stdout + o.stderr).includes(SECRET))
})

test('create SIGKILLed between launch and naming: a re-run names the instances and launches nothing', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=10'])
  assert.equal(r.code, 0, r.stderr)
  fake.stall.CreateTags = 'before' // every CreateTags hangs, unapplied

  let child: ChildProcess | null = null
  const killed = run(['create', '1gb', 'w[1:25]'], {onSpawn: (c) => (child = c)})
  await until(() => fake.instances.size === 25 && fake.stalled >= 3, 'all three batches launched, naming stalled')
  child!.kill('SIGKILL')
  r = await killed
  assert.equal(r.signal, 'SIGKILL')
  assert.deepEqual(liveNames(fake).filter((n) => !n.startsWith('?')), [], 'killed before any Name tag')
  let st = ec2State(dir, 'aws')
  assert.equal(st.batches.length, 3, 'every batch was recorded before RunInstances')
  assert.ok(st.batches.every((b) => !b.named && b.instance_ids?.length === b.names.length))

  delete fake.stall.CreateTags
  fake.releaseStalled()
  const launches = fake.calls.RunInstances
  r = await run(['ls', '--json'])
  assert.equal(r.code, 0, r.stderr)
  assert.deepEqual(JSON.parse(r.stdout).map((n: {name: string}) => n.name), range('w', 1, 25), 'ls already shows the recorded names')

  // The first re-run fails to name one instance: that name is not launched again, it waits for the next re-run.
  fake.failNext.CreateTags = {code: 'UnauthorizedOperation', count: 1}
  r = await run(['create', '1gb', 'w[1:25]'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /25 instance\(s\) launched by an interrupted create will be named, not launched again/)
  assert.match(r.stderr, /launched as i-\w+ but not named \(a re-run names it\): UnauthorizedOperation/)
  assert.equal(fake.calls.RunInstances, launches, 'no RunInstances on the re-run')
  assert.equal(liveNames(fake).filter((n) => n.startsWith('?')).length, 1)

  r = await run(['create', '1gb', 'w[1:25]', '--wait'])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /1 instance\(s\) launched by an interrupted create will be named/)
  assert.equal(fake.calls.RunInstances, launches, 'no RunInstances on the re-runs')
  assert.equal(fake.instances.size, 25)
  assert.deepEqual(liveNames(fake), range('w', 1, 25))
  st = ec2State(dir, 'aws')
  assert.ok(st.batches.every((b) => b.named))
  // Each instance carries the name its batch gave its launch index.
  for (const b of st.batches) b.instance_ids!.forEach((id, k) => assert.equal(fake.tag(fake.instances.get(id)!, 'Name'), b.names[k]))
})

test('create SIGKILLed while RunInstances is in flight: adopted by tag, or re-issued with the same ClientToken', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=4'])
  assert.equal(r.code, 0, r.stderr)

  // 1. Launched, reply never arrived: state has the batch but no instance ids; the belt-batch tag finds them.
  fake.stall.RunInstances = 'after'
  let child: ChildProcess | null = null
  let pending = run(['create', '1gb', 'x[1:8]'], {onSpawn: (c) => (child = c)})
  await until(() => fake.instances.size === 8 && fake.stalled === 2, 'two batches launched, replies held')
  child!.kill('SIGKILL')
  await pending
  fake.releaseStalled()
  delete fake.stall.RunInstances
  assert.ok(ec2State(dir, 'aws').batches.every((b) => b.instance_ids === null))
  const before = fake.calls.RunInstances
  r = await run(['create', '1gb', 'x[1:8]'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.calls.RunInstances, before)
  assert.deepEqual(liveNames(fake), range('x', 1, 8))

  // 2. Killed before EC2 launched anything: the re-run re-issues the recorded batch with its own ClientToken.
  fake.stall.RunInstances = 'before'
  pending = run(['create', '1gb', 'y[1:4]'], {onSpawn: (c) => (child = c)})
  await until(() => fake.stalled === 1, 'RunInstances held before launching')
  child!.kill('SIGKILL')
  await pending
  fake.releaseStalled()
  delete fake.stall.RunInstances
  const recorded = ec2State(dir, 'aws').batches.find((b) => b.names[0] === 'y1')!
  assert.equal(recorded.named, false)
  r = await run(['create', '1gb', 'y[1:4]'])
  assert.equal(r.code, 0, r.stderr)
  const last = fake.requests.filter((q) => q.action === 'RunInstances').at(-1)!
  assert.equal(last.params.ClientToken, recorded.client_token, 'the same ClientToken: had EC2 launched it, it would return that reservation')
  assert.deepEqual(liveNames(fake), [...range('x', 1, 8), ...range('y', 1, 4)])
  assert.equal(fake.instances.size, 12)
})

test('Ctrl-C during create: no new batch starts, launched ones are named and recorded, rm --all removes them', async (t) => {
  const {dir, fake, run} = await setupEc2(t)
  let r = await run(['cluster', 'new', 'aws', '--driver', 'ec2', 'admin_cidr=203.0.113.0/24', 'batch_size=5'])
  assert.equal(r.code, 0, r.stderr)
  fake.delayMs.RunInstances = 400
  let child: ChildProcess | null = null
  const pending = run(['create', '1gb', 'w[1:40]', '--yes'], {onSpawn: (c) => (child = c)})
  await until(() => (fake.calls.RunInstances ?? 0) >= 1, 'the first RunInstances')
  child!.kill('SIGINT')
  r = await pending
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stderr, /interrupted/)
  const launched = fake.instances.size
  assert.ok(launched > 0 && launched < 40, `some but not all launched (${launched})`)
  assert.equal(fake.calls.RunInstances * 5, launched, 'every started batch finished')
  assert.equal(liveNames(fake).filter((n) => n.startsWith('?')).length, 0, 'every launched instance was named')
  assert.equal(Object.keys(ec2State(dir, 'aws').nodes).length, launched)

  r = await run(['rm', '--all', '--force'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(fake.live().length, 0)
})
