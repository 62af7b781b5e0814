#!/bin/sh
# Stand-in `docker` for the SSH lab (test/lib/sshlab.ts): every lab address is a "node" whose swarm state lives in
# $LAB_STATE/<address>. It emulates what belt's swarm commands use (docker info --format with the .Swarm fields,
# swarm init / join / join-token / leave) and the manager's view of the swarm: a registry with one file per node,
# $LAB_STATE/nodes/<ID> ("ID HOSTNAME ADDR ROLE AVAILABILITY STATE CLUSTER MANAGER-STATUS LABELS"), written by init
# and join (so a join on a worker shows in the manager's `node ls`), read by node ls / inspect, changed by node
# update / promote / demote / rm. A node's hostname is $LAB_STATE/names/<address> when the test wrote one (a fake
# cloud's droplet name), else its address. Every docker call is logged as "address verb subverb" in calls.log.
# Anything else is answered by printing its argv, one `<arg>` per line.
# Written for dash: no forks on the common path, so the lab's CPU goes to sshd, not to this script.
LAB_STATE=@STATE@
LATENCY=0
[ -r @LATENCYFILE@ ] && read -r LATENCY < @LATENCYFILE@
# A docker that hangs: when this file holds N > 0, every docker command (not the lab-* helpers) sleeps N seconds
# first, as with a wedged daemon.
HANG=0
[ -r @HANGFILE@ ] && read -r HANG < @HANGFILE@
case "$1" in lab-*) ;; *) [ "$HANG" != 0 ] && sleep "$HANG";; esac
set -f

_ip() { IP=$3; }
_ip ${SSH_CONNECTION:-- - 127.0.0.1 22}
_mkid() { IFS=.; set -- $1; unset IFS; ID="n$1x$2x$3x$4"; }
case "$1" in lab-*) ;; *) printf '%s %s %s\n' "$IP" "$1" "$2" >> "$LAB_STATE/calls.log";; esac
hostname_of() { HN=$1; [ -r "$LAB_STATE/names/$1" ] && read -r HN < "$LAB_STATE/names/$1"; }

load() {
  S_STATE=inactive; S_ID=-; S_CTRL=false; S_CLUSTER=-; S_ADDR=-; S_MGRS=-
  [ -f "$LAB_STATE/$1" ] && read -r S_STATE S_ID S_CTRL S_CLUSTER S_ADDR S_MGRS < "$LAB_STATE/$1"
  [ "$S_ID" = - ] && S_ID=
  [ "$S_CLUSTER" = - ] && S_CLUSTER=
  [ "$S_ADDR" = - ] && S_ADDR=
  [ "$S_MGRS" = - ] && S_MGRS=
  # The swarm's managers as every node sees them now (managers that joined later included).
  [ -n "$S_CLUSTER" ] && [ -r "$LAB_STATE/managers.$S_CLUSTER" ] && read -r S_MGRS < "$LAB_STATE/managers.$S_CLUSTER"
  return 0
}
save() {
  printf '%s %s %s %s %s %s\n' "$S_STATE" "${S_ID:--}" "$S_CTRL" "${S_CLUSTER:--}" "${S_ADDR:--}" "${S_MGRS:--}" > "$LAB_STATE/$IP"
}

