// Which real parts this machine has (tests on real sshd/dockerd name what is missing instead of failing obscurely;
// ./scripts/setup installs all of them, so in CI nothing is skipped).
import {execFileSync} from 'node:child_process'

export function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}
