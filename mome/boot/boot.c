/*
 * boot.c - choosing the launcher backend, and the calls that go to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "boot/boot.h"

static const mome_boot_ops_t *const backends[] = {
    &mome_boot_run,
#ifdef MOME_HAVE_PMIX
    &mome_boot_pmix,
#endif
    &mome_boot_single,
};
static const mome_boot_ops_t *cur = &mome_boot_single;
/* The backend being asked (its init may wait: PMIx's fence), then the one chosen; read by other
 * threads (mome_boot_describe_wait). */
static const mome_boot_ops_t *asking;
static int asked;
static int known_rank = -1;

int mome_boot_init(mome_boot_info_t *info, char *err, size_t errlen)
{
    const mome_boot_ops_t *order[sizeof(backends) / sizeof(backends[0])];
    size_t n = sizeof(backends) / sizeof(backends[0]);

    /* By decreasing priority (insertion sort of a handful). */
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && order[j - 1]->priority < backends[i]->priority) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = backends[i];
    }
    for (size_t i = 0; i < n; i++) {
        int rc;
        /* One program, unless the backend knows better. */
        info->app = 0;
        info->app_rank = -1;
        __atomic_store_n(&asked, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&asking, order[i], __ATOMIC_RELEASE);
        rc = order[i]->init(info, err, errlen);
        if (rc == -ENOENT)
            continue;
        if (rc == 0) {
            mome_boot_set_rank(info->rank);
            cur = order[i];
            info->backend = cur->name;
            if (info->app_rank < 0 || info->app_size < 1 || info->app_rank >= info->app_size ||
                info->app_rank > info->rank || info->rank - info->app_rank + info->app_size >
                info->size) {
                info->app = 0;
                info->app_rank = info->rank;
                info->app_size = info->size;
            }
        }
        return rc;
    }
    snprintf(err, errlen, "no launcher backend can start this node");
    return -ENOENT;
}

int mome_boot_asked(void)
{
    return __atomic_load_n(&asked, __ATOMIC_RELAXED);
}

int mome_boot_rank(void)
{
    return __atomic_load_n(&known_rank, __ATOMIC_RELAXED);
}

void mome_boot_set_rank(int rank)
{
    __atomic_store_n(&known_rank, rank, __ATOMIC_RELAXED);
}

size_t mome_boot_describe_wait(char *buf, size_t len)
{
    const mome_boot_ops_t *b = __atomic_load_n(&asking, __ATOMIC_ACQUIRE);
    if (!len)
        return 0;
    buf[0] = 0;
    return b && b->describe ? b->describe(buf, len) : 0;
}

int mome_boot_allgather(const void *blob, uint32_t len, void **out)
{
    return cur->allgather(blob, len, out);
}

const void *mome_boot_blob(const void *result, int size, int i, uint32_t *len)
{
    const uint32_t *lens = result;
    const char *p = (const char *)result + sizeof(uint32_t) * (size_t)size;
    for (int k = 0; k < i; k++)
        p += lens[k];
    *len = lens[i];
    return p;
}

int mome_boot_fd(void)
{
    return cur->watch();
}

void mome_boot_event(void)
{
    cur->event();
}

void mome_boot_explain_failure(int timeout_ms)
{
    cur->explain(timeout_ms);
}

void mome_boot_finalize(void)
{
    cur->finalize();
}

void mome_boot_request_abort(int status, const char *msg)
{
    cur->abort(status, msg);
}

mome_boot_status_t *mome_boot_status_table; /* boot_run.c maps it */
static void (*report_cb)(unsigned seconds);

mome_boot_status_t *mome_boot_status(int rank)
{
    return mome_boot_status_table ? &mome_boot_status_table[rank] : NULL;
}

void mome_boot_set_report(void (*cb)(unsigned seconds))
{
    report_cb = cb;
}

void mome_boot_report(unsigned seconds)
{
    if (report_cb)
        report_cb(seconds);
}

void mome_boot_warn_foreign(void)
{
#ifndef MOME_HAVE_PMIX
    static const char *const vars[] = {"PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK",
                                       "PMI_SIZE", "SLURM_STEP_NUM_TASKS", "MPI_LOCALNRANKS"};

    if (cur != &mome_boot_single)
        return;
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        if (getenv(vars[i])) {
            mome_warn("boot", "%s is set: another launcher (mpirun, srun, prterun) seems to have "
                      "started this program, but Mome was built without PMIx, so this process "
                      "runs as a one-node job of its own; start the job with mome-run, or "
                      "rebuild Mome with PMIx (configure --with-pmix)", vars[i]);
            return;
        }
    }
#endif
}
