#!/bin/sh
# check.sh MODEL DIR - the model check: spin's exhaustive search of MODEL (mome.pml) must find no
# violated assertion and no invalid end state (a deadlock or a message never handled); then every
# mutant in $MUTANTS (spin -D names, or "all") must be reported as violating. Works in DIR.
#
# pan is compiled with -O1: pan.c is half a megabyte of generated code whose d_steps make gcc -O2
# take several minutes, and -O1 runs about as fast. -DCOLLAPSE compresses each state (a node's
# local state is stored once and indexed): the exhaustive search then fits in about 1 GB, where
# plain storage needs several; no bitstate or hash-compact approximation is used, so the search is
# exhaustive. -DSAFETY: only safety properties (assertions, end states) are checked.
set -e
model=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
dir=$2
SPIN=${SPIN:-spin}
PAN_CC=${PAN_CC:-cc}
MEMLIM=${MEMLIM:-8000}
# A mutant is NAME or NAME:k (search scenario k only: -DSCEN=k, where the mutant shows). Some
# imply a switch of their scenario (mome.pml: MUT_DROP_DIRTY MT_THREADS=3 MT_LOCKS=3,
# MUT_SERVED_SPEC_KEPT WRITE_BACK, MUT_DUE_MT_ONLY RWA3).
all_mutants="MUT_SKIP_INV:0 MUT_DROP_DIFF:1 MUT_FLUSH_DIFF_UNACKED:2 MUT_FLUSH_NO_WAIT:1
MUT_NO_STALE:3 MUT_EARLY_NOTICE_ACK:3 MUT_MOVE_DROPS_QUEUE MUT_BAR_EARLY MUT_NO_ACQUIRE:1
MUT_BAR_NO_NOTES:1 MUT_UNSHARE_NOT_BUSY:4 MUT_DROP_UNACKED:4 MUT_KEPT_SNAPSHOT_SKIPPED:4
MUT_LOCK_NO_DATE:6 MUT_UNLOCK_EARLY:6 MUT_NO_HOLD:7 MUT_DROP_DIRTY:7 MUT_SERVED_SPEC_KEPT:5
MUT_DECLINE_DROPS:0 MUT_AHEAD_UNTRACKED:1 MUT_DUE_MT_ONLY:3 MUT_FLUSH_SILENT:8"
[ "$MUTANTS" = all ] && MUTANTS=$all_mutants

if ! command -v "$SPIN" >/dev/null; then
    echo "model-check: $SPIN not found (Debian: apt-get install spin)"
    exit 1
fi
mkdir -p "$dir"
cd "$dir"

# run NAME [spin -D options]: build and search one variant in NAME/; its report is NAME/pan.out.
run() {
    name=$1
    shift
    rm -rf "$name"
    mkdir "$name"
    (
        cd "$name"
        cp "$model" mome.pml
        "$SPIN" -a "$@" mome.pml >spin.out 2>&1 || { cat spin.out; exit 1; }
        $PAN_CC -O1 -w -DSAFETY -DCOLLAPSE -DMEMLIM="$MEMLIM" -DVECTORSZ=2048 -o pan pan.c
        start=$(date +%s)
        ./pan -m100000 -w26 >pan.out 2>&1 || true
        echo "wall: $(($(date +%s) - start)) s" >>pan.out
    )
}

# The figures of a search, on one line.
summary() {
    out=$1/pan.out
    errs=$(sed -n 's/.*errors: *\([0-9]*\).*/\1/p' "$out" | head -1)
    states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$out" | head -1)
    depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' "$out" | head -1)
    mem=$(sed -n 's/^ *\([0-9.]*\)[ \t]*total actual memory usage.*/\1/p' "$out" | head -1)
    secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' "$out" | head -1)
    echo "$1: errors ${errs:-?}, ${states:-?} states, depth ${depth:-?}, ${mem:-?} MB, ${secs:-?} s"
}

# The model itself: no error, and the search complete.
check_model() {
    echo "model-check: exhaustive search of $(basename "$model") (several minutes)"
    run model
    summary model
    if grep -q "errors: 0" model/pan.out &&
        ! grep -qi "search not completed\|max search depth too small" model/pan.out; then
        echo "model-check: PASS: no assertion violated, no invalid end state"
    else
        grep -E "assertion violated|invalid end state|max search depth" model/pan.out | head -5
        echo "model-check: FAIL: see $dir/model/pan.out; replay the trail with" \
            "(cd $dir/model && $SPIN -t -p mome.pml)"
        fail=1
    fi
}

fail=0
if [ "${MAIN:-1}" = 0 ]; then
    echo "model-check: MAIN=0: the mutants only"
else
    check_model
fi

for spec in $MUTANTS; do
    m=${spec%%:*}
    case $spec in *:*) run "$m" -D"$m" -DSCEN="${spec#*:}" ;; *) run "$m" -D"$m" ;; esac
    if grep -q "errors: 0" "$m/pan.out"; then
        summary "$m"
        echo "model-check: FAIL: mutant $m was not caught: the model misses what it breaks"
        fail=1
    else
        why=$(grep -E -o "assertion violated +[^ ]*|invalid end state" "$m/pan.out" | head -1)
        echo "model-check: mutant $m caught: ${why:-violation}"
    fi
done
exit $fail