# The registry: one file per node, replaced atomically (readers on a manager never see half a line).
reg_load() {
  R_ID=; [ -r "$LAB_STATE/nodes/$1" ] || return 1
  read -r R_ID R_HOST R_ADDR R_ROLE R_AVAIL R_STATE R_CLUSTER R_MS R_LABELS < "$LAB_STATE/nodes/$1"
}
reg_save() {
  printf '%s %s %s %s %s %s %s %s %s\n' "$R_ID" "$R_HOST" "$R_ADDR" "$R_ROLE" "$R_AVAIL" "$R_STATE" "$R_CLUSTER" "$R_MS" "$R_LABELS" \
    > "$LAB_STATE/nodes/.$R_ID.$$" && mv -f "$LAB_STATE/nodes/.$R_ID.$$" "$LAB_STATE/nodes/$R_ID"
}
# A node argument (ID or hostname, as docker takes them) of this manager's swarm → R_*; 1 when there is none.
reg_find() {
  if reg_load "$1" && [ "$R_CLUSTER" = "$S_CLUSTER" ]; then return 0; fi
  set +f
  for f in "$LAB_STATE"/nodes/*; do
    [ -f "$f" ] || continue
    read -r R_ID R_HOST R_ADDR R_ROLE R_AVAIL R_STATE R_CLUSTER R_MS R_LABELS < "$f"
    if [ "$R_HOST" = "$1" ] && [ "$R_CLUSTER" = "$S_CLUSTER" ]; then set -f; return 0; fi
  done
  set -f
  return 1
}
need_manager() {
  [ "$S_CTRL" = true ] && return 0
  echo "Error response from daemon: This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager." >&2
  exit 1
}
cap() { case $1 in ready) C=Ready;; down) C=Down;; active) C=Active;; drain) C=Drain;; pause) C=Pause;; *) C=$1;; esac; }
labels_json() {
  J='{'; rest=$R_LABELS; sep=
  [ "$rest" = - ] && rest=
  while [ -n "$rest" ]; do
    kv=${rest%%,*}; case $rest in *,*) rest=${rest#*,};; *) rest=;; esac
    J="$J$sep\"${kv%%=*}\":\"${kv#*=}\""; sep=,
  done
  J="$J}"
}
# Fields of one registry entry (node ls / node inspect templates) → V; 1 when unknown.
node_field() {
  case $1 in
    .ID) V=$R_ID;;
    .Hostname|.Description.Hostname) V=$R_HOST;;
    .Status.Addr) V=$R_ADDR;;
    .Spec.Role) V=$R_ROLE;;
    .Spec.Availability) V=$R_AVAIL;;
    .Availability) cap "$R_AVAIL"; V=$C;;
    .Status.State) V=$R_STATE;;
    .Status) cap "$R_STATE"; V=$C;;
    .ManagerStatus) V=; [ "$R_MS" = - ] || V=$R_MS;;
    .ManagerStatus.Reachability) V=; [ "$R_MS" = - ] || V=reachable;;
    .ManagerStatus.Leader) if [ "$R_MS" = Leader ]; then V=true; else V=false; fi;;
    .Self) if [ "$R_ID" = "$S_ID" ]; then V=true; else V=false; fi;;
    .EngineVersion|.Description.Engine.EngineVersion) V=24.0.9;;
    .TLSStatus) V=Ready;;
    'json .Spec.Labels') labels_json; V=$J;;
    'json .')
      cap "$R_AVAIL"; av=$C; cap "$R_STATE"; stt=$C; ms=$R_MS; [ "$ms" = - ] && ms=
      self=false; [ "$R_ID" = "$S_ID" ] && self=true
      V="{\"Availability\":\"$av\",\"EngineVersion\":\"24.0.9\",\"Hostname\":\"$R_HOST\",\"ID\":\"$R_ID\",\"ManagerStatus\":\"$ms\",\"Self\":$self,\"Status\":\"$stt\",\"TLSStatus\":\"Ready\"}";;
    *) return 1;;
  esac
}
render_node() { render_tpl "$1" node_field; }

# The body of {{range .Swarm.RemoteManagers}}...{{end}} for one manager (M_ID, M_ADDR).
render_body() {
  b=$1
  while :; do
    case $b in *'{{'*) ;; *) RB=$RB$b; return;; esac
    RB=$RB${b%%'{{'*}; b=${b#*'{{'}
    f=${b%%'}}'*}; b=${b#*'}}'}
    case $f in
      .NodeID) RB=$RB$M_ID;;
      .Addr) RB=$RB$M_ADDR;;
      *) RB="$RB<no value>";;
    esac
  done
}

# Fields of `docker info` → V; 1 when unknown.
info_field() {
  case $1 in
    .Swarm.LocalNodeState) V=$S_STATE;;
    .Swarm.NodeID) V=$S_ID;;
    .Swarm.NodeAddr) V=$S_ADDR;;
    .Swarm.ControlAvailable) V=$S_CTRL;;
    .Name) hostname_of "$IP"; V=$HN;;
    .ServerVersion) V=24.0.9;;
    .NCPU) V=2;;
    .Swarm.Cluster) V=; [ "$S_CTRL" = true ] && V=$S_CLUSTER;;
    .Swarm.Cluster.ID)
      if [ "$S_CTRL" != true ]; then
        echo 'template: :1: executing "" at <.Swarm.Cluster.ID>: nil pointer evaluating *swarm.ClusterInfo.ID' >&2
        exit 1
      fi
      V=$S_CLUSTER;;
    *) return 1;;
  esac
}
render() { render_tpl "$1" info_field; }

# A Go template with fields (through the resolver $2), {{if F}}…{{else}}…{{end}} (nested) and, for docker info,
# {{range .Swarm.RemoteManagers}}…{{end}}. STK holds one letter per open if: T emitting, F skipping, X inside a skip.
render_tpl() {
  t=$1; out=; STK=
  while :; do
    case $t in *'{{'*) ;; *) [ -z "$STK" ] && out=$out$t; break;; esac
    txt=${t%%'{{'*}; t=${t#*'{{'}
    f=${t%%'}}'*}; t=${t#*'}}'}
    f=${f# }; f=${f% }
    on=1; case $STK in *F|*X) on=;; esac
    [ -n "$on" ] && out=$out$txt
    case $f in
      'if '*)
        if [ -z "$on" ]; then STK=${STK}X
        elif $2 "${f#if }" && [ -n "$V" ] && [ "$V" != false ]; then STK=${STK}T
        else STK=${STK}F; fi
        continue;;
      else) case $STK in *T) STK=${STK%?}F;; *F) STK=${STK%?}T;; esac; continue;;
      end) STK=${STK%?}; continue;;
    esac
    [ -n "$on" ] || continue
    case $f in
      'range .Swarm.RemoteManagers')
        body=${t%%'{{end}}'*}; t=${t#*'{{end}}'}
        rest=$S_MGRS
        while [ -n "$rest" ]; do
          m=${rest%%,*}
          case $rest in *,*) rest=${rest#*,};; *) rest=;; esac
          M_ID=${m%%=*}; M_ADDR=${m#*=}; RB=
          render_body "$body"
          out=$out$RB
        done;;
      *) if $2 "$f"; then out=$out$V; else out="$out<no value>"; fi;;
    esac
  done
  printf '%s\n' "$out"
}

need_root() {
  [ "${USER:-}" = root ] && return 0
  echo 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock' >&2
  exit 1
}

case "$1" in
lab-exit) echo "lab: exiting with $2" >&2; exit "$2";;
lab-stdin) exec cat;;
lab-tty) if [ -t 0 ]; then echo tty; else echo notty; fi; exit 0;;
lab-sleep) exec sleep "$2";;
lab-whoami) echo "${USER:-?}"; exit 0;;
lab-ip) echo "$IP"; exit 0;;
lab-lines) i=0; while [ "$i" -lt "$2" ]; do i=$((i+1)); echo "line $i"; done; exit 0;;
info)
  need_root
  load "$IP"
  if [ "$2" = --format ] || [ "$2" = -f ]; then render "$3"; else echo "Swarm: $S_STATE"; fi
  exit 0;;
swarm)
  need_root
  load "$IP"
  case "$2" in
  init)
    if [ "$S_STATE" != inactive ]; then
      echo 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' >&2
      exit 1
    fi
    A=$IP
    shift 2
    while [ $# -gt 0 ]; do
      case $1 in --advertise-addr) A=$2; shift;; --advertise-addr=*) A=${1#*=};; esac
      shift
    done
    A=${A%:*}
    _mkid "$IP"
    S_STATE=active; S_ID=$ID; S_CTRL=true; S_CLUSTER=c$ID; S_ADDR=$A; S_MGRS=$ID=$A:2377
    save
    printf '%s\n' "$S_MGRS" > "$LAB_STATE/managers.$S_CLUSTER"
    hostname_of "$IP"
    R_ID=$ID; R_HOST=$HN; R_ADDR=$A; R_ROLE=manager; R_AVAIL=active; R_STATE=ready; R_CLUSTER=$S_CLUSTER; R_MS=Leader; R_LABELS=-
    reg_save
    echo "Swarm initialized: current node ($S_ID) is now a manager."
    exit 0;;
  join-token)
    [ "$S_CTRL" = true ] || { echo 'Error response from daemon: This node is not a swarm manager.' >&2; exit 1; }
    role=$4; [ "$3" = -q ] || role=$3
    echo "SWMTKN-1-lab${S_CLUSTER}x${role}"
    exit 0;;
  join)
    T=; ADDR=
    shift 2
    while [ $# -gt 0 ]; do
      case $1 in --token) T=$2; shift;; --token=*) T=${1#*=};; --*) ;; *) ADDR=$1;; esac
      shift
    done
    [ "$LATENCY" != 0 ] && sleep "$LATENCY"
    if [ "$S_STATE" != inactive ]; then
      echo 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' >&2
      exit 1
    fi
    MIP=${ADDR%:*}
    MY_IP=$IP
    load "$MIP"
    if [ "$S_CTRL" != true ]; then
      echo "Error response from daemon: rpc error: code = Unavailable desc = connection error: dial tcp $ADDR: connect: connection refused" >&2
      exit 1
    fi
    case $T in
      "SWMTKN-1-lab${S_CLUSTER}xworker") role=worker; ctrl=false;;
      "SWMTKN-1-lab${S_CLUSTER}xmanager") role=manager; ctrl=true;;
      *) echo 'Error response from daemon: invalid join token' >&2; exit 1;;
    esac
    CL=$S_CLUSTER; MG=$S_MGRS
    IP=$MY_IP
    _mkid "$IP"
    S_STATE=active; S_ID=$ID; S_CTRL=$ctrl; S_CLUSTER=$CL; S_ADDR=$IP; S_MGRS=$MG
    [ "$role" = manager ] && S_MGRS=$MG,$ID=$IP:2377
    save
    [ "$role" = manager ] && printf '%s\n' "$S_MGRS" > "$LAB_STATE/managers.$S_CLUSTER"
    hostname_of "$IP"
    R_ID=$ID; R_HOST=$HN; R_ADDR=$IP; R_ROLE=$role; R_AVAIL=active; R_STATE=ready; R_CLUSTER=$CL; R_MS=-; R_LABELS=-
    [ "$role" = manager ] && R_MS=Reachable
    reg_save
    echo "$IP $ADDR $role" >> "$LAB_STATE/joins.log"
    echo "This node joined a swarm as a $role."
    exit 0;;
  leave)
    if [ "$S_STATE" = inactive ]; then echo 'Error response from daemon: This node is not part of a swarm' >&2; exit 1; fi
    if [ "$S_CTRL" = true ] && [ "$3" != --force ] && [ "$3" != -f ]; then
      echo 'Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Use `--force` to ignore this message.' >&2
      exit 1
    fi
    reg_load "$S_ID" && { R_STATE=down; reg_save; }
    S_STATE=inactive; S_ID=; S_CTRL=false; S_CLUSTER=; S_ADDR=; S_MGRS=
    save
    echo 'Node left the swarm.'
    exit 0;;
  esac;;
node)
  need_root
  load "$IP"
  need_manager
  sub=$2; shift 2
  case $sub in
  ls)
    fmt=; quiet=
    while [ $# -gt 0 ]; do
      case $1 in -q|--quiet) quiet=1;; --format) fmt=$2; shift;; --format=*) fmt=${1#*=};; --filter|-f) shift;; esac
      shift
    done
    [ -z "$fmt" ] && [ -z "$quiet" ] && printf 'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION\n'
    set +f
    for f in "$LAB_STATE"/nodes/*; do
      [ -f "$f" ] || continue
      read -r R_ID R_HOST R_ADDR R_ROLE R_AVAIL R_STATE R_CLUSTER R_MS R_LABELS < "$f"
      [ "$R_CLUSTER" = "$S_CLUSTER" ] || continue
      if [ -n "$quiet" ]; then printf '%s\n' "$R_ID"
      elif [ -n "$fmt" ]; then render_node "$fmt"
      else render_node '{{.ID}}   {{.Hostname}}   {{.Status}}   {{.Availability}}   {{.ManagerStatus}}   24.0.9'; fi
    done
    set -f
    exit 0;;
  inspect)
    fmt=; rc=0; first=1
    [ "$1" = --pretty ] && shift
    case $1 in --format|-f) fmt=$2; shift 2;; --format=*) fmt=${1#*=}; shift;; esac
    [ -z "$fmt" ] && printf '['
    for n do
      if ! reg_find "$n"; then echo "Error response from daemon: node $n not found" >&2; rc=1; continue; fi
      if [ -n "$fmt" ]; then render_node "$fmt"
      else
        [ -n "$first" ] || printf ','; first=
        labels_json
        printf '{"ID":"%s","Spec":{"Labels":%s,"Role":"%s","Availability":"%s"},"Description":{"Hostname":"%s"},"Status":{"State":"%s","Addr":"%s"}}' \
          "$R_ID" "$J" "$R_ROLE" "$R_AVAIL" "$R_HOST" "$R_STATE" "$R_ADDR"
      fi
    done
    [ -z "$fmt" ] && printf ']\n'
    exit $rc;;
  update)
    adds=; avail=; role=
    while [ $# -gt 1 ]; do
      case $1 in
        --label-add) adds="$adds $2"; shift;;
        --label-add=*) adds="$adds ${1#*=}";;
        --availability) avail=$2; shift;;
        --availability=*) avail=${1#*=};;
        --role) role=$2; shift;;
        --role=*) role=${1#*=};;
      esac
      shift
    done
    reg_find "$1" || { echo "Error response from daemon: node $1 not found" >&2; exit 1; }
    case $avail in ''|active|pause|drain) ;; *) echo "invalid argument \"$avail\" for \"--availability\" flag" >&2; exit 1;; esac
    [ -n "$avail" ] && R_AVAIL=$avail
    [ -n "$role" ] && R_ROLE=$role
    for kv in $adds; do
      k=${kv%%=*}; [ "$kv" = "$k" ] && kv="$k="
      old=$R_LABELS; [ "$old" = - ] && old=; new=
      while [ -n "$old" ]; do
        e=${old%%,*}; case $old in *,*) old=${old#*,};; *) old=;; esac
        [ "${e%%=*}" = "$k" ] || new="$new${new:+,}$e"
      done
      R_LABELS="$new${new:+,}$kv"
    done
    reg_save
    printf '%s\n' "$1"
    exit 0;;
  promote|demote)
    for n do
      reg_find "$n" || { echo "Error response from daemon: node $n not found" >&2; exit 1; }
      if [ "$sub" = promote ]; then R_ROLE=manager; R_MS=Reachable; else R_ROLE=worker; R_MS=-; fi
      reg_save
      echo "Node $n $sub""d in the swarm."
    done
    exit 0;;
  rm)
    force=; rc=0
    for n do
      case $n in --force|-f) force=1; continue;; esac
      if ! reg_find "$n"; then echo "Error response from daemon: node $n not found" >&2; rc=1; continue; fi
      if [ "$R_STATE" != down ] && [ -z "$force" ]; then
        echo "Error response from daemon: rpc error: code = FailedPrecondition desc = node $R_ID is not down and can't be removed" >&2; rc=1; continue
      fi
      rm -f "$LAB_STATE/nodes/$R_ID"
      printf '%s\n' "$n"
    done
    exit $rc;;
  esac;;
esac
for a do printf '<%s>\n' "$a"; done
exit 0
