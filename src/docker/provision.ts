// Provisioning one node over SSH: wait for cloud-init and the package locks, install Docker when missing, give
// dockerd a server certificate from the cluster CA and a TCP socket with mutual TLS on 2376 (systemd drop-in),
// restart it, and verify from this machine with a real mutual-TLS GET /_ping and /version.
//
// Re-running converges: the node is inspected first (one command), and files are written and dockerd restarted
// only when something differs from what belt would install now. Every remote command is built in this file
// (REMOTE_COMMANDS), so `belt provision --print-command` shows exactly what runs on a node. Keys travel on the SSH
// channel's stdin, never on a command line; the CA key never leaves this machine.
//
// The last part runs it on a fleet (provisionNodes: provision and regenerate-certs) and keeps its failures in
// state.json.
import {X509Certificate} from 'node:crypto'
import type {Cluster} from '../core/config/cluster.js'
import {onInterrupt} from '../core/interrupt.js'
import type {SshEndpoint} from '../providers/provider.js'
import type {SshContext, SshSession} from '../ssh/types.js'
import {byNaturalName, fleetResult, runTracked, type FleetHooks, type FleetResult} from '../ssh/fleet-result.js'
import {shellQuote} from '../ssh/quote.js'
import {checkEngine, waitForEngine, DOCKER_TLS_PORT, EngineError, type ClientTls, type EngineTarget, type EngineVersion} from './engine-api.js'
import {issueServerCertificate, serverCertificateProblems, serverSans, tlsPolicy} from './tls.js'
import type {CertificateAuthority, ClusterTls, TlsPolicy} from './tls.js'

/** Where things live on a node. */
export const NODE_PATHS = {
  ca: '/etc/docker/ca.pem',
  cert: '/etc/docker/server.pem',
  key: '/etc/docker/server-key.pem',
  daemonJson: '/etc/docker/daemon.json',
  dropInDir: '/etc/systemd/system/docker.service.d',
  dropIn: '/etc/systemd/system/docker.service.d/10-belt.conf',
  sysctl: '/etc/sysctl.d/99-belt-swarm.conf',
} as const

/** docker.service as systemd finds it: the first of these is the unit; drop-ins come from every *.service.d. */
const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system']

/** Swarm3k's neighbour-table settings: thousands of overlay peers overflow the default ARP cache (1,024). */
export const SWARM_SYSCTL = `# Written by belt (provision --sysctl-large-cluster): room in the neighbour table for thousands of Swarm peers.
net.ipv4.neigh.default.gc_thresh1 = 30000
net.ipv4.neigh.default.gc_thresh2 = 32000
net.ipv4.neigh.default.gc_thresh3 = 32768
`

/** daemon.json keys that dockerd refuses next to the same -H / --tls* flags ("specified both as a flag and in the configuration file"). */
const DAEMON_JSON_CONFLICTS = ['hosts', 'tls', 'tlsverify', 'tlscacert', 'tlscert', 'tlskey']

const LOCK_WAIT_SECONDS = 600

// ---------------------------------------------------------------------------------------------------------------
// Remote commands (all run as root: through `sudo -n` when ssh_user is not root)

/**
 * Wait (bounded) while apt or dpkg holds its lock. dpkg and apt take POSIX (fcntl) locks, so /proc/locks shows
 * them by inode — no fuser or lsof needed on a minimal image.
 */
export const WAIT_FOR_PACKAGE_LOCKS = `belt_locked() {
  for f in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock; do
    [ -e "$f" ] || continue
    i=$(stat -c %i "$f" 2>/dev/null) || continue
    grep -q ":$i " /proc/locks 2>/dev/null && return 0
  done
  return 1
}
w=0
while belt_locked && [ $w -lt ${LOCK_WAIT_SECONDS} ]; do sleep 1; w=$((w + 1)); done
if belt_locked; then echo "@@belt locked $w"; else echo "@@belt lock-wait $w"; fi`

