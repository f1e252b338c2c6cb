#!/bin/sh
# netns.sh - several "hosts" on this machine: Linux network namespaces, each with its own address
# on a bridge (veth pairs), for running Mome jobs across hosts with mpirun (Open MPI), which
# places nodes in the namespaces through an rsh agent (mh-rsh) that enters them.
#
#   netns.sh up [NHOSTS]       create NHOSTS hosts (default 2) and a head namespace; prints the
#                              state file to pass to the other commands (MH_STATE)
#   netns.sh run CMD [ARGS]    run CMD in the head namespace, with MH_HOSTS (host1,host2,...) and
#                              MH_RSH (the rsh agent) in its environment
#   netns.sh mpirun SLOTS PROG [ARGS]   run PROG across the hosts, SLOTS nodes on each
#   netns.sh link HOST up|down take host number HOST's link (its port on the bridge) up or down
#   netns.sh down              remove the namespaces
#
# Sourced (". netns.sh"), it defines the same as functions mh_up, mh_run, mh_mpirun, mh_link,
# mh_down. Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; mh_can_run says whether
# this machine allows it, and why not. The hosts are 10.213.0.2, .3, ...; the head (where mpirun
# runs) is 10.213.0.1. Traffic never leaves the namespaces: they have no route to anything else.

: "${MH_STATE:=}"
MH_NET=10.213.0

# mh_can_run: 0 if namespaces can be made here; else prints the reason and returns 1.
mh_can_run() {
    if ! command -v ip >/dev/null 2>&1; then
        echo "no ip command (apt-get install iproute2)"
        return 1
    fi
    if ! command -v mpirun >/dev/null 2>&1; then
        echo "no mpirun (apt-get install openmpi-bin)"
        return 1
    fi
    _probe=mome-probe-$$
    if ! ip netns add "$_probe" 2>/dev/null; then
        echo "cannot create network namespaces (needs root or CAP_SYS_ADMIN + CAP_NET_ADMIN)"
        return 1
    fi
    if ! ip -n "$_probe" link add mhp0 type veth peer name mhp1 2>/dev/null; then
        ip netns del "$_probe"
        echo "cannot create veth pairs (no veth support in this kernel?)"
        return 1
    fi
    ip netns del "$_probe"
    return 0
}

# mh_up [NHOSTS]: creates the namespaces; sets and exports MH_STATE (a file naming them).
mh_up() {
    _n=${1:-2}
    _p=mome$$x$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    MH_STATE=$(mktemp "${TMPDIR:-/tmp}/mome-netns.XXXXXX") || return 1
    export MH_STATE
    _dir=$(cd "$(dirname "$0")" 2>/dev/null && pwd)
    [ -x "${MH_DIR:-$_dir}/mh-rsh" ] || _dir=$(dirname "$MH_STATE")
    {
        echo "MH_PREFIX=$_p"
        echo "MH_NHOSTS=$_n"
    } >"$MH_STATE"
    ip netns add "${_p}br" || return 1
    ip -n "${_p}br" link add br0 type bridge || return 1
    ip -n "${_p}br" link set br0 up
    _hosts=''
    _i=0
    while [ "$_i" -le "$_n" ]; do
        _ns=${_p}h$_i
        ip netns add "$_ns" || return 1
        ip -n "$_ns" link set lo up
        ip -n "$_ns" link add eth0 type veth peer name "p$_i" netns "${_p}br" || return 1
        ip -n "$_ns" addr add "$MH_NET.$((_i + 1))/24" dev eth0
        ip -n "$_ns" link set eth0 up
        ip -n "${_p}br" link set "p$_i" master br0
        ip -n "${_p}br" link set "p$_i" up
        [ "$_i" -gt 0 ] && _hosts="$_hosts${_hosts:+,}$MH_NET.$((_i + 1))"
        _i=$((_i + 1))
    done
    echo "MH_HOSTS=$_hosts" >>"$MH_STATE"
    # Wait until every link is up (a veth pair is at once; a bridge port without STP too).
    mh_within5 "the bridge's ports do not come up" mh_ports_up "$_p"
}

# mh_ports_up PREFIX: every port of the bridge is up.
mh_ports_up() {
    ! ip -n "${1}br" -br link | grep -v '^lo' | grep -q -v 'UP'
}

# mh_within5 MESSAGE CMD...: CMD succeeds within 5 s (tried every 0.1 s), else MESSAGE, and 1.
mh_within5() {
    _msg=$1
    shift
    _t=0
    while ! "$@"; do
        _t=$((_t + 1))
        if [ "$_t" -gt 50 ]; then
            echo "netns.sh: $_msg" >&2
            return 1
        fi
        sleep 0.1
    done
}

