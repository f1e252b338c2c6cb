/*
 * proto.h - private: the messages of the coherence protocol: their ids, body structs and flags.
 *
 * Each type is registered (net/msg.h) by the file that handles it, with the fields below and their
 * kinds, so a decoded body has been range-checked before any handler reads it. Pages and segments
 * cannot be checked by the decoder: handlers look them up (mome_seg_page) before use.
 * doc/design.md has the table of who sends what to whom.
 */
#ifndef MOME_COHERENCE_PROTO_H
#define MOME_COHERENCE_PROTO_H

#include <stdint.h>

#include "net/msg.h"

enum {
    /* requester -> manager */
    MOME_MSG_READ_REQ = MOME_MSGID_COHERENCE, /* mome_req_t; MOME_REQ_* */
    MOME_MSG_WRITE_REQ,                       /* mome_req_t; MOME_REQ_* */
    MOME_MSG_SYNC_REQ,                        /* mome_req_t: is my WEAK copy (ver) current? */
    MOME_MSG_DONE,                            /* mome_ref_t: the transaction is installed */
    /* manager -> holders */
    MOME_MSG_FWD_READ,  /* mome_fwd_t: send node a read copy, keep yours read-only */
    MOME_MSG_FWD_WRITE, /* mome_fwd_t: send node your copy with the grant, drop yours; FWD_KEEP */
    MOME_MSG_FWD_SNAP,  /* mome_fwd_t: send node a copy, keep writing */
    MOME_MSG_FWD_SYNC,  /* mome_fwd_t: node's WEAK copy is at ver; FWD_EXCL */
    MOME_MSG_INV,       /* mome_ref_t: drop your copy, ack to node */
    MOME_MSG_FLUSH,     /* mome_ref_t: release the page now and stop writing; FLUSH_DROP */
    /* -> requester */
    MOME_MSG_GRANT,     /* mome_grant_t: access granted; content: own copy, or GRANT_ZERO */
    MOME_MSG_DATA,      /* mome_data_t + page: content, and the grant with DATA_GRANT */
    MOME_MSG_INV_ACK,   /* mome_ref_t */
    MOME_MSG_SYNC_DATA, /* mome_data_t + page: newer content for a WEAK copy */
    MOME_MSG_SYNC_OK,   /* mome_data_t: the WEAK copy is current */
    /* -> manager */
    MOME_MSG_FLUSH_ACK, /* mome_ref_t */
    /* directory entry migration */
    MOME_MSG_DIR_MOVE,     /* mome_move_t + copysets: take over this entry; DIR_* */
    MOME_MSG_DIR_MOVE_ACK, /* mome_ref_t */
    /* releases (batches, net/wire.h) */
    MOME_MSG_DIFF,       /* mome_rel_t + diff entries: writer -> owner; DIFF_FLUSH */
    MOME_MSG_NOTICE,     /* mome_rel_t + notice entries: owner -> manager */
    MOME_MSG_NOTICE_ACK, /* notice entries: manager -> writer, every holder knows (version:
                            the master's, with the writer's change) */
    MOME_MSG_STALE,      /* mome_rel_t + notice entries: manager -> holder */
    MOME_MSG_STALE_ACK,  /* mome_rel_t: holder -> manager */
    MOME_MSG_PUSH,       /* mome_rel_t + push entries: owner -> pushed reader, new versions */
    MOME_MSG_PUSH_ACK,   /* notice entries (version 1: keep pushing): reader -> owner */
    /* page-out to another node's memory (a page budget, pageout.c) */
    MOME_MSG_PAGEOUT,     /* mome_pgout_t + page: keep these bytes for me */
    MOME_MSG_PAGEOUT_ACK, /* mome_pgout_t: kept (status 0), or no room (-ENOSPC) */
    MOME_MSG_PAGEIN,      /* mome_pgout_t: give them back (and forget them) */
    MOME_MSG_PAGEIN_DATA, /* mome_pgout_t + page */
    MOME_MSG_PAGE_FREE,   /* mome_pgout_t: forget them (the page has new content) */
    /* a reader drops an unused copy; the owner may stop tracking its writes (directory.c) */
    MOME_MSG_DROP,        /* mome_req_t: reader -> manager: I dropped my read copy */
    MOME_MSG_DROP_ACK,    /* mome_ref_t: manager -> reader: the entry knows */
    MOME_MSG_UNSHARE,     /* mome_ref_t: manager -> owner: nobody else holds it: stop tracking */
    MOME_MSG_UNSHARE_ACK, /* mome_ref_t: owner -> manager: stopped */
    MOME_MSG_COHERENCE_END
};

/* Rights a grant gives the requester (GRANT, DATA with DATA_GRANT, the FWD_* that delegate it). */
enum {
    MOME_RIGHT_RW = 0x1,     /* write access */
    MOME_RIGHT_OWNER = 0x2,  /* it now holds the master copy of a multiple-writer page */
    MOME_RIGHT_SHARED = 0x4, /* owner: others hold copies, so its writes are tracked */
    MOME_RIGHT_TWIN = 0x8,   /* another node owns the master: twin before writing */
};
#define MOME_RIGHTS_ALL 0xf