/** One command that waits for the node to be ready and reports everything provisioning compares. */
export function inspectCommand(): string {
  const show = (path: string) => `show ${shellQuote(path)}`
  return `set -u
show() { if [ -f "$1" ]; then echo "@@belt-file $1"; cat "$1"; echo; echo "@@belt-end"; fi; }
if command -v cloud-init >/dev/null 2>&1; then cloud-init status --wait >/dev/null 2>&1; echo "@@belt cloud-init $?"; else echo "@@belt cloud-init absent"; fi
${WAIT_FOR_PACKAGE_LOCKS}
echo "@@belt dockerd $(command -v dockerd 2>/dev/null)"
echo "@@belt systemctl $(command -v systemctl 2>/dev/null)"
if [ -f ${NODE_PATHS.key} ]; then echo "@@belt key-mode $(stat -c %a ${NODE_PATHS.key})"; fi
${[NODE_PATHS.ca, NODE_PATHS.cert, NODE_PATHS.daemonJson, NODE_PATHS.sysctl].map(show).join('\n')}
for f in ${UNIT_DIRS.map((d) => `${d}/docker.service`).join(' ')}; do if [ -f "$f" ]; then show "$f"; break; fi; done
for f in ${UNIT_DIRS.map((d) => `${d}/docker.service.d/*.conf`).join(' ')}; do show "$f"; done
exit 0`
}

/** Docker's convenience script (engine_install_url), after the package locks are free. */
export function installDockerCommand(url: string): string {
  const u = shellQuote(url)
  return `set -u
${WAIT_FOR_PACKAGE_LOCKS}
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
if command -v curl >/dev/null 2>&1; then curl -fsSL ${u} -o "$d/get-docker.sh"
elif command -v wget >/dev/null 2>&1; then wget -qO "$d/get-docker.sh" ${u}
else echo "neither curl nor wget is installed to fetch the install script" >&2; exit 1; fi || { echo "could not download ${u}" >&2; exit 1; }
sh "$d/get-docker.sh" > "$d/log" 2>&1 || { tail -n 5 "$d/log" >&2; exit 1; }
command -v dockerd >/dev/null 2>&1 || { echo "the install script ran but dockerd is still not installed" >&2; exit 1; }`
}

export const RESTART_DOCKER = 'systemctl daemon-reload && systemctl restart docker'

export const APPLY_SYSCTL = 'sysctl --system >/dev/null'

/** Every remote command provision may run, for --print-command (file writes are shown by path and mode). */
export function remoteCommandsForPrint(opts: {engineInstallUrl: string | null; sysctl: boolean; applySysctl: boolean}): {step: string; command: string}[] {
  const steps = [{step: 'inspect (wait for cloud-init and package locks; read Docker\'s TLS files and unit)', command: inspectCommand()}]
  if (opts.engineInstallUrl) steps.push({step: 'install Docker (only when dockerd is missing)', command: installDockerCommand(opts.engineInstallUrl)})
  steps.push({
    step: 'write files (only those that differ; content on stdin)',
    command: [
      `${NODE_PATHS.ca} (0644)`,
      `${NODE_PATHS.cert} (0644)`,
      `${NODE_PATHS.key} (0600)`,
      `${NODE_PATHS.dropIn} (0644)`,
      `${NODE_PATHS.daemonJson} (0644, only to remove ${DAEMON_JSON_CONFLICTS.join('/')})`,
      ...(opts.sysctl ? [`${NODE_PATHS.sysctl} (0644)`] : []),
    ].join('\n'),
  })
  steps.push({step: 'restart Docker (only when a file changed or dockerd does not answer over TLS)', command: RESTART_DOCKER})
  if (opts.sysctl && opts.applySysctl) steps.push({step: 'apply sysctl settings (only when the file changed)', command: APPLY_SYSCTL})
  return steps
}

// ---------------------------------------------------------------------------------------------------------------
// What the node reported

export interface NodeFacts {
  /** cloud-init's exit status after --wait; null when cloud-init is not installed. */
  cloudInit: number | null
  /** Seconds spent waiting for apt/dpkg locks; `locked` when they were still held at the end. */
  lockWaitSeconds: number
  locked: boolean
  dockerd: string | null
  systemctl: string | null
  keyMode: string | null
  /** Files that exist, by path (exact content). */
  files: Map<string, string>
}

export function parseInspectOutput(stdout: string): NodeFacts {
  const facts: NodeFacts = {cloudInit: null, lockWaitSeconds: 0, locked: false, dockerd: null, systemctl: null, keyMode: null, files: new Map()}
  const lines = stdout.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.startsWith('@@belt-file ')) {
      const path = line.slice('@@belt-file '.length)
      const body: string[] = []
      for (i++; i < lines.length && lines[i] !== '@@belt-end'; i++) body.push(lines[i])
      // `cat f; echo` ends the content with one extra newline, which the split above consumed: the join is exact.
      facts.files.set(path, body.join('\n'))
      continue
    }
    const m = /^@@belt (\S+) ?(.*)$/.exec(line)
    if (!m) continue
    const value = m[2].trim()
    switch (m[1]) {
      case 'cloud-init': facts.cloudInit = value === 'absent' ? null : Number(value); break
      case 'lock-wait': facts.lockWaitSeconds = Number(value); break
      case 'locked': facts.locked = true; facts.lockWaitSeconds = Number(value); break
      case 'dockerd': facts.dockerd = value || null; break
      case 'systemctl': facts.systemctl = value || null; break
      case 'key-mode': facts.keyMode = value || null; break
    }
  }
  return facts
}

