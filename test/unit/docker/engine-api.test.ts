// The mutual-TLS Engine API client against a real HTTPS server (Node/OpenSSL) answering like dockerd.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {createServer, type Server} from 'node:https'
import {createServer as createNetServer, type AddressInfo} from 'node:net'
import {X509Certificate} from 'node:crypto'
import {checkEngine, EngineError, readPresentedCertificate, waitForEngine} from '../../../src/docker/engine-api.js'
import {createCertificateAuthority, issueClientCertificate, issueServerCertificate, type TlsPolicy} from '../../../src/docker/tls.js'

const policy: TlsPolicy = {keyType: 'ecdsa', caDays: 3650, certDays: 730, extraSans: []}

async function fixture() {
  const ca = await createCertificateAuthority('belt CA (api)', policy)
  const server = await issueServerCertificate(ca, 'node1', ['node1', 'localhost', '127.0.0.1'], policy)
  const client = await issueClientCertificate(ca, 'belt client (api)', policy)
  return {ca, server, client, tls: {ca: ca.certPem, cert: client.certPem, key: client.keyPem}}
}

function fakeDockerd(cert: {certPem: string; keyPem: string}, caPem: string): Server {
  return createServer({cert: cert.certPem, key: cert.keyPem, ca: caPem, requestCert: true, rejectUnauthorized: true}, (req, res) => {
    if (req.url === '/_ping') return res.end('OK')
    if (req.url === '/version') return res.end(JSON.stringify({Version: '27.0.0', ApiVersion: '1.46', Os: 'linux', Arch: 'amd64'}))
    res.statusCode = 404
    res.end('{"message":"page not found"}')
  })
}

function listen(srv: Server | ReturnType<typeof createNetServer>, port = 0): Promise<number> {
  return new Promise((resolve) => srv.listen(port, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port)))
}

test('checkEngine: GET /_ping and /version over mutual TLS, returning the presented certificate', async (t) => {
  const f = await fixture()
  const srv = fakeDockerd(f.server, f.ca.certPem)
  const port = await listen(srv)
  t.after(() => srv.close())
  const r = await checkEngine({host: '127.0.0.1', port}, f.tls)
  assert.equal(r.version.Version, '27.0.0')
  assert.equal(r.version.ApiVersion, '1.46')
  assert.equal(r.fingerprint256, new X509Certificate(f.server.certPem).fingerprint256)
  assert.equal(new X509Certificate(r.serverCertPem).fingerprint256, r.fingerprint256)
})

