/*
 * trace.c - the page-traffic trace: a ring of fixed-size records in memory, written to the node's
 * file by the progress thread once half full, at MomeFinalize, and at exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/trace.h"

#define DEFAULT_NREC 65536

int mome_trace_on;

/*
 * The ring: records head - 1 down to tail are not written out yet; slot i is ring[i & mask].
 * Producers and the flusher take `lk` (a spin lock: a producer holds it for a 40-byte copy; the
 * flusher for one write of at most the ring, and in practice both are the progress thread). head
 * is also read without the lock by mome_trace_due.
 */
static mome_trace_rec_t *ring;
static uint64_t mask, head, tail;
static int fd = -1;
static int lk;
static pid_t owner; /* the node's process: a forked child never writes its copy of the ring */
static int atexit_done;
static char file[4096];

/*
 * Wait for the holder by sleeping, not by yielding: the progress thread may run SCHED_FIFO
 * (core/node.c), and a real-time thread's sched_yield never lets a normal-priority holder of its
 * core run, which left it spinning until the kernel's real-time throttling (about a second).
 */
static void pause_1us(void)
{
    struct timespec ts = {0, 1000};
    nanosleep(&ts, NULL);
}

static void lock(void)
{
    while (__atomic_exchange_n(&lk, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lk, __ATOMIC_RELAXED))
            pause_1us();
}

/* At exit another thread could hold the lock for ever (blocked, parked): give up after a while. */
static int lock_bounded(void)
{
    for (int i = 0; i < 2000; i++) {
        if (!__atomic_exchange_n(&lk, 1, __ATOMIC_ACQUIRE))
            return 0;
        pause_1us();
    }
    return -1;
}

static void unlock(void)
{
    __atomic_store_n(&lk, 0, __ATOMIC_RELEASE);
}

