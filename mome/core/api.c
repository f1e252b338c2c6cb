/*
 * api.c - the public calls: argument checks, the command to the progress thread, and turning an
 * internal -errno into -1, errno and a MomeError() message.
 */
#include "ac_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/topology.h"
#include "boot/boot.h"
#include "coherence/seg.h"
#include "core/checkpoint.h"
#include "core/heap.h"
#include "core/node.h"
#include "core/segment.h"
#include "core/sync.h"
#include "core/watch.h"
#include "mome.h"
#include "net/transport.h"

static __thread char err_buf[600]; /* MomeError(3): at most 599 bytes */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static char init_failed[400]; /* why MomeInit failed for good (init_lock) */

static int fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof(err_buf), fmt, ap);
    va_end(ap);
    errno = err;
    return -1;
}

static int running(const char *call)
{
    mome_cmd_call = call;
    if (__atomic_load_n(&mome_g.state, __ATOMIC_ACQUIRE) == MOME_STATE_RUNNING) {
        /* A forked child inherits the state but not the progress thread: a command would wait
         * for ever. It is not a node of the job. */
        if (mome_node_forked()) {
            fail(ENOTCONN,
                 "%s: this process was forked by a Mome node after MomeInit: it is not a "
                 "node of the job (only the parent calls Mome)",
                 call);
            return 0;
        }
        /* Exiting: Mome's exit handler (registered by MomeInit) has stopped the progress thread,
         * and a command would wait for ever (helper-84: MomeFinalize from an atexit handler
         * registered before MomeInit, which runs after Mome's). */
        if (mome_node_parked()) {
            fail(ESHUTDOWN,
                 "%s: the process is exiting and Mome has stopped: call MomeFinalize before "
                 "main returns or exit is called, or register the exit handler that calls it "
                 "after MomeInit",
                 call);
            return 0;
        }
        return 1;
    }
    int state = __atomic_load_n(&mome_g.state, __ATOMIC_ACQUIRE);
    if (state == MOME_STATE_DONE)
        fail(ENOTCONN, "%s: called after MomeFinalize: Mome has stopped", call);
    else if (state == MOME_STATE_FAILED)
        fail(ENOTCONN, "%s: MomeInit failed: this process is not a node of the job", call);
    else
        fail(ENOTCONN, "%s: Mome is not initialised (call MomeInit first)", call);
    return 0;
}

/* Run a command; on failure its message becomes this thread's MomeError(). */
static int run(mome_cmd_t *c)
{
    int rc;
    c->call = mome_cmd_call;
    rc = mome_cmd_run(c);
    if (rc < 0) {
        snprintf(err_buf, sizeof(err_buf), "%s", c->err);
        errno = -rc;
        return -1;
    }
    return rc;
}

/* A job barrier, reported as part of this thread's current call (MomeFinalize, MomeCheckpoint:
 * not as the public MomeBarrier, which names itself). 0 on failure, with MomeError(). */
static MomeDate job_barrier(uint64_t seg)
{
    mome_cmd_t c = {.fn = mome_sync_cmd_barrier, .u.barrier.seg = seg};
    if (run(&c) < 0)
        return 0;
    return c.result;
}

const char *MomeError(void)
{
    return err_buf;
}

const char *MomeVersion(void)
{
    return PACKAGE_VERSION;
}

/* Progress thread (which owns the transport): say which UCX transports reach each node. */
static void log_peers_fn(mome_cmd_t *c)
{
    mome_tp_log_peers();
    mome_cmd_complete(c, 0);
}

