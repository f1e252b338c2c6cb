/*
 * test_sync.c - locks and barriers (core/sync.c) as state machines: the barrier gathered by node
 * 0, the lock manager's FIFO queue and dates, and the commands of the calling side run by hand on
 * the test thread (a completed command's futex wake finds no waiter: c.done and c.status say how
 * it ended).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/stats.h"
#include "coherence/copy.h"
#include "coherence/proto.h"
#include "coherence/release.h"
#include "core/cmd.h"
#include "core/proto.h"
#include "core/sync.h"
#include "mome.h"
#include "base/hash.h"
#include "nodecase.h"

#define TID 4242

static void bar_enter(int from, uint64_t epoch)
{
    mome_syncmsg_t m = {.id = epoch};
    nc_deliver(MOME_MSG_BAR_ENTER, 0, from, &m, NULL, 0);
}

static void lock_msg(int type, int flags, int from, uint64_t id, uint64_t token, uint64_t date)
{
    mome_syncmsg_t m = {.id = id, .token = token, .date = date};
    nc_deliver(type, flags, from, &m, NULL, 0);
}

/* The one LOCK_GRANT sent, to `to`, for token, with the lock's last release date. */
static void granted(int to, uint64_t token, uint64_t date, int waited)
{
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_msg_t *g = nc_msg(MOME_MSG_LOCK_GRANT, to);
    ck_assert_uint_eq(NC_BODY(g, mome_syncmsg_t)->token, token);
    ck_assert_uint_eq(NC_BODY(g, mome_syncmsg_t)->date, date);
    ck_assert_int_eq(g->flags, waited ? MOME_LOCK_WAITED : 0);
}

static void cmd_init(mome_cmd_t *c, mome_cmd_fn_t fn)
{
    memset(c, 0, sizeof(*c));
    c->fn = fn;
    c->tid = TID;
}

/* ---- barrier ---- */

START_TEST(test_sync__barrier_exits_after_every_node_entered)
{
    nc_up(3, 0);
    mome_clock_raise(1000);
    bar_enter(1, 0); /* dated 1001 */
    ck_assert_int_eq(msgtest_count(), 0);
    mome_clock_reset(10); /* node 0's clock is behind the entries */
    bar_enter(2, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    bar_enter(0, 0);
    mome_clock_raise(2000);
    ck_assert_int_eq(msgtest_count(), 3);
    for (int n = 0; n < 3; n++) {
        const mome_msg_t *x = nc_msg(MOME_MSG_BAR_EXIT, n);
        ck_assert_uint_eq(NC_BODY(x, mome_syncmsg_t)->id, 0);
        ck_assert_uint_gt(NC_BODY(x, mome_syncmsg_t)->date, 1001); /* above every entry */
        ck_assert_uint_eq(NC_BODY(x, mome_syncmsg_t)->date,
                          NC_BODY(nc_msg(MOME_MSG_BAR_EXIT, 0), mome_syncmsg_t)->date);
    }
    /* The next barrier starts afresh. */
    bar_enter(1, 1);
    bar_enter(0, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    bar_enter(2, 1);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_BAR_EXIT, -1), 3);
}
END_TEST

static void enter_twice(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 1, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 1, &m, NULL, 0);
}

static void enter_out_of_turn(void *arg)
{
    mome_syncmsg_t m = {.id = 1};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 2, &m, NULL, 0);
}

/* Node 1 one barrier short: its MomeFinalize's final round meets node 2's barrier. */
static void enter_final_round_against_a_barrier(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_QUIESCE, 1, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 2, &m, NULL, 0);
}

START_TEST(test_sync__final_round_against_a_barrier_stops_the_node)
{
    nc_up(3, 0);
    nc_expect_death(enter_final_round_against_a_barrier, NULL,
                    "node 1 is in MomeFinalize (its last round) while node 2 is in MomeBarrier "
                    "0: the nodes disagree on the number of barriers (one fewer on node 1)");
}
END_TEST

/* MomeFinalize's and MomeCheckpoint's barriers are named as such, whichever node came first. */
static void enter_finalize_barrier_then_final_round(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_FINALIZE, 2, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_QUIESCE, 1, &m, NULL, 0);
}

static void enter_final_round_then_checkpoint_barrier(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_QUIESCE, 1, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_CHECKPOINT, 2, &m, NULL, 0);
}

START_TEST(test_sync__final_round_names_the_call_of_the_other_barrier)
{
    nc_up(3, 0);
    nc_expect_death(enter_finalize_barrier_then_final_round, NULL,
                    "node 1 is in MomeFinalize (its last round) while node 2 is in MomeFinalize "
                    "(barrier 0): the nodes disagree on the number of barriers (one fewer on "
                    "node 1)");
    nc_expect_death(enter_final_round_then_checkpoint_barrier, NULL,
                    "node 1 is in MomeFinalize (its last round) while node 2 is in "
                    "MomeCheckpoint (barrier 0)");
}
END_TEST

/* Node 1's MomeCheckpoint failed before its barrier (a bad handle there): its next barrier meets
 * node 2's checkpoint barrier. Matched, node 2's checkpoint would end without node 1. */
static void enter_checkpoint_barrier_then_barrier(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_CHECKPOINT, 2, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 1, &m, NULL, 0);
}

/* Node 1, one barrier short, is in MomeFinalize's barrier while node 2 is in a MomeBarrier. */
static void enter_barrier_then_finalize_barrier(void *arg)
{
    mome_syncmsg_t m = {.id = 0};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 2, &m, NULL, 0);
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_FINALIZE, 1, &m, NULL, 0);
}

/* Node 2 checkpoints segment 5, node 1 segment 6: each would wait for the other's part. */
static void enter_checkpoints_of_two_segments(void *arg)
{
    mome_syncmsg_t m = {.id = 0, .token = 5};
    (void)arg;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_CHECKPOINT, 2, &m, NULL, 0);
    m.token = 6;
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_CHECKPOINT, 1, &m, NULL, 0);
}

START_TEST(test_sync__checkpoints_of_two_segments_stop_the_node)
{
    nc_up(3, 0);
    nc_expect_death(enter_checkpoints_of_two_segments, NULL,
                    "while node 2 checkpoints segment '(not open here)' (barrier 0): every "
                    "node checkpoints the same segment at once");
}
END_TEST

START_TEST(test_sync__barriers_of_different_calls_stop_the_node)
{
    nc_up(3, 0);
    nc_expect_death(enter_checkpoint_barrier_then_barrier, NULL,
                    "node 1 is in MomeBarrier 0 while node 2 is in MomeCheckpoint (barrier 0): "
                    "the nodes disagree on their barriers");
    nc_expect_death(enter_barrier_then_finalize_barrier, NULL,
                    "node 1 is in MomeFinalize (barrier 0) while node 2 is in MomeBarrier 0: the "
                    "nodes disagree on their barriers (every node makes the same MomeBarrier, "
                    "MomeCheckpoint and MomeFinalize calls, in the same order; one fewer barrier "
                    "on node 1)");
}
END_TEST

START_TEST(test_sync__barrier_entered_twice_stops_the_node)
{
    nc_up(3, 0);
    nc_expect_death(enter_twice, NULL, "node 1 entered barrier 0 (again, or out of turn)");
    nc_expect_death(enter_out_of_turn, NULL, "node 2 entered barrier 1");
}
END_TEST

