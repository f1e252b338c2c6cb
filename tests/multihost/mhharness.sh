# mhharness.sh - sourced by the multi-host tests: two "hosts" made of network namespaces on this
# machine (netns.sh), and Mome jobs across them started by mome-run -H through Open MPI's mpirun,
# which enters the hosts through the rsh agent mh-rsh; UCX over TCP between them. The test is
# skipped (exit 77) with the reason when this machine cannot make namespaces, has no mpirun, or
# libmome has no PMIx backend. Every job runs under a time limit.
#
#   mhjob NODES_PER_HOST PROGRAM [ARGS...]   one job on both hosts; output in $OUT, status in $rc

: "${srcdir:=.}"
top=$(cd ../.. && pwd)
MOMERUN=$top/runtime/mome-run
: "${JOB_TIMEOUT:=300}"
MH_SELF=$srcdir/netns.sh
. "$srcdir/netns.sh"
MH_RSH=$(cd "$srcdir" && pwd)/mh-rsh

if ! why=$(mh_can_run); then
    echo "SKIP: $why"
    exit 77
fi
if ! "$top/runtime/mome-info" -v | grep -q "PMIx ("; then
    echo "SKIP: libmome was built without PMIx (apt-get install libpmix-dev, then configure)"
    exit 77
fi
OUT=$(mktemp)
mh_up 2 || { mh_down; rm -f "$OUT"; echo "FAILED: cannot set the namespaces up"; exit 1; }
trap 'mh_down; rm -f "$OUT"' EXIT
. "$MH_STATE"
HOST1=${MH_HOSTS%%,*}
HOST2=${MH_HOSTS##*,}
echo "hosts: $HOST1 (namespace ${MH_PREFIX}h1) and $HOST2 (${MH_PREFIX}h2); head $MH_NET.1"

# The environment of a launcher on the head: the rsh agent, root allowed, no MPI transports.
mhenv() {
    mh_run env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        OMPI_MCA_plm_rsh_agent="$MH_RSH" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
        OMPI_MCA_btl=self OMPI_MCA_pml=^ucx UCX_TLS="${MH_TLS:-tcp}" MOME_LOG_LEVEL=info "$@"
}

mhjob() {
    _per=$1
    shift
    echo "== mome-run -H $HOST1:$_per,$HOST2:$_per $*"
    mhenv timeout -k 5 $((JOB_TIMEOUT + 15)) "$MOMERUN" -t "$JOB_TIMEOUT" \
        -H "$HOST1:$_per,$HOST2:$_per" "$@" >"$OUT" 2>&1
    rc=$?
    grep -v "mome\[.*info:" "$OUT"
}

# mhcheck: the last job succeeded, with nodes on both hosts talking over their eth0.
mhcheck() {
    if [ "$rc" -ne 0 ]; then
        cat "$OUT"
        echo "FAILED (exit $rc)"
        exit 1
    fi
    for h in mh1 mh2; do
        if ! grep -q "^mome\[$h:.*the job is on 2 machines: UCX on eth0" "$OUT"; then
            cat "$OUT"
            echo "FAILED: no node on host $h used UCX on eth0 across machines"
            exit 1
        fi
    done
}
