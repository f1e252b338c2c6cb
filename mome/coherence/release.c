/*
 * release.c - the release/acquire engine: releases with completion, acquires, MomeSyncMem and
 * switches between consistency models.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coherence/copy.h"
#include "coherence/model.h"
#include "coherence/owner.h"
#include "coherence/release.h"
#include "coherence/requester.h"
#include "memory/view.h"
#include "mome.h"

typedef struct rwait {
    mome_rel_cb_t cb;
    void *arg;
    struct rwait *next;
} rwait_t;

static int rel_running;             /* a release is in flight */
static int rel_pending;             /* its acknowledgements still awaited */
static mome_date_t rel_date;        /* its date */
static rwait_t *rel_cur, *rel_next; /* callers of the running release, of the next one */
static int flushes_out;             /* flushed diffs not acknowledged yet, while none runs */

/* An operation waiting for answers (an acquire, a MomeSyncMem, a model switch). */
typedef struct relop {
    mome_op_t op; /* first: the op is the relop */
    mome_date_t date;
    int model;
    char *a, *end; /* MomeSyncMem, MomeConsistency: the range */
    mome_rel_cb_t cb;
    void *arg;
    struct relop *prev, *next; /* live operations (freed at teardown if still waiting) */
} relop_t;

static relop_t *relops;

static relop_t *relop_new(mome_date_t d, mome_rel_cb_t cb, void *arg)
{
    relop_t *op = mome_calloc(1, sizeof(*op));
    if (!op)
        mome_fatal("out of memory for a synchronisation operation; stopping");
    op->date = d;
    op->cb = cb;
    op->arg = arg;
    op->next = relops;
    if (relops)
        relops->prev = op;
    relops = op;
    return op;
}

static void relop_free(relop_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        relops = op->next;
    if (op->next)
        op->next->prev = op->prev;
    free(op);
}

/* The op's requests are all answered: tell the caller. */
static void relop_done(mome_op_t *o)
{
    relop_t *op = (relop_t *)o;
    op->cb(op->arg, op->date);
    relop_free(op);
}

static void free_waiters(rwait_t *w)
{
    while (w) {
        rwait_t *n = w->next;
        free(w);
        w = n;
    }
}

/* ---- release ---- */

static void start_release(uint64_t tag);

static void finish_release(void)
{
    rwait_t *w = rel_cur;
    mome_date_t d = rel_date;

    rel_cur = NULL;
    rel_running = 0;
    if (rel_next) {
        /* Callers that came meanwhile get a release of their own (their writes may be newer). */
        rel_cur = rel_next;
        rel_next = NULL;
        start_release(0);
    }
    while (w) {
        rwait_t *n = w->next;
        w->cb(w->arg, d);
        free(w);
        w = n;
    }
}

static int by_seg_page(const void *a, const void *b)
{
    const mome_pref_t *x = a, *y = b;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    return x->page < y->page ? -1 : x->page > y->page;
}

/* Is the page released with write-protection (mome_owner_release_page)? Not one kept open
 * (mome_copy_keeps_open): it is marked MOME_PG_KEPT and released from a snapshot (owner.c). */
static mome_seg_t *to_protect(const mome_pref_t *r)
{
    mome_seg_t *s = mome_seg_page(r->seg, r->page);
    if (!s)
        return NULL;
    mome_page_t *pg = mome_seg_pg(s, r->page);
    if (mome_copy_keeps_open(s, r->page)) {
        pg->flags |= MOME_PG_KEPT;
        return NULL;
    }
    pg->flags &= (uint16_t)~MOME_PG_KEPT;
    return (pg->flags & MOME_PG_DIRTY) && pg->access != MOME_ACC_NONE ? s : NULL;
}

/*
 * Write-protect the pages about to be released, so that writes from now on start the next
 * interval: in page order, each run of consecutive pages at once (one TLB flush per run where a
 * page at a time costs one each, 40 us on a paravirtualized guest).
 */
static void protect_dirty(mome_plist_t *dirty)
{
    size_t i, j;
    for (i = 1; i < dirty->n && by_seg_page(&dirty->v[i - 1], &dirty->v[i]) < 0; i++)
        ;
    if (i < dirty->n)
        qsort(dirty->v, dirty->n, sizeof(dirty->v[0]), by_seg_page);
    for (i = 0; i < dirty->n; i = j) {
        mome_seg_t *s = to_protect(&dirty->v[i]);
        for (j = i + 1; s && j < dirty->n && dirty->v[j].seg == dirty->v[i].seg &&
                        dirty->v[j].page == dirty->v[j - 1].page + 1 && to_protect(&dirty->v[j]);
             j++)
            ;
        if (s)
            mome_copy_protect_run(s, dirty->v[i].page, (uint64_t)(j - i));
    }
}

