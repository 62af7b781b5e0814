import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {PartialFailure} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {checkCertificates, tlsToCheck} from '../docker/certs.js'
import {DOCKER_TLS_PORT} from '../docker/engine-api.js'
import {allEndpoints, endpointsFrom} from '../ssh/targets.js'
import {CERT_COLUMNS, renderCerts} from '../ui/certs.js'
import {tableChoice, tableFlags} from '../ui/columns.js'

export default class Certs extends BeltCommand {
  static description = 'Show the TLS certificate each node presents on port 2376: subject, SANs, expiry and days left'
  static examples = ['<%= config.bin %> certs', "<%= config.bin %> certs 'node[1:4]'", '<%= config.bin %> certs --json',
    '<%= config.bin %> certs --columns name,days_left --no-header']
  static strict = false
  static args = {patterns: Args.string({description: 'node names or patterns (default: every node of the cluster)'})}
  static flags = {
    timeout: Flags.string({description: 'time allowed per node for the TLS handshake', default: '10s'}),
    json: Flags.boolean({description: 'print JSON: {"ca": {...}, "client": {...}, "nodes": [...]}'}),
    ...tableFlags(CERT_COLUMNS),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Certs)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const choice = tableChoice(flags, CERT_COLUMNS)
    const cluster = this.resolveCluster(flags)
    const tls = tlsToCheck(cluster)
    const patterns = argv as string[]
    const endpoints = patterns.length ? await endpointsFrom(cluster, patterns) : await allEndpoints(cluster)
    // Behind a bastion (ssh_jump) each node's port 2376 is reached through it.
    const report = await this.withSsh(cluster, (ssh) => checkCertificates(cluster, tls, endpoints, {timeoutMs, tunnel: ssh.tunnel.bind(ssh)}))
    renderCerts(report, flags.json, choice)
    const bad = report.nodes.filter((n) => n.status === 'error' || n.status === 'unreachable')
    if (bad.length) throw new PartialFailure(`${bad.length} of ${report.nodes.length} node(s) have no usable certificate on port ${DOCKER_TLS_PORT}`)
  }
}
