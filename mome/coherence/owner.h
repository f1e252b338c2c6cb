/*
 * owner.h - private: what this node's writes become. At a release, each written page becomes the
 * owner's notice (and pushes of the new version to pushed readers) or, for a page whose master
 * another node owns, a diff to that owner; the owner merges diffs into the master and announces the
 * new versions to the page's manager. A flush (the directory turning a page single-writer)
 * releases one page at once. Messages go in batches, one per destination, sent when they fill and
 * at the end of the release, so a release of any size needs bounded memory. Progress thread only.
 */
#ifndef MOME_COHERENCE_OWNER_H
#define MOME_COHERENCE_OWNER_H

#include <stdint.h>

#include "coherence/seg.h"
#include "net/wire.h"

/* Called with the number of released pages whose every holder now knows (acknowledgements);
 * returns -1 when this node awaits fewer. */
typedef int (*mome_owner_acked_cb_t)(int pages);
/* Called when a flush sent a diff: one more acknowledgement (a NOTICE_ACK from the owner, once
 * merged) will come, outside any release; releases wait for it too. */
typedef void (*mome_owner_expect_cb_t)(void);

/* Called for each acknowledgement of this node's released diffs and notices of a page: the master
 * has that change from version ver on; all: none of them is in flight any more. */
typedef void (*mome_owner_released_cb_t)(uint64_t seg, uint64_t page, uint64_t ver, int all);
/* Called with each diff of a page this node sends (a release's or a flush's), in order, before it
 * leaves: encoded runs or the whole page XOR its twin (flags: MOME_DIFF_ENTRY_FULL). */
typedef void (*mome_owner_diff_cb_t)(uint64_t seg, uint64_t page, const void *diff, uint32_t len,
                                     uint32_t flags);

/* Registers DIFF, NOTICE_ACK, PUSH_ACK. */
int mome_owner_init(mome_owner_acked_cb_t acked, mome_owner_expect_cb_t expect,
                    mome_owner_released_cb_t on_released, mome_owner_diff_cb_t on_diff_sent);
void mome_owner_fini(void);

/*
 * A release: begin (tag: 0, or a MomeBarrier's epoch + 1, whose messages then carry the owner's
 * notices and whose readers count its pushes), each dirty page (write-protected by the caller,
 * or kept open and marked MOME_PG_KEPT), send. Each returns how many acknowledgements will come
 * for what it did.
 */
int mome_owner_release_begin(uint64_t tag, uint64_t date);
int mome_owner_release_page(mome_seg_t *s, uint64_t page, uint64_t date);
int mome_owner_release_send(uint64_t date);

/* The barrier notice entries (net/wire.h) of this node's barrier release, for its BAR_ENTER. */
const void *mome_owner_barrier_notices(uint32_t *len);
/* The barrier ended: every node has those notices. */
void mome_owner_barrier_done(void);

/* The most bytes of barrier notices one node may send with its BAR_ENTER: the gathering node's
 * BAR_EXIT carries them all in one batch. More go to the managers, acknowledged, as usual. */
static inline uint32_t mome_owner_barrier_cap(uint32_t nnodes)
{
    uint32_t cap = nnodes ? MOME_BATCH_MAX / nnodes : 0;
    if (cap > (64u << 10))
        cap = 64u << 10;
    return cap - cap % MOME_BATCH_BNOTICE_SIZE;
}

/* The manager `mgr` turns the page single-writer: release it now (once this node's releases of it
 * in flight are acknowledged), stop writing, and drop the copy if asked. */
void mome_owner_flush(mome_seg_t *s, uint64_t page, uint32_t mgr, int drop);

#endif
