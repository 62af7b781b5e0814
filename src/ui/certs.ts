// How belt certs shows its report: a table of what each node presents (or JSON), the CA's and client certificate's
// expiry, and every problem with the command that fixes it.
import {DOCKER_TLS_PORT} from '../docker/engine-api.js'
import type {CertsReport} from '../docker/certs.js'
import {EXPIRY_WARNING_DAYS, type CertificateInfo} from '../docker/tls.js'
import {type Column, DEFAULT_CHOICE, renderTable, type TableChoice} from './columns.js'
import {info, out, printJson, warn} from './output.js'

function certJson(c: CertificateInfo) {
  return {subject: c.subject, sans: c.sans, not_before: c.notBefore.toISOString(), not_after: c.notAfter.toISOString(), days_left: c.daysLeft,
    fingerprint: c.fingerprint256}
}

function commonName(subject: string): string | null {
  return /(?:^|, )CN=([^,]*)/.exec(subject)?.[1] ?? null
}

const day = (d: string | Date | null) => (d === null ? null : (typeof d === 'string' ? d : d.toISOString()).slice(0, 10))

export const CERT_COLUMNS: Column<CertsReport['nodes'][number]>[] = [
  {key: 'name', head: 'NAME', value: (n) => n.name},
  {key: 'address', head: 'ADDRESS', value: (n) => `${n.address}:${DOCKER_TLS_PORT}`},
  {key: 'subject', head: 'SUBJECT', value: (n) => (n.subject ? (commonName(n.subject) ?? n.subject) : null)},
  {key: 'sans', head: 'SANS', value: (n) => n.sans.join(',') || null},
  {key: 'not_after', head: 'EXPIRES', value: (n) => day(n.not_after)},
  {key: 'days_left', head: 'DAYS LEFT', value: (n) => n.days_left},
  {key: 'status', head: 'STATUS', value: (n) => n.status},
  {key: 'fingerprint', head: 'FINGERPRINT', value: (n) => n.fingerprint, extra: true},
]

export function renderCerts(r: CertsReport, json: boolean, choice: TableChoice = DEFAULT_CHOICE): void {
  if (json) printJson({ca: certJson(r.ca), client: certJson(r.client), nodes: r.nodes})
  else {
    const text = renderTable(CERT_COLUMNS, r.nodes, choice)
    if (text) out(text)
    info(`CA ${r.paths.ca}: expires ${day(r.ca.notAfter)} (${r.ca.daysLeft} days left)`)
    info(`client ${r.paths.cert}: expires ${day(r.client.notAfter)} (${r.client.daysLeft} days left)`)
  }
  if (r.client.daysLeft < EXPIRY_WARNING_DAYS) warn(`the client certificate expires in ${r.client.daysLeft} days; run: belt regenerate-certs --client-certs`)
  if (r.ca.daysLeft < EXPIRY_WARNING_DAYS) warn(`the cluster CA expires in ${r.ca.daysLeft} days; every certificate it issued stops working then`)
  for (const n of r.nodes) for (const p of n.problems) (n.status === 'warning' ? warn : info)(`${n.name}: ${p}`)
}
