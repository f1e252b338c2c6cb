#!/bin/sh
# shellcheck disable=SC2317 # functions called only through "bench_$b" look unreachable
# run-bench.sh - runs Mome's benchmarks on this machine over TCP and shared memory, repeats each
# run and prints the median of every figure next to a raw-UCX baseline (run by `make bench`).
#
#   [MOME_RUN=path/mome-run] [BENCH_BINDIR=dir] [BENCH_REPEAT=5] run-bench.sh [benchmark...]
#   (fault_latency also reads BENCH_FAULT_PAGES, BENCH_SCALE_REPEAT, BENCH_SCALE_PAGES: see there)
#
# Benchmarks: fault_latency, flag_pingpong, false_sharing, jacobi, apps, budget, emulation,
# checkpoint, momed, multihost
# (the default is all of them). Run it from the bench build directory, or set BENCH_BINDIR to it.
# Exits 1 if a run failed (its figures are then left out of the medians). multihost needs root
# (network namespaces), mpirun and a libmome with PMIx; without them it says why and is skipped.

set -u

BENCHES="fault_latency flag_pingpong false_sharing jacobi apps budget emulation checkpoint momed multihost"
# mome-run's path stays in this script: exported, every node would warn about a MOME_ variable
# that is not a knob (unset, then set again: a variable of this shell only).
_mome_run=${MOME_RUN:-../runtime/mome-run}
unset MOME_RUN
MOME_RUN=$_mome_run
MOMED=${MOMED:-../runtime/momed}
BENCH_BINDIR=${BENCH_BINDIR:-.}
EXAMPLES=${EXAMPLES:-../examples}
REPEAT=${BENCH_REPEAT:-5}
# transport name and the UCX_TLS that selects it
TRANSPORTS="tcp:tcp shm:posix,cma"

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
              printf (m < 1 ? "%.4f\n" : "%.2f\n"), m }'
}

