/*
 * consistency.h - private: the node side of the coherence protocol and the per-page contracts.
 *
 * Resolves faults from the local page state or by asking the page's manager; installs granted
 * pages; tracks the writes of RELEASE and WEAK pages (twins, dirty list); serves, flushes and drops
 * copies when the directory asks; applies other writers' diffs to the master copies it owns and
 * records the stale notices it receives. Progress thread only.
 */
#ifndef MOME_CONSISTENCY_H
#define MOME_CONSISTENCY_H

#include <stdint.h>

#include "core/node.h"
#include "net/proto.h"

struct mome_seg;

int mome_cons_init(void);
void mome_cons_fini(void);

/* A fault at addr (write: the access needs write permission), read from userfaultfd at t0. */
void mome_cons_fault(char *addr, int write, uint64_t t0);

/* GRANT, DATA, INV_ACK, SYNC_OK (as requester); FWD_*, INV, FLUSH, DIFF, STALE, NOTICE_ACK. */
void mome_cons_msg(const mome_msg_t *m);

/*
 * Release one dirty page at `date`: stop its writes, then add the owner's notice (this node owns
 * the master) and pushes of the new version to its RELEASE readers, or the diff (it twinned), to
 * the release's messages. Returns how many acknowledgements (NOTICE_ACK or PUSH_ACK entries) will
 * come for it. mome_cons_release_send sends the messages.
 */
int mome_cons_release_page(struct mome_seg *s, uint64_t page, uint64_t date);
void mome_cons_release_send(uint64_t date);

/* The page's directory entry is now managed by node (requests go there directly). */
void mome_cons_hint(uint64_t seg, uint64_t page, int node);

/* Forget this node's copy (any view access faults again); the content stays cached. */
void mome_cons_drop(struct mome_seg *s, uint64_t page);

/*
 * Ask the manager for access on behalf of no fault (a model switch or a WEAK refresh): a READ_REQ
 * under model, or a SYNC_REQ. When its answer is installed, mome_rel_op_done(op) is called.
 */
void mome_cons_request(struct mome_seg *s, uint64_t page, int model, void *op);

/* Replace a stale copy with the current content now (a writer keeps writing it, with a twin). */
void mome_cons_refresh(struct mome_seg *s, uint64_t page, void *op);
void mome_cons_sync(struct mome_seg *s, uint64_t page, void *op);

#endif
