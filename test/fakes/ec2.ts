// A stateful fake of the EC2 Query API (Version 2016-11-15), enough for belt's ec2 driver, driven by the real
// @aws-sdk/client-ec2: POST form-encoded `Action=...`, XML replies in the EC2 namespace, `<Response><Errors>` errors.
// SigV4 signatures are verified with the fake's credentials (the test credentials by default): an unknown access key
// is AuthFailure, a wrong secret SignatureDoesNotMatch, as EC2 answers. UserData must be base64 of at most 16 KB;
// instances take their architecture from the AMI and refuse an instance type of the other one; StopInstances /
// StartInstances go stopping → stopped → pending → running, and a started instance gets a new public address;
// RebootInstances is counted per instance (`reboots`).
// Knobs let tests inject RequestLimitExceeded, lost responses (applied, then 503), stalled requests and a describe lag.
import {createHash, createHmac, randomUUID, timingSafeEqual} from 'node:crypto'
import {createServer, IncomingMessage, Server, ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

export const NS = 'http://ec2.amazonaws.com/doc/2016-11-15/'
export const CANONICAL = '099720109477'
const ACCOUNT = '123456789012'

type Params = Map<string, string>

export interface FakeTag {key: string; value: string}

export interface FakeInstance {
  instanceId: string
  reservationId: string
  imageId: string
  instanceType: string
  keyName: string | null
  launchIndex: number
  launchedAt: number
  terminatedAt: number | null
  clientToken: string | null
  subnetId: string
  vpcId: string
  privateIp: string
  publicIp: string
  groupIds: string[]
  userData: string | null
  tags: FakeTag[]
  architecture: 'x86_64' | 'arm64'
  /** When StopInstances was applied (null: not stopped); StartInstances clears it and restarts the pending clock. */
  stoppedAt: number | null
}

interface Reservation {
  reservationId: string
  instanceIds: string[]
  signature: string
}

/** One ingress rule as AWS stores it: a protocol/port range and ONE source. */
export interface FakeRule {
  protocol: string
  from: number | null
  to: number | null
  cidr?: string
  groupId?: string
  description?: string
}

export interface FakeGroup {
  groupId: string
  groupName: string
  description: string
  vpcId: string
  ingress: FakeRule[]
  tags: FakeTag[]
}

export interface FakeImage {
  imageId: string
  name: string
  ownerId: string
  creationDate: string
  architecture: 'x86_64' | 'arm64'
  state: string
}

export interface FakeKeyPair {
  keyPairId: string
  keyName: string
  fingerprint: string
  keyType: string
  publicKey: string
}

export interface Ec2FakeOptions {
  /** How long instances stay `pending` before `running` (ms). */
  pendingMs?: number
  /** How long terminated instances stay `shutting-down` (ms). */
  shuttingDownMs?: number
  /** How long stopped instances stay `stopping` (ms). */
  stoppingMs?: number
  /** The only credentials whose signatures verify (default: TEST_CREDENTIALS). */
  credentials?: FakeCredentials
}

export interface FakeCredentials {accessKeyId: string; secretAccessKey: string}

/** The credentials the ec2 tests give belt (test/e2e/ec2-setup.ts). */
export const TEST_CREDENTIALS: FakeCredentials = {accessKeyId: 'AKIDEXAMPLEBELT', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLESECRET'}

/** EC2's limit on UserData: 16 KB before base64 encoding. */
export const USER_DATA_MAX_BYTES = 16 * 1024

export class ApiError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message)
  }
}

export class Ec2Fake {
  pendingMs: number
  shuttingDownMs: number
  stoppingMs: number
  readonly credentials: FakeCredentials
  /** DescribeInstances misses instances launched less than this long ago (by id: InvalidInstanceID.NotFound), as
   *  EC2's eventually consistent reads do right after RunInstances. */
  describeLagMs = 0
  /** Calls received per Action (throttled and failed calls included). */
  readonly calls: Record<string, number> = {}
  /** RebootInstances applied, per instance id. */
  readonly reboots = new Map<string, number>()
  /** Every request's Action and parameters, in arrival order. */
  readonly requests: {action: string; params: Record<string, string>; throttled?: boolean}[] = []
  /** Throttle every Nth call (counted over `throttleActions`, or all actions) with RequestLimitExceeded (HTTP 503). */
  throttleEvery = 0
  /** Throttle the next N calls (of `throttleActions`, or all). */
  throttleBurst = 0
  throttleActions: string[] | null = null
  /** A token bucket like EC2's own request limiter (all actions): `burst` tokens, refilled at `perSecond`. */
  rateLimit: {burst: number; perSecond: number} | null = null
  private bucket: {tokens: number; at: number} | null = null
  /** Count of RequestLimitExceeded replies sent, per Action. */
  readonly throttled: Record<string, number> = {}
  /** Apply the next N calls of an Action, then answer 503 InternalError as if the reply was lost. */
  readonly loseResponses: Record<string, number> = {}
  /** Hold calls of an Action without answering ('before': nothing applied; 'after': applied, reply withheld). */
  readonly stall: Record<string, 'before' | 'after'> = {}
  /** Refuse the next `count` calls of an Action with this error, unapplied (e.g. InvalidInstanceID.NotFound, as EC2
   *  answers CreateTags right after RunInstances while the new instance is not visible yet). */
  readonly failNext: Record<string, {code: string; count: number; status?: number}> = {}
  /** At most this many instances per DescribeInstances page, whatever MaxResults asks (EC2 may return fewer). */
  pageLimit = 0
  /** Answer calls of an Action only after this many ms (applied first). */
  readonly delayMs: Record<string, number> = {}
  /** Requests currently held by `stall`. */
  stalled = 0

  readonly instances = new Map<string, FakeInstance>()
  readonly reservations = new Map<string, Reservation>()
  readonly groups = new Map<string, FakeGroup>()
  readonly keyPairs = new Map<string, FakeKeyPair>()
  readonly images: FakeImage[] = []
  readonly vpcs = [{vpcId: 'vpc-0fake000000000001', cidr: '172.31.0.0/16', isDefault: true}, {vpcId: 'vpc-0fake000000000002', cidr: '10.20.0.0/16', isDefault: false}]
  readonly subnets = [
    {subnetId: 'subnet-0fake00000000001a', vpcId: 'vpc-0fake000000000001', az: 'us-east-1a', cidr: '172.31.0.0/20', mapPublicIp: true, defaultForAz: true},
    {subnetId: 'subnet-0fake00000000002a', vpcId: 'vpc-0fake000000000002', az: 'us-east-1a', cidr: '10.20.1.0/24', mapPublicIp: false, defaultForAz: false},
  ]

