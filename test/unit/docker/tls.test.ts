// The cluster CA and the certificates it issues, checked with independent verifiers: Node's X509Certificate,
// real TLS handshakes (Node/OpenSSL), `openssl verify`, and the Go TLS stack of the stock docker CLI.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtempSync, rmSync, statSync, writeFileSync, readFileSync} from 'node:fs'
import {createServer as createHttpsServer} from 'node:https'
import {connect as tlsConnect, createServer as createTlsServer, type TLSSocket} from 'node:tls'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {X509Certificate} from 'node:crypto'
import type {AddressInfo} from 'node:net'
import * as asn from '@peculiar/asn1-x509'
import {AsnConvert} from '@peculiar/asn1-schema'
import {
  BACKDATE_MS,
  checkSan,
  clusterTlsPaths,
  createCertificateAuthority,
  describeCertificate,
  ensureClusterTls,
  isIssuedBy,
  issueClientCertificate,
  issueServerCertificate,
  loadCertificateAuthority,
  normalizeSan,
  sameSans,
  serverCertificateProblems,
  serverSans,
  tlsPolicy,
  type TlsPolicy,
} from '../../../src/docker/tls.js'
import {UsageError} from '../../../src/core/errors.js'
import type {Cluster} from '../../../src/core/config/cluster.js'
import {resolveSettings} from '../../../src/core/config/schema.js'
import {StateStore} from '../../../src/core/config/state.js'
import {skipUnless} from '../../lib/tools.js'

const ecdsa: TlsPolicy = {keyType: 'ecdsa', caDays: 3650, certDays: 730, extraSans: []}
const DAY = 86_400_000

function extensions(pem: string): asn.Extension[] {
  return AsnConvert.parse(new X509Certificate(pem).raw, asn.Certificate).tbsCertificate.extensions ?? []
}
function keyUsageBits(pem: string): number {
  const e = extensions(pem).find((x) => x.extnID === asn.id_ce_keyUsage)!
  assert.ok(e, 'has keyUsage')
  assert.equal(e.critical, true, 'keyUsage is critical')
  return AsnConvert.parse(e.extnValue.buffer, asn.KeyUsage).toNumber()
}
function signatureOid(pem: string): string {
  return AsnConvert.parse(new X509Certificate(pem).raw, asn.Certificate).signatureAlgorithm.algorithm
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile(cmd, args, {env, timeout: 30_000}, (err, stdout, stderr) => {
      const code = err ? (typeof (err as {code?: unknown}).code === 'number' ? (err as {code: number}).code : 1) : 0
      resolve({code, stdout, stderr})
    })
  })
}

