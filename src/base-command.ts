// What every belt command shares: the global flags and resolving the cluster it acts on.
import {Command, Flags} from '@oclif/core'
import {Cluster, resolveCluster} from './core/config/cluster.js'
import {UsageError} from './core/errors.js'
import {setProviderHooks} from './providers/index.js'
import {info} from './ui/output.js'

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
