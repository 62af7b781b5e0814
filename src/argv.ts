// argv pre-processing so global flags may come before the command word, exactly as the book writes it:
// `belt --host 'w[1:9]' docker ps`. Processing stops at the command word, so docker's own `-H`, `--host`
// or `-D` after `docker` pass through untouched.
//
// For the pass-through commands (`docker`, `ssh`) belt's own flags are only those before the first remote argument;
// a `--` is inserted there so that oclif neither parses nor answers (`--help`) what belongs to docker or the remote
// command: `belt docker run --help` shows docker's help, `belt docker --help` belt's.
// `belt ssh` (CONTRACT §12): without `--` the first word is the node or pattern and the rest the command; with a `--`,
// every word before it is a node or pattern (`belt ssh mg0 'w[1:4]' -- uptime`), so that `--` is left where it is.

import {UsageError} from './core/errors.js'

/** Global flags that take a value. */
const VALUE_FLAGS = new Set(['--host', '--cluster', '--config', '--concurrency'])
const BOOL_FLAGS = new Set(['--debug', '--json'])

/** Each pass-through command's own flags (all long-only, so docker's short flags are never mistaken for ours). */
export const PASSTHROUGH_FLAGS: Record<string, {value: string[]; bool: string[]; positional: number; targetsBeforeDashes?: boolean}> = {
  docker: {value: ['--host', '--cluster', '--config', '--concurrency', '--timeout'], bool: ['--json', '--debug', '--help'], positional: 0},
  ssh: {
    value: ['--cluster', '--config', '--timeout', '--concurrency'],
    bool: ['--debug', '--help', '--tty', '--forget-host', '--json'],
    positional: 1,
    targetsBeforeDashes: true,
  },
}

/** Commands whose own arguments are free-form (flags after the command word belong to the remote command). */
const PASSTHROUGH = new Set(Object.keys(PASSTHROUGH_FLAGS))

export function preprocessArgv(argv: string[]): string[] {
  const globals: string[] = []
  let i = 0
  while (i < argv.length) {
    const a = argv[i]
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(0, eq) : a
    if (a.startsWith('--') && VALUE_FLAGS.has(name)) {
      if (eq > 0) {
        globals.push(a)
        i++
      } else {
        globals.push(a, argv[i + 1] ?? '')
        if (argv[i + 1] === undefined) globals.pop()
        i += 2
      }
    } else if (BOOL_FLAGS.has(a)) {
      globals.push(a)
      i++
    } else break
  }
  const rest = argv.slice(i)
  if (rest.length && PASSTHROUGH.has(rest[0])) return [rest[0], ...markPassthrough(rest[0], [...globals, ...rest.slice(1)])]
  if (globals.length === 0) return argv
  if (rest.length === 0) return argv // `belt --debug` alone: let oclif show help
  const dd = rest.indexOf('--')
  if (dd >= 0) return [...rest.slice(0, dd), ...globals, ...rest.slice(dd)]
  return [...rest, ...globals]
}

/** Insert `--` where belt's own flags (and positional arguments) of a pass-through command end. */
function markPassthrough(command: string, args: string[]): string[] {
  const {value, bool, positional, targetsBeforeDashes} = PASSTHROUGH_FLAGS[command]
  if (targetsBeforeDashes && args.includes('--')) return args
  let seen = 0
  for (let i = 0; i < args.length; i++) {
    const a = args[i]
    if (a === '--') return args
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a
    if (value.includes(name)) {
      if (!a.includes('=')) i++
      continue
    }
    if (bool.includes(a)) continue
    if (seen < positional && !a.startsWith('-')) {
      seen++
      continue
    }
    return [...args.slice(0, i), '--', ...args.slice(i)]
  }
  return args
}

export interface PassthroughArgs {
  flags: Record<string, string | boolean>
  /** Positional arguments belt reads (the nodes or patterns for `ssh`). */
  positional: string[]
  /** Everything for the remote side, untouched. */
  rest: string[]
}

/** Split a pass-through command's argv (as oclif hands it over) into belt's flags and the remote arguments. */
export function parsePassthrough(command: string, argv: string[]): PassthroughArgs {
  const {value, bool, positional: one, targetsBeforeDashes} = PASSTHROUGH_FLAGS[command]
  // With a `--` (given, or inserted by markPassthrough after the first word), every word before it is belt's.
  const dashes = targetsBeforeDashes ? argv.indexOf('--') : -1
  const wanted = dashes >= 0 ? Infinity : one
  const flags: Record<string, string | boolean> = {}
  const positional: string[] = []
  let i = 0
  for (; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--') {
      i++
      break
    }
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(0, eq) : a
    if (value.includes(name)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i]
      if (v === undefined) throw new UsageError(`${name} needs a value`)
      flags[name.slice(2)] = v
      continue
    }
    if (bool.includes(a)) {
      flags[a.slice(2)] = true
      continue
    }
    if (positional.length < wanted && !a.startsWith('-')) {
      positional.push(a)
      continue
    }
    if (dashes >= 0) throw new UsageError(`unknown flag ${a} for belt ${command} (its flags go before --, the command after it)`)
    break
  }
  return {flags, positional, rest: argv.slice(i)}
}