test('CA: ECDSA P-256, self-signed CA with pathlen 0, backdated NotBefore and tls_ca_days validity', async () => {
  const before = Date.now()
  const ca = await createCertificateAuthority('belt CA (t)', ecdsa)
  assert.ok(Buffer.from(AsnConvert.serialize(AsnConvert.parse(ca.cert.raw, asn.Certificate))).equals(ca.cert.raw))
  const c = ca.cert
  assert.equal(c.ca, true)
  assert.equal(c.publicKey.asymmetricKeyType, 'ec')
  assert.equal(c.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1')
  assert.ok(c.checkIssued(c) && c.verify(c.publicKey), 'self-signed')
  assert.match(c.subject, /CN=belt CA \(t\)/)
  const info = describeCertificate(c)
  // X.509 times have whole seconds: allow 1 s either side of the 5-minute backdate.
  assert.ok(Math.abs(before - BACKDATE_MS - info.notBefore.getTime()) < 2000, `notBefore ${info.notBefore.toISOString()}`)
  assert.ok(Math.abs(before + 3650 * DAY - info.notAfter.getTime()) < 2000 + (Date.now() - before), `notAfter ${info.notAfter.toISOString()}`)
  const F = asn.KeyUsageFlags
  assert.equal(keyUsageBits(ca.certPem) & (F.keyCertSign | F.cRLSign), F.keyCertSign | F.cRLSign)
  const bc = extensions(ca.certPem).find((x) => x.extnID === asn.id_ce_basicConstraints)!
  assert.equal(bc.critical, true)
  const parsed = AsnConvert.parse(bc.extnValue.buffer, asn.BasicConstraints)
  assert.equal(parsed.cA, true)
  assert.equal(parsed.pathLenConstraint, 0)
  assert.equal(signatureOid(ca.certPem), '1.2.840.10045.4.3.2')
})

test('server certificate: SANs, serverAuth only, digitalSignature, signed by the CA, tls_cert_days', async () => {
  const ca = await createCertificateAuthority('belt CA (t)', ecdsa)
  const sans = serverSans({name: 'node1', public_ip: '203.0.113.7', private_ip: '10.0.0.7'}, ['docker.example.com', '2001:db8::1'])
  assert.deepEqual(sans, ['node1', 'localhost', 'docker.example.com', '203.0.113.7', '10.0.0.7', '127.0.0.1', '2001:db8::1'])
  const issued = await issueServerCertificate(ca, 'node1', sans, ecdsa)
  const cert = new X509Certificate(issued.certPem)
  assert.equal(cert.ca, false)
  assert.ok(isIssuedBy(cert, ca))
  assert.ok(cert.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(issued.keyPem))))
  assert.match(issued.keyPem, /^-----BEGIN PRIVATE KEY-----/)
  assert.equal(cert.checkHost('node1'), 'node1')
  assert.equal(cert.checkHost('docker.example.com'), 'docker.example.com')
  assert.equal(cert.checkHost('other'), undefined)
  assert.equal(cert.checkIP('203.0.113.7'), '203.0.113.7')
  assert.equal(cert.checkIP('10.0.0.7'), '10.0.0.7')
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1')
  assert.equal(cert.checkIP('2001:db8::1'), '2001:db8::1')
  assert.equal(cert.checkIP('10.0.0.8'), undefined)
  const info = describeCertificate(cert)
  assert.deepEqual(info.sans, sans)
  assert.equal(info.commonName, 'node1')
  assert.deepEqual(info.extendedKeyUsage, ['1.3.6.1.5.5.7.3.1'])
  assert.equal(keyUsageBits(issued.certPem), asn.KeyUsageFlags.digitalSignature)
  assert.ok(info.daysLeft === 729 || info.daysLeft === 730, `daysLeft ${info.daysLeft}`)
  assert.deepEqual(serverCertificateProblems(issued.certPem, ca, sans), [])
  // Serial numbers are random and positive.
  const other = await issueServerCertificate(ca, 'node1', sans, ecdsa)
  assert.notEqual(new X509Certificate(other.certPem).serialNumber, cert.serialNumber)
  assert.notEqual(other.keyPem, issued.keyPem, 'a fresh key pair per certificate')
  assert.ok(Number.parseInt(cert.serialNumber.slice(0, 2), 16) < 0x80)
  // The DER is canonical: parsing it with the X.509 schema and encoding it again gives the same bytes.
  assert.ok(Buffer.from(AsnConvert.serialize(AsnConvert.parse(cert.raw, asn.Certificate))).equals(cert.raw))
})

test('client certificate: clientAuth only and signed by the CA', async () => {
  const ca = await createCertificateAuthority('belt CA (t)', ecdsa)
  const client = await issueClientCertificate(ca, 'belt client (t)', ecdsa)
  const info = describeCertificate(client.certPem)
  assert.deepEqual(info.extendedKeyUsage, ['1.3.6.1.5.5.7.3.2'])
  assert.deepEqual(info.sans, [])
  assert.ok(isIssuedBy(client.certPem, ca))
})

