/*
 * test_owner.c - what this node's writes become, as a state machine: releases of twinned pages
 * (diff batches to their owners, split when they fill), releases of owned shared pages (notices
 * and pushes), the acknowledgements that complete a release, diffs merged into the master here,
 * and flushes waiting for releases in flight.
 */
#include <stdlib.h>
#include <string.h>

#include "base/stats.h"
#include "coherence/copy.h"
#include "coherence/diff.h"
#include "coherence/page.h"
#include "coherence/owner.h"
#include "coherence/release.h"
#include "mome.h"
#include "net/srvproto.h"
#include "nodecase.h"

#define SELF 1
#define NODES 4
#define MGR 0

static void done_cb(void *arg, mome_date_t d)
{
    *(mome_date_t *)arg = d;
}

/* Acknowledge the release of pages [first, end) of s, as their manager does. */
static void notice_ack(mome_seg_t *s, uint64_t first, uint64_t end)
{
    mome_batch_t b = {0};
    for (uint64_t p = first; p < end; p++)
        ck_assert_int_eq(mome_batch_notice(&b, s->id, p, mome_seg_pg(s, p)->ver + 1), 0);
    nc_deliver(MOME_MSG_NOTICE_ACK, 0, MGR, NULL, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

/* A twinning writer of page p (master at node owner), twin = twin[], then written: one byte. */
static void write_twinned(mome_seg_t *s, uint64_t p, int owner, uint8_t *twin)
{
    nc_pattern(twin, (unsigned)p + 100);
    nc_hold_data(s, p, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, owner, twin, 1);
    mome_seg_bytes(s, p)[p * 8 + 3] ^= 0x40;
}

/* Does entry e, applied to twin, give the page's bytes now? */
static int diff_gives(const mome_entry_t *e, const uint8_t *twin, const uint8_t *now)
{
    uint8_t t[NC_PAGE];
    memcpy(t, twin, NC_PAGE);
    if (mome_diff_apply(t, NC_PAGE, e->data, e->len, !!(e->flags & MOME_DIFF_ENTRY_FULL)) < 0)
        return 0;
    return memcmp(t, now, NC_PAGE) == 0;
}

START_TEST(test_owner__release_sends_one_diff_batch_per_owner)
{
    static uint8_t twin[5][NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    for (uint64_t p = 0; p < 5; p++)
        write_twinned(s, p, p < 3 ? 3 : 2, twin[p]);
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, -1), 2);
    ck_assert_int_eq(msgtest_count(), 2); /* no notice: the owners announce the merges */
    const mome_msg_t *d3 = nc_msg(MOME_MSG_DIFF, 3), *d2 = nc_msg(MOME_MSG_DIFF, 2);
    mome_entry_t e[8];
    ck_assert_int_eq(d3->flags, 0);
    ck_assert_uint_eq(NC_BODY(d3, mome_rel_t)->origin, SELF);
    ck_assert_uint_ne(NC_BODY(d3, mome_rel_t)->date, 0);
    ck_assert_int_eq(nc_entries(MOME_BATCH_DIFF, d3, e, 8), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_uint_eq(e[i].page, (uint64_t)i);
        ck_assert(diff_gives(&e[i], twin[i], mome_seg_bytes(s, (uint64_t)i)));
    }
    ck_assert_int_eq(nc_entries(MOME_BATCH_DIFF, d2, e, 8), 2);
    ck_assert(diff_gives(&e[1], twin[4], mome_seg_bytes(s, 4)));
    /* The pages start a new interval: clean, write-protected, twins gone, release pending. */
    for (uint64_t p = 0; p < 5; p++) {
        mome_page_t *pg = mome_seg_pg(s, p);
        ck_assert_int_eq(pg->flags & MOME_PG_DIRTY, 0);
        ck_assert_int_ne(pg->flags & MOME_PG_WROTE, 0);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, p)), FAKE_MAPPED_RO);
        ck_assert_ptr_null(mome_pext_find(pg, 1, p)->twin);
        ck_assert_uint_eq(mome_pext_find(pg, 1, p)->relpend, 1);
    }
    ck_assert_uint_eq(mome_copy_dirty()->n, 0);
    ck_assert_uint_eq(rel, 0);
    ck_assert_int_eq(mome_rel_busy(), 1);
}
END_TEST

