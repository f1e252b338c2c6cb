/*
 * test_holder.c - the holding side as a state machine: this node takes copies through the
 * protocol, then the directory's forwards, invalidations, flushes, stale notices and an owner's
 * pushes are delivered, and what the node sends and keeps is checked.
 */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/stats.h"
#include "coherence/diff.h"
#include "coherence/page.h"
#include "coherence/release.h"
#include "mome.h"
#include "nodecase.h"

#define SELF 1
#define NODES 4
#define MGR 0 /* the manager forwarding requests in these tests */

static void done_cb(void *arg, mome_date_t d)
{
    *(mome_date_t *)arg = d;
}

static void fwd(int type, int flags, mome_seg_t *s, uint64_t page, uint32_t node, uint32_t acks,
                uint32_t rights, uint32_t model, uint64_t ver)
{
    mome_fwd_t f = {.seg = s->id,
                    .page = page,
                    .node = node,
                    .acks = acks,
                    .rights = rights,
                    .model = model,
                    .ver = ver};
    nc_deliver(type, flags, MGR, &f, NULL, 0);
}

/* The DATA sent to `to`: carrying a grant, with the page's bytes. */
static const mome_data_t *data_to(int to, const void *bytes)
{
    const mome_msg_t *d = nc_msg(MOME_MSG_DATA, to);
    ck_assert_int_eq(d->flags, MOME_DATA_GRANT);
    ck_assert_uint_eq(d->len, NC_PAGE);
    ck_assert_int_eq(memcmp(d->payload, bytes, NC_PAGE), 0);
    ck_assert_uint_eq(NC_BODY(d, mome_data_t)->mgr, MGR); /* DONE goes to the manager */
    return NC_BODY(d, mome_data_t);
}

START_TEST(test_holder__fwd_read_sends_the_page_and_downgrades)
{
    uint8_t b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    uint64_t sent = mome_stats.pages_sent;
    nc_hold_zero(s, 2, 1, MOME_RIGHT_RW); /* an exclusive STRONG writer */
    nc_pattern(b, 1);
    memcpy(mome_seg_bytes(s, 2), b, NC_PAGE); /* what the application wrote */
    fwd(MOME_MSG_FWD_READ, 0, s, 2, 3, 0, 0, MOME_STRONG, 0);
    const mome_data_t *d = data_to(3, b);
    ck_assert_uint_eq(d->rights, 0);
    ck_assert_uint_eq(d->ver, 1); /* the untracked writes count as a new version */
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 1);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RO);
    ck_assert_uint_eq(mome_stats.pages_sent - sent, 1);
}
END_TEST

/* A read-ahead's forwards, in one round of the engine: one write-protect for the run, the pages
 * sent in the order asked once the round ends, and a message of another kind serves them first. */
START_TEST(test_holder__fwd_reads_of_a_run_share_one_write_protect)
{
    static const uint64_t order[3] = {3, 2, 4};
    uint8_t b[6][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    for (uint64_t p = 2; p <= 5; p++) {
        nc_hold_zero(s, p, 1, MOME_RIGHT_RW); /* an exclusive STRONG writer */
        nc_pattern(b[p], (unsigned)p);
        memcpy(mome_seg_bytes(s, p), b[p], NC_PAGE);
    }
    unsigned protects = fake_memory_counts()->protects;
    msgtest_reset();
    for (int i = 0; i < 3; i++) {
        mome_fwd_t f = {.seg = s->id, .page = order[i], .node = 3, .model = MOME_STRONG};
        msgtest_deliver_in_round(MOME_MSG_FWD_READ, 0, MGR, &f, NULL, 0);
    }
    ck_assert_int_eq(msgtest_count(), 0); /* held until the round ends */
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_WRITE);
    mome_msg_progress();
    ck_assert_int_eq(msgtest_count(), 3);
    ck_assert_uint_eq(fake_memory_counts()->protects - protects, 1);
    for (int i = 0; i < 3; i++) {
        const msgtest_sent_t *m = msgtest_at(i);
        const mome_data_t *d = NC_BODY(&m->m, mome_data_t);
        ck_assert_int_eq(m->m.type, MOME_MSG_DATA);
        ck_assert_uint_eq(d->page, order[i]);
        ck_assert_int_eq(memcmp(m->payload, b[order[i]], NC_PAGE), 0);
        ck_assert_int_eq(mome_seg_pg(s, order[i])->access, MOME_ACC_READ);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, order[i])), FAKE_MAPPED_RO);
    }
    /* A held read is served before a message of another kind runs. */
    msgtest_reset();
    mome_fwd_t f = {.seg = s->id, .page = 5, .node = 3, .model = MOME_STRONG};
    msgtest_deliver_in_round(MOME_MSG_FWD_READ, 0, MGR, &f, NULL, 0);
    mome_ref_t r = {.seg = s->id, .page = 2, .node = 3};
    msgtest_deliver_in_round(MOME_MSG_INV, 0, MGR, &r, NULL, 0);
    ck_assert_int_eq(msgtest_count(), 2);
    ck_assert_int_eq(msgtest_at(0)->m.type, MOME_MSG_DATA);
    ck_assert_int_eq(msgtest_at(1)->m.type, MOME_MSG_INV_ACK);
    ck_assert_int_eq(mome_seg_pg(s, 5)->access, MOME_ACC_READ);
}
END_TEST

