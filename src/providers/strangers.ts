// Nodes that carry a cluster's name tag but are not the cluster's (CONTRACT §9): foreign ones have another cluster's
// id (another project whose cluster has the same name), legacy ones have none (made before cluster ids). Providers
// count them while listing; `ls` and `status` print the count as one stderr line. They are never listed or touched.

/** "3 droplet(s) tagged belt-cluster:default belong to another cluster (other belt-id); 2 have no belt-id (...)". */
export function strangersNote(counts: {foreign: number; legacy: number} | null, what: string, idWord: string): string | null {
  if (!counts || counts.foreign + counts.legacy === 0) return null
  const parts: string[] = []
  if (counts.foreign) parts.push(`${counts.foreign} ${what} belong to another cluster (other ${idWord})`)
  const legacy = `have no ${idWord} (made before cluster ids: belt cluster adopt)`
  if (counts.legacy) parts.push(counts.foreign ? `${counts.legacy} ${legacy}` : `${counts.legacy} ${what} ${legacy}`)
  return parts.join('; ') + '; they are not listed and never touched'
}
