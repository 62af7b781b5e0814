#!/bin/sh
# Stand-in `docker` for the SSH lab (test/lib/sshlab.ts): every lab address is a "node" whose swarm state lives in
# $LAB_STATE/<address>. It emulates what belt's swarm commands use (docker info --format with the .Swarm fields,
# swarm init / join / join-token / leave) and answers anything else by printing its argv, one `<arg>` per line.
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

load() {
  S_STATE=inactive; S_ID=-; S_CTRL=false; S_CLUSTER=-; S_ADDR=-; S_MGRS=-
  [ -f "$LAB_STATE/$1" ] && read -r S_STATE S_ID S_CTRL S_CLUSTER S_ADDR S_MGRS < "$LAB_STATE/$1"
  [ "$S_ID" = - ] && S_ID=
  [ "$S_CLUSTER" = - ] && S_CLUSTER=
  [ "$S_ADDR" = - ] && S_ADDR=
  [ "$S_MGRS" = - ] && S_MGRS=
}
save() {
  printf '%s %s %s %s %s %s\n' "$S_STATE" "${S_ID:--}" "$S_CTRL" "${S_CLUSTER:--}" "${S_ADDR:--}" "${S_MGRS:--}" > "$LAB_STATE/$IP"
}

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

render() {
  t=$1; out=
  while :; do
    case $t in *'{{'*) ;; *) out=$out$t; break;; esac
    out=$out${t%%'{{'*}; t=${t#*'{{'}
    f=${t%%'}}'*}; t=${t#*'}}'}
    case $f in
      .Swarm.LocalNodeState) out=$out$S_STATE;;
      .Swarm.NodeID) out=$out$S_ID;;
      .Swarm.NodeAddr) out=$out$S_ADDR;;
      .Swarm.ControlAvailable) out=$out$S_CTRL;;
      .Swarm.Cluster.ID)
        if [ "$S_CTRL" != true ]; then
          echo 'template: :1: executing "" at <.Swarm.Cluster.ID>: nil pointer evaluating *swarm.ClusterInfo.ID' >&2
          exit 1
        fi
        out=$out$S_CLUSTER;;
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
      *) out="$out<no value>";;
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
    echo "$IP $ADDR $role" >> "$LAB_STATE/joins.log"
    echo "This node joined a swarm as a $role."
    exit 0;;
  leave)
    if [ "$S_STATE" = inactive ]; then echo 'Error response from daemon: This node is not part of a swarm' >&2; exit 1; fi
    if [ "$S_CTRL" = true ] && [ "$3" != --force ] && [ "$3" != -f ]; then
      echo 'Error response from daemon: You are attempting to leave the swarm on a node that is participating as a manager. Use `--force` to ignore this message.' >&2
      exit 1
    fi
    S_STATE=inactive; S_ID=; S_CTRL=false; S_CLUSTER=; S_ADDR=; S_MGRS=
    save
    echo 'Node left the swarm.'
    exit 0;;
  esac;;
esac
for a do printf '<%s>\n' "$a"; done
exit 0