START_TEST(test_sync__barrier_command_enters_and_completes_at_the_exit)
{
    mome_cmd_t c, c2;
    nc_up(3, 1);
    uint64_t barriers = mome_stats.barriers;
    cmd_init(&c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c);
    const mome_msg_t *e = nc_msg(MOME_MSG_BAR_ENTER, 0);
    ck_assert_uint_eq(NC_BODY(e, mome_syncmsg_t)->id, 0);
    ck_assert_uint_eq(c.done, 0);
    /* One barrier per node at a time. */
    cmd_init(&c2, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c2);
    ck_assert_uint_eq(c2.done, 1);
    ck_assert_int_eq(c2.status, -EBUSY);
    mome_syncmsg_t x = {.id = 0, .date = 500};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, NULL, 0);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
    ck_assert_uint_eq(c.result, 500);
    ck_assert_uint_eq(mome_sync_last_barrier(), 500);
    ck_assert_uint_ge(mome_clock_now(), 500);
    ck_assert_uint_eq(mome_stats.barriers - barriers, 1);
    /* The next one is epoch 1. */
    cmd_init(&c, mome_sync_cmd_barrier);
    msgtest_reset();
    mome_sync_cmd_barrier(&c);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_BAR_ENTER, 0), mome_syncmsg_t)->id, 1);
}
END_TEST

/* A barrier's exit dated no later than this node's entry stops the node: its acquire would leave
 * the notices of releases made before the barrier pending (the gathering node dates the exit
 * after every entry). Nor does an exit come before this node entered. */
static void exit_at(void *arg)
{
    mome_syncmsg_t x = {.id = 0, .date = *(const mome_date_t *)arg};
    msgtest_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, NULL, 0);
}

/* MomeBarrier on node 1 of 3 with page 2 of segment 1 (its owner node 2) written here: the
 * barrier's release sends its diff first. */
static void barrier_with_a_write(mome_cmd_t *c)
{
    uint8_t a[NC_PAGE];
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    nc_hold_data(s, 2, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 2, a, 1);
    mome_seg_bytes(s, 2)[1] ^= 1;
    cmd_init(c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(c);
}

START_TEST(test_sync__barrier_exit_dated_before_the_entry_stops_the_node)
{
    mome_cmd_t c;
    char want[160];
    nc_up(3, 1);
    mome_clock_raise(1000);
    barrier_with_a_write(&c);
    mome_date_t date = 2000;
    nc_expect_death(exit_at, &date,
                    "node 0 ended barrier 0 at date 2000, before this node "
                    "entered it");
    nc_ack_page(0, 1, 2);
    mome_date_t in = nc_msg(MOME_MSG_BAR_ENTER, 0)->date;
    date = in - 1;
    snprintf(want, sizeof(want),
             "node 0 ended barrier 0 at date %llu, not after this node's "
             "BAR_ENTER (dated ",
             (unsigned long long)date);
    nc_expect_death(exit_at, &date, want);
    date = in;
    nc_expect_death(exit_at, &date, "not after this node's BAR_ENTER");
    mome_syncmsg_t x = {.id = 0, .date = in + 1};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, NULL, 0);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
}
END_TEST

START_TEST(test_sync__barrier_enters_once_the_release_is_acknowledged)
{
    mome_cmd_t c;
    nc_up(3, 1);
    barrier_with_a_write(&c);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 2));
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_BAR_ENTER, -1), 0);
    nc_ack_page(0, 1, 2);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_BAR_ENTER, 0));
    ck_assert_uint_eq(c.done, 0);
}
END_TEST

/* ---- write notices on the barrier's messages ---- */

/* This node (1 of 3) owns page 1 of segment 1, which node 2 reads under RELEASE; it wrote it. */
static mome_seg_t *owner_read_by_2(void)
{
    mome_seg_t *s = testnode_segment(1, 4);
    nc_hold_zero(s, 1, 1, MOME_RIGHT_RW | MOME_RIGHT_OWNER);
    mome_fwd_t f = {.seg = 1, .page = 1, .node = 2, .model = MOME_RELEASE};
    nc_deliver(MOME_MSG_FWD_SNAP, 0, 0, &f, NULL, 0);
    nc_fault(s, 1, 1);
    mome_seg_bytes(s, 1)[17] ^= 0x21;
    msgtest_reset();
    return s;
}

static uint32_t relpend(mome_seg_t *s, uint64_t page)
{
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    return x ? x->relpend : 0;
}

START_TEST(test_sync__barrier_carries_the_owners_notices_and_counts_its_pushes)
{
    mome_cmd_t c;
    mome_entry_t e[2];
    nc_up(3, 1);
    mome_seg_t *s = owner_read_by_2();
    cmd_init(&c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c);
    /* No notice to the manager, nothing awaited: BAR_ENTER carries the notice at once. */
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_NOTICE, -1), 0);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_PUSH, 2), mome_rel_t)->token, 1);
    const mome_msg_t *in = nc_msg(MOME_MSG_BAR_ENTER, 0);
    ck_assert_int_eq(nc_entries(MOME_BATCH_BNOTICE, in, e, 2), 1);
    ck_assert_uint_eq(e[0].seg, 1);
    ck_assert_uint_eq(e[0].page, 1);
    ck_assert_uint_eq(e[0].ver, mome_seg_pg(s, 1)->ver);
    ck_assert_uint_eq(e[0].push, 1u << 2);
    ck_assert_uint_gt(e[0].date, 0);
    ck_assert_uint_lt(e[0].date, in->date); /* BAR_ENTER is dated after the release */
    ck_assert_int_eq(msgtest_count(), 2);
    ck_assert_uint_eq(relpend(s, 1), 0); /* nothing awaited: a FLUSH would not wait either */
    /* The reader's acknowledgement of a barrier's push completes nothing; it keeps pushing. */
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_notice(&b, 1, 1, 1), 0);
    nc_deliver(MOME_MSG_PUSH_ACK, 0, 2, &(mome_rel_t){.token = 1}, b.buf, (uint32_t)b.len);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(c.done, 0);
    ck_assert_uint_eq(mome_pext_find(mome_seg_pg(s, 1), 1, 1)->push, 1u << 2);
    /* The exit brings every node's notices: this node's release of the page is over. */
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 1, e[0].ver, e[0].date, e[0].push), 0);
    mome_syncmsg_t x = {.id = 0, .date = 500};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
    ck_assert_uint_eq(relpend(s, 1), 0);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 1), 0); /* its own master: not stale */
}
END_TEST

static void done_cb(void *arg, mome_date_t d)
{
    *(mome_date_t *)arg = d;
}

