// The two shell programs that run inside a local host: its init (pid 1 of the host's pid namespace) and the
// `systemctl` stand-in (there is no systemd inside, yet provisioning runs `systemctl daemon-reload` and
// `systemctl restart docker` exactly as on Ubuntu). belt writes them under /var/lib/belt-local/<cluster>-<hash>/.

/**
 * pid 1 of one local host. belt starts it as
 *   nsenter --net=/run/netns/NS unshare --fork --pid --mount --uts --propagation private bash init.sh NODE DIR SBIN
 * It gives the host its own /proc, /run, hostname and folders, starts sshd and dockerd, reports on DIR/init.status,
 * then stays as the reaper. Killing it (SIGKILL from this machine) ends every process of the host, containers
 * included, and with them its mounts: nothing else needs undoing.
 */
export const INIT_SCRIPT = `#!/bin/bash
# belt local host init (see docs/local.md). Arguments: NODE DIR SBIN
set -u
NODE=$1 DIR=$2 SBIN=$3
ROOT=$DIR/root
report() { printf '%s\\n' "$*" > "$DIR/init.status.tmp" && mv -f "$DIR/init.status.tmp" "$DIR/init.status"; }
fail() { echo "belt-init: $*" >&2; report "failed: $*"; exit 1; }
# Our pid as this machine sees it, read before /proc shows only the host's own processes.
read -r HOSTPID _ < /proc/self/stat
mount -t proc -o nosuid,nodev,noexec proc /proc || fail "cannot mount /proc"
hostname "$NODE" || fail "cannot set the hostname"
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run || fail "cannot mount /run"
mkdir -p -m 0755 /run/sshd /run/lock /run/belt
for d in /etc/docker /var/lib/docker /etc/systemd/system /etc/ssh /etc/sysctl.d /var/log /root; do
  mount --bind "$ROOT$d" "$d" || fail "cannot bind-mount $d"
done
for f in /etc/hosts /etc/hostname; do
  [ -e "$f" ] && [ -e "$ROOT$f" ] && { mount --bind "$ROOT$f" "$f" || fail "cannot bind-mount $f"; }
done
mount --bind "$SBIN" /usr/local/sbin || fail "cannot bind-mount /usr/local/sbin"
# Shadow a real systemctl too, for scripts that call it by its full path.
for f in /usr/bin/systemctl /bin/systemctl; do
  if [ -f "$f" ] && [ "$(readlink -f "$f")" = "$f" ]; then mount --bind "$SBIN/systemctl" "$f" || fail "cannot bind-mount $f"; fi
done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
cd /
/usr/sbin/sshd -E /var/log/sshd.log || fail "sshd did not start; see $ROOT/var/log/sshd.log"
systemctl start docker || fail "dockerd did not start; see $ROOT/var/log/docker.log"
# First boot: the user data belt left in the host's own /root (user_data, or the boot-join script), run once,
# detached, after dockerd is up, logging where cloud-init would.
if [ -f /root/.belt/user-data ] && [ ! -e /root/.belt/user-data.started ]; then
  : > /root/.belt/user-data.started
  setsid sh -c 'chmod 0700 /root/.belt/user-data; exec /root/.belt/user-data' </dev/null >>/var/log/cloud-init-output.log 2>&1 &
fi
report "ready $HOSTPID"
# pid 1 reaps orphans: bash's wait collects any exited child, not only the one it waits for.
while :; do
  sleep 2147483647 &
  wait $!
done
`

