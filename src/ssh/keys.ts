// The cluster's own SSH key pair: .belt/<cluster>/ssh/id_ed25519 (0600) and .pub, generated once when needed.
// Used when no other key is configured (CONTRACT §6: private keys live only in their own 0600 files).
// The pair is made with Node's crypto and written in OpenSSH's formats here: ssh2's generator strips every leading
// zero byte of the BIT STRING holding the public key — the unused-bits byte, and with it a public key's own leading
// zero — so about 1 key in 256 came out with a 31-byte public key that neither ssh2 nor OpenSSH accepts.
import {chmodSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {generateKeyPairSync, randomBytes} from 'node:crypto'
import {join} from 'node:path'
import type {Cluster} from '../core/config/cluster.js'
import {ensureClusterDir} from '../core/config/cluster.js'
import {writeFileAtomic} from '../core/config/atomic.js'

export interface ClusterKey {
  privatePath: string
  publicPath: string
  /** One line: "ssh-ed25519 AAAA... belt-<cluster>" */
  publicKey: string
  generated: boolean
}

export function clusterKeyPaths(cluster: Cluster): {privatePath: string; publicPath: string} {
  const privatePath = join(cluster.dir, 'ssh', 'id_ed25519')
  return {privatePath, publicPath: privatePath + '.pub'}
}

/** Return the cluster key, generating it (ed25519, OpenSSH format) if it does not exist yet. */
export function ensureClusterKey(cluster: Cluster): ClusterKey {
  const {privatePath, publicPath} = clusterKeyPaths(cluster)
  if (existsSync(privatePath) && existsSync(publicPath)) {
    return {privatePath, publicPath, publicKey: readFileSync(publicPath, 'utf8').trim(), generated: false}
  }
  ensureClusterDir(cluster)
  mkdirSync(join(cluster.dir, 'ssh'), {recursive: true, mode: 0o700})
  chmodSync(join(cluster.dir, 'ssh'), 0o700)
  const pair = generateEd25519KeyPair(`belt-${cluster.name}`)
  writeFileAtomic(privatePath, pair.private, 0o600)
  writeFileAtomic(publicPath, pair.public + '\n', 0o644)
  return {privatePath, publicPath, publicKey: pair.public, generated: true}
}

const KEY_TYPE = 'ssh-ed25519'
/** SPKI and PKCS#8 DER of an ed25519 key end with the 32 raw bytes (RFC 8410): fixed-length encodings. */
const RAW_BYTES = 32

/** An SSH wire-format string: uint32 length, then the bytes. */
function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data
  const len = Buffer.alloc(4)
  len.writeUInt32BE(b.length)
  return Buffer.concat([len, b])
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/**
 * A new ed25519 pair: `public` is one authorized_keys line ("ssh-ed25519 AAAA… comment"), `private` an unencrypted
 * OpenSSH private key (PEM "OPENSSH PRIVATE KEY", as ssh-keygen writes it).
 */
export function generateEd25519KeyPair(comment: string): {public: string; private: string} {
  const {publicKey, privateKey} = generateKeyPairSync('ed25519', {
    publicKeyEncoding: {type: 'spki', format: 'der'},
    privateKeyEncoding: {type: 'pkcs8', format: 'der'},
  })
  const pub = publicKey.subarray(publicKey.length - RAW_BYTES)
  const seed = privateKey.subarray(privateKey.length - RAW_BYTES)
  const blob = Buffer.concat([sshString(KEY_TYPE), sshString(pub)])
  const check = randomBytes(4)
  let secret = Buffer.concat([check, check, sshString(KEY_TYPE), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)])
  // Padded with 1, 2, 3, ... to the cipher's block size (8 for "none").
  const pad = (8 - (secret.length % 8)) % 8
  secret = Buffer.concat([secret, Buffer.from(Array.from({length: pad}, (_, i) => i + 1))])
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(blob), sshString(secret),
  ])
  const lines = body.toString('base64').match(/.{1,70}/g) ?? []
  return {
    public: `${KEY_TYPE} ${blob.toString('base64')}${comment ? ` ${comment}` : ''}`,
    private: ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n'),
  }
}