/* This node (owner_read_by_2's) enters a barrier: its one barrier notice entry into *e. */
static void enter_with_notice(mome_cmd_t *c, mome_entry_t *e)
{
    mome_entry_t in[2];
    cmd_init(c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(c);
    ck_assert_int_eq(nc_entries(MOME_BATCH_BNOTICE, nc_msg(MOME_MSG_BAR_ENTER, 0), in, 2), 1);
    *e = in[0];
}

/* Node 0 ends barrier `epoch` at `date`, with entry e (NULL: none). */
static void exit_with(const mome_entry_t *e, uint64_t epoch, mome_date_t date)
{
    mome_batch_t b = {0};
    if (e)
        ck_assert_int_eq(mome_batch_bnotice(&b, e->seg, e->page, e->ver, e->date, e->push), 0);
    mome_syncmsg_t x = {.id = epoch, .date = date};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

/* A release that sends page 1's notice at version ver to its manager mgr and ends only with
 * the acknowledgement (the holders told). */
static void release_through_manager(mome_seg_t *s, int mgr, uint64_t ver)
{
    mome_entry_t n[2];
    mome_date_t rel = 0;
    msgtest_reset();
    mome_rel_release(done_cb, &rel);
    ck_assert_int_eq(nc_entries(MOME_BATCH_NOTICE, nc_msg(MOME_MSG_NOTICE, mgr), n, 2), 1);
    ck_assert_uint_eq(n[0].page, 1);
    ck_assert_uint_eq(n[0].ver, ver);
    ck_assert_uint_eq(rel, 0);
    ck_assert_uint_eq(relpend(s, 1), 1);
    nc_ack_ver(mgr, 1, 1, ver);
    ck_assert_uint_ne(rel, 0);
    ck_assert_uint_eq(relpend(s, 1), 0);
}

/* A release that sends nothing and ends at once. */
static void release_sends_nothing(void)
{
    mome_date_t rel = 0;
    msgtest_reset();
    mome_rel_release(done_cb, &rel);
    ck_assert_uint_ne(rel, 0);
    ck_assert_int_eq(msgtest_count(), 0);
}

/* A barrier's exit carrying a notice dated at or after the exit itself. */
static void exit_before_its_notice(void *arg)
{
    mome_cmd_t c;
    mome_entry_t e;
    (void)arg;
    owner_read_by_2();
    enter_with_notice(&c, &e);
    /* After the entry (an exit dated before it stops the node on that), at the notice's date. */
    e.date = nc_msg(MOME_MSG_BAR_ENTER, 0)->date + 1;
    exit_with(&e, 0, e.date);
}

START_TEST(test_sync__an_exit_not_after_its_notices_stops_the_node)
{
    nc_up(3, 1);
    nc_expect_death(exit_before_its_notice, NULL, "not before it: the exit's notices");
}
END_TEST

START_TEST(test_sync__release_during_a_barrier_sends_its_notices_to_the_managers)
{
    mome_cmd_t c;
    mome_entry_t e;
    nc_up(3, 1);
    mome_seg_t *s = owner_read_by_2();
    enter_with_notice(&c, &e);
    /* Another thread releases before the barrier ends: whoever acquires after that release
     * must see the barrier's writes too, so its notices go to the manager, acknowledged. */
    release_through_manager(s, mome_seg_manager(s, 1), e.ver);
    /* Once only: a third release sends nothing. */
    release_sends_nothing();
    exit_with(&e, 0, 500);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_uint_eq(relpend(s, 1), 0);
}
END_TEST

/*
 * A release after this node's own exit: the exit proves that every node entered the barrier, not
 * that every node has taken the exit's notices. A lock released now (a thread held it across the
 * barrier) could be acquired on a node whose exit is still on its way, the barrier's writes
 * unknown there (helper-122). So the barrier's notices go to the managers again, acknowledged,
 * with the first release after the exit; after the next barrier's exit, not any more.
 */
START_TEST(test_sync__a_release_after_the_exit_sends_the_barriers_notices)
{
    mome_cmd_t c, d;
    mome_entry_t e;
    nc_up(3, 1);
    mome_seg_t *s = owner_read_by_2();
    enter_with_notice(&c, &e);
    exit_with(&e, 0, 500);
    ck_assert_uint_eq(c.done, 1);
    release_through_manager(s, mome_seg_manager(s, 1), e.ver); /* until the holders know */
    /* Once: the next release sends nothing. */
    release_sends_nothing();
    /* After the next barrier's exit every node has the first's: a release sends nothing. */
    cmd_init(&d, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&d);
    exit_with(NULL, 1, 600);
    ck_assert_uint_eq(d.done, 1);
    release_sends_nothing();
}
END_TEST

/*
 * MomeLastBarrierDate never goes back: a job of two programs, this node (1) in program 0 (nodes 0
 * and 1) and one thread in each kind of barrier. The program barrier's exit, dated 900, came
 * before the job barrier's, dated 500 (its gathering node's clock behind): the job barrier set
 * 500 over 900, and a WEAK MomeSyncMem(MomeLastBarrierDate()) then missed writes the program
 * barrier had ordered before it (helper-122).
 */
START_TEST(test_sync__the_last_barrier_date_never_goes_back)
{
    mome_cmd_t j, a;
    mome_g.app_first = 0;
    mome_g.app_size = 2;
    nc_up(3, 1);
    cmd_init(&j, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&j);
    cmd_init(&a, mome_sync_cmd_app_barrier);
    mome_sync_cmd_app_barrier(&a);
    mome_syncmsg_t x = {.id = 0, .date = 900};
    nc_deliver(MOME_MSG_BAR_EXIT, MOME_BAR_APP, 0, &x, NULL, 0);
    ck_assert_uint_eq(a.done, 1);
    ck_assert_uint_eq(mome_sync_last_barrier(), 900);
    x.date = 500;
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, NULL, 0);
    ck_assert_uint_eq(j.done, 1);
    mome_g.app_first = mome_g.app_size = 0;
    ck_assert_uint_eq(mome_sync_last_barrier(), 900);
}
END_TEST

/* The notices a barrier kept after this node's exit go at the next barrier's exit (every node
 * took the first's by then): two barriers with no release between, and the release after the
 * second sends nothing of the first's. */
START_TEST(test_sync__the_barriers_notices_go_at_the_next_exit)
{
    mome_cmd_t c, d;
    mome_entry_t e;
    nc_up(3, 1);
    owner_read_by_2();
    enter_with_notice(&c, &e);
    exit_with(&e, 0, 500);
    ck_assert_uint_eq(c.done, 1);
    cmd_init(&d, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&d);
    ck_assert_uint_eq(nc_msg(MOME_MSG_BAR_ENTER, 0)->len, 0); /* nothing written since */
    exit_with(NULL, 1, 600);
    ck_assert_uint_eq(d.done, 1);
    release_sends_nothing();
}
END_TEST

/* A node about to enter the barrier asks for the page under STRONG: the manager flushes this
 * node, which must not wait for the barrier (that node would never enter it). */
START_TEST(test_sync__flush_during_a_barrier_does_not_wait_for_it)
{
    mome_cmd_t c;
    nc_up(3, 1);
    mome_seg_t *s = owner_read_by_2();
    cmd_init(&c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c);
    mome_ref_t f = {.seg = 1, .page = 1, .node = 0};
    nc_deliver(MOME_MSG_FLUSH, 0, 0, &f, NULL, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_FLUSH_ACK, 0));
    ck_assert_int_eq(mome_seg_pg(s, 1)->flags & MOME_PG_OWNER, 0);
    ck_assert_uint_eq(c.done, 0);
}
END_TEST

/* 3 nodes, this one node 1: a read copy of node 2's page 2 (RELEASE), at version 1; v2 is the
 * content of its next version. */
static mome_seg_t *release_copy_of_node2(uint8_t *v2)
{
    uint8_t a[NC_PAGE];
    nc_up(3, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    mome_seg_pg(s, 2)->model = MOME_RELEASE;
    nc_pattern(a, 5);
    nc_pattern(v2, 6);
    nc_hold_data(s, 2, 0, 0, 2, a, 1);
    return s;
}

START_TEST(test_sync__barrier_exit_marks_copies_stale_and_waits_for_the_pushes)
{
    uint8_t a[NC_PAGE], v2[NC_PAGE];
    mome_cmd_t c;
    /* Read copies of node 2's pages 2 (RELEASE, pushed here) and 3 (WEAK: takes no notices). */
    mome_seg_t *s = release_copy_of_node2(v2);
    mome_seg_pg(s, 3)->model = MOME_WEAK;
    nc_pattern(a, 5);
    nc_hold_data(s, 3, 0, 0, 2, a, 1);
    cmd_init(&c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c);
    ck_assert_uint_eq(nc_msg(MOME_MSG_BAR_ENTER, 0)->len, 0); /* nothing written here */
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 2, 2, 40, 1u << 1), 0);
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 3, 2, 40, 0), 0);
    ck_assert_int_eq(mome_batch_bnotice(&b, 9, 0, 2, 40, 0), 0); /* no such segment here */
    mome_syncmsg_t x = {.id = 0, .date = 500};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, b.buf, (uint32_t)b.len);
    /* Stale, but node 2 pushed it before entering: wait for it rather than fetch it again. */
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 1);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 3), 0);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_uint_eq(c.done, 0);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_push(&b, 1, 2, 2, v2, NC_PAGE), 0);
    mome_rel_t p = {.date = 40, .origin = 2, .token = 1};
    nc_deliver(MOME_MSG_PUSH, 0, 2, &p, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_uint_eq(c.result, 500);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_PUSH_ACK, 2), mome_rel_t)->token, 1);
    ck_assert_int_eq(msgtest_count(), 1); /* no fetch */
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 2);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 2), v2, NC_PAGE), 0);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 0);
}
END_TEST

