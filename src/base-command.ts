// What every belt command shares: the global flags, resolving the cluster it acts on, and its SSH context. Also the
// shape of the four node changes (swarm promote, demote, drain, activate), which differ only in their words.
import {Args, Command, Flags} from '@oclif/core'
import {Cluster, resolveCluster} from './core/config/cluster.js'
import {parseDuration} from './core/duration.js'
import {PartialFailure, UsageError} from './core/errors.js'
import {nodeOpTargets, runNodeOp, type NodeOp} from './docker/swarm.js'
import {setProviderHooks} from './providers/index.js'
import {createSshContext, type BeltSshContext} from './ssh/context.js'
import {printHostKeyWarnings, renderFleet} from './ui/fleet.js'
import {info, out, warn} from './ui/output.js'
import {jumpCommandNote} from './ssh/jump.js'
import {join} from 'node:path'

export abstract class BeltCommand extends Command {
  static baseFlags = {
    cluster: Flags.string({description: 'cluster to act on (default: the active one; env BELT_CLUSTER)', helpGroup: 'GLOBAL'}),
    config: Flags.string({description: 'use this config file as the cluster named "default"', helpGroup: 'GLOBAL'}),
    debug: Flags.boolean({description: 'debug logs and stack traces (also DEBUG=belt*)', helpGroup: 'GLOBAL'}),
  }

  async init(): Promise<void> {
    await super.init()
    refuseBooleanValues({...BeltCommand.baseFlags, ...this.ctor.flags}, this.argv)
    setProviderHooks({onNotice: info})
  }

  protected resolveCluster(flags: {cluster?: string; config?: string}): Cluster {
    return resolveCluster({cluster: flags.cluster, config: flags.config})
  }

  /** --print-command behind a bastion: the `ssh -J` line first, when a cluster with ssh_jump can be resolved. */
  protected printJumpNote(flags: {cluster?: string; config?: string}): void {
    let cluster: Cluster
    try {
      cluster = this.resolveCluster(flags)
    } catch {
      return
    }
    const note = jumpCommandNote(cluster.settings, join(cluster.dir, 'known_hosts'))
    if (note) out(note)
  }

  /** The cluster's SSH context for `work`: its warnings go to stderr, and each refused host key is told once after. */
  protected async withSsh<T>(cluster: Cluster, work: (ssh: BeltSshContext) => Promise<T>): Promise<T> {
    const ssh = createSshContext(cluster, {onWarning: warn})
    try {
      return await work(ssh)
    } finally {
      ssh.close()
      printHostKeyWarnings(ssh.hostKeyProblems)
    }
  }

  // Errors are rendered in one place (ui/errors.ts, via main.ts); oclif's parse errors there name this command.
  protected async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    if (err && typeof err === 'object' && !('beltCommand' in err)) {
      const {args, flags, strict, usage} = this.ctor
      Object.assign(err, {beltCommand: {id: this.id, args, flags: {...BeltCommand.baseFlags, ...flags}, strict, usage}})
    }
    throw err
  }
}

/**
 * `--wait=yes`: oclif takes the flag and turns `yes` into an extra argument that it puts first, where a command reading
 * its arguments from argv would take it for the size (and the size for a name). Refused instead. The value is not shown.
 */
function refuseBooleanValues(flags: Record<string, {type?: string}>, argv: string[]): void {
  for (const a of argv) {
    if (a === '--') return
    const m = /^--([^=]+)=/.exec(a)
    if (m && flags[m[1]]?.type === 'boolean') throw new UsageError(`--${m[1]} takes no value (use --${m[1]} alone)`)
  }
}

/** swarm promote / demote / drain / activate: NODES changed through the active manager, one connection. */
export abstract class NodeOpCommand extends BeltCommand {
  static strict = false
  static args = {patterns: Args.string({description: "nodes ('w[1:3]', 'node2,node3')", required: true})}
  static flags = {
    json: Flags.boolean({description: 'print JSON: {"manager", "ok", "already", "failed": [{"name", "error"}]}'}),
    timeout: Flags.string({description: 'time limit for the manager connection and the change together (default: 2m plus 1s per node)'}),
  }

  protected abstract readonly op: NodeOp

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(NodeOpCommand)
    const json = flags.json
    const cluster = this.resolveCluster(flags)
    const timeoutMs = flags.timeout === undefined ? undefined : parseDuration(flags.timeout, '--timeout')
    const {manager, targets} = await nodeOpTargets(cluster, argv as string[])
    const r = await this.withSsh(cluster, (ssh) => runNodeOp(ssh, this.op, manager, targets, {timeoutMs}))
    if (!json) info(`through the manager ${manager.name}`)
    renderFleet(r, {json, head: {manager: manager.name}})
    if (r.failed.length) throw new PartialFailure(json ? '' : `${r.failed.length} of ${r.total} nodes could not be ${r.verb}`)
  }
}
