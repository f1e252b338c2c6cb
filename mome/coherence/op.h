/*
 * op.h - private: an operation waiting for answers (an acquire refreshing copies, a MomeSyncMem, a
 * model switch): requests issued on its behalf hold it, and it finishes when the last one is
 * answered. Progress thread only.
 */
#ifndef MOME_COHERENCE_OP_H
#define MOME_COHERENCE_OP_H

typedef struct mome_op mome_op_t;
typedef void (*mome_op_done_cb_t)(mome_op_t *op);

struct mome_op {
    int pending;            /* answers still awaited, plus one while requests go out */
    mome_op_done_cb_t done; /* runs once pending drops to 0; may free the op */
};

/* Start issuing requests for op (it cannot finish until mome_op_end). */
static inline void mome_op_begin(mome_op_t *op, mome_op_done_cb_t done)
{
    op->pending = 1;
    op->done = done;
}
static inline void mome_op_hold(mome_op_t *op)
{
    if (op)
        op->pending++;
}
/* One answer came (or the issuing is over: mome_op_end). */
static inline void mome_op_put(mome_op_t *op)
{
    if (op && --op->pending == 0)
        op->done(op);
}
#define mome_op_end mome_op_put

#endif
