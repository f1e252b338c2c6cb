/*
 * boot_pmix.c - the PMIx backend: a node started by a PMIx server (mpirun of Open MPI, srun
 * --mpi=pmix, prterun) takes its place in the job from PMIx, exchanges start-up data through the
 * PMIx key-value store and a fence, stops the job with PMIx_Abort and hears of lost nodes through
 * PMIx events. Built only when configure finds PMIx.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <pmix.h>

#include "base/log.h"
#include "boot/boot.h"

static pmix_proc_t me;
static int job_size = 1;
static uint32_t gather_seq;
static int inited;
/* The PMIx event handler (on PMIx's own thread) writes a line here; the progress thread reads it
 * (watch/event). [0] read end, [1] write end. */
static int evpipe[2] = {-1, -1};
/* Set once this node started leaving: other nodes exiting then is no loss (read on PMIx's thread:
 * atomic). */
static int leaving;
/* The event registration's answer, written on PMIx's thread whenever it comes (even after
 * register_events stopped waiting for it): 0 none yet, 1 done, -1 refused. Static, never on a
 * stack that may be gone by then. */
static int reg_state;
/* Where MomeInit waits in PMIx (read by another thread: mome_boot_describe_wait). */
enum { PMIX_IDLE, PMIX_IN_INIT, PMIX_IN_FENCE };
static int in_pmix;

static size_t pmix_describe(char *buf, size_t len)
{
    int in = __atomic_load_n(&in_pmix, __ATOMIC_RELAXED);
    int n = in == PMIX_IN_INIT
                ? snprintf(buf, len, "in PMIx_Init, reaching the launcher's PMIx server")
            : in == PMIX_IN_FENCE
                ? snprintf(buf, len,
                           "exchanging start-up data in a PMIx fence, which ends once "
                           "every node of the job has reached it; PMIx does not say "
                           "which have not")
                : 0;
    return n <= 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

/* PMIx_Fence of the job, collecting the data put: what a node stopped meanwhile says. */
static pmix_status_t fence_all(void)
{
    pmix_info_t coll;
    pmix_proc_t all;
    bool yes = true;
    pmix_status_t st;

    PMIX_INFO_CONSTRUCT(&coll);
    PMIX_INFO_LOAD(&coll, PMIX_COLLECT_DATA, &yes, PMIX_BOOL);
    PMIX_PROC_LOAD(&all, me.nspace, PMIX_RANK_WILDCARD);
    __atomic_store_n(&in_pmix, PMIX_IN_FENCE, __ATOMIC_RELAXED);
    st = PMIx_Fence(&all, 1, &coll, 1);
    __atomic_store_n(&in_pmix, PMIX_IDLE, __ATOMIC_RELAXED);
    PMIX_INFO_DESTRUCT(&coll);
    return st;
}

static const char *perr(pmix_status_t st)
{
    return PMIx_Error_string(st);
}

/* A job-level value (rank wildcard) or this process's, as a number. */
static int get_u32(const pmix_proc_t *who, const char *key, uint32_t *out)
{
    pmix_value_t *v = NULL;
    pmix_status_t st = PMIx_Get(who, key, NULL, 0, &v);
    int rc = 0;

    if (st != PMIX_SUCCESS || !v)
        return -ENOENT;
    switch (v->type) {
    case PMIX_UINT32: *out = v->data.uint32; break;
    case PMIX_UINT16: *out = v->data.uint16; break;
    case PMIX_INT: *out = (uint32_t)v->data.integer; break;
    case PMIX_UINT64: *out = (uint32_t)v->data.uint64; break;
    case PMIX_PROC_RANK: *out = v->data.rank; break;
    default: rc = -EINVAL; break;
    }
    PMIX_VALUE_RELEASE(v);
    return rc;
}

/* Write "rank text\n" for the progress thread; async-signal-safe enough for PMIx's thread. */
static void tell(int rank, const char *text)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "%d %s\n", rank, text);
    if (n > 0 && evpipe[1] >= 0 && write(evpipe[1], line, (size_t)n) < 0)
        return;
}

