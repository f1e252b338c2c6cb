/*
 * test_wire.c - the wire format: encoding and validating decoding of headers, typed bodies and
 * batches, including truncated, corrupted, out-of-range and foreign input.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mome.h"
#include "net/wire.h"
#include "unit.h"

static const mome_wire_ctx_t ctx = {.nnodes = 4, .page_size = 4096, .key = 0x1234,
                                    .models = 1u << MOME_STRONG | 1u << MOME_RELEASE |
                                              1u << MOME_WEAK};

/* A body with one field of each kind. */
typedef struct tbody {
    uint64_t seg;
    uint32_t node, model, rights, count;
    uint64_t bound;
    uint32_t opt, err;
} tbody_t;

static const mome_field_t tfields[] = {
    MOME_FIELD(tbody_t, seg, MOME_FK_RAW, 0),          MOME_FIELD(tbody_t, node, MOME_FK_NODE, 0),
    MOME_FIELD(tbody_t, model, MOME_FK_MODEL, 0),      MOME_FIELD(tbody_t, rights, MOME_FK_MASK, 0xf),
    MOME_FIELD(tbody_t, count, MOME_FK_NCOUNT, 0),     MOME_FIELD(tbody_t, bound, MOME_FK_MAX, 1000),
    MOME_FIELD(tbody_t, opt, MOME_FK_NODE_NONE, 0),    MOME_FIELD(tbody_t, err, MOME_FK_ERRNO, 0)};

enum { T_PLAIN = 1, T_PAGE, T_DIFF, T_NOTICE, T_NAME };
static const mome_wire_type_t t_plain = {"PLAIN", tfields, 8, 0x3, 0, 0, 0};
static const mome_wire_type_t t_page = {"PAGE", tfields, 2, 0x1, 0, MOME_LEN_PAGE, 0};
static const mome_wire_type_t t_diff = {"DIFFS", NULL, 0, 0, MOME_BATCH_DIFF_HDR, MOME_LEN_BATCH,
                                        MOME_BATCH_DIFF};
static const mome_wire_type_t t_notice = {"NOTICES", NULL, 0, 0, MOME_BATCH_NOTICE_SIZE,
                                          MOME_LEN_BATCH, MOME_BATCH_NOTICE};
static const mome_wire_type_t t_name = {"NAME", NULL, 0, 0, 1, 255, 0};
static const mome_wire_type_t *const types[MOME_WIRE_NTYPES] = {[T_PLAIN] = &t_plain,
                                                                [T_PAGE] = &t_page,
                                                                [T_DIFF] = &t_diff,
                                                                [T_NOTICE] = &t_notice,
                                                                [T_NAME] = &t_name};

static tbody_t good(void)
{
    return (tbody_t){.seg = 0xabcdef0123ull, .node = 3, .model = MOME_WEAK, .rights = 5,
                     .count = 3, .bound = 1000, .opt = MOME_NODE_NONE, .err = (uint32_t)-ENOENT};
}

/* Header then payload in buf (sized by the caller for both); returns the length. */
static size_t build_in(int type, int flags, uint32_t src, const void *body, const void *payload,
                       uint32_t len, uint8_t *buf, size_t cap)
{
    mome_msg_t m = {.type = (uint8_t)type, .flags = (uint8_t)flags, .hops = 3, .src = src,
                    .date = 0x1122334455667788ull, .key = ctx.key, .payload = payload,
                    .len = len};
    if (types[type])
        mome_wire_pack(types[type], body, &m);
    mome_wire_encode(&m, buf);
    ck_assert_uint_le(MOME_WIRE_HDR + len, cap);
    if (len)
        memcpy(buf + MOME_WIRE_HDR, payload, len);
    return MOME_WIRE_HDR + len;
}
#define build(t, f, src, body, p, l, buf) build_in((t), (f), (src), (body), (p), (l), (buf), sizeof(buf))

