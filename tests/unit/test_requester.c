/*
 * test_requester.c - the requesting side as a state machine: faults injected through the fault
 * handler, requests recorded by the send hook, grants, data and acks delivered as the manager and
 * the holders would send them, and the page state and fake memory checked after each step.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/stats.h"
#include "coherence/coherence.h"
#include "coherence/page.h"
#include "coherence/release.h"
#include "coherence/requester.h"
#include "mome.h"
#include "nodecase.h"

#define SELF 1
#define NODES 4

static const mome_req_t *req_body(const msgtest_sent_t *m)
{
    return (const mome_req_t *)mome_msg_body(&m->m);
}

static void done_cb(void *arg, mome_date_t d)
{
    *(mome_date_t *)arg = d ? d : 1;
}

START_TEST(test_requester__read_fault_asks_the_manager)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 3);
    mome_seg_pg(s, 3)->model = MOME_RELEASE;
    nc_fault(s, 3, 0);
    ck_assert_int_eq(msgtest_count(), 1);
    const msgtest_sent_t *r = msgtest_at(0);
    ck_assert_int_eq(r->to, mgr);
    ck_assert_int_eq(r->m.type, MOME_MSG_READ_REQ);
    ck_assert_int_eq(r->m.flags, 0); /* no copy, a fault (not a read-ahead) */
    ck_assert_uint_eq(req_body(r)->seg, 1);
    ck_assert_uint_eq(req_body(r)->page, 3);
    ck_assert_uint_eq(req_body(r)->node, SELF);
    ck_assert_uint_eq(req_body(r)->model, MOME_RELEASE);
    ck_assert_int_ne(mome_seg_pg(s, 3)->flags & MOME_PG_BUSY, 0);
    ck_assert_ptr_nonnull(mome_txn_find(1, 3));
    ck_assert_int_eq(mome_coh.outstanding, 1);
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_NONE);
    /* A write fault without a copy: WRITE_REQ, STRONG by default. */
    nc_fault(s, 5, 1);
    r = msgtest_at(1);
    ck_assert_int_eq(r->m.type, MOME_MSG_WRITE_REQ);
    ck_assert_int_eq(r->m.flags, 0);
    ck_assert_uint_eq(req_body(r)->model, MOME_STRONG);
    ck_assert_int_eq(mome_coh.outstanding, 2);
}
END_TEST

START_TEST(test_requester__zero_grant_completes_the_fault)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int m2 = mome_seg_manager(s, 2), m5 = mome_seg_manager(s, 5);
    /* What the region held before: the grant must replace it with zeros. */
    memset(mome_seg_bytes(s, 2), 0xaa, NC_PAGE);
    memset(mome_seg_bytes(s, 5), 0xaa, NC_PAGE);
    nc_fault(s, 2, 0);
    nc_fault(s, 5, 1);

    nc_grant(s, 2, MOME_GRANT_ZERO, 0, 0, m2, 0);
    mome_page_t *pg = mome_seg_pg(s, 2);
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    ck_assert_int_eq(pg->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(mome_store_has(s->store, 2), 1);
    for (int i = 0; i < NC_PAGE; i++)
        ck_assert_uint_eq(mome_seg_bytes(s, 2)[i], 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RO);
    const mome_msg_t *d = nc_msg(MOME_MSG_DONE, m2);
    ck_assert_uint_eq(NC_BODY(d, mome_ref_t)->seg, 1);
    ck_assert_uint_eq(NC_BODY(d, mome_ref_t)->page, 2);
    ck_assert_uint_eq(NC_BODY(d, mome_ref_t)->node, SELF);
    ck_assert_int_eq(msgtest_count(), 1);

    nc_grant(s, 5, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, m5, 0);
    ck_assert_int_eq(mome_seg_pg(s, 5)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 5)), FAKE_MAPPED_RW);
    ck_assert_uint_eq(mome_seg_bytes(s, 5)[100], 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, m5));
    ck_assert_int_eq(mome_coh.outstanding, 0);
    ck_assert_int_eq(mome_txn_count(), 0);
}
END_TEST

START_TEST(test_requester__done_goes_to_the_granting_manager)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int dflt = mome_seg_manager(s, 4), moved = (dflt + 1) % NODES;
    nc_fault(s, 4, 0);
    /* The entry migrated: another manager answers, and is the one to tell and ask next. */
    nc_grant(s, 4, MOME_GRANT_ZERO, 0, 0, moved, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, moved));
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DONE, dflt), 0);
    msgtest_reset();
    nc_fault(s, 4, 1);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(msgtest_at(0)->to, moved);
}
END_TEST

START_TEST(test_requester__write_fault_on_a_read_copy_upgrades)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 6);
    nc_pattern(a, 1);
    nc_hold_data(s, 6, 0, 0, 3, a, 4);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 6)), FAKE_MAPPED_RO);
    nc_fault(s, 6, 1);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(msgtest_at(0)->to, mgr);
    ck_assert_int_eq(msgtest_at(0)->m.type, MOME_MSG_WRITE_REQ);
    ck_assert_int_eq(msgtest_at(0)->m.flags, MOME_REQ_COPY);
    /* The grant needs no content: this node keeps its own. */
    nc_grant(s, 6, 0, MOME_RIGHT_RW, 0, mgr, 0);
    ck_assert_int_eq(mome_seg_pg(s, 6)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 6), a, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 6)->ver, 4);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 6)), FAKE_MAPPED_RW);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
}
END_TEST

START_TEST(test_requester__faults_on_a_busy_page_join_its_transaction)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    mome_view_t *v2 = nc_view(s);
    char *a1 = testnode_addr(s, 2), *a2 = mome_seg_view_addr(v2, 2);
    int mgr = mome_seg_manager(s, 2);
    nc_fault_at(a1, 0);
    nc_fault_at(a2, 0); /* another thread, through another view */
    nc_fault_at(a1, 0); /* and a third */
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(mome_coh.outstanding, 1);
    /* One grant serves them all: the page is mapped in both views. */
    nc_grant(s, 2, MOME_GRANT_ZERO, 0, 0, mgr, 0);
    ck_assert_int_eq(fake_memory_state(a1), FAKE_MAPPED_RO);
    ck_assert_int_eq(fake_memory_state(a2), FAKE_MAPPED_RO);
    ck_assert_int_eq(msgtest_count(), 1); /* the DONE */
    ck_assert_int_eq(mome_txn_count(), 0);
    ck_assert_int_eq(mome_coh.outstanding, 0);
}
END_TEST

