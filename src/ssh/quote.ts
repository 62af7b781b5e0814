// Quoting for the remote POSIX shell: what belt sends over SSH is one command line, so every argument that
// came from the user (docker arguments, names, addresses) is quoted here and nowhere else.

const SAFE = /^[A-Za-z0-9_/.,:=@%+-]+$/

/** One argument as the remote shell must see it: unchanged when it is plainly safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg === '') return "''"
  if (SAFE.test(arg)) return arg
  return "'" + arg.replace(/'/g, `'\\''`) + "'"
}

/** A whole argv as one remote command line. */
export function shellJoin(args: readonly string[]): string {
  return args.map(shellQuote).join(' ')
}

/**
 * Run `command` as root: unchanged for root, else through `sudo -n` (never prompts; fails fast instead, CONTRACT §8).
 * The command goes through `sh -c` so pipelines and `&&` inside it run as root too.
 */
export function asRoot(command: string, user: string): string {
  if (user === 'root') return command
  return `sudo -n sh -c ${shellQuote(command)}`
}

/** sudo's own refusals, so a per-host error can say what is missing instead of echoing sudo. */
export function sudoProblem(user: string, code: number | null, stderr: string): string | null {
  if (user === 'root' || code === 0) return null
  const line = stderr.split('\n').find((l) => l.startsWith('sudo: ') || /sudo: (not found|command not found)/.test(l))
  if (!line) return null
  if (/password is required|terminal is required|askpass/.test(line)) {
    return `user '${user}' has no passwordless sudo (sudo -n: ${line.replace(/^sudo: /, '')}); allow it (NOPASSWD in /etc/sudoers.d) or use ssh_user: root`
  }
  if (/not in the sudoers|may not run sudo|is not allowed to execute/.test(line)) {
    return `user '${user}' may not use sudo (${line.replace(/^sudo: /, '')}); allow it (NOPASSWD in /etc/sudoers.d) or use ssh_user: root`
  }
  if (/not found/.test(line) && code === 127) return `sudo is not installed on the host; install it or use ssh_user: root`
  return null
}
