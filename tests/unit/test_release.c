/*
 * test_release.c - the release/acquire engine as a state machine: what an acquire does with
 * copies that have a stale notice due (per model: refreshed, dropped or kept), MomeSyncMem on WEAK
 * copies, and switches to a stronger model.
 */
#include <string.h>

#include "coherence/model.h"
#include "coherence/page.h"
#include "coherence/release.h"
#include "coherence/requester.h"
#include "mome.h"
#include "nodecase.h"

#define SELF 1
#define NODES 4
#define MGR 0

static void done_cb(void *arg, mome_date_t d)
{
    mome_date_t *out = arg;
    out[0] = d;
    out[1]++; /* calls */
}

/* A stale notice from the manager: page of s lacks a change released at date (version ver). */
static void stale(mome_seg_t *s, uint64_t page, uint64_t date, uint64_t ver)
{
    mome_batch_t b = {0};
    mome_rel_t rel = {.date = date, .token = 1};
    ck_assert_int_eq(mome_batch_notice(&b, s->id, page, ver), 0);
    nc_deliver(MOME_MSG_STALE, 0, MGR, &rel, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    msgtest_reset();
}

/* A RELEASE read copy of page, content a, version 1, from owner node 3 (used: it faulted in). */
static void release_reader(mome_seg_t *s, uint64_t page, const uint8_t *a)
{
    mome_seg_pg(s, page)->model = MOME_RELEASE;
    nc_hold_data(s, page, 0, 0, 3, a, 1);
}

/* Page 1 of s written, not released, by a twinning writer under model: content a (set here),
 * version 1, from owner node 3. */
static void dirty_writer(mome_seg_t *s, uint8_t *a, int model)
{
    nc_pattern(a, 5);
    mome_seg_pg(s, 1)->model = (uint8_t)model;
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_seg_bytes(s, 1)[5] ^= 1;
}

/* An acquire at date 20 of dirty_writer's RELEASE page with a notice dated 10 (version 3): it
 * releases first (DIFF to node 3), and another application thread writes the page meanwhile (a
 * fault: the release write-protected it). */
static void acquire_while_written(mome_seg_t *s, uint8_t *a, mome_date_t *got)
{
    dirty_writer(s, a, MOME_RELEASE);
    stale(s, 1, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[6] ^= 1;
}

/* After an acquire that passed version 5 of the page: its copy went, or is fetched again. */
static void caught_up(const mome_page_t *pg, int mgr)
{
    ck_assert_msg(pg->access == MOME_ACC_NONE || msgtest_count_of(MOME_MSG_WRITE_REQ, mgr) +
                                                         msgtest_count_of(MOME_MSG_READ_REQ, mgr) ==
                                                     1,
                  "a copy at version %llu stays after an acquire that passed version 5",
                  (unsigned long long)pg->ver);
}

START_TEST(test_release__acquire_refreshes_a_used_release_copy)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    release_reader(s, 2, a);
    stale(s, 2, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    /* Used since it came: fetched again now, and the acquire waits for it. */
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_ZAPPED);
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_int_eq(r->flags, 0);
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->model, MOME_RELEASE);
    ck_assert_uint_eq(got[1], 0);
    nc_data(s, 2, 3, mgr, 0, 0, 3, b);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[0], 20);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 3);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_ptr_null(mome_pext_find(mome_seg_pg(s, 2), 1, 2)); /* the notice is settled */
}
END_TEST

START_TEST(test_release__acquire_drops_an_unused_release_copy)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_coh.prefetch = 1;
    mome_seg_t *s = testnode_segment(1, 4);
    mome_seg_pg(s, 0)->model = mome_seg_pg(s, 1)->model = MOME_RELEASE;
    /* Page 1 comes by read-ahead: nobody used it. */
    nc_fault(s, 0, 0);
    nc_grant(s, 0, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 0), 0);
    nc_grant(s, 1, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 1), 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_READ);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & MOME_PG_USED, 0);
    stale(s, 1, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    /* Fetched when touched, not now; the manager hears of the drop (the master is node 0's). */
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_msg_t *d = nc_msg(MOME_MSG_DROP, mome_seg_manager(s, 1));
    ck_assert_uint_eq(got[1], 0);
    mome_ref_t a = {.seg = 1, .page = 1, .node = (uint32_t)mome_seg_manager(s, 1)};
    ck_assert_uint_eq(NC_BODY(d, mome_req_t)->node, SELF);
    nc_deliver(MOME_MSG_DROP_ACK, 0, mome_seg_manager(s, 1), &a, NULL, 0);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_ZAPPED);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 1), 0);
}
END_TEST

/* A RELEASE read copy of page 2 from owner node 3, not used since it came (a push acknowledged
 * unused leaves it so), with a notice due at the acquire of date 20: dropped, with word to its
 * manager. */
static mome_seg_t *dropped_reader(mome_date_t *got)
{
    uint8_t a[NC_PAGE];
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    mome_seg_pg(s, 2)->flags &= (uint16_t)~MOME_PG_USED;
    stale(s, 2, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    return s;
}

static void drop_ack(mome_seg_t *s, uint64_t page, int mgr)
{
    mome_ref_t a = {.seg = s->id, .page = page, .node = (uint32_t)mgr};
    nc_deliver(MOME_MSG_DROP_ACK, 0, mgr, &a, NULL, 0);
}

START_TEST(test_release__acquire_drop_of_an_unused_copy_tells_the_manager)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    uint64_t out = (uint64_t)mome_coh.outstanding;
    mome_seg_t *s = dropped_reader(got);
    int mgr = mome_seg_manager(s, 2);
    ck_assert_uint_eq(got[1], 0); /* the acquire waits for the manager, as for a refresh */
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_ZAPPED);
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_msg_t *d = nc_msg(MOME_MSG_DROP, mgr);
    ck_assert_uint_eq(NC_BODY(d, mome_req_t)->seg, 1);
    ck_assert_uint_eq(NC_BODY(d, mome_req_t)->page, 2);
    ck_assert_uint_eq(NC_BODY(d, mome_req_t)->node, SELF);
    /* Until the manager took it, the page is busy: a fault waits rather than ask. */
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_BUSY, 0);
    ck_assert_uint_eq((uint64_t)mome_coh.outstanding, out + 1);
    msgtest_reset();
    nc_fault(s, 2, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    drop_ack(s, 2, mgr);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[0], 20);
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_BUSY, MOME_PG_BUSY); /* asked anew */
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_int_eq(r->flags, 0); /* no copy here */
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->model, MOME_RELEASE);
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

START_TEST(test_release__copies_other_than_remote_read_copies_drop_without_a_word)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 3);
    /* A twinning writer's copy, released (clean): a flush must still reach it. */
    mome_seg_pg(s, 1)->model = MOME_RELEASE;
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_seg_pg(s, 1)->flags &= (uint16_t) ~(MOME_PG_USED | MOME_PG_DIRTY);
    stale(s, 1, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
}
END_TEST

static void grant_during_drop(void *arg)
{
    int mgr = *(int *)arg;
    mome_grant_t g = {
        .seg = 1, .page = 2, .mgr = (uint32_t)mgr, .owner = 3, .rights = MOME_RIGHT_RW};
    msgtest_deliver(MOME_MSG_GRANT, 0, mgr, &g, NULL, 0);
}

static void second_drop_ack(void *arg)
{
    int mgr = *(int *)arg;
    mome_ref_t a = {.seg = 1, .page = 2, .node = (uint32_t)mgr};
    msgtest_deliver(MOME_MSG_DROP_ACK, 0, mgr, &a, NULL, 0);
}

START_TEST(test_release__notice_during_a_drop_is_forgotten_with_the_copy)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = dropped_reader(got);
    int mgr = mome_seg_manager(s, 2);
    /* A later release's notice comes while the drop is open: noted against the busy page. */
    stale(s, 2, 30, 5);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    /* A grant for a page being dropped answers nothing this node asked: it stops the node (it
     * was ignored: helper-115). */
    nc_expect_death(grant_during_drop, &mgr, "for page 2 of segment");
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_BUSY, 0);
    ck_assert_uint_eq(got[1], 0);
    drop_ack(s, 2, mgr);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(msgtest_count(), 0); /* nobody waits: nothing asked */
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_BUSY, 0);
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, 2), 1, 2);
    ck_assert(!x || !x->stale_date);
    /* The next acquire has nothing to do for it; a second DROP_ACK stops the node (ignored, it
     * could end a later drop early: helper-115). */
    mome_rel_acquire(40, done_cb, got);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(got[1], 2);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_NONE);
    nc_expect_death(second_drop_ack, &mgr, "acknowledged a drop of page 2 of segment");
}
END_TEST

START_TEST(test_release__acquire_applies_only_notices_dated_before_it)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    stale(s, 2, 30, 3);
    mome_rel_acquire(20, done_cb, got); /* the change was released after this acquire's date */
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    /* The owner pushed that version meanwhile: the next acquire has nothing to do. */
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_push(&b, 1, 2, 3, a, NC_PAGE), 0);
    mome_rel_t rel = {.date = 1, .origin = 3};
    nc_deliver(MOME_MSG_PUSH, 0, 3, &rel, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 3);
    msgtest_reset();
    mome_rel_acquire(40, done_cb, got);
    ck_assert_uint_eq(got[1], 2);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 0);
}
END_TEST

START_TEST(test_release__acquire_keeps_weak_copies)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    stale(s, 2, 10, 3);
    /* Switched to WEAK: the directory learns the new contract (a READ under WEAK naming the copy
     * it holds), or another node's STRONG write would still take the copy back (helper-88); it
     * confirms it without content. Its notice stays until it asks. */
    char *addr = testnode_addr(s, 2);
    int mgr = mome_seg_manager(s, 2);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, got);
    ck_assert_int_eq(mome_seg_pg(s, 2)->model, MOME_WEAK);
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->model, MOME_WEAK);
    ck_assert_int_ne(r->flags & MOME_REQ_COPY, 0);
    ck_assert_uint_eq(got[1], 0);
    nc_grant(s, 2, 0, 0, 0, mgr, 3);
    ck_assert_uint_eq(got[1], 1);
    msgtest_reset();
    mome_rel_acquire(20, done_cb, got);
    ck_assert_uint_eq(got[1], 2);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), a, NC_PAGE), 0);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
}
END_TEST

