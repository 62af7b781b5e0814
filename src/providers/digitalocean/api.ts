// The DigitalOcean API client of belt: dots-wrapper's createApiClient with belt's own context, whose axios instance
// sends every request through the token's pacer (pacer.ts). Here live the token and API origin rules (CONTRACT §3),
// the retry policy, and the translation of API failures into belt's errors. Nothing here prints.
import {AsyncLocalStorage} from 'node:async_hooks'
import {isIP} from 'node:net'
import {modules} from 'dots-wrapper'
import {PartialFailure, UsageError} from '../../core/errors.js'
import {redact, registerSecret} from '../../core/redact.js'
import {debugLog} from '../../core/debug.js'
import {AbortedError, ApiPacer, pacerFor, sleep} from './pacer.js'

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

export const DEFAULT_API_ORIGIN = 'https://api.digitalocean.com'
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
const operation = new AsyncLocalStorage<{signal?: AbortSignal}>()

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

/** The access token: DIGITALOCEAN_ACCESS_TOKEN, else the template's access_token. Registered for redaction. */
export function resolveToken(settings: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DIGITALOCEAN_ACCESS_TOKEN?.trim()
  const fromConfig = typeof settings.access_token === 'string' ? settings.access_token.trim() : ''
  registerSecret(fromEnv)
  registerSecret(fromConfig)
  const token = fromEnv || fromConfig
  if (!token) throw new UsageError('no DigitalOcean access token: set DIGITALOCEAN_ACCESS_TOKEN (or access_token in the cluster template)')
  return token
}

/** Loopback hosts, the only ones the token may be sent to over plain http (a local fake or proxy). */
function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h === '::1') return true
  return isIP(h) === 4 && h.startsWith('127.')
}

/**
 * The API origin (DIGITALOCEAN_API_URL, else api_url, else the public API) and the /v2 endpoint belt uses. `source`
 * names where a non-default origin came from. Plain http is refused except to loopback: the token travels in
 * every request's Authorization header.
 */
export function resolveEndpoint(settings: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): {origin: string; endpoint: string; source: string | null} {
  const fromEnv = env.DIGITALOCEAN_API_URL?.trim()
  const fromConfig = typeof settings.api_url === 'string' ? settings.api_url.trim() : ''
  const raw = fromEnv || fromConfig || DEFAULT_API_ORIGIN
  const source = fromEnv ? 'DIGITALOCEAN_API_URL' : fromConfig ? 'api_url' : 'the default API URL'
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`${source}: '${raw}' is not a URL (expected an origin such as ${DEFAULT_API_ORIGIN})`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError(`${source}: '${raw}' must be an http(s) URL`)
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    throw new UsageError(`${source}: '${raw}' would send the access token over plain http; use https (http only for loopback addresses such as 127.0.0.1)`)
  }
  const path = url.pathname.replace(/\/+$/, '').replace(/\/v2$/, '')
  const origin = `${url.protocol}//${url.host}${path}`
  return {origin, endpoint: `${origin}/v2`, source: origin === DEFAULT_API_ORIGIN ? null : source}
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
   * started when the signal aborts are never sent (AbortedError); requests in flight finish.
   */
  async call<T>(what: string, fn: (c: DotsClient) => Promise<{data: T}>, signal?: AbortSignal): Promise<T> {
    try {
      const res = await operation.run({signal}, () => fn(this.client))
      return res.data
    } catch (err) {
      throw translate(err, what)
    }
  }

  /** Every item of a paginated listing, following links.pages.next. */
  async listAll<T>(what: string, key: string, fetch: (c: DotsClient, page: number) => Promise<{data: unknown}>, signal?: AbortSignal): Promise<T[]> {
    const items: T[] = []
    let page = 1
    for (;;) {
      const data = (await this.call(what, (c) => fetch(c, page), signal)) as Record<string, unknown> & {links?: {pages?: {next?: string}}}
      const got = data[key]
      if (Array.isArray(got)) items.push(...(got as T[]))
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

function pacedAdapter(base: Adapter, pacer: ApiPacer, notices: WaitNotices): Adapter {
  return async (config) => {
    const signal = operation.getStore()?.signal
    const method = (config.method ?? 'get').toUpperCase()
    // GET, PUT and DELETE are idempotent; a POST is only re-sent when it surely was not processed (429, not sent).
    const idempotent = method !== 'POST'
    const label = `${method} ${config.url ?? ''}`
    const first = Date.now()
    const budget = RETRY_BUDGET_TIMEOUTS * requestTimeoutMs()
    let throttled = 0
    for (let attempt = 1; ; attempt++) {
      const release = await pacer.acquire(signal, (ms, why) => {
        log('%s: waiting %dms (%s)', label, ms, why)
        if (ms > MAX_RATE_WAIT_MS) throw new GaveUp(`rate limited for ${Math.ceil(ms / 1000)} s (${why}), longer than belt waits (${MAX_RATE_WAIT_MS / 60_000} min); try again later`)
        notices.wait(ms, why)
      })
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
        if (status === 429 && ++throttled < MAX_THROTTLED) {
          const ms = pacer.throttled(err.response?.headers, throttled)
          log('%s: throttled (429), every call pauses %dms', label, ms)
          if (Date.now() - first + ms > MAX_THROTTLED_MS && ms <= MAX_RATE_WAIT_MS) {
            throw new GaveUp(`rate limited (429) for more than ${MAX_THROTTLED_MS / 60_000} min in all; try again later`)
          }
          attempt--
          continue
        }
        const retryable = status !== undefined
          ? status >= 500 && idempotent
          : NOT_SENT.has(err.code ?? '') || (idempotent && err.code !== 'ERR_CANCELED')
        if (!retryable || attempt >= MAX_ATTEMPTS) throw err
        const delay = pacer.backoff(attempt)
        const elapsed = Date.now() - first
        if (elapsed + delay > budget) {
          throw Object.assign(err, {gaveUp: `gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${Math.round(elapsed / 1000)} s`})
        }
        const cause = status !== undefined ? `${status}` : (err.code ?? 'no answer')
        if (delay > VISIBLE_WAIT_MS || elapsed > VISIBLE_WAIT_MS) notices.retry(label, cause, delay)
        await sleep(delay, signal)
      }
    }
  }
}

function translate(err: unknown, what: string): Error {
  if (err instanceof AbortedError || err instanceof UsageError || err instanceof DoApiError) return err
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
    return new DoApiError(`DigitalOcean API: ${what}: ${res.status}${body.id ? ` ${body.id}` : ''}${message ? `: ${message}` : ''}${tail}`, res.status, body.id ?? null, ambiguous)
  }
  const code = e.code ?? ''
  const ambiguous = !NOT_SENT.has(code)
  return new DoApiError(`DigitalOcean API: ${what}: ${code ? `${code} ` : ''}${e.message ?? String(err)}${tail}`, null, null, ambiguous)
}
