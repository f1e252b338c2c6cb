/*
 * test_segment.c - the segment name service (core/segment.c) as a state machine: SEG_OPEN,
 * SEG_CLOSE, SEG_UNLINK delivered to the name manager with the replies and SEG_DESTROY checked,
 * and the requesting side's commands (MomeSegOpen, MomeSegClose) run by hand with the manager's
 * replies delivered.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cmd.h"
#include "core/proto.h"
#include "core/segment.h"
#include "fake_memory.h"
#include "memory/store.h"
#include "mome.h"
#include "net/srvproto.h"
#include "repo/repo.h"
#include "nodecase.h"

#define SZ (3 * NC_PAGE)

static void seg_open(int from, const char *name, uint64_t size, uint32_t flags, uint64_t token)
{
    mome_segmsg_t m = {.size = size, .flags = flags, .token = token};
    nc_deliver(MOME_MSG_SEG_OPEN, 0, from, &m, name, (uint32_t)strlen(name));
}

static void seg_close(int from, uint64_t id, uint32_t count)
{
    mome_segmsg_t m = {.id = id, .count = count};
    nc_deliver(MOME_MSG_SEG_CLOSE, 0, from, &m, NULL, 0);
}

static void seg_unlink(int from, const char *name, uint64_t token)
{
    mome_segmsg_t m = {.token = token};
    nc_deliver(MOME_MSG_SEG_UNLINK, 0, from, &m, name, (uint32_t)strlen(name));
}

/* The one SEG_OPEN_REPLY, to `to`, for token. */
static const mome_segmsg_t *open_reply(int to, uint64_t token)
{
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_segmsg_t *r = NC_BODY(nc_msg(MOME_MSG_SEG_OPEN_REPLY, to), mome_segmsg_t);
    ck_assert_uint_eq(r->token, token);
    return r;
}

/* ---- the name manager ---- */

START_TEST(test_segment__open_create_assigns_an_id)
{
    nc_up(2, 0);
    seg_open(1, "alpha", SZ, MOME_CREATE, 7);
    const mome_segmsg_t *r = open_reply(1, 7);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->size, SZ);
    uint64_t id = r->id;
    ck_assert_uint_ne(id, 0);
    /* Another name, another id; the same name, the same segment whatever the size asked. */
    seg_open(0, "beta", SZ, MOME_CREATE, 8);
    ck_assert_uint_ne(open_reply(0, 8)->id, id);
    seg_open(0, "alpha", 0, 0, 9);
    r = open_reply(0, 9);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->id, id);
    ck_assert_uint_eq(r->size, SZ);
    seg_open(1, "alpha", SZ, MOME_CREATE, 10);
    ck_assert_uint_eq(open_reply(1, 10)->id, id);
}
END_TEST

START_TEST(test_segment__open_refusals)
{
    nc_up(2, 0);
    seg_open(1, "gamma", 0, 0, 1);
    ck_assert_int_eq(open_reply(1, 1)->status, -ENOENT); /* no MOME_CREATE */
    seg_open(1, "gamma", 0, MOME_CREATE, 2);
    ck_assert_int_eq(open_reply(1, 2)->status, -EINVAL); /* no size to create it with */
    seg_open(1, "gamma", SZ, MOME_CREATE, 3);
    ck_assert_int_eq(open_reply(1, 3)->status, 0);
    seg_open(1, "gamma", SZ, MOME_CREATE | MOME_EXCL, 4);
    ck_assert_int_eq(open_reply(1, 4)->status, -EEXIST);
    seg_open(1, "gamma", 2 * SZ, MOME_CREATE, 5);
    const mome_segmsg_t *r = open_reply(1, 5);
    ck_assert_int_eq(r->status, -EINVAL);
    ck_assert_uint_eq(r->size, SZ); /* the size it has, for the message */
}
END_TEST

static void close_destroyed(void *arg)
{
    seg_close(0, *(uint64_t *)arg, 1);
}

START_TEST(test_segment__unlink_destroys_once_every_open_is_closed)
{
    nc_up(2, 0);
    seg_open(1, "delta", SZ, MOME_CREATE, 1);
    uint64_t id = open_reply(1, 1)->id;
    seg_open(0, "delta", 0, 0, 2);
    seg_unlink(1, "delta", 3);
    ck_assert_int_eq(msgtest_count(), 1);
    const mome_segmsg_t *u = NC_BODY(nc_msg(MOME_MSG_SEG_UNLINK_REPLY, 1), mome_segmsg_t);
    ck_assert_int_eq(u->status, 0);
    ck_assert_uint_eq(u->token, 3);
    /* The name is gone at once... */
    seg_open(1, "delta", 0, 0, 4);
    ck_assert_int_eq(open_reply(1, 4)->status, -ENOENT);
    seg_open(1, "delta", SZ, MOME_CREATE, 5);
    ck_assert_uint_ne(open_reply(1, 5)->id, id);
    /* ...the segment when the last of its opens closes. */
    seg_close(1, id, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    seg_close(0, id, 1);
    ck_assert_int_eq(msgtest_count(), 2);
    for (int n = 0; n < 2; n++)
        ck_assert_uint_eq(NC_BODY(nc_msg(MOME_MSG_SEG_DESTROY, n), mome_segmsg_t)->id, id);
    /* A close of a destroyed segment is one too many: it stops the node (helper-115). */
    nc_expect_death(close_destroyed, &id, "closed segment 0x");
}
END_TEST

static void close_more_than_opened(void *arg)
{
    int from = *(int *)arg;
    seg_open(1, "eta", SZ, MOME_CREATE, 1);
    uint64_t id = open_reply(1, 1)->id;
    seg_open(1, "eta", 0, 0, 2);
    msgtest_reset();
    seg_close(from, id, 2); /* node 1: its two opens; node 0: none */
    seg_close(1, id, 1);
}

/* A SEG_CLOSE ending more opens than its node has stops the job: counted, the segment was
 * destroyed job-wide while other nodes still used it (helper-111). */
START_TEST(test_segment__closing_more_than_opened_stops_the_node)
{
    int from = 0;
    nc_up(2, 0);
    nc_expect_death(close_more_than_opened, &from, "node 0 closed segment 'eta'");
    from = 1;
    nc_expect_death(close_more_than_opened, &from,
                    "node 1 closed segment 'eta' (0x1) 1 times, "
                    "which it has open 0 times");
}
END_TEST

START_TEST(test_segment__unlink_of_an_unused_segment_destroys_it_at_once)
{
    nc_up(2, 0);
    seg_open(1, "eps", SZ, MOME_CREATE, 1);
    uint64_t id = open_reply(1, 1)->id;
    seg_close(1, id, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    seg_unlink(0, "eps", 2);
    ck_assert_int_eq(msgtest_count(), 3);
    ck_assert_int_eq(NC_BODY(nc_msg(MOME_MSG_SEG_UNLINK_REPLY, 0), mome_segmsg_t)->status, 0);
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_SEG_DESTROY, 0));
    ck_assert_ptr_nonnull(nc_msg(MOME_MSG_SEG_DESTROY, 1));
    seg_unlink(0, "eps", 3);
    ck_assert_int_eq(NC_BODY(nc_msg(MOME_MSG_SEG_UNLINK_REPLY, 0), mome_segmsg_t)->status, -ENOENT);
}
END_TEST