test('a certificate from another CA, other SANs or near expiry is reported', async () => {
  const ca = await createCertificateAuthority('belt CA (a)', ecdsa)
  const other = await createCertificateAuthority('belt CA (b)', ecdsa)
  const sans = ['node1', 'localhost', '10.0.0.1', '127.0.0.1']
  const foreign = await issueServerCertificate(other, 'node1', sans, ecdsa)
  assert.equal(isIssuedBy(foreign.certPem, ca), false)
  assert.match(serverCertificateProblems(foreign.certPem, ca, sans).join('; '), /not issued by this cluster's CA/)
  const good = await issueServerCertificate(ca, 'node1', sans, ecdsa)
  const moved = serverCertificateProblems(good.certPem, ca, ['node1', 'localhost', '10.0.0.2', '127.0.0.1'])
  assert.equal(moved.length, 1)
  assert.match(moved[0], /SANs differ \(missing 10\.0\.0\.2; not wanted 10\.0\.0\.1\)/)
  const old = await issueServerCertificate(ca, 'node1', sans, {...ecdsa, certDays: 740}, new Date(Date.now() - 720 * DAY))
  assert.match(serverCertificateProblems(old.certPem, ca, sans).join('; '), /expires in (19|20) days/)
  assert.match(serverCertificateProblems('garbage', ca, sans).join('; '), /not a certificate/)
  const client = await issueClientCertificate(ca, 'c', ecdsa)
  assert.match(serverCertificateProblems(client.certPem, ca, []).join('; '), /not a server certificate/)
})

test('RSA option: RSA-2048 keys, sha256WithRSAEncryption, keyEncipherment for server certificates', async () => {
  const rsa: TlsPolicy = {...ecdsa, keyType: 'rsa'}
  const ca = await createCertificateAuthority('belt CA (rsa)', rsa)
  assert.equal(ca.cert.publicKey.asymmetricKeyType, 'rsa')
  assert.equal(ca.cert.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
  assert.equal(signatureOid(ca.certPem), '1.2.840.113549.1.1.11')
  const server = await issueServerCertificate(ca, 'n', ['n', '127.0.0.1'], rsa)
  const F = asn.KeyUsageFlags
  assert.equal(keyUsageBits(server.certPem), F.digitalSignature | F.keyEncipherment)
  assert.ok(isIssuedBy(server.certPem, ca))
  const client = await issueClientCertificate(ca, 'c', rsa)
  await assertMutualTls(ca.certPem, server, client)
})

test('loading a CA checks that the key belongs to it', async () => {
  const a = await createCertificateAuthority('a', ecdsa)
  const b = await createCertificateAuthority('b', ecdsa)
  const again = loadCertificateAuthority(a.certPem, a.keyPem)
  const s = await issueServerCertificate(again, 'n', ['n'], ecdsa)
  assert.ok(isIssuedBy(s.certPem, a), 'a reloaded CA issues certificates chained to the same CA (same subject and key id)')
  assert.throws(() => loadCertificateAuthority(a.certPem, b.keyPem), (e: unknown) => e instanceof UsageError && /does not belong/.test(e.message))
  const leaf = await issueClientCertificate(a, 'c', ecdsa)
  assert.throws(() => loadCertificateAuthority(leaf.certPem, leaf.keyPem), /not a CA/)
})

async function assertMutualTls(caPem: string, server: {certPem: string; keyPem: string}, client: {certPem: string; keyPem: string}): Promise<void> {
  const srv = createTlsServer({cert: server.certPem, key: server.keyPem, ca: caPem, requestCert: true, rejectUnauthorized: true}, (s) => s.end('hello'))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const port = (srv.address() as AddressInfo).port
  try {
    const connect = (opts: Record<string, unknown>) =>
      new Promise<string>((resolve, reject) => {
        const sock: TLSSocket = tlsConnect({host: '127.0.0.1', port, ca: caPem, ...opts}, () => {
          let data = ''
          sock.on('data', (d) => (data += d))
          sock.on('end', () => resolve(data))
        })
        sock.on('error', reject)
      })
    assert.equal(await connect({cert: client.certPem, key: client.keyPem}), 'hello', 'mutual TLS succeeds')
    // Without a client certificate the server refuses (TLS 1.3 reports it after the handshake, as a read error).
    await assert.rejects(connect({}), /certificate required|alert|ECONNRESET|socket hang up/i)
  } finally {
    srv.close()
  }
}

test('mutual TLS with ECDSA certificates through OpenSSL; a name outside the SANs is refused', async () => {
  const ca = await createCertificateAuthority('belt CA (t)', ecdsa)
  const server = await issueServerCertificate(ca, 'node1', serverSans({name: 'node1', public_ip: '127.0.0.1', private_ip: null}), ecdsa)
  const client = await issueClientCertificate(ca, 'belt client (t)', ecdsa)
  await assertMutualTls(ca.certPem, server, client)
  const srv = createTlsServer({cert: server.certPem, key: server.keyPem}, (s) => s.end('x'))
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  try {
    const port = (srv.address() as AddressInfo).port
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tlsConnect({host: '127.0.0.1', port, ca: ca.certPem, servername: 'elsewhere.example'}, () => resolve(s))
        s.on('error', reject)
      }),
      (e: Error & {code?: string}) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID',
    )
  } finally {
    srv.close()
  }
})