START_TEST(test_sync__barrier_pushes_may_come_before_the_exit)
{
    uint8_t v2[NC_PAGE];
    mome_cmd_t c;
    mome_seg_t *s = release_copy_of_node2(v2);
    cmd_init(&c, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&c);
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_push(&b, 1, 2, 2, v2, NC_PAGE), 0);
    mome_rel_t p = {.date = 40, .origin = 2, .token = 1};
    nc_deliver(MOME_MSG_PUSH, 0, 2, &p, b.buf, (uint32_t)b.len);
    ck_assert_uint_eq(mome_seg_pg(s, 2)->ver, 2);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 2, 2, 40, 1u << 1), 0);
    mome_syncmsg_t x = {.id = 0, .date = 500};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(nc_listed(mome_copy_stale(), 1, 2), 0);
}
END_TEST

START_TEST(test_sync__barrier_notices_are_validated)
{
    nc_up(3, 1);
    mome_syncmsg_t m = {.id = 0, .date = 5};
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 2, 2, 40, 1u << 2), 0);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_APP, 2, &m, b.buf,
                                     (uint32_t)b.len), -EPROTO);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_QUIESCE, 2, &m, b.buf,
                                     (uint32_t)b.len), -EPROTO);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_EXIT, MOME_BAR_APP, 0, &m, b.buf,
                                     (uint32_t)b.len), -EPROTO);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 2, &m, b.buf, (uint32_t)b.len - 8),
                     -EBADMSG);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 2, 2, 40, 1u << 3), 0); /* node 3 of 3 */
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_EXIT, 0, 0, &m, b.buf, (uint32_t)b.len),
                     -EPROTO);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_bnotice(&b, 1, 2, 2, 0, 0), 0); /* no date */
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_EXIT, 0, 0, &m, b.buf, (uint32_t)b.len),
                     -EPROTO);
    /* A node's share is bounded: the gathering node's exit holds every node's. */
    mome_batch_reset(&b);
    uint32_t cap = mome_rel_barrier_cap(3);
    for (uint32_t i = 0; i <= cap / MOME_BATCH_BNOTICE_SIZE; i++)
        ck_assert_int_eq(mome_batch_bnotice(&b, 1, i, 2, 40, 0), 0);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_BAR_ENTER, 0, 2, &m, b.buf, (uint32_t)b.len),
                     -EPROTO);
    mome_batch_free(&b);
}
END_TEST

/* ---- locks: the manager ---- */

/* The k-th lock id node 0 of 4 manages (core/sync.c lock_manager). */
static int managed(int k)
{
    for (int id = 0;; id++)
        if (mome_hash2((uint64_t)(uint32_t)id, 0x10c4) % 4 == 0 && k-- == 0)
            return id;
}

START_TEST(test_sync__locks_are_granted_in_fifo_order_with_the_last_release_date)
{
    nc_up(4, 0);
    int a = managed(0), b = managed(1);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 1, a, 11, 0);
    granted(1, 11, 0, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 2, a, 22, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 3, a, 33, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 0, a, 44, 0); /* this node's own request */
    ck_assert_int_eq(msgtest_count(), 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 3, b, 55, 0); /* another lock: free */
    granted(3, 55, 0, 0);
    lock_msg(MOME_MSG_LOCK_REL, 0, 1, a, 11, 300);
    granted(2, 22, 300, 1);
    lock_msg(MOME_MSG_LOCK_REL, 0, 2, a, 22, 250); /* an older date does not lower it */
    granted(3, 33, 300, 1);
    lock_msg(MOME_MSG_LOCK_REL, 0, 3, a, 33, 400);
    granted(0, 44, 400, 1);
    lock_msg(MOME_MSG_LOCK_REL, 0, 0, a, 44, 410);
    ck_assert_int_eq(msgtest_count(), 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 1, a, 12, 0);
    granted(1, 12, 410, 0);
}
END_TEST

/* A lock message of `type` from node `from` (lock id, token). */
typedef struct {
    int type, from;
    uint64_t id, token, epoch;
} stray_lock_t;

static void send_lock_msg(void *arg)
{
    const stray_lock_t *st = arg;
    mome_syncmsg_t m = {.id = st->id, .token = st->token, .date = 100, .epoch = st->epoch};
    msgtest_deliver(st->type, 0, st->from, &m, NULL, 0);
}

/* A release by a node that does not hold the lock (or by another request than its holding one)
 * stops the node: MomeUnlock refuses it locally, and taken it freed the lock under its holder
 * (helper-115: it was a warning). */
START_TEST(test_sync__lock_release_by_a_non_holder_stops_the_node)
{
    nc_up(4, 0);
    int a = managed(0), b = managed(1);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 1, a, 11, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 3, a, 33, 0);
    stray_lock_t other = {MOME_MSG_LOCK_REL, 2, (uint64_t)a, 11, 0},
                 token = {MOME_MSG_LOCK_REL, 1, (uint64_t)a, 12, 0},
                 free_lock = {MOME_MSG_LOCK_REL, 1, (uint64_t)b, 11, 0};
    nc_expect_death(send_lock_msg, &other, "another node does");
    nc_expect_death(send_lock_msg, &token, "it holds it by another request");
    nc_expect_death(send_lock_msg, &free_lock, "nobody does");
    lock_msg(MOME_MSG_LOCK_REL, 0, 1, a, 11, 100);
    granted(3, 33, 100, 1);
}
END_TEST

/* A lock's requests and releases go to its manager: another node granting it would make two
 * holders (helper-111); such a message fails validation (the job stops, naming it). */
START_TEST(test_sync__a_lock_message_to_a_node_not_its_manager_is_refused)
{
    nc_up(4, 0);
    int other = 0;
    while (mome_hash2((uint64_t)(uint32_t)other, 0x10c4) % 4 == 0)
        other++;
    mome_syncmsg_t m = {.id = (uint64_t)other, .token = 1};
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_LOCK_REQ, 0, 1, &m, NULL, 0), -EPROTO);
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_LOCK_REL, 0, 1, &m, NULL, 0), -EPROTO);
    ck_assert_int_eq(msgtest_count(), 0);
}
END_TEST

/* ---- locks: the calling side ---- */

/* Run MomeLock(id) by hand: returns the request's token; *mgr is where it went. */
static uint64_t lock_cmd(mome_cmd_t *c, int id, int *mgr)
{
    cmd_init(c, mome_sync_cmd_lock);
    c->u.lock.id = id;
    msgtest_reset();
    mome_sync_cmd_lock(c);
    ck_assert_int_eq(msgtest_count(), 1);
    const msgtest_sent_t *r = msgtest_at(0);
    ck_assert_int_eq(r->m.type, MOME_MSG_LOCK_REQ);
    ck_assert_uint_eq(NC_BODY(&r->m, mome_syncmsg_t)->id, (uint64_t)id);
    ck_assert_uint_ne(NC_BODY(&r->m, mome_syncmsg_t)->token, 0);
    ck_assert_uint_eq(c->done, 0);
    *mgr = r->to;
    return NC_BODY(&r->m, mome_syncmsg_t)->token;
}

