// The DigitalOcean API client of belt: dots-wrapper's createApiClient with belt's own context, whose axios instance
// sends every request through the token's pacer (pacer.ts). Here live the retry policy (core/wait's retry on the
// pacer's backoff steps), the translation of API failures into belt's errors, and DoScope, what each resource module
// (droplets, ssh-keys, firewall, sizes) works with. The token and where it may go: credentials.ts. Nothing here prints.
import {AsyncLocalStorage} from 'node:async_hooks'
import {modules} from 'dots-wrapper'
import type {Cluster} from '../../core/config/cluster.js'
import {PartialFailure, UsageError} from '../../core/errors.js'
import {redact} from '../../core/redact.js'
import {debugLog} from '../../core/debug.js'
import {isInterrupted, retry} from '../../core/wait.js'
import {ApiPacer, pacerFor} from './pacer.js'

const log = debugLog('do')

type ContextInput = Parameters<typeof modules.common.createContext>[0]
type DotsContext = ReturnType<typeof modules.common.createContext>
type Adapter = (config: AdapterConfig) => Promise<unknown>
interface AdapterConfig {
  method?: string
  url?: string
  baseURL?: string
  params?: Record<string, unknown>
}

/** Items per page of every listing (the API's maximum). */
export const PER_PAGE = 200
/** Attempts per request for retryable failures (5xx, network errors) and for 429s. */
const MAX_ATTEMPTS = 6
const MAX_THROTTLED = 12
/** DigitalOcean can take a while to answer a 10-droplet create; a timeout there is handled as ambiguous. */
const REQUEST_TIMEOUT_MS = 60_000
/** No failed request (5xx, network, timeout) is sent again once two request timeouts have passed since its first try. */
const RETRY_BUDGET_TIMEOUTS = 2
/** A retry-after (or an hourly reset) further away than this fails the request at once instead of waiting. */
export const MAX_RATE_WAIT_MS = 10 * 60_000
/** 429s: no request waits for the rate limit longer than this in all (several retry-afters in a row). */
const MAX_THROTTLED_MS = 15 * 60_000
/** Waits longer than this are named on stderr (through onNotice); shorter ones only in the debug log. */
const VISIBLE_WAIT_MS = 5000

/** Request timeout: 60 s; BELT_API_TIMEOUT_MS shortens it (meant for tests against fake or black-hole APIs). */
export function requestTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.BELT_API_TIMEOUT_MS)
  return Number.isFinite(v) && v > 0 ? v : REQUEST_TIMEOUT_MS
}

/** The operation a request belongs to: its abort signal gates starting (and re-trying) requests, never in-flight ones. */
const operation = new AsyncLocalStorage<{signal?: AbortSignal; reserve?: number}>()

/**
 * Slots of the minute window a create request leaves free: while thousands of droplets are created, the listing
 * that hands each one on as it becomes active (belt up, create --wait) still gets its requests through.
 */
export const LISTING_RESERVE = 30

/** An API call that failed. `ambiguous`: a create that may or may not have happened (5xx, reset, timeout). */
export class DoApiError extends PartialFailure {
  constructor(message: string, readonly status: number | null, readonly id: string | null, readonly ambiguous: boolean) {
    super(redact(message))
    this.name = 'DoApiError'
  }
}

export function isAmbiguous(err: unknown): boolean {
  return err instanceof DoApiError && err.ambiguous
}

/** One cluster on DigitalOcean as its resource modules see it (the provider is one). */
export interface DoScope {
  readonly cluster: Cluster<'digitalocean'>
  /** Made on first use: the token check happens then, before anything changes. */
  readonly api: DoApi
  /** belt-cluster:<name>, shared with other projects' clusters of the same name: listings ask for it. */
  readonly clusterTag: string
  /** belt-id:<cluster_id>, what makes a droplet this cluster's; null while the cluster has no id (none is ours). */
  readonly idTag: string | null
  /** belt-<cluster>-<id8>: the firewall's and the uploaded key's name. */
  readonly resourceName: string
}

export interface DoApiOptions {
  token: string
  endpoint: string
  pacer?: ApiPacer
  /** One line for the user (stderr): rate-limit waits longer than 5 s, retries after failures. */
  onNotice?: (line: string) => void
}

export type DotsClient = ReturnType<ReturnType<typeof modules.common.createApiClient>>

export class DoApi {
  readonly client: DotsClient
  readonly pacer: ApiPacer

