/*
 * node.c - the node engine: startup and teardown, and the progress thread. Commands from
 * application threads are cmd.c's; messages are the message table's (net/msg.h): each layer
 * registers its handlers, this file only moves bytes between the transport and the table.
 *
 * The progress thread is the only thread that touches protocol state. It waits in epoll on the UCX
 * worker's event fd, the userfaultfd, the command eventfd and the launcher socket: an idle node
 * never spins. On a core of its own it runs at nice -20 when the rights allow (see
 * progress_priority): woken by a message, it then preempts an application thread of its core at
 * once, even one spinning on a flag. It keeps polling for MOME_SPIN_US after activity while a
 * reply is awaited (at normal priority yielding its core), so that a reply arriving right away
 * costs no wake-up.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/topology.h"
#include "base/trace.h"
#include "boot/boot.h"
#include "coherence/coherence.h"
#include "coherence/model.h"
#include "coherence/seg.h"
#include "core/checkpoint.h"
#include "core/heap.h"
#include "core/node.h"
#include "core/segment.h"
#include "core/sync.h"
#include "core/watch.h"
#include "memory/fault.h"
#include "memory/memory.h"
#include "memory/view.h"
#include "net/msg.h"
#include "net/netif.h"
#include "net/server.h"
#include "net/transport.h"
#include "repo/repo.h"

static pthread_t prog_thread;
static pid_t prog_tid;
static int epfd = -1;
static int use_tp;       /* more than one node: UCX is up */
static int stop_req;     /* progress thread: leave the loop */
static int park_req;     /* progress thread: stop for good, the process is exiting */
static sem_t parked;     /* posted once the progress thread has parked */
static int exit_handler; /* park_progress is registered with atexit */
static pid_t node_pid;   /* this node's process (a forked child is not a node) */

static uint64_t job_key; /* from the launcher */

/* Heap placement agreed at startup. */
static char *heap_addr;
static uint64_t heap_size;

static pid_t gettid_(void)
{
    return (pid_t)syscall(SYS_gettid);
}

int mome_node_on_progress(void)
{
    pid_t tid = __atomic_load_n(&prog_tid, __ATOMIC_ACQUIRE);
    return tid && gettid_() == tid;
}

/* Set in a child forked after MomeInit (pthread_atfork): every API call asks, and getpid() is a
 * system call (MomeNode() in a loop would pay one each time). */
static int forked;

static void in_child(void)
{
    forked = 1;
}

int mome_node_forked(void)
{
    return forked;
}

int mome_node_parked(void)
{
    return __atomic_load_n(&park_req, __ATOMIC_ACQUIRE);
}

/* ---- messages ---- */

static void tp_recv(const void *hdr, size_t hl, const void *data, size_t len, void *arg)
{
    mome_msg_deliver(hdr, hl, data, len, MOME_MSG_NODE);
}

/*
 * One round for a handler that waits for an answer (net/msg.h mome_msg_hold): the transport,
 * held page transfers now due, the launcher's word (a lost node stops this one here rather
 * than leaving it waiting) and a pending SIGTERM or SIGINT (core/watch.c); with timeout_ms > 0 it
 * first sleeps until one of them has something (a signal is seen at the end of that sleep).
 */
static int engine_poll(int timeout_ms)
{
    struct pollfd p[4] = {{.fd = mome_boot_fd(), .events = POLLIN},
                          {.fd = mome_msg_timer_fd(), .events = POLLIN},
                          {.fd = -1, .events = POLLIN},
                          {.fd = use_tp ? mome_tp_timer_fd() : -1, .events = POLLIN}};
    int n = use_tp ? mome_tp_progress() : 0;
    int64_t held = mome_msg_emu_wait_ns();
    mome_cmd_serve_signal(); /* a wait nested in a handler drains no commands */
    /* Sleep only with nothing in hand, no held page due within the polling window (the timer is
     * not set for it) and the transport armed (else it has work already). */
    if (timeout_ms > 0 &&
        (n > 0 || (held >= 0 && held <= MOME_MSG_EMU_POLL_NS) || (use_tp && mome_tp_arm() < 0)))
        timeout_ms = 0;
    else if (timeout_ms > 0 && use_tp)
        p[2].fd = mome_tp_efd();
    if (poll(p, 4, timeout_ms) > 0) {
        if (p[0].revents)
            mome_boot_event(); /* a lost node or an abort: does not return */
        if (p[1].revents)
            n += mome_msg_timer_event();
        if (p[2].revents)
            n += mome_tp_progress();
        if (p[3].revents)
            mome_tp_beat(); /* a long wait keeps this node's heartbeats going */
    }
    return n;
}

/* A send failed: the peer most likely stopped; if the job is going down, say why as the others
 * do (does not return then). */
static void send_failed(int node, int err)
{
    mome_boot_explain_failure(2000);
    mome_die(1, "cannot send to node %d (%s); stopping", node,
             err == -EIO ? mome_tp_send_error() : strerror(-err));
}

/* UCX says the connection to a node on another machine failed: that node died, or the network
 * between us did. Its pages may be lost: the job stops (the launcher's word first, if it has one). */
static void peer_failed(int node, const char *reason)
{
    mome_boot_explain_failure(2000);
    mome_fatal("stopping this node: lost node %d: the connection to it failed (%s)", node,
               reason);
}

/*
 * A send waiting for the earlier ones to leave (transport flow control): a node that takes
 * nothing may have died, and the launcher's word says so; heard here, it stops this node naming
 * the lost node, instead of after the wait's 10 s, each of them (a REPORT is answered, and the
 * wait goes on).
 */
static void sends_waiting(void)
{
    struct pollfd p = {.fd = mome_boot_fd(), .events = POLLIN};
    if (p.fd >= 0 && poll(&p, 1, 0) > 0)
        mome_boot_event(); /* a lost node or an abort: does not return */
}

/* ---- commands ---- */

static void stop_fn(mome_cmd_t *c)
{
    stop_req = 1;
    mome_cmd_complete(c, 0);
}

/*
 * An exit handler: the process is exiting (the program returned without MomeFinalize, or a node
 * stops) from a thread other than the progress thread, and the libraries' exit handlers are about
 * to tear UCX down (registered after them, this runs first). The progress thread must stop using
 * UCX before that: it parks (blocks for good) at the top of its loop. Wait for it, but never more
 * than a second.
 */
static void park_progress(void)
{
    uint64_t one = 1;
    struct timespec until;

    if (!__atomic_load_n(&prog_tid, __ATOMIC_ACQUIRE) || mome_node_on_progress() ||
        getpid() != node_pid)
        return; /* no progress thread here (a child forked by the node has none) */
    __atomic_store_n(&park_req, 1, __ATOMIC_RELEASE);
    if (write(mome_cmd_fd(), &one, sizeof(one)) < 0)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    while (sem_timedwait(&parked, &until) < 0 && errno == EINTR)
        ;
}

static void park_if_asked(void)
{
    if (!__atomic_load_n(&park_req, __ATOMIC_ACQUIRE))
        return;
    sem_post(&parked);
    for (;;)
        pause();
}

/* ---- the progress thread ---- */

