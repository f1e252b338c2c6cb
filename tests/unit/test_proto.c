/*
 * test_proto.c - message encoding and validating decoding, including truncated and corrupted input.
 */
#include <errno.h>
#include <string.h>

#include "net/proto.h"
#include "unit.h"

static const mome_proto_ctx_t ctx = {.nnodes = 4, .page_size = 4096};

/* Header then payload in buf, which callers size for both. */
static size_t build_in(const mome_msg_t *m, uint8_t *buf, size_t cap)
{
    mome_msg_encode(m, buf);
    ck_assert_uint_le(MOME_MSG_HDR_SIZE + m->len, cap);
    if (m->len)
        memcpy(buf + MOME_MSG_HDR_SIZE, m->payload, m->len);
    return MOME_MSG_HDR_SIZE + m->len;
}
#define build(m, buf) build_in((m), (buf), sizeof(buf))

START_TEST(test_proto__roundtrip)
{
    uint8_t page[4096], buf[MOME_MSG_HDR_SIZE + 4096];
    for (int i = 0; i < 4096; i++)
        page[i] = (uint8_t)i;
    mome_msg_t m = {.type = MOME_MSG_DATA, .flags = MOME_MF_DATA | MOME_MF_GRANT | MOME_MF_RW,
                    .hops = 3, .src = 2, .node = 1, .count = 7, .date = 0x1122334455667788ull,
                    .seg = 0xabcdef0123ull, .page = 987654321ull, .arg = 3, .arg2 = ~0ull,
                    .payload = page, .len = 4096};
    mome_msg_t d;
    size_t len = build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, len, &ctx, &d), 0);
    ck_assert_int_eq(d.type, MOME_MSG_DATA);
    ck_assert_int_eq(d.flags, m.flags);
    ck_assert_int_eq(d.hops, 3);
    ck_assert_uint_eq(d.src, 2);
    ck_assert_uint_eq(d.node, 1);
    ck_assert_uint_eq(d.count, 7);
    ck_assert_uint_eq(d.date, m.date);
    ck_assert_uint_eq(d.seg, m.seg);
    ck_assert_uint_eq(d.page, m.page);
    ck_assert_uint_eq(d.arg, 3);
    ck_assert_uint_eq(d.arg2, ~0ull);
    ck_assert_uint_eq(d.len, 4096);
    ck_assert_mem_eq(d.payload, page, 4096);
}
END_TEST

START_TEST(test_proto__every_type_has_a_name)
{
    for (int t = 1; t < MOME_MSG_NTYPES; t++)
        ck_assert_str_ne(mome_msg_type_name(t), "invalid");
    ck_assert_str_eq(mome_msg_type_name(0), "invalid");
    ck_assert_str_eq(mome_msg_type_name(MOME_MSG_NTYPES), "invalid");
    ck_assert_str_eq(mome_msg_type_name(-1), "invalid");
}
END_TEST

START_TEST(test_proto__truncated)
{
    uint8_t buf[MOME_MSG_HDR_SIZE + 4096], page[4096] = {0};
    mome_msg_t m = {.type = MOME_MSG_DATA, .flags = MOME_MF_DATA, .payload = page, .len = 4096};
    mome_msg_t d;
    size_t len = build(&m, buf);
    /* Every shorter length is rejected, from an empty buffer to one byte short. */
    for (size_t l = 0; l < len; l += (l < 80 ? 1 : 97))
        ck_assert_int_eq(mome_msg_decode_flat(buf, l, &ctx, &d), -EBADMSG);
    ck_assert_int_eq(mome_msg_decode_flat(buf, len - 1, &ctx, &d), -EBADMSG);
    ck_assert_int_eq(mome_msg_decode_flat(NULL, 0, &ctx, &d), -EBADMSG);
    /* A header that claims no payload but comes with some. */
    mome_msg_t r = {.type = MOME_MSG_READ_REQ};
    len = build(&r, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, len + 8, &ctx, &d), -EBADMSG);
    ck_assert_int_eq(mome_msg_decode(buf, MOME_MSG_HDR_SIZE - 1, NULL, 0, &ctx, &d), -EBADMSG);
}
END_TEST