/* The pages a release write-protects, in page order whatever order they were written in: one
 * write-protect per run of consecutive pages (one TLB flush each), not one per page. */
START_TEST(test_owner__release_write_protects_each_run_at_once)
{
    static const uint64_t order[5] = {3, 1, 0, 6, 2};
    static uint8_t twin[7][NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    for (int i = 0; i < 5; i++)
        write_twinned(s, order[i], 3, twin[order[i]]);
    unsigned protects = fake_memory_counts()->protects;
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_eq(fake_memory_counts()->protects - protects, 2); /* pages 0-3, then 6 */
    mome_entry_t e[8];
    ck_assert_int_eq(nc_entries(MOME_BATCH_DIFF, nc_msg(MOME_MSG_DIFF, 3), e, 8), 5);
    for (int i = 0; i < 5; i++) {
        uint64_t p = order[i];
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, p)), FAKE_MAPPED_RO);
        ck_assert_int_eq(mome_seg_pg(s, p)->flags & (MOME_PG_DIRTY | MOME_PG_LISTED), 0);
        ck_assert(diff_gives(&e[p < 6 ? p : 4], twin[p], mome_seg_bytes(s, p)));
    }
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 4)), FAKE_NONE); /* never held */
}
END_TEST

START_TEST(test_owner__notice_acks_complete_the_release)
{
    static uint8_t twin[3][NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    for (uint64_t p = 0; p < 3; p++)
        write_twinned(s, p, 3, twin[p]);
    int out = mome_coh.outstanding;
    mome_rel_release(done_cb, &rel);
    mome_date_t date = NC_BODY(nc_msg(MOME_MSG_DIFF, 3), mome_rel_t)->date;
    ck_assert_int_eq(mome_coh.outstanding, out + 1);
    notice_ack(s, 0, 2);
    ck_assert_uint_eq(rel, 0);
    ck_assert_int_eq(mome_rel_busy(), 1);
    notice_ack(s, 2, 3);
    ck_assert_uint_eq(rel, date); /* the callers learn the release's date */
    ck_assert_int_eq(mome_rel_busy(), 0);
    ck_assert_int_eq(mome_coh.outstanding, out);
    ck_assert_uint_eq(mome_pext_find(mome_seg_pg(s, 0), 1, 0)->relpend, 0);
}
END_TEST

/* This node owns page 1 and node 2 reads it under RELEASE; the owner then writes it. */
static mome_seg_t *shared_owner(void)
{
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    mome_fwd_t f = {.seg = 1, .page = 1, .node = 2, .model = MOME_RELEASE};
    nc_deliver(MOME_MSG_FWD_SNAP, 0, MGR, &f, NULL, 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 1);
    msgtest_reset();
    nc_fault(s, 1, 1); /* tracked now: the first write is noticed */
    ck_assert_int_eq(msgtest_count(), 0);
    mome_seg_bytes(s, 1)[17] ^= 0x21;
    return s;
}

/* Node `from` acknowledges the push of page 1 of segment 1 (keep: it used its copy). */
static void push_ack(int from, uint64_t keep)
{
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_notice(&b, 1, 1, keep), 0);
    nc_deliver(MOME_MSG_PUSH_ACK, 0, from, &(mome_rel_t){0}, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

START_TEST(test_owner__release_of_a_shared_owned_page_notices_and_pushes)
{
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = shared_owner();
    int mgr = mome_seg_manager(s, 1);
    mome_rel_release(done_cb, &rel);
    mome_entry_t e[2];
    const mome_msg_t *n = nc_msg(MOME_MSG_NOTICE, mgr);
    ck_assert_uint_eq(NC_BODY(n, mome_rel_t)->origin, SELF);
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, n, e, 2), 1);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_uint_eq(e[0].ver, 2);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 2);
    const mome_msg_t *p = nc_msg(MOME_MSG_PUSH, 2);
    ck_assert_int_eq(nc_entries(MOME_BATCH_PUSH, p, e, 2), 1);
    ck_assert_uint_eq(e[0].ver, 2);
    ck_assert_uint_eq(e[0].len, NC_PAGE);
    ck_assert_int_eq(memcmp(e[0].data, mome_seg_bytes(s, 1), NC_PAGE), 0);
    ck_assert_int_eq(msgtest_count(), 2);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, -1), 0);
    /* Complete once the manager (every notified holder knows) and the reader have acked. */
    notice_ack(s, 1, 2);
    ck_assert_uint_eq(rel, 0);
    push_ack(2, 1);
    ck_assert_uint_ne(rel, 0);
    ck_assert_uint_eq(mome_pext_find(mome_seg_pg(s, 1), 1, 1)->push,
                      1u << 2); /* still read there */
}
END_TEST