START_TEST(test_segment__names_are_checked_by_the_decoder)
{
    nc_up(2, 0);
    mome_segmsg_t m = {.size = SZ, .flags = MOME_CREATE, .token = 1};
    static const char nul[] = {'a', 0, 'b'};
    msgtest_reset();
    ck_assert_int_ne(msgtest_deliver(MOME_MSG_SEG_OPEN, 0, 1, &m, nul, sizeof(nul)), 0);
    char longname[MOME_SEG_NAME_MAX + 2];
    memset(longname, 'x', sizeof(longname));
    ck_assert_int_ne(msgtest_deliver(MOME_MSG_SEG_OPEN, 0, 1, &m, longname, sizeof(longname)), 0);
    ck_assert_int_ne(msgtest_deliver(MOME_MSG_SEG_OPEN, 0, 1, &m, NULL, 0), 0);
    ck_assert_int_eq(msgtest_count(), 0);
    /* The longest name is fine. */
    memset(longname, 'y', MOME_SEG_NAME_MAX);
    longname[MOME_SEG_NAME_MAX] = 0;
    seg_open(1, longname, SZ, MOME_CREATE, 2);
    ck_assert_int_eq(open_reply(1, 2)->status, 0);
}
END_TEST

/* ---- the requesting side ---- */

/* MomeSegOpen(name, size, flags) by hand: returns the request's token; *mgr is where it went. */
static uint64_t open_cmd(mome_cmd_t *c, const char *name, uint64_t size, int flags, int *mgr)
{
    memset(c, 0, sizeof(*c));
    c->fn = mome_segment_cmd_open;
    c->u.open.name = name;
    c->u.open.size = size;
    c->u.open.flags = flags;
    msgtest_reset();
    mome_segment_cmd_open(c);
    ck_assert_int_eq(msgtest_count(), 1);
    const msgtest_sent_t *r = msgtest_at(0);
    ck_assert_int_eq(r->m.type, MOME_MSG_SEG_OPEN);
    ck_assert_uint_eq(r->m.len, strlen(name));
    ck_assert_int_eq(memcmp(r->m.payload, name, r->m.len), 0);
    const mome_segmsg_t *m = NC_BODY(&r->m, mome_segmsg_t);
    ck_assert_uint_eq(m->size, size);
    ck_assert_uint_eq(m->flags, (uint32_t)flags);
    ck_assert_uint_eq(c->done, 0);
    *mgr = r->to;
    return m->token;
}

static void reply(int from, uint64_t token, uint64_t id, uint64_t size, int status)
{
    mome_segmsg_t m = {.id = id, .size = size, .token = token, .status = status};
    nc_deliver(MOME_MSG_SEG_OPEN_REPLY, 0, from, &m, NULL, 0);
}

static void close_cmd(mome_cmd_t *c, int handle)
{
    memset(c, 0, sizeof(*c));
    c->fn = mome_segment_cmd_close;
    c->u.close.handle = handle;
    msgtest_reset();
    mome_segment_cmd_close(c);
}

#define ID ((1ull << 40) | 5)

/* What a second node sends (its `to` field: the token or segment id; from: its node). */
typedef struct {
    int from;
    uint64_t to;
} stray_t;

static void second_reply(void *arg)
{
    const stray_t *st = arg;
    mome_segmsg_t m = {.id = ID, .size = SZ, .token = st->to};
    msgtest_deliver(MOME_MSG_SEG_OPEN_REPLY, 0, st->from, &m, NULL, 0);
}

static void destroy_in_use(void *arg)
{
    const stray_t *st = arg;
    mome_segmsg_t d = {.id = st->to};
    msgtest_deliver(MOME_MSG_SEG_DESTROY, 0, st->from, &d, NULL, 0);
}

START_TEST(test_segment__open_reply_gives_a_handle)
{
    mome_cmd_t c;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "zeta", SZ, MOME_CREATE, &mgr);
    reply(mgr, token, ID, SZ, 0);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_ge(c.status, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    mome_seg_t *s = mome_seg_find(ID);
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(s->npages, 3);
    ck_assert_str_eq(s->name, "zeta");
    /* A reply nobody waits for (a second copy) stops the node: the name manager counted an
     * open nobody holds (helper-115). */
    stray_t st = {.from = mgr, .to = token};
    nc_expect_death(second_reply, &st, "answered a MomeSegOpen this node did not make");
}
END_TEST

