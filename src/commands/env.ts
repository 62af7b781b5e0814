import {Args, Flags} from '@oclif/core'
import {basename} from 'node:path'
import {BeltCommand} from '../base-command.js'
import {PartialFailure, UsageError} from '../core/errors.js'
import {providerFor} from '../providers/index.js'
import {dockerAddress} from '../docker/provision.js'
import {addressProblem} from '../providers/provider.js'
import {DOCKER_TLS_PORT} from '../docker/engine-api.js'
import {clusterTlsPaths} from '../docker/tls.js'
import {existsSync} from 'node:fs'
import {shellJoin} from '../ssh/quote.js'
import {info, out} from '../ui/output.js'

export type EnvShell = 'bash' | 'fish' | 'powershell'
const SHELLS = ['bash', 'zsh', 'sh', 'fish', 'powershell', 'pwsh'] as const
const VARS = ['DOCKER_TLS_VERIFY', 'DOCKER_HOST', 'DOCKER_CERT_PATH', 'BELT_NODE']

export default class Env extends BeltCommand {
  static description = 'Print the commands that point the docker CLI at a node over TLS (like docker-machine env)'
  static examples = [
    '<%= config.bin %> env node1',
    'eval "$(<%= config.bin %> env node1)"',
    '<%= config.bin %> env node1 --shell fish | source',
    '<%= config.bin %> env node1 --shell powershell | Invoke-Expression',
    'eval "$(<%= config.bin %> env --unset)"',
  ]
  static args = {node: Args.string({description: 'node (default: the active node)'})}
  static flags = {
    shell: Flags.string({description: 'shell syntax (default: from $SHELL)', options: [...SHELLS]}),
    unset: Flags.boolean({char: 'u', description: 'print the commands that undo it'}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Env)
    const shell = shellFor(flags.shell, process.env.SHELL)
    const cluster = this.resolveCluster(flags)
    if (flags.unset) {
      for (const line of unsetLines(shell)) out(line)
      info(hint(shell, ['--unset'], flags))
      return
    }
    const node = args.node ?? cluster.state.read().active_node
    if (!node) throw new UsageError(`cluster '${cluster.name}' has no active node; name one (belt env NODE) or set it with: belt active NODE`)
    const paths = clusterTlsPaths(cluster)
    for (const f of [paths.ca, paths.cert, paths.key]) {
      if (!existsSync(f)) throw new UsageError(`cluster '${cluster.name}' has no TLS certificates yet (${f} is missing); run: belt provision ${node}`)
    }
    const provider = await providerFor(cluster)
    const {found} = await provider.endpoints([node])
    if (!found.length) throw new UsageError(`unknown node '${node}' in cluster '${cluster.name}'`)
    const noAddress = addressProblem(found[0])
    if (noAddress) throw new PartialFailure(`${node}: ${noAddress}; wait for it (belt status --wait active=N) and try again`)
    const values: [string, string][] = [
      ['DOCKER_TLS_VERIFY', '1'],
      ['DOCKER_HOST', `tcp://${hostPart(dockerAddress(found[0]))}:${DOCKER_TLS_PORT}`],
      ['DOCKER_CERT_PATH', paths.dir],
      ['BELT_NODE', node],
    ]
    for (const [k, v] of values) out(setLine(shell, k, v))
    info(hint(shell, args.node ? [args.node] : [], flags))
  }
}

function hostPart(address: string): string {
  return address.includes(':') ? `[${address}]` : address
}

/** --shell, else $SHELL's name (as docker-machine guesses), else bash syntax (also right for sh and zsh). */
export function shellFor(flag: string | undefined, envShell: string | undefined): EnvShell {
  const name = flag ?? (envShell ? basename(envShell) : 'bash')
  if (name === 'fish') return 'fish'
  if (name === 'powershell' || name === 'pwsh' || name === 'pwsh.exe' || name === 'powershell.exe') return 'powershell'
  return 'bash'
}

/** Values are quoted for the shell that will read them (a certs path may hold spaces or quotes). */
export function setLine(shell: EnvShell, name: string, value: string): string {
  switch (shell) {
    case 'bash': return `export ${name}="${value.replace(/(["\\$`])/g, '\\$1')}"`
    case 'fish': return `set -gx ${name} '${value.replace(/(['\\])/g, '\\$1')}';`
    case 'powershell': return `$Env:${name} = '${value.replace(/'/g, "''")}'`
  }
}

export function unsetLines(shell: EnvShell): string[] {
  switch (shell) {
    case 'bash': return [`unset ${VARS.join(' ')}`]
    case 'fish': return VARS.map((v) => `set -e ${v};`)
    case 'powershell': return VARS.map((v) => `Remove-Item Env:\\${v} -ErrorAction SilentlyContinue`)
  }
}

/** The eval hint goes to stderr (CONTRACT §4: stdout is results only), so `eval "$(belt env)"` sees only the variables. */
function hint(shell: EnvShell, extra: string[], flags: {cluster?: string; config?: string}): string {
  const selection = flags.config ? ['--config', flags.config] : flags.cluster ? ['--cluster', flags.cluster] : []
  const args = shellJoin(['env', ...extra, ...selection])
  const run = shell === 'fish' ? `belt ${args} --shell fish | source`
    : shell === 'powershell' ? `belt ${args} --shell powershell | Invoke-Expression`
    : `eval "$(belt ${args})"`
  return `# Run this command to configure your shell:\n# ${run}`
}
