/*
 * owner.c - releases of written pages (notices, pushes, diffs), merging diffs into master copies,
 * and flushes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "coherence/ckptflag.h"
#include "coherence/copy.h"
#include "coherence/diff.h"
#include "coherence/owner.h"
#include "coherence/proto.h"
#include "net/srvproto.h"
#include "mome.h"

static uint8_t *diffbuf; /* one encoded diff */
static mome_owner_acked_cb_t acked_cb;
static mome_owner_released_cb_t released_cb;
static mome_owner_diff_cb_t diff_cb;
static mome_owner_expect_cb_t expect_cb;

/* Messages a release builds, one per destination: diffs per owner, notices per manager, new
 * versions pushed to readers. */
static mome_batch_t *rel_diffs, *rel_notices, *rel_pushes;
/* Notices an owner sends after merging a batch of diffs, per manager. */
static mome_batch_t *merge_notices;
/* Per node: the entries pushed to it (not a barrier's) that it has not acknowledged yet. */
static uint32_t *push_out;
/* The entries of a barrier's pushes (its tag) sent to a node and not acknowledged yet: nobody
 * awaits them, but an acknowledgement naming a barrier must answer them (on_push_ack). A few per
 * node at most: the acks of one barrier's pushes may come after the next barrier's are sent. */
typedef struct bar_push {
    uint32_t node;
    uint64_t tag, n;
    struct bar_push *next;
} bar_push_t;
static bar_push_t *bar_pushes;

/*
 * A MomeBarrier's release (mome_owner_release_begin with a tag): the owner's notices do not go to
 * the managers; they ride on the barrier's messages (BAR_ENTER to the gathering node, BAR_EXIT to
 * every node), and its pushes are counted by their readers instead of acknowledged. bar_own keeps
 * them until the barrier ends here: an ordinary release that comes first (another thread's
 * MomeRelease or MomeUnlock) sends them to the managers too, so that whoever acquires after it
 * sees them without waiting for the barrier. Its end here is not its end everywhere: this node's
 * exit says that every node entered, not that every node has taken the exit's notices. So
 * bar_prev keeps them until the next barrier's exit (every node entered that one, so took this
 * one's exit), and the first ordinary release in between sends them to the managers as well: a
 * lock a thread held across the barrier and releases now may be acquired on a node whose exit is
 * still on its way (helper-122).
 */
static uint64_t bar_tag;      /* the running release's barrier tag (its epoch + 1), else 0 */
static int bar_fallback;      /* its notices outgrew the barrier's messages: managers, as usual */
static mome_batch_t bar_own;  /* barrier notice entries of this node's barrier release */
static int bar_resend;        /* bar_own has not gone through the managers yet */
static mome_batch_t bar_prev; /* bar_own of the barrier this node exited last */
static int prev_resend;       /* bar_prev has not gone through the managers yet */
static int extra_acks;       /* acknowledgements the batches sent so far in this release bring */

/* Send batch b to `to` as one message of `type` and empty it. */
static void send_batch(mome_batch_t *b, int to, int type, uint64_t date, uint32_t origin)
{
    mome_rel_t rel = {.date = date, .origin = origin};
    if (!b->n)
        return;
    if (type == MOME_MSG_PUSH) {
        /* A barrier's pushes are counted by the reader (token: the barrier); others acked. */
        rel.token = bar_fallback ? 0 : bar_tag;
        if (!rel.token) {
            extra_acks += (int)b->n;
            push_out[to] += (uint32_t)b->n;
        } else {
            bar_push_t *p = bar_pushes;
            while (p && (p->node != (uint32_t)to || p->tag != rel.token))
                p = p->next;
            if (!p && !(p = mome_calloc(1, sizeof(*p))))
                mome_fatal("out of memory recording a push to node %d; stopping", to);
            if (!p->n) {
                p->node = (uint32_t)to;
                p->tag = rel.token;
                p->next = bar_pushes;
                bar_pushes = p;
            }
            p->n += b->n;
        }
    }
    mome_send(to, type, 0, &rel, b->buf, (uint32_t)b->len);
    mome_batch_reset(b);
}