/*
 * PMIx's event thread: a process of this job terminated, aborted, or the connection to the
 * local PMIx server (the launcher's daemon) was lost. Data on the lost node is gone: this node
 * will stop (on its progress thread, which reads the pipe).
 */
static void on_event(size_t id, pmix_status_t status, const pmix_proc_t *source, pmix_info_t info[],
                     size_t ninfo, pmix_info_t results[], size_t nresults,
                     pmix_event_notification_cbfunc_fn_t cbfunc, void *cbdata)
{
    const pmix_proc_t *who = source;
    char text[256];

    for (size_t i = 0; i < ninfo; i++)
        if (PMIX_CHECK_KEY(&info[i], PMIX_EVENT_AFFECTED_PROC) &&
            info[i].value.type == PMIX_PROC)
            who = info[i].value.data.proc;
    if (!__atomic_load_n(&leaving, __ATOMIC_ACQUIRE)) {
        if (status == PMIX_ERR_LOST_CONNECTION) {
            tell(-1, "contact with the PMIx server (the launcher) was lost");
        } else if (who && PMIX_CHECK_NSPACE(who->nspace, me.nspace) && who->rank != me.rank &&
                   who->rank < (pmix_rank_t)job_size) {
            snprintf(text, sizeof(text), "node %u (%s, reported by PMIx)", who->rank,
                     perr(status));
            tell((int)who->rank, text);
        }
    }
    if (cbfunc)
        cbfunc(PMIX_EVENT_ACTION_COMPLETE, NULL, 0, NULL, NULL, cbdata);
}

static void reg_done(pmix_status_t status, size_t id, void *cbdata)
{
    __atomic_store_n(&reg_state, status == PMIX_SUCCESS ? 1 : -1, __ATOMIC_RELEASE);
}

static void register_events(void)
{
    pmix_status_t codes[] = {PMIX_ERR_PROC_ABORTED, PMIX_PROC_TERMINATED,
                             PMIX_ERR_PROC_TERM_WO_SYNC, PMIX_ERR_LOST_CONNECTION,
                             PMIX_ERR_EXIT_NONZERO_TERM, PMIX_ERR_UNREACH};
    int done;

    PMIx_Register_event_handler(codes, sizeof(codes) / sizeof(codes[0]), NULL, 0, on_event,
                                reg_done, NULL);
    /* Registration completes on PMIx's thread; a launcher that ignores events answers at once. */
    for (int i = 0; i < 2000 && !__atomic_load_n(&reg_state, __ATOMIC_ACQUIRE); i++)
        usleep(1000);
    done = __atomic_load_n(&reg_state, __ATOMIC_ACQUIRE);
    if (done <= 0)
        mome_debug("boot", "PMIx event registration: %s; lost nodes are then reported by the "
                           "launcher and UCX only", done < 0 ? "refused" : "no answer in 2 s");
}

/* Node 0 draws the job's key and publishes it; every node reads it after a fence. */
static int share_key(uint64_t *key, char *err, size_t errlen)
{
    pmix_proc_t p0;
    pmix_value_t val, *v = NULL;
    pmix_status_t st;

    if (me.rank == 0) {
        if (getrandom(key, sizeof(*key), 0) != (ssize_t)sizeof(*key)) {
            snprintf(err, errlen, "cannot draw the job's key: %s", strerror(errno));
            return -EIO;
        }
        PMIX_VALUE_CONSTRUCT(&val);
        val.type = PMIX_UINT64;
        val.data.uint64 = *key;
        st = PMIx_Put(PMIX_GLOBAL, "mome.key", &val);
        if (st != PMIX_SUCCESS)
            goto err_pmix;
    }
    if ((st = PMIx_Commit()) != PMIX_SUCCESS)
        goto err_pmix;
    st = fence_all();
    if (st != PMIX_SUCCESS)
        goto err_pmix;
    PMIX_PROC_LOAD(&p0, me.nspace, 0);
    st = PMIx_Get(&p0, "mome.key", NULL, 0, &v);
    if (st != PMIX_SUCCESS)
        goto err_pmix;
    if (v->type != PMIX_UINT64) {
        snprintf(err, errlen, "PMIx: node 0 published a key of type %d", (int)v->type);
        PMIX_VALUE_RELEASE(v);
        return -EPROTO;
    }
    *key = v->data.uint64;
    PMIX_VALUE_RELEASE(v);
    return 0;
err_pmix:
    snprintf(err, errlen, "PMIx: cannot share the job's key: %s", perr(st));
    return -EIO;
}

