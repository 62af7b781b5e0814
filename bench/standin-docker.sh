#!/bin/sh
# Stand-in `docker` for the bench fleet (bench/fleet.ts writes it with the @...@ values filled in). Every address
# sshd answers on is a node; the node's address comes from $SSH_CONNECTION (the server side). It answers what
# belt's swarm join sends, like a node in no swarm until it joins:
#   docker info --format TEMPLATE   .Swarm.{LocalNodeState,ControlAvailable,NodeID,NodeAddr,Cluster.ID,Error},
#                                   {{range .Swarm.RemoteManagers}}…{{.NodeID}}…{{.Addr}}…{{end}}, {{json .Swarm}}
#   docker swarm join-token -q worker|manager   (the manager only; --rotate writes a new worker token to $S/token_w)
#   docker node ls --format …                   (the manager only) the lines of $S/nodes: "ID HOSTNAME STATUS",
#                                               which the boot-join bench grows as simulated nodes join
#   docker swarm join --token T ADDR            refuses a node already in a swarm; else sleeps the join latency,
#                                               appends the node's address to joins.log, marks it joined
# Anything else: exit 0, argv noted in misc.log. Written for dash with builtins only on the hot path (no forks but
# the latency `sleep`), so the fleet's CPU goes to sshd as it would on a real host.
S=@STATE@
LAT=@LATENCY@
MGR=@MANAGER@
TOKEN_W=@TOKEN_W@
TOKEN_M=@TOKEN_M@
CID=@CLUSTER_ID@
MGRID=@MANAGER_NODE_ID@
set -f
# The boot-join bench rotates the worker token: the current one is in $S/token_w when that file exists.
[ -r "$S/token_w" ] && read -r TOKEN_W < "$S/token_w"

me=${SSH_CONNECTION#* * }; me=${me%% *}
[ -n "$me" ] || me=unknown
if [ "$me" = "$MGR" ]; then st=active; nid=$MGRID; ctl=true; cid=$CID; naddr=$MGR
elif [ -e "$S/joined/$me" ]; then st=active; nid="n$me"; ctl=false; cid=; naddr=$me
else st=inactive; nid=; ctl=false; cid=; naddr=; fi

# Body of {{range .Swarm.RemoteManagers}}…{{end}} for the one manager.
render_body() {
  b=$1
  while :; do
    case $b in *'{{'*) ;; *) RB=$RB$b; return ;; esac
    RB=$RB${b%%'{{'*}; b=${b#*'{{'}
    f=${b%%'}}'*}; b=${b#*'}}'}
    case $f in
      .NodeID|' .NodeID ') RB=$RB$MGRID ;;
      .Addr|' .Addr ') RB=$RB$MGR:2377 ;;
      *) RB="$RB<no value>" ;;
    esac
  done
}

render() {
  t=$1; out=
  while :; do
    case $t in *'{{'*) ;; *) out=$out$t; break ;; esac
    out=$out${t%%'{{'*}; t=${t#*'{{'}
    f=${t%%'}}'*}; t=${t#*'}}'}
    case $f in
      .Swarm.LocalNodeState|' .Swarm.LocalNodeState ') out=$out$st ;;
      .Swarm.ControlAvailable|' .Swarm.ControlAvailable ') out=$out$ctl ;;
      .Swarm.NodeID|' .Swarm.NodeID ') out=$out$nid ;;
      .Swarm.NodeAddr|' .Swarm.NodeAddr ') out=$out$naddr ;;
      .Swarm.Cluster.ID|' .Swarm.Cluster.ID ')
        if [ "$ctl" != true ]; then
          echo 'template: :1: executing "" at <.Swarm.Cluster.ID>: nil pointer evaluating *swarm.ClusterInfo.ID' >&2
          exit 1
        fi
        out=$out$cid ;;
      .Swarm.Error|' .Swarm.Error ') ;;
      'json .Swarm'|' json .Swarm ')
        if [ "$st" = active ]; then rm_json="[{\"NodeID\":\"$MGRID\",\"Addr\":\"$MGR:2377\"}]"; else rm_json=null; fi
        out="$out{\"NodeID\":\"$nid\",\"NodeAddr\":\"$naddr\",\"LocalNodeState\":\"$st\",\"ControlAvailable\":$ctl,\"Error\":\"\",\"RemoteManagers\":$rm_json}" ;;
      'range .Swarm.RemoteManagers'|' range .Swarm.RemoteManagers ')
        body=${t%%'{{end}}'*}; t=${t#*'{{end}}'}
        if [ "$st" = active ]; then RB=; render_body "$body"; out=$out$RB; fi ;;
      .ServerVersion|' .ServerVersion ') out=${out}24.0.9 ;;
      .Name|' .Name ') out=$out$me ;;
      *) out="$out<no value>" ;;
    esac
  done
  printf '%s\n' "$out"
}

case "$1" in
  info)
    fmt=
    while [ $# -gt 0 ]; do
      case "$1" in
        --format=*|-f=*) fmt=${1#*=} ;;
        --format|-f) shift; fmt=$1 ;;
      esac
      shift
    done
    if [ -n "$fmt" ]; then render "$fmt"; else printf 'Swarm: %s\n NodeID: %s\n' "$st" "$nid"; fi
    exit 0 ;;
  node)
    if [ "$2" = ls ] && [ "$ctl" = true ]; then [ -r "$S/nodes" ] && cat "$S/nodes"; exit 0; fi ;;
  swarm)
    case "$2" in
      join-token)
        role=worker; q=
        rot=
        for a do case $a in -q|--quiet) q=1 ;; --rotate) rot=1 ;; worker|manager) role=$a ;; esac; done
        if [ -n "$rot" ] && [ "$ctl" = true ] && [ "$role" = worker ]; then TOKEN_W="SWMTKN-1-rotated$$x$(date +%s%N)"; printf '%s\n' "$TOKEN_W" > "$S/token_w"; fi
        if [ "$ctl" != true ]; then echo 'Error response from daemon: This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to connect this node to swarm and try again.' >&2; exit 1; fi
        if [ "$role" = manager ]; then tk=$TOKEN_M; else tk=$TOKEN_W; fi
        if [ -n "$q" ]; then printf '%s\n' "$tk"; else printf 'To add a %s to this swarm, run the following command:\n\n    docker swarm join --token %s %s:2377\n\n' "$role" "$tk" "$MGR"; fi
        exit 0 ;;
      join)
        tk=; addr=
        shift 2
        while [ $# -gt 0 ]; do
          case $1 in --token) tk=$2; shift ;; --token=*) tk=${1#*=} ;; --*) ;; *) addr=$1 ;; esac
          shift
        done
        if [ "$st" != inactive ]; then echo 'Error response from daemon: This node is already part of a swarm. Use "docker swarm leave" to leave this swarm and join another one.' >&2; exit 1; fi
        case $tk in "$TOKEN_W"|"$TOKEN_M") ;; *) echo 'Error response from daemon: invalid join token' >&2; exit 1 ;; esac
        case $addr in "$MGR"|"$MGR:2377") ;; *) echo "Error response from daemon: rpc error: code = Unavailable desc = connection error: dial tcp $addr: connect: connection refused" >&2; exit 1 ;; esac
        sleep "$LAT"
        printf '%s\n' "$me" >> "$S/joins.log"
        : > "$S/joined/$me"
        if [ "$tk" = "$TOKEN_M" ]; then echo 'This node joined a swarm as a manager.'; else echo 'This node joined a swarm as a worker.'; fi
        exit 0 ;;
    esac ;;
esac
printf '%s %s\n' "$me" "$*" >> "$S/misc.log"
exit 0