START_TEST(test_release__acquire_releases_dirty_stale_copies_first)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 1);
    nc_pattern(a, 5);
    mome_seg_pg(s, 1)->model = MOME_RELEASE;
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_seg_bytes(s, 1)[5] ^= 1; /* written, not released */
    stale(s, 1, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    /* Its writes go to the owner before the copy is replaced. */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
    ck_assert_uint_eq(got[1], 0);
    nc_ack_page(MGR, 1, 1);
    /* Then refreshed: the writer keeps writing it, twinned, with the new content. */
    const mome_msg_t *w = nc_msg(MOME_MSG_WRITE_REQ, mgr);
    ck_assert_int_eq(w->flags, 0);
    ck_assert_uint_eq(got[1], 0);
    nc_data(s, 1, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, a);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_WRITE);
}
END_TEST

/*
 * A notice that comes while an acquire's refresh keeping writes is in flight, for a change the
 * refresh's content lacks, stays pending past the acquire, and the page stays listed for the
 * next one. It was taken off the list when the refresh was asked, and a notice arriving on a
 * page with a notice pending does not list it again: no acquire ever applied the new one, and a
 * lock holder read a counter one short (sync_threads, 1 job in 60).
 */
START_TEST(test_release__notice_during_a_refresh_keeping_writes_waits_for_the_next_acquire)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    int mgr = mome_seg_manager(s, 1);
    acquire_while_written(s, a, got);
    nc_ack_page(MGR, 1, 1); /* the release ends: a refresh keeping those writes */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr));
    stale(s, 1, 25, 5); /* released after the content of the refresh was served */
    nc_data(s, 1, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, a);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(pg->ver, 3);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 1), 1);
    /* The next acquire catches the copy up: it is fetched again, or goes. */
    mome_rel_acquire(30, done_cb, got);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3)); /* the writes made meanwhile go first */
    nc_ack_page(MGR, 1, 1);
    caught_up(pg, mgr);
}
END_TEST

/*
 * A refresh keeping writes is in flight when another thread switches the page to WEAK. The switch
 * releases first, once the refresh has landed (merged on top of the writes made meanwhile): that
 * write goes to the owner, then the directory learns the contract (a READ under WEAK naming the
 * current copy). Switched at once, the transaction asked again under WEAK with MOME_REQ_COPY, the
 * directory answered with content (FWD_SNAP), and install() dropped the copy, twin and all: the
 * write was gone without a word (helper-53's review).
 */
START_TEST(test_release__switch_to_weak_during_a_merge_keeps_writes)
{
    uint8_t a[NC_PAGE], c[NC_PAGE];
    mome_date_t got[2] = {0, 0}, sw[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    int mgr = mome_seg_manager(s, 1);
    acquire_while_written(s, a, got);
    nc_ack_page(MGR, 1, 1); /* the release ends: a refresh keeping those writes */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr));
    char *addr = testnode_addr(s, 1);
    msgtest_reset();
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, sw);
    /* The switch releases first: its release waits for the refresh in flight. */
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(sw[1], 0);
    memcpy(c, a, NC_PAGE);
    c[5] ^= 1; /* the master has the released write, not the one made since */
    nc_data(s, 1, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, c);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(mome_seg_bytes(s, 1)[6], (uint8_t)(a[6] ^ 1)); /* merged on top */
    /* Then the write made since goes to the owner, and the directory learns the contract. */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_ack_page(MGR, 1, 1);
    ck_assert_int_eq(pg->model, MOME_WEAK);
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->model, MOME_WEAK);
    ck_assert_int_ne(r->flags & MOME_REQ_COPY, 0); /* current: confirmed, not fetched */
    ck_assert_uint_eq(sw[1], 0);
    nc_grant(s, 1, 0, 0, 0, mgr, 3);
    ck_assert_uint_eq(sw[1], 1);
    ck_assert_msg(mome_seg_bytes(s, 1)[6] == (uint8_t)(a[6] ^ 1),
                  "a write made during the acquire's release was lost: byte %#x (written %#x)",
                  mome_seg_bytes(s, 1)[6], (uint8_t)(a[6] ^ 1));
}
END_TEST

/*
 * The master's holder, a STRONG writer that another node's read left with a read copy, switches
 * the page to WEAK: it asks the directory for the new contract (a READ naming its copy), and
 * while that is out the page goes to RELEASE and back to WEAK. The directory confirms the copy
 * and names this node the master's holder: the copy is current by definition. It was taken for
 * content asked for across a switch and back (brings_stale) and dropped without a word, with the
 * directory still naming this node the owner: the next reader's FWD_READ stopped the job, "which
 * this node does not hold" (jitter_long, mix_threads mode 25; helper-114).
 */
START_TEST(test_release__a_confirmed_master_across_switches_is_kept)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);

    nc_hold_zero(s, 2, 1, MOME_RIGHT_RW);
    memset(mome_seg_bytes(s, 2), 7, 16); /* what it wrote */
    mome_fwd_t f = {.seg = 1, .page = 2, .node = 3, .model = MOME_STRONG};
    nc_deliver(MOME_MSG_FWD_READ, 0, mgr, &f, NULL, 0); /* node 3 reads: a read copy stays */
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    msgtest_reset();
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, got);
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_int_ne(r->flags & MOME_REQ_COPY, 0);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_RELEASE, done_cb, got);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, got);
    msgtest_reset();
    nc_grant(s, 2, 0, 0, 0, mgr, SELF); /* confirmed: this node holds the master */
    ck_assert_msg(pg->access != MOME_ACC_NONE,
                  "the master's only copy was dropped; the directory names this node its owner");
    ck_assert_int_eq(mome_seg_bytes(s, 2)[15], 7);
    nc_deliver(MOME_MSG_FWD_READ, 0, mgr, &f, NULL, 0); /* the next reader is served */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DATA, 3));
}
END_TEST

/*
 * A copy kept by a FLUSH that does not drop it (a WEAK writer of a page turned single-writer)
 * lost TRACK and had no REMOTE: a switch to RELEASE took it for the master and asked the
 * directory for the new contract while leaving it mapped. Until the content came, a thread that
 * acquired (nothing to catch up: WEAK copies get no notices) read the stale WEAK copy under
 * RELEASE (helper-53's review). It is a read copy of a master held elsewhere (REMOTE): dropped.
 */
START_TEST(test_release__copy_kept_by_a_flush_is_not_read_after_a_switch)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0}, acq[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    nc_pattern(a, 5);
    pg->model = MOME_WEAK;
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_ref_t f = {.seg = 1, .page = 1, .node = MGR};
    nc_deliver(MOME_MSG_FLUSH, 0, MGR, &f, NULL, 0); /* kept (a WEAK holder): not dropped */
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    ck_assert_int_eq(pg->flags & (MOME_PG_TRACK | MOME_PG_OWNER), 0);
    char *addr = testnode_addr(s, 1);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_RELEASE, done_cb, got);
    mome_rel_acquire(40, done_cb, acq); /* another thread takes a lock meanwhile */
    ck_assert_uint_eq(acq[1], 1);
    ck_assert_msg(pg->access == MOME_ACC_NONE || fake_memory_state(addr) == FAKE_ZAPPED ||
                      fake_memory_state(addr) == FAKE_NONE,
                  "a stale WEAK copy stays readable under RELEASE after an acquire (state %d, "
                  "access %d, %d requests out)",
                  fake_memory_state(addr), pg->access, msgtest_count());
}
END_TEST

/* Content arrives for a write request made on a copy with unreleased writes. */
static void content_over_unreleased_writes(void *arg)
{
    mome_seg_t *s = arg;
    static uint8_t c[NC_PAGE];
    mome_data_t d = {.seg = s->id,
                     .page = 1,
                     .mgr = (uint32_t)mome_seg_manager(s, 1),
                     .rights = MOME_RIGHT_RW | MOME_RIGHT_TWIN,
                     .ver = 3};
    msgtest_deliver(MOME_MSG_DATA, MOME_DATA_GRANT, 3, &d, c, NC_PAGE);
}

/* Data safety: content never replaces a copy's unreleased writes without a word (that is what a
 * merge is for); no path asks for it so now, and a defect that did would stop the node. */
START_TEST(test_release__content_over_unreleased_writes_stops_the_node)
{
    uint8_t a[NC_PAGE];
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    dirty_writer(s, a, MOME_RELEASE);
    mome_seg_pg(s, 1)->access = MOME_ACC_READ; /* forced: a write fault now asks for the page */
    nc_fault(s, 1, 1);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mome_seg_manager(s, 1)));
    nc_expect_death(content_over_unreleased_writes, s,
                    "content for page 1 of segment 'test1' came for a copy with writes not "
                    "released yet");
}
END_TEST

/*
 * Content that replaces a copy this node held (its request said it had one, and the directory
 * sent content all the same: a copy kept under WEAK) may be older than a notice that came while
 * the request was out. The notice went with the old copy, and the next lock holder read a
 * counter one short (sync_threads, 1 job in 60). It stays, and the next acquire catches up.
 */
START_TEST(test_release__notice_during_a_fetch_over_a_copy_stays)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    nc_fault(s, 2, 1); /* an upgrade, asked with the copy */
    ck_assert_int_ne(nc_msg(MOME_MSG_WRITE_REQ, mgr)->flags & MOME_REQ_COPY, 0);
    stale(s, 2, 10, 5);
    nc_data(s, 2, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, a); /* served before the change */
    ck_assert_uint_eq(pg->ver, 3);
    mome_pext_t *x = mome_pext_find(pg, 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_uint_eq(x->stale_ver, 5);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    mome_rel_acquire(20, done_cb, got);
    caught_up(pg, mgr);
}
END_TEST

/*
 * A WEAK copy's upgrade is out, vouching for the copy (REQ_COPY), when the page switches to STRONG
 * and back to WEAK. The copy was dropped by the switch: the grant, without content, brought its
 * stale bytes back, and a MomeSyncMem made meanwhile, finding no copy, asked nothing (a lock
 * holder read a counter one short). The copy now stays (out of the views) until the request
 * lands, and the MomeSyncMem asks the owner about it.
 */