mh_load() {
    [ -n "$MH_STATE" ] && [ -f "$MH_STATE" ] || {
        echo "netns.sh: no namespaces (run netns.sh up and set MH_STATE)" >&2
        return 1
    }
    . "$MH_STATE"
}

# mh_ns HOST: the namespace of host number HOST (0 is the head).
mh_ns() {
    mh_load && echo "${MH_PREFIX}h$1"
}

# mh_run CMD...: in the head namespace, with MH_HOSTS and MH_RSH set.
mh_run() {
    mh_load || return 1
    MH_STATE=$MH_STATE MH_HOSTS=$MH_HOSTS MH_RSH=$MH_RSH \
        ip netns exec "${MH_PREFIX}h0" "$@"
}

# mh_mpirun SLOTS PROG [ARGS...]: PROG on every host, SLOTS nodes each, UCX over TCP between them
# (the hosts share this machine's memory, so shared memory would otherwise be chosen).
mh_mpirun() {
    mh_load || return 1
    _slots=$1
    shift
    _h=$(echo "$MH_HOSTS" | sed "s/,/:$_slots,/g"):$_slots
    _np=$((_slots * MH_NHOSTS))
    mh_run env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        OMPI_MCA_plm_rsh_agent="$MH_RSH" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
        OMPI_MCA_btl=self OMPI_MCA_pml=^ucx \
        mpirun --oversubscribe --bind-to none -H "$_h" -n "$_np" \
        -x "UCX_TLS=${MH_TLS:-tcp}" -x MH_STATE "$@"
}

# mh_link HOST up|down: the host's port on the bridge (its cable). Up, it returns once the host and
# the head reach each other again: while the cable was out, their neighbour (ARP) entries for each
# other failed, and a connection made right after it is back could still find "No route to host"
# (a job started at once failed so in MomeInit once). The entries are flushed, then a TCP connect
# to an unused port is tried both ways until it is refused rather than unroutable (5 s at most).
mh_link() {
    mh_load || return 1
    ip -n "${MH_PREFIX}br" link set "p$1" "$2" || return 1
    [ "$2" = up ] || return 0
    _i=0
    while [ "$_i" -le "$MH_NHOSTS" ]; do
        ip -n "${MH_PREFIX}h$_i" neigh flush all 2>/dev/null
        _i=$((_i + 1))
    done
    mh_within5 "host $1 is still unreachable 5 s after its link came up" mh_linked "$1"
}

# mh_linked HOST: HOST and every other host reach each other.
mh_linked() {
    _j=0
    while [ "$_j" -le "$MH_NHOSTS" ]; do
        if [ "$_j" != "$1" ]; then
            mh_reaches "$1" "$_j" && mh_reaches "$_j" "$1" || return 1
        fi
        _j=$((_j + 1))
    done
}

# mh_reaches FROM TO: a TCP connect from host FROM to host TO's port 9, where nothing listens, is
# refused (or accepted) within 1 s, rather than unroutable or unanswered.
mh_reaches() {
    _e=$(ip netns exec "${MH_PREFIX}h$1" timeout 1 bash -c \
        "exec 3<>/dev/tcp/$MH_NET.$(($2 + 1))/9" 2>&1) && return 0
    case $_e in
    *refused*) return 0 ;;
    *) return 1 ;;
    esac
}

mh_down() {
    mh_load 2>/dev/null || return 0
    _i=0
    while [ "$_i" -le "$MH_NHOSTS" ]; do
        # Processes still in a host (a failed test) go with it.
        for _pid in $(ip netns pids "${MH_PREFIX}h$_i" 2>/dev/null); do
            kill -9 "$_pid" 2>/dev/null
        done
        ip netns del "${MH_PREFIX}h$_i" 2>/dev/null
        _i=$((_i + 1))
    done
    ip netns del "${MH_PREFIX}br" 2>/dev/null
    rm -f "$MH_STATE"
}

# The rsh agent mpirun uses: mh-rsh beside this file.
: "${MH_RSH:=$(cd "$(dirname "${MH_SELF:-$0}")" 2>/dev/null && pwd)/mh-rsh}"
export MH_RSH

case ${0##*/} in
netns.sh)
    cmd=${1:-}
    [ $# -gt 0 ] && shift
    case $cmd in
    up)
        mh_can_run >&2 || exit 77
        mh_up "$@" || { mh_down; exit 1; }
        echo "$MH_STATE"
        ;;
    run) mh_run "$@" ;;
    mpirun) mh_mpirun "$@" ;;
    link) mh_link "$@" ;;
    down) mh_down ;;
    *)
        sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
        exit 2
        ;;
    esac
    ;;
esac
