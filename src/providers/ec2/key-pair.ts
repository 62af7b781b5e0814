// The key pair instances launch with: key_name when set (it must exist), else the cluster's SSH key imported once
// as belt-<cluster>-<id8> (found first, so re-runs converge; one with another key under that name is refused).
import type {KeyPairInfo} from '@aws-sdk/client-ec2'
import {createHash} from 'node:crypto'
import {UsageError} from '../../core/errors.js'
import {ensureClusterKey} from '../../ssh/keys.js'
import {call, type Ec2Context, errorCode, sdk, translate} from './client.js'
import {ownTags, resourceName} from './tags.js'

export async function findKeyPair(ctx: Ec2Context, name: string): Promise<KeyPairInfo | null> {
  const command = new sdk.DescribeKeyPairsCommand({Filters: [{Name: 'key-name', Values: [name]}]})
  const out = await call('DescribeKeyPairs', (o) => ctx.client.send(command, o))
  return (out.KeyPairs ?? []).find((k) => k.KeyName === name) ?? null
}

/** The key pair's name, imported when belt manages it and it does not exist yet. */
export async function ensureKeyPair(ctx: Ec2Context, progress: (m: string) => void): Promise<string> {
  const configured = ctx.cluster.settings.key_name || undefined
  const name = configured ?? resourceName(ctx.cluster)
  const existing = await findKeyPair(ctx, name)
  if (configured) {
    if (!existing) throw new UsageError(`key_name '${configured}' is not a key pair in ${ctx.region}`)
    return configured
  }
  const key = ensureClusterKey(ctx.cluster)
  if (existing) {
    const mine = ed25519Fingerprint(key.publicKey)
    const theirs = (existing.KeyFingerprint ?? '').replace(/^SHA256:/, '').replace(/=+$/, '')
    if (mine && existing.KeyType === 'ed25519' && theirs && mine !== theirs) {
      throw new UsageError(`key pair '${name}' in ${ctx.region} is not ${key.publicPath}; ` +
        `delete it (aws ec2 delete-key-pair --key-name ${name}) or set key_name`)
    }
    return name
  }
  try {
    await call('ImportKeyPair', (o) => ctx.client.send(new sdk.ImportKeyPairCommand({
      KeyName: name,
      PublicKeyMaterial: Buffer.from(key.publicKey + '\n', 'utf8'),
      TagSpecifications: [{ResourceType: 'key-pair', Tags: ownTags(ctx.cluster)}],
    }), o))
    progress(`imported ${key.publicPath} as key pair ${name}`)
  } catch (err) {
    if (errorCode(err) !== 'InvalidKeyPair.Duplicate') throw translate(err, 'ImportKeyPair')
  }
  ctx.records.update((s) => { s.key_name = name })
  return name
}

/** The SHA-256 fingerprint AWS shows for an imported ed25519 key (base64, no padding); null for other key types. */
export function ed25519Fingerprint(publicKey: string): string | null {
  const [type, blob] = publicKey.trim().split(/\s+/)
  if (type !== 'ssh-ed25519' || !blob) return null
  return createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64').replace(/=+$/, '')
}
