// The user data of a node that joins the swarm by itself at boot (CONTRACT §11): a POSIX sh script that learns its
// belt name, sets the hostname, waits for dockerd (installing Docker first when engine_install is on), then joins
// with the worker token and every manager address, retrying with backoff until a deadline. It logs to
// /var/log/cloud-init-output.log and never prints the token. The user's own user_data runs first: a #cloud-config
// document becomes the first part of a multipart MIME document (ours the last script), a #! script is run first by
// ours. Pure: no I/O, so unit tests render exactly what the providers send.
import {createHash} from 'node:crypto'
import {UsageError} from '../core/errors.js'
import {redact} from '../core/redact.js'
import {shellQuote as q} from '../ssh/quote.js'

/** How the script learns its belt name. */
export type NameSource =
  /** DigitalOcean: the droplet's hostname, which it gets from its name. */
  | {kind: 'hostname'}
  /** EC2: one RunInstances batch shares one user data; the instance's ami-launch-index (IMDSv2) picks its name. */
  | {kind: 'launch-index'; names: readonly string[]}
  /** local: given. */
  | {kind: 'given'; name: string}

export interface JoinScriptOptions {
  names: NameSource
  /** host:port of every manager; the connected manager's first. */
  managers: string[]
  token: string
  /** engine_install on: the URL of Docker's install script (used only when docker is missing). */
  engineInstallUrl: string | null
  /** Seconds from the script's start until it gives up (default 15 min). */
  deadlineSeconds?: number
  /** The user's own user_data, run first. */
  userData?: string
}

export const DEFAULT_DEADLINE_SECONDS = 15 * 60
export const BOOT_LOG = '/var/log/cloud-init-output.log'
/** EC2 limits the raw user data to 16 KB; DigitalOcean to 64 KiB. */
export const USER_DATA_LIMITS = {ec2: 16 * 1024, digitalocean: 64 * 1024} as const

const TOKEN_RE = /^SWMTKN-[A-Za-z0-9-]+$/
const ADDR_RE = /^[A-Za-z0-9.:[\]-]+$/

