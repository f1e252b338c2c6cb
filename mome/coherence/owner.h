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

/* Called with the number of released pages whose every holder now knows (acknowledgements). */
typedef void (*mome_owner_acked_cb_t)(int pages);
/* Called when a flush sent a diff: one more acknowledgement (a NOTICE_ACK from the owner, once
 * merged) will come, outside any release; releases wait for it too. */
typedef void (*mome_owner_expect_cb_t)(void);

/* Registers DIFF, NOTICE_ACK, PUSH_ACK. */
int mome_owner_init(mome_owner_acked_cb_t acked, mome_owner_expect_cb_t expect);
void mome_owner_fini(void);

/* Release one dirty page at `date`; returns how many acknowledgements will come for it. */
int mome_owner_release_page(mome_seg_t *s, uint64_t page, uint64_t date);
/* Send what the release's batches still hold. */
void mome_owner_release_send(uint64_t date);

/* The manager `mgr` turns the page single-writer: release it now (once this node's releases of it
 * in flight are acknowledged), stop writing, and drop the copy if asked. */
void mome_owner_flush(mome_seg_t *s, uint64_t page, uint32_t mgr, int drop);

#endif