int MomeInit(int *argc, char ***argv)
{
    char err[512] = "";
    int rc;

    (void)argc;
    (void)argv;
    pthread_mutex_lock(&init_lock);
    if (mome_g.state == MOME_STATE_RUNNING) {
        pthread_mutex_unlock(&init_lock);
        if (mome_node_forked())
            return fail(EALREADY, "MomeInit: this process was forked by a Mome node after its "
                                  "MomeInit: it cannot join the job (only its parent is a node; "
                                  "exec a program launched as a node of its own instead)");
        return fail(EALREADY, "MomeInit: this process already joined the job");
    }
    if (mome_g.state == MOME_STATE_DONE) {
        pthread_mutex_unlock(&init_lock);
        return fail(EALREADY, "MomeInit: called after MomeFinalize; a process joins one job once");
    }
    if (mome_g.state == MOME_STATE_FAILED) {
        /* Its launcher's word was taken: tried again, it became a job of one node of its own
         * (helper-99). */
        fail(EALREADY,
             "MomeInit: an earlier MomeInit of this process failed once it had asked "
             "the launcher to join the job (%s); it cannot try again: exit, and start "
             "the job again",
             init_failed);
        pthread_mutex_unlock(&init_lock);
        return -1;
    }
    rc = mome_config_load(&mome_g.cfg, err, sizeof(err));
    if (rc == 0) {
        mome_log_level = mome_g.cfg.log_level;
        mome_watch_join_begin(); /* stopped while it joins, the node says where */
        rc = mome_node_start(err, sizeof(err));
        if (rc < 0)
            mome_watch_join_end();
        /* A bad knob, or a setting the node found wrong alone before asking its launcher (a swap
         * directory it cannot write: mome_coh_check), may be set right and tried again; once the
         * launcher was asked, no. */
        if (rc < 0 && mome_boot_asked()) {
            mome_g.state = MOME_STATE_FAILED;
            snprintf(init_failed, sizeof(init_failed), "%s", err);
        }
    }
    if (rc == 0) {
        mome_config_warn_unknown();
        mome_config_warn_unused(&mome_g.cfg, mome_g.nnodes, strcmp(mome_g.backend, "single"));
        mome_boot_warn_foreign();
    }
    if (rc < 0) {
        pthread_mutex_unlock(&init_lock);
        /* Said once: by the program, from MomeError() (the log has it at debug level). */
        mome_debug("api", "MomeInit: %s", err);
        return fail(-rc, "MomeInit: %s", err);
    }
    if (mome_log_level >= MOME_LOG_INFO && mome_g.nnodes > 1) {
        mome_cmd_t peers = {.fn = log_peers_fn};
        mome_cmd_run(&peers);
    }
    __atomic_store_n(&mome_g.state, MOME_STATE_RUNNING, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&init_lock);
    mome_alloc_fail_at(mome_g.cfg.test_fail_alloc); /* testing: from now on */
    mome_info("api", "node %d of %d up (%s), page size %zu", mome_g.rank, mome_g.nnodes,
              mome_g.backend, mome_g.page_size);
    return 0;
}

int MomeFinalize(void)
{
    mome_cmd_t q = {.fn = mome_sync_cmd_quiesce};

    if (!running("MomeFinalize"))
        return -1;
    /* Every node's writes released and acquired, then a quiesce round: no node stops serving
     * while another's acquire may still need it. */
    if (job_barrier(0) == 0) {
        if (errno == EBUSY)
            fail(EBUSY, "MomeFinalize: another thread of this node is in a barrier; call "
                        "MomeFinalize once every thread's barriers are over");
        return -1;
    }
    /* The next job sees the final content of the persistent segments. */
    char ckerr[sizeof(err_buf) - 80];
    int ckrc = mome_checkpoint_finalize(ckerr, sizeof(ckerr));
    if (run(&q) < 0) {
        if (errno == EBUSY)
            fail(EBUSY, "MomeFinalize: another thread of this node is in a barrier; call "
                        "MomeFinalize once every thread's barriers are over");
        return -1;
    }
    pthread_mutex_lock(&init_lock);
    __atomic_store_n(&mome_g.state, MOME_STATE_DONE, __ATOMIC_RELEASE);
    mome_watch_stop();
    mome_node_stop();
    pthread_mutex_unlock(&init_lock);
    if (ckrc < 0) /* left anyway: the repository keeps each segment's last checkpoint */
        return fail(-ckrc, "MomeFinalize: the final content was not saved: %s", ckerr);
    return 0;
}

int MomeNode(void)
{
    return running("MomeNode") ? mome_g.rank : -1;
}