/** The join script alone (no user data of the user's). */
export function joinScript(o: JoinScriptOptions): string {
  if (!TOKEN_RE.test(o.token)) throw new Error('malformed swarm join token')
  if (o.managers.length === 0) throw new Error('no manager address to join')
  for (const m of o.managers) if (!ADDR_RE.test(m)) throw new Error(`malformed manager address ${m}`)
  const deadline = o.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS
  const addrsJson = o.managers.map((m) => `"${m}"`).join(',')
  return [
    '#!/bin/sh',
    '# belt: join the Docker Swarm at boot (belt create --join / swarm.join: cloud-init). Logs to ' + BOOT_LOG + ';',
    '# the join token below is never printed. Safe to run again: a node already in a swarm is left as it is.',
    `BELT_LOG=\${BELT_LOG:-${BOOT_LOG}}`,
    'exec >>"$BELT_LOG" 2>&1',
    `deadline=$(( $(date +%s) + ${deadline} ))`,
    `managers=${q(o.managers.join(' '))}`,
    `addrs_json=${q(addrsJson)}`,
    `t=${q(o.token)}`,
    `log() { echo "belt-boot-join: $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }`,
    `scrub() { sed -e 's/SWMTKN-[A-Za-z0-9-]*/SWMTKN-redacted/g'; }`,
    `late() { [ "$(date +%s)" -ge "$deadline" ]; }`,
    ...nameLines(o.names),
    `[ -n "$name" ] || { log "could not learn this node's belt name"; exit 1; }`,
    `log "node $name: joining the swarm of $managers (deadline ${deadline} s)"`,
    ...(o.names.kind === 'hostname' ? [] : hostnameLines()),
    ...engineLines(o.engineInstallUrl),
    // dockerd: wait until it answers (the daemon may still be starting, or being installed by the user's script).
    `wait=1`,
    `until s=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null); do`,
    `  late && { log "dockerd did not answer before the deadline; see journalctl -u docker"; exit 1; }`,
    `  sleep $wait; [ $wait -lt 5 ] && wait=$((wait + 1))`,
    `done`,
    `sock=$(docker context inspect --format '{{.Endpoints.docker.Host}}' 2>/dev/null) || sock=`,
    `case "$sock" in unix:///*) sock=\${sock#unix://};; *) sock=;; esac`,
    `[ -n "$sock" ] || sock=/var/run/docker.sock`,
    `attempt=0 delay=2`,
    `while :; do`,
    `  s=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)`,
    `  case "$s" in`,
    `    active) log "node $name is in the swarm"; exit 0 ;;`,
    `    pending) log "join pending" ;;`,
    `    *)`,
    `      attempt=$((attempt + 1))`,
    // Rotate which manager docker's CLI fallback dials first; the Engine API gets them all.
    `      set -- $managers; i=$(( (attempt - 1) % $# )); while [ $i -gt 0 ]; do set -- "$@" "$1"; shift; i=$((i - 1)); done`,
    `      if [ -S "$sock" ] && command -v curl >/dev/null 2>&1; then`,
    `        out=$(printf '{"ListenAddr":"0.0.0.0:2377","RemoteAddrs":[%s],"JoinToken":"%s"}' "$addrs_json" "$t" |`,
    `          curl -sS --max-time 120 --unix-socket "$sock" -H 'Content-Type: application/json' --data-binary @- -w ' HTTP%{http_code}' http://localhost/swarm/join 2>&1)`,
    `        case "$out" in *HTTP200) log "joined (attempt $attempt)"; exit 0 ;; esac`,
    `        log "attempt $attempt: $(printf '%s' "$out" | scrub | tr '\\n' ' ' | cut -c1-300)"`,
    `      elif out=$(docker swarm join --token "$t" "$1" 2>&1); then`,
    `        log "joined through $1 (attempt $attempt)"; exit 0`,
    `      else`,
    `        log "attempt $attempt via $1: $(printf '%s' "$out" | scrub | tr '\\n' ' ' | cut -c1-300)"`,
    `      fi ;;`,
    `  esac`,
    `  late && { log "not in the swarm before the deadline (${deadline} s); giving up"; exit 1; }`,
    `  sleep $(( delay + $$ % 3 ))`,
    `  [ $delay -lt 30 ] && delay=$((delay * 2))`,
    `done`,
    '',
  ].join('\n')
}

function nameLines(src: NameSource): string[] {
  if (src.kind === 'given') return [`name=${q(src.name)}`]
  if (src.kind === 'hostname') return [`name=$(hostname)`, `name=\${name%%.*}`]
  return [
    `imds=http://169.254.169.254/latest`,
    `name= n=0`,
    `while [ -z "$name" ] && [ $n -lt 30 ]; do`,
    `  n=$((n + 1))`,
    `  tok=$(curl -sS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' "$imds/api/token" 2>/dev/null) &&`,
    `    idx=$(curl -sS -H "X-aws-ec2-metadata-token: $tok" "$imds/meta-data/ami-launch-index" 2>/dev/null) &&`,
    `    case "$idx" in ''|*[!0-9]*) ;; *) set -- ${src.names.map(q).join(' ')}; [ "$idx" -lt $# ] && { shift "$idx"; name=$1; } ;; esac`,
    `  [ -n "$name" ] || sleep 2`,
    `done`,
  ]
}

/** Set the hostname to the belt name (the swarm and belt match nodes by it), and keep cloud-init from undoing it. */
function hostnameLines(): string[] {
  return [
    `if [ "$(hostname)" != "$name" ]; then`,
    `  hostname "$name" || log "could not set the hostname"`,
    // BELT_ETC: tests run the script on this machine against a folder of their own.
    `  etc=\${BELT_ETC:-/etc}`,
    `  echo "$name" > "$etc/hostname"`,
    `  grep -q "[[:space:]]$name\\$" "$etc/hosts" 2>/dev/null || echo "127.0.1.1 $name" >> "$etc/hosts"`,
    `  if [ -d "$etc/cloud/cloud.cfg.d" ]; then echo 'preserve_hostname: true' > "$etc/cloud/cloud.cfg.d/99-belt-hostname.cfg"; fi`,
    `fi`,
  ]
}