START_TEST(test_requester__write_waiter_of_a_read_transaction_asks_again)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 3);
    nc_fault(s, 3, 0);
    nc_fault(s, 3, 1); /* joins the read */
    ck_assert_int_eq(msgtest_count(), 1);
    nc_grant(s, 3, MOME_GRANT_ZERO, 0, 0, mgr, 0);
    /* The reader is served; the writer needs more: an upgrade, with the copy just received. */
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_READ);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 3)), FAKE_MAPPED_RO);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
    const mome_msg_t *w = nc_msg(MOME_MSG_WRITE_REQ, mgr);
    ck_assert_int_eq(w->flags, MOME_REQ_COPY);
    ck_assert_int_ne(mome_seg_pg(s, 3)->flags & MOME_PG_BUSY, 0);
    nc_grant(s, 3, 0, MOME_RIGHT_RW, 0, mgr, 0);
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 3)), FAKE_MAPPED_RW);
    ck_assert_int_eq(mome_coh.outstanding, 0);
}
END_TEST

START_TEST(test_requester__inv_acks_are_counted_before_completion)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 1);
    mome_ref_t ack = {.seg = 1, .page = 1};
    nc_fault(s, 1, 1);
    nc_grant(s, 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, 2, mgr, 0);
    ck_assert_int_eq(msgtest_count(), 0); /* no DONE while copies may still be read elsewhere */
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    nc_deliver(MOME_MSG_INV_ACK, 0, 0, &ack, NULL, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
    nc_deliver(MOME_MSG_INV_ACK, 0, 2, &ack, NULL, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
}
END_TEST

START_TEST(test_requester__inv_acks_before_the_grant_count)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 1);
    mome_ref_t ack = {.seg = 1, .page = 1};
    nc_fault(s, 1, 1);
    /* The invalidated holder answered faster than the manager. */
    nc_deliver(MOME_MSG_INV_ACK, 0, 3, &ack, NULL, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    nc_grant(s, 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, 1, mgr, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
}
END_TEST

/* After a write fault on page 1 (grant: 2 acks), the INV_ACKs of `arg` (a list of senders ending
 * with -1; before the grant from index 0 to the entry -2, if any). */
static void inv_acks(void *arg)
{
    const int *from = arg;
    mome_seg_t *s = mome_seg_find(1);
    int mgr = mome_seg_manager(s, 1), granted = 0;
    mome_ref_t ack = {.seg = 1, .page = 1};
    mome_grant_t g = {.seg = 1,
                      .page = 1,
                      .mgr = (uint32_t)mgr,
                      .owner = SELF,
                      .rights = MOME_RIGHT_RW,
                      .acks = 2};
    mome_req_fault(testnode_addr(s, 1), 1, 0);
    for (int i = 0; from[i] != -1; i++) {
        if (from[i] == -2) {
            msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
            granted = 1;
            continue;
        }
        msgtest_deliver(MOME_MSG_INV_ACK, 0, from[i], &ack, NULL, 0);
    }
    if (!granted)
        msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
}

/* An invalidation ack twice from one node, from the requester itself, or beyond the grant's count
 * (before the grant, or after the last completed the request) stops the node: counted, it let the
 * write in while a copy elsewhere was still readable (helper-115). */
START_TEST(test_requester__inv_acks_not_awaited_stop_the_node)
{
    static const int twice[] = {-2, 2, 2, -1}, self[] = {-2, SELF, -1}, early[] = {2, 3, 0, -1},
                     beyond[] = {2, -2, 3, 0, -1};
    nc_up(NODES, SELF);
    testnode_segment(1, 8);
    nc_expect_death(inv_acks, (void *)twice,
                    "node 2 acknowledged an invalidation for this node's "
                    "request of page 1 of segment 'test1' (0x1) twice");
    nc_expect_death(inv_acks, (void *)self, "from the requester itself");
    nc_expect_death(inv_acks, (void *)early, "invalidation acks, and 3 came already");
    nc_expect_death(inv_acks, (void *)beyond, "node 0 sent INV_ACK for page 1 of segment");
}
END_TEST

START_TEST(test_requester__data_grant_waits_for_inv_acks)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    mome_ref_t ack = {.seg = 1, .page = 4};
    nc_pattern(a, 9);
    nc_fault(s, 4, 1);
    /* The old owner's copy comes first; one reader still has to drop its copy. */
    nc_data(s, 4, 3, 0, MOME_RIGHT_RW, 1, 2, a);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 4)->access, MOME_ACC_NONE);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 4), a, NC_PAGE), 0);
    nc_deliver(MOME_MSG_INV_ACK, 0, 2, &ack, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, 0));
    ck_assert_int_eq(mome_seg_pg(s, 4)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 4)), FAKE_MAPPED_RW);
}
END_TEST

START_TEST(test_requester__read_ahead_requests_the_following_pages)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 16);
    uint64_t before = mome_stats.pages_prefetched;
    nc_fault(s, 4, 0);
    ck_assert_int_eq(msgtest_count(), 4);
    for (int i = 0; i < 4; i++) {
        const msgtest_sent_t *r = msgtest_at(i);
        ck_assert_int_eq(r->m.type, MOME_MSG_READ_REQ);
        ck_assert_uint_eq(req_body(r)->page, 4 + i);
        ck_assert_int_eq(r->to, mome_seg_manager(s, 4 + i));
        ck_assert_int_eq(r->m.flags, i ? MOME_REQ_AHEAD : 0);
        ck_assert_int_ne(mome_seg_pg(s, 4 + i)->flags & MOME_PG_BUSY, 0);
    }
    ck_assert_uint_eq(mome_stats.pages_prefetched - before, 3);
    ck_assert_int_eq(mome_seg_pg(s, 8)->flags & MOME_PG_BUSY, 0);
    /* Four replies due, one of them awaited by a thread (the engine polls for that one alone). */
    ck_assert_int_eq(mome_coh_outstanding(), 4);
    ck_assert_int_eq(mome_coh_awaited(), 1);
    /* A page read ahead is mapped when it comes, though no thread waits for it; it was not used. */
    nc_grant(s, 6, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 6), 0);
    ck_assert_int_eq(mome_seg_pg(s, 6)->access, MOME_ACC_READ);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 6)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_seg_pg(s, 6)->flags & MOME_PG_USED, 0);
    ck_assert_int_ne(mome_seg_pg(s, 4)->flags & MOME_PG_USED, 0);
    ck_assert_int_eq(mome_coh_outstanding(), 3);
    ck_assert_int_eq(mome_coh_awaited(), 1);
    /* A thread faults on page 5, still on its way: awaited now. */
    nc_fault(s, 5, 0);
    ck_assert_int_eq(mome_coh_awaited(), 2);
    nc_grant(s, 4, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 4), 0);
    nc_grant(s, 5, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 5), 0);
    ck_assert_int_eq(mome_coh_outstanding(), 1);
    ck_assert_int_eq(mome_coh_awaited(), 0);
    nc_grant(s, 7, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 7), 0);
    ck_assert_int_eq(mome_coh_outstanding(), 0);
    ck_assert_int_eq(mome_coh_awaited(), 0);
}
END_TEST

