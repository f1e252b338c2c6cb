/*
 * boot.c - choosing the launcher backend, and the calls that go to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/boot.h"

static const mome_boot_ops_t *const backends[] = {
    &mome_boot_run,
#ifdef MOME_HAVE_PMIX
    &mome_boot_pmix,
#endif
    &mome_boot_single,
};
static const mome_boot_ops_t *cur = &mome_boot_single;

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
        int rc = order[i]->init(info, err, errlen);
        if (rc == -ENOENT)
            continue;
        if (rc == 0) {
            cur = order[i];
            info->backend = cur->name;
        }
        return rc;
    }
    snprintf(err, errlen, "no launcher backend can start this node");
    return -ENOENT;
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