START_TEST(test_release__switch_there_and_back_during_an_upgrade_keeps_the_copy)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0}, sy[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);
    nc_pattern(a, 1);
    pg->model = MOME_WEAK;
    nc_hold_data(s, 2, 0, 0, 3, a, 1);
    nc_fault(s, 2, 1);
    ck_assert_int_ne(nc_msg(MOME_MSG_WRITE_REQ, mgr)->flags & MOME_REQ_COPY, 0);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, got);
    ck_assert_uint_eq(got[1], 2);
    ck_assert_int_eq(pg->access, MOME_ACC_READ);
    ck_assert_int_ne(fake_memory_state(addr), FAKE_MAPPED_RO);
    mome_rel_sync(addr, addr + NC_PAGE, 30, done_cb, sy);
    int asked = msgtest_find(MOME_MSG_SYNC_REQ, mgr) != NULL; /* now, or once the grant lands */
    nc_grant(s, 2, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, mgr, 3);
    asked |= msgtest_find(MOME_MSG_SYNC_REQ, mgr) != NULL;
    ck_assert_msg(asked, "MomeSyncMem asked nothing about a WEAK copy (access %d)", pg->access);
}
END_TEST

/*
 * Data safety: a page written again while the acquire waits for its release must not lose those
 * writes when the acquire then refreshes the stale copy.
 */
START_TEST(test_release__acquire_keeps_writes_made_while_it_releases)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    acquire_while_written(s, a, got);
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
    nc_ack_page(MGR, 1, 1);
    /* Those writes are still to be released: the copy stays dirty with its twin (or they were
     * sent to the owner first). */
    mome_pext_t *x = mome_pext_find(pg, 1, 1);
    int kept = (pg->flags & MOME_PG_DIRTY) && x && x->twin;
    int sent = msgtest_count_of(MOME_MSG_DIFF, 3) > 0;
    int flags = pg->flags, access = pg->access;
    void *twin = x ? (void *)x->twin : NULL;
    if (pg->flags & MOME_PG_BUSY) /* answer a refresh, so that the acquire ends either way */
        nc_data(s, 1, 3, mome_seg_manager(s, 1), MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, a);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_msg(kept || sent,
                  "writes made during the acquire's release were dropped: "
                  "flags %#x, twin %p, access %d",
                  flags, twin, access);
}
END_TEST

/* Page 2 of segment 1 held under WEAK, content a at version 4 (node 3 owns the master); b is a
 * second pattern, the newer content. */
static mome_seg_t *weak_copy(uint8_t *a, uint8_t *b)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    mome_seg_pg(s, 2)->model = MOME_WEAK;
    nc_hold_data(s, 2, 0, 0, 3, a, 4);
    return s;
}

START_TEST(test_release__syncmem_asks_about_weak_copies)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    mome_seg_t *s = weak_copy(a, b);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);
    mome_rel_sync(addr, addr + NC_PAGE, 33, done_cb, got);
    const mome_msg_t *q = nc_msg(MOME_MSG_SYNC_REQ, mgr);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->ver, 4);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->node, SELF);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->page, 2);
    ck_assert_uint_eq(got[1], 0);
    /* The owner has newer content. */
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 6};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[0], 33);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 6);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
    /* Current already: SYNC_OK leaves it. */
    mome_rel_sync(addr, addr + NC_PAGE, 34, done_cb, got);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_SYNC_REQ, mgr), mome_req_t)->ver, 6);
    nc_deliver(MOME_MSG_SYNC_OK, 0, 3, &d, NULL, 0);
    ck_assert_uint_eq(got[1], 2);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
}
END_TEST

/* A WEAK copy refreshed once (version 6), then the same answer comes again, unasked. */
static void sync_answer_twice(void *arg)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    (void)arg;
    mome_seg_t *s = weak_copy(a, b);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);
    mome_rel_sync(addr, addr + NC_PAGE, 33, done_cb, got);
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 6};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_uint_eq(got[1], 1);
    d.ver = 5; /* installed, older content went over the copy, and a second DONE left */
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, a, NC_PAGE);
}

START_TEST(test_release__a_refresh_answer_not_asked_for_stops_the_node)
{
    nc_expect_death(sync_answer_twice, NULL,
                    "node 3 answered a refresh of page 2 of segment 'test1' (0x1) that this node "
                    "has not asked for");
}
END_TEST

/*
 * A MomeSyncMem that comes while another thread's refresh of the page is in flight is not served
 * by it: that request may have reached the owner before a release this caller's acquire passed
 * (an audit's program read lock-protected counters one increment short, and the increment made
 * from them undid another node's). It gets the next request, sent with the first answer.
 */
START_TEST(test_release__syncmem_does_not_ride_an_earlier_request)
{
    uint8_t a[NC_PAGE], b[NC_PAGE], c[NC_PAGE];
    mome_date_t first[2] = {0, 0}, second[2] = {0, 0};
    mome_seg_t *s = weak_copy(a, b);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(c, 3);
    char *addr = testnode_addr(s, 2);
    mome_rel_sync(addr, addr + NC_PAGE, 33, done_cb, first);
    mome_rel_sync(addr, addr + NC_PAGE, 40, done_cb, second);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, mgr), 1);
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 6};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_uint_eq(first[1], 1);
    ck_assert_uint_eq(second[1], 0);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_SYNC_REQ, mgr), mome_req_t)->ver, 6);
    d.ver = 7;
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, c, NC_PAGE);
    ck_assert_uint_eq(second[1], 1);
    ck_assert_uint_eq(second[0], 40);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), c, NC_PAGE), 0);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
}
END_TEST

/*
 * Page 2 held by a WEAK writer (twinned; node 3 owns the master, version 4, content a), with a
 * MomeSyncMem of it in flight (got); then another thread writes byte 9 (a fault, then the store).
 * Returns the page's address.
 */
static char *weak_page_written_during_sync(mome_seg_t *s, const uint8_t *a, mome_date_t *got)
{
    char *addr = testnode_addr(s, 2);
    mome_seg_pg(s, 2)->model = MOME_WEAK;
    nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 4);
    mome_rel_sync(addr, addr + NC_PAGE, 33, done_cb, got);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_SYNC_REQ, mome_seg_manager(s, 2)));
    nc_fault(s, 2, 1);
    mome_seg_bytes(s, 2)[9] ^= 0x40;
    return addr;
}

/* A WEAK writer's page written by another thread while its refresh was in flight: the answer's
 * content comes in with those writes on top (it was dropped, and the callers read stale data). */
START_TEST(test_release__syncmem_answer_keeps_writes_made_meanwhile)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    char *addr = weak_page_written_during_sync(s, a, got);
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 6};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_uint_eq(got[1], 1);
    mome_pext_t *x = mome_pext_find(pg, 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(x->twin);
    ck_assert_int_eq(memcmp(x->twin, b, NC_PAGE), 0); /* the next diff is this node's writes */
    b[9] ^= 0x40;
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_uint_eq(pg->ver, 6);
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
    ck_assert_int_eq(fake_memory_state(addr), FAKE_MAPPED_RW);
}
END_TEST

/*
 * A node up with segment 1, whose WEAK copy of page 2 (content a, set here; version 4; the master
 * at *owner, not the page's manager) has a MomeSyncMem (got) in flight when another thread writes
 * byte 9 and releases it (rel): a DIFF to the owner. The answer may have been served before or
 * after the owner merged it.
 */
static mome_seg_t *weak_release_during_sync(uint8_t *a, mome_date_t *got, mome_date_t *rel,
                                            int *owner)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);
    nc_pattern(a, 1);
    *owner = mgr == 2 ? 0 : 2;
    mome_seg_pg(s, 2)->model = MOME_WEAK;
    nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, *owner, a, 4);
    mome_rel_sync(addr, addr + NC_PAGE, 33, done_cb, got);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_SYNC_REQ, mgr));
    nc_fault(s, 2, 1);
    mome_seg_bytes(s, 2)[9] ^= 0x40;
    mome_rel_release(done_cb, rel);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, *owner));
    msgtest_reset();
    return s;
}

/*
 * The owner's answer of version ver to that sync (into b): content a, another node's change at
 * byte 100 (version 5), then this node's released writes as merged: byte 9 (version 6), byte 13
 * (version 7, a second release: two_releases_then_answer).
 */
static void answer(mome_seg_t *s, const uint8_t *a, int owner, uint64_t ver, uint8_t *b)
{
    memcpy(b, a, NC_PAGE);
    b[100] ^= 7;
    if (ver >= 6)
        b[9] ^= 0x40;
    if (ver >= 7)
        b[13] ^= 0x11;
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mome_seg_manager(s, 2), .ver = ver};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, owner, &d, b, NC_PAGE);
}

/*
 * The answer comes while that release is on its way: it waits for the acknowledgement, which
 * brings the merge's version (6). Served before the merge (version 5), it comes in with the
 * released write on top, as the owner merged it; served after (6), as it is (on top again, the
 * XOR would take the write back). Installed as it came, the content of version 5 took back the
 * write; dropped and asked again, the callers of a page that other threads release over and over
 * waited for seconds (sync_releasing, 4 nodes over TCP).
 */
START_TEST(test_release__syncmem_answer_during_a_release_gets_it_once)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    for (uint64_t ver = 5; ver <= 6; ver++) {
        mome_date_t got[2] = {0, 0}, rel[2] = {0, 0};
        int owner;
        mome_seg_t *s = weak_release_during_sync(a, got, rel, &owner);
        int mgr = mome_seg_manager(s, 2);
        answer(s, a, owner, ver, b);
        ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr)); /* the manager's part is over */
        ck_assert_uint_eq(got[1], 0);
        ck_assert_int_eq(mome_seg_bytes(s, 2)[100], a[100]); /* not yet */
        msgtest_reset();
        nc_ack_ver(mgr, 1, 2, 6);
        ck_assert_uint_eq(rel[1], 1);
        ck_assert_uint_eq(got[1], 1);
        ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
        b[9] = (uint8_t)(a[9] ^ 0x40);
        ck_assert_msg(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE) == 0,
                      "the answer of version %llu did not come in with the released write once",
                      (unsigned long long)ver);
        ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, ver);
        nc_down();
    }
}
END_TEST

