import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {UsageError} from '../core/errors.js'
import {removeContext, writeContext} from '../docker/context.js'
import {info, out, warn} from '../ui/output.js'

export default class Context extends BeltCommand {
  static summary = 'Create or update the docker context belt-<cluster> that points the docker CLI at a node over TLS'
  static description = 'The context holds the cluster\'s TLS material (docker keeps its own copy) and the cluster id in its '
    + 'description; a context of that name that belongs to another cluster is never changed without --force. '
    + '`belt env` stays for docker-machine habits.'
  static examples = [
    {description: 'Point a context at the active node (after `belt swarm init`: the manager)', command: '<%= config.bin %> context'},
    {description: 'The docker CLI talks to the swarm over TLS', command: 'docker --context belt-demo node ls'},
    {description: 'Point it at mg0 and make it docker\'s current context', command: '<%= config.bin %> context mg0 --use'},
    {description: 'Remove it (`belt cluster rm` does too)', command: '<%= config.bin %> context --rm'},
    {description: 'Take over a context of that name that another cluster made', command: '<%= config.bin %> context --force'},
  ]
  static args = {node: Args.string({description: 'node the context points at (default: the active node)'})}
  static flags = {
    use: Flags.boolean({description: 'also make it docker\'s current context (docker context use)'}),
    rm: Flags.boolean({description: 'remove the context instead'}),
    force: Flags.boolean({char: 'f', description: 'overwrite or remove a context of that name that belongs to another cluster'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Context)
    if (flags.rm && flags.use) throw new UsageError('--rm and --use cannot be combined')
    if (flags.rm && args.node) throw new UsageError(`--rm takes no NODE (got '${args.node}'): belt context --rm`)
    const cluster = this.resolveCluster(flags)
    if (flags.rm) {
      const r = await removeContext(cluster, {force: flags.force})
      out(r.action === 'removed' ? `removed docker context '${r.context}'` : `no docker context '${r.context}'`)
      if (r.wasCurrent) info('it was docker\'s current context; docker uses \'default\' now')
      return
    }
    const r = await writeContext(cluster, {node: args.node, use: flags.use, force: flags.force})
    out(`${r.action} docker context '${r.context}': ${r.node} at ${r.host}`)
    for (const w of r.warnings) warn(w)
    info(r.current ? `docker's current context is now '${r.context}' (try: docker node ls)` : `use it: docker --context ${r.context} node ls`)
  }
}