static uint64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Write iov fully (a file write may be partial or interrupted). */
static int write_all(struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* A write failed (a full disk): nothing more goes to the file, whose last record may be partial
 * (more after it would be misread; MOME_LOG_LEVEL=debug's lines, which turned recording back
 * on, would have done that: helper-106). */
static int failed;

/* A trace is not data: a file that cannot be written ends the trace with a warning, not the
 * job. */
static void stop_tracing(int err)
{
    mome_warn("trace", "cannot write the trace file '%s' (%s); tracing stops", file,
              strerror(-err));
    failed = 1;
    __atomic_store_n(&mome_trace_on, 0, __ATOMIC_RELAXED);
}

static void flush_locked(void)
{
    uint64_t h = head, t = tail, n = mask + 1;
    struct iovec iov[2];
    int k = 0, rc;

    if (h == t || fd < 0 || failed)
        return;
    /* Up to the end of the ring, then from its start. */
    uint64_t first = (t & mask) + (h - t) > n ? n - (t & mask) : h - t;
    iov[k].iov_base = &ring[t & mask];
    iov[k++].iov_len = first * sizeof(*ring);
    if (first < h - t) {
        iov[k].iov_base = ring;
        iov[k++].iov_len = (h - t - first) * sizeof(*ring);
    }
    rc = write_all(iov, k);
    __atomic_store_n(&tail, h, __ATOMIC_RELAXED);
    if (rc < 0)
        stop_tracing(rc);
}

static void at_exit(void)
{
    if (getpid() != owner || fd < 0 || lock_bounded() < 0)
        return;
    flush_locked();
    unlock();
}

static uint64_t job_id;

void mome_trace_set_job(uint64_t job)
{
    job_id = job;
}

/* Does path hold the directive %c (not the literal "%%c")? */
static int has_directive(const char *path, char c)
{
    for (const char *p = path; *p; p++)
        if (*p == '%' && *++p == c)
            return 1;
        else if (!*p)
            break;
    return 0;
}

int mome_trace_open(const char *path, int node, int nnodes, uint32_t page_size, size_t nrec)
{
    mome_trace_hdr_t h;
    struct iovec iov;
    int rc;

    mome_trace_close(); /* a MomeInit after a failed one */
    failed = 0;
    if (!path || !*path)
        return 0;
    if (!nrec)
        nrec = DEFAULT_NREC;
    if (nrec < 2)
        nrec = 2;
    nrec = (size_t)1 << (64 - __builtin_clzll((unsigned long long)nrec - 1));
    /* One file for several nodes: each would truncate it and write over the others' records. */
    if (nnodes > 1 && !has_directive(path, 'n') && !has_directive(path, 'p')) {
        char each[sizeof(file)];
        snprintf(each, sizeof(each), "%s.%%n", path);
        if (node == 0)
            mome_warn("trace",
                      "MOME_TRACE=%s names one file for the %d nodes of the job: each "
                      "node writes %s.<node> instead (put %%n in the path to choose)",
                      path, nnodes, path);
        mome_log_expand_path(each, file, sizeof(file));
    } else
        mome_log_expand_path(path, file, sizeof(file));
    ring = mmap(NULL, nrec * sizeof(*ring), PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ring == MAP_FAILED) {
        rc = -errno;
        ring = NULL;
        mome_warn("trace", "no memory for the trace ring (%s); MOME_TRACE ignored", strerror(-rc));
        return rc;
    }
    fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        mome_warn("trace", "cannot create the trace file '%s' (%s); MOME_TRACE ignored", file,
                  strerror(-rc));
        goto err_unmap;
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, MOME_TRACE_MAGIC, sizeof(h.magic));
    h.version = MOME_TRACE_VERSION;
    h.hdr_size = sizeof(h);
    h.rec_size = sizeof(mome_trace_rec_t);
    h.node = (uint32_t)node;
    h.nnodes = (uint32_t)nnodes;
    h.page_size = page_size;
    h.mono_ns = now_ns(CLOCK_MONOTONIC);
    h.real_ns = now_ns(CLOCK_REALTIME);
    h.pid = (uint32_t)getpid();
    h.job = job_id;
    if (gethostname(h.host, sizeof(h.host) - 1) < 0)
        strcpy(h.host, "?");
    iov.iov_base = &h;
    iov.iov_len = sizeof(h);
    if ((rc = write_all(&iov, 1)) < 0) {
        mome_warn("trace", "cannot write the trace file '%s' (%s); MOME_TRACE ignored", file,
                  strerror(-rc));
        goto err_close;
    }
    mask = nrec - 1;
    head = tail = 0;
    owner = getpid();
    if (!atexit_done && atexit(at_exit) == 0)
        atexit_done = 1;
    __atomic_store_n(&mome_trace_on, 1, __ATOMIC_RELEASE);
    return 0;

err_close:
    close(fd);
    fd = -1;
err_unmap:
    munmap(ring, nrec * sizeof(*ring));
    ring = NULL;
    return rc;
}

/* ---- the same events as log lines (MOME_LOG_LEVEL=debug) ---- */

static int log_on;
static int64_t log_real_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC when the log began, ns */
static const char *(*log_namer)(uint64_t seg);

void mome_trace_log_start(const char *(*seg_name)(uint64_t seg))
{
    log_namer = seg_name;
    log_real_off = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC));
    __atomic_store_n(&log_on, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&mome_trace_on, 1, __ATOMIC_RELEASE);
}

void mome_trace_log_stop(void)
{
    __atomic_store_n(&log_on, 0, __ATOMIC_RELEASE);
    lock();
    __atomic_store_n(&mome_trace_on, ring != NULL && !failed, __ATOMIC_RELEASE);
    unlock();
}

/* One line per event: time of day (UTC, microseconds: the nodes of a machine line up), Lamport
 * date, what, page, segment by name. */