/*
 * The release is over before the answer comes: its acknowledgement, from the manager, overtook
 * the answer. Served before the merge (version 5), installed as it came, the answer took back the
 * released write, and the same bytes written again later went as an XOR diff that undid them at
 * the owner (mix_threads, mode 24: 1 job in 11 on 3 nodes over TCP). It comes in with the
 * released write on top (or, served after the merge, as it is), a write made since on top of
 * that, and a twin with the released write (the next diff is the new write alone); a caller that
 * came meanwhile asks with the next request (helper-58's case).
 */
START_TEST(test_release__syncmem_answer_after_a_release_gets_it_once)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    for (uint64_t ver = 5; ver <= 6; ver++) {
        mome_date_t got[2] = {0, 0}, got2[2] = {0, 0}, rel[2] = {0, 0};
        int owner;
        mome_seg_t *s = weak_release_during_sync(a, got, rel, &owner);
        mome_page_t *pg = mome_seg_pg(s, 2);
        int mgr = mome_seg_manager(s, 2);
        char *addr = testnode_addr(s, 2);
        mome_rel_sync(addr, addr + NC_PAGE, 34, done_cb, got2); /* waits for the next request */
        ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
        nc_ack_ver(mgr, 1, 2, 6); /* from the manager, before the owner's answer */
        ck_assert_uint_eq(rel[1], 1);
        nc_fault(s, 2, 1); /* written again after the release: unreleased */
        mome_seg_bytes(s, 2)[11] ^= 0x20;
        answer(s, a, owner, ver, b);
        ck_assert_msg(mome_seg_bytes(s, 2)[9] == (uint8_t)(a[9] ^ 0x40),
                      "an answer of version %llu lost this node's released write",
                      (unsigned long long)ver);
        ck_assert_uint_eq(got[1], 1);
        ck_assert_uint_eq(got2[1], 0);
        ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DONE, mgr));
        ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 1);
        ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_SYNC_REQ, mgr), mome_req_t)->ver, ver);
        b[9] = (uint8_t)(a[9] ^ 0x40);
        const mome_pext_t *x = mome_pext_find(pg, 1, 2);
        ck_assert_ptr_nonnull(x);
        ck_assert_ptr_nonnull(x->twin);
        ck_assert_msg(memcmp(x->twin, b, NC_PAGE) == 0, "the twin lacks the released write");
        b[11] ^= 0x20; /* the unreleased write on top */
        ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
        msgtest_reset();
        answer(s, a, owner, 6, b);
        ck_assert_uint_eq(got2[1], 1);
        ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
        b[11] ^= 0x20;
        ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
        ck_assert_uint_eq(pg->ver, 6);
        nc_down();
    }
}
END_TEST

/* Two releases of the page (bytes 9, then 13) while the sync is out, both acknowledged (versions
 * 6 and 7) before the owner's answer of version ver comes. */
static mome_seg_t *two_releases_then_answer(uint8_t *a, mome_date_t *got, uint64_t ver)
{
    mome_date_t rel[2] = {0, 0}, rel2[2] = {0, 0};
    uint8_t b[NC_PAGE];
    int owner;
    mome_seg_t *s = weak_release_during_sync(a, got, rel, &owner);
    int mgr = mome_seg_manager(s, 2);
    nc_ack_ver(mgr, 1, 2, 6);
    nc_fault(s, 2, 1);
    mome_seg_bytes(s, 2)[13] ^= 0x11;
    mome_rel_release(done_cb, rel2);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, owner));
    nc_ack_ver(mgr, 1, 2, 7);
    ck_assert_uint_eq(rel2[1], 1);
    msgtest_reset();
    answer(s, a, owner, ver, b);
    return s;
}

/* An answer older than both merges comes in with both released writes on top; one with both
 * merged, as it is. */
START_TEST(test_release__syncmem_answer_after_two_releases_gets_both_on_top)
{
    uint8_t a[NC_PAGE];
    for (uint64_t ver = 5; ver <= 7; ver += 2) {
        mome_date_t got[2] = {0, 0};
        mome_seg_t *s = two_releases_then_answer(a, got, ver);
        ck_assert_uint_eq(got[1], 1);
        ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
        const uint8_t *c = mome_seg_bytes(s, 2);
        ck_assert_int_eq(c[9], (uint8_t)(a[9] ^ 0x40));
        ck_assert_int_eq(c[13], (uint8_t)(a[13] ^ 0x11));
        ck_assert_int_eq(c[100], (uint8_t)(a[100] ^ 7));
        ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, ver);
        nc_down();
    }
}
END_TEST

/* An answer between the two merges has the first write and lacks the second: which diff made
 * which version is not known (two messages may overtake one another), so the caller asks again. */
START_TEST(test_release__syncmem_answer_between_two_merges_asks_again)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    mome_seg_t *s = two_releases_then_answer(a, got, 6);
    ck_assert_uint_eq(got[1], 0);
    const mome_msg_t *r = nc_msg(MOME_MSG_SYNC_REQ, mome_seg_manager(s, 2));
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->ver, 4); /* nothing installed */
    ck_assert_int_eq(mome_seg_bytes(s, 2)[9], (uint8_t)(a[9] ^ 0x40));
    ck_assert_int_eq(mome_seg_bytes(s, 2)[13], (uint8_t)(a[13] ^ 0x11));
}
END_TEST

/*
 * A flush of the page while a refresh keeping this node's writes is in flight (its request waits
 * at the manager behind the flush's): the flush sends the writes, and the content the refresh gets
 * later, which has them, comes in as it is. The refresh stopped the job ("lost its twin").
 */
START_TEST(test_release__flush_during_a_refresh_keeping_writes)
{
    uint8_t a[NC_PAGE], c[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    int mgr = mome_seg_manager(s, 1);
    dirty_writer(s, a, MOME_WEAK);
    char *addr = testnode_addr(s, 1);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_RELEASE, done_cb, got); /* releases first */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_fault(s, 1, 1); /* another thread writes meanwhile: the switch refreshes keeping it */
    mome_seg_bytes(s, 1)[6] ^= 1;
    nc_ack_page(3, 1, 1);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr));
    ck_assert_uint_eq(got[1], 0);
    mome_ref_t r = {.seg = 1, .page = 1};
    nc_deliver(MOME_MSG_FLUSH, MOME_FLUSH_DROP, MGR, &r, NULL, 0);
    const mome_msg_t *f = nc_msg(MOME_MSG_DIFF, 3);
    ck_assert_int_eq(f->flags, MOME_DIFF_FLUSH);
    memcpy(c, a, NC_PAGE);
    c[5] ^= 1;
    c[6] ^= 1;
    c[100] ^= 7; /* and another node's change */
    nc_data(s, 1, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, c);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), c, NC_PAGE), 0);
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    ck_assert_int_eq(pg->flags & MOME_PG_BUSY, 0);
}
END_TEST

/* A SYNC_DATA that comes while a refresh keeping writes (a switch's merge) is in flight for the
 * page: its content is merged, but the views stay write-protected until the refresh lands
 * (helper-51's review: it re-mapped the page writable, and the merge then raced the writers). */
START_TEST(test_release__sync_answer_during_a_merge_leaves_the_page_protected)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0}, sw[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    char *addr = weak_page_written_during_sync(s, a, got);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_RELEASE, done_cb, sw); /* releases first */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_fault(s, 2, 1); /* written again meanwhile: the switch refreshes keeping it */
    mome_seg_bytes(s, 2)[10] ^= 0x40;
    nc_ack_page(3, 1, 2);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr)); /* the merge */
    mome_pext_t *x = mome_pext_find(pg, 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(x->merging, 1);
    ck_assert_int_ne(fake_memory_state(addr), FAKE_MAPPED_RW);
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 6};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_int_eq(x->merging, 1);
    ck_assert_msg(fake_memory_state(addr) != FAKE_MAPPED_RW,
                  "the SYNC_DATA made the page writable while its merge is in flight");
}
END_TEST

/*
 * A held answer must not replace content installed after it came (helper-59's review). A sync is
 * out when a switch to RELEASE releases the page (kept diff, acknowledged: version 5) and refreshes
 * it keeping a write made meanwhile (the merge's WRITE_REQ); a FLUSH for another node's STRONG
 * request then sends that write (a second kept diff). The new STRONG owner (node R) answers the
 * sync (version 7, content A), which waits for the flushed diff's acknowledgement; the merge's
 * content (version 8, B: R wrote byte 200 since) comes from R after it, and makes this node the
 * MULTI owner. The old owner's acknowledgement of the flushed diff (version 6) comes last: the
 * answer, which has both diffs, must not go over the master B (it took R's write back, and the
 * version back to 7).
 */
START_TEST(test_release__held_syncmem_answer_does_not_replace_newer_content)
{
    uint8_t a[NC_PAGE], A[NC_PAGE], B[NC_PAGE];
    mome_date_t got[2] = {0, 0}, sw[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2), R = mgr == 2 ? 0 : 2;
    nc_pattern(a, 1);
    char *addr = weak_page_written_during_sync(s, a, got); /* byte 9 */
    mome_rel_switch(addr, addr + NC_PAGE, MOME_RELEASE, done_cb, sw);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_fault(s, 2, 1);
    mome_seg_bytes(s, 2)[10] ^= 0x40;
    nc_ack_ver(mgr, 1, 2, 5);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr)); /* the merge */
    mome_ref_t r = {.seg = 1, .page = 2};
    nc_deliver(MOME_MSG_FLUSH, 0, mgr, &r, NULL, 0);
    ck_assert_int_eq(nc_msg(MOME_MSG_DIFF, 3)->flags, MOME_DIFF_FLUSH);
    memcpy(A, a, NC_PAGE);
    A[9] ^= 0x40;
    A[10] ^= 0x40;
    A[100] ^= 7;
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 7};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, R, &d, A, NC_PAGE);
    memcpy(B, A, NC_PAGE);
    B[200] ^= 0x22;
    nc_data(s, 2, R, mgr, MOME_RIGHT_RW | MOME_RIGHT_OWNER, 0, 8, B);
    ck_assert_uint_eq(sw[1], 1);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), B, NC_PAGE), 0);
    ck_assert_int_ne(pg->flags & MOME_PG_OWNER, 0);
    nc_ack_ver(3, 1, 2, 6); /* the flushed diff, from the old owner */
    ck_assert_uint_eq(got[1], 1);
    ck_assert_msg(memcmp(mome_seg_bytes(s, 2), B, NC_PAGE) == 0,
                  "the held answer (version 7) replaced the newer master (version 8)");
    ck_assert_uint_eq(pg->ver, 8);
}
END_TEST

