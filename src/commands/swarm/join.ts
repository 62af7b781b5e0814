import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../../base-command.js'
import {ensureClusterDir} from '../../core/config/cluster.js'
import {Interrupted, PartialFailure, UsageError} from '../../core/errors.js'
import {parseDuration} from '../../core/duration.js'
import {onInterrupt} from '../../core/interrupt.js'
import {expandPatterns} from '../../core/range.js'
import {joinCommand, joinNode, readManager, readManagerCommand, SwarmError, type ManagerFacts} from '../../docker/swarm.js'
import {providerFor} from '../../providers/index.js'
import type {SshEndpoint} from '../../providers/provider.js'
import {createSshContext, type BeltSshContext} from '../../ssh/context.js'
import {formatSeconds, oneLine, stepSignal} from '../../ssh/fleet.js'
import {endpointsFor} from '../../ssh/targets.js'
import {FleetProgress, fleetSummary, printHostKeyWarnings, type FleetRow} from '../../ui/fleet.js'
import {byName, info, out, printJson, warn} from '../../ui/output.js'

const RECORD = 'swarm join'

export default class SwarmJoin extends BeltCommand {
  static description = `Join nodes to the swarm of MANAGER, in parallel

The join token is read once from MANAGER; then each node gets one SSH connection and one remote command that checks and joins. Safe to re-run: a node already in this swarm is reported as already joined; a node in another swarm is an error for that node. The token never appears in any output, nor in a command line on the nodes (it reaches dockerd as the body of POST /swarm/join; without curl on a node, docker swarm join --token is the reported fallback). --timeout bounds the manager read too.
Failures are kept in state.json: --retry-failed joins only those again (MANAGER and PATTERN optional then).`

  static examples = [
    "<%= config.bin %> swarm join mg0 'node[2:4]'",
    "<%= config.bin %> swarm join mg0 'w[1:2000]' --concurrency 200",
    "<%= config.bin %> swarm join --manager mg0 'mg[1:2]'",
    '<%= config.bin %> swarm join --retry-failed',
  ]

  static strict = false
  static args = {
    manager: Args.string({description: 'a manager of the swarm'}),
    patterns: Args.string({description: "nodes to join ('w[1:2000]', 'node2,node3')"}),
  }