static void log_event(int kind, uint64_t seg, uint64_t page, int peer, uint32_t arg, int flags,
                      uint64_t ns, uint64_t date)
{
    const char *name = log_namer && seg ? log_namer(seg) : NULL;
    char where[160], what[400];
    uint64_t real = ns + (uint64_t)log_real_off;
    time_t secs = (time_t)(real / 1000000000u);
    struct tm tm;
    const char *rw = flags & MOME_TRF_WRITE ? "write" : "read";

    if (name)
        snprintf(where, sizeof(where), "page %llu of segment '%s'", (unsigned long long)page,
                 name);
    else
        snprintf(where, sizeof(where), "page %llu of segment #%llu", (unsigned long long)page,
                 (unsigned long long)seg);
    switch (kind) {
    case MOME_TR_FAULT: snprintf(what, sizeof(what), "%s fault on %s", rw, where); break;
    case MOME_TR_REQUEST:
        snprintf(what, sizeof(what), "asked node %d for %s (%s%s)", peer, where, rw,
                 flags & MOME_TRF_AHEAD ? ", read-ahead" : "");
        break;
    case MOME_TR_FETCH:
        snprintf(what, sizeof(what), "%s arrived from node %d (%u bytes%s)", where, peer, arg,
                 flags & MOME_TRF_PUSH ? ", pushed" : "");
        break;
    case MOME_TR_ZERO: snprintf(what, sizeof(what), "node %d granted %s as zeros", peer, where); break;
    case MOME_TR_GRANT:
        snprintf(what, sizeof(what), "node %d granted %s (copy up to date)", peer, where);
        break;
    case MOME_TR_DECLINED:
        snprintf(what, sizeof(what),
                 "node %d declined %s, asked ahead for writing: a node holds it", peer, where);
        break;
    case MOME_TR_INV:
        snprintf(what, sizeof(what), "dropped %s: invalidated for node %d", where, peer);
        break;
    case MOME_TR_DROP:
        snprintf(what, sizeof(what), "dropped %s, unused since its last refresh; told node %d",
                 where, peer);
        break;
    case MOME_TR_SYNC:
        snprintf(what, sizeof(what), "asked node %d whether %s is current (version %u%s)", peer,
                 where, arg, flags & MOME_TRF_WAITED ? ", after waiting" : "");
        break;
    case MOME_TR_UNSHARE:
        snprintf(what, sizeof(what), "node %d said no other node holds %s: writes untracked", peer,
                 where);
        break;
    case MOME_TR_FLUSH:
        snprintf(what, sizeof(what), "node %d flushed %s (%s)", peer, where,
                 flags & MOME_TRF_DROP ? "dropped" : "kept read-only");
        break;
    case MOME_TR_DIFF_SEND:
        snprintf(what, sizeof(what), "sent changes to %s to node %d (%u bytes)", where, peer, arg);
        break;
    case MOME_TR_DIFF_MERGE:
        snprintf(what, sizeof(what), "merged node %d's changes to %s (%u bytes)", peer, where,
                 arg);
        break;
    case MOME_TR_EVICT: snprintf(what, sizeof(what), "evicted %s", where); break;
    case MOME_TR_PAGE_OUT:
    case MOME_TR_PAGE_IN:
        if (flags & MOME_TRF_DISK)
            snprintf(what, sizeof(what), "paged %s %s %s the swap file",
                     kind == MOME_TR_PAGE_OUT ? "out" : "in", where,
                     kind == MOME_TR_PAGE_OUT ? "to" : "from");
        else
            snprintf(what, sizeof(what), "paged %s %s %s node %d",
                     kind == MOME_TR_PAGE_OUT ? "out" : "in", where,
                     kind == MOME_TR_PAGE_OUT ? "to" : "from", peer);
        break;
    case MOME_TR_LOCK_REQ:
        snprintf(what, sizeof(what), "asked node %d for lock %llu", peer, (unsigned long long)page);
        break;
    case MOME_TR_LOCK_GOT:
        snprintf(what, sizeof(what), "got lock %llu from node %d%s", (unsigned long long)page,
                 peer, flags & MOME_TRF_WAITED ? " (waited for another holder)" : "");
        break;
    case MOME_TR_LOCK_REL:
        snprintf(what, sizeof(what), "released lock %llu to node %d", (unsigned long long)page,
                 peer);
        break;
    case MOME_TR_BAR_ENTER:
        snprintf(what, sizeof(what), "entered barrier %llu", (unsigned long long)page);
        break;
    case MOME_TR_BAR_EXIT:
        snprintf(what, sizeof(what), "left barrier %llu", (unsigned long long)page);
        break;
    default: snprintf(what, sizeof(what), "event %d on %s, node %d", kind, where, peer); break;
    }
    gmtime_r(&secs, &tm);
    mome_log_emit(MOME_LOG_DEBUG, "proto", "%02d:%02d:%02d.%06u date %llu: %s", tm.tm_hour,
                  tm.tm_min, tm.tm_sec, (unsigned)(real % 1000000000u / 1000u),
                  (unsigned long long)date, what);
}