static int pmix_init(mome_boot_info_t *info, char *err, size_t errlen)
{
    pmix_proc_t wild;
    pmix_status_t st;
    uint32_t v;

    if (!getenv("PMIX_NAMESPACE") || !getenv("PMIX_RANK"))
        return -ENOENT; /* not started by a PMIx server */
    /* The launcher's word for the rank until PMIx says it (a node stopped in PMIx_Init). */
    char *end;
    long hint = strtol(getenv("PMIX_RANK"), &end, 10);
    if (!*end && end != getenv("PMIX_RANK") && hint >= 0 && hint < (1l << 24))
        mome_boot_set_rank((int)hint);
    __atomic_store_n(&in_pmix, PMIX_IN_INIT, __ATOMIC_RELAXED);
    st = PMIx_Init(&me, NULL, 0);
    __atomic_store_n(&in_pmix, PMIX_IDLE, __ATOMIC_RELAXED);
    if (st != PMIX_SUCCESS) {
        snprintf(err, errlen, "started by a PMIx launcher (PMIX_NAMESPACE=%s) but PMIx_Init "
                              "failed: %s", getenv("PMIX_NAMESPACE"), perr(st));
        return -EIO;
    }
    inited = 1;
    PMIX_PROC_LOAD(&wild, me.nspace, PMIX_RANK_WILDCARD);
    if (get_u32(&wild, PMIX_JOB_SIZE, &v) < 0 || v < 1 || v > (1u << 24) ||
        me.rank >= v) {
        snprintf(err, errlen, "PMIx: no usable job size (PMIX_JOB_SIZE) for namespace %s",
                 me.nspace);
        return -EINVAL;
    }
    info->rank = (int)me.rank;
    mome_boot_set_rank(info->rank);
    info->size = job_size = (int)v;
    info->local_rank = get_u32(&me, PMIX_LOCAL_RANK, &v) == 0 ? (int)v : info->rank;
    info->local_size = get_u32(&wild, PMIX_LOCAL_SIZE, &v) == 0 ? (int)v : info->size;
    if (info->local_rank >= info->local_size)
        info->local_size = info->local_rank + 1;
    /* The program of mpirun's command line (-n 2 ./a : -n 1 ./b): PMIX_APPNUM of every rank
     * (job data, known here), so that this node knows its program's ranks. boot.c makes the job
     * one program when the server does not say, or when a program's ranks are not consecutive. */
    if (get_u32(&me, PMIX_APPNUM, &v) == 0) {
        int first = -1, count = 0, gap = 0;
        for (int r = 0; r < info->size && !gap; r++) {
            pmix_proc_t p;
            uint32_t a;
            PMIX_PROC_LOAD(&p, me.nspace, (pmix_rank_t)r);
            if (get_u32(&p, PMIX_APPNUM, &a) < 0)
                gap = 1;
            else if (a == v && first >= 0 && first + count != r)
                gap = 1; /* not consecutive */
            else if (a == v && count++ == 0)
                first = r;
        }
        if (!gap && first >= 0) {
            info->app = (int)v;
            info->app_rank = info->rank - first;
            info->app_size = count;
        }
    }

    if (pipe2(evpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "cannot create the PMIx event pipe: %s", strerror(errno));
        return -errno;
    }
    register_events();
    return share_key(&info->key, err, errlen);
}