static int decode(const uint8_t *buf, size_t len, mome_msg_t *out)
{
    if (len < MOME_WIRE_HDR)
        return mome_wire_decode(buf, len, NULL, 0, &ctx, types, out, NULL);
    return mome_wire_decode(buf, MOME_WIRE_HDR, buf + MOME_WIRE_HDR, len - MOME_WIRE_HDR, &ctx,
                            types, out, NULL);
}

START_TEST(test_wire__roundtrip)
{
    uint8_t page[4096], buf[MOME_WIRE_HDR + 4096];
    tbody_t b = good();
    mome_msg_t d;
    for (int i = 0; i < 4096; i++)
        page[i] = (uint8_t)i;
    size_t len = build(T_PAGE, 1, 2, &b, page, 4096, buf);
    ck_assert_int_eq(decode(buf, len, &d), 0);
    ck_assert_int_eq(d.type, T_PAGE);
    ck_assert_int_eq(d.flags, 1);
    ck_assert_int_eq(d.hops, 3);
    ck_assert_uint_eq(d.src, 2);
    ck_assert_uint_eq(d.date, 0x1122334455667788ull);
    ck_assert_uint_eq(d.len, 4096);
    ck_assert_mem_eq(d.payload, page, 4096);
    const tbody_t *db = mome_msg_body(&d);
    ck_assert_uint_eq(db->seg, b.seg);
    ck_assert_uint_eq(db->node, 3);
    /* Every kind of field comes back as it went. */
    len = build(T_PLAIN, 2, 1, &b, NULL, 0, buf);
    ck_assert_int_eq(decode(buf, len, &d), 0);
    ck_assert_mem_eq(mome_msg_body(&d), &b, sizeof(b));
}
END_TEST

/* The sender a header names, before its payload is here: only from a header of this job, naming
 * one of its nodes (the transport names it when the payload cannot be fetched). */
START_TEST(test_wire__sender_peeked_from_the_header)
{
    uint8_t buf[MOME_WIRE_HDR];
    tbody_t b = good();
    mome_wire_ctx_t other = ctx;
    build(T_PLAIN, 0, 3, &b, NULL, 0, buf);
    ck_assert_int_eq(mome_wire_peek_src(buf, sizeof(buf), &ctx), 3);
    ck_assert_int_eq(mome_wire_peek_src(buf, sizeof(buf) - 1, &ctx), -1);
    other.key = ~ctx.key; /* another job's */
    ck_assert_int_eq(mome_wire_peek_src(buf, sizeof(buf), &other), -1);
    build(T_PLAIN, 0, 4, &b, NULL, 0, buf); /* no node of a job of 4 */
    ck_assert_int_eq(mome_wire_peek_src(buf, sizeof(buf), &ctx), -1);
    build(T_PLAIN, 0, 1, &b, NULL, 0, buf);
    buf[1]++; /* another version */
    ck_assert_int_eq(mome_wire_peek_src(buf, sizeof(buf), &ctx), -1);
    ck_assert_int_eq(mome_wire_peek_src(NULL, 0, &ctx), -1);
}
END_TEST

START_TEST(test_wire__truncated)
{
    uint8_t buf[MOME_WIRE_HDR + 4096], page[4096] = {0};
    tbody_t b = good();
    mome_msg_t d;
    size_t len = build(T_PAGE, 0, 0, &b, page, 4096, buf);
    /* Every shorter length is rejected, from an empty buffer to one byte short: less than a
     * header is not a message at all; a header with too little payload is a broken one. */
    for (size_t l = 0; l < len; l += (l < 100 ? 1 : 97))
        ck_assert_int_eq(decode(buf, l, &d), l < MOME_WIRE_HDR ? -ENOTSUP : -EBADMSG);
    ck_assert_int_eq(decode(buf, len - 1, &d), -EBADMSG);
    ck_assert_int_eq(mome_wire_decode(NULL, 0, NULL, 0, &ctx, types, &d, NULL), -ENOTSUP);
    /* A header that claims no payload but comes with some. */
    len = build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(decode(buf, len + 8, &d), -EBADMSG);
}
END_TEST