static void push_ack_from(void *arg)
{
    mome_batch_t b = {0};
    if (mome_batch_notice(&b, 1, 1, 1) == 0)
        msgtest_deliver(MOME_MSG_PUSH_ACK, 0, *(int *)arg, &(mome_rel_t){0}, b.buf,
                        (uint32_t)b.len);
}

/* A PUSH_ACK for more pages than this node pushed its sender (twice, or from a node it pushed
 * nothing) stops the node: counted, it ended a release before its readers had the pushes
 * (helper-115). */
START_TEST(test_owner__a_push_ack_not_awaited_stops_the_node)
{
    mome_date_t rel = 0;
    int reader = 2, other = 3;
    nc_up(NODES, SELF);
    mome_seg_t *s = shared_owner();
    mome_rel_release(done_cb, &rel);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_PUSH, 2));
    nc_expect_death(push_ack_from, &other, "node 3 acknowledged 1 pushed pages, 0 of which");
    notice_ack(s, 1, 2);
    push_ack(2, 1);
    ck_assert_uint_ne(rel, 0);
    nc_expect_death(push_ack_from, &reader, "node 2 acknowledged 1 pushed pages, 0 of which");
}
END_TEST

/* Node 2 acknowledges n pushes of page 1 of segment 1 as a barrier's (token) (raw: in a child, or
 * the honest one in the test). */
static void barrier_push_ack(void *arg)
{
    const uint64_t *a = arg; /* token, entries */
    mome_batch_t b = {0};
    for (uint64_t i = 0; i < a[1]; i++)
        mome_batch_notice(&b, 1, 1, 1);
    msgtest_deliver(MOME_MSG_PUSH_ACK, 0, 2, &(mome_rel_t){.token = a[0]}, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

/*
 * A PUSH_ACK naming a barrier (its token) answers that barrier's pushes, which nobody awaits: it
 * must name a barrier whose pushes this node sent its sender, and no more of them. The ack of an
 * ordinary push sent as a barrier's was not counted, and the release (MomeUnlock, MomeRelease,
 * MomeBarrier) waited for it for ever.
 */
START_TEST(test_owner__a_push_ack_for_a_barrier_not_pushed_stops_the_node)
{
    mome_date_t rel = 0;
    uint64_t none[2] = {5, 1}, two[2] = {1, 2}, one[2] = {1, 1};
    nc_up(NODES, SELF);
    mome_seg_t *s = shared_owner();
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_PUSH, 2), mome_rel_t)->token, 0);
    nc_expect_death(barrier_push_ack, none,
                    "node 2 acknowledged 1 pages pushed at barrier 4 (token 5), of which this node "
                    "pushed it 0");
    notice_ack(s, 1, 2);
    push_ack(2, 1);
    ck_assert_uint_ne(rel, 0);
    /* A barrier's release (tag 1): its push is counted by the reader, and acknowledged once. */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[18] ^= 0x21;
    msgtest_reset();
    rel = 0;
    mome_rel_release_barrier(1, done_cb, &rel);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_PUSH, 2), mome_rel_t)->token, 1);
    nc_expect_death(barrier_push_ack, two,
                    "node 2 acknowledged 2 pages pushed at barrier 0 (token 1), of which this node "
                    "pushed it 1");
    barrier_push_ack(one);
    nc_expect_death(barrier_push_ack, one,
                    "node 2 acknowledged 1 pages pushed at barrier 0 (token 1), of which this node "
                    "pushed it 0");
}
END_TEST