/*
 * A FLUSH of the page while an answer waits for the release's acknowledgement (helper-59's
 * review): the flush waits for the release, then sends the write made since (a second diff, the
 * owner's acknowledgement); the held answer has neither (version 5 against merges 6 and 7): its
 * caller asks again once both are in, and the next answer comes in as it is.
 */
START_TEST(test_release__flush_during_a_held_syncmem_answer)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0}, rel[2] = {0, 0};
    int owner;
    mome_seg_t *s = weak_release_during_sync(a, got, rel, &owner);
    int mgr = mome_seg_manager(s, 2);
    answer(s, a, owner, 5, b); /* held */
    ck_assert_uint_eq(got[1], 0);
    nc_fault(s, 2, 1);
    mome_seg_bytes(s, 2)[11] ^= 0x20;
    mome_ref_t r = {.seg = 1, .page = 2};
    nc_deliver(MOME_MSG_FLUSH, 0, mgr, &r, NULL, 0); /* waits for the release */
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, -1), 0);
    nc_ack_ver(mgr, 1, 2, 6);
    ck_assert_int_eq(nc_msg(MOME_MSG_DIFF, owner)->flags, MOME_DIFF_FLUSH);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
    ck_assert_uint_eq(got[1], 0);
    nc_ack_ver(owner, 1, 2, 7);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 1);
    ck_assert_uint_eq(got[1], 0);
    memcpy(b, a, NC_PAGE);
    b[9] ^= 0x40;
    b[11] ^= 0x20;
    b[100] ^= 7;
    mome_data_t d = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr, .ver = 7};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, owner, &d, b, NC_PAGE);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
}
END_TEST

START_TEST(test_release__syncmem_leaves_other_models_alone)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    nc_hold_data(s, 0, 0, 0, 3, a, 4); /* STRONG */
    release_reader(s, 1, a);
    char *addr = testnode_addr(s, 0);
    mome_rel_sync(addr, addr + 2 * NC_PAGE, 33, done_cb, got);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(got[1], 1);
}
END_TEST

START_TEST(test_release__switch_to_strong_drops_a_non_owner_copy)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    char *addr = testnode_addr(s, 2);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_pg(s, 2)->model, MOME_STRONG);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_NONE);
    ck_assert_int_eq(fake_memory_state(addr), FAKE_ZAPPED);
}
END_TEST

START_TEST(test_release__switch_to_strong_of_an_owned_page_asks_the_directory)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 3);
    mome_seg_pg(s, 3)->model = MOME_RELEASE;
    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    char *addr = testnode_addr(s, 3);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    /* The master stays; the directory stops the other writers before the switch completes. */
    const mome_msg_t *r = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_int_eq(r->flags, MOME_REQ_COPY);
    ck_assert_uint_eq(NC_BODY(r, mome_req_t)->model, MOME_STRONG);
    ck_assert_uint_eq(got[1], 0);
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_WRITE);
    nc_grant(s, 3, 0, MOME_RIGHT_RW, 0, mgr, 0);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 3)->model, MOME_STRONG);
}
END_TEST

/*
 * Page 3, whose MULTI master (bytes a) this node owns under WEAK, switched to STRONG: the switch's
 * request is out when the manager flushes this node for a single-writer request. A reader then
 * faults. Returns the page's address; the page is not readable.
 */
static char *master_flushed_during_a_switch(mome_seg_t *s, const uint8_t *a, mome_date_t *got)
{
    mome_page_t *pg = mome_seg_pg(s, 3);
    int mgr = mome_seg_manager(s, 3);
    pg->model = MOME_WEAK;
    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    memcpy(mome_seg_bytes(s, 3), a, NC_PAGE);
    char *addr = testnode_addr(s, 3);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_READ_REQ, mgr));
    mome_ref_t r = {.seg = 1, .page = 3, .node = (uint32_t)mgr};
    nc_deliver(MOME_MSG_FLUSH, 0, mgr, &r, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_FLUSH_ACK, mgr));
    ck_assert_msg(fake_memory_state(addr) != FAKE_MAPPED_RO,
                  "a master flushed and kept by its WEAK contract stays readable under STRONG "
                  "while the switch's request is out (access %d)",
                  pg->access);
    nc_fault(s, 3, 0); /* a reader waits for the switch's request */
    ck_assert_int_ne(fake_memory_state(addr), FAKE_MAPPED_RO);
    return addr;
}

/*
 * The manager orders another node's STRONG write before this node's switch to STRONG: it flushes
 * the owner, the page turning single-writer, keeps its master as a reader by the WEAK contract on
 * record, and forwards the write to it (FWD_WRITE with KEEP). Left mapped, the master was read
 * under STRONG after a barrier that ordered the new writer's change before the read (mix_threads,
 * 1 job in 150). The switch's answer brings the writer's content.
 */
START_TEST(test_release__master_flushed_during_a_switch_to_strong_is_not_read)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 3), writer = mgr == 2 ? 3 : 2;
    nc_pattern(a, 22);
    char *addr = master_flushed_during_a_switch(s, a, got);
    mome_fwd_t f = {.seg = 1, .page = 3, .node = (uint32_t)writer, .rights = MOME_RIGHT_RW};
    nc_deliver(MOME_MSG_FWD_WRITE, MOME_FWD_KEEP, mgr, &f, NULL, 0);
    ck_assert_int_eq(memcmp(nc_msg(MOME_MSG_DATA, writer)->payload, a, NC_PAGE), 0);
    ck_assert_int_ne(fake_memory_state(addr), FAKE_MAPPED_RO);
    nc_pattern(b, 23); /* the writer's change, forwarded to this node's request */
    nc_data(s, 3, writer, mgr, 0, 0, 5, b);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 3)->model, MOME_STRONG);
    ck_assert_int_eq(fake_memory_state(addr), FAKE_MAPPED_RO);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 3), b, NC_PAGE), 0);
}
END_TEST

/*
 * The same FLUSH for this node's own request, or for a writer whose copy was current (granted,
 * nothing more said to this node): the switch's answer is a grant without content, which maps
 * nothing by itself; the reader that waited, and any later one, read the master.
 */
START_TEST(test_release__master_flushed_during_a_switch_to_strong_comes_back_with_the_grant)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 21);
    char *addr = master_flushed_during_a_switch(s, a, got);
    nc_grant(s, 3, 0, 0, 0, mome_seg_manager(s, 3), SELF);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 3)->access, MOME_ACC_READ);
    ck_assert_int_eq(mome_seg_pg(s, 3)->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(fake_memory_state(addr), FAKE_MAPPED_RO);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 3), a, NC_PAGE), 0);
}
END_TEST

/*
 * Data safety, as for the acquire: a twinning writer's page written again while the switch
 * releases must not be dropped with those writes when the switch then enters STRONG.
 */
START_TEST(test_release__switch_keeps_writes_made_while_it_releases)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 1);
    dirty_writer(s, a, MOME_RELEASE);
    char *addr = testnode_addr(s, 1);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got); /* releases first */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_fault(s, 1, 1); /* another thread writes the page meanwhile */
    mome_seg_bytes(s, 1)[6] ^= 1;
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
    nc_ack_page(MGR, 1, 1);
    mome_pext_t *x = mome_pext_find(pg, 1, 1);
    int kept = (pg->flags & MOME_PG_DIRTY) && x && x->twin;
    int sent = msgtest_count_of(MOME_MSG_DIFF, 3) > 0;
    ck_assert_msg(kept || sent,
                  "writes made during the switch's release were dropped: "
                  "flags %#x, twin %p, access %d",
                  pg->flags, x ? (void *)x->twin : NULL, pg->access);
}
END_TEST

/* Requests recorded now for page `page`: of message type `type` (0: reads and writes), under
 * model `model` (-1: any). */
static int requests(uint64_t page, int type, int model)
{
    int n = 0;
    for (int i = 0; i < msgtest_count(); i++) {
        const msgtest_sent_t *m = msgtest_at(i);
        const mome_req_t *r = (const mome_req_t *)mome_msg_body(&m->m);
        n += (type ? m->m.type == type
                   : m->m.type == MOME_MSG_READ_REQ || m->m.type == MOME_MSG_WRITE_REQ) &&
             r->page == page && (model < 0 || r->model == (uint32_t)model);
    }
    return n;
}

/*
 * A copy this node holds as STRONG must have been granted under STRONG: the directory keeps the
 * contract of the model a copy was requested under (a WEAK copy is never invalidated).
 */
START_TEST(test_release__switch_to_strong_while_a_weak_fetch_is_in_flight)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    pg->model = MOME_WEAK;
    nc_fault(s, 2, 0); /* another thread: READ_REQ under WEAK, in flight */
    ck_assert_int_eq(requests(2, 0, MOME_WEAK), 1);
    msgtest_reset();
    char *addr = testnode_addr(s, 2);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    int strong = requests(2, 0, MOME_STRONG);
    /* The manager answers the WEAK request. */
    mome_grant_t g = {.seg = 1, .page = 2, .mgr = (uint32_t)mgr};
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_GRANT, MOME_GRANT_ZERO, mgr, &g, NULL, 0), 0);
    strong += requests(2, 0, MOME_STRONG);
    ck_assert_msg(pg->access == MOME_ACC_NONE || pg->model != MOME_STRONG || strong > 0,
                  "page held as %s (model %d) from a grant made under WEAK, and no STRONG "
                  "request was made (switch done: %d)",
                  pg->access == MOME_ACC_READ ? "a read copy" : "a copy", pg->model, (int)got[1]);
}
END_TEST

/* Is the page's address in s's first view mapped (readable)? */
static int mapped(mome_seg_t *s, uint64_t page)
{
    int st = fake_memory_state(testnode_addr(s, page));
    return st == FAKE_MAPPED_RO || st == FAKE_MAPPED_RW;
}

