/*
 * watch.c - the line a node prints when it is stopped by a signal or when its launcher finds the
 * job stuck: which Mome call each waiting thread is in and what it waits for (barrier epoch and
 * the nodes that have not arrived, lock and its holder, the page and segment of a fault, the
 * date; in MomeInit, the step of joining the job). A stopped node then flushes the program's
 * buffered output and exits with 128 + signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "boot/boot.h"
#include "coherence/coherence.h"
#include "coherence/seg.h"
#include "core/cmd.h"
#include "core/job.h"
#include "core/segment.h"
#include "core/sync.h"
#include "core/watch.h"

static const int watched[] = {SIGTERM, SIGINT};
#define NWATCHED (sizeof(watched) / sizeof(watched[0]))
static struct sigaction saved[NWATCHED];
static int taken[NWATCHED];
static int pending;    /* a signal was handed over and not served yet */
static pid_t node_pid; /* a child forked without exec keeps the handler: it is no node */
/* Who serves a signal: the joining thread while MomeInit joins the job, then the progress
 * thread; none once Mome let go (read by the handler). */
enum { SERVE_NONE, SERVE_JOIN, SERVE_PROGRESS };
static int serve;

/* The public call a command serves when the API did not say (commands of the library itself). */
static const char *call_of(const mome_cmd_t *c)
{
    if (c->call)
        return c->call;
    if (c->fn == mome_sync_cmd_hello)
        return "MomeInit";
    if (c->fn == mome_sync_cmd_quiesce)
        return "MomeFinalize";
    if (c->fn == mome_sync_cmd_barrier)
        return "MomeBarrier";
    return "a Mome call";
}

/* "waiting in MomeBarrier for 5.0 s (epoch 1; nodes 1 not arrived)" for each waiting thread and
 * fault, in buf. Progress thread. */
static size_t describe(char *buf, size_t len)
{
    uint64_t now = mome_now_ns();
    char detail[512];
    size_t n = 0;
    int k = 0;

    for (const mome_cmd_t *c = mome_cmd_running(); c && n < len; c = c->run_next, k++) {
        size_t d = mome_sync_describe(c, detail, sizeof(detail));
        n += (size_t)snprintf(buf + n, len - n, "%swaiting in %s for %.1f s%s%s%s",
                              k ? "; another thread " : "", call_of(c),
                              (double)(now - c->t0) / 1e9, d ? " (" : "", d ? detail : "",
                              d ? ")" : "");
    }
    if (n < len && mome_coh_describe_faults(detail, sizeof(detail)) > 0)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? "; " : "waiting for ", detail);
    if (n == 0)
        n = (size_t)snprintf(buf, len, "not in a Mome call (running the program's own code, or "
                                       "spinning on Mome memory)");
    return n < len ? n : len - 1;
}

/* One line: "mome: WHO (pid P) WHY: " and what `what` describes. */
static void say_as(const char *who, const char *why, size_t (*what)(char *, size_t))
{
    char line[4096];
    int n = snprintf(line, sizeof(line), "mome: %s (pid %d) %s: ", who, (int)getpid(), why);

    if (n < 0 || n >= (int)sizeof(line) - 2)
        return;
    n += (int)what(line + n, sizeof(line) - 1 - (size_t)n);
    line[n++] = '\n';
    if (write(2, line, (size_t)n) < 0)
        return;
}

/* The node's rank, or "a node" before it is known. */
static void say_rank(int rank, const char *why, size_t (*what)(char *, size_t))
{
    char who[32];

    if (rank >= 0)
        snprintf(who, sizeof(who), "node %d", rank);
    else
        snprintf(who, sizeof(who), "a node");
    say_as(who, why, what);
}

static void say(const char *why)
{
    say_rank(mome_g.rank, why, describe);
}

/* The launcher saw no progress anywhere for `seconds`: say (with sayer) what this node waits for,
 * go on. */
static void report_as(unsigned seconds, void (*sayer)(const char *))
{
    char why[96];

    snprintf(why, sizeof(why), "has made no progress for %u s", seconds);
    sayer(why);
}

static void on_report(unsigned seconds)
{
    report_as(seconds, say);
}