/*
 * A segment freed while its pages asked ahead are on their way (helper-81's review): its requests
 * go with it, and none is left outstanding or awaited (the engine would poll for them for good).
 */
START_TEST(test_requester__requests_of_a_freed_segment_are_not_outstanding)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 16), *other = testnode_segment(2, 16);
    nc_fault(s, 4, 0);
    nc_fault(other, 0, 0);
    ck_assert_int_eq(mome_coh_outstanding(), 8);
    ck_assert_int_eq(mome_coh_seg_requests(s), 4);
    ck_assert_int_eq(mome_coh_seg_requests(other), 4);
    mome_req_forget_seg(s->id);
    mome_txn_forget_seg(s->id);
    ck_assert_int_eq(mome_coh_seg_requests(s), 0);
    ck_assert_int_eq(mome_coh_outstanding(), 4); /* the other segment's stay */
    ck_assert_int_eq(mome_coh_awaited(), 1);
    for (int p = 0; p < 4; p++)
        nc_grant(other, (uint64_t)p, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(other, (uint64_t)p),
                 0);
    ck_assert_int_eq(mome_coh_seg_requests(other), 0);
    ck_assert_int_eq(mome_coh_outstanding(), 0);
    ck_assert_int_eq(mome_coh_awaited(), 0);
}
END_TEST

/* A read fault right after the pages the last one asked ahead asks twice as many plus one, up to
 * 8 windows of prefetch + 1 pages; any other read fault asks prefetch pages again. */
START_TEST(test_requester__read_ahead_grows_along_a_sequential_read)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 100);
    const uint64_t fault[] = {0, 4, 12, 28, 60, 95}, asked[] = {3, 7, 15, 31, 31, 3};
    for (size_t i = 0; i < sizeof(fault) / sizeof(fault[0]); i++) {
        uint64_t before = mome_stats.pages_prefetched;
        nc_fault(s, fault[i], 0);
        ck_assert_uint_eq(mome_stats.pages_prefetched - before, asked[i]);
        for (uint64_t p = fault[i]; p <= fault[i] + asked[i]; p++)
            ck_assert_int_ne(mome_seg_pg(s, p)->flags & MOME_PG_BUSY, 0);
        ck_assert_int_eq(mome_seg_pg(s, fault[i] + asked[i] + 1)->flags & MOME_PG_BUSY, 0);
    }
}
END_TEST

/* Faults a read-ahead asks pages for; each checks how many (the pages are then busy). */
static void ra_expect(mome_seg_t *s, const uint64_t *fault, const uint64_t *asked, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t before = mome_stats.pages_prefetched;
        msgtest_reset();
        nc_fault(s, fault[i], 0);
        ck_assert_msg(mome_stats.pages_prefetched - before == asked[i],
                      "fault %zu on page %llu asked %llu pages ahead, not %llu", i,
                      (unsigned long long)fault[i],
                      (unsigned long long)(mome_stats.pages_prefetched - before),
                      (unsigned long long)asked[i]);
    }
}

/* Two reads in order, interleaved (two threads), each grow their own window. */
START_TEST(test_requester__read_ahead_follows_interleaved_streams)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 2000);
    const uint64_t fault[] = {0, 1000, 4, 1004, 12, 1012, 28, 1028},
                   asked[] = {3, 3, 7, 7, 15, 15, 31, 31};
    ra_expect(s, fault, asked, sizeof(fault) / sizeof(fault[0]));
}
END_TEST

/* Twelve threads reading their own parts in order, in turns: once each has met its stream, every
 * fault continues it and the windows grow (scattered reads are what no stream continues). */
START_TEST(test_requester__read_ahead_follows_twelve_readers_in_turns)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 13000);
    uint64_t next[12], asked = 0;
    for (int i = 0; i < 12; i++)
        next[i] = (uint64_t)i * 1000;
    for (int round = 0; round < 5; round++)
        for (int i = 0; i < 12; i++) {
            uint64_t before = mome_stats.pages_prefetched;
            msgtest_reset();
            nc_fault(s, next[i], 0);
            asked = mome_stats.pages_prefetched - before;
            if (round >= 2)
                ck_assert_msg(asked >= 7, "round %d, reader %d: %llu pages asked ahead", round, i,
                              (unsigned long long)asked);
            next[i] += asked + 1;
        }
    ck_assert_uint_eq(asked, 31);
}
END_TEST

/* Reads scattered over a large segment stop reading ahead after 8 faults near no earlier one
 * with none continuing a read between them; a fault that continues a read, or meets a page on its
 * way ahead, starts it again. */
