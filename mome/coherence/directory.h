/*
 * directory.h - private: the page directory, spread over all nodes with no home node.
 *
 * For each page, one node (its manager) records which nodes hold a copy, under which model, and
 * which one owns the latest content. A page's manager starts as a hash of (segment, page) and the
 * entry may migrate to the nodes that use the page; a node that gave an entry away forwards
 * requests for it. Requests for one page are serialised: a transaction stays open until the
 * requester reports DONE, which makes the protocol causal and independent of message order between
 * nodes. Only messages go in and out, so tests drive it with a send hook and no network. What a
 * model asks of the directory is in its table (model.h). Progress thread only.
 */
#ifndef MOME_COHERENCE_DIRECTORY_H
#define MOME_COHERENCE_DIRECTORY_H

#include <stdint.h>

#include "coherence/proto.h"

/* Registers the directory's messages: READ_REQ, WRITE_REQ, SYNC_REQ, DONE, DROP, UNSHARE_ACK,
 * FLUSH_ACK, NOTICE, STALE_ACK, DIR_MOVE, DIR_MOVE_ACK. */
int mome_dir_init(int nnodes, int self, int migrate);
void mome_dir_fini(void);

/* Drop every entry of a destroyed segment. */
void mome_dir_forget_seg(uint64_t seg);

/*
 * A FWD_READ this node's directory sent to this very node (it serves a reader from its own copy
 * rather than the owner's, a hop shorter), which found no copy: this node dropped it without a
 * word (a model switch's drop of a copy fetched under a weaker contract, a refresh), before or
 * while the forward waited in the local queue. The entry forgets this node's copy and the forward
 * goes to the owner, which holds the page. Returns -1 when the open transaction is not such a read
 * (the directory is really inconsistent). Progress thread only.
 */
int mome_dir_reroute_read(const mome_fwd_t *f);

/* What this node's directory says about a page (tests, debugging). */
typedef struct mome_dir_state {
    int known;         /* this node has an entry */
    int owner;         /* -1: never written */
    int excl;          /* STRONG regime: the owner holds it writable */
    int multi;         /* MULTI regime: RELEASE/WEAK writers */
    int busy;          /* requester of the open transaction, or -1 */
    int fwd;           /* node the entry moved to, or -1 */
    int flushing;      /* flush acknowledgements still awaited */
    int unsharing;     /* UNSHARE sent to the owner, its acknowledgement awaited (busy) */
    int ncopies;       /* nodes holding a copy */
    int nwriters;      /* MULTI writers */
    int queued;        /* requests waiting */
    uint64_t copyset0; /* nodes 0..63 of each set */
    uint64_t weak0, strong0, writers0;
} mome_dir_state_t;

void mome_dir_peek(uint64_t seg, uint64_t page, mome_dir_state_t *out);

/* Entries this node holds (managed or forwarding), for tests and statistics. */
uint64_t mome_dir_entries(void);

#endif
