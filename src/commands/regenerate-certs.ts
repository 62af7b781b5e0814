import {Args, Flags} from '@oclif/core'
import pLimit from 'p-limit'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {provisionContext, provisionNodes} from '../docker/provision.js'
import {ensureClusterTls, readClusterTls, tlsPolicy} from '../docker/tls.js'
import {concurrencyFor, endpointsFrom} from '../ssh/targets.js'
import {fleetHooks} from '../ui/fleet.js'
import {info} from '../ui/output.js'
import {announceTls, renderProvision} from '../ui/provision.js'

export default class RegenerateCerts extends BeltCommand {
  static description = 'Issue new server certificates (e.g. after an address change) and restart Docker, one node at a time by default'
  static examples = [
    "<%= config.bin %> regenerate-certs 'node[1:4]'",
    "<%= config.bin %> regenerate-certs 'w[1:200]' --concurrency 10",
    '<%= config.bin %> regenerate-certs node1 --client-certs',
    '<%= config.bin %> regenerate-certs --client-certs',
  ]
  static strict = false
  static args = {patterns: Args.string({description: "node names or patterns ('node[1:4]'); optional with --client-certs"})}
  static flags = {
    'client-certs': Flags.boolean({description: 'also issue a new client certificate (cert.pem, key.pem) for this machine'}),
    concurrency: Flags.integer({description: 'nodes restarting Docker at once (certificates are issued and uploaded in parallel)', default: 1, min: 1}),
    'verify-timeout': Flags.string({description: 'how long dockerd may take to answer over TLS after its restart', default: '90s'}),
    json: Flags.boolean({description: 'print JSON: {"ok": [names], "already": [names], "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(RegenerateCerts)
    const patterns = argv as string[]
    if (patterns.length === 0 && !flags['client-certs']) throw new UsageError('name the nodes whose certificates to regenerate (e.g. belt regenerate-certs \'node[1:4]\'), or pass --client-certs')
    const cluster = this.resolveCluster(flags)
    const verifyTimeoutMs = parseDuration(flags['verify-timeout'], '--verify-timeout')
    const endpoints = patterns.length ? await endpointsFrom(cluster, patterns) : []
    if (!readClusterTls(cluster) && endpoints.length === 0) throw new UsageError(`cluster '${cluster.name}' has no CA yet; run belt provision first`)
    const tls = await ensureClusterTls(cluster, tlsPolicy(cluster.settings), {reissueClient: flags['client-certs']})
    announceTls(tls)
    if (flags['client-certs'] && !tls.created.includes('ca')) info(`issued a new client certificate: ${tls.paths.cert} (the nodes accept it: same CA)`)
    if (endpoints.length === 0) return
    const limit = pLimit(flags.concurrency)
    const ctx = provisionContext(cluster, tls, {forceCerts: true, sysctl: false, verifyTimeoutMs, restartSlot: (fn) => limit(fn)})
    if (endpoints.length > 1) info(`restarting Docker on ${flags.concurrency === 1 ? 'one node' : `${flags.concurrency} nodes`} at a time`)
    // Restarts queue behind the limiter, so the per-host timeout would count time spent waiting: the restart and
    // the TLS verification carry their own time limits instead.
    const opts = {concurrency: concurrencyFor(cluster), verb: 'regenerated', record: 'regenerate-certs'}
    const hooks = fleetHooks({plain: flags.json || undefined})
    const r = await this.withSsh(cluster, (ssh) => provisionNodes(cluster, ssh, endpoints, ctx, opts, hooks))
    renderProvision(r, flags.json)
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.notStarted.length} node(s) not started; re-run the same command to finish`)
    if (r.failed.length) throw new PartialFailure(`${r.failed.length} of ${r.total} node(s) failed; fix the cause and re-run the same command (finished nodes are skipped)`)
  }
}
