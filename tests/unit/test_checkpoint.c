/*
 * test_checkpoint.c - which pages of a persistent segment a node writes at a checkpoint
 * (coherence/ckptflag.c, checkpoint.c), driven as a state machine: a write flags a page, the next
 * writer takes the flag, a checkpoint takes the flagged pages (write-protecting them, so the next
 * write flags them again), and a copy that may be stale is fetched before it is written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/checkpoint.h"
#include "coherence/ckptflag.h"
#include "core/checkpoint.h"
#include "core/job.h"
#include "core/proto.h"
#include "memory/store_repo.h"
#include "mome.h"
#include "nodecase.h"
#include "repo/repo.h"

#define SELF 1
#define NODES 4

static char dir[64];

/* Segment `id` of npages, kept in a repository in a temporary directory. */
static mome_seg_t *persistent(uint64_t id, uint64_t npages)
{
    mome_seg_t *s = testnode_segment(id, npages);
    mome_repo_seg_t *rs;
    char err[600], name[32];
    snprintf(dir, sizeof(dir), "/tmp/mome-test-ckpt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(name, sizeof(name), "s%llu", (unsigned long long)id);
    ck_assert_int_eq(mome_repo_open(dir, name, npages * NC_PAGE, NC_PAGE,
                                    MOME_REPO_CREATE | MOME_REPO_LOCK | MOME_REPO_MAP, "test",
                                    &rs, err, sizeof(err)), 0);
    s->store->ops = &mome_store_repo;
    mome_store_repo_attach(s->store, rs);
    return s;
}

static void cleanup(void)
{
    char cmd[100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static int flagged(const mome_seg_t *s, uint64_t page)
{
    return !!(mome_seg_pg(s, page)->flags & MOME_PG_CKPT);
}

static int op_done;
static void on_op(mome_op_t *op)
{
    op_done = 1;
}

/* A checkpoint's gathering of s's flagged pages into *set; op_done once every fetch it started
 * has come (static: the fetches complete it after the call). */
static mome_op_t op;
static void gather(mome_seg_t *s, mome_ckpt_set_t *set)
{
    op_done = 0;
    mome_op_begin(&op, on_op);
    ck_assert_int_eq(mome_ckpt_gather(s, &op, set), 0);
    mome_op_end(&op);
}

START_TEST(test_checkpoint__a_write_flags_a_persistent_page)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8), *plain = testnode_segment(2, 8);
    /* A write fault granted write access: flagged, writable. */
    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW);
    ck_assert_int_eq(flagged(s, 3), 1);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 3)), FAKE_MAPPED_RW);
    /* A read fault granted write access (the first toucher owns the page): not flagged, mapped
     * read-only, so that the first write is noticed. */
    nc_fault(s, 4, 0);
    nc_grant(s, 4, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mome_seg_manager(s, 4), 0);
    msgtest_reset();
    ck_assert_int_eq(mome_seg_pg(s, 4)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(flagged(s, 4), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 4)), FAKE_MAPPED_RO);
    nc_fault(s, 4, 1); /* satisfied locally: no request */
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(flagged(s, 4), 1);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 4)), FAKE_MAPPED_RW);
    /* A segment that is not persistent is never flagged, and is writable at once. */
    nc_fault(plain, 4, 0);
    nc_grant(plain, 4, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, mome_seg_manager(plain, 4), 0);
    ck_assert_int_eq(mome_seg_pg(plain, 4)->access, MOME_ACC_WRITE);
    ck_assert_int_eq(flagged(plain, 4), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(plain, 4)), FAKE_MAPPED_RW);
    cleanup();
}
END_TEST

START_TEST(test_checkpoint__a_page_handed_to_a_writer_stays_flagged)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8);
    int mgr = mome_seg_manager(s, 3);
    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW);
    nc_hold_zero(s, 5, 1, MOME_RIGHT_RW);
    /* Invalidated for a writer, which flags it only if it writes (one that took it ahead may
     * never): flagged here still, its checkpoint fetches the page (helper-168). */
    mome_ref_t r = {.seg = 1, .page = 3, .node = 2};
    nc_deliver(MOME_MSG_INV, 0, mgr, &r, NULL, 0);
    ck_assert_int_eq(flagged(s, 3), 1);
    /* The content forwarded to a writer: the same. */
    mome_fwd_t f = {.seg = 1, .page = 5, .node = 2, .rights = MOME_RIGHT_RW};
    nc_deliver(MOME_MSG_FWD_WRITE, 0, mome_seg_manager(s, 5), &f, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DATA, 2));
    ck_assert_int_eq(flagged(s, 5), 1);
    cleanup();
}
END_TEST