START_TEST(test_requester__scattered_reads_stop_reading_ahead)
{
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 4000);
    const uint64_t fault[] = {0,    200,  400,  600,  800,  1000, 1200, 1400, 1600, 1800, 1801,
                              1805, 2000, 2200, 2400, 2600, 2800, 3000, 3200, 3400, 3600},
                   asked[] = {3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 3, 7, 3, 3, 3, 3, 3, 3, 3, 3, 0};
    ra_expect(s, fault, asked, sizeof(fault) / sizeof(fault[0]));
    /* Page 3601 was not asked; 1803 was, and is still on its way: a thread meets it. */
    ck_assert_int_eq(mome_seg_pg(s, 3601)->flags & MOME_PG_BUSY, 0);
    ck_assert_int_ne(mome_seg_pg(s, 1803)->flags & MOME_PG_BUSY, 0);
    nc_fault(s, 1803, 0);
    const uint64_t again[] = {3800}, three[] = {3};
    ra_expect(s, again, three, 1);
}
END_TEST

static int op_finished;
static void op_done(mome_op_t *op)
{
    (void)op;
    op_finished++;
}

/* A STRONG write in a run (the page before written here) asks ahead; the manager declines those
 * a node holds (GRANT_NONE): the transaction ends with nothing and no DONE, and a thread that
 * faulted on such a page meanwhile asks for it itself. */
START_TEST(test_requester__strong_write_ahead_declined)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 64);
    nc_pattern(a, 3);
    nc_hold_data(s, 20, 1, MOME_RIGHT_RW, 3, a, 1);
    msgtest_reset();
    nc_fault(s, 21, 1);
    ck_assert_int_eq(msgtest_count(), 4);
    for (int i = 0; i < 4; i++) {
        const msgtest_sent_t *r = msgtest_at(i);
        ck_assert_int_eq(r->m.type, MOME_MSG_WRITE_REQ);
        ck_assert_uint_eq(req_body(r)->page, 21 + i);
        ck_assert_uint_eq(req_body(r)->model, MOME_STRONG);
        ck_assert_int_eq(r->m.flags, i ? MOME_REQ_AHEAD : 0);
    }
    int out = mome_coh_outstanding();
    /* A MomeSyncMem of page 22 (no copy, a request on its way) waits for that request; the
     * decline ends it too. */
    mome_op_t op;
    op_finished = 0;
    mome_op_begin(&op, op_done);
    mome_req_sync(s, 22, &op);
    mome_op_end(&op);
    ck_assert_int_eq(op_finished, 0);
    nc_grant(s, 22, MOME_GRANT_NONE, 0, 0, mome_seg_manager(s, 22), SELF);
    ck_assert_int_eq(op_finished, 1);
    ck_assert_int_eq(msgtest_count(), 0); /* no DONE: the entry never became busy */
    ck_assert_ptr_null(mome_txn_find(1, 22));
    ck_assert_int_eq(mome_seg_pg(s, 22)->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(mome_seg_pg(s, 22)->access, MOME_ACC_NONE);
    ck_assert_int_eq(mome_coh_outstanding(), out - 1);
    /* A thread faults on page 23 while its write-ahead is out; declined, it asks itself. */
    nc_fault(s, 23, 1);
    nc_grant(s, 23, MOME_GRANT_NONE, 0, 0, mome_seg_manager(s, 23), SELF);
    const mome_msg_t *w = nc_msg(MOME_MSG_WRITE_REQ, mome_seg_manager(s, 23));
    ck_assert_int_eq(w->flags, 0);
    ck_assert_int_ne(mome_seg_pg(s, 23)->flags & MOME_PG_BUSY, 0);
    /* A page granted ahead is this node's, writable, with no fault. */
    nc_grant(s, 24, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mome_seg_manager(s, 24), SELF);
    ck_assert_int_eq(mome_seg_pg(s, 24)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 24)), FAKE_MAPPED_RW);
    /* A decline that grants anything, and one of a request that is not a STRONG write asked
     * ahead, are refused (the second stops the job: not tested here). */
    mome_grant_t g = {.seg = 1, .page = 21, .owner = SELF, .mgr = 0, .rights = MOME_RIGHT_RW};
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_NONE, 0, &g, NULL, 0), -EPROTO);
}
END_TEST

/* Once 8 STRONG writes asked ahead in a row were declined, STRONG write faults ask nothing ahead
 * until a write gets a page nobody held: zeros with no copy to invalidate (zeros others read, whose
 * write-ahead is declined too, do not count). */
START_TEST(test_requester__strong_write_ahead_stops_after_declines)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 160);
    nc_pattern(a, 4);
    for (uint64_t base = 20; base <= 120; base += 20) {
        nc_hold_data(s, base, 1, MOME_RIGHT_RW, 3, a, 1);
        uint64_t before = mome_stats.pages_prefetched;
        nc_fault(s, base + 1, 1);
        uint64_t asked = mome_stats.pages_prefetched - before;
        /* 20, 40, 60: asked and declined (9 declines); 80 and 100: nothing; 100's zero grant
         * resets, 80's (zeros another node read, invalidated) does not; 120: asked again. */
        ck_assert_msg(asked == (base == 80 || base == 100 ? 0 : 3), "base %llu: %llu asked",
                      (unsigned long long)base, (unsigned long long)asked);
        for (uint64_t p = base + 2; p < base + 2 + asked; p++)
            nc_grant(s, p, MOME_GRANT_NONE, 0, 0, mome_seg_manager(s, p), SELF);
        int mgr = mome_seg_manager(s, base + 1);
        if (base == 80) {
            mome_ref_t ack = {.seg = 1, .page = base + 1};
            nc_grant(s, base + 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, 1, mgr, SELF);
            nc_deliver(MOME_MSG_INV_ACK, 0, 2, &ack, NULL, 0);
        } else if (base == 100) {
            nc_grant(s, base + 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mgr, SELF);
        } else {
            nc_data(s, base + 1, 3, mgr, MOME_RIGHT_RW, 0, 1, a);
        }
        ck_assert_int_eq(mome_seg_pg(s, base + 1)->access, MOME_ACC_WRITE);
    }
}
END_TEST

/* A page read ahead that no thread waits for goes straight into the first view (one install),
 * and is mapped into the others; one a thread waits for goes into that thread's view. */
