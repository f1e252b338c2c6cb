/*
 * testnode.h - one node of a job, in a test process, with no network and no kernel help: plain
 * memory behind the page store (fake_memory.h), the send hook recording what goes out
 * (msgtest.h), and every layer's messages registered, so that a test or a fuzzer can deliver any
 * message to its handler and look at the node's state and replies.
 */
#ifndef MOME_TESTNODE_H
#define MOME_TESTNODE_H

#include <stddef.h>
#include <stdint.h>

#include "coherence/seg.h"
#include "fake_memory.h"
#include "msgtest.h"

/* Bring node `self` of nnodes up (page size 4096, directory entries migrate or not); 0 or
 * -errno. */
int testnode_up(int nnodes, int self, int migrate);
void testnode_down(void);

/* A segment of npages pages known to this node, with one writable view of all of it (the view's
 * addresses are a private buffer: the fake memory only records what is done to them). */
mome_seg_t *testnode_segment(uint64_t id, uint64_t npages);
/* The view's address of a page of s. */
char *testnode_addr(mome_seg_t *s, uint64_t page);

#endif