static void send_batches(mome_batch_t *b, int type, uint64_t date, uint32_t origin)
{
    for (int to = 0; to < mome_coh.nnodes; to++)
        send_batch(&b[to], to, type, date, origin);
}

/*
 * Append an entry to the batch for `to` with add(); when the batch is full, send it first and
 * start the next. A failure here would lose a released change: it stops the job.
 */
#define BATCH_ADD(_b, _to, _type, _date, _origin, _what, _add)                                     \
    do {                                                                                           \
        int _rc = (_add);                                                                          \
        if (_rc == -E2BIG) {                                                                       \
            send_batch((_b), (_to), (_type), (_date), (_origin));                                  \
            _rc = (_add);                                                                          \
        }                                                                                          \
        if (_rc < 0)                                                                               \
            mome_fatal("out of memory for the %s of page %llu of segment '%s' (%#llx); stopping",  \
                       (_what), (unsigned long long)page, mome_seg_name_of(seg),                   \
                       (unsigned long long)seg);                                                   \
    } while (0)

static void add_notice(mome_batch_t *b, int to, uint64_t seg, uint64_t page, uint64_t ver,
                       uint64_t date, uint32_t origin)
{
    BATCH_ADD(&b[to], to, MOME_MSG_NOTICE, date, origin, "notice",
              mome_batch_notice(&b[to], seg, page, ver));
}

static int manager_of(uint64_t seg, uint64_t page)
{
    mome_seg_t *s = mome_seg_page(seg, page);
    return s ? mome_seg_manager(s, page) : mome_page_default_manager(seg, page, mome_coh.nnodes);
}

/*
 * Send the barrier notices kept in own (bar_own, bar_prev) to the pages' managers as this release's
 * notices, each acknowledged, and (as any owner's notice) holding a FLUSH of its page until then. A
 * barrier's notices hold no FLUSH: one could wait for the barrier, which could wait for the node
 * whose request the FLUSH serves. None is needed: the master already holds the released writes, and
 * a copy taken after the FLUSH has a version the notices do not exceed.
 */
static void bar_own_to_managers(const mome_batch_t *own, uint64_t date)
{
    mome_msg_t m = {.payload = own->buf, .len = (uint32_t)own->len};
    mome_entry_t e;
    MOME_BATCH_FOREACH(MOME_BATCH_BNOTICE, &m, e)
    {
        uint64_t seg = e.seg, page = e.page;
        mome_seg_t *s = mome_seg_page(seg, page);
        mome_pext_t *x = s ? mome_pext_get(mome_seg_pg(s, page), seg, page) : NULL;
        if (s && !x)
            mome_fatal("out of memory releasing page %llu of segment '%s'; stopping",
                       (unsigned long long)page, s->name);
        if (x)
            x->relpend++; /* the NOTICE_ACK ends it (released()) */
        add_notice(rel_notices, manager_of(seg, page), seg, page, e.ver, date,
                   (uint32_t)mome_coh.self);
        extra_acks++;
    }
}

int mome_owner_release_begin(uint64_t tag, uint64_t date)
{
    extra_acks = 0;
    bar_fallback = 0;
    bar_tag = tag;
    if (bar_resend && bar_own.n) {
        /* A barrier's notices not yet known to their holders: this release makes them known. */
        bar_own_to_managers(&bar_own, date);
        bar_resend = 0;
    }
    if (!tag && prev_resend && bar_prev.n) {
        /* The last barrier's, which nodes whose exit is on its way do not know yet. (A
         * barrier's own release need not: nobody acquires it before every exit.) */
        bar_own_to_managers(&bar_prev, date);
        prev_resend = 0;
    }
    return 0;
}

/* Keep an owner's notice for the barrier's messages (1); when they would grow too long, send
 * those kept so far to the managers, and this one too from now on (0; the release then waits for
 * their acknowledgements, as an ordinary one). */