/* A NOTICE_ACK from the manager for page *arg of segment 1 (raw: in a child). */
static void notice_ack_page(void *arg)
{
    mome_batch_t b = {0};
    mome_batch_notice(&b, 1, *(uint64_t *)arg, 2);
    msgtest_deliver(MOME_MSG_NOTICE_ACK, 0, MGR, NULL, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

/*
 * Every acknowledgement names a page whose release this node awaits. Only counted, one for another
 * page ended the release before the holders of the page released knew of it, and that page kept a
 * release in flight for ever (its requests and flushes held behind it). (A segment freed here
 * forgot what its pages awaited: their acknowledgements are counted only,
 * test_release__an_acknowledgement_not_awaited_stops_the_node.)
 */
START_TEST(test_owner__a_notice_ack_for_a_page_not_released_stops_the_node)
{
    static uint8_t twin[NC_PAGE];
    uint64_t two = 2, nine = 9;
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    write_twinned(s, 1, 3, twin);
    mome_rel_release(done_cb, &rel);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_expect_death(notice_ack_page, &two,
                    "node 0 acknowledged the release of page 2 of segment 'test1' (0x1), of "
                    "which this node awaits no acknowledgement (none in flight)");
    nc_expect_death(notice_ack_page, &nine,
                    "page 9 of segment 'test1' (0x1), of which this node "
                    "awaits no acknowledgement (no such page)");
    nc_ack_page(MGR, 1, 1);
    ck_assert_uint_ne(rel, 0);
}
END_TEST

START_TEST(test_owner__push_ack_of_an_unused_copy_stops_the_pushes)
{
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = shared_owner();
    mome_rel_release(done_cb, &rel);
    notice_ack(s, 1, 2);
    push_ack(2, 0);
    ck_assert_uint_ne(rel, 0);
    /* The next release only notices. */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[18] ^= 0x21;
    msgtest_reset();
    rel = 0;
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_PUSH, -1), 0);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_NOTICE, -1), 1);
    notice_ack(s, 1, 2);
    ck_assert_uint_ne(rel, 0);
}
END_TEST

/* This node owns pages 1 and 2 (master m[p], version 3, manager 0). */
static mome_seg_t *owner_of_two(uint8_t m[3][NC_PAGE])
{
    mome_seg_t *s = testnode_segment(1, 4);
    for (uint64_t p = 1; p < 3; p++) {
        nc_pattern(m[p], (unsigned)p + 20);
        nc_fault(s, p, 1);
        nc_data(s, p, 2, MGR, MOME_RIGHT_RW | MOME_RIGHT_OWNER | MOME_RIGHT_SHARED, 0, 3, m[p]);
        ck_assert_int_eq(mome_seg_pg(s, p)->access, MOME_ACC_WRITE);
    }
    msgtest_reset();
    return s;
}

/* A diff entry turning `from` into `to`, appended to b. */
static void add_diff(mome_batch_t *b, uint64_t page, const uint8_t *from, const uint8_t *to)
{
    uint8_t enc[NC_PAGE];
    int full;
    size_t n = mome_diff_encode(to, from, NC_PAGE, enc, &full);
    ck_assert_uint_gt(n, 0);
    ck_assert_int_eq(mome_batch_diff(b, 1, page, enc, (uint32_t)n, full ? MOME_DIFF_ENTRY_FULL : 0),
                     0);
}

START_TEST(test_owner__page_opened_ahead_but_not_written_is_not_announced)
{
    static uint8_t m[3][NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = owner_of_two(m);
    /* Both written and released once: both are expected to be written again. */
    mome_seg_bytes(s, 1)[1] ^= 1;
    mome_seg_bytes(s, 2)[1] ^= 1;
    mome_rel_release(done_cb, &rel);
    mome_entry_t e[3];
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_NOTICE, MGR), e, 3), 2);
    notice_ack(s, 1, 3);
    ck_assert_uint_ne(rel, 0);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 4);
    /* A write fault on page 1 opens page 2 ahead; only page 1 is written. */
    mome_coh.prefetch = 1;
    uint64_t twins = mome_stats.twins;
    nc_fault(s, 1, 1);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    ck_assert_uint_eq(mome_stats.twins, twins); /* the owner keeps a copy, not a twin */
    mome_seg_bytes(s, 1)[2] ^= 1;
    msgtest_reset();
    rel = 0;
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_NOTICE, MGR), e, 3), 1);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_uint_eq(e[0].ver, 5);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 4);
    /* Unchanged, but changed at the release before: kept open (copy.h mome_copy_keeps_open). */
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_WROTE, 0);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_KEPT, 0);
    notice_ack(s, 1, 2);
    ck_assert_uint_ne(rel, 0);
}
END_TEST

/* One release of this node, whose notices (if any) the manager acknowledges; returns how many
 * notices it sent, and the version of the last one in *ver. */
