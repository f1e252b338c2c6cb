/*
 * fuzz_wire.c - fuzz target: the wire decoder alone (mome_wire_decode with every layer's
 * registered types, their validators, mome_batch_read over the payloads). An accepted message must
 * encode back to the same bytes and its batch must read to its exact end.
 *
 * Input: [nnodes][options][80 header bytes][payload]. Options: bits 0-2 page size, bit 3 the job
 * key, bit 4 fix the checksum (so the fuzzer reaches what follows it), bit 5 fix the length
 * field, bit 6 a 79-byte header, bit 7 also read the payload as a batch of any kind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "net/msg.h"
#include "net/wire.h"
#include "testnode.h"

#define KEY 0x6d6f6d656b657921ull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const mome_wire_type_t *types[MOME_WIRE_NTYPES];
static const mome_msg_def_t *defs[MOME_WIRE_NTYPES];
static const uint32_t page_sizes[8] = {4096, 8192, 16384, 65536, 4096, 2048, 1u << 20, 4096};

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The registered types of every layer, taken from a test node's message table once. */
static void init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    if (testnode_up(4, 1, 1) < 0)
        abort();
    for (int t = 1; t < MOME_WIRE_NTYPES; t++) {
        defs[t] = mome_msg_def(t); /* static tables: still valid after testnode_down */
        types[t] = defs[t] ? &defs[t]->wire : NULL;
    }
    testnode_down();
    fuzz_quiet_logs();
}

/* Every entry of a batch lies inside it; returns the bytes the entries took. */
static size_t read_batch(int kind, const uint8_t *p, size_t len)
{
    const uint8_t *q = p, *end = p + len;
    mome_entry_t e;
    size_t k;
    while (q < end && (k = mome_batch_read(kind, q, end, &e)) > 0) {
        if (k > (size_t)(end - q) || (e.data && (e.data < q || e.data + e.len > q + k)))
            __builtin_trap();
        if (e.data && e.len) {
            volatile uint8_t sum = 0; /* touch the data: ASan checks the bounds */
            for (uint32_t i = 0; i < e.len; i++)
                sum ^= e.data[i];
            (void)sum;
        }
        q += k;
    }
    return (size_t)(q - p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t in = {data, size, 0};
    mome_wire_ctx_t ctx = {0};
    uint8_t opts;
    size_t hdrlen, paylen;
    uint8_t *hdr, *payload;
    mome_msg_t m;
    const char *why = NULL;
    int rc;

    init();
    ctx.nnodes = 1 + fuzz_u8(&in) % 130u; /* past 64 and 128: copysets of several words */
    opts = fuzz_u8(&in);
    ctx.page_size = page_sizes[opts & 7];
    ctx.key = (opts & 8) ? KEY : 0;
    hdrlen = (opts & 0x40) ? MOME_WIRE_HDR - 1 : MOME_WIRE_HDR;
    /* Header and payload in buffers of their exact sizes, so that ASan sees any overread. */
    hdr = malloc(hdrlen);
    fuzz_bytes(&in, hdr, hdrlen);
    paylen = in.n - in.off;
    payload = malloc(paylen ? paylen : 1);
    fuzz_bytes(&in, payload, paylen);
    if ((opts & 0x20) && hdrlen == MOME_WIRE_HDR)
        put32(hdr + 12, (uint32_t)paylen);
    if ((opts & 0x10) && hdrlen == MOME_WIRE_HDR)
        put32(hdr + 72, mome_wire_sum(mome_wire_sum(0, hdr, 72), payload, paylen));

    memset(&m, 0, sizeof(m));
    rc = mome_wire_decode(hdr, hdrlen, payload, paylen, &ctx, types, &m, &why);
    if (rc == 0) {
        const mome_msg_def_t *d = defs[m.type];
        const mome_wire_type_t *t = types[m.type];
        uint8_t again[MOME_WIRE_HDR];
        mome_msg_t e = m;

        if (!t || m.len != paylen || m.src >= ctx.nnodes || m.key != ctx.key)
            __builtin_trap();
        /* One encoding per message: what was accepted encodes back to the same bytes. */
        mome_wire_pack(t, mome_msg_body(&m), &e);
        mome_wire_encode(&e, again);
        if (memcmp(again, hdr, MOME_WIRE_HDR) != 0)
            __builtin_trap();
        if (t->batch && read_batch(t->batch, payload, paylen) != paylen)
            __builtin_trap();
        if (d->validate)
            (void)d->validate(&m, mome_msg_body(&m), &ctx);
    } else if (rc != -EBADMSG && rc != -EPROTO && rc != -EACCES && rc != -ENOTSUP) {
        __builtin_trap();
    }
    if (opts & 0x80)
        (void)read_batch(1 + (int)(hdr[hdrlen - 1] % 5u), payload, paylen); /* kind 5: invalid */
    free(hdr);
    free(payload);
    return 0;
}