static int wait_events(int timeout_ms)
{
    struct epoll_event evs[8];
    int k = epoll_wait(epfd, evs, 8, timeout_ms), n = 0;

    for (int i = 0; i < k; i++) {
        int fd = evs[i].data.fd;
        if (fd == mome_mem_uffd()) {
            n += mome_fault_poll();
        } else if (fd == mome_cmd_fd()) {
            n += mome_cmd_drain();
        } else if (fd == mome_msg_timer_fd()) {
            n += mome_msg_timer_event();
        } else if (use_tp && fd == mome_tp_timer_fd()) {
            mome_tp_timer_event(); /* heartbeats to other machines */
        } else if (fd == mome_boot_fd()) {
            mome_boot_event(); /* a lost node: does not return */
        } else if (fd == mome_srv_fd()) {
            n += mome_srv_poll(); /* momed gone: does not return */
        } else {
            n++; /* UCX has work: progressed next round */
        }
    }
    return n;
}

/*
 * The progress thread's priority (design.md section 2, "Where progress threads run"). It shares
 * its node's core with the application threads, which may spin on a STRONG flag without ever
 * blocking. At the application's priority a woken progress thread does not reliably preempt such
 * a thread: EEVDF runs it first only when it is eligible, and a progress thread that just did the
 * node's work often is not, so it waits for the spinner's tick (a flag round trip took 8 ms here
 * instead of 0.1). When every node of the job on this machine is bound to a core (or NUMA node)
 * of its own, and the rights allow it (CAP_SYS_NICE, or an RLIMIT_NICE of 30 or more), it
 * therefore runs at nice -20 (MOME_PROGRESS_PRIO=high, the default): a weight 87 times the
 * application thread's keeps it eligible, so a message preempts a spinner at once; and the thread
 * that called MomeInit becomes SCHED_BATCH (app_priority), so that the thread it wakes does not
 * preempt it. After waking a thread it does not yield to it (a yield at nice -20 would hardly move
 * it back) but finishes its round and sleeps, and it stops polling for replies. MOME_PROGRESS_PRIO
 * =fifo asks SCHED_FIFO priority 1 instead (RLIMIT_RTPRIO or CAP_SYS_NICE): it never polls, and
 * after waking a faulting thread it lets it run by sleeping (woke_window). A raised progress
 * thread cannot hold its core: busy for more than RAISED_BUSY_NS without sleeping, it drops to
 * normal priority until it next sleeps (for SCHED_FIFO the kernel's RT throttling is the last
 * resort). Nodes that share cores (measured 4 nodes on 2 cores: raising did not make the bare loop
 * close to the yield loop, and slowed the yield loop) or are not bound, and nodes without the
 * rights, stay at normal priority (the nice MomeInit's thread had) with a short EEVDF slice (Linux
 * >= 6.12; older kernels ignore it); there they yield to a thread they woke, and poll for
 * MOME_SPIN_US while a reply is awaited.
 */
#define RAISED_BUSY_NS 2000000ull
#define WOKE_WINDOW_NS 50000 /* see woke_window */
#define HIGH_NICE (-20)
#define HIGH_NICE_MIN (-10) /* a weaker nice than this does not keep the thread eligible */

static int own_core;  /* every node of the job on this machine is bound to a core of its own */
static int prio_want; /* the raised priority granted at start (MOME_PRIO_NORMAL: none) */
static int prio_nice; /* the nice value MOME_PRIO_HIGH was granted */
static int prio_now;  /* the progress thread's mome_prio_t now */
static int base_nice; /* the nice the progress thread started with: its normal priority */
static sem_t prio_set; /* posted once progress_priority has run */
static pid_t app_tid; /* the thread that called MomeInit */
static int app_batch; /* and it made itself SCHED_BATCH */

static int set_sched(int prio)
{
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } attr = {.size = 48};
    if (prio == MOME_PRIO_FIFO) {
        attr.policy = SCHED_FIFO;
        attr.priority = 1;
    } else {
        attr.policy = SCHED_OTHER;
        attr.nice = prio == MOME_PRIO_HIGH ? prio_nice : base_nice;
        attr.runtime = 100000; /* ns: the short slice (Linux >= 6.12; older kernels ignore it) */
    }
    int rc = (int)syscall(SYS_sched_setattr, 0, &attr, 0);
    if (rc < 0 && errno == EINVAL && attr.runtime) { /* a slice refused: ask without one */
        attr.runtime = 0;
        rc = (int)syscall(SYS_sched_setattr, 0, &attr, 0);
    }
    if (rc == 0)
        prio_now = prio;
    return rc;
}

/* The lowest nice this thread may take: -20 with CAP_SYS_NICE, else what RLIMIT_NICE allows. */
static int nice_floor(void)
{
    struct rlimit rl;
    int lim = getrlimit(RLIMIT_NICE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                  ? 20 - (int)(rl.rlim_cur > 40 ? 40 : rl.rlim_cur)
                  : 20 - 40;
    return lim < HIGH_NICE ? HIGH_NICE : lim;
}

static void progress_priority(void)
{
    int want = mome_g.cfg.progress_prio, err;
    static const char *const spin_hint = "loops spinning on a STRONG flag should call MomePoll()";
    errno = 0;
    base_nice = getpriority(PRIO_PROCESS, 0); /* this thread's, inherited from MomeInit's */
    if (base_nice == -1 && errno)
        base_nice = 0;
    if (want == MOME_PRIO_NORMAL) {
        set_sched(MOME_PRIO_NORMAL);
        mome_info("node", "progress thread: normal priority (MOME_PROGRESS_PRIO=normal): %s",
                  spin_hint);
        return;
    }
    if (!own_core) {
        set_sched(MOME_PRIO_NORMAL);
        mome_info("node", "progress thread: normal priority (%s: a raised priority only when each "
                  "node of the job on this machine has a core of its own): %s",
                  mome_g.cfg.bind == MOME_BIND_NONE
                      ? "nodes are not bound (MOME_BIND=none)"
                      : "this machine's nodes share cores, or this node is not bound",
                  spin_hint);
        return;
    }
    prio_nice = HIGH_NICE;
    if (set_sched(want) == 0) /* root, or CAP_SYS_NICE */
        goto granted;
    err = errno;
    if (want == MOME_PRIO_HIGH && (prio_nice = nice_floor()) <= HIGH_NICE_MIN &&
        set_sched(want) == 0)
        goto granted;
    set_sched(MOME_PRIO_NORMAL);
    mome_info("node", "progress thread: normal priority (%s refused: %s; it needs CAP_SYS_NICE or "
              "%s): %s", want == MOME_PRIO_FIFO ? "SCHED_FIFO" : "nice -20", strerror(err),
              want == MOME_PRIO_FIFO ? "RLIMIT_RTPRIO >= 1" : "RLIMIT_NICE >= 30 (ulimit -e)",
              spin_hint);
    return;
granted:
    prio_want = want;
    if (want == MOME_PRIO_FIFO)
        mome_info("node", "progress thread: SCHED_FIFO priority 1 (a message preempts this "
                  "node's application threads at once)");
    /* At nice -20, start_thread says so once it has made its own thread SCHED_BATCH. */
}

/*
 * Called by the thread that calls MomeInit, once the progress thread has chosen its priority.
 * At nice -20 the thread a wake-up makes runnable may still preempt its waker when EEVDF finds it
 * owed time; the progress thread then waits behind it, runnable, for a tick if it spins. A
 * SCHED_BATCH thread never preempts on wake-up, and keeps its nice value and weight: the calling
 * thread becomes one (threads it creates afterwards, and child processes, inherit that), unless
 * its user chose another policy. MomeFinalize gives this thread SCHED_OTHER back.
 */
static void app_priority(void)
{
    app_tid = gettid_();
    app_batch = 0;
    if (prio_want != MOME_PRIO_HIGH)
        return;
    if (sched_getscheduler(0) == SCHED_OTHER &&
        sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){0}) == 0)
        app_batch = 1;
    mome_info("node", "progress thread: nice %d (a message preempts this node's application "
              "threads at once)%s", prio_nice,
              app_batch ? "; the thread that called MomeInit: SCHED_BATCH (its wake-ups do not "
                          "preempt)"
                        : "");
}