static int bar_keep(uint64_t seg, uint64_t page, uint64_t ver, uint64_t date, uint64_t push)
{
    if (!bar_fallback &&
        bar_own.len + MOME_BATCH_BNOTICE_SIZE <= mome_owner_barrier_cap(mome_coh.nnodes)) {
        if (mome_batch_bnotice(&bar_own, seg, page, ver, date, push) < 0)
            mome_fatal("out of memory for the notice of page %llu of segment '%s' (%#llx); "
                       "stopping",
                       (unsigned long long)page, mome_seg_name_of(seg), (unsigned long long)seg);
        bar_resend = 1;
        return 1;
    }
    if (!bar_fallback) {
        bar_own_to_managers(&bar_own, date);
        mome_batch_reset(&bar_own);
        bar_resend = 0;
        bar_fallback = 1;
    }
    return 0;
}

/*
 * This node's changes of a page whose master another node owns: page XOR twin, as runs or whole.
 * flush_mgr < 0: a release (appended to the batch for the owner, whose notice is acknowledged to
 * this node); else part of a flush (sent at once; the owner acknowledges that manager). Returns 1
 * when an acknowledgement will follow.
 */
static int send_diff(mome_seg_t *s, uint64_t page, uint64_t date, int flush_mgr)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    uint64_t seg = s->id;
    int full;
    size_t n;

    if (!x || !x->twin)
        return 0;
    n = mome_diff_encode(mome_seg_bytes(s, page), x->twin, mome_coh.page_size, diffbuf, &full);
    if (flush_mgr < 0) /* a release: predicts whether write-ahead opens the page next time */
        pg->flags = (uint16_t)(n ? pg->flags | MOME_PG_WROTE : pg->flags & ~MOME_PG_WROTE);
    if (n) {
        uint32_t fl = full ? MOME_DIFF_ENTRY_FULL : 0;
        MOME_STAT_INC(diffs);
        MOME_STAT_ADD(diff_bytes, n);
        MOME_TR(MOME_TR_DIFF_SEND, seg, page, (int)x->owner, (uint32_t)n,
                full ? MOME_TRF_FULL : 0);
        pg->flags |= MOME_PG_USED; /* written this interval: worth refreshing at the next acquire */
        if (diff_cb)
            diff_cb(seg, page, diffbuf, (uint32_t)n, fl);
        if (flush_mgr < 0) {
            mome_batch_t *b = &rel_diffs[x->owner];
            BATCH_ADD(b, (int)x->owner, MOME_MSG_DIFF, date, (uint32_t)mome_coh.self, "diff",
                      mome_batch_diff(b, seg, page, diffbuf, (uint32_t)n, fl));
            x->relpend++;
        } else {
            mome_batch_t one = {0};
            mome_rel_t rel = {.date = date, .origin = (uint32_t)mome_coh.self,
                              .mgr = (uint32_t)flush_mgr};
            if (mome_batch_diff(&one, seg, page, diffbuf, (uint32_t)n, fl) < 0)
                mome_fatal("out of memory flushing page %llu of segment '%s'; stopping",
                           (unsigned long long)page, s->name);
            mome_send((int)x->owner, MOME_MSG_DIFF, MOME_DIFF_FLUSH, &rel, one.buf,
                      (uint32_t)one.len);
            mome_batch_free(&one);
            /*
             * Until the owner has merged it, this change exists here only: the owner acknowledges
             * it to this node too (NOTICE_ACK), and this node's next release (a barrier's) waits
             * for that, as for a released diff, and so does a later flush of the page. Without
             * this a barrier could end before the master had the change (found by the model,
             * tests/model).
             */
            x->relpend++;
            expect_cb();
        }
    }
    /* The twin goes only once its changes are on their way. */
    free(x->twin);
    x->twin = NULL;
    mome_pext_put(pg, x);
    return n != 0;
}

