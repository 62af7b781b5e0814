import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {expandPatterns} from '../core/range.js'
import {onInterrupt} from '../core/interrupt.js'
import {refuseUnadopted} from '../core/config/identity.js'
import {providerFor} from '../providers/index.js'
import {info, shorten, warn} from '../ui/output.js'
import {confirm} from '../ui/prompt.js'
import {KnownHosts} from '../ssh/known-hosts.js'
import {join} from 'node:path'

export default class Rm extends BeltCommand {
  static description = 'Remove nodes of this cluster (only nodes tagged for it)'
  static examples = ["<%= config.bin %> rm 'w[1:10]'", '<%= config.bin %> rm --all --force']
  static strict = false
  static args = {patterns: Args.string({description: 'node names or patterns'})}
  static flags = {
    all: Flags.boolean({description: 'every node of this cluster'}),
    force: Flags.boolean({char: 'f', description: 'do not ask (required without a terminal)'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const patterns = argv as string[]
    if (flags.all && patterns.length) throw new UsageError('give either --all or node patterns, not both')
    if (!flags.all && patterns.length === 0) throw new UsageError('nothing to remove: give node patterns or --all')
    const cluster = this.resolveCluster(flags)
    refuseUnadopted(cluster)
    const provider = await providerFor(cluster)
    const names = flags.all ? [] : expandPatterns(patterns)
    const what = flags.all ? `every node of cluster '${cluster.name}'` : `${names.length} node(s) (${shorten(names)})`
    if (!flags.force) {
      const ok = await confirm(`remove ${what}?`, '--force')
      if (!ok) throw new UsageError('cancelled; nothing was removed')
    }
    // Where each node was reached, so its host key can be forgotten once it is gone: a node made again at the same
    // address (local hosts, recycled cloud IPs) has a new host key and would otherwise be refused as "changed".
    const targets = flags.all ? (await provider.list()).map((n) => n.name) : names
    const reached = targets.length ? (await provider.endpoints(targets)).found : []
    const scope = onInterrupt()
    let r
    try {
      r = await provider.remove(flags.all ? {all: true} : {names}, {signal: scope.signal, onProgress: info})
    } finally {
      scope.dispose()
    }
    const removed = new Set(r.removed)
    new KnownHosts(join(cluster.dir, 'known_hosts')).forgetMany(reached.filter((e) => removed.has(e.name) && e.host))
    info(`removed ${r.removed.length}${r.failed.length ? `, failed ${r.failed.length}` : ''}`)
    for (const f of r.failed) warn(`${f.name}: ${f.error}`)
    // Removed nodes stay counted as removed when the write after it failed; that problem is told on its own.
    if (r.stateError) warn(`${r.stateError} (the nodes are gone all the same)`)
    if (r.interrupted) throw new Interrupted()
    if (r.failed.length) throw new PartialFailure(`${r.failed.length} node(s) could not be removed`)
    if (r.stateError) throw new PartialFailure('state.json could not be written after the removal')
  }
}
