/*
 * proto.h - private: protocol messages between nodes, their wire format and validation.
 *
 * A message is a fixed 72-byte little-endian header (with a checksum) plus an optional payload
 * (page content, a segment name, a copyset). Decoding validates everything a peer could get wrong,
 * so a truncated or corrupted message is rejected, never trusted. doc/design.md has the table.
 */
#ifndef MOME_PROTO_H
#define MOME_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"

#define MOME_MSG_MAGIC 0x4d /* 'M' */
#define MOME_MSG_VERSION 1
#define MOME_MSG_HDR_SIZE 72
#define MOME_SEG_NAME_MAX 255

typedef enum {
    MOME_MSG_NONE = 0,
    /* coherence: requester -> manager */
    MOME_MSG_READ_REQ,  /* seg, page, node=requester */
    MOME_MSG_WRITE_REQ, /* seg, page, node=requester; MF_COPY if it holds a valid copy */
    MOME_MSG_DONE,      /* seg, page, node=requester: transaction installed */
    /* manager -> holders */
    MOME_MSG_FWD_READ,  /* seg, page, node=requester: send it a read copy, keep yours read-only */
    MOME_MSG_FWD_WRITE, /* seg, page, node=requester: send it your copy and drop yours */
    MOME_MSG_INV,       /* seg, page, node=requester: drop your copy, ack to requester */
    /* -> requester */
    MOME_MSG_GRANT,   /* seg, page, count=acks to wait for, arg=manager; MF_RW, MF_ZERO, MF_EXPECT */
    MOME_MSG_DATA,    /* seg, page, payload=page; MF_GRANT when it also is the grant */
    MOME_MSG_INV_ACK, /* seg, page */
    /* directory entry migration */
    MOME_MSG_DIR_MOVE,     /* seg, page, node=owner, count=state, payload=copyset */
    MOME_MSG_DIR_MOVE_ACK, /* seg, page */
    /* segments */
    MOME_MSG_SEG_OPEN,         /* arg=size, count=flags, arg2=token, payload=name */
    MOME_MSG_SEG_OPEN_REPLY,   /* arg=size, seg=id, count=-errno, arg2=token */
    MOME_MSG_SEG_CLOSE,        /* seg */
    MOME_MSG_SEG_UNLINK,       /* arg2=token, payload=name */
    MOME_MSG_SEG_UNLINK_REPLY, /* count=-errno, arg2=token */
    MOME_MSG_SEG_DESTROY,      /* seg */
    /* synchronisation */
    MOME_MSG_LOCK_REQ,   /* page=lock id, arg=token */
    MOME_MSG_LOCK_GRANT, /* page=lock id, arg=token, count=1 if waited, arg2=last release date */
    MOME_MSG_LOCK_REL,   /* page=lock id, arg=token, arg2=release date */
    MOME_MSG_BAR_ENTER,  /* page=epoch */
    MOME_MSG_BAR_EXIT,   /* page=epoch, arg=barrier date */
    /* shared heap */
    MOME_MSG_HEAP_FREE, /* arg=heap offset */
    /* RELEASE and WEAK consistency */
    MOME_MSG_FWD_SNAP,   /* manager -> owner: send node a copy; flags = the grant; keep yours */
    MOME_MSG_FLUSH,      /* manager -> holder: release the page now and stop writing; count=1: drop */
    MOME_MSG_FLUSH_ACK,  /* -> manager (from the holder, or from the owner once a diff is applied) */
    MOME_MSG_DIFF,       /* writer -> owner: payload=diff entries, arg=date, node=origin; MF_FLUSH */
    MOME_MSG_NOTICE,     /* owner -> manager: payload=notice entries, arg=date, node=origin */
    MOME_MSG_NOTICE_ACK, /* manager -> origin: payload=page entries whose holders all know */
    MOME_MSG_STALE,      /* manager -> holder: payload=notice entries, arg=date, count=token */
    MOME_MSG_STALE_ACK,  /* holder -> manager: count=notice token */
    MOME_MSG_SYNC_REQ,   /* requester -> manager: node=requester, arg2=its version */
    MOME_MSG_FWD_SYNC,   /* manager -> owner: node=requester, arg2=its version */
    MOME_MSG_SYNC_OK,    /* owner/manager -> requester: its copy is current */
    MOME_MSG_PUSH,       /* owner -> reader: payload=push entries (new content at release) */
    MOME_MSG_PUSH_ACK,   /* reader -> owner: payload=notice entries, version field 1 = keep pushing */
    /* job */
    MOME_MSG_BYE, /* sender is leaving (finalize) */
    MOME_MSG_NTYPES
} mome_msg_type_t;