int mome_owner_release_page(mome_seg_t *s, uint64_t page, uint64_t date)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    uint64_t seg = s->id;
    mome_pext_t *x;

    if (!(pg->flags & MOME_PG_DIRTY) || pg->access == MOME_ACC_NONE)
        return 0;
    /*
     * The caller has write-protected it (release.c, a run at a time): writes from now on start
     * the next interval. Or it kept it open (MOME_PG_KEPT): what is released is a snapshot, and
     * the page stays open and dirty, its next writes noticed against that snapshot.
     */
    const uint8_t *bytes = mome_seg_bytes(s, page);
    uint8_t *snap = NULL;
    int closed = 0;

    if (pg->flags & MOME_PG_KEPT) {
        snap = mome_copy_kept_snapshot(s, page);
        if (snap) {
            bytes = snap;
        } else if (mome_copy_kept_idle(s, page)) {
            /* Unchanged in this interval: still open, nothing to tell. */
            pg->flags &= (uint16_t)~MOME_PG_WROTE;
            return 0;
        } else {
            /* Unchanged for a while: tracked by its write faults again, and released as any
             * other page (a write between the snapshot and the protect is in its content). Its
             * next write keeps it open again (copy.h: MOME_PG_WROTE stays). */
            pg->flags &= (uint16_t)~MOME_PG_KEPT;
            mome_copy_protect(s, page);
            closed = 1;
        }
    }
    pg->flags &= (uint16_t)~MOME_PG_DIRTY;
    if (!(pg->flags & MOME_PG_OWNER))
        return send_diff(s, page, date, -1);
    /* A master kept apart from a WEAK view (copy.h): the view's writes go into it, and it is
     * what this release publishes (never kept open: no snapshot). */
    int apart = mome_copy_release_apart(s, page);
    if (apart)
        bytes = mome_copy_apart(s, page);
    if (!snap && !apart && !mome_copy_forget_spec(s, page)) {
        /* Opened ahead and not written, or closed unchanged: nothing to tell. A closed page is
         * taken for written next time (copy.h). */
        pg->flags = (uint16_t)(closed ? pg->flags | MOME_PG_WROTE : pg->flags & ~MOME_PG_WROTE);
        return 0;
    }
    pg->flags |= MOME_PG_WROTE;
    pg->ver++;
    if (snap)
        mome_copy_reopen(s, page, snap); /* bytes stays valid: the spec now */
    if (!(pg->flags & MOME_PG_SHARED))
        return 0; /* nobody else holds a copy: nobody to tell */
    x = mome_pext_get(pg, s->id, page);
    if (!x)
        mome_fatal("out of memory releasing page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    uint64_t pushed = 0; /* the readers this version is pushed to */
    if (mome_store_is_paged(s->store, page))
        x->push = 0; /* not worth bringing back to push: readers fetch it when they use it */
    for (int n = 0; x->push && n < 64 && n < mome_coh.nnodes; n++) {
        if (!(x->push & (1ull << n)))
            continue;
        mome_batch_t *b = &rel_pushes[n];
        BATCH_ADD(b, n, MOME_MSG_PUSH, date, (uint32_t)mome_coh.self, "push",
                  mome_batch_push(b, seg, page, pg->ver, bytes, (uint32_t)mome_coh.page_size));
        pushed |= 1ull << n;
    }
    if (bar_tag && bar_keep(seg, page, pg->ver, date, pushed)) {
        mome_pext_put(pg, x);
        return 0;
    }
    x->relpend++;
    add_notice(rel_notices, mome_seg_manager(s, page), seg, page, pg->ver, date,
               (uint32_t)mome_coh.self);
    return 1; /* pushes: counted as their batches go (send_batch) */
}

int mome_owner_release_send(uint64_t date)
{
    send_batches(rel_diffs, MOME_MSG_DIFF, date, (uint32_t)mome_coh.self);
    send_batches(rel_notices, MOME_MSG_NOTICE, date, (uint32_t)mome_coh.self);
    send_batches(rel_pushes, MOME_MSG_PUSH, date, (uint32_t)mome_coh.self);
    int n = extra_acks;
    extra_acks = 0;
    bar_tag = 0;
    bar_fallback = 0;
    return n;
}

const void *mome_owner_barrier_notices(uint32_t *len)
{
    *len = (uint32_t)bar_own.len;
    return bar_own.len ? bar_own.buf : NULL;
}

void mome_owner_barrier_done(void)
{
    /* Every node entered this barrier, so has taken the last one's exit: those go. This one's
     * are kept until the next, since other nodes may not have taken its exit yet. */
    mome_batch_t t = bar_prev;
    bar_prev = bar_own;
    prev_resend = bar_resend;
    bar_own = t;
    mome_batch_reset(&bar_own);
    bar_resend = 0;
}