// ---------------------------------------------------------------------------------------------------------------
// The systemd drop-in

/** ExecStart= values of a unit file's [Service] section, in order ('' resets, as in systemd). */
export function execStartsIn(unitText: string): string[] {
  const out: string[] = []
  let section = ''
  const joined = unitText.replace(/\\\r?\n/g, ' ')
  for (const raw of joined.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#') || line.startsWith(';')) continue
    if (line.startsWith('[')) {
      section = line
      continue
    }
    if (section !== '[Service]') continue
    const m = /^ExecStart\s*=\s*(.*)$/.exec(line)
    if (m) out.push(m[1].trim())
  }
  return out
}

/** Split an ExecStart command line into words, keeping quoted words as written. */
function words(cmd: string): string[] {
  return cmd.match(/"[^"]*"|'[^']*'|\S+/g) ?? []
}

/** Flags belt sets itself: any earlier -H / --host / --tls* would clash with them. */
function isOwnedFlag(word: string): 'alone' | 'with-value' | false {
  if (/^(-H|--host)$/.test(word)) return 'with-value'
  if (/^(-H|--host)=/.test(word) || /^-H\S/.test(word)) return 'alone'
  if (/^--tls(verify|cacert|cert|key)?(=.*)?$/.test(word)) return /^--tls(cacert|cert|key)$/.test(word) ? 'with-value' : 'alone'
  return false
}

export const BELT_DOCKERD_FLAGS = [
  '-H', 'unix:///var/run/docker.sock',
  '-H', `tcp://0.0.0.0:${DOCKER_TLS_PORT}`,
  '--tlsverify',
  `--tlscacert=${NODE_PATHS.ca}`,
  `--tlscert=${NODE_PATHS.cert}`,
  `--tlskey=${NODE_PATHS.key}`,
]

export interface DropInPlan {
  text: string
  /** The ExecStart belt started from (the distribution's, minus its -H/--tls flags). */
  base: string
}

/**
 * The drop-in belt installs: the distribution's own ExecStart (so flags such as --containerd and $DOCKER_OPTS
 * stay) without `-H fd://` or other -H/--tls flags, plus belt's sockets and TLS files. A drop-in that sorts after
 * 10-belt.conf and sets ExecStart would silently win over it: that is an error the operator must resolve.
 */
