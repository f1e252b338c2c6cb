/*
 * release.h - private: releases and acquires for RELEASE and WEAK pages, MomeSyncMem and model
 * switches.
 *
 * A release sends, for every page written since the last one, the owner's notice or this node's
 * diff, and completes once every holder of a RELEASE copy has the notice; an acquire at date D
 * drops the RELEASE copies whose pending notice is dated <= D (the copy is valid before that date,
 * the program asked for D). WEAK copies get no notices: MomeSyncMem asks the master's owner
 * whether they are current. Progress thread only.
 */
#ifndef MOME_RELEASE_H
#define MOME_RELEASE_H

#include "base/clock.h"
#include "core/node.h"

struct mome_seg;

typedef void (*mome_rel_cb_t)(void *arg, mome_date_t date);

int mome_rel_init(void);
void mome_rel_fini(void);

/* Bookkeeping from the consistency layer. */
void mome_rel_note_dirty(struct mome_seg *s, uint64_t page);
void mome_rel_note_stale(struct mome_seg *s, uint64_t page);
void mome_rel_ack(int pages);    /* pages of this node's release are known to every holder */
void mome_rel_op_done(void *op); /* a request issued for an operation has been answered */

/* Release everything written since the last release; cb(arg, release date) once complete. */
void mome_rel_release(mome_rel_cb_t cb, void *arg);

/* Acquire at date d (a lock grant, a barrier): cb(arg, d) once the stale copies are gone. */
void mome_rel_acquire(mome_date_t d, mome_rel_cb_t cb, void *arg);

/* Commands: MomeRelease; MomeSyncMem (p addr, a0 len, a1 date); MomeConsistency (p, a0, a1 model). */
void mome_rel_cmd_release(mome_cmd_t *c);
void mome_rel_cmd_sync(mome_cmd_t *c);
void mome_rel_cmd_model(mome_cmd_t *c);

#endif