/*
 * The owner's writes the flush of its copy ends: announced through the manager running the flush
 * (sent before this node's FLUSH_ACK), as a release's would be, and awaited as one by this node's
 * next release. No release of this node will announce them (the page is clean now), and copies
 * the flush drops stay mapped until their FLUSH arrives there: told nothing, such a copy could be
 * read after a lock whose grant overtook its FLUSH, its holder taking this node's writes for never
 * made (a lost increment, helper-113; directory.c on_notice). The manager tells them (STALE after
 * their FLUSH), and this node's next release ends once they know.
 */
static void announce_flushed(mome_seg_t *s, uint64_t page, uint32_t mgr)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_get(pg, s->id, page);
    uint64_t date = mome_clock_now();

    if (!x)
        mome_fatal("out of memory announcing the flushed writes of page %llu of segment '%s'; "
                   "stopping",
                   (unsigned long long)page, s->name);
    pg->ver++;
    x->relpend++; /* the NOTICE_ACK ends it (released()) */
    add_notice(merge_notices, (int)mgr, s->id, page, pg->ver, date, (uint32_t)mome_coh.self);
    send_batch(&merge_notices[mgr], (int)mgr, MOME_MSG_NOTICE, date, (uint32_t)mome_coh.self);
    expect_cb();
}

/* The flush of `node`'s copy is over (node: this one, or a writer whose diff was merged here). */
static void flush_ack(uint64_t seg, uint64_t page, uint32_t mgr, uint32_t node)
{
    mome_ref_t ack = {.seg = seg, .page = page, .node = node};
    mome_send((int)mgr, MOME_MSG_FLUSH_ACK, 0, &ack, NULL, 0);
}

/*
 * Release this node's changes now (a twinning writer's diff is acknowledged to the manager by the
 * owner once merged), stop writing, and drop the copy if asked.
 */
static void do_flush(mome_seg_t *s, uint64_t page, uint32_t mgr, int drop)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *ext = mome_pext_find(pg, s->id, page);
    int acked_by_owner = 0;

    /* A refresh merging this node's writes into fresh content is in flight: its request waits at
     * the manager behind the one this flush serves, so the flush cannot wait for it. The writes
     * go now, and the twin with them; the fresh content will include them (requester.c). */
    if (ext && ext->merging)
        ext->flushed = 1;

    if (pg->access != MOME_ACC_NONE && (pg->flags & MOME_PG_DIRTY)) {
        mome_copy_protect(s, page);
        pg->flags &= (uint16_t)~(MOME_PG_DIRTY | MOME_PG_KEPT);
        if (!(pg->flags & MOME_PG_OWNER))
            acked_by_owner = send_diff(s, page, mome_clock_now(), (int)mgr);
        else if (mome_copy_release_apart(s, page) || mome_copy_forget_spec(s, page))
            announce_flushed(s, page, mgr);
    }
    if (!acked_by_owner)
        flush_ack(s->id, page, mgr, (uint32_t)mome_coh.self);
    if (pg->access == MOME_ACC_NONE)
        return;
    if (drop) {
        mome_copy_drop(s, page);
        MOME_STAT_INC(invalidations_received);
    } else {
        /* A master kept apart from a WEAK view: one page again, the master (copy.h; the view
         * changes here without being asked, as before such masters were kept apart). */
        mome_copy_join(s, page);
        /* The page turns single-writer: its master is just the latest content from now on, kept
         * as a reader by the contract the manager has on record. A request of this node in flight
         * may be leaving that contract (a switch to a stronger model asks for the new one, the
         * master mapped meanwhile): the copy then leaves the views until the answer, since the
         * writer the flush is for may change it before (and this node may hear nothing more). */
        mome_pext_t *x = mome_pext_find(pg, s->id, page);
        if (pg->flags & MOME_PG_BUSY) {
            mome_copy_unmap(s, page);
            pg->access = MOME_ACC_READ;
        } else {
            mome_copy_stop_writing(s, page);
        }
        pg->flags &= (uint16_t)~MOME_PG_WRITING;
        if (x) {
            x->push = 0;
            mome_pext_put(pg, x);
        }
    }
}