export function planDropIn(facts: NodeFacts): DropInPlan {
  const unitPath = UNIT_DIRS.map((d) => `${d}/docker.service`).find((p) => facts.files.has(p))
  // Drop-ins by file name; one in /etc overrides one of the same name further down (systemd's rule).
  const dropIns = new Map<string, {path: string; text: string}>()
  for (const dir of [...UNIT_DIRS].reverse()) {
    for (const [path, text] of facts.files) {
      if (path.startsWith(`${dir}/docker.service.d/`) && path.endsWith('.conf')) dropIns.set(path.slice(path.lastIndexOf('/') + 1), {path, text})
    }
  }
  const ours = NODE_PATHS.dropIn.slice(NODE_PATHS.dropIn.lastIndexOf('/') + 1)
  const names = [...dropIns.keys()].filter((n) => n !== ours).sort()
  const late = names.filter((n) => n > ours && execStartsIn(dropIns.get(n)!.text).length > 0)
  if (late.length) {
    const p = dropIns.get(late[0])!.path
    throw new Error(`${p} sets ExecStart and is read after ${NODE_PATHS.dropIn}, so it would override belt's; move its flags into /etc/docker/daemon.json or rename it to sort before 10-belt.conf`)
  }
  let exec: string | null = null
  const apply = (text: string) => {
    for (const v of execStartsIn(text)) exec = v === '' ? null : v
  }
  if (unitPath) apply(facts.files.get(unitPath)!)
  for (const n of names) apply(dropIns.get(n)!.text)
  const base = stripOwnedFlags(exec ?? facts.dockerd ?? '/usr/bin/dockerd')
  const text = `# Written by belt (belt provision): dockerd on the local socket and on tcp://0.0.0.0:${DOCKER_TLS_PORT} with mutual TLS.
# Certificates: ${NODE_PATHS.ca}, ${NODE_PATHS.cert}, ${NODE_PATHS.key}. Remove this file and restart docker to undo.
[Service]
ExecStart=
ExecStart=${[base, ...BELT_DOCKERD_FLAGS].join(' ')}
`
  return {text, base}
}

function stripOwnedFlags(execStart: string): string {
  const w = words(execStart)
  // systemd's prefixes (-, @, +, !, :) belong to the old line, not to ours.
  if (w.length) w[0] = w[0].replace(/^[-@+!:]+/, '')
  const kept: string[] = []
  for (let i = 0; i < w.length; i++) {
    const owned = i > 0 ? isOwnedFlag(w[i]) : false
    if (owned === 'with-value') i++
    else if (!owned) kept.push(w[i])
  }
  return kept.join(' ')
}

