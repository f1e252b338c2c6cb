/*
 * wire.c - message header encoding and validating decoding (little endian, checksummed header and
 * payload), typed body fields, and batch entries.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "base/alloc.h"
#include "mome.h"
#include "net/wire.h"

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

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

/*
 * The checksum: eight lanes over 8-byte words. Word j (w) with its key k = w ^ (K0 + j * K1) adds
 * lo32(k) * hi32(k) to lane j % 8 and w itself to its neighbour lane (j % 8) ^ 1; the lanes are
 * folded with multiply-rotates, the length and a final avalanche. A changed word always changes
 * its neighbour lane (an addition), and its key, different for every position, makes a swap of two
 * words or two changes that cancel in that sum change the product lane: any flipped bit,
 * truncation or swapped word is caught with near certainty. Not cryptographic (the job key
 * authenticates, not this). With SSE2 a 4 KiB page costs about 0.17 us here (0.6 us for the
 * serial multiply-rotate lanes it replaced, wire version 2), on both the sender and the receiver
 * of every page.
 */
#define SUM_K0 0x243f6a8885a308d3ull
#define SUM_K1 0x9e3779b97f4a7c15ull /* odd: every word position gets its own key */
#define SUM_M 0xff51afd7ed558ccdull

static inline void sum_word(uint64_t acc[8], uint64_t j, uint64_t w)
{
    uint64_t k = w ^ (SUM_K0 + j * SUM_K1);
    acc[j & 7] += (k & 0xffffffffu) * (k >> 32);
    acc[(j & 7) ^ 1] += w;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
typedef uint64_t sum_v2 __attribute__((vector_size(16)));

/* Words 2m and 2m + 1 of a 64-byte block into lanes 2m and 2m + 1, as sum_word does. */
static inline sum_v2 sum_pair(sum_v2 a, const uint8_t *p, sum_v2 key)
{
    sum_v2 w, k;
    memcpy(&w, p, 16);
    k = w ^ key;
#ifdef __SSE2__
    a += (sum_v2)_mm_mul_epu32((__m128i)k, _mm_srli_epi64((__m128i)k, 32));
    return a + (sum_v2)_mm_shuffle_epi32((__m128i)w, 0x4e); /* the two words swapped */
#else
    const sum_v2 lo = {0xffffffffu, 0xffffffffu};
    a += (k & lo) * ((k >> 32) & lo);
    return a + (sum_v2){w[1], w[0]};
#endif
}

/* The 64-byte blocks of [b, b + len), two lanes per vector; returns the bytes done. */
static size_t sum_blocks(uint64_t acc[8], const uint8_t *b, size_t len)
{
    const uint64_t k0 = SUM_K0, k1 = SUM_K1;
    const sum_v2 step = {8 * k1, 8 * k1};
    sum_v2 a0 = {acc[0], acc[1]}, a1 = {acc[2], acc[3]}, a2 = {acc[4], acc[5]},
           a3 = {acc[6], acc[7]};
    sum_v2 y0 = {k0, k0 + k1}, y1 = {k0 + 2 * k1, k0 + 3 * k1}, y2 = {k0 + 4 * k1, k0 + 5 * k1},
           y3 = {k0 + 6 * k1, k0 + 7 * k1};
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        a0 = sum_pair(a0, b + i, y0);
        a1 = sum_pair(a1, b + i + 16, y1);
        a2 = sum_pair(a2, b + i + 32, y2);
        a3 = sum_pair(a3, b + i + 48, y3);
        y0 += step, y1 += step, y2 += step, y3 += step;
    }
    acc[0] = a0[0], acc[1] = a0[1], acc[2] = a1[0], acc[3] = a1[1];
    acc[4] = a2[0], acc[5] = a2[1], acc[6] = a3[0], acc[7] = a3[1];
    return i;
}
#endif

uint32_t mome_wire_sum(uint32_t seed, const void *p, size_t len)
{
    const uint8_t *b = p;
    uint64_t acc[8];
    size_t i = 0;
    for (int l = 0; l < 8; l++)
        acc[l] = ((uint64_t)seed + (uint64_t)l) * SUM_M;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    i = sum_blocks(acc, b, len);
#endif
    for (; i + 8 <= len; i += 8)
        sum_word(acc, i / 8, get64(b + i));
    if (i < len) { /* the last bytes, as a word padded with zeros (the length tells them apart) */
        uint8_t last[8] = {0};
        memcpy(last, b + i, len - i);
        sum_word(acc, i / 8, get64(last));
    }
    uint64_t x = (uint64_t)len * SUM_K1;
    for (int l = 0; l < 8; l++)
        x = rotl(x ^ acc[l], 29) * SUM_K1;
    x ^= x >> 33;
    x *= SUM_M;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x ^ (uint32_t)(x >> 32);
}