static int release_acked(mome_seg_t *s, uint64_t *ver)
{
    mome_date_t rel = 0;
    mome_entry_t e[4];
    msgtest_reset();
    mome_rel_release(done_cb, &rel);
    const mome_msg_t *m = msgtest_find(MOME_MSG_NOTICE, MGR);
    int n = m ? nc_entries(MOME_BATCH_NOTICE, m, e, 4) : 0;
    for (int i = 0; i < n; i++) {
        *ver = e[i].ver;
        notice_ack(s, e[i].page, e[i].page + 1);
    }
    ck_assert_uint_ne(rel, 0);
    return n;
}

/* This node owns pages 1 and 2 (owner_of_two), both released once, then page 1 written and
 * released again: kept open at that release, as version 5. */
static mome_seg_t *owner_keeping_page_1(uint8_t m[3][NC_PAGE])
{
    uint64_t ver = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = owner_of_two(m);
    mome_coh.prefetch = 0;
    mome_seg_bytes(s, 1)[1] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 2); /* pages 1 and 2, written by their faults */
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    /* Written again (a write fault): changed at the release before, so kept open at this one. */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[2] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 1);
    ck_assert_uint_eq(ver, 5);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & (MOME_PG_DIRTY | MOME_PG_KEPT),
                     MOME_PG_DIRTY | MOME_PG_KEPT);
    return s;
}

/*
 * A page the owner writes at every release stays writable through its releases (no write-protect,
 * no write fault after them): each release compares it with what the one before published, and
 * announces it only if it changed. Unchanged at MOME_KEEP_IDLE_MAX releases in a row, it is
 * write-protected again, and its next write faults as before; the release after that write keeps
 * it open at once, and the next close waits for twice as many unchanged releases.
 */
START_TEST(test_owner__page_written_at_every_release_stays_open)
{
    static uint8_t m[3][NC_PAGE];
    uint64_t ver = 0;
    mome_seg_t *s = owner_keeping_page_1(m);
    /* Written without a fault: the next release sees the change. */
    mome_seg_bytes(s, 1)[3] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 1);
    ck_assert_uint_eq(ver, 6);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    /* Unchanged since (not written, or rewritten with the bytes it holds): nothing to announce,
     * still open for a while. */
    for (int i = 1; i < MOME_KEEP_IDLE_MAX; i++) {
        ck_assert_int_eq(release_acked(s, &ver), 0);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    }
    ck_assert_int_eq(release_acked(s, &ver), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & (MOME_PG_DIRTY | MOME_PG_KEPT), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 6);
    /* Tracked by its faults again: a write opens it, the release announces it, and keeps it
     * open at once (without being written in the interval before, as at first). */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[4] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 1);
    ck_assert_uint_eq(ver, 7);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_KEPT, 0);
    /* Closed once already: it now stays open for twice as many unchanged releases. */
    for (int i = 1; i < 2 * MOME_KEEP_IDLE_MAX; i++) {
        ck_assert_int_eq(release_acked(s, &ver), 0);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    }
    ck_assert_int_eq(release_acked(s, &ver), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 7);
    /* Written once more, then no more: released once, closed again after its unchanged releases. */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[5] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 1);
    ck_assert_uint_eq(ver, 8);
    for (int i = 0; i < 4 * MOME_KEEP_IDLE_MAX; i++)
        ck_assert_int_eq(release_acked(s, &ver), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & (MOME_PG_DIRTY | MOME_PG_KEPT), 0);
}
END_TEST

/*
 * A copy served while a kept page held other bytes than its last release published carries that
 * release's version: the next release announces the page even if it holds those bytes again by
 * then (tests/integration/served_open.c). A copy served with the published bytes changes nothing.
 */
START_TEST(test_owner__kept_page_served_with_other_bytes_is_announced)
{
    static uint8_t m[3][NC_PAGE];
    uint64_t ver = 0;
    mome_seg_t *s = owner_keeping_page_1(m);
    /* A WEAK reader (no pushes) served with a temporary value, then the released bytes back. */
    mome_fwd_t f = {.seg = s->id, .page = 1, .node = 3, .model = MOME_WEAK};
    mome_seg_bytes(s, 1)[3] ^= 1;
    msgtest_reset();
    nc_deliver(MOME_MSG_FWD_SNAP, 0, MGR, &f, NULL, 0);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_DATA, 3), mome_data_t)->ver, 5);
    mome_seg_bytes(s, 1)[3] ^= 1;
    ck_assert_int_eq(release_acked(s, &ver), 1);
    ck_assert_uint_eq(ver, 6);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    /* Served with what version 6 holds: nothing to announce. */
    msgtest_reset();
    nc_deliver(MOME_MSG_FWD_SNAP, 0, MGR, &f, NULL, 0);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_DATA, 3), mome_data_t)->ver, 6);
    ck_assert_int_eq(release_acked(s, &ver), 0);
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_KEPT, 0);
}
END_TEST