/*
 * A WEAK read copy whose write fault's upgrade is in flight, switched to STRONG: the request is
 * asked again under STRONG when it lands, and until then the copy fetched under WEAK must not be
 * read (helper-50's audit: the next lock holder read a counter one short, 9 jobs in 10). It
 * leaves the views; the content comes back with the STRONG request.
 */
START_TEST(test_release__switch_to_strong_during_an_upgrade_unmaps_the_weak_copy)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    pg->model = MOME_WEAK;
    /* A read copy the manager granted as zeros, naming no other node's master (so not a
     * REMOTE copy, which the switch drops anyway). */
    nc_fault(s, 2, 0);
    nc_grant(s, 2, MOME_GRANT_ZERO, 0, 0, mome_seg_manager(s, 2), SELF);
    ck_assert(mapped(s, 2));
    ck_assert_int_eq(pg->flags & MOME_PG_REMOTE, 0);
    nc_fault(s, 2, 1); /* another thread writes: an upgrade, in flight */
    ck_assert_int_ne(pg->flags & MOME_PG_BUSY, 0);
    char *addr = testnode_addr(s, 2);
    mome_rel_switch(addr, addr + NC_PAGE, MOME_STRONG, done_cb, got);
    ck_assert_int_eq(pg->model, MOME_STRONG);
    ck_assert_msg(!mapped(s, 2), "the WEAK copy is still readable after the switch to STRONG");
}
END_TEST

/*
 * A RELEASE read copy's upgrade (a write fault) is out, and another thread's read fault, through
 * another view, waits on it too (the newest waiter heads the list), when the page switches to
 * WEAK. The grant, made under RELEASE, is asked again under WEAK: for writing, since one of the
 * waiters writes (asked as the first waiter alone wanted, a read, the writer waited for a third
 * round: a write request after the read one).
 */
START_TEST(test_release__switch_during_an_upgrade_asks_again_for_writing)
{
    uint8_t a[NC_PAGE];
    mome_date_t sw[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_page_t *pg = mome_seg_pg(s, 2);
    int mgr = mome_seg_manager(s, 2);
    char *addr = testnode_addr(s, 2);
    nc_pattern(a, 1);
    release_reader(s, 2, a);
    nc_fault(s, 2, 1); /* the upgrade, asked with the copy */
    ck_assert_int_eq(requests(2, MOME_MSG_WRITE_REQ, MOME_RELEASE), 1);
    mome_view_t *v = nc_view(s);
    nc_fault_at(v->addr + 2 * NC_PAGE, 0); /* a reader in another view: waits for it */
    mome_rel_switch(addr, addr + NC_PAGE, MOME_WEAK, done_cb, sw); /* weaker: at once */
    ck_assert_uint_eq(sw[1], 1);
    nc_grant(s, 2, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, mgr, 3);
    ck_assert_msg(requests(2, MOME_MSG_WRITE_REQ, MOME_WEAK) == 1 &&
                      requests(2, MOME_MSG_READ_REQ, -1) == 0,
                  "asked again under WEAK with %d read and %d write requests, a writer waiting",
                  requests(2, MOME_MSG_READ_REQ, -1), requests(2, MOME_MSG_WRITE_REQ, -1));
    nc_grant(s, 2, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, mgr, 3);
    ck_assert_int_eq(requests(2, 0, -1), 0); /* both waiters served */
    ck_assert_int_eq(pg->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(pg->access, MOME_ACC_WRITE);
    ck_assert_int_ne(pg->flags & MOME_PG_DIRTY, 0);
}
END_TEST

/*
 * Page 1 of a RELEASE segment read ahead (a fault on page 0), its request in flight; then a
 * notice that it lacks version 3, released at date 10, and an acquire at 20 (the acquire cannot
 * deal with a copy still on its way).
 */
static mome_seg_t *read_ahead(int model)
{
    uint8_t z[NC_PAGE];
    mome_coh.prefetch = 1;
    mome_seg_t *s = testnode_segment(1, 4);
    mome_seg_pg(s, 0)->model = mome_seg_pg(s, 1)->model = (uint8_t)model;
    nc_fault(s, 0, 0);
    ck_assert_int_eq(requests(1, MOME_MSG_READ_REQ, -1), 1); /* read ahead */
    nc_pattern(z, 9);
    nc_data(s, 0, 3, mome_seg_manager(s, 0), 0, 0, 1, z);
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    return s;
}

static mome_seg_t *read_ahead_then_acquire(mome_date_t *got)
{
    mome_seg_t *s = read_ahead(MOME_RELEASE);
    stale(s, 1, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    ck_assert_uint_eq(got[1], 1);
    msgtest_reset();
    return s;
}

/*
 * Release consistency: content older than a change released before an acquire must not become
 * visible after it. The read-ahead asked before the acquire brings version 1 after it: nobody
 * waits for it, so it is dropped, not mapped (a later use fetches the current content).
 */
START_TEST(test_release__acquire_during_a_read_ahead_drops_its_old_content)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = read_ahead_then_acquire(got);
    nc_pattern(a, 1);
    nc_data(s, 1, 3, mome_seg_manager(s, 1), 0, 0, 1, a);
    ck_assert_msg(!mapped(s, 1),
                  "page 1 mapped (state %d, access %d, version %llu) with version 1 after an "
                  "acquire at date 20 that follows the release of version 3 (date 10)",
                  fake_memory_state(testnode_addr(s, 1)), mome_seg_pg(s, 1)->access,
                  (unsigned long long)mome_seg_pg(s, 1)->ver);
    ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(mome_coh.outstanding, 0);
    /* Its next use fetches it afresh. */
    nc_fault(s, 1, 0);
    ck_assert_int_eq(requests(1, MOME_MSG_READ_REQ, -1), 1);
}
END_TEST

/* The same with a thread that faulted on the page after the acquire: it waits for the current
 * content, not the old version in flight. */
START_TEST(test_release__acquire_during_a_read_ahead_does_not_wake_a_reader_with_old_content)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = read_ahead_then_acquire(got);
    int mgr = mome_seg_manager(s, 1);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    nc_fault(s, 1, 0); /* joins the read-ahead */
    ck_assert_int_eq(msgtest_count(), 0);
    nc_data(s, 1, 3, mgr, 0, 0, 1, a);
    ck_assert_msg(!mapped(s, 1),
                  "the reader was woken (state %d) with version 1 after an acquire at date 20 "
                  "that follows the release of version 3 (date 10)",
                  fake_memory_state(testnode_addr(s, 1)));
    ck_assert_int_eq(requests(1, MOME_MSG_READ_REQ, -1), 1); /* asked again for it */
    ck_assert_int_ne(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
    nc_data(s, 1, 3, mgr, 0, 0, 3, b);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), b, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 3);
    /* The notice is settled (its entry in the list goes at the next acquire). */
    ck_assert_ptr_null(mome_pext_find(mome_seg_pg(s, 1), 1, 1));
    ck_assert_int_eq(mome_coh.outstanding, 0);
}
END_TEST

/*
 * Page 1 of a WEAK segment read ahead, its request in flight, then a MomeSyncMem of it at date
 * 20. WEAK copies take no notices, so nothing says whether the answer on its way was served before
 * or after a change released before 20: the caller waits for it, then asks about the copy it
 * leaves. The read-ahead had been sent before a thread's lock acquire and MomeSyncMem, which asked
 * nothing; its answer, served before the previous holder's increment, was mapped, and the
 * increment was made twice from the same value (mix_threads mode 25, 2 jobs in 2,759).
 */
static mome_seg_t *read_ahead_then_syncmem(mome_date_t *got, const uint8_t *a, int reader)
{
    mome_seg_t *s = read_ahead(MOME_WEAK);
    char *addr = testnode_addr(s, 1);
    int mgr = mome_seg_manager(s, 1);
    msgtest_reset();
    mome_rel_sync(addr, addr + NC_PAGE, 20, done_cb, got);
    ck_assert_msg(got[1] == 0, "MomeSyncMem returned while the read-ahead was in flight");
    if (reader) /* and a second caller, served by the same SYNC_REQ */
        mome_rel_sync(addr, addr + NC_PAGE, 21, done_cb, got + 2);
    if (reader)
        nc_fault(s, 1, 0); /* another thread, which joins the read-ahead */
    ck_assert_int_eq(msgtest_count(), 0);
    nc_data(s, 1, 3, mgr, 0, 0, 1, a);
    ck_assert_uint_eq(got[1], 0);
    ck_assert_int_eq(requests(1, 0, -1), 0); /* no second fetch */
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 1);
    const mome_msg_t *q = nc_msg(MOME_MSG_SYNC_REQ, mgr);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->ver, 1);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->page, 1);
    return s;
}

/* The owner has newer content: the caller returns with it. A thread that faulted meanwhile was
 * served by the read-ahead (it has not synced since it left). */
START_TEST(test_release__syncmem_during_a_weak_read_ahead_waits_for_it_then_asks)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[4] = {0, 0, 0, 0};
    nc_up(NODES, SELF);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    mome_seg_t *s = read_ahead_then_syncmem(got, a, 1);
    int mgr = mome_seg_manager(s, 1);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    mome_data_t d = {.seg = 1, .page = 1, .mgr = (uint32_t)mgr, .ver = 3};
    nc_deliver(MOME_MSG_SYNC_DATA, 0, 3, &d, b, NC_PAGE);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[0], 20);
    ck_assert_uint_eq(got[3], 1);
    ck_assert_uint_eq(got[2], 21);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), b, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 3);
    ck_assert_int_eq(mome_coh.outstanding, 0);
}
END_TEST

/* The segment is freed here before the read-ahead is answered, and the request with it
 * (mome_coh_seg_free forgets its requests; testnode frees the segment itself): the caller
 * returns. */
START_TEST(test_release__syncmem_waiting_for_a_read_ahead_ends_with_its_segment)
{
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = read_ahead(MOME_WEAK);
    char *addr = testnode_addr(s, 1);
    mome_rel_sync(addr, addr + NC_PAGE, 20, done_cb, got);
    ck_assert_uint_eq(got[1], 0);
    mome_req_forget_seg(s->id);
    ck_assert_uint_eq(got[1], 1);
}
END_TEST

