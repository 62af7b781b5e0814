// The EC2 client of a provider, the one way every resource file calls it (`call`: timing, Ctrl-C, error translation),
// the context those files share, and the translation of SDK errors into belt's two error kinds.
// Credentials come from the AWS default chain (env, profile, SSO, instance role); the endpoint from the template's
// `endpoint`, else AWS_ENDPOINT_URL_EC2 (the SDK also honours AWS_ENDPOINT_URL). RequestLimitExceeded is handled by
// the SDK's adaptive retry mode: it retries with backoff and slows the client's own request rate.
import type * as Ec2Sdk from '@aws-sdk/client-ec2'
import type {EC2Client} from '@aws-sdk/client-ec2'
import http from 'node:http'
import https from 'node:https'
import {createRequire} from 'node:module'
import type {Cluster} from '../../core/config/cluster.js'
import {debugLog} from '../../core/debug.js'
import {Interrupted, PartialFailure, UsageError} from '../../core/errors.js'
import {registerSecret} from '../../core/redact.js'
import type {Ec2Records} from './state.js'

const debug = debugLog('ec2')

export const MAX_ATTEMPTS = 10
/** Per attempt: TCP connect, and the whole request + response. BELT_API_TIMEOUT_MS shortens the request timeout (tests). */
const CONNECTION_TIMEOUT_MS = 10_000
const REQUEST_TIMEOUT_MS = 30_000
/** Every call, retries included, ends within this many request timeouts. */
const TOTAL_TIMEOUTS = 4

export function ec2Timeouts(env: NodeJS.ProcessEnv = process.env): {connectionMs: number; requestMs: number; totalMs: number} {
  const v = Number(env.BELT_API_TIMEOUT_MS)
  const requestMs = Number.isFinite(v) && v > 0 ? v : REQUEST_TIMEOUT_MS
  return {connectionMs: Math.min(CONNECTION_TIMEOUT_MS, requestMs), requestMs, totalMs: requestMs * TOTAL_TIMEOUTS}
}

/** A call that got no complete answer in its total time (an unreachable or silent endpoint). */
export class Ec2TimeoutError extends PartialFailure {
  constructor(message: string) {
    super(message)
    this.name = 'Ec2TimeoutError'
  }
}

/**
 * The SDK, loaded with require(): importing its 2 MB CommonJS bundle from ESM first runs Node's export lexer over
 * it, which costs about 0.3 s on every ec2 command.
 */
export const sdk = createRequire(import.meta.url)('@aws-sdk/client-ec2') as typeof Ec2Sdk

export function makeClient(region: string, endpoint: string | undefined, env: NodeJS.ProcessEnv = process.env): EC2Client {
  // The SDK warns on stderr about a future Node requirement on every run; belt supports Node 20.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  registerSecret(env.AWS_SECRET_ACCESS_KEY)
  registerSecret(env.AWS_SESSION_TOKEN)
  // noDelay: the SDK writes a request's head and body separately; with Nagle's algorithm every small call waits
  // for a delayed ACK (~40 ms), which dominates thousands of CreateTags calls.
  const agentOptions = {keepAlive: true, maxSockets: 50, noDelay: true}
  const t = ec2Timeouts(env)
  const client = new sdk.EC2Client({
    region,
    ...(endpoint ? {endpoint} : {}),
    retryMode: 'adaptive',
    maxAttempts: MAX_ATTEMPTS,
    requestHandler: {
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
      connectionTimeout: t.connectionMs,
      requestTimeout: t.requestMs,
      throwOnRequestTimeout: true,
    },
  })
  // The SDK retries timeouts like any transient failure (up to MAX_ATTEMPTS, with backoff): bound every call as a
  // whole, so a silent endpoint costs a known time and ends in one line naming it.
  const where = endpoint ?? env.AWS_ENDPOINT_URL_EC2 ?? env.AWS_ENDPOINT_URL ?? `https://ec2.${region}.amazonaws.com`
  const send = client.send.bind(client) as (command: unknown, options?: {abortSignal?: AbortSignal}) => Promise<unknown>
  client.send = (async (command: {constructor: {name: string}}, options?: {abortSignal?: AbortSignal}) => {
    const own = AbortSignal.timeout(t.totalMs)
    const abortSignal = options?.abortSignal ? AbortSignal.any([options.abortSignal, own]) : own
    try {
      return await send(command, {...options, abortSignal})
    } catch (err) {
      if (own.aborted && !options?.abortSignal?.aborted) {
        const action = command.constructor.name.replace(/Command$/, '')
        throw new Ec2TimeoutError(`EC2 ${action}: no answer from ${where} within ${t.totalMs / 1000} s ` +
          `(each attempt times out after ${t.requestMs / 1000} s); check the endpoint and the network`)
      }
      throw err
    }
  }) as unknown as typeof client.send
  return client
}

