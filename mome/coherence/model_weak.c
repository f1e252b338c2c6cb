/*
 * model_weak.c - WEAK: a copy changes only when its node asks. MomeSyncMem(addr, len, date) asks
 * the master's owner whether the copy reflects every change released up to date, and takes the
 * newer content if not. The directory never invalidates or notifies a WEAK copy, and a WEAK read
 * does not stop an exclusive writer. The node's own writes are released as under RELEASE.
 */
#include "coherence/copy.h"
#include "coherence/model.h"
#include "coherence/requester.h"
#include "mome.h"

/* Acquires do not refresh WEAK copies: the notice stays until the node switches model. */
static int weak_acquire(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    return 1;
}

/* From a model whose copies are invalidated: the directory must learn the new contract, or
 * another node's STRONG write would still take this copy back. A current copy keeps its content
 * (the directory confirms the contract); the master stays here. A copy another thread wrote
 * since the switch's release asks under WEAK too, its writes merged on top of what comes back
 * (content installed over them would lose them). */
static void weak_enter(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if ((pg->flags & MOME_PG_DIRTY) && !(pg->flags & MOME_PG_OWNER))
        mome_req_renew(s, page, op);
    else
        mome_req_access(s, page, MOME_WEAK, op);
}

const mome_model_t mome_model_weak = {
    .id = MOME_WEAK,
    .name = "WEAK",
    .strength = 1,
    .single_writer = 0,
    .invalidated = 0,
    .notified = 0,
    .stops_writer = 0,
    .pushed = 0,
    .acquire = weak_acquire,
    .sync = mome_req_sync,
    .enter = weak_enter,
};