/* A reply of the other kind, or from another node than the name manager asked, stops the node: an
 * unlink's reply carrying an open's token completed the MomeSegOpen with handle 0. */
typedef struct {
    int type, from;
    uint64_t token;
} wrong_reply_t;

static void wrong_reply(void *arg)
{
    const wrong_reply_t *w = arg;
    mome_segmsg_t m = {.id = ID, .size = SZ, .token = w->token};
    msgtest_deliver(w->type, 0, w->from, &m, NULL, 0);
}

START_TEST(test_segment__a_reply_must_match_its_request)
{
    mome_cmd_t c, u;
    int mgr;
    char want[160];
    nc_up(3, 2);
    uint64_t token = open_cmd(&c, "mu", SZ, MOME_CREATE, &mgr);
    wrong_reply_t w = {MOME_MSG_SEG_UNLINK_REPLY, mgr, token};
    snprintf(want, sizeof(want),
             "node %d answered with SEG_UNLINK_REPLY token %llu, which is this node's MomeSegOpen "
             "of segment 'mu' asked of its name manager, node %d",
             mgr, (unsigned long long)token, mgr);
    nc_expect_death(wrong_reply, &w, want);
    w.type = MOME_MSG_SEG_OPEN_REPLY;
    w.from = mgr == 0 ? 1 : 0;
    nc_expect_death(wrong_reply, &w, "which is this node's MomeSegOpen of segment 'mu'");
    /* An unlink's token in an open's reply. */
    memset(&u, 0, sizeof(u));
    u.fn = mome_segment_cmd_unlink;
    u.u.unlink.name = "mu";
    msgtest_reset();
    mome_segment_cmd_unlink(&u);
    w.token = NC_BODY(nc_msg(MOME_MSG_SEG_UNLINK, mgr), mome_segmsg_t)->token;
    w.from = mgr;
    nc_expect_death(wrong_reply, &w, "which is this node's MomeSegUnlink of segment 'mu'");
    /* The right ones. */
    reply(mgr, token, ((uint64_t)mgr << 40) | 1, SZ, 0);
    ck_assert_int_ge(c.status, 0);
    mome_segmsg_t r = {.token = w.token};
    nc_deliver(MOME_MSG_SEG_UNLINK_REPLY, 0, mgr, &r, NULL, 0);
    ck_assert_uint_eq(u.done, 1);
    ck_assert_int_eq(u.status, 0);
}
END_TEST

START_TEST(test_segment__open_reply_error_fails_the_command)
{
    mome_cmd_t c;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "eta", 0, 0, &mgr);
    reply(mgr, token, 0, 0, -ENOENT);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, -ENOENT);
    ck_assert_ptr_nonnull(strstr(c.err, "'eta' does not exist"));
    token = open_cmd(&c, "eta", 2 * SZ, 0, &mgr);
    reply(mgr, token, 0, SZ, -EINVAL);
    ck_assert_int_eq(c.status, -EINVAL);
    ck_assert_ptr_nonnull(strstr(c.err, "exists with size 12288"));
    ck_assert_ptr_null(mome_seg_find(ID));
    ck_assert_int_eq(msgtest_count(), 0);
}
END_TEST

/* The name manager's answer to a MOME_PERSIST open: segment ID, whose repository uid is uid. */
static void reply_persist(int from, uint64_t token, uint64_t uid)
{
    mome_segmsg_t m = {.id = ID, .size = SZ, .token = token};
    uint8_t p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(uid >> (8 * i));
    nc_deliver(MOME_MSG_SEG_OPEN_REPLY, MOME_SEGR_PERSIST, from, &m, p, sizeof(p));
}

/* The token of the SEG_OPEN this node sent mgr again, after the reply just delivered. */
static uint64_t asked_again(int mgr)
{
    return NC_BODY(nc_msg(MOME_MSG_SEG_OPEN, mgr), mome_segmsg_t)->token;
}

/*
 * A node whose MOME_REPOSITORY is not the name manager's: the manager creates the segment in its
 * own, and this node, opening it by name in its repository, finds none (ENOENT) or another
 * (EXDEV). Once may be an unlink racing the open (it asks again); the same segment (uid) twice is
 * not: it says the repositories differ. It said "does not exist in repository ... (pass
 * MOME_CREATE to create it)" to a program that had passed MOME_CREATE, after asking 100 times.
 */
/* A scratch repository for a test's persistent segments, MOME_REPOSITORY's value meanwhile. */
typedef struct {
    char dir[32];
    char saved[sizeof(mome_g.cfg.repository)];
} scratch_repo_t;