/*
 * Layout: 0 magic, 1 version, 2 type, 3 flags, 4 hops(16), 6 reserved(16), 8 src, 12 len,
 * 16 date, 24 key, 32..71 body, 72 checksum (header bytes 0..71, then the payload), 76 reserved.
 */
#define OFF_BODY 32
#define OFF_SUM 72

int mome_wire_peek_src(const void *hdr, size_t hdrlen, const mome_wire_ctx_t *ctx)
{
    const uint8_t *h = hdr;
    if (!h || hdrlen != MOME_WIRE_HDR || h[0] != MOME_WIRE_MAGIC || h[1] != MOME_WIRE_VERSION ||
        get64(h + 24) != ctx->key || get32(h + 8) >= ctx->nnodes)
        return -1;
    return (int)get32(h + 8);
}

void mome_wire_encode(const mome_msg_t *m, void *hdr)
{
    uint8_t *h = hdr;
    h[0] = MOME_WIRE_MAGIC;
    h[1] = MOME_WIRE_VERSION;
    h[2] = m->type;
    h[3] = m->flags;
    put16(h + 4, m->hops);
    put16(h + 6, 0);
    put32(h + 8, m->src);
    put32(h + 12, m->len);
    put64(h + 16, m->date);
    put64(h + 24, m->key);
    memcpy(h + OFF_BODY, m->body.b, MOME_WIRE_BODY); /* already little endian (mome_wire_pack) */
    put32(h + OFF_SUM, mome_wire_sum(mome_wire_sum(0, h, OFF_SUM), m->payload, m->len));
    put32(h + OFF_SUM + 4, 0);
}

/* The body travels in wire order inside mome_msg_t until decoded; fields are packed in the order
 * they are listed, each 4 or 8 bytes. */
void mome_wire_pack(const mome_wire_type_t *t, const void *body, mome_msg_t *m)
{
    const uint8_t *s = body;
    size_t o = 0;
    memset(m->body.b, 0, sizeof(m->body.b));
    for (int i = 0; i < t->nfields; i++) {
        const mome_field_t *f = &t->fields[i];
        if (f->size == 8) {
            uint64_t v;
            memcpy(&v, s + f->off, 8);
            put64(m->body.b + o, v);
        } else {
            uint32_t v;
            memcpy(&v, s + f->off, 4);
            put32(m->body.b + o, v);
        }
        o += f->size;
    }
}

/* (MOME_FK_NCOUNT: the acknowledgements a grant awaits come from the nodes invalidated, never the
 * requester, which refuses its own: a count of the job's size could never be met, and the page
 * would hang job-wide.) date: the header's (a date field is at most that: wire.h). */
static int check_field(const mome_field_t *f, uint64_t v, const mome_wire_ctx_t *ctx, uint64_t date)
{
    switch (f->kind) {
    case MOME_FK_NODE: return v < ctx->nnodes;
    case MOME_FK_NODE_NONE: return v < ctx->nnodes || v == MOME_NODE_NONE;
    case MOME_FK_MODEL: return v < 32 && (ctx->models >> v & 1);
    case MOME_FK_MASK: return (v & ~f->arg) == 0;
    case MOME_FK_MAX:
        return v <= f->arg && (f->arg != MOME_WIRE_DATE_MAX || v <= date);
    case MOME_FK_NCOUNT: return v < ctx->nnodes;
    case MOME_FK_ERRNO: return v == 0 || ((int32_t)v < 0 && (int32_t)v > -4096);
    default: return 1;
    }
}

/* Unpack the body into host order at the struct offsets, checking each field. */
static int unpack(const mome_wire_type_t *t, const uint8_t *w, const mome_wire_ctx_t *ctx,
                  mome_msg_t *out, const char **why)
{
    uint8_t host[MOME_WIRE_BODY] = {0};
    size_t o = 0;
    for (int i = 0; i < t->nfields; i++) {
        const mome_field_t *f = &t->fields[i];
        uint64_t v;
        if (f->size == 8) {
            v = get64(w + o);
            memcpy(host + f->off, &v, 8);
        } else {
            uint32_t v32 = get32(w + o);
            v = v32;
            memcpy(host + f->off, &v32, 4);
        }
        o += f->size;
        if (!check_field(f, v, ctx, out->date)) {
            *why = f->name;
            return -EPROTO;
        }
    }
    /* Unused body bytes must be zero: nothing travels that no field describes. */
    for (; o < MOME_WIRE_BODY; o++) {
        if (w[o]) {
            *why = "unused body bytes";
            return -EBADMSG;
        }
    }
    memcpy(out->body.b, host, sizeof(host));
    return 0;
}