/* tag: 0, or a MomeBarrier's (its epoch + 1) when the barrier is the release's only caller. */
static void start_release(uint64_t tag)
{
    mome_plist_t *dirty = mome_copy_dirty();

    rel_running = 1;
    /* This node's flushed changes still on their way to their owners are part of what it
     * releases: the release ends once the owners have them. */
    rel_pending = flushes_out;
    flushes_out = 0;
    rel_date = mome_clock_tick();
    rel_pending += mome_owner_release_begin(tag, rel_date);
    protect_dirty(dirty);
    size_t kept = 0;
    for (size_t i = 0; i < dirty->n; i++) {
        mome_seg_t *s = mome_seg_page(dirty->v[i].seg, dirty->v[i].page);
        if (!s)
            continue; /* the segment went away */
        mome_page_t *pg = mome_seg_pg(s, dirty->v[i].page);
        mome_pext_t *x = mome_pext_find(pg, s->id, dirty->v[i].page);
        pg->flags &= (uint16_t)~MOME_PG_LISTED;
        if (x && x->merging) {
            /* Its twin must outlive the refresh that merges this node's writes into fresh
             * content (and its diff, sent now, might or might not be in that content): released
             * once the content is in (rel_merged), this release waiting for it. */
            x->late = 1;
            rel_pending++;
        } else {
            rel_pending += mome_owner_release_page(s, dirty->v[i].page, rel_date);
        }
        if ((pg->flags & MOME_PG_DIRTY) && pg->access != MOME_ACC_NONE) {
            pg->flags |= MOME_PG_LISTED; /* kept open: part of the next release */
            dirty->v[kept++] = dirty->v[i];
        }
    }
    dirty->n = kept;
    rel_pending += mome_owner_release_send(rel_date);
    if (rel_pending > 0)
        mome_coh.outstanding++;
    else
        finish_release();
}

/*
 * Pages acknowledged (NOTICE_ACK and PUSH_ACK entries, a late page with nothing to send): those of
 * the running release, else of the flushes sent since the last one (start_release takes those
 * over, so every acknowledgement in flight is counted in the one it reaches). Returns -1, counting
 * nothing, when more come than are awaited: each counted message is acknowledged once, to its
 * origin, even for a segment destroyed meanwhile (directory.c on_notice), so this is a stray or
 * repeated message, which counted would end a release before its pages are known.
 */
static int acked(int pages)
{
    int *left = rel_running ? &rel_pending : &flushes_out;
    if (pages > *left)
        return -1;
    *left -= pages;
    if (rel_running && pages && !*left) {
        mome_coh.outstanding--;
        finish_release();
    }
    return 0;
}

/* A refresh keeping this node's writes of the page merged them into fresh content; a release
 * that waited for it (the page's pext ->late) releases the page now. */
static void rel_merged(mome_seg_t *s, uint64_t page)
{
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    if (!x || !x->late)
        return;
    x->late = 0;
    /* Nothing written since the merge (the views are still write-protected): page XOR twin is
     * this node's own writes, on top of content that has every earlier change. */
    int n = mome_owner_release_page(s, page, rel_date);
    n += mome_owner_release_send(rel_date);
    /* The release counted one for the page: it awaits what was sent for it instead. */
    rel_pending += n;
    if (!rel_running || acked(1) < 0)
        mome_fatal("page %llu of segment '%s' (%#llx) was merged for a release that no longer "
                   "waits for it: the release accounting is inconsistent; stopping",
                   (unsigned long long)page, s->name, (unsigned long long)s->id);
}

/* A flush sent a diff: its acknowledgement belongs to the running release, else to the next. */
static void flush_sent(void)
{
    if (rel_running)
        rel_pending++;
    else
        flushes_out++;
}

void mome_rel_release(mome_rel_cb_t cb, void *arg)
{
    rwait_t *w = mome_calloc(1, sizeof(*w));
    if (!w)
        mome_fatal("out of memory for a release; stopping");
    w->cb = cb;
    w->arg = arg;
    if (rel_running) {
        w->next = rel_next;
        rel_next = w;
        return;
    }
    w->next = rel_cur;
    rel_cur = w;
    start_release(0);
}

