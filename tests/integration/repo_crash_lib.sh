# repo_crash_lib.sh - sourced by repo_crash.test and momed_crash.test: the seeded generator, the
# kill of a job from outside at a random instant of its checkpoints, and the check after each
# kill point (the content is exactly the previous or the new checkpoint, mome-repo verify passes).
# They use ./persist loop, which prints "found K" (the generation it found, every page checked),
# "committed K" after each checkpoint, or "WRONG ..." (a page of neither).
#
# Set before sourcing: REPO_TOOL, seed (the generator's state), dir (scratch directory).

# The generations a job may find next: [lo, hi].
lo=0
hi=0
outside=0 # kill points from outside (the others are at a step of a checkpoint)

# rnd N sets r to a number in [0, N) (not through $(...), whose subshell would not advance the
# seed; the shell's $RANDOM is not POSIX).
rnd() {
    seed=$(((seed * 1103515245 + 12345) % 2147483648))
    r=$(((seed / 65536) % $1))
}

# outside_kill LOG NODES MODEL LIMIT WHO: ./persist loop MODEL on NODES nodes in the background,
# killed (-9) at a random instant (0 to 400 ms) after it found its generation: WHO is "node" (one
# of its nodes), "job" (mome-run, and with it every node) or a pid (another process: momed). Sets
# `what` to what was killed. The job has more rounds than it can make before the kill (LOOP_ROUNDS,
# each a generation written and checkpointed), so every kill lands in a running job: one that ends
# before it fails the test (with 40 rounds, two thirds of the outside kills once came after the
# job's end and were no kill point at all).
LOOP_ROUNDS=1000000
outside_kill() {
    _log=$1
    _nodes=$2
    _model=$3
    _limit=$4
    _who=$5
    # mome-run itself in the background (its -t bounds the job): $! is its pid, and its children
    # are the nodes. The log is emptied here, before the loop below looks in it (the background
    # job's own redirection may come later, leaving an earlier run's lines to be found).
    : >"$_log"
    UCX_TLS=posix,cma "$LAUNCHER" -t "$_limit" -n "$_nodes" ./persist loop "$_model" $LOOP_ROUNDS \
        >>"$_log" 2>&1 &
    _run=$!
    # Let the job start its checkpoints, then pick the instant (in ms).
    _n=0
    while ! grep -q '^found' "$_log" 2>/dev/null && kill -0 $_run 2>/dev/null &&
        [ $_n -lt $((_limit * 100)) ]; do
        sleep 0.01
        _n=$((_n + 1))
    done
    rnd 400
    _ms=$r
    sleep "$(awk -v m="$_ms" 'BEGIN { printf "%.3f\n", m / 1000 }')"
    case $_who in
    node)
        rnd "$_nodes"
        _victim=$(pgrep -P $_run | head -n $((r + 1)) | tail -n 1)
        what="kill -9 of node pid $_victim after $_ms ms"
        ;;
    job)
        _victim=$_run
        what="kill -9 of mome-run after $_ms ms"
        ;;
    *)
        _victim=$_who
        what="kill -9 of pid $_victim after $_ms ms"
        ;;
    esac
    _kids=$(pgrep -P $_run) # the nodes, to wait for below
    if [ -z "$_victim" ] || ! kill -9 "$_victim" 2>/dev/null; then
        wait $_run 2>/dev/null
        cat "$_log"
        echo "FAILED: the job was gone before the kill ($what): no kill point"
        exit 1
    fi
    if wait $_run 2>/dev/null; then
        cat "$_log"
        echo "FAILED: the job ended normally after the kill ($what)"
        exit 1
    fi
    # mome-run may be gone before its nodes (killed itself, it does not wait for them): each
    # holds the segment until it exits, and the next job would find it in use (seen once: "is in
    # use by another job", node 0 of the job killed just before). Nodes that lost their launcher
    # stop by themselves; wait for them, 10 s at most.
    for _k in $_kids; do
        _n=0
        while running "$_k" && [ $_n -lt 1000 ]; do
            sleep 0.01
            _n=$((_n + 1))
        done
        if running "$_k"; then
            cat "$_log"
            echo "FAILED: node pid $_k of the job still runs 10 s after $what"
            exit 1
        fi
    done
    outside=$((outside + 1))
}

# running PID: the process exists and has not exited (a zombie, exited but not reaped, has).
running() {
    _st=$(ps -o stat= -p "$1" 2>/dev/null)
    [ -n "$_st" ] && [ "${_st#Z}" = "$_st" ]
}

# check_point I LOG WHAT MODEL: after kill point I, the job's log shows no wrong page and a
# generation in [lo, hi]; the window moves to what it committed; mome-repo verify passes.
check_point() {
    _i=$1
    _log=$2
    _what=$3
    _model=$4
    echo "point $_i: $_what, $_model" >>"$_log"
    if grep -q '^WRONG' "$_log"; then
        cat "$_log"
        echo "FAILED at point $_i ($_what, $_model): wrong content (expected a generation in [$lo, $hi])"
        exit 1
    fi
    _found=$(sed -n 's/^found //p' "$_log" | tail -n 1)
    _committed=$(sed -n 's/^committed //p' "$_log" | tail -n 1)
    if [ -n "$_found" ] && { [ "$_found" -lt "$lo" ] || [ "$_found" -gt "$hi" ]; }; then
        cat "$_log"
        echo "FAILED at point $_i ($_what, $_model): found generation $_found, expected $lo or $hi"
        exit 1
    fi
    if [ -n "$_committed" ]; then
        lo=$_committed hi=$((_committed + 1))
    elif [ -n "$_found" ]; then
        lo=$_found hi=$((_found + 1))
    fi
    if ! "$REPO_TOOL" verify >"$dir/verify" 2>&1; then
        cat "$_log" "$dir/verify"
        echo "FAILED at point $_i ($_what, $_model): mome-repo verify"
        exit 1
    fi
    [ $((_i % 20)) -eq 0 ] && echo "$_i points; generation now in [$lo, $hi] ($_what, $_model)"
    return 0
}

# last_job NODES: a last job, left alone, finds one of the two and ends cleanly; verify passes.
last_job() {
    job "$1" shm ./persist loop strong 1 >"$dir/last" || { cat "$dir/last"; exit 1; }
    _found=$(sed -n 's/^found //p' "$dir/last")
    if [ -z "$_found" ] || [ "$_found" -lt "$lo" ] || [ "$_found" -gt "$hi" ]; then
        cat "$dir/last"
        echo "FAILED: the last job found generation '$_found', expected $lo or $hi"
        exit 1
    fi
    "$REPO_TOOL" verify || exit 1
    "$REPO_TOOL" ls
}