/* MomeFinalize: the thread that called MomeInit gets SCHED_OTHER back, if it still exists. */
static void app_priority_restore(void)
{
    char task[64];
    if (!app_batch)
        return;
    app_batch = 0;
    snprintf(task, sizeof(task), "/proc/self/task/%d", (int)app_tid);
    if (access(task, F_OK) == 0 && sched_getscheduler(app_tid) == SCHED_BATCH)
        sched_setscheduler(app_tid, SCHED_OTHER, &(struct sched_param){0});
}

/* The guard: a progress thread busy for long gives its core back until it next sleeps. */
static void prio_guard(uint64_t awake_since)
{
    if (prio_now != MOME_PRIO_NORMAL && mome_now_ns() - awake_since > RAISED_BUSY_NS &&
        set_sched(MOME_PRIO_NORMAL) == 0)
        mome_debug("node", "progress thread busy for over %llu ms: normal priority until it "
                   "sleeps", RAISED_BUSY_NS / 1000000);
}

/* Called before the progress thread sleeps: back to its raised priority if the guard lowered it. */
static void prio_restore(void)
{
    if (prio_now != prio_want)
        set_sched(prio_want);
}

/*
 * At SCHED_FIFO, after waking a faulting thread: sleep until it faults again or WOKE_WINDOW_NS
 * passed, watching only this node's faults and commands. Requests from other nodes wait meanwhile,
 * so that the woken thread uses the page it faulted on before another node can take it away (a
 * node spinning on a flag would otherwise take the page back before the writer wrote it, again
 * and again).
 */
static int woke_window(void)
{
    struct pollfd p[2] = {{.fd = mome_mem_uffd(), .events = POLLIN},
                          {.fd = mome_cmd_fd(), .events = POLLIN}};
    struct timespec ts = {0, WOKE_WINDOW_NS};
    int n = 0;
    if (ppoll(p, 2, &ts, NULL) > 0) {
        if (p[0].revents)
            n += mome_fault_poll();
        if (p[1].revents)
            n += mome_cmd_drain();
    }
    return n;
}

/*
 * How long the progress thread may sleep (ms; -1: until an event). UCX's shared-memory transport
 * wakes a sleeping receiver with a datagram on a Unix socket, and takes EAGAIN from sendto for "the
 * receiver's queue is full, it will wake anyway" (uct_mm_ep_signal_remote: UCX 1.13, still so in
 * its current source). But the datagrams a sender has sent and its receivers not yet read count
 * against the sender's own SO_SNDBUF (212992 bytes by default, about 280 datagrams here): a node
 * that sends to several hundred sleeping nodes at once (the manager of a barrier releasing them;
 * every node saying HELLO at MomeInit) gets EAGAIN for the last of them, whose queues are empty.
 * Their wake-up is lost: the message waits in their receive FIFO while they sleep for ever (jobs of
 * 500 nodes on one machine hung in MomeFinalize in 5 of 18 runs, and a job of 1000 nodes). So a
 * node with peers on its machine never sleeps for ever: it looks at the worker after
 * SLEEP_WAITING_MS while a reply is awaited, SLEEP_IDLE_MS otherwise (at most 10 wake-ups a second:
 * an idle node still does not spin). A lost wake-up then costs at most that long. Likewise while
 * MomeInit waits for the HELLOs, whose bound (mome_sync_hello_watch) is checked every round.
 */
#define SLEEP_WAITING_MS 100
#define SLEEP_IDLE_MS 1000

static int slept_out; /* the last sleep ended on its bound, not on an event */

static int sleep_bound(int waiting)
{
    if (!use_tp || (mome_g.local_size <= 1 && !mome_sync_connecting()))
        return -1;
    return waiting > 0 || mome_sync_connecting() ? SLEEP_WAITING_MS : SLEEP_IDLE_MS;
}

/* A bounded sleep ended and the worker had messages: their wake-up was lost (or came just then). */
static void missed_wakeup(void)
{
    static mome_ratelimit_t rl;
    mome_log_rl(&rl, MOME_LOG_DEBUG, "node",
                "messages found after a bounded sleep: a wake-up from UCX was lost or late");
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, in_child);
}

static void *progress_main(void *arg)
{
    sigset_t all;
    uint64_t last = mome_now_ns(), spin_ns = mome_g.cfg.spin_us * 1000, awake_since = last;
    int woke = 0; /* a faulting thread was woken since this thread last slept */

    /* Signals are for the application's threads; not the synchronous ones, which a fault of
     * this thread raises: blocked, they would kill the process with no handler run (no
     * sanitizer's report, no debugger's or program's handler). */
    sigfillset(&all);
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    __atomic_store_n(&prog_tid, gettid_(), __ATOMIC_RELEASE);
    progress_priority();
    sem_post(&prio_set);
    while (!stop_req) {
        int n = 0, timeout = 0;
        park_if_asked();
        if (mome_trace_due()) /* between events, in one write: never on a fault's path */
            mome_trace_flush();
        /* While a reply is due, poll the transport alone a few rounds before any syscall: one a
         * thread waits for (a page asked ahead that no thread has faulted on is not awaited). */
        int cmds = mome_cmd_waiting();
        int waiting = cmds + mome_coh_outstanding(), awaited = cmds + mome_coh_awaited();
        /*
         * A page the emulated interconnect holds (MOME_EMU_*) is due soon: poll for it, checking
         * the time each round, since a timer would wake this thread tens of microseconds late.
         */
        int64_t held = mome_msg_emu_wait_ns();
        int emu = held >= 0 && held <= MOME_MSG_EMU_POLL_NS;
        for (int i = 0; i < (awaited > 0 || emu ? 64 : 1) && n == 0; i++) {
            if (use_tp)
                n += mome_tp_progress();
            if (slept_out && n > 0)
                missed_wakeup();
            slept_out = 0;
            n += mome_msg_progress() + mome_msg_emu_poll();
        }
        /* A held page due within a system call's time: delivered before the next syscall, which
         * would make it late by that much. */
        for (int64_t soon; (soon = mome_msg_emu_wait_ns()) >= 0 && soon <= MOME_MSG_EMU_SPIN_NS;)
            n += mome_msg_emu_poll();
        if (mome_cmd_take_woke())
            woke = 1; /* a thread waiting for a command: it runs once this thread sleeps */
        if (mome_coh_take_woke()) {
            woke = 1;
            /*
             * A faulting thread of this core just became runnable: let it run now rather than
             * after this thread has served the requests that are waiting (which could take its
             * page away before it used it, and make it fault again). It usually faults again
             * soon, and then this thread is already awake to take the fault. At normal priority a
             * yield does it. At nice -20 a yield would hardly let it run, and a message has to
             * find this thread asleep to preempt a spinner: finish the round and sleep. At
             * SCHED_FIFO a yield would not let a normal thread run: sleep for at most
             * WOKE_WINDOW_NS instead, woken at once by its next fault.
             */
            if (prio_now == MOME_PRIO_FIFO) {
                n += woke_window();
            } else if (prio_now == MOME_PRIO_NORMAL) {
                sched_yield();
                n += mome_fault_poll();
            } /* at nice -20 the woken thread has not run yet: nothing to look for */
        }
        /* Background work even while busy: a steady fault load leaves no idle turn. */
        int bg = mome_coh_idle();
        mome_segment_poll(0);
        prio_guard(awake_since);
        if (n == 0 &&
            (emu || (awaited > 0 && mome_now_ns() - last < spin_ns &&
                     (prio_now == MOME_PRIO_NORMAL || (prio_now == MOME_PRIO_HIGH && !woke))))) {
            /*
             * A reply is due soon and the thread waiting for it is blocked: poll, but yield so a
             * node sharing this core can send it. Polling while no reply is awaited would keep a
             * busy application thread from this core's wake-ups, so then sleep instead. A held
             * page is already here: no yield, which on a loaded core could lose it for a time
             * slice and deliver the page milliseconds late. At nice -20 a yield would not give
             * the core away: poll only until a thread of this core has been woken since this
             * thread last slept (it would keep that thread from running), and at SCHED_FIFO
             * never.
             */
            if (!emu && prio_now == MOME_PRIO_NORMAL)
                sched_yield();
        } else if (n == 0 && bg == 0) {
            /* Nothing to do, not even in the background: sleep. */
            if (!use_tp || mome_tp_arm() == 0)
                timeout = sleep_bound(waiting);
        }
        if (timeout != 0)
            prio_restore();
        int got = wait_events(timeout);
        if (timeout > 0 && got == 0)
            slept_out = 1; /* the next round looks for what a lost wake-up left in the worker */
        n += bg + got;
        if (timeout != 0) {
            awake_since = mome_now_ns();
            woke = 0;
        }
        if (n)
            last = mome_now_ns();
        mome_sync_hello_watch();
    }
    mome_cmd_close();
    if (use_tp)
        mome_tp_flush();
    return NULL;
}

