# harness.sh - sourced by the integration tests: run real multi-node jobs through mome-run, on
# loopback, over TCP or shared memory, always under a time limit.
#
#   job NODES TRANSPORT PROGRAM [ARGS...]   runs one job; fails the test on a non-zero exit
#
# TRANSPORT is tcp or shm (UCX's shared-memory transports). JOB_TIMEOUT (seconds) bounds a job:
# by default 150 s times how much slower than a reference machine this one is now (a page fault
# measured by ./calibrate, the slowest of three samples, once per test run; 25 us there), so that
# a slow or loaded machine passes the same checks with more time. The factor is kept in
# calibration.txt.

: "${LAUNCHER:=../../runtime/mome-run}"
: "${srcdir:=.}"
# The calibration program (tests/fortran sources this file from its own directory).
: "${CALIBRATE:=./calibrate}"

REFERENCE_FAULT_US=25

# The slowness factor of this machine (1 to 20), measured at most once per test run (an hour):
# the slowest of three samples, since one sample swings by 10x on a shared machine (8 us, then
# 247 us minutes later, on a 2-core VM) and a quiet moment must not shorten every limit.
calibrate() {
    _cal=calibration.txt
    (
        flock 9
        if [ -z "$(find "$_cal" -mmin -60 2>/dev/null)" ]; then
            _us=$(for _i in 1 2 3; do
                UCX_TLS=posix,cma timeout -k 5 120 "$LAUNCHER" -t 100 -n 2 "$CALIBRATE" \
                    2>/dev/null | sed -n 's/^fault_us //p'
            done | sort -n | tail -1)
            awk -v us="${_us:-1000}" -v ref=$REFERENCE_FAULT_US 'BEGIN {
                f = us / ref; if (f < 1) f = 1; if (f > 20) f = 20; printf "%.1f %s\n", f, us }' \
                >"$_cal"
        fi
    ) 9>calibration.lock
    cut -d' ' -f1 "$_cal"
}

if [ -z "${JOB_TIMEOUT:-}" ]; then
    SLOWNESS=$(calibrate)
    JOB_TIMEOUT=$(awk -v f="$SLOWNESS" 'BEGIN { printf "%d\n", 150 * f }')
    echo "this machine is ${SLOWNESS}x slower than the reference: jobs get $JOB_TIMEOUT s"
fi

tls_of() {
    case "$1" in
    tcp) echo "tcp" ;;
    shm) echo "posix,cma" ;;
    *) echo "unknown transport $1" >&2; exit 99 ;;
    esac
}

job() {
    _n=$1
    _t=$2
    shift 2
    echo "== $_n node(s) over $_t: $*"
    _t0=$(date +%s)
    UCX_TLS=$(tls_of "$_t") timeout -k 5 $((JOB_TIMEOUT + 15)) \
        "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" "$@"
    _rc=$?
    echo "   (took $(($(date +%s) - _t0)) s of the $JOB_TIMEOUT s allowed)"
    if [ "$_rc" -ne 0 ]; then
        echo "FAILED (exit $_rc): $_n node(s) over $_t: $*"
        exit 1
    fi
}

# Run PROGRAM on every node count in NODES, over both transports.
each() {
    _nodes=$1
    shift
    for _t in tcp shm; do
        for _n in $_nodes; do
            job "$_n" "$_t" "$@"
        done
    done
}

# job_quiet NODES TRANSPORT PROGRAM [ARGS...]: as job, but the output is shown only on failure
# (for tests that run many jobs).
job_quiet() {
    _n=$1
    _t=$2
    shift 2
    _log=$(mktemp)
    UCX_TLS=$(tls_of "$_t") timeout -k 5 $((JOB_TIMEOUT + 15)) \
        "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" "$@" >"$_log" 2>&1
    _rc=$?
    if [ "$_rc" -ne 0 ]; then
        cat "$_log"
        rm -f "$_log"
        echo "FAILED (exit $_rc): $_n node(s) over $_t: $*"
        exit 1
    fi
    rm -f "$_log"
}

# job_fails NODES TRANSPORT PATTERN PROGRAM [ARGS...]: the job must stop with an error whose
# output matches PATTERN (grep -E), within the time limit (exit 124 is a hang: timeout's, or
# mome-run's -t), without any check failing first (a failed check would mean wrong data was seen
# before the job stopped).
job_fails() {
    _n=$1
    _t=$2
    _pat=$3
    shift 3
    echo "== $_n node(s) over $_t, must stop saying /$_pat/: $*"
    _log=$(mktemp)
    UCX_TLS=$(tls_of "$_t") timeout -k 5 $((JOB_TIMEOUT + 15)) \
        "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" "$@" >"$_log" 2>&1
    _rc=$?
    cat "$_log"
    _why=
    if [ "$_rc" -eq 0 ]; then
        _why="the job succeeded"
    elif [ "$_rc" -eq 124 ]; then
        _why="the job hung (exit $_rc)"
    elif ! grep -Eq "$_pat" "$_log"; then
        _why="no message matching /$_pat/"
    elif grep -q "check failed" "$_log"; then
        _why="a check failed before the job stopped"
    fi
    rm -f "$_log"
    if [ -n "$_why" ]; then
        echo "FAILED: $_why: $_n node(s) over $_t: $*"
        exit 1
    fi
}