/* flags */
#define MOME_MF_ZERO 0x01   /* the page is all zeros: no payload */
#define MOME_MF_DATA 0x02   /* payload is page content */
#define MOME_MF_RW 0x04     /* write access granted */
#define MOME_MF_GRANT 0x08  /* carries the grant itself: count = acks to wait for */
#define MOME_MF_COPY 0x10   /* request: requester holds a valid copy */
#define MOME_MF_AHEAD 0x02  /* request: a read-ahead, not a fault (no exclusive zero page) */
#define MOME_MF_SHARED 0x20 /* grant: other nodes hold copies: track writes for notices */
#define MOME_MF_TWIN 0x40   /* grant: another node owns the master copy: twin before writing */
#define MOME_MF_OWNER 0x80  /* grant: the requester now owns the master copy */
#define MOME_MF_FULL 0x01   /* DIFF: the payload is the whole page XOR twin */
#define MOME_MF_FLUSH 0x04  /* DIFF: part of a flush: ack the manager (arg2) instead of a notice */
#define MOME_MF_SYNC 0x10   /* DATA: reply to a SYNC_REQ (content to refresh a copy with) */

/*
 * Requests (READ_REQ, WRITE_REQ) carry the requester's consistency model in arg2; replies that
 * carry content or a grant (GRANT, DATA) carry the master copy's version in arg2.
 */

typedef struct mome_msg {
    uint8_t type;
    uint8_t flags;
    uint16_t hops;
    uint32_t src;
    uint32_t node;
    uint32_t count;
    mome_date_t date;
    uint64_t seg;
    uint64_t page;
    uint64_t arg;
    uint64_t arg2;
    uint32_t len; /* payload bytes */
    const void *payload;
} mome_msg_t;

/* What a decoder needs to know to validate a message. */
typedef struct mome_proto_ctx {
    uint32_t nnodes;
    uint32_t page_size;
} mome_proto_ctx_t;

const char *mome_msg_type_name(int type);

/*
 * Batches: DIFF, NOTICE, STALE and NOTICE_ACK carry a list of entries, so that one message per
 * destination serves a whole release. Little endian, validated entry by entry when decoded:
 *   page entry   {u64 seg, u64 page}                                      NOTICE_ACK
 *   notice entry {u64 seg, u64 page, u64 version}                         NOTICE, STALE
 *   diff entry   {u64 seg, u64 page, u32 len, u32 flags, len bytes, padding to 8}   DIFF
 *   push entry   {u64 seg, u64 page, u32 len, u32 flags, u64 version, len bytes, padding}  PUSH
 */
#define MOME_BATCH_PAGE 16
#define MOME_BATCH_NOTICE 24
#define MOME_BATCH_DIFF_HDR 24
#define MOME_BATCH_PUSH_HDR 32
#define MOME_BATCH_MAX (64u << 20)

typedef struct mome_batch {
    uint8_t *buf;
    size_t len, cap;
    uint32_t n; /* entries */
} mome_batch_t;

int mome_batch_page(mome_batch_t *b, uint64_t seg, uint64_t page);
int mome_batch_notice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver);
int mome_batch_diff(mome_batch_t *b, uint64_t seg, uint64_t page, const void *d, uint32_t len,
                    uint32_t flags);
int mome_batch_push(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver, const void *d,
                    uint32_t len);
void mome_batch_reset(mome_batch_t *b);
void mome_batch_free(mome_batch_t *b);

/* One entry read from a validated batch payload; returns the bytes it took. */
typedef struct mome_entry {
    uint64_t seg, page, ver;
    uint32_t len, flags;
    const uint8_t *data;
} mome_entry_t;
size_t mome_batch_read(int type, const uint8_t *p, const uint8_t *end, mome_entry_t *e);

/* Write m's header into hdr[MOME_MSG_HDR_SIZE]; m->len is the payload length that follows. */
void mome_msg_encode(const mome_msg_t *m, void *hdr);

/*
 * Validate and decode a header and its payload (kept by reference). Returns 0, or -EBADMSG for a
 * malformed message (bad magic/version/checksum/type, truncated, inconsistent payload) or -EPROTO
 * for a well-formed one that names nodes or sizes outside this job.
 */
int mome_msg_decode(const void *hdr, size_t hdrlen, const void *payload, size_t paylen,
                    const mome_proto_ctx_t *ctx, mome_msg_t *out);

/* Same, for a header immediately followed by its payload in one buffer. */
int mome_msg_decode_flat(const void *buf, size_t len, const mome_proto_ctx_t *ctx, mome_msg_t *out);

#endif
