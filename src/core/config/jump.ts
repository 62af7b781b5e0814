// The `ssh_jump` value: a bastion written as OpenSSH's `-J` takes it, `[user@]host[:port]` (`[v6]:port` for an IPv6
// address). Pure: config validation (schema.ts) and the SSH layer (ssh/jump.ts) read it the same way.
import {isIP} from 'node:net'

export interface JumpSpec {
  /** null: the cluster's ssh_user. */
  user: string | null
  host: string
  port: number
  /** As written, for messages and `ssh -J`. */
  text: string
}

const USER = /^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$/
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/

/** The parsed bastion, or why the value is not one (a phrase to follow "must be user@host[:port]: "). */
export function parseJump(value: unknown): JumpSpec | string {
  if (typeof value !== 'string' || value.trim() === '') return 'not a string'
  const text = value.trim()
  const at = text.lastIndexOf('@')
  const user = at >= 0 ? text.slice(0, at) : null
  const rest = at >= 0 ? text.slice(at + 1) : text
  if (user !== null && !USER.test(user)) return `'${user}' is not a user name`
  let host = rest
  let port = 22
  const v6 = /^\[([^\]]+)\](?::(.*))?$/.exec(rest)
  if (v6) {
    host = v6[1]
    if (isIP(host) !== 6) return `'${host}' is not an IPv6 address`
    if (v6[2] !== undefined) port = portOf(v6[2])
  } else if (rest.split(':').length === 2) {
    const [h, p] = rest.split(':')
    host = h
    port = portOf(p)
  } else if (rest.includes(':')) {
    return 'an IPv6 address needs brackets: user@[2001:db8::1]:22'
  }
  if (Number.isNaN(port)) return `'${rest.slice(rest.lastIndexOf(':') + 1)}' is not a port (1-65535)`
  if (!host || (!isIP(host) && !HOSTNAME.test(host))) return `'${host}' is not a host name or address`
  return {user, host, port, text}
}

function portOf(s: string): number {
  const n = /^\d{1,5}$/.test(s) ? Number(s) : NaN
  return n >= 1 && n <= 65535 ? n : NaN
}

/** `user@host:port` as `ssh -J` takes it (user filled in). */
export function jumpArgument(spec: JumpSpec, defaultUser: string): string {
  const host = isIP(spec.host) === 6 ? `[${spec.host}]` : spec.host
  return `${spec.user ?? defaultUser}@${host}${spec.port === 22 ? '' : `:${spec.port}`}`
}

/** The bastion's address as a firewall source (`/32`, `/128`), when ssh_jump names an address; null otherwise. */
export function jumpCidr(value: string | undefined): string | null {
  if (!value) return null
  const spec = parseJump(value)
  if (typeof spec === 'string') return null
  const family = isIP(spec.host)
  return family === 4 ? `${spec.host}/32` : family === 6 ? `${spec.host}/128` : null
}
