/*
 * seeds.c - writes seed inputs for fuzz_wire: every message a test node sends while it serves a
 * few requests, faults and releases, encoded as the wire carries it (with the target's two option
 * bytes in front). Run by `make fuzz-seeds`; `make fuzz-minimize` then keeps what adds coverage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/proto.h"
#include "coherence/requester.h"
#include "core/proto.h"
#include "testnode.h"

static int nseeds;
static const char *dir;

static void dump(const mome_msg_t *m)
{
    const mome_msg_def_t *d = mome_msg_def(m->type);
    mome_msg_t e = *m;
    uint8_t opts[2] = {3 /* 4 nodes */, 0x08 /* the job key, page size 4096 */};
    uint8_t hdr[MOME_WIRE_HDR];
    char path[4096];
    FILE *f;

    e.key = 0x6d6f6d656b657921ull; /* fuzz_wire.c's KEY */
    mome_wire_pack(&d->wire, mome_msg_body(m), &e);
    mome_wire_encode(&e, hdr);
    snprintf(path, sizeof(path), "%s/seed-%03d-%s", dir, nseeds++, d->wire.name);
    if (!(f = fopen(path, "wb")))
        exit(1);
    fwrite(opts, 1, 2, f);
    fwrite(hdr, 1, sizeof(hdr), f);
    if (m->len)
        fwrite(m->payload, 1, m->len, f);
    fclose(f);
}

static void dump_sent(void)
{
    for (int i = 0; i < msgtest_count(); i++)
        dump(&msgtest_at(i)->m);
    msgtest_reset();
}

static void req(int type, int from, uint64_t seg, uint64_t page, int flags)
{
    mome_req_t r = {.seg = seg, .page = page, .node = (uint32_t)from, .model = MOME_STRONG};
    msgtest_deliver(type, flags, from, &r, NULL, 0);
    dump_sent();
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : ".";
    if (testnode_up(4, 0, 1) < 0)
        return 1;
    mome_seg_t *s = testnode_segment(1, 8);
    /* The directory of a page this node manages: grants, forwards, invalidations. */
    uint64_t p = 0;
    while (mome_page_default_manager(1, p, 4) != 0)
        p++;
    req(MOME_MSG_WRITE_REQ, 1, 1, p, 0);
    mome_ref_t done = {.seg = 1, .page = p, .node = 1};
    msgtest_deliver(MOME_MSG_DONE, 0, 1, &done, NULL, 0);
    req(MOME_MSG_READ_REQ, 2, 1, p, 0);
    done.node = 2;
    msgtest_deliver(MOME_MSG_DONE, 0, 2, &done, NULL, 0);
    req(MOME_MSG_WRITE_REQ, 3, 1, p, 0);
    req(MOME_MSG_SYNC_REQ, 2, 1, p, 0);
    /* The requester: faults (read-ahead too), a grant with data. */
    mome_req_fault(testnode_addr(s, 4), 0, 0);
    dump_sent();
    mome_req_fault(testnode_addr(s, 3), 1, 0);
    dump_sent();
    /* The core layer: a segment name, a lock, a barrier. */
    mome_segmsg_t open = {.size = 4096, .token = 1, .flags = MOME_CREATE};
    msgtest_deliver(MOME_MSG_SEG_OPEN, 0, 2, &open, "seg", 3);
    dump_sent();
    mome_syncmsg_t lk = {.id = 7, .token = 1};
    msgtest_deliver(MOME_MSG_LOCK_REQ, 0, 3, &lk, NULL, 0);
    dump_sent();
    /* Batches: a notice acked, a push. */
    mome_batch_t notice = {0};
    if (mome_batch_notice(&notice, 1, p, 2) < 0)
        return 1;
    mome_rel_t rel = {.date = 5, .origin = 2};
    msgtest_deliver(MOME_MSG_NOTICE, 0, 2, &rel, notice.buf, (uint32_t)notice.len);
    mome_batch_free(&notice);
    dump_sent();
    testnode_down();
    printf("%d seeds in %s\n", nseeds, dir);
    return 0;
}