  private server: Server | null = null
  private seq = 0
  private callCount = 0
  private ipSeq = 0
  private held: ServerResponse[] = []

  constructor(opts: Ec2FakeOptions = {}) {
    this.pendingMs = opts.pendingMs ?? 150
    this.shuttingDownMs = opts.shuttingDownMs ?? 100
    this.stoppingMs = opts.stoppingMs ?? 100
    this.credentials = opts.credentials ?? TEST_CREDENTIALS
    const img = (imageId: string, name: string, creationDate: string, architecture: 'x86_64' | 'arm64' = 'x86_64', ownerId = CANONICAL) =>
      this.images.push({imageId, name, ownerId, creationDate, architecture, state: 'available'})
    img('ami-0jammy0000000000a', 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240301', '2024-03-01T10:00:00.000Z')
    img('ami-0jammy0000000000b', 'ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20250115', '2025-01-15T10:00:00.000Z')
    img('ami-0noble0000000000a', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250610', '2025-06-10T10:00:00.000Z')
    img('ami-0noble0000000000b', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20250805', '2025-08-05T10:00:00.000Z')
    img('ami-0noblearm00000000', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-arm64-server-20250806', '2025-08-06T10:00:00.000Z', 'arm64')
    // Newer, but not an LTS server image / not Canonical's: must never be picked.
    img('ami-0noblemin00000000', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-minimal-20250901', '2025-09-01T10:00:00.000Z')
    img('ami-0oracular00000000', 'ubuntu/images/hvm-ssd-gp3/ubuntu-oracular-24.10-amd64-server-20250901', '2025-09-01T10:00:00.000Z')
    img('ami-0impostor00000000', 'ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20990101', '2099-01-01T10:00:00.000Z', 'x86_64', '999999999999')
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res))
    this.server.keepAliveTimeout = 1000
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve))
    return this.url
  }

  get url(): string {
    const addr = this.server!.address() as AddressInfo
    return `http://127.0.0.1:${addr.port}`
  }

  async stop(): Promise<void> {
    for (const r of this.held) r.destroy()
    this.held = []
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server!.close(() => resolve()))
    this.server = null
  }

  /** Drop held (stalled) requests: their clients see a reset connection. */
  releaseStalled(): void {
    for (const r of this.held) r.destroy()
    this.held = []
    this.stalled = 0
  }

  // ---- views for tests ---------------------------------------------------------------------------------------
  /** Calls of an Action that got past the throttle (what EC2 actually served or refused on its merits). */
  served(action: string): number {
    return (this.calls[action] ?? 0) - (this.throttled[action] ?? 0)
  }

  state(i: FakeInstance): string {
    const now = Date.now()
    if (i.terminatedAt !== null) return now - i.terminatedAt >= this.shuttingDownMs ? 'terminated' : 'shutting-down'
    if (i.stoppedAt !== null) return now - i.stoppedAt >= this.stoppingMs ? 'stopped' : 'stopping'
    return now - i.launchedAt >= this.pendingMs ? 'running' : 'pending'
  }

  tag(i: {tags: FakeTag[]}, key: string): string | undefined {
    return i.tags.find((t) => t.key === key)?.value
  }

  /** Seed a running instance directly (e.g. one made before cluster ids, or by another project). */
  seedInstance(name: string, tags: FakeTag[]): FakeInstance {
    const subnet = this.subnets.find((x) => x.defaultForAz)!
    const n = ++this.ipSeq
    const inst: FakeInstance = {
      instanceId: this.id('i'), reservationId: this.id('r'), imageId: 'ami-0noble0000000000b', instanceType: 't3.micro', keyName: null,
      launchIndex: 0, launchedAt: Date.now() - this.pendingMs, terminatedAt: null, clientToken: null, subnetId: subnet.subnetId,
      vpcId: subnet.vpcId, privateIp: `172.31.${(n >> 8) & 255}.${n & 255}`, publicIp: `198.18.${(n >> 8) & 255}.${n & 255}`, groupIds: [],
      userData: null, tags: [{key: 'Name', value: name}, ...tags.map((t) => ({...t}))], architecture: 'x86_64', stoppedAt: null,
    }
    this.instances.set(inst.instanceId, inst)
    return inst
  }