static void scratch_repo_use(scratch_repo_t *r)
{
    snprintf(r->dir, sizeof(r->dir), "/tmp/mome-test-seg.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(r->dir));
    memcpy(r->saved, mome_g.cfg.repository, sizeof(r->saved));
    snprintf(mome_g.cfg.repository, sizeof(mome_g.cfg.repository), "%s", r->dir);
}

static void scratch_repo_done(scratch_repo_t *r)
{
    char cmd[64];
    memcpy(mome_g.cfg.repository, r->saved, sizeof(r->saved));
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
    ck_assert_int_eq(system(cmd), 0);
}

START_TEST(test_segment__a_repository_not_the_managers_is_said)
{
    mome_cmd_t c;
    mome_repo_seg_t *rs;
    mome_repo_info_t info;
    scratch_repo_t repo;
    char err[600];
    int mgr;
    scratch_repo_use(&repo);
    const char *dir = repo.dir;
    ck_assert_msg(mome_repo_open(dir, "other", SZ, NC_PAGE, MOME_REPO_CREATE | MOME_REPO_LOCK,
                                 "test", &rs, err, sizeof(err)) == 0,
                  "%s", err);
    mome_repo_close(rs);
    ck_assert_msg(mome_repo_open(dir, "mine", SZ, NC_PAGE, MOME_REPO_CREATE | MOME_REPO_LOCK,
                                 "test", &rs, err, sizeof(err)) == 0,
                  "%s", err);
    mome_repo_info(rs, &info);
    uint64_t mine = info.head.uid;
    mome_repo_close(rs);
    nc_up(2, 1);

    /* None here: a race (another segment of the name each time) asks again, the same one does
     * not. */
    uint64_t token = open_cmd(&c, "theirs", SZ, MOME_CREATE | MOME_PERSIST, &mgr);
    reply_persist(mgr, token, 0x1111);
    ck_assert_uint_eq(c.done, 0);
    reply_persist(mgr, asked_again(mgr), 0x2222);
    ck_assert_uint_eq(c.done, 0);
    reply_persist(mgr, asked_again(mgr), 0x2222);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, -EXDEV);
    char want[300];
    snprintf(want, sizeof(want),
             "node 1 finds no segment 'theirs' in its repository '%s' where its name manager, "
             "node %d, opened it: MOME_REPOSITORY must name the same directory",
             dir, mgr);
    ck_assert_msg(strstr(c.err, want) != NULL, "%s", c.err);
    ck_assert_ptr_null(strstr(c.err, "pass MOME_CREATE"));
    ck_assert_int_eq(msgtest_count(), 1); /* the SEG_CLOSE of the last try, nothing asked */
    ck_assert_ptr_null(mome_seg_find(ID));

    /* Another segment of the name here. */
    token = open_cmd(&c, "mine", SZ, MOME_PERSIST, &mgr);
    reply_persist(mgr, token, mine + 1);
    reply_persist(mgr, asked_again(mgr), mine + 1);
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, -EXDEV);
    ck_assert_msg(strstr(c.err, "finds another segment 'mine'"), "%s", c.err);
    ck_assert_int_eq(msgtest_count(), 1);
    scratch_repo_done(&repo);
}
END_TEST

START_TEST(test_segment__close_tells_the_name_manager_once_unused)
{
    mome_cmd_t c1, c2, k;
    int mgr;
    nc_up(2, 1);
    uint64_t t1 = open_cmd(&c1, "theta", SZ, MOME_CREATE, &mgr);
    uint64_t t2 = open_cmd(&c2, "theta", 0, 0, &mgr);
    reply(mgr, t1, ID, SZ, 0);
    reply(mgr, t2, ID, SZ, 0);
    ck_assert_int_ge(c1.status, 0);
    ck_assert_int_ge(c2.status, 0);
    ck_assert_int_ne(c1.status, c2.status); /* two handles, one segment */
    close_cmd(&k, c1.status);
    ck_assert_int_eq(k.status, 0);
    ck_assert_int_eq(msgtest_count(), 0); /* still open here */
    close_cmd(&k, c1.status);
    ck_assert_int_eq(k.status, -EBADF);
    close_cmd(&k, c2.status);
    ck_assert_int_eq(k.status, 0);
    const mome_msg_t *m = nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->id, ID);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->count, 2); /* both opens end at once */
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

/* A destroy of a segment with handles open here stops the node: the name manager destroys it once
 * every open is closed (helper-115: warned about, after its directory entries were forgotten). */
START_TEST(test_segment__destroy_frees_an_unused_segment_only)
{
    mome_cmd_t c, k;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "iota", SZ, MOME_CREATE, &mgr);
    uint64_t id = ((uint64_t)mgr << 40) | 5; /* the manager's fifth */
    reply(mgr, token, id, SZ, 0);
    mome_segmsg_t d = {.id = id};
    stray_t st = {.from = mgr, .to = id};
    nc_expect_death(destroy_in_use, &st, "destroyed segment 'iota'");
    ck_assert_ptr_nonnull(mome_seg_find(id)); /* a handle is open here */
    close_cmd(&k, c.status);
    nc_deliver(MOME_MSG_SEG_DESTROY, 0, mgr, &d, NULL, 0);
    ck_assert_ptr_null(mome_seg_find(id));
}
END_TEST

/*
 * Another thread's MomeSegClose while this node's checkpoint of the segment gathers its pages: the
 * SEG_CLOSE waits until the gathering is over (two checkpoints' worth here: MomeCheckpoint's and
 * a MomeFinalize's). Sent at once, the checkpoint's requests for pages followed it, and the last
 * close destroyed the segment under them: a node that had forgotten it stopped the job on the
 * answer ("sent GRANT ... which this node did not ask for": defects ckptfetch, helper-156).
 */
START_TEST(test_segment__a_close_waits_for_a_checkpoint_gathering_here)
{
    mome_cmd_t c, k;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "kappa", SZ, MOME_CREATE, &mgr);
    uint64_t id = ((uint64_t)mgr << 40) | 5;
    reply(mgr, token, id, SZ, 0);
    mome_segment_ckpt_begin(id);
    mome_segment_ckpt_begin(id);
    close_cmd(&k, c.status);
    ck_assert_int_eq(k.status, 0);
    mome_segment_poll(0);
    ck_assert_int_eq(msgtest_count(), 0);
    ck_assert_int_eq(mome_seg_find(id)->closed, 0);
    mome_segment_ckpt_end(id);
    mome_segment_poll(0);
    ck_assert_int_eq(msgtest_count(), 0);
    mome_segment_ckpt_end(id); /* the last one: the close goes now */
    const mome_msg_t *m = nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->id, id);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->count, 1);
    ck_assert_int_eq(mome_seg_find(id)->closed, 1);
    mome_segment_poll(0);
    ck_assert_int_eq(msgtest_count(), 1); /* once */
    /* A checkpoint of a segment closed here already changes nothing. */
    mome_segment_ckpt_begin(id);
    mome_segment_ckpt_end(id);
    ck_assert_int_eq(msgtest_count(), 1);
}
END_TEST