START_TEST(test_proto__corrupted_bytes)
{
    uint8_t buf[MOME_MSG_HDR_SIZE];
    mome_msg_t m = {.type = MOME_MSG_WRITE_REQ, .seg = 5, .page = 9, .node = 3}, d;
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), 0);
    /* Flipping any single bit of the header is detected. */
    for (size_t i = 0; i < MOME_MSG_HDR_SIZE; i++) {
        for (int b = 0; b < 8; b++) {
            buf[i] ^= (uint8_t)(1u << b);
            ck_assert_int_ne(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), 0);
            buf[i] ^= (uint8_t)(1u << b);
        }
    }
}
END_TEST

START_TEST(test_proto__bad_type_and_version)
{
    uint8_t buf[MOME_MSG_HDR_SIZE];
    mome_msg_t m = {.type = MOME_MSG_NTYPES}, d;
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EBADMSG);
    m.type = MOME_MSG_NONE;
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EBADMSG);
    m.type = MOME_MSG_DONE;
    build(&m, buf);
    buf[1] = MOME_MSG_VERSION + 1; /* another protocol version is refused */
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EBADMSG);
}
END_TEST

START_TEST(test_proto__nodes_out_of_range)
{
    uint8_t buf[MOME_MSG_HDR_SIZE];
    mome_msg_t m = {.type = MOME_MSG_FWD_READ, .node = 4}, d; /* 4 nodes: 0..3 */
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EPROTO);
    m.node = 3;
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), 0);
    m.src = 9;
    build(&m, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EPROTO);
    mome_msg_t g = {.type = MOME_MSG_GRANT, .arg = 4};
    build(&g, buf);
    ck_assert_int_eq(mome_msg_decode_flat(buf, sizeof(buf), &ctx, &d), -EPROTO);
}
END_TEST

START_TEST(test_proto__data_payload_rules)
{
    uint8_t buf[MOME_MSG_HDR_SIZE + 4096], page[4096] = {0};
    mome_msg_t d;
    /* Zero page: no payload allowed. */
    mome_msg_t z = {.type = MOME_MSG_DATA, .flags = MOME_MF_ZERO};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&z, buf), &ctx, &d), 0);
    z.payload = page;
    z.len = 16;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&z, buf), &ctx, &d), -EBADMSG);
    /* Content: exactly one page. */
    mome_msg_t c = {.type = MOME_MSG_DATA, .flags = MOME_MF_DATA, .payload = page, .len = 4095};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&c, buf), &ctx, &d), -EBADMSG);
    /* Neither or both flags. */
    c.len = 4096;
    c.flags = 0;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&c, buf), &ctx, &d), -EBADMSG);
    c.flags = MOME_MF_DATA | MOME_MF_ZERO;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&c, buf), &ctx, &d), -EBADMSG);
}
END_TEST

START_TEST(test_proto__names)
{
    uint8_t buf[MOME_MSG_HDR_SIZE + 300];
    mome_msg_t d;
    char name[300];
    memset(name, 'a', sizeof(name));
    mome_msg_t o = {.type = MOME_MSG_SEG_OPEN, .payload = name, .len = 255};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&o, buf), &ctx, &d), 0);
    o.len = 256;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&o, buf), &ctx, &d), -EBADMSG);
    o.len = 0;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&o, buf), &ctx, &d), -EBADMSG);
    name[3] = 0; /* an embedded NUL would cut the name */
    o.len = 10;
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&o, buf), &ctx, &d), -EBADMSG);
}
END_TEST

START_TEST(test_proto__random_garbage_never_crashes)
{
    uint8_t buf[MOME_MSG_HDR_SIZE + 64];
    uint64_t s = 12345;
    mome_msg_t d;
    int accepted = 0;
    for (int i = 0; i < 200000; i++) {
        for (size_t k = 0; k < sizeof(buf); k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            buf[k] = (uint8_t)s;
        }
        buf[0] = MOME_MSG_MAGIC; /* get past the first check sometimes */
        buf[1] = MOME_MSG_VERSION;
        accepted += mome_msg_decode_flat(buf, (size_t)(s % sizeof(buf)), &ctx, &d) == 0;
    }
    ck_assert_int_eq(accepted, 0);
}
END_TEST