/*
 * A request for page 1 out (a read-ahead, or with write = 1 a write fault) when the page is
 * switched to another model and back (model a, then b, then a again) while cross(s, addr, got)
 * makes the other model see a MomeSyncMem or a barrier at date 20 for it: the content it brings,
 * version 1, served before a change released at date 10, must not be used. The models match at both
 * ends, and it was mapped; asked again as a copy (MOME_REQ_COPY), a grant without content mapped it
 * as well (helper-68's review). A read-ahead just ends; a writer's request is asked again for
 * content, and the writer gets version 3.
 */
static void across_a_switch_and_back(int a, int b,
                                     void (*cross)(mome_seg_t *, char *, mome_date_t *), int write)
{
    uint8_t v1[NC_PAGE], v3[NC_PAGE];
    mome_date_t got[2] = {0, 0}, sw[2] = {0, 0};
    uint32_t rights = write ? MOME_RIGHT_RW | MOME_RIGHT_TWIN : 0;
    nc_up(NODES, SELF);
    nc_pattern(v1, 1);
    nc_pattern(v3, 3);
    mome_seg_t *s;
    if (write) {
        s = testnode_segment(1, 4);
        mome_seg_pg(s, 1)->model = (uint8_t)a;
        nc_fault(s, 1, 1);
        ck_assert_int_eq(requests(1, MOME_MSG_WRITE_REQ, a), 1);
    } else {
        s = read_ahead(a);
    }
    int mgr = mome_seg_manager(s, 1);
    char *addr = testnode_addr(s, 1);
    mome_rel_switch(addr, addr + NC_PAGE, b, done_cb, sw);
    ck_assert_uint_eq(sw[1], 1); /* no copy: the model changes at once */
    cross(s, addr, got);
    ck_assert_uint_eq(got[1], 1);
    mome_rel_switch(addr, addr + NC_PAGE, a, done_cb, sw);
    ck_assert_uint_eq(sw[1], 2);
    msgtest_reset();
    nc_data(s, 1, 3, mgr, rights, 0, 1, v1);
    ck_assert_msg(!mapped(s, 1),
                  "version 1, asked for under %s, mapped after a switch to %s and back across a "
                  "synchronisation at date 20 that follows a release at date 10",
                  mome_model_of_id((uint8_t)a)->name, mome_model_of_id((uint8_t)b)->name);
    if (!write) {
        ck_assert_int_eq(requests(1, 0, -1), 0);
        ck_assert_int_eq(mome_seg_pg(s, 1)->access, MOME_ACC_NONE);
        ck_assert_int_eq(mome_seg_pg(s, 1)->flags & MOME_PG_BUSY, 0);
        ck_assert_int_eq(mome_coh.outstanding, 0);
        return;
    }
    ck_assert_int_eq(requests(1, MOME_MSG_WRITE_REQ, a), 1);
    ck_assert_int_eq(nc_msg(MOME_MSG_WRITE_REQ, mgr)->flags & MOME_REQ_COPY, 0);
    nc_data(s, 1, 3, mgr, rights, 0, 3, v3);
    ck_assert_int_eq(fake_memory_state(addr), FAKE_MAPPED_RW);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), v3, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 1)->ver, 3);
    ck_assert_int_eq(mome_coh.outstanding, 0);
}

/* MomeSyncMem(20) under RELEASE: a page without a copy has nothing to ask (its notices would
 * do), but the request was made under WEAK, whose holders the directory sends no notices. */
static void syncmem_at_20(mome_seg_t *s, char *addr, mome_date_t *got)
{
    (void)s;
    mome_rel_sync(addr, addr + NC_PAGE, 20, done_cb, got);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SYNC_REQ, -1), 0);
}

/* A barrier at date 20 whose exit carries node 3's notice of version 3 (date 10), passed by
 * under WEAK, which takes no notices. */
static void barrier_notice_at_20(mome_seg_t *s, char *addr, mome_date_t *got)
{
    (void)addr;
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_bnotice(&b, s->id, 1, 3, 10, 0), 0);
    mome_rel_barrier_acquire(1, 20, b.buf, (uint32_t)b.len, done_cb, got);
    mome_batch_free(&b);
}

/* Helper-67's two windows (from the code): W2, a WEAK request across a MomeSyncMem made under
 * RELEASE, and W1, a RELEASE request across a barrier passed under WEAK; each for a read-ahead and
 * for a write fault. */
START_TEST(test_release__weak_read_ahead_across_a_release_syncmem_is_not_used)
{
    across_a_switch_and_back(MOME_WEAK, MOME_RELEASE, syncmem_at_20, 0);
}
END_TEST

START_TEST(test_release__weak_write_across_a_release_syncmem_gets_content_again)
{
    across_a_switch_and_back(MOME_WEAK, MOME_RELEASE, syncmem_at_20, 1);
}
END_TEST

START_TEST(test_release__release_read_ahead_across_a_weak_barrier_is_not_used)
{
    across_a_switch_and_back(MOME_RELEASE, MOME_WEAK, barrier_notice_at_20, 0);
}
END_TEST

START_TEST(test_release__release_write_across_a_weak_barrier_gets_content_again)
{
    across_a_switch_and_back(MOME_RELEASE, MOME_WEAK, barrier_notice_at_20, 1);
}
END_TEST

/* The read-ahead's content is current (SYNC_OK): the caller returns, and the copy stays. */
START_TEST(test_release__syncmem_during_a_current_weak_read_ahead_keeps_its_content)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    nc_pattern(a, 1);
    mome_seg_t *s = read_ahead_then_syncmem(got, a, 0);
    int mgr = mome_seg_manager(s, 1);
    mome_data_t d = {.seg = 1, .page = 1, .mgr = (uint32_t)mgr, .ver = 1};
    nc_deliver(MOME_MSG_SYNC_OK, 0, 3, &d, NULL, 0);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_uint_eq(got[0], 20);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), a, NC_PAGE), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 1)), FAKE_MAPPED_RO);
    ck_assert_int_eq(mome_coh.outstanding, 0);
}
END_TEST

/*
 * A read copy (version 1) stays mapped while its write fault asks for write access: an acquire
 * passing a notice for it then takes it out of the views (nobody reads it meanwhile), and the
 * grant, which keeps that copy, is not used: the write waits for the current content.
 */
START_TEST(test_release__acquire_during_an_upgrade_takes_the_old_copy_away)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    nc_pattern(b, 2);
    release_reader(s, 2, a);
    nc_fault(s, 2, 1);
    ck_assert_int_eq(nc_msg(MOME_MSG_WRITE_REQ, mgr)->flags, MOME_REQ_COPY);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RO);
    stale(s, 2, 10, 3);
    mome_rel_acquire(20, done_cb, got);
    ck_assert_uint_eq(got[1], 1);
    ck_assert_msg(!mapped(s, 2),
                  "version 1 still readable (state %d) after an acquire at date 20 that follows "
                  "the release of version 3 (date 10)",
                  fake_memory_state(testnode_addr(s, 2)));
    msgtest_reset();
    nc_grant(s, 2, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, mgr, 3);
    ck_assert_msg(!mapped(s, 2), "the writer was woken (state %d) on version 1",
                  fake_memory_state(testnode_addr(s, 2)));
    const mome_msg_t *w = nc_msg(MOME_MSG_WRITE_REQ, mgr);
    ck_assert_int_eq(w->flags, 0); /* content wanted */
    nc_data(s, 2, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 3, b);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 2)), FAKE_MAPPED_RW);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 3);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY,
                     0); /* twinned: the write is noticed */
}
END_TEST

START_TEST(test_release__releases_queue_one_in_flight)
{
    uint8_t a[NC_PAGE];
    mome_date_t g1[2] = {0, 0}, g2[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_seg_bytes(s, 1)[0] ^= 1;
    mome_rel_release(done_cb, g1);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, 3), 1);
    msgtest_reset();
    mome_rel_release(done_cb, g2); /* queued: its writes may be newer */
    ck_assert_int_eq(msgtest_count(), 0);
    nc_ack_page(MGR, 1, 1);
    ck_assert_uint_eq(g1[1], 1);
    ck_assert_uint_eq(g2[1], 1); /* nothing written since: its own release completed at once */
    ck_assert_uint_gt(g2[0], g1[0]);
    ck_assert_int_eq(mome_rel_busy(), 0);
}
END_TEST

/* A NOTICE_ACK of `pages` entries from the manager, for a segment not open here (freed, as far as
 * this node knows: only the count can tell it from an honest late one) (raw: in a child). */
static void notice_ack_of(void *arg)
{
    mome_batch_t b = {0};
    for (int i = 0; i < *(int *)arg; i++)
        if (mome_batch_notice(&b, 77, 1, 2) < 0)
            return;
    msgtest_deliver(MOME_MSG_NOTICE_ACK, 0, MGR, NULL, b.buf, (uint32_t)b.len);
}

/* More acknowledgements than this node awaits (none between releases, two for the release's one
 * diff, one after it ended) stop the node: counted, they ended a release before its pages were
 * known, or cut a later one short. */
START_TEST(test_release__an_acknowledgement_not_awaited_stops_the_node)
{
    uint8_t a[NC_PAGE];
    mome_date_t g[2] = {0, 0};
    int one = 1, two = 2;
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_expect_death(notice_ack_of, &one, "node 0 acknowledged 1 released pages");
    nc_pattern(a, 1);
    nc_hold_data(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 1);
    mome_seg_bytes(s, 1)[0] ^= 1;
    mome_rel_release(done_cb, g);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_DIFF, 3), 1);
    nc_expect_death(notice_ack_of, &two, "node 0 acknowledged 2 released pages");
    nc_ack_page(MGR, 1, 1);
    ck_assert_uint_eq(g[1], 1);
    nc_expect_death(notice_ack_of, &one, "more than this node awaits");
}
END_TEST

/*
 * Versions restart at 0 each time a job gets a page back from momed, and a node whose copy went in
 * the recall keeps the version of the page's last stay. A notice that comes while the page is
 * fetched again was compared with that version, taken for old and dropped: the content fetched,
 * older than the notice, then stayed after an acquire that passed it (helper-121; 3 nodes: owner,
 * manager and reader apart). A page fetched without a copy here has no version to compare with.
 */