/*
 * MomePoll (mome.h): the public call lives here, with the progress thread it gives way to. A
 * yield is all it takes: at normal priority it lets a woken progress thread of this core run
 * now rather than after the caller's time slice; at nice -20 or SCHED_FIFO the progress thread
 * needs no help, and the yield gives the core to the other threads sharing it.
 */
void MomePoll(void)
{
    sched_yield();
}

/* ---- startup ---- */

/*
 * The descriptors UCX opens (epoll, eventfds, pipes, sockets, shared memory) are not
 * close-on-exec, so a child the program starts with system() or exec would inherit them. Every
 * descriptor that MomeInit itself created is marked close-on-exec at its end (UCX opens its
 * connections there: none appear later). A descriptor is the program's when the same open file
 * (device and inode) had the same number when MomeInit began: the number alone would not do, since
 * MomeInit closes some it was given (the launcher's status table) and UCX reuses their numbers.
 */
static struct fd_id {
    int fd;
    dev_t dev;
    ino_t ino;  /* an inode 0 is kept as 1 */
} * fds_before; /* sorted by fd */
static size_t nfds_before, fds_cap;
static int fds_unknown; /* the first scan could not record them all: mark none */

static int by_fd(const void *a, const void *b)
{
    const struct fd_id *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

static void scan_fds(int mark)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    struct stat st;
    if (!d)
        return;
    if (!mark) {
        nfds_before = fds_unknown = 0;
    } else if (fds_unknown) {
        closedir(d);
        return;
    }
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        /* The open file behind the entry (fstatat follows the link): the same as fstat(fd), but
         * it does not touch a descriptor UCX's thread may be closing or reusing meanwhile (a
         * race ThreadSanitizer reports, and crashed on with clang 14). */
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd == dirfd(d) ||
            fstatat(dirfd(d), e->d_name, &st, 0) < 0)
            continue;
        struct fd_id id = {fd, st.st_dev, st.st_ino ? st.st_ino : 1};
        if (!mark) {
            if (nfds_before == fds_cap) {
                size_t cap = fds_cap ? 2 * fds_cap : 256;
                struct fd_id *n = mome_realloc(fds_before, cap * sizeof(*n));
                if (!n) {
                    fds_unknown = 1; /* a program's descriptor could pass for a new one */
                    break;
                }
                fds_before = n;
                fds_cap = cap;
            }
            fds_before[nfds_before++] = id;
            continue;
        }
        const struct fd_id *was =
            nfds_before ? bsearch(&id, fds_before, nfds_before, sizeof(id), by_fd) : NULL;
        if (!was || was->ino != id.ino || was->dev != id.dev)
            fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    closedir(d);
    if (!mark && nfds_before)
        qsort(fds_before, nfds_before, sizeof(*fds_before), by_fd);
}

/*
 * Where the shared heap may go: every node must find heap_size bytes free at one address. Each
 * node has its own randomised (ASLR) mmap zone, holding its libraries, thread stacks and Mome
 * memory view, so node 0's own mmap(NULL) address is often taken on some other node once there
 * are 64 nodes or more. The candidates are drawn far from those zones: 1 GiB-aligned in
 * [16 TiB, 64 TiB), below the mmap zone (just under 128 TiB on x86-64 with 47-bit user space,
 * 256 TiB on aarch64 with 48-bit; with 5-level or 52-bit tables, the kernel keeps mmap below those
 * unless asked) and below the PIE and brk area (2/3 of the user space: 85 or 170 TiB); a non-PIE
 * program and its brk sit under 4 GiB. Nothing lands there by default. Node 0's own address is the
 * last candidate of each round: it is the only one where the user space is smaller (aarch64 with
 * 39 or 42-bit VA), and all that is left if that range is busy (a sanitizer's shadow memory).
 */
#define HEAP_LOW (1ull << 44)  /* 16 TiB */
#define HEAP_HIGH (1ull << 46) /* 64 TiB: needs a user space of 47 bits or more */
/* After a round without a common address, candidates are drawn from 1 TiB up: node 0's own
 * address, in its randomised mmap zone, is free on another node only by chance (it collided with
 * another node's mappings in about 1 run in 13 of heap_many.test's 2-node case, where
 * [16 TiB, 64 TiB) is taken), and the next rounds' own addresses lie next to it. */
#define HEAP_LOW_WIDE (1ull << 40)
#define HEAP_ALIGN (1ull << 30)
#define HEAP_CANDS 16 /* per round: HEAP_CANDS - 1 drawn, then node 0's own address */
/* With the legacy layout (ulimit -s unlimited) mmap grows up from 1/3 of the user space (42 TiB on
 * x86-64), inside the range: a candidate that a node's mappings cover there is just not taken. */
#define HEAP_ROUNDS 8
/* ThreadSanitizer allows the program's mappings in a few ranges only (its shadow memory covers
 * [1 TiB, 16 TiB), its metadata [48 TiB, 52 TiB)); its mmap drops a hint elsewhere, and
 * MAP_FIXED_NOREPLACE then maps at address 0, which it refuses, stopping the process. It also
 * turns ASLR off, so node 0's own address is where the other nodes have their own memory view.
 * Under it the candidates are drawn from its low range, [64 GiB, 512 GiB). */
#if defined(__SANITIZE_THREAD__)
#define HEAP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define HEAP_TSAN 1
#endif
#endif
#ifdef HEAP_TSAN
#undef HEAP_LOW
#undef HEAP_HIGH
#undef HEAP_LOW_WIDE
#define HEAP_LOW (1ull << 36)
#define HEAP_HIGH (1ull << 39)
#define HEAP_LOW_WIDE HEAP_LOW
#endif