START_TEST(test_checkpoint__taken_pages_are_flagged_again_by_the_next_write)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8);
    mome_ckpt_set_t set;
    uint8_t buf[2 * NC_PAGE];

    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW);
    nc_hold_zero(s, 5, 1, MOME_RIGHT_RW);
    nc_hold_zero(s, 6, 0, 0);
    memset(mome_seg_bytes(s, 3), 3, NC_PAGE);
    memset(mome_seg_bytes(s, 5), 5, NC_PAGE);
    gather(s, &set);
    ck_assert_int_eq(op_done, 1); /* nothing to fetch: this node holds both masters */
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(mome_ckpt_take(s, &set), 0);
    ck_assert_uint_eq(set.n, 2);
    ck_assert_uint_eq(set.pages[0], 3);
    ck_assert_uint_eq(set.pages[1], 5);
    ck_assert_int_eq(flagged(s, 3) | flagged(s, 5), 0);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 3)), FAKE_MAPPED_RO);
    ck_assert_uint_eq(mome_ckpt_copy(s, set.pages, set.n, buf), 2);
    ck_assert_uint_eq(buf[0], 3);
    ck_assert_uint_eq(buf[NC_PAGE + 17], 5);
    /* The next write flags the page again; a failed checkpoint flags its pages again. */
    nc_fault(s, 3, 1);
    ck_assert_int_eq(flagged(s, 3), 1);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 3)), FAKE_MAPPED_RW);
    mome_ckpt_restore(s, set.pages + 1, 1);
    ck_assert_int_eq(flagged(s, 5), 1);
    mome_ckpt_set_free(&set);
    /* Both are gathered by the next checkpoint, once each. */
    gather(s, &set);
    mome_ckpt_take(s, &set);
    ck_assert_uint_eq(set.n, 2);
    mome_ckpt_set_free(&set);
    cleanup();
}
END_TEST

/* Pages written while this node's checkpoint of the segment runs (after its window opened, before
 * its barrier) are written by it and stay flagged: another node may have taken an older copy for
 * the same generation, which the repository may keep (the higher node's copy), and the newer
 * writes were then lost for good, even after MomeFinalize (helper-112). Pages flagged before, or
 * kept flagged because a checkpoint could not take them yet, go as before. */
START_TEST(test_checkpoint__pages_written_during_the_checkpoint_stay_flagged)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8);
    mome_ckpt_set_t set;

    nc_hold_zero(s, 3, 1, MOME_RIGHT_RW); /* written before the checkpoint */
    mome_ckpt_window(s->id);
    nc_hold_zero(s, 5, 1, MOME_RIGHT_RW); /* written since it began */
    mome_ckpt_keep(s, 3);
    gather(s, &set);
    ck_assert_uint_eq(mome_ckpt_take(s, &set), 0);
    ck_assert_uint_eq(set.n, 2); /* both written by this checkpoint */
    ck_assert_int_eq(flagged(s, 3), 0);
    ck_assert_int_eq(flagged(s, 5), 1);
    ck_assert_int_eq(fake_memory_state(testnode_addr(s, 5)), FAKE_MAPPED_RW);
    mome_ckpt_set_free(&set);
    mome_ckpt_window(0);
    /* The next checkpoint writes page 5 again, and then lets it go. */
    gather(s, &set);
    mome_ckpt_take(s, &set);
    ck_assert_uint_eq(set.n, 1);
    ck_assert_uint_eq(set.pages[0], 5);
    ck_assert_int_eq(flagged(s, 5), 0);
    mome_ckpt_set_free(&set);
    cleanup();
}
END_TEST

START_TEST(test_checkpoint__a_copy_that_may_be_stale_is_fetched_first)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8);
    int mgr = mome_seg_manager(s, 2);
    mome_ckpt_set_t set;

    nc_hold_zero(s, 2, 1, MOME_RIGHT_RW);
    /* Another node reads it: this node keeps a read copy, and the flag. */
    mome_fwd_t f = {.seg = 1, .page = 2, .node = 3, .model = MOME_STRONG};
    nc_deliver(MOME_MSG_FWD_READ, 0, mgr, &f, NULL, 0);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_int_eq(flagged(s, 2), 1);
    /* Under RELEASE that copy may be stale: it is asked for again before it is written. */
    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    msgtest_reset();
    gather(s, &set);
    ck_assert_int_eq(op_done, 0);
    const mome_msg_t *q = nc_msg(MOME_MSG_READ_REQ, mgr);
    ck_assert_uint_eq(NC_BODY(q, mome_req_t)->page, 2);
    uint8_t b[NC_PAGE];
    nc_pattern(b, 9);
    nc_data(s, 2, 3, mgr, 0, 0, 4, b);
    ck_assert_int_eq(op_done, 1);
    ck_assert_uint_eq(mome_ckpt_take(s, &set), 0);
    ck_assert_uint_eq(set.n, 1);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    mome_ckpt_set_free(&set);
    cleanup();
}
END_TEST