static int check_batch(const mome_wire_type_t *t, const mome_msg_t *m, const mome_wire_ctx_t *ctx,
                       const char **why)
{
    /* An empty payload may be NULL, and NULL + 0 is undefined in C. */
    const uint8_t *p = m->payload, *end = m->len ? p + m->len : p;
    mome_entry_t e;
    while (p < end) {
        size_t k = mome_batch_read(t->batch, p, end, &e);
        if (!k) {
            *why = "batch entry";
            return -EBADMSG;
        }
        if (t->batch == MOME_BATCH_DIFF &&
            (e.len > ctx->page_size || (e.flags & ~(uint32_t)MOME_DIFF_ENTRY_FULL) ||
             ((e.flags & MOME_DIFF_ENTRY_FULL) && e.len != ctx->page_size))) {
            *why = "diff entry length or flags";
            return -EBADMSG;
        }
        if (t->batch == MOME_BATCH_PUSH && (e.len != ctx->page_size || e.flags)) {
            *why = "push entry length or flags";
            return -EBADMSG;
        }
        /* Pushes go to nodes of the job below 64 only; the date is the release's, made before
         * the message was sent (wire.h). */
        if (t->batch == MOME_BATCH_BNOTICE &&
            ((ctx->nnodes < 64 && (e.push >> ctx->nnodes)) || e.date == 0 || e.date > m->date)) {
            *why = "barrier notice push set or date";
            return -EPROTO;
        }
        p += k;
    }
    return 0;
}

int mome_wire_decode(const void *hdr, size_t hdrlen, const void *payload, size_t paylen,
                     const mome_wire_ctx_t *ctx, const mome_wire_type_t *const *types,
                     mome_msg_t *out, const char **why)
{
    const uint8_t *h = hdr;
    const mome_wire_type_t *t;
    uint32_t max_len;
    const char *dummy;

    if (!why)
        why = &dummy;
    *why = "header";
    /* Not one of ours at all (garbage, another program): nothing in it can be trusted. */
    if (!h || hdrlen != MOME_WIRE_HDR || h[0] != MOME_WIRE_MAGIC || h[1] != MOME_WIRE_VERSION)
        return -ENOTSUP;
    out->key = get64(h + 24);
    if (out->key != ctx->key) {
        /*
         * Another job's, if its checksum holds. A message of this job whose key was damaged on
         * the way fails it: refused as foreign, it would be lost and the job could hang or lose
         * data, so it is a broken message like any other (a payload the transport did not take
         * in, or of another length than its header says, cannot be summed: foreign).
         */
        *why = "job key";
        if ((paylen && !payload) || paylen > UINT32_MAX || get32(h + 12) != paylen ||
            get32(h + OFF_SUM) == mome_wire_sum(mome_wire_sum(0, h, OFF_SUM), payload, paylen))
            return -EACCES;
        *why = "checksum (and job key: the message was damaged)";
        return -EBADMSG;
    }
    /* From a node of this job: from here on, a failure means a broken peer. */
    if ((paylen && !payload) || paylen > UINT32_MAX) {
        *why = "payload length (more than any message of this job carries)";
        return -EBADMSG; /* the transport refused to take it in (no payload) */
    }
    if (get16(h + 6) != 0 || get32(h + OFF_SUM + 4) != 0)
        return -EBADMSG;
    if (get32(h + 12) != paylen) {
        *why = "length";
        return -EBADMSG; /* truncated or padded */
    }
    if (get32(h + OFF_SUM) != mome_wire_sum(mome_wire_sum(0, h, OFF_SUM), payload, paylen)) {
        *why = "checksum";
        return -EBADMSG;
    }
    if (h[2] == 0 || h[2] >= MOME_WIRE_NTYPES || !(t = types[h[2]])) {
        *why = "type";
        return -EBADMSG;
    }
    out->type = h[2];
    out->flags = h[3];
    out->hops = get16(h + 4);
    out->src = get32(h + 8);
    out->len = (uint32_t)paylen;
    out->date = get64(h + 16);
    out->payload = paylen ? payload : NULL;

    if (out->flags & ~t->flags_mask) {
        *why = "flags";
        return -EBADMSG;
    }
    max_len = t->max_len == MOME_LEN_PAGE    ? ctx->page_size
              : t->max_len == MOME_LEN_BATCH ? mome_batch_max(ctx->page_size)
                                             : t->max_len;
    if (out->len < t->min_len || out->len > max_len) {
        *why = "payload length";
        return -EBADMSG;
    }
    if (t->max_len == MOME_LEN_PAGE && out->len && out->len != ctx->page_size) {
        *why = "page payload length";
        return -EBADMSG;
    }
    if (t->batch) {
        int rc = check_batch(t, out, ctx, why);
        if (rc < 0)
            return rc;
    }
    if (out->src >= ctx->nnodes) {
        *why = "src";
        return -EPROTO;
    }
    if (out->date > MOME_WIRE_DATE_MAX) {
        *why = "date";
        return -EPROTO;
    }
    return unpack(t, h + OFF_BODY, ctx, out, why);
}