START_TEST(test_release__a_notice_during_a_fetch_is_not_judged_by_an_old_version)
{
    uint8_t a[NC_PAGE];
    mome_date_t got[2] = {0, 0};
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    int mgr = mome_seg_manager(s, 2);
    nc_pattern(a, 1);
    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    nc_hold_data(s, 2, 0, 0, 3, a, 40); /* the last stay: version 40 */
    mome_copy_drop(s, 2);               /* gone in the recall */
    nc_fault(s, 2, 0);                  /* the next stay: fetched again */
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_READ_REQ, mgr));
    stale(s, 2, 10, 5); /* the owner's release, version 5, overtakes the content */
    nc_data(s, 2, 3, mgr, 0, 0, 2, a);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 2);
    mome_rel_acquire(20, done_cb, got);
    caught_up(mome_seg_pg(s, 2), mgr);
}
END_TEST

/* A job (this node SELF of NODES) with page 2 of segment 1 under WEAK here, content patterns
 * a and b (b may be NULL); held writable and twinned, node 3's master at version 4, if held. */
static mome_seg_t *weak_page_2(uint8_t *a, uint8_t *b, int held)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    if (b)
        nc_pattern(b, 2);
    mome_seg_pg(s, 2)->model = MOME_WEAK;
    if (held)
        nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 3, a, 4);
    return s;
}

/*
 * A WEAK writer of a page node 3 owns (twinned) opens it again after a release without asking
 * while no acquire began since its content came; after one (a barrier's, a lock's), its write asks
 * the directory, whose owner sends the master's content: a twin of its old copy would give the
 * master, for a word another node wrote before that acquire, old ^ new ^ theirs (helper-127).
 */
START_TEST(test_release__a_weak_writer_asks_again_after_an_acquire)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t rel[2] = {0, 0}, acq[2] = {0, 0};
    mome_seg_t *s = weak_page_2(a, b, 1);
    int mgr = mome_seg_manager(s, 2);
    mome_seg_bytes(s, 2)[9] ^= 0x40;
    mome_rel_release(done_cb, rel);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    nc_ack_ver(3, 1, 2, 5);
    ck_assert_uint_eq(rel[1], 1);
    /* The content came in this acquire: opened here, with no message. */
    msgtest_reset();
    nc_fault(s, 2, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    rel[1] = 0;
    mome_rel_release(done_cb, rel); /* unchanged: nothing to send */
    ck_assert_uint_eq(rel[1], 1);
    mome_rel_acquire(700, done_cb, acq);
    ck_assert_uint_eq(acq[1], 1);
    /* After the acquire: asked for, the copy no twin until the master's content comes. */
    msgtest_reset();
    nc_fault(s, 2, 1);
    const mome_msg_t *r = nc_msg(MOME_MSG_WRITE_REQ, mgr);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_ne(r->flags & MOME_REQ_COPY, 0);
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    nc_data(s, 2, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 7, b);
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, 2), 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(x->twin);
    ck_assert_int_eq(memcmp(x->twin, b, NC_PAGE), 0);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
}
END_TEST

/*
 * A WEAK writer's page open for writing when an acquire begins (a lock taken): its twin predates
 * the acquire, so the acquire releases it first, and the next write asks for the master's content.
 * Kept open, a word another node wrote before the lock and this node after it went to the master
 * as old ^ new ^ theirs (helper-130).
 */
START_TEST(test_release__an_acquire_releases_an_open_weak_page_first)
{
    uint8_t a[NC_PAGE];
    mome_date_t acq[2] = {0, 0};
    mome_seg_t *s = weak_page_2(a, NULL, 1);
    mome_seg_bytes(s, 2)[9] ^= 0x40;
    msgtest_reset();
    mome_rel_acquire(700, done_cb, acq);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 3));
    ck_assert_uint_eq(acq[1], 0);
    nc_ack_ver(3, 1, 2, 5);
    ck_assert_uint_eq(acq[1], 1);
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    msgtest_reset();
    nc_fault(s, 2, 1);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mome_seg_manager(s, 2)));
}
END_TEST

/*
 * Content for a WEAK writer asked before an acquire began and come after it: it may lack a
 * release that acquire orders before the writes waiting for it, so nobody opens it; they ask
 * again (helper-130: a thread's lock taken while another thread's request was out).
 */
START_TEST(test_release__content_asked_before_an_acquire_is_no_twin_after_it)
{
    uint8_t a[NC_PAGE], b[NC_PAGE];
    mome_date_t acq[2] = {0, 0};
    mome_seg_t *s = weak_page_2(a, b, 0);
    int mgr = mome_seg_manager(s, 2);
    nc_fault(s, 2, 1);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr));
    mome_rel_acquire(700, done_cb, acq);
    ck_assert_uint_eq(acq[1], 1);
    msgtest_reset();
    nc_data(s, 2, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 4, a);
    ck_assert_int_eq(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_WRITE_REQ, mgr)); /* asked again */
    msgtest_reset();
    nc_data(s, 2, 3, mgr, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, 6, b);
    ck_assert_int_ne(mome_seg_pg(s, 2)->flags & MOME_PG_DIRTY, 0);
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, 2), 1, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_int_eq(memcmp(x->twin, b, NC_PAGE), 0);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_WRITE_REQ, -1), 0);
}
END_TEST

Suite *release_suite(void)
{
    Suite *s = suite_create("release");
    NC_CASE(s, test_release__acquire_refreshes_a_used_release_copy);
    NC_CASE(s, test_release__acquire_drops_an_unused_release_copy);
    NC_CASE(s, test_release__acquire_drop_of_an_unused_copy_tells_the_manager);
    NC_CASE(s, test_release__copies_other_than_remote_read_copies_drop_without_a_word);
    NC_CASE(s, test_release__notice_during_a_drop_is_forgotten_with_the_copy);
    NC_CASE(s, test_release__acquire_applies_only_notices_dated_before_it);
    NC_CASE(s, test_release__acquire_keeps_weak_copies);
    NC_CASE(s, test_release__acquire_releases_dirty_stale_copies_first);
    NC_CASE(s, test_release__notice_during_a_refresh_keeping_writes_waits_for_the_next_acquire);
    NC_CASE(s, test_release__acquire_keeps_writes_made_while_it_releases);
    NC_CASE(s, test_release__switch_to_weak_during_a_merge_keeps_writes);
    NC_CASE(s, test_release__copy_kept_by_a_flush_is_not_read_after_a_switch);
    NC_CASE(s, test_release__content_over_unreleased_writes_stops_the_node);
    NC_CASE(s, test_release__notice_during_a_fetch_over_a_copy_stays);
    NC_CASE(s, test_release__switch_there_and_back_during_an_upgrade_keeps_the_copy);
    NC_CASE(s, test_release__syncmem_asks_about_weak_copies);
    NC_CASE(s, test_release__a_refresh_answer_not_asked_for_stops_the_node);
    NC_CASE(s, test_release__syncmem_does_not_ride_an_earlier_request);
    NC_CASE(s, test_release__syncmem_answer_keeps_writes_made_meanwhile);
    NC_CASE(s, test_release__syncmem_answer_during_a_release_gets_it_once);
    NC_CASE(s, test_release__syncmem_answer_after_a_release_gets_it_once);
    NC_CASE(s, test_release__syncmem_answer_after_two_releases_gets_both_on_top);
    NC_CASE(s, test_release__syncmem_answer_between_two_merges_asks_again);
    NC_CASE(s, test_release__flush_during_a_refresh_keeping_writes);
    NC_CASE(s, test_release__syncmem_leaves_other_models_alone);
    NC_CASE(s, test_release__flush_during_a_held_syncmem_answer);
    NC_CASE(s, test_release__held_syncmem_answer_does_not_replace_newer_content);
    NC_CASE(s, test_release__sync_answer_during_a_merge_leaves_the_page_protected);
    NC_CASE(s, test_release__switch_to_strong_drops_a_non_owner_copy);
    NC_CASE(s, test_release__switch_to_strong_of_an_owned_page_asks_the_directory);
    NC_CASE(s, test_release__master_flushed_during_a_switch_to_strong_is_not_read);
    NC_CASE(s, test_release__master_flushed_during_a_switch_to_strong_comes_back_with_the_grant);
    NC_CASE(s, test_release__switch_keeps_writes_made_while_it_releases);
    NC_CASE(s, test_release__switch_to_strong_while_a_weak_fetch_is_in_flight);
    NC_CASE(s, test_release__switch_to_strong_during_an_upgrade_unmaps_the_weak_copy);
    NC_CASE(s, test_release__switch_during_an_upgrade_asks_again_for_writing);
    NC_CASE(s, test_release__acquire_during_a_read_ahead_drops_its_old_content);
    NC_CASE(s, test_release__acquire_during_a_read_ahead_does_not_wake_a_reader_with_old_content);
    NC_CASE(s, test_release__acquire_during_an_upgrade_takes_the_old_copy_away);
    NC_CASE(s, test_release__syncmem_during_a_weak_read_ahead_waits_for_it_then_asks);
    NC_CASE(s, test_release__syncmem_during_a_current_weak_read_ahead_keeps_its_content);
    NC_CASE(s, test_release__syncmem_waiting_for_a_read_ahead_ends_with_its_segment);
    NC_CASE(s, test_release__weak_read_ahead_across_a_release_syncmem_is_not_used);
    NC_CASE(s, test_release__weak_write_across_a_release_syncmem_gets_content_again);
    NC_CASE(s, test_release__release_read_ahead_across_a_weak_barrier_is_not_used);
    NC_CASE(s, test_release__release_write_across_a_weak_barrier_gets_content_again);
    NC_CASE(s, test_release__releases_queue_one_in_flight);
    NC_CASE(s, test_release__a_confirmed_master_across_switches_is_kept);
    NC_CASE(s, test_release__an_acknowledgement_not_awaited_stops_the_node);
    NC_CASE(s, test_release__a_notice_during_a_fetch_is_not_judged_by_an_old_version);
    NC_CASE(s, test_release__a_weak_writer_asks_again_after_an_acquire);
    NC_CASE(s, test_release__an_acquire_releases_an_open_weak_page_first);
    NC_CASE(s, test_release__content_asked_before_an_acquire_is_no_twin_after_it);
    return s;
}