/*
 * MomeFinalize's checkpoint of a segment this node closed (its SEG_CLOSE gone): the name manager
 * counts an open of it for this node again (a hold) before the checkpoint asks other nodes for
 * its pages, or says it was unlinked; the hold ends with the gathering, as an open, with a
 * SEG_CLOSE. Without it the checkpoint's requests met nodes that the last close, unlinked, had
 * made destroy the segment, and the answers a node that had forgotten it ("sent GRANT ... which
 * this node did not ask for": defects finclosed, helper-159).
 */
static uint64_t hold_cmd(mome_cmd_t *h, uint64_t id, const char *name, int mgr)
{
    memset(h, 0, sizeof(*h));
    msgtest_reset();
    ck_assert_int_eq(mome_segment_hold(id, name, h), 1);
    ck_assert_uint_eq(h->done, 0);
    const mome_msg_t *m = nc_msg(MOME_MSG_SEG_OPEN, mgr);
    ck_assert_int_eq(m->flags, MOME_SEGO_HOLD);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->id, id);
    ck_assert_uint_eq(m->len, strlen(name));
    ck_assert_int_eq(memcmp(m->payload, name, m->len), 0);
    return NC_BODY(m, mome_segmsg_t)->token;
}

static void hold_answered_with(void *arg)
{
    const stray_t *st = arg;
    mome_segmsg_t m = {.id = ID + 1, .token = st->to};
    msgtest_deliver(MOME_MSG_SEG_OPEN_REPLY, 0, st->from, &m, NULL, 0);
}

START_TEST(test_segment__the_final_checkpoint_holds_a_segment_closed_here)
{
    mome_cmd_t c, k, h;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "lambda", SZ, MOME_CREATE, &mgr);
    reply(mgr, token, ID, SZ, 0);
    /* Open here: nothing to ask (its close waits for the checkpoint). */
    memset(&h, 0, sizeof(h));
    msgtest_reset();
    ck_assert_int_eq(mome_segment_hold(ID, "lambda", &h), 0);
    ck_assert_int_eq(msgtest_count(), 0);
    close_cmd(&k, c.status);
    nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    /* Closed here: held, then let go once gathered. */
    mome_segment_ckpt_begin(ID);
    token = hold_cmd(&h, ID, "lambda", mgr);
    reply(mgr, token, ID, SZ, 0);
    ck_assert_uint_eq(h.done, 1);
    ck_assert_int_eq(h.status, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    msgtest_reset();
    mome_segment_ckpt_end(ID);
    const mome_msg_t *m = nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->id, ID);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->count, 1);
    ck_assert_int_eq(mome_seg_find(ID)->closed, 1);
    /* Unlinked meanwhile: not held, nothing to save, nothing to close. */
    mome_segment_ckpt_begin(ID);
    token = hold_cmd(&h, ID, "lambda", mgr);
    reply(mgr, token, ID, 0, -ENOENT);
    ck_assert_uint_eq(h.done, 1);
    ck_assert_int_eq(h.status, 1);
    mome_segment_ckpt_end(ID);
    ck_assert_int_eq(msgtest_count(), 0);
    /* Another segment held than the one asked for: the nodes disagree. */
    stray_t st = {mgr, hold_cmd(&h, ID, "lambda", mgr)};
    nc_expect_death(hold_answered_with, &st, "answered this node's hold of segment 'lambda'");
}
END_TEST

/* A hold's answer that no honest name manager sends: its reply_open of the hold's id, with the
 * segment's size, or without one and ENOENT; no payload, no flag. */
typedef struct {
    int from;
    uint64_t token, id, size;
    int status, flags;
    uint32_t len;
} hold_answer_t;

static void hold_answered(void *arg)
{
    const hold_answer_t *a = arg;
    mome_segmsg_t m = {.id = a->id, .size = a->size, .token = a->token, .status = a->status};
    const char *words = "gone, as it were"; /* a failure's text, or a persistent one's uid */
    msgtest_deliver(MOME_MSG_SEG_OPEN_REPLY, a->flags, a->from, &m, a->len ? words : NULL, a->len);
}

START_TEST(test_segment__a_hold_answered_otherwise_than_a_name_manager_does_stops_the_job)
{
    mome_cmd_t c, k, h;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "lambda", SZ, MOME_CREATE, &mgr);
    reply(mgr, token, ID, SZ, 0);
    close_cmd(&k, c.status);
    nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    mome_segment_ckpt_begin(ID);
    const char *want = "answered this node's hold of segment 'lambda'";
    hold_answer_t a = {mgr, hold_cmd(&h, ID, "lambda", mgr), ID + 1, 0, -ENOENT, 0, 0};
    nc_expect_death(hold_answered, &a, want); /* ENOENT for another segment */
    a.id = ID;
    a.size = SZ;
    nc_expect_death(hold_answered, &a, want); /* ENOENT with a size */
    a.size = 0;
    a.len = 4;
    nc_expect_death(hold_answered, &a, want); /* ENOENT in words */
    a.status = 0;
    a.size = SZ;
    a.len = 8;
    a.flags = MOME_SEGR_PERSIST;
    nc_expect_death(hold_answered, &a, want); /* as an open of a persistent segment */
    a.size = 0;
    a.len = 0;
    a.flags = 0;
    a.status = -EEXIST;
    nc_expect_death(hold_answered, &a, want); /* another error */
    a.status = 0;
    a.size = SZ + NC_PAGE;
    nc_expect_death(hold_answered, &a,
                    "holds segment 'lambda' (0x10000000005) for this node's "
                    "final checkpoint with 16384 bytes, which has 12288 here");
    a.size = 0;
    nc_expect_death(hold_answered, &a, "final checkpoint with 0 bytes, which has 12288 here");
    a.size = SZ - 1; /* the last page partial, as a repository keeps the size */
    hold_answered(&a);
    ck_assert_uint_eq(h.done, 1);
    ck_assert_int_eq(h.status, 0);
}
END_TEST

