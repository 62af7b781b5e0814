// The cluster's own SSH key pair: .belt/<cluster>/ssh/id_ed25519 (0600) and .pub, generated once when needed.
// Used when no other key is configured (CONTRACT §6: private keys live only in their own 0600 files).
import {chmodSync, existsSync, mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import ssh2 from 'ssh2'
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
  const pair = ssh2.utils.generateKeyPairSync('ed25519', {comment: `belt-${cluster.name}`})
  writeFileAtomic(privatePath, pair.private, 0o600)
  writeFileAtomic(publicPath, pair.public.trim() + '\n', 0o644)
  return {privatePath, publicPath, publicKey: pair.public.trim(), generated: true}
}
