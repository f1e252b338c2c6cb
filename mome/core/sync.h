/*
 * sync.h - private: job-wide locks and barriers.
 *
 * A lock is managed by a node chosen by hashing its id; it grants the lock in request order and
 * records nothing else. The barrier is gathered by node 0, which returns to everyone a date above
 * every entry date. Progress thread only, except mome_sync_last_barrier().
 */
#ifndef MOME_SYNC_H
#define MOME_SYNC_H

#include "base/clock.h"
#include "core/node.h"

int mome_sync_init(void);
void mome_sync_fini(void);

void mome_sync_cmd_lock(mome_cmd_t *c);   /* a0 = id */
void mome_sync_cmd_unlock(mome_cmd_t *c); /* a0 = id */
void mome_sync_cmd_barrier(mome_cmd_t *c);

/* LOCK_REQ, LOCK_GRANT, LOCK_REL, BAR_ENTER, BAR_EXIT. */
void mome_sync_msg(const mome_msg_t *m);

/* The date the last barrier returned (any thread). */
mome_date_t mome_sync_last_barrier(void);

#endif
