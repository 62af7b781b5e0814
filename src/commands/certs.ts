import {Args, Flags} from '@oclif/core'
import pLimit from 'p-limit'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {providerFor} from '../providers/index.js'
import {dockerAddress} from '../docker/provision.js'
import {addressProblem} from '../providers/provider.js'
import {DOCKER_TLS_PORT, readPresentedCertificate} from '../docker/engine-api.js'
import {describeCertificate, EXPIRY_WARNING_DAYS, isIssuedBy, normalizeSan, readClusterTls, serverSans, tlsPolicy, type CertificateInfo} from '../docker/tls.js'
import {byName, info, out, printJson, table, warn} from '../ui/output.js'
import {resolveEndpoints} from './provision.js'

export interface NodeCertReport {
  name: string
  address: string
  /** ok: fine; warning: works but needs attention soon; error: clients fail (or will); unreachable: no TLS answer. */
  status: 'ok' | 'warning' | 'error' | 'unreachable'
  problems: string[]
  subject: string | null
  sans: string[]
  not_after: string | null
  days_left: number | null
  issued_by_cluster_ca: boolean | null
  fingerprint: string | null
}

function certJson(c: CertificateInfo) {
  return {subject: c.subject, sans: c.sans, not_before: c.notBefore.toISOString(), not_after: c.notAfter.toISOString(), days_left: c.daysLeft, fingerprint: c.fingerprint256}
}

export default class Certs extends BeltCommand {
  static description = 'Show the TLS certificate each node presents on port 2376: subject, SANs, expiry and days left'
  static examples = ['<%= config.bin %> certs', "<%= config.bin %> certs 'node[1:4]'", '<%= config.bin %> certs --json']
  static strict = false
  static args = {patterns: Args.string({description: 'node names or patterns (default: every node of the cluster)'})}
  static flags = {
    timeout: Flags.string({description: 'time allowed per node for the TLS handshake', default: '10s'}),
    json: Flags.boolean({description: 'print JSON: {"ca": {...}, "client": {...}, "nodes": [...]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Certs)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const cluster = this.resolveCluster(flags)
    const tls = readClusterTls(cluster)
    if (!tls) throw new UsageError(`cluster '${cluster.name}' has no CA yet; run: belt provision NODES`)
    if (!tls.client) throw new UsageError(`cluster '${cluster.name}' has no client certificate; run: belt regenerate-certs --client-certs`)
    const client = {ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem}
    const patterns = argv as string[]
    let endpoints
    if (patterns.length) endpoints = await resolveEndpoints(cluster, patterns)
    else {
      const provider = await providerFor(cluster)
      const names = (await provider.list()).map((n) => n.name)
      endpoints = (await provider.endpoints(names)).found
    }
    const extra = tlsPolicy(cluster.settings).extraSans
    const limit = pLimit(64)
    const reports: NodeCertReport[] = await Promise.all(endpoints.map((ep) => limit(async () => {
      const address = dockerAddress(ep)
      const base: NodeCertReport = {name: ep.name, address, status: 'ok', problems: [], subject: null, sans: [], not_after: null, days_left: null, issued_by_cluster_ca: null, fingerprint: null}
      const noAddress = addressProblem(ep)
      if (noAddress) return {...base, status: 'unreachable' as const, problems: [noAddress]}
      let presented
      try {
        presented = await readPresentedCertificate({host: address}, client, {timeoutMs})
      } catch (err) {
        return {...base, status: 'unreachable' as const, problems: [(err as Error).message]}
      }
      const c = describeCertificate(presented.certPem)
      const r: NodeCertReport = {...base, subject: c.subject, sans: c.sans, not_after: c.notAfter.toISOString(), days_left: c.daysLeft, fingerprint: c.fingerprint256,
        issued_by_cluster_ca: isIssuedBy(presented.certPem, tls.ca)}
      const errors: string[] = []
      const warnings: string[] = []
      if (!r.issued_by_cluster_ca) errors.push(`not issued by this cluster's CA (${presented.trustError ?? 'untrusted'}); run: belt provision ${ep.name} --force`)
      if (!presented.hostMatches) errors.push(`its SANs do not include ${address}, the address clients use; run: belt regenerate-certs ${ep.name}`)
      if (c.daysLeft < 0) errors.push(`expired on ${c.notAfter.toISOString().slice(0, 10)}; run: belt regenerate-certs ${ep.name}`)
      else if (c.daysLeft < EXPIRY_WARNING_DAYS) warnings.push(`expires in ${c.daysLeft} days; run: belt regenerate-certs ${ep.name}`)
      if (presented.hostMatches) {
        const want = serverSans(ep, extra)
        const missing = want.filter((s) => !c.sans.includes(normalizeSan(s)))
        if (missing.length) warnings.push(`SANs lack ${missing.join(', ')} (tls_san or addresses changed); run: belt regenerate-certs ${ep.name}`)
      }
      r.problems = [...errors, ...warnings]
      r.status = errors.length ? 'error' : warnings.length ? 'warning' : 'ok'
      return r
    })))
    reports.sort(byName)
    const ca = describeCertificate(tls.ca.cert)
    const cl = describeCertificate(tls.client.certPem)
    if (flags.json) {
      printJson({ca: certJson(ca), client: certJson(cl), nodes: reports})
    } else {
      const day = (d: string | null) => (d ? d.slice(0, 10) : null)
      out(table(['NAME', 'ADDRESS', 'SUBJECT', 'SANS', 'EXPIRES', 'DAYS LEFT', 'STATUS'], reports.map((r) => [
        r.name, `${r.address}:${DOCKER_TLS_PORT}`, r.subject ? (describeCn(r.subject) ?? r.subject) : null, r.sans.join(',') || null, day(r.not_after), r.days_left, r.status,
      ])))
      info(`CA ${tls.paths.ca}: expires ${ca.notAfter.toISOString().slice(0, 10)} (${ca.daysLeft} days left)`)
      info(`client ${tls.paths.cert}: expires ${cl.notAfter.toISOString().slice(0, 10)} (${cl.daysLeft} days left)`)
    }
    if (cl.daysLeft < EXPIRY_WARNING_DAYS) warn(`the client certificate expires in ${cl.daysLeft} days; run: belt regenerate-certs --client-certs`)
    if (ca.daysLeft < EXPIRY_WARNING_DAYS) warn(`the cluster CA expires in ${ca.daysLeft} days; every certificate it issued stops working then`)
    for (const r of reports) for (const p of r.problems) (r.status === 'warning' ? warn : info)(`${r.name}: ${p}`)
    const bad = reports.filter((r) => r.status === 'error' || r.status === 'unreachable')
    if (bad.length) throw new PartialFailure(`${bad.length} of ${reports.length} node(s) have no usable certificate on port ${DOCKER_TLS_PORT}`)
  }
}

function describeCn(subject: string): string | null {
  return /(?:^|, )CN=([^,]*)/.exec(subject)?.[1] ?? null
}
