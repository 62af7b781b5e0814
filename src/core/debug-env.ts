// Which DEBUG namespaces may turn on: only belt's own. Other libraries' debug output (follow-redirects prints every
// request's headers, Authorization included; oclif prints argv, which may hold `access_token=…`) can show secrets.
// bin/run.js applies this before any library loads; it imports nothing so that it can.

const OWN = /^belt(:|\*|$)/

/**
 * DEBUG as belt lets it be: belt's namespaces and exclusions kept, a wildcard that would select belt's namespaces
 * (`*`, `b*`) narrowed to `belt*`, everything else dropped. Undefined when nothing is left.
 */
export function ownDebugNamespaces(value: string | undefined): string | undefined {
  if (!value) return undefined
  const kept: string[] = []
  for (const ns of value.split(/[\s,]+/).filter(Boolean)) {
    const name = ns.startsWith('-') ? ns.slice(1) : ns
    if (OWN.test(name)) kept.push(ns)
    else if (!ns.startsWith('-') && name.includes('*') && wildcard(name).test('belt:x')) kept.push('belt*')
  }
  const unique = [...new Set(kept)]
  return unique.some((ns) => !ns.startsWith('-')) ? unique.join(',') : undefined
}

function wildcard(pattern: string): RegExp {
  return new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')
}

/** Narrow process.env.DEBUG in place (child processes inherit the narrowed value too). */
export function restrictDebugEnv(env: NodeJS.ProcessEnv = process.env): void {
  const own = ownDebugNamespaces(env.DEBUG)
  if (own === undefined) delete env.DEBUG
  else env.DEBUG = own
}

/**
 * No colour where it does not belong: with NO_COLOR set, or when stdout is not a terminal (a pipe, a file), colour is
 * switched off for every library before it loads (FORCE_COLOR=0). Without this, the colour libraries oclif's plugins
 * use (ansis) colour pipes whenever CI is set. An explicit FORCE_COLOR is the user's choice and left alone.
 */
export function restrictColorEnv(env: NodeJS.ProcessEnv = process.env, stdoutIsTty = Boolean(process.stdout.isTTY)): void {
  if (env.FORCE_COLOR !== undefined && !env.NO_COLOR) return
  if (env.NO_COLOR || !stdoutIsTty) env.FORCE_COLOR = '0'
}