void mome_owner_flush(mome_seg_t *s, uint64_t page, uint32_t mgr, int drop)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (x && x->relpend) {
        /* Releases of this page are in flight: no diff may arrive after the flush. */
        x->has_flush = 1;
        x->flush_mgr = mgr;
        x->flush_drop = (uint32_t)drop;
        return;
    }
    do_flush(s, page, mgr, drop);
}

/* Merge one writer's diff into the master copy held here; returns the page's segment. */
static mome_seg_t *merge(const mome_entry_t *e, uint32_t origin)
{
    mome_seg_t *s = mome_seg_page(e->seg, e->page);
    mome_page_t *pg = s ? mome_seg_pg(s, e->page) : NULL;
    int rc = -ENOENT, full = !!(e->flags & MOME_DIFF_ENTRY_FULL);

    /*
     * Diffs always reach the node holding the master: a flush waits for every writer's diffs in
     * flight before the master moves. They may arrive after this node's own FLUSH ended its MULTI
     * ownership, so merge them whenever the copy is here.
     */
    if (pg && pg->access != MOME_ACC_NONE) {
        /* Under WEAK here, into a master kept apart from the view (copy.h). Else application
         * threads may be writing other bytes of the page unless its views are write-protected:
         * then the whole page can be XORed at once. */
        uint8_t *apart = mome_copy_split(s, e->page);
        if (apart)
            rc = mome_diff_apply(apart, mome_coh.page_size, e->data, e->len, full);
        else
            rc = (mome_copy_tracked_clean(pg) ? mome_diff_apply : mome_diff_apply_sparse)(
                mome_seg_bytes(s, e->page), mome_coh.page_size, e->data, e->len, full);
    }
    mome_pext_t *x = rc == 0 ? mome_pext_find(pg, s->id, e->page) : NULL;
    if (x && x->spec) /* a write-ahead copy: others' changes are not this node's writes */
        mome_diff_apply(x->spec, mome_coh.page_size, e->data, e->len, full);
    if (rc < 0) /* the writer dropped its twin: its changes would be lost */
        mome_fatal("diff from node %u for page %llu of segment '%s' (%#llx) cannot be merged "
                   "(%s): the change would be lost; stopping",
                   origin, (unsigned long long)e->page, mome_seg_name_of(e->seg),
                   (unsigned long long)e->seg,
                   rc == -ENOENT ? "this node holds no copy of the master" : "malformed runs");
    MOME_TR(MOME_TR_DIFF_MERGE, e->seg, e->page, (int)origin, e->len, full ? MOME_TRF_FULL : 0);
    pg->ver++;
    mome_ckpt_mark(s, e->page); /* the master changed: the next checkpoint writes it */
    return s;
}

/* This node owns the master copies: merge a writer's diffs, then announce the new versions. */
static void on_diff(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    mome_entry_t e;

    MOME_BATCH_FOREACH(MOME_BATCH_DIFF, m, e)
    {
        mome_seg_t *s = merge(&e, rel->origin);
        uint64_t seg = e.seg, page = e.page, ver = mome_seg_pg(s, page)->ver;
        /* A flushed diff is announced through the manager running the flush, like the owner's
         * own flushed writes (announce_flushed): copies it drops may still be mapped there. */
        int flushed = !!(m->flags & MOME_DIFF_FLUSH);
        if (flushed)
            flush_ack(seg, page, rel->mgr, rel->origin);
        add_notice(merge_notices, flushed ? (int)rel->mgr : mome_seg_manager(s, page), seg, page,
                   ver, rel->date, rel->origin);
    }
    send_batches(merge_notices, MOME_MSG_NOTICE, rel->date, rel->origin);
}

/*
 * One released page is known to every holder, the master having the change from version ver on:
 * end its release, run a flush that waited.
 *
 * Each honest entry acknowledges a notice or diff of its page that this node sent counting it in
 * the page's relpend, whatever became of the segment since: one for a page of a segment open here
 * that awaits nothing is a stray or repeated message (or names the wrong page). Counted, it ended
 * a release (or the wait for a flush's diffs) before the holders of the page actually released
 * knew, and that page kept its relpend for ever: its requests and FLUSH held, never to run. A
 * segment freed here forgot its pages' relpend with them: their acks come late (a flush's, whose
 * NOTICE_ACK a close does not wait for) and are counted only. A record is freed only by its
 * segment's destruction, which never comes to a served one in a job (its id, momed's, is the same
 * at each open): open here, a segment is the one whose pages the acks are for.
 */