void mome_rel_release_barrier(uint64_t tag, mome_rel_cb_t cb, void *arg)
{
    if (rel_running || rel_next || !tag) {
        /* Shared with other callers: their writes must be known before they go on. */
        mome_rel_release(cb, arg);
        return;
    }
    rwait_t *w = mome_calloc(1, sizeof(*w));
    if (!w)
        mome_fatal("out of memory for a release; stopping");
    w->cb = cb;
    w->arg = arg;
    rel_cur = w;
    start_release(tag);
}

const void *mome_rel_barrier_notices(uint32_t *len)
{
    return mome_owner_barrier_notices(len);
}

uint32_t mome_rel_barrier_cap(uint32_t nnodes)
{
    return mome_owner_barrier_cap(nnodes);
}

/* ---- a barrier's pushes: counted by their readers ---- */

/* Entries of pushes received for a barrier whose acquire has not consumed them yet. */
typedef struct pushin {
    uint64_t tag, n;
    struct pushin *next;
} pushin_t;

/* An acquire at a barrier's exit waiting for the pushes announced with it. */
typedef struct barwait {
    uint64_t tag, want;
    mome_date_t date;
    mome_rel_cb_t cb;
    void *arg;
    struct barwait *next;
} barwait_t;

static pushin_t *pushins;
static barwait_t *barwaits;
static uint64_t push_done; /* the latest barrier tag whose pushes were all in */

static pushin_t **pushin_find(uint64_t tag)
{
    pushin_t **p = &pushins;
    while (*p && (*p)->tag != tag)
        p = &(*p)->next;
    return p;
}

/* Run the acquires whose pushes are all in. */
static void barwaits_check(void)
{
    for (barwait_t **w = &barwaits; *w;) {
        pushin_t **p = pushin_find((*w)->tag);
        if ((*w)->want && (!*p || (*p)->n < (*w)->want)) {
            w = &(*w)->next;
            continue;
        }
        barwait_t *done = *w;
        *w = done->next;
        if (*p) {
            pushin_t *q = *p;
            *p = q->next;
            free(q);
        }
        if (done->tag > push_done)
            push_done = done->tag;
        mome_coh.outstanding--;
        mome_rel_acquire(done->date, done->cb, done->arg);
        free(done);
        w = &barwaits; /* the list may have changed */
    }
}

static int barwait_pending(uint64_t tag)
{
    for (const barwait_t *w = barwaits; w; w = w->next)
        if (w->tag == tag)
            return 1;
    return 0;
}

void mome_rel_pushed(uint32_t src, uint64_t tag, uint32_t n)
{
    /* One of a release that outgrew its barrier's messages: nobody waits for it. Unless an older
     * barrier's acquire still does (another thread's next barrier, whose exit overtook this push,
     * completed first and moved push_done past it: helper-88). */
    if (tag <= push_done && !barwait_pending(tag))
        return;
    if (tag > push_done + 64)
        mome_fatal("node %u pushed pages for barrier %llu while this node is at barrier %llu: "
                   "the nodes disagree on the barriers; stopping",
                   src, (unsigned long long)tag - 1, (unsigned long long)push_done);
    pushin_t **p = pushin_find(tag);
    if (!*p) {
        *p = mome_calloc(1, sizeof(**p));
        if (!*p)
            mome_fatal("out of memory counting pages pushed by node %u; stopping", src);
        (*p)->tag = tag;
    }
    (*p)->n += n;
    barwaits_check();
}

void mome_rel_barrier_acquire(uint64_t tag, mome_date_t d, const void *notices, uint32_t len,
                              mome_rel_cb_t cb, void *arg)
{
    mome_msg_t m = {.payload = notices, .len = len};
    mome_entry_t e;
    uint64_t want = 0;

    mome_coh.acquires++;
    /* This node's own notices: every node has them now. */
    mome_owner_barrier_done();
    /* Everyone's: as the managers' STALE would have said, to every copy that takes notices. */
    MOME_BATCH_FOREACH(MOME_BATCH_BNOTICE, &m, e)
    {
        /* Released before some node entered: a notice not before the exit would stay pending
         * past this acquire (mome_rel_acquire takes those dated <= d), its page read stale. */
        if (e.date >= d)
            mome_fatal("barrier %llu ended at date %llu with a write notice of page %llu of "
                       "segment '%s' (%#llx) dated %llu, not before it: the exit's notices "
                       "would be missed; stopping",
                       (unsigned long long)tag - 1, (unsigned long long)d,
                       (unsigned long long)e.page, mome_seg_name_of(e.seg),
                       (unsigned long long)e.seg, (unsigned long long)e.date);
        if (mome_coh.self < 64 && (e.push >> mome_coh.self & 1))
            want++;
        mome_seg_t *s = mome_seg_page(e.seg, e.page);
        if (s && mome_model_of_id(mome_seg_pg(s, e.page)->model)->notified)
            mome_copy_note_stale(s, e.page, e.date, e.ver);
    }
    barwait_t *w = mome_calloc(1, sizeof(*w));
    if (!w)
        mome_fatal("out of memory for a barrier; stopping");
    *w = (barwait_t){.tag = tag, .want = want, .date = d, .cb = cb, .arg = arg, .next = barwaits};
    barwaits = w;
    mome_coh.outstanding++;
    /* Pushes sent before their owners entered the barrier replace copies the notices just called
     * stale: wait for them rather than fetch those pages again. */
    barwaits_check();
}