START_TEST(test_wire__corrupted_bytes)
{
    uint8_t buf[MOME_WIRE_HDR + 64], pay[64];
    tbody_t b = good();
    mome_msg_t d;
    memset(pay, 7, sizeof(pay));
    size_t len = build(T_NAME, 0, 1, &b, pay, sizeof(pay), buf);
    ck_assert_int_eq(decode(buf, len, &d), 0);
    /* Flipping any single bit of the header or of the payload is detected. */
    for (size_t i = 0; i < len; i++) {
        for (int k = 0; k < 8; k++) {
            buf[i] ^= (uint8_t)(1u << k);
            ck_assert_int_ne(decode(buf, len, &d), 0);
            buf[i] ^= (uint8_t)(1u << k);
        }
    }
}
END_TEST

START_TEST(test_wire__bad_type_version_and_key)
{
    uint8_t buf[MOME_WIRE_HDR];
    tbody_t b = good();
    mome_msg_t d;
    build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(decode(buf, sizeof(buf), &d), 0);
    build(MOME_WIRE_NTYPES - 1, 0, 0, &b, NULL, 0, buf); /* unregistered */
    ck_assert_int_eq(decode(buf, sizeof(buf), &d), -EBADMSG);
    build(0, 0, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(decode(buf, sizeof(buf), &d), -EBADMSG);
    build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    buf[1] = MOME_WIRE_VERSION + 1; /* another protocol version is refused */
    ck_assert_int_eq(decode(buf, sizeof(buf), &d), -ENOTSUP);
    /* Another job's key: refused as foreign, whatever else is right. */
    mome_wire_ctx_t other = ctx;
    other.key = 0x4321;
    build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &other, types, &d, NULL),
                     -EACCES);
    /* This job's message with a bit of its key flipped on the way: its checksum fails, so it is
     * a damaged message (the node stops), not another job's (it would be lost). */
    const char *kwhy = NULL;
    build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    buf[24 + 3] ^= 0x20;
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &kwhy), -EBADMSG);
    ck_assert_ptr_nonnull(strstr(kwhy, "checksum"));
    /* Flags outside the type's enum. */
    build(T_PLAIN, 0x4, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(decode(buf, sizeof(buf), &d), -EBADMSG);
    /* A payload too long for the transport to take in comes up without it: this job's header
     * makes it a broken peer's message (the node stops), another job's stays foreign. */
    const char *why = NULL;
    build(T_PLAIN, 0, 0, &b, NULL, 0, buf);
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 1u << 30, &ctx, types, &d, &why),
                     -EBADMSG);
    ck_assert_ptr_nonnull(strstr(why, "payload length"));
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 1u << 30, &other, types, &d, NULL),
                     -EACCES);
}
END_TEST

START_TEST(test_wire__fields_out_of_range)
{
    uint8_t buf[MOME_WIRE_HDR];
    mome_msg_t d;
    const char *why;
    struct {
        tbody_t b;
        const char *field;
    } bad[] = {{good(), "node"},  {good(), "model"}, {good(), "rights"},
               {good(), "count"}, {good(), "bound"}, {good(), "opt"},
               {good(), "err"}};
    bad[0].b.node = 4; /* 4 nodes: 0..3 */
    bad[1].b.model = 0;
    bad[2].b.rights = 0x10;
    bad[3].b.count = 4; /* a count of other nodes: at most 3 of 4 */
    bad[4].b.bound = 1001;
    bad[5].b.opt = 4;
    bad[6].b.err = 5;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        build(T_PLAIN, 0, 0, &bad[i].b, NULL, 0, buf);
        ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &why),
                         -EPROTO);
        ck_assert_str_eq(why, bad[i].field); /* the refusal names the field */
    }
    tbody_t b = good();
    build(T_PLAIN, 0, 9, &b, NULL, 0, buf); /* a source outside the job */
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &why), -EPROTO);
    ck_assert_str_eq(why, "src");
    /* A date no clock reaches: merged, it would wrap every clock of the job. */
    mome_msg_t late = {.type = T_PLAIN, .key = ctx.key, .date = MOME_WIRE_DATE_MAX + 1};
    mome_wire_pack(&t_plain, &b, &late);
    mome_wire_encode(&late, buf);
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &why), -EPROTO);
    ck_assert_str_eq(why, "date");
    late.date = MOME_WIRE_DATE_MAX;
    mome_wire_encode(&late, buf);
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &why), 0);
    /* Body bytes no field describes must be zero (a correct checksum does not make them right). */
    mome_msg_t m = {.type = T_PAGE, .key = ctx.key};
    mome_wire_pack(&t_page, &b, &m);
    m.body.b[20] = 1;
    mome_wire_encode(&m, buf);
    ck_assert_int_eq(mome_wire_decode(buf, sizeof(buf), NULL, 0, &ctx, types, &d, &why), -EBADMSG);
    ck_assert_str_eq(why, "unused body bytes");
}
END_TEST