/* Deliver FWD_type for pages[0..n) to node 2 in one round of the engine: nothing is sent before
 * the round ends, then a DATA per page in the order asked, with the page's bytes b[page]. */
static void fwd_round(int type, int flags, mome_seg_t *s, const uint64_t *pages, int n,
                      uint32_t rights, uint8_t (*b)[NC_PAGE])
{
    msgtest_reset();
    for (int i = 0; i < n; i++) {
        mome_fwd_t f = {.seg = s->id, .page = pages[i], .node = 2, .acks = 0, .rights = rights};
        msgtest_deliver_in_round(type, flags, MGR, &f, NULL, 0);
    }
    ck_assert_int_eq(msgtest_count(), 0);
    mome_msg_progress();
    ck_assert_int_eq(msgtest_count(), n);
    for (int i = 0; i < n; i++) {
        const msgtest_sent_t *m = msgtest_at(i);
        ck_assert_int_eq(m->m.type, MOME_MSG_DATA);
        ck_assert_uint_eq(NC_BODY(&m->m, mome_data_t)->page, pages[i]);
        ck_assert_int_eq(memcmp(m->payload, b[pages[i]], NC_PAGE), 0);
    }
}

/* A write-ahead's forwards in one round: the pages leave the views with one unmap per run. */
START_TEST(test_holder__fwd_writes_of_a_run_share_one_unmap)
{
    static const uint64_t order[4] = {3, 2, 4, 6};
    static uint8_t b[8][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    for (uint64_t p = 2; p <= 6; p++) {
        nc_hold_zero(s, p, 1, MOME_RIGHT_RW);
        nc_pattern(b[p], (unsigned)p);
        memcpy(mome_seg_bytes(s, p), b[p], NC_PAGE);
    }
    unsigned zaps = fake_memory_counts()->zaps;
    fwd_round(MOME_MSG_FWD_WRITE, 0, s, order, 4, MOME_RIGHT_RW, b);
    ck_assert_uint_eq(fake_memory_counts()->zaps - zaps, 2); /* pages 2-4, then 6 */
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(mome_seg_pg(s, order[i])->access, MOME_ACC_NONE);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, order[i])), FAKE_ZAPPED);
    }
    ck_assert_int_eq(mome_seg_pg(s, 5)->access,
                     MOME_ACC_WRITE); /* not asked: still here, writable */
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 5)), FAKE_MAPPED_RW);
}
END_TEST

/* A twinning writer's snapshots of pages this node writes untracked, in one round: one
 * write-protect per run, and the pages tracked from then on. A second forward for a page already
 * held serves the first one before it is held. */
START_TEST(test_holder__fwd_snaps_of_a_run_share_one_write_protect)
{
    static const uint64_t order[3] = {1, 0, 2};
    static uint8_t b[4][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    for (uint64_t p = 0; p < 4; p++) {
        nc_hold_zero(s, p, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
        nc_pattern(b[p], (unsigned)p + 7);
        memcpy(mome_seg_bytes(s, p), b[p], NC_PAGE);
    }
    unsigned protects = fake_memory_counts()->protects;
    fwd_round(MOME_MSG_FWD_SNAP, 0, s, order, 3, MOME_RIGHT_RW | MOME_RIGHT_TWIN, b);
    ck_assert_uint_eq(fake_memory_counts()->protects - protects, 1);
    for (uint64_t p = 0; p < 3; p++) {
        mome_page_t *pg = mome_seg_pg(s, p);
        ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
        ck_assert_int_eq(pg->flags & (MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK),
                         MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, p)), FAKE_MAPPED_RO);
    }
    ck_assert_int_eq(mome_seg_pg(s, 3)->flags & MOME_PG_TRACK, 0);
    /* Page 3 twice in one round (a write-protect, then a reader of a tracked page). */
    msgtest_reset();
    mome_fwd_t f = {.seg = s->id, .page = 3, .node = 2, .rights = MOME_RIGHT_RW | MOME_RIGHT_TWIN};
    msgtest_deliver_in_round(MOME_MSG_FWD_SNAP, 0, MGR, &f, NULL, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    f.node = 3;
    msgtest_deliver_in_round(MOME_MSG_FWD_SNAP, 0, MGR, &f, NULL, 0);
    ck_assert_int_eq(msgtest_count(), 1); /* the first, served before the second was held */
    mome_msg_progress();
    ck_assert_int_eq(msgtest_count(), 2);
    ck_assert_uint_eq(NC_BODY(&msgtest_at(1)->m, mome_data_t)->page, 3);
    ck_assert_int_eq(mome_seg_pg(s, 3)->flags & MOME_PG_TRACK, MOME_PG_TRACK);
}
END_TEST

START_TEST(test_holder__fwd_write_hands_the_page_over_and_drops_it)
{
    uint8_t b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 1, 1, MOME_RIGHT_RW);
    nc_pattern(b, 2);
    memcpy(mome_seg_bytes(s, 1), b, NC_PAGE);
    fwd(MOME_MSG_FWD_WRITE, 0, s, 1, 2, 1, MOME_RIGHT_RW, 0, 0);
    const mome_data_t *d = data_to(2, b);
    ck_assert_uint_eq(d->rights, MOME_RIGHT_RW); /* the manager's grant, delegated */
    ck_assert_uint_eq(d->acks, 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
}
END_TEST

START_TEST(test_holder__fwd_write_keep_stays_a_reader)
{
    uint8_t b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    nc_pattern(b, 3);
    memcpy(mome_seg_bytes(s, 1), b, NC_PAGE);
    fwd(MOME_MSG_FWD_WRITE, MOME_FWD_KEEP, s, 1, 2, 0, MOME_RIGHT_RW, 0, 0);
    data_to(2, b);
    mome_page_t *pg = mome_seg_pg(s, 1);
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    ck_assert_int_eq(pg->flags & (MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), b, NC_PAGE), 0);
}
END_TEST