# best VALUES... : the smallest, as median prints it; n/a if none.
best() {
    [ $# -gt 0 ] || { echo n/a; return; }
    printf '%s\n' "$@" | sort -g | awk 'NR == 1 { printf ($1 < 1 ? "%.4f\n" : "%.2f\n"), $1 }'
}

# ratio A B : A / B to one decimal, or n/a.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f\n", a / b }'
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

# fault_latency: remote faults on 2 nodes beside the floors measured in the same round: a first
# touch of an anonymous page, a minor fault on a cached memfd page, a userfaultfd fault resolved by
# another thread (same core, other core), and a raw UCX round trip carrying what a remote read
# carries (ucx_pingpong: a 72-byte request, a 72-byte + 4 KiB reply), polling and sleeping. Each
# round runs, per transport: fault_latency floors + sparse with MOME_PREFETCH=0, fault_latency
# dense + write + first + sparse + firstseq with the defaults, ucx_pingpong; then the scale job
# (20,000 pages in 1 and 16 GiB, 300,000 in 16 GiB) BENCH_SCALE_REPEAT times. Every ratio is
# computed within a round (a figure against the floors of the same round), then the median
# [min-max] over the rounds.
#   BENCH_FAULT_PAGES (5000): pages per remote test; BENCH_SCALE_REPEAT (1): rounds of the scale
#   job; BENCH_SCALE_PAGES (20000 300000): its two page counts.
bench_fault_latency() {
    pages=${BENCH_FAULT_PAGES:-5000}
    srep=${BENCH_SCALE_REPEAT:-1}
    # shellcheck disable=SC2086 # two numbers
    set -- ${BENCH_SCALE_PAGES:-20000 300000}
    spages=$1 mpages=${2:-300000}
    for v in "$pages" "$srep" "$spages" "$mpages"; do
        case $v in
        '' | *[!0-9]* | 0) die "BENCH_FAULT_PAGES, BENCH_SCALE_REPEAT and BENCH_SCALE_PAGES take" \
            "positive integers, not '$v'" ;;
        esac
    done
    for p in fault_latency ucx_pingpong; do
        [ -x "$BENCH_BINDIR/$p" ] || die "no $BENCH_BINDIR/$p (build it: make -C bench $p)"
    done
    [ -x "$MOME_RUN" ] || die "no mome-run at $MOME_RUN (set MOME_RUN)"
    fl=$logdir/fl
    mkdir -p "$fl"

    echo "fault_latency: 2 nodes, $pages pages per test spread over a 1 GiB segment (9 pages" \
        "apart, random order) unless said; $REPEAT rounds, scale job $srep per transport," \
        "load average $(loadavg) at the start"
    for t in $TRANSPORTS; do
        name=${t%%:*}
        tls=${t#*:}
        i=0
        while [ "$i" -lt "$REPEAT" ]; do
            i=$((i + 1))
            # One round: the three programs back to back, so that their load is alike.
            log=$logdir/fault_latency.$name.a.$i
            fl_run "$log" env UCX_TLS="$tls" MOME_PREFETCH=0 timeout 600 "$MOME_RUN" -t 580 -n 2 \
                "$BENCH_BINDIR/fault_latency" -p "$pages" floors sparse
            for k in first_touch_us memfd_minor_us uffd_same_us uffd_other_us uffd_minor_us \
                read_sparse_us; do
                fl_keep "$name" "$k" "$log"
            done
            log=$logdir/fault_latency.$name.b.$i
            fl_run "$log" env UCX_TLS="$tls" timeout 600 "$MOME_RUN" -t 580 -n 2 \
                "$BENCH_BINDIR/fault_latency" -p "$pages" dense write first sparse firstseq
            for k in read_dense_us write_fault_us first_write_us first_seq_write_us; do
                fl_keep "$name" "$k" "$log"
            done
            fl_keep "$name" read_sparse_us "$log" read_sparse_ra_us
            log=$logdir/ucx_pingpong.$name.$i
            run "$log" env UCX_TLS="$tls" timeout 200 "$BENCH_BINDIR/ucx_pingpong" 5000
            fl_keep "$name" ucx_rtt_poll_us "$log"
            fl_keep "$name" ucx_rtt_sleep_us "$log"
        done
        i=0
        while [ "$i" -lt "$srep" ]; do
            i=$((i + 1))
            log=$logdir/fault_latency.$name.scale.$i
            fl_run "$log" env UCX_TLS="$tls" timeout 1800 "$MOME_RUN" -t 1780 -n 2 \
                "$BENCH_BINDIR/fault_latency" -s "$spages" -S "$mpages" scale
            for k in write_1g_us write_big_us write_many_us write_many_head_us \
                write_many_tail_us; do
                fl_keep "$name" "$k" "$log"
            done
        done
        # The floors of each round, and the figures' ratios to them, round by round.
        fl_sum "$name" floor_us first_touch_us ucx_rtt_poll_us
        fl_sum "$name" ufloor_us uffd_same_us ucx_rtt_poll_us
        for k in read_sparse_us read_sparse_ra_us read_dense_us write_fault_us; do
            fl_div "$name" "$k.floor" "$k" floor_us
            fl_div "$name" "$k.ufloor" "$k" ufloor_us
        done
        fl_div "$name" first_write_us.touch first_write_us first_touch_us
        fl_div "$name" first_write_us.floor first_write_us floor_us
        fl_div "$name" first_seq_write_us.touch first_seq_write_us first_touch_us
        fl_div "$name" write_big_us.1g write_big_us write_1g_us
        fl_div "$name" write_many_us.big write_many_us write_big_us
        fl_div "$name" write_many_tail_us.head write_many_tail_us write_many_head_us
    done

    echo "where the nodes ran (CPUs of node 0 / node 1; one core for both when another Mome job" \
        "held the other, none bound when all were held):" \
        "$(sort "$fl/placement" | uniq -c | awk '{ $1 = $1 ($1 == 1 ? " job:" : " jobs:"); printf "%s%s", s, $0; s = "; " }')"
    echo "floors, us per fault or round trip: median [min-max] over the rounds"
    printf '%-46s' floor
    for t in $TRANSPORTS; do printf '  %-26s' "${t%%:*}"; done
    echo
    for row in "first_touch_us:first touch, anonymous page (write)" \
        "memfd_minor_us:minor fault, cached memfd page (read)" \
        "uffd_same_us:userfaultfd + UFFDIO_COPY, same core" \
        "uffd_other_us:userfaultfd + UFFDIO_COPY, other core" \
        "uffd_minor_us:userfaultfd + UFFDIO_CONTINUE, same core" \
        "ucx_rtt_poll_us:UCX 4 KiB round trip, polling" \
        "ucx_rtt_sleep_us:UCX 4 KiB round trip, sleeping" \
        "floor_us:FLOOR = first touch + round trip (polling)" \
        "ufloor_us:uffd floor = uffd same core + round trip"; do
        printf '%-46s' "${row#*:}"
        for t in $TRANSPORTS; do printf '  %-26s' "$(fl_stat "${t%%:*}" "${row%%:*}")"; done
        echo
    done
    echo "remote faults: us per fault (median [min-max]); ratios computed round by round"
    printf '%-44s  %-4s  %-26s  %-18s  %-11s  %-4s  %s\n' figure tr us ratio target met \
        "vs uffd floor"
    for row in "read_sparse_us:floor:<=:2:read, read-ahead off, sparse random" \
        "read_sparse_ra_us:floor:-:0:read, default read-ahead, sparse random" \
        "read_dense_us:floor:<=:1.2:read, default read-ahead, dense, per page" \
        "write_fault_us:floor:<=:2.5:write, page another node holds" \
        "first_write_us:touch:<=:1.5:first write, page no node has (/ touch)" \
        "first_seq_write_us:touch:-:0:first writes in a row, per page (/ touch)" \
        "write_big_us:1g:~:0.1:write, 16 GiB / 1 GiB segment ($spages)" \
        "write_many_us:big:~:0.1:write, $mpages / $spages pages (16 GiB)" \
        "write_many_tail_us:head:~:0.1:write, last / first $spages of $mpages"; do
        k=${row%%:*} rest=${row#*:}
        den=${rest%%:*} rest=${rest#*:}
        op=${rest%%:*} rest=${rest#*:}
        tv=${rest%%:*} label=${rest#*:}
        for t in $TRANSPORTS; do
            n=${t%%:*}
            r=$(fl_median "$n" "$k.$den")
            case $op in
            '<=') target="<= ${tv}x" met=$(awk -v r="$r" -v t="$tv" 'BEGIN {
                    if (r == "n/a") print "n/a"; else print (r <= t ? "yes" : "no") }') ;;
            -) target=reported met=- ;;
            *) target="within 10%" met=$(awk -v r="$r" -v t="$tv" 'BEGIN {
                    if (r == "n/a") print "n/a"
                    else print (r - 1 <= t && 1 - r <= t ? "yes" : "no") }') ;;
            esac
            uf=''
            [ -s "$fl/$n.$k.ufloor" ] && uf=$(fl_stat "$n" "$k.ufloor")
            printf '%-44s  %-4s  %-26s  %-18s  %-11s  %-4s  %s\n' "$label" "$n" \
                "$(fl_stat "$n" "$k")" "$(fl_stat "$n" "$k.$den")" "$target" "$met" "$uf"
        done
    done
    echo "(the ratio of a first write is to a first touch; 'vs uffd floor': to a userfaultfd fault" \
        "on the same core + the round trip, the floor of a design whose faults go to a thread)"
}

# fl_run LOG COMMAND... : run; a run that read wrong data fails the benchmark. Notes where the
# launcher bound the two nodes (CPUs of node 0 / of node 1).
fl_run() {
    if run "$@" && grep -q 'wrong data' "$1"; then
        failed=1
        echo "run-bench.sh: $(grep -m 1 'wrong data' "$1")" >&2
    fi
    awk '$1 == "node0_cpus" { a = $2 } $1 == "node1_cpus" { b = $2 }
        END { if (a != "" && b != "") print "cpus " a " / " b }' "$1" >>"$fl/placement"
}

# fl_keep TRANSPORT KEY LOG : appends the number after KEY in LOG (or NA) to the round's list.
fl_keep() {
    v=$(awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }' "$3" \
        2>/dev/null)
    case $v in
    '' | *[!0-9.]* | *.*.*)
        v=NA
        failed=1
        echo "run-bench.sh: no $2 figure in $(basename "$3")" >&2
        ;;
    esac
    echo "$v" >>"$fl/$1.${4:-$2}"
}

# fl_sum TRANSPORT OUT A B / fl_div TRANSPORT OUT A B : per round, A + B or A / B.
fl_sum() {
    paste -d ' ' "$fl/$1.$3" "$fl/$1.$4" 2>/dev/null | awk '{
        if ($1 == "NA" || $2 == "NA" || $1 < 0 || $2 < 0) print "NA"; else print $1 + $2 }' \
        >"$fl/$1.$2"
}
fl_div() {
    paste -d ' ' "$fl/$1.$3" "$fl/$1.$4" 2>/dev/null | awk '{
        if ($1 == "NA" || $2 == "NA" || $2 <= 0 || $1 < 0) print "NA"
        else printf "%.3f\n", $1 / $2 }' >"$fl/$1.$2"
}