static void released(const mome_msg_t *m, const mome_entry_t *e)
{
    mome_seg_t *s = mome_seg_find(e->seg);
    mome_page_t *pg = s && e->page < s->npages ? mome_seg_pg(s, e->page) : NULL;
    mome_pext_t *x = pg ? mome_pext_find(pg, s->id, e->page) : NULL;
    int mine = x && x->relpend;
    if (s && !mine)
        mome_fatal("node %u acknowledged the release of page %llu of segment '%s' (%#llx), of "
                   "which this node awaits no acknowledgement (%s): a stray or repeated message, "
                   "or the wrong page; stopping",
                   m->src, (unsigned long long)e->page, s->name, (unsigned long long)e->seg,
                   pg ? "none in flight" : "no such page");
    if (!x)
        return;
    int all = mine && --x->relpend == 0;
    if (all && x->has_flush) {
        uint32_t mgr = x->flush_mgr;
        int drop = (int)x->flush_drop;
        x->has_flush = 0;
        mome_pext_put(pg, x); /* do_flush may drop the page: x must not be used after */
        do_flush(s, e->page, mgr, drop);
    } else {
        mome_pext_put(pg, x);
    }
    if (mine && released_cb)
        released_cb(e->seg, e->page, e->ver, all); /* refreshes that wait for this node's diffs */
}

static void on_notice_ack(const mome_msg_t *m, const void *body)
{
    mome_entry_t e, first = {0};
    int n = 0;

    MOME_BATCH_FOREACH(MOME_BATCH_NOTICE, m, e)
    {
        if (!n)
            first = e;
        released(m, &e);
        n++;
    }
    if (acked_cb(n) < 0)
        /* Counted, it ended a release (or the wait for a flush's diffs) before the holders knew. */
        mome_fatal("node %u acknowledged %d released pages (the first page %llu of segment '%s' "
                   "(%#llx)), more than this node awaits: a stray or repeated message; stopping",
                   m->src, n, (unsigned long long)first.page, mome_seg_name_of(first.seg),
                   (unsigned long long)first.seg);
}

static void on_push_ack(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    mome_entry_t e, first = {0};
    int n = 0;

    MOME_BATCH_FOREACH(MOME_BATCH_NOTICE, m, e)
    {
        if (!n)
            first = e;
        n++;
        mome_seg_t *s = mome_seg_page(e.seg, e.page);
        if (e.ver || !s || m->src >= 64)
            continue;
        mome_page_t *pg = mome_seg_pg(s, e.page);
        mome_pext_t *x = mome_pext_find(pg, s->id, e.page);
        if (x) {
            x->push &= ~(1ull << m->src); /* no longer read there: stop pushing */
            mome_pext_put(pg, x);
        }
    }
    if (rel->token) {
        /* A barrier's pushes were counted by the reader, not awaited here; but the ack names
         * pushes of that barrier sent to its sender: the ack of an ordinary push, taken for a
         * barrier's, was never counted, and its release waited for ever. */
        bar_push_t **pp = &bar_pushes;
        while (*pp && ((*pp)->node != m->src || (*pp)->tag != rel->token))
            pp = &(*pp)->next;
        uint64_t out = *pp ? (*pp)->n : 0;
        if ((uint64_t)n > out)
            mome_fatal("node %u acknowledged %d pages pushed at barrier %llu (token %llu), of "
                       "which this node pushed it %llu (the first page %llu of segment '%s' "
                       "(%#llx)): the nodes disagree on a release; stopping",
                       m->src, n, (unsigned long long)rel->token - 1,
                       (unsigned long long)rel->token, (unsigned long long)out,
                       (unsigned long long)first.page, mome_seg_name_of(first.seg),
                       (unsigned long long)first.seg);
        if (*pp && ((*pp)->n -= (uint64_t)n) == 0) {
            bar_push_t *p = *pp;
            *pp = p->next;
            free(p);
        }
        return;
    }
    if ((uint32_t)n > push_out[m->src])
        /* Counted, it ended a release before its readers had its pushes (helper-115). */
        mome_fatal("node %u acknowledged %d pushed pages, %u of which this node pushed it: the "
                   "nodes disagree on a release; stopping",
                   m->src, n, push_out[m->src]);
    push_out[m->src] -= (uint32_t)n;
    if (acked_cb(n) < 0)
        mome_fatal("node %u acknowledged %d pushed pages, more than this node awaits: the "
                   "release accounting is inconsistent; stopping",
                   m->src, n);
}

