/*
 * checkpoint.h - private: MomeCheckpoint and the implicit checkpoint of MomeFinalize. Every node
 * that has a persistent segment writes the pages it changed since the last checkpoint into its own
 * delta of the next generation and tells the coordinator (the segment's name manager, which holds
 * its lock) once the delta is durable; the coordinator commits the new head when every delta is,
 * and tells every participant the outcome. The files are written by the application thread that
 * called; the progress thread only hands it the pages' content (commands), so it keeps serving
 * the other nodes meanwhile.
 */
#ifndef MOME_CORE_CHECKPOINT_H
#define MOME_CORE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

/* Registers CKPT_READY and CKPT_DONE, and the end of a checkpoint whose segment's name record
 * goes (mome_segment_on_destroy). */
int mome_checkpoint_init(void);
void mome_checkpoint_fini(void);

/* Application thread, before MomeCheckpoint's barrier: is `handle` a persistent segment's, and is
 * no other thread of this node in a checkpoint (EBUSY)? On 0 this thread's checkpoint has begun
 * (*id: the segment's, which the barrier checks against the other nodes'): mome_checkpoint_run
 * or mome_checkpoint_cancel ends it. Else -errno with a message. */
int mome_checkpoint_check(int handle, uint64_t *id, char *err, size_t errlen);
/* The barrier failed: the checkpoint mome_checkpoint_check began is over. */
void mome_checkpoint_cancel(void);
/* Application thread, after MomeCheckpoint's barrier: checkpoint the segment mome_checkpoint_check
 * found (a close of its handle meanwhile, by another thread, changes nothing) with every node
 * that has it. 0, or -errno with a message (the previous checkpoint stays current). */
int mome_checkpoint_run(char *err, size_t errlen);
/* Application thread, in MomeFinalize after its barrier: checkpoint every persistent segment of
 * the job, so the next job sees the final content. 0, or -errno with a message. */
int mome_checkpoint_finalize(char *err, size_t errlen);

/* Progress thread: this node sent its CKPT_READY of generation gen of segment seg to coord; the
 * one CKPT_DONE it accepts for it is coord's (the READY's sender calls it; tests). */
void mome_checkpoint_expect_done(uint64_t seg, int coord, uint64_t gen);

#endif