int mome_rel_busy(void)
{
    return rel_running || rel_next;
}

/* ---- acquire ---- */

static mome_pext_t *stale_of(const mome_pref_t *r, mome_seg_t **sp)
{
    mome_seg_t *s = mome_seg_page(r->seg, r->page);
    *sp = s;
    if (!s)
        return NULL;
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, r->page), s->id, r->page);
    return x && x->stale_date ? x : NULL;
}

/* Is a page of s mapped in [lo, hi) by one of its views? */
static int in_range(mome_seg_t *s, uint64_t page, const char *lo, const char *hi)
{
    MOME_SEG_FOREACH_MAP(s, page, v, a)
    if (a >= lo && a < hi)
        return 1;
    return 0;
}

/*
 * Give the copies whose pending notice is dated <= d to their models (pages in [lo, hi) only when
 * hi > lo: a MomeSyncMem range). Copies not due yet, busy, or that their model keeps, stay listed.
 * A busy page's transaction may bring content older than the notice (a read-ahead asked before
 * the release it lacks was known here): under a model that takes notices, the notice is marked
 * due, and the transaction's end drops that content instead of mapping it (requester.c).
 */
static void apply_stale(mome_date_t d, const char *lo, const char *hi, const mome_seg_t *only,
                        mome_op_t *op)
{
    mome_plist_t *stale = mome_copy_stale();
    size_t keep = 0;
    for (size_t i = 0; i < stale->n; i++) {
        mome_seg_t *s;
        mome_pref_t r = stale->v[i];
        mome_pext_t *x = stale_of(&r, &s);
        if (!x)
            continue;
        mome_page_t *pg = mome_seg_pg(s, r.page);
        const mome_model_t *m = mome_model_of_id(pg->model);
        /* A segment this node closed: a refresh or drop sent now could reach a node that has
         * destroyed it (its last close, after an unlink), which stopped the job ("forwarded a
         * FWD_SNAP ... which this node does not hold": helper-91). Nobody reads it here. */
        if (x->stale_date > d || (hi > lo && !in_range(s, r.page, lo, hi)) ||
            (only ? s != only : s->closed)) {
            stale->v[keep++] = r;
        } else if (pg->flags & MOME_PG_BUSY) {
            if (m->notified)
                mome_copy_stale_passed(s, r.page);
            stale->v[keep++] = r;
        } else if (m->acquire(s, r.page, op) || stale_of(&r, &s)) {
            /* Kept by its model, or its notice outlives the acquire (a refresh keeping writes is
             * in flight, and a newer notice may come before it lands): listed while a notice is
             * pending, which mome_copy_note_stale relies on (it lists a page only for a first
             * notice; unlisted, a later notice was applied by no acquire). */
            stale->v[keep++] = r;
        }
    }
    stale->n = keep;
}

/* Would applying notices up to d drop a copy that has unreleased writes? */
static int stale_dirty(mome_date_t d)
{
    mome_plist_t *stale = mome_copy_stale();
    for (size_t i = 0; i < stale->n; i++) {
        mome_seg_t *s;
        mome_pext_t *x = stale_of(&stale->v[i], &s);
        if (x && x->stale_date <= d && (mome_seg_pg(s, stale->v[i].page)->flags & MOME_PG_DIRTY))
            return 1;
    }
    return 0;
}

/*
 * Is a WEAK twinning writer's page open for writing? Its twin predates this acquire, so it may
 * lack a release the acquire orders before the node's next writes, which would then go unnoticed
 * onto it: released first, the page faults at its next write, which asks for the master's
 * content (requester.c, weak_stale). (A lock taken while the page was open: the word both nodes
 * wrote read old ^ new ^ theirs; helper-130.)
 */