/** What every resource file works with: the client, the cluster's region, the cluster and its ec2 records. */
export interface Ec2Context {
  readonly client: EC2Client
  readonly region: string
  readonly cluster: Cluster<'ec2'>
  readonly records: Ec2Records
}

/** Calls whose failures are reported per node (in `failed`) rather than thrown as belt errors. */
const PER_NODE_ACTIONS = new Set(['RunInstances', 'CreateTags', 'TerminateInstances', 'RebootInstances', 'StopInstances', 'StartInstances'])

/** Every API call goes through here: debug timing, Ctrl-C as Interrupted, SDK errors as belt errors (per-node calls keep theirs). */
export async function call<T>(
  action: string, fn: (o: {abortSignal?: AbortSignal} | undefined) => Promise<T>, signal?: AbortSignal,
): Promise<T> {
  const started = Date.now()
  try {
    const out = await fn(signal ? {abortSignal: signal} : undefined)
    debug('%s ok in %d ms', action, Date.now() - started)
    return out
  } catch (err) {
    debug('%s failed in %d ms: %s', action, Date.now() - started, errorCode(err))
    if (signal?.aborted) throw new Interrupted()
    throw PER_NODE_ACTIONS.has(action) ? err : translate(err, action)
  }
}

interface SdkError {
  name?: string
  message?: string
  Code?: string
  $metadata?: {httpStatusCode?: number}
}

export function errorCode(err: unknown): string {
  const e = err as SdkError
  return e?.Code ?? e?.name ?? 'Error'
}

/** An SDK error as one line, or a belt error when it is the user's configuration (credentials, region). */
export function translate(err: unknown, action: string): Error {
  if (err instanceof UsageError || err instanceof PartialFailure) return err
  const code = errorCode(err)
  // Keep the EC2 error code on the translated error, so callers can still tell Duplicate from NotFound.
  return Object.assign(translateOnly(err, action, code), {Code: code})
}

const REJECTED_CREDENTIALS = new Set(['AuthFailure', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'UnrecognizedClientException'])

function translateOnly(err: unknown, action: string, code: string): Error {
  const e = err as SdkError
  const message = oneLine(e?.message ?? String(err))
  if (code === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new UsageError('no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws sso login`')
  }
  if (REJECTED_CREDENTIALS.has(code)) {
    return new UsageError(`AWS rejected the credentials (${code}): ${message}`)
  }
  if (code === 'UnauthorizedOperation') {
    return new PartialFailure(`not allowed to call EC2 ${action} (UnauthorizedOperation); check the IAM policy`)
  }
  if (/ENOTFOUND|ECONNREFUSED|getaddrinfo/.test(message)) {
    return new PartialFailure(`cannot reach the EC2 endpoint for ${action}: ${message}`)
  }
  if (code === 'TimeoutError') return new PartialFailure(`EC2 ${action}: timed out: ${message}`)
  return new PartialFailure(`EC2 ${action} failed: ${code}: ${message}`)
}

/** `Code: message` for per-node failure lists. */
export function describeError(err: unknown): string {
  if (err instanceof UsageError || err instanceof PartialFailure) return err.message
  return `${errorCode(err)}: ${oneLine((err as SdkError)?.message ?? String(err))}`
}

function oneLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).filter(Boolean).join(' ').slice(0, 500)
}
