// Scrubbing secrets from any text that may reach a user: swarm join tokens, DigitalOcean tokens, bearer headers.

const PATTERNS: [RegExp, string][] = [
  [/SWMTKN-[0-9A-Za-z-]+/g, 'SWMTKN-…redacted'],
  [/\bdo([opr])_v1_[0-9a-f]{16,}\b/g, 'do$1_v1_…redacted'],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1…redacted'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[private key redacted]'],
]

const extra = new Set<string>()

/** Register a secret value (e.g. a token read from the environment) so it is scrubbed wherever it appears. */
export function registerSecret(value: string | undefined | null): void {
  if (value && value.length >= 8) extra.add(value)
}

export function redact(text: string): string {
  let s = text
  for (const [re, rep] of PATTERNS) s = s.replace(re, rep)
  for (const v of extra) if (s.includes(v)) s = s.split(v).join('…redacted')
  return s
}