/*
 * A body's date (a field bounded by MOME_WIRE_DATE_MAX, and a barrier notice entry's) is that of
 * something done before the message was sent, so never after the header's date, which the sender
 * ticks at the send: a later one, recorded as a notice's, kept a stale copy past every acquire.
 */
typedef struct dbody {
    uint64_t date;
} dbody_t;
static const mome_field_t dfields[] = {MOME_FIELD(dbody_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX)};
static const mome_wire_type_t t_dated = {"DATED", dfields, 1, 0, 0, 0, 0};
static const mome_wire_type_t t_bnotice = {
    "BNOTICES", NULL, 0, 0, MOME_BATCH_BNOTICE_SIZE, MOME_LEN_BATCH, MOME_BATCH_BNOTICE};

static int decode_dated(const mome_wire_type_t *t, uint64_t hdr_date, const void *body,
                        const mome_batch_t *b, const char **why)
{
    static const mome_wire_type_t *tt[MOME_WIRE_NTYPES];
    uint8_t buf[MOME_WIRE_HDR + 64];
    mome_msg_t m = {.type = 1,
                    .key = ctx.key,
                    .date = hdr_date,
                    .payload = b ? b->buf : NULL,
                    .len = b ? (uint32_t)b->len : 0};
    mome_msg_t d;
    tt[1] = t;
    mome_wire_pack(t, body, &m);
    mome_wire_encode(&m, buf);
    if (m.len)
        memcpy(buf + MOME_WIRE_HDR, m.payload, m.len);
    return mome_wire_decode(buf, MOME_WIRE_HDR, buf + MOME_WIRE_HDR, m.len, &ctx, tt, &d, why);
}

START_TEST(test_wire__dates_not_after_the_header)
{
    const char *why;
    dbody_t b = {.date = 1000};
    mome_batch_t n = {0};
    ck_assert_int_eq(decode_dated(&t_dated, 1001, &b, NULL, &why), 0);
    ck_assert_int_eq(decode_dated(&t_dated, 1000, &b, NULL, &why), 0);
    ck_assert_int_eq(decode_dated(&t_dated, 999, &b, NULL, &why), -EPROTO);
    ck_assert_str_eq(why, "date");
    b.date = MOME_WIRE_DATE_MAX;
    ck_assert_int_eq(decode_dated(&t_dated, 1000, &b, NULL, &why), -EPROTO);
    ck_assert_str_eq(why, "date");
    /* A barrier notice entry's date, the same. */
    ck_assert_int_eq(mome_batch_bnotice(&n, 1, 2, 3, 1000, 0), 0);
    ck_assert_int_eq(decode_dated(&t_bnotice, 1000, NULL, &n, &why), 0);
    ck_assert_int_eq(decode_dated(&t_bnotice, 999, NULL, &n, &why), -EPROTO);
    ck_assert_str_eq(why, "barrier notice push set or date");
    mome_batch_free(&n);
}
END_TEST

