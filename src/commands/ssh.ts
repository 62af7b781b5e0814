import {Args, Flags} from '@oclif/core'
import {parsePassthrough} from '../argv.js'
import {BeltCommand} from '../base-command.js'
import {UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {expandPatterns} from '../core/range.js'
import {addressProblem, type SshEndpoint} from '../providers/provider.js'
import {createSshContext} from '../ssh/context.js'
import {hostToken, type KnownHosts} from '../ssh/known-hosts.js'
import {passthroughOn} from '../ssh/remote-command.js'
import {endpointsFor} from '../ssh/targets.js'
import {info, warn} from '../ui/output.js'
import {passthroughExit} from '../ui/passthrough.js'

export default class Ssh extends BeltCommand {
  static description = `Open a shell on a node, or run one command there

The command is one remote command line, as with OpenSSH (quote it for the remote shell yourself; belt docker quotes for you). Exit code passed through; 255 when SSH itself failed.
--forget-host removes the node's recorded host key from the cluster's known_hosts (after the host was rebuilt).`

  static examples = [
    '<%= config.bin %> ssh mg0',
    '<%= config.bin %> ssh mg0 -- uptime',
    "<%= config.bin %> ssh w3 -- 'df -h / && free -m'",
    '<%= config.bin %> ssh --forget-host w3',
  ]

  // belt parses its leading flags itself (argv.ts) so the remote command's own flags are never oclif's.
  static strict = false
  static args = {node: Args.string({description: 'the node', required: true})}
  static flags = {
    tty: Flags.boolean({description: 'allocate a terminal even for a command (default: only for a shell, when yours is one)'}),
    'forget-host': Flags.boolean({description: "remove the node's host key from .belt/<cluster>/known_hosts and exit"}),
    timeout: Flags.string({description: 'time limit for the connection and the command (default: none — a shell or a follow-stream runs until it ends)'}),
  }

  async run(): Promise<void> {
    const {flags, positional, rest} = parsePassthrough('ssh', this.argv)
    const node = positional[0]
    if (!node) throw new UsageError('which node? belt ssh NODE [-- COMMAND...]')
    const names = expandPatterns([node])
    if (names.length !== 1) throw new UsageError(`belt ssh takes one node, '${node}' names ${names.length}; for many use: belt --host '${node}' docker ...`)
    const cluster = this.resolveCluster({cluster: flags.cluster as string | undefined, config: flags.config as string | undefined})
    const timeoutMs = typeof flags.timeout === 'string' ? parseDuration(flags.timeout, '--timeout') : undefined
    const [ep] = await endpointsFor(cluster, names)
    if (flags['forget-host']) {
      if (rest.length) throw new UsageError('--forget-host takes no command')
      // The key is recorded under the address belt dials (ssh_address: private picks the private one).
      const ssh = createSshContext(cluster, {onWarning: warn})
      return this.forgetHost(ssh.knownHosts, ssh.route(ep))
    }
    const command = rest.length ? rest.join(' ') : null
    const tty = command === null ? Boolean(process.stdin.isTTY) : Boolean(flags.tty)
    const r = await this.withSsh(cluster, (ssh) => passthroughOn(ssh, ep, command, {tty, timeoutMs}))
    return this.exit(passthroughExit(ep.name, r, 'the command'))
  }

  private forgetHost(knownHosts: KnownHosts, ep: SshEndpoint): void {
    const noAddress = addressProblem(ep)
    if (noAddress) return info(`${ep.name} has ${noAddress}: no key is recorded for it in ${knownHosts.path}`)
    const removed = knownHosts.forget(ep.host, ep.port)
    info(removed
      ? `removed ${removed} key${removed > 1 ? 's' : ''} for ${hostToken(ep.host, ep.port)} (${ep.name}) from ${knownHosts.path}; the next connection records the new one`
      : `no key recorded for ${hostToken(ep.host, ep.port)} (${ep.name}) in ${knownHosts.path}`)
  }
}
