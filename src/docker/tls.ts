// TLS material for Docker's TCP socket: one CA per cluster, the operator's client certificate and a server
// certificate per node. Everything is issued here and nowhere else; the CA key never leaves this machine.
//
// The CA and the client certificate (one each per cluster) are made by @peculiar/x509. Server certificates are made
// per node, 2,000 in one `belt provision`; there @peculiar/x509 (WebCrypto behind a DI container) costs ~3.8 ms each,
// 7.6 s for 2,000, so they take a fast path of ~0.5 ms (bench/tls.ts): @peculiar/asn1-x509 schema types signed with
// Node's crypto, what every certificate of one issuer shares encoded once and written again as stored DER, and the
// outer Certificate SEQUENCE put around the TBS bytes just signed. All three kinds share one profile of extensions.
import {chmodSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {isIP} from 'node:net'
import {promisify} from 'node:util'
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPair as generateKeyPairCb,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  sign as signCb,
  sign as signSync,
  webcrypto,
  X509Certificate,
} from 'node:crypto'
import type * as X509 from '@peculiar/x509'
import * as asn from '@peculiar/asn1-x509'
import {AsnConvert, OctetString} from '@peculiar/asn1-schema'
import * as asn1js from 'asn1js'
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import {writeFileAtomic} from '../core/config/atomic.js'
import {UsageError} from '../core/errors.js'

export type TlsKeyType = 'ecdsa' | 'rsa'

export interface TlsPolicy {
  keyType: TlsKeyType
  /** Validity of the CA, in days (tls_ca_days, default 3650). */
  caDays: number
  /** Validity of server and client certificates, in days (tls_cert_days, default 730). */
  certDays: number
  /** Extra SANs for every server certificate (tls_san). */
  extraSans: string[]
}

/** NotBefore is set this far in the past so a node whose clock runs a little behind accepts a fresh certificate. */
export const BACKDATE_MS = 5 * 60_000
/** `belt certs` warns, and `provision` reissues, when a certificate has fewer days left than this. */
export const EXPIRY_WARNING_DAYS = 30
const DAY_MS = 86_400_000

