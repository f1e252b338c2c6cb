/*
 * sync.h - private: job-wide locks and barriers, releases, MomeSyncMem and model switches.
 *
 * A lock is managed by a node chosen by hashing its id; it grants the lock in request order and
 * records nothing else. The barrier is gathered by node 0, which returns to everyone a date above
 * every entry date. Progress thread only, except mome_sync_last_barrier().
 */
#ifndef MOME_CORE_SYNC_H
#define MOME_CORE_SYNC_H

#include "base/clock.h"
#include "core/cmd.h"
#include "core/job.h"

/* Registers LOCK_REQ, LOCK_GRANT, LOCK_REL, BAR_ENTER, BAR_EXIT. */
int mome_sync_init(void);
void mome_sync_fini(void);

/* Commands: MomeLock, MomeUnlock (u.lock), MomeBarrier. */
void mome_sync_cmd_lock(mome_cmd_t *c);
void mome_sync_cmd_unlock(mome_cmd_t *c);
void mome_sync_cmd_barrier(mome_cmd_t *c);
/* Command: MomeAppBarrier, among the nodes of this node's program (gathered by its first). */
void mome_sync_cmd_app_barrier(mome_cmd_t *c);
/* Progress thread: what command c (running) waits for, in buf (barrier epoch and who has not
 * arrived, lock, date); returns the length, 0 when nothing to add. */
size_t mome_sync_describe(const mome_cmd_t *c, char *buf, size_t len);
/* Command: MomeInit's hello to every node (completes once every node's hello is in). */
void mome_sync_cmd_hello(mome_cmd_t *c);
/* Progress thread: MomeInit waits for the HELLOs (its sleeps are then bounded). */
int mome_sync_connecting(void);
/* Progress thread, every round: no new HELLO for the bound (MOME_CONNECT_TIMEOUT) stops the job,
 * naming the nodes not heard from and what to check (does not return then). */
void mome_sync_hello_watch(void);
/* MOME_TEST_INJECT "nohello:N": node N sends node 0 no HELLO. 1 if spec was that, 0 if it is
 * another kind (for the message table), -EINVAL if malformed. Before mome_sync_cmd_hello. */
int mome_sync_inject(const char *spec);
/* Command: the quiesce round of MomeFinalize (after its barrier). */
void mome_sync_cmd_quiesce(mome_cmd_t *c);
/* Commands: MomeRelease, MomeSyncMem (u.sync), MomeConsistency (u.model). */
void mome_sync_cmd_release(mome_cmd_t *c);
void mome_sync_cmd_syncmem(mome_cmd_t *c);
void mome_sync_cmd_model(mome_cmd_t *c);

/* The date the last barrier returned (any thread). */
mome_date_t mome_sync_last_barrier(void);

#endif
