import {Args, Flags} from '@oclif/core'
import {parsePassthrough} from '../argv.js'
import {BeltCommand} from '../base-command.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {createSshContext} from '../ssh/context.js'
import {oneLine, stepSignal} from '../ssh/fleet.js'
import {exitCodeOf, passthrough} from '../ssh/passthrough.js'
import {shellJoin} from '../ssh/quote.js'
import {activeNodeName, endpointsFor, endpointsForPatterns} from '../ssh/targets.js'
import type {ExecResult} from '../ssh/types.js'
import {LinePrefixer, printHostKeyWarnings} from '../ui/fleet.js'
import {byName, printJson, warn} from '../ui/output.js'

/** Per-host output kept for --json (stdout and stderr each); less per host for big fleets so memory stays bounded. */
const jsonOutputBytes = (hosts: number) => (hosts > 200 ? 16 * 1024 : 64 * 1024)

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
    const concurrency = flags.concurrency === undefined ? Number(cluster.settings.concurrency ?? 100) : Number(flags.concurrency)
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be an integer ≥ 1, got ${flags.concurrency}`)
    const timeoutMs = typeof flags.timeout === 'string' ? parseDuration(flags.timeout, '--timeout') : undefined
    const endpoints = typeof flags.host === 'string'
      ? await endpointsForPatterns(cluster, [flags.host])
      : await endpointsFor(cluster, [activeNodeName(cluster, 'pass --host NODE, or set one with: belt active NODE')])
    const command = shellJoin(['docker', ...rest])
    const ssh = createSshContext(cluster, {onWarning: warn})

    if (endpoints.length === 1 && !flags.json) {
      // One node: --timeout (when given) bounds the connection and the command together; without it nothing is cut
      // off, so `docker logs -f`, a live `docker stats` or `exec -it` run until they end or Ctrl-C.
      const ep = endpoints[0]
      const step = stepSignal(timeoutMs)
      try {
        let session
        try {
          session = await ssh.connect(ep, {signal: step.signal})
        } catch (err) {
          printHostKeyWarnings(ssh.hostKeyProblems)
          process.stderr.write(`belt: ${ep.name}: ${oneLine(err)}\n`)
          return this.exit(255)
        }
        const r = await passthrough(session, command, {sudo: true, signal: step.signal})
        session.close()
        if (r.stopped) {
          process.stderr.write(`belt: ${ep.name}: ${r.stopped} while docker ran; it may still be running on the host\n`)
          return this.exit(1)
        }
        if (r.sudoProblem) process.stderr.write(`belt: ${ep.name}: ${r.sudoProblem}\n`)
        if (r.lost) process.stderr.write(`belt: ${ep.name}: the SSH connection closed before docker finished\n`)
        return this.exit(exitCodeOf(r))
      } finally {
        step.dispose()
      }
    }

    const scope = onInterrupt()
    let run
    try {
      run = await ssh.runFleet(endpoints, async (session, signal): Promise<ExecResult> => {
        if (flags.json) return session.exec(command, {sudo: true, signal, maxOutputBytes: jsonOutputBytes(endpoints.length)})
        const out = new LinePrefixer(`${session.endpoint.name}: `, process.stdout)
        const err = new LinePrefixer(`${session.endpoint.name}: `, process.stderr)
        try {
          return await session.exec(command, {sudo: true, signal, stdout: out, stderr: err})
        } finally {
          await Promise.all([out.close(), err.close()])
        }
      }, {concurrency, timeoutMs, retries: 2, jitterMs: Math.min(1000, endpoints.length * 5), signal: scope.signal})
    } finally {
      scope.dispose()
    }
    printHostKeyWarnings(ssh.hostKeyProblems)

    const results = [...run.results].sort(byName)
    const failureOf = (r: (typeof results)[number]): string | null => {
      if (!r.ok) return r.error ?? 'failed'
      const v = r.value!
      if (v.code === 0) return null
      const why = v.code === null ? `killed by ${v.signal}` : `exit code ${v.code}`
      const first = flags.json ? v.stderr.split('\n').map((l) => l.trim()).find(Boolean) : undefined
      return first ? `${why}: ${first}` : why
    }
    const failed = results.map((r) => ({name: r.name, error: failureOf(r)})).filter((f): f is {name: string; error: string} => f.error !== null)
    for (const n of run.notStarted) failed.push({name: n, error: 'not started (interrupted)'})
    const failedNames = new Set(failed.map((f) => f.name))

    if (flags.json) {
      printJson({
        ok: results.filter((r) => !failedNames.has(r.name)).map((r) => r.name),
        already: [],
        failed,
        results: results.map((r) => ({
          name: r.name,
          exit_code: r.ok ? r.value!.code : null,
          stdout: r.ok ? r.value!.stdout : '',
          stderr: r.ok ? r.value!.stderr : '',
          error: failureOf(r),
          duration_ms: r.durationMs,
        })),
      })
    } else if (failed.length) {
      process.stderr.write(`${failed.length} of ${endpoints.length} node${endpoints.length === 1 ? '' : 's'} failed:\n`)
      for (const f of failed) process.stderr.write(`  ${f.name}: ${f.error}\n`)
    }
    if (run.interrupted) throw new Interrupted(`interrupted: ${run.notStarted.length} node(s) not started`)
    if (failed.length) throw new PartialFailure(flags.json ? '' : `docker failed on ${failed.length} of ${endpoints.length} nodes`)
  }
}