/** daemon.json without the keys that clash with belt's flags; null when nothing has to change. */
export function cleanDaemonJson(text: string | undefined): {text: string; removed: string[]} | null {
  if (text === undefined || text.trim() === '') return null
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new Error(`${NODE_PATHS.daemonJson} is not valid JSON (${(err as Error).message}); dockerd would not start with it either — fix it and re-run`, {cause: err})
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${NODE_PATHS.daemonJson} is not a JSON object; fix it and re-run`)
  const obj = parsed as Record<string, unknown>
  const removed = DAEMON_JSON_CONFLICTS.filter((k) => k in obj)
  if (removed.length === 0) return null
  for (const k of removed) delete obj[k]
  return {text: JSON.stringify(obj, null, 2) + '\n', removed}
}

// ---------------------------------------------------------------------------------------------------------------
// Provisioning one node

export interface ProvisionContext {
  ca: CertificateAuthority
  client: ClientTls
  policy: TlsPolicy
  /** Issue new server certificates even when the node's are fine (--force, regenerate-certs). */
  forceCerts: boolean
  /** engine_install: install Docker when dockerd is missing. */
  engineInstall: boolean
  engineInstallUrl: string
  sysctl: boolean
  /** false on `local` hosts, where the neighbour table is not per-namespace: the file is written, not applied. */
  applySysctl: boolean
  /** How long dockerd may take to answer over TLS after a restart. */
  verifyTimeoutMs: number
  /** Wraps restart + verification (regenerate-certs passes a limiter so nodes restart one at a time). */
  restartSlot?: <T>(fn: () => Promise<T>) => Promise<T>
  /** Progress within a node ("installing Docker"), for verbose or single-node output. */
  onStep?: (node: string, step: string) => void
  /** Behind a bastion: how to reach a node's port 2376 (through the jump host); absent: dial it directly. */
  tunnel?: SshContext['tunnel']
}

export interface NodeOutcome {
  /** Nothing changed on the node. */
  already: boolean
  /** What was changed, in words ("issued a server certificate", "restarted Docker"). */
  changes: string[]
  /** Things worth telling (stderr), e.g. sysctl not applied on a local host. */
  notices: string[]
  /** The address DOCKER_HOST should use. */
  address: string
  sans: string[]
  engine: EngineVersion
}

/** The address clients dial for this node's Docker: public when known, else the SSH address. */
export function dockerAddress(ep: SshEndpoint): string {
  return ep.public_ip ?? ep.host
}

/** Where the TLS check dials: `address` (checked against the certificate), through the bastion when there is one. */
function engineTarget(address: string, ep: SshEndpoint, ctx: ProvisionContext): EngineTarget {
  const tunnel = ctx.tunnel?.(ep)
  return tunnel ? {host: address, dial: () => tunnel(DOCKER_TLS_PORT)} : {host: address}
}

function normalizePem(s: string | undefined): string {
  return (s ?? '').replace(/\r/g, '').trim()
}

async function run(
  session: SshSession,
  command: string,
  what: string,
  opts: {timeoutMs: number; signal: AbortSignal; maxOutputBytes?: number},
): Promise<string> {
  const r = await session.exec(command, {sudo: true, timeoutMs: opts.timeoutMs, signal: opts.signal, maxOutputBytes: opts.maxOutputBytes})
  if (r.code !== 0) {
    const detail = r.stderr.trim().split('\n').filter(Boolean).slice(-2).join(' / ') || (r.signal ? `killed by ${r.signal}` : `exit code ${r.code}`)
    throw new Error(`${what} failed: ${detail}`)
  }
  return r.stdout
}

export async function provisionNode(session: SshSession, ep: SshEndpoint, ctx: ProvisionContext, signal: AbortSignal): Promise<NodeOutcome> {
  const step = (s: string) => ctx.onStep?.(ep.name, s)
  const changes: string[] = []
  const notices: string[] = []
  const inspect = async () => parseInspectOutput(await run(session, inspectCommand(), 'inspecting the node', {timeoutMs: 30 * 60_000, signal, maxOutputBytes: 1 << 20}))

  step('waiting for cloud-init and package locks')
  let facts = await inspect()
  if (facts.cloudInit !== null && facts.cloudInit !== 0) notices.push(`cloud-init finished with status ${facts.cloudInit} (see cloud-init status --long on the node)`)
  if (!facts.systemctl) throw new Error('no systemctl on the node: belt configures Docker through a systemd drop-in (Ubuntu, Debian and most cloud images have systemd)')
  if (!facts.dockerd) {
    if (!ctx.engineInstall) throw new Error('Docker is not installed and engine_install is false; install it or set engine_install: true')
    if (facts.locked) throw new Error(`apt/dpkg is still locked after ${facts.lockWaitSeconds}s; cannot install Docker`)
    step(`installing Docker from ${ctx.engineInstallUrl}`)
    await run(session, installDockerCommand(ctx.engineInstallUrl), 'installing Docker', {timeoutMs: 20 * 60_000, signal})
    changes.push('installed Docker')
    facts = await inspect()
    if (!facts.dockerd) throw new Error('Docker was installed but dockerd is not on PATH')
  }

  const address = dockerAddress(ep)
  const sans = serverSans(ep, ctx.policy.extraSans)
  const dropIn = planDropIn(facts)
  const daemonJson = cleanDaemonJson(facts.files.get(NODE_PATHS.daemonJson))
  const writes: {path: string; data: string; mode: number}[] = []

  // Server certificate: reuse the node's when it is from this CA, names the node as now, is not near expiry and
  // its key is in place; otherwise a fresh key pair and certificate.
  const remoteCert = facts.files.get(NODE_PATHS.cert)
  const certReasons: string[] = []
  if (ctx.forceCerts) certReasons.push('forced')
  else if (remoteCert === undefined) certReasons.push('none on the node')
  else {
    certReasons.push(...serverCertificateProblems(remoteCert, ctx.ca, sans))
    if (normalizePem(facts.files.get(NODE_PATHS.ca)) !== normalizePem(ctx.ca.certPem)) certReasons.push(`${NODE_PATHS.ca} is not this cluster's CA`)
    if (facts.keyMode === null) certReasons.push(`${NODE_PATHS.key} is missing`)
    else if (facts.keyMode !== '600') certReasons.push(`${NODE_PATHS.key} has mode ${facts.keyMode}`)
  }
  let servedCert = remoteCert
  if (certReasons.length) {
    step('issuing a server certificate')
    const issued = await issueServerCertificate(ctx.ca, ep.name, sans, ctx.policy)
    writes.push({path: NODE_PATHS.ca, data: ctx.ca.certPem, mode: 0o644})
    writes.push({path: NODE_PATHS.key, data: issued.keyPem, mode: 0o600})
    writes.push({path: NODE_PATHS.cert, data: issued.certPem, mode: 0o644})
    servedCert = issued.certPem
    changes.push(`issued a server certificate: ${certReasons.join('; ')}`)
  }
  if (facts.files.get(NODE_PATHS.dropIn) !== dropIn.text) {
    writes.push({path: NODE_PATHS.dropIn, data: dropIn.text, mode: 0o644})
    changes.push(facts.files.has(NODE_PATHS.dropIn) ? `updated ${NODE_PATHS.dropIn}` : `wrote ${NODE_PATHS.dropIn}`)
  }
  if (daemonJson) {
    writes.push({path: NODE_PATHS.daemonJson, data: daemonJson.text, mode: 0o644})
    changes.push(`removed ${daemonJson.removed.join(', ')} from ${NODE_PATHS.daemonJson} (belt sets them as flags)`)
  }
  let restartReason: string | null = writes.length ? 'configuration changed' : null

  // Nothing to change on disk: check that dockerd really serves this configuration before calling it done.
  if (!restartReason) {
    step('checking Docker over TLS')
    try {
      const check = await checkEngine(engineTarget(address, ep, ctx), ctx.client, {timeoutMs: 10_000, signal})
      if (check.fingerprint256 !== new X509Certificate(servedCert!).fingerprint256) restartReason = 'dockerd serves an older certificate'
      else {
        const outcome: NodeOutcome = {already: true, changes, notices, address, sans, engine: check.version}
        await applySysctl(session, facts, ctx, outcome, signal)
        return outcome
      }
    } catch (err) {
      // Nothing answered at all (filtered, unreachable): the node's files are right and a restart cannot help.
      if (err instanceof EngineError && (err.kind === 'network' || err.kind === 'stopped')) {
        throw new Error(`the node is configured, but port ${DOCKER_TLS_PORT} cannot be reached from here: ${err.message}; open it to this machine (admin_cidr) and re-run`, {cause: err})
      }
      restartReason = `dockerd does not answer over TLS (${(err as Error).message})`
    }
  }

  for (const w of writes) {
    step(`writing ${w.path}`)
    await session.writeFile(w.path, w.data, {mode: w.mode, sudo: true})
  }
  const restartAndVerify = async () => {
    step('restarting Docker')
    await run(session, RESTART_DOCKER, 'restarting Docker', {timeoutMs: 5 * 60_000, signal})
    step('verifying Docker over TLS')
    return waitForEngine(engineTarget(address, ep, ctx), ctx.client, {timeoutMs: ctx.verifyTimeoutMs, signal})
  }
  const check = ctx.restartSlot ? await ctx.restartSlot(restartAndVerify) : await restartAndVerify()
  if (check.fingerprint256 !== new X509Certificate(servedCert!).fingerprint256) {
    throw new Error(`after the restart dockerd on ${address}:${DOCKER_TLS_PORT} presents a certificate other than ${NODE_PATHS.cert}`)
  }
  changes.push(`restarted Docker (${restartReason})`)
  const outcome: NodeOutcome = {already: false, changes, notices, address, sans, engine: check.version}
  await applySysctl(session, facts, ctx, outcome, signal)
  return outcome
}

