/*
 * nodecase.h - what the node-side unit tests (requester, holder, owner, release, sync, segment)
 * share: one node up over the fake memory, faults injected by calling the fault handler, pages
 * brought into a state by the protocol's own messages, and a teardown that runs even after a
 * failed assertion, so that CK_FORK=no runs every test from a clean node.
 */
#ifndef MOME_NODECASE_H
#define MOME_NODECASE_H

#include <stdint.h>

#include "coherence/copy.h"
#include "coherence/proto.h"
#include "coherence/seg.h"
#include "testnode.h"
#include "unit.h"

#define NC_PAGE 4096

/* Node `self` of nnodes, up (directory entries do not migrate, no read-ahead: set
 * mome_coh.prefetch to test it); nc_down takes it down (safe when it is not up) and is the
 * checked teardown of every node-side TCase. */
void nc_up(int nnodes, int self);
void nc_down(void);
#define NC_CASE(_s, _fn) UNIT_CASE_TEARDOWN(_s, _fn, nc_down)

/* Another writable view of the whole of s (nc_down removes it). */
mome_view_t *nc_view(mome_seg_t *s);

/* A message from node `from`, which the decoder must accept (what was recorded is forgotten
 * first: afterwards the recorder holds what this message caused). */
void nc_deliver(int type, int flags, int from, const void *body, const void *payload, uint32_t len);
/* A fault on the page in s's first view, or at addr, as the fault handler gets it. */
void nc_fault(mome_seg_t *s, uint64_t page, int write);
void nc_fault_at(char *addr, int write);

/* The one message of `type` sent to `to`; fails the test if there is none. */
const mome_msg_t *nc_msg(int type, int to);
#define NC_BODY(_m, _T) ((const _T *)mome_msg_body(_m))

/* The answers a requester gets: a GRANT (flags: GRANT_ZERO) from manager mgr, or DATA carrying
 * the grant from node `from` with the page's bytes at version ver. */
void nc_grant(mome_seg_t *s, uint64_t page, int flags, uint32_t rights, uint32_t acks, int mgr,
              uint32_t owner);
void nc_data(mome_seg_t *s, uint64_t page, int from, int mgr, uint32_t rights, uint32_t acks,
             uint64_t ver, const void *bytes);

/* Take a copy as the protocol gives one: a fault (write or not) answered by the page's manager
 * with a zero grant, or by node `from` with DATA carrying the grant. What was sent is forgotten. */
void nc_hold_zero(mome_seg_t *s, uint64_t page, int write, uint32_t rights);
void nc_hold_data(mome_seg_t *s, uint64_t page, int write, uint32_t rights, int from,
                  const void *bytes, uint64_t ver);

/* Node `from` acknowledges this node's release of page (seg, page) (NOTICE_ACK): an owner that
 * merged the page's diff, or the manager that passed its notice on; the master has it from
 * version ver on (nc_ack_page: one above this node's copy, a merge of one diff into it). */
void nc_ack_ver(int from, uint64_t seg, uint64_t page, uint64_t ver);
void nc_ack_page(int from, uint64_t seg, uint64_t page);
/* A page of bytes that depend on seed and are never all zero. */
void nc_pattern(uint8_t *buf, unsigned seed);
/* Times (seg, page) appears in a page list. */
int nc_listed(const mome_plist_t *l, uint64_t seg, uint64_t page);
/* The entries of a batch payload of `kind`, in order, into e[max]; returns how many. */
int nc_entries(int kind, const mome_msg_t *m, mome_entry_t *e, int max);

/* Run fn(arg) in a child process: it must stop the node (mome_die: exit status 1) with a message
 * containing `msg`. fn must not use ck_assert (a failure there would be the child's, not the
 * test's): it delivers raw messages (msgtest_deliver). */
void nc_expect_death(void (*fn)(void *), void *arg, const char *msg);

#endif
