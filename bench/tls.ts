// TLS material for N nodes, as `belt provision` makes it: one CA, then per node a fresh key pair and a server
// certificate with its SANs (PEM-encoded, ready to upload). Called by bench/tls-bench.ts; also runs alone:
//   node --import tsx bench/tls.ts [NODES=2000] [--rsa] [--concurrency 16]
// Prints one JSON document: {"nodes", "totalMs", "msPerNode", "caMs", "keyType", "concurrency", ...}.
import {X509Certificate} from 'node:crypto'
import {fileURLToPath} from 'node:url'
import {createCertificateAuthority, issueServerCertificate, isIssuedBy, serverSans, type TlsPolicy} from '../src/docker/tls.js'

export interface TlsBenchResult {
  nodes: number
  keyType: 'ecdsa' | 'rsa'
  /** Certificates in flight at once (key generation and signing run on libuv's thread pool). */
  concurrency: number
  caMs: number
  /** Keys + certificates for every node, CA excluded. */
  totalMs: number
  msPerNode: number
  /** CPU time of the whole process over the same span (main thread and thread pool); steadier than wall time on a busy machine. */
  cpuMs: number
  /** Bytes of PEM produced per node (certificate + key). */
  pemBytesPerNode: number
  /** The first and last certificate chain to the CA and carry the node's SANs. */
  verified: boolean
}

export async function benchTls(nodes: number, opts: {keyType?: 'ecdsa' | 'rsa'; concurrency?: number} = {}): Promise<TlsBenchResult> {
  const policy: TlsPolicy = {keyType: opts.keyType ?? 'ecdsa', caDays: 3650, certDays: 730, extraSans: []}
  const concurrency = opts.concurrency ?? 16
  const t0 = performance.now()
  const ca = await createCertificateAuthority('belt CA (bench)', policy)
  const caMs = performance.now() - t0
  const address = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const out: {certPem: string; keyPem: string}[] = new Array(nodes)
  let next = 0
  const cpu0 = process.cpuUsage()
  const t1 = performance.now()
  await Promise.all(
    Array.from({length: Math.min(concurrency, nodes)}, async () => {
      while (next < nodes) {
        const i = next++
        const name = `w${i + 1}`
        out[i] = await issueServerCertificate(ca, name, serverSans({name, public_ip: address(i + 1), private_ip: address(i + 70_000)}), policy)
      }
    }),
  )
  const totalMs = performance.now() - t1
  const cpu = process.cpuUsage(cpu0)
  const check = (i: number) => {
    const c = new X509Certificate(out[i].certPem)
    return isIssuedBy(c, ca) && c.checkIP(address(i + 1)) !== undefined && c.checkHost(`w${i + 1}`) !== undefined
  }
  const pemBytes = out.reduce((n, o) => n + o.certPem.length + o.keyPem.length, 0)
  return {
    nodes,
    keyType: policy.keyType,
    concurrency,
    caMs: round(caMs),
    totalMs: round(totalMs),
    msPerNode: round(totalMs / nodes, 3),
    cpuMs: round((cpu.user + cpu.system) / 1000),
    pemBytesPerNode: Math.round(pemBytes / nodes),
    verified: nodes === 0 || (check(0) && check(nodes - 1)),
  }
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2)
  const rsa = args.includes('--rsa')
  const ci = args.indexOf('--concurrency')
  const concurrency = ci >= 0 ? Number(args[ci + 1]) : undefined
  const positional = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--concurrency')
  const nodes = positional[0] ? Number(positional[0]) : 2000
  if (!Number.isInteger(nodes) || nodes < 0) {
    process.stderr.write('usage: bench/tls.ts [NODES] [--rsa] [--concurrency N]\n')
    process.exit(2)
  }
  const result = await benchTls(nodes, {keyType: rsa ? 'rsa' : 'ecdsa', concurrency})
  process.stdout.write(JSON.stringify(result) + '\n')
}
