/*
 * model_strong.c - STRONG: sequential consistency. One writer at a time; every other copy that
 * is not kept (WEAK) is taken back before anyone writes, so no synchronisation call is needed for
 * a write to be seen. A STRONG request on a multiple-writer page first flushes its writers.
 */
#include "coherence/copy.h"
#include "coherence/model.h"
#include "coherence/requester.h"
#include "mome.h"

static void strong_sync(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    /* Always current: nothing to do. */
}

/*
 * From a weaker model: a copy fetched under the weaker contract may be stale, so it goes. The
 * owner of a multiple-writer page keeps its master and has the directory stop the other writers;
 * so does a writer with writes not yet released (another thread wrote during the switch's
 * release): the directory's flush sends them to the master before this node gets the page back.
 */
static void strong_enter(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if (pg->flags & (MOME_PG_OWNER | MOME_PG_DIRTY))
        mome_req_access(s, page, MOME_STRONG, op);
    else if (mome_page_may_be_master(pg))
        /* Dropped without a word, the page was nowhere, and the directory sent the next request
         * to this node, which stopped the job ("does not hold"): it tells the directory of the
         * new contract instead. */
        mome_req_access(s, page, MOME_STRONG, op);
    else
        mome_copy_drop(s, page);
}

const mome_model_t mome_model_strong = {
    .id = MOME_STRONG,
    .name = "STRONG",
    .strength = 3,
    .single_writer = 1,
    .invalidated = 1,
    .notified = 1,
    .stops_writer = 1,
    .pushed = 0,
    .acquire = mome_req_catch_up, /* a notice left from a weaker contract */
    .sync = strong_sync,
    .enter = strong_enter,
};