/* READ_REQ, WRITE_REQ flags. */
enum {
    MOME_REQ_COPY = 0x1,  /* the requester holds a valid copy */
    MOME_REQ_AHEAD = 0x2, /* a read-ahead, not a fault: no exclusive zero page */
    MOME_REQ_NOPUSH = 0x4, /* READ_REQ: the requester keeps a page budget: push it nothing */
    MOME_REQ_RECALL = 0x8, /* WRITE_REQ (STRONG): momed recalls the page: every copy goes, kept
                              ones too, and the requester's DONE resets the entry (served.h) */
};
enum { MOME_DONE_RESET = 0x1 }; /* DONE: the page left the job (a recall): the entry resets */
/* FWD_* flags. */
enum {
    MOME_FWD_KEEP = 0x1, /* FWD_WRITE: the old owner stays a (WEAK or RELEASE) reader */
    MOME_FWD_EXCL = 0x2, /* FWD_SYNC: the owner writes exclusively: answer with content */
    MOME_FWD_NOPUSH = 0x4, /* FWD_SNAP: the reader wants no pushed versions (MOME_REQ_NOPUSH) */
};
enum {
    MOME_GRANT_ZERO = 0x1, /* GRANT: the content is zeros */
    MOME_GRANT_NONE = 0x2, /* GRANT: declined (a STRONG write asked ahead of a page a node holds):
                              nothing granted, the page stays as it was, no DONE follows */
};
enum { MOME_DATA_GRANT = 0x1 };                         /* DATA: carries the grant */
enum { MOME_FLUSH_DROP = 0x1 };                         /* FLUSH: drop the copy too */
enum { MOME_DIFF_FLUSH = 0x1 };                         /* DIFF: part of a flush: ack rel.mgr */
enum { MOME_DIR_EXCL = 0x1, MOME_DIR_UNTOUCHED = 0x2, MOME_DIR_MULTI = 0x4 }; /* DIR_MOVE */

/* A page, and a node the message is about (requester, holder). */
typedef struct mome_ref {
    uint64_t seg, page;
    uint32_t node;
} mome_ref_t;

typedef struct mome_req {
    uint64_t seg, page;
    uint32_t node;  /* requester */
    uint32_t model; /* its consistency model for the page */
    uint64_t ver;   /* SYNC_REQ: the version its copy reflects */
} mome_req_t;

typedef struct mome_fwd {
    uint64_t seg, page;
    uint32_t node;   /* the requester, who gets the copy */
    uint32_t acks;   /* FWD_WRITE: invalidation acks it must wait for */
    uint32_t rights; /* MOME_RIGHT_* for it */
    uint32_t model;  /* FWD_SNAP: the reader's model */
    uint64_t ver;    /* FWD_SYNC: the version of its copy */
} mome_fwd_t;

typedef struct mome_grant {
    uint64_t seg, page;
    uint32_t owner;  /* the master copy's holder (where a twinning writer's diffs go) */
    uint32_t mgr;    /* the manager that granted (DONE goes there) */
    uint32_t acks;   /* invalidation acks to wait for */
    uint32_t rights; /* MOME_RIGHT_* */
} mome_grant_t;

typedef struct mome_data {
    uint64_t seg, page;
    uint32_t mgr;    /* the manager of the transaction (DONE goes there) */
    uint32_t acks;   /* with DATA_GRANT */
    uint32_t rights; /* with DATA_GRANT */
    uint32_t pad;
    uint64_t ver;    /* version of the master copy the content reflects */
} mome_data_t;

typedef struct mome_move {
    uint64_t seg, page;
    uint32_t owner; /* MOME_NODE_NONE: never written */
} mome_move_t;

/* The copysets a DIR_MOVE carries after its body, each of (nnodes + 63) / 64 words: holders,
 * single holder, kept, notified, writers (directory.c). */
#define MOME_DIR_MOVE_SETS 5

typedef struct mome_rel {
    uint64_t date;   /* of the release */
    uint64_t token;  /* STALE, STALE_ACK: the notice they answer; PUSH, PUSH_ACK: 0, or the
                        MomeBarrier (epoch + 1) whose release pushed it (counted, not awaited) */
    uint32_t origin; /* DIFF, NOTICE: the writer whose release it is */
    uint32_t mgr;    /* DIFF with DIFF_FLUSH: the manager to acknowledge */
} mome_rel_t;

/* A page kept in another node's memory for its owner (the sender of PAGEOUT). */
typedef struct mome_pgout {
    uint64_t seg, page;
    int32_t status; /* PAGEOUT_ACK: 0 kept, -ENOSPC no room */
} mome_pgout_t;

#endif