  constructor(opts: DoApiOptions) {
    this.pacer = opts.pacer ?? pacerFor(opts.token)
    const pacer = this.pacer
    const notices = waitNotices(opts.onNotice)
    const createContext = (input: ContextInput): DotsContext => {
      const ctx = modules.common.createContext(input)
      const base = input.axios.getAdapter(input.axios.defaults.adapter) as unknown as Adapter
      ctx.httpClient.defaults.adapter = pacedAdapter(base, pacer, notices) as never
      return ctx
    }
    this.client = modules.common.createApiClient({modules, createContext})({
      token: opts.token,
      endpoint: opts.endpoint,
      requestTimeoutInMs: requestTimeoutMs(),
    })
  }

  /**
   * Run one API call (`what` names it in errors) as part of an operation with this abort signal: requests not yet
   * started when the signal aborts are never sent (core's Interrupted); requests in flight finish.
   */
  async call<T>(what: string, fn: (c: DotsClient) => Promise<{data: T}>, signal?: AbortSignal, o: {reserve?: number} = {}): Promise<T> {
    try {
      const res = await operation.run({signal, reserve: o.reserve}, () => fn(this.client))
      return res.data
    } catch (err) {
      throw translate(err, what)
    }
  }

  /** Every item of a paginated listing, following links.pages.next; `onPage` sees each page's items as it arrives. */
  async listAll<T>(what: string, key: string, fetch: (c: DotsClient, page: number) => Promise<{data: unknown}>, signal?: AbortSignal,
    onPage?: (items: T[]) => void): Promise<T[]> {
    const items: T[] = []
    let page = 1
    for (;;) {
      const data = (await this.call(what, (c) => fetch(c, page), signal)) as Record<string, unknown> & {links?: {pages?: {next?: string}}}
      const got = data[key]
      if (Array.isArray(got)) {
        items.push(...(got as T[]))
        onPage?.(got as T[])
      }
      const next = data.links?.pages?.next
      if (!next) return items
      const n = Number(new URL(next, 'http://x').searchParams.get('page'))
      if (!Number.isInteger(n) || n <= page) return items
      page = n
    }
  }
}

interface HttpError extends Error {
  code?: string
  response?: {status: number; headers?: Record<string, unknown>; data?: unknown}
  config?: AdapterConfig
}

/** Errors where the request never reached the server: always safe to send again. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/** A request given up on: a wait too long to obey, or retries out of time. The message is the whole reason. */
class GaveUp extends Error {}

interface WaitNotices {
  /** A wait of `ms` is about to start; named once per pause (concurrent requests share it), when longer than 5 s. */
  wait(ms: number, why: string): void
  retry(label: string, cause: string, ms: number): void
}

function waitNotices(onNotice?: (line: string) => void): WaitNotices {
  let shownUntil = 0
  const secs = (ms: number) => Math.ceil(ms / 1000)
  return {
    wait(ms, why) {
      const until = Date.now() + ms
      if (!onNotice || ms <= VISIBLE_WAIT_MS || until <= shownUntil + 1000) return
      shownUntil = until
      onNotice(`rate limited: waiting ${secs(ms)} s (${why})`)
    },
    retry(label, cause, ms) {
      onNotice?.(`DigitalOcean API: ${label}: ${cause}; trying again in ${secs(ms)} s`)
    },
  }
}

/**
 * Every request through the pacer, retried by core/wait's retry: 5xx and network failures up to MAX_ATTEMPTS within
 * a budget of two request timeouts (POSTs only when surely not processed); 429s inside one attempt (sendPaced).
 */
