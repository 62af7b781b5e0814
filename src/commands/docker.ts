import {Args, Flags} from '@oclif/core'
import {parsePassthrough} from '../argv.js'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {shellJoin} from '../ssh/quote.js'
import {passthroughOn, runOnFleet} from '../ssh/remote-command.js'
import {activeNodeName, concurrencyFor, endpointsFor, endpointsFrom} from '../ssh/targets.js'
import {prefixedWriters, renderFleet} from '../ui/fleet.js'
import {passthroughExit} from '../ui/passthrough.js'

export default class Docker extends BeltCommand {
  static description = `Run a docker command on nodes over SSH (the active node by default)

belt's own flags go before the first docker argument; everything after it is docker's, untouched (so docker's own -H, --host or -D work). Arguments are quoted for the remote shell exactly as given.
One node: stdin, stdout, stderr and the exit code pass straight through (a TTY when yours is one, so exec -it works); 255 when SSH itself failed.
Several nodes (--host PATTERN): run in parallel, every line prefixed with "name: ", no stdin; a failure summary on stderr; exit 1 if any node failed.
When ssh_user is not root, docker runs through sudo -n.`

  static examples = [
    '<%= config.bin %> docker ps',
    "<%= config.bin %> --host 'node[2:4]' docker info",
    "<%= config.bin %> docker --host 'w[1:9]' --json ps -q",
    '<%= config.bin %> docker service create --name web --replicas 2 -p 80:80 nginx',
    '<%= config.bin %> docker exec -it web.1.abc sh',
  ]

  // belt parses its leading flags itself (argv.ts): oclif must not touch docker's.
  static strict = false
  static args = {docker: Args.string({description: 'the docker command and its arguments, passed through untouched'})}
  static flags = {
    host: Flags.string({description: "node names or patterns to run on ('mg0', 'w[1:9]', 'mg0,w[1:3]'); default: the active node"}),
    json: Flags.boolean({description: 'print JSON: {"ok", "already", "failed", "results": [{"name", "exit_code", "stdout", "stderr"}]}'}),
    concurrency: Flags.integer({description: 'nodes at once (default: the template\'s concurrency, 100)'}),
    timeout: Flags.string({description: 'per-node time limit, connection and command (default: none, so follow-streams such as logs -f are never cut off)'}),
  }

  async run(): Promise<void> {
    const {flags, rest} = parsePassthrough('docker', this.argv)
    if (rest.length === 0) throw new UsageError('nothing to run: give docker arguments, e.g. belt docker ps')
    const cluster = this.resolveCluster({cluster: flags.cluster as string | undefined, config: flags.config as string | undefined})
    const concurrency = concurrencyFor(cluster, flags.concurrency === undefined ? undefined : Number(flags.concurrency))
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be an integer ≥ 1, got ${flags.concurrency}`)
    const timeoutMs = typeof flags.timeout === 'string' ? parseDuration(flags.timeout, '--timeout') : undefined
    const json = Boolean(flags.json)
    const endpoints = typeof flags.host === 'string'
      ? await endpointsFrom(cluster, [flags.host])
      : await endpointsFor(cluster, [activeNodeName(cluster, 'pass --host NODE, or set one with: belt active NODE')])
    const command = shellJoin(['docker', ...rest])

    if (endpoints.length === 1 && !json) {
      // One node: stdin, stdout, stderr and the exit code pass straight through.
      const r = await this.withSsh(cluster, (ssh) => passthroughOn(ssh, endpoints[0], command, {sudo: true, timeoutMs}))
      return this.exit(passthroughExit(endpoints[0].name, r, 'docker'))
    }
    const opts = {concurrency, timeoutMs, writers: json ? undefined : prefixedWriters}
    const r = await this.withSsh(cluster, (ssh) => runOnFleet(ssh, endpoints, command, opts))
    renderFleet(r, {json, table: false, tail: {results: r.hosts}})
    if (r.interrupted) throw new Interrupted(`interrupted: ${r.notStarted.length} node(s) not started`)
    if (r.failed.length) throw new PartialFailure(json ? '' : `docker failed on ${r.failed.length} of ${r.total} nodes`)
  }
}