/* ---- the message table ---- */

static const char *check_diff(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_rel_t *rel = body;
    if ((m->flags & MOME_DIFF_FLUSH) ? rel->mgr >= ctx->nnodes : rel->mgr != 0)
        return "mgr";
    return NULL;
}

static const mome_field_t diff_fields[] = {
    MOME_FIELD(mome_rel_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_rel_t, origin, MOME_FK_NODE, 0), MOME_FIELD(mome_rel_t, mgr, MOME_FK_RAW, 0)};

static const mome_field_t push_ack_fields[] = {MOME_FIELD(mome_rel_t, token, MOME_FK_RAW, 0)};

static const mome_msg_def_t owner_msgs[] = {
    {.type = MOME_MSG_DIFF,
     .wire = {"DIFF", diff_fields, 3, MOME_DIFF_FLUSH, MOME_BATCH_DIFF_HDR, MOME_LEN_BATCH,
              MOME_BATCH_DIFF},
     .body_size = sizeof(mome_rel_t),
     .validate = check_diff,
     .handler = on_diff},
    {.type = MOME_MSG_NOTICE_ACK,
     .wire = {"NOTICE_ACK", NULL, 0, 0, MOME_BATCH_NOTICE_SIZE, MOME_LEN_BATCH, MOME_BATCH_NOTICE},
     .handler = on_notice_ack},
    {.type = MOME_MSG_PUSH_ACK,
     .wire = {"PUSH_ACK", push_ack_fields, 1, 0, MOME_BATCH_NOTICE_SIZE, MOME_LEN_BATCH,
              MOME_BATCH_NOTICE},
     .body_size = sizeof(mome_rel_t),
     .handler = on_push_ack},
};

int mome_owner_init(mome_owner_acked_cb_t acked, mome_owner_expect_cb_t expect,
                    mome_owner_released_cb_t on_released, mome_owner_diff_cb_t on_diff_sent)
{
    size_t nn = (size_t)mome_coh.nnodes;
    acked_cb = acked;
    expect_cb = expect;
    released_cb = on_released;
    diff_cb = on_diff_sent;
    diffbuf = mome_malloc(mome_coh.page_size);
    rel_diffs = mome_calloc(nn, sizeof(*rel_diffs));
    rel_notices = mome_calloc(nn, sizeof(*rel_notices));
    rel_pushes = mome_calloc(nn, sizeof(*rel_pushes));
    merge_notices = mome_calloc(nn, sizeof(*merge_notices));
    push_out = mome_calloc(nn, sizeof(*push_out));
    if (!diffbuf || !rel_diffs || !rel_notices || !rel_pushes || !merge_notices || !push_out)
        return -ENOMEM;
    return mome_msg_register(owner_msgs, sizeof(owner_msgs) / sizeof(owner_msgs[0]));
}

void mome_owner_fini(void)
{
    for (int i = 0; rel_diffs && i < mome_coh.nnodes; i++) {
        mome_batch_free(&rel_diffs[i]);
        mome_batch_free(&rel_notices[i]);
        mome_batch_free(&rel_pushes[i]);
        mome_batch_free(&merge_notices[i]);
    }
    mome_batch_free(&bar_own);
    mome_batch_free(&bar_prev);
    bar_tag = 0;
    bar_fallback = bar_resend = prev_resend = extra_acks = 0;
    free(rel_diffs);
    free(rel_notices);
    free(rel_pushes);
    free(merge_notices);
    free(push_out);
    push_out = NULL;
    while (bar_pushes) {
        bar_push_t *p = bar_pushes;
        bar_pushes = p->next;
        free(p);
    }
    rel_diffs = rel_notices = rel_pushes = merge_notices = NULL;
    free(diffbuf);
    diffbuf = NULL;
}
