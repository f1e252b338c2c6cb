/*
 * model_release.c - RELEASE: release consistency with multiple writers. A node's writes are seen
 * by others after it releases them and they acquire; several nodes may write a page at once (the
 * owner writes its master, the others twin their copy and send XOR diffs at release). Holders
 * receive stale notices of released changes and catch up at their next acquire; the owner pushes
 * new versions to the readers it served.
 */
#include "coherence/copy.h"
#include "coherence/model.h"
#include "coherence/requester.h"
#include "mome.h"

static void release_sync(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    /* The range's notices were applied as at an acquire: nothing more. */
}

/* From WEAK: a copy of another node's master was kept past notices it never received, so it is
 * renewed (dropped and fetched afresh under the new contract when used, or refreshed now keeping
 * writes this node has not released yet). The master, here (the owner's, a first reader's, a
 * single writer's), is current, but the directory must learn its new contract: under WEAK it was
 * never invalidated nor notified, and kept so after the switch, its node never saw another node's
 * STRONG write, even after a barrier (and a dropped master left the page nowhere). */
static void release_enter(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if ((pg->access != MOME_ACC_NONE && (pg->flags & MOME_PG_OWNER)) ||
        (mome_page_may_be_master(pg) && !(pg->flags & MOME_PG_DIRTY)))
        mome_req_access(s, page, MOME_RELEASE, op);
    else
        mome_req_renew(s, page, op);
}

const mome_model_t mome_model_release = {
    .id = MOME_RELEASE,
    .name = "RELEASE",
    .strength = 2,
    .single_writer = 0,
    .invalidated = 1,
    .notified = 1,
    .stops_writer = 1,
    .pushed = 1,
    .acquire = mome_req_catch_up,
    .sync = release_sync,
    .enter = release_enter,
};