START_TEST(test_holder__fwd_snap_subscribes_a_release_reader)
{
    uint8_t b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 0);
    nc_hold_zero(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    nc_pattern(b, 4);
    memcpy(mome_seg_bytes(s, 0), b, NC_PAGE);
    /* A RELEASE reader (node 2): served, and pushed the new versions from now on. */
    fwd(MOME_MSG_FWD_SNAP, 0, s, 0, 2, 0, 0, MOME_RELEASE, 0);
    data_to(2, b);
    mome_pext_t *x = mome_pext_find(pg, 1, 0);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->push, 1u << 2);
    /* The owner keeps writing, but its writes are tracked now: others hold copies. */
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    ck_assert_int_eq(pg->flags & (MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK),
                     MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 0)), FAKE_MAPPED_RO);
    /* A WEAK reader and a twinning writer are served, not pushed. */
    fwd(MOME_MSG_FWD_SNAP, 0, s, 0, 3, 0, 0, MOME_WEAK, 0);
    data_to(3, b);
    fwd(MOME_MSG_FWD_SNAP, 0, s, 0, 0, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 0);
    ck_assert_uint_eq(data_to(0, b)->rights, MOME_RIGHT_RW | MOME_RIGHT_TWIN);
    ck_assert_uint_eq(mome_pext_find(pg, 1, 0)->push, 1u << 2);
}
END_TEST

static void unshare(mome_seg_t *s, uint64_t page)
{
    mome_ref_t u = {.seg = s->id, .page = page, .node = MGR};
    nc_deliver(MOME_MSG_UNSHARE, 0, MGR, &u, NULL, 0);
    const mome_msg_t *a = nc_msg(MOME_MSG_UNSHARE_ACK, MGR);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->seg, s->id);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->page, page);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->node, SELF);
    ck_assert_int_eq(msgtest_count(), 1);
}

/* Every reader dropped its copy: the owner's writes are no longer tracked (no write fault after
 * the first, no write-protect at release, no notice), until a reader comes again. */
START_TEST(test_holder__unshare_stops_tracking_the_owners_writes)
{
    uint8_t b[NC_PAGE];
    mome_date_t rel = 0;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 0);
    nc_hold_zero(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    nc_pattern(b, 5);
    fwd(MOME_MSG_FWD_SNAP, 0, s, 0, 2, 0, 0, MOME_RELEASE, 0); /* a RELEASE reader */
    ck_assert_int_eq(pg->flags & (MOME_PG_SHARED | MOME_PG_TRACK), MOME_PG_SHARED | MOME_PG_TRACK);
    /* Written since the last release (tracked: listed dirty), then the reader is gone. */
    nc_fault(s, 0, 1);
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
    memcpy(mome_seg_bytes(s, 0), b, NC_PAGE);
    uint64_t ver = pg->ver;
    unshare(s, 0);
    ck_assert_int_eq(pg->flags & (MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY), 0);
    ck_assert_int_eq(pg->flags & MOME_PG_OWNER, MOME_PG_OWNER);
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    const mome_pext_t *x = mome_pext_find(pg, 1, 0);
    ck_assert(!x || !x->push); /* nobody to push to */
    /* The release tells nobody and protects nothing: the page stays writable. */
    unsigned wp = fake_memory_counts()->protects;
    msgtest_reset();
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_ne(rel, 0);
    ck_assert_uint_eq(fake_memory_counts()->protects, wp);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 0)), FAKE_MAPPED_RW);
    ck_assert_int_eq(pg->flags & (MOME_PG_DIRTY | MOME_PG_TRACK), 0);
    /* A reader again: its copy counts the writes made untracked, and tracking starts again. */
    fwd(MOME_MSG_FWD_SNAP, 0, s, 0, 3, 0, 0, MOME_RELEASE, 0);
    ck_assert_uint_gt(data_to(3, b)->ver, ver);
    ck_assert_int_eq(pg->flags & (MOME_PG_SHARED | MOME_PG_TRACK), MOME_PG_SHARED | MOME_PG_TRACK);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 0)), FAKE_MAPPED_RO);
}
END_TEST

