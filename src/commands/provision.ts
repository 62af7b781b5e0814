import {Args, Flags} from '@oclif/core'
import {BeltCommand} from '../base-command.js'
import type {Cluster} from '../core/config/cluster.js'
import {Interrupted, PartialFailure, UsageError} from '../core/errors.js'
import {parseDuration} from '../core/duration.js'
import {onInterrupt} from '../core/interrupt.js'
import {expandPatterns} from '../core/range.js'
import {providerFor} from '../providers/index.js'
import type {SshEndpoint} from '../providers/provider.js'
import {createSshContext} from '../ssh/context.js'
import {hostKeyWarning} from '../ssh/session.js'
import type {FleetRun} from '../ssh/types.js'
import {provisionNode, remoteCommandsForPrint, type NodeOutcome, type ProvisionContext} from '../docker/provision.js'
import {ensureClusterTls, tlsPolicy, type ClusterTls} from '../docker/tls.js'
import {byName, info, out, printJson, warn} from '../ui/output.js'
import {FleetProgress, fleetSummary} from '../ui/fleet.js'

/** Connection retries while a fresh machine's sshd comes up: backoff 0.5 s … 5 s, so roughly three minutes. */
export const WAIT_FOR_SSH_RETRIES = 36

/** Up to this many changed nodes, what changed on each is listed on stderr. */
const DETAIL_UP_TO = 30

