/*
 * sync.c - locks (FIFO, managed by hash(id) mod nodes) and a barrier gathered by node 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "boot/boot.h"
#include "mome.h"
#include "coherence/coherence.h"
#include "coherence/model.h"
#include "coherence/release.h"
#include "core/proto.h"
#include "core/segment.h"
#include "core/sync.h"
#include "net/transport.h"

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
    uint64_t epoch;   /* the most job barriers a releaser of it had ended (grant_apply) */
    uint32_t gone;    /* 1 + the node that gave it up in its MomeFinalize (LOCK_GONE), or 0 */
    lwait_t *q, *qtail;
} lockrec_t;

static mome_htab_t locks;
/* The latest release date of the locks whose records were freed (free and nobody waiting): a
 * record made again starts from it, so an acquirer never misses a release (it may acquire at a
 * later date than needed, which only refreshes more). Locks held or awaited keep a record. */
static mome_date_t forgotten_last;
static uint64_t forgotten_epoch; /* the same, of their barrier epochs */

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
    /* a grant held back while a model switch runs (below) */
    struct lpending *next;
    mome_syncmsg_t grant;
    uint32_t src, flags;
} lpending_t;

static mome_htab_t held, pending;
static uint64_t next_token = 1;
/* This node's MomeFinalize has begun (its barrier entered): it gives up the locks it holds, takes
 * no more, and makes no more program barriers. */
static int finalizing;

/*
 * Model switches and this node's lock sections. A switch runs while no other thread of the node
 * holds a lock: another thread's lock section, cut by a switch (whose release, drops and renewals
 * depend on the page's model, as do the section's acquire and MomeSyncMem), lost lock-protected
 * increments in every run of an audit's program. A switch called while other threads hold locks
 * waits for a moment when none does, holding nothing back meanwhile (held back, a thread could be
 * one that a lock holder waits for, through a lock of another node or the program's own means:
 * helper-51's review). While a switch runs, a thread that holds no lock waits in MomeLock and a
 * grant is applied after it: a running switch waits for no thread, so those waits end. A switch
 * by a thread that holds a lock runs at once when no other thread holds one, and is refused with
 * EDEADLK when another does (that thread may wait for its lock). A thread holding no lock that
 * switches while sections are held back by a running switch waits for them to start first, so
 * that overlapping switches do not hold them back for ever. The unlock of another thread whose
 * release is still in flight needs no wait: the switch's own release follows it.
 */
static int sw_running;          /* switches in progress */
static mome_cmd_t *sw_waiting;  /* switches waiting for the sections to end (list by next) */
static mome_cmd_t *lock_later;  /* MomeLock calls held back (list by next) */
static lpending_t *grant_later; /* grants held back (list by next) */

static void grant_apply(lpending_t *p);
static void gate_check(void);

/*
 * A barrier among the nodes first .. first+count-1, gathered by node `first`: MomeBarrier (the
 * whole job, node 0) or MomeAppBarrier (this node's program, its first node). Each has its own
 * epochs; their messages carry MOME_BAR_APP for the second.
 */
typedef struct barrier {
    const char *call; /* the public call */
    const char *what; /* in messages: "barrier", "program barrier" */
    int flags;        /* 0 or MOME_BAR_APP */
    int first, count; /* its nodes */
    mome_cmd_t *cmd;  /* the one in progress on this node */
    mome_cmd_t *acq;  /* the one whose acquire is in progress (cmd is free again) */
    int quiesce;      /* it is the last one (MomeFinalize): no release, no acquire */
    int by;           /* MOME_BAR_FINALIZE, MOME_BAR_CHECKPOINT or 0: the call it is part of */
    uint64_t seg;     /* MOME_BAR_CHECKPOINT: the segment checkpointed */
    uint64_t t0;
    uint64_t epoch; /* completed here */
    /* At most the date of this node's BAR_ENTER of the one in progress (0: not sent yet): the
     * clock before its send, plus one (the send ticks it; another thread may tick it too). */
    mome_date_t entered;
    /* the gathering node */
    int coord_count;    /* nodes that entered coord_epoch */
    int coord_kind;     /* the flags the first of them entered with (QUIESCE, FINALIZE...) */
    int coord_first;    /* that first node */
    uint64_t coord_seg; /* its segment, in a MomeCheckpoint's barrier */
    uint64_t *coord_in; /* which nodes entered it, bit (node - first) */
    uint64_t coord_epoch;
    mome_date_t coord_max;
    uint8_t *coord_notes; /* MomeBarrier: the barrier notices the nodes entered with */
    size_t coord_len, coord_cap;
    int coord_fin; /* MomeAppBarrier: the first node of the program whose MomeFinalize began, or -1
                    */
} barrier_t;

static barrier_t jbar, abar;
static uint64_t last_barrier; /* date of the last MomeBarrier or MomeAppBarrier (any thread) */

static uint64_t lock_key(int id)
{
    return (uint64_t)(uint32_t)id;
}

static int lock_manager(int id)
{
    return (int)(mome_hash2(lock_key(id), 0x10c4) % (uint64_t)mome_g.nnodes);
}

/* A lock held by thread tid (mine = 1) or by another thread of this node (mine = 0), or NULL. */
static held_t *held_by(pid_t tid, int mine)
{
    mome_hnode_t *n, *tmp;
    mome_htab_foreach(&held, n, tmp)
    {
        held_t *h = (held_t *)n;
        if ((h->tid == tid) == mine)
            return h;
    }
    return NULL;
}

/* Append c to a list of commands linked by next. */
static void cmd_append(mome_cmd_t **list, mome_cmd_t *c)
{
    while (*list)
        list = &(*list)->next;
    c->next = NULL;
    *list = c;
}

void mome_sync_cmd_lock(mome_cmd_t *c)
{
    int id = c->u.lock.id;
    held_t *h = (held_t *)mome_htab_get(&held, lock_key(id), 0);
    lpending_t *p;

    if (h && h->tid == c->tid) {
        mome_cmd_fail(c, EDEADLK, "MomeLock: this thread already holds lock %d", id);
        return;
    }
    if (finalizing) {
        mome_cmd_fail(c, ENOTCONN, "MomeLock: another thread of this node called MomeFinalize");
        return;
    }
    if (sw_running && !held_by(c->tid, 1)) {
        cmd_append(&lock_later, c); /* no new section while a switch runs */
        return;
    }
    p = mome_malloc(sizeof(*p));
    if (!p) {
        mome_cmd_fail(c, ENOMEM, "MomeLock: out of memory");
        return;
    }
    p->cmd = c;
    p->t0 = mome_now_ns();
    p->h.k1 = next_token++;
    p->h.k2 = 0;
    mome_htab_put(&pending, &p->h);
    mome_syncmsg_t m = {.id = lock_key(id), .token = p->h.k1};
    mome_cmd_outstanding(1);
    MOME_TR(MOME_TR_LOCK_REQ, 0, lock_key(id), lock_manager(id), (uint32_t)p->h.k1, 0);
    mome_send(lock_manager(id), MOME_MSG_LOCK_REQ, 0, &m, NULL, 0);
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
    mome_syncmsg_t m = {
        .id = lock_key(u->id), .token = u->token, .date = date, .epoch = jbar.epoch};
    MOME_TR(MOME_TR_LOCK_REL, 0, lock_key(u->id), lock_manager(u->id), (uint32_t)u->token, 0);
    mome_send(lock_manager(u->id), MOME_MSG_LOCK_REL, 0, &m, NULL, 0);
    mome_cmd_complete(u->cmd, 0);
    free(u);
}