START_TEST(test_sync__lock_and_unlock_commands)
{
    mome_cmd_t c, c2;
    int mgr;
    nc_up(4, 1);
    uint64_t acquires = mome_stats.lock_acquires;
    uint64_t token = lock_cmd(&c, 7, &mgr);
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr, 7, token, 0);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
    ck_assert_uint_eq(mome_stats.lock_acquires - acquires, 1);
    /* The holder asks again: a deadlock, refused at once. */
    cmd_init(&c2, mome_sync_cmd_lock);
    c2.u.lock.id = 7;
    msgtest_reset();
    mome_sync_cmd_lock(&c2);
    ck_assert_int_eq(c2.status, -EDEADLK);
    ck_assert_int_eq(msgtest_count(), 0);
    /* Another thread cannot unlock it. */
    cmd_init(&c2, mome_sync_cmd_unlock);
    c2.u.lock.id = 7;
    c2.tid = TID + 1;
    mome_sync_cmd_unlock(&c2);
    ck_assert_int_eq(c2.status, -EPERM);
    /* The holder does: the lock goes back with the release's date. */
    cmd_init(&c2, mome_sync_cmd_unlock);
    c2.u.lock.id = 7;
    mome_sync_cmd_unlock(&c2);
    ck_assert_uint_eq(c2.done, 1);
    ck_assert_int_eq(c2.status, 0);
    const mome_msg_t *r = nc_msg(MOME_MSG_LOCK_REL, mgr);
    ck_assert_uint_eq(NC_BODY(r, mome_syncmsg_t)->id, 7);
    ck_assert_uint_eq(NC_BODY(r, mome_syncmsg_t)->token, token);
    ck_assert_uint_ne(NC_BODY(r, mome_syncmsg_t)->date, 0);
    cmd_init(&c2, mome_sync_cmd_unlock);
    c2.u.lock.id = 7;
    mome_sync_cmd_unlock(&c2);
    ck_assert_int_eq(c2.status, -EPERM);
    /* A grant nobody asked for stops the node (helper-115: it was a warning). */
    stray_lock_t g = {MOME_MSG_LOCK_GRANT, mgr, 7, token + 100, 0};
    nc_expect_death(send_lock_msg, &g, "which did not ask for it");
}
END_TEST

/* A grant for a pending request that names another lock, or comes from a node that does not
 * manage the lock, stops the node: taken, MomeLock of one lock returned with another held
 * (helper-122). */
START_TEST(test_sync__a_grant_of_another_lock_stops_the_node)
{
    mome_cmd_t c;
    int mgr;
    nc_up(4, 1);
    uint64_t token = lock_cmd(&c, 7, &mgr);
    stray_lock_t g = {MOME_MSG_LOCK_GRANT, mgr, 8, token, 0};
    nc_expect_death(send_lock_msg, &g, "granted lock 8 for this node's request of lock 7");
    stray_lock_t h = {MOME_MSG_LOCK_GRANT, (mgr + 1) % 4, 7, token, 0};
    nc_expect_death(send_lock_msg, &h, "which node");
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr, 7, token, 0); /* the right one is taken */
    ck_assert_uint_eq(c.done, 1);
}
END_TEST

/* No node ends a barrier before every node entered it: a release or a grant saying its releaser had
 * ended two barriers more than this node would hold the grant for an exit that never comes. */
START_TEST(test_sync__a_lock_message_two_barriers_ahead_stops_the_node)
{
    mome_cmd_t c;
    int mgr, a = 0;
    nc_up(4, 1);
    while (mome_hash2((uint64_t)(uint32_t)a, 0x10c4) % 4 != 1) /* a lock this node manages */
        a++;
    lock_msg(MOME_MSG_LOCK_REQ, 0, 2, (uint64_t)a, 11, 0);
    stray_lock_t rel = {MOME_MSG_LOCK_REL, 2, (uint64_t)a, 11, 2};
    nc_expect_death(send_lock_msg, &rel, "node 2 released lock");
    uint64_t token = lock_cmd(&c, 7, &mgr);
    stray_lock_t g = {MOME_MSG_LOCK_GRANT, mgr, 7, token, 2};
    nc_expect_death(send_lock_msg, &g, "this node has ended only 0 barriers");
    g.epoch = 1; /* one ahead: its exit is on its way */
    send_lock_msg(&g);
    ck_assert_uint_eq(c.done, 0);
    rel.epoch = 1;
    msgtest_reset();
    send_lock_msg(&rel);
    ck_assert_int_eq(msgtest_count(), 0); /* freed, awaited by nobody */
}
END_TEST

/*
 * A lock whose last holder had ended a barrier this node has not left yet (its exit on its way: a
 * thread of this node in the barrier, another asking for the lock): the holder may know writes
 * from that exit's notices, recorded here only at this node's exit, so the acquire waits for it
 * (helper-122, helper-123). The release says how many barriers its node had ended.
 */
START_TEST(test_sync__a_grant_waits_for_the_exit_its_releaser_had_passed)
{
    mome_cmd_t c, b, u;
    int mgr;
    nc_up(4, 1);
    cmd_init(&b, mome_sync_cmd_barrier);
    mome_sync_cmd_barrier(&b);
    uint64_t token = lock_cmd(&c, 7, &mgr);
    mome_syncmsg_t g = {.id = 7, .token = token, .date = 0, .epoch = 1};
    nc_deliver(MOME_MSG_LOCK_GRANT, 0, mgr, &g, NULL, 0);
    ck_assert_uint_eq(c.done, 0); /* this node has not left barrier 0 */
    char why[200];
    mome_sync_describe(&c, why, sizeof(why));
    ck_assert_msg(strstr(why, "exit of barrier 0"), "%s", why);
    mome_syncmsg_t x = {.id = 0, .date = 500};
    nc_deliver(MOME_MSG_BAR_EXIT, 0, 0, &x, NULL, 0);
    ck_assert_uint_eq(b.done, 1);
    ck_assert_uint_eq(c.done, 1); /* left it: the acquire ran */
    ck_assert_int_eq(c.status, 0);
    cmd_init(&u, mome_sync_cmd_unlock);
    u.tid = c.tid;
    u.u.lock.id = 7;
    msgtest_reset();
    mome_sync_cmd_unlock(&u);
    ck_assert_uint_eq(u.done, 1);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_LOCK_REL, mgr), mome_syncmsg_t)->epoch, 1);
}
END_TEST

START_TEST(test_sync__unlock_releases_the_writes_first)
{
    uint8_t a[NC_PAGE];
    mome_cmd_t c, u;
    int mgr;
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    uint64_t token = lock_cmd(&c, 3, &mgr);
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr, 3, token, 0);
    nc_pattern(a, 2);
    nc_hold_data(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 2, a, 1);
    mome_seg_bytes(s, 0)[9] ^= 1;
    cmd_init(&u, mome_sync_cmd_unlock);
    u.u.lock.id = 3;
    mome_sync_cmd_unlock(&u);
    const mome_msg_t *d = nc_msg(MOME_MSG_DIFF, 2);
    mome_date_t date = NC_BODY(d, mome_rel_t)->date;
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_LOCK_REL, -1), 0);
    ck_assert_uint_eq(u.done, 0);
    nc_ack_page(0, 1, 0);
    const mome_msg_t *r = nc_msg(MOME_MSG_LOCK_REL, mgr);
    ck_assert_uint_eq(NC_BODY(r, mome_syncmsg_t)->date, date);
    ck_assert_uint_eq(u.done, 1);
}
END_TEST