void MomeAbort(int status, const char *msg)
{
    static int aborting;
    char text[512];
    /* exit() keeps the low 8 bits: 256 or -256 as such would report success for an aborted job. */
    int code = (status & 0xff) ? status : 1;

    /* Once per process: threads aborting together each printed their message and sent the
     * launcher an abort. The others wait to be ended with the process (mome_exit's alarm
     * bounds the first's exit). */
    if (__atomic_exchange_n(&aborting, 1, __ATOMIC_ACQ_REL))
        for (;;)
            pause();

    snprintf(text, sizeof(text), "%s", msg && *msg ? msg : "MomeAbort called");
    /* A child forked by a node is no node: it must not abort the job in its parent's name, on its
     * parent's launcher connection (helper-99). */
    if (__atomic_load_n(&mome_g.state, __ATOMIC_ACQUIRE) == MOME_STATE_RUNNING &&
        !mome_node_forked()) {
        mome_error("api", "MomeAbort(%d): %s", status, text);
        mome_boot_request_abort(code, text);
    } else if (msg) {
        fprintf(stderr, "MomeAbort(%d): %s\n", status, text);
    }
    /* exit, not _exit: the program's buffered output (C stdio, Fortran units) is flushed. */
    mome_exit(code);
}

int MomeNodes(void)
{
    return running("MomeNodes") ? mome_g.nnodes : -1;
}

int MomeApp(void)
{
    return running("MomeApp") ? mome_g.app : -1;
}

int MomeAppNode(void)
{
    return running("MomeAppNode") ? mome_g.app_rank : -1;
}

int MomeAppNodes(void)
{
    return running("MomeAppNodes") ? mome_g.app_size : -1;
}

size_t MomePageSize(void)
{
    if (__atomic_load_n(&mome_g.state, __ATOMIC_ACQUIRE) == MOME_STATE_RUNNING)
        return mome_g.page_size;
    return mome_config_page_size();
}

static int check_name(const char *call, const char *name)
{
    size_t len;
    if (!name)
        return fail(EINVAL, "%s: segment name is NULL", call);
    len = strlen(name);
    if (len == 0)
        return fail(EINVAL, "%s: segment name is empty", call);
    if (len > MOME_SEG_NAME_MAX)
        return fail(ENAMETOOLONG, "%s: segment name longer than %d bytes", call,
                    MOME_SEG_NAME_MAX);
    return 0;
}

int MomeSegOpen(const char *name, uint64_t size, int flags)
{
    size_t ps;
    if (!running("MomeSegOpen") || check_name("MomeSegOpen", name) < 0)
        return -1;
    if (flags & ~(MOME_CREATE | MOME_EXCL | MOME_PERSIST))
        return fail(EINVAL,
                    "MomeSegOpen: unknown flags %#x (accepted: MOME_CREATE, MOME_EXCL, "
                    "MOME_PERSIST, or'ed)",
                    flags & ~(MOME_CREATE | MOME_EXCL | MOME_PERSIST));
    ps = mome_g.page_size;
    if (size > UINT64_MAX - ps || size > ((uint64_t)1 << 56))
        return fail(EINVAL, "MomeSegOpen: size %llu too large (at most 2^56 bytes)",
                    (unsigned long long)size);
    mome_cmd_t c = {.fn = mome_segment_cmd_open,
                    .u.open = {.name = name, .size = size, .flags = flags}};
    return run(&c);
}

int MomeSegClose(int seg)
{
    if (!running("MomeSegClose"))
        return -1;
    mome_cmd_t c = {.fn = mome_segment_cmd_close, .u.close.handle = seg};
    return run(&c) < 0 ? -1 : 0;
}

int MomeSegUnlink(const char *name)
{
    if (!running("MomeSegUnlink") || check_name("MomeSegUnlink", name) < 0)
        return -1;
    mome_cmd_t c = {.fn = mome_segment_cmd_unlink, .u.unlink.name = name};
    return run(&c) < 0 ? -1 : 0;
}

void *MomeMMap(void *addr, size_t len, int prot, int flags, int seg, uint64_t offset)
{
    if (!running("MomeMMap"))
        return MOME_MAP_FAILED;
    mome_cmd_t c = {.fn = mome_segment_cmd_mmap,
                    .u.mmap = {.addr = addr, .len = len, .prot = prot, .flags = flags,
                               .handle = seg, .off = offset}};
    if (run(&c) < 0)
        return MOME_MAP_FAILED;
    return (void *)(uintptr_t)c.result;
}

int MomeMUnmap(void *addr, size_t len)
{
    if (!running("MomeMUnmap"))
        return -1;
    mome_cmd_t c = {.fn = mome_segment_cmd_munmap, .u.munmap = {.addr = addr, .len = len}};
    return run(&c) < 0 ? -1 : 0;
}

int MomeConsistency(void *addr, size_t len, int model)
{
    if (!running("MomeConsistency"))
        return -1;
    mome_cmd_t c = {.fn = mome_sync_cmd_model,
                    .u.model = {.addr = addr, .len = len, .model = model}};
    return run(&c) < 0 ? -1 : 0;
}