/* Progress thread: the signal handler handed sig over. */
static void on_signal(int sig)
{
    char why[96];

    __atomic_store_n(&pending, 0, __ATOMIC_RELAXED);
    snprintf(why, sizeof(why), "stopped by %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    say(why);
    if (mome_g.cfg.stats)
        mome_stats_print(mome_g.rank);
    /* exit flushes the program's stdio and Fortran units (mome_exit bounds it with an alarm). */
    mome_exit(128 + sig);
}

static uint64_t pending_ns; /* when the pending signal came */

static int join_on; /* the joining thread runs (MomeInit's thread only) */
static pthread_t join_tid;
static sem_t join_sem;   /* posted by the handler, the hold's end and the joining's end */
static int join_sig;     /* the signal handed over while joining, 0: none */
static int join_served;  /* join_sig was served (once: by the joining thread or the progress one) */
static int join_stop;    /* the joining is over: the thread returns */
/*
 * What MomeInit's thread is doing, which decides how the joining thread may end the node:
 * JOIN_FREE, by exit (mome_exit: the program's output flushed); JOIN_HOLD (UCX starts), only once
 * it is up (no file of UCX's left in /dev/shm); JOIN_UCX (it connects to the other nodes through
 * UCX), by the signal's default action: exit's handlers would tear UCX down under it (an
 * assertion in UCX, a corrupted heap: helper-163). Changed and acted on under join_mx: the
 * joining thread ends the node holding it, so MomeInit's thread cannot enter UCX meanwhile.
 */
enum { JOIN_FREE, JOIN_HOLD, JOIN_UCX };
static int join_phase;
static pthread_mutex_t join_mx = PTHREAD_MUTEX_INITIALIZER;
static uint64_t join_t0; /* MomeInit's start */
static const char *join_stage;

/* The one thread that serves the signal handed over (the first to ask). */
static int join_claim(void)
{
    return !__atomic_exchange_n(&join_served, 1, __ATOMIC_SEQ_CST);
}

static void hand_over(int sig)
{
    int err = errno;
    /* Stored before serve is read, as the joining's end stores serve before it reads join_sig:
     * one of them at least sees the other's, and join_claim lets one of them serve it. */
    __atomic_store_n(&join_sig, sig, __ATOMIC_SEQ_CST);
    switch (__atomic_load_n(&serve, __ATOMIC_SEQ_CST)) {
    case SERVE_PROGRESS:
        if (join_claim())
            mome_cmd_signal(sig);
        break;
    case SERVE_JOIN:
        sem_post(&join_sem);
        break;
    default: /* Mome let go meanwhile: the default action */
        signal(sig, SIG_DFL);
        raise(sig);
    }
    errno = err;
}

/* Any application thread: hand the signal over (to the progress thread, or the thread watching
 * MomeInit's joining). Asked again before it could
 * serve the first, die at once; but not within 1 s of it: a Ctrl-C reaches every node, and
 * mome-run's SIGTERM follows at once (the node died unheard, its output lost: helper-99).
 * mome-run's SIGKILL, 3 s later, is the backstop. The first is the one whose exchange of pending
 * found it clear: a second signal that came between the first's test and its exchange (another
 * thread's, or one nested in this handler) made the first find it set, and the node died at
 * once, unheard (2026-12-07, stuck.test in a CI rehearsal). Async-signal-safe. */
static void handler(int sig)
{
    uint64_t now = mome_now_ns(); /* (clock_gettime: async-signal-safe) */
    if (getpid() == node_pid) {
        if (!__atomic_exchange_n(&pending, 1, __ATOMIC_ACQ_REL)) {
            __atomic_store_n(&pending_ns, now, __ATOMIC_RELEASE);
            hand_over(sig);
            return;
        }
        /* Not the first. 0: the first has not stored its time yet, it came just now. Signed:
         * another thread's first may have stored a time after this one's now. */
        uint64_t first = __atomic_load_n(&pending_ns, __ATOMIC_ACQUIRE);
        if (first == 0 || (int64_t)(now - first) < 1000000000ll)
            return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* The protocol events' log lines name segments (progress thread, which records them). */
static const char *seg_name(uint64_t id)
{
    const mome_seg_t *s = mome_seg_find(id);
    return s ? s->name : NULL;
}

/* Handle the signals sigs[n] with fn (none nested in another in one thread), each saved first in
 * old[i]; got[i]: sigs[i] was taken. A program that handles (or ignores) a signal itself keeps
 * it. */
static void take(const int *sigs, size_t n, void (*fn)(int), struct sigaction *old, int *got)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fn;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < n; i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    for (size_t i = 0; i < n; i++)
        got[i] = sigaction(sigs[i], NULL, &old[i]) == 0 && old[i].sa_handler == SIG_DFL &&
                 !(old[i].sa_flags & SA_SIGINFO) && sigaction(sigs[i], &sa, NULL) == 0;
}

/*
 * Joining the job (MomeInit, before the progress thread runs): the node waits in its launcher's
 * exchanges (the other nodes' MomeInit), in UCX's start, in momed. A node stopped by SIGTERM or
 * SIGINT meanwhile said nothing (it died at once); now a thread of its own says which step it is
 * in and what it waits for, then ends the process as the progress thread does later (the
 * program's output flushed, exit 128 + signal). The handler only posts a semaphore.
 */
static size_t join_describe(char *buf, size_t len)
{
    const char *stage = __atomic_load_n(&join_stage, __ATOMIC_ACQUIRE);
    char what[512];
    int n;

    int phase = __atomic_load_n(&join_phase, __ATOMIC_SEQ_CST);
    if (phase == JOIN_HOLD)
        snprintf(what, sizeof(what), "starting UCX");
    else if (phase == JOIN_UCX)
        snprintf(what, sizeof(what), "connecting to the other nodes through UCX");
    else if (stage)
        snprintf(what, sizeof(what), "%s", stage);
    else if (mome_boot_describe_wait(what, sizeof(what)) == 0)
        snprintf(what, sizeof(what), "setting up this node");
    n = snprintf(buf, len, "waiting in MomeInit for %.1f s (joining the job: %s)",
                 (double)(mome_now_ns() - join_t0) / 1e9, what);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void join_say(const char *why)
{
    say_rank(mome_boot_rank(), why, join_describe);
}

/* The launcher asked, in one of its exchanges (MomeInit's thread). */
static void join_report(unsigned seconds)
{
    report_as(seconds, join_say);
}

/* The joining thread: says what the node waits for when a signal comes, then ends the node; not
 * while UCX starts (its files in /dev/shm): then once it is up (mome_watch_release). */
static void *join_main(void *arg)
{
    int said = 0;

    (void)arg;
    for (;;) {
        while (sem_wait(&join_sem) < 0 && errno == EINTR)
            ;
        int sig = __atomic_load_n(&join_sig, __ATOMIC_SEQ_CST);
        if (sig && (said || join_claim())) {
            if (!said)
                join_say(sig == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM");
            said = 1;
            pthread_mutex_lock(&join_mx); /* never given back once the node ends */
            if (join_phase == JOIN_HOLD) {
                pthread_mutex_unlock(&join_mx);
                continue; /* mome_watch_release posts again */
            }
            if (join_phase == JOIN_UCX) {
                signal(sig, SIG_DFL); /* this thread blocks every signal: to the process */
                kill(getpid(), sig);
                for (;;)
                    pause();
            }
            if (mome_g.cfg.stats && mome_boot_rank() >= 0)
                mome_stats_print(mome_boot_rank());
            mome_exit(128 + sig);
        }
        if (__atomic_load_n(&join_stop, __ATOMIC_ACQUIRE))
            return NULL;
    }
}

static void give_back(void);

static void sem_once(void)
{
    sem_init(&join_sem, 0, 0); /* never destroyed: a late handler may still post it */
}

void mome_watch_join_begin(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    sigset_t all, old;
    int rc;

    pthread_once(&once, sem_once);
    while (sem_trywait(&join_sem) == 0)
        ;
    node_pid = getpid();
    pending = 0;
    pending_ns = 0;
    join_sig = 0;
    join_served = 0;
    join_stop = 0;
    join_phase = JOIN_FREE;
    join_stage = NULL;
    join_t0 = mome_now_ns();
    /* Every signal blocked in the thread: the program's handlers run in its own threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&join_tid, NULL, join_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) { /* then stopped in MomeInit, the node dies without a word, as before */
        mome_debug("watch", "cannot start the thread watching MomeInit: %s", strerror(rc));
        return;
    }
    pthread_setname_np(join_tid, "mome-join");
    join_on = 1;
    __atomic_store_n(&serve, SERVE_JOIN, __ATOMIC_SEQ_CST);
    mome_boot_set_report(join_report);
    take(watched, NWATCHED, handler, saved, taken);
}

void mome_watch_join_stage(const char *what)
{
    __atomic_store_n(&join_stage, what, __ATOMIC_RELEASE);
}

/* The joining is over: signals now go to `next`. A signal handed over meanwhile, which the thread
 * did not see, is served there. */
static void join_finish(int next)
{
    __atomic_store_n(&serve, next, __ATOMIC_SEQ_CST);
    __atomic_store_n(&join_stop, 1, __ATOMIC_RELEASE);
    sem_post(&join_sem);
    pthread_join(join_tid, NULL); /* (it may be ending the process instead) */
    join_on = 0;
    int sig = __atomic_load_n(&join_sig, __ATOMIC_SEQ_CST);
    if (!sig || !join_claim())
        return; /* none, or served */
    if (next == SERVE_PROGRESS)
        mome_cmd_signal(sig);
    else {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

void mome_watch_join_end(void)
{
    if (!join_on)
        return;
    mome_boot_set_report(NULL);
    give_back();
    join_finish(SERVE_NONE);
}

void mome_watch_start(void)
{
    if (mome_log_level >= MOME_LOG_DEBUG)
        mome_trace_log_start(seg_name);
    node_pid = getpid();
    mome_boot_set_report(on_report);
    mome_cmd_set_signal_hook(on_signal);
    if (join_on) { /* the signals stay taken, served by the progress thread now */
        join_finish(SERVE_PROGRESS);
        return;
    }
    pending = 0;
    __atomic_store_n(&serve, SERVE_PROGRESS, __ATOMIC_SEQ_CST);
    take(watched, NWATCHED, handler, saved, taken);
}

/*
 * UCX's shared-memory transport creates a file in /dev/shm, maps it, writes it through (to check
 * that /dev/shm has room: milliseconds on a loaded machine) and only then unlinks it: a node that
 * SIGTERM or SIGINT killed in between (mome-run stopped, or Ctrl-C, while the nodes were starting)
 * left the file behind, in 1 of 10 such stops on a 2-core machine. While MomeInit starts UCX, a
 * terminating signal left at its default is held, then acted on as before once UCX is up (its
 * files unlinked); bounded by mome-run's SIGKILL, or a second signal 1 s after the first.
 */
static const int held_sigs[] = {SIGTERM, SIGINT, SIGHUP};
#define NHELD (sizeof(held_sigs) / sizeof(held_sigs[0]))
static struct sigaction held_saved[NHELD];
static int held_taken[NHELD];
static volatile sig_atomic_t held_sig;
static uint64_t held_ns;

static void hold_handler(int sig)
{
    uint64_t now = mome_now_ns(); /* (clock_gettime: async-signal-safe) */
    if (!held_sig) {
        held_ns = now;
        held_sig = sig;
        return;
    }
    if (now - held_ns < 1000000000ull)
        return;
    /* Asked again a second later: UCX is stuck, die now as without Mome. */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Blocks for ever if the joining thread is ending the node. */
static void join_set_phase(int phase)
{
    pthread_mutex_lock(&join_mx);
    __atomic_store_n(&join_phase, phase, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&join_mx);
}

void mome_watch_in_ucx(int on)
{
    join_set_phase(on ? JOIN_UCX : JOIN_FREE);
}

void mome_watch_hold(void)
{
    held_sig = 0;
    /* SIGTERM and SIGINT, when MomeInit's watcher has them, are held there (join_main); the
     * others left at their default here. */
    join_set_phase(JOIN_HOLD);
    take(held_sigs, NHELD, hold_handler, held_saved, held_taken);
}

void mome_watch_release(void)
{
    for (size_t i = 0; i < NHELD; i++)
        if (held_taken[i])
            sigaction(held_sigs[i], &held_saved[i], NULL);
    join_set_phase(JOIN_FREE);
    if (join_on)
        sem_post(&join_sem); /* a signal it said meanwhile now ends the node */
    if (held_sig)
        raise(held_sig); /* its default action, now: the process ends */
}

/* SIGTERM and SIGINT back to what the program had. */
static void give_back(void)
{
    struct sigaction now;
    __atomic_store_n(&serve, SERVE_NONE, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < NWATCHED; i++) {
        /* Given back only if still Mome's: a handler the program installed after MomeInit stays
         * (helper-84's review: MomeFinalize put SIG_DFL back over it). */
        if (taken[i] && sigaction(watched[i], NULL, &now) == 0 && now.sa_handler == handler &&
            !(now.sa_flags & SA_SIGINFO))
            sigaction(watched[i], &saved[i], NULL);
        taken[i] = 0;
    }
}

void mome_watch_stop(void)
{
    give_back();
    mome_boot_set_report(NULL);
    mome_trace_log_stop();
}