/* An UNSHARE of page (arg) of segment 1 (raw: in a child). */
static void unshare_raw(void *arg)
{
    mome_ref_t u = {.seg = 1, .page = *(const uint64_t *)arg, .node = MGR};
    msgtest_deliver(MOME_MSG_UNSHARE, 0, MGR, &u, NULL, 0);
}

/* A clean tracked page (write-protected): after UNSHARE its next write faults once, is mapped
 * writable and listed nowhere. An UNSHARE for a page this node does not own stops the node: the
 * manager sends it to the owner of a MULTI page, whose ownership cannot change while it is out
 * (the entry is busy until the ack), so it names the wrong node (acknowledged, the entry went on
 * with an owner that still tracks its writes, or a node that never owned it). One that crossed
 * its segment's destruction here is acknowledged: the manager awaits that answer. */
START_TEST(test_holder__unshare_of_a_clean_page_and_of_a_copy)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 0);
    mome_date_t rel = 0;
    nc_hold_zero(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER | MOME_RIGHT_SHARED);
    mome_rel_release(done_cb, &rel); /* released: clean, write-protected */
    nc_ack_page(mome_seg_manager(s, 0), 1, 0);
    ck_assert_uint_ne(rel, 0);
    ck_assert(mome_copy_tracked_clean(pg));
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 0)), FAKE_MAPPED_RO);
    unshare(s, 0);
    ck_assert_int_eq(pg->flags & (MOME_PG_SHARED | MOME_PG_TRACK), 0);
    size_t listed = mome_copy_dirty()->n;
    msgtest_reset();
    nc_fault(s, 0, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 0)), FAKE_MAPPED_RW);
    ck_assert_int_eq(pg->flags & MOME_PG_DIRTY, 0);
    ck_assert_uint_eq(mome_copy_dirty()->n, listed);
    /* A read copy of another node's master, a twinning writer's copy, no copy, no such page. */
    nc_pattern(a, 6);
    mome_seg_pg(s, 1)->model = MOME_RELEASE;
    nc_hold_data(s, 1, 0, 0, 3, a, 1);
    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    static const uint64_t pages[4] = {1, 2, 3, 4};
    static const char *const holds[4] = {"a read copy", "a copy it writes, not the master",
                                         "no copy", "no such page"};
    for (int i = 0; i < 4; i++) {
        char said[256];
        snprintf(said, sizeof(said),
                 "node %d asked this node to stop tracking its writes of page %llu of segment "
                 "'test1' (0x1) (UNSHARE), which this node does not own (it holds %s",
                 MGR, (unsigned long long)pages[i], holds[i]);
        nc_expect_death(unshare_raw, (void *)&pages[i], said);
    }
    /* Segment 2 was destroyed here (or never open): an UNSHARE crossing that is acknowledged. */
    mome_ref_t u = {.seg = 2, .page = 0, .node = MGR};
    nc_deliver(MOME_MSG_UNSHARE, 0, MGR, &u, NULL, 0);
    const mome_msg_t *ack = nc_msg(MOME_MSG_UNSHARE_ACK, MGR);
    ck_assert_uint_eq(NC_BODY(ack, mome_ref_t)->seg, 2);
    ck_assert_uint_eq(NC_BODY(ack, mome_ref_t)->node, SELF);
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

START_TEST(test_holder__fwd_sync_sends_content_only_when_newer)
{
    uint8_t b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(b, 5);
    /* The owner of a shared page at version 3 (tracked: its version moves only at releases). */
    nc_hold_data(s, 3, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER | MOME_RIGHT_SHARED, 2, b, 3);
    fwd(MOME_MSG_FWD_SYNC, 0, s, 3, 2, 0, 0, 0, 3);
    const mome_msg_t *ok = nc_msg(MOME_MSG_SYNC_OK, 2);
    ck_assert_uint_eq(NC_BODY(ok, mome_data_t)->mgr, MGR);
    ck_assert_int_eq(msgtest_count(), 1);
    fwd(MOME_MSG_FWD_SYNC, 0, s, 3, 2, 0, 0, 0, 2);
    const mome_msg_t *d = nc_msg(MOME_MSG_SYNC_DATA, 2);
    ck_assert_uint_eq(NC_BODY(d, mome_data_t)->ver, 3);
    ck_assert_int_eq(memcmp(d->payload, b, NC_PAGE), 0);
    /* An exclusive owner's version says nothing: content always. */
    fwd(MOME_MSG_FWD_SYNC, MOME_FWD_EXCL, s, 3, 2, 0, 0, 0, 3);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_SYNC_DATA, 2));
}
END_TEST

/* A FWD_SYNC of page (arg) of segment 1 for node 2, its copy at version 1 (raw: in a child). */
static void fwd_sync_raw(void *arg)
{
    mome_fwd_t f = {.seg = 1, .page = *(const uint64_t *)arg, .node = 2, .ver = 1};
    msgtest_deliver(MOME_MSG_FWD_SYNC, 0, MGR, &f, NULL, 0);
}