START_TEST(test_owner__diff_is_merged_and_announced)
{
    static uint8_t m[3][NC_PAGE], w[3][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = owner_of_two(m);
    mome_batch_t b = {0};
    for (uint64_t p = 1; p < 3; p++) {
        memcpy(w[p], m[p], NC_PAGE);
        memset(w[p] + 200 * p, 0x33, 64); /* node 2's writes */
        add_diff(&b, p, m[p], w[p]);
    }
    mome_seg_bytes(s, 1)[0] ^= 0x80; /* this node's own write, elsewhere in the page */
    w[1][0] ^= 0x80;
    mome_rel_t r = {.date = 50, .origin = 2};
    nc_deliver(MOME_MSG_DIFF, 0, 2, &r, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    for (uint64_t p = 1; p < 3; p++) {
        ck_assert_int_eq(memcmp(mome_seg_bytes(s, p), w[p], NC_PAGE), 0); /* both kept */
        ck_assert_uint_eq(mome_seg_pg(s, p)->ver, 4);
    }
    /* One notice for both pages, to their manager, in the writer's name and at its date. */
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_msg_t *n = nc_msg(MOME_MSG_NOTICE, MGR);
    ck_assert_uint_eq(NC_BODY(n, mome_rel_t)->date, 50);
    ck_assert_uint_eq(NC_BODY(n, mome_rel_t)->origin, 2);
    mome_entry_t e[3];
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, n, e, 3), 2);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_uint_eq(e[0].ver, 4);
    ck_assert_uint_eq(e[1].page, 2);
    ck_assert_uint_eq(e[1].ver, 4);
}
END_TEST

/*
 * Page 1 is WEAK here: another node's diff goes into its master kept apart, and the view this
 * node's program reads stays as it was until it asks; this node's own write then reaches the
 * master at its release, as a diff against a twin. Page 2 (STRONG here) is merged in place.
 */
START_TEST(test_owner__diff_for_a_weak_owner_leaves_its_view_until_it_asks)
{
    static uint8_t m[3][NC_PAGE], w[3][NC_PAGE], view[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = owner_of_two(m);
    mome_seg_pg(s, 1)->model = MOME_WEAK;
    mome_batch_t b = {0};
    for (uint64_t p = 1; p < 3; p++) {
        memcpy(w[p], m[p], NC_PAGE);
        memset(w[p] + 200 * p, 0x33, 64); /* node 2's writes */
        add_diff(&b, p, m[p], w[p]);
    }
    mome_rel_t r = {.date = 50, .origin = 2};
    nc_deliver(MOME_MSG_DIFF, 0, 2, &r, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), m[1], NC_PAGE), 0); /* not seen */
    ck_assert_int_eq(memcmp(mome_copy_apart(s, 1), w[1], NC_PAGE), 0);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), w[2], NC_PAGE), 0);
    ck_assert_ptr_null(mome_copy_apart(s, 2));
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 4);
    mome_entry_t e[3];
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_NOTICE, MGR), e, 3), 2);
    msgtest_reset();

    /* This node writes the page: its write goes into the master at the release. */
    nc_fault(s, 1, 1);
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_DIRTY, 0);
    mome_seg_bytes(s, 1)[5] ^= 0x80;
    w[1][5] ^= 0x80;
    memcpy(view, m[1], NC_PAGE);
    view[5] ^= 0x80;
    mome_rel_release(done_cb, &rel);
    /* (Page 2, opened by the fault that brought it, is released too.) */
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_NOTICE, MGR), e, 3), 2);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_uint_eq(e[0].ver, 5);
    notice_ack(s, 1, 3);
    ck_assert_uint_ne(rel, 0);
    ck_assert_int_eq(memcmp(mome_copy_apart(s, 1), w[1], NC_PAGE), 0);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), view, NC_PAGE), 0);

    /* MomeSyncMem's part: the view takes the master's content, one page again. */
    mome_copy_join(s, 1);
    ck_assert_ptr_null(mome_copy_apart(s, 1));
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), w[1], NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 5);
}
END_TEST