/*
 * Another thread's MomeSegOpen of the name, asked before MomeFinalize's hold and answered after
 * it: the manager counted that open before the hold, on the same way, and would take the hold
 * for one from a node that has the segment open. The hold waits for the answer: opened, the
 * segment needs none; not, it goes then.
 */
START_TEST(test_segment__a_hold_waits_for_an_open_of_its_name_from_this_node)
{
    mome_cmd_t c, k, h, o;
    int mgr;
    nc_up(2, 1);
    uint64_t token = open_cmd(&c, "lambda", SZ, MOME_CREATE, &mgr);
    reply(mgr, token, ID, SZ, 0);
    close_cmd(&k, c.status);
    nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    mome_segment_ckpt_begin(ID);
    /* Opened: the hold needs nothing of the manager; the close waits for the checkpoint. */
    token = open_cmd(&o, "lambda", 0, 0, &mgr);
    memset(&h, 0, sizeof(h));
    msgtest_reset();
    ck_assert_int_eq(mome_segment_hold(ID, "lambda", &h), 1);
    ck_assert_int_eq(msgtest_count(), 0);
    reply(mgr, token, ID, SZ, 0);
    ck_assert_int_ge(o.status, 0);
    ck_assert_uint_eq(h.done, 1);
    ck_assert_int_eq(h.status, 0);
    ck_assert_int_eq(msgtest_count(), 0);
    close_cmd(&k, o.status);
    ck_assert_int_eq(msgtest_count(), 0);
    mome_segment_ckpt_end(ID);
    nc_msg(MOME_MSG_SEG_CLOSE, mgr);
    /* Not opened (unlinked meanwhile, say): the hold goes once the open is answered. */
    mome_segment_ckpt_begin(ID);
    token = open_cmd(&o, "lambda", 0, 0, &mgr);
    memset(&h, 0, sizeof(h));
    msgtest_reset();
    ck_assert_int_eq(mome_segment_hold(ID, "lambda", &h), 1);
    ck_assert_int_eq(msgtest_count(), 0);
    reply(mgr, token, 0, 0, -ENOENT);
    ck_assert_int_eq(o.status, -ENOENT);
    ck_assert_uint_eq(h.done, 0);
    const mome_msg_t *m = nc_msg(MOME_MSG_SEG_OPEN, mgr);
    ck_assert_int_eq(m->flags, MOME_SEGO_HOLD);
    ck_assert_uint_eq(NC_BODY(m, mome_segmsg_t)->id, ID);
    reply(mgr, NC_BODY(m, mome_segmsg_t)->token, ID, 0, -ENOENT);
    ck_assert_uint_eq(h.done, 1);
    ck_assert_int_eq(h.status, 1);
}
END_TEST

/* The name manager's side: a hold counts as an open of its node; refused once unlinked. */
static void hold_from(int from, uint64_t id, const char *name, uint64_t token)
{
    mome_segmsg_t m = {.id = id, .token = token};
    nc_deliver(MOME_MSG_SEG_OPEN, MOME_SEGO_HOLD, from, &m, name, (uint32_t)strlen(name));
}

typedef struct {
    int from;
    uint64_t id;
    const char *name;
} hold_t;

static void bad_hold(void *arg)
{
    const hold_t *b = arg;
    mome_segmsg_t m = {.id = b->id, .token = 9};
    msgtest_deliver(MOME_MSG_SEG_OPEN, MOME_SEGO_HOLD, b->from, &m, b->name,
                    (uint32_t)strlen(b->name));
}

START_TEST(test_segment__a_hold_keeps_a_closed_segment_until_its_checkpoint_ends)
{
    scratch_repo_t repo;
    scratch_repo_use(&repo);
    nc_up(3, 0);
    seg_open(1, "theta", SZ, MOME_CREATE | MOME_PERSIST, 1);
    uint64_t id = open_reply(1, 1)->id;
    seg_open(0, "theta", 0, MOME_PERSIST, 2);
    seg_open(2, "nu", SZ, MOME_CREATE, 3);
    uint64_t plain = open_reply(2, 3)->id;
    seg_close(1, id, 1);
    hold_from(1, id, "theta", 4); /* node 1 closed it: its final checkpoint holds it */
    const mome_segmsg_t *r = open_reply(1, 4);
    ck_assert_int_eq(r->status, 0);
    ck_assert_uint_eq(r->id, id);
    /* Unlinked, and closed by node 0: node 1's hold keeps it. */
    seg_unlink(0, "theta", 5);
    nc_msg(MOME_MSG_SEG_UNLINK_REPLY, 0);
    seg_close(0, id, 1);
    ck_assert_int_eq(msgtest_count(), 0);
    hold_from(0, id, "theta", 6); /* unlinked: nothing for node 0 to save */
    ck_assert_int_eq(open_reply(0, 6)->status, -ENOENT);
    seg_close(1, id, 1); /* node 1's checkpoint gathered: the last close */
    ck_assert_int_eq(msgtest_count(), 3);
    nc_msg(MOME_MSG_SEG_DESTROY, 1);
    hold_from(1, id, "theta", 7); /* destroyed (its SEG_DESTROY went before the answer) */
    ck_assert_int_eq(open_reply(1, 7)->status, -ENOENT);
    /* Holds the nodes cannot disagree on: an id never given out, another name, a segment that
     * is not persistent, one the node never set up. */
    hold_t b = {1, id + 100, "theta"};
    nc_expect_death(bad_hold, &b, "which this name manager never had");
    seg_open(1, "iota", SZ, MOME_CREATE | MOME_PERSIST, 8);
    b.id = open_reply(1, 8)->id;
    b.name = "kappa";
    nc_expect_death(bad_hold, &b, "which this name manager knows by another name ('iota')");
    b.from = 2;
    b.name = "iota";
    nc_expect_death(bad_hold, &b, "knows as one that node never set up");
    b.id = plain;
    b.name = "nu";
    nc_expect_death(bad_hold, &b, "knows as a segment that is not persistent");
    nc_down();
    scratch_repo_done(&repo);
}
END_TEST