test('openssl verify accepts the chain and the purposes', {skip: skipUnless({commands: ['openssl']})}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'belt-tls-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  const ca = await createCertificateAuthority('belt CA (t)', ecdsa)
  const server = await issueServerCertificate(ca, 'node1', ['node1', '10.0.0.1'], ecdsa)
  const client = await issueClientCertificate(ca, 'c', ecdsa)
  writeFileSync(join(dir, 'ca.pem'), ca.certPem)
  writeFileSync(join(dir, 'server.pem'), server.certPem)
  writeFileSync(join(dir, 'cert.pem'), client.certPem)
  const ok = (r: {code: number; stdout: string; stderr: string}) => assert.equal(r.code, 0, r.stdout + r.stderr)
  ok(await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslserver', join(dir, 'server.pem')]))
  ok(await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslclient', join(dir, 'cert.pem')]))
  ok(await run('openssl', ['verify', '-x509_strict', '-CAfile', join(dir, 'ca.pem'), '-verify_ip', '10.0.0.1', join(dir, 'server.pem')]))
  const wrongIp = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-verify_ip', '10.0.0.2', join(dir, 'server.pem')])
  assert.equal(wrongIp.code, 2, wrongIp.stdout + wrongIp.stderr)
  assert.match(wrongIp.stdout + wrongIp.stderr, /IP address mismatch/)
  const wrongPurpose = await run('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), '-purpose', 'sslclient', join(dir, 'server.pem')])
  assert.equal(wrongPurpose.code, 2, wrongPurpose.stdout + wrongPurpose.stderr)
  assert.match(wrongPurpose.stdout + wrongPurpose.stderr, /unsuitable certificate purpose/)
})

test('the stock docker CLI (Go TLS) accepts the CA, the server certificate and presents the client certificate', {skip: skipUnless({commands: ['docker']})}, async (t) => {
  const cluster = scratchCluster()
  t.after(() => rmSync(cluster.dir, {recursive: true, force: true}))
  const tls = await ensureClusterTls(cluster, ecdsa)
  const server = await issueServerCertificate(tls.ca, 'node1', serverSans({name: 'node1', public_ip: '127.0.0.1', private_ip: null}), ecdsa)
  let sawClient = ''
  // An HTTPS server answering like dockerd, demanding a client certificate from our CA.
  const srv = createHttpsServer({cert: server.certPem, key: server.keyPem, ca: tls.ca.certPem, requestCert: true, rejectUnauthorized: true}, (req, res) => {
    sawClient = String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? '')
    res.setHeader('Content-Type', 'application/json')
    res.setHeader('Api-Version', '1.41')
    if (req.url?.endsWith('/_ping')) return res.end('OK')
    res.end(JSON.stringify({Version: '99.0.0-belt-test', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64', Components: []}))
  })
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  t.after(() => srv.close())
  const port = (srv.address() as AddressInfo).port
  const env = {PATH: process.env.PATH, HOME: cluster.dir, DOCKER_TLS_VERIFY: '1', DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CERT_PATH: tls.paths.dir}
  const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], env)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout.trim(), '99.0.0-belt-test')
  assert.equal(sawClient, 'belt client (t)')
  // The same server reached through a name that is not in its SANs: Go refuses.
  const bad = await run('docker', ['version'], {...env, DOCKER_HOST: `tcp://127.0.0.2:${port}`})
  assert.notEqual(bad.code, 0)
})

function scratchCluster(): Cluster {
  const root = mkdtempSync(join(tmpdir(), 'belt-tls-cluster-'))
  const dir = join(root, '.belt', 't')
  return {name: 't', dir, configPath: join(dir, 'config.yml'), driver: 'local', id: null, settings: resolveSettings('local', {}), block: {}, state: new StateStore(dir)}
}

test('cluster certs folder: created once, keys 0600, reused, client reissued on request', async (t) => {
  const cluster = scratchCluster()
  t.after(() => rmSync(join(cluster.dir, '..', '..'), {recursive: true, force: true}))
  const first = await ensureClusterTls(cluster, ecdsa)
  assert.deepEqual(first.created, ['ca', 'client'])
  const p = clusterTlsPaths(cluster)
  assert.equal(statSync(p.caKey).mode & 0o777, 0o600)
  assert.equal(statSync(p.key).mode & 0o777, 0o600)
  assert.equal(statSync(p.dir).mode & 0o777, 0o700)
  assert.equal(statSync(p.ca).mode & 0o077, 0o044 & statSync(p.ca).mode)
  const second = await ensureClusterTls(cluster, ecdsa)
  assert.deepEqual(second.created, [])
  assert.equal(second.ca.certPem, first.ca.certPem)
  assert.equal(second.client.certPem, first.client.certPem)
  const third = await ensureClusterTls(cluster, ecdsa, {reissueClient: true})
  assert.deepEqual(third.created, ['client'])
  assert.notEqual(third.client.certPem, first.client.certPem)
  assert.equal(readFileSync(p.cert, 'utf8'), third.client.certPem)
  assert.ok(isIssuedBy(third.client.certPem, first.ca))
  // A client certificate from a foreign CA (e.g. copied in by hand) is replaced.
  const foreign = await issueClientCertificate(await createCertificateAuthority('x', ecdsa), 'c', ecdsa)
  writeFileSync(p.cert, foreign.certPem)
  writeFileSync(p.key, foreign.keyPem)
  const fourth = await ensureClusterTls(cluster, ecdsa)
  assert.deepEqual(fourth.created, ['client'])
  assert.ok(isIssuedBy(readFileSync(p.cert, 'utf8'), first.ca))
})

test('SAN helpers: canonical spelling, dedupe, validation; tls settings', () => {
  assert.equal(normalizeSan('2001:DB8:0:0:0:0:0:1'), '2001:db8::1')
  assert.equal(normalizeSan('Node1.Example.'), 'node1.example')
  assert.ok(sameSans(['a', '10.0.0.1'], ['10.0.0.1', 'A']))
  assert.ok(!sameSans(['a'], ['a', 'b']))
  assert.deepEqual(serverSans({name: 'n', public_ip: '10.0.0.1', private_ip: '10.0.0.1', host: '10.0.0.1'}, ['localhost', '127.0.0.1']), ['n', 'localhost', '10.0.0.1', '127.0.0.1'])
  for (const good of ['docker.example.com', '*.example.com', '10.1.2.3', '::1', 'a']) checkSan(good)
  for (const bad of ['a b', 'http://x', 'x_y.example', '-a', '']) assert.throws(() => checkSan(bad), UsageError, bad)
  assert.deepEqual(tlsPolicy({tls_key_type: 'rsa', tls_ca_days: 10, tls_cert_days: 5, tls_san: ['a.example', '10.0.0.9']}), {keyType: 'rsa', caDays: 10, certDays: 5, extraSans: ['a.example', '10.0.0.9']})
  assert.deepEqual(tlsPolicy({}), {keyType: 'ecdsa', caDays: 3650, certDays: 730, extraSans: []})
  assert.throws(() => tlsPolicy({tls_san: ['bad name']}), /tls_san: 'bad name'/)
})