/*
 * A RELEASE first writer that a STRONG reader left with a read copy holds the master: the
 * directory names it the owner. A checkpoint asks for the page (its copy may be stale, as far as
 * the page's state says), but keeps the copy until the answer: dropped, a reader's FWD_READ queued
 * ahead of the request at the manager found nothing to send and stopped the job ("does not
 * hold"), and the bytes of a paged-out master were given back before the directory confirmed the
 * copy (helper-117).
 */
START_TEST(test_checkpoint__a_master_is_kept_while_it_is_asked_for)
{
    nc_up(NODES, SELF);
    mome_seg_t *s = persistent(1, 8);
    int mgr = mome_seg_manager(s, 2);
    mome_ckpt_set_t set;
    uint8_t b[NC_PAGE];

    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    nc_hold_zero(s, 2, 1, MOME_RIGHT_RW);
    nc_pattern(b, 5);
    memcpy(mome_seg_bytes(s, 2), b, NC_PAGE);
    ck_assert_int_eq(flagged(s, 2), 1);
    mome_fwd_t f = {.seg = 1, .page = 2, .node = 3, .model = MOME_STRONG};
    nc_deliver(MOME_MSG_FWD_READ, 0, mgr, &f, NULL, 0); /* node 3 reads: the master stays here */
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    msgtest_reset();
    gather(s, &set);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_READ_REQ, mgr), mome_req_t)->page, 2);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ); /* still held */
    /* Node 0's read, queued ahead of this node's request, is served from the master. */
    mome_fwd_t g = {.seg = 1, .page = 2, .node = 0, .model = MOME_STRONG};
    nc_deliver(MOME_MSG_FWD_READ, 0, mgr, &g, NULL, 0);
    const mome_msg_t *d = nc_msg(MOME_MSG_DATA, 0);
    ck_assert_int_eq(memcmp(d->payload, b, NC_PAGE), 0);
    /* The directory confirms the copy: it is the content written. */
    nc_grant(s, 2, 0, 0, 0, mgr, SELF);
    ck_assert_int_eq(op_done, 1);
    ck_assert_uint_eq(mome_ckpt_take(s, &set), 0);
    ck_assert_uint_eq(set.n, 1);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), b, NC_PAGE), 0);
    mome_ckpt_set_free(&set);
    cleanup();
}
END_TEST

/* ---- the outcome: CKPT_DONE ---- */

typedef struct {
    int from, status;
    uint64_t gen;
} done_t;

static void done_from(void *arg)
{
    const done_t *d = arg;
    mome_ckptmsg_t r = {.seg = 9, .gen = d->gen, .status = d->status};
    msgtest_deliver(MOME_MSG_CKPT_DONE, 0, d->from, &r, NULL, 0);
}

/* A CKPT_DONE comes from the coordinator, after this node's READY, at the generation this node
 * wrote or the one before: a stray one was kept and ended the next checkpoint early, and one
 * with status 0 at another generation made this node take an uncommitted delta for committed. */
START_TEST(test_checkpoint__the_outcome_comes_from_the_coordinator_after_the_ready)
{
    nc_up(NODES, SELF);
    done_t d = {.from = 2, .gen = 5};
    nc_expect_death(done_from, &d,
                    "node 2 ended a checkpoint of segment '(not open here)' (0x9) this node is "
                    "not in (it sent no CKPT_READY for it)");
    mome_checkpoint_expect_done(9, 2, 5); /* this node wrote generation 5; node 2 coordinates */
    d.from = 3;
    nc_expect_death(done_from, &d,
                    "node 3 ended a checkpoint of segment '(not open here)' (0x9), "
                    "whose coordinator is node 2");
    d.from = 2;
    d.gen = 6;
    nc_expect_death(done_from, &d,
                    "at generation 6 (status 0), where this node wrote generation "
                    "5: it can be 4 or 5 only");
    d.gen = 3;
    d.status = -EIO;
    nc_expect_death(done_from, &d, "at generation 3 (status -5)");
    /* The coordinator found the nodes at different generations: its own is the one to take. */
    d.status = -ESTALE;
    d.gen = 8;
    done_from(&d);
    nc_expect_death(done_from, &d,
                    "node 2 ended a checkpoint of segment '(not open here)' "
                    "(0x9) twice");
    /* A new checkpoint: what an honest coordinator sends. */
    nc_down();
    for (int gen = 4; gen <= 5; gen++) {
        nc_up(NODES, SELF);
        mome_checkpoint_expect_done(9, 2, 5);
        d.gen = (uint64_t)gen;
        d.status = 0;
        ck_assert_int_eq(msgtest_deliver(MOME_MSG_CKPT_DONE, 0, 2,
                                         &(mome_ckptmsg_t){.seg = 9, .gen = d.gen}, NULL, 0),
                         0);
        nc_down();
    }
}
END_TEST