typedef struct boot_blob {
    uint32_t page_size;   /* knobs every node must agree on: MOME_PAGE_SIZE */
    uint32_t dir_migrate; /* MOME_DIR_MIGRATE */
    uint64_t heap_knob;   /* MOME_HEAP_SIZE */
    uint64_t heap_size;
    uint32_t addrlen;
    uint32_t ncand; /* node 0: the heap's candidates (uint64_t, best first) after addr */
    char addr[];
} boot_blob_t;

/* A knob that must have one value job-wide (a node that differs would place the heap, page
 * boundaries or directory entries differently): MomeInit fails on every node, naming it. */
static int agree_knob(const char *knob, uint64_t theirs, int node, uint64_t mine, char *err,
                      size_t errlen)
{
    if (theirs == mine)
        return 0;
    snprintf(err, errlen,
             "%s differs between nodes (%llu on node %d, %llu here); set the same "
             "value for every node of the job",
             knob, (unsigned long long)theirs, node, (unsigned long long)mine);
    return -EINVAL;
}

/* splitmix64: candidates need spreading, not secrecy. */
static uint64_t draw(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One round's reservations on this node: got[k] for candidate k; node 0's own mmap(NULL)
 * placement, own_span bytes at own, holds candidate own_k. */
typedef struct heap_round {
    uint64_t cand[HEAP_CANDS]; /* 0: none */
    char *got[HEAP_CANDS];
    char *own;
    size_t own_span;
    int own_k;
} heap_round_t;

/* Node 0: this round's candidates, best first; the last is its own mmap(NULL) placement. */
static int heap_propose(int round, heap_round_t *r, uint64_t *seed, char *err, size_t errlen)
{
    uintptr_t top = (uintptr_t)__builtin_frame_address(0); /* the stack: near the user top */
    uint64_t low = round == 0 ? HEAP_LOW : HEAP_LOW_WIDE;
    int n = 0;

    /* Slots of the heap's size, 1 GiB-aligned: candidates never overlap. */
    uint64_t stride = (heap_size + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1);
    uint64_t slots = stride <= HEAP_HIGH - low ? (HEAP_HIGH - low) / stride : 0;

    if (top >= HEAP_HIGH && slots > 0) {
        for (int tries = 0; n < HEAP_CANDS - 1 && tries < 4 * HEAP_CANDS; tries++) {
            uint64_t c = low + draw(seed) % slots * stride;
            int dup = 0;
            for (int j = 0; j < n; j++)
                dup |= r->cand[j] == c;
            if (!dup)
                r->cand[n++] = c;
        }
    }
    r->own_span = heap_size + HEAP_ALIGN;
    r->own = mmap(NULL, r->own_span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r->own == MAP_FAILED) {
        r->own = NULL;
        if (n > 0)
            return 0; /* the drawn candidates may do */
        snprintf(err, errlen, "cannot reserve %llu bytes for the shared heap: %s",
                 (unsigned long long)heap_size, strerror(errno));
        return -ENOMEM;
    }
    r->own_k = n;
    r->cand[n] = ((uint64_t)(uintptr_t)r->own + HEAP_ALIGN - 1) & ~(HEAP_ALIGN - 1);
    r->got[n] = (char *)(uintptr_t)r->cand[n];
    return 0;
}

/* Reserve each candidate free here (node 0's own is reserved already); bit k: got candidate k. */
static uint64_t heap_try(heap_round_t *r)
{
    uint64_t bits = 0;

    for (int k = 0; k < HEAP_CANDS && r->cand[k]; k++) {
        char *want = (char *)(uintptr_t)r->cand[k];
        char *p;

        if (!r->got[k]) {
            p = mmap(want, heap_size, PROT_NONE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
            if (p != MAP_FAILED && p != want)
                munmap(p, heap_size); /* a kernel before 4.17 took the address as a hint */
            else if (p == want)
                r->got[k] = p;
        }
        if (r->got[k])
            bits |= 1ull << k;
    }
    return bits;
}

/* Release every reservation of the round but candidate keep (-1: all). */
static void heap_release(heap_round_t *r, int keep)
{
    for (int k = 0; k < HEAP_CANDS; k++)
        if (r->got[k] && k != keep && !(r->own && k == r->own_k))
            munmap(r->got[k], heap_size);
    if (!r->own)
        return;
    if (keep == r->own_k) {
        /* keep of node 0's own reservation the heap only */
        char *h = r->got[keep], *end = r->own + r->own_span;
        if (h > r->own)
            munmap(r->own, (size_t)(h - r->own));
        if (h + heap_size < end)
            munmap(h + heap_size, (size_t)(end - (h + heap_size)));
    } else {
        munmap(r->own, r->own_span);
    }
}

/* One round: 1 if every node reserved the same candidate (heap_addr), 0 to retry, or -errno. */
static int heap_round(int round, uint64_t *seed, void **gather, const void *tpaddr, size_t tplen,
                      char *err, size_t errlen)
{
    size_t ps = mome_g.page_size;
    heap_round_t r = {.own_k = -1};
    size_t blen = sizeof(boot_blob_t) + tplen + (mome_g.rank == 0 ? sizeof(r.cand) : 0);
    boot_blob_t *b = mome_calloc(1, blen);
    boot_blob_t b0, bi;
    const char *p0;
    uint64_t mine, all = ~0ull;
    void *res, *res2;
    uint32_t len;
    int rc, k;

    if (!b)
        return -ENOMEM;
    b->page_size = (uint32_t)ps;
    b->dir_migrate = (uint32_t)mome_g.cfg.dir_migrate;
    b->heap_knob = mome_g.cfg.heap_size;
    b->addrlen = (uint32_t)tplen;
    b->heap_size = heap_size;
    memcpy(b->addr, tpaddr, tplen);
    if (mome_g.rank == 0 && (rc = heap_propose(round, &r, seed, err, errlen)) < 0) {
        free(b);
        return rc;
    }
    if (mome_g.rank == 0) {
        b->ncand = HEAP_CANDS;
        memcpy(b->addr + tplen, r.cand, sizeof(r.cand));
    }
    rc = mome_boot_allgather(b, (uint32_t)blen, &res);
    free(b);
    if (rc < 0)
        goto err_release;
    /* blobs are packed back to back: copy their headers out, each checked against its length
     * (the programs of a job may be linked with different Mome builds) */
    for (int i = 0; i < mome_g.nnodes; i++) {
        const char *pi = mome_boot_blob(res, mome_g.nnodes, i, &len);
        if (len >= sizeof(bi))
            memcpy(&bi, pi, sizeof(bi));
        if (len < sizeof(bi) || len - sizeof(bi) < bi.addrlen) {
            snprintf(err, errlen,
                     "node %d sent a start-up record of %u bytes, not one of this "
                     "Mome: are the job's programs linked with the same Mome version?",
                     i, len);
            rc = -EPROTO;
            goto err_free;
        }
        if ((rc = agree_knob("MOME_PAGE_SIZE", bi.page_size, i, ps, err, errlen)) < 0 ||
            (rc = agree_knob("MOME_HEAP_SIZE", bi.heap_knob, i, mome_g.cfg.heap_size, err,
                             errlen)) < 0 ||
            (rc = agree_knob("MOME_DIR_MIGRATE", bi.dir_migrate, i,
                             (uint64_t)mome_g.cfg.dir_migrate, err, errlen)) < 0)
            goto err_free;
    }
    p0 = mome_boot_blob(res, mome_g.nnodes, 0, &len);
    memcpy(&b0, p0, sizeof(b0));
    if (b0.ncand != HEAP_CANDS || len < sizeof(b0) + b0.addrlen + sizeof(r.cand)) {
        snprintf(err, errlen, "node 0 sent no addresses for the shared heap (another Mome?)");
        rc = -EPROTO;
        goto err_free;
    }
    memcpy(r.cand, p0 + sizeof(b0) + b0.addrlen, sizeof(r.cand));
    mine = heap_try(&r);
    /* Second all-gather: which candidates did every node get? */
    if ((rc = mome_boot_allgather(&mine, sizeof(mine), &res2)) < 0)
        goto err_free;
    for (int i = 0; i < mome_g.nnodes; i++) {
        uint64_t theirs = 0; /* a short answer: none of the candidates */
        const void *q = mome_boot_blob(res2, mome_g.nnodes, i, &len);
        if (len == sizeof(theirs))
            memcpy(&theirs, q, sizeof(theirs));
        all &= theirs;
    }
    free(res2);
    k = all ? __builtin_ctzll(all) : -1;
    heap_release(&r, k);
    if (k < 0) {
        free(res);
        return 0;
    }
    heap_addr = r.got[k];
    *gather = res;
    mome_debug("node", "shared heap at %p (round %d, candidate %d; %d free here)",
               (void *)heap_addr, round, k, __builtin_popcountll(mine));
    return 1;

err_free:
    free(res);
err_release:
    heap_release(&r, -1);
    return rc;
}

/*
 * Reserve heap_size bytes of address space at the same address on every node. In each round node
 * 0 proposes HEAP_CANDS addresses (in the first all-gather, with the knobs every node must agree on
 * and each node's network address), every node reserves those free for it (MAP_FIXED_NOREPLACE)
 * and says which in a second all-gather; the first free on every node is the heap.
 */
static int agree_heap(char *err, size_t errlen, void **gather, const void *tpaddr, size_t tplen)
{
    size_t ps = mome_g.page_size;
    uint64_t seed = mome_now_ns() ^ ((uint64_t)getpid() << 32);

    heap_size =
        (mome_g.cfg.heap_size / (uint64_t)mome_g.nnodes / ps) * ps * (uint64_t)mome_g.nnodes;
    if (heap_size == 0) {
        snprintf(err, errlen, "MOME_HEAP_SIZE is too small for %d nodes", mome_g.nnodes);
        return -EINVAL;
    }
    for (int round = 0; round < HEAP_ROUNDS; round++) {
        int rc = heap_round(round, &seed, gather, tpaddr, tplen, err, errlen);
        if (rc != 0)
            return rc < 0 ? rc : 0;
    }
    snprintf(err, errlen,
             "the nodes found no common address for the shared heap; try a smaller "
             "MOME_HEAP_SIZE");
    return -ENOMEM;
}

static int epoll_add(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int connect_peers(void *gather, const uint8_t *remote, char *err, size_t errlen)
{
    const void **addrs = mome_calloc((size_t)mome_g.nnodes, sizeof(*addrs));
    size_t *lens = mome_calloc((size_t)mome_g.nnodes, sizeof(*lens));
    int rc = -ENOMEM;
    if (addrs && lens) {
        for (int i = 0; i < mome_g.nnodes; i++) {
            uint32_t len, alen;
            const char *b = mome_boot_blob(gather, mome_g.nnodes, i, &len);
            memcpy(&alen, b + offsetof(boot_blob_t, addrlen), sizeof(alen));
            addrs[i] = b + offsetof(boot_blob_t, addr);
            lens[i] = alen;
        }
        rc = mome_tp_connect(mome_g.nnodes, mome_g.rank, addrs, lens, remote, err, errlen);
        if (rc < 0) /* a peer that aborted or died is the likelier cause: let mome-run say so */
            mome_boot_explain_failure(2000);
    }
    free(addrs);
    free(lens);
    return rc;
}

/*
 * Every node of the job is served by the same momed, or none is. Each finds momed by itself (its
 * address file, MOME_SERVER): one that found none, or another, beside nodes momed serves would
 * read and write the same persistent segments from two places (a momed started or stopped while
 * the job started, an address file on one machine only, MOME_SERVER set for some nodes).
 */
static int agree_server(char *err, size_t errlen)
{
    /* A hash of momed's key, never the key itself (it goes through the launcher) */
    uint64_t id = mome_srv_id(), mine = id ? (id * 0xc4ceb9fe1a85ec53ull) | 1 : 0, theirs;
    void *res;
    uint32_t len;
    char on[160] = "", off[160] = "";
    int rc = mome_boot_allgather(&mine, sizeof(mine), &res);
    if (rc < 0) {
        snprintf(err, errlen, "cannot exchange which momed serves each node: %s", strerror(-rc));
        return rc;
    }
    for (int i = 0; i < mome_g.nnodes; i++) {
        const void *q = mome_boot_blob(res, mome_g.nnodes, i, &len);
        theirs = ~mine;
        if (len == sizeof(theirs))
            memcpy(&theirs, q, sizeof(theirs));
        char *l = theirs == mine ? on : off;
        size_t n = strlen(l);
        if (n + 16 < sizeof(on))
            snprintf(l + n, sizeof(on) - n, "%s%d", n ? "," : "", i);
        else if (!strstr(l, "..."))
            snprintf(l + n, sizeof(on) - n, "...");
    }
    free(res);
    if (!off[0])
        return 0;
    if (mine)
        snprintf(err, errlen,
                 "the job's nodes do not agree on momed: on node(s) %s (this one among them) "
                 "persistent segments are served by %s; node(s) %s reach another momed or none "
                 "(their log says why). Every node of a job must reach the same momed, or none: "
                 "give them the same MOME_REPOSITORY and MOME_SERVER, and start the job once "
                 "momed is up; stopping",
                 on, mome_srv_where(), off);
    else
        snprintf(err, errlen,
                 "the job's nodes do not agree on momed: on node(s) %s (this one among them) no "
                 "momed serves the repository; node(s) %s reach one. Every node of a job must "
                 "reach the same momed, or none: give them the same MOME_REPOSITORY and "
                 "MOME_SERVER, and start the job once momed is up; stopping",
                 on, off);
    return -EINVAL;
}

/* The coherence layer's configuration (the job's size and this node's rank once known). */
static mome_coh_config_t coh_config(void)
{
    return (mome_coh_config_t){.page_size = mome_g.page_size,
                               .nnodes = mome_g.nnodes,
                               .self = mome_g.rank,
                               .dir_migrate = mome_g.cfg.dir_migrate,
                               .prefetch = mome_g.cfg.prefetch,
                               .budget = mome_g.cfg.local_pages,
                               .high = mome_g.cfg.local_high,
                               .low = mome_g.cfg.local_low,
                               .swap_dir = mome_g.cfg.swap_dir,
                               .pageout_disk = mome_g.cfg.pageout_disk,
                               .evict = mome_g.cfg.local_pages ? mome_g.cfg.evict : NULL};
}

static int init_layers(char *err, size_t errlen)
{
    mome_coh_config_t cc = coh_config();
    mome_wire_ctx_t wctx = {.nnodes = (uint32_t)mome_g.nnodes,
                            .page_size = (uint32_t)mome_g.page_size,
                            .key = job_key,
                            .models = mome_model_mask()};
    int rc;

    mome_msg_setup(mome_g.rank, &wctx);
    if ((rc = mome_sync_inject(mome_g.cfg.test_inject)) < 0 ||
        (rc == 0 && mome_msg_inject(mome_g.cfg.test_inject) < 0)) {
        snprintf(err, errlen,
                 "bad value '%s' for MOME_TEST_INJECT: expected corrupt:N, "
                 "truncate:N, range:N, foreign:N or nohello:N",
                 mome_g.cfg.test_inject);
        return -EINVAL;
    }
    mome_msg_set_transport(use_tp ? mome_tp_send : NULL, send_failed);
    mome_msg_set_poll(engine_poll);
    if ((rc = mome_msg_emulate(mome_g.cfg.emu_latency_ns, mome_g.cfg.emu_bandwidth,
                                mome_g.cfg.emu_jitter_ns)) < 0) {
        snprintf(err, errlen, "cannot set up the emulated interconnect: %s", strerror(-rc));
        return rc;
    }
    if ((rc = mome_coh_init(&cc, err, errlen)) < 0)
        return rc;
    if (mome_repo_crash_setup(mome_g.cfg.test_crash_at, mome_g.rank) < 0) {
        snprintf(err, errlen,
                 "bad value '%s' for MOME_TEST_CRASH_AT: expected STEP, STEP:NODE, "
                 "STEP:NODE:stop or STEP:NODE:eio, STEP one of delta-mid, "
                 "delta-data, delta-index, ready, head-tmp, head, dirsync, done, "
                 "returned",
                 mome_g.cfg.test_crash_at);
        return -EINVAL;
    }
    if ((rc = mome_segment_init()) < 0 || (rc = mome_sync_init()) < 0 ||
        (rc = mome_heap_msg_init()) < 0 || (rc = mome_checkpoint_init()) < 0 ||
        (rc = mome_srv_register()) < 0) {
        snprintf(err, errlen, "out of memory setting up the node");
        return rc;
    }
    /* momed, when one serves the repository: persistent segments are then its (dynamic
     * coupling); else the job uses the repository directly. */
    mome_watch_join_stage("reaching momed (MOME_SERVER, or the repository's momed.addr) and "
                          "waiting for its answer");
    rc = mome_srv_connect(mome_g.cfg.repository, mome_g.cfg.server, mome_g.cfg.server_key,
                          mome_g.rank == 0, mome_g.local_size < mome_g.nnodes, err, errlen);
    if (rc > 0)
        rc = mome_srv_hello(mome_g.rank, mome_g.nnodes, mome_g.page_size, err, errlen);
    mome_watch_join_stage(NULL);
    if (rc < 0)
        return rc;
    if (mome_g.nnodes > 1 && (rc = agree_server(err, errlen)) < 0)
        return rc;
    rc = mome_segment_heap_create(heap_addr, heap_size, err, errlen);
    if (rc < 0)
        return rc;
    return mome_heap_init(heap_addr, heap_size, mome_g.nnodes, mome_g.rank, mome_g.page_size);
}

static int start_thread(char *err, size_t errlen)
{
    int rc;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0 || mome_cmd_init() < 0)
        goto err_sys;
    if (mome_msg_timer_fd() >= 0 && epoll_add(mome_msg_timer_fd()) < 0)
        goto err_sys;
    if (epoll_add(mome_cmd_fd()) < 0 || epoll_add(mome_mem_uffd()) < 0 ||
        (use_tp && epoll_add(mome_tp_efd()) < 0) ||
        (use_tp && mome_tp_timer_fd() >= 0 && epoll_add(mome_tp_timer_fd()) < 0) ||
        (mome_boot_fd() >= 0 && epoll_add(mome_boot_fd()) < 0) ||
        (mome_srv_fd() >= 0 && epoll_add(mome_srv_fd()) < 0))
        goto err_sys;
    stop_req = 0;
    park_req = 0;
    node_pid = getpid();
    forked = 0; /* a forked child that starts a node of its own is one */
    static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
    pthread_once(&atfork_once, register_atfork);
    if (sem_init(&parked, 0, 0) < 0 || sem_init(&prio_set, 0, 0) < 0)
        goto err_sys;
    rc = pthread_create(&prog_thread, NULL, progress_main, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot start the progress thread: %s", strerror(rc));
        return -rc;
    }
    pthread_setname_np(prog_thread, "mome-progress");
    while (sem_wait(&prio_set) < 0 && errno == EINTR)
        ;
    app_priority();
    if (!exit_handler && atexit(park_progress) == 0)
        exit_handler = 1;
    return 0;
err_sys:
    rc = -errno;
    snprintf(err, errlen, "cannot set up the progress thread: %s", strerror(errno));
    return rc;
}

/* What a node tells the others of its machine before UCX starts (a job on several machines). */
typedef struct net_blob {
    uint64_t host; /* mome_netif_host_id() */
    uint32_t n;    /* addresses that follow */
    uint32_t pad;
    mome_netif_t ifs[];
} net_blob_t;

/*
 * Where the transport may listen: loopback only when the whole job is on this machine (the
 * launcher says so); otherwise the interfaces on the networks of the job's other machines, which
 * the nodes learn from each other through the launcher. *remote[i]: node i is on another machine.
 */
static int place_network(const mome_boot_info_t *bi, mome_tp_opts_t *o, uint8_t **remote,
                         char *devs, size_t len)
{
    mome_netif_t mine[MOME_NETIF_MAX], *theirs = NULL;
    net_blob_t *b;
    void *res;
    uint32_t blen;
    int n, nt = 0, hosts = 1, rc;
    uint64_t me = mome_netif_host_id();

    *remote = NULL;
    if (bi->local_size >= bi->size) {
        o->ip_devices = "lo";
        mome_info("node", "the job is on this machine: UCX on loopback only");
        return 0;
    }
    n = mome_netif_list(mine, MOME_NETIF_MAX);
    if (n < 0) {
        mome_warn("node", "cannot list this machine's network interfaces: %s", strerror(-n));
        n = 0;
    }
    b = mome_calloc(1, sizeof(*b) + sizeof(mome_netif_t) * (size_t)n);
    *remote = mome_calloc((size_t)bi->size, 1);
    theirs = mome_calloc((size_t)bi->size * MOME_NETIF_MAX, sizeof(*theirs));
    if (!b || !*remote || !theirs) {
        free(b);
        free(theirs);
        return -ENOMEM;
    }
    b->host = me;
    b->n = (uint32_t)n;
    memcpy(b->ifs, mine, sizeof(mome_netif_t) * (size_t)n);
    rc = mome_boot_allgather(b, (uint32_t)(sizeof(*b) + sizeof(mome_netif_t) * (size_t)n), &res);
    free(b);
    if (rc < 0) {
        free(theirs);
        return rc;
    }
    for (int i = 0; i < bi->size; i++) {
        const char *p = mome_boot_blob(res, bi->size, i, &blen);
        net_blob_t h;
        if (blen < sizeof(h))
            continue;
        memcpy(&h, p, sizeof(h));
        if (h.host == me)
            continue;
        (*remote)[i] = 1;
        int seen = 0; /* count machines once: by the first node of each */
        for (int k = 0; k < i && !seen; k++) {
            uint32_t kl;
            const char *q = mome_boot_blob(res, bi->size, k, &kl);
            uint64_t hk;
            memcpy(&hk, q, sizeof(hk));
            seen = kl >= sizeof(h) && hk == h.host;
        }
        hosts += !seen;
        for (uint32_t j = 0; j < h.n && sizeof(h) + (j + 1) * sizeof(mome_netif_t) <= blen &&
                             nt < bi->size * MOME_NETIF_MAX; j++)
            memcpy(&theirs[nt++], p + sizeof(h) + j * sizeof(mome_netif_t), sizeof(*theirs));
    }
    free(res);
    o->remote_peers = hosts > 1;
    if (hosts == 1) {
        /* The launcher counts the nodes of this machine apart, yet they share one network. */
        o->ip_devices = "lo";
        mome_info("node", "the job's nodes are all on this machine: UCX on loopback only");
    } else if (mome_netif_choose(mine, n, theirs, nt, devs, len) > 0) {
        o->ip_devices = devs;
        mome_info("node", "the job is on %d machines: UCX on %s", hosts, devs);
    } else if (hosts > 1) {
        mome_warn("node", "none of this machine's interfaces is on the network of the job's "
                          "other machines; UCX may use any (set UCX_NET_DEVICES to choose)");
    }
    free(theirs);
    return 0;
}

int mome_node_start(char *err, size_t errlen)
{
    mome_boot_info_t bi;
    const void *tpaddr = "";
    size_t tplen = 0;
    void *gather = NULL;
    mome_tp_opts_t tpo = {.fail = peer_failed,
                          .waiting = sends_waiting,
                          .sender = mome_msg_sender,
                          .peer_timeout_ms = mome_g.cfg.peer_timeout * 1000};
    uint8_t *remote = NULL;
    char devs[512];
    int rc;

    scan_fds(0);
    /* What each node can find wrong alone, before any joins the job: all of them stop with the
     * same word then, rather than the first to find it while the others start UCX with it and
     * say they lost it (mome_config_load checked the values). */
    mome_coh_config_t cc = coh_config();
    rc = mome_coh_check(&cc, err, errlen);
    if (rc < 0)
        return rc;
    rc = mome_boot_init(&bi, err, errlen);
    if (rc < 0)
        return rc;
    mome_g.rank = bi.rank;
    mome_g.nnodes = bi.size;
    mome_g.local_rank = bi.local_rank;
    mome_g.local_size = bi.local_size;
    mome_g.app = bi.app;
    mome_g.app_rank = bi.app_rank;
    mome_g.app_size = bi.app_size;
    mome_g.app_first = bi.rank - bi.app_rank;
    mome_g.backend = bi.backend;
    job_key = bi.key;
    mome_g.page_size = mome_g.cfg.page_size;
    mome_g.page_shift = (unsigned)__builtin_ctzl(mome_g.page_size);
    mome_log_set_node(bi.rank);
    mome_log_open(mome_g.cfg.log_file);
    mome_log_set_fatal_hook(mome_boot_request_abort); /* a protocol failure stops the job */
    /* The key's hash names the job in the trace (mome-trace refuses to mix two jobs' files). */
    mome_trace_set_job(job_key * 0xff51afd7ed558ccdull | 1);
    mome_trace_open(mome_g.cfg.trace, bi.rank, bi.size, (uint32_t)mome_g.cfg.page_size, 0);
    mome_stats_reset();
    mome_clock_reset(0);

    /*
     * Under a launcher, keep each node on one core (even alone): its faults then hand over to the
     * progress thread on the same core (~13 us) instead of waking it on another (~60-120 us here).
     * A program started alone keeps the placement its user gave it.
     */
    if (mome_g.cfg.bind != MOME_BIND_NONE && strcmp(bi.backend, "single") != 0) {
        mome_topo_place_t place;
        /* Other jobs on this machine tell this job's nodes by a hash of the key, not the key. */
        if (mome_topo_bind(mome_g.cfg.bind, bi.local_rank, job_key * 0x9e3779b97f4a7c15ull,
                           &place) == 0 && place.index >= 0) {
            mome_info("node", "bound to %s (local rank %d of %d); the progress thread runs there "
                      "too", place.where, bi.local_rank, bi.local_size);
            /* No other node of the job shares it: see progress_priority. */
            own_core = bi.local_size <= place.nfree;
        } else
            mome_info("node", "not bound (local rank %d of %d): %s", bi.local_rank,
                      bi.local_size, place.why);
    }
    rc = mome_mem_init(mome_g.page_size, err, errlen);
    if (rc < 0)
        return rc;
    use_tp = mome_g.nnodes > 1;
    if (use_tp && (rc = place_network(&bi, &tpo, &remote, devs, sizeof(devs))) < 0) {
        snprintf(err, errlen, "cannot exchange the nodes' network addresses: %s", strerror(-rc));
        return rc;
    }
    if (use_tp) {
        mome_watch_hold(); /* no file of UCX's left in /dev/shm by a SIGTERM now */
        rc = mome_tp_init(tp_recv, NULL, mome_msg_max_payload(mome_g.page_size), &tpo, &tpaddr,
                          &tplen);
        mome_watch_release();
    }
    if (use_tp && rc < 0) {
        snprintf(err, errlen, "cannot start UCX (see the log above; check UCX_TLS)");
        goto out_free;
    }
    rc = agree_heap(err, errlen, &gather, tpaddr, tplen);
    if (rc < 0)
        goto out_free;
    if (use_tp) {
        mome_watch_in_ucx(1);
        rc = connect_peers(gather, remote, err, errlen);
        mome_watch_in_ucx(0);
        if (rc < 0)
            goto out_free;
    }
    if ((rc = init_layers(err, errlen)) < 0)
        goto out_free;
    rc = start_thread(err, errlen);
    /* From here a node stopped by SIGTERM says what it waits for (the nodes not heard from). */
    if (rc == 0)
        mome_watch_start();
    if (rc == 0 && use_tp) {
        mome_cmd_t hello = {.fn = mome_sync_cmd_hello};
        mome_cmd_run(&hello);
    }
    if (rc == 0)
        scan_fds(1);
out_free:
    free(gather);
    free(remote);
    return rc;
}

int mome_node_stop(void)
{
    mome_cmd_t c = {.fn = stop_fn};
    void *res;

    mome_cmd_run(&c);
    pthread_join(prog_thread, NULL);
    __atomic_store_n(&prog_tid, 0, __ATOMIC_RELEASE);
    app_priority_restore();
    mome_trace_close();
    sem_destroy(&parked);
    sem_destroy(&prio_set);
    /* Everyone has flushed its sends before anyone tears its transport down. */
    if (mome_boot_allgather("", 0, &res) == 0)
        free(res);
    if (mome_g.cfg.stats)
        mome_stats_print(mome_g.rank);

    mome_srv_bye();
    mome_msg_close();
    mome_srv_close();
    if (use_tp)
        mome_tp_fini();
    mome_segment_fini();
    mome_checkpoint_fini();
    mome_heap_fini();
    mome_sync_fini();
    mome_coh_fini();
    mome_msg_fini();
    mome_msg_unregister_all();
    mome_view_fini();
    mome_mem_fini();
    close(epfd);
    epfd = -1;
    mome_cmd_fini();
    if (heap_addr)
        munmap(heap_addr, heap_size);
    heap_addr = NULL;
    if (mome_g.cfg.bind != MOME_BIND_NONE)
        mome_topo_unbind();
    mome_boot_finalize();
    return 0;
}
