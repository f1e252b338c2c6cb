/*
 * proto.c - message encoding and validating decoding (little-endian, checksummed header).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/proto.h"

/* Payload rules per type: allowed length range and whether `node` names a node. */
typedef struct msg_rule {
    const char *name;
    uint32_t min_len, max_len; /* UINT32_MAX in max_len: up to a page */
    uint8_t has_node;
} msg_rule_t;

#define PAGE_LEN UINT32_MAX
#define BATCH_LEN (UINT32_MAX - 1)

static const msg_rule_t rules[MOME_MSG_NTYPES] = {
    [MOME_MSG_NONE] = {"none", 0, 0, 0},
    [MOME_MSG_READ_REQ] = {"READ_REQ", 0, 0, 1},
    [MOME_MSG_WRITE_REQ] = {"WRITE_REQ", 0, 0, 1},
    [MOME_MSG_DONE] = {"DONE", 0, 0, 1},
    [MOME_MSG_FWD_READ] = {"FWD_READ", 0, 0, 1},
    [MOME_MSG_FWD_WRITE] = {"FWD_WRITE", 0, 0, 1},
    [MOME_MSG_INV] = {"INV", 0, 0, 1},
    [MOME_MSG_GRANT] = {"GRANT", 0, 0, 1},
    [MOME_MSG_DATA] = {"DATA", 0, PAGE_LEN, 0},
    [MOME_MSG_INV_ACK] = {"INV_ACK", 0, 0, 0},
    [MOME_MSG_DIR_MOVE] = {"DIR_MOVE", 8, 8192, 1},
    [MOME_MSG_DIR_MOVE_ACK] = {"DIR_MOVE_ACK", 0, 0, 0},
    [MOME_MSG_SEG_OPEN] = {"SEG_OPEN", 1, MOME_SEG_NAME_MAX, 0},
    [MOME_MSG_SEG_OPEN_REPLY] = {"SEG_OPEN_REPLY", 0, 0, 0},
    [MOME_MSG_SEG_CLOSE] = {"SEG_CLOSE", 0, 0, 0},
    [MOME_MSG_SEG_UNLINK] = {"SEG_UNLINK", 1, MOME_SEG_NAME_MAX, 0},
    [MOME_MSG_SEG_UNLINK_REPLY] = {"SEG_UNLINK_REPLY", 0, 0, 0},
    [MOME_MSG_SEG_DESTROY] = {"SEG_DESTROY", 0, 0, 0},
    [MOME_MSG_LOCK_REQ] = {"LOCK_REQ", 0, 0, 0},
    [MOME_MSG_LOCK_GRANT] = {"LOCK_GRANT", 0, 0, 0},
    [MOME_MSG_LOCK_REL] = {"LOCK_REL", 0, 0, 0},
    [MOME_MSG_BAR_ENTER] = {"BAR_ENTER", 0, 0, 0},
    [MOME_MSG_BAR_EXIT] = {"BAR_EXIT", 0, 0, 0},
    [MOME_MSG_HEAP_FREE] = {"HEAP_FREE", 0, 0, 0},
    [MOME_MSG_BYE] = {"BYE", 0, 0, 0},
    [MOME_MSG_FWD_SNAP] = {"FWD_SNAP", 0, 0, 1},
    [MOME_MSG_FLUSH] = {"FLUSH", 0, 0, 0},
    [MOME_MSG_FLUSH_ACK] = {"FLUSH_ACK", 0, 0, 0},
    [MOME_MSG_DIFF] = {"DIFF", MOME_BATCH_DIFF_HDR, BATCH_LEN, 1},
    [MOME_MSG_NOTICE] = {"NOTICE", MOME_BATCH_NOTICE, BATCH_LEN, 1},
    [MOME_MSG_NOTICE_ACK] = {"NOTICE_ACK", MOME_BATCH_PAGE, BATCH_LEN, 0},
    [MOME_MSG_STALE] = {"STALE", MOME_BATCH_NOTICE, BATCH_LEN, 0},
    [MOME_MSG_STALE_ACK] = {"STALE_ACK", 0, 0, 0},
    [MOME_MSG_SYNC_REQ] = {"SYNC_REQ", 0, 0, 1},
    [MOME_MSG_FWD_SYNC] = {"FWD_SYNC", 0, 0, 1},
    [MOME_MSG_SYNC_OK] = {"SYNC_OK", 0, 0, 0},
    [MOME_MSG_PUSH] = {"PUSH", MOME_BATCH_PUSH_HDR, BATCH_LEN, 0},
    [MOME_MSG_PUSH_ACK] = {"PUSH_ACK", MOME_BATCH_NOTICE, BATCH_LEN, 0},
};

const char *mome_msg_type_name(int type)
{
    if (type <= 0 || type >= MOME_MSG_NTYPES)
        return "invalid";
    return rules[type].name;
}

/* FNV-1a over the header bytes before the checksum field. */
static uint32_t hdr_checksum(const uint8_t *h)
{
    uint32_t x = 2166136261u;
    for (int i = 0; i < 64; i++) {
        x ^= h[i];
        x *= 16777619u;
    }
    return x;
}