START_TEST(test_requester__a_page_read_ahead_is_installed_into_a_view)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_coh.prefetch = 3;
    mome_seg_t *s = testnode_segment(1, 16);
    mome_view_t *v2 = nc_view(s);
    nc_pattern(a, 5);
    nc_fault(s, 4, 0);
    fake_memory_counts_t before = *fake_memory_counts();
    nc_data(s, 6, 3, mome_seg_manager(s, 6), 0, 0, 2, a);
    const fake_memory_counts_t *c = fake_memory_counts();
    ck_assert_uint_eq(c->installs - before.installs, 1);
    ck_assert_uint_eq(c->maps - before.maps, 1); /* the second view only */
    ck_assert_int_eq(mome_seg_pg(s, 6)->access, MOME_ACC_READ);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 6), a, NC_PAGE), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 6)), FAKE_MAPPED_RO);
    ck_assert_int_eq(fake_memory_state(mome_seg_view_addr(v2, 6)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_seg_pg(s, 6)->flags & MOME_PG_USED, 0);
    /* Waited for, through the second view: installed there (the first maps it on a fault). */
    nc_fault_at(mome_seg_view_addr(v2, 5), 0);
    before = *c;
    nc_data(s, 5, 3, mome_seg_manager(s, 5), 0, 0, 2, a);
    ck_assert_uint_eq(c->installs - before.installs, 1);
    ck_assert_uint_eq(c->maps - before.maps, 0);
    ck_assert_int_eq(fake_memory_state(mome_seg_view_addr(v2, 5)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_coh_outstanding(), 2);
}
END_TEST

START_TEST(test_requester__read_ahead_stops_at_held_busy_and_view_end)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 10);
    mome_coh.prefetch = 0;
    nc_hold_zero(s, 6, 0, 0);
    mome_coh.prefetch = 7;
    nc_fault(s, 3, 0); /* 3, then 4 and 5 ahead: 6 is here */
    ck_assert_int_eq(msgtest_count(), 3);
    ck_assert_uint_eq(req_body(msgtest_at(2))->page, 5);
    msgtest_reset();
    nc_fault(s, 0, 0); /* 0, then 1 and 2 ahead: 3 is being fetched */
    ck_assert_int_eq(msgtest_count(), 3);
    ck_assert_uint_eq(req_body(msgtest_at(2))->page, 2);
    msgtest_reset();
    nc_fault(s, 8, 0); /* 8, then 9: the view ends */
    ck_assert_int_eq(msgtest_count(), 2);
    ck_assert_uint_eq(req_body(msgtest_at(1))->page, 9);
}
END_TEST

START_TEST(test_requester__data_with_grant_carries_the_rights)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    uint64_t fetched = mome_stats.pages_fetched;
    nc_pattern(a, 7);
    nc_fault(s, 2, 1);
    /* The old owner (node 3) sends its copy with the grant of manager 0. */
    nc_data(s, 2, 3, 0, MOME_RIGHT_RW | MOME_RIGHT_OWNER, 0, 5, a);
    mome_page_t *pg = mome_seg_pg(s, 2);
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    ck_assert_int_ne(pg->flags & MOME_PG_OWNER, 0);
    ck_assert_int_eq(pg->flags & MOME_PG_TRACK, 0); /* nobody else holds it */
    ck_assert_uint_eq(pg->ver, 5);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), a, NC_PAGE), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RW);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, 0)); /* to the manager, not the sender */
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DONE, 3), 0);
    ck_assert_uint_eq(mome_stats.pages_fetched - fetched, 1);
}
END_TEST

static void answer_without_a_request(void *arg)
{
    static uint8_t a[NC_PAGE];
    mome_seg_t *s = testnode_segment(1, 8);
    mome_ref_t ack = {.seg = 1, .page = 2};
    mome_grant_t g = {.seg = 1, .page = 2, .mgr = 0, .owner = 0, .rights = MOME_RIGHT_RW};
    mome_data_t d = {.seg = 1, .page = 2, .mgr = 0, .rights = MOME_RIGHT_RW, .ver = 1};
    (void)s;
    switch (*(int *)arg) {
    case 0:
        msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, 0, &g, NULL, 0);
        break;
    case 1:
        msgtest_deliver(MOME_MSG_DATA, MOME_DATA_GRANT, 3, &d, a, NC_PAGE);
        break;
    default:
        msgtest_deliver(MOME_MSG_INV_ACK, 0, 3, &ack, NULL, 0);
    }
}

/* An answer (GRANT, DATA, INV_ACK) for a page this node did not ask for stops the node: there is
 * one per request, and a close waits for its node's transactions (helper-115: ignored, a second
 * GRANT or a stray INV_ACK could decide what nobody asked). */
START_TEST(test_requester__answers_without_a_request_stop_the_node)
{
    static const char *const said[] = {"node 0 sent GRANT for page 2",
                                       "node 3 sent DATA for page 2",
                                       "node 3 sent INV_ACK for page 2"};
    nc_up(NODES, SELF);
    for (int i = 0; i < 3; i++)
        nc_expect_death(answer_without_a_request, &i, said[i]);
}
END_TEST

/*
 * Answers to a write fault on page 1 (a request of this node, or one held: arg's case) that no
 * honest node sends, each of which hung the page job-wide or let a write in too early. Those the
 * message table refuses go through its delivery (msgtest_deliver_in_round), which stops the node.
 */
enum {
    BAD_GRANT_ACKS,    /* a GRANT awaiting an ack from every node, the requester included */
    BAD_DATA_ACKS,     /* the same in DATA */
    BAD_DATA_NO_GRANT, /* DATA without its grant: no DONE would ever go */
    BAD_GRANT_MGR,     /* a GRANT naming another manager than its sender: DONE went there */
    BAD_DROP_ACK_NODE, /* a DROP_ACK naming another manager than its sender */
    BAD_GRANT_HELD,    /* a GRANT for a request still held here (not sent) */
    BAD_GRANT_TWICE,   /* a second GRANT while invalidations are pending */
    BAD_DATA_GRANT,    /* DATA, then a GRANT */
    BAD_GRANT_DATA,    /* a GRANT, then DATA */
};