void mome_sync_cmd_unlock(mome_cmd_t *c)
{
    int id = c->u.lock.id;
    held_t *h = (held_t *)mome_htab_get(&held, lock_key(id), 0);
    unlock_op_t *u;

    if (!h && finalizing) {
        mome_cmd_fail(c, ENOTCONN,
                      "MomeUnlock: lock %d: this node is in MomeFinalize, which gave "
                      "up the locks it held",
                      id);
        return;
    }
    if (!h || h->tid != c->tid) {
        mome_cmd_fail(c, EPERM, "MomeUnlock: lock %d is not held by this thread", id);
        return;
    }
    u = mome_malloc(sizeof(*u));
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
    gate_check(); /* its section is over: a switch may start (its release follows this one) */
}

static void grant(lockrec_t *l, uint32_t node, uint64_t token, int waited)
{
    l->held = 1;
    l->holder = node;
    l->token = token;
    mome_syncmsg_t m = {
        .id = l->h.k1, .token = token, .date = l->last, .epoch = l->epoch, .node = MOME_NODE_NONE};
    mome_send((int)node, MOME_MSG_LOCK_GRANT, waited ? MOME_LOCK_WAITED : 0, &m, NULL, 0);
}

/* A request of a lock whose holder gave it up in its MomeFinalize: refused, naming that node. */
static void refuse(const lockrec_t *l, uint32_t node, uint64_t token)
{
    mome_syncmsg_t m = {.id = l->h.k1, .token = token, .node = l->gone - 1};
    mome_send((int)node, MOME_MSG_LOCK_GRANT, MOME_LOCK_GONE, &m, NULL, 0);
}

static void on_lock_req(const mome_msg_t *msg, const void *body)
{
    const mome_syncmsg_t *m = body;
    lockrec_t *l = (lockrec_t *)mome_htab_get(&locks, m->id, 0);
    if (!l) {
        l = mome_calloc(1, sizeof(*l));
        if (!l)
            mome_fatal("out of memory for lock %d; stopping", (int)m->id);
        l->h.k1 = m->id;
        l->last = forgotten_last;
        l->epoch = forgotten_epoch;
        mome_htab_put(&locks, &l->h);
    }
    if (l->gone) {
        refuse(l, msg->src, m->token);
        return;
    }
    if (!l->held) {
        grant(l, msg->src, m->token, 0);
        return;
    }
    lwait_t *w = mome_malloc(sizeof(*w));
    if (!w)
        mome_fatal("out of memory queueing for lock %d; stopping", (int)m->id);
    w->node = msg->src;
    w->token = m->token;
    w->next = NULL;
    if (l->qtail)
        l->qtail->next = w;
    else
        l->q = w;
    l->qtail = w;
}

/*
 * A lock message says how many job barriers its releaser had ended. No node ends a barrier before
 * every node has entered it, so that is at most one more than this node has ended: a larger count
 * would hold a grant for an exit that never comes (grant_apply), so it stops the job.
 */
static void bar_epoch_check(const mome_msg_t *msg, const mome_syncmsg_t *m, const char *what)
{
    if (m->epoch > jbar.epoch + 1)
        mome_fatal("node %u %s lock %d after job barrier %llu, but this node has ended only %llu "
                   "barriers and no node can be more than one ahead: the nodes disagree on the "
                   "barriers; stopping",
                   msg->src, what, (int)m->id, (unsigned long long)m->epoch - 1,
                   (unsigned long long)jbar.epoch);
}

static void on_lock_rel(const mome_msg_t *msg, const void *body)
{
    const mome_syncmsg_t *m = body;
    lockrec_t *l = (lockrec_t *)mome_htab_get(&locks, m->id, 0);
    if (!l || !l->held || l->holder != msg->src || l->token != m->token)
        /* MomeUnlock refuses (EPERM) what its node does not hold: a stray release could only free
         * the lock under its holder (helper-115: it was a warning). */
        mome_fatal("node %u released lock %d, which it does not hold (%s): the nodes disagree on "
                   "the lock; stopping",
                   msg->src, (int)m->id,
                   !l || !l->held          ? "nobody does"
                   : l->holder != msg->src ? "another node does"
                                           : "it holds it by another request");
    bar_epoch_check(msg, m, "released");
    l->held = 0;
    if (msg->flags & MOME_LOCK_GONE) {
        /* Its section never ended: what the lock protects may be half done. Nobody takes it any
         * more, rather than wait for ever (its record stays, and says so to later requests). */
        l->gone = msg->src + 1;
        while (l->q) {
            lwait_t *w = l->q;
            l->q = w->next;
            refuse(l, w->node, w->token);
            free(w);
        }
        l->qtail = NULL;
        return;
    }
    if (m->date > l->last)
        l->last = m->date;
    if (m->epoch > l->epoch)
        l->epoch = m->epoch;
    if (l->q) {
        lwait_t *w = l->q;
        l->q = w->next;
        if (!l->q)
            l->qtail = NULL;
        grant(l, w->node, w->token, 1);
        free(w);
        return;
    }
    /* Free and awaited by nobody: its record goes, its date stays (forgotten_last). */
    if (l->last > forgotten_last)
        forgotten_last = l->last;
    if (l->epoch > forgotten_epoch)
        forgotten_epoch = l->epoch;
    mome_htab_del(&locks, &l->h);
    free(l);
}

static void lock_after_acquire(void *arg, mome_date_t date)
{
    lpending_t *p = arg;
    mome_cmd_complete(p->cmd, 0);
    free(p);
}

static void on_lock_grant(const mome_msg_t *msg, const void *body)
{
    const mome_syncmsg_t *m = body;
    lpending_t *p = (lpending_t *)mome_htab_get(&pending, m->token, 0);
    if (!p)
        /* Its one request took it: this lock was held by nobody for ever (helper-115: a
         * warning). */
        mome_fatal("node %u granted lock %d to this node, which did not ask for it (token %llu): "
                   "the nodes disagree on the lock; stopping",
                   msg->src, (int)m->id, (unsigned long long)m->token);
    if ((int)m->id != p->cmd->u.lock.id || (int)msg->src != lock_manager(p->cmd->u.lock.id))
        /* Taken, MomeLock of one lock returned with another held (helper-122). */
        mome_fatal("node %u granted lock %d for this node's request of lock %d (token %llu), "
                   "which node %d manages: the nodes disagree on the lock; stopping",
                   msg->src, (int)m->id, p->cmd->u.lock.id, (unsigned long long)m->token,
                   lock_manager(p->cmd->u.lock.id));
    mome_htab_del(&pending, &p->h);
    mome_cmd_outstanding(-1);
    if (msg->flags & MOME_LOCK_GONE) { /* its holder gave it up (node: validated) */
        mome_cmd_fail(p->cmd, ENOTRECOVERABLE,
                      "MomeLock: lock %d was held by node %u%s when it called MomeFinalize, which "
                      "gave it up without MomeUnlock: what the lock protects may be half "
                      "updated, and no node can take it any more",
                      (int)m->id, m->node,
                      m->node == (uint32_t)mome_g.rank ? " (another thread of this node)" : "");
        free(p);
        return;
    }
    bar_epoch_check(msg, m, "granted");
    p->grant = *m;
    p->src = msg->src;
    p->flags = msg->flags;
    if (sw_running) { /* its section starts after the switch */
        lpending_t **pp = &grant_later;
        while (*pp)
            pp = &(*pp)->next;
        p->next = NULL;
        *pp = p;
        return;
    }
    grant_apply(p);
}

