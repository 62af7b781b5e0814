import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import {expandPatterns} from '../core/range.js'
import {providerFor} from '../providers/index.js'
import {quietFlag, tableChoice, tableFlags} from '../ui/columns.js'
import {byName, info, NODE_COLUMNS, nodesTable, out, printJson} from '../ui/output.js'

export default class Ls extends BeltCommand {
  static description = 'List the cluster\'s nodes (only this cluster\'s, every page)'
  static examples = [
    '<%= config.bin %> ls',
    "<%= config.bin %> ls 'w[1:10]' --json",
    {description: 'Names only, one a line (for xargs and shell loops)', command: '<%= config.bin %> ls -q'},
    {description: 'Chosen columns, no header', command: '<%= config.bin %> ls --columns name,public_ip,status --no-header'},
  ]
  static strict = false
  static args = {patterns: Args.string({description: 'only these names or patterns'})}
  static flags = {json: Flags.boolean({description: 'print a JSON array of nodes'}), ...quietFlag, ...tableFlags(NODE_COLUMNS)}

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Ls)
    const choice = tableChoice(flags, NODE_COLUMNS)
    const cluster = this.resolveCluster(flags)
    const provider = await providerFor(cluster)
    const wanted = (argv as string[]).length ? new Set(expandPatterns(argv as string[])) : null
    const nodes = (await provider.list()).filter((n) => !wanted || wanted.has(n.name)).sort(byName)
    const strangers = provider.foreignNote?.()
    if (strangers) info(strangers)
    if (flags.json) return printJson(nodes)
    if (nodes.length === 0) {
      info(`no nodes in cluster '${cluster.name}'`)
      return
    }
    out(nodesTable(nodes, choice))
  }
}