export function tlsPolicy(settings: Record<string, unknown>): TlsPolicy {
  const keyType = String(settings.tls_key_type ?? 'ecdsa')
  if (keyType !== 'ecdsa' && keyType !== 'rsa') throw new UsageError(`tls_key_type must be ecdsa or rsa, got '${keyType}'`)
  const extra = (Array.isArray(settings.tls_san) ? settings.tls_san : []).map((s) => String(s).trim()).filter(Boolean)
  for (const s of extra) checkSan(s)
  return {
    keyType,
    caDays: Number(settings.tls_ca_days ?? 3650),
    certDays: Number(settings.tls_cert_days ?? 730),
    extraSans: extra,
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys and signing

export interface KeyPair {
  privateKey: KeyObject
  publicKey: KeyObject
}

const generateKeyPairAsync = promisify(generateKeyPairCb)

/**
 * A fresh key pair: ECDSA P-256 (fast, small, what Docker and Go prefer) or RSA 2048 (~50-100 ms each). A P-256
 * key takes ~50 µs, less than a round trip through the thread pool, so it is made in line; RSA goes to the pool.
 */
export async function generateKeyPair(type: TlsKeyType): Promise<KeyPair> {
  if (type === 'rsa') return generateKeyPairAsync('rsa', {modulusLength: 2048})
  return generateKeyPairSync('ec', {namedCurve: 'P-256'})
}

/** ECDSA signs in line (~0.1 ms, cheaper than the thread-pool round trip); RSA signs on the thread pool. */
function signData(data: Buffer, key: KeyObject): Promise<Buffer> {
  if (key.asymmetricKeyType === 'ec') return Promise.resolve(signSync('sha256', data, {key, dsaEncoding: 'der'}))
  return new Promise((resolve, reject) => {
    signCb('sha256', data, key.asymmetricKeyType === 'ec' ? {key, dsaEncoding: 'der'} : key, (err, sig) => (err ? reject(err) : resolve(sig)))
  })
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'
const SHA256_WITH_RSA = '1.2.840.113549.1.1.11'
/** Name attribute types (RFC 5280 §4.1.2.4): organizationName and commonName. */
const OID_ORGANIZATION = '2.5.4.10'
const OID_COMMON_NAME = '2.5.4.3'
/** asn1js numbers tag classes 1-4 (universal, application, context-specific, private) rather than by X.690's bits. */
const ASN1JS_CLASS_UNIVERSAL = 1
/** X.690 universal tag 16: SEQUENCE (constructed). Certificate ::= SEQUENCE {...}. */
const TAG_SEQUENCE = 16
/** SEC 1 §2.3.3: an uncompressed elliptic-curve point is 0x04, then x, then y. */
const EC_POINT_UNCOMPRESSED = 0x04

function signatureAlgorithm(signer: KeyObject): asn.AlgorithmIdentifier {
  // RFC 4055: sha256WithRSAEncryption carries an explicit NULL parameter; ECDSA carries none (RFC 5758).
  return signer.asymmetricKeyType === 'ec'
    ? new asn.AlgorithmIdentifier({algorithm: ECDSA_WITH_SHA256})
    : new asn.AlgorithmIdentifier({algorithm: SHA256_WITH_RSA, parameters: null})
}

function arrayBuffer(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer
}

function toPem(der: Buffer): string {
  return `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`
}

function privateKeyPem(key: KeyObject): string {
  return key.export({type: 'pkcs8', format: 'pem'}).toString()
}

// ---------------------------------------------------------------------------------------------------------------
// Certificate profiles

export type CertificateKind = 'ca' | 'server' | 'client'

interface CertificateRequest {
  kind: CertificateKind
  commonName: string
  /** Server certificates only: DNS names and IP addresses. */
  sans?: string[]
  days: number
  publicKey: KeyObject
  now?: Date
}

function name(commonName: string): asn.Name {
  const attr = (type: string, value: string) =>
    new asn.RelativeDistinguishedName([new asn.AttributeTypeAndValue({type, value: new asn.AttributeValue({utf8String: value})})])
  return new asn.Name([attr(OID_ORGANIZATION, 'belt'), attr(OID_COMMON_NAME, commonName)])
}

function extension(id: string, critical: boolean, value: unknown): asn.Extension {
  return new asn.Extension({extnID: id, critical, extnValue: new OctetString(AsnConvert.serialize(value))})
}

let p256Algorithm: asn.AlgorithmIdentifier | null = null

/** 04 || x || y of an uncompressed P-256 point. */
const P256_POINT_BYTES = 65

/**
 * The key as X.509 wants it, and its key identifier (RFC 5280 §4.2.1.2 method 1: SHA-1 of the public key bits).
 * A P-256 key is built from its point around a constant algorithm identifier instead of parsing its
 * DER each time: the parse is a tenth of a certificate's cost.
 */
function publicKeyInfo(key: KeyObject): {spki: asn.SubjectPublicKeyInfo; keyId: Buffer} {
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    // The point is the last 65 bytes of the key's SPKI DER (04 || x || y). Not JWK: Node 20's JWK export of a key whose
    // generating job the GC collects meanwhile deadlocks the process (both take the key's mutex).
    const der = key.export({type: 'spki', format: 'der'})
    const point = der.subarray(der.length - P256_POINT_BYTES)
    if (point[0] !== EC_POINT_UNCOMPRESSED) throw new Error('unexpected P-256 public key encoding')
    p256Algorithm ??= AsnConvert.parse(der, asn.SubjectPublicKeyInfo).algorithm
    return {spki: new asn.SubjectPublicKeyInfo({algorithm: p256Algorithm, subjectPublicKey: arrayBuffer(point)}), keyId: sha1(point)}
  }
  const spki = AsnConvert.parse(key.export({type: 'spki', format: 'der'}), asn.SubjectPublicKeyInfo)
  return {spki, keyId: sha1(Buffer.from(spki.subjectPublicKey))}
}

function sha1(data: Buffer): Buffer {
  return createHash('sha1').update(data).digest()
}

function keyUsage(kind: CertificateKind, subjectKey: KeyObject): number {
  const F = asn.KeyUsageFlags
  if (kind === 'ca') return F.keyCertSign | F.cRLSign | F.digitalSignature
  // RSA key exchange (TLS 1.2 without ECDHE) needs keyEncipherment; ECDSA keys only ever sign.
  return subjectKey.asymmetricKeyType === 'rsa' ? F.digitalSignature | F.keyEncipherment : F.digitalSignature
}

function generalName(san: string): asn.GeneralName {
  return isIP(san) ? new asn.GeneralName({iPAddress: san}) : new asn.GeneralName({dNSName: san})
}

/**
 * A value encoded once and written again as the stored bytes. What is the same in every certificate an issuer
 * signs (its name, the signature algorithm, the fixed extensions) would otherwise go through the schema encoder
 * each time, which was half the cost of a certificate. asn1-schema uses toASN() for any value that has it.
 */
class Encoded {
  readonly der: Buffer
  private readonly block: asn1js.BaseBlock

  constructor(value: unknown) {
    this.der = Buffer.from(AsnConvert.serialize(value))
    // The header's length comes from the library's own parse; the block writes the same tag and the stored content.
    const parsed = asn1js.fromBER(this.der).result
    const content = this.der.subarray(parsed.idBlock.blockLength + parsed.lenBlock.blockLength)
    this.block = storedBlock(parsed.idBlock.tagClass, parsed.idBlock.tagNumber, parsed.idBlock.isConstructed, content)
  }

  toASN(): asn1js.BaseBlock {
    return this.block
  }

  fromASN(): never {
    throw new Error('Encoded values are write-only')
  }

  /** Typed as the schema type it stands in for. */
  as<T>(): T {
    return this as unknown as T
  }
}

/** A block with the given tag whose content is already-encoded DER, written as is (asn1js computes the length). */
function storedBlock(tagClass: number, tagNumber: number, constructed: boolean, content: Uint8Array): asn1js.BaseBlock {
  const block = new asn1js.Primitive({idBlock: {tagClass, tagNumber}, valueHex: content})
  block.idBlock.isConstructed = constructed
  return block
}

interface Issuer {
  name: asn.Name
  key: KeyObject
  keyId: Buffer
  /** Its encoded name, signature algorithm and fixed extensions per kind and key type, made on first use. */
  cache: Map<string, Encoded[]>
}

/** The extensions every certificate of a kind carries, whoever builds it: constraints, key usage, issuer key id. */
function profileExtensions(kind: CertificateKind, subjectKey: KeyObject, issuerKeyId: Buffer): asn.Extension[] {
  const constraints = kind === 'ca' ? new asn.BasicConstraints({cA: true, pathLenConstraint: 0}) : new asn.BasicConstraints({cA: false})
  const list = [
    extension(asn.id_ce_basicConstraints, true, constraints),
    extension(asn.id_ce_keyUsage, true, new asn.KeyUsage(keyUsage(kind, subjectKey))),
    extension(asn.id_ce_authorityKeyIdentifier, false, new asn.AuthorityKeyIdentifier({keyIdentifier: new OctetString(arrayBuffer(issuerKeyId))})),
  ]
  if (kind === 'server') list.push(extension(asn.id_ce_extKeyUsage, false, new asn.ExtendedKeyUsage([asn.id_kp_serverAuth])))
  if (kind === 'client') list.push(extension(asn.id_ce_extKeyUsage, false, new asn.ExtendedKeyUsage([asn.id_kp_clientAuth])))
  return list
}

/** The extensions of this one certificate: its key id and, for servers, its SANs. */
function subjectExtensions(keyId: Buffer, sans: string[] | undefined): asn.Extension[] {
  const list = [extension(asn.id_ce_subjectKeyIdentifier, false, new asn.SubjectKeyIdentifier(arrayBuffer(keyId)))]
  if (sans?.length) list.push(extension(asn.id_ce_subjectAltName, false, new asn.SubjectAlternativeName(sans.map(generalName))))
  return list
}

function serialNumber(): Buffer {
  const serial = randomBytes(16)
  serial[0] = (serial[0] & 0x7f) | 0x01 // positive, and exactly 16 bytes once DER-encoded
  return serial
}

function validity(req: CertificateRequest): {notBefore: Date; notAfter: Date} {
  const now = req.now?.getTime() ?? Date.now()
  return {notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + req.days * DAY_MS)}
}

function cached(issuer: Issuer, key: string, make: () => Encoded[]): Encoded[] {
  let v = issuer.cache.get(key)
  if (!v) issuer.cache.set(key, (v = make()))
  return v
}

/** The fast path, for the per-node server certificates: shared parts encoded once per issuer, Node's crypto signs. */
async function buildFast(req: CertificateRequest, issuer: Issuer): Promise<Buffer> {
  const {spki, keyId} = publicKeyInfo(req.publicKey)
  const [issuerName, algorithm] = cached(issuer, 'issuer', () => [new Encoded(issuer.name), new Encoded(signatureAlgorithm(issuer.key))])
  const fixed = cached(issuer, `${req.kind}/${req.publicKey.asymmetricKeyType}`, () =>
    profileExtensions(req.kind, req.publicKey, issuer.keyId).map((e) => new Encoded(e)))
  const tbs = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: arrayBuffer(serialNumber()),
    signature: algorithm.as<asn.AlgorithmIdentifier>(),
    issuer: issuerName.as<asn.Name>(),
    validity: new asn.Validity(validity(req)),
    subject: name(req.commonName),
    subjectPublicKeyInfo: spki,
    extensions: new asn.Extensions([...fixed.map((e) => e.as<asn.Extension>()), ...subjectExtensions(keyId, req.sans)]),
  })
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs))
  const signature = await signData(tbsDer, issuer.key)
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }, around the TBS bytes
  // just signed (encoding an asn.Certificate would encode the TBS a second time).
  const content = Buffer.concat([tbsDer, algorithm.der, Buffer.from(new asn1js.BitString({valueHex: signature}).toBER())])
  return Buffer.from(storedBlock(ASN1JS_CLASS_UNIVERSAL, TAG_SEQUENCE, true, content).toBER())
}