START_TEST(test_owner__flush_diff_is_merged_and_acked_to_the_manager_and_the_writer)
{
    static uint8_t m[3][NC_PAGE], w[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = owner_of_two(m);
    mome_batch_t b = {0};
    memcpy(w, m[2], NC_PAGE);
    w[4000] ^= 1;
    add_diff(&b, 2, m[2], w);
    mome_rel_t r = {.date = 60, .origin = 2, .mgr = 3};
    nc_deliver(MOME_MSG_DIFF, MOME_DIFF_FLUSH, 2, &r, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), w, NC_PAGE), 0);
    const mome_msg_t *a = nc_msg(MOME_MSG_FLUSH_ACK, 3);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->page, 2);
    /* The writer waits for its flushed change like for a released one: announced through the
     * manager running the flush (its origin the writer, acknowledged to it from there), which
     * tells the copies the flush drops, still mapped until their FLUSH arrives (helper-113). */
    mome_entry_t e[2];
    const mome_msg_t *n = nc_msg(MOME_MSG_NOTICE, 3);
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, n, e, 2), 1);
    ck_assert_uint_eq(NC_BODY(n, mome_rel_t)->origin, 2);
    ck_assert_uint_eq(e[0].page, 2);
    ck_assert_uint_eq(e[0].ver, mome_seg_pg(s, 2)->ver); /* the master's, with the change */
    ck_assert_int_eq(msgtest_count(), 2);                /* no NOTICE_ACK from here */
}
END_TEST

static void diff_unheld(void *arg)
{
    uint8_t enc[64] = {0};
    mome_batch_t b = {0};
    mome_rel_t r = {.date = 5, .origin = 2};
    (void)arg;
    testnode_segment(1, 4);
    enc[0] = 0; /* run at offset 0, length 8: bytes 0..7 change */
    enc[4] = 8;
    enc[8] = 0xff;
    mome_batch_diff(&b, 1, 3, enc, 16, 0);
    msgtest_deliver(MOME_MSG_DIFF, 0, 2, &r, b.buf, (uint32_t)b.len);
}

START_TEST(test_owner__diff_for_a_page_not_held_stops_the_node)
{
    nc_up(NODES, SELF);
    nc_expect_death(diff_unheld, NULL,
                    "page 3 of segment 'test1' (0x1) cannot be merged (this node holds no copy "
                    "of the master): the change would be lost");
}
END_TEST

START_TEST(test_owner__flush_waits_for_releases_in_flight)
{
    uint8_t twin[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    write_twinned(s, 1, 3, twin);
    mome_rel_release(done_cb, &rel);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    /* Written again while the release is in flight. */
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[999] ^= 0x10;
    mome_ref_t f = {.seg = 1, .page = 1};
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &f, NULL, 0);
    /* No diff may reach the owner after the flush: nothing until the release is acknowledged. */
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    notice_ack(s, 1, 2);
    const mome_msg_t *d = nc_msg(MOME_MSG_DIFF, 3);
    ck_assert_int_eq(d->flags, MOME_DIFF_FLUSH);
    ck_assert_uint_eq(NC_BODY(d, mome_rel_t)->mgr, MGR);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_FLUSH_ACK, -1), 0); /* the owner acks it */
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    /* The release, still running when the flush sent its diff, ends once the owner has it. */
    ck_assert_uint_eq(rel, 0);
    notice_ack(s, 1, 2);
    ck_assert_uint_ne(rel, 0);
}
END_TEST

/*
 * A barrier's release must not end before the owner has merged a diff that a flush sent: the
 * model (tests/model) found the barrier ending with the master short of a write.
 */
START_TEST(test_owner__release_waits_for_a_flushed_diff)
{
    uint8_t twin[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    write_twinned(s, 1, 3, twin);
    mome_ref_t f = {.seg = 1, .page = 1};
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &f, NULL, 0);
    ck_assert_int_eq(nc_msg(MOME_MSG_DIFF, 3)->flags, MOME_DIFF_FLUSH);
    msgtest_reset();
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_eq(rel, 0);
    notice_ack(s, 1, 2); /* the owner merged it */
    ck_assert_uint_ne(rel, 0);
    /* Acknowledged between releases: the next release does not wait for it. */
    write_twinned(s, 2, 3, twin);
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &(mome_ref_t){.seg = 1, .page = 2}, NULL, 0);
    notice_ack(s, 2, 3);
    rel = 0;
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_ne(rel, 0);
}
END_TEST

