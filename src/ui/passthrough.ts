// What belt docker / belt ssh on one host tell on stderr besides the remote command's own output, and the exit
// code they give (CONTRACT §5: the command's own; 255 when SSH itself failed).
import {exitCodeOf} from '../ssh/passthrough.js'
import type {HostPassthrough} from '../ssh/remote-command.js'
import {info} from './output.js'

/** `what` names the remote side in the lines: "docker", "the command". */
export function passthroughExit(name: string, r: HostPassthrough, what: string): number {
  if ('connectError' in r) {
    info(`belt: ${name}: ${r.connectError}`)
    return 255
  }
  if (r.stopped) {
    info(`belt: ${name}: ${r.stopped} while ${what} ran; it may still be running on the host`)
    return 1
  }
  if (r.sudoProblem) info(`belt: ${name}: ${r.sudoProblem}`)
  if (r.lost) info(`belt: ${name}: the SSH connection closed before ${what} finished`)
  return exitCodeOf(r)
}