static void bad_answer(void *arg)
{
    static uint8_t a[NC_PAGE];
    mome_seg_t *s = mome_seg_find(1);
    int mgr = mome_seg_manager(s, 1),
        other = (mgr + 1) % NODES == SELF ? (mgr + 2) % NODES : (mgr + 1) % NODES;
    mome_grant_t g = {.seg = 1,
                      .page = 1,
                      .mgr = (uint32_t)mgr,
                      .owner = SELF,
                      .rights = MOME_RIGHT_RW,
                      .acks = 1};
    mome_data_t d = {
        .seg = 1, .page = 1, .mgr = (uint32_t)mgr, .rights = MOME_RIGHT_RW, .acks = 1, .ver = 1};
    mome_ref_t da = {.seg = 1, .page = 1, .node = (uint32_t)other};
    int c = *(int *)arg;

    if (c == BAD_GRANT_HELD) {
        /* This node's diff of the page is on its way: the request waits for it (request()). */
        mome_page_t *pg = mome_seg_pg(s, 1);
        mome_pext_get(pg, 1, 1)->relpend = 1;
    }
    mome_req_fault(testnode_addr(s, 1), 1, 0);
    switch (c) {
    case BAD_GRANT_ACKS:
        g.acks = NODES;
        msgtest_deliver_in_round(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
        break;
    case BAD_DATA_ACKS:
        d.acks = NODES;
        msgtest_deliver_in_round(MOME_MSG_DATA, MOME_DATA_GRANT, 3, &d, a, NC_PAGE);
        break;
    case BAD_DATA_NO_GRANT:
        msgtest_deliver_in_round(MOME_MSG_DATA, 0, 3, &d, a, NC_PAGE);
        break;
    case BAD_GRANT_MGR:
        g.mgr = (uint32_t)other;
        msgtest_deliver_in_round(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
        break;
    case BAD_DROP_ACK_NODE:
        msgtest_deliver_in_round(MOME_MSG_DROP_ACK, 0, mgr, &da, NULL, 0);
        break;
    case BAD_GRANT_HELD:
        msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
        break;
    case BAD_GRANT_TWICE:
        msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
        msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
        break;
    case BAD_DATA_GRANT:
        msgtest_deliver(MOME_MSG_DATA, MOME_DATA_GRANT, 3, &d, a, NC_PAGE);
        msgtest_deliver(MOME_MSG_GRANT, 0, mgr, &g, NULL, 0);
        break;
    default:
        msgtest_deliver(MOME_MSG_GRANT, 0, mgr, &g, NULL, 0);
        msgtest_deliver(MOME_MSG_DATA, MOME_DATA_GRANT, 3, &d, a, NC_PAGE);
    }
}

/* A grant (GRANT, DATA) awaiting an invalidation ack from every node of the job stops the node:
 * the requester is never invalidated, and refuses its own ack, so the request would never end
 * and its manager's entry stayed busy for ever. One from every other node is honest. */
START_TEST(test_requester__a_grant_awaiting_every_node_stops_the_node)
{
    static const int grant = BAD_GRANT_ACKS, data = BAD_DATA_ACKS;
    char said[128];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 1);
    snprintf(said, sizeof(said), "a GRANT message from node %d fails validation (acks", mgr);
    nc_expect_death(bad_answer, (void *)&grant, said);
    nc_expect_death(bad_answer, (void *)&data, "a DATA message from node 3 fails validation (acks");
    /* Every node but this one invalidated: NODES - 1 acks. */
    mome_ref_t ack = {.seg = 1, .page = 1};
    nc_fault(s, 1, 1);
    nc_grant(s, 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, NODES - 1, mgr, SELF);
    for (int n = 0; n < NODES; n++)
        if (n != SELF)
            nc_deliver(MOME_MSG_INV_ACK, 0, n, &ack, NULL, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
}
END_TEST

/* DATA always carries its grant (holder.c's send_copy, its only sender): without it the request
 * would never be granted, no DONE would go, and the page hung job-wide. */
START_TEST(test_requester__data_without_its_grant_stops_the_node)
{
    static const int c = BAD_DATA_NO_GRANT;
    nc_up(NODES, SELF);
    testnode_segment(1, 8);
    nc_expect_death(bad_answer, (void *)&c, "a DATA message from node 3 fails validation (flags");
}
END_TEST

/* A GRANT comes from the manager it names (directory.c's grant()), and so does a DROP_ACK
 * (start_drop): DONE goes to the node named, and another node, with no such entry, took it for a
 * DONE crossing the segment's destruction while the manager's entry stayed busy for ever. */
START_TEST(test_requester__a_grant_naming_another_manager_stops_the_node)
{
    static const int grant = BAD_GRANT_MGR, drop = BAD_DROP_ACK_NODE;
    char said[128];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 1);
    snprintf(said, sizeof(said), "a GRANT message from node %d fails validation (mgr", mgr);
    nc_expect_death(bad_answer, (void *)&grant, said);
    snprintf(said, sizeof(said), "a DROP_ACK message from node %d fails validation (node", mgr);
    nc_expect_death(bad_answer, (void *)&drop, said);
}
END_TEST

/* One answer per request, and none before it leaves: a GRANT for a request held here, or a
 * second GRANT or DATA, replaced the rights and the manager of the first, and its DONE could go
 * to another node than the one whose entry waits. */
START_TEST(test_requester__answers_twice_or_too_early_stop_the_node)
{
    static const int held = BAD_GRANT_HELD, twice = BAD_GRANT_TWICE, dg = BAD_DATA_GRANT,
                     gd = BAD_GRANT_DATA;
    char said[128];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    int mgr = mome_seg_manager(s, 1);
    snprintf(said, sizeof(said),
             "node %d sent GRANT for page 1 of segment 'test1' (0x1), which this node has not "
             "asked for yet",
             mgr);
    nc_expect_death(bad_answer, (void *)&held, said);
    snprintf(said, sizeof(said),
             "node %d sent GRANT for page 1 of segment 'test1' (0x1), which this node has had "
             "answered already",
             mgr);
    nc_expect_death(bad_answer, (void *)&twice, said);
    nc_expect_death(bad_answer, (void *)&dg, said);
    nc_expect_death(bad_answer, (void *)&gd,
                    "node 3 sent DATA for page 1 of segment 'test1' (0x1), which this node has "
                    "had answered already");
}
END_TEST

/* After a write fault on page 1 of a job of 70 nodes (grant: 3 acks), INV_ACKs from the nodes of
 * arg (ending with -1). */
static void inv_acks_70(void *arg)
{
    const int *from = arg;
    mome_seg_t *s = mome_seg_find(1);
    int mgr = mome_seg_manager(s, 1);
    mome_ref_t ack = {.seg = 1, .page = 1};
    mome_grant_t g = {.seg = 1,
                      .page = 1,
                      .mgr = (uint32_t)mgr,
                      .owner = SELF,
                      .rights = MOME_RIGHT_RW,
                      .acks = 3};
    mome_req_fault(testnode_addr(s, 1), 1, 0);
    msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0);
    for (int i = 0; from[i] != -1; i++)
        msgtest_deliver(MOME_MSG_INV_ACK, 0, from[i], &ack, NULL, 0);
}

