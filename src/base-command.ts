// What every belt command shares: the global flags and resolving the cluster it acts on.
import {Command, Flags} from '@oclif/core'
import {Cluster, resolveCluster} from './core/config/cluster.js'
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
    setProviderHooks({onNotice: info})
  }

  protected resolveCluster(flags: {cluster?: string; config?: string}): Cluster {
    return resolveCluster({cluster: flags.cluster, config: flags.config})
  }

  // Errors are rendered in one place (ui/errors.ts, via main.ts).
  protected async catch(err: Error & {exitCode?: number}): Promise<unknown> {
    throw err
  }
}
