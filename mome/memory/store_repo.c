/*
 * store_repo.c - the repository backend of the page store: what a page held before this job first
 * had it is the repository's content of it (the last checkpoint), read on demand. Nothing reads
 * the whole segment at open: a segment larger than memory costs only the pages touched.
 */
#include <errno.h>
#include <stddef.h>

#include "base/log.h"
#include "memory/store_repo.h"
#include "repo/repo.h"

/*
 * A page no node of this job holds: its content is the repository's. A page that cannot be read
 * or fails its checksum stops the job here, with the cause (file, offset, checksums): its content
 * cannot be known, and wrong bytes must never reach the application.
 */
static int repo_load(mome_store_t *st, uint64_t page, void *dst)
{
    char err[1024];
    int rc;

    if (!st->priv)
        return -ENXIO;
    rc = mome_repo_read(st->priv, page, dst, err, sizeof(err));
    if (rc < 0)
        mome_fatal("%s; stopping", err);
    return rc;
}

static int repo_save(mome_store_t *st, uint64_t page, const void *src)
{
    return -ENOTSUP; /* pages leave memory through the pager; checkpoints write the repository */
}

static void repo_close(mome_store_t *st)
{
    mome_repo_close(st->priv);
    st->priv = NULL;
}

const mome_store_ops_t mome_store_repo = {
    .name = "repository", .load = repo_load, .save = repo_save, .close = repo_close};

void mome_store_repo_attach(mome_store_t *st, struct mome_repo_seg *rs)
{
    st->priv = rs;
}

struct mome_repo_seg *mome_store_repo_of(const mome_store_t *st)
{
    return mome_store_persistent(st) ? st->priv : NULL;
}
