// The fake EC2 API's own rules, met through the real @aws-sdk/client-ec2 as belt meets them: SigV4 signatures
// verified with the test credentials, UserData base64 and its 16 KB limit, the architecture taken from the AMI (and
// an instance type of the other one refused), StopInstances / StartInstances states, and the describe lag.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {
  DescribeInstancesCommand, EC2Client, RunInstancesCommand, StartInstancesCommand, StopInstancesCommand, type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2'
import {Ec2Fake, TEST_CREDENTIALS, USER_DATA_MAX_BYTES, instanceTypeArchitecture, type FakeCredentials} from './ec2.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

async function start(t: import('node:test').TestContext, opts: ConstructorParameters<typeof Ec2Fake>[0] = {}) {
  const fake = new Ec2Fake({pendingMs: 100, stoppingMs: 100, ...opts})
  const url = await fake.start()
  t.after(() => fake.stop())
  const client = (credentials: FakeCredentials = TEST_CREDENTIALS) => {
    const c = new EC2Client({endpoint: url, region: 'us-east-1', credentials, maxAttempts: 1})
    t.after(() => c.destroy())
    return c
  }
  const ec2 = client()
  const run = (extra: Partial<RunInstancesCommandInput> = {}) =>
    ec2.send(new RunInstancesCommand({ImageId: 'ami-0noble0000000000b', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1, ...extra}))
  const describe = async (id: string) => (await ec2.send(new DescribeInstancesCommand({InstanceIds: [id]}))).Reservations![0].Instances![0]
  return {fake, client, ec2, run, describe}
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

const code = (name: string, status: number) => (e: Error & {$metadata?: {httpStatusCode?: number}}) => {
  assert.equal(e.name, name)
  assert.equal(e.$metadata?.httpStatusCode, status)
  return true
}

test('SigV4: the test credentials verify; a wrong secret is SignatureDoesNotMatch, an unknown key AuthFailure', async (t) => {
  const {client, fake} = await start(t)
  await client().send(new DescribeInstancesCommand({}))
  await assert.rejects(client({...TEST_CREDENTIALS, secretAccessKey: 'not-the-secret'}).send(new DescribeInstancesCommand({})),
    code('SignatureDoesNotMatch', 403))
  await assert.rejects(client({accessKeyId: 'AKIDSOMEONEELSE', secretAccessKey: TEST_CREDENTIALS.secretAccessKey}).send(new DescribeInstancesCommand({})),
    code('AuthFailure', 401))
  assert.equal(fake.instances.size, 0)
})

test('SigV4: a body altered after signing is refused', async (t) => {
  const {fake} = await start(t)
  const c = new EC2Client({endpoint: fake.url, region: 'us-east-1', credentials: TEST_CREDENTIALS, maxAttempts: 1})
  t.after(() => c.destroy())
  // Change the body after the signer ran: as if a proxy rewrote the request.
  c.middlewareStack.add((next) => async (args) => {
    const req = args.request as {body: string}
    req.body = req.body.replace('MaxCount=1', 'MaxCount=5')
    return next(args)
  }, {step: 'finalizeRequest', priority: 'low', name: 'tamper'})
  await assert.rejects(c.send(new RunInstancesCommand({ImageId: 'ami-0noble0000000000b', InstanceType: 't3.micro', MinCount: 1, MaxCount: 1})),
    code('SignatureDoesNotMatch', 403))
  assert.equal(fake.instances.size, 0, 'nothing launched')
})

test('UserData: base64 of at most 16 KB', async (t) => {
  const {run, fake} = await start(t)
  await assert.rejects(run({UserData: '#!/bin/sh\necho not base64'}), (e: Error) => {
    assert.equal(e.name, 'InvalidParameterValue')
    assert.match(e.message, /Invalid BASE64 encoding of user data/)
    return true
  })
  await assert.rejects(run({UserData: Buffer.alloc(USER_DATA_MAX_BYTES + 1, 'x').toString('base64')}), (e: Error) => {
    assert.equal(e.name, 'InvalidParameterValue')
    assert.match(e.message, /User data is limited to 16384 bytes \(got 16385\)/)
    return true
  })
  assert.equal(fake.instances.size, 0)
  const ok = await run({UserData: Buffer.alloc(USER_DATA_MAX_BYTES, 'x').toString('base64')})
  assert.equal(ok.Instances!.length, 1)
})

test('architecture comes from the AMI; an instance type of the other architecture is refused', async (t) => {
  const {run, describe} = await start(t)
  const arm = await run({ImageId: 'ami-0noblearm00000000', InstanceType: 't4g.small'})
  assert.equal(arm.Instances![0].Architecture, 'arm64')
  assert.equal((await describe(arm.Instances![0].InstanceId!)).Architecture, 'arm64')
  const x86 = await run()
  assert.equal((await describe(x86.Instances![0].InstanceId!)).Architecture, 'x86_64')
  for (const [ImageId, InstanceType, typeArch, amiArch] of [['ami-0noblearm00000000', 't3.micro', 'x86_64', 'arm64'], ['ami-0noble0000000000b', 'm7g.large', 'arm64', 'x86_64']]) {
    await assert.rejects(run({ImageId, InstanceType: InstanceType as 't3.micro'}), (e: Error) => {
      assert.equal(e.name, 'InvalidParameterValue')
      assert.match(e.message, new RegExp(`architecture '${typeArch}' of the specified instance type does not match the architecture '${amiArch}'`))
      return true
    })
  }
  assert.deepEqual(['a1.large', 't4g.nano', 'c7gn.xlarge', 'm6gd.large', 'x2gd.large', 't3.micro', 'm6i.large', 'c6a.large', 'g5.xlarge'].map(instanceTypeArchitecture),
    ['arm64', 'arm64', 'arm64', 'arm64', 'arm64', 'x86_64', 'x86_64', 'x86_64', 'x86_64'])
})

test('StopInstances / StartInstances: running → stopping → stopped → pending → running; no public address while stopped', async (t) => {
  const {ec2, run, describe} = await start(t)
  const id = (await run()).Instances![0].InstanceId!
  await until('running', async () => (await describe(id)).State?.Name === 'running')
  assert.ok((await describe(id)).PublicIpAddress)
  await assert.rejects(ec2.send(new StopInstancesCommand({InstanceIds: ['i-0doesnotexist']})), code('InvalidInstanceID.NotFound', 400))
  const stop = await ec2.send(new StopInstancesCommand({InstanceIds: [id]}))
  assert.deepEqual([stop.StoppingInstances![0].PreviousState?.Name, stop.StoppingInstances![0].CurrentState?.Name], ['running', 'stopping'])
  await until('stopped', async () => (await describe(id)).State?.Name === 'stopped')
  assert.equal((await describe(id)).PublicIpAddress, undefined)
  const startRes = await ec2.send(new StartInstancesCommand({InstanceIds: [id]}))
  assert.deepEqual([startRes.StartingInstances![0].PreviousState?.Name, startRes.StartingInstances![0].CurrentState?.Name], ['stopped', 'pending'])
  await until('running again', async () => (await describe(id)).State?.Name === 'running')
})

test('describe lag: a new instance is missing from DescribeInstances (by id: NotFound) for describeLagMs', async (t) => {
  const {ec2, run, describe, fake} = await start(t)
  fake.describeLagMs = 800
  const id = (await run()).Instances![0].InstanceId!
  await assert.rejects(describe(id), code('InvalidInstanceID.NotFound', 400))
  assert.equal((await ec2.send(new DescribeInstancesCommand({}))).Reservations!.length, 0)
  await until('listed', async () => ((await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? []).length === 1)
  assert.equal((await describe(id)).InstanceId, id)
})
