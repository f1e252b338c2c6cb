/*
 * node.c - the node engine: startup and teardown, the progress thread, message sending and
 * dispatch, and the command queue from application threads.
 *
 * The progress thread is the only thread that touches protocol state. It waits in epoll on the UCX
 * worker's event fd, the userfaultfd, the command eventfd and the launcher socket; after activity
 * while a reply is awaited it keeps polling for MOME_SPIN_US (yielding its core) so that a reply
 * arriving right away costs no wake-up, then sleeps: an idle node never spins, and a node whose
 * application computes is woken (and preempts it) when a request arrives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
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
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "boot/boot.h"
#include "coherence/consistency.h"
#include "coherence/directory.h"
#include "memory/fault.h"
#include "core/heap.h"
#include "base/log.h"
#include "memory/memory.h"
#include "core/node.h"
#include "coherence/release.h"
#include "core/segment.h"
#include "base/stats.h"
#include "core/sync.h"
#include "base/topology.h"
#include "net/transport.h"

mome_node_t mome_g;

static pthread_t prog_thread;
static pid_t prog_tid;
static int epfd = -1, cmd_efd = -1, timer_fd = -1;
static int use_tp;         /* more than one node: UCX is up */
static int stop_req;       /* progress thread: leave the loop */
static int park_req;       /* progress thread: stop for good, the process is exiting */
static sem_t parked;       /* posted once the progress thread has parked */
static int exit_handler;   /* park_progress is registered with atexit */
static int outstanding;    /* requests awaiting replies */
static int woke;           /* an application thread was woken this round */

/* Commands from application threads. */
static pthread_mutex_t cmd_lock = PTHREAD_MUTEX_INITIALIZER;
static mome_cmd_t *cmd_head, *cmd_tail;

/* Messages to self, and messages delayed to emulate a slower interconnect. */
typedef struct qmsg {
    struct qmsg *next;
    uint64_t due;
    uint32_t len;
    char buf[];
} qmsg_t;
static qmsg_t *lq_head, *lq_tail;
static qmsg_t *dq_head, *dq_tail; /* ordered by due time (constant delay per size class) */

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

void mome_node_outstanding(int delta)
{
    outstanding += delta;
}

void mome_node_woke(void)
{
    woke = 1;
}

/* ---- messages ---- */

static void queue_append(qmsg_t **head, qmsg_t **tail, qmsg_t *q)
{
    q->next = NULL;
    if (*tail)
        (*tail)->next = q;
    else
        *head = q;
    *tail = q;
}

static qmsg_t *queue_copy(const void *hdr, size_t hl, const void *data, size_t len)
{
    qmsg_t *q = malloc(sizeof(*q) + hl + len);
    if (!q)
        return NULL;
    q->len = (uint32_t)(hl + len);
    memcpy(q->buf, hdr, hl);
    if (len)
        memcpy(q->buf + hl, data, len);
    return q;
}

int mome_send(int node, mome_msg_t *m)
{
    uint8_t hdr[MOME_MSG_HDR_SIZE];
    int rc;

    m->src = (uint32_t)mome_g.rank;
    m->date = mome_clock_tick();
    mome_msg_encode(m, hdr);
    mome_trace("node", "send %s to %d seg %#llx page %llu node %u count %u flags %#x",
               mome_msg_type_name(m->type), node, (unsigned long long)m->seg,
               (unsigned long long)m->page, m->node, m->count, m->flags);
    if (node == mome_g.rank) {
        qmsg_t *q = queue_copy(hdr, sizeof(hdr), m->payload, m->len);
        if (!q) {
            mome_error("node", "out of memory queueing a message to self");
            return -ENOMEM;
        }
        queue_append(&lq_head, &lq_tail, q);
        return 0;
    }
    rc = mome_tp_send(node, hdr, sizeof(hdr), m->payload, m->len);
    if (rc < 0) {
        /* The peer most likely stopped: if the job is going down, say why as the others do. */
        mome_boot_explain_failure(2000);
        mome_die(1, "cannot send to node %d (%s); stopping", node,
                 rc == -EIO ? mome_tp_send_error() : strerror(-rc));
    }
    MOME_STAT_INC(msgs_sent);
    MOME_STAT_ADD(bytes_sent, sizeof(hdr) + m->len);
    return 0;
}

