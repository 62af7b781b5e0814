// What each node's Docker presents on port 2376 (belt certs), checked against the cluster's CA, the address clients
// dial and the names belt would put in a certificate now; with the cluster's CA and client certificate themselves.
import pLimit from 'p-limit'
import type {Cluster} from '../core/config/cluster.js'
import {UsageError} from '../core/errors.js'
import {addressProblem, type SshEndpoint} from '../providers/provider.js'
import {byNaturalName} from '../ssh/fleet-result.js'
import {DOCKER_TLS_PORT, readPresentedCertificate, type ClientTls} from './engine-api.js'
import type {SshContext} from '../ssh/types.js'
import type {Duplex} from 'node:stream'
import {dockerAddress} from './provision.js'
import {describeCertificate, EXPIRY_WARNING_DAYS, isIssuedBy, normalizeSan, readClusterTls, serverSans, tlsPolicy,
  type CertificateAuthority, type CertificateInfo, type ClusterTlsPaths, type IssuedCertificate} from './tls.js'

/** TLS handshakes at once. */
const CHECKS_AT_ONCE = 64

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

export interface CertsReport {
  paths: ClusterTlsPaths
  ca: CertificateInfo
  client: CertificateInfo
  /** By name. */
  nodes: NodeCertReport[]
}

export interface CheckableTls {
  paths: ClusterTlsPaths
  ca: CertificateAuthority
  client: IssuedCertificate
}

/** The cluster's CA and client certificate, or a usage error that says what to run first. */
export function tlsToCheck(cluster: Cluster): CheckableTls {
  const tls = readClusterTls(cluster)
  if (!tls) throw new UsageError(`cluster '${cluster.name}' has no CA yet; run: belt provision NODES`)
  if (!tls.client) throw new UsageError(`cluster '${cluster.name}' has no client certificate; run: belt regenerate-certs --client-certs`)
  return {paths: tls.paths, ca: tls.ca, client: tls.client}
}

export async function checkCertificates(cluster: Cluster, tls: CheckableTls, endpoints: SshEndpoint[],
  o: {timeoutMs: number; tunnel?: SshContext['tunnel']}): Promise<CertsReport> {
  const client = {ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem}
  const extra = tlsPolicy(cluster.settings).extraSans
  const limit = pLimit(CHECKS_AT_ONCE)
  const nodes = await Promise.all(endpoints.map((ep) => limit(() => checkNode(ep, tls.ca, client, extra, o.timeoutMs, o.tunnel?.(ep)))))
  nodes.sort((a, b) => byNaturalName(a.name, b.name))
  return {paths: tls.paths, ca: describeCertificate(tls.ca.cert), client: describeCertificate(tls.client.certPem), nodes}
}

async function checkNode(ep: SshEndpoint, ca: CertificateAuthority, client: ClientTls, extraSans: string[],
  timeoutMs: number, tunnel?: ((port: number) => Promise<Duplex>) | null): Promise<NodeCertReport> {
  const address = dockerAddress(ep)
  const base: NodeCertReport = {name: ep.name, address, status: 'ok', problems: [], subject: null, sans: [], not_after: null, days_left: null,
    issued_by_cluster_ca: null, fingerprint: null}
  const noAddress = addressProblem(ep)
  if (noAddress) return {...base, status: 'unreachable', problems: [noAddress]}
  let presented
  try {
    presented = await readPresentedCertificate({host: address, ...(tunnel ? {dial: () => tunnel(DOCKER_TLS_PORT)} : {})}, client, {timeoutMs})
  } catch (err) {
    return {...base, status: 'unreachable', problems: [(err as Error).message]}
  }
  const c = describeCertificate(presented.certPem)
  const r: NodeCertReport = {...base, subject: c.subject, sans: c.sans, not_after: c.notAfter.toISOString(), days_left: c.daysLeft,
    fingerprint: c.fingerprint256, issued_by_cluster_ca: isIssuedBy(presented.certPem, ca)}
  const errors: string[] = []
  const warnings: string[] = []
  if (!r.issued_by_cluster_ca) errors.push(`not issued by this cluster's CA (${presented.trustError ?? 'untrusted'}); run: belt provision ${ep.name} --force`)
  if (!presented.hostMatches) errors.push(`its SANs do not include ${address}, the address clients use; run: belt regenerate-certs ${ep.name}`)
  if (c.daysLeft < 0) errors.push(`expired on ${c.notAfter.toISOString().slice(0, 10)}; run: belt regenerate-certs ${ep.name}`)
  else if (c.daysLeft < EXPIRY_WARNING_DAYS) warnings.push(`expires in ${c.daysLeft} days; run: belt regenerate-certs ${ep.name}`)
  if (presented.hostMatches) {
    const missing = serverSans(ep, extraSans).filter((s) => !c.sans.includes(normalizeSan(s)))
    if (missing.length) warnings.push(`SANs lack ${missing.join(', ')} (tls_san or addresses changed); run: belt regenerate-certs ${ep.name}`)
  }
  r.problems = [...errors, ...warnings]
  r.status = errors.length ? 'error' : warnings.length ? 'warning' : 'ok'
  return r
}
