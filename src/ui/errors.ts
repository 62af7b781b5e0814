// Turning any error into what the user sees: one line and an exit code; a stack only with --debug / DEBUG=belt*.
// oclif's own parse errors are several lines ("Missing 2 required args:" and a list); they are rewritten here, from
// the data they carry, into one line that names the bad thing.
import {Errors} from '@oclif/core'
import {isUserFacing, UsageError} from '../core/errors.js'
import {redact} from '../core/redact.js'
import {debugEnabled} from '../core/debug.js'

export function exitCodeFor(err: unknown): number {
  if (isUserFacing(err)) return err.exitCode
  const oclif = (err as {oclif?: {exit?: number}})?.oclif
  if (oclif && typeof oclif.exit === 'number') return oclif.exit
  return 1
}

export function handleError(err: unknown): never {
  const code = exitCodeFor(err)
  // oclif's this.exit(n) throws an ExitError: nothing to print.
  if (err instanceof Errors.ExitError) process.exit(code)
  const debug = debugEnabled()
  if (isUserFacing(err)) {
    const message = redact(err instanceof UsageError ? lines(err).join(' ') : (lines(err)[0] ?? ''))
    if (message) process.stderr.write(`belt: ${message}\n`)
  } else if ((err as {oclif?: unknown})?.oclif) {
    // oclif's own parse errors (unknown flag, missing argument): usage errors, exit 2.
    process.stderr.write(`belt: ${redact(describeOclifError(err as OclifError))}\n`)
  } else {
    const message = redact(lines(err)[0] ?? '')
    process.stderr.write(`belt: unexpected error: ${message}${debug ? '' : ' (run with --debug for details)'}\n`)
  }
  if (debug && err instanceof Error && err.stack) process.stderr.write(redact(err.stack) + '\n')
  process.exit(code)
}

/** The parts of oclif's definitions an error line needs. */
interface ArgDef {
  name?: string
  required?: boolean
  options?: readonly string[]
}
interface FlagDef {
  name?: string
  char?: string
  required?: boolean
  options?: readonly string[]
  type?: string
}
/** What BeltCommand.catch attaches to an error: the command it came from. */
export interface CommandShape {
  id?: string
  args?: Record<string, ArgDef>
  flags?: Record<string, FlagDef>
  strict?: boolean
  usage?: string | string[]
}
export interface OclifError extends Error {
  beltCommand?: CommandShape
  parse?: {input?: {args?: Record<string, ArgDef>; flags?: Record<string, FlagDef>; context?: {id?: string}}; output?: {flags?: Record<string, unknown>}}
  args?: unknown[]
  flags?: string[]
}