/* An invalidation ack twice from one node stops the node whatever the node's rank: past 64 it
 * was counted, and a STRONG writer went on while a copy elsewhere was still readable. */
START_TEST(test_requester__inv_acks_twice_from_nodes_past_64_stop_the_node)
{
    static const int twice[] = {65, 65, -1}, twice_far[] = {69, 64, 69, -1};
    nc_up(70, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    nc_expect_death(inv_acks_70, (void *)twice,
                    "node 65 acknowledged an invalidation for this node's request of page 1 of "
                    "segment 'test1' (0x1) twice");
    nc_expect_death(inv_acks_70, (void *)twice_far, "node 69 acknowledged an invalidation");
    /* One each from nodes 64 and 69 (and below 64) completes the write. */
    int mgr = mome_seg_manager(s, 1);
    mome_ref_t ack = {.seg = 1, .page = 1};
    nc_fault(s, 1, 1);
    nc_grant(s, 1, MOME_GRANT_ZERO, MOME_RIGHT_RW, 3, mgr, SELF);
    nc_deliver(MOME_MSG_INV_ACK, 0, 69, &ack, NULL, 0);
    nc_deliver(MOME_MSG_INV_ACK, 0, 64, &ack, NULL, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    nc_deliver(MOME_MSG_INV_ACK, 0, 0, &ack, NULL, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
}
END_TEST

START_TEST(test_requester__tracked_clean_write_twins_and_lists_dirty)
{
    uint8_t a[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    nc_pattern(a, 3);
    /* A writer of a page node 3 owns; its release (nothing changed) leaves it tracked and clean. */
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_ne(rel, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(pg->flags & (MOME_PG_TRACK | MOME_PG_DIRTY | MOME_PG_LISTED), MOME_PG_TRACK);
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_ptr_null(mome_pext_find(pg, 1, 1)->twin);

    uint64_t twins = mome_stats.twins;
    nc_fault(s, 1, 1);
    ck_assert_int_eq(msgtest_count(), 0); /* resolved here */
    ck_assert_uint_eq(mome_stats.twins - twins, 1);
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
    ck_assert_int_eq(nc_listed(mome_copy_dirty(), 1, 1), 1);
    mome_pext_t *x = mome_pext_find(pg, 1, 1);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(x->twin);
    ck_assert_int_eq(memcmp(x->twin, a, NC_PAGE), 0);
    ck_assert_uint_eq(x->owner, 3);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RW);
    /* Another write fault (another thread, same interval): no second twin, listed once. */
    nc_fault(s, 1, 1);
    ck_assert_uint_eq(mome_stats.twins - twins, 1);
    ck_assert_int_eq(nc_listed(mome_copy_dirty(), 1, 1), 1);
}
END_TEST

START_TEST(test_requester__write_ahead_opens_pages_written_last_time)
{
    uint8_t a[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    nc_pattern(a, 4);
    for (uint64_t p = 2; p < 6; p++)
        nc_hold_data(s, p, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    /* Pages 2..4 are changed and released; page 5 is not. */
    for (uint64_t p = 2; p < 5; p++)
        mome_seg_bytes(s, p)[8] ^= 0xff;
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, 3), 1);
    mome_batch_t ack = {0};
    for (uint64_t p = 2; p < 5; p++)
        ck_assert_int_eq(mome_batch_notice(&ack, 1, p, 2), 0);
    nc_deliver(MOME_MSG_NOTICE_ACK, 0, 0, NULL, ack.buf, (uint32_t)ack.len);
    mome_batch_free(&ack);
    ck_assert_uint_ne(rel, 0);

    mome_coh.prefetch = 3;
    uint64_t ahead = mome_stats.pages_written_ahead;
    nc_fault(s, 2, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(mome_stats.pages_written_ahead - ahead, 2); /* 3 and 4, not 5 */
    for (uint64_t p = 2; p < 5; p++) {
        ck_assert_int_ne(mome_seg_pg(s, p)->flags & MOME_PG_DIRTY, 0);
        ck_assert_ptr_nonnull(mome_pext_find(mome_seg_pg(s, p), 1, p)->twin);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, p)), FAKE_MAPPED_RW);
    }
    ck_assert_int_eq(mome_seg_pg(s, 5)->flags & MOME_PG_DIRTY, 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 5)), FAKE_MAPPED_RO);
}
END_TEST

/* The requests the last fault sent: n of TYPE, for PAGE and then ahead every STRIDE pages. */
static void asked_along(int type, uint64_t page, uint64_t stride, int n)
{
    ck_assert_int_eq(msgtest_count(), n);
    for (int i = 0; i < n; i++) {
        const msgtest_sent_t *r = msgtest_at(i);
        ck_assert_int_eq(r->m.type, type);
        ck_assert_uint_eq(req_body(r)->page, page + stride * (uint64_t)i);
        ck_assert_int_eq(r->m.flags, i ? MOME_REQ_AHEAD : 0);
    }
}

START_TEST(test_requester__read_ahead_follows_a_stride)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 32);
    mome_coh.prefetch = 0;
    for (uint64_t p = 0; p < 32; p += 2)
        nc_hold_zero(s, p, 0, 0); /* the even pages are here: a loop reads the odd ones */
    mome_coh.prefetch = 3;
    msgtest_reset();
    nc_fault(s, 1, 0); /* 2 is here, and no fault came 2 to 16 pages before: 1 alone */
    ck_assert_int_eq(msgtest_count(), 1);
    msgtest_reset();
    nc_fault(s, 3, 0); /* 2 pages after the fault before: 5, 7 and 9 ahead */
    asked_along(MOME_MSG_READ_REQ, 3, 2, 4);
    msgtest_reset();
    nc_fault(s, 11, 0); /* the run read ahead goes on: 13, 15 and 17 */
    asked_along(MOME_MSG_READ_REQ, 11, 2, 4);
    msgtest_reset();
    nc_fault(s, 29, 0); /* 18 pages on: no run */
    ck_assert_int_eq(msgtest_count(), 1);
    msgtest_reset();
    nc_fault(s, 23, 0); /* backwards: no run */
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