static void put16(uint8_t *p, uint16_t v)
{
    v = htole16(v);
    memcpy(p, &v, 2);
}
static void put32(uint8_t *p, uint32_t v)
{
    v = htole32(v);
    memcpy(p, &v, 4);
}
static void put64(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, 8);
}
static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return le16toh(v);
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return le32toh(v);
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v);
}

/*
 * Layout: 0 magic, 1 version, 2 type, 3 flags, 4 hops(16), 6 reserved(16), 8 src, 12 node,
 * 16 count, 20 len, 24 date, 32 seg, 40 page, 48 arg, 56 arg2, 64 checksum, 68 reserved.
 */
void mome_msg_encode(const mome_msg_t *m, void *hdr)
{
    uint8_t *h = hdr;
    h[0] = MOME_MSG_MAGIC;
    h[1] = MOME_MSG_VERSION;
    h[2] = m->type;
    h[3] = m->flags;
    put16(h + 4, m->hops);
    put16(h + 6, 0);
    put32(h + 8, m->src);
    put32(h + 12, m->node);
    put32(h + 16, m->count);
    put32(h + 20, m->len);
    put64(h + 24, m->date);
    put64(h + 32, m->seg);
    put64(h + 40, m->page);
    put64(h + 48, m->arg);
    put64(h + 56, m->arg2);
    put32(h + 64, hdr_checksum(h));
    put32(h + 68, 0);
}

int mome_msg_decode(const void *hdr, size_t hdrlen, const void *payload, size_t paylen,
                    const mome_proto_ctx_t *ctx, mome_msg_t *out)
{
    const uint8_t *h = hdr;
    const msg_rule_t *r;
    uint32_t max_len;

    if (!h || hdrlen != MOME_MSG_HDR_SIZE)
        return -EBADMSG;
    if (h[0] != MOME_MSG_MAGIC || h[1] != MOME_MSG_VERSION)
        return -EBADMSG;
    if (get32(h + 64) != hdr_checksum(h) || get32(h + 68) != 0 || get16(h + 6) != 0)
        return -EBADMSG;
    if (h[2] == MOME_MSG_NONE || h[2] >= MOME_MSG_NTYPES)
        return -EBADMSG;

    out->type = h[2];
    out->flags = h[3];
    out->hops = get16(h + 4);
    out->src = get32(h + 8);
    out->node = get32(h + 12);
    out->count = get32(h + 16);
    out->len = get32(h + 20);
    out->date = get64(h + 24);
    out->seg = get64(h + 32);
    out->page = get64(h + 40);
    out->arg = get64(h + 48);
    out->arg2 = get64(h + 56);
    out->payload = paylen ? payload : NULL;

    if (out->len != paylen || (paylen && !payload))
        return -EBADMSG; /* truncated or padded */

    r = &rules[out->type];
    max_len = r->max_len == PAGE_LEN    ? ctx->page_size
              : r->max_len == BATCH_LEN ? MOME_BATCH_MAX
                                        : r->max_len;
    if (out->len < r->min_len || out->len > max_len)
        return -EBADMSG;
    if (out->type == MOME_MSG_DATA) {
        int zero = !!(out->flags & MOME_MF_ZERO), data = !!(out->flags & MOME_MF_DATA);
        if (zero + data != 1)
            return -EBADMSG;
        if (data && out->len != ctx->page_size)
            return -EBADMSG;
        if (zero && out->len != 0)
            return -EBADMSG;
    }
    if ((out->type == MOME_MSG_SEG_OPEN || out->type == MOME_MSG_SEG_UNLINK) &&
        memchr(out->payload, 0, out->len))
        return -EBADMSG;
    if (out->type == MOME_MSG_DIR_MOVE && (out->len % 8) != 0)
        return -EBADMSG;
    if (out->type == MOME_MSG_DIFF || out->type == MOME_MSG_NOTICE ||
        out->type == MOME_MSG_STALE || out->type == MOME_MSG_NOTICE_ACK ||
        out->type == MOME_MSG_PUSH || out->type == MOME_MSG_PUSH_ACK) {
        /* Every entry must lie wholly inside the payload, and a diff within a page. */
        const uint8_t *p = out->payload, *end = p + out->len;
        mome_entry_t e;
        while (p < end) {
            size_t k = mome_batch_read(out->type, p, end, &e);
            if (!k || (out->type == MOME_MSG_DIFF &&
                       (e.len > ctx->page_size ||
                        ((e.flags & MOME_MF_FULL) && e.len != ctx->page_size))) ||
                (out->type == MOME_MSG_PUSH && e.len != ctx->page_size))
                return -EBADMSG;
            p += k;
        }
    }

    if (out->src >= ctx->nnodes)
        return -EPROTO;
    if (r->has_node && out->node >= ctx->nnodes)
        return -EPROTO;
    if (out->type == MOME_MSG_GRANT && out->arg >= ctx->nnodes)
        return -EPROTO;
    if ((out->type == MOME_MSG_DIFF && (out->flags & MOME_MF_FLUSH)) && out->arg2 >= ctx->nnodes)
        return -EPROTO;
    if (out->type == MOME_MSG_DIR_MOVE && out->len < 8 * ((ctx->nnodes + 63) / 64))
        return -EPROTO;
    return 0;
}