/* ---- the coordinator: CKPT_READY ---- */

static void name_msg(int type, int from, uint64_t id, uint32_t flags, uint64_t token,
                     const char *name)
{
    mome_segmsg_t m = {.id = id, .size = 2 * NC_PAGE, .flags = flags, .token = token, .count = 1};
    nc_deliver(type, 0, from, &m, name, name ? (uint32_t)strlen(name) : 0);
}

static void ready_from(int from, uint64_t seg, int32_t status)
{
    mome_ckptmsg_t r = {.seg = seg, .gen = 1, .status = status};
    nc_deliver(MOME_MSG_CKPT_READY, 0, from, &r, NULL, 0);
}

/* The DONE sent to `to`, at the generation before the one its READY said (nothing committed). */
static void check_done(int to, uint64_t seg, int32_t status, uint32_t node)
{
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_CKPT_DONE, to), 1);
    const mome_ckptmsg_t *d = NC_BODY(nc_msg(MOME_MSG_CKPT_DONE, to), mome_ckptmsg_t);
    ck_assert_uint_eq(d->seg, seg);
    ck_assert_uint_eq(d->gen, 0);
    ck_assert_int_eq(d->status, status);
    if (status < 0)
        ck_assert_uint_eq(d->node, node);
}

/*
 * The segment's name record goes (unlinked, its last close) after some READYs were counted and
 * before the coordinator's own wait began: the nodes counted get their DONE then, the generation
 * unchanged and a failure kept, and a READY after it has its DONE at once. They got none (the
 * coordinator, finding no record, left; its DONE went to the record's users): a MomeSegClose by
 * other threads during a checkpoint left nodes waiting for ever (defects ckptclose).
 */
START_TEST(test_checkpoint__a_segment_destroyed_mid_checkpoint_still_ends_it)
{
    nc_up(NODES, SELF);
    snprintf(dir, sizeof(dir), "/tmp/mome-test-ckpt.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(mome_g.cfg.repository, sizeof(mome_g.cfg.repository), "%s", dir);
    for (int n = 0; n < NODES; n++)
        name_msg(MOME_MSG_SEG_OPEN, n, 0, MOME_CREATE | MOME_PERSIST, (uint64_t)n + 1, "ck");
    uint64_t id = NC_BODY(nc_msg(MOME_MSG_SEG_OPEN_REPLY, NODES - 1), mome_segmsg_t)->id;
    ready_from(0, id, 0);
    ready_from(2, id, -ENOSPC);
    ck_assert_int_eq(msgtest_count(), 0); /* nodes 1 and 3 are not ready */
    name_msg(MOME_MSG_SEG_UNLINK, 3, 0, 0, 9, "ck");
    for (int n = 0; n < NODES; n++)
        name_msg(MOME_MSG_SEG_CLOSE, n, id, 0, 0, NULL);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_SEG_DESTROY, 0), 1);
    check_done(0, id, -ENOSPC, 2);
    check_done(2, id, -ENOSPC, 2);
    ck_assert_int_eq(
        msgtest_count_of(MOME_MSG_CKPT_DONE, 1) + msgtest_count_of(MOME_MSG_CKPT_DONE, 3), 0);
    ready_from(3, id, 0);
    check_done(3, id, 0, 0);
    ck_assert_int_eq(msgtest_count(), 1);
    cleanup();
}
END_TEST

Suite *checkpoint_suite(void)
{
    Suite *s = suite_create("checkpoint");
    NC_CASE(s, test_checkpoint__a_write_flags_a_persistent_page);
    NC_CASE(s, test_checkpoint__a_page_handed_to_a_writer_stays_flagged);
    NC_CASE(s, test_checkpoint__taken_pages_are_flagged_again_by_the_next_write);
    NC_CASE(s, test_checkpoint__pages_written_during_the_checkpoint_stay_flagged);
    NC_CASE(s, test_checkpoint__a_copy_that_may_be_stale_is_fetched_first);
    NC_CASE(s, test_checkpoint__a_master_is_kept_while_it_is_asked_for);
    NC_CASE(s, test_checkpoint__the_outcome_comes_from_the_coordinator_after_the_ready);
    NC_CASE(s, test_checkpoint__a_segment_destroyed_mid_checkpoint_still_ends_it);
    return s;
}