  static flags = {
    manager: Flags.boolean({description: 'join the nodes as managers (default: workers)'}),
    concurrency: Flags.integer({description: "nodes at once (default: the template's concurrency, 100)", min: 1}),
    timeout: Flags.string({description: 'per-node time limit, connection included', default: '2m'}),
    'retry-failed': Flags.boolean({description: 'join only the nodes that failed last time (kept in state.json)'}),
    json: Flags.boolean({description: 'print JSON: {"manager", "joined", "already", "failed": [{"name", "error"}]}'}),
    'print-command': Flags.boolean({description: 'print the remote commands (on the manager, then on each node) and run nothing'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(SwarmJoin)
    if (flags['print-command']) {
      const role = flags.manager ? 'manager' : 'worker'
      out(`# on the manager (one command: its swarm state, its managers, the ${role} join token)`)
      out(readManagerCommand(role))
      out()
      out('# on each node (one command; the token arrives on stdin and goes to dockerd as the body of POST /swarm/join through curl,')
      out('# never on a command line; only a node without curl or a local docker socket falls back to docker swarm join --token)')
      out(joinCommand('MANAGER-ADDRESS:2377', ['MANAGER-NODE-ID']))
      out()
      out("# when ssh_user is not root, each runs as: sudo -n sh -c '...'")
      return
    }
    const cluster = this.resolveCluster(flags)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const args = argv as string[]
    const record = cluster.state.read().failures[RECORD]
    let managerName: string | undefined = args[0]
    const patterns = args.slice(1)
    let role: 'worker' | 'manager' = flags.manager ? 'manager' : 'worker'
    let names: string[]
    const provider = await providerFor(cluster)
    if (flags['retry-failed']) {
      const failed = record?.failed.map((f) => f.name) ?? []
      if (failed.length === 0) {
        info('nothing to retry: the last swarm join left no failures')
        if (flags.json) printJson({manager: managerName ?? record?.context?.manager ?? null, joined: [], already: [], failed: []})
        return
      }
      managerName ??= typeof record?.context?.manager === 'string' ? record.context.manager : undefined
      if (!flags.manager && record?.context?.role === 'manager') role = 'manager'
      const wanted = patterns.length ? new Set(expandPatterns(patterns)) : null
      names = failed.filter((n) => !wanted || wanted.has(n))
      if (names.length === 0) {
        info(`none of the nodes that failed last time (${failed.length}) match ${patterns.join(' ')}`)
        if (flags.json) printJson({manager: managerName ?? null, joined: [], already: [], failed: []})
        return
      }
    } else {
      if (!managerName) throw new UsageError("which manager? belt swarm join MANAGER 'NODES' (or --retry-failed)")
      if (patterns.length === 0) throw new UsageError(`which nodes? belt swarm join ${managerName} 'node[2:4]'`)
      names = expandPatterns(patterns, (n, p) => provider.validateName(n, p))
    }
    if (!managerName) throw new UsageError('which manager? the failure record names none: belt swarm join MANAGER --retry-failed')
    const [managerEp] = await endpointsFor(cluster, [managerName], provider)
    const targets = await endpointsFor(cluster, names, provider)
    const concurrency = flags.concurrency ?? Number(cluster.settings.concurrency ?? 100)
    const ssh = createSshContext(cluster, {onWarning: warn})
    const sameSwarm = record?.context?.manager === managerName && (record?.context?.role ?? 'worker') === role
    // The record holds the nodes still outstanding for this manager: this run settles the nodes it attempted and
    // keeps earlier failures it did not touch. A different manager or role starts a new record.
    const recordFailures = (toRecord: {name: string; error: string}[]) => {
      const attempted = new Set(names)
      const kept = sameSwarm ? (record?.failed ?? []).filter((f) => !attempted.has(f.name)) : []
      const remaining = [...kept, ...toRecord]
      ensureClusterDir(cluster)
      cluster.state.update((s) => {
        if (remaining.length) s.failures[RECORD] = {at: new Date().toISOString(), context: {manager: managerName, role}, failed: remaining}
        else delete s.failures[RECORD]
      })
    }

    // The manager: one connection, one command for its state, its managers and the token — bounded by --timeout and
    // Ctrl-C like every node's work. When it fails, every node is reported failed with that reason (and kept for
    // --retry-failed); --json still prints its one document.
    const scope = onInterrupt()
    let manager: ManagerFacts
    try {
      manager = await this.readManagerOf(ssh, managerEp, role, timeoutMs, scope.signal)
    } catch (err) {
      scope.dispose()
      if (err instanceof UsageError) throw err
      const reason = oneLine(err)
      const failed = [...names].sort((a, b) => a.localeCompare(b, 'en', {numeric: true})).map((name) => ({name, error: reason}))
      recordFailures(failed)
      if (flags.json) printJson({manager: managerName, joined: [], already: [], failed})
      if (scope.interrupted()) throw new Interrupted(`interrupted while reading the manager ${managerName}; nothing was joined`)
      throw new PartialFailure(flags.json ? '' : reason)
    }
    info(`joining ${targets.length} node${targets.length === 1 ? '' : 's'} as ${role}${targets.length === 1 ? '' : 's'} to the swarm of ${managerName} (${manager.address})`)

    const progress = new FleetProgress({total: targets.length, outcomes: ['joined', 'already', 'failed'], label: 'swarm join'}).start()
    const viaArgv: string[] = []
    let run
    try {
      run = await ssh.runFleet(targets, (s, signal) => joinNode(s, manager, signal, (path) => { if (path === 'argv') viaArgv.push(s.endpoint.name) }), {
        concurrency,
        timeoutMs,
        retries: 2,
        jitterMs: Math.min(1000, targets.length * 5),
        signal: scope.signal,
        onResult: (r) => progress.record(r.name, r.ok ? r.value! : 'failed', r.error),
      })
    } finally {
      scope.dispose()
      await progress.stop()
    }
    printHostKeyWarnings(ssh.hostKeyProblems)
    if (viaArgv.length) {
      viaArgv.sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
      warn(`${viaArgv.length} node${viaArgv.length === 1 ? '' : 's'} (${viaArgv.slice(0, 5).join(', ')}${viaArgv.length > 5 ? ', …' : ''}) had no curl or no local docker socket and joined with docker swarm join --token: the token was in their process list while it ran; install curl there to avoid that`)
    }

    const rows: FleetRow[] = run.results.map((r) => ({name: r.name, outcome: r.ok ? r.value! : 'failed', error: r.error}))
    const failed = rows.filter((r) => r.outcome === 'failed').sort(byName).map((r) => ({name: r.name, error: r.error ?? 'failed'}))
    const toRecord = [...failed, ...run.notStarted.map((n) => ({name: n, error: 'not started (interrupted)'}))]
    recordFailures(toRecord)

    const names_ = (o: string) => rows.filter((r) => r.outcome === o).map((r) => r.name).sort((a, b) => a.localeCompare(b, 'en', {numeric: true}))
    if (flags.json) {
      printJson({manager: managerName, joined: names_('joined'), already: names_('already'), failed: toRecord})
    } else {
      out(fleetSummary(rows, ['joined', 'already', 'failed'], {notStarted: run.notStarted}))
      if (toRecord.length) info(`retry the failed nodes with: belt swarm join --retry-failed`)
    }
    if (run.interrupted) throw new Interrupted(`interrupted: ${run.notStarted.length} node(s) not started (kept for --retry-failed)`)
    if (failed.length) throw new PartialFailure(flags.json ? '' : `${failed.length} of ${targets.length} nodes failed to join`)
  }

  /** Connect to the manager and read its swarm facts and join token within `timeoutMs`; errors name the manager. */
  private async readManagerOf(ssh: BeltSshContext, ep: SshEndpoint, role: 'worker' | 'manager', timeoutMs: number, interrupt: AbortSignal): Promise<ManagerFacts> {
    const step = stepSignal(timeoutMs, interrupt)
    let session
    try {
      try {
        session = await ssh.connect(ep, {signal: step.signal})
      } catch (err) {
        printHostKeyWarnings(ssh.hostKeyProblems)
        throw new PartialFailure(`cannot reach the manager ${ep.name}: ${step.timedOut() ? `no SSH login within ${formatSeconds(timeoutMs)}` : oneLine(err)}`)
      }
      try {
        return await readManager(session, role, step.signal)
      } catch (err) {
        if (err instanceof SwarmError && err.conflict) throw new UsageError(err.message)
        if (step.timedOut()) {
          throw new PartialFailure(`manager ${ep.name}: no answer within ${formatSeconds(timeoutMs)} while reading its swarm state and ${role} join token (is docker hanging on ${ep.name}?)`)
        }
        throw new PartialFailure(`manager ${ep.name}: ${oneLine(err)}`)
      }
    } finally {
      session?.close()
      step.dispose()
    }
  }
}