/*
 * Grants that wait for this node's exit of a job barrier their lock's releaser had ended: the
 * releaser may have learnt of writes from that exit's notices (its own, or other nodes' that it
 * read after the barrier), which this node records only at its own exit, still on its way (every
 * node entered that barrier: it comes). Applied then, the acquire sees them (helper-122,
 * helper-123: a lock held across a barrier and released after it was granted where the exit had not
 * come, and the section read the page without the barrier's writes).
 */
static lpending_t *grant_exit;

static void grants_after_exit(void)
{
    lpending_t **pp = &grant_exit;
    while (*pp) {
        lpending_t *p = *pp;
        if (p->grant.epoch > jbar.epoch) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        grant_apply(p);
    }
}

static void grant_apply(lpending_t *p)
{
    const mome_syncmsg_t *m = &p->grant;
    if (finalizing) {
        /* Its thread waited while another called MomeFinalize: it is given back at once, as if
         * never taken, rather than held through the end of the job. */
        mome_send((int)p->src, MOME_MSG_LOCK_REL, 0, m, NULL, 0);
        mome_cmd_fail(p->cmd, ENOTCONN,
                      "MomeLock: lock %d: cut short by this node's MomeFinalize (another "
                      "thread's)",
                      (int)m->id);
        free(p);
        return;
    }
    if (m->epoch > jbar.epoch) {
        p->next = grant_exit;
        grant_exit = p;
        return;
    }
    held_t *h = mome_malloc(sizeof(*h));
    if (!h) {
        /* Cannot record it: give it back rather than hold it forever. */
        mome_send((int)p->src, MOME_MSG_LOCK_REL, 0, m, NULL, 0);
        mome_cmd_fail(p->cmd, ENOMEM, "MomeLock: out of memory");
        free(p);
        return;
    }
    h->h.k1 = m->id;
    h->h.k2 = 0;
    h->tid = p->cmd->tid;
    h->token = m->token;
    mome_htab_put(&held, &h->h);
    MOME_STAT_INC(lock_acquires);
    MOME_STAT_ADD(lock_waits, (p->flags & MOME_LOCK_WAITED) ? 1 : 0);
    MOME_STAT_ADD(lock_wait_ns, mome_now_ns() - p->t0);
    MOME_TR(MOME_TR_LOCK_GOT, 0, m->id, (int)p->src, (uint32_t)m->token,
            p->flags & MOME_LOCK_WAITED ? MOME_TRF_WAITED : 0);
    /* An acquire: see every modification released before the lock's last release. */
    mome_rel_acquire(m->date, lock_after_acquire, p);
}

/* ---- barrier ---- */

static barrier_t *bar_of(int flags)
{
    return (flags & MOME_BAR_APP) ? &abar : &jbar;
}

/* What the launcher's table says of this node's barrier (0: in none). */
static void bar_status(const barrier_t *b, uint64_t v)
{
    mome_boot_status_t *st = mome_boot_status(mome_g.rank);
    if (st)
        __atomic_store_n(b == &abar ? &st->app_barrier : &st->barrier, v, __ATOMIC_RELAXED);
}

static void barrier_after_release(void *arg, mome_date_t date)
{
    barrier_t *b = arg;
    mome_syncmsg_t m = {.id = b->epoch, .token = b->by == MOME_BAR_CHECKPOINT ? b->seg : 0};
    uint32_t len = 0;
    /* MomeBarrier: the owner's write notices of the release ride on it (release.h) */
    const void *notes = b == &jbar && !b->quiesce ? mome_rel_barrier_notices(&len) : NULL;
    /* dated after the release */
    b->entered = mome_clock_now() + 1;
    mome_send(b->first, MOME_MSG_BAR_ENTER, b->flags | b->by | (b->quiesce ? MOME_BAR_QUIESCE : 0),
              &m, notes, len);
}

/* The public call a barrier command is part of, as BAR_ENTER's flag (0: the barrier call). */
static int by_of(const mome_cmd_t *c)
{
    if (c->call && strcmp(c->call, "MomeFinalize") == 0)
        return MOME_BAR_FINALIZE;
    if (c->call && strcmp(c->call, "MomeCheckpoint") == 0)
        return MOME_BAR_CHECKPOINT;
    return 0;
}

/*
 * MomeFinalize gives up the locks this node still holds (MomeLock without MomeUnlock): their
 * sections never end, and a node waiting for one would wait for ever (and this node's barrier
 * for that node). Their managers refuse them from now on (LOCK_GONE), naming this node.
 */
static void give_up_locks(void)
{
    char ids[256] = "";
    size_t n = 0;
    int count = 0;
    mome_hnode_t *x, *tmp;

    mome_htab_foreach(&held, x, tmp)
    {
        held_t *h = (held_t *)x;
        int id = (int)h->h.k1;
        mome_syncmsg_t m = {.id = h->h.k1, .token = h->token, .epoch = jbar.epoch};
        if (n < sizeof(ids))
            n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%d (thread %d)", count ? ", " : "",
                                  id, (int)h->tid);
        count++;
        mome_send(lock_manager(id), MOME_MSG_LOCK_REL, MOME_LOCK_GONE, &m, NULL, 0);
        mome_htab_del(&held, &h->h);
        free(h);
    }
    if (!count)
        return;
    mome_warn("sync",
              "MomeFinalize: this node still holds %s %s (MomeLock without MomeUnlock): "
              "given up; a node that waits for %s, or asks for %s later, gets ENOTRECOVERABLE "
              "from MomeLock",
              count > 1 ? "locks" : "lock", ids, count > 1 ? "one" : "it",
              count > 1 ? "one" : "it");
    gate_check(); /* a model switch may wait for those sections */
}