# fl_median TRANSPORT KEY / fl_stat TRANSPORT KEY : the median, or "median [min-max]", of the
# rounds that gave a figure.
fl_median() {
    # shellcheck disable=SC2046 # one argument per round
    median $(grep -v NA "$fl/$1.$2" 2>/dev/null)
}
fl_stat() {
    m=$(fl_median "$1" "$2")
    if [ "$m" = n/a ]; then
        echo n/a
        return
    fi
    grep -v NA "$fl/$1.$2" | sort -g | awk -v m="$m" '{ v[NR] = $1 } END {
        if (NR == 1) printf "%.2f\n", m; else printf "%.2f [%.2f-%.2f]\n", m, v[1], v[NR] }'
}

# flag_pingpong: a counter bounced between two nodes through two STRONG flag pages, the loop of the
# user guide (bare, with sched_yield(), with MomePoll()), on 2 nodes and on 4 (two pairs at once,
# so two nodes per core on 2 cores), over shared memory, against a raw UCX round trip measured in
# the same run. The progress threads' priority (nice -20, SCHED_FIFO or normal) is taken from node 0's
# log.
bench_flag_pingpong() {
    trips=500
    for p in flag_pingpong ucx_pingpong; do
        [ -x "$BENCH_BINDIR/$p" ] || die "no $BENCH_BINDIR/$p (build it: make -C bench $p)"
    done
    echo "flag_pingpong ($trips round trips x 3 turns per run, us per round trip; shared memory)," \
        "median of $REPEAT runs; reads: pages node 1 reads (remote faults) before each pong"
    printf '%-5s  %-5s  %-8s  %9s  %9s  %9s  %10s  %11s  %9s\n' nodes reads progress bare_us \
        yield_us poll_us bare/yield ucx_rtt_us bare/ucx
    ucx=''
    # The third: a stream of 32 faults, then the spin (design.md section 2: a progress thread
    # that stays awake after a stream keeps the spinner's messages waiting).
    for conf in 2:0 4:0 2:32; do
        nodes=${conf%:*} reads=${conf#*:}
        bare='' yield='' poll='' prio=''
        i=0
        while [ "$i" -lt "$REPEAT" ]; do
            i=$((i + 1))
            log=$logdir/flag_pingpong.$nodes.$reads.$i
            if run "$log" env UCX_TLS=posix,cma MOME_LOG_LEVEL=info timeout 600 "$MOME_RUN" \
                -t 580 -n "$nodes" "$BENCH_BINDIR/flag_pingpong" \
                "$([ "$reads" = 0 ] && echo "$trips" || echo 100)" 3 bare,yield,poll "$reads"; then
                collect bare bare_us "$log"
                collect yield yield_us "$log"
                collect poll poll_us "$log"
                grep -q 'node 0\].*progress thread: SCHED_FIFO' "$log" && prio=fifo
                grep -q 'node 0\].*progress thread: nice' "$log" && prio=high
                grep -q 'node 0\].*progress thread: normal' "$log" && prio=normal
            fi
            log=$logdir/ucx_pingpong.$nodes.$reads.$i
            if run "$log" env UCX_TLS=posix,cma timeout 90 "$BENCH_BINDIR/ucx_pingpong" 20000
            then
                collect ucx ucx_rtt_sleep_us "$log"
            fi
        done
        # shellcheck disable=SC2086
        {
            bare=$(median $bare)
            yield=$(median $yield)
            poll=$(median $poll)
            u=$(median $ucx)
        }
        printf '%-5s  %-5s  %-8s  %9s  %9s  %9s  %10s  %11s  %9s\n' "$nodes" "$reads" \
            "${prio:-?}" "$bare" "$yield" "$poll" "$(ratio "$bare" "$yield")" "$u" \
            "$(ratio "$bare" "$u")"
    done
    echo "(ucx_rtt_us: ucx_pingpong's round trip sleeping in epoll, 72 bytes out and 4 KiB back;" \
        "with reads, 100 round trips a turn)"
}

# figure NAME FILE : the number after NAME= in FILE (false_sharing and jacobi print key=value).
figure() {
    sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" "$2" | head -n 1
}

# false_sharing: nodes write interleaved bytes of the same 64 pages between barriers, under each
# model, over shared memory; figures per round, as ratios against STRONG in the same run. Two
# write orders: sweep (one byte of every page, then the next: fine-grained false sharing) and page
# (all of a node's bytes of a page, then the next page).
bench_false_sharing() {
    [ -x "$BENCH_BINDIR/false_sharing" ] || die "no $BENCH_BINDIR/false_sharing"
    echo "false_sharing (64 pages, byte i written by node i mod nodes, a barrier each round;" \
        "shared memory), median of $REPEAT runs (STRONG sweep on 4 nodes: 1 run of 1 round)"
    printf '%-6s  %-5s  %-8s  %10s  %14s  %15s  %16s\n' order nodes model round_ms \
        msgs_per_round bytes_per_round speedup_vs_strong
    for order in sweep page; do
        for nodes in 2 4; do
            strong=''
            for model in strong release weak; do
                rounds=20 reps=$REPEAT
                # STRONG moves a page for nearly every byte written: keep it bounded (a sweep
                # round on 4 nodes takes seconds; on 2 it varies from run to run: all runs).
                [ "$model" = strong ] && rounds=3
                [ "$model" = strong ] && [ "$order" = sweep ] && [ "$nodes" = 4 ] &&
                    { rounds=1; reps=1; }
                ms='' msgs='' bytes=''
                i=0
                while [ "$i" -lt "$reps" ]; do
                    i=$((i + 1))
                    log=$logdir/false_sharing.$order.$nodes.$model.$i
                    if run "$log" env UCX_TLS=posix,cma timeout 600 "$MOME_RUN" -t 580 \
                        -n "$nodes" "$BENCH_BINDIR/false_sharing" "$model" 64 "$rounds" \
                        "$order"; then
                        if [ "$(figure wrong "$log")" != 0 ]; then
                            failed=1
                            echo "run-bench.sh: false_sharing $model read wrong bytes" >&2
                        fi
                        ms="$ms $(figure round_ms "$log")"
                        msgs="$msgs $(figure msgs_per_round "$log")"
                        bytes="$bytes $(figure bytes_per_round "$log")"
                    fi
                done
                # shellcheck disable=SC2086
                {
                    ms=$(median $ms)
                    msgs=$(median $msgs)
                    bytes=$(median $bytes)
                }
                [ "$model" = strong ] && strong=$ms
                printf '%-6s  %-5s  %-8s  %10s  %14s  %15s  %16s\n' "$order" "$nodes" "$model" \
                    "$ms" "$msgs" "$bytes" "$(ratio "$strong" "$ms")"
            done
        done
    done
}

# jacobi: 2-D Jacobi 1024x1024 doubles, 100 iterations, rows split between 2 nodes, under each
# model, against the same kernel in plain serial C in the same run; checksums must all agree.
bench_jacobi() {
    [ -x "$BENCH_BINDIR/jacobi" ] || die "no $BENCH_BINDIR/jacobi"
    echo "jacobi (1024x1024 doubles, 100 iterations; shared memory), median and best of $REPEAT" \
        "interleaved runs"
    printf '%-7s  %-5s  %9s  %9s  %17s  %12s  %s\n' mode nodes time_s best_s speedup_vs_serial \
        best_speedup checksum
    # The serial kernel also runs bound to each of the first two CPUs, where the 2 nodes run: a
    # host's vCPUs can differ in speed by half (doc/design.md section 17), and rows split evenly
    # cannot end before the half on the slower one. And "halves": each 2-node run's half of the
    # rows computed alone on plain memory, both at once, one on each CPU (the time of the later):
    # a 2-node run without any communication, with what the two CPUs share (caches, memory
    # bandwidth, the host) and a half grid's better fit in the caches.
    bound_configs=''
    [ "$(nproc)" -lt 2 ] || bound_configs="serial0:1 serial1:1 halves:2"
    configs="serial:1 $bound_configs strong:1 strong:2 release:1 release:2 weak:1 weak:2"
    for c in $configs; do
        eval "ts_${c%:*}_${c#*:}='' sum_${c%:*}_${c#*:}=''"
    done
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        i=$((i + 1))
        for c in $configs; do
            mode=${c%:*} nodes=${c#*:}
            log=$logdir/jacobi.$mode.$nodes.$i
            if [ "$mode" = serial ]; then
                run "$log" timeout 120 "$BENCH_BINDIR/jacobi" serial 1024 100
            elif [ "$mode" = halves ]; then
                run "$log.1" timeout 120 taskset -c 1 "$BENCH_BINDIR/jacobi" half1 1024 100 &
                run "$log" timeout 120 taskset -c 0 "$BENCH_BINDIR/jacobi" half0 1024 100
                wait $! || failed=1
                t0=$(figure time "$log") t1=$(figure time "$log.1")
                [ -n "$t0" ] && [ -n "$t1" ] && ts_halves_2="$ts_halves_2 $(awk -v a="$t0" \
                    -v b="$t1" 'BEGIN { print (a > b ? a : b) }')"
                continue
            elif [ "${mode#serial}" != "$mode" ]; then
                run "$log" timeout 120 taskset -c "${mode#serial}" "$BENCH_BINDIR/jacobi" serial \
                    1024 100
            else
                run "$log" env UCX_TLS=posix,cma timeout 300 "$MOME_RUN" -t 280 \
                    -n "$nodes" "$BENCH_BINDIR/jacobi" "$mode" 1024 100
            fi && eval "ts_${mode}_$nodes=\"\$ts_${mode}_$nodes $(figure time "$log")\"
                sum_${mode}_$nodes=$(sed -n 's/.*checksum=\(0x[0-9a-f]*\).*/\1/p' "$log")"
        done
    done
    for c in $configs; do
        mode=${c%:*} nodes=${c#*:}
        eval "ts=\$ts_${mode}_$nodes sum=\$sum_${mode}_$nodes"
        # shellcheck disable=SC2086
        t=$(median $ts) b=$(best $ts)
        [ "$mode" = serial ] && { serial=$t serial_best=$b ref=$sum; }
        [ "$mode" = halves ] && sum="(half each)"
        if [ "$mode" != halves ] && [ "$sum" != "$ref" ]; then
            failed=1
            echo "run-bench.sh: jacobi $mode on $nodes nodes: checksum $sum, serial $ref" >&2
        fi
        printf '%-7s  %-5s  %9s  %9s  %17s  %12s  %s\n' "$mode" "$nodes" "$t" "$b" \
            "$(ratio "$serial" "$t")" "$(ratio "$serial_best" "$b")" "$sum"
        eval "med_${mode}_$nodes=$t"
    done
    # shellcheck disable=SC2154 # med_* are set by the eval above
    if [ -n "${med_serial0_1:-}" ]; then
        # An even split over CPUs 0 and 1 takes at least half the slower CPU's serial time.
        bound=$(awk -v a="$med_serial0_1" -v b="$med_serial1_1" \
            'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf "%.4f\n", (a > b ? a : b) / 2 }')
        echo "serial bound to CPU 0 / CPU 1: $med_serial0_1 / $med_serial1_1 s: 2 nodes, rows split" \
            "evenly, cannot take less than $bound s ($(ratio "$serial" "$bound")x serial);" \
            "release 2 nodes at $(ratio "$bound" "$med_release_2") of that bound," \
            "weak $(ratio "$bound" "$med_weak_2"), strong $(ratio "$bound" "$med_strong_2")"
        echo "the two halves at once on CPUs 0 and 1, without Mome: $med_halves_2 s" \
            "($(ratio "$serial" "$med_halves_2")x serial); release 2 nodes at" \
            "$(ratio "$med_halves_2" "$med_release_2") of that, weak" \
            "$(ratio "$med_halves_2" "$med_weak_2"), strong $(ratio "$med_halves_2" "$med_strong_2")"
    fi
    echo "not measured in this run: ArgoDSM, once when this project began, on a 2-core VM of this" \
        "kind: 0.024 s on 2 nodes (hand-tuned placement), 1.07 s default; its serial C 0.035 s"
}

# app_time LOG : sets $t to the wall time an application printed (time=0.123s, or "...: 0.123 s"
# for the Fortran Jacobi) and $sum to its checksum.
app_time() {
    sum=$(sed -n 's/.*checksum[= ]\([0-9A-Fa-fx]*\).*/\1/p' "$1" | head -n 1)
    t=$(sed -n 's/.* time=\([0-9.]*\)s.*/\1/p' "$1" | head -n 1)
    [ -n "$t" ] || t=$(sed -n 's/.*: *\([0-9.]*\) s$/\1/p' "$1" | head -n 1)
}

# apps: the examples' applications on 1 and 2 nodes against their serial versions (the same
# kernels, without Mome) in the same run; every run must give the serial checksum.
bench_apps() {
    for p in strassen strassen_serial sor sor_serial tsp tsp_serial fortran/jacobi \
        fortran/jacobi_serial; do
        [ -x "$EXAMPLES/$p" ] || die "no $EXAMPLES/$p (build it: make -C examples check)"
    done
    echo "apps (default sizes, and Strassen at n = 1024; shared memory), median and best of" \
        "$REPEAT interleaved runs, speedups against serial"
    printf '%-16s  %-8s  %-5s  %9s  %9s  %7s  %12s\n' app model nodes time_s best_s speedup \
        best_speedup
    for app in strassen strassen-1024 sor tsp jacobi.f; do
        case $app in
        jacobi.f) prog=fortran/jacobi serial=fortran/jacobi_serial models="release weak strong"
            args="1024 100" ;;
        # n = 512 computes for 40 ms on one node: fetching 600 pages is a third of a 2-node run.
        strassen-1024) prog=strassen serial=strassen_serial models=default args=1024 ;;
        *) prog=$app serial=${app}_serial models=default args="" ;;
        esac
        # The runs are interleaved (serial, then every model and node count, repeated), so that
        # the machine's drift over the run weighs on each the same.
        ts_serial='' ref=''
        for model in $models; do
            eval "ts_${model}_1='' ts_${model}_2=''"
        done
        i=0
        while [ "$i" -lt "$REPEAT" ]; do
            i=$((i + 1))
            log=$logdir/apps.$app.serial.$i
            # shellcheck disable=SC2086
            if run "$log" timeout 300 "$EXAMPLES/$serial" $args; then
                app_time "$log"
                ts_serial="$ts_serial $t"
                ref=$sum
            fi
            for model in $models; do
                for nodes in 1 2; do
                    log=$logdir/apps.$app.$model.$nodes.$i
                    margs=$args
                    [ "$model" = default ] || margs="$args $model"
                    # shellcheck disable=SC2086
                    if run "$log" env UCX_TLS=posix,cma timeout 300 "$MOME_RUN" -t 280 \
                        -n "$nodes" "$EXAMPLES/$prog" $margs; then
                        app_time "$log"
                        eval "ts_${model}_$nodes=\"\$ts_${model}_$nodes $t\""
                        if [ "$sum" != "$ref" ]; then
                            failed=1
                            echo "run-bench.sh: $app on $nodes nodes: checksum $sum, serial $ref" >&2
                        fi
                    fi
                done
            done
        done
        # shellcheck disable=SC2086
        base=$(median $ts_serial) base_best=$(best $ts_serial)
        printf '%-16s  %-8s  %-5s  %9s  %9s  %7s  %12s\n' "$app" serial 1 "$base" "$base_best" \
            1.00 1.00
        for model in $models; do
            for nodes in 1 2; do
                eval "ts=\$ts_${model}_$nodes"
                # shellcheck disable=SC2086
                t=$(median $ts) b=$(best $ts)
                printf '%-16s  %-8s  %-5s  %9s  %9s  %7s  %12s\n' "$app" "$model" "$nodes" \
                    "$t" "$b" "$(ratio "$base" "$t")" "$(ratio "$base_best" "$b")"
            done
        done
    done
    echo "targets: Jacobi on 2 nodes faster than serial (ArgoDSM, measured once, not in this" \
        "run: 1.45x, hand-tuned placement); Strassen on 2 nodes faster than on 1"
}