/*
 * Holds no honest node sends, which the name manager took as opens: a second one (a node holds a
 * segment once, in MomeFinalize), one with a size or flags (a hold has neither); and a plain
 * SEG_OPEN with an id, which only a hold carries (helper-164). A hold from a node that has the
 * segment open is honest: its SEG_CLOSE, sent before, may come after it.
 */
static void hold_with(void *arg)
{
    const hold_t *b = arg;
    mome_segmsg_t m = {.id = b->id, .token = 9, .size = 12345, .flags = MOME_CREATE};
    msgtest_deliver(MOME_MSG_SEG_OPEN, MOME_SEGO_HOLD, b->from, &m, b->name,
                    (uint32_t)strlen(b->name));
}

static void open_with_id(void *arg)
{
    const hold_t *b = arg;
    mome_segmsg_t m = {.id = b->id, .token = 9, .size = SZ, .flags = MOME_PERSIST};
    msgtest_deliver(MOME_MSG_SEG_OPEN, 0, b->from, &m, b->name, (uint32_t)strlen(b->name));
}

START_TEST(test_segment__the_name_manager_takes_one_hold_of_a_closed_segment_per_node)
{
    scratch_repo_t repo;
    scratch_repo_use(&repo);
    nc_up(3, 0);
    seg_open(1, "theta", SZ, MOME_CREATE | MOME_PERSIST, 1);
    uint64_t id = open_reply(1, 1)->id;
    seg_open(2, "theta", 0, MOME_PERSIST, 2);
    open_reply(2, 2);
    hold_t b = {1, id, "theta"};
    nc_expect_death(open_with_id, &b,
                    "node 1 opened segment 'theta' giving id 0x1, which only "
                    "a hold");
    seg_close(1, id, 1);
    nc_expect_death(hold_with, &b,
                    "node 1 asked to keep segment 'theta' (0x1) for its final "
                    "checkpoint with size 12345 and flags 0x1, which a hold does "
                    "not carry");
    hold_from(1, id, "theta", 4);
    ck_assert_int_eq(open_reply(1, 4)->status, 0);
    seg_close(1, id, 1);
    nc_expect_death(bad_hold, &b, "knows as one that node held already");
    /* Unlinked: a hold is answered ENOENT, once too. */
    seg_unlink(2, "theta", 5);
    nc_msg(MOME_MSG_SEG_UNLINK_REPLY, 2);
    msgtest_reset();
    seg_close(2, id, 1); /* the last close: destroyed */
    nc_msg(MOME_MSG_SEG_DESTROY, 2);
    /* The name again: another segment, which node 1 may hold once it closed it. */
    seg_open(1, "theta", SZ, MOME_CREATE | MOME_PERSIST, 6);
    uint64_t again = open_reply(1, 6)->id;
    ck_assert_uint_ne(again, id);
    /* Its hold may overtake its SEG_CLOSE (no order between two nodes' messages, helper-167):
     * counted, as an open. */
    hold_from(1, again, "theta", 7);
    ck_assert_int_eq(open_reply(1, 7)->status, 0);
    seg_close(1, again, 1);
    hold_from(1, id, "theta", 8); /* the one destroyed */
    ck_assert_int_eq(open_reply(1, 8)->status, -ENOENT);
    nc_down();
    scratch_repo_done(&repo);
}
END_TEST

/* Only a segment's name manager destroys it: a destroy from another node would drop this node's
 * directory entries of a live segment (the next request got a zero page). A segment's id names
 * its name manager; a served segment (momed's number) is never destroyed in a job. */
static void destroy_from(void *arg)
{
    const stray_t *st = arg;
    mome_segmsg_t d = {.id = st->to};
    msgtest_deliver(MOME_MSG_SEG_DESTROY, 0, st->from, &d, NULL, 0);
}

START_TEST(test_segment__only_the_name_manager_destroys)
{
    mome_cmd_t c, k;
    int mgr;
    nc_up(3, 2);
    stray_t st = {.from = 1, .to = 3}; /* node 0's third segment */
    nc_expect_death(destroy_from, &st,
                    "node 1 destroyed segment '(not open here)' (0x3), whose name manager is "
                    "node 0");
    st.to = MOME_HEAP_SEG_ID;
    nc_expect_death(destroy_from, &st, "whose name manager is no node");
    mome_segmsg_t d = {.id = 3};
    nc_deliver(MOME_MSG_SEG_DESTROY, 0, 0, &d, NULL, 0);
    /* A served segment, closed here, even from its name manager. */
    uint64_t served = MOME_SEG_SERVED | 7;
    uint64_t token = open_cmd(&c, "lambda", SZ, MOME_CREATE, &mgr);
    reply(mgr, token, served, SZ, 0);
    ck_assert_int_ge(c.status, 0);
    close_cmd(&k, c.status);
    st.from = mgr;
    st.to = served;
    nc_expect_death(destroy_from, &st,
                    "destroyed segment 'lambda' (0x4000000000000007), which "
                    "momed serves");
}
END_TEST

