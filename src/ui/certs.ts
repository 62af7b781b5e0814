// How belt certs shows its report: a table of what each node presents (or JSON), the CA's and client certificate's
// expiry, and every problem with the command that fixes it.
import {DOCKER_TLS_PORT} from '../docker/engine-api.js'
import type {CertsReport} from '../docker/certs.js'
import {EXPIRY_WARNING_DAYS, type CertificateInfo} from '../docker/tls.js'
import {info, out, printJson, table, warn} from './output.js'

function certJson(c: CertificateInfo) {
  return {subject: c.subject, sans: c.sans, not_before: c.notBefore.toISOString(), not_after: c.notAfter.toISOString(), days_left: c.daysLeft,
    fingerprint: c.fingerprint256}
}

function commonName(subject: string): string | null {
  return /(?:^|, )CN=([^,]*)/.exec(subject)?.[1] ?? null
}

const day = (d: string | Date | null) => (d === null ? null : (typeof d === 'string' ? d : d.toISOString()).slice(0, 10))

export function renderCerts(r: CertsReport, json: boolean): void {
  if (json) printJson({ca: certJson(r.ca), client: certJson(r.client), nodes: r.nodes})
  else {
    out(table(['NAME', 'ADDRESS', 'SUBJECT', 'SANS', 'EXPIRES', 'DAYS LEFT', 'STATUS'], r.nodes.map((n) => [
      n.name, `${n.address}:${DOCKER_TLS_PORT}`, n.subject ? (commonName(n.subject) ?? n.subject) : null, n.sans.join(',') || null, day(n.not_after),
      n.days_left, n.status,
    ])))
    info(`CA ${r.paths.ca}: expires ${day(r.ca.notAfter)} (${r.ca.daysLeft} days left)`)
    info(`client ${r.paths.cert}: expires ${day(r.client.notAfter)} (${r.client.daysLeft} days left)`)
  }
  if (r.client.daysLeft < EXPIRY_WARNING_DAYS) warn(`the client certificate expires in ${r.client.daysLeft} days; run: belt regenerate-certs --client-certs`)
  if (r.ca.daysLeft < EXPIRY_WARNING_DAYS) warn(`the cluster CA expires in ${r.ca.daysLeft} days; every certificate it issued stops working then`)
  for (const n of r.nodes) for (const p of n.problems) (n.status === 'warning' ? warn : info)(`${n.name}: ${p}`)
}
