#!/bin/sh
# shellcheck disable=SC2317 # functions called only through "bench_$b" look unreachable
# run-bench.sh - runs Mome's benchmarks on this machine over TCP and shared memory, repeats each
# run and prints the median of every figure next to a raw-UCX baseline (run by `make bench`).
#
#   [MOME_RUN=path/mome-run] [BENCH_BINDIR=dir] [BENCH_REPEAT=5] run-bench.sh [benchmark...]
#
# Benchmarks: fault_latency (the default is all of them). Run it from the bench build directory, or
# set BENCH_BINDIR to it. Exits 1 if a run failed (its figures are then left out of the medians).

set -u

BENCHES="fault_latency"
MOME_RUN=${MOME_RUN:-../runtime/mome-run}
BENCH_BINDIR=${BENCH_BINDIR:-.}
REPEAT=${BENCH_REPEAT:-5}
# transport name and the UCX_TLS that selects it
TRANSPORTS="tcp:tcp shm:posix,sysv,cma"

failed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/mome-bench.XXXXXX") || exit 1
trap 'rm -rf "$logdir"' EXIT
trap 'exit 130' INT TERM

die() {
    echo "run-bench.sh: $*" >&2
    exit 2
}

case $REPEAT in
'' | *[!0-9]* | 0) die "BENCH_REPEAT must be a positive integer, not '$REPEAT'" ;;
esac

loadavg() {
    cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown
}

# median NUMBER... : prints the median (mean of the two middle ones for an even count), or n/a.
median() {
    [ $# -gt 0 ] || { echo n/a; return; }
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.2f\n", m }'
}

# ratio A B : A / B to one decimal, or n/a.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.1f\n", a / b }'
}

# collect LIST NAME FILE : appends the number after NAME in FILE to the variable LIST; a run
# without it counts as failed.
collect() {
    v=$(awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$3")
    case $v in
    '' | *[!0-9.]* | *.*.*)
        failed=1
        echo "run-bench.sh: no $2 figure in the output of a run" >&2
        ;;
    *) eval "$1=\"\$$1 \$v\"" ;;
    esac
}

# run LOG COMMAND... : runs COMMAND into LOG; on failure, says so with the end of LOG.
run() {
    log=$1
    shift
    "$@" >"$log" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        failed=1
        echo "run-bench.sh: failed (exit $rc): $*" >&2
        tail -n 5 "$log" | sed 's/^/    /' >&2
    fi
    return "$rc"
}

# fault_latency: remote read and write faults on 2 nodes, against a raw UCX round trip that carries
# the same bytes (a 72-byte request, a 72-byte + 4 KiB reply).
bench_fault_latency() {
    pages=20000
    for p in fault_latency ucx_pingpong; do
        [ -x "$BENCH_BINDIR/$p" ] || die "no $BENCH_BINDIR/$p (build it: make -C bench $p)"
    done
    [ -x "$MOME_RUN" ] || die "no mome-run at $MOME_RUN (set MOME_RUN)"

    echo "fault_latency (2 nodes, $pages pages, random order), median of $REPEAT runs"
    printf '%-9s  %13s  %14s  %15s  %16s  %13s  %14s\n' transport read_fault_us write_fault_us \
        ucx_rtt_poll_us ucx_rtt_sleep_us read/rtt_poll write/rtt_poll
    for t in $TRANSPORTS; do
        name=${t%%:*}
        tls=${t#*:}
        rd='' wr='' poll='' sleep=''
        i=0
        while [ "$i" -lt "$REPEAT" ]; do
            i=$((i + 1))
            # Alternate the two programs so that a change in load hits both alike.
            log=$logdir/fault_latency.$name.$i
            if run "$log" env UCX_TLS="$tls" timeout 150 "$MOME_RUN" -t 120 -n 2 \
                "$BENCH_BINDIR/fault_latency" "$pages"; then
                if grep -q 'wrong sum' "$log"; then
                    failed=1
                    echo "run-bench.sh: fault_latency over $name read wrong data" >&2
                else
                    collect rd read_fault_us "$log"
                    collect wr write_fault_us "$log"
                fi
            fi
            log=$logdir/ucx_pingpong.$name.$i
            if run "$log" env UCX_TLS="$tls" timeout 90 "$BENCH_BINDIR/ucx_pingpong" "$pages"; then
                collect poll ucx_rtt_poll_us "$log"
                collect sleep ucx_rtt_sleep_us "$log"
            fi
        done
        # shellcheck disable=SC2086 # the lists of figures are split into arguments on purpose
        {
            rd=$(median $rd)
            wr=$(median $wr)
            poll=$(median $poll)
            sleep=$(median $sleep)
        }
        printf '%-9s  %13s  %14s  %15s  %16s  %13s  %14s\n' "$name" "$rd" "$wr" "$poll" \
            "$sleep" "$(ratio "$rd" "$poll")" "$(ratio "$wr" "$poll")"
    done
    echo "ArgoDSM on this machine (same pattern): 17.3 us read (12.5 us with its 8-page prefetch)"
}

[ $# -gt 0 ] || set -- $BENCHES
for b in "$@"; do
    case " $BENCHES " in
    *" $b "*) ;;
    *) die "unknown benchmark '$b' (known: $BENCHES)" ;;
    esac
done
echo "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') CPUs, load average $(loadavg)"
for b in "$@"; do
    "bench_$b"
done
echo "load average at the end: $(loadavg)"
exit $failed