START_TEST(test_sync__lock_grant_acquires_before_completing)
{
    uint8_t a[NC_PAGE], b2[NC_PAGE];
    mome_cmd_t c;
    int mgr;
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    nc_pattern(a, 1);
    nc_pattern(b2, 2);
    for (uint64_t p = 1; p < 3; p++) {
        mome_seg_pg(s, p)->model = MOME_RELEASE;
        nc_hold_data(s, p, 0, 0, 3, a, 1);
    }
    /* Page 1 changed before the lock's last release (150), page 2 after. */
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_notice(&b, 1, 1, 2), 0);
    mome_rel_t rel = {.date = 100, .token = 1};
    nc_deliver(MOME_MSG_STALE, 0, 0, &rel, b.buf, (uint32_t)b.len);
    mome_batch_reset(&b);
    ck_assert_int_eq(mome_batch_notice(&b, 1, 2, 2), 0);
    rel.date = 200;
    nc_deliver(MOME_MSG_STALE, 0, 0, &rel, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
    uint64_t token = lock_cmd(&c, 4, &mgr);
    lock_msg(MOME_MSG_LOCK_GRANT, MOME_LOCK_WAITED, mgr, 4, token, 150);
    int m1 = mome_seg_manager(s, 1);
    ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_READ_REQ, m1), mome_req_t)->page, 1);
    ck_assert_int_eq(msgtest_count(), 1);
    ck_assert_int_eq(mome_seg_pg(s, 2)->access, MOME_ACC_READ);
    ck_assert_uint_eq(c.done, 0); /* not before page 1 is current */
    nc_data(s, 1, 3, m1, 0, 0, 2, b2);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
    ck_assert_int_eq(memcmp(mome_seg_bytes(s, 1), b2, NC_PAGE), 0);
}
END_TEST

/* ---- other commands: argument checks ---- */

START_TEST(test_sync__commands_refuse_bad_arguments)
{
    mome_cmd_t c;
    char outside[NC_PAGE];
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    cmd_init(&c, mome_sync_cmd_model);
    c.u.model.addr = testnode_addr(s, 0);
    c.u.model.len = NC_PAGE;
    c.u.model.model = 9;
    mome_sync_cmd_model(&c);
    ck_assert_int_eq(c.status, -EINVAL);
    ck_assert_ptr_nonnull(strstr(c.err, "unknown model 9"));
    cmd_init(&c, mome_sync_cmd_syncmem);
    c.u.sync.addr = outside;
    c.u.sync.len = sizeof(outside);
    mome_sync_cmd_syncmem(&c);
    ck_assert_int_eq(c.status, -EINVAL);
    /* A range running past the view's end. */
    cmd_init(&c, mome_sync_cmd_model);
    c.u.model.addr = testnode_addr(s, 3);
    c.u.model.len = 2 * NC_PAGE;
    c.u.model.model = MOME_WEAK;
    mome_sync_cmd_model(&c);
    ck_assert_int_eq(c.status, -EINVAL);
    ck_assert_int_eq(mome_seg_pg(s, 3)->model, 0);
    ck_assert_int_eq(msgtest_count(), 0);
}
END_TEST

/* ---- model switches and this node's lock sections (helper-51's review) ---- */

/* Thread tid takes lock id (granted at once). */
static void hold_lock(mome_cmd_t *c, int id, pid_t tid)
{
    int mgr;
    uint64_t token = lock_cmd(c, id, &mgr);
    c->tid = tid;
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr, (uint64_t)id, token, 0);
    ck_assert_uint_eq(c->done, 1);
}

/* Thread tid holds lock id and writes page 0 of s, then unlocks: the release stays in flight
 * (its DIFF unacknowledged) until page 0's release is acknowledged (nc_ack_page). */
static void unlock_in_flight(mome_seg_t *s, mome_cmd_t *l, mome_cmd_t *u, int id, pid_t tid)
{
    uint8_t a[NC_PAGE];
    hold_lock(l, id, tid);
    nc_pattern(a, 2);
    nc_hold_data(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 2, a, 1);
    mome_seg_bytes(s, 0)[9] ^= 1;
    cmd_init(u, mome_sync_cmd_unlock);
    u->tid = tid;
    u->u.lock.id = id;
    mome_sync_cmd_unlock(u);
    ck_assert_uint_eq(u->done, 0);
}

/* Thread tid switches page `page` of s to model. */
static void switch_cmd(mome_cmd_t *c, mome_seg_t *s, uint64_t page, int model, pid_t tid)
{
    cmd_init(c, mome_sync_cmd_model);
    c->tid = tid;
    c->u.model.addr = testnode_addr(s, page);
    c->u.model.len = NC_PAGE;
    c->u.model.model = model;
    mome_sync_cmd_model(c);
}

/* A switch waits for another thread's lock section, holding nothing back meanwhile; a thread in
 * its own section switches at once when no other thread holds a lock, even while another thread's
 * unlock is still releasing (the switch's release follows it). Before: T1's switch queued behind
 * T0's, which waited for T1's lock: a hang. */
START_TEST(test_sync__switch_waits_for_other_sections_only)
{
    mome_cmd_t l1, l2, u2, s0, s1, l3;
    int mgr;
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    hold_lock(&l1, 5, TID + 1);
    unlock_in_flight(s, &l2, &u2, 3, TID + 2);
    switch_cmd(&s0, s, 3, MOME_WEAK, TID); /* page 3: not held, a switch ends at once */
    ck_assert_uint_eq(s0.done, 0);         /* T1 holds lock 5 */
    switch_cmd(&s1, s, 3, MOME_WEAK, TID + 1);
    ck_assert_uint_eq(s1.done, 1);
    /* While T0's switch waits, another thread still starts a section. */
    lock_cmd(&l3, 7, &mgr);
    nc_ack_page(0, 1, 0);
    ck_assert_uint_eq(u2.done, 1);
    ck_assert_uint_eq(s0.done, 0);
    cmd_init(&u2, mome_sync_cmd_unlock);
    u2.tid = TID + 1;
    u2.u.lock.id = 5;
    mome_sync_cmd_unlock(&u2);
    ck_assert_uint_eq(s0.done, 1); /* no other thread holds a lock now */
}
END_TEST

/* T0 holds lock 5 and switches while T2's unlock is in flight and T1's request for lock 6 is
 * out: the switch runs at once (no other thread holds a lock), so T1, granted lock 6 and asking
 * for lock 5, waits for T0's unlock only. Before: the switch waited for T2's release, T1's grant
 * came meanwhile, and T0 waited for T1, which waited for T0. */
START_TEST(test_sync__switch_in_a_section_does_not_wait)
{
    mome_cmd_t l0, l1, l2, u2, sw;
    int mgr6;
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    hold_lock(&l0, 5, TID);
    uint64_t t6 = lock_cmd(&l1, 6, &mgr6);
    l1.tid = TID + 1;
    unlock_in_flight(s, &l2, &u2, 3, TID + 2);
    switch_cmd(&sw, s, 3, MOME_WEAK, TID);
    ck_assert_uint_eq(sw.done, 1);
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr6, 6, t6, 0);
    /* T1's acquire waits for T2's release in flight (a copy a flush drops meanwhile stays mapped
     * until then: helper-113), which ends with its acknowledgement, not with any lock. */
    ck_assert_uint_eq(l1.done, 0);
    nc_ack_page(0, 1, 0);
    ck_assert_uint_eq(l1.done, 1);
    /* And with T1 holding lock 6: T0 in its section cannot switch (EDEADLK). */
    switch_cmd(&sw, s, 3, MOME_RELEASE, TID);
    ck_assert_uint_eq(sw.done, 1);
    ck_assert_int_eq(sw.status, -EDEADLK);
    ck_assert_ptr_nonnull(strstr(sw.err, "holds lock 5"));
}
END_TEST

