/*
 * boot_run.c - the mome-run backend: the node side of the socket protocol of boot_wire.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/boot_wire.h"
#include "base/log.h"

static int boot_fd = -1;
static int boot_size = 1, boot_rank;
static uint32_t gather_seq;
static uint32_t gathering; /* 1 + the exchange this node waits in, 0: none (read by others) */

static int env_int(const char *name, int *out)
{
    const char *v = getenv(name);
    char *end;
    long x;
    if (!v)
        return -ENOENT;
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < 0 || x > (1 << 24))
        return -EINVAL;
    *out = (int)x;
    return 0;
}

/* The launcher's status table, if it gave one (it is only a help: without it, no matter). */
static void map_status(int size)
{
    int fd;
    void *p;

    if (env_int("MOME_BOOT_STATUS_FD", &fd) < 0)
        return;
    unsetenv("MOME_BOOT_STATUS_FD");
    p = mmap(NULL, sizeof(mome_boot_status_t) * (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
             fd, 0);
    close(fd);
    if (p != MAP_FAILED)
        __atomic_store_n(&mome_boot_status_table, p, __ATOMIC_RELEASE);
}

static int run_init(mome_boot_info_t *info, char *err, size_t errlen)
{
    int fd;

    if (env_int("MOME_BOOT_FD", &fd) == -ENOENT)
        return -ENOENT; /* not started by mome-run */
    if (env_int("MOME_BOOT_FD", &fd) < 0 || env_int("MOME_BOOT_RANK", &info->rank) < 0 ||
        env_int("MOME_BOOT_SIZE", &info->size) < 0 || info->size < 1 ||
        info->rank >= info->size) {
        snprintf(err, errlen, "broken launcher environment (MOME_BOOT_FD/RANK/SIZE); start the "
                              "program with mome-run or alone");
        return -EINVAL;
    }
    if (env_int("MOME_BOOT_LOCAL_RANK", &info->local_rank) < 0)
        info->local_rank = info->rank;
    if (env_int("MOME_BOOT_LOCAL_SIZE", &info->local_size) < 0)
        info->local_size = info->size;
    const char *key = getenv("MOME_BOOT_KEY");
    char *end;
    if (!key || !*key || (info->key = strtoull(key, &end, 16), *end)) {
        snprintf(err, errlen, "broken launcher environment (MOME_BOOT_KEY); start the program "
                              "with mome-run or alone");
        return -EINVAL;
    }
    if (fcntl(fd, F_GETFD) < 0) {
        snprintf(err, errlen, "launcher socket MOME_BOOT_FD=%d is not open (was the program "
                              "started by mome-run?)", fd);
        return -EINVAL;
    }
    if (env_int("MOME_BOOT_APP", &info->app) < 0 || env_int("MOME_BOOT_APP_RANK",
                                                            &info->app_rank) < 0 ||
        env_int("MOME_BOOT_APP_SIZE", &info->app_size) < 0)
        info->app_rank = -1; /* an older launcher: one program (boot.c) */
    map_status(info->size);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    boot_fd = fd;
    boot_size = info->size;
    boot_rank = info->rank;
    mome_boot_set_rank(info->rank);

    /* The variables are ours; children of this node must not think they are nodes, nor learn
     * the job's key. */
    unsetenv("MOME_BOOT_FD");
    unsetenv("MOME_BOOT_KEY");

    uint32_t pid = (uint32_t)getpid();
    mome_boot_status_t *st = mome_boot_status(info->rank);
    if (st) /* the other nodes now know that this one is in MomeInit */
        __atomic_store_n(&st->pid, pid, __ATOMIC_RELAXED);
    mome_boot_frame_t f = {MOME_BOOT_MAGIC, MOME_BOOT_JOIN, sizeof(pid), (uint32_t)info->rank};
    char buf[sizeof(f) + sizeof(pid)];
    memcpy(buf, &f, sizeof(f));
    memcpy(buf + sizeof(f), &pid, sizeof(pid));
    if (send(fd, buf, sizeof(buf), MSG_NOSIGNAL) != (ssize_t)sizeof(buf)) {
        snprintf(err, errlen, "cannot reach the launcher: %s", strerror(errno));
        return -EIO;
    }
    return 0;
}

static int write_all(const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = send(boot_fd, p, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int read_all(void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(boot_fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -EIO;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Read one frame; payload is malloc'd (NUL-terminated for text). */
static int read_frame(mome_boot_frame_t *f, char **payload)
{
    *payload = NULL;
    if (read_all(f, sizeof(*f)) < 0)
        return -EIO;
    if (f->magic != MOME_BOOT_MAGIC || f->len > MOME_BOOT_MAX_PAYLOAD)
        return -EBADMSG;
    *payload = malloc(f->len + 1);
    if (!*payload)
        return -ENOMEM;
    if (read_all(*payload, f->len) < 0) {
        free(*payload);
        *payload = NULL;
        return -EIO;
    }
    (*payload)[f->len] = 0;
    return 0;
}

/* A frame other than the one awaited: the job is going down. */
static void fatal_frame(const mome_boot_frame_t *f, const char *text)
{
    if (f->type == MOME_BOOT_NODE_LOST)
        mome_die(1, "stopping this node: lost %s", text);
    if (f->type == MOME_BOOT_ABORT_JOB)
        mome_die((f->arg & 0xff) ? (int)f->arg : 1, "job aborted: %s", text); /* never 0 */
    mome_die(1, "unexpected launcher message %u; stopping", f->type);
}

/* This node waits in exchange seq (the launcher's table says so: mome-run's --stuck-after sees a
 * node waiting in a Mome call, and the others which nodes have not arrived), or no longer. */
static void gather_mark(uint32_t seq, int in)
{
    mome_boot_status_t *st = mome_boot_status(boot_rank);
    if (in) {
        /* (release: run_describe reads boot_size and boot_rank after it) */
        __atomic_store_n(&gathering, seq + 1, __ATOMIC_RELEASE);
        if (st) {
            __atomic_store_n(&st->gather, seq + 1, __ATOMIC_RELAXED);
            __atomic_add_fetch(&st->waiting, 1, __ATOMIC_RELAXED);
        }
        return;
    }
    __atomic_store_n(&gathering, 0, __ATOMIC_RELAXED);
    if (st) {
        __atomic_sub_fetch(&st->waiting, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&st->progress, 1, __ATOMIC_RELAXED);
    }
}

/* "nodes 1 3": the other nodes not in MomeInit yet (unjoined: no pid in their slot), or in it
 * but not at the exchange seq1 - 1 yet, as the table says; "" if none. */
static size_t list_nodes(const mome_boot_status_t *t, uint32_t seq1, int unjoined, char *buf,
                         size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int r = 0; r < boot_size && n < len; r++) {
        uint32_t pid = __atomic_load_n(&t[r].pid, __ATOMIC_RELAXED);
        uint32_t g = __atomic_load_n(&t[r].gather, __ATOMIC_RELAXED);
        if (r == boot_rank || (unjoined ? pid != 0 : pid == 0 || g >= seq1))
            continue;
        if (n + 16 >= len) {
            n += (size_t)snprintf(buf + n, len - n, " ...");
            break;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? " " : "nodes ", r);
    }
    return n < len ? n : len - 1;
}

static size_t run_describe(char *buf, size_t len)
{
    static const char what[] = "exchanging start-up data through mome-run";
    uint32_t seq1 = __atomic_load_n(&gathering, __ATOMIC_ACQUIRE);
    const mome_boot_status_t *t = __atomic_load_n(&mome_boot_status_table, __ATOMIC_ACQUIRE);
    char out[192], late[192];
    int n;

    if (!seq1)
        return 0;
    if (!t)
        n = snprintf(buf, len, "%s (it knows which nodes have not arrived)", what);
    else if (list_nodes(t, seq1, 1, out, sizeof(out)) + list_nodes(t, seq1, 0, late, sizeof(late)))
        n = snprintf(buf, len, "%s: %s%s%s%s%s", what, out, out[0] ? " not in MomeInit yet" : "",
                     out[0] && late[0] ? ", " : "", late, late[0] ? " not arrived" : "");
    else
        n = snprintf(buf, len, "%s: every node arrived, waiting for its answer", what);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static int run_allgather(const void *blob, uint32_t len, void **out)
{
    mome_boot_frame_t f = {MOME_BOOT_MAGIC, MOME_BOOT_GATHER, len, gather_seq};

    gather_mark(gather_seq, 1);
    if (write_all(&f, sizeof(f)) < 0 || write_all(blob, len) < 0)
        mome_die(1, "lost contact with the launcher (mome-run); stopping");
    for (;;) {
        char *payload;
        int rc = read_frame(&f, &payload);
        if (rc < 0)
            mome_die(1, "lost contact with the launcher (mome-run); stopping");
        if (f.type == MOME_BOOT_REPORT) {
            /* Nothing has moved for f.arg s: say what this node waits for (MomeInit's step;
             * nobody listens any more in MomeFinalize's last exchange). */
            free(payload);
            mome_boot_report(f.arg);
            continue;
        }
        if (f.type == MOME_BOOT_GATHER_RESULT && f.arg == gather_seq) {
            gather_mark(gather_seq, 0);
            /* The lengths, then the blobs back to back: they must add up (mome_boot_blob). */
            uint64_t sum = sizeof(uint32_t) * (uint64_t)boot_size;
            for (int i = 0; sum <= f.len && i < boot_size; i++) {
                uint32_t l;
                memcpy(&l, payload + sizeof(l) * (size_t)i, sizeof(l));
                sum += l;
            }
            if (sum != f.len) {
                free(payload);
                return -EBADMSG;
            }
            gather_seq++;
            *out = payload;
            return 0;
        }
        fatal_frame(&f, payload ? payload : "");
    }
}

static int run_watch(void)
{
    return boot_fd;
}

static void run_event(void)
{
    mome_boot_frame_t f;
    char *payload;

    if (read_frame(&f, &payload) < 0)
        mome_die(1, "lost contact with the launcher (mome-run); stopping");
    if (f.type == MOME_BOOT_REPORT) {
        free(payload);
        mome_boot_report(f.arg);
        return;
    }
    fatal_frame(&f, payload ? payload : "");
}

static void run_explain(int timeout_ms)
{
    struct pollfd p = {.fd = boot_fd, .events = POLLIN};
    int rc;

    if (boot_fd < 0)
        return;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 1)
        run_event();
}

static void run_finalize(void)
{
    mome_boot_frame_t f = {MOME_BOOT_MAGIC, MOME_BOOT_FINALIZE, 0, 0};
    if (boot_fd < 0)
        return;
    (void)write_all(&f, sizeof(f));
    close(boot_fd);
    boot_fd = -1;
    /* Left mapped (a page or so): a thread of the node still waiting in a command (MomeLock,
     * answered ESHUTDOWN by this MomeFinalize) updates its row as it returns; unmapped, that
     * write crashed the node after its MomeFinalize (defects finlock, helper-143). */
    mome_boot_status_table = NULL;
}

/* The frame and its message in one send: two threads stopping at once (a MomeAbort beside the
 * progress thread's mome_fatal) must not interleave their frames (helper-84). */
static void run_abort(int status, const char *msg)
{
    struct {
        mome_boot_frame_t f;
        char text[4096];
    } b;
    if (boot_fd < 0)
        return;
    size_t len = strlen(msg);
    if (len > sizeof(b.text))
        len = sizeof(b.text); /* mome-run prints what it gets */
    b.f = (mome_boot_frame_t){MOME_BOOT_MAGIC, MOME_BOOT_ABORT, (uint32_t)len, (uint32_t)status};
    memcpy(b.text, msg, len);
    (void)write_all(&b, sizeof(b.f) + len);
}

const mome_boot_ops_t mome_boot_run = {
    .name = "mome-run",
    .priority = 100,
    .init = run_init,
    .allgather = run_allgather,
    .watch = run_watch,
    .event = run_event,
    .explain = run_explain,
    .abort = run_abort,
    .finalize = run_finalize,
    .describe = run_describe,
};
