/*
 * release.h - private: the release/acquire engine, MomeSyncMem and switches between models.
 *
 * A release hands every page written since the last one to owner.c and completes once every
 * acknowledgement is in; releases from several callers queue, one in flight. An acquire at date D
 * gives each copy with a stale notice dated <= D to its model (model.h): refreshed, dropped or
 * kept. The callers are the synchronisation calls above (core/); each gets a callback with the
 * date when its operation is complete. Progress thread only.
 */
#ifndef MOME_COHERENCE_RELEASE_H
#define MOME_COHERENCE_RELEASE_H

#include <stdint.h>

#include "base/clock.h"

typedef void (*mome_rel_cb_t)(void *arg, mome_date_t date);
struct mome_seg;

int mome_rel_init(void);
void mome_rel_fini(void);

/* Release everything written since the last release; cb(arg, release date) once complete. */
void mome_rel_release(mome_rel_cb_t cb, void *arg);

/*
 * A MomeBarrier's release (tag: its epoch + 1): the owner's notices are kept for the barrier's
 * messages (mome_rel_barrier_notices) instead of going to the managers, and its pushes are counted
 * by the readers instead of acknowledged, so it completes without a round trip; shared with other
 * callers, an ordinary release.
 */
void mome_rel_release_barrier(uint64_t tag, mome_rel_cb_t cb, void *arg);
/* This node's barrier notice entries (net/wire.h) for its BAR_ENTER; valid until its exit. */
const void *mome_rel_barrier_notices(uint32_t *len);
/* The most bytes of them a node's BAR_ENTER may carry in a job of nnodes nodes. */
uint32_t mome_rel_barrier_cap(uint32_t nnodes);
/* The barrier's exit: every node's notices (validated barrier notice entries) go to the copies
 * that take notices, and once the pages pushed for this barrier are in, acquire at d. */
void mome_rel_barrier_acquire(uint64_t tag, mome_date_t d, const void *notices, uint32_t len,
                              mome_rel_cb_t cb, void *arg);
/* A PUSH of n entries for barrier `tag` came from node src (holder.c). */
void mome_rel_pushed(uint32_t src, uint64_t tag, uint32_t n);

/* Acquire at date d (a lock grant, a barrier): cb(arg, d) once stale copies are dealt with. */
void mome_rel_acquire(mome_date_t d, mome_rel_cb_t cb, void *arg);

/* MomeSyncMem over [a, end) (wholly in Mome views): this node's writes are released, then the
 * range's copies catch up with every change released at a date <= d; cb(arg, d). */
void mome_rel_sync(char *a, char *end, mome_date_t d, mome_rel_cb_t cb, void *arg);

/* MomeConsistency over [a, end) (wholly in Mome views, model valid): switching to a stronger
 * model first makes this node's view current; cb(arg, 0) once done. */
void mome_rel_switch(char *a, char *end, int model, mome_rel_cb_t cb, void *arg);

/* Writes to s not released yet, or a release in flight (coherence.h mome_coh_seg_unreleased). */
int mome_rel_seg_unreleased(const struct mome_seg *s);
/* s, closed here, is open again: its copies' pending notices are applied (mome_coh_seg_reopened).
 */
void mome_rel_seg_reopened(struct mome_seg *s);

/* A release is running or queued (shutdown waits for none). */
int mome_rel_busy(void);

#endif