static void dispatch(const mome_msg_t *m)
{
    mome_trace("node", "recv %s from %u seg %#llx page %llu node %u count %u flags %#x",
               mome_msg_type_name(m->type), m->src, (unsigned long long)m->seg,
               (unsigned long long)m->page, m->node, m->count, m->flags);
    switch (m->type) {
    case MOME_MSG_READ_REQ:
    case MOME_MSG_WRITE_REQ:
    case MOME_MSG_SYNC_REQ:
    case MOME_MSG_DONE:
    case MOME_MSG_FLUSH_ACK:
    case MOME_MSG_NOTICE:
    case MOME_MSG_STALE_ACK:
    case MOME_MSG_DIR_MOVE_ACK: mome_dir_msg(m); break;
    case MOME_MSG_DIR_MOVE:
        mome_dir_msg(m);
        mome_cons_hint(m->seg, m->page, mome_g.rank); /* ask ourselves from now on */
        break;
    case MOME_MSG_FWD_READ:
    case MOME_MSG_FWD_WRITE:
    case MOME_MSG_FWD_SNAP:
    case MOME_MSG_FWD_SYNC:
    case MOME_MSG_INV:
    case MOME_MSG_FLUSH:
    case MOME_MSG_DIFF:
    case MOME_MSG_STALE:
    case MOME_MSG_NOTICE_ACK:
    case MOME_MSG_SYNC_OK:
    case MOME_MSG_PUSH:
    case MOME_MSG_PUSH_ACK:
    case MOME_MSG_GRANT:
    case MOME_MSG_DATA:
    case MOME_MSG_INV_ACK: mome_cons_msg(m); break;
    case MOME_MSG_SEG_OPEN:
    case MOME_MSG_SEG_OPEN_REPLY:
    case MOME_MSG_SEG_CLOSE:
    case MOME_MSG_SEG_UNLINK:
    case MOME_MSG_SEG_UNLINK_REPLY:
    case MOME_MSG_SEG_DESTROY: mome_seg_msg(m); break;
    case MOME_MSG_LOCK_REQ:
    case MOME_MSG_LOCK_GRANT:
    case MOME_MSG_LOCK_REL:
    case MOME_MSG_BAR_ENTER:
    case MOME_MSG_BAR_EXIT: mome_sync_msg(m); break;
    case MOME_MSG_HEAP_FREE:
        if (mome_heap_free_local(mome_heap_at(m->arg)) < 0)
            mome_warn("heap", "node %u freed %p, which is not a live MomeMalloc block", m->src,
                      mome_heap_at(m->arg));
        break;
    default: break;
    }
}

static uint64_t emu_delay_ns(size_t len)
{
    uint64_t d = mome_g.cfg.emu_latency_ns;
    if (mome_g.cfg.emu_bandwidth)
        d += (uint64_t)len * 1000000000ull / mome_g.cfg.emu_bandwidth;
    return d;
}