MomeDate MomeClock(void)
{
    return mome_clock_now();
}

MomeDate MomeRelease(void)
{
    if (!running("MomeRelease"))
        return 0;
    mome_cmd_t c = {.fn = mome_sync_cmd_release};
    if (run(&c) < 0)
        return 0;
    return c.result;
}

int MomeSyncMem(void *addr, size_t len, MomeDate date)
{
    if (!running("MomeSyncMem"))
        return -1;
    mome_cmd_t c = {.fn = mome_sync_cmd_syncmem,
                    .u.sync = {.addr = addr, .len = len, .date = date}};
    return run(&c) < 0 ? -1 : 0;
}

MomeDate MomeBarrier(void)
{
    if (!running("MomeBarrier"))
        return 0;
    return job_barrier(0);
}

MomeDate MomeAppBarrier(void)
{
    if (!running("MomeAppBarrier"))
        return 0;
    mome_cmd_t c = {.fn = mome_sync_cmd_app_barrier};
    if (run(&c) < 0)
        return 0;
    return c.result;
}

MomeDate MomeLastBarrierDate(void)
{
    return mome_sync_last_barrier();
}

int MomeLock(int id)
{
    if (!running("MomeLock"))
        return -1;
    mome_cmd_t c = {.fn = mome_sync_cmd_lock, .u.lock.id = id};
    return run(&c) < 0 ? -1 : 0;
}

int MomeUnlock(int id)
{
    if (!running("MomeUnlock"))
        return -1;
    mome_cmd_t c = {.fn = mome_sync_cmd_unlock, .u.lock.id = id};
    return run(&c) < 0 ? -1 : 0;
}

void *MomeMalloc(size_t size)
{
    int err = 0;
    void *p;
    if (!running("MomeMalloc"))
        return NULL;
    p = mome_heap_alloc(size, &err);
    if (p)
        return p;
    if (err == -ENOTCONN) /* the heap is down: another thread's MomeFinalize ran meanwhile */
        running("MomeMalloc");
    else if (size > mome_heap_share())
        fail(-err,
             "MomeMalloc: cannot allocate %zu bytes: more than this node's share of the "
             "heap, %llu bytes (MOME_HEAP_SIZE / nodes); raise MOME_HEAP_SIZE, or use a "
             "segment (MomeSegOpen) for large data",
             size, (unsigned long long)mome_heap_share());
    else
        fail(-err,
             "MomeMalloc: cannot allocate %zu bytes: this node's share of the heap "
             "(%llu bytes: MOME_HEAP_SIZE / nodes) is full (%llu bytes in use)",
             size, (unsigned long long)mome_heap_share(), (unsigned long long)mome_heap_in_use());
    return NULL;
}

void MomeFree(void *p)
{
    int owner;
    if (!p || !running("MomeFree"))
        return;
    owner = mome_heap_owner(p);
    if (owner == -ENOTCONN) { /* another thread's MomeFinalize ran meanwhile */
        running("MomeFree");
        return;
    }
    if (owner < 0) {
        fail(EINVAL, "MomeFree: %p was not allocated by MomeMalloc", p);
        mome_warn("heap", "%s", err_buf);
        return;
    }
    if (owner == mome_g.rank) {
        /* The log says it once, and the caller gets errno and MomeError(). */
        int rc = mome_heap_free_local(p);
        if (rc == -ENOTCONN)
            running("MomeFree");
        else if (rc < 0) {
            fail(EINVAL, "MomeFree: %p is not a live MomeMalloc block (double free?)", p);
            mome_warn("heap", "%s", err_buf);
        }
        return;
    }
    mome_cmd_t *c = mome_calloc(1, sizeof(*c));
    if (!c) {
        fail(ENOMEM, "MomeFree: out of memory telling node %d of the free; block %p leaked", owner,
             p);
        mome_warn("heap", "%s", err_buf);
        return;
    }
    c->fn = mome_heap_cmd_free;
    c->u.heap_free.owner = owner;
    c->u.heap_free.off = mome_heap_offset(p);
    mome_cmd_post(c);
}