let x509Library: Promise<typeof X509> | null = null

/**
 * @peculiar/x509, loaded on first use (commands that only read certificates never pay for it). Its DI container
 * (tsyringe) refuses to load without the Reflect metadata API and only ever reads constructor parameter types, which
 * x509's build does not record; when no polyfill is present a minimal one (three functions over a WeakMap) is added.
 */
function x509(): Promise<typeof X509> {
  x509Library ??= (async () => {
    const R = Reflect as unknown as Record<string, unknown>
    if (typeof R.getMetadata !== 'function') {
      const store = new WeakMap<object, Map<PropertyKey | undefined, Map<unknown, unknown>>>()
      const own = (target: object, property?: PropertyKey) => store.get(target)?.get(property)
      R.defineMetadata = (key: unknown, value: unknown, target: object, property?: PropertyKey) => {
        const byProperty = store.get(target) ?? new Map<PropertyKey | undefined, Map<unknown, unknown>>()
        store.set(target, byProperty)
        const entries = byProperty.get(property) ?? new Map<unknown, unknown>()
        byProperty.set(property, entries)
        entries.set(key, value)
      }
      R.getOwnMetadata = (key: unknown, target: object, property?: PropertyKey) => own(target, property)?.get(key)
      R.getMetadata = (key: unknown, target: object, property?: PropertyKey) => {
        for (let o: object | null = target; o; o = Object.getPrototypeOf(o)) {
          const entries = own(o, property)
          if (entries?.has(key)) return entries.get(key)
        }
        return undefined
      }
    }
    return import('@peculiar/x509')
  })()
  return x509Library
}

