/*
 * coherence.h - private: the coherence layer as the node engine sees it: start and stop it, and
 * what the engine's polling needs. Segments (seg.h), releases and acquires (release.h) and the
 * directory's state (directory.h) have their own headers. Progress thread only.
 */
#ifndef MOME_COHERENCE_COHERENCE_H
#define MOME_COHERENCE_COHERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "coherence/seg.h"

typedef struct mome_coh_config {
    size_t page_size;
    int nnodes, self;
    int dir_migrate;     /* MOME_DIR_MIGRATE */
    uint64_t prefetch;   /* MOME_PREFETCH */
    uint64_t budget;     /* MOME_LOCAL_PAGES (0: none) */
    double high, low;    /* MOME_LOCAL_HIGH, MOME_LOCAL_LOW */
    const char *evict;   /* MOME_EVICT: the eviction policy, with a budget */
    const char *swap_dir; /* MOME_SWAP_DIR */
    int pageout_disk;     /* MOME_PAGEOUT=disk */
} mome_coh_config_t;

/* What can be checked before the node joins the job (no transport yet, nothing set up): that the
 * page budget's swap directory can hold the swap file. 0, or -EINVAL and a message. */
int mome_coh_check(const mome_coh_config_t *cfg, char *err, size_t errlen);
/* Set up every part of the layer, register its messages and take the faults. */
int mome_coh_init(const mome_coh_config_t *cfg, char *err, size_t errlen);
void mome_coh_fini(void);

/* A segment is gone job-wide: forget the directory entries this node keeps for it. */
void mome_coh_seg_destroyed(uint64_t seg);
/* This node's record of a segment goes (mome_seg_free), and with it the requests for its pages:
 * MomeSyncMem calls waiting for one of them end. */
void mome_coh_seg_free(mome_seg_t *s);

/* This node's requests for the segment's pages still in flight (pages asked ahead among them). */
int mome_coh_seg_requests(const mome_seg_t *s);
/* Writes of this node to s not released yet, or a release in flight: its SEG_CLOSE waits (a diff
 * or notice sent after it could reach nodes that destroyed the segment). */
int mome_coh_seg_unreleased(const mome_seg_t *s);
/* This node sent its SEG_CLOSE for s; it opens s again (before it was destroyed): the notices
 * its copies missed meanwhile are applied now. */
void mome_coh_seg_closed(mome_seg_t *s);
void mome_coh_seg_reopened(mome_seg_t *s);

/* Requests awaiting replies (the engine polls while > 0); was a faulting thread just woken (the
 * engine yields its core to it)? The second clears the flag. */
int mome_coh_outstanding(void);
/* Of those, the ones a thread of this node waits for: all but pages asked ahead that no thread has
 * faulted on yet (polling for those would only keep this core from the application). */
int mome_coh_awaited(void);
int mome_coh_take_woke(void);
/* Background work, a little on every turn of the engine, busy or not (eviction down to the low
 * watermark). Returns how much was done (0: the engine may sleep). */
int mome_coh_idle(void);
/* The node is finishing (MomeFinalize's quiesce round): no background work, as the nodes that
 * would keep its pages may stop as soon as the round ends. */
void mome_coh_finishing(void);
/* Progress thread: the faults of application threads waiting for a page, in words (page,
 * segment name, whom it asked), and the page-out or page-in whose answer the progress thread
 * waits for, in buf; returns the length, 0 when none waits (requester.c, pageout.c). */
size_t mome_coh_describe_faults(char *buf, size_t len);

#endif
