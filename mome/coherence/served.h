/*
 * served.h - private: pages of segments momed serves (dynamic coupling, doc/design.md section 18).
 * momed hands each page of a served segment to one job at a time: the node that fetched it (on a
 * GRANT_ZERO, the job's first use of the page) holds it for its job, and gives it back when momed
 * recalls it (another job wants it) or when the job checkpoints or leaves: a recall takes every
 * copy in the job (RELEASE and WEAK writers flushed, every copy, WEAK ones included, invalidated),
 * sends the content back and resets the page's directory entry, so the job's next use fetches it
 * from momed again. Progress thread only.
 */
#ifndef MOME_COHERENCE_SERVED_H
#define MOME_COHERENCE_SERVED_H

#include <stdint.h>

#include "coherence/op.h"
#include "coherence/seg.h"
#include "net/srvproto.h"

/* What served.c asks of the requester (requester.c gives it at init: it depends on this file,
 * not the other way round): start a recall's request; complete a fetch with momed's content
 * (-ENOENT if no transaction waits for it). */
typedef struct mome_served_req {
    void (*recall)(mome_seg_t *s, uint64_t page, mome_op_t *op);
    int (*data)(mome_seg_t *s, uint64_t page, const void *content);
} mome_served_req_t;
void mome_served_set_req(const mome_served_req_t *r);

/* Registers SRV_PAGE and SRV_RECALL. */
int mome_served_init(void);
void mome_served_fini(void);

/* The requester's transaction for a page of a served segment got GRANT_ZERO: ask momed for it
 * (the content arrives as SRV_PAGE and completes the transaction). */
void mome_served_fetch(mome_seg_t *s, uint64_t page);
/* A recall's transaction completed here: the page's content goes back to momed, at once if momed
 * asked for it, else (mome_served_return) in a batch with the others. */
void mome_served_recalled(mome_seg_t *s, uint64_t page, const void *content);
/* Send the batch of pages given back (when every recall mome_served_return started is done). */
void mome_served_flush(void);
/* A transaction on the page ended: start a recall that waited for it. */
void mome_served_kick(mome_seg_t *s, uint64_t page);
/* Give back every page of s this node holds from momed, on behalf of op (their content is
 * batched: mome_served_flush once op is done). Returns how many recalls started; *busy counts pages that could not start now (a transaction in flight: try again). */
uint64_t mome_served_return(mome_seg_t *s, mome_op_t *op, uint64_t *busy);
/* The same for every served segment. */
uint64_t mome_served_return_all(mome_op_t *op, uint64_t *busy);
/* Pages of s this node holds from momed. */
uint64_t mome_served_held(mome_seg_t *s);

#endif