/* One record into the ring (the lock held); 0 if there is no room or no trace. */
static int put_locked(const mome_trace_rec_t *rec)
{
    if (!mome_tracing() || !ring || failed)
        return 0;
    /* Full: the progress thread has not come round to it; write it out now, rarely. */
    if (head - tail > mask)
        flush_locked();
    if (head - tail > mask || !mome_tracing())
        return 0;
    ring[head & mask] = *rec;
    __atomic_store_n(&head, head + 1, __ATOMIC_RELAXED);
    return 1;
}

void mome_trace_event(int kind, uint64_t seg, uint64_t page, int peer, uint32_t arg, int flags)
{
    uint64_t ns = now_ns(CLOCK_MONOTONIC);
    uint64_t date = mome_clock_now();

    if (__atomic_load_n(&log_on, __ATOMIC_ACQUIRE))
        log_event(kind, seg, page, peer, arg, flags, ns, date);
    mome_trace_rec_t r = {.ns = ns,
                          .date = date,
                          .seg = seg,
                          .page = page,
                          .arg = arg,
                          .peer = peer < 0 || peer >= MOME_TRACE_NONE ? MOME_TRACE_NONE
                                                                      : (uint16_t)peer,
                          .kind = (uint8_t)kind,
                          .flags = (uint8_t)flags};
    lock();
    put_locked(&r);
    unlock();
}

void mome_trace_seg_name(uint64_t seg, const char *name)
{
    size_t len = strnlen(name, MOME_TRACE_NAME_MAX);
    mome_trace_rec_t r = {.ns = now_ns(CLOCK_MONOTONIC),
                          .date = mome_clock_now(),
                          .seg = seg,
                          .peer = MOME_TRACE_NONE,
                          .kind = MOME_TR_SEG_NAME};
    char chunk[MOME_TRACE_NAME_CHUNK];

    lock();
    /* Chunks up to the one holding the NUL (none when the name has MOME_TRACE_NAME_MAX bytes). */
    for (size_t k = 0;
         k * MOME_TRACE_NAME_CHUNK <= len && k * MOME_TRACE_NAME_CHUNK < MOME_TRACE_NAME_MAX; k++) {
        size_t off = k * MOME_TRACE_NAME_CHUNK,
               n = len - off < sizeof(chunk) ? len - off : sizeof(chunk);
        memset(chunk, 0, sizeof(chunk));
        memcpy(chunk, name + off, n);
        memcpy(&r.page, chunk, 8);
        memcpy(&r.arg, chunk + 8, 4);
        r.flags = (uint8_t)k;
        if (!put_locked(&r))
            break;
    }
    unlock();
}

int mome_trace_due(void)
{
    return mome_tracing() &&
           __atomic_load_n(&head, __ATOMIC_RELAXED) - __atomic_load_n(&tail, __ATOMIC_RELAXED) >
               mask / 2;
}

void mome_trace_flush(void)
{
    if (fd < 0)
        return;
    lock();
    flush_locked();
    unlock();
}

void mome_trace_close(void)
{
    if (fd < 0 && !ring)
        return;
    lock();
    if (ring)
        flush_locked();
    __atomic_store_n(&mome_trace_on, __atomic_load_n(&log_on, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
    if (fd >= 0)
        close(fd);
    fd = -1;
    if (ring)
        munmap(ring, (mask + 1) * sizeof(*ring));
    ring = NULL;
    mask = head = tail = 0;
    unlock();
}