test('checkEngine refuses a daemon from another CA, a name outside the SANs, and reports a closed port', async (t) => {
  const f = await fixture()
  const other = await createCertificateAuthority('belt CA (other)', policy)
  const foreign = await issueServerCertificate(other, 'node1', ['127.0.0.1'], policy)
  // The foreign daemon trusts our client CA, so only our check of its certificate can refuse.
  const srv = fakeDockerd(foreign, f.ca.certPem)
  const port = await listen(srv)
  t.after(() => srv.close())
  await assert.rejects(checkEngine({host: '127.0.0.1', port}, f.tls), /not issued by this cluster's CA/)

  const narrow = await issueServerCertificate(f.ca, 'node1', ['node1', '10.9.9.9'], policy)
  const srv2 = fakeDockerd(narrow, f.ca.certPem)
  const port2 = await listen(srv2)
  t.after(() => srv2.close())
  await assert.rejects(checkEngine({host: '127.0.0.1', port: port2}, f.tls), /does not name 127\.0\.0\.1.*regenerate-certs/)

  const closed = createNetServer()
  const freePort = await listen(closed)
  await new Promise((r) => closed.close(r))
  await assert.rejects(checkEngine({host: '127.0.0.1', port: freePort}, f.tls), /connection refused on 127\.0\.0\.1:\d+/)
})

test('a daemon that demands a client certificate refuses a client without one, and one from another CA', async (t) => {
  const f = await fixture()
  const srv = fakeDockerd(f.server, f.ca.certPem)
  const port = await listen(srv)
  t.after(() => srv.close())
  await assert.rejects(checkEngine({host: '127.0.0.1', port}, {ca: f.ca.certPem} as typeof f.tls),
    (e: unknown) => e instanceof EngineError && e.kind === 'tls' && /alert certificate required/.test(e.message))
  const stranger = await issueClientCertificate(await createCertificateAuthority('x', policy), 'stranger', policy)
  // TLS 1.3: the daemon refuses the certificate after the client finished its handshake, with an "unknown ca"
  // alert and a closed connection; which of the two the client reads first is a race.
  await assert.rejects(checkEngine({host: '127.0.0.1', port}, {ca: f.ca.certPem, cert: stranger.certPem, key: stranger.keyPem}),
    (e: unknown) => e instanceof EngineError && /alert unknown ca|connection reset by 127\.0\.0\.1:\d+/.test(e.message))
})

test('readPresentedCertificate reads an untrusted or misnamed certificate and says why', async (t) => {
  const f = await fixture()
  const other = await createCertificateAuthority('belt CA (other)', policy)
  const foreign = await issueServerCertificate(other, 'node1', ['10.9.9.9'], policy)
  const srv = fakeDockerd(foreign, f.ca.certPem)
  const port = await listen(srv)
  t.after(() => srv.close())
  const p = await readPresentedCertificate({host: '127.0.0.1', port}, f.tls)
  assert.equal(new X509Certificate(p.certPem).fingerprint256, new X509Certificate(foreign.certPem).fingerprint256)
  assert.equal(p.trusted, false)
  assert.match(p.trustError ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i)
  assert.equal(p.hostMatches, false)
  assert.match(p.hostError ?? '', /127\.0\.0\.1/)

  const good = fakeDockerd(f.server, f.ca.certPem)
  const port2 = await listen(good)
  t.after(() => good.close())
  const q = await readPresentedCertificate({host: '127.0.0.1', port: port2}, f.tls)
  assert.deepEqual([q.trusted, q.hostMatches, q.trustError, q.hostError], [true, true, null, null])
})

test('waitForEngine waits for a daemon that starts late, and gives up with the last reason', async (t) => {
  const f = await fixture()
  const probe = createNetServer()
  const port = await listen(probe)
  await new Promise((r) => probe.close(r))
  const srv = fakeDockerd(f.server, f.ca.certPem)
  t.after(() => srv.close())
  let attempts = 0
  const origin = {host: '127.0.0.1', port}
  // Start the daemon once the client has been refused at least once.
  const waiting = waitForEngine(origin, f.tls, {timeoutMs: 20_000, intervalMs: 50})
  const started = (async () => {
    while (attempts === 0) {
      try {
        await checkEngine(origin, f.tls, {timeoutMs: 1000})
      } catch {
        attempts++
      }
    }
    await listen(srv, port)
  })()
  const r = await waiting
  await started
  assert.equal(r.version.Version, '27.0.0')
  await assert.rejects(waitForEngine({host: '127.0.0.1', port: await closedPort()}, f.tls, {timeoutMs: 300, intervalMs: 50}), /did not answer over TLS within 0\.3s: connection refused/)
})

async function closedPort(): Promise<number> {
  const s = createNetServer()
  const p = await listen(s)
  await new Promise((r) => s.close(r))
  return p
}

test('errors say whether anything answered: refused, or accepted and hung', async (t) => {
  const f = await fixture()
  const port = await closedPort()
  await assert.rejects(checkEngine({host: '127.0.0.1', port}, f.tls), (e: unknown) => e instanceof EngineError && e.kind === 'refused')
  // A daemon that accepts the connection and never speaks: the daemon's fault, not the network's.
  const sockets: import('node:net').Socket[] = []
  const hung = createNetServer((s) => void sockets.push(s))
  const hungPort = await listen(hung)
  t.after(() => {
    for (const s of sockets) s.destroy()
    hung.close()
  })
  await assert.rejects(checkEngine({host: '127.0.0.1', port: hungPort}, f.tls, {timeoutMs: 300}),
    (e: unknown) => e instanceof EngineError && e.kind === 'http' && /accepted the connection but did not answer within 0\.3s/.test(e.message))
})