function pacedAdapter(base: Adapter, pacer: ApiPacer, notices: WaitNotices): Adapter {
  return async (config) => {
    const signal = operation.getStore()?.signal
    const reserve = operation.getStore()?.reserve ?? 0
    const method = (config.method ?? 'get').toUpperCase()
    // GET, PUT and DELETE are idempotent; a POST is only re-sent when it surely was not processed (429, not sent).
    const idempotent = method !== 'POST'
    const request: PacedRequest = {label: `${method} ${config.url ?? ''}`, signal, reserve, first: Date.now(), throttled: 0}
    const budget = RETRY_BUDGET_TIMEOUTS * requestTimeoutMs()
    return retry(() => sendPaced(base, config, pacer, notices, request), {
      retries: MAX_ATTEMPTS - 1,
      backoff: pacer.backoffSteps,
      signal,
      retryable: (e, attempt) => {
        // Given up (a wait too long) or interrupted before sending: the reason stands as it is.
        if (e instanceof GaveUp || isInterrupted(e)) return false
        const err = e as HttpError
        const status = err.response?.status
        const again = status !== undefined
          ? status >= 500 && idempotent
          : NOT_SENT.has(err.code ?? '') || (idempotent && err.code !== 'ERR_CANCELED')
        if (!again) return false
        const delay = pacer.backoff(attempt)
        const elapsed = Date.now() - request.first
        if (elapsed + delay > budget) {
          Object.assign(err, {gaveUp: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${Math.round(elapsed / 1000)} s`})
          return false
        }
        return delay
      },
      onRetry: (_attempt, e, delay) => {
        const err = e as HttpError
        const cause = err.response?.status !== undefined ? `${err.response.status}` : (err.code ?? 'no answer')
        if (delay > VISIBLE_WAIT_MS || Date.now() - request.first > VISIBLE_WAIT_MS) notices.retry(request.label, cause, delay)
      },
    })
  }
}

/** One request as the retries see it; `throttled` counts its 429s over all attempts. */
interface PacedRequest {
  reserve: number
  label: string
  signal?: AbortSignal
  first: number
  throttled: number
}

/**
 * One attempt: wait for the pacer, send, and on a 429 let the pacer pause every caller and send again (up to
 * MAX_THROTTLED in all, never waiting past MAX_THROTTLED_MS); 429s never count as failed attempts.
 */
async function sendPaced(base: Adapter, config: AdapterConfig, pacer: ApiPacer, notices: WaitNotices, req: PacedRequest): Promise<unknown> {
  const {label, signal} = req
  for (;;) {
    const release = await pacer.acquire(signal, (ms, why) => {
      log('%s: waiting %dms (%s)', label, ms, why)
      if (ms > MAX_RATE_WAIT_MS) {
        const limit = `longer than belt waits (${MAX_RATE_WAIT_MS / 60_000} min)`
        throw new GaveUp(`rate limited for ${Math.ceil(ms / 1000)} s (${why}), ${limit}; try again later`)
      }
      notices.wait(ms, why)
    }, req.reserve)
    const started = Date.now()
    try {
      const res = (await base(config)) as {status: number; headers?: Record<string, unknown>}
      release()
      pacer.observe(res.headers)
      log('%s → %d (%dms)', label, res.status, Date.now() - started)
      return res
    } catch (e) {
      release()
      const err = e as HttpError
      const status = err.response?.status
      pacer.observe(err.response?.headers)
      log('%s → %s (%dms)', label, status ?? err.code ?? 'error', Date.now() - started)
      if (status !== 429 || ++req.throttled >= MAX_THROTTLED) throw err
      const ms = pacer.throttled(err.response?.headers, req.throttled)
      log('%s: throttled (429), every call pauses %dms', label, ms)
      if (Date.now() - req.first + ms > MAX_THROTTLED_MS && ms <= MAX_RATE_WAIT_MS) {
        throw new GaveUp(`rate limited (429) for more than ${MAX_THROTTLED_MS / 60_000} min in all; try again later`)
      }
    }
  }
}

function translate(err: unknown, what: string): Error {
  if (isInterrupted(err) || err instanceof UsageError || err instanceof DoApiError) return err
  if (err instanceof GaveUp) return new DoApiError(`DigitalOcean API: ${what}: ${err.message}`, 429, null, false)
  const e = err as HttpError & {gaveUp?: string}
  const tail = e.gaveUp ? ` (${e.gaveUp})` : ''
  const res = e.response
  if (res) {
    const body = (res.data ?? {}) as {id?: string; message?: string}
    const message = typeof body.message === 'string' ? body.message : ''
    if (res.status === 401) {
      return new UsageError(`DigitalOcean refused the access token (401${message ? ` ${message}` : ''}); check DIGITALOCEAN_ACCESS_TOKEN`)
    }
    const ambiguous = res.status >= 500 || res.status === 408
    const said = `${res.status}${body.id ? ` ${body.id}` : ''}${message ? `: ${message}` : ''}`
    return new DoApiError(`DigitalOcean API: ${what}: ${said}${tail}`, res.status, body.id ?? null, ambiguous)
  }
  const code = e.code ?? ''
  const ambiguous = !NOT_SENT.has(code)
  return new DoApiError(`DigitalOcean API: ${what}: ${code ? `${code} ` : ''}${e.message ?? String(err)}${tail}`, null, null, ambiguous)
}