/** One line for one of oclif's errors, from the structured data it carries where it has some. */
export function describeOclifError(err: OclifError): string {
  const cmd: CommandShape = err.beltCommand ?? {id: err.parse?.input?.context?.id, args: err.parse?.input?.args, flags: err.parse?.input?.flags}
  const text = lines(err)
  const first = text[0] ?? ''
  const usage = usageOf(cmd)
  const help = cmd.id ? `belt ${cmd.id.replace(/:/g, ' ')} --help` : 'belt --help'

  // RequiredArgsError: args are the missing argument definitions.
  if (/^Missing \d+ required arg/.test(first) && Array.isArray(err.args)) {
    const names = (err.args as ArgDef[]).map((a) => (a.name ?? 'ARG').toUpperCase())
    return `missing argument${names.length === 1 ? '' : 's'} ${andList(names)}${usage ? ` (${usage})` : ''}`
  }
  // UnexpectedArgsError: args are the extra words.
  if (/^Unexpected argument/.test(first) && Array.isArray(err.args)) {
    const extra = err.args.map(String)
    return `unexpected argument${extra.length === 1 ? '' : 's'} ${extra.map((a) => `'${a}'`).join(', ')}${usage ? ` (${usage})` : ''}`
  }
  // NonExistentFlagsError
  if (/^Nonexistent flag/.test(first) && Array.isArray(err.flags)) {
    // Without `=value`: what follows may be a secret given to a misspelt flag.
    const flags = err.flags.map((f) => f.split('=')[0])
    return `unknown flag${flags.length === 1 ? '' : 's'} ${flags.join(', ')} (${help} lists the flags)`
  }
  // FailedFlagValidationError: required flags that were not given, else oclif's own reasons.
  if (/^The following errors? occurred:/.test(first)) {
    const given = err.parse?.output?.flags ?? {}
    const missing = Object.entries(cmd.flags ?? {}).filter(([name, f]) => f.required && given[name] === undefined)
    if (missing.length > 0) {
      return missing.map(([name, f]) => `missing --${name}${f.options ? ` (one of ${f.options.join(', ')})` : ''}`).join('; ')
    }
    return text.slice(1).join('; ') || first
  }
  // A flag's value did not parse: "Parsing --concurrency" then the parser's reason.
  const parsing = /^Parsing (--[\w-]+)/.exec(first)
  if (parsing) return flagValueProblem(parsing[1], text.slice(1).join(' '))
  let m = /^Expected (--[\w-]+)=(.*) to be one of: (.*)$/.exec(first)
  if (m) return `${m[1]} must be one of ${m[3]}, got '${m[2]}'`
  m = /^Flag (--[\w-]+) expects a value$/.exec(first)
  if (m) return `${m[1]} needs a value`
  m = /^Flag (--[\w-]+) expects one of these values: (.*)$/.exec(first)
  if (m) return `${m[1]} needs a value, one of ${m[2]}`
  m = /^Flag (--[\w-]+) can only be specified once$/.exec(first)
  if (m) return `${m[1]} given more than once`
  m = /^command (\S+) not found$/.exec(first)
  if (m) return `unknown command '${m[1].replace(/:/g, ' ')}' (belt --help lists the commands)`
  m = /^Expected (.*) to be one of: (.*)$/.exec(first)
  if (m) return `argument '${m[1]}' must be one of ${m[2]}${usage ? ` (${usage})` : ''}`
  return text.join(': ')
}

/** oclif's integer flag reasons, reworded; anything else is kept after the flag's name. */
function flagValueProblem(flag: string, reason: string): string {
  let m = /^Expected an integer but received: (.*)$/.exec(reason)
  if (m) return `${flag} must be an integer, got ${m[1]}`
  m = /^Expected an integer (greater|less) than or equal to (-?\d+) but received: (.*)$/.exec(reason)
  if (m) return `${flag} must be an integer ${m[1] === 'greater' ? '≥' : '≤'} ${m[2]}, got ${m[3]}`
  return `${flag}: ${reason}`
}

/** `belt create SIZE PATTERN...`: the command's own usage line, else one made from its arguments. */
function usageOf(cmd: CommandShape): string {
  if (!cmd.id) return ''
  const spaced = cmd.id.replace(/:/g, ' ')
  // A command's own `static usage` is written as oclif's help reads it: '<%= command.id %> NAME --driver DRIVER'.
  const own = Array.isArray(cmd.usage) ? cmd.usage[0] : cmd.usage
  if (own) return `belt ${spaced} ${own.replace(/<%=\s*command\.id\s*%>/g, '').trim()}`.trim()
  const args = Object.entries(cmd.args ?? {})
  const words = args.map(([name, a], i) => {
    const word = name.toUpperCase() + (cmd.strict === false && i === args.length - 1 ? '...' : '')
    return a.required ? word : `[${word}]`
  })
  return ['belt', spaced, ...words].join(' ')
}

function andList(items: string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

/** The message's non-empty lines, without ANSI colours and oclif's "See more help" hint. A usage error prints them
 * all on one line (they are one line already, but the reason must never be cut off); a failure its first line. */
function lines(err: unknown): string[] {
  const msg = err instanceof Error ? err.message : String(err)
  return msg
    // eslint-disable-next-line no-control-regex -- ANSI colour codes start with ESC; stripping them is the point
    .replace(/\u001b\[[0-9;]*m/g, '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l !== 'See more help with --help')
}
