// argv pre-processing so global flags may come before the command word, exactly as the book writes it:
// `belt --host 'w[1:9]' docker ps`. Processing stops at the command word, so docker's own `-H`, `--host`
// or `-D` after `docker` pass through untouched.

/** Global flags that take a value. */
const VALUE_FLAGS = new Set(['--host', '--cluster', '--config', '--concurrency'])
const BOOL_FLAGS = new Set(['--debug', '--json'])
/** Commands whose own arguments are free-form (flags after the command word belong to the remote command). */
const PASSTHROUGH = new Set(['docker', 'ssh'])

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
  if (globals.length === 0) return argv
  const rest = argv.slice(i)
  if (rest.length === 0) return argv // `belt --debug` alone: let oclif show help
  if (PASSTHROUGH.has(rest[0])) return [rest[0], ...globals, ...rest.slice(1)]
  const dd = rest.indexOf('--')
  if (dd >= 0) return [...rest.slice(0, dd), ...globals, ...rest.slice(dd)]
  return [...rest, ...globals]
}