START_TEST(test_segment__open_round_trip_on_one_node)
{
    mome_cmd_t c, k;
    nc_up(1, 0);
    memset(&c, 0, sizeof(c));
    c.fn = mome_segment_cmd_open;
    c.u.open.name = "kappa";
    c.u.open.size = SZ;
    c.u.open.flags = MOME_CREATE;
    mome_segment_cmd_open(&c);
    ck_assert_int_eq(msgtest_loop_self(), 2); /* the request, then the reply */
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_ge(c.status, 0);
    close_cmd(&k, c.status);
    ck_assert_int_eq(msgtest_loop_self(), 1); /* SEG_CLOSE: the name stays (not unlinked) */
    ck_assert_int_eq(msgtest_count(), 0);
    memset(&c, 0, sizeof(c));
    c.fn = mome_segment_cmd_unlink;
    c.u.unlink.name = "kappa";
    mome_segment_cmd_unlink(&c);
    ck_assert_int_eq(msgtest_loop_self(), 3); /* SEG_UNLINK, its reply, SEG_DESTROY */
    ck_assert_uint_eq(c.done, 1);
    ck_assert_int_eq(c.status, 0);
    ck_assert_ptr_null(mome_seg_find(1)); /* id (rank 0 << 40) | 1: freed here too */
}
END_TEST

/* ---- messages name a segment by its name ---- */

static void ready_from_a_node_without_it(void *arg)
{
    mome_ckptmsg_t r = {.seg = *(const uint64_t *)arg};
    msgtest_deliver(MOME_MSG_CKPT_READY, 0, 1, &r, NULL, 0);
}

START_TEST(test_segment__the_name_manager_names_a_segment_it_does_not_have)
{
    char want[128];
    nc_up(2, 0);
    seg_open(1, "alpha", SZ, MOME_CREATE, 7);
    uint64_t id = open_reply(1, 7)->id;
    /* Node 0 keeps the name but never opened the segment. */
    ck_assert_str_eq(mome_seg_name_of(id), "(not open here)");
    ck_assert_str_eq(mome_segment_name(id), "alpha");
    ck_assert_str_eq(mome_segment_name(id + 1), "(not open here)");
    /* alpha is not persistent: node 1's checkpoint of it stops the coordinator, naming it. */
    snprintf(want, sizeof(want), "node 1 checkpointed segment 'alpha' (%#llx), which it",
             (unsigned long long)id);
    nc_expect_death(ready_from_a_node_without_it, &id, want);
    /* On a node that has it, its own record names it. */
    ck_assert_ptr_nonnull(testnode_segment(5, 1));
    ck_assert_str_eq(mome_seg_name_of(5), "test5");
    ck_assert_str_eq(mome_segment_name(5), "test5");
}
END_TEST

/* The memory layer's messages name it too: the store has its segment's name. */
static void copy_out_failing(void *arg)
{
    uint8_t buf[NC_PAGE];
    fake_memory_fail_reads(EIO);
    mome_store_copy_out(arg, 0, buf);
}

START_TEST(test_segment__the_store_names_its_segment)
{
    static uint8_t page[NC_PAGE] __attribute__((aligned(NC_PAGE)));
    uint8_t src[NC_PAGE] = {1};
    nc_up(2, 0);
    mome_seg_t *s = testnode_segment(5, 1);
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->store->name, "test5");
    /* In through a view only: a copy out reads it through the file, and that read fails. */
    ck_assert_int_eq(mome_store_install(s->store, 0, (char *)page, src, 0), 0);
    nc_expect_death(copy_out_failing, s->store,
                    "cannot read page 0 of segment 'test5' (0x5) from Mome memory");
}
END_TEST

Suite *segment_suite(void)
{
    Suite *s = suite_create("segment");
    NC_CASE(s, test_segment__open_create_assigns_an_id);
    NC_CASE(s, test_segment__open_refusals);
    NC_CASE(s, test_segment__unlink_destroys_once_every_open_is_closed);
    NC_CASE(s, test_segment__closing_more_than_opened_stops_the_node);
    NC_CASE(s, test_segment__unlink_of_an_unused_segment_destroys_it_at_once);
    NC_CASE(s, test_segment__names_are_checked_by_the_decoder);
    NC_CASE(s, test_segment__open_reply_gives_a_handle);
    NC_CASE(s, test_segment__a_reply_must_match_its_request);
    NC_CASE(s, test_segment__open_reply_error_fails_the_command);
    NC_CASE(s, test_segment__a_repository_not_the_managers_is_said);
    NC_CASE(s, test_segment__close_tells_the_name_manager_once_unused);
    NC_CASE(s, test_segment__destroy_frees_an_unused_segment_only);
    NC_CASE(s, test_segment__a_close_waits_for_a_checkpoint_gathering_here);
    NC_CASE(s, test_segment__the_final_checkpoint_holds_a_segment_closed_here);
    NC_CASE(s, test_segment__a_hold_answered_otherwise_than_a_name_manager_does_stops_the_job);
    NC_CASE(s, test_segment__a_hold_waits_for_an_open_of_its_name_from_this_node);
    NC_CASE(s, test_segment__a_hold_keeps_a_closed_segment_until_its_checkpoint_ends);
    NC_CASE(s, test_segment__the_name_manager_takes_one_hold_of_a_closed_segment_per_node);
    NC_CASE(s, test_segment__only_the_name_manager_destroys);
    NC_CASE(s, test_segment__open_round_trip_on_one_node);
    NC_CASE(s, test_segment__the_name_manager_names_a_segment_it_does_not_have);
    NC_CASE(s, test_segment__the_store_names_its_segment);
    return s;
}
