/*
 * checkpoint.h - private: a checkpoint of a persistent segment on this node: the pages it must
 * write (those flagged here, ckptflag.h) and their current content, fetched first where this
 * node's copy may not be current. core/checkpoint.c drives it. Progress thread only.
 */
#ifndef MOME_COHERENCE_CHECKPOINT_H
#define MOME_COHERENCE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "coherence/ckptflag.h"
#include "coherence/op.h"
#include "coherence/seg.h"

/* ---- a checkpoint of segment s on this node ---- */

typedef struct mome_ckpt_set {
    uint64_t *pages; /* candidates (gather), then the pages this node writes (take) */
    uint8_t *fetched;
    size_t n;
} mome_ckpt_set_t;

/*
 * Gather the pages of s flagged here. Those whose copy here may not be current are fetched,
 * holding op; they are still flagged until taken. Returns 0 or -ENOMEM.
 */
int mome_ckpt_gather(mome_seg_t *s, mome_op_t *op, mome_ckpt_set_t *set);
/*
 * Once op completed: take the gathered pages whose content here is current (flag cleared, views
 * write-protected so that the next write flags them again), leaving set->pages with them. Returns
 * how many could not be taken yet (a request in flight): they stay flagged for a next gather.
 */
size_t mome_ckpt_take(mome_seg_t *s, mome_ckpt_set_t *set);
/* Copy the contents of pages[0..n) into buf. Returns how many were copied: fewer when a page's
 * copy left this node meanwhile (evicted): it and the rest are to be gathered again. */
size_t mome_ckpt_copy(mome_seg_t *s, const uint64_t *pages, size_t n, void *buf);
/* The pages were not written after all (the checkpoint failed): flag them again. */
void mome_ckpt_restore(mome_seg_t *s, const uint64_t *pages, size_t n);
void mome_ckpt_set_free(mome_ckpt_set_t *set);

#endif