START_TEST(test_requester__write_ahead_follows_a_stride_of_written_pages)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 32);
    for (uint64_t p = 0; p < 32; p++)
        mome_seg_pg(s, p)->model = MOME_RELEASE;
    mome_coh.prefetch = 0;
    nc_hold_zero(s, 0, 1, MOME_RIGHT_RW); /* written here */
    mome_coh.prefetch = 3;
    msgtest_reset();
    nc_fault(s, 2, 1); /* 2 pages after a page written here: 4, 6 and 8 opened ahead */
    asked_along(MOME_MSG_WRITE_REQ, 2, 2, 4);
    msgtest_reset();
    nc_fault(s, 1, 1); /* after a written page, but 2 is being fetched: 1 alone */
    ck_assert_int_eq(msgtest_count(), 1);
    msgtest_reset();
    nc_fault(s, 20, 1);
    nc_fault(s, 22, 1); /* 2 pages after 20, which is not written yet: 22 alone */
    ck_assert_int_eq(msgtest_count(), 2);
    /* A STRONG write never asks ahead. */
    mome_seg_pg(s, 26)->model = MOME_STRONG;
    nc_grant(s, 20, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mome_seg_manager(s, 20), 0);
    nc_grant(s, 22, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mome_seg_manager(s, 22), 0);
    msgtest_reset();
    nc_fault(s, 24, 1); /* 2 pages after 22, written here: 26 is STRONG */
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

/* Faults at an address no view holds, as many as arg says. */
static void faults_without_a_view(void *arg)
{
    static char nowhere[2 * NC_PAGE];
    for (long i = 0; i < *(long *)arg; i++)
        nc_fault_at(nowhere + NC_PAGE, 0);
}

/* The same, another thread faulting on a view now and then (1 fault in 1000). */
static void faults_without_a_view_among_others(void *arg)
{
    static char nowhere[2 * NC_PAGE];
    for (long i = 0; i < 1L << 26; i++) {
        nc_fault_at(nowhere + NC_PAGE, 0);
        if (i % 1000 == 0)
            nc_fault((mome_seg_t *)arg, 1, 0);
    }
}

/*
 * A fault where no view is wakes the thread, which meets SIGSEGV: its view was unmapped after
 * the fault was read. The same fault again and again is a mapping that outlived its view (once
 * MomeMUnmap forgot a hole the kernel had refused to unmap, at vm.max_map_count): its thread
 * faulted for ever, its writes unseen by the protocol. The node stops instead.
 */
START_TEST(test_requester__faults_without_a_view_never_spin)
{
    long few = 100, many = 1L << 26;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    unsigned wakes = fake_memory_counts()->wakes;
    faults_without_a_view(&few);
    ck_assert_uint_eq(fake_memory_counts()->wakes - wakes, (unsigned)few);
    ck_assert_int_eq(msgtest_count(), 0);
    faults_without_a_view(&few);
    nc_expect_death(faults_without_a_view, &many, "no Mome view");
    /* Faults on views in between do not end the run at that page (they did: helper-132). */
    nc_expect_death(faults_without_a_view_among_others, s, "no Mome view");
}
END_TEST

Suite *requester_suite(void)
{
    Suite *s = suite_create("requester");
    NC_CASE(s, test_requester__read_fault_asks_the_manager);
    NC_CASE(s, test_requester__zero_grant_completes_the_fault);
    NC_CASE(s, test_requester__done_goes_to_the_granting_manager);
    NC_CASE(s, test_requester__write_fault_on_a_read_copy_upgrades);
    NC_CASE(s, test_requester__faults_on_a_busy_page_join_its_transaction);
    NC_CASE(s, test_requester__write_waiter_of_a_read_transaction_asks_again);
    NC_CASE(s, test_requester__inv_acks_are_counted_before_completion);
    NC_CASE(s, test_requester__inv_acks_before_the_grant_count);
    NC_CASE(s, test_requester__inv_acks_not_awaited_stop_the_node);
    NC_CASE(s, test_requester__data_grant_waits_for_inv_acks);
    NC_CASE(s, test_requester__read_ahead_requests_the_following_pages);
    NC_CASE(s, test_requester__requests_of_a_freed_segment_are_not_outstanding);
    NC_CASE(s, test_requester__read_ahead_grows_along_a_sequential_read);
    NC_CASE(s, test_requester__a_page_read_ahead_is_installed_into_a_view);
    NC_CASE(s, test_requester__read_ahead_follows_interleaved_streams);
    NC_CASE(s, test_requester__read_ahead_follows_twelve_readers_in_turns);
    NC_CASE(s, test_requester__scattered_reads_stop_reading_ahead);
    NC_CASE(s, test_requester__strong_write_ahead_declined);
    NC_CASE(s, test_requester__strong_write_ahead_stops_after_declines);
    NC_CASE(s, test_requester__read_ahead_stops_at_held_busy_and_view_end);
    NC_CASE(s, test_requester__read_ahead_follows_a_stride);
    NC_CASE(s, test_requester__write_ahead_follows_a_stride_of_written_pages);
    NC_CASE(s, test_requester__data_with_grant_carries_the_rights);
    NC_CASE(s, test_requester__answers_without_a_request_stop_the_node);
    NC_CASE(s, test_requester__a_grant_awaiting_every_node_stops_the_node);
    NC_CASE(s, test_requester__data_without_its_grant_stops_the_node);
    NC_CASE(s, test_requester__a_grant_naming_another_manager_stops_the_node);
    NC_CASE(s, test_requester__answers_twice_or_too_early_stop_the_node);
    NC_CASE(s, test_requester__inv_acks_twice_from_nodes_past_64_stop_the_node);
    NC_CASE(s, test_requester__tracked_clean_write_twins_and_lists_dirty);
    NC_CASE(s, test_requester__write_ahead_opens_pages_written_last_time);
    NC_CASE(s, test_requester__faults_without_a_view_never_spin);
    return s;
}