async function applySysctl(session: SshSession, facts: NodeFacts, ctx: ProvisionContext, outcome: NodeOutcome, signal: AbortSignal): Promise<void> {
  if (!ctx.sysctl || facts.files.get(NODE_PATHS.sysctl) === SWARM_SYSCTL) return
  await session.writeFile(NODE_PATHS.sysctl, SWARM_SYSCTL, {mode: 0o644, sudo: true})
  outcome.changes.push(`wrote ${NODE_PATHS.sysctl}`)
  outcome.already = false
  if (!ctx.applySysctl) {
    outcome.notices.push(`wrote ${NODE_PATHS.sysctl}; not applied: the neighbour table is shared by every local host (not per network namespace)`)
    return
  }
  await run(session, APPLY_SYSCTL, 'applying sysctl settings', {timeoutMs: 60_000, signal})
  outcome.changes.push('applied sysctl settings')
}

// ---------------------------------------------------------------------------------------------------------------
// Provisioning a fleet

/** Connection retries while a fresh machine's sshd comes up: backoff 0.5 s … 5 s, so roughly three minutes. */
export const WAIT_FOR_SSH_RETRIES = 36

/** The remote commands --print-command shows for this cluster's settings. */
export function clusterRemoteCommands(cluster: Cluster, sysctl: boolean): {step: string; command: string}[] {
  const engineInstallUrl = cluster.settings.engine_install ? cluster.settings.engine_install_url : null
  return remoteCommandsForPrint({engineInstallUrl, sysctl, applySysctl: cluster.driver !== 'local'})
}

