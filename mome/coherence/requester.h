/*
 * requester.h - private: the requesting side of the protocol: faults resolved from the local state
 * or by asking the page's manager, transactions, and the installation of granted pages; also the
 * requests made for no fault (a refresh at an acquire, a model switch, a WEAK refresh). Progress
 * thread only.
 */
#ifndef MOME_COHERENCE_REQUESTER_H
#define MOME_COHERENCE_REQUESTER_H

#include <stdint.h>

#include "coherence/op.h"
#include "coherence/seg.h"

/* Registers GRANT, DATA, INV_ACK, DROP_ACK, SYNC_DATA, SYNC_OK; takes the faults. */
int mome_req_init(void);
/* The faults waiting for a page, in words (mome_coh_describe_faults). */
size_t mome_req_describe_faults(char *buf, size_t len);
void mome_req_fini(void);

/* A fault at addr (write: the access needs write permission), read at t0. */
void mome_req_fault(char *addr, int write, uint64_t t0);

/* Ask for read access under `model` on behalf of op (a switch to a stronger model, a checkpoint's
 * fetch). The page has no request in flight: its callers leave a busy page to that request. */
void mome_req_access(mome_seg_t *s, uint64_t page, int model, mome_op_t *op);
/* Replace a stale copy with the current content now (a writer keeps writing it, twinned). */
void mome_req_refresh(mome_seg_t *s, uint64_t page, mome_op_t *op);
/* Ask the owner whether a WEAK copy is current, and take the newer content if not. Without a
 * copy, the next use fetches the current content; a request already on its way is waited for,
 * and the copy it leaves is asked about. */
void mome_req_sync(mome_seg_t *s, uint64_t page, mome_op_t *op);
/* A segment freed here (its requests forgotten): MomeSyncMem calls waiting for one of them end. */
void mome_req_forget_seg(uint64_t seg);
/* The node switches the page's model (to a different one): the content of a request out for it
 * is not used as it comes, even back under the model it was asked under (brings_stale). */
void mome_req_switched(mome_seg_t *s, uint64_t page);
/*
 * Replace a copy fetched under a weaker contract (a model switch): a copy with writes not yet
 * released is refreshed with them kept (merged on the master's content); any other is dropped,
 * to be fetched afresh when used.
 */
void mome_req_renew(mome_seg_t *s, uint64_t page, mome_op_t *op);
/*
 * A copy's stale notice is due (an acquire, a MomeSyncMem): clear it if the copy is current (or
 * the master), refresh the copy now if this node used it since its last refresh (op counts the
 * request), else drop it to be fetched when touched; a copy with writes not yet released (another
 * thread wrote it during the acquire) is refreshed keeping them. What STRONG and RELEASE do at an
 * acquire.
 */
/* momed recalls the page (served.h): take it from every holder in the job (a STRONG write
 * request with MOME_REQ_RECALL), then give its content back and drop it here. */
void mome_req_recall(mome_seg_t *s, uint64_t page, mome_op_t *op);
/* The content momed sent for a served page's transaction: -ENOENT if none waits for it. */
int mome_req_served_data(mome_seg_t *s, uint64_t page, const void *data);
int mome_req_catch_up(mome_seg_t *s, uint64_t page, mome_op_t *op);
/* owner.c, through release.c: one of this node's released diffs of the page is acknowledged
 * (merged by its owner, whose master has it from version ver on); all: none is in flight any more.
 * Then send the request for its content and the WEAK refresh that waited for that (they could
 * have been answered without them). */
void mome_req_released(uint64_t seg, uint64_t page, uint64_t ver, int all);
/* owner.c, through release.c: this node sends a diff of the page (a WEAK refresh in flight keeps
 * it, to put it on top of an answer that lacks it). */
void mome_req_diff_sent(uint64_t seg, uint64_t page, const void *diff, uint32_t len,
                        uint32_t flags);
/* release.c: called when a refresh keeping this node's writes of a page has merged them into fresh
 * content (a release may wait for that to release the page). */
void mome_req_set_merged(void (*hook)(mome_seg_t *s, uint64_t page));
/* Drop a copy this node no longer uses; a read copy of a master held elsewhere is dropped with
 * word to its manager (DROP; until DROP_ACK the page is busy and op, if any, waits), so that an
 * owner nobody else reads from stops tracking its writes. */
void mome_req_drop(mome_seg_t *s, uint64_t page, mome_op_t *op);

#endif