/* While a switch runs (its release in flight), a thread holding no lock waits in MomeLock and a
 * grant waits too; both go on when the switch ends. */
START_TEST(test_sync__sections_wait_while_a_switch_runs)
{
    uint8_t a[NC_PAGE];
    mome_cmd_t sw, l1, l2;
    int mgr6;
    nc_up(4, 1);
    mome_seg_t *s = testnode_segment(1, 4);
    uint64_t t6 = lock_cmd(&l1, 6, &mgr6); /* out before the switch */
    l1.tid = TID + 1;
    nc_pattern(a, 2);
    mome_seg_pg(s, 0)->model = MOME_RELEASE;
    nc_hold_data(s, 0, 1, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 2, a, 1);
    mome_seg_bytes(s, 0)[9] ^= 1;
    msgtest_reset();
    switch_cmd(&sw, s, 0, MOME_STRONG, TID); /* releases first: a DIFF to node 2 */
    ck_assert_uint_eq(sw.done, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_DIFF, 2));
    cmd_init(&l2, mome_sync_cmd_lock);
    l2.tid = TID + 2;
    l2.u.lock.id = 7;
    msgtest_reset();
    mome_sync_cmd_lock(&l2);
    ck_assert_int_eq(msgtest_count(), 0); /* held back */
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr6, 6, t6, 0);
    ck_assert_uint_eq(l1.done, 0); /* applied after the switch */
    nc_ack_page(2, 1, 0);
    ck_assert_uint_eq(sw.done, 1);
    ck_assert_uint_eq(l1.done, 1);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_LOCK_REQ, -1), 1); /* T2's, sent now */
}
END_TEST

/* ---- MomeFinalize: program barriers and locks (helper-158's report) ---- */

/* Programs of nodes 0-2 and 3 in a job of 4, this node the first program's gathering node. */
static void app_up(void)
{
    mome_g.app = 0;
    mome_g.app_first = 0;
    mome_g.app_size = 3;
    nc_up(4, 0);
}

static void app_msg(int flags, int from, uint64_t epoch)
{
    mome_syncmsg_t m = {.id = epoch};
    msgtest_deliver(MOME_MSG_BAR_ENTER, MOME_BAR_APP | flags, from, &m, NULL, 0);
}

/* Node 1 one program barrier short: its MomeFinalize begins while node 2 is in the program's
 * barrier 1, or before node 2 enters it. Both waited for ever (helper-158: the job hung). */
static void app_finalize_during_a_program_barrier(void *arg)
{
    (void)arg;
    app_msg(0, 2, 1);
    app_msg(MOME_BAR_FINALIZE, 1, 1);
}

static void app_barrier_after_a_finalize(void *arg)
{
    (void)arg;
    app_msg(MOME_BAR_FINALIZE, 1, 1);
    app_msg(0, 2, 1);
}

/* A node's MomeFinalize at another count of program barriers than the one gathered. */
static void app_finalize_out_of_turn(void *arg)
{
    (void)arg;
    app_msg(MOME_BAR_FINALIZE, 1, 3);
}

START_TEST(test_sync__a_program_barrier_against_a_finalize_stops_the_node)
{
    app_up();
    for (int n = 0; n < 3; n++) /* program barrier 0 */
        app_msg(0, n, 0);
    ck_assert_int_eq(msgtest_count_of(MOME_MSG_BAR_EXIT, -1), 3);
    const char *tail = "MomeAppBarrier 1: the nodes of program 0 (nodes 0 to 2) disagree on their "
                       "program barriers (every node of a program makes the same number of "
                       "MomeAppBarrier calls before MomeFinalize; one fewer on node 1)";
    char want[400];
    snprintf(want, sizeof(want),
             "node 1 called MomeFinalize after 1 program barrier while node 2 "
             "is in %s",
             tail);
    nc_expect_death(app_finalize_during_a_program_barrier, NULL, want);
    nc_expect_death(app_barrier_after_a_finalize, NULL, want);
    nc_expect_death(app_finalize_out_of_turn, NULL,
                    "node 1 began MomeFinalize after 3 program barriers, but this node gathers "
                    "program barrier 1");
    /* The same count everywhere: nothing to say. */
    msgtest_reset();
    for (int n = 0; n < 3; n++)
        app_msg(MOME_BAR_FINALIZE, n, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    mome_g.app_first = mome_g.app_size = 0;
}
END_TEST

/* The barrier of MomeFinalize (a job barrier named so) tells the program's gathering node, and the
 * node makes no program barrier after it; MomeFinalize waits for none either. */
START_TEST(test_sync__finalize_tells_the_program_and_ends_its_barriers)
{
    mome_cmd_t f, a;
    mome_g.app = 1;
    mome_g.app_first = 2;
    mome_g.app_size = 2;
    nc_up(4, 3);
    cmd_init(&a, mome_sync_cmd_app_barrier); /* another thread in a program barrier */
    mome_sync_cmd_app_barrier(&a);
    ck_assert_uint_eq(a.done, 0);
    cmd_init(&f, mome_sync_cmd_barrier);
    f.call = "MomeFinalize";
    mome_sync_cmd_barrier(&f);
    ck_assert_int_eq(f.status, -EBUSY);
    mome_syncmsg_t x = {.id = 0, .date = 900};
    nc_deliver(MOME_MSG_BAR_EXIT, MOME_BAR_APP, 2, &x, NULL, 0);
    ck_assert_uint_eq(a.done, 1);
    msgtest_reset();
    cmd_init(&f, mome_sync_cmd_barrier);
    f.call = "MomeFinalize";
    mome_sync_cmd_barrier(&f);
    ck_assert_uint_eq(f.done, 0);
    const mome_msg_t *n = nc_msg(MOME_MSG_BAR_ENTER, 2);
    ck_assert_int_eq(n->flags, MOME_BAR_APP | MOME_BAR_FINALIZE);
    ck_assert_uint_eq(NC_BODY(n, mome_syncmsg_t)->id, 1);
    ck_assert_int_eq(nc_msg(MOME_MSG_BAR_ENTER, 0)->flags, MOME_BAR_FINALIZE);
    cmd_init(&a, mome_sync_cmd_app_barrier);
    mome_sync_cmd_app_barrier(&a);
    ck_assert_int_eq(a.status, -ENOTCONN);
    ck_assert_ptr_nonnull(strstr(a.err, "MomeFinalize"));
    mome_g.app = mome_g.app_first = mome_g.app_size = 0;
}
END_TEST

/* A lock given up by its holder's MomeFinalize (LOCK_GONE): every waiter, and every later
 * request, is refused, naming that node; nobody holds it. */
START_TEST(test_sync__a_lock_given_up_is_refused_to_every_request)
{
    nc_up(4, 0);
    int a = managed(0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 1, a, 11, 0);
    granted(1, 11, 0, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 2, a, 22, 0);
    lock_msg(MOME_MSG_LOCK_REQ, 0, 3, a, 33, 0);
    lock_msg(MOME_MSG_LOCK_REL, MOME_LOCK_GONE, 1, a, 11, 0);
    ck_assert_int_eq(msgtest_count(), 2);
    for (int n = 2; n <= 3; n++) {
        const mome_msg_t *g = nc_msg(MOME_MSG_LOCK_GRANT, n);
        ck_assert_int_eq(g->flags, MOME_LOCK_GONE);
        ck_assert_uint_eq(NC_BODY(g, mome_syncmsg_t)->token, (uint64_t)n * 11);
        ck_assert_uint_eq(NC_BODY(g, mome_syncmsg_t)->node, 1);
    }
    lock_msg(MOME_MSG_LOCK_REQ, 0, 0, a, 44, 0);
    ck_assert_int_eq(nc_msg(MOME_MSG_LOCK_GRANT, 0)->flags, MOME_LOCK_GONE);
    stray_lock_t again = {MOME_MSG_LOCK_REL, 1, (uint64_t)a, 11, 0};
    nc_expect_death(send_lock_msg, &again, "nobody does");
}
END_TEST

/* MomeFinalize with a lock held gives it up (said), takes no more, and a grant or a refusal coming
 * then ends the threads that waited. A refusal names the node that gave the lock up. */
START_TEST(test_sync__finalize_gives_up_the_locks_held_here)
{
    mome_cmd_t l7, l8, l9, f, c;
    int mgr7, mgr8, mgr9;
    nc_up(4, 1);
    uint64_t t7 = lock_cmd(&l7, 7, &mgr7);
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr7, 7, t7, 0);
    ck_assert_int_eq(l7.status, 0);
    uint64_t t8 = lock_cmd(&l8, 8, &mgr8); /* other threads waiting */
    l8.tid = TID + 1;
    uint64_t t9 = lock_cmd(&l9, 9, &mgr9);
    l9.tid = TID + 2;
    msgtest_reset();
    cmd_init(&f, mome_sync_cmd_barrier);
    f.call = "MomeFinalize";
    mome_sync_cmd_barrier(&f);
    const mome_msg_t *r = nc_msg(MOME_MSG_LOCK_REL, mgr7);
    ck_assert_int_eq(r->flags, MOME_LOCK_GONE);
    ck_assert_uint_eq(NC_BODY(r, mome_syncmsg_t)->token, t7);
    /* no more locks, and none to unlock */
    cmd_init(&c, mome_sync_cmd_lock);
    c.u.lock.id = 10;
    c.tid = TID + 3;
    mome_sync_cmd_lock(&c);
    ck_assert_int_eq(c.status, -ENOTCONN);
    cmd_init(&c, mome_sync_cmd_unlock);
    c.u.lock.id = 7;
    mome_sync_cmd_unlock(&c);
    ck_assert_int_eq(c.status, -ENOTCONN);
    ck_assert_ptr_nonnull(strstr(c.err, "MomeFinalize"));
    /* lock 8 granted now: given back at once */
    lock_msg(MOME_MSG_LOCK_GRANT, 0, mgr8, 8, t8, 0);
    ck_assert_int_eq(l8.status, -ENOTCONN);
    r = nc_msg(MOME_MSG_LOCK_REL, mgr8);
    ck_assert_int_eq(r->flags, 0);
    ck_assert_uint_eq(NC_BODY(r, mome_syncmsg_t)->token, t8);
    /* lock 9 refused: node 2 gave it up */
    mome_syncmsg_t g = {.id = 9, .token = t9, .node = 2};
    nc_deliver(MOME_MSG_LOCK_GRANT, MOME_LOCK_GONE, mgr9, &g, NULL, 0);
    ck_assert_int_eq(l9.status, -ENOTRECOVERABLE);
    ck_assert_msg(strstr(l9.err, "lock 9 was held by node 2 when it called MomeFinalize"), "%s",
                  l9.err);
    ck_assert_int_eq(msgtest_count(), 0);
    /* A refusal names a node. */
    g.node = MOME_NODE_NONE;
    ck_assert_int_eq(msgtest_deliver(MOME_MSG_LOCK_GRANT, MOME_LOCK_GONE, mgr9, &g, NULL, 0),
                     -EPROTO);
}
END_TEST

