import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {clusterRemoteCommands, provisionContext, provisionNodes} from '../docker/provision.js'
import {ensureClusterTls, tlsPolicy} from '../docker/tls.js'
import {concurrencyFor, endpointsFrom} from '../ssh/targets.js'
import {fleetHooks} from '../ui/fleet.js'
import {announceTls, printRemoteCommands, renderProvision} from '../ui/provision.js'

export default class Provision extends BeltCommand {
  static description = 'Install Docker where missing and secure it with TLS on port 2376 (per-cluster CA), in parallel over SSH'
  static examples = [
    "<%= config.bin %> provision 'node[1:4]'",
    "<%= config.bin %> provision mg0 'w[1:2000]' --concurrency 200 --sysctl-large-cluster",
    "<%= config.bin %> provision node1 --force",
    '<%= config.bin %> provision node1 --print-command',
  ]
  static strict = false
  static args = {patterns: Args.string({description: "node names or patterns ('node[1:4]', 'mg0,w[1:3]')", required: true})}
  static flags = {
    concurrency: Flags.integer({description: 'hosts at once (default: the template\'s concurrency, 100)', min: 1}),
    force: Flags.boolean({description: 'issue new server certificates even where the current ones are fine'}),
    'sysctl-large-cluster': Flags.boolean({description: 'also write the Swarm3k neighbour-table settings to /etc/sysctl.d/99-belt-swarm.conf and apply them'}),
    timeout: Flags.string({description: 'per-host time limit, Docker installation included', default: '20m'}),
    'verify-timeout': Flags.string({description: 'how long dockerd may take to answer over TLS after its restart', default: '90s'}),
    'print-command': Flags.boolean({description: 'print the commands provision runs on a node, and run nothing'}),
    json: Flags.boolean({description: 'print JSON: {"ok": [names], "already": [names], "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Provision)
    const cluster = this.resolveCluster(flags)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const verifyTimeoutMs = parseDuration(flags['verify-timeout'], '--verify-timeout')
    const policy = tlsPolicy(cluster.settings)
    const sysctl = flags['sysctl-large-cluster']
    if (flags['print-command']) {
      this.printJumpNote(flags)
      return printRemoteCommands(clusterRemoteCommands(cluster, sysctl))
    }
    const endpoints = await endpointsFrom(cluster, argv as string[])
    const tls = await ensureClusterTls(cluster, policy)
    announceTls(tls)
    const ctx = provisionContext(cluster, tls, {forceCerts: flags.force, sysctl, verifyTimeoutMs})
    const opts = {concurrency: concurrencyFor(cluster, flags.concurrency), timeoutMs, verb: 'provisioned', record: 'provision'}
    const hooks = fleetHooks({plain: flags.json || undefined})
    const r = await this.withSsh(cluster, (ssh) => provisionNodes(cluster, ssh, endpoints, ctx, opts, hooks))
    renderProvision(r, flags.json)
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.notStarted.length} node(s) not started; re-run the same command to finish`)
    if (r.failed.length) throw new PartialFailure(`${r.failed.length} of ${r.total} node(s) failed; fix the cause and re-run the same command (finished nodes are skipped)`)
  }
}
