/*
 * sync.c - locks (FIFO, managed by hash(id) mod nodes) and a barrier gathered by node 0.
 */
#include <errno.h>
#include <stdlib.h>

#include "base/hash.h"
#include "base/log.h"
#include "coherence/release.h"
#include "base/stats.h"
#include "core/sync.h"

/* ---- lock manager side ---- */

typedef struct lwait {
    struct lwait *next;
    uint32_t node;
    uint64_t token;
} lwait_t;

typedef struct lockrec {
    mome_hnode_t h; /* k1 = lock id */
    int held;
    uint32_t holder;
    uint64_t token;
    mome_date_t last; /* date of the last release of the lock: what an acquirer must see */
    lwait_t *q, *qtail;
} lockrec_t;

static mome_htab_t locks;

/* ---- requester side ---- */

typedef struct held {
    mome_hnode_t h; /* k1 = lock id */
    pid_t tid;
    uint64_t token;
} held_t;

typedef struct lpending {
    mome_hnode_t h; /* k1 = token */
    mome_cmd_t *cmd;
    uint64_t t0;
} lpending_t;

static mome_htab_t held, pending;
static uint64_t next_token = 1;

static mome_cmd_t *bar_cmd; /* the barrier in progress on this node */
static uint64_t bar_t0;
static uint64_t bar_epoch;     /* barriers completed here */
static uint64_t last_barrier;  /* date of the last barrier (read by any thread) */
static int coord_count;        /* node 0: entries for coord_epoch */
static uint64_t coord_epoch;
static mome_date_t coord_max;

int mome_sync_init(void)
{
    if (mome_htab_init(&locks, 64) < 0 || mome_htab_init(&held, 16) < 0 ||
        mome_htab_init(&pending, 16) < 0)
        return -ENOMEM;
    bar_cmd = NULL;
    bar_epoch = coord_epoch = 0;
    coord_count = 0;
    coord_max = 0;
    __atomic_store_n(&last_barrier, 0, __ATOMIC_RELEASE);
    return 0;
}

void mome_sync_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&locks, h, tmp)
    {
        lockrec_t *l = (lockrec_t *)h;
        while (l->q) {
            lwait_t *w = l->q;
            l->q = w->next;
            free(w);
        }
        free(l);
    }
    mome_htab_foreach(&held, h, tmp) free(h);
    mome_htab_foreach(&pending, h, tmp) free(h);
    mome_htab_free(&locks);
    mome_htab_free(&held);
    mome_htab_free(&pending);
}

static uint64_t lock_key(int id)
{
    return (uint64_t)(uint32_t)id;
}

static int lock_manager(int id)
{
    return (int)(mome_hash2(lock_key(id), 0x10c4) % (uint64_t)mome_g.nnodes);
}

void mome_sync_cmd_lock(mome_cmd_t *c)
{
    int id = (int)c->a[0];
    held_t *h = (held_t *)mome_htab_get(&held, lock_key(id), 0);
    lpending_t *p;

    if (h && h->tid == c->tid) {
        mome_cmd_fail(c, EDEADLK, "MomeLock: this thread already holds lock %d", id);
        return;
    }
    p = malloc(sizeof(*p));
    if (!p) {
        mome_cmd_fail(c, ENOMEM, "MomeLock: out of memory");
        return;
    }
    p->cmd = c;
    p->t0 = mome_now_ns();
    p->h.k1 = next_token++;
    p->h.k2 = 0;
    mome_htab_put(&pending, &p->h);
    mome_msg_t m = {.type = MOME_MSG_LOCK_REQ, .page = lock_key(id), .arg = p->h.k1};
    mome_node_outstanding(1);
    mome_send(lock_manager(id), &m);
}

typedef struct unlock_op {
    mome_cmd_t *cmd;
    int id;
    uint64_t token;
} unlock_op_t;

/* The holder's writes have reached everyone who needs to know: now the lock can go. */
static void unlock_after_release(void *arg, mome_date_t date)
{
    unlock_op_t *u = arg;
    mome_msg_t m = {.type = MOME_MSG_LOCK_REL, .page = lock_key(u->id), .arg = u->token,
                    .arg2 = date};
    mome_send(lock_manager(u->id), &m);
    mome_cmd_complete(u->cmd, 0);
    free(u);
}

void mome_sync_cmd_unlock(mome_cmd_t *c)
{
    int id = (int)c->a[0];
    held_t *h = (held_t *)mome_htab_get(&held, lock_key(id), 0);
    unlock_op_t *u;

    if (!h || h->tid != c->tid) {
        mome_cmd_fail(c, EPERM, "MomeUnlock: lock %d is not held by this thread", id);
        return;
    }
    u = malloc(sizeof(*u));
    if (!u) {
        mome_cmd_fail(c, ENOMEM, "MomeUnlock: out of memory");
        return;
    }
    mome_htab_del(&held, &h->h);
    u->cmd = c;
    u->id = id;
    u->token = h->token;
    free(h);
    mome_rel_release(unlock_after_release, u);
}

static void grant(lockrec_t *l, uint32_t node, uint64_t token, int waited)
{
    l->held = 1;
    l->holder = node;
    l->token = token;
    mome_msg_t m = {.type = MOME_MSG_LOCK_GRANT, .page = l->h.k1, .arg = token,
                    .count = (uint32_t)waited, .arg2 = l->last};
    mome_send((int)node, &m);
}