static int weak_dirty(void)
{
    mome_plist_t *dirty = mome_copy_dirty();
    for (size_t i = 0; i < dirty->n; i++) {
        mome_seg_t *s = mome_seg_page(dirty->v[i].seg, dirty->v[i].page);
        const mome_page_t *pg = s ? mome_seg_pg(s, dirty->v[i].page) : NULL;
        /* (So is a view whose master is kept apart: copy.h.) */
        if (pg && (pg->flags & MOME_PG_DIRTY) && pg->access != MOME_ACC_NONE &&
            (mome_copy_weak_twin(pg) || mome_copy_apart(s, dirty->v[i].page)))
            return 1;
    }
    return 0;
}

/* Deal with the stale copies; the acquire ends when the refreshed ones are in. */
static void acquire_apply(void *arg, mome_date_t date)
{
    relop_t *op = arg;
    mome_op_begin(&op->op, relop_done);
    apply_stale(op->date, NULL, NULL, NULL, &op->op);
    mome_op_end(&op->op);
}

/*
 * An acquire also waits for this node's changes still on their way (another thread's release
 * running, a flush's diff not acknowledged): a FLUSH that must drop a copy waits for them
 * (owner.c, mome_owner_flush), and until it has, the copy stays mapped although its manager
 * counts it gone and tells it of no later change. Acquired meanwhile, it was read stale after a
 * lock whose previous holder wrote the page (lost increments: three nodes, STRONG and RELEASE on
 * one page, several threads each; helper-113).
 */
void mome_rel_acquire(mome_date_t d, mome_rel_cb_t cb, void *arg)
{
    relop_t *op = relop_new(d, cb, arg);
    mome_coh.acquires++;
    if (rel_running || flushes_out || stale_dirty(d) || weak_dirty()) {
        /* Merging first keeps this node's own writes: they reach the master before the drop. */
        mome_rel_release(acquire_apply, op);
        return;
    }
    acquire_apply(op, d);
}

/* ---- MomeSyncMem and MomeConsistency ---- */

/* Visit every Mome page of [a, end), which lies wholly in views. */
#define FOR_EACH_PAGE(_a, _end, _s, _page)                                                         \
    for (char *_p = (_a); _p < (_end); _p += mome_coh.page_size)                                  \
        for (mome_view_t *_v = mome_view_find(_p); _v; _v = NULL)                                 \
            for (mome_seg_t *_s = _v->seg; _s; _s = NULL)                                        \
                for (uint64_t _page = mome_view_page_of(_v, _p, mome_coh.page_shift), _once = 1;  \
                     _once; _once = 0)

static void sync_after_release(void *arg, mome_date_t date)
{
    relop_t *op = arg;

    mome_op_begin(&op->op, relop_done);
    apply_stale(op->date, op->a, op->end, NULL, &op->op);
    FOR_EACH_PAGE(op->a, op->end, s, page)
    {
        mome_page_t *pg = mome_seg_pg(s, page);
        /* (A page without a copy may have a request in flight, which the model may not trust.)
         * A master kept apart from a WEAK view is here: the view takes its content. */
        if (mome_copy_apart(s, page))
            mome_copy_join(s, page);
        else if (!(pg->flags & MOME_PG_OWNER) &&
                 (pg->access != MOME_ACC_NONE || (pg->flags & MOME_PG_BUSY)))
            mome_model_of_id(pg->model)->sync(s, page, &op->op);
    }
    mome_op_end(&op->op);
}

void mome_rel_sync(char *a, char *end, mome_date_t d, mome_rel_cb_t cb, void *arg)
{
    relop_t *op = relop_new(d, cb, arg);
    op->a = a;
    op->end = end;
    /* This node's own writes first: a refreshed copy then includes them. */
    mome_rel_release(sync_after_release, op);
}

/* The page's model becomes `model` here; the content of a request out for it is fetched again. */
static void set_model(mome_seg_t *s, uint64_t page, const mome_model_t *model)
{
    if (mome_page_model(mome_seg_pg(s, page)) != model->id)
        mome_req_switched(s, page);
    mome_seg_pg(s, page)->model = (uint8_t)model->id;
}

/*
 * A switch of a held page the directory must hear of: to a stronger model (the copy may be stale
 * under the new contract: enter renews it), or to one whose copies are kept where the old one's
 * were taken back (to WEAK: recorded under the old contract, the copy was still invalidated by
 * another node's STRONG write, although a WEAK copy changes only when its node asks; helper-88).
 */