START_TEST(test_owner__large_release_splits_into_batches)
{
    enum { N = 2100 };
    uint8_t *twin = malloc((size_t)N * NC_PAGE);
    int *seen = calloc(N, sizeof(int));
    mome_date_t rel = 0;
    ck_assert_ptr_nonnull(twin);
    ck_assert_ptr_nonnull(seen);
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, N);
    for (uint64_t p = 0; p < N; p++) {
        uint8_t *t = twin + p * NC_PAGE;
        nc_pattern(t, (unsigned)p);
        nc_hold_data(s, p, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, t, 1);
        uint8_t *b = mome_seg_bytes(s, p);
        for (int i = 0; i < NC_PAGE; i++)
            b[i] ^= 0xff; /* every byte changes: whole-page diffs */
    }
    mome_rel_release(done_cb, &rel);
    size_t per = MOME_BATCH_MAX / mome_batch_entry_size(MOME_BATCH_DIFF, NC_PAGE);
    int msgs = msgtest_count_of(MOME_MSG_DIFF, 3);
    ck_assert_int_eq(msgs, (int)((N + per - 1) / per));
    ck_assert_int_ge(msgs, 2);
    ck_assert_int_eq(msgtest_count(), msgs);
    int total = 0;
    mome_date_t date = NC_BODY(&msgtest_at(0)->m, mome_rel_t)->date;
    for (int i = 0; i < msgtest_count(); i++) {
        const mome_msg_t *m = &msgtest_at(i)->m;
        mome_entry_t e;
        ck_assert_uint_le(m->len, MOME_BATCH_MAX);
        ck_assert_uint_eq(NC_BODY(m, mome_rel_t)->date, date);
        MOME_BATCH_FOREACH(MOME_BATCH_DIFF, m, e)
        {
            ck_assert_uint_eq(e.seg, 1);
            ck_assert_uint_lt(e.page, N);
            seen[e.page]++;
            total++;
            ck_assert(diff_gives(&e, twin + e.page * NC_PAGE, mome_seg_bytes(s, e.page)));
        }
    }
    ck_assert_int_eq(total, N);
    for (int p = 0; p < N; p++)
        ck_assert_msg(seen[p] == 1, "page %d sent %d times", p, seen[p]);
    notice_ack(s, 0, N);
    ck_assert_uint_eq(rel, date);
    free(twin);
    free(seen);
}
END_TEST

Suite *owner_suite(void)
{
    Suite *s = suite_create("owner");
    NC_CASE(s, test_owner__release_sends_one_diff_batch_per_owner);
    NC_CASE(s, test_owner__release_write_protects_each_run_at_once);
    NC_CASE(s, test_owner__notice_acks_complete_the_release);
    NC_CASE(s, test_owner__release_of_a_shared_owned_page_notices_and_pushes);
    NC_CASE(s, test_owner__a_push_ack_for_a_barrier_not_pushed_stops_the_node);
    NC_CASE(s, test_owner__a_notice_ack_for_a_page_not_released_stops_the_node);
    NC_CASE(s, test_owner__push_ack_of_an_unused_copy_stops_the_pushes);
    NC_CASE(s, test_owner__page_opened_ahead_but_not_written_is_not_announced);
    NC_CASE(s, test_owner__page_written_at_every_release_stays_open);
    NC_CASE(s, test_owner__kept_page_served_with_other_bytes_is_announced);
    NC_CASE(s, test_owner__diff_is_merged_and_announced);
    NC_CASE(s, test_owner__diff_for_a_weak_owner_leaves_its_view_until_it_asks);
    NC_CASE(s, test_owner__flush_diff_is_merged_and_acked_to_the_manager_and_the_writer);
    NC_CASE(s, test_owner__diff_for_a_page_not_held_stops_the_node);
    NC_CASE(s, test_owner__flush_waits_for_releases_in_flight);
    NC_CASE(s, test_owner__release_waits_for_a_flushed_diff);
    NC_CASE(s, test_owner__large_release_splits_into_batches);
    NC_CASE(s, test_owner__a_push_ack_not_awaited_stops_the_node);
    return s;
}