const WEBCRYPTO_CURVES: Record<string, string> = {prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521'}

/** The signer as WebCrypto wants it, with the algorithm belt signs with (ECDSA or PKCS #1 v1.5, SHA-256). */
async function webSigner(key: KeyObject): Promise<{key: CryptoKey; algorithm: EcdsaParams | RsaHashedImportParams}> {
  const pkcs8 = key.export({type: 'pkcs8', format: 'der'})
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve
    const namedCurve = WEBCRYPTO_CURVES[curve ?? '']
    if (!namedCurve) throw new UsageError(`ca-key.pem: curve ${curve} is not supported (P-256, P-384 or P-521)`)
    const imported = await webcrypto.subtle.importKey('pkcs8', pkcs8, {name: 'ECDSA', namedCurve}, false, ['sign'])
    return {key: imported, algorithm: {name: 'ECDSA', hash: 'SHA-256'}}
  }
  if (key.asymmetricKeyType === 'rsa') {
    const algorithm = {name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256'}
    return {key: await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']), algorithm}
  }
  throw new UsageError(`ca-key.pem: a ${key.asymmetricKeyType} key cannot sign certificates here (ECDSA or RSA)`)
}

type Signer = Pick<Issuer, 'name' | 'keyId' | 'key'>

/** The CA and the client certificate: built and signed by @peculiar/x509, with the same profile as the fast path. */
async function buildWithX509(req: CertificateRequest, issuer: Signer, subjectKeyId: Buffer): Promise<Buffer> {
  const lib = await x509()
  const signer = await webSigner(issuer.key)
  const extensions = [...profileExtensions(req.kind, req.publicKey, issuer.keyId), ...subjectExtensions(subjectKeyId, req.sans)]
  const cert = await lib.X509CertificateGenerator.create({
    serialNumber: serialNumber().toString('hex'),
    subject: new lib.Name(AsnConvert.serialize(name(req.commonName))),
    issuer: new lib.Name(AsnConvert.serialize(issuer.name)),
    ...validity(req),
    publicKey: req.publicKey.export({type: 'spki', format: 'der'}),
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: extensions.map((e) => new lib.Extension(AsnConvert.serialize(e))),
  }, webcrypto as unknown as Crypto)
  return Buffer.from(cert.rawData)
}

// ---------------------------------------------------------------------------------------------------------------
// The CA and what it issues

export interface CertificateAuthority {
  certPem: string
  keyPem: string
  cert: X509Certificate
  key: KeyObject
  /** Internal: subject and key id copied into every certificate it issues. */
  issuer: Issuer
}

export interface IssuedCertificate {
  certPem: string
  keyPem: string
}

export async function createCertificateAuthority(commonName: string, policy: TlsPolicy, now?: Date): Promise<CertificateAuthority> {
  const pair = await generateKeyPair(policy.keyType)
  const keyId = publicKeyInfo(pair.publicKey).keyId
  const self = {name: name(commonName), keyId, key: pair.privateKey}
  const der = await buildWithX509({kind: 'ca', commonName, days: policy.caDays, publicKey: pair.publicKey, now}, self, keyId)
  return loadCertificateAuthority(toPem(der), privateKeyPem(pair.privateKey))
}

/** Parse a CA from PEM, checking that the key belongs to the certificate and that it is a CA. */
export function loadCertificateAuthority(certPem: string, keyPem: string): CertificateAuthority {
  const cert = new X509Certificate(certPem)
  const key = createPrivateKey(keyPem)
  if (!cert.ca) throw new UsageError('ca.pem is not a CA certificate')
  if (!cert.checkPrivateKey(key)) throw new UsageError('ca-key.pem does not belong to ca.pem')
  const parsed = AsnConvert.parse(cert.raw, asn.Certificate)
  const skiExt = parsed.tbsCertificate.extensions?.find((e) => e.extnID === asn.id_ce_subjectKeyIdentifier)
  const keyId = skiExt ? Buffer.from(AsnConvert.parse(skiExt.extnValue.buffer, asn.SubjectKeyIdentifier).buffer) : publicKeyInfo(createPublicKey(key)).keyId
  return {certPem, keyPem, cert, key, issuer: {name: parsed.tbsCertificate.subject, key, keyId, cache: new Map()}}
}

/** A fresh key pair and a server certificate for one node. */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  commonName: string,
  sans: string[],
  policy: TlsPolicy,
  now?: Date,
): Promise<IssuedCertificate> {
  const pair = await generateKeyPair(policy.keyType)
  const der = await buildFast({kind: 'server', commonName, sans, days: policy.certDays, publicKey: pair.publicKey, now}, ca.issuer)
  return {certPem: toPem(der), keyPem: privateKeyPem(pair.privateKey)}
}

/** The operator's client certificate (what `docker --tlsverify` presents). */
export async function issueClientCertificate(ca: CertificateAuthority, commonName: string, policy: TlsPolicy, now?: Date): Promise<IssuedCertificate> {
  const pair = await generateKeyPair(policy.keyType)
  const request: CertificateRequest = {kind: 'client', commonName, days: policy.certDays, publicKey: pair.publicKey, now}
  const der = await buildWithX509(request, ca.issuer, publicKeyInfo(pair.publicKey).keyId)
  return {certPem: toPem(der), keyPem: privateKeyPem(pair.privateKey)}
}

// ---------------------------------------------------------------------------------------------------------------
// Subject alternative names

const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i

/** A tls_san entry must be an IP address or a DNS name; anything else would make an unusable certificate. */
export function checkSan(san: string): void {
  if (isIP(san)) return
  if (san.length > 253 || !DNS_NAME.test(san)) throw new UsageError(`tls_san: '${san}' is neither an IP address nor a DNS name`)
}

/** One canonical spelling per SAN so sets compare equal: lower-case names, compressed lower-case IPv6. */
export function normalizeSan(san: string): string {
  const s = san.trim()
  if (isIP(s) === 6) return new URL(`http://[${s}]`).hostname.slice(1, -1)
  return s.toLowerCase().replace(/\.$/, '')
}

/**
 * The SANs of a node's server certificate: its name, public and private address, localhost and 127.0.0.1,
 * and every tls_san — deduplicated, in a stable order (names first, then addresses).
 */
export function serverSans(node: {name: string; public_ip: string | null; private_ip: string | null; host?: string}, extra: string[] = []): string[] {
  const all = [node.name, 'localhost', node.public_ip, node.private_ip, node.host, '127.0.0.1', ...extra]
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .map(normalizeSan)
  const unique = [...new Set(all)]
  return [...unique.filter((s) => !isIP(s)), ...unique.filter((s) => isIP(s))]
}

export function sameSans(a: string[], b: string[]): boolean {
  const x = new Set(a.map(normalizeSan))
  const y = new Set(b.map(normalizeSan))
  return x.size === y.size && [...x].every((s) => y.has(s))
}

// ---------------------------------------------------------------------------------------------------------------
// Reading certificates

export interface CertificateInfo {
  subject: string
  /** The subject's common name. */
  commonName: string | null
  issuer: string
  sans: string[]
  notBefore: Date
  notAfter: Date
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number
  serial: string
  fingerprint256: string
  keyType: string
  extendedKeyUsage: string[]
}

export function toX509(cert: string | Buffer | X509Certificate): X509Certificate {
  return cert instanceof X509Certificate ? cert : new X509Certificate(cert)
}

/** Node prints "DNS:a, IP Address:10.0.0.1"; IPv6 comes uncompressed and upper-case, hence normalizeSan. */
export function parseSubjectAltName(text: string | undefined): string[] {
  if (!text) return []
  return text
    .split(', ')
    .map((part) => {
      const m = /^(DNS|IP Address):(.*)$/.exec(part.trim())
      return m ? normalizeSan(m[2]) : null
    })
    .filter((s): s is string => s !== null)
}

export function describeCertificate(input: string | Buffer | X509Certificate, now = new Date()): CertificateInfo {
  const cert = toX509(input)
  const notAfter = new Date(cert.validTo)
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)
  return {
    subject: cert.subject.split('\n').join(', '),
    commonName: cn ? cn[1] : null,
    issuer: cert.issuer.split('\n').join(', '),
    sans: parseSubjectAltName(cert.subjectAltName),
    notBefore: new Date(cert.validFrom),
    notAfter,
    daysLeft: Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS),
    serial: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
    keyType: cert.publicKey.asymmetricKeyType ?? 'unknown',
    extendedKeyUsage: cert.keyUsage ?? [],
  }
}