START_TEST(test_wire__page_payload_rules)
{
    uint8_t buf[MOME_WIRE_HDR + 4096], page[4096] = {0};
    tbody_t b = good();
    mome_msg_t d;
    ck_assert_int_eq(decode(buf, build(T_PAGE, 0, 0, &b, NULL, 0, buf), &d), 0);
    ck_assert_int_eq(decode(buf, build(T_PAGE, 0, 0, &b, page, 16, buf), &d), -EBADMSG);
    ck_assert_int_eq(decode(buf, build(T_PAGE, 0, 0, &b, page, 4095, buf), &d), -EBADMSG);
    ck_assert_int_eq(decode(buf, build(T_PAGE, 0, 0, &b, page, 4096, buf), &d), 0);
}
END_TEST

START_TEST(test_wire__lengths)
{
    uint8_t buf[MOME_WIRE_HDR + 300];
    char name[300];
    mome_msg_t d;
    memset(name, 'a', sizeof(name));
    ck_assert_int_eq(decode(buf, build(T_NAME, 0, 0, NULL, name, 255, buf), &d), 0);
    ck_assert_int_eq(decode(buf, build(T_NAME, 0, 0, NULL, name, 256, buf), &d), -EBADMSG);
    ck_assert_int_eq(decode(buf, build(T_NAME, 0, 0, NULL, name, 0, buf), &d), -EBADMSG);
}
END_TEST

START_TEST(test_wire__random_garbage_never_accepted)
{
    uint8_t buf[MOME_WIRE_HDR + 64];
    uint64_t s = 12345;
    mome_msg_t d;
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        for (size_t k = 0; k < sizeof(buf); k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            buf[k] = (uint8_t)s;
        }
        buf[0] = MOME_WIRE_MAGIC; /* get past the first checks sometimes */
        buf[1] = MOME_WIRE_VERSION;
        accepted += decode(buf, (size_t)(s % sizeof(buf)), &d) == 0;
    }
    ck_assert_int_eq(accepted, 0);
}
END_TEST

