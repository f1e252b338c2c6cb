#!/bin/sh
# many_nodes.sh [NODES [RUNS [LIMIT]]]: jobs of many nodes on this machine, too heavy for make check
# (a 2-core VM: 500 nodes take about 35 s and 1000 about 3 minutes of both cores). Runs RUNS jobs
# (default 5) of NODES nodes (default 500) of "./defects heap" (MomeInit, MomeFinalize) over
# shared memory, each under mome-run -t LIMIT (default 300), with MOME_HEAP_SIZE=1G, and counts
# those that fail or hang. Run from tests/integration after make check (or make defects). Before
# the progress thread's sleeps were bounded, UCX's lost wake-ups hung about half of the 500-node
# jobs in MomeFinalize, and every 1000-node job.
n=${1:-500}
runs=${2:-5}
limit=${3:-300}
failed=0
i=1
while [ "$i" -le "$runs" ]; do
    log=$(mktemp)
    t0=$(date +%s)
    UCX_TLS=${UCX_TLS:-posix,cma} MOME_HEAP_SIZE=${MOME_HEAP_SIZE:-1G} \
        timeout -k 5 $((limit + 30)) ../../runtime/mome-run -t "$limit" -n "$n" ./defects heap \
        >"$log" 2>&1
    rc=$?
    echo "run $i: $n nodes, exit $rc, $(($(date +%s) - t0)) s"
    if [ "$rc" -ne 0 ]; then
        failed=$((failed + 1))
        grep -v "^mome: node" "$log" | head -5
        echo "   (log kept in $log)"
    else
        rm -f "$log"
    fi
    i=$((i + 1))
done
echo "$failed of $runs runs of $n nodes failed"
[ "$failed" -eq 0 ]