/*
 * The manager forwards a MomeSyncMem to the owner its entry names, while no transaction is open
 * on the page (design.md section 7): the owner holds it. One for a page this node does not hold
 * names the wrong owner: answered SYNC_OK, the requester took a copy that may be stale for
 * current. It stops the node. One that crossed the destruction of its segment here (its requester
 * closed the segment while the request was out: a MomeSyncMem's or an acquire's SYNC_REQ is not
 * among the requests a SEG_CLOSE waits for) is answered: nothing is left to be wrong about.
 */
START_TEST(test_holder__fwd_sync_for_a_page_not_held_stops_the_node)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    static const uint64_t page = 3, past = 4;
    nc_hold_zero(s, 0, 0, 0); /* another page held: beside the point */
    nc_expect_death(fwd_sync_raw, (void *)&page,
                    "node 0 forwarded a FWD_SYNC of node 2 for page 3 of segment 'test1' (0x1), "
                    "which this node does not hold: the directory is inconsistent");
    nc_expect_death(fwd_sync_raw, (void *)&past,
                    "for page 4 of segment 'test1' (0x1), which this "
                    "node does not hold");
    /* A page held and then handed over (FWD_WRITE): not held any more. */
    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW);
    fwd(MOME_MSG_FWD_WRITE, 0, s, 3, 3, 0, MOME_RIGHT_RW, 0, 0);
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_NONE);
    nc_expect_death(fwd_sync_raw, (void *)&page, "which this node does not hold");
    /* Segment 2 is not open here (destroyed): answered, as before. */
    mome_fwd_t f = {.seg = 2, .page = 0, .node = 2, .ver = 1};
    nc_deliver(MOME_MSG_FWD_SYNC, 0, MGR, &f, NULL, 0);
    const mome_msg_t *ok = nc_msg(MOME_MSG_SYNC_OK, 2);
    ck_assert_uint_eq(NC_BODY(ok, mome_data_t)->seg, 2);
    ck_assert_uint_eq(NC_BODY(ok, mome_data_t)->mgr, MGR);
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

START_TEST(test_holder__inv_drops_and_acks_the_requester)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    uint64_t inv = mome_stats.invalidations_received;
    nc_hold_zero(s, 2, 0, 0);
    mome_ref_t r = {.seg = 1, .page = 2, .node = 3};
    nc_deliver(MOME_MSG_INV, 0, MGR, &r, NULL, 0);
    const mome_msg_t *a = nc_msg(MOME_MSG_INV_ACK, 3); /* to the writer, not the manager */
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->seg, 1);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->page, 2);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_ZAPPED);
    ck_assert_uint_eq(mome_stats.invalidations_received - inv, 1);
    /* No copy (dropped meanwhile): the writer still counts on the ack. */
    nc_deliver(MOME_MSG_INV, 0, MGR, &r, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_INV_ACK, 3));
}
END_TEST

START_TEST(test_holder__flush_drop_sends_the_diff_and_drops)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 6);
    /* A twinning writer of a page node 3 owns: twin = a, then the application writes b. */
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    memcpy(b, a, NC_PAGE);
    memset(b + 100, 0x5a, 40);
    memcpy(mome_seg_bytes(s, 1), b, NC_PAGE);
    mome_ref_t r = {.seg = 1, .page = 1};
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &r, NULL, 0);
    const mome_msg_t *d = nc_msg(MOME_MSG_DIFF, 3);
    ck_assert_int_eq(d->flags, MOME_DIFF_FLUSH);
    ck_assert_uint_eq(NC_BODY(d, mome_rel_t)->mgr, MGR); /* the owner acks the manager */
    ck_assert_uint_eq(NC_BODY(d, mome_rel_t)->origin, SELF);
    mome_entry_t e[2];
    ck_assert_int_eq(nc_entries(MOME_BATCH_DIFF, d, e, 2), 1);
    ck_assert_uint_eq(e[0].seg, 1);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_int_eq(
        mome_diff_apply(a, NC_PAGE, e[0].data, e[0].len, !!(e[0].flags & MOME_DIFF_ENTRY_FULL)), 0);
    ck_assert_int_eq(memcmp(a, b, NC_PAGE), 0);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_FLUSH_ACK, -1), 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
    /* The twin is gone; the side record waits for the owner's acknowledgement of the diff. */
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, 1), 1, 1);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_null(x->twin);
    ck_assert_int_eq(x->relpend, 1);
    nc_ack_page(3, 1, 1);
    ck_assert_ptr_null(mome_pext_find(mome_seg_pg(s, 1), 1, 1));
}
END_TEST