static void barrier_enter(barrier_t *b, mome_cmd_t *c, int quiesce)
{
    /* MomeFinalize's barrier: this node makes no barrier after it */
    int fin = b == &jbar && !quiesce && by_of(c) == MOME_BAR_FINALIZE;
    if (b->cmd || (fin && abar.cmd)) {
        const char *call = c->call ? c->call : b->call;
        mome_cmd_fail(c, EBUSY, "%s: another thread of this node is in a barrier",
                      quiesce ? "MomeFinalize" : call);
        return;
    }
    if (b == &abar && finalizing) {
        mome_cmd_fail(c, ENOTCONN,
                      "MomeAppBarrier: another thread of this node called "
                      "MomeFinalize");
        return;
    }
    b->cmd = c;
    b->entered = 0;
    b->quiesce = quiesce;
    b->by = quiesce ? 0 : by_of(c);
    b->seg = c->u.barrier.seg;
    b->t0 = mome_now_ns();
    bar_status(b, b->epoch + 1);
    if (b == &jbar && !quiesce) /* the trace shows the program's barriers */
        MOME_TR(MOME_TR_BAR_ENTER, 0, b->epoch, -1, 0, 0);
    mome_cmd_outstanding(1);
    if (fin) {
        finalizing = 1;
        give_up_locks();
        /* The program's gathering node learns that this node makes no more program barriers:
         * one that another node of the program waits in, or enters later, would never end. */
        if (abar.count != jbar.count) {
            mome_syncmsg_t m = {.id = abar.epoch};
            mome_send(abar.first, MOME_MSG_BAR_ENTER, MOME_BAR_APP | MOME_BAR_FINALIZE, &m, NULL,
                      0);
        }
    }
    if (quiesce) {
        mome_coh_finishing(); /* no page-out from now on: the others may stop once it ends */
        mome_segment_poll(1); /* SEG_CLOSEs still waiting are dropped: the job ends */
        barrier_after_release(b, 0);
    } else if (b == &jbar) {
        /* Every node is in it: the release's notices reach them all with BAR_EXIT. */
        mome_rel_release_barrier(b->epoch + 1, barrier_after_release, b);
    } else {
        mome_rel_release(barrier_after_release, b);
    }
}

void mome_sync_cmd_barrier(mome_cmd_t *c)
{
    barrier_enter(&jbar, c, 0);
}

/* In a job of one program the program barrier is the job barrier (SPEC), epochs included: as
 * two barriers, a node calling one while another calls the other hung (helper-88). */
void mome_sync_cmd_app_barrier(mome_cmd_t *c)
{
    barrier_enter(abar.count == jbar.count ? &jbar : &abar, c, 0);
}

/*
 * The quiesce round of MomeFinalize, after its barrier: a node enters once that barrier's acquire
 * is complete here, so when every node has entered, no node needs another to serve it any more
 * and each may stop. A barrier of its own epoch, with no release and no acquire.
 */
void mome_sync_cmd_quiesce(mome_cmd_t *c)
{
    barrier_enter(&jbar, c, 1);
}

/* "MomeBarrier 3", "MomeFinalize (barrier 3)": the call a node entered coord_epoch in. */
static void entered_in(const barrier_t *b, uint32_t flags, char *buf, size_t len)
{
    unsigned long long e = (unsigned long long)b->coord_epoch;

    if (flags & MOME_BAR_FINALIZE)
        snprintf(buf, len, "MomeFinalize (barrier %llu)", e);
    else if (flags & MOME_BAR_CHECKPOINT)
        snprintf(buf, len, "MomeCheckpoint (barrier %llu)", e);
    else
        snprintf(buf, len, "%s %llu", b->call, e);
}

/* Node fin of this program called MomeFinalize while node in is in program barrier coord_epoch,
 * which fin never enters: it would never end. */
static void app_short(const barrier_t *b, int fin, int in)
{
    unsigned long long e = (unsigned long long)b->coord_epoch;
    mome_fatal("node %d called MomeFinalize after %llu program barrier%s while node %d is in "
               "MomeAppBarrier %llu: the nodes of program %d (nodes %d to %d) disagree on their "
               "program barriers (every node of a program makes the same number of "
               "MomeAppBarrier calls before MomeFinalize; one fewer on node %d); stopping",
               fin, e, e == 1 ? "" : "s", in, e, mome_g.app, b->first, b->first + b->count - 1,
               fin);
}

/*
 * Node n of this program began its MomeFinalize after `m->id` program barriers (BAR_ENTER with
 * BAR_APP and BAR_FINALIZE, not an entry): a program barrier that a node of the program is in, or
 * enters later, would never end. It has ended every one before (it was in each), and is in none.
 */
static void app_finalize(barrier_t *b, uint32_t n, const mome_syncmsg_t *m)
{
    uint32_t k = n - (uint32_t)b->first;
    int in = (int)(b->coord_in[k / 64] >> (k % 64) & 1);
    if (m->id != b->coord_epoch || in)
        mome_fatal("node %u began MomeFinalize after %llu program barriers, but this node gathers "
                   "program barrier %llu%s: the nodes disagree on the program barriers; stopping",
                   n, (unsigned long long)m->id, (unsigned long long)b->coord_epoch,
                   in ? ", which that node is in" : "");
    if (b->coord_count)
        app_short(b, (int)n, b->coord_first);
    if (b->coord_fin < 0)
        b->coord_fin = (int)n;
}