static void arm_timer(void)
{
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (dq_head) {
        uint64_t due = dq_head->due;
        its.it_value.tv_sec = (time_t)(due / 1000000000ull);
        its.it_value.tv_nsec = (long)(due % 1000000000ull);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* A message from the transport (remote) or the local queue. */
static void deliver(const void *hdr, size_t hl, const void *data, size_t len, int remote)
{
    mome_msg_t m;
    int rc = mome_msg_decode(hdr, hl, data, len, &mome_g.pctx, &m);

    if (rc < 0) {
        mome_warn("node", "dropped a malformed %s message (%zu+%zu bytes): %s",
                  remote ? "remote" : "local", hl, len, strerror(-rc));
        return;
    }
    mome_clock_merge(m.date);
    if (remote) {
        MOME_STAT_INC(msgs_received);
        MOME_STAT_ADD(bytes_received, hl + len);
        if (m.type == MOME_MSG_DATA && (m.flags & MOME_MF_DATA) && timer_fd >= 0) {
            /* Emulated interconnect: hold page transfers for latency + size / bandwidth. */
            qmsg_t *q = queue_copy(hdr, hl, data, len);
            if (q) {
                q->due = mome_now_ns() + emu_delay_ns(len);
                queue_append(&dq_head, &dq_tail, q);
                if (dq_head == q)
                    arm_timer();
                return;
            }
        }
    }
    dispatch(&m);
}

static void tp_recv(const void *hdr, size_t hl, const void *data, size_t len, void *arg)
{
    deliver(hdr, hl, data, len, 1);
}

static int drain_local(void)
{
    int n = 0;
    while (lq_head) {
        qmsg_t *q = lq_head;
        lq_head = q->next;
        if (!lq_head)
            lq_tail = NULL;
        deliver(q->buf, MOME_MSG_HDR_SIZE, q->buf + MOME_MSG_HDR_SIZE,
                q->len - MOME_MSG_HDR_SIZE, 0);
        free(q);
        n++;
    }
    return n;
}

static int drain_delayed(void)
{
    int n = 0;
    uint64_t now = mome_now_ns();
    while (dq_head && dq_head->due <= now) {
        qmsg_t *q = dq_head;
        mome_msg_t m;
        dq_head = q->next;
        if (!dq_head)
            dq_tail = NULL;
        if (mome_msg_decode_flat(q->buf, q->len, &mome_g.pctx, &m) == 0)
            dispatch(&m);
        free(q);
        n++;
    }
    if (n)
        arm_timer();
    return n;
}

/* ---- commands ---- */

static long futex(uint32_t *addr, int op, uint32_t val)
{
    return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void cmd_push(mome_cmd_t *c)
{
    uint64_t one = 1;
    c->next = NULL;
    pthread_mutex_lock(&cmd_lock);
    if (cmd_tail)
        cmd_tail->next = c;
    else
        cmd_head = c;
    cmd_tail = c;
    pthread_mutex_unlock(&cmd_lock);
    if (write(cmd_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        mome_error("node", "cannot wake the progress thread: %m");
}

int mome_cmd_run(mome_cmd_t *c)
{
    c->tid = gettid_();
    c->async = 0;
    __atomic_store_n(&c->done, 0, __ATOMIC_RELAXED);
    cmd_push(c);
    while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE))
        futex(&c->done, FUTEX_WAIT_PRIVATE, 0);
    return c->status;
}

void mome_cmd_post(mome_cmd_t *c)
{
    c->tid = gettid_();
    c->async = 1;
    cmd_push(c);
}

void mome_cmd_complete(mome_cmd_t *c, int status)
{
    c->status = status;
    if (c->async) {
        free(c);
        return;
    }
    /* Pairs with the acquire load in mome_cmd_run; c may vanish right after the store. */
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    futex(&c->done, FUTEX_WAKE_PRIVATE, 1);
}

void mome_cmd_fail(mome_cmd_t *c, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    mome_debug("api", "%s", c->err);
    mome_cmd_complete(c, -err);
}

static int drain_cmds(void)
{
    mome_cmd_t *c;
    int n = 0;
    pthread_mutex_lock(&cmd_lock);
    c = cmd_head;
    cmd_head = cmd_tail = NULL;
    pthread_mutex_unlock(&cmd_lock);
    while (c) {
        mome_cmd_t *next = c->next;
        c->fn(c);
        c = next;
        n++;
    }
    return n;
}

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

    if (!__atomic_load_n(&prog_tid, __ATOMIC_ACQUIRE) || mome_node_on_progress())
        return;
    __atomic_store_n(&park_req, 1, __ATOMIC_RELEASE);
    if (write(cmd_efd, &one, sizeof(one)) < 0)
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
    uint64_t v;

    for (int i = 0; i < k; i++) {
        int fd = evs[i].data.fd;
        if (fd == mome_mem_uffd()) {
            n += mome_fault_poll();
        } else if (fd == cmd_efd) {
            if (read(cmd_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                mome_error("node", "eventfd read failed: %m");
            n += drain_cmds();
        } else if (fd == timer_fd) {
            if (read(timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                mome_error("node", "timerfd read failed: %m");
            n += drain_delayed();
        } else if (fd == mome_boot_fd()) {
            mome_boot_event(); /* a lost node: does not return */
        } else {
            n++; /* UCX has work: progressed next round */
        }
    }
    return n;
}

/*
 * Ask the scheduler for a short time slice (EEVDF custom slice, Linux >= 6.12): a woken progress
 * thread then preempts an application thread spinning on its core at once instead of after that
 * thread's slice (~3 ms). Older kernels refuse the call; nothing else changes.
 */
static void short_slice(void)
{
    struct {
        uint32_t size, policy;
        uint64_t flags;
        int32_t nice;
        uint32_t priority;
        uint64_t runtime, deadline, period;
    } attr = {.size = 48, .policy = 0 /* SCHED_OTHER */, .runtime = 100000 /* ns */};
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
        mome_debug("node", "no short scheduler slice for the progress thread: %m");
}

static void *progress_main(void *arg)
{
    sigset_t all;
    uint64_t last = mome_now_ns(), spin_ns = mome_g.cfg.spin_us * 1000;

    /* Signals are for the application's threads. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    __atomic_store_n(&prog_tid, gettid_(), __ATOMIC_RELEASE);
    short_slice();
    while (!stop_req) {
        int n = 0, timeout = 0;
        park_if_asked();
        /* While a reply is due, poll the transport alone a few rounds before any syscall. */
        for (int i = 0; i < (outstanding > 0 ? 64 : 1) && n == 0; i++) {
            if (use_tp)
                n += mome_tp_progress();
            n += drain_local();
        }
        if (woke) {
            /*
             * A faulting thread of this core just became runnable: let it run now rather than
             * after this thread sleeps. It usually faults again soon, and then this thread is
             * already awake to take the fault.
             */
            woke = 0;
            sched_yield();
            n += mome_fault_poll();
        }
        if (n == 0 && outstanding > 0 && mome_now_ns() - last < spin_ns) {
            /*
             * A reply is due soon and the thread waiting for it is blocked: poll, but yield so a
             * node sharing this core can send it. Polling while no reply is awaited would keep a
             * busy application thread from this core's wake-ups, so then sleep instead.
             */
            sched_yield();
        } else if (n == 0) {
            if (!use_tp || mome_tp_arm() == 0)
                timeout = -1;
        }
        n += wait_events(timeout);
        if (n)
            last = mome_now_ns();
    }
    if (use_tp)
        mome_tp_flush();
    return NULL;
}

/* ---- startup ---- */

typedef struct boot_blob {
    uint32_t page_size;
    uint32_t addrlen;
    uint64_t heap_addr;
    uint64_t heap_size;
    char addr[];
} boot_blob_t;

/* Reserve heap_size bytes of address space at the same address on every node. */
static int agree_heap(char *err, size_t errlen, void **gather, const void *tpaddr, size_t tplen)
{
    size_t ps = mome_g.page_size;
    void *keep[8] = {0};

    heap_size = (mome_g.cfg.heap_size / (uint64_t)mome_g.nnodes / ps) * ps * (uint64_t)mome_g.nnodes;
    if (heap_size == 0) {
        snprintf(err, errlen, "MOME_HEAP_SIZE is too small for %d nodes", mome_g.nnodes);
        return -EINVAL;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        boot_blob_t *b = calloc(1, sizeof(*b) + tplen);
        char *mine = NULL;
        void *res;
        uint32_t len;
        int ok = 1;

        if (!b)
            return -ENOMEM;
        b->page_size = (uint32_t)ps;
        b->addrlen = (uint32_t)tplen;
        b->heap_size = heap_size;
        memcpy(b->addr, tpaddr, tplen);
        if (mome_g.rank == 0) {
            size_t span = heap_size + (1ul << 30);
            char *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                           0);
            if (r == MAP_FAILED) {
                free(b);
                snprintf(err, errlen, "cannot reserve %llu bytes for the shared heap: %s",
                         (unsigned long long)heap_size, strerror(errno));
                return -ENOMEM;
            }
            keep[attempt] = r;
            b->heap_addr = ((uint64_t)(uintptr_t)r + (1ul << 30) - 1) & ~((uint64_t)(1ul << 30) - 1);
        }
        int rc = mome_boot_allgather(b, (uint32_t)(sizeof(*b) + tplen), &res);
        free(b);
        if (rc < 0)
            return rc;
        boot_blob_t b0, bi; /* blobs are packed back to back: copy their headers out */
        memcpy(&b0, mome_boot_blob(res, mome_g.nnodes, 0, &len), sizeof(b0));
        for (int i = 0; i < mome_g.nnodes; i++) {
            memcpy(&bi, mome_boot_blob(res, mome_g.nnodes, i, &len), sizeof(bi));
            if (bi.page_size != ps) {
                snprintf(err, errlen, "MOME_PAGE_SIZE differs between nodes (%u on node %d, %zu "
                                      "here); set the same value for every node",
                         bi.page_size, i, ps);
                free(res);
                return -EINVAL;
            }
        }
        char *want = (char *)(uintptr_t)b0.heap_addr;
        if (mome_g.rank == 0) {
            mine = want;
        } else {
            mine = mmap(want, heap_size, PROT_NONE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
            if (mine == MAP_FAILED || mine != want) {
                if (mine != MAP_FAILED)
                    munmap(mine, heap_size);
                ok = 0;
            }
        }
        /* Second round: did everyone get the address? */
        uint8_t flag = (uint8_t)ok;
        void *res2;
        rc = mome_boot_allgather(&flag, 1, &res2);
        if (rc < 0) {
            free(res);
            return rc;
        }
        int all = 1;
        for (int i = 0; i < mome_g.nnodes; i++) {
            const uint8_t *f = mome_boot_blob(res2, mome_g.nnodes, i, &len);
            all &= *f;
        }
        free(res2);
        if (all) {
            heap_addr = want;
            *gather = res;
            /* Node 0 keeps its reservation; release the failed tries. */
            for (int k = 0; k < attempt; k++)
                munmap(keep[k], heap_size + (1ul << 30));
            return 0;
        }
        if (ok && mome_g.rank != 0)
            munmap(mine, heap_size);
        free(res);
    }
    snprintf(err, errlen, "the nodes found no common address for the shared heap; try a smaller "
                          "MOME_HEAP_SIZE");
    return -ENOMEM;
}

static int epoll_add(int fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int connect_peers(void *gather, char *err, size_t errlen)
{
    const void **addrs = calloc((size_t)mome_g.nnodes, sizeof(*addrs));
    size_t *lens = calloc((size_t)mome_g.nnodes, sizeof(*lens));
    int rc = -ENOMEM;
    if (addrs && lens) {
        for (int i = 0; i < mome_g.nnodes; i++) {
            uint32_t len, alen;
            const char *b = mome_boot_blob(gather, mome_g.nnodes, i, &len);
            memcpy(&alen, b + offsetof(boot_blob_t, addrlen), sizeof(alen));
            addrs[i] = b + offsetof(boot_blob_t, addr);
            lens[i] = alen;
        }
        rc = mome_tp_connect(mome_g.nnodes, mome_g.rank, addrs, lens, err, errlen);
        if (rc < 0) /* a peer that aborted or died is the likelier cause: let mome-run say so */
            mome_boot_explain_failure(2000);
    }
    free(addrs);
    free(lens);
    return rc;
}

static int init_modules(char *err, size_t errlen)
{
    int rc;
    if ((rc = mome_txn_init()) < 0 || (rc = mome_dir_init(mome_g.nnodes, mome_g.rank,
                                                          mome_g.cfg.dir_migrate)) < 0 ||
        (rc = mome_seg_init()) < 0 || (rc = mome_sync_init()) < 0 ||
        (rc = mome_cons_init()) < 0 || (rc = mome_rel_init()) < 0) {
        snprintf(err, errlen, "out of memory setting up the node");
        return rc;
    }
    rc = mome_seg_heap_create(heap_addr, heap_size, err, errlen);
    if (rc < 0)
        return rc;
    return mome_heap_init(heap_addr, heap_size, mome_g.nnodes, mome_g.rank, mome_g.page_size);
}

static int start_thread(char *err, size_t errlen)
{
    int rc;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd < 0 || cmd_efd < 0)
        goto err_sys;
    if (mome_g.cfg.emu_latency_ns || mome_g.cfg.emu_bandwidth) {
        timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (timer_fd < 0 || epoll_add(timer_fd) < 0)
            goto err_sys;
    }
    if (epoll_add(cmd_efd) < 0 || epoll_add(mome_mem_uffd()) < 0 ||
        (use_tp && epoll_add(mome_tp_efd()) < 0) ||
        (mome_boot_fd() >= 0 && epoll_add(mome_boot_fd()) < 0))
        goto err_sys;
    stop_req = 0;
    park_req = 0;
    sem_init(&parked, 0, 0);
    rc = pthread_create(&prog_thread, NULL, progress_main, NULL);
    if (rc) {
        snprintf(err, errlen, "cannot start the progress thread: %s", strerror(rc));
        return -rc;
    }
    pthread_setname_np(prog_thread, "mome-progress");
    if (!exit_handler && atexit(park_progress) == 0)
        exit_handler = 1;
    return 0;
err_sys:
    rc = -errno;
    snprintf(err, errlen, "cannot set up the progress thread: %s", strerror(errno));
    return rc;
}

int mome_node_start(char *err, size_t errlen)
{
    mome_boot_info_t bi;
    const void *tpaddr = "";
    size_t tplen = 0;
    void *gather = NULL;
    int rc;

    rc = mome_boot_init(&bi, err, errlen);
    if (rc < 0)
        return rc;
    mome_g.rank = bi.rank;
    mome_g.nnodes = bi.size;
    mome_g.local_rank = bi.local_rank;
    mome_g.local_size = bi.local_size;
    mome_g.backend = bi.backend;
    mome_g.page_size = mome_g.cfg.page_size;
    mome_g.page_shift = (unsigned)__builtin_ctzl(mome_g.page_size);
    mome_g.pctx.nnodes = (uint32_t)bi.size;
    mome_g.pctx.page_size = (uint32_t)mome_g.page_size;
    mome_log_set_node(bi.rank);
    mome_log_open(mome_g.cfg.log_file);
    mome_stats_reset();
    mome_clock_reset(0);

    /*
     * Under a launcher, keep each node on one core (even alone): its faults then hand over to the
     * progress thread on the same core (~13 us) instead of waking it on another (~60-120 us here).
     * A program started alone keeps the placement its user gave it.
     */
    if (mome_g.cfg.bind == MOME_BIND_CORE && strcmp(bi.backend, "single") != 0)
        mome_topo_bind(bi.local_rank);
    rc = mome_mem_init(mome_g.page_size, err, errlen);
    if (rc < 0)
        return rc;
    use_tp = mome_g.nnodes > 1;
    if (use_tp && (rc = mome_tp_init(tp_recv, NULL, &tpaddr, &tplen)) < 0) {
        snprintf(err, errlen, "cannot start UCX (see the log above; check UCX_TLS)");
        return rc;
    }
    rc = agree_heap(err, errlen, &gather, tpaddr, tplen);
    if (rc < 0)
        return rc;
    if (use_tp && (rc = connect_peers(gather, err, errlen)) < 0)
        goto out_free;
    if ((rc = init_modules(err, errlen)) < 0)
        goto out_free;
    rc = start_thread(err, errlen);
out_free:
    free(gather);
    return rc;
}

int mome_node_stop(void)
{
    mome_cmd_t c = {.fn = stop_fn};
    void *res;

    mome_cmd_run(&c);
    pthread_join(prog_thread, NULL);
    __atomic_store_n(&prog_tid, 0, __ATOMIC_RELEASE);
    sem_destroy(&parked);
    /* Everyone has flushed its sends before anyone tears its transport down. */
    if (mome_boot_allgather("", 0, &res) == 0)
        free(res);
    if (mome_g.cfg.stats)
        mome_stats_print(mome_g.rank);

    mome_seg_fini();
    mome_rel_fini();
    mome_heap_fini();
    mome_sync_fini();
    mome_dir_fini();
    mome_txn_fini();
    mome_cons_fini();
    if (use_tp)
        mome_tp_fini();
    mome_mem_fini();
    while (lq_head) {
        qmsg_t *q = lq_head;
        lq_head = q->next;
        free(q);
    }
    lq_tail = NULL;
    while (dq_head) {
        qmsg_t *q = dq_head;
        dq_head = q->next;
        free(q);
    }
    dq_tail = NULL;
    close(epfd);
    close(cmd_efd);
    if (timer_fd >= 0)
        close(timer_fd);
    epfd = cmd_efd = timer_fd = -1;
    if (heap_addr)
        munmap(heap_addr, heap_size);
    heap_addr = NULL;
    mome_boot_finalize();
    return 0;
}
