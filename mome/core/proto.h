/*
 * proto.h - private: the messages of the core layer (segment names, locks, barriers, the shared
 * heap): ids, body structs and flags. Each is registered by the file that handles it.
 */
#ifndef MOME_CORE_PROTO_H
#define MOME_CORE_PROTO_H

#include <stdint.h>

#include "net/msg.h"

enum {
    MOME_MSG_SEG_OPEN = MOME_MSGID_CORE, /* mome_segmsg_t + name: node -> name manager */
    MOME_MSG_SEG_OPEN_REPLY,             /* mome_segmsg_t */
    MOME_MSG_SEG_CLOSE,                  /* mome_segmsg_t: count opens end */
    MOME_MSG_SEG_UNLINK,                 /* mome_segmsg_t + name */
    MOME_MSG_SEG_UNLINK_REPLY,           /* mome_segmsg_t */
    MOME_MSG_SEG_DESTROY,                /* mome_segmsg_t: name manager -> every node */
    MOME_MSG_LOCK_REQ,                   /* mome_syncmsg_t: node -> lock manager */
    MOME_MSG_LOCK_GRANT,                 /* mome_syncmsg_t; LOCK_WAITED */
    MOME_MSG_LOCK_REL,                   /* mome_syncmsg_t */
    MOME_MSG_BAR_ENTER,                  /* mome_syncmsg_t: node -> node 0 */
    MOME_MSG_BAR_EXIT,                   /* mome_syncmsg_t: node 0 -> every node */
    MOME_MSG_HEAP_FREE,                  /* mome_syncmsg_t: id = heap offset */
    MOME_MSG_HELLO,                      /* (no body): every node to every other, at MomeInit */
    MOME_MSG_CKPT_READY,                 /* mome_ckptmsg_t: a node's delta is durable */
    MOME_MSG_CKPT_DONE,                  /* mome_ckptmsg_t: coordinator -> participants */
    MOME_MSG_CORE_END
};

enum {
    MOME_LOCK_WAITED = 0x1, /* LOCK_GRANT: the requester had to wait */
    /* LOCK_REL: its holder gives the lock up in MomeFinalize, without MomeUnlock; LOCK_GRANT:
     * refused, node (the body's) gave it up so */
    MOME_LOCK_GONE = 0x2
};
enum { MOME_BAR_APP = 0x1,      /* BAR_ENTER, BAR_EXIT: MomeAppBarrier, among one program's nodes */
       MOME_BAR_QUIESCE = 0x2 }; /* BAR_ENTER: the last round of MomeFinalize, not a barrier */
/* BAR_ENTER: the barrier inside MomeFinalize, MomeCheckpoint (the reports name these calls) */
enum { MOME_BAR_FINALIZE = 0x4, MOME_BAR_CHECKPOINT = 0x8 };
/* SEG_OPEN: no new open but a hold of segment id, which the node closed, for its final checkpoint
 * (core/segment.c, mome_segment_hold) */
enum { MOME_SEGO_HOLD = 0x1 };
enum { MOME_SEGR_PERSIST = 0x1 }; /* SEG_OPEN_REPLY: the segment is kept in the repository */
#define MOME_SEG_WHY_MAX 600      /* SEG_OPEN_REPLY, SEG_UNLINK_REPLY: a failure's text, bytes */
enum { MOME_SEGC_NOREC = 0x1 };   /* SEG_CLOSE: the node could not set the segment up */

typedef struct mome_segmsg {
    uint64_t id;    /* the segment's job-wide id (SEG_OPEN: with SEGO_HOLD only) */
    uint64_t size;  /* bytes */
    uint64_t token; /* matches a reply to its request */
    int32_t status; /* replies: 0 or -errno */
    uint32_t flags; /* SEG_OPEN: MOME_CREATE, MOME_EXCL, MOME_PERSIST */
    uint32_t count; /* SEG_CLOSE: opens that end */
} mome_segmsg_t;
/* SEG_OPEN_REPLY's payload: with SEGR_PERSIST, the repository segment's uid (8 bytes, little
 * endian); with a failure, its text (at most MOME_SEG_WHY_MAX bytes, no NUL). */

/* A checkpoint's messages: a participant's delta (READY), the outcome (DONE). */
typedef struct mome_ckptmsg {
    uint64_t seg;     /* the segment's id */
    uint64_t gen;     /* READY: the delta's generation; DONE: the current one after it */
    uint64_t entries; /* READY: pages in the delta (0: no file) */
    uint64_t sum;     /* READY: its index's checksum */
    int32_t status;   /* 0 or -errno: READY, this node's; DONE, the checkpoint's */
    uint32_t node;    /* DONE: the node that failed (when status < 0) */
} mome_ckptmsg_t;

typedef struct mome_syncmsg {
    uint64_t id;    /* lock key, barrier epoch, heap offset */
    uint64_t token; /* a lock request */
    uint64_t date;  /* LOCK_GRANT: the lock's last release; LOCK_REL: this one; BAR_EXIT */
    uint64_t epoch; /* LOCK_REL: the job barriers (MomeBarrier) its node had ended; LOCK_GRANT:
                       the most any release of the lock had (sync.c grant_apply) */
    uint32_t node;  /* LOCK_GRANT with LOCK_GONE: the node that gave the lock up (else NONE) */
} mome_syncmsg_t;

#endif