export default class Provision extends BeltCommand {
  static description = 'Install Docker where missing and secure it with TLS on port 2376 (per-cluster CA), in parallel over SSH'
  static examples = [
    "<%= config.bin %> provision 'node[1:4]'",
    "<%= config.bin %> provision mg0 'w[1:2000]' --concurrency 200 --sysctl-large-cluster",
    "<%= config.bin %> provision node1 --force",
    '<%= config.bin %> provision node1 --print-command',
  ]
  static strict = false
  static args = {patterns: Args.string({description: "node names or patterns ('node[1:4]', 'mg0,w[1:3]')", required: true})}
  static flags = {
    concurrency: Flags.integer({description: 'hosts at once (default: the template\'s concurrency, 100)', min: 1}),
    force: Flags.boolean({description: 'issue new server certificates even where the current ones are fine'}),
    'sysctl-large-cluster': Flags.boolean({description: 'also write the Swarm3k neighbour-table settings to /etc/sysctl.d/99-belt-swarm.conf and apply them'}),
    timeout: Flags.string({description: 'per-host time limit, Docker installation included', default: '20m'}),
    'verify-timeout': Flags.string({description: 'how long dockerd may take to answer over TLS after its restart', default: '90s'}),
    'print-command': Flags.boolean({description: 'print the commands provision runs on a node, and run nothing'}),
    json: Flags.boolean({description: 'print JSON: {"ok": [names], "already": [names], "failed": [{"name", "error"}]}'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Provision)
    const cluster = this.resolveCluster(flags)
    const timeoutMs = parseDuration(flags.timeout, '--timeout')
    const verifyTimeoutMs = parseDuration(flags['verify-timeout'], '--verify-timeout')
    const policy = tlsPolicy(cluster.settings)
    const sysctl = flags['sysctl-large-cluster']
    if (flags['print-command']) {
      printRemoteCommands(cluster, sysctl)
      return
    }
    const endpoints = await resolveEndpoints(cluster, argv as string[])
    const tls = await ensureClusterTls(cluster, policy)
    announceTls(tls)
    const ctx = provisionContext(cluster, tls, {forceCerts: flags.force, sysctl, verifyTimeoutMs})
    const run = await runProvisionFleet(cluster, endpoints, ctx, {concurrency: flags.concurrency ?? Number(cluster.settings.concurrency ?? 100), timeoutMs, verb: 'provisioned', label: 'provision', json: flags.json})
    finishFleet(cluster, 'provision', run, endpoints, {json: flags.json, verb: 'provisioned'})
  }
}

/** Endpoints for the patterns; unknown names are a usage error before anything changes. */
export async function resolveEndpoints(cluster: Cluster, patterns: string[]): Promise<SshEndpoint[]> {
  const provider = await providerFor(cluster)
  const names = expandPatterns(patterns, (n, p) => provider.validateName(n, p))
  const {found, missing} = await provider.endpoints(names)
  if (missing.length) {
    throw new UsageError(`unknown node${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''} in cluster '${cluster.name}'`)
  }
  const order = new Map(names.map((n, i) => [n, i]))
  return found.sort((a, b) => order.get(a.name)! - order.get(b.name)!)
}

export function announceTls(tls: ClusterTls): void {
  if (tls.created.includes('ca')) info(`created the cluster CA in ${tls.paths.dir} (ca-key.pem stays on this machine)`)
  if (tls.created.includes('client')) info(`issued the client certificate ${tls.paths.cert}`)
}

export function provisionContext(cluster: Cluster, tls: ClusterTls, opts: {forceCerts: boolean; sysctl: boolean; verifyTimeoutMs: number; restartSlot?: ProvisionContext['restartSlot']}): ProvisionContext {
  return {
    ca: tls.ca,
    client: {ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem},
    policy: tlsPolicy(cluster.settings),
    forceCerts: opts.forceCerts,
    engineInstall: cluster.settings.engine_install !== false,
    engineInstallUrl: String(cluster.settings.engine_install_url ?? 'https://get.docker.com'),
    sysctl: opts.sysctl,
    applySysctl: cluster.driver !== 'local',
    verifyTimeoutMs: opts.verifyTimeoutMs,
    restartSlot: opts.restartSlot,
  }
}

function printRemoteCommands(cluster: Cluster, sysctl: boolean): void {
  const url = cluster.settings.engine_install === false ? null : String(cluster.settings.engine_install_url ?? 'https://get.docker.com')
  for (const s of remoteCommandsForPrint({engineInstallUrl: url, sysctl, applySysctl: cluster.driver !== 'local'})) {
    out(`# ${s.step}`)
    out(s.command)
    out()
  }
}

export async function runProvisionFleet(cluster: Cluster, endpoints: SshEndpoint[], ctx: ProvisionContext, opts: {concurrency: number; timeoutMs?: number; verb: string; label: string; json: boolean}): Promise<FleetRun<NodeOutcome>> {
  const ssh = createSshContext(cluster, {onWarning: warn})
  const scope = onInterrupt()
  const progress = new FleetProgress({total: endpoints.length, outcomes: [opts.verb, 'already', 'failed'], label: opts.label, plain: opts.json ? true : undefined}).start()
  try {
    const run = await ssh.runFleet(endpoints, (session, signal) => provisionNode(session, session.endpoint, ctx, signal), {
      concurrency: opts.concurrency,
      timeoutMs: opts.timeoutMs,
      retries: WAIT_FOR_SSH_RETRIES,
      jitterMs: Math.min(2000, endpoints.length * 10),
      signal: scope.signal,
      onResult: (r) => progress.record(r.name, r.ok ? (r.value!.already ? 'already' : opts.verb) : 'failed', r.error),
    })
    await progress.stop()
    const seen = new Set<string>()
    for (const p of ssh.hostKeyProblems) {
      const key = `${p.host}:${p.port}`
      if (seen.has(key)) continue
      seen.add(key)
      process.stderr.write(hostKeyWarning(p) + '\n')
    }
    return {...run, interrupted: run.interrupted || scope.interrupted()}
  } finally {
    await progress.stop()
    scope.dispose()
    ssh.close()
  }
}

/** What changed per node (stderr, for fleets small enough to read), the summary (stdout) or JSON, state, exit. */
export function finishFleet(cluster: Cluster, command: string, run: FleetRun<NodeOutcome>, endpoints: SshEndpoint[], opts: {json: boolean; verb: string}): void {
  const done = run.results.filter((r) => r.ok).sort(byName)
  const ok = done.filter((r) => !r.value!.already)
  const already = done.filter((r) => r.value!.already)
  const failed = run.results.filter((r) => !r.ok).sort(byName).map((r) => ({name: r.name, error: r.error ?? 'failed'}))
  for (const r of done) for (const n of r.value!.notices) info(`${r.name}: note: ${n}`)
  if (ok.length <= DETAIL_UP_TO) for (const r of ok) info(`${r.name}: ${r.value!.changes.join('; ')}`)
  if (opts.json) printJson({ok: ok.map((r) => r.name), already: already.map((r) => r.name), failed})
  else {
    const rows = [
      ...ok.map((r) => ({name: r.name, outcome: opts.verb})),
      ...already.map((r) => ({name: r.name, outcome: 'already'})),
      ...failed.map((f) => ({name: f.name, outcome: 'failed', error: f.error})),
    ]
    out(fleetSummary(rows, [opts.verb, 'already', 'failed'], {notStarted: run.notStarted}))
  }
  cluster.state.update((s) => {
    if (failed.length) s.failures[command] = {at: new Date().toISOString(), failed}
    else delete s.failures[command]
  })
  if (done.length > 0 && !run.interrupted) info(`use Docker on a node with: eval "$(belt env ${done[0].name})"`)
  if (run.interrupted) throw new Interrupted(`interrupted: ${run.notStarted.length} node(s) not started; re-run the same command to finish`)
  if (failed.length) throw new PartialFailure(`${failed.length} of ${endpoints.length} node(s) failed; fix the cause and re-run the same command (finished nodes are skipped)`)
}
