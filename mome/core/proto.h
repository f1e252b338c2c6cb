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
    MOME_MSG_CORE_END
};

enum { MOME_LOCK_WAITED = 0x1 }; /* LOCK_GRANT: the requester had to wait */

typedef struct mome_segmsg {
    uint64_t id;    /* the segment's job-wide id */
    uint64_t size;  /* bytes */
    uint64_t token; /* matches a reply to its request */
    int32_t status; /* replies: 0 or -errno */
    uint32_t flags; /* SEG_OPEN: MOME_CREATE, MOME_EXCL, MOME_PERSIST */
    uint32_t count; /* SEG_CLOSE: opens that end */
} mome_segmsg_t;

typedef struct mome_syncmsg {
    uint64_t id;    /* lock key, barrier epoch, heap offset */
    uint64_t token; /* a lock request */
    uint64_t date;  /* LOCK_GRANT: the lock's last release; LOCK_REL: this one; BAR_EXIT */
} mome_syncmsg_t;

#endif