/** Was `cert` issued by this CA? (Names and key ids match, and the signature verifies with the CA's key.) */
export function isIssuedBy(cert: string | Buffer | X509Certificate, ca: CertificateAuthority | X509Certificate): boolean {
  const c = toX509(cert)
  const caCert = ca instanceof X509Certificate ? ca : ca.cert
  try {
    return c.checkIssued(caCert) && c.verify(caCert.publicKey)
  } catch {
    return false
  }
}

/**
 * Why a node's server certificate is not what belt would issue now (empty when it is): not from this CA,
 * other SANs, expiring within EXPIRY_WARNING_DAYS, or not a server certificate.
 */
export function serverCertificateProblems(certPem: string, ca: CertificateAuthority, expectedSans: string[], now = new Date()): string[] {
  let cert: X509Certificate
  try {
    cert = new X509Certificate(certPem)
  } catch {
    return ['server.pem is not a certificate']
  }
  const problems: string[] = []
  if (!isIssuedBy(cert, ca)) problems.push('server.pem was not issued by this cluster\'s CA')
  const info = describeCertificate(cert, now)
  if (!sameSans(info.sans, expectedSans)) {
    const missing = expectedSans.filter((s) => !info.sans.includes(normalizeSan(s)))
    const extra = info.sans.filter((s) => !expectedSans.map(normalizeSan).includes(s))
    problems.push(`SANs differ (${[missing.length ? `missing ${missing.join(', ')}` : '', extra.length ? `not wanted ${extra.join(', ')}` : ''].filter(Boolean).join('; ')})`)
  }
  if (info.daysLeft < EXPIRY_WARNING_DAYS) problems.push(info.daysLeft < 0 ? 'server.pem has expired' : `server.pem expires in ${info.daysLeft} days`)
  if (info.notBefore.getTime() > now.getTime()) problems.push('server.pem is not valid yet')
  if (!info.extendedKeyUsage.includes(asn.id_kp_serverAuth)) problems.push('server.pem is not a server certificate')
  return problems
}

