/*
 * boot_single.c - the backend of a program started alone: a one-node job, always available.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "boot/boot.h"

static int single_init(mome_boot_info_t *info, char *err, size_t errlen)
{
    info->rank = 0;
    info->size = 1;
    info->local_rank = 0;
    info->local_size = 1;
    info->app = 0;
    info->app_rank = 0;
    info->app_size = 1;
    /* Alone: no other node ever needs it, but a random key keeps stray messages out. */
    if (getrandom(&info->key, sizeof(info->key), 0) != (ssize_t)sizeof(info->key))
        info->key = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull;
    return 0;
}

/* The result is our own blob. */
static int single_allgather(const void *blob, uint32_t len, void **out)
{
    char *r = malloc(sizeof(uint32_t) + len);
    if (!r)
        return -ENOMEM;
    memcpy(r, &len, sizeof(len));
    memcpy(r + sizeof(len), blob, len);
    *out = r;
    return 0;
}

static int single_watch(void)
{
    return -1;
}

static void single_nothing(void)
{
}

static void single_explain(int timeout_ms)
{
}

static void single_abort(int status, const char *msg)
{
}

const mome_boot_ops_t mome_boot_single = {
    .name = "single",
    .priority = 0,
    .init = single_init,
    .allgather = single_allgather,
    .watch = single_watch,
    .event = single_nothing,
    .explain = single_explain,
    .abort = single_abort,
    .finalize = single_nothing,
};