static void on_bar_enter(const mome_msg_t *msg, const void *body)
{
    const mome_syncmsg_t *m = body;
    barrier_t *b = bar_of(msg->flags);
    uint32_t n = msg->src, k = n - (uint32_t)b->first;
    if (mome_g.rank != b->first || n < (uint32_t)b->first || k >= (uint32_t)b->count)
        mome_fatal("node %u entered a %s of nodes %d to %d, which this node does not gather "
                   "(the nodes disagree on the programs of the job); stopping", n, b->call,
                   b->first, b->first + b->count - 1);
    if (b == &abar && (msg->flags & MOME_BAR_FINALIZE)) {
        app_finalize(b, n, m);
        return;
    }
    if (m->id != b->coord_epoch || (b->coord_in[k / 64] >> (k % 64) & 1))
        mome_fatal("node %u entered %s %llu (again, or out of turn) during %s %llu: the nodes "
                   "disagree on the barriers; stopping", n, b->what, (unsigned long long)m->id,
                   b->what, (unsigned long long)b->coord_epoch);
    if (b->coord_fin >= 0)
        app_short(b, b->coord_fin, (int)n);
    /* A node one barrier short would take the others' last barrier for the final round of its
     * MomeFinalize, stop serving pages while they acquire, and leave them waiting. */
    if (b->coord_count == 0) {
        b->coord_kind = (int)msg->flags;
        b->coord_first = (int)n;
        b->coord_seg = m->token;
    } else if ((msg->flags ^ (uint32_t)b->coord_kind) & MOME_BAR_QUIESCE) {
        int q = (msg->flags & MOME_BAR_QUIESCE) ? (int)n : b->coord_first;
        char other[64];
        entered_in(b, (msg->flags & MOME_BAR_QUIESCE) ? (uint32_t)b->coord_kind : msg->flags, other,
                   sizeof(other));
        mome_fatal("node %d is in MomeFinalize (its last round) while node %d is in %s: the nodes "
                   "disagree on the number of barriers (one fewer on node %d); stopping",
                   q, q == (int)n ? b->coord_first : (int)n, other, q);
    } else if ((msg->flags ^ (uint32_t)b->coord_kind) & (MOME_BAR_FINALIZE | MOME_BAR_CHECKPOINT)) {
        /*
         * A barrier of one call met another's: a node that left out a MomeCheckpoint (it failed
         * there before its barrier: a bad handle, another thread in a barrier) or a MomeBarrier.
         * Matched, the others' checkpoint would end without it, or its barrier would end their
         * checkpoint or finalize early.
         */
        char here[64], other[64], hint[96];
        uint32_t fin = (msg->flags | (uint32_t)b->coord_kind) & MOME_BAR_FINALIZE;
        /* the node in MomeFinalize named first: the detecting node is often the other one */
        int swap = fin && !(msg->flags & MOME_BAR_FINALIZE);
        entered_in(b, msg->flags, swap ? other : here, sizeof(here));
        entered_in(b, (uint32_t)b->coord_kind, swap ? here : other, sizeof(other));
        if (fin)
            snprintf(hint, sizeof(hint), "one fewer barrier on node %d",
                     (msg->flags & MOME_BAR_FINALIZE) ? (int)n : b->coord_first);
        else
            snprintf(hint, sizeof(hint),
                     "a MomeCheckpoint left out, or failed before its barrier, "
                     "on one of them");
        mome_fatal("node %d is in %s while node %d is in %s: the nodes disagree on their "
                   "barriers (every node makes the same MomeBarrier, MomeCheckpoint and "
                   "MomeFinalize calls, in the same order; %s); stopping",
                   swap ? b->coord_first : (int)n, here, swap ? (int)n : b->coord_first, other,
                   hint);
    } else if ((msg->flags & MOME_BAR_CHECKPOINT) && m->token != b->coord_seg) {
        /* Each would wait for ever for the others' part of its own checkpoint (helper-101). */
        mome_fatal("node %u checkpoints segment '%s' while node %d checkpoints segment '%s' "
                   "(barrier %llu): every node checkpoints the same segment at once (two "
                   "threads of each node checkpointing two segments may each have the other one "
                   "on another node: one at a time); stopping",
                   n, mome_segment_name(m->token), b->coord_first, mome_segment_name(b->coord_seg),
                   (unsigned long long)b->coord_epoch);
    }
    b->coord_in[k / 64] |= 1ull << (k % 64);
    if (msg->date > b->coord_max)
        b->coord_max = msg->date;
    if (msg->len) {
        /* At most mome_rel_barrier_cap bytes from each node (validated): one batch in all. */
        if (b->coord_len + msg->len > b->coord_cap) {
            size_t cap = b->coord_cap ? b->coord_cap : 4096;
            while (cap < b->coord_len + msg->len)
                cap *= 2;
            uint8_t *nb = mome_realloc(b->coord_notes, cap);
            if (!nb)
                mome_fatal("out of memory gathering the write notices of %s %llu; stopping",
                           b->what, (unsigned long long)b->coord_epoch);
            b->coord_notes = nb;
            b->coord_cap = cap;
        }
        memcpy(b->coord_notes + b->coord_len, msg->payload, msg->len);
        b->coord_len += msg->len;
    }
    if (++b->coord_count < b->count)
        return;
    /* After every entry, and (merged into the clock) before the exits' own dates: a message's
     * dates are never after its header's (net/wire.h). */
    mome_date_t date = mome_clock_merge(b->coord_max);
    for (int j = b->first; j < b->first + b->count; j++) {
        mome_syncmsg_t x = {.id = b->coord_epoch, .date = date};
        mome_send(j, MOME_MSG_BAR_EXIT, b->flags, &x, b->coord_len ? b->coord_notes : NULL,
                  (uint32_t)b->coord_len);
    }
    b->coord_len = 0;
    b->coord_epoch++;
    b->coord_count = 0;
    memset(b->coord_in, 0, ((size_t)b->count + 63) / 64 * sizeof(*b->coord_in));
    b->coord_max = 0;
}

static void barrier_after_acquire(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    barrier_t *b = c->u.barrier.state;
    if (b->acq == c)
        b->acq = NULL;
    if (!b->by) { /* the program's own barriers, not those of MomeCheckpoint or MomeFinalize */
        MOME_STAT_INC(barriers);
        MOME_STAT_ADD(barrier_wait_ns, mome_now_ns() - b->t0);
    }
    if (b == &jbar)
        MOME_TR(MOME_TR_BAR_EXIT, 0, b->epoch - 1, -1, 0, 0);
    c->result = date;
    mome_cmd_complete(c, 0);
}

static void on_bar_exit(const mome_msg_t *msg, const void *body)
{
    const mome_syncmsg_t *m = body;
    barrier_t *b = bar_of(msg->flags);
    mome_cmd_t *c = b->cmd;
    if (!c || m->id != b->epoch || msg->src != (uint32_t)b->first)
        mome_fatal("node %u ended %s %llu, which this node is not in (it is at %s %llu); "
                   "stopping", msg->src, b->what, (unsigned long long)m->id, b->what,
                   (unsigned long long)b->epoch);
    /* The gathering node dates the exit after every entry it merged (on_bar_enter), so after
     * this node's releases before the barrier: dated before them, its acquire would leave their
     * notices pending, and reads after the barrier could miss those writes. Nor does it end a
     * barrier before this node entered it. */
    if (!b->entered || m->date <= b->entered) {
        char when[96] = "before this node entered it";
        if (b->entered)
            snprintf(when, sizeof(when), "not after this node's BAR_ENTER (dated %llu or later)",
                     (unsigned long long)b->entered);
        mome_fatal("node %u ended %s %llu at date %llu, %s: the nodes disagree on the barrier, "
                   "and reads after it could miss writes released before it; stopping",
                   msg->src, b->what, (unsigned long long)m->id, (unsigned long long)m->date, when);
    }
    b->cmd = NULL;
    b->epoch++;
    bar_status(b, 0);
    mome_cmd_outstanding(-1);
    mome_clock_raise(m->date);
    if (b->quiesce) {
        if (msg->len)
            mome_fatal("node %u ended the last round of MomeFinalize with write notices: the "
                       "nodes disagree on the barriers; stopping", msg->src);
        c->result = m->date;
        mome_cmd_complete(c, 0);
        if (b == &jbar)
            grants_after_exit();
        return;
    }
    b->acq = c;
    c->u.barrier.state = b;
    if (b == &jbar) {
        /* (a call using that date runs on this thread after this handler: notices recorded)
         * Never back: a program barrier's exit may have come first with a later date (its
         * gathering node's clock ahead of this one's: helper-122). */
        if (m->date > __atomic_load_n(&last_barrier, __ATOMIC_ACQUIRE))
            __atomic_store_n(&last_barrier, m->date, __ATOMIC_RELEASE);
        mome_rel_barrier_acquire(m->id + 1, m->date, msg->payload, msg->len,
                                 barrier_after_acquire, c);
        grants_after_exit(); /* the exit's notices are recorded */
        return;
    }
    /* A program's barrier is a barrier too (in a job of one program it is MomeBarrier: SPEC). */
    if (m->date > __atomic_load_n(&last_barrier, __ATOMIC_ACQUIRE))
        __atomic_store_n(&last_barrier, m->date, __ATOMIC_RELEASE);
    mome_rel_acquire(m->date, barrier_after_acquire, c);
}