static void on_lock_req(const mome_msg_t *m)
{
    lockrec_t *l = (lockrec_t *)mome_htab_get(&locks, m->page, 0);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l) {
            mome_error("sync", "out of memory for lock %d; request dropped", (int)m->page);
            return;
        }
        l->h.k1 = m->page;
        mome_htab_put(&locks, &l->h);
    }
    if (!l->held) {
        grant(l, m->src, m->arg, 0);
        return;
    }
    lwait_t *w = malloc(sizeof(*w));
    if (!w) {
        mome_error("sync", "out of memory queueing for lock %d; request dropped", (int)m->page);
        return;
    }
    w->node = m->src;
    w->token = m->arg;
    w->next = NULL;
    if (l->qtail)
        l->qtail->next = w;
    else
        l->q = w;
    l->qtail = w;
}

static void on_lock_rel(const mome_msg_t *m)
{
    lockrec_t *l = (lockrec_t *)mome_htab_get(&locks, m->page, 0);
    if (!l || !l->held || l->holder != m->src || l->token != m->arg) {
        mome_warn("sync", "release of lock %d by node %u which does not hold it", (int)m->page,
                  m->src);
        return;
    }
    l->held = 0;
    if (m->arg2 > l->last)
        l->last = m->arg2;
    if (l->q) {
        lwait_t *w = l->q;
        l->q = w->next;
        if (!l->q)
            l->qtail = NULL;
        grant(l, w->node, w->token, 1);
        free(w);
    }
}

static void lock_after_acquire(void *arg, mome_date_t date)
{
    lpending_t *p = arg;
    mome_cmd_complete(p->cmd, 0);
    free(p);
}

static void on_lock_grant(const mome_msg_t *m)
{
    lpending_t *p = (lpending_t *)mome_htab_get(&pending, m->arg, 0);
    held_t *h;
    if (!p) {
        mome_warn("sync", "grant of lock %d nobody asked for", (int)m->page);
        return;
    }
    mome_htab_del(&pending, &p->h);
    mome_node_outstanding(-1);
    h = malloc(sizeof(*h));
    if (!h) {
        /* Cannot record it: give it back rather than hold it forever. */
        mome_msg_t rel = {.type = MOME_MSG_LOCK_REL, .page = m->page, .arg = m->arg,
                          .arg2 = m->arg2};
        mome_send((int)m->src, &rel);
        mome_cmd_fail(p->cmd, ENOMEM, "MomeLock: out of memory");
        free(p);
        return;
    }
    h->h.k1 = m->page;
    h->h.k2 = 0;
    h->tid = p->cmd->tid;
    h->token = m->arg;
    mome_htab_put(&held, &h->h);
    MOME_STAT_INC(lock_acquires);
    MOME_STAT_ADD(lock_waits, m->count ? 1 : 0);
    MOME_STAT_ADD(lock_wait_ns, mome_now_ns() - p->t0);
    /* An acquire: see every modification released before the lock's last release. */
    mome_rel_acquire(m->arg2, lock_after_acquire, p);
}

/* ---- barrier ---- */

static void barrier_after_release(void *arg, mome_date_t date)
{
    mome_msg_t m = {.type = MOME_MSG_BAR_ENTER, .page = bar_epoch};
    (void)arg;
    mome_send(0, &m); /* dated after the release: the barrier date exceeds it */
}

void mome_sync_cmd_barrier(mome_cmd_t *c)
{
    if (bar_cmd) {
        mome_cmd_fail(c, EBUSY, "MomeBarrier: another thread of this node is in a barrier");
        return;
    }
    bar_cmd = c;
    bar_t0 = mome_now_ns();
    mome_node_outstanding(1);
    mome_rel_release(barrier_after_release, NULL);
}

static void on_bar_enter(const mome_msg_t *m)
{
    if (m->page != coord_epoch) {
        mome_error("sync", "node %u entered barrier %llu during barrier %llu", m->src,
                   (unsigned long long)m->page, (unsigned long long)coord_epoch);
        return;
    }
    if (m->date > coord_max)
        coord_max = m->date;
    if (++coord_count < mome_g.nnodes)
        return;
    mome_date_t now = mome_clock_now();
    mome_date_t date = (coord_max > now ? coord_max : now) + 1;
    for (int n = 0; n < mome_g.nnodes; n++) {
        mome_msg_t x = {.type = MOME_MSG_BAR_EXIT, .page = coord_epoch, .arg = date};
        mome_send(n, &x);
    }
    coord_epoch++;
    coord_count = 0;
    coord_max = 0;
}

static void barrier_after_acquire(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    MOME_STAT_INC(barriers);
    MOME_STAT_ADD(barrier_wait_ns, mome_now_ns() - bar_t0);
    c->result = date;
    mome_cmd_complete(c, 0);
}

static void on_bar_exit(const mome_msg_t *m)
{
    mome_cmd_t *c = bar_cmd;
    if (!c || m->page != bar_epoch) {
        mome_error("sync", "unexpected exit of barrier %llu", (unsigned long long)m->page);
        return;
    }
    bar_cmd = NULL;
    bar_epoch++;
    mome_node_outstanding(-1);
    mome_clock_raise(m->arg);
    __atomic_store_n(&last_barrier, m->arg, __ATOMIC_RELEASE);
    mome_rel_acquire(m->arg, barrier_after_acquire, c);
}

void mome_sync_msg(const mome_msg_t *m)
{
    switch (m->type) {
    case MOME_MSG_LOCK_REQ: on_lock_req(m); break;
    case MOME_MSG_LOCK_GRANT: on_lock_grant(m); break;
    case MOME_MSG_LOCK_REL: on_lock_rel(m); break;
    case MOME_MSG_BAR_ENTER: on_bar_enter(m); break;
    case MOME_MSG_BAR_EXIT: on_bar_exit(m); break;
    default: break;
    }
}

mome_date_t mome_sync_last_barrier(void)
{
    return __atomic_load_n(&last_barrier, __ATOMIC_ACQUIRE);
}