/* ---- HELLO ---- */

static void hello_from_2(void *arg)
{
    (void)arg;
    msgtest_deliver(MOME_MSG_HELLO, 0, 2, NULL, NULL, 0);
}

/* Each node says HELLO once, in its MomeInit: a second one is a node that started again (its
 * state gone) or a broken one, and stops the job. */
START_TEST(test_sync__a_second_hello_stops_the_node)
{
    nc_up(3, 1);
    nc_deliver(MOME_MSG_HELLO, 0, 0, NULL, NULL, 0);
    nc_deliver(MOME_MSG_HELLO, 0, 2, NULL, NULL, 0);
    nc_expect_death(hello_from_2, NULL, "node 2 said HELLO twice");
}
END_TEST

Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    NC_CASE(s, test_sync__barrier_exits_after_every_node_entered);
    NC_CASE(s, test_sync__a_second_hello_stops_the_node);
    NC_CASE(s, test_sync__barrier_entered_twice_stops_the_node);
    NC_CASE(s, test_sync__final_round_against_a_barrier_stops_the_node);
    NC_CASE(s, test_sync__final_round_names_the_call_of_the_other_barrier);
    NC_CASE(s, test_sync__barriers_of_different_calls_stop_the_node);
    NC_CASE(s, test_sync__checkpoints_of_two_segments_stop_the_node);
    NC_CASE(s, test_sync__barrier_command_enters_and_completes_at_the_exit);
    NC_CASE(s, test_sync__barrier_enters_once_the_release_is_acknowledged);
    NC_CASE(s, test_sync__barrier_exit_dated_before_the_entry_stops_the_node);
    NC_CASE(s, test_sync__barrier_carries_the_owners_notices_and_counts_its_pushes);
    NC_CASE(s, test_sync__an_exit_not_after_its_notices_stops_the_node);
    NC_CASE(s, test_sync__release_during_a_barrier_sends_its_notices_to_the_managers);
    NC_CASE(s, test_sync__a_release_after_the_exit_sends_the_barriers_notices);
    NC_CASE(s, test_sync__the_barriers_notices_go_at_the_next_exit);
    NC_CASE(s, test_sync__a_grant_waits_for_the_exit_its_releaser_had_passed);
    NC_CASE(s, test_sync__the_last_barrier_date_never_goes_back);
    NC_CASE(s, test_sync__a_grant_of_another_lock_stops_the_node);
    NC_CASE(s, test_sync__a_lock_message_two_barriers_ahead_stops_the_node);
    NC_CASE(s, test_sync__flush_during_a_barrier_does_not_wait_for_it);
    NC_CASE(s, test_sync__barrier_exit_marks_copies_stale_and_waits_for_the_pushes);
    NC_CASE(s, test_sync__barrier_pushes_may_come_before_the_exit);
    NC_CASE(s, test_sync__barrier_notices_are_validated);
    NC_CASE(s, test_sync__locks_are_granted_in_fifo_order_with_the_last_release_date);
    NC_CASE(s, test_sync__lock_release_by_a_non_holder_stops_the_node);
    NC_CASE(s, test_sync__a_lock_message_to_a_node_not_its_manager_is_refused);
    NC_CASE(s, test_sync__lock_and_unlock_commands);
    NC_CASE(s, test_sync__unlock_releases_the_writes_first);
    NC_CASE(s, test_sync__lock_grant_acquires_before_completing);
    NC_CASE(s, test_sync__commands_refuse_bad_arguments);
    NC_CASE(s, test_sync__switch_waits_for_other_sections_only);
    NC_CASE(s, test_sync__switch_in_a_section_does_not_wait);
    NC_CASE(s, test_sync__sections_wait_while_a_switch_runs);
    NC_CASE(s, test_sync__a_program_barrier_against_a_finalize_stops_the_node);
    NC_CASE(s, test_sync__finalize_tells_the_program_and_ends_its_barriers);
    NC_CASE(s, test_sync__a_lock_given_up_is_refused_to_every_request);
    NC_CASE(s, test_sync__finalize_gives_up_the_locks_held_here);
    return s;
}