/* ---- the first messages: every connection made at MomeInit ---- */

static int hellos;            /* HELLOs received */
static mome_cmd_t *hello_cmd; /* MomeInit waiting for them */
static uint8_t *hello_from;   /* hello_from[n]: node n's HELLO is in */
static uint64_t hello_last;   /* when the wait began or the last HELLO came (mome_now_ns) */
static uint64_t hello_bound;  /* hello_bound_ns(), taken when the wait begins */
static int hello_skip = -1;   /* MOME_TEST_INJECT nohello:N: node N sends node 0 no HELLO */

static void hello_check(void)
{
    if (hello_cmd && hellos == mome_g.nnodes - 1) {
        mome_cmd_t *c = hello_cmd;
        hello_cmd = NULL;
        mome_cmd_complete(c, 0);
    }
}

int mome_sync_inject(const char *spec)
{
    char *end;
    long n;
    if (strncmp(spec, "nohello:", 8) != 0)
        return 0;
    n = strtol(spec + 8, &end, 10);
    if (end == spec + 8 || *end || n < 1)
        return -EINVAL;
    hello_skip = (int)n;
    return 1;
}

/*
 * The bound on MomeInit's wait for the HELLOs: MOME_CONNECT_TIMEOUT seconds without a new one, or
 * by default 30 s plus 100 us for each connection the machine's nodes make per core (each of this
 * machine's nodes connects to every node: 500 nodes on 2 cores, 12.5 s more; 1000, 50 s). A
 * wait that goes on while HELLOs still come in is no hang: the bound counts from the last one.
 */
static uint64_t hello_bound_ns(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (mome_g.cfg.connect_timeout)
        return mome_g.cfg.connect_timeout * 1000000000ull;
    if (cpus < 1)
        cpus = 1;
    return 30000000000ull +
           (uint64_t)mome_g.nnodes * (uint64_t)mome_g.local_size / (uint64_t)cpus * 100000ull;
}

/*
 * Every node says hello to every other and waits for theirs: the transport makes its connections
 * now, within MomeInit (whose end marks the descriptors it opened close-on-exec), and a node that
 * cannot reach another fails here rather than in the middle of the job (mome_sync_hello_watch).
 */
void mome_sync_cmd_hello(mome_cmd_t *c)
{
    hello_cmd = c;
    hello_last = mome_now_ns();
    hello_bound = hello_bound_ns();
    for (int n = 0; n < mome_g.nnodes; n++) {
        if (n == mome_g.rank)
            continue;
        if (n == 0 && mome_g.rank == hello_skip) {
            mome_warn("sync", "MOME_TEST_INJECT: no HELLO to node 0");
            continue;
        }
        mome_send(n, MOME_MSG_HELLO, 0, NULL, NULL, 0);
    }
    hello_check();
}

static void on_hello(const mome_msg_t *msg, const void *body)
{
    /* Each node says it once, in its MomeInit (the decoder checked src is a node of the job): a
     * second one comes from a node that started again, its memory of the job gone, or from a
     * broken one. */
    if (hello_from[msg->src])
        mome_fatal("node %u said HELLO twice: it started again (MomeInit) while this job runs, "
                   "or is broken, and the nodes would disagree on what it holds; stopping",
                   msg->src);
    hello_from[msg->src] = 1;
    hello_last = mome_now_ns();
    hellos++;
    hello_check();
}

int mome_sync_connecting(void)
{
    return hello_cmd != NULL;
}

/* "3 5 7" (the first of them, "..." after), in buf: the nodes whose HELLO is not in. */
static void hello_missing(char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int j = 0; j < mome_g.nnodes && n < len; j++) {
        if (j == mome_g.rank || hello_from[j])
            continue;
        if (n + 16 >= len) {
            snprintf(buf + n, len - n, " ...");
            return;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%d", n ? " " : "", j);
    }
}

/* "1956477 of fs.file-max 2466093": the machine's open files (each node of the machine maps the
 * others' receive queues over shared memory through files of their own), in buf. */
static void files_open(char *buf, size_t len)
{
    unsigned long long used = 0, unused = 0, max = 0;
    FILE *f = fopen("/proc/sys/fs/file-nr", "re");
    int n = f ? fscanf(f, "%llu %llu %llu", &used, &unused, &max) : 0;
    if (f)
        fclose(f);
    if (n == 3)
        snprintf(buf, len, "%llu of fs.file-max %llu", used, max);
    else
        snprintf(buf, len, "unknown");
}

void mome_sync_hello_watch(void)
{
    struct rlimit nofile = {0, 0};
    char missing[256], files[96];
    uint64_t now;

    if (!hello_cmd) /* every round of the progress thread: nothing more once MomeInit is done */
        return;
    now = mome_now_ns();
    if (now - hello_last < hello_bound)
        return;
    mome_boot_explain_failure(2000); /* a node that died or aborted: the launcher says so */
    hello_missing(missing, sizeof(missing));
    files_open(files, sizeof(files));
    getrlimit(RLIMIT_NOFILE, &nofile);
    mome_fatal("MomeInit: heard nothing from %d of the %d other nodes (nodes %s) for %llu s: its "
               "connections to them did not complete. Check that those nodes run, the limits on "
               "open files (ulimit -n: %llu here; files open on this machine: %s) and processes "
               "(ulimit -u), and UCX (UCX %s); MOME_CONNECT_TIMEOUT sets this bound; stopping",
               mome_g.nnodes - 1 - hellos, mome_g.nnodes - 1, missing,
               (unsigned long long)((now - hello_last) / 1000000000ull),
               (unsigned long long)nofile.rlim_cur, files, mome_tp_settings());
}

/* Progress thread: "epoch N; nodes 1 3 not arrived" for the barrier this node waits in. */
static size_t bar_describe(const barrier_t *b, char *buf, size_t len)
{
    size_t n = 0;
    int missing = 0;

#define ADD(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
    ADD("epoch %llu", (unsigned long long)b->epoch);
    if (b != &jbar)
        ADD(" of program %d (nodes %d to %d)", mome_g.app, b->first, b->first + b->count - 1);
    for (int j = b->first; j < b->first + b->count && n < len; j++) {
        int in;
        if (mome_g.rank == b->first && b->coord_epoch == b->epoch) {
            int k = j - b->first;
            in = (int)(b->coord_in[k / 64] >> (k % 64) & 1);
        } else if (mome_boot_status(j)) {
            const mome_boot_status_t *st = mome_boot_status(j);
            in = __atomic_load_n(b == &abar ? &st->app_barrier : &st->barrier,
                                 __ATOMIC_RELAXED) == b->epoch + 1;
        } else {
            ADD("; node %d knows who has not arrived", b->first);
            missing = -1;
            break;
        }
        if (!in)
            ADD("%s%d", missing++ ? " " : "; nodes ", j);
    }
    if (missing > 0)
        ADD(" not arrived");
    else if (missing == 0)
        ADD("; every node arrived, waiting for the release");
#undef ADD
    return n < len ? n : len ? len - 1 : 0;
}