START_TEST(test_holder__flush_of_the_owner_acks_and_stops_writing)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER | MOME_RIGHT_SHARED);
    mome_seg_bytes(s, 2)[7] = 1;
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    mome_ref_t r = {.seg = 1, .page = 2};
    nc_deliver(MOME_MSG_FLUSH, 0, MGR, &r, NULL, 0);
    const mome_msg_t *a = nc_msg(MOME_MSG_FLUSH_ACK, MGR);
    ck_assert_uint_eq(NC_BODY(a, mome_ref_t)->page, 2);
    mome_page_t *pg = mome_seg_pg(s, 2);
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    ck_assert_int_eq(pg->flags & (MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY),
                     0);
    ck_assert_uint_eq(pg->ver, 1); /* the master it hands over includes its writes */
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RO);
    /* Its writes are announced through the manager running the flush (copies the flush drops
     * are still mapped until their FLUSH arrives: helper-113), and its next release waits for
     * that, as for a released page. */
    mome_entry_t e[2];
    const mome_msg_t *n = nc_msg(MOME_MSG_NOTICE, MGR);
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, n, e, 2), 1);
    ck_assert_uint_eq(e[0].page, 2);
    ck_assert_uint_eq(e[0].ver, 1);
    ck_assert_uint_eq(NC_BODY(n, mome_rel_t)->origin, SELF);
    ck_assert_int_eq(mome_pext_find(pg, 1, 2)->relpend, 1);
    nc_ack_page(MGR, 1, 2);
    ck_assert_ptr_null(mome_pext_find(pg, 1, 2));
    /* A page this node does not know: nothing to release, acked at once. */
    r.seg = 99;
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &r, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_FLUSH_ACK, MGR));
}
END_TEST

START_TEST(test_holder__stale_records_a_notice_and_acks)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 2, 0, 0);
    nc_fault(s, 0, 0); /* page 0 is being fetched: the content coming may predate the change */
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 3), 0);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 3, 2), 0);  /* not held here */
    ck_assert_int_eq(mome_batch_notice(&b, 77, 0, 2), 0); /* no such segment */
    ck_assert_int_eq(mome_batch_notice(&b, 1, 0, 2), 0);
    mome_rel_t rel = {.date = 77, .token = 9};
    nc_deliver(MOME_MSG_STALE, 0, MGR, &rel, b.buf, (uint32_t)b.len);
    const mome_msg_t *a = nc_msg(MOME_MSG_STALE_ACK, MGR);
    ck_assert_uint_eq(NC_BODY(a, mome_rel_t)->token, 9);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 3), 0);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 0), 1);
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, 2), 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->stale_date, 77);
    ck_assert_uint_eq(x->stale_ver, 3);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access,
                     MOME_ACC_READ); /* nothing changes before an acquire */
    /* An earlier change announced later: the notice takes the earliest date, listed once. */
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 2), 0);
    rel.date = 50;
    rel.token = 10;
    nc_deliver(MOME_MSG_STALE, 0, MGR, &rel, b.buf, (uint32_t)b.len);
    ck_assert_uint_eq(x->stale_date, 50);
    ck_assert_uint_eq(x->stale_ver, 3);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    mome_batch_free(&b);
}
END_TEST

/* A PUSH from node 3 of version ver of page `page`, with bytes. */
static void push(mome_seg_t *s, uint64_t page, uint64_t ver, const uint8_t *bytes)
{
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_push(&b, s->id, page, ver, bytes, NC_PAGE), 0);
    mome_rel_t rel = {.date = 1, .origin = 3};
    nc_deliver(MOME_MSG_PUSH, 0, 3, &rel, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

/* The version field of the one PUSH_ACK entry sent to node 3 (1: keep pushing). */
static uint64_t push_ack(mome_seg_t *s, uint64_t page)
{
    mome_entry_t e[2];
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_PUSH_ACK, 3), e, 2), 1);
    ck_assert_uint_eq(e[0].seg, s->id);
    ck_assert_uint_eq(e[0].page, page);
    return e[0].ver;
}

/* A used read copy is written in place, still mapped, by up to 3 pushes in a row; the next one
 * takes it out of the views so that its next use says whether it is still read. */
START_TEST(test_holder__push_writes_a_used_release_read_copy_in_place)
{
    uint8_t a[NC_PAGE], c[5][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_seg_pg(s, 1)->model = MOME_RELEASE;
    nc_pattern(a, 7);
    nc_hold_data(s, 1, 0, 0, 3, a, 1);
    unsigned zaps = fake_memory_counts()->zaps;
    for (int i = 0; i < 4; i++) {
        nc_pattern(c[i], 8 + (unsigned)i);
        push(s, 1, 4 + (uint64_t)i, c[i]);
        ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), c[i], NC_PAGE), 0);
        ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 4 + (uint64_t)i);
        ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_READ);
        ck_assert_uint_eq(push_ack(s, 1), 1); /* used since it last left the views */
        if (i < 3) {
            ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
            ck_assert_uint_eq(fake_memory_counts()->zaps, zaps);
            ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_USED, 0);
        }
    }
    /* The fourth: out of the views, its next use faults here and says whether it is still read. */
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
    ck_assert_uint_eq(fake_memory_counts()->zaps, zaps + 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & (MOME_PG_USED | MOME_PG_INPLACE), 0);
}
END_TEST