# budget: node 0 updates random pages of its working set (2048 pages) over shared memory, with no
# budget and with budgets of 1/2, 1/5 and 1/10 of the working set, per eviction policy, paging out
# to node 1 (no budget: a memory server, as in EDM) or to the swap file only (MOME_PAGEOUT=disk,
# CLOCK): node 0's accesses per second, the cost of a fault, page-outs per fault; median of the runs.
bench_budget() {
    [ -x "$BENCH_BINDIR/budget" ] || die "no $BENCH_BINDIR/budget"
    ws=2048 acc=20000
    echo "budget (node 0: $ws pages, $acc random updates; node 1 keeps its pages; shared memory)," \
        "median of $REPEAT runs"
    printf '%-10s  %-7s  %-6s  %12s  %10s  %9s  %9s  %13s\n' budget policy to accesses/s \
        faults/s us/fault outs/fault slowdown_vs_none
    none=''
    for cfg in none:clock:remote 2:fifo:remote 2:clock:remote 2:random:remote 2:clock:disk \
        5:fifo:remote 5:clock:remote 5:random:remote 5:clock:disk \
        10:fifo:remote 10:clock:remote 10:random:remote 10:clock:disk; do
        div=${cfg%%:*} rest=${cfg#*:}
        policy=${rest%%:*} to=${rest#*:}
        pages=0
        [ "$div" = none ] || pages=$((ws / div))
        aps='' fps='' usf='' opf=''
        i=0
        while [ "$i" -lt "$REPEAT" ]; do
            i=$((i + 1))
            log=$logdir/budget.$div.$policy.$to.$i
            if run "$log" env UCX_TLS=posix,cma MOME_EVICT="$policy" MOME_PAGEOUT="$to" \
                timeout 600 "$MOME_RUN" -t 580 -n 1 env MOME_LOCAL_PAGES=$pages \
                "$BENCH_BINDIR/budget" "$ws" "$acc" : -n 1 "$BENCH_BINDIR/budget" "$ws" 0; then
                f=$(awk '/^budget node 0 / { for (i = 1; i < NF; i++) v[$i] = $(i + 1)
                    printf "%.1f %.1f %.2f %.3f\n", v["accesses"] / v["s"], v["faults"] / v["s"],
                        v["faults"] ? v["s"] * 1e6 / v["faults"] : 0,
                        v["faults"] ? (v["outs_node"] + v["outs_disk"]) / v["faults"] : 0 }' \
                    "$log")
                set -- $f
                if [ $# -eq 4 ]; then
                    aps="$aps $1" fps="$fps $2" usf="$usf $3" opf="$opf $4"
                else
                    failed=1
                    echo "run-bench.sh: no figures from budget $cfg" >&2
                fi
            fi
        done
        # shellcheck disable=SC2086
        {
            aps=$(median $aps)
            fps=$(median $fps)
            usf=$(median $usf)
            opf=$(median $opf)
        }
        [ "$div" = none ] && none=$aps
        label="ws/$div"
        [ "$div" = none ] && label=none
        printf '%-10s  %-7s  %-6s  %12s  %10s  %9s  %9s  %13s\n' "$label" "$policy" "$to" \
            "$aps" "$fps" "$usf" "$opf" "$(ratio "$none" "$aps")"
    done
}

# emulation: the emulated interconnect (MOME_EMU_LATENCY_NS, MOME_EMU_BANDWIDTH) swept over
# latencies and bandwidths; per setting, the configured and the measured added cost per remote
# page against the same job with the emulation off, in interleaved rounds (emulation.c).
bench_emulation() {
    [ -x "$BENCH_BINDIR/emulation" ] || die "no $BENCH_BINDIR/emulation"
    [ -x "$MOME_RUN" ] || die "no mome-run at $MOME_RUN (set MOME_RUN)"
    log=$logdir/emulation
    run "$log" env MOME_RUN="$MOME_RUN" timeout 3000 "$BENCH_BINDIR/emulation" sweep -p 3000 \
        -r "$REPEAT"
    cat "$log"
}

# checkpoint: MomeCheckpoint of a 64 MiB MOME_PERSIST segment on 1 and 2 nodes (all pages, then a
# tenth of them changed) against a write + fsync of the same bytes to the same file system, in the
# same run (checkpoint.c); BENCH_REPO_DIR is where both write (default: a directory in /var/tmp).
bench_checkpoint() {
    [ -x "$BENCH_BINDIR/checkpoint" ] || die "no $BENCH_BINDIR/checkpoint"
    [ -x "$MOME_RUN" ] || die "no mome-run at $MOME_RUN (set MOME_RUN)"
    repo=$(mktemp -d "${BENCH_REPO_DIR:-/var/tmp}/mome-bench-repo.XXXXXX") || die "mktemp"
    echo "checkpoint (64 MiB persistent segment, shared memory; best of $REPEAT rounds):"
    for n in 1 2; do
        for pct in 100 10; do
            log=$logdir/checkpoint.$n.$pct
            if run "$log" env MOME_REPOSITORY="$repo" UCX_TLS=posix,cma \
                timeout 1200 "$MOME_RUN" -t 1100 -n $n "$BENCH_BINDIR/checkpoint" 64 $pct "$REPEAT"; then
                echo "  $n node(s), $pct% changed: $(sed -n 's/^checkpoint best: //p' "$log")"
            fi
        done
    done
    rm -rf "$repo"
}

# momed: the same checkpoint benchmark on a segment momed serves (MomeCheckpoint gives the job's
# pages to momed, which writes them) against write + fsync in the same run; then the attach
# latency of a second job (attach.c): a first job holds 1000 pages, a second one starts, attaches
# and reads them; its MomeInit (with momed's connection), its open (SRV_OPEN), its first page (a
# recall through momed) and the whole read, and the second job's wall time from its launch, as
# medians [min-max] of BENCH_REPEAT rounds. Figures only.
bench_momed() {
    [ -x "$BENCH_BINDIR/checkpoint" ] && [ -x "$BENCH_BINDIR/attach" ] ||
        die "no $BENCH_BINDIR/checkpoint or attach"
    [ -x "$MOMED" ] || die "no momed at $MOMED (set MOMED)"
    repo=$(mktemp -d "${BENCH_REPO_DIR:-/var/tmp}/mome-bench-momed.XXXXXX") || die "mktemp"
    "$MOMED" --repository "$repo" >"$logdir/momed.log" 2>&1 &
    mpid=$!
    i=0
    while [ ! -f "$repo/momed.addr" ] && kill -0 $mpid 2>/dev/null && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    if [ ! -f "$repo/momed.addr" ]; then
        echo "run-bench.sh: momed did not start:" >&2
        cat "$logdir/momed.log" >&2
        kill $mpid 2>/dev/null
        failed=1
        return
    fi
    echo "momed (64 MiB persistent segment served by momed, shared memory; best of $REPEAT rounds):"
    for n in 1 2; do
        for pct in 100 10; do
            log=$logdir/momed-ckpt.$n.$pct
            if run "$log" env MOME_REPOSITORY="$repo" UCX_TLS=posix,cma \
                timeout 1200 "$MOME_RUN" -t 1100 -n $n "$BENCH_BINDIR/checkpoint" 64 $pct "$REPEAT"; then
                echo "  checkpoint, $n node(s), $pct% changed: $(sed -n 's/^checkpoint best: //p' "$log")"
            fi
        done
    done
    : >"$logdir/attach.all"
    r=0
    while [ $r -lt "$REPEAT" ]; do
        r=$((r + 1))
        env MOME_REPOSITORY="$repo" UCX_TLS=posix,cma timeout 300 "$MOME_RUN" -t 280 -n 1 \
            "$BENCH_BINDIR/attach" hold 1000 >"$logdir/hold.log" 2>&1 &
        hpid=$!
        i=0
        while ! grep -q '^attach: holding' "$logdir/hold.log" && kill -0 $hpid 2>/dev/null &&
            [ $i -lt 3000 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        t0=$(date +%s.%N)
        run "$logdir/attach.log" env MOME_REPOSITORY="$repo" UCX_TLS=posix,cma \
            timeout 300 "$MOME_RUN" -t 280 -n 1 "$BENCH_BINDIR/attach" attach 1000
        t1=$(date +%s.%N)
        wait $hpid || failed=1
        awk -v a="$t0" -v b="$t1" '/^attach init_ms/ { print $0, "job_wall_ms", (b - a) * 1000 }' \
            "$logdir/attach.log" >>"$logdir/attach.all"
    done
    kill -TERM $mpid
    wait $mpid
    for f in init_ms open_ms first_page_ms read_all_ms read_all_MiBs job_wall_ms; do
        awk -v f="$f" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' \
            "$logdir/attach.all" | sort -g | awk -v f="$f" '{ v[NR] = $1 }
            END { if (NR) printf "  attach of a second job (1000 pages held by the first): %s %s [%s-%s]\n",
                  f, v[int((NR + 1) / 2)], v[1], v[NR] }'
    done
    rm -rf "$repo"
}

# multihost: the remote fault latency and the 2-node Jacobi over UCX TCP, with the two nodes on two
# "hosts" (network namespaces on a bridge, tests/multihost/netns.sh) against both nodes in one
# namespace, started the same way (mome-run -H through mpirun), interleaved, in the same run.
bench_multihost() {
    srcdir_mh=${MH_SRCDIR:-$(dirname "$0")/../tests/multihost}
    for p in fault_latency jacobi; do
        [ -x "$BENCH_BINDIR/$p" ] || die "no $BENCH_BINDIR/$p"
    done
    echo "multihost (2 nodes over UCX TCP: two namespace hosts on a bridge vs one namespace;" \
        "mome-run -H through mpirun), median of $REPEAT interleaved runs"
    MH_SELF=$srcdir_mh/netns.sh
    # shellcheck source=/dev/null
    . "$srcdir_mh/netns.sh"
    if ! why=$(mh_can_run); then
        echo "  skipped: $why"
        return
    fi
    if ! "$(dirname "$MOME_RUN")/mome-info" -v | grep -q "PMIx ("; then
        echo "  skipped: libmome was built without PMIx"
        return
    fi
    mh_up 2 || { mh_down; failed=1; echo "run-bench.sh: cannot set the namespaces up" >&2; return; }
    # shellcheck source=/dev/null
    . "$MH_STATE"
    h1=${MH_HOSTS%%,*} h2=${MH_HOSTS##*,}
    bindir=$(cd "$BENCH_BINDIR" && pwd) mome_run=$(cd "$(dirname "$MOME_RUN")" && pwd)/mome-run
    rsh=$(cd "$srcdir_mh" && pwd)/mh-rsh
    for w in one two; do
        eval "rd_$w='' wr_$w='' jt_$w=''"
    done
    i=0
    while [ "$i" -lt "$REPEAT" ]; do
        i=$((i + 1))
        for w in one two; do
            if [ $w = one ]; then hosts="$h1:2"; else hosts="$h1:1,$h2:1"; fi
            log=$logdir/multihost.fault.$w.$i
            if run "$log" mh_run env -u MOME_RUN OMPI_ALLOW_RUN_AS_ROOT=1 \
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
                OMPI_MCA_plm_rsh_agent="$rsh" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
                OMPI_MCA_btl=self OMPI_MCA_pml=^ucx UCX_TLS=tcp \
                timeout 200 "$mome_run" -t 180 -H "$hosts" "$bindir/fault_latency" -p 20000 \
                sparse write; then
                collect "rd_$w" read_sparse_us "$log"
                collect "wr_$w" write_fault_us "$log"
                if grep -q 'wrong data' "$log"; then
                    failed=1
                    echo "run-bench.sh: fault_latency on $w namespace(s) read wrong data" >&2
                fi
            fi
            log=$logdir/multihost.jacobi.$w.$i
            if run "$log" mh_run env -u MOME_RUN OMPI_ALLOW_RUN_AS_ROOT=1 \
                OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
                OMPI_MCA_plm_rsh_agent="$rsh" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
                OMPI_MCA_btl=self OMPI_MCA_pml=^ucx UCX_TLS=tcp \
                timeout 300 "$mome_run" -t 280 -H "$hosts" "$bindir/jacobi" release 1024 100; then
                eval "jt_$w=\"\$jt_$w $(figure time "$log")\""
                sum=$(sed -n 's/.*checksum=\(0x[0-9a-f]*\).*/\1/p' "$log")
                [ -n "${mh_ref:-}" ] || mh_ref=$sum
                if [ "$sum" != "$mh_ref" ]; then
                    failed=1
                    echo "run-bench.sh: jacobi on $w namespace(s): checksum $sum, not $mh_ref" >&2
                fi
            fi
        done
    done
    mh_down
    printf '%-26s  %14s  %14s  %9s\n' figure one_namespace two_namespaces two/one
    for f in rd:read_sparse_us wr:write_fault_us jt:jacobi_release_2n_s; do
        eval "a=\$${f%%:*}_one b=\$${f%%:*}_two"
        # shellcheck disable=SC2086
        a=$(median $a) b=$(median $b)
        printf '%-26s  %14s  %14s  %9s\n' "${f#*:}" "$a" "$b" "$(ratio "$b" "$a")"
    done
    echo "(one namespace: TCP over loopback; two: over veth pairs and a bridge, another host to UCX)"
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