static int cmd_listed(const mome_cmd_t *list, const mome_cmd_t *c)
{
    for (; list; list = list->next)
        if (list == c)
            return 1;
    return 0;
}

static int grant_held(const mome_cmd_t *c)
{
    for (const lpending_t *p = grant_later; p; p = p->next)
        if (p->cmd == c)
            return 1;
    return 0;
}

size_t mome_sync_describe(const mome_cmd_t *c, char *buf, size_t len)
{
    if (c == jbar.cmd || c == abar.cmd) {
        const barrier_t *b = c == jbar.cmd ? &jbar : &abar;
        /* MomeFinalize, MomeCheckpoint: the report names them (c->call), and their barrier */
        size_t n = b->quiesce ? (size_t)snprintf(buf, len, "its last round, ")
                   : b->by    ? (size_t)snprintf(buf, len, "its barrier, ")
                              : 0;
        if (n >= len)
            return len ? len - 1 : 0;
        return n + bar_describe(b, buf + n, len - n);
    }
    if (c == hello_cmd) {
        char missing[256];
        hello_missing(missing, sizeof(missing));
        return (size_t)snprintf(buf, len, "connecting: no HELLO yet from nodes %s", missing);
    }
    if (c == jbar.acq || c == abar.acq)
        return (size_t)snprintf(buf, len, "every node arrived; acquiring what they released");
    if (c->fn == mome_sync_cmd_model || cmd_listed(lock_later, c) || grant_held(c)) {
        const held_t *h = held_by(c->tid, 0);
        if (c->fn != mome_sync_cmd_model)
            return (size_t)snprintf(buf, len,
                                    "lock %d: held back until this node's model switch "
                                    "ends",
                                    c->u.lock.id);
        if (!cmd_listed(sw_waiting, c))
            return 0;
        if (h)
            return (size_t)snprintf(buf, len,
                                    "until this node's other threads leave their "
                                    "lock sections: lock %d held by thread %d",
                                    (int)h->h.k1, (int)h->tid);
        return (size_t)snprintf(buf, len,
                                "until the lock sections another model switch held back have "
                                "started");
    }
    for (const lpending_t *p = grant_exit; p; p = p->next)
        if (p->cmd == c)
            return (size_t)snprintf(buf, len,
                                    "lock %d: granted; its acquire waits for this node's exit of "
                                    "barrier %llu, which its last holder had passed",
                                    c->u.lock.id, (unsigned long long)p->grant.epoch - 1);
    if (c->fn == mome_sync_cmd_lock) {
        int id = c->u.lock.id, mgr = lock_manager(id);
        lockrec_t *l = (lockrec_t *)mome_htab_get(&locks, lock_key(id), 0);
        if (mgr == mome_g.rank && l && l->held)
            return (size_t)snprintf(buf, len, "lock %d, held by node %u", id, l->holder);
        return (size_t)snprintf(buf, len, "lock %d, from node %d (its manager)", id, mgr);
    }
    if (c->fn == mome_sync_cmd_syncmem)
        return (size_t)snprintf(buf, len, "date %llu", (unsigned long long)c->u.sync.date);
    return 0;
}

/* ---- releases, MomeSyncMem, model switches ---- */

static void op_done(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    c->result = date;
    mome_cmd_complete(c, 0);
}

void mome_sync_cmd_release(mome_cmd_t *c)
{
    mome_rel_release(op_done, c);
}

void mome_sync_cmd_syncmem(mome_cmd_t *c)
{
    char *end, *a = mome_segment_check_range(c, "MomeSyncMem", c->u.sync.addr, c->u.sync.len,
                                             &end);
    if (!a)
        return;
    MOME_STAT_INC(syncs);
    mome_rel_sync(a, end, c->u.sync.date, op_done, c);
}

static void switch_done(void *arg, mome_date_t date)
{
    sw_running--;
    op_done(arg, date);
    gate_check();
}

/* Start a switch whose range was checked (checked again: another thread may have unmapped it). */
static void switch_start(mome_cmd_t *c)
{
    char *end,
        *a = mome_segment_check_range(c, "MomeConsistency", c->u.model.addr, c->u.model.len, &end);
    if (!a)
        return;
    sw_running++;
    mome_rel_switch(a, end, c->u.model.model, switch_done, c);
}

/* A section ended or a switch finished: once none runs, the held-back sections begin, then the
 * waiting switches whose callers no other thread's lock holds back start. */
static void gate_check(void)
{
    static int busy; /* a switch that finishes at once calls back in */
    if (busy)
        return;
    busy = 1;
    while (!sw_running && grant_later) {
        lpending_t *p = grant_later;
        grant_later = p->next;
        grant_apply(p);
    }
    while (!sw_running && lock_later) {
        mome_cmd_t *c = lock_later;
        lock_later = c->next;
        mome_sync_cmd_lock(c);
    }
    for (mome_cmd_t **pp = &sw_waiting; *pp;) {
        mome_cmd_t *c = *pp;
        if (held_by(c->tid, 0) || lock_later || grant_later) {
            pp = &c->next;
            continue;
        }
        *pp = c->next;
        switch_start(c);
        pp = &sw_waiting; /* it may have finished at once and changed the list */
    }
    busy = 0;
}

void mome_sync_cmd_model(mome_cmd_t *c)
{
    int model = c->u.model.model;
    char *end;
    held_t *other, *mine;

    if (!mome_model_get(model)) {
        mome_cmd_fail(c, EINVAL, "MomeConsistency: unknown model %d (MOME_STRONG, MOME_RELEASE "
                                 "or MOME_WEAK)", model);
        return;
    }
    if (!mome_segment_check_range(c, "MomeConsistency", c->u.model.addr, c->u.model.len, &end))
        return;
    other = held_by(c->tid, 0);
    mine = held_by(c->tid, 1);
    if (mine && other) {
        mome_cmd_fail(c, EDEADLK,
                      "MomeConsistency: this thread holds lock %d while another thread of this "
                      "node holds lock %d; the switch would wait for that thread's section, which "
                      "may wait for this thread's lock; switch outside lock sections, or when the "
                      "node's other threads are out of theirs",
                      (int)mine->h.k1, (int)other->h.k1);
        return;
    }
    if (mine || (!other && !lock_later && !grant_later))
        switch_start(c);
    else
        cmd_append(&sw_waiting, c);
}

static const mome_field_t lock_fields[] = {
    MOME_FIELD(mome_syncmsg_t, id, MOME_FK_MAX, UINT32_MAX),
    MOME_FIELD(mome_syncmsg_t, token, MOME_FK_RAW, 0),
    MOME_FIELD(mome_syncmsg_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_syncmsg_t, epoch, MOME_FK_RAW, 0)};
/* LOCK_GRANT: and the node that gave the lock up (LOCK_GONE) */
static const mome_field_t grant_fields[] = {
    MOME_FIELD(mome_syncmsg_t, id, MOME_FK_MAX, UINT32_MAX),
    MOME_FIELD(mome_syncmsg_t, token, MOME_FK_RAW, 0),
    MOME_FIELD(mome_syncmsg_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_syncmsg_t, epoch, MOME_FK_RAW, 0),
    MOME_FIELD(mome_syncmsg_t, node, MOME_FK_NODE_NONE, 0)};