START_TEST(test_holder__push_ack_asks_for_more_only_if_used)
{
    uint8_t a[NC_PAGE], c[NC_PAGE], d[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_seg_pg(s, 1)->model = MOME_RELEASE;
    nc_pattern(a, 7);
    nc_pattern(c, 8);
    nc_pattern(d, 9);
    nc_hold_data(s, 1, 0, 0, 3, a, 1);
    mome_seg_pg(s, 1)->flags &= (uint16_t)~MOME_PG_USED; /* not used since it came */
    push(s, 1, 4, c);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), c, NC_PAGE), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
    ck_assert_uint_eq(push_ack(s, 1), 0);
    /* Used again (a fault), then an older version comes: kept, and the subscription too. */
    nc_fault(s, 1, 0);
    push(s, 1, 4, d);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), c, NC_PAGE), 0);
    ck_assert_uint_eq(push_ack(s, 1), 1);
    /* A newer one: written in place (used since it left the views); three more and the last of
     * them takes it out, having been used: still wanted. Then one more, unused since: not. */
    for (uint64_t v = 5; v <= 8; v++) {
        push(s, 1, v, (v & 1) ? d : c);
        ck_assert_uint_eq(push_ack(s, 1), 1);
    }
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
    push(s, 1, 9, d);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), d, NC_PAGE), 0);
    ck_assert_uint_eq(push_ack(s, 1), 0);
}
END_TEST

/* A push of a run of pages: they leave the views with one unmap, then each is replaced. */
START_TEST(test_holder__push_of_a_run_unmaps_it_at_once)
{
    static uint8_t a[NC_PAGE], c[5][NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 8);
    nc_pattern(a, 12);
    for (uint64_t p = 1; p <= 4; p++) {
        mome_seg_pg(s, p)->model = p == 4 ? MOME_STRONG : MOME_RELEASE; /* 4: never pushed */
        nc_hold_data(s, p, 0, 0, 3, a, 1);
        mome_seg_pg(s, p)->flags &=
            (uint16_t)~MOME_PG_USED; /* unused: replaced, not written in place */
        nc_pattern(c[p], (unsigned)p + 20);
    }
    mome_batch_t b = {0};
    for (uint64_t p = 1; p <= 4; p++)
        ck_assert_int_eq(mome_batch_push(&b, s->id, p, 4, c[p], NC_PAGE), 0);
    mome_rel_t rel = {.date = 1, .origin = 3};
    unsigned zaps = fake_memory_counts()->zaps;
    nc_deliver(MOME_MSG_PUSH, 0, 3, &rel, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_uint_eq(fake_memory_counts()->zaps - zaps, 1);
    for (uint64_t p = 1; p <= 3; p++) {
        ck_assert_int_eq(memcmp(mome_seg_bytes(s, p), c[p], NC_PAGE), 0);
        ck_assert_uint_eq(mome_seg_pg(s, p)->ver, 4);
        ck_assert_int_eq(fake_memory_state(testnode_addr(s, p)), FAKE_ZAPPED);
    }
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 4), a, NC_PAGE), 0);
    ck_assert_int_ne(fake_memory_state(testnode_addr(s, 4)), FAKE_ZAPPED);
    mome_entry_t e[4];
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_PUSH_ACK, 3), e, 4), 4);
    ck_assert_uint_eq(e[3].ver, 0); /* the STRONG copy: no more pushes */
}
END_TEST

START_TEST(test_holder__push_leaves_other_copies_alone)
{
    uint8_t a[NC_PAGE], c[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 10);
    nc_pattern(c, 11);
    nc_hold_data(s, 0, 0, 0, 3, a, 1); /* a STRONG reader: never pushed */
    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1); /* a RELEASE writer */
    push(s, 0, 4, c);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 0), a, NC_PAGE), 0);
    ck_assert_uint_eq(push_ack(s, 0), 0);
    push(s, 2, 4, c);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), a, NC_PAGE), 0); /* its writes are there */
    ck_assert_uint_eq(push_ack(s, 2), 0);
}
END_TEST

/* ---- a forward for a copy this node does not hold ---- */

static void fwd_read_unheld(void *arg)
{
    mome_seg_t *s = testnode_segment(1, 4);
    mome_fwd_t f = {.seg = 1, .page = 2, .node = 3, .model = MOME_STRONG};
    (void)arg;
    (void)s;
    msgtest_deliver(MOME_MSG_FWD_READ, 0, MGR, &f, NULL, 0);
}

START_TEST(test_holder__forward_for_a_copy_not_held_stops_the_node)
{
    nc_up(NODES, SELF);
    /* The message names the segment by its name too (testnode_segment names it test<id>). */
    nc_expect_death(fwd_read_unheld, NULL,
                    "page 2 of segment 'test1' (0x1), which this node does not hold: the "
                    "directory is inconsistent");
}
END_TEST

/* ---- dates from the future ---- */

/* A STALE (arg NULL) or PUSH of page 2 of segment 1 reporting a change made after the message was
 * sent (raw: in a child). */
