// The SSH keys new droplets get: the template's ssh_key_fingerprint when set, else the cluster key — uploaded to the
// account once (named belt-<cluster>-<id8>), found again by fingerprint or key body, its id recorded in state.json.
import {createHash} from 'node:crypto'
import {ensureClusterKey} from '../../ssh/keys.js'
import type {Cluster} from '../../core/config/cluster.js'
import {type DoScope, PER_PAGE} from './api.js'

interface DoSshKey {
  id: number
  fingerprint: string
  public_key: string
}

/** DigitalOcean's MD5 fingerprint of an OpenSSH public key line ("aa:bb:..."). */
export function md5Fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64')
  return createHash('md5').update(blob).digest('hex').match(/../g)!.join(':')
}

/** The cluster key's account id and fingerprint as state.json recorded them, or null. */
export function recordedKey(cluster: Cluster<'digitalocean'>): {id: number; fingerprint: string} | null {
  const k = cluster.state.read().provider.do_ssh_key as {id: number; fingerprint: string} | undefined
  return k && typeof k.id === 'number' ? k : null
}

/** Whether plan() should say the cluster key is going to be uploaded. */
export function keyWillBeUploaded(cluster: Cluster<'digitalocean'>): boolean {
  return !cluster.settings.ssh_key_fingerprint && !recordedKey(cluster)
}

/** Key ids/fingerprints for new droplets: the template's, or the cluster key (uploaded once, reused after). */
export async function dropletKeys(
  scope: DoScope, signal: AbortSignal | undefined, progress: (m: string) => void,
): Promise<(string | number)[]> {
  const {cluster, api} = scope
  const fp = cluster.settings.ssh_key_fingerprint
  if (typeof fp === 'string' && fp.trim()) return [fp.trim()]
  if (Array.isArray(fp) && fp.length) return [...fp]
  const key = ensureClusterKey(cluster)
  const fingerprint = md5Fingerprint(key.publicKey)
  const blob = key.publicKey.split(/\s+/)[1]
  const keys = await api.listAll<DoSshKey>('list ssh keys', 'ssh_keys', (c, page) => c.sshKey.listSshKeys({page, per_page: PER_PAGE}), signal)
  let found = keys.find((k) => k.fingerprint === fingerprint || k.public_key?.split(/\s+/)[1] === blob)
  if (!found) {
    const data = await api.call('upload ssh key', (c) => c.sshKey.createSshKey({name: scope.resourceName, public_key: key.publicKey}), signal)
    found = (data as {ssh_key: DoSshKey}).ssh_key
    progress(`uploaded the cluster key ${key.publicPath} to the account (ssh key id ${found.id}, ${fingerprint})`)
  }
  const id = found.id
  const rec = recordedKey(cluster)
  if (!rec || rec.id !== id || rec.fingerprint !== fingerprint) {
    cluster.state.update((s) => {
      s.provider.do_ssh_key = {id, fingerprint}
    })
  }
  return [id]
}