static const mome_field_t bar_fields[] = {
    MOME_FIELD(mome_syncmsg_t, id, MOME_FK_RAW, 0),
    MOME_FIELD(mome_syncmsg_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX)};
/* BAR_ENTER: the epoch, and MomeCheckpoint's segment (else 0) */
static const mome_field_t bar_enter_fields[] = {MOME_FIELD(mome_syncmsg_t, id, MOME_FK_RAW, 0),
                                                MOME_FIELD(mome_syncmsg_t, token, MOME_FK_RAW, 0)};

/* Write notices ride on MomeBarrier's messages only (not a program's, not MomeFinalize's last
 * round); a node's part is bounded so that the gathering node's BAR_EXIT holds them all. */
static const char *check_bar_enter(const mome_msg_t *m, const void *body,
                                   const mome_wire_ctx_t *ctx)
{
    /* MOME_BAR_FINALIZE, MOME_BAR_CHECKPOINT: a job barrier too, with its notices */
    if (m->len && ((m->flags & (MOME_BAR_APP | MOME_BAR_QUIESCE)) ||
                   m->len > mome_rel_barrier_cap(ctx->nnodes)))
        return "payload (write notices: MomeBarrier only, at most the node's share)";
    return NULL;
}

static const char *check_bar_exit(const mome_msg_t *m, const void *body,
                                  const mome_wire_ctx_t *ctx)
{
    if (m->len && (m->flags || m->len > (uint64_t)mome_rel_barrier_cap(ctx->nnodes) * ctx->nnodes))
        return "payload (write notices: MomeBarrier only, at most every node's share)";
    return NULL;
}

/* A refused grant (LOCK_GONE) names the node that gave the lock up (a grant's node is unused). */
static const char *check_lock_grant(const mome_msg_t *m, const void *body,
                                    const mome_wire_ctx_t *ctx)
{
    const mome_syncmsg_t *l = body;
    (void)ctx;
    if ((m->flags & MOME_LOCK_GONE) && l->node == MOME_NODE_NONE)
        return "node (LOCK_GONE: the node that gave the lock up)";
    return NULL;
}

/* A lock's requests and releases go to its manager: a node granting a lock it does not manage
 * makes two holders of it (helper-111). */
static const char *check_lock_mgr(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_syncmsg_t *l = body;
    (void)m;
    (void)ctx;
    return lock_manager((int)l->id) == mome_g.rank ? NULL : "id (a lock this node does not manage)";
}

static const mome_msg_def_t sync_msgs[] = {
    {.type = MOME_MSG_LOCK_REQ,
     .wire = {"LOCK_REQ", lock_fields, 2, 0, 0, 0},
     .body_size = sizeof(mome_syncmsg_t),
     .validate = check_lock_mgr,
     .handler = on_lock_req},
    {.type = MOME_MSG_LOCK_GRANT,
     .wire = {"LOCK_GRANT", grant_fields, 5, MOME_LOCK_WAITED | MOME_LOCK_GONE, 0, 0},
     .body_size = sizeof(mome_syncmsg_t),
     .validate = check_lock_grant,
     .handler = on_lock_grant},
    {.type = MOME_MSG_LOCK_REL,
     .wire = {"LOCK_REL", lock_fields, 4, MOME_LOCK_GONE, 0, 0},
     .body_size = sizeof(mome_syncmsg_t),
     .validate = check_lock_mgr,
     .handler = on_lock_rel},
    {.type = MOME_MSG_BAR_ENTER,
     .wire = {"BAR_ENTER", bar_enter_fields, 2,
              MOME_BAR_APP | MOME_BAR_QUIESCE | MOME_BAR_FINALIZE | MOME_BAR_CHECKPOINT, 0,
              MOME_LEN_BATCH, MOME_BATCH_BNOTICE},
     .body_size = sizeof(mome_syncmsg_t),
     .validate = check_bar_enter,
     .handler = on_bar_enter},
    {.type = MOME_MSG_BAR_EXIT,
     .wire = {"BAR_EXIT", bar_fields, 2, MOME_BAR_APP, 0, MOME_LEN_BATCH, MOME_BATCH_BNOTICE},
     .body_size = sizeof(mome_syncmsg_t),
     .validate = check_bar_exit,
     .handler = on_bar_exit},
    {.type = MOME_MSG_HELLO, .wire = {"HELLO", NULL, 0, 0, 0, 0}, .handler = on_hello},
};
static const size_t nsync_msgs = sizeof(sync_msgs) / sizeof(sync_msgs[0]);

int mome_sync_init(void)
{
    forgotten_last = 0;
    forgotten_epoch = 0;
    hellos = 0;
    hello_cmd = NULL;
    free(hello_from);
    hello_from = mome_calloc((size_t)mome_g.nnodes, 1);
    jbar = (barrier_t){.call = "MomeBarrier", .what = "barrier", .first = 0,
                       .count = mome_g.nnodes};
    abar = (barrier_t){.call = "MomeAppBarrier",
                       .what = "program barrier",
                       .flags = MOME_BAR_APP,
                       .first = mome_g.app_first,
                       .count = mome_g.app_size,
                       .coord_fin = -1};
    jbar.coord_fin = -1;
    finalizing = 0;
    if (abar.count < 1 || abar.first < 0 || abar.first + abar.count > mome_g.nnodes) {
        abar.first = 0; /* the job is one program */
        abar.count = mome_g.nnodes;
    }
    jbar.coord_in = mome_calloc(((size_t)jbar.count + 63) / 64, sizeof(uint64_t));
    abar.coord_in = mome_calloc(((size_t)abar.count + 63) / 64, sizeof(uint64_t));
    if (!hello_from || !jbar.coord_in || !abar.coord_in || mome_htab_init(&locks, 64) < 0 ||
        mome_htab_init(&held, 16) < 0 || mome_htab_init(&pending, 16) < 0)
        return -ENOMEM;
    __atomic_store_n(&last_barrier, 0, __ATOMIC_RELEASE);
    sw_running = 0;
    sw_waiting = lock_later = NULL;
    grant_later = grant_exit = NULL;
    return mome_msg_register(sync_msgs, nsync_msgs);
}

void mome_sync_fini(void)
{
    mome_hnode_t *h, *tmp;
    free(hello_from);
    hello_from = NULL;
    hello_skip = -1;
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
    while (grant_later) {
        lpending_t *p = grant_later;
        grant_later = p->next;
        free(p);
    }
    while (grant_exit) {
        lpending_t *p = grant_exit;
        grant_exit = p->next;
        free(p);
    }
    mome_htab_free(&locks);
    mome_htab_free(&held);
    mome_htab_free(&pending);
    free(jbar.coord_in);
    free(abar.coord_in);
    jbar.coord_in = abar.coord_in = NULL;
    free(jbar.coord_notes);
    free(abar.coord_notes);
    jbar.coord_notes = abar.coord_notes = NULL;
}

mome_date_t mome_sync_last_barrier(void)
{
    return __atomic_load_n(&last_barrier, __ATOMIC_ACQUIRE);
}