int MomeCheckpoint(int seg)
{
    char err[sizeof(err_buf) - 20];
    int rc;

    if (!running("MomeCheckpoint"))
        return -1;
    /* A bad handle fails at once on its node, before the barrier (as on every node, if the
     * program passes the same bad handle everywhere). */
    uint64_t id;
    if ((rc = mome_checkpoint_check(seg, &id, err, sizeof(err))) < 0)
        return fail(-rc, "MomeCheckpoint: %s", err + (strncmp(err, "MomeCheckpoint: ", 16) ? 0
                                                                                            : 16));
    /* Every modification released before the call, on every node, is in the snapshot. */
    if (job_barrier(id) == 0) { /* its segment checked against the other nodes' */
        mome_checkpoint_cancel();
        return -1;
    }
    if ((rc = mome_checkpoint_run(err, sizeof(err))) < 0)
        return fail(-rc, "MomeCheckpoint: %s", err);
    return 0;
}

int MomeStats(MomeStatsT *s)
{
    if (!s)
        return fail(EINVAL, "MomeStats: NULL argument");
    if (!running("MomeStats"))
        return -1;
    mome_stats_read(s);
    return 0;
}

static void fdputs(int fd, const char *s)
{
    if (write(fd, s, strlen(s)) < 0)
        return; /* MomeInfoPrint's memfd: short of memory, the output is only shorter */
}

/* The sections of MomeInfoPrint, written to fd (a memfd: the writers do not check). */
static void info_sections(int fd, int what)
{
    mome_config_t cfg;
    char err[2048];

    if (what & MOME_INFO_VERSION) {
        fdputs(fd, "Mome " PACKAGE_VERSION " (user-level distributed shared memory)\n");
#ifdef MOME_HAVE_PMIX
        fdputs(fd, "launchers: mome-run; PMIx (mpirun, srun --mpi=pmix, prterun, mome-run -H); "
                   "a program started alone is a one-node job\n");
#else
        fdputs(fd, "launchers: mome-run; a program started alone is a one-node job (built "
                   "without PMIx: no mpirun, srun or mome-run -H)\n");
#endif
    }
    if (what & MOME_INFO_TRANSPORTS) {
        if (mome_tp_describe(fd) < 0)
            fdputs(fd, "UCX: cannot list transports\n");
    }
    if (what & MOME_INFO_TOPOLOGY) {
        if (mome_topo_describe(fd, mome_config_bind()) < 0)
            fdputs(fd, "hwloc: cannot load the topology\n");
    }
    if (what & MOME_INFO_CONFIG) {
        if (mome_config_load(&cfg, err, sizeof(err)) < 0) {
            /* one line per mistake (mome_config_load separates them with "; ", which none of
             * its messages holds) */
            for (char *e = err, *semi; e; e = semi ? semi + 2 : NULL) {
                semi = strstr(e, "; ");
                if (semi)
                    *semi = 0;
                fdputs(fd, e);
                fdputs(fd, "\n");
            }
        }
        mome_config_print(fd, &cfg);
    }
}

/* Copy what buf holds (from its start) to fd; 0 or -errno. */
static int copy_out(int buf, int fd)
{
    char chunk[4096];
    ssize_t n;

    if (lseek(buf, 0, SEEK_SET) < 0)
        return -errno;
    while ((n = read(buf, chunk, sizeof(chunk))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(fd, chunk + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -errno;
            off += w;
        }
    }
    return n < 0 ? -errno : 0;
}

/*
 * The sections are written to a memfd first, then copied to fd: the describers of UCX, hwloc and
 * the knobs write as they go and ignore errors, and a failed write must still fail the call.
 */
int MomeInfoPrint(int fd, int what)
{
    int buf, rc;

    if (what & ~MOME_INFO_ALL)
        return fail(EINVAL, "MomeInfoPrint: unknown sections %#x", what);
    if (fcntl(fd, F_GETFL) < 0)
        return fail(errno, "MomeInfoPrint: cannot write to file descriptor %d: %s", fd,
                    strerror(errno));
    buf = (int)syscall(SYS_memfd_create, "mome-info", MFD_CLOEXEC);
    if (buf < 0)
        return fail(errno, "MomeInfoPrint: cannot buffer the output (memfd_create): %s",
                    strerror(errno));
    info_sections(buf, what);
    rc = copy_out(buf, fd);
    close(buf);
    if (rc < 0)
        return fail(-rc, "MomeInfoPrint: cannot write to file descriptor %d: %s", fd,
                    strerror(-rc));
    return 0;
}