export function provisionContext(cluster: Cluster, tls: ClusterTls,
  opts: {forceCerts: boolean; sysctl: boolean; verifyTimeoutMs: number; restartSlot?: ProvisionContext['restartSlot']}): ProvisionContext {
  return {
    ca: tls.ca,
    client: {ca: tls.ca.certPem, cert: tls.client.certPem, key: tls.client.keyPem},
    policy: tlsPolicy(cluster.settings),
    forceCerts: opts.forceCerts,
    engineInstall: cluster.settings.engine_install,
    engineInstallUrl: cluster.settings.engine_install_url,
    sysctl: opts.sysctl,
    applySysctl: cluster.driver !== 'local',
    verifyTimeoutMs: opts.verifyTimeoutMs,
    restartSlot: opts.restartSlot,
  }
}

export interface ProvisionResult extends FleetResult {
  /** What each finished node reported (changes, notices), by name. */
  done: {name: string; outcome: NodeOutcome}[]
}

/**
 * Provision every endpoint in parallel (connections retried while fresh machines boot). The nodes that failed are kept
 * in state.json under `record` (the command's name) until a run leaves none.
 */
export async function provisionNodes(cluster: Cluster, ssh: SshContext, endpoints: SshEndpoint[], ctx: ProvisionContext,
  o: {concurrency: number; timeoutMs?: number; verb: string; record: string}, hooks: FleetHooks = {}): Promise<ProvisionResult> {
  const scope = onInterrupt()
  let fleet
  try {
    const via = {...ctx, tunnel: ctx.tunnel ?? ssh.tunnel?.bind(ssh)}
    fleet = await runTracked(ssh, endpoints, (session, signal) => provisionNode(session, session.endpoint, via, signal), {
      concurrency: o.concurrency, timeoutMs: o.timeoutMs, retries: WAIT_FOR_SSH_RETRIES, jitterMs: Math.min(2000, endpoints.length * 10),
      signal: scope.signal, label: o.record, outcomes: [o.verb, 'already', 'failed'], outcomeOf: (v) => (v.already ? 'already' : o.verb),
    }, hooks)
  } finally {
    scope.dispose()
  }
  const result = fleetResult(o.verb, fleet.rows, {notStarted: fleet.run.notStarted, interrupted: fleet.run.interrupted || scope.interrupted()})
  cluster.state.update((s) => {
    if (result.failed.length) s.failures[o.record] = {at: new Date().toISOString(), failed: result.failed}
    else delete s.failures[o.record]
  })
  const done = fleet.run.results.filter((r) => r.ok).map((r) => ({name: r.name, outcome: r.value!}))
  return {...result, done: done.sort((a, b) => byNaturalName(a.name, b.name))}
}