static size_t entry_size(int type)
{
    switch (type) {
    case MOME_MSG_NOTICE_ACK: return MOME_BATCH_PAGE;
    case MOME_MSG_NOTICE:
    case MOME_MSG_STALE:
    case MOME_MSG_PUSH_ACK: return MOME_BATCH_NOTICE;
    case MOME_MSG_PUSH: return MOME_BATCH_PUSH_HDR;
    default: return MOME_BATCH_DIFF_HDR;
    }
}

size_t mome_batch_read(int type, const uint8_t *p, const uint8_t *end, mome_entry_t *e)
{
    size_t hdr = entry_size(type), total;

    if ((size_t)(end - p) < hdr)
        return 0;
    memset(e, 0, sizeof(*e));
    e->seg = get64(p);
    e->page = get64(p + 8);
    if (type == MOME_MSG_NOTICE || type == MOME_MSG_STALE || type == MOME_MSG_PUSH_ACK)
        e->ver = get64(p + 16);
    if (type != MOME_MSG_DIFF && type != MOME_MSG_PUSH)
        return hdr;
    e->len = get32(p + 16);
    e->flags = get32(p + 20);
    if (type == MOME_MSG_PUSH)
        e->ver = get64(p + 24);
    total = hdr + (((size_t)e->len + 7) & ~(size_t)7);
    if (e->len == 0 || (size_t)(end - p) < total)
        return 0;
    e->data = p + hdr;
    return total;
}

static int batch_room(mome_batch_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return 0;
    if (b->len + more > MOME_BATCH_MAX)
        return -E2BIG;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + more)
        nc *= 2;
    uint8_t *nb = realloc(b->buf, nc);
    if (!nb)
        return -ENOMEM;
    b->buf = nb;
    b->cap = nc;
    return 0;
}

int mome_batch_page(mome_batch_t *b, uint64_t seg, uint64_t page)
{
    int rc = batch_room(b, MOME_BATCH_PAGE);
    if (rc < 0)
        return rc;
    put64(b->buf + b->len, seg);
    put64(b->buf + b->len + 8, page);
    b->len += MOME_BATCH_PAGE;
    b->n++;
    return 0;
}

int mome_batch_notice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver)
{
    int rc = batch_room(b, MOME_BATCH_NOTICE);
    if (rc < 0)
        return rc;
    put64(b->buf + b->len, seg);
    put64(b->buf + b->len + 8, page);
    put64(b->buf + b->len + 16, ver);
    b->len += MOME_BATCH_NOTICE;
    b->n++;
    return 0;
}

/* An entry that carries bytes: seg, page, len, flags, then the hdr - 24 bytes the caller fills at
 * *extra, then the bytes, padded to 8. */
static int batch_bytes(mome_batch_t *b, size_t hdr, uint64_t seg, uint64_t page, const void *d,
                       uint32_t len, uint32_t flags, uint8_t **extra)
{
    size_t padded = ((size_t)len + 7) & ~(size_t)7;
    int rc = batch_room(b, hdr + padded);
    if (rc < 0)
        return rc;
    uint8_t *p = b->buf + b->len;
    put64(p, seg);
    put64(p + 8, page);
    put32(p + 16, len);
    put32(p + 20, flags);
    memcpy(p + hdr, d, len);
    memset(p + hdr + len, 0, padded - len);
    *extra = p + 24;
    b->len += hdr + padded;
    b->n++;
    return 0;
}

int mome_batch_diff(mome_batch_t *b, uint64_t seg, uint64_t page, const void *d, uint32_t len,
                    uint32_t flags)
{
    uint8_t *extra;
    return batch_bytes(b, MOME_BATCH_DIFF_HDR, seg, page, d, len, flags, &extra);
}

int mome_batch_push(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver, const void *d,
                    uint32_t len)
{
    uint8_t *extra;
    int rc = batch_bytes(b, MOME_BATCH_PUSH_HDR, seg, page, d, len, 0, &extra);
    if (rc == 0)
        put64(extra, ver);
    return rc;
}

void mome_batch_reset(mome_batch_t *b)
{
    b->len = 0;
    b->n = 0;
}

void mome_batch_free(mome_batch_t *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

int mome_msg_decode_flat(const void *buf, size_t len, const mome_proto_ctx_t *ctx, mome_msg_t *out)
{
    if (!buf || len < MOME_MSG_HDR_SIZE)
        return -EBADMSG;
    return mome_msg_decode(buf, MOME_MSG_HDR_SIZE, (const uint8_t *)buf + MOME_MSG_HDR_SIZE,
                           len - MOME_MSG_HDR_SIZE, ctx, out);
}