START_TEST(test_proto__batches_roundtrip)
{
    mome_batch_t b = {0};
    uint8_t d[100], buf[MOME_MSG_HDR_SIZE + 512];
    mome_msg_t m, out;
    mome_entry_t e;
    for (int i = 0; i < 100; i++)
        d[i] = (uint8_t)i;
    ck_assert_int_eq(mome_batch_diff(&b, 5, 6, d, 100, 0), 0);
    ck_assert_int_eq(mome_batch_diff(&b, 5, 7, d, 3, 0), 0);
    ck_assert_uint_eq(b.n, 2);
    m = (mome_msg_t){.type = MOME_MSG_DIFF, .node = 1, .payload = b.buf, .len = (uint32_t)b.len};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), 0);
    const uint8_t *p = out.payload, *end = p + out.len;
    size_t k = mome_batch_read(MOME_MSG_DIFF, p, end, &e);
    ck_assert_uint_gt(k, 0);
    ck_assert_uint_eq(e.seg, 5);
    ck_assert_uint_eq(e.page, 6);
    ck_assert_uint_eq(e.len, 100);
    ck_assert_mem_eq(e.data, d, 100);
    p += k;
    k = mome_batch_read(MOME_MSG_DIFF, p, end, &e);
    ck_assert_uint_eq(e.page, 7);
    ck_assert_uint_eq(e.len, 3);
    ck_assert_ptr_eq(p + k, end);
    mome_batch_free(&b);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 3), 0);
    m = (mome_msg_t){.type = MOME_MSG_NOTICE, .node = 1, .payload = b.buf, .len = (uint32_t)b.len};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), 0);
    ck_assert_uint_eq(mome_batch_read(MOME_MSG_NOTICE, out.payload,
                                      (const uint8_t *)out.payload + out.len, &e),
                      MOME_BATCH_NOTICE);
    ck_assert_uint_eq(e.ver, 3);
    mome_batch_free(&b);
}
END_TEST

START_TEST(test_proto__malformed_batches)
{
    mome_batch_t b = {0};
    uint8_t d[8] = {1}, buf[MOME_MSG_HDR_SIZE + 8192], page[4097];
    mome_msg_t m, out;
    /* A notice batch cut in the middle of an entry. */
    mome_batch_notice(&b, 1, 2, 3);
    m = (mome_msg_t){.type = MOME_MSG_NOTICE, .node = 1, .payload = b.buf, .len = 20};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), -EBADMSG);
    mome_batch_free(&b);
    /* A diff entry claiming more bytes than the message holds. */
    mome_batch_diff(&b, 1, 2, d, 8, 0);
    b.buf[16] = 200;
    m = (mome_msg_t){.type = MOME_MSG_DIFF, .node = 1, .payload = b.buf, .len = (uint32_t)b.len};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), -EBADMSG);
    mome_batch_free(&b);
    /* A diff larger than a page, and a "whole page" diff of the wrong size. */
    memset(page, 1, sizeof(page));
    mome_batch_diff(&b, 1, 2, page, 4097, 0);
    m = (mome_msg_t){.type = MOME_MSG_DIFF, .node = 1, .payload = b.buf, .len = (uint32_t)b.len};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), -EBADMSG);
    mome_batch_free(&b);
    mome_batch_diff(&b, 1, 2, page, 100, MOME_MF_FULL);
    m = (mome_msg_t){.type = MOME_MSG_DIFF, .node = 1, .payload = b.buf, .len = (uint32_t)b.len};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), -EBADMSG);
    mome_batch_free(&b);
    /* An empty batch. */
    m = (mome_msg_t){.type = MOME_MSG_NOTICE_ACK};
    ck_assert_int_eq(mome_msg_decode_flat(buf, build(&m, buf), &ctx, &out), -EBADMSG);
}
END_TEST

Suite *proto_suite(void)
{
    Suite *s = suite_create("proto");
    UNIT_CASE(s, test_proto__roundtrip);
    UNIT_CASE(s, test_proto__every_type_has_a_name);
    UNIT_CASE(s, test_proto__truncated);
    UNIT_CASE(s, test_proto__corrupted_bytes);
    UNIT_CASE(s, test_proto__bad_type_and_version);
    UNIT_CASE(s, test_proto__nodes_out_of_range);
    UNIT_CASE(s, test_proto__data_payload_rules);
    UNIT_CASE(s, test_proto__names);
    UNIT_CASE(s, test_proto__random_garbage_never_crashes);
    UNIT_CASE(s, test_proto__batches_roundtrip);
    UNIT_CASE(s, test_proto__malformed_batches);
    return s;
}
