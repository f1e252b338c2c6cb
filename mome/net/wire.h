/*
 * wire.h - private: the wire format of protocol messages: a fixed little-endian header carrying a
 * typed body, an optional payload, a checksum over both, and the batch entries of list payloads.
 *
 * What a message type means, and which fields its body has, is registered by the layer that owns
 * the message (msg.h); this file only knows how to lay out and check fields of the kinds below.
 * Pure functions, any thread.
 */
#ifndef MOME_NET_WIRE_H
#define MOME_NET_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "base/clock.h"

#define MOME_WIRE_MAGIC 0x4d /* 'M' */
#define MOME_WIRE_VERSION 3  /* 3: the eight-lane checksum (net/wire.c) */
#define MOME_WIRE_HDR 80       /* header bytes, body included */
#define MOME_WIRE_BODY 40      /* bytes of typed body inside the header */
#define MOME_WIRE_NTYPES 128   /* message type ids are 1 .. MOME_WIRE_NTYPES-1 */
#define MOME_NODE_NONE UINT32_MAX /* a node field that names no node */
/* Above any date a clock reaches (one tick per message or event): a larger one from the network
 * is a broken peer's, and merged into the clock (mome_clock_merge) it would wrap it to 0. */
#define MOME_WIRE_DATE_MAX ((1ull << 62) - 1)

/*
 * The decoded header. `body` holds the type's body struct (registered with msg.h), decoded field
 * by field from the wire into host order; handlers read it through mome_msg_body().
 */
typedef struct mome_msg {
    uint8_t type;
    uint8_t flags; /* the type's own flag enum */
    uint16_t hops; /* forwards so far (directory requests) */
    uint32_t src;  /* sending node */
    mome_date_t date;
    uint64_t key;  /* the job's key */
    uint32_t len;  /* payload bytes */
    const void *payload;
    union {
        uint64_t w[MOME_WIRE_BODY / 8];
        uint8_t b[MOME_WIRE_BODY];
    } body;
} mome_msg_t;

#define mome_msg_body(m) ((const void *)(m)->body.b)

/* Field kinds: what a decoder checks of a body field before any handler sees it. */
typedef enum {
    MOME_FK_RAW = 0,   /* any value */
    MOME_FK_NODE,      /* a node of this job */
    MOME_FK_NODE_NONE, /* a node of this job, or MOME_NODE_NONE */
    MOME_FK_MODEL,     /* a consistency model of the job (the context's models) */
    MOME_FK_MASK,      /* bits within `arg` only */
    MOME_FK_MAX,       /* at most `arg`; bounded by MOME_WIRE_DATE_MAX, a date (below) */
    MOME_FK_NCOUNT,    /* a count of other nodes than the receiver: below the job's size */
    MOME_FK_ERRNO,     /* 0 or a negative errno (> -4096) */
} mome_field_kind_t;

/*
 * A field of kind MOME_FK_MAX bounded by MOME_WIRE_DATE_MAX is a Lamport date the message reports
 * (a release's, a lock's last release, a barrier's exit): something done before the message was
 * sent, whose sender ticks the header's date at the send, after it, and after merging every date
 * it took it from. So it is at most the header's date, and so is a barrier notice entry's (one
 * later, a notice's date kept a stale copy mapped past every acquire).
 */
typedef struct mome_field {
    const char *name;
    uint16_t off;  /* in the body struct */
    uint8_t size;  /* 4 or 8 */
    uint8_t kind;  /* mome_field_kind_t */
    uint64_t arg;  /* MASK: allowed bits; MAX: the bound */
} mome_field_t;

/* One field of struct `type`: MOME_FIELD(mome_grant_t, acks, MOME_FK_RAW, 0). */
#define MOME_FIELD(type, f, kind, arg)                                                             \
    {#f, (uint16_t)offsetof(type, f), (uint8_t)sizeof(((type *)0)->f), (uint8_t)(kind),         \
     (uint64_t)(arg)}

/* Payload length rules. */
#define MOME_LEN_PAGE UINT32_MAX         /* exactly one Mome page, or nothing (see the type) */
#define MOME_LEN_BATCH (UINT32_MAX - 1)  /* a batch: up to MOME_BATCH_MAX bytes */

/* What a decoder knows of the job. */
typedef struct mome_wire_ctx {
    uint32_t nnodes;
    uint32_t page_size;
    uint64_t key;    /* messages with another key are refused */
    uint32_t models; /* bit m set: m is a consistency model (MOME_FK_MODEL) */
} mome_wire_ctx_t;

/* A type's layout, as the decoder needs it (the registry in msg.h adds its meaning). */
typedef struct mome_wire_type {
    const char *name;
    const mome_field_t *fields;
    uint8_t nfields;
    uint8_t flags_mask;           /* flags outside it are refused */
    uint32_t min_len, max_len;    /* payload bytes; max may be MOME_LEN_PAGE or MOME_LEN_BATCH */
    uint8_t batch;                /* payload is a batch of this entry kind (MOME_BATCH_*), or 0 */
} mome_wire_type_t;

/* Write the header of m (body taken from m->body) into hdr[MOME_WIRE_HDR]; the checksum covers the
 * header and the m->len payload bytes at m->payload. */