START_TEST(test_wire__batches_roundtrip)
{
    mome_batch_t b = {0};
    uint8_t d[100], buf[MOME_WIRE_HDR + 512];
    mome_msg_t out;
    mome_entry_t e;
    for (int i = 0; i < 100; i++)
        d[i] = (uint8_t)i;
    ck_assert_int_eq(mome_batch_diff(&b, 5, 6, d, 100, 0), 0);
    ck_assert_int_eq(mome_batch_diff(&b, 5, 7, d, 3, 0), 0);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out), 0);
    const uint8_t *p = out.payload, *end = p + out.len;
    size_t k = mome_batch_read(MOME_BATCH_DIFF, p, end, &e);
    ck_assert_uint_gt(k, 0);
    ck_assert_uint_eq(e.seg, 5);
    ck_assert_uint_eq(e.page, 6);
    ck_assert_uint_eq(e.len, 100);
    ck_assert_mem_eq(e.data, d, 100);
    p += k;
    k = mome_batch_read(MOME_BATCH_DIFF, p, end, &e);
    ck_assert_uint_eq(e.page, 7);
    ck_assert_uint_eq(e.len, 3);
    ck_assert_ptr_eq(p + k, end);
    mome_batch_free(&b);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 3), 0);
    ck_assert_int_eq(decode(buf, build(T_NOTICE, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     0);
    ck_assert_uint_eq(mome_batch_read(MOME_BATCH_NOTICE, out.payload,
                                      (const uint8_t *)out.payload + out.len, &e),
                      MOME_BATCH_NOTICE_SIZE);
    ck_assert_uint_eq(e.ver, 3);
    mome_batch_free(&b);
}
END_TEST

/* A buffer grown for one 8 MiB page's entry keeps its room after a reset: the entries that follow
 * still stop at MOME_BATCH_MAX, which every receiver accepts. */
START_TEST(test_wire__batch_limit_holds_after_a_huge_entry)
{
    size_t page = 8u << 20, small = 1u << 20;
    uint8_t *d = calloc(1, page);
    mome_batch_t b = {0};
    int rc = 0, n = 0;
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(mome_batch_diff(&b, 1, 0, d, (uint32_t)page, MOME_DIFF_ENTRY_FULL), 0);
    mome_batch_reset(&b);
    while (n < 20 && (rc = mome_batch_diff(&b, 1, (uint64_t)n + 1, d, (uint32_t)small, 0)) == 0)
        n++;
    ck_assert_int_eq(rc, -E2BIG);
    ck_assert_uint_le(b.len, MOME_BATCH_MAX);
    ck_assert_int_eq(n, 3); /* 4 MiB holds three 1 MiB entries and their headers */
    mome_batch_free(&b);
    free(d);
}
END_TEST

START_TEST(test_wire__malformed_batches)
{
    mome_batch_t b = {0};
    uint8_t d[8] = {1}, buf[MOME_WIRE_HDR + 8192], page[4097];
    mome_msg_t out;
    /* A notice batch cut in the middle of an entry. */
    mome_batch_notice(&b, 1, 2, 3);
    ck_assert_int_eq(decode(buf, build(T_NOTICE, 0, 1, NULL, b.buf, 20, buf), &out), -EBADMSG);
    mome_batch_free(&b);
    /* A diff entry claiming more bytes than the message holds. */
    mome_batch_diff(&b, 1, 2, d, 8, 0);
    b.buf[16] = 200;
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     -EBADMSG);
    mome_batch_free(&b);
    /* Non-zero padding. */
    mome_batch_diff(&b, 1, 2, d, 3, 0);
    b.buf[MOME_BATCH_DIFF_HDR + 5] = 1;
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     -EBADMSG);
    mome_batch_free(&b);
    /* A diff larger than a page, a "whole page" diff of the wrong size, unknown entry flags. */
    memset(page, 1, sizeof(page));
    mome_batch_diff(&b, 1, 2, page, 4097, 0);
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     -EBADMSG);
    mome_batch_free(&b);
    mome_batch_diff(&b, 1, 2, page, 100, MOME_DIFF_ENTRY_FULL);
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     -EBADMSG);
    mome_batch_free(&b);
    mome_batch_diff(&b, 1, 2, page, 100, 0x2);
    ck_assert_int_eq(decode(buf, build(T_DIFF, 0, 1, NULL, b.buf, (uint32_t)b.len, buf), &out),
                     -EBADMSG);
    mome_batch_free(&b);
    /* An empty batch. */
    ck_assert_int_eq(decode(buf, build(T_NOTICE, 0, 1, NULL, NULL, 0, buf), &out), -EBADMSG);
}
END_TEST

START_TEST(test_wire__batches_have_a_bound)
{
    mome_batch_t b = {0};
    uint64_t n = 0;
    int rc;
    while ((rc = mome_batch_notice(&b, 1, n, n)) == 0)
        n++;
    ck_assert_int_eq(rc, -E2BIG); /* full: the writer sends it and starts another */
    ck_assert_uint_eq(n, MOME_BATCH_MAX / MOME_BATCH_NOTICE_SIZE);
    ck_assert_uint_le(b.len, MOME_BATCH_MAX);
    ck_assert_int_eq(mome_batch_fits(&b, MOME_BATCH_NOTICE_SIZE), 0);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 3), 0);
    mome_batch_free(&b);
}
END_TEST