/** The systemctl stand-in, bind-mounted over /usr/local/sbin (and /usr/bin/systemctl when present) in every host. */
export const SYSTEMCTL_SCRIPT = `#!/bin/bash
# systemctl stand-in on a belt local host (see docs/local.md). There is no systemd inside a local host, so this
# starts and stops the host's own dockerd and sshd the way systemd would on Ubuntu:
#   docker.service runs the last non-empty ExecStart= of /etc/systemd/system/docker.service and its
#   docker.service.d/*.conf drop-ins (in file-name order; an empty ExecStart= clears), else plain \`dockerd\`
#   (which reads /etc/docker/daemon.json), detached (setsid), logging to /var/log/docker.log; start and
#   restart wait until the daemon answers.
# Commands: daemon-reload daemon-reexec start stop restart try-restart reload reload-or-restart is-active
#   is-failed status show enable disable is-enabled mask unmask reset-failed is-system-running list-units
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
UNITDIR=/etc/systemd/system
DOCKER_PIDFILE=/run/belt/dockerd.pid
DOCKER_LOG=/var/log/docker.log
SSHD_PIDFILE=/run/sshd.pid
SSHD_LOG=/var/log/sshd.log
START_TIMEOUT=\${BELT_DOCKERD_START_TIMEOUT:-90}
STOP_TIMEOUT=\${BELT_DOCKERD_STOP_TIMEOUT:-60}
mkdir -p /run/belt

quiet=0 now=0 value=0 verb="" props=""
units=()
while [ $# -gt 0 ]; do
  case "$1" in
    -q|--quiet) quiet=1 ;;
    --now) now=1 ;;
    --value) value=1 ;;
    -p|--property) props="$props,$2"; shift ;;
    --property=*) props="$props,\${1#--property=}" ;;
    -*) ;;
    *) if [ -z "$verb" ]; then verb=$1; else units+=("$1"); fi ;;
  esac
  shift
done

unit_of() {
  case "$1" in
    docker|docker.service) echo docker ;;
    ssh|ssh.service|sshd|sshd.service) echo ssh ;;
    *) echo "" ;;
  esac
}

alive() {
  [ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
  # a zombie is not running
  local st
  st=$(sed -e 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$st" ] && [ "$st" != Z ]
}
pid_of() {
  local f p
  case "$1" in docker) f=$DOCKER_PIDFILE ;; ssh) f=$SSHD_PIDFILE ;; esac
  p=$(cat "$f" 2>/dev/null) || return 1
  alive "$p" && echo "$p"
}

# The ExecStart= and Environment= systemd would use for docker.service.
unit_files() {
  [ -f "$UNITDIR/docker.service" ] && echo "$UNITDIR/docker.service"
  if [ -d "$UNITDIR/docker.service.d" ]; then
    ls -1 "$UNITDIR/docker.service.d" | grep '\\.conf$' | LC_ALL=C sort | sed -e "s|^|$UNITDIR/docker.service.d/|"
  fi
}
unit_settings() {
  local files
  mapfile -t files < <(unit_files)
  [ \${#files[@]} -gt 0 ] || return 0
  awk '
    FNR == 1 { section = ""; pending = "" }
    {
      line = $0
      if (pending != "") { line = pending line; pending = "" }
      if (line ~ /\\\\[ \\t]*$/) { sub(/\\\\[ \\t]*$/, "", line); pending = line " "; next }
      sub(/^[ \\t]+/, "", line)
      if (line ~ /^[#;]/ || line == "") next
      if (line ~ /^\\[/) { section = line; next }
      if (section != "[Service]") next
      if (line ~ /^ExecStart[ \\t]*=/) { v = line; sub(/^ExecStart[ \\t]*=[ \\t]*/, "", v); cmd = v }
      else if (line ~ /^Environment[ \\t]*=/) { v = line; sub(/^Environment[ \\t]*=[ \\t]*/, "", v); env = (v == "" ? "" : env " " v) }
    }
    END { print "ENV" env; print "CMD" cmd }
  ' "\${files[@]}"
}

start_docker() {
  pid_of docker >/dev/null && return 0
  local settings cmd envline bin a skip=0 off pid deadline
  settings=$(unit_settings)
  cmd=$(printf '%s\\n' "$settings" | sed -n 's/^CMD//p')
  envline=$(printf '%s\\n' "$settings" | sed -n 's/^ENV//p')
  [ -n "$cmd" ] || cmd=dockerd
  cmd=$(printf '%s' "$cmd" | sed -e 's/^[-@+!:]*//')
  eval "set -- $cmd" || { echo "docker.service: cannot parse ExecStart=$cmd" >&2; return 1; }
  bin=$1; shift
  if [ ! -x "$bin" ]; then
    # /usr/bin/dockerd on Ubuntu is /usr/sbin/dockerd on Debian: use the one on PATH.
    bin=$(command -v "$(basename "$bin")") || { echo "docker.service: $1 not found" >&2; return 1; }
  fi
  local args=()
  for a in "$@"; do
    if [ $skip = 1 ]; then skip=0; [ -S "$a" ] && args+=(--containerd "$a"); continue; fi
    case "$a" in
      # fd:// needs systemd socket activation: listen on the usual socket instead.
      fd://*) args+=("unix:///var/run/docker.sock") ;;
      --host=fd://*|-H=fd://*) args+=("-H" "unix:///var/run/docker.sock") ;;
      # there is no system containerd: dockerd starts its own.
      --containerd=*) [ -S "\${a#--containerd=}" ] && args+=("$a") ;;
      --containerd) skip=1 ;;
      *) args+=("$a") ;;
    esac
  done
  local envs=(PATH="$PATH" HOME=/root)
  if [ -n "$envline" ]; then eval "set -- $envline" && envs+=("$@"); fi
  rm -f "$DOCKER_PIDFILE"
  echo "belt systemctl: $(date -u +%FT%TZ) starting $bin \${args[*]}" >> "$DOCKER_LOG"
  off=$(stat -c %s "$DOCKER_LOG")
  setsid env -i "\${envs[@]}" bash -c 'echo $$ > "$0"; exec "$@"' "$DOCKER_PIDFILE" "$bin" "\${args[@]}" </dev/null >>"$DOCKER_LOG" 2>&1 &
  launcher=$!
  deadline=$((SECONDS + START_TIMEOUT))
  while :; do
    pid=$(cat "$DOCKER_PIDFILE" 2>/dev/null)
    if tail -c +$((off + 1)) "$DOCKER_LOG" | grep -q 'API listen on'; then return 0; fi
    if [ -n "$pid" ] && ! alive "$pid"; then break; fi
    if [ -z "$pid" ] && ! alive "$launcher"; then sleep 0.2; [ -s "$DOCKER_PIDFILE" ] || break; fi
    if [ $SECONDS -ge $deadline ]; then echo "docker.service: no answer after \${START_TIMEOUT}s" >&2; break; fi
    sleep 0.1
  done
  echo "Job for docker.service failed because the control process exited with error code." >&2
  echo "See \\"$DOCKER_LOG\\" for details:" >&2
  tail -c +$((off + 1)) "$DOCKER_LOG" | tail -n 5 >&2
  return 1
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
}
stop_docker() {
  local pid
  pid=$(pid_of docker) && stop_pid "$pid"
  rm -f "$DOCKER_PIDFILE"
  return 0
}
start_ssh() {
  pid_of ssh >/dev/null && return 0
  /usr/sbin/sshd -E "$SSHD_LOG"
}
stop_ssh() {
  local pid
  pid=$(pid_of ssh) && stop_pid "$pid"
  return 0
}

do_unit() {
  local verb=$1 u=$2 name
  name=$(unit_of "$u")
  if [ -z "$name" ]; then
    case "$verb" in
      is-active) [ $quiet = 1 ] || echo inactive; return 3 ;;
      is-failed) [ $quiet = 1 ] || echo inactive; return 1 ;;
      is-enabled) echo "Failed to get unit file state for $u: No such file or directory" >&2; return 1 ;;
      *) echo "Failed to $verb \${u%.service}.service: Unit \${u%.service}.service not found." >&2; return 5 ;;
    esac
  fi
  case "$verb" in
    start) start_$name ;;
    stop) stop_$name ;;
    restart) stop_$name && start_$name ;;
    try-restart) if pid_of $name >/dev/null; then stop_$name && start_$name; fi ;;
    reload)
      local pid
      pid=$(pid_of $name) || { echo "$name.service is not active, cannot reload." >&2; return 7; }
      kill -HUP "$pid" ;;
    reload-or-restart)
      local pid
      if pid=$(pid_of $name); then kill -HUP "$pid"; else start_$name; fi ;;
    is-active)
      if pid_of $name >/dev/null; then [ $quiet = 1 ] || echo active; else [ $quiet = 1 ] || echo inactive; return 3; fi ;;
    is-failed)
      [ $quiet = 1 ] || echo inactive; return 1 ;;
    enable|disable|mask|unmask|reset-failed|preset)
      [ "$verb" = enable ] && [ $now = 1 ] && start_$name
      [ "$verb" = disable ] && [ $now = 1 ] && stop_$name
      return 0 ;;
    is-enabled) echo enabled ;;
    status)
      local pid state="inactive (dead)" rc=3 log=$DOCKER_LOG
      [ $name = ssh ] && log=$SSHD_LOG
      if pid=$(pid_of $name); then state="active (running)"; rc=0; fi
      echo "● $name.service (belt local host: systemctl stand-in)"
      echo "     Loaded: loaded (/etc/systemd/system/$name.service.d: $(ls -1 /etc/systemd/system/$name.service.d 2>/dev/null | tr '\\n' ' '))"
      echo "     Active: $state"
      [ $rc = 0 ] && echo "   Main PID: $pid ($(cat /proc/$pid/comm 2>/dev/null))"
      echo
      tail -n 10 "$log" 2>/dev/null
      return $rc ;;
    show)
      local pid=0 active=inactive sub=dead line
      if pid=$(pid_of $name); then active=active; sub=running; else pid=0; fi
      for line in "Id=$name.service" "LoadState=loaded" "ActiveState=$active" "SubState=$sub" "MainPID=$pid" "ExecMainPID=$pid"; do
        if [ -n "$props" ] && [[ ",$props," != *",\${line%%=*},"* ]]; then continue; fi
        if [ $value = 1 ]; then echo "\${line#*=}"; else echo "$line"; fi
      done ;;
    *) echo "systemctl (belt local host): unknown command '$verb'" >&2; return 1 ;;
  esac
}

case "$verb" in
  daemon-reload|daemon-reexec) exit 0 ;;
  is-system-running) echo running; exit 0 ;;
  list-units|list-unit-files|"")
    for n in docker ssh; do
      if pid_of $n >/dev/null; then s="loaded active running"; else s="loaded inactive dead"; fi
      echo "$n.service $s"
    done
    exit 0 ;;
esac
if [ \${#units[@]} -eq 0 ]; then echo "Too few arguments." >&2; exit 1; fi
rc=0
for u in "\${units[@]}"; do
  do_unit "$verb" "$u" || rc=$?
done
exit $rc
`