  /** Instances not terminated / shutting down. */
  live(): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.terminatedAt === null)
  }

  // ---- HTTP --------------------------------------------------------------------------------------------------
  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const requestId = randomUUID()
    let action = '(none)'
    try {
      if (req.method !== 'POST') throw new ApiError('InvalidAction', 'The EC2 Query API takes POST requests here', 400)
      const ctype = String(req.headers['content-type'] ?? '')
      if (!ctype.startsWith('application/x-www-form-urlencoded')) throw new ApiError('InvalidParameterValue', `unexpected content-type ${ctype}`)
      const params: Params = new Map(new URLSearchParams(Buffer.concat(chunks).toString('utf8')))
      action = params.get('Action') ?? '(none)'
      this.calls[action] = (this.calls[action] ?? 0) + 1
      const request: (typeof this.requests)[number] = {action, params: Object.fromEntries(params)}
      this.requests.push(request)
      verifySigV4(req, Buffer.concat(chunks), this.credentials)
      if (params.get('Version') !== '2016-11-15') throw new ApiError('InvalidParameterValue', `unsupported Version ${params.get('Version')}`)
      if (this.shouldThrottle(action)) {
        this.throttled[action] = (this.throttled[action] ?? 0) + 1
        request.throttled = true
        throw new ApiError('RequestLimitExceeded', 'Request limit exceeded.', 503)
      }
      const fail = this.failNext[action]
      if (fail && fail.count > 0) {
        fail.count--
        throw new ApiError(fail.code, `injected ${fail.code}`, fail.status ?? 400)
      }
      const stall = this.stall[action]
      if (stall === 'before') return this.hold(res)
      const body = this.dispatch(action, params)
      if (stall === 'after') return this.hold(res)
      if (this.delayMs[action]) await new Promise((r) => setTimeout(r, this.delayMs[action]))
      if ((this.loseResponses[action] ?? 0) > 0) {
        this.loseResponses[action]--
        throw new ApiError('InternalError', 'An internal error has occurred', 503)
      }
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><requestId>${requestId}</requestId>${body}</${action}Response>`
      res.writeHead(200, {'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId})
      res.end(xml)
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError('InternalError', String((err as Error)?.message ?? err), 500)
      const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${esc(e.code)}</Code><Message>${esc(e.message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`
      res.writeHead(e.status, {'content-type': 'text/xml;charset=UTF-8'})
      res.end(xml)
    }
  }

  private hold(res: ServerResponse): void {
    this.stalled++
    this.held.push(res)
  }

  private shouldThrottle(action: string): boolean {
    if (this.rateLimit) {
      const now = Date.now()
      const b = (this.bucket ??= {tokens: this.rateLimit.burst, at: now})
      b.tokens = Math.min(this.rateLimit.burst, b.tokens + ((now - b.at) / 1000) * this.rateLimit.perSecond)
      b.at = now
      if (b.tokens < 1) return true
      b.tokens--
    }
    if (this.throttleActions && !this.throttleActions.includes(action)) return false
    this.callCount++
    if (this.throttleBurst > 0) {
      this.throttleBurst--
      return true
    }
    return this.throttleEvery > 0 && this.callCount % this.throttleEvery === 0
  }

  private dispatch(action: string, p: Params): string {
    switch (action) {
      case 'RunInstances': return this.runInstances(p)
      case 'DescribeInstances': return this.describeInstances(p)
      case 'CreateTags': return this.createTags(p)
      case 'TerminateInstances': return this.terminateInstances(p)
      case 'StopInstances': return this.powerInstances(p, 'stop')
      case 'StartInstances': return this.powerInstances(p, 'start')
      case 'RebootInstances': return this.rebootInstances(p)
      case 'DescribeImages': return this.describeImages(p)
      case 'ImportKeyPair': return this.importKeyPair(p)
      case 'DescribeKeyPairs': return this.describeKeyPairs(p)
      case 'CreateSecurityGroup': return this.createSecurityGroup(p)
      case 'DescribeSecurityGroups': return this.describeSecurityGroups(p)
      case 'DeleteSecurityGroup': return this.deleteSecurityGroup(p)
      case 'AuthorizeSecurityGroupIngress': return this.changeIngress(p, true)
      case 'RevokeSecurityGroupIngress': return this.changeIngress(p, false)
      case 'DescribeVpcs': return this.describeVpcs(p)
      case 'DescribeSubnets': return this.describeSubnets(p)
      default: throw new ApiError('InvalidAction', `The action ${action} is not valid for this web service.`)
    }
  }

  private id(prefix: string): string {
    this.seq++
    return `${prefix}-0${this.seq.toString(16).padStart(16, '0')}`
  }

  // ---- instances ---------------------------------------------------------------------------------------------
  private runInstances(p: Params): string {
    const imageId = required(p, 'ImageId')
    const instanceType = p.get('InstanceType') ?? 'm1.small'
    const min = int(p, 'MinCount')
    const max = int(p, 'MaxCount')
    if (min === null || max === null) throw new ApiError('MissingParameter', 'The request must contain the parameter MinCount and MaxCount')
    if (min < 1 || max < min) throw new ApiError('InvalidParameterValue', `Invalid MinCount/MaxCount: ${min}/${max}`)
    if (max > 1000) throw new ApiError('InstanceLimitExceeded', `You have requested more instances (${max}) than your current instance limit allows`)
    if (!/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(instanceType)) throw new ApiError('InvalidParameterValue', `Invalid value '${instanceType}' for InstanceType.`)
    const token = p.get('ClientToken') ?? null
    if (token !== null && token.length > 64) throw new ApiError('InvalidParameterValue', 'ClientToken is longer than 64 characters')
    const ni = structs(p, 'NetworkInterface')[0]
    const subnetId = p.get('SubnetId') ?? ni?.get('SubnetId') ?? null
    const groupIds = [...list(p, 'SecurityGroupId'), ...(ni ? list(ni, 'SecurityGroupId') : [])]
    const groupNames = list(p, 'SecurityGroup')
    const signature = JSON.stringify([imageId, instanceType, min, max, subnetId, groupIds, groupNames])
    if (token !== null) {
      const prior = this.reservations.get(token)
      if (prior) {
        if (prior.signature !== signature) throw new ApiError('IdempotentParameterMismatch', 'The client token has already been used with different parameters')
        return this.reservationXml(prior.reservationId, prior.instanceIds.map((id) => this.instances.get(id)!), true)
      }
    }
    const image = this.images.find((i) => i.imageId === imageId)
    if (!image) throw new ApiError('InvalidAMIID.NotFound', `The image id '[${imageId}]' does not exist`)
    const typeArch = instanceTypeArchitecture(instanceType)
    if (typeArch !== image.architecture) {
      throw new ApiError('InvalidParameterValue', `The architecture '${typeArch}' of the specified instance type does not match the architecture '${image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.`)
    }
    checkUserData(p.get('UserData'))
    const keyName = p.get('KeyName') ?? null
    if (keyName !== null && !this.keyPairs.has(keyName)) throw new ApiError('InvalidKeyPair.NotFound', `The key pair '${keyName}' does not exist`)
    const subnet = subnetId ? this.subnets.find((s) => s.subnetId === subnetId) : this.subnets.find((s) => s.defaultForAz)
    if (!subnet) throw new ApiError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`)
    for (const g of groupIds) {
      const grp = this.groups.get(g)
      if (!grp) throw new ApiError('InvalidGroup.NotFound', `The security group '${g}' does not exist`)
      if (grp.vpcId !== subnet.vpcId) throw new ApiError('InvalidParameter', `Security group ${g} and subnet ${subnet.subnetId} belong to different networks.`)
    }
    for (const n of groupNames) if (![...this.groups.values()].some((g) => g.groupName === n)) throw new ApiError('InvalidGroup.NotFound', `The security group '${n}' does not exist in default VPC`)
    const tags: FakeTag[] = []
    for (const spec of structs(p, 'TagSpecification')) {
      const type = spec.get('ResourceType')
      const t = tagsOf(spec, 'Tag')
      if (type === 'instance') tags.push(...t)
      else if (type !== 'volume' && type !== 'network-interface') throw new ApiError('InvalidParameterValue', `'${type}' is not a valid taggable resource type for this operation.`)
    }
    checkTags(tags)
    const associatePublic = ni?.get('AssociatePublicIpAddress')
    const wantsPublic = associatePublic === undefined ? subnet.mapPublicIp : associatePublic === 'true'
    const reservationId = this.id('r')
    const now = Date.now()
    const ids: string[] = []
    for (let k = 0; k < max; k++) {
      const n = ++this.ipSeq
      const inst: FakeInstance = {
        instanceId: this.id('i'), reservationId, imageId, instanceType, keyName, launchIndex: k, launchedAt: now, terminatedAt: null,
        clientToken: token, subnetId: subnet.subnetId, vpcId: subnet.vpcId,
        privateIp: subnet.vpcId === 'vpc-0fake000000000001' ? `172.31.${(n >> 8) & 255}.${n & 255}` : `10.20.${(n >> 8) & 255}.${n & 255}`,
        publicIp: wantsPublic ? `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}` : '',
        groupIds: groupIds.length ? groupIds : [...this.groups.values()].filter((g) => groupNames.includes(g.groupName)).map((g) => g.groupId),
        userData: p.get('UserData') ?? null, tags: tags.map((t) => ({...t})), architecture: image.architecture, stoppedAt: null,
      }
      this.instances.set(inst.instanceId, inst)
      ids.push(inst.instanceId)
    }
    const r: Reservation = {reservationId, instanceIds: ids, signature}
    this.reservations.set(token ?? reservationId, r)
    return this.reservationXml(reservationId, ids.map((id) => this.instances.get(id)!), true)
  }

  private reservationXml(reservationId: string, insts: FakeInstance[], flat: boolean): string {
    const groups = insts[0] ? insts[0].groupIds.map((g) => `<item><groupId>${g}</groupId><groupName>${esc(this.groups.get(g)?.groupName ?? '')}</groupName></item>`).join('') : ''
    const body = `<reservationId>${reservationId}</reservationId><ownerId>${ACCOUNT}</ownerId><groupSet>${groups}</groupSet><instancesSet>${insts.map((i) => this.instanceXml(i)).join('')}</instancesSet>`
    return flat ? body : `<item>${body}</item>`
  }

  private instanceXml(i: FakeInstance): string {
    const state = this.state(i)
    const code = {pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80}[state] ?? 0
    const hasPublic = i.publicIp && state === 'running'
    const hasPrivate = state !== 'terminated'
    return '<item>' +
      `<instanceId>${i.instanceId}</instanceId><imageId>${i.imageId}</imageId>` +
      `<instanceState><code>${code}</code><name>${state}</name></instanceState>` +
      `<privateDnsName>${hasPrivate ? `ip-${i.privateIp.replace(/\./g, '-')}.ec2.internal` : ''}</privateDnsName>` +
      `<dnsName>${hasPublic ? `ec2-${i.publicIp.replace(/\./g, '-')}.compute-1.amazonaws.com` : ''}</dnsName>` +
      (i.keyName ? `<keyName>${esc(i.keyName)}</keyName>` : '') +
      `<amiLaunchIndex>${i.launchIndex}</amiLaunchIndex><instanceType>${i.instanceType}</instanceType>` +
      `<launchTime>${new Date(i.launchedAt).toISOString()}</launchTime>` +
      `<placement><availabilityZone>${this.subnets.find((s) => s.subnetId === i.subnetId)?.az}</availabilityZone><tenancy>default</tenancy></placement>` +
      (state !== 'terminated' ? `<subnetId>${i.subnetId}</subnetId><vpcId>${i.vpcId}</vpcId>` : '') +
      (hasPrivate ? `<privateIpAddress>${i.privateIp}</privateIpAddress>` : '') +
      (hasPublic ? `<ipAddress>${i.publicIp}</ipAddress>` : '') +
      `<groupSet>${i.groupIds.map((g) => `<item><groupId>${g}</groupId><groupName>${esc(this.groups.get(g)?.groupName ?? '')}</groupName></item>`).join('')}</groupSet>` +
      `<architecture>${i.architecture}</architecture><rootDeviceType>ebs</rootDeviceType><rootDeviceName>/dev/sda1</rootDeviceName>` +
      (i.clientToken ? `<clientToken>${esc(i.clientToken)}</clientToken>` : '') +
      tagSetXml(i.tags) +
      '<hypervisor>xen</hypervisor></item>'
  }

  private describeInstances(p: Params): string {
    const ids = list(p, 'InstanceId')
    const maxResults = int(p, 'MaxResults')
    if (maxResults !== null && ids.length) throw new ApiError('InvalidParameterCombination', 'The parameter instancesSet cannot be used with the parameter maxResults')
    if (maxResults !== null && (maxResults < 5 || maxResults > 1000)) throw new ApiError('InvalidParameterValue', `Value ( ${maxResults} ) for parameter maxResults is invalid. Expecting a value between 5 and 1000.`)
    const visible = (i: FakeInstance) => Date.now() - i.launchedAt >= this.describeLagMs
    for (const id of ids) {
      const i = this.instances.get(id)
      if (!i || !visible(i)) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
    }
    const filters = filtersOf(p)
    const wanted = new Set(ids)
    let all = [...this.instances.values()]
      .filter((i) => visible(i) && (wanted.size === 0 || wanted.has(i.instanceId)) && filters.every((f) => this.instanceMatches(i, f)))
    const start = pageStart(p.get('NextToken'))
    let next = ''
    const page = Math.min(maxResults ?? Infinity, this.pageLimit || Infinity)
    if (page !== Infinity) {
      if (start + page < all.length) next = pageToken(start + page)
      all = all.slice(start, start + page)
    }
    const byRes = new Map<string, FakeInstance[]>()
    for (const i of all) byRes.set(i.reservationId, [...(byRes.get(i.reservationId) ?? []), i])
    const items = [...byRes.entries()].map(([r, insts]) => this.reservationXml(r, insts, false)).join('')
    return `<reservationSet>${items}</reservationSet>${next ? `<nextToken>${next}</nextToken>` : ''}`
  }

  private instanceMatches(i: FakeInstance, f: {name: string; values: string[]}): boolean {
    const any = (v: string | undefined) => v !== undefined && f.values.some((pat) => wildcard(pat, v))
    if (f.name.startsWith('tag:')) return any(this.tag(i, f.name.slice(4)))
    switch (f.name) {
      case 'tag-key': return i.tags.some((t) => any(t.key))
      case 'tag-value': return i.tags.some((t) => any(t.value))
      case 'instance-state-name': return any(this.state(i))
      case 'instance-id': return any(i.instanceId)
      case 'reservation-id': return any(i.reservationId)
      case 'client-token': return any(i.clientToken ?? undefined)
      case 'instance-type': return any(i.instanceType)
      case 'subnet-id': return any(i.subnetId)
      case 'vpc-id': return any(i.vpcId)
      default: throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
    }
  }

  private createTags(p: Params): string {
    const ids = list(p, 'ResourceId')
    if (ids.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter resourceIdSet')
    const tags = tagsOf(p, 'Tag')
    if (tags.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter tagSet')
    const targets = ids.map((id) => {
      const t = this.instances.get(id) ?? this.groups.get(id)
      if (!t) throw new ApiError(id.startsWith('i-') ? 'InvalidInstanceID.NotFound' : 'InvalidID', `The ID '${id}' is not valid`)
      return t
    })
    for (const t of targets) {
      for (const tag of tags) {
        const old = t.tags.find((x) => x.key === tag.key)
        if (old) old.value = tag.value
        else t.tags.push({...tag})
      }
      checkTags(t.tags)
    }
    return '<return>true</return>'
  }

  private terminateInstances(p: Params): string {
    const ids = list(p, 'InstanceId')
    if (ids.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter InstanceId')
    if (ids.length > 1000) throw new ApiError('InvalidParameterValue', 'You may terminate at most 1000 instances per request')
    const found = ids.map((id) => {
      const i = this.instances.get(id)
      if (!i) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      return i
    })
    const items = found.map((i) => {
      const prev = this.state(i)
      if (i.terminatedAt === null) i.terminatedAt = Date.now()
      const cur = this.state(i)
      const code = (s: string) => ({pending: 0, running: 16, 'shutting-down': 32, terminated: 48}[s] ?? 0)
      return `<item><instanceId>${i.instanceId}</instanceId><currentState><code>${code(cur)}</code><name>${cur}</name></currentState><previousState><code>${code(prev)}</code><name>${prev}</name></previousState></item>`
    })
    return `<instancesSet>${items.join('')}</instancesSet>`
  }

  private powerInstances(p: Params, to: 'stop' | 'start'): string {
    const ids = list(p, 'InstanceId')
    if (ids.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter InstanceId')
    const found = ids.map((id) => {
      const i = this.instances.get(id)
      if (!i) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      const state = this.state(i)
      const can = to === 'stop' ? ['running', 'stopping', 'stopped'] : ['stopped', 'pending', 'running']
      if (!can.includes(state)) throw new ApiError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be ${to === 'stop' ? 'stopped' : 'started'}.`)
      return i
    })
    const code = (s: string) => ({pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80}[s] ?? 0)
    const items = found.map((i) => {
      const prev = this.state(i)
      if (to === 'stop' && i.stoppedAt === null) i.stoppedAt = Date.now()
      if (to === 'start' && prev === 'stopped') {
        i.stoppedAt = null
        i.launchedAt = Date.now()
        // As on EC2: an instance without an Elastic IP comes back with another public address.
        if (i.publicIp) {
          const n = ++this.ipSeq
          i.publicIp = `198.19.${(n >> 8) & 255}.${n & 255}`
        }
      }
      const cur = this.state(i)
      return `<item><instanceId>${i.instanceId}</instanceId><currentState><code>${code(cur)}</code><name>${cur}</name></currentState><previousState><code>${code(prev)}</code><name>${prev}</name></previousState></item>`
    })
    return `<instancesSet>${items.join('')}</instancesSet>`
  }

  /** RebootInstances: every id must exist and not be terminated; applied at once; the count is in `reboots`. */
  private rebootInstances(p: Params): string {
    const ids = list(p, 'InstanceId')
    if (ids.length === 0) throw new ApiError('MissingParameter', 'The request must contain the parameter InstanceId')
    for (const id of ids) {
      const i = this.instances.get(id)
      if (!i) throw new ApiError('InvalidInstanceID.NotFound', `The instance ID '${id}' does not exist`)
      if (this.state(i) !== 'running') throw new ApiError('IncorrectInstanceState', `The instance '${id}' is not in a state from which it can be rebooted.`)
    }
    for (const id of ids) this.reboots.set(id, (this.reboots.get(id) ?? 0) + 1)
    return '<return>true</return>'
  }

  // ---- images and key pairs ----------------------------------------------------------------------------------
  private describeImages(p: Params): string {
    const owners = list(p, 'Owner')
    const ids = list(p, 'ImageId')
    const filters = filtersOf(p)
    const imgs = this.images.filter((img) =>
      (owners.length === 0 || owners.some((o) => o === img.ownerId || (o === 'self' && img.ownerId === ACCOUNT))) &&
      (ids.length === 0 || ids.includes(img.imageId)) &&
      filters.every((f) => {
        const v = ({name: img.name, state: img.state, architecture: img.architecture, 'owner-id': img.ownerId, 'image-id': img.imageId} as Record<string, string>)[f.name]
        if (v === undefined) throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
        return f.values.some((pat) => wildcard(pat, v))
      }))
    const items = imgs.map((i) => `<item><imageId>${i.imageId}</imageId><imageLocation>${CANONICAL}/${esc(i.name)}</imageLocation><imageState>${i.state}</imageState><imageOwnerId>${i.ownerId}</imageOwnerId><creationDate>${i.creationDate}</creationDate><isPublic>true</isPublic><architecture>${i.architecture}</architecture><imageType>machine</imageType><name>${esc(i.name)}</name><rootDeviceType>ebs</rootDeviceType><virtualizationType>hvm</virtualizationType></item>`)
    return `<imagesSet>${items.join('')}</imagesSet>`
  }

  private importKeyPair(p: Params): string {
    const keyName = required(p, 'KeyName')
    const material = Buffer.from(required(p, 'PublicKeyMaterial'), 'base64').toString('utf8').trim()
    if (this.keyPairs.has(keyName)) throw new ApiError('InvalidKeyPair.Duplicate', `The keypair '${keyName}' already exists.`)
    const parts = material.split(/\s+/)
    if (parts.length < 2 || !['ssh-ed25519', 'ssh-rsa'].includes(parts[0])) throw new ApiError('InvalidKey.Format', 'Key is not in valid OpenSSH public key format')
    const blob = Buffer.from(parts[1], 'base64')
    const fingerprint = parts[0] === 'ssh-ed25519'
      ? createHash('sha256').update(blob).digest('base64')
      : createHash('md5').update(blob).digest('hex').replace(/(..)(?!$)/g, '$1:')
    const kp: FakeKeyPair = {keyPairId: this.id('key'), keyName, fingerprint, keyType: parts[0] === 'ssh-ed25519' ? 'ed25519' : 'rsa', publicKey: material}
    this.keyPairs.set(keyName, kp)
    return `<keyFingerprint>${esc(fingerprint)}</keyFingerprint><keyName>${esc(keyName)}</keyName><keyPairId>${kp.keyPairId}</keyPairId>`
  }

  private describeKeyPairs(p: Params): string {
    const names = list(p, 'KeyName')
    for (const n of names) if (!this.keyPairs.has(n)) throw new ApiError('InvalidKeyPair.NotFound', `The key pair '${n}' does not exist`)
    const filters = filtersOf(p)
    const kps = [...this.keyPairs.values()].filter((k) => (names.length === 0 || names.includes(k.keyName)) && filters.every((f) => {
      const v = ({'key-name': k.keyName, 'key-pair-id': k.keyPairId, fingerprint: k.fingerprint} as Record<string, string>)[f.name]
      if (v === undefined) throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
      return f.values.some((pat) => wildcard(pat, v))
    }))
    const items = kps.map((k) => `<item><keyPairId>${k.keyPairId}</keyPairId><keyName>${esc(k.keyName)}</keyName><keyFingerprint>${esc(k.fingerprint)}</keyFingerprint><keyType>${k.keyType}</keyType><tagSet/></item>`)
    return `<keySet>${items.join('')}</keySet>`
  }

  // ---- security groups, VPCs, subnets ------------------------------------------------------------------------
  private createSecurityGroup(p: Params): string {
    const groupName = required(p, 'GroupName')
    const description = required(p, 'GroupDescription')
    const vpcId = p.get('VpcId') ?? this.vpcs.find((v) => v.isDefault)!.vpcId
    if (!this.vpcs.some((v) => v.vpcId === vpcId)) throw new ApiError('InvalidVpcID.NotFound', `The vpc ID '${vpcId}' does not exist`)
    if ([...this.groups.values()].some((g) => g.groupName === groupName && g.vpcId === vpcId)) {
      throw new ApiError('InvalidGroup.Duplicate', `The security group '${groupName}' already exists for VPC '${vpcId}'`)
    }
    const tags: FakeTag[] = []
    for (const spec of structs(p, 'TagSpecification')) if (spec.get('ResourceType') === 'security-group') tags.push(...tagsOf(spec, 'Tag'))
    const g: FakeGroup = {groupId: this.id('sg'), groupName, description, vpcId, ingress: [], tags}
    this.groups.set(g.groupId, g)
    return `<return>true</return><groupId>${g.groupId}</groupId>${tagSetXml(tags)}`
  }

  private findGroup(p: Params): FakeGroup {
    const id = p.get('GroupId')
    if (id) {
      const g = this.groups.get(id)
      if (!g) throw new ApiError('InvalidGroup.NotFound', `The security group '${id}' does not exist`)
      return g
    }
    const name = p.get('GroupName')
    const g = [...this.groups.values()].find((x) => x.groupName === name && x.vpcId === this.vpcs[0].vpcId)
    if (!g) throw new ApiError('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC`)
    return g
  }

  /** As EC2: refused (DependencyViolation) while an instance that is not terminated is in the group. */
  private deleteSecurityGroup(p: Params): string {
    const g = this.findGroup(p)
    const users = [...this.instances.values()].filter((i) => i.groupIds.includes(g.groupId) && this.state(i) !== 'terminated')
    if (users.length) throw new ApiError('DependencyViolation', `resource ${g.groupId} has a dependent object`)
    this.groups.delete(g.groupId)
    return '<return>true</return>'
  }

  private describeSecurityGroups(p: Params): string {
    const ids = list(p, 'GroupId')
    const names = list(p, 'GroupName')
    for (const id of ids) if (!this.groups.has(id)) throw new ApiError('InvalidGroup.NotFound', `The security group '${id}' does not exist`)
    const filters = filtersOf(p)
    const gs = [...this.groups.values()].filter((g) =>
      (ids.length === 0 || ids.includes(g.groupId)) && (names.length === 0 || names.includes(g.groupName)) &&
      filters.every((f) => {
        const any = (v: string | undefined) => v !== undefined && f.values.some((pat) => wildcard(pat, v))
        if (f.name.startsWith('tag:')) return any(g.tags.find((t) => t.key === f.name.slice(4))?.value)
        const v = ({'group-name': g.groupName, 'group-id': g.groupId, 'vpc-id': g.vpcId} as Record<string, string>)[f.name]
        if (v === undefined) throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
        return any(v)
      }))
    if (names.length && gs.length < names.length) throw new ApiError('InvalidGroup.NotFound', `The security group '${names.find((n) => !gs.some((g) => g.groupName === n))}' does not exist in default VPC`)
    const items = gs.map((g) =>
      `<item><ownerId>${ACCOUNT}</ownerId><groupId>${g.groupId}</groupId><groupName>${esc(g.groupName)}</groupName><groupDescription>${esc(g.description)}</groupDescription><vpcId>${g.vpcId}</vpcId>` +
      `<ipPermissions>${permissionsXml(g.ingress)}</ipPermissions>` +
      `<ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item></ipPermissionsEgress>` +
      `${tagSetXml(g.tags)}</item>`)
    return `<securityGroupInfo>${items.join('')}</securityGroupInfo>`
  }

  private changeIngress(p: Params, add: boolean): string {
    const g = this.findGroup(p)
    const rules: FakeRule[] = []
    for (const perm of structs(p, 'IpPermissions')) {
      const protocol = normaliseProtocol(required(perm, 'IpProtocol'))
      const ported = protocol === 'tcp' || protocol === 'udp' || protocol === 'icmp'
      const from = ported ? int(perm, 'FromPort') : null
      const to = ported ? int(perm, 'ToPort') : null
      if (ported && (from === null || to === null)) throw new ApiError('InvalidParameterValue', `Invalid value for portRange. Must specify both from and to ports with TCP/UDP.`)
      const cidrs = structs(perm, 'IpRanges')
      const cidrs6 = structs(perm, 'Ipv6Ranges')
      const groups = structs(perm, 'Groups')
      if (cidrs.length + cidrs6.length + groups.length === 0) throw new ApiError('MissingParameter', 'Either a CIDR or a source security group must be given')
      for (const c of cidrs) {
        const cidr = required(c, 'CidrIp')
        if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(cidr)) throw new ApiError('InvalidParameterValue', `CIDR block ${cidr} is malformed`)
        rules.push({protocol, from, to, cidr, description: c.get('Description')})
      }
      for (const c of cidrs6) {
        const cidr = required(c, 'CidrIpv6')
        if (!cidr.includes(':')) throw new ApiError('InvalidParameterValue', `IPv6 CIDR block ${cidr} is malformed`)
        rules.push({protocol, from, to, cidr, description: c.get('Description')})
      }
      for (const s of groups) {
        const gid = required(s, 'GroupId')
        if (!this.groups.has(gid)) throw new ApiError('InvalidGroup.NotFound', `The security group '${gid}' does not exist`)
        rules.push({protocol, from, to, groupId: gid, description: s.get('Description')})
      }
    }
    const same = (a: FakeRule, b: FakeRule) => a.protocol === b.protocol && a.from === b.from && a.to === b.to && a.cidr === b.cidr && a.groupId === b.groupId
    if (add) {
      for (const r of rules) {
        if (g.ingress.some((x) => same(x, r)) || rules.filter((x) => same(x, r)).length > 1) {
          throw new ApiError('InvalidPermission.Duplicate', `the specified rule "peer: ${r.cidr ?? r.groupId}, ${r.protocol.toUpperCase()}, from port: ${r.from}, to port: ${r.to}, ALLOW" already exists`)
        }
      }
      g.ingress.push(...rules)
    } else {
      for (const r of rules) if (!g.ingress.some((x) => same(x, r))) throw new ApiError('InvalidPermission.NotFound', 'The specified rule does not exist in this security group.')
      g.ingress = g.ingress.filter((x) => !rules.some((r) => same(x, r)))
    }
    return '<return>true</return>'
  }

  private describeVpcs(p: Params): string {
    const ids = list(p, 'VpcId')
    const filters = filtersOf(p)
    const vs = this.vpcs.filter((v) => (ids.length === 0 || ids.includes(v.vpcId)) && filters.every((f) => {
      const val = ({isDefault: String(v.isDefault), 'is-default': String(v.isDefault), 'vpc-id': v.vpcId} as Record<string, string>)[f.name]
      if (val === undefined) throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
      return f.values.includes(val)
    }))
    return `<vpcSet>${vs.map((v) => `<item><vpcId>${v.vpcId}</vpcId><state>available</state><cidrBlock>${v.cidr}</cidrBlock><isDefault>${v.isDefault}</isDefault><tagSet/></item>`).join('')}</vpcSet>`
  }

  private describeSubnets(p: Params): string {
    const ids = list(p, 'SubnetId')
    for (const id of ids) if (!this.subnets.some((s) => s.subnetId === id)) throw new ApiError('InvalidSubnetID.NotFound', `The subnet ID '${id}' does not exist`)
    const filters = filtersOf(p)
    const ss = this.subnets.filter((s) => (ids.length === 0 || ids.includes(s.subnetId)) && filters.every((f) => {
      const val = ({'vpc-id': s.vpcId, 'subnet-id': s.subnetId, 'default-for-az': String(s.defaultForAz), 'availability-zone': s.az} as Record<string, string>)[f.name]
      if (val === undefined) throw new ApiError('InvalidParameterValue', `The filter '${f.name}' is invalid`)
      return f.values.includes(val)
    }))
    return `<subnetSet>${ss.map((s) => `<item><subnetId>${s.subnetId}</subnetId><state>available</state><vpcId>${s.vpcId}</vpcId><cidrBlock>${s.cidr}</cidrBlock><availabilityZone>${s.az}</availabilityZone><defaultForAz>${s.defaultForAz}</defaultForAz><mapPublicIpOnLaunch>${s.mapPublicIp}</mapPublicIpOnLaunch><tagSet/></item>`).join('')}</subnetSet>`
  }
}