static int must_enter(const mome_model_t *from, const mome_model_t *to)
{
    return to->strength > from->strength || (from->invalidated && !to->invalidated);
}

static void switch_after_release(void *arg, mome_date_t date)
{
    relop_t *op = arg;
    const mome_model_t *to = mome_model_get(op->model);

    mome_op_begin(&op->op, relop_done);
    FOR_EACH_PAGE(op->a, op->end, s, page)
    {
        mome_page_t *pg = mome_seg_pg(s, page);
        const mome_model_t *from = mome_model_of_id(pg->model);
        set_model(s, page, to);
        if (must_enter(from, to) && pg->access != MOME_ACC_NONE) {
            /* A master kept apart from the WEAK view: one copy again, current (copy.h). */
            mome_copy_join(s, page);
            /* A request in flight (a write fault's upgrade, a read-ahead) is asked again under
             * the new model when it lands (txn_try_complete). Meanwhile the copy it came from,
             * fetched under the weaker contract, leaves the views, so that a reader waits for the
             * request (kept mapped through a switch to STRONG, a WEAK copy was read by the next
             * lock holder one increment short: helper-50's audit); but it is neither dropped nor
             * renewed, since the request vouched for it (REQ_COPY): dropped, a grant trusting it
             * brought its stale bytes back, and a MomeSyncMem meanwhile, finding no copy, asked
             * nothing (a switch to STRONG and back to WEAK before the answer). */
            if (pg->flags & MOME_PG_BUSY) {
                if (to->strength > from->strength)
                    mome_copy_unmap(s, page);
                continue;
            }
            to->enter(s, page, &op->op);
        }
    }
    mome_op_end(&op->op);
}

void mome_rel_switch(char *a, char *end, int model, mome_rel_cb_t cb, void *arg)
{
    const mome_model_t *to = mome_model_get(model);
    int enter = 0;

    FOR_EACH_PAGE(a, end, s, page)
    {
        mome_page_t *pg = mome_seg_pg(s, page);
        const mome_model_t *from = mome_model_of_id(pg->model);
        if (must_enter(from, to) && pg->access != MOME_ACC_NONE)
            enter = 1;
        else if (to->strength <= from->strength)
            set_model(s, page, to);
    }
    if (!enter) {
        FOR_EACH_PAGE(a, end, s, page) set_model(s, page, to);
        cb(arg, 0);
        return;
    }
    relop_t *op = relop_new(0, cb, arg);
    op->a = a;
    op->end = end;
    op->model = model;
    /* This node's view current first (own writes out, stale copies dropped), to WEAK too: without
     * the release, a READ under WEAK could be answered with a snapshot lacking this node's own
     * release still in flight, installed over its copy (mix_threads mode 16 lost an increment in
     * 3 jobs of about 110 under load; with the release, 0 of 240). */
    mome_rel_release(switch_after_release, op);
}

/* ---- a segment this node closes, and opens again ---- */

int mome_rel_seg_unreleased(const mome_seg_t *s)
{
    const mome_plist_t *dirty = mome_copy_dirty();
    if (rel_running || rel_next)
        return 1;
    for (size_t i = 0; i < dirty->n; i++)
        if (dirty->v[i].seg == s->id)
            return 1;
    return 0;
}

/* Open again: every notice its copies took while closed is applied, due or not (a copy fetched
 * afresh is newer, never older, than the contract needs). */
void mome_rel_seg_reopened(mome_seg_t *s)
{
    s->closed = 0;
    apply_stale(UINT64_MAX, NULL, NULL, s, NULL);
}

/* ---- setup ---- */

int mome_rel_init(void)
{
    rel_running = rel_pending = flushes_out = 0;
    push_done = 0;
    rel_cur = rel_next = NULL;
    mome_req_set_merged(rel_merged);
    return mome_owner_init(acked, flush_sent, mome_req_released, mome_req_diff_sent);
}

void mome_rel_fini(void)
{
    free_waiters(rel_cur);
    free_waiters(rel_next);
    rel_cur = rel_next = NULL;
    while (relops) /* the node stops with operations waiting: their callers are gone too */
        relop_free(relops);
    while (pushins) {
        pushin_t *p = pushins;
        pushins = p->next;
        free(p);
    }
    while (barwaits) {
        barwait_t *w = barwaits;
        barwaits = w->next;
        free(w);
    }
    mome_owner_fini();
}
