# momed_lib.sh - sourced by momed.test and momed_fail.test: start a momed on a repository and wait
# (bounded) for its address file; wait for a line in a job's output.

: "${MOMED:=../../runtime/momed}"
: "${REPO_TOOL:=../../runtime/mome-repo}"

# start_momed REPO LOG [ARGS...]: momed in the background; its pid in MOMED_PID.
start_momed() {
    _repo=$1
    _log=$2
    shift 2
    rm -f "$_repo/momed.addr.tmp"
    _old=$(cat "$_repo/momed.addr" 2>/dev/null)
    "$MOMED" --repository "$_repo" --verbose "$@" >>"$_log" 2>&1 &
    MOMED_PID=$!
    _i=0
    while :; do
        if [ -f "$_repo/momed.addr" ] && [ "$(cut -d' ' -f3 "$_repo/momed.addr")" = "$MOMED_PID" ]; then
            return 0
        fi
        if ! kill -0 "$MOMED_PID" 2>/dev/null; then
            echo "FAILED: momed did not start:"
            cat "$_log"
            exit 1
        fi
        _i=$((_i + 1))
        if [ "$_i" -gt 600 ]; then
            echo "FAILED: momed wrote no address file in 60 s"
            exit 1
        fi
        sleep 0.1
    done
}

# stop_momed: SIGTERM, then wait for it (it checkpoints and exits 0).
stop_momed() {
    kill -TERM "$MOMED_PID"
    if ! wait "$MOMED_PID"; then
        echo "FAILED: momed did not stop cleanly:"
        cat "$1"
        exit 1
    fi
}

# wait_line FILE REGEX PID: until a line of FILE matches (or the process PID is gone).
wait_line() {
    _i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        if ! kill -0 "$3" 2>/dev/null; then
            echo "FAILED: the job ended before printing '$2':"
            cat "$1"
            exit 1
        fi
        _i=$((_i + 1))
        if [ "$_i" -gt $((JOB_TIMEOUT * 10)) ]; then
            echo "FAILED: no '$2' in $JOB_TIMEOUT s"
            exit 1
        fi
        sleep 0.1
    done
}

# bg_job LOG NODES PROGRAM ARGS...: a job in the background (over shared memory); pid in BG_PID.
bg_job() {
    _log=$1
    _n=$2
    shift 2
    # Emptied here, not by the background job's own redirection, which may run after the caller
    # has already looked in the log (and found a line an earlier job left in it).
    : >"$_log"
    UCX_TLS=posix,cma timeout -k 5 $((JOB_TIMEOUT + 15)) "$LAUNCHER" -t "$JOB_TIMEOUT" -n "$_n" \
        "$@" >>"$_log" 2>&1 &
    BG_PID=$!
}

# must_pass PID LOG WHAT: the background job ended with 0.
must_pass() {
    if ! wait "$1"; then
        echo "FAILED: $3:"
        cat "$2"
        exit 1
    fi
    cat "$2"
}