// ---- strictness: signatures, user data, architectures -----------------------------------------------------------

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest()
const sha256hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex')

/**
 * AWS Signature Version 4 as EC2 checks it: the Authorization header's scope and signed headers, recomputed with the
 * secret of its access key over the canonical request (method, path, query, signed headers, body hash).
 */
export function verifySigV4(req: IncomingMessage, body: Buffer, creds: FakeCredentials): void {
  const auth = String(req.headers.authorization ?? '')
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/ec2\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth)
  if (!m) throw new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401)
  const [, keyId, date, region, signedHeaders, signature] = m
  if (keyId !== creds.accessKeyId) throw new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401)
  const amzDate = String(req.headers['x-amz-date'] ?? '')
  const names = signedHeaders.split(';')
  if (!amzDate.startsWith(date) || !names.includes('host') || !names.includes('x-amz-date')) {
    throw new ApiError('AuthFailure', 'AWS was not able to validate the provided access credentials', 401)
  }
  const url = new URL(req.url ?? '/', 'http://x')
  const query = [...url.searchParams].map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  const header = (n: string) => {
    const v = req.headers[n]
    return (Array.isArray(v) ? v.join(',') : String(v ?? '')).trim().replace(/\s+/g, ' ')
  }
  const canonical = [
    'POST', url.pathname, query.map(([k, v]) => `${k}=${v}`).join('&'),
    names.map((n) => `${n}:${header(n)}\n`).join(''), signedHeaders, sha256hex(body),
  ].join('\n')
  const scope = `${date}/${region}/ec2/aws4_request`
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n')
  const key = hmac(hmac(hmac(hmac(`AWS4${creds.secretAccessKey}`, date), region), 'ec2'), 'aws4_request')
  const expected = hmac(key, toSign)
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new ApiError('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.', 403)
  }
}