START_TEST(test_wire__sum_sees_every_word)
{
    uint8_t p[4096] = {0};
    uint32_t base = mome_wire_sum(0, p, sizeof(p));
    for (size_t i = 0; i < sizeof(p); i += 61) {
        p[i] = 1;
        ck_assert_uint_ne(mome_wire_sum(0, p, sizeof(p)), base);
        p[i] = 0;
    }
    ck_assert_uint_ne(mome_wire_sum(0, p, sizeof(p) - 1), base);
    ck_assert_uint_ne(mome_wire_sum(1, p, sizeof(p)), base);
    /* Two words swapped; two sign bits flipped in words that feed the same lanes (an addition
     * alone would not see either). */
    for (size_t w = 0; w < 512; w++)
        p[8 * w] = (uint8_t)(w * 37 + 1), p[8 * w + 7] = (uint8_t)w;
    base = mome_wire_sum(0, p, sizeof(p));
    for (size_t a = 3, b = 11; b < 512; a += 40, b += 48) {
        uint8_t t[8];
        memcpy(t, p + 8 * a, 8), memcpy(p + 8 * a, p + 8 * b, 8), memcpy(p + 8 * b, t, 8);
        ck_assert_uint_ne(mome_wire_sum(0, p, sizeof(p)), base);
        memcpy(t, p + 8 * a, 8), memcpy(p + 8 * a, p + 8 * b, 8), memcpy(p + 8 * b, t, 8);
        p[8 * a + 7] ^= 0x80, p[8 * b + 7] ^= 0x80;
        ck_assert_uint_ne(mome_wire_sum(0, p, sizeof(p)), base);
        p[8 * a + 7] ^= 0x80, p[8 * b + 7] ^= 0x80;
    }
    ck_assert_uint_eq(mome_wire_sum(0, p, sizeof(p)), base);
}
END_TEST

/* The checksum's definition, one word at a time (wire.c computes it two words per vector). */
static uint32_t sum_reference(uint32_t seed, const uint8_t *b, size_t len)
{
    const uint64_t k0 = 0x243f6a8885a308d3ull, k1 = 0x9e3779b97f4a7c15ull,
                   m = 0xff51afd7ed558ccdull;
    uint64_t acc[8], x;
    for (int l = 0; l < 8; l++)
        acc[l] = ((uint64_t)seed + (uint64_t)l) * m;
    for (size_t j = 0; 8 * j < len; j++) {
        uint64_t w = 0;
        for (size_t i = 8 * j; i < len && i < 8 * j + 8; i++)
            w |= (uint64_t)b[i] << (8 * (i - 8 * j)); /* little endian, padded with zeros */
        uint64_t k = w ^ (k0 + j * k1);
        acc[j % 8] += (k & 0xffffffffu) * (k >> 32);
        acc[(j % 8) ^ 1] += w;
    }
    x = (uint64_t)len * k1;
    for (int l = 0; l < 8; l++) {
        x ^= acc[l];
        x = ((x << 29) | (x >> 35)) * k1;
    }
    x ^= x >> 33;
    x *= m;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return (uint32_t)x ^ (uint32_t)(x >> 32);
}

START_TEST(test_wire__sum_matches_its_definition_at_any_length_and_alignment)
{
    static uint8_t buf[4096 + 8];
    uint64_t r = 88172645463325252ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        buf[i] = (uint8_t)r;
    }
    for (size_t len = 0; len <= 300; len++)
        for (size_t off = 0; off < 3; off++)
            ck_assert_uint_eq(mome_wire_sum((uint32_t)len, buf + off, len),
                              sum_reference((uint32_t)len, buf + off, len));
    ck_assert_uint_eq(mome_wire_sum(7, buf + 1, 4096), sum_reference(7, buf + 1, 4096));
}
END_TEST

Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    UNIT_CASE(s, test_wire__roundtrip);
    UNIT_CASE(s, test_wire__sender_peeked_from_the_header);
    UNIT_CASE(s, test_wire__truncated);
    UNIT_CASE(s, test_wire__corrupted_bytes);
    UNIT_CASE(s, test_wire__bad_type_version_and_key);
    UNIT_CASE(s, test_wire__fields_out_of_range);
    UNIT_CASE(s, test_wire__dates_not_after_the_header);
    UNIT_CASE(s, test_wire__page_payload_rules);
    UNIT_CASE(s, test_wire__lengths);
    UNIT_CASE(s, test_wire__random_garbage_never_accepted);
    UNIT_CASE(s, test_wire__batches_roundtrip);
    UNIT_CASE(s, test_wire__malformed_batches);
    UNIT_CASE(s, test_wire__batch_limit_holds_after_a_huge_entry);
    UNIT_CASE(s, test_wire__batches_have_a_bound);
    UNIT_CASE(s, test_wire__sum_sees_every_word);
    UNIT_CASE(s, test_wire__sum_matches_its_definition_at_any_length_and_alignment);
    return s;
}