static int pmix_allgather(const void *blob, uint32_t len, void **out)
{
    char key[32];
    pmix_value_t val;
    pmix_status_t st;
    pmix_proc_t p;
    uint64_t total = sizeof(uint32_t) * (uint64_t)job_size;
    pmix_value_t **vals;
    char *res, *q;

    snprintf(key, sizeof(key), "mome.g%u", gather_seq++);
    PMIX_VALUE_CONSTRUCT(&val);
    val.type = PMIX_BYTE_OBJECT;
    val.data.bo.bytes = (char *)blob;
    val.data.bo.size = len;
    if ((st = PMIx_Put(PMIX_GLOBAL, key, &val)) != PMIX_SUCCESS ||
        (st = PMIx_Commit()) != PMIX_SUCCESS)
        mome_die(1, "PMIx: cannot publish start-up data: %s; stopping", perr(st));
    st = fence_all();
    if (st != PMIX_SUCCESS)
        mome_die(1, "PMIx fence failed (%s): a node of the job is gone; stopping", perr(st));

    vals = calloc((size_t)job_size, sizeof(*vals));
    if (!vals)
        return -ENOMEM;
    for (int r = 0; r < job_size; r++) {
        PMIX_PROC_LOAD(&p, me.nspace, (pmix_rank_t)r);
        st = PMIx_Get(&p, key, NULL, 0, &vals[r]);
        if (st != PMIX_SUCCESS || vals[r]->type != PMIX_BYTE_OBJECT)
            mome_die(1, "PMIx: no start-up data %s from node %d (%s); stopping", key, r,
                     st != PMIX_SUCCESS ? perr(st) : "wrong type");
        total += vals[r]->data.bo.size;
    }
    res = total <= (1u << 30) ? malloc(total ? total : 1) : NULL;
    if (res) {
        q = res + sizeof(uint32_t) * (size_t)job_size;
        for (int r = 0; r < job_size; r++) {
            uint32_t l = (uint32_t)vals[r]->data.bo.size;
            memcpy(res + sizeof(uint32_t) * (size_t)r, &l, sizeof(l));
            if (l)
                memcpy(q, vals[r]->data.bo.bytes, l);
            q += l;
        }
    }
    for (int r = 0; r < job_size; r++)
        PMIX_VALUE_RELEASE(vals[r]);
    free(vals);
    if (!res)
        return -ENOMEM;
    *out = res;
    return 0;
}

static int pmix_watch(void)
{
    return evpipe[0];
}

/* The progress thread: the event handler said a node (or the launcher) is gone. */
static void pmix_event(void)
{
    char buf[512];
    ssize_t n = read(evpipe[0], buf, sizeof(buf) - 1);
    int rank;
    char *text;

    if (n <= 0)
        return;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    rank = (int)strtol(buf, &text, 10);
    text += *text == ' ';
    if (rank < 0)
        mome_die(1, "stopping this node: %s", text);
    mome_die(1, "stopping this node: lost %s", text);
}

static void pmix_explain(int timeout_ms)
{
    struct pollfd p = {.fd = evpipe[0], .events = POLLIN};
    int rc;

    if (evpipe[0] < 0)
        return;
    do
        rc = poll(&p, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 1)
        pmix_event();
}

static void pmix_abort(int status, const char *msg)
{
    pmix_proc_t all;

    if (!inited)
        return;
    __atomic_store_n(&leaving, 1, __ATOMIC_RELEASE);
    PMIX_PROC_LOAD(&all, me.nspace, PMIX_RANK_WILDCARD);
    /* The launcher prints msg and stops every process of the job, this one too. It may be out of
     * reach (the network to it is down): the alarm's default action then ends this process. */
    alarm(5);
    PMIx_Abort((status & 0xff) ? status : 1, msg, &all, 1);
}

static void pmix_finalize(void)
{
    if (!inited)
        return;
    __atomic_store_n(&leaving, 1, __ATOMIC_RELEASE);
    PMIx_Finalize(NULL, 0);
    inited = 0;
    for (int i = 0; i < 2; i++) {
        if (evpipe[i] >= 0)
            close(evpipe[i]);
        evpipe[i] = -1;
    }
}

const mome_boot_ops_t mome_boot_pmix = {
    .name = "pmix",
    .priority = 50,
    .init = pmix_init,
    .allgather = pmix_allgather,
    .watch = pmix_watch,
    .event = pmix_event,
    .explain = pmix_explain,
    .abort = pmix_abort,
    .finalize = pmix_finalize,
    .describe = pmix_describe,
};