function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** UserData is base64 (InvalidParameterValue otherwise) of at most 16 KB once decoded. */
export function checkUserData(userData: string | undefined): void {
  if (userData === undefined) return
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(userData) || userData.length % 4 !== 0) {
    throw new ApiError('InvalidParameterValue', 'Invalid BASE64 encoding of user data.')
  }
  const bytes = Buffer.from(userData, 'base64').length
  if (bytes > USER_DATA_MAX_BYTES) throw new ApiError('InvalidParameterValue', `User data is limited to ${USER_DATA_MAX_BYTES} bytes (got ${bytes}).`)
}

/** Graviton families (a1, and a `g` after the generation: t4g, m7g, c7gn, ...) are arm64; the rest x86_64. */
export function instanceTypeArchitecture(type: string): 'x86_64' | 'arm64' {
  const family = type.split('.')[0]
  return family === 'a1' || /^[a-z]+\d+g[a-z]*$/.test(family) ? 'arm64' : 'x86_64'
}

// ---- Query-protocol helpers ----------------------------------------------------------------------------------

/** `Prefix.1`, `Prefix.2`, ... in index order. */
function list(p: Params, prefix: string): string[] {
  const out: [number, string][] = []
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)$`)
  for (const [k, v] of p) {
    const m = re.exec(k)
    if (m) out.push([Number(m[1]), v])
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}

/** `Prefix.N.Field...` grouped into one Params per N (keys with the `Prefix.N.` part removed), in index order. */
function structs(p: Params, prefix: string): Params[] {
  const by = new Map<number, Params>()
  const re = new RegExp(`^${prefix.replace(/\./g, '\\.')}\\.(\\d+)\\.(.+)$`)
  for (const [k, v] of p) {
    const m = re.exec(k)
    if (!m) continue
    const n = Number(m[1])
    if (!by.has(n)) by.set(n, new Map())
    by.get(n)!.set(m[2], v)
  }
  return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v)
}

function filtersOf(p: Params): {name: string; values: string[]}[] {
  return structs(p, 'Filter').map((f) => {
    const name = f.get('Name')
    if (!name) throw new ApiError('InvalidParameterValue', 'A filter has no Name')
    return {name, values: list(f, 'Value')}
  })
}

function tagsOf(p: Params, prefix: string): FakeTag[] {
  return structs(p, prefix).map((t) => ({key: required(t, 'Key'), value: t.get('Value') ?? ''}))
}

function checkTags(tags: FakeTag[]): void {
  if (tags.length > 50) throw new ApiError('TagLimitExceeded', 'The maximum number of tags per resource is 50')
  for (const t of tags) {
    if (t.key.length === 0 || t.key.length > 128) throw new ApiError('InvalidParameterValue', `Tag key '${t.key}' must be 1 to 128 characters`)
    if (t.value.length > 256) throw new ApiError('InvalidParameterValue', `Tag value for '${t.key}' exceeds 256 characters`)
    if (t.key.startsWith('aws:')) throw new ApiError('InvalidParameterValue', 'Tag keys starting with aws: are reserved')
  }
}

function required(p: Params, key: string): string {
  const v = p.get(key)
  if (v === undefined || v === '') throw new ApiError('MissingParameter', `The request must contain the parameter ${key}`)
  return v
}

function int(p: Params, key: string): number | null {
  const v = p.get(key)
  if (v === undefined) return null
  if (!/^-?\d+$/.test(v)) throw new ApiError('InvalidParameterValue', `Value (${v}) for parameter ${key} is invalid`)
  return Number(v)
}

function normaliseProtocol(p: string): string {
  const map: Record<string, string> = {'6': 'tcp', '17': 'udp', '1': 'icmp', esp: '50', all: '-1'}
  const v = map[p.toLowerCase()] ?? p.toLowerCase()
  if (!['tcp', 'udp', 'icmp', '-1'].includes(v) && !/^\d+$/.test(v)) throw new ApiError('InvalidParameterValue', `Invalid value '${p}' for IP protocol.`)
  return v
}

function permissionsXml(rules: FakeRule[]): string {
  // AWS groups rules that share protocol and ports into one IpPermission with several sources.
  const by = new Map<string, FakeRule[]>()
  for (const r of rules) {
    const k = `${r.protocol}|${r.from}|${r.to}`
    by.set(k, [...(by.get(k) ?? []), r])
  }
  return [...by.values()].map((rs) => {
    const r = rs[0]
    const ports = r.from !== null ? `<fromPort>${r.from}</fromPort><toPort>${r.to}</toPort>` : ''
    const groups = rs.filter((x) => x.groupId).map((x) => `<item><userId>${ACCOUNT}</userId><groupId>${x.groupId}</groupId>${x.description ? `<description>${esc(x.description)}</description>` : ''}</item>`).join('')
    const desc = (x: FakeRule) => (x.description ? `<description>${esc(x.description)}</description>` : '')
    const cidrs = rs.filter((x) => x.cidr && !x.cidr.includes(':')).map((x) => `<item><cidrIp>${x.cidr}</cidrIp>${desc(x)}</item>`).join('')
    const cidrs6 = rs.filter((x) => x.cidr?.includes(':')).map((x) => `<item><cidrIpv6>${x.cidr}</cidrIpv6>${desc(x)}</item>`).join('')
    return `<item><ipProtocol>${r.protocol}</ipProtocol>${ports}<groups>${groups}</groups><ipRanges>${cidrs}</ipRanges><ipv6Ranges>${cidrs6}</ipv6Ranges><prefixListIds/></item>`
  }).join('')
}

function tagSetXml(tags: FakeTag[]): string {
  return `<tagSet>${tags.map((t) => `<item><key>${esc(t.key)}</key><value>${esc(t.value)}</value></item>`).join('')}</tagSet>`
}

function pageToken(offset: number): string {
  return Buffer.from(`fake-page:${offset}`).toString('base64')
}

function pageStart(token: string | undefined): number {
  if (!token) return 0
  const m = /^fake-page:(\d+)$/.exec(Buffer.from(token, 'base64').toString('utf8'))
  if (!m) throw new ApiError('InvalidParameterValue', 'The value of NextToken is invalid')
  return Number(m[1])
}

/** EC2 filter values: `*` any run of characters, `?` one character. */
export function wildcard(pattern: string, value: string): boolean {
  const re = new RegExp('^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's')
  return re.test(value)
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}
