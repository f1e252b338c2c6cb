# harness.sh - sourced by the integration tests: run real multi-node jobs through mome-run, on
# loopback, over TCP or shared memory, always under a time limit.
#
#   job NODES TRANSPORT PROGRAM [ARGS...]   runs one job; fails the test on a non-zero exit
#
# TRANSPORT is tcp or shm (UCX's shared-memory transports). JOB_TIMEOUT (seconds) bounds a job.

: "${LAUNCHER:=../../runtime/mome-run}"
: "${JOB_TIMEOUT:=150}"
: "${srcdir:=.}"

tls_of() {
    case "$1" in
    tcp) echo "tcp" ;;
    shm) echo "posix,sysv,cma" ;;
    *) echo "unknown transport $1" >&2; exit 99 ;;
    esac
}

job() {
    _n=$1
    _t=$2
    shift 2
    echo "== $_n node(s) over $_t: $*"
    UCX_TLS=$(tls_of "$_t") timeout -k 5 $((JOB_TIMEOUT + 15)) \
        "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" "$@"
    _rc=$?
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