/* ---- batches ---- */

static size_t entry_hdr(int kind)
{
    switch (kind) {
    case MOME_BATCH_NOTICE: return MOME_BATCH_NOTICE_SIZE;
    case MOME_BATCH_PUSH: return MOME_BATCH_PUSH_HDR;
    case MOME_BATCH_BNOTICE: return MOME_BATCH_BNOTICE_SIZE;
    default: return MOME_BATCH_DIFF_HDR;
    }
}

size_t mome_batch_entry_size(int kind, uint32_t datalen)
{
    size_t hdr = entry_hdr(kind);
    if (kind != MOME_BATCH_DIFF && kind != MOME_BATCH_PUSH)
        return hdr;
    return hdr + (((size_t)datalen + 7) & ~(size_t)7);
}

size_t mome_batch_read(int kind, const uint8_t *p, const uint8_t *end, mome_entry_t *e)
{
    size_t hdr = entry_hdr(kind), total;

    if (kind < MOME_BATCH_NOTICE || kind > MOME_BATCH_BNOTICE || p >= end ||
        (size_t)(end - p) < hdr)
        return 0;
    memset(e, 0, sizeof(*e));
    e->seg = get64(p);
    e->page = get64(p + 8);
    if (kind == MOME_BATCH_NOTICE || kind == MOME_BATCH_BNOTICE)
        e->ver = get64(p + 16);
    if (kind == MOME_BATCH_BNOTICE) {
        e->date = get64(p + 24);
        e->push = get64(p + 32);
    }
    if (kind != MOME_BATCH_DIFF && kind != MOME_BATCH_PUSH)
        return hdr;
    e->len = get32(p + 16);
    e->flags = get32(p + 20);
    if (kind == MOME_BATCH_PUSH)
        e->ver = get64(p + 24);
    total = hdr + (((size_t)e->len + 7) & ~(size_t)7);
    if (e->len == 0 || (size_t)(end - p) < total)
        return 0;
    /* Padding is zero: a batch has one encoding. */
    for (size_t i = hdr + e->len; i < total; i++)
        if (p[i])
            return 0;
    e->data = p + hdr;
    return total;
}

int mome_batch_fits(const mome_batch_t *b, size_t bytes)
{
    return b->len + bytes <= MOME_BATCH_MAX;
}

static int batch_room(mome_batch_t *b, size_t more)
{
    /* The limit first: a buffer grown for one huge page's entry keeps its capacity past reset, and
     * small entries filled it past what any node accepts (helper-95). One entry alone always fits
     * (huge pages). */
    if (!mome_batch_fits(b, more) && b->len)
        return -E2BIG;
    if (b->len + more <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 4096;
    while (nc < b->len + more)
        nc *= 2;
    uint8_t *nb = mome_realloc(b->buf, nc);
    if (!nb)
        return -ENOMEM;
    b->buf = nb;
    b->cap = nc;
    return 0;
}

int mome_batch_notice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver)
{
    int rc = batch_room(b, MOME_BATCH_NOTICE_SIZE);
    if (rc < 0)
        return rc;
    put64(b->buf + b->len, seg);
    put64(b->buf + b->len + 8, page);
    put64(b->buf + b->len + 16, ver);
    b->len += MOME_BATCH_NOTICE_SIZE;
    b->n++;
    return 0;
}

int mome_batch_bnotice(mome_batch_t *b, uint64_t seg, uint64_t page, uint64_t ver, uint64_t date,
                       uint64_t push)
{
    int rc = batch_room(b, MOME_BATCH_BNOTICE_SIZE);
    if (rc < 0)
        return rc;
    put64(b->buf + b->len, seg);
    put64(b->buf + b->len + 8, page);
    put64(b->buf + b->len + 16, ver);
    put64(b->buf + b->len + 24, date);
    put64(b->buf + b->len + 32, push);
    b->len += MOME_BATCH_BNOTICE_SIZE;
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
