// TLS section: key and certificate generation for N nodes, by benchTls() of bench/tls.ts (owned by the TLS work;
// called here, not rewritten). The figure compared with the target is CA + every node's key and certificate.
import {benchTls, type TlsBenchResult} from './tls.js'

export interface TlsResult {
  nodes: number
  /** CA + all nodes. */
  totalMs: number
  msPerNode: number
  report?: TlsBenchResult
  error?: string
}

export async function runTls(opts: {nodes: number; log: (l: string) => void}): Promise<TlsResult> {
  opts.log(`tls: CA + ${opts.nodes} node certificates …`)
  try {
    const report = await benchTls(opts.nodes)
    if (!report.verified) return {nodes: opts.nodes, totalMs: NaN, msPerNode: NaN, report, error: 'the certificates did not verify against the CA'}
    const totalMs = report.caMs + report.totalMs
    return {nodes: report.nodes, totalMs, msPerNode: totalMs / report.nodes, report}
  } catch (e) {
    return {nodes: opts.nodes, totalMs: NaN, msPerNode: NaN, error: (e as Error).message}
  }
}
