# fharness.sh - sourced by the Fortran tests: the integration harness (job, each: real jobs through
# mome-run under a time limit), plus jobs whose output is kept and checked, and jobs that must fail.
#
#   run NODES TRANSPORT PROGRAM [ARGS...]   runs one job, output in $OUT; sets $rc, never fails
#   expect_failure                          the last run exited non-zero, and not by the time limit
#   expect_output TEXT                      the last run's output contains TEXT

# ./calibrate is built in tests/integration, not here: without it every run was rated 20x slow
# (the fallback), and each Fortran job got 3000 s.
: "${CALIBRATE:=../integration/calibrate}"
. "$srcdir/../integration/harness.sh"

: "${OUT:=${0##*/}.out}"

run() {
    _n=$1
    _t=$2
    shift 2
    echo "== $_n node(s) over $_t: $*"
    UCX_TLS=$(tls_of "$_t") timeout -k 5 $((JOB_TIMEOUT + 15)) \
        "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" "$@" >"$OUT" 2>&1
    rc=$?
    cat "$OUT"
    echo "== exit status $rc"
}

expect_failure() {
    if [ "$rc" -eq 0 ]; then
        echo "FAILED: the job succeeded; it should have stopped with an error"
        exit 1
    fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "FAILED: the job was killed by the time limit instead of stopping with an error"
        exit 1
    fi
}

expect_output() {
    if ! grep -F -q -- "$1" "$OUT"; then
        echo "FAILED: the output lacks '$1'"
        exit 1
    fi
}
