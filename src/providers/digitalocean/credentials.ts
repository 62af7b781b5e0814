// The DigitalOcean token and where it may be sent (CONTRACT §3): DIGITALOCEAN_ACCESS_TOKEN or access_token, to
// DIGITALOCEAN_API_URL, api_url or the public API — over https, or plain http to loopback only (a local fake or proxy).
import {isIP} from 'node:net'
import type {DigitalOceanSettings} from '../../core/config/schema.js'
import {UsageError} from '../../core/errors.js'
import {registerSecret} from '../../core/redact.js'

export const DEFAULT_API_ORIGIN = 'https://api.digitalocean.com'

/** The access token: DIGITALOCEAN_ACCESS_TOKEN, else the template's access_token. Registered for redaction. */
export function resolveToken(settings: Pick<DigitalOceanSettings, 'access_token'>, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.DIGITALOCEAN_ACCESS_TOKEN?.trim()
  const fromConfig = settings.access_token?.trim() ?? ''
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
export function resolveEndpoint(
  settings: Pick<DigitalOceanSettings, 'api_url'>, env: NodeJS.ProcessEnv = process.env,
): {origin: string; endpoint: string; source: string | null} {
  const fromEnv = env.DIGITALOCEAN_API_URL?.trim()
  const fromConfig = settings.api_url?.trim() ?? ''
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