void mome_wire_encode(const mome_msg_t *m, void *hdr);

/* Encode a body struct into m->body by its fields (host order in, host order out). */
void mome_wire_pack(const mome_wire_type_t *t, const void *body, mome_msg_t *m);

/*
 * Decode and validate a header and its payload (kept by reference); types[] is indexed by type id
 * (a NULL entry: unknown type). Returns 0, or, in the order checked: -ENOTSUP for bytes that are
 * not a Mome message at all (size, magic, version); -EACCES for another job's key; then, for a
 * message of this job: -EBADMSG when malformed (checksum, unknown type, lengths, flags, batch
 * entries), -EPROTO when a field names nodes, models or values outside this job or its rules.
 * *why names the field or rule that failed.
 */
int mome_wire_decode(const void *hdr, size_t hdrlen, const void *payload, size_t paylen,
                     const mome_wire_ctx_t *ctx, const mome_wire_type_t *const *types,
                     mome_msg_t *out, const char **why);

/* The node a header names as its sender, read before its payload is here (nothing is checked but
 * what follows): to name the node a message could not be received from. -1 unless hdr has the
 * size, magic and version of a header and ctx's key, and the node is one of ctx's. */
int mome_wire_peek_src(const void *hdr, size_t hdrlen, const mome_wire_ctx_t *ctx);

/* The checksum used by the header: fast, not cryptographic (the key authenticates, see design). */
uint32_t mome_wire_sum(uint32_t seed, const void *p, size_t len);

/*
 * Batches: lists of entries, so that one message per destination serves a whole release. Little
 * endian, validated entry by entry when decoded:
 *   notice entry {u64 seg, u64 page, u64 version}             NOTICE, NOTICE_ACK, STALE, PUSH_ACK
 *   diff entry   {u64 seg, u64 page, u32 len, u32 flags, len bytes, padding to 8}          DIFF
 *   push entry   {u64 seg, u64 page, u32 len, u32 flags, u64 version, len bytes, padding}  PUSH
 *   barrier notice entry {u64 seg, u64 page, u64 version, u64 date, u64 push}
 *                (push: the nodes, bit n for node n < 64, the version was pushed to)
 *                                                                              BAR_ENTER, BAR_EXIT
 * A batch never exceeds MOME_BATCH_MAX bytes (but for one entry alone, with pages larger than
 * that): writers send a full batch and start a new one.
 */
enum { MOME_BATCH_NOTICE = 1, MOME_BATCH_DIFF, MOME_BATCH_PUSH, MOME_BATCH_BNOTICE };
#define MOME_BATCH_NOTICE_SIZE 24
#define MOME_BATCH_DIFF_HDR 24
#define MOME_BATCH_PUSH_HDR 32
#define MOME_BATCH_BNOTICE_SIZE 40
#define MOME_BATCH_MAX (4u << 20)
#define MOME_DIFF_ENTRY_FULL 0x1 /* diff entry: the whole page XOR twin, not runs */

typedef struct mome_batch {
    uint8_t *buf;
    size_t len, cap;
    uint32_t n; /* entries */
} mome_batch_t;

/* Append one entry; -E2BIG when it would pass MOME_BATCH_MAX (send the batch, then append), or
 * -ENOMEM. */
int mome_batch_notice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver);
int mome_batch_bnotice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver, uint64_t date,
                       uint64_t push);
int mome_batch_diff(mome_batch_t *b, uint64_t seg, uint64_t page, const void *d, uint32_t len,
                    uint32_t flags);
int mome_batch_push(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver, const void *d,
                    uint32_t len);
/* The most bytes a batch may hold: MOME_BATCH_MAX, or one entry of a larger page alone. */
static inline size_t mome_batch_max(size_t page_size)
{
    size_t one = MOME_BATCH_PUSH_HDR + page_size;
    return one > MOME_BATCH_MAX ? one : MOME_BATCH_MAX;
}

/* Would an entry of `bytes` (mome_batch_entry_size) fit without passing MOME_BATCH_MAX? */
int mome_batch_fits(const mome_batch_t *b, size_t bytes);
size_t mome_batch_entry_size(int kind, uint32_t datalen);
void mome_batch_reset(mome_batch_t *b);
void mome_batch_free(mome_batch_t *b);

/* One entry read from a validated batch payload of `kind`; returns the bytes it took (0: none or
 * malformed). */
typedef struct mome_entry {
    uint64_t seg, page, ver;
    uint64_t date, push; /* barrier notice entries */
    uint32_t len, flags;
    const uint8_t *data;
} mome_entry_t;
size_t mome_batch_read(int kind, const uint8_t *p, const uint8_t *end, mome_entry_t *e);

/* Iterate the entries of a validated batch payload (an empty one may be NULL: no NULL + 0). */
#define MOME_BATCH_FOREACH(_kind, _m, _e)                                                          \
    for (const uint8_t *_p = (const uint8_t *)(_m)->payload,                                     \
                       *_end = (_m)->len ? _p + (_m)->len : _p;                                  \
         _p; _p = NULL)                                                                            \
        for (size_t _k; (_k = mome_batch_read((_kind), _p, _end, &(_e))) > 0; _p += _k)

#endif