static void future_dated(void *arg)
{
    static uint8_t bytes[NC_PAGE];
    mome_batch_t b = {0};
    mome_rel_t rel = {.date = 1ull << 61, .origin = 3};
    if (arg)
        mome_batch_push(&b, 1, 2, 5, bytes, NC_PAGE);
    else
        mome_batch_notice(&b, 1, 2, 5);
    msgtest_date_next(mome_clock_now() + 1);
    /* (delivered as the transport does: a message that fails validation stops the node) */
    msgtest_deliver_in_round(arg ? MOME_MSG_PUSH : MOME_MSG_STALE, 0, 3, &rel, b.buf,
                             (uint32_t)b.len);
}

/*
 * A notice's date is its release's, made before the notice was sent: never after the message's
 * own date (the sender's clock at the send). One from the future, recorded as the copy's stale
 * date, kept the stale copy mapped past every acquire (each older than it): this node read old
 * data for ever, its peers none the wiser.
 */
START_TEST(test_holder__a_notice_dated_after_its_message_stops_the_node)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 2, 0, 0);
    nc_expect_death(future_dated, NULL,
                    "a STALE message from node 3 for segment 0x1 page 2 fails validation (date");
    nc_expect_death(future_dated, "push",
                    "a PUSH message from node 3 for segment 0x1 page 2 fails validation (date");
}
END_TEST

/* PAGEOUT of page 2 of segment 1 from node 2 (raw: in a child), twice. */
static void paged_out_twice(void *arg)
{
    static uint8_t b[NC_PAGE];
    mome_pgout_t o = {.seg = 1, .page = 2};
    for (int i = 0; i < 2; i++)
        msgtest_deliver(MOME_MSG_PAGEOUT, 0, 2, &o, b, NC_PAGE);
}

/*
 * A node keeps pages others page out to it, and gives each back once (PAGEIN). The same page
 * left here twice by its owner is a repeated message: kept, the second copy shadowed the first
 * (one of them given back, the other left here for good, its budget leaked) (helper-119).
 */
START_TEST(test_holder__a_page_left_here_is_given_back_once)
{
    uint8_t b[NC_PAGE];
    mome_pgout_t o = {.seg = 1, .page = 2};
    nc_up(NODES, SELF);
    nc_pattern(b, 3);
    nc_deliver(MOME_MSG_PAGEOUT, 0, 2, &o, b, NC_PAGE);
    const mome_msg_t *a = nc_msg(MOME_MSG_PAGEOUT_ACK, 2);
    ck_assert_int_eq(NC_BODY(a, mome_pgout_t)->status, 0);
    nc_deliver(MOME_MSG_PAGEIN, 0, 2, &o, NULL, 0);
    const mome_msg_t *d = nc_msg(MOME_MSG_PAGEIN_DATA, 2);
    ck_assert_uint_eq(d->len, NC_PAGE);
    ck_assert_int_eq(memcmp(d->payload, b, NC_PAGE), 0);
    nc_expect_death(paged_out_twice, NULL, "again");
}
END_TEST

Suite *holder_suite(void)
{
    Suite *s = suite_create("holder");
    NC_CASE(s, test_holder__a_page_left_here_is_given_back_once);
    NC_CASE(s, test_holder__fwd_read_sends_the_page_and_downgrades);
    NC_CASE(s, test_holder__fwd_reads_of_a_run_share_one_write_protect);
    NC_CASE(s, test_holder__fwd_writes_of_a_run_share_one_unmap);
    NC_CASE(s, test_holder__fwd_snaps_of_a_run_share_one_write_protect);
    NC_CASE(s, test_holder__fwd_write_hands_the_page_over_and_drops_it);
    NC_CASE(s, test_holder__fwd_write_keep_stays_a_reader);
    NC_CASE(s, test_holder__fwd_snap_subscribes_a_release_reader);
    NC_CASE(s, test_holder__unshare_stops_tracking_the_owners_writes);
    NC_CASE(s, test_holder__unshare_of_a_clean_page_and_of_a_copy);
    NC_CASE(s, test_holder__fwd_sync_sends_content_only_when_newer);
    NC_CASE(s, test_holder__fwd_sync_for_a_page_not_held_stops_the_node);
    NC_CASE(s, test_holder__inv_drops_and_acks_the_requester);
    NC_CASE(s, test_holder__flush_drop_sends_the_diff_and_drops);
    NC_CASE(s, test_holder__flush_of_the_owner_acks_and_stops_writing);
    NC_CASE(s, test_holder__stale_records_a_notice_and_acks);
    NC_CASE(s, test_holder__push_writes_a_used_release_read_copy_in_place);
    NC_CASE(s, test_holder__push_ack_asks_for_more_only_if_used);
    NC_CASE(s, test_holder__push_of_a_run_unmaps_it_at_once);
    NC_CASE(s, test_holder__push_leaves_other_copies_alone);
    NC_CASE(s, test_holder__forward_for_a_copy_not_held_stops_the_node);
    NC_CASE(s, test_holder__a_notice_dated_after_its_message_stops_the_node);
    return s;
}