// ---------------------------------------------------------------------------------------------------------------
// The cluster's certs folder: .belt/<cluster>/certs/ — also a DOCKER_CERT_PATH the stock docker CLI accepts.

export interface ClusterTlsPaths {
  dir: string
  ca: string
  caKey: string
  cert: string
  key: string
}

export function clusterTlsPaths(cluster: Cluster): ClusterTlsPaths {
  const dir = join(cluster.dir, 'certs')
  return {dir, ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem')}
}

export interface ClusterTls {
  paths: ClusterTlsPaths
  ca: CertificateAuthority
  client: IssuedCertificate
  /** What was created on this call (for a hint on stderr): 'ca', 'client'. */
  created: ('ca' | 'client')[]
}

export function clientCommonName(cluster: Cluster): string {
  return `belt client (${cluster.name})`
}

/** Read the cluster's CA and client certificate, or null when there is no CA yet. Never creates anything. */
export function readClusterTls(cluster: Cluster): {paths: ClusterTlsPaths; ca: CertificateAuthority; client: IssuedCertificate | null} | null {
  const paths = clusterTlsPaths(cluster)
  if (!existsSync(paths.ca) || !existsSync(paths.caKey)) return null
  const ca = loadCertificateAuthority(readFileSync(paths.ca, 'utf8'), readFileSync(paths.caKey, 'utf8'))
  let client: IssuedCertificate | null = null
  if (existsSync(paths.cert) && existsSync(paths.key)) client = {certPem: readFileSync(paths.cert, 'utf8'), keyPem: readFileSync(paths.key, 'utf8')}
  return {paths, ca, client}
}

/**
 * The cluster's CA and client certificate, created when missing. A client certificate that is not from this CA
 * (e.g. the CA was replaced by hand) or expires within EXPIRY_WARNING_DAYS is reissued; `reissueClient` forces it.
 */
export async function ensureClusterTls(cluster: Cluster, policy: TlsPolicy, opts: {reissueClient?: boolean} = {}): Promise<ClusterTls> {
  const paths = clusterTlsPaths(cluster)
  const created: ('ca' | 'client')[] = []
  const existing = readClusterTls(cluster)
  let ca = existing?.ca
  if (!ca) {
    ensureClusterDir(cluster)
    mkdirSync(paths.dir, {recursive: true, mode: 0o700})
    chmodSync(paths.dir, 0o700)
    ca = await createCertificateAuthority(`belt CA (${cluster.name})`, policy)
    // Key first: a reader that finds ca.pem can rely on ca-key.pem being there.
    writeFileAtomic(paths.caKey, ca.keyPem, 0o600)
    writeFileAtomic(paths.ca, ca.certPem, 0o644)
    created.push('ca')
  }
  let client = created.includes('ca') ? null : existing?.client ?? null
  if (client && !opts.reissueClient) {
    const stale = !isIssuedBy(client.certPem, ca) || describeCertificate(client.certPem).daysLeft < EXPIRY_WARNING_DAYS || !keyMatches(client)
    if (stale) client = null
  }
  if (!client || opts.reissueClient) {
    client = await issueClientCertificate(ca, clientCommonName(cluster), policy)
    writeFileAtomic(paths.key, client.keyPem, 0o600)
    writeFileAtomic(paths.cert, client.certPem, 0o644)
    created.push('client')
  }
  return {paths, ca, client, created}
}

function keyMatches(pair: IssuedCertificate): boolean {
  try {
    return new X509Certificate(pair.certPem).checkPrivateKey(createPrivateKey(pair.keyPem))
  } catch {
    return false
  }
}
