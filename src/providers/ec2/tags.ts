// The tags belt sets and reads: belt-cluster / belt-cluster-id on every resource it makes, belt-batch on launched
// instances, the users' extra tags (template `tags` and --tag, checked against EC2's limits), and the
// belt-<cluster>-<id8> name of the security group and key pair.
import type {Instance, Tag} from '@aws-sdk/client-ec2'
import type {Cluster} from '../../core/config/cluster.js'
import {UsageError} from '../../core/errors.js'

export const CLUSTER_TAG = 'belt-cluster'
export const ID_TAG = 'belt-cluster-id'
export const BATCH_TAG = 'belt-batch'
const RESERVED_TAGS = new Set(['Name', CLUSTER_TAG, ID_TAG, BATCH_TAG])

/** belt-cluster=<name> and belt-cluster-id=<id> (every resource belt makes carries both). */
export function ownTags(cluster: Cluster<'ec2'>): Tag[] {
  if (!cluster.id) throw new Error('bug: a resource was about to be made before the cluster had its id')
  return [{Key: CLUSTER_TAG, Value: cluster.name}, {Key: ID_TAG, Value: cluster.id}]
}

/** belt-<cluster>-<id8>: the security group and key pair (the name alone is shared between projects). */
export function resourceName(cluster: Cluster<'ec2'>): string {
  return `belt-${cluster.name}-${cluster.id ? cluster.id.slice(0, 8) : '<id8>'}`
}

/** The template's `tags` and the --tag flags as EC2 tags (a flag overrides the template's value of its key). */
export function userTags(fromTemplate: string[], flagTags: string[]): Tag[] {
  const tags = new Map<string, string>()
  for (const [raw, where] of [...fromTemplate.map((t) => [t, 'tags']), ...flagTags.map((t) => [t, '--tag'])]) {
    const eq = raw.indexOf('=')
    const key = (eq >= 0 ? raw.slice(0, eq) : raw).trim()
    const value = eq >= 0 ? raw.slice(eq + 1) : ''
    if (!key || key.length > 128 || value.length > 256) {
      throw new UsageError(`${where}: '${raw}' must be key=value (key up to 128 characters, value up to 256)`)
    }
    if (RESERVED_TAGS.has(key) || key.startsWith('aws:')) {
      throw new UsageError(`${where}: tag key '${key}' is reserved (belt sets Name, ${CLUSTER_TAG}, ${ID_TAG} and ${BATCH_TAG})`)
    }
    tags.set(key, value)
  }
  if (tags.size > 40) throw new UsageError('at most 40 extra tags (EC2 allows 50 per instance)')
  return [...tags].map(([Key, Value]) => ({Key, Value}))
}

export function tagValue(inst: Instance, key: string): string | undefined {
  return inst.Tags?.find((t) => t.Key === key)?.Value
}

/** Tags as belt shows them: `key=value`. */
export function tagStrings(tags: Tag[] | undefined): string[] {
  return (tags ?? []).map((t) => `${t.Key}=${t.Value ?? ''}`)
}
