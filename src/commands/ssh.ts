import {Args, Flags} from '@oclif/core'
import {parsePassthrough} from '../argv.js'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {addressProblem, type SshEndpoint} from '../providers/provider.js'
import {createSshContext} from '../ssh/context.js'
import {hostToken, type KnownHosts} from '../ssh/known-hosts.js'
import {passthroughOn, runOnFleet} from '../ssh/remote-command.js'
import {concurrencyFor, endpointsFrom} from '../ssh/targets.js'
import {prefixedWriters, renderFleet} from '../ui/fleet.js'
import {info, warn} from '../ui/output.js'
import {passthroughExit} from '../ui/passthrough.js'

export default class Ssh extends BeltCommand {
  static description = `Open a shell on a node, or run one command on one or many nodes

Without --, the first word is the node (or pattern) and the rest the command; with --, every word before it is a node or pattern and everything after it the command (belt ssh mg0 'w[1:4]' -- uptime).
The command is one remote command line, as with OpenSSH (quote it for the remote shell yourself; belt docker quotes for you); it runs as the login user.
One node: a shell or the command with your terminal; exit code passed through; 255 when SSH itself failed.
Several nodes: in parallel, every output line prefixed with "name: ", no stdin; failures summarised on stderr; exit 1 if any node failed (a non-zero exit code counts). --json: {"ok", "already", "failed", "results": [{"name", "exit_code", "stdout", "stderr"}]}.
--forget-host removes the nodes' recorded host keys from the cluster's known_hosts (after a host was rebuilt).`

  static examples = [
    '<%= config.bin %> ssh mg0',
    '<%= config.bin %> ssh mg0 -- uptime',
    "<%= config.bin %> ssh w3 -- 'df -h / && free -m'",
    "<%= config.bin %> ssh 'w[1:2000]' -- sysctl -w vm.max_map_count=262144",
    "<%= config.bin %> ssh mg0 'w[1:4]' --json -- uptime",
    "<%= config.bin %> ssh 'w[1:500]' --concurrency 200 --timeout 30s -- 'systemctl is-active docker'",
    '<%= config.bin %> ssh --forget-host w3',
  ]

  // belt parses its leading flags itself (argv.ts) so the remote command's own flags are never oclif's.
  static strict = false
  static args = {node: Args.string({description: "the node, or nodes and patterns before -- ('w[1:4]', 'mg0,w[1:3]')", required: true})}
  static flags = {
    tty: Flags.boolean({description: 'allocate a terminal even for a command (one node; default: only for a shell, when yours is one)'}),
    'forget-host': Flags.boolean({description: "remove the nodes' host keys from .belt/<cluster>/known_hosts and exit"}),
    timeout: Flags.string({description: 'time limit per node for the connection and the command (default: none — a shell or a follow-stream runs until it ends)'}),
    json: Flags.boolean({description: 'print JSON: {"ok", "already", "failed", "results": [{"name", "exit_code", "stdout", "stderr"}]} (output captured)'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)"}),
  }

  async run(): Promise<void> {
    const {flags, positional, rest} = parsePassthrough('ssh', this.argv)
    if (positional.length === 0) throw new UsageError("which node? belt ssh NODE [-- COMMAND...] or belt ssh 'PATTERN'... -- COMMAND...")
    const cluster = this.resolveCluster({cluster: flags.cluster as string | undefined, config: flags.config as string | undefined})
    const timeoutMs = typeof flags.timeout === 'string' ? parseDuration(flags.timeout, '--timeout') : undefined
    const concurrency = concurrencyFor(cluster, flags.concurrency === undefined ? undefined : Number(flags.concurrency))
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be an integer ≥ 1, got ${flags.concurrency}`)
    const endpoints = await endpointsFrom(cluster, positional)
    if (flags['forget-host']) {
      if (rest.length) throw new UsageError('--forget-host takes no command')
      // The key is recorded under the address belt dials (ssh_address: private picks the private one).
      const ssh = createSshContext(cluster, {onWarning: warn})
      for (const ep of endpoints) this.forgetHost(ssh.knownHosts, ssh.route(ep))
      return
    }
    const command = rest.length ? rest.join(' ') : null
    const json = Boolean(flags.json)
    if (endpoints.length === 1 && !json) {
      const [ep] = endpoints
      const tty = command === null ? Boolean(process.stdin.isTTY) : Boolean(flags.tty)
      const r = await this.withSsh(cluster, (ssh) => passthroughOn(ssh, ep, command, {tty, timeoutMs}))
      return this.exit(passthroughExit(ep.name, r, 'the command'))
    }
    if (command === null) {
      throw new UsageError(`a shell needs one node, '${positional.join(' ')}' names ${endpoints.length}; give a command: belt ssh '${positional.join(' ')}' -- COMMAND`)
    }
    if (flags.tty) throw new UsageError(`--tty needs one node, '${positional.join(' ')}' names ${endpoints.length}`)
    const opts = {concurrency, timeoutMs, sudo: false, writers: json ? undefined : prefixedWriters}
    const r = await this.withSsh(cluster, (ssh) => runOnFleet(ssh, endpoints, command, opts))
    renderFleet(r, {json, table: false, tail: {results: r.hosts}})
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.notStarted.length} node(s) not started`)
    if (r.failed.length) throw new PartialFailure(json ? '' : `the command failed on ${r.failed.length} of ${r.total} nodes`)
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
