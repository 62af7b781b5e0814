import {Args, Flags} from '@oclif/core'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {BeltCommand} from '../../base-command.js'
import {PartialFailure, UsageError} from '../../core/errors.js'
import {Cluster, loadClusterAt} from '../../core/config/cluster.js'
import {ensureClusterId} from '../../core/config/identity.js'
import {checkClusterName, findBeltDir} from '../../core/config/store.js'
import {providerFor} from '../../providers/index.js'
import type {AdoptResult} from '../../providers/provider.js'
import {info, out, printJson, shorten, warn} from '../../ui/output.js'

export default class ClusterAdopt extends BeltCommand {
  static description = 'Give a cluster made before cluster ids its cluster_id and id-tag exactly the nodes its state.json lists'
  static examples = ['<%= config.bin %> cluster adopt', '<%= config.bin %> cluster adopt swarm2k --json']
  static args = {name: Args.string({description: 'cluster name (default: the active cluster, or .belt.yml)'})}
  static flags = {
    json: Flags.boolean({description: 'print JSON: {"cluster_id", "tagged", "already", "missing", "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ClusterAdopt)
    const cluster = args.name ? named(args.name) ?? this.resolveCluster(flags) : this.resolveCluster(flags)
    if (args.name && cluster.name !== args.name) throw new UsageError(`no cluster named '${args.name}'`)
    const had = cluster.id
    const provider = await providerFor(cluster)
    const id = ensureClusterId(cluster)
    info(had ? `cluster '${cluster.name}' has cluster_id ${id}`
      : `cluster '${cluster.name}': wrote cluster_id ${id} to ${cluster.configPath}`)
    let r: AdoptResult = {tagged: [], already: [], missing: [], failed: []}
    if (provider.adopt) r = await provider.adopt()
    else info(`the ${cluster.driver} driver tags nothing: its hosts are told apart by this project's folder`)
    if (flags.json) printJson({cluster_id: id, ...r})
    else for (const n of r.tagged) out(n)
    if (provider.adopt) {
      const missing = r.missing.length ? `, not in the cloud ${r.missing.length}` : ''
      info(`tagged ${r.tagged.length}, already tagged ${r.already.length}${missing}${r.failed.length ? `, refused ${r.failed.length}` : ''}`)
    }
    if (r.missing.length) {
      warn(`state.json lists ${r.missing.length} node(s) the cloud does not have under this cluster's name tag: ${shorten(r.missing)}`)
    }
    for (const f of r.failed) warn(`${f.name}: ${f.error}`)
    if (r.failed.length) throw new PartialFailure(`${r.failed.length} node(s) not tagged`)
  }
}

/** .belt/NAME, or null (then NAME may still be the `.belt.yml` cluster `default`). */
function named(name: string): Cluster | null {
  checkClusterName(name)
  const beltDir = findBeltDir()
  if (!beltDir || !existsSync(join(beltDir, name, 'config.yml'))) return null
  return loadClusterAt(name, join(beltDir, name), join(beltDir, name, 'config.yml'))
}
