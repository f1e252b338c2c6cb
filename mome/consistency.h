/*
 * consistency.h - private: the node side of the coherence protocol and the per-page contracts.
 *
 * Resolves faults from the local page state or by asking the page's manager; installs granted
 * pages; serves and drops copies when the directory asks. Progress thread only.
 */
#ifndef MOME_CONSISTENCY_H
#define MOME_CONSISTENCY_H

#include <stdint.h>

#include "node.h"
#include "proto.h"

int mome_cons_init(void);
void mome_cons_fini(void);

/* A fault at addr (write: the access needs write permission), read from userfaultfd at t0. */
void mome_cons_fault(char *addr, int write, uint64_t t0);

/* GRANT, DATA, INV_ACK (as requester); FWD_READ, FWD_WRITE, INV (as holder). */
void mome_cons_msg(const mome_msg_t *m);

/* MomeConsistency: p addr, a0 len, a1 model. */
void mome_cons_cmd_model(mome_cmd_t *c);

/* MomeSyncMem: p addr, a0 len, a1 date. */
void mome_cons_cmd_sync(mome_cmd_t *c);

#endif