function engineLines(url: string | null): string[] {
  if (!url) return [`command -v docker >/dev/null 2>&1 || { log "docker is not installed and engine_install is off"; exit 1; }`]
  return [
    `if ! command -v docker >/dev/null 2>&1; then`,
    `  log "installing Docker from ${url.replace(/["`$\\]/g, '')}"`,
    `  until curl -fsSL ${q(url)} -o /tmp/belt-get-docker.sh && sh /tmp/belt-get-docker.sh; do`,
    `    late && { log "Docker could not be installed before the deadline"; exit 1; }`,
    `    sleep 10`,
    `  done`,
    `  rm -f /tmp/belt-get-docker.sh`,
    `fi`,
  ]
}

/**
 * The whole user data: the join script, with the user's own user_data run first. A #cloud-config document becomes
 * a multipart MIME document (cloud-config part first; our script part named so that cloud-init's scripts-user runs
 * it after the cloud-config's runcmd); a #! script is written out and run by ours before it joins.
 */
export function bootUserData(o: JoinScriptOptions): string {
  const script = joinScript(o)
  const own = o.userData?.trim() ? o.userData : undefined
  if (!own) return script
  if (/^#cloud-config\b/.test(own)) return multipart(own, script)
  if (own.startsWith('#!')) return runFirst(own, script)
  throw new UsageError('user_data must be a #cloud-config document or a #! script to run before joining at boot')
}

function multipart(cloudConfig: string, script: string): string {
  const boundary = `belt-${digest(cloudConfig + script)}`
  const part = (type: string, file: string, body: string) => [
    `--${boundary}`,
    `Content-Type: ${type}; charset="utf-8"`,
    'MIME-Version: 1.0',
    'Content-Transfer-Encoding: 7bit',
    `Content-Disposition: attachment; filename="${file}"`,
    '',
    body.endsWith('\n') ? body : body + '\n',
  ].join('\n')
  return [
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    'MIME-Version: 1.0',
    '',
    part('text/cloud-config', 'user-data.yml', cloudConfig),
    // scripts-user runs part scripts and runcmd in file-name order: zz- after runcmd.
    part('text/x-shellscript', 'zz-belt-boot-join.sh', script),
    `--${boundary}--`,
    '',
  ].join('\n')
}

function runFirst(own: string, script: string): string {
  const eof = `BELT_USER_DATA_${digest(own)}`
  const lines = script.split('\n')
  // After the output goes to the log (the user's script logs there too) and log() is defined.
  const at = lines.findIndex((l) => l.startsWith('late()')) + 1
  const first = [
    `# The user's own user_data (config key user_data), run first; its exit status is logged, then the join goes on.`,
    `ud=$(umask 077; mktemp /var/tmp/belt-user-data.XXXXXX) || { log "cannot write the user_data script"; exit 1; }`,
    `cat > "$ud" <<'${eof}'`,
    own.endsWith('\n') ? own.slice(0, -1) : own,
    eof,
    `chmod 0700 "$ud"; "$ud"; log "user_data exited with status $?"; rm -f "$ud"`,
  ]
  return [...lines.slice(0, at), ...first, ...lines.slice(at)].join('\n')
}

/**
 * Deterministic: EC2 re-issues a batch whose launch was lost with the same ClientToken, and refuses one whose
 * parameters (the user data among them) differ from the first.
 */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16)
}

/** The user data as --print-command shows it: the token redacted. */
export function printableUserData(userData: string, token: string): string {
  return redact(userData.split(token).join('SWMTKN-…redacted'))
}

/** Refuse user data over the cloud's limit (exit 2, before anything is created). */
export function checkUserDataSize(userData: string, driver: keyof typeof USER_DATA_LIMITS): void {
  const n = Buffer.byteLength(userData)
  const max = USER_DATA_LIMITS[driver]
  if (n > max) throw new UsageError(`the boot-join user data is ${n} bytes, over ${driver === 'ec2' ? "EC2's 16 KB" : "DigitalOcean's 64 KiB"} limit (make user_data shorter)`)
}
