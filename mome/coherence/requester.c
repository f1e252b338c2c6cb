/*
 * requester.c - the requesting side: faults, transactions, installing granted pages, read-ahead
 * and write-ahead, refreshes and WEAK syncs.
 *
 * A fault the local state satisfies is mapped at once (a tracked clean page's first write opens
 * it: copy.c). Otherwise the fault waits on the page's transaction: one request to the manager,
 * whose grant (GRANT, or DATA carrying it) and invalidation acks complete it; the content is
 * installed atomically in the first waiter's view when possible.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "coherence/ckptflag.h"
#include "coherence/copy.h"
#include "coherence/diff.h"
#include "coherence/model.h"
#include "coherence/proto.h"
#include "coherence/requester.h"
#include "coherence/served.h"
#include "memory/view.h"
#include "mome.h"

static uint8_t *zero_page; /* one page of zeros */
static uint8_t *load_buf;  /* a page the store loads for a zero grant */
static void (*merged_hook)(mome_seg_t *s, uint64_t page); /* release.c's rel_merged */

void mome_req_set_merged(void (*hook)(mome_seg_t *s, uint64_t page))
{
    merged_hook = hook;
}

/*
 * Refreshes of WEAK copies in flight, by page. A MomeSyncMem that comes while one is in flight is
 * not served by it: that request may have reached the owner before a release this caller's
 * acquire passed (a lock-protected counter was read one increment short, and the increment made
 * from it undid another node's). It waits for the next request, sent once this one is answered,
 * which serves every caller that came meanwhile.
 */
typedef struct syncop {
    struct syncop *next;
    mome_op_t *op;
} syncop_t;
typedef struct syncdiff {
    struct syncdiff *next;
    uint32_t len, flags;
    uint8_t data[];
} syncdiff_t;
typedef struct syncwait {
    mome_hnode_t h;      /* k1 = segment id, k2 = page */
    syncop_t *ops;       /* served by the request in flight */
    syncop_t *after;     /* served by the next one */
    syncdiff_t *diffs;   /* this node's diffs of the page released since it left */
    uint32_t ndiffs;     /* how many */
    uint32_t nacks;      /* acknowledgements of them so far, */
    uint64_t vmin, vmax; /* the versions of their merges, as these reported */
    uint8_t *held;       /* its answer, waiting for those acknowledgements, or NULL */
    uint64_t held_ver;   /* the answer's version */
    uint32_t held_src;   /* the node that sent it */
    uint64_t acquires;   /* mome_coh.acquires when the request left */
} syncwait_t;
static mome_htab_t syncs;

/*
 * A MomeSyncMem of a page waits, before it asks the owner (SYNC_REQ), for this node's released
 * diffs of the page to reach it (after_release: SYNC_DATA could come without them, as request()
 * holds a request for content then; run from mome_req_released), or for the page's request in
 * flight to complete (after_txn: its answer may predate the caller's date; run from
 * txn_try_complete).
 */
typedef struct deferred {
    uint64_t seg, page;
    mome_op_t *op;
    struct deferred *next;
} deferred_t;
static deferred_t *after_release, *after_txn;
static void sync_send(syncwait_t *w, mome_seg_t *s, uint64_t page, int waited);
static void sync_start(mome_seg_t *s, uint64_t page, mome_op_t *op, syncwait_t **fresh);
static void resume_syncs(deferred_t **list, uint64_t seg, uint64_t page);
static int sync_later(mome_seg_t *s, uint64_t page, mome_op_t *op);
static void syncops_put(syncop_t *o);
static void syncops_end(syncop_t *o, int put);

static void fault_done(uint64_t t0)
{
    MOME_STAT_ADD(fault_ns, mome_now_ns() - t0);
}

/* Internal to request(): ask for fresh content even though this node holds a copy. */
#define REQ_CONTENT 0x100

static void refresh_keeping_writes(mome_seg_t *s, uint64_t page, mome_op_t *op);

/* A copy with writes not released yet (twinned): content for it is merged, never installed. */
static int unreleased(const mome_page_t *pg, const mome_pext_t *x)
{
    return (pg->flags & MOME_PG_DIRTY) && x && x->twin;
}

static void send_request(mome_txn_t *t, uint32_t flags)
{
    mome_seg_t *s = t->seg;
    t->acquires = mome_coh.acquires;
    mome_req_t r = {
        .seg = s->id, .page = t->page, .node = (uint32_t)mome_coh.self, .model = t->model};
    MOME_TR(MOME_TR_REQUEST, s->id, t->page, mome_seg_manager(s, t->page), 0,
            (t->kind == MOME_TXN_WRITE ? MOME_TRF_WRITE : 0) |
                (flags & MOME_REQ_AHEAD ? MOME_TRF_AHEAD : 0));
    mome_send(mome_seg_manager(s, t->page),
              t->kind == MOME_TXN_WRITE ? MOME_MSG_WRITE_REQ : MOME_MSG_READ_REQ, flags, &r, NULL,
              0);
}

/* Start a transaction for page, with the given waiters (and an operation to tell when done). */
static mome_txn_t *request(mome_seg_t *s, uint64_t page, int kind, int model,
                           mome_waiter_t *waiters, mome_op_t *op, int flags)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_txn_t *t = mome_txn_new(s, s->id, page, kind);
    if (!t)
        mome_fatal("out of memory for a request for page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    t->waiters = waiters;
    t->op = op;
    t->model = (uint8_t)model;
    pg->flags |= MOME_PG_BUSY;
    if (pg->access != MOME_ACC_NONE && !(flags & REQ_CONTENT))
        flags |= MOME_REQ_COPY;
    if (kind == MOME_TXN_READ && mome_store_budget_pages())
        flags |= MOME_REQ_NOPUSH; /* pushed pages would only crowd the budget */
    flags &= ~REQ_CONTENT;
    mome_coh.outstanding++;
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);
    /* (A write under a model without notices gets the master's content even with a copy: the
     * directory does not take a copy kept under such a model for a twin.) */
    int content =
        !(flags & MOME_REQ_COPY) || (kind == MOME_TXN_WRITE && !mome_model_of_id(model)->notified);
    if (x && x->relpend && content) {
        /*
         * Content would come, and this node's released diffs of the page are still on their way
         * to its owner: it could come without them, and installing it would lose this node's
         * released writes here (and the node's next diff, computed against it, would undo them
         * at the owner: XOR). Asked once they are merged (mome_req_released); the page is busy
         * meanwhile, so faults wait for this transaction as for any other.
         */
        t->held = 1;
        t->held_flags = (uint32_t)flags;
        return t;
    }
    send_request(t, (uint32_t)flags);
    /*
     * The page gets its memory when its content comes, from install(): one UFFDIO_COPY
     * allocates, copies and maps it (2.5 us on a paravirtualized guest), where giving it memory
     * now (MADV_POPULATE_WRITE) then copying through the runtime view's new entry and mapping
     * costs 3 + 5 + 1.6 us (design.md, section 17).
     */
    return t;
}

/*
 * A fault went to the directory: ask at once, in parallel, for the next pages of the same view
 * at distance `stride` that this node lacks, and map them when they come. Stops at the first page
 * held, being fetched, or outside the view. Returns how many it asked for.
 * - A read fault reads ahead (MOME_TXN_READ): sequential reads then mostly find their pages here.
 * - A write fault right after the page before it was opened for writing here (a sequential run;
 *   writes spread over a segment open nothing ahead) asks to write them (MOME_TXN_WRITE),
 *   stopping also at a page of another model: a loop writing an array this node does not hold
 *   then takes one fault per MOME_PREFETCH + 1 pages. The directory grants such a write only where
 *   it takes nothing from anyone (directory.c, write_ahead_ok); elsewhere a RELEASE or WEAK one
 *   gets a read copy, and a STRONG one is declined (declined()). A page opened but not written
 *   sends nothing at the release. Not with a page budget (the twins would crowd it).
 */
static uint64_t ask_ahead(mome_seg_t *s, const mome_view_t *v, uint64_t page, uint64_t stride,
                          int kind, uint64_t max)
{
    if (mome_seg_is_served(s->id))
        return 0; /* each page of a served segment is fetched from momed, for writing */
    if (kind == MOME_TXN_WRITE && mome_store_budget_pages())
        return 0;
    /*
     * In a persistent segment the pages asked ahead may be read from the repository's files:
     * only a fault that continues a run (the page a stride before is here) reads ahead, as the
     * kernel's read-ahead starts, so that touching scattered pages reads those pages alone.
     */
    uint64_t first = v->off >> mome_coh.page_shift, last = (v->off + v->len) >> mome_coh.page_shift;
    if (mome_store_persistent(s->store) &&
        (page - first < stride || mome_seg_pg(s, page - stride)->access == MOME_ACC_NONE))
        return 0;
    uint64_t n = 0;
    int model = mome_page_model(mome_seg_pg(s, page));
    for (uint64_t p = page + stride; n < max && p < last; p += stride, n++) {
        mome_page_t *pg = mome_seg_pg(s, p);
        if (pg->access != MOME_ACC_NONE || (pg->flags & MOME_PG_BUSY) ||
            (kind == MOME_TXN_WRITE && mome_page_model(pg) != model))
            break;
        request(s, p, kind, mome_page_model(pg), NULL, NULL, MOME_REQ_AHEAD);
        mome_txn_t *t = mome_txn_find(s->id, p);
        t->ahead = 1;
        mome_txn_unawaited(t);
        MOME_STAT_INC(pages_prefetched);
    }
    return n;
}

/* Pages this node reads or writes for itself may lie MOME_STRIDE_MAX apart at most and still be a
 * run (a cyclic distribution over up to that many nodes, a column of a small matrix). */
#define MOME_STRIDE_MAX 16

/*
 * A fault went to the directory and nothing was asked ahead at distance 1 (the page after is held,
 * or a write does not follow a write): if it continues a run of faults at a fixed distance of 2
 * to MOME_STRIDE_MAX pages (the run read ahead last time, or the fault before this one), ask for
 * the next pages of the run. A write asks to write ahead only when the page one stride before
 * was written here, as at distance 1. A strided loop over pages this node lacks (each node's
 * share of a cyclic distribution, the other nodes' pages of an array) then takes one fault per
 * MOME_PREFETCH + 1 pages, as a sequential one does.
 */
static void ask_ahead_strided(mome_seg_t *s, const mome_view_t *v, uint64_t page, int kind)
{
    uint64_t d = 0, prev = s->fault_last - 1;
    if (s->run_stride && page == s->run_next)
        d = s->run_stride;
    else if (s->fault_last && page > prev && page - prev >= 2 && page - prev <= MOME_STRIDE_MAX)
        d = page - prev;
    s->run_stride = 0;
    if (!d || page - (v->off >> mome_coh.page_shift) < d)
        return;
    if (kind == MOME_TXN_WRITE && mome_seg_pg(s, page - d)->access != MOME_ACC_WRITE)
        return;
    s->run_stride = d;
    s->run_next = page + d * (ask_ahead(s, v, page, d, kind, mome_coh.prefetch) + 1);
}

/* The largest read-ahead window, in windows of MOME_PREFETCH + 1 pages (faulting page included),
 * and in pages (unless MOME_PREFETCH itself asks more). */
#define MOME_AHEAD_GROWTH 8
#define MOME_AHEAD_MAX 63
/* A read fault this close (pages) to a stream is near it; after this many read faults in a row
 * near no stream, reading ahead stops until one continues a stream. */
#define MOME_RA_NEAR MOME_AHEAD_MAX
#define MOME_RA_MISSES 8

/*
 * How many pages a read fault at `page` asks ahead, and which stream (s->ra) it belongs to (*slot;
 * read_done records it). The segment follows MOME_RA_STREAMS reads at once, each a stream:
 * - A fault on the page right after those a stream's last fault asked ahead (a sequential read
 *   that has consumed them) asks twice that many plus one, up to MOME_AHEAD_GROWTH windows of
 *   MOME_PREFETCH + 1 pages and MOME_AHEAD_MAX pages (or MOME_PREFETCH, if larger), as the
 *   kernel's read-ahead grows: a long sequential read then waits for one round trip per 64 pages
 *   instead of per 8 (the pages arrive one after another meanwhile, so the round trip is what a
 *   larger window saves). Not under a page budget, whose pages read ahead would push out pages in
 *   use.
 * - Any other fault asks MOME_PREFETCH pages: one within MOME_RA_NEAR pages of a stream (a
 *   stencil's boundary read again) joins it; one near no stream starts one in the slot least
 *   recently met, and is a miss.
 * - Once MOME_RA_MISSES misses came in a row (no stream continued in between), the reads are
 *   scattered (a random walk over a large segment, a search): the pages read ahead would not be
 *   used, and each costs messages, an install and its holder's time, so no fault asks any ahead
 *   until one continues a stream (whose window it then gets) or meets a page still on its way
 *   ahead (mome_req_fault). The kernel stops its read-around of a mapped file likewise.
 */
static uint64_t read_window(mome_seg_t *s, uint64_t page, unsigned *slot)
{
    uint64_t base = mome_coh.prefetch, max = MOME_AHEAD_GROWTH * (base + 1) - 1;
    int near = -1, cont = -1;
    unsigned lru = 0;
    if (max > MOME_AHEAD_MAX)
        max = base > MOME_AHEAD_MAX ? base : MOME_AHEAD_MAX;
    for (int i = 0; i < MOME_RA_STREAMS; i++) {
        const struct mome_ra_stream *r = &s->ra[i];
        if (!r->next || r->used < s->ra[lru].used)
            lru = (unsigned)i; /* an empty slot, or the one met longest ago */
        if (!r->next)
            continue;
        if (page == r->next)
            cont = i;
        else if (near < 0 && page + MOME_RA_NEAR >= r->start && page <= r->next + MOME_RA_NEAR)
            near = i;
    }
    if (cont >= 0) {
        near = cont;
        s->ra_misses = 0;
    } else if (near < 0 && s->ra_misses <= MOME_RA_MISSES) {
        s->ra_misses++;
    }
    *slot = near >= 0 ? (unsigned)near : lru;
    s->ra[*slot].used = ++s->ra_clock;
    if (s->ra_misses > MOME_RA_MISSES)
        return 0;
    if (!base || cont < 0 || !s->ra[cont].window || mome_store_budget_pages())
        return base;
    return s->ra[cont].window * 2 + 1 < max ? s->ra[cont].window * 2 + 1 : max;
}

/* A read fault at `page` of stream `slot` asked n pages ahead. */
static void read_done(mome_seg_t *s, unsigned slot, uint64_t page, uint64_t n)
{
    struct mome_ra_stream *r = &s->ra[slot];
    if (page != r->next)
        r->start = page;
    r->next = page + n + 1;
    r->window = (uint32_t)n; /* 0: none */
}

/*
 * A copy kept under a model without notices (WEAK) changes only when its node asks, so it may lack
 * releases made since it came, even those an acquire of this node ordered before its writes. A
 * twin of it would then hold, for a word written now, a value older than the master's, and the
 * XOR diff would give the master old ^ new ^ theirs, a value nobody wrote (helper-127;
 * weak_write.test). So a WEAK writer of a page whose master another node holds opens it here (a
 * twin of its copy) only in the acquire in which the copy was known current: its content came
 * from the master, or a MomeSyncMem found it current, asked since the node's last acquire began.
 * Otherwise its write asks the directory, which has the master's content sent (a kept copy is no
 * twin: directory.c): the copy is refreshed at that write. A program that calls MomeSyncMem after
 * its barrier, as WEAK programs do, pays nothing more.
 */
static int weak_stale(mome_seg_t *s, uint64_t page, const mome_page_t *pg)
{
    if (!mome_copy_weak_twin(pg))
        return 0;
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);
    return !x || x->current_in != mome_coh.acquires;
}

/* The copy is the master's content as of a request sent in acquire `acquires` (weak_stale). */
static void weak_current(mome_seg_t *s, uint64_t page, uint64_t acquires)
{
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    if (x)
        x->current_in = acquires;
}

/*
 * A write fault opened a tracked page this node changed in its last release: open the following
 * pages of the view that it changed then too, as their own write faults would (an iteration that
 * rewrites the same pages at every step then takes one fault per MOME_PREFETCH + 1 pages). A page
 * opened but left unwritten costs a page copy and sends nothing at the release. Stops at the
 * first page that does not qualify.
 */
static void write_ahead(mome_seg_t *s, const mome_view_t *v, uint64_t page)
{
    uint64_t last = (v->off + v->len) >> mome_coh.page_shift;
    for (uint64_t p = page + 1; p <= page + mome_coh.prefetch && p < last; p++) {
        mome_page_t *pg = mome_seg_pg(s, p);
        if ((pg->flags & (MOME_PG_BUSY | MOME_PG_DIRTY | MOME_PG_TRACK | MOME_PG_WROTE)) !=
                (MOME_PG_TRACK | MOME_PG_WROTE) ||
            pg->access != MOME_ACC_WRITE || weak_stale(s, p, pg) || mome_copy_apart_stale(s, p))
            break;
        mome_copy_start_writing(s, p, 1);
        pg->flags |= MOME_PG_USED;
        mome_ckpt_note(s, p); /* opened for writing, as a write fault would */
        mome_copy_map_all(s, p, NULL);
        MOME_STAT_INC(pages_written_ahead);
    }
}

/*
 * Faults at one page that found no view, since a fault elsewhere found none. One is a fault read
 * after its view was unmapped: woken, its thread meets SIGSEGV. A view's mapping goes before its
 * record (segment.c's view_cut), so the thread cannot fault there again, unless a mapping outlived
 * its record: then it would fault for ever, its writes unseen by the protocol, and the node stops
 * instead. Counted at one page (helper-132): other threads' faults on live views, ending a run of
 * all faults, would have kept it from ever stopping.
 */
#define NO_VIEW_MAX 100000
static unsigned no_view_run;
static char *no_view_at;

void mome_req_fault(char *addr, int write, uint64_t t0)
{
    size_t ps = mome_coh.page_size;
    char *a = (char *)((uintptr_t)addr & ~(uintptr_t)(ps - 1));
    mome_view_t *v = mome_view_find(addr);

    if (write)
        MOME_STAT_INC(write_faults);
    else
        MOME_STAT_INC(read_faults);
    if (!v) {
        /* The view went away meanwhile: let the thread retry and meet SIGSEGV. */
        no_view_run = a == no_view_at ? no_view_run + 1 : 1;
        no_view_at = a;
        if (no_view_run >= NO_VIEW_MAX)
            mome_fatal("%u faults in a row at %p found no Mome view: a mapping there "
                       "outlived its view (its writes unseen by the other nodes), and its thread "
                       "would fault for ever; stopping",
                       no_view_run, (void *)addr);
        mome_store_wake(a, ps);
        return;
    }
    mome_seg_t *s = v->seg;
    uint64_t page = mome_view_page_of(v, a, mome_coh.page_shift);
    mome_page_t *pg = mome_seg_pg(s, page);

    pg->flags |= MOME_PG_USED;
    MOME_TR(MOME_TR_FAULT, s->id, page, -1, 0, write ? MOME_TRF_WRITE : 0);
    mome_store_touch(s->store, page);
    if (write && !(pg->flags & MOME_PG_BUSY) && mome_copy_tracked_clean(pg) &&
        mome_copy_apart_stale(s, page))
        mome_copy_join(s, page); /* as weak_stale's refresh, for the master's holder (copy.h) */
    if (!(pg->flags & MOME_PG_BUSY) && mome_copy_satisfies(pg, write) &&
        !(write && mome_copy_tracked_clean(pg) && weak_stale(s, page, pg))) {
        int opens = write && mome_copy_tracked_clean(pg);
        if (write)
            mome_ckpt_note(s, page); /* persistent: the next checkpoint writes it */
        if (opens)
            mome_copy_start_writing(s, page, 0);
        mome_copy_map(s, page, v, a);
        fault_done(t0);
        mome_coh.woke = 1;
        if (opens && (pg->flags & MOME_PG_WROTE))
            write_ahead(s, v, page);
        return;
    }
    mome_waiter_t *w = mome_waiter_new();
    if (!w)
        mome_fatal("out of memory for a fault on page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    w->addr = a;
    w->view = v;
    w->write = (uint8_t)write;
    w->t0 = t0;
    if (pg->flags & MOME_PG_BUSY) {
        mome_txn_t *t = mome_txn_find(s->id, page);
        if (t->ahead && !write)
            s->ra_misses = 0; /* reading ahead fetched it: the reads are not scattered */
        w->next = t->waiters;
        t->waiters = w;
        mome_txn_awaited(t);
        return;
    }
    int kind = write ? MOME_TXN_WRITE : MOME_TXN_READ;
    request(s, page, kind, mome_page_model(pg), w, NULL, 0);
    if (!write || mome_page_model(pg) != MOME_STRONG || s->wa_declined < MOME_WA_DECLINED) {
        /* A write asks ahead only in a run: the page before is written here. A STRONG one stops
         * asking once MOME_WA_DECLINED of them in a row were declined (pages others hold:
         * writes shared with other nodes), until a write gets a page nobody had. */
        int run = !write || (page > (v->off >> mome_coh.page_shift) &&
                             mome_seg_pg(s, page - 1)->access == MOME_ACC_WRITE);
        unsigned slot = 0;
        uint64_t window = write ? mome_coh.prefetch : read_window(s, page, &slot), n = 0;
        if (!(run && (n = ask_ahead(s, v, page, 1, kind, window))))
            ask_ahead_strided(s, v, page, kind);
        if (!write)
            read_done(s, slot, page, n);
    }
    s->fault_last = page + 1;
}

/*
 * Tell the manager the transaction is over. Safe before the content is installed: a later request
 * the manager forwards here is handled by this same thread after the install.
 */
static void send_done(mome_txn_t *t)
{
    if (t->done_sent)
        return;
    mome_ref_t done = {.seg = t->seg->id, .page = t->page, .node = (uint32_t)mome_coh.self};
    t->done_sent = 1;
    mome_send((int)t->mgr, MOME_MSG_DONE, t->recall ? MOME_DONE_RESET : 0, &done, NULL, 0);
}

/* Apply the grant's rights to the local page state. */
static void take_rights(mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = mome_seg_pg(s, t->page);
    int g = t->rights;

    if (pg->access == MOME_ACC_WRITE && !t->rw)
        mome_copy_protect(s, t->page);
    pg->access = t->rw ? MOME_ACC_WRITE : MOME_ACC_READ;
    pg->flags &= (uint16_t)~(MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_REMOTE);
    if (g & MOME_RIGHT_OWNER)
        pg->flags |= MOME_PG_OWNER;
    else if (!t->rw && t->owner != (uint32_t)mome_coh.self)
        pg->flags |= MOME_PG_REMOTE; /* the eviction may drop it: the master is elsewhere */
    if (t->rw && (g & MOME_RIGHT_SHARED))
        pg->flags |= MOME_PG_SHARED | MOME_PG_TRACK;
    if (t->rw && (g & MOME_RIGHT_TWIN)) {
        mome_pext_t *x = mome_pext_get(pg, s->id, t->page);
        if (!x)
            mome_fatal("out of memory recording the owner of page %llu of segment '%s'; "
                       "stopping", (unsigned long long)t->page, s->name);
        pg->flags |= MOME_PG_TRACK;
        x->owner = t->owner;
    }
    if (!(pg->flags & MOME_PG_TRACK))
        pg->flags &= (uint16_t)~MOME_PG_DIRTY;
    if (t->have_ver)
        pg->ver = t->ver;
    mome_copy_settle_stale(s, t->page);
}

/* Does any of the faults waiting (w and those after it) write? (As ask_again asks.) */
static int any_write(const mome_waiter_t *w)
{
    for (; w; w = w->next)
        if (w->write)
            return 1;
    return 0;
}

/*
 * The faults waiting on a transaction that ended without serving them ask for the page again (for
 * writing if any of them writes), the new request carrying op. Returns whether any waited.
 */
static int ask_again(mome_seg_t *s, uint64_t page, mome_waiter_t *w, mome_op_t *op)
{
    for (mome_waiter_t *v = w; v; v = v->next)
        v->mapped = 0;
    if (w)
        request(s, page, any_write(w) ? MOME_TXN_WRITE : MOME_TXN_READ,
                mome_page_model(mome_seg_pg(s, page)), w, op, 0);
    return w != NULL;
}

/*
 * A recall's content is here, every other copy in the job gone and the entry about to reset (our
 * DONE said so): the content goes back to momed and this node forgets the page. Faults that came
 * meanwhile ask again: the job fetches the page from momed anew.
 */
static void recall_done(mome_txn_t *t, mome_waiter_t *w)
{
    mome_seg_t *s = t->seg;
    uint64_t page = t->page;
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_op_t *op = t->op;

    mome_txn_free(t);
    /* Out of every view first: no write may land in the bytes while they travel, or after. The
     * copy is forgotten once they left: forgotten first, a page paged out gave its bytes up, and
     * momed got zeros (helpers 97 and 98). */
    mome_copy_unmap(s, page);
    mome_served_recalled(s, page, mome_seg_bytes(s, page));
    mome_copy_forget(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x) {
        x->push = 0;
        mome_pext_put(pg, x);
    }
    pg->flags &= (uint16_t)~(MOME_PG_WRITING | MOME_PG_REMOTE | MOME_PG_WROTE);
    pg->ver = 0;
    ask_again(s, page, w, NULL);
    mome_op_put(op);
}

/*
 * Does the transaction bring (or keep) content that lacks a change released before an acquire
 * that passed while it was in flight (a due notice: release.c)? A master, the owner's or an
 * exclusive writer's, is current by definition. Content asked for under a model the page left and
 * came back to meanwhile (t->switched) may too, with nothing to tell: under the other model, a
 * notice it needed may have been passed by (a barrier's, skipped while WEAK) or never sent (to a
 * node kept as a WEAK holder), and a MomeSyncMem may have found nothing to ask (under RELEASE, a
 * page without a copy). Helper-67 found these from the code (not seen in a run): a read-ahead
 * mapped so after a switch from WEAK to RELEASE and back would show check() in mix_threads a
 * counter one short. Such content is fetched again (refetch: a clean copy is dropped first, so
 * that the request does not vouch for it), as a due notice's is.
 */
static int brings_stale(const mome_txn_t *t)
{
    /* A grant naming this node the master's holder (a read that confirmed its copy) too: the
     * copy dropped as stale was the master's only one, the directory still naming this node its
     * owner, and the next reader's FWD_READ stopped the job (helper-114). */
    if ((t->rights & MOME_RIGHT_OWNER) || (t->rw && !(t->rights & MOME_RIGHT_TWIN)) ||
        t->owner == (uint32_t)mome_coh.self)
        return 0;
    if (t->switched)
        return 1;
    return mome_copy_lacks_due(t->seg, t->page,
                               t->have_ver ? t->ver : mome_seg_pg(t->seg, t->page)->ver);
}

/*
 * Fetch the master's content for a copy with unreleased writes, to merge them on top
 * (merge_install). Its twin must stay until then: a release meanwhile waits for the merge to
 * release the page (x->merging, release.c), and its diff is then computed against the new twin.
 */
static void merge_request(mome_seg_t *s, uint64_t page, mome_waiter_t *w, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    mome_txn_t *t = request(s, page, MOME_TXN_WRITE, mome_page_model(pg), w, op, REQ_CONTENT);
    t->merge = 1;
    if (x)
        x->merging = 1;
}

/*
 * The content a transaction completed with lacks a change an acquire of this node already passed
 * (brings_stale): no thread may see it. The copy goes, as the acquire would have dropped it, and
 * the threads waiting for the page ask again; a read-ahead or a refresh nobody waits for ends
 * there (the next use fetches the page). A copy with unreleased writes is refreshed keeping them.
 * The drop clears the notice, and the new request, made after it, gets content that includes it.
 */
static void refetch(mome_seg_t *s, uint64_t page, mome_waiter_t *w, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);

    if (pg->flags & MOME_PG_DIRTY) {
        for (mome_waiter_t *v = w; v; v = v->next)
            v->mapped = 0;
        mome_copy_unmap(s, page);
        merge_request(s, page, w, op);
        return;
    }
    mome_copy_drop(s, page);
    if (ask_again(s, page, w, op))
        return;
    if (mome_seg_is_served(s->id))
        mome_served_kick(s, page); /* a recall that waited for this transaction */
    mome_op_put(op);
}

static void txn_complete(mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = mome_seg_pg(s, t->page);
    mome_waiter_t *w, *again = NULL;
    mome_op_t *op = t->op;

    take_rights(t);
    /* A grant for a page whose master this node kept apart from its WEAK view (copy.h; content
     * that came would have replaced both): the copy it vouched for is the master. */
    mome_copy_join(s, t->page);
    pg->flags = (uint16_t)(pg->flags & ~MOME_PG_BUSY);
    pg->mgr = t->mgr + 1;
    send_done(t);
    mome_coh.outstanding--;
    mome_coh.woke = 1;

    w = t->waiters;
    t->waiters = NULL;
    uint64_t page = t->page;
    if (t->recall) {
        recall_done(t, w);
        return;
    }
    int ahead = t->ahead && !w, merged = t->merge, model = t->model, rw = t->rw;
    const mome_view_t *in_view = t->in_view; /* installed there already (install) */
    int stale = brings_stale(t), opened_ahead = t->ahead && rw, fresh = t->fresh;
    uint64_t acquires = t->acquires;
    mome_txn_free(t);
    if (model != mome_page_model(pg)) {
        /*
         * The node switched the page's model while the request was out: the directory holds the
         * copy under the old contract. Ask again under the new one before anyone uses it. A copy
         * with unreleased writes asks for content to merge them on: confirmed as a copy, a READ
         * on a multiple-writer page comes with content anyway, which would replace them (a switch
         * to WEAK during a refresh keeping writes lost them: helper-53's review). Back under the
         * request's model, the content is fetched again (brings_stale). For writing if any
         * waiter writes (the newest heads the list: asked for the first alone, a reader ahead of
         * a writer cost the writer another round).
         */
        if (unreleased(pg, mome_pext_find(pg, s->id, page)))
            merge_request(s, page, w, op);
        else
            request(s, page, any_write(w) ? MOME_TXN_WRITE : MOME_TXN_READ, mome_page_model(pg), w,
                    op, 0);
        return;
    }
    if (stale) {
        refetch(s, page, w, op);
        return;
    }
    if (opened_ahead) /* counted too when a thread's fault met it on its way */
        MOME_STAT_INC(pages_written_ahead);
    /* A WEAK twin of content asked before an acquire began: it may lack a release that acquire
     * orders before the writes to come (weak_stale). Nobody opens it; writers ask again. */
    int late = acquires != mome_coh.acquires && !merged && !(pg->flags & MOME_PG_DIRTY) &&
               mome_copy_weak_twin(pg);
    if (ahead && rw && !late) {
        /*
         * A write opened ahead (ask_ahead): twinned now, as its write fault would, so that the
         * write needs no fault. A persistent page stays write-protected until it is written (its
         * fault flags it for the next checkpoint, which writes only changed pages).
         */
        if (mome_copy_tracked_clean(pg))
            mome_copy_start_writing(s, page, 1);
    }
    if (ahead || merged)
        mome_copy_map_all(s, page, in_view);
    while (w) {
        mome_waiter_t *next = w->next;
        if (mome_copy_satisfies(pg, w->write) && !(w->write && late)) {
            if (w->write)
                mome_ckpt_note(s, page);
            if (w->write && mome_copy_tracked_clean(pg))
                mome_copy_start_writing(s, page, 0);
            if (!w->mapped)
                mome_copy_map(s, page, w->view, w->addr);
            fault_done(w->t0);
            mome_waiter_free(w);
        } else {
            w->mapped = 0;
            w->next = again;
            again = w;
        }
        w = next;
    }
    if (fresh)
        weak_current(s, page, acquires);
    if (again)
        request(s, page, MOME_TXN_WRITE, mome_page_model(pg), again, NULL, 0);
    else if (mome_seg_is_served(s->id))
        mome_served_kick(s, page); /* a recall that waited for this transaction */
    mome_op_put(op);
}

/*
 * A transaction completes once granted, with its content (or none needed) and every
 * acknowledgement; then the MomeSyncMem calls that waited for it (mome_req_sync) go on with the
 * copy it left.
 */
static void txn_try_complete(mome_txn_t *t)
{
    uint64_t seg = t->seg->id, page = t->page;
    if (!t->granted || !t->have_data || t->acks < t->acks_needed)
        return;
    txn_complete(t);
    resume_syncs(&after_txn, seg, page);
}

/*
 * The fresh master content for a copy with unreleased writes (its views write-protected since the
 * refresh began, so nothing writes meanwhile): this node's own changes, page XOR twin, go on top
 * of the new content, which becomes the twin. Nothing this node wrote is lost, and the copy now
 * has every change released to the master.
 */
static void merge_install(mome_txn_t *t, const void *data)
{
    mome_seg_t *s = t->seg;
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, t->page), s->id, t->page);

    if (x && !x->twin && x->flushed) {
        /* A flush sent this node's writes to the master meanwhile and ended its writing (owner.c
         * do_flush): this content, served after that flush, has them, and the views have been
         * write-protected since the refresh began. */
        memcpy(mome_seg_bytes(s, t->page), data, mome_coh.page_size);
    } else if (x && x->twin) {
        mome_copy_rebase(s, t->page, data);
    } else {
        mome_fatal("a refresh of page %llu of segment '%s' lost its twin: its writes would be "
                   "lost; stopping",
                   (unsigned long long)t->page, s->name);
    }
    t->have_data = 1;
    x->merging = x->flushed = 0;
    if (merged_hook)
        merged_hook(s, t->page); /* a release that waited for this page (x may go) */
}

/*
 * Put content into the page. When it completes the transaction, install it atomically in the
 * first waiter's view (one UFFDIO_COPY); otherwise copy it through the runtime view while no view
 * maps the page, and map later.
 */
static void install(mome_txn_t *t, const void *data)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = mome_seg_pg(s, t->page);
    mome_waiter_t *w = t->waiters;
    int rc = -EEXIST;

    if (t->merge) {
        merge_install(t, data);
        return;
    }
    t->fresh = 1;
    /* Content replaces the copy: one with writes not released yet asks for a merge (t->merge). */
    if (unreleased(pg, mome_pext_find(pg, s->id, t->page)))
        mome_fatal("content for page %llu of segment '%s' came for a copy with writes not released "
                   "yet (a %s request under %s), which it would replace: they would be lost; "
                   "stopping",
                   (unsigned long long)t->page, s->name,
                   t->kind == MOME_TXN_WRITE ? "write" : "read", mome_model_of_id(t->model)->name);
    int ready = t->granted && t->acks >= t->acks_needed && t->model == mome_page_model(pg) &&
                !brings_stale(t);
    if (ready && w && (!w->write || t->rw) &&
        !(t->rw && (t->rights & (MOME_RIGHT_SHARED | MOME_RIGHT_TWIN)))) {
        int wp = (!t->rw || !mome_ckpt_install_writable(s, t->page, w->write)) &&
                 w->view->writable;
        rc = mome_store_install(s->store, t->page, w->addr, data, wp);
        w->mapped = rc == 0;
    } else if (ready && !w && t->ahead && !t->rw) {
        /* Read ahead, nobody waiting: straight into the first view that maps it, as if a thread
         * had faulted there (one UFFDIO_COPY, against a write into the file and a map); the
         * other views are mapped when the transaction completes. */
        MOME_SEG_FOREACH_MAP(s, t->page, v, a)
        if (rc == -EEXIST) {
            rc = mome_store_install(s->store, t->page, a, data, v->writable);
            if (rc == 0)
                t->in_view = v;
        }
    }
    if (rc < 0) {
        /* A copy still mapped goes first; a notice that came meanwhile stays (this content may
         * lack its change: a lock holder read a counter one short when it went with the copy). */
        if (pg->access != MOME_ACC_NONE)
            mome_copy_discard(s, t->page);
        mome_store_fill(s->store, t->page, data);
    }
    t->have_data = 1;
}

/* Content for a page no node holds: zeros, or what the store keeps of it (a repository file). */
static const void *untouched(mome_seg_t *s, uint64_t page)
{
    int rc = mome_store_load(s->store, page, load_buf);
    if (rc < 0)
        mome_fatal("cannot read page %llu of segment '%s' from its store (%s): %s; stopping",
                   (unsigned long long)page, s->name, s->store->ops->name, strerror(-rc));
    return rc ? load_buf : zero_page;
}

/*
 * The transaction a GRANT, DATA or INV_ACK (answer: the first two) is for. One answer per
 * request, and a closing node's SEG_CLOSE waits for its transactions: none comes for a page this
 * node did not ask for, or drops (a drop waits for DROP_ACK only). Taken, it would decide what
 * nobody asked (helper-115: it was ignored). Nor does a grant come for a request still held here
 * (not sent), or for one granted already (the directory answers a request with a GRANT, or with a
 * forward whose holder sends DATA, never both): taken, it replaced the first one's rights and
 * manager, and the DONE could go to a node whose entry does not wait for it.
 */
static mome_txn_t *txn_of(const mome_msg_t *m, uint64_t seg, uint64_t page, int answer)
{
    mome_txn_t *t = mome_txn_find(seg, page);
    const char *why = !t                           ? "did not ask for"
                      : t->kind == MOME_TXN_DROP   ? "is dropping"
                      : !answer                    ? NULL
                      : t->held                    ? "has not asked for yet (its request waits for "
                                                     "this node's diffs of the page)"
                      : t->granted || t->have_data ? "has had answered already"
                                                   : NULL;
    if (why)
        mome_fatal("node %u sent %s for page %llu of segment '%s' (%#llx), which this node %s: "
                   "the nodes disagree on the page; stopping",
                   m->src, mome_msg_name(m->type), (unsigned long long)page, mome_seg_name_of(seg),
                   (unsigned long long)seg, why);
    return t;
}

static void take_grant(mome_txn_t *t, uint32_t rights, uint32_t acks, uint32_t mgr)
{
    if ((uint32_t)t->acks > acks)
        mome_fatal("node %u granted page %llu of segment '%s' (%#llx) waiting for %u invalidation "
                   "acks, and %d came already: the directory is inconsistent; stopping",
                   mgr, (unsigned long long)t->page, t->seg->name, (unsigned long long)t->seg->id,
                   acks, t->acks);
    t->granted = 1;
    t->rw = !!(rights & MOME_RIGHT_RW);
    t->rights = (uint8_t)rights;
    t->acks_needed = (int32_t)acks;
    t->mgr = mgr;
}

/*
 * A transaction that ends with nothing (a write asked ahead declined, a drop acknowledged): the
 * page no longer busy, its manager (mgr) noted, the transaction freed. Returns its waiters, which
 * the caller has ask again.
 */
static mome_waiter_t *txn_end_empty(mome_txn_t *t, uint32_t mgr)
{
    mome_page_t *pg = mome_seg_pg(t->seg, t->page);
    mome_waiter_t *w = t->waiters;

    t->waiters = NULL;
    pg->flags &= (uint16_t)~MOME_PG_BUSY;
    pg->mgr = mgr + 1;
    mome_coh.outstanding--;
    mome_txn_free(t);
    return w;
}

/*
 * The manager declined a write asked ahead (GRANT_NONE: under STRONG, a node holds the page; under
 * RELEASE, another node writes it alone). The transaction ends with nothing, the page as it was
 * and no DONE (the entry never became busy); threads that faulted on the page meanwhile ask for
 * it themselves. Anything else declined means the directory and this node disagree about the
 * request.
 */
static void declined(const mome_msg_t *m, const mome_grant_t *g, mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    uint64_t page = t->page;
    mome_op_t *op = t->op;

    if (t->kind != MOME_TXN_WRITE || !t->ahead || t->model == MOME_WEAK || t->granted ||
        t->have_data || t->acks || t->held || t->recall || t->merge || t->served)
        mome_fatal("node %u declined a request of this node for page %llu of segment '%s' that "
                   "only a STRONG or RELEASE write asked ahead may see declined (a %s request "
                   "under %s): the directory and this node disagree; stopping",
                   m->src, (unsigned long long)page, s->name,
                   t->kind == MOME_TXN_WRITE ? "write" : "read", mome_model_of_id(t->model)->name);
    MOME_TR(MOME_TR_DECLINED, s->id, page, (int)m->src, 0, 0);
    if (s->wa_declined <= MOME_WA_DECLINED)
        s->wa_declined++;
    mome_waiter_t *w = txn_end_empty(t, g->mgr); /* who manages it now, as txn_complete notes */
    if (!ask_again(s, page, w, op))
        mome_op_put(op);
    /* A MomeSyncMem that waited for this transaction goes on (against the new one, if any). */
    resume_syncs(&after_txn, s->id, page);
}

static void on_grant(const mome_msg_t *m, const void *body)
{
    const mome_grant_t *g = body;
    mome_txn_t *t = txn_of(m, g->seg, g->page, 1);
    if (!t)
        return;
    if (m->flags & MOME_GRANT_NONE) {
        declined(m, g, t);
        return;
    }
    /* A STRONG write of a page nobody held (no copy to invalidate, not a read's exclusive zero
     * page): write-ahead may find more such pages around it. */
    if ((m->flags & MOME_GRANT_ZERO) && (g->rights & MOME_RIGHT_RW) && !g->acks &&
        t->kind == MOME_TXN_WRITE && t->model == MOME_STRONG)
        t->seg->wa_declined = 0;
    take_grant(t, g->rights, g->acks, g->mgr);
    t->owner = g->owner;
    if ((m->flags & MOME_GRANT_ZERO) && mome_seg_is_served(g->seg)) {
        /* The job's first use of the page since momed gave it to another job, or ever: its
         * content is momed's (mome_req_served_data completes the transaction). */
        t->ver = 0;
        t->have_ver = 1;
        t->served = 1;
        mome_served_fetch(t->seg, t->page);
        return;
    } else if (m->flags & MOME_GRANT_ZERO) {
        MOME_TR(MOME_TR_ZERO, g->seg, g->page, (int)m->src, 0, 0);
        t->ver = 0;
        t->have_ver = 1;
        install(t, untouched(t->seg, t->page));
    } else {
        MOME_TR(MOME_TR_GRANT, g->seg, g->page, (int)m->src, 0, 0);
        t->have_data = 1; /* it keeps its own copy */
    }
    txn_try_complete(t);
}

int mome_req_served_data(mome_seg_t *s, uint64_t page, const void *data)
{
    mome_txn_t *t = mome_txn_find(s->id, page);
    if (!t || !t->served || t->have_data)
        return -ENOENT;
    t->served = 0;
    MOME_STAT_INC(pages_fetched);
    install(t, data);
    txn_try_complete(t);
    return 0;
}

void mome_req_recall(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    mome_op_hold(op);
    mome_txn_t *t = request(s, page, MOME_TXN_WRITE, MOME_STRONG, NULL, op, MOME_REQ_RECALL);
    t->recall = 1;
}

static void on_data(const mome_msg_t *m, const void *body)
{
    const mome_data_t *d = body;
    mome_txn_t *t = txn_of(m, d->seg, d->page, 1);
    if (!t)
        return;
    if (m->flags & MOME_DATA_GRANT)
        take_grant(t, d->rights, d->acks, d->mgr);
    t->owner = m->src;
    t->ver = d->ver;
    t->have_ver = 1;
    if (m->src != (uint32_t)mome_coh.self)
        MOME_STAT_INC(pages_fetched);
    MOME_TR(MOME_TR_FETCH, d->seg, d->page, (int)m->src, m->len, 0);
    if (t->granted && t->acks >= t->acks_needed)
        send_done(t); /* off the faulting thread's path: before the install wakes it */
    install(t, m->payload);
    txn_try_complete(t);
}

/*
 * The word of the transaction's record of the nodes whose INV_ACK came that holds node src's bit
 * (src % 64). Below 64, acked_by: no allocation on the fault path of a job of up to 64 nodes. From
 * 64 on, a bitmap allocated by the first such ack (a duplicate from node 64 or above went
 * unnoticed, and a STRONG writer went on while a copy elsewhere was still readable).
 */
static uint64_t *acked_word(mome_txn_t *t, uint32_t src)
{
    if (src < 64)
        return &t->acked_by;
    if (!t->acked_more) {
        t->acked_more = mome_calloc(((size_t)mome_coh.nnodes - 64 + 63) / 64, sizeof(uint64_t));
        if (!t->acked_more)
            mome_fatal("out of memory counting the invalidations of a request of page %llu of "
                       "segment '%s'; stopping",
                       (unsigned long long)t->page, mome_seg_name_of(t->h.k1));
    }
    return &t->acked_more[(src - 64) / 64];
}

static void on_inv_ack(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *a = body;
    mome_txn_t *t = txn_of(m, a->seg, a->page, 0);
    uint64_t *acked = acked_word(t, m->src), bit = 1ull << (m->src % 64);
    /* One from each node invalidated, never this one (the requester is not invalidated), and no
     * more than the grant says: counted, a duplicate or a stray one let the write in while a copy
     * was still readable (helper-115). */
    const char *why = t->held                                   ? "before it was asked"
                      : m->src == (uint32_t)mome_coh.self       ? "from the requester itself"
                      : (*acked & bit)                          ? "twice"
                      : t->granted && t->acks >= t->acks_needed ? "beyond those the grant said"
                                                                : NULL;
    if (why)
        mome_fatal("node %u acknowledged an invalidation for this node's request of page %llu of "
                   "segment '%s' (%#llx) %s: the directory is inconsistent; stopping",
                   m->src, (unsigned long long)a->page, mome_seg_name_of(a->seg),
                   (unsigned long long)a->seg, why);
    *acked |= bit;
    t->acks++;
    txn_try_complete(t);
}

/* Content of version ver for this node's WEAK copy of the page, from node src (SYNC_DATA). */
static void sync_install(mome_seg_t *s, uint64_t page, const void *data, uint64_t ver, int src)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (pg->access != MOME_ACC_NONE && unreleased(pg, x)) {
        /* Another thread wrote the page since the request: its writes go on top of the
         * content, as a refresh keeping writes does (dropped, the callers would read stale
         * data, and an increment made from it would undo another node's). */
        mome_copy_protect(s, page);
        mome_copy_rebase(s, page, data);
        pg->ver = ver;
        mome_copy_settle_stale(s, page);
        /* A transaction in flight for the page (a refresh keeping writes, which needs the
         * views protected until it lands, or a refetch that took them away) maps it itself. */
        if (!(pg->flags & MOME_PG_BUSY) && !x->merging)
            mome_copy_map_all(s, page, NULL);
    } else if (pg->access != MOME_ACC_NONE && !(pg->flags & MOME_PG_DIRTY)) {
        mome_copy_replace(s, page, data, ver);
        if (src != mome_coh.self)
            MOME_STAT_INC(pages_fetched);
    } else {
        return;
    }
    MOME_TR(MOME_TR_FETCH, s->id, page, src, (uint32_t)mome_coh.page_size, 0);
}

enum { SYNC_SERVED, SYNC_AGAIN };

static void sync_forget_diffs(syncwait_t *w)
{
    while (w->diffs) {
        syncdiff_t *d = w->diffs;
        w->diffs = d->next;
        free(d);
    }
    w->ndiffs = w->nacks = 0;
    w->vmin = w->vmax = 0;
}

/*
 * The request for w's callers is over: they are served (SYNC_SERVED), or they ask again with those
 * that came meanwhile (SYNC_AGAIN), who else ask with the next request. It leaves at once, or,
 * while a release of this node's writes of the page is in flight, once that is in (sync_later):
 * a request leaves only while none is, so that the diffs released while it is out are all known.
 */
static void sync_answered(syncwait_t *w, mome_seg_t *s, uint64_t page, int how)
{
    syncop_t *served = w->ops;
    const mome_pext_t *x = s ? mome_pext_find(mome_seg_pg(s, page), s->id, page) : NULL;
    sync_forget_diffs(w);
    if (how == SYNC_SERVED && s)
        weak_current(s, page, w->acquires);
    if (how == SYNC_AGAIN) {
        syncop_t **tail = &served;
        while (*tail)
            tail = &(*tail)->next;
        *tail = w->after;
        w->ops = served;
        served = NULL;
    } else {
        w->ops = w->after;
    }
    w->after = NULL;
    if (w->ops && x && x->relpend) {
        for (syncop_t *o = w->ops; o; o = o->next)
            sync_later(s, page, o->op);
        syncops_put(w->ops);
        w->ops = NULL;
    }
    if (w->ops && s) {
        sync_send(w, s, page, 0);
    } else { /* nobody came meanwhile, or the segment went: they are done too */
        syncops_put(w->ops);
        mome_htab_del(&syncs, &w->h);
        free(w);
    }
    syncops_put(served);
}

/*
 * The answer held in w, once every diff this node released of the page since the request left is
 * acknowledged, each with the version its merge made at the owner: the answer has those whose
 * version is not above its own. It has none of them: they go on top of it, as the owner merged
 * them (XOR, in any order), and it is installed; all of them: it is installed as it is. Either
 * way this node's copy keeps its released writes: installed without them, the content took them
 * back, and an XOR diff of the same bytes written again later undid them at the owner
 * (mix_threads: a word read one above anything written, a slot with its older value). Asked
 * again instead, the callers of a page that other threads release over and over waited for
 * seconds (sync_releasing, 4 nodes over TCP). Some of them, or acknowledgements that are not of
 * these diffs (this node owned the page meanwhile): asked again (which diff made which version is
 * not known: messages between two nodes may overtake one another).
 */
static int sync_decide(syncwait_t *w, mome_seg_t *s, uint64_t page)
{
    uint8_t *data = w->held;
    int how = SYNC_SERVED, some = w->ndiffs && w->vmin <= w->held_ver;
    w->held = NULL;
    if (w->nacks != w->ndiffs || (some && w->vmax > w->held_ver)) {
        how = SYNC_AGAIN;
    } else if (s && !(mome_seg_pg(s, page)->flags & MOME_PG_OWNER) &&
               mome_seg_pg(s, page)->ver <= w->held_ver) {
        /* (Content newer than the answer came meanwhile, or the master is here now: DONE went
         * when the answer came, so a merge's content served after it may be in already. It
         * serves the callers; the answer would take it back.) */
        for (syncdiff_t *d = w->diffs; d && !some; d = d->next)
            if (mome_diff_apply(data, mome_coh.page_size, d->data, d->len,
                                !!(d->flags & MOME_DIFF_ENTRY_FULL)) < 0)
                mome_fatal("this node's diff of page %llu of segment '%s' does not apply to the "
                           "content of its MomeSyncMem; stopping",
                           (unsigned long long)page, s->name);
        sync_install(s, page, data, w->held_ver, (int)w->held_src);
    }
    free(data);
    return how;
}

/* The answer to this node's SYNC_REQ: new content for its WEAK copy, or none (SYNC_OK). */
static void on_sync_reply(const mome_msg_t *m, const void *body)
{
    const mome_data_t *d = body;
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, d->seg, d->page);
    mome_seg_t *s = mome_seg_page(d->seg, d->page);
    mome_pext_t *x = s ? mome_pext_find(mome_seg_pg(s, d->page), s->id, d->page) : NULL;
    int inflight = x && x->relpend, how = SYNC_SERVED;

    /* One answer per request, and only to a request in flight: another one, installed, put older
     * content over the copy, and its DONE could end another transaction of this node at the
     * manager (helper-98). (A second answer held leaked the first: helper-60's fuzzing.) */
    if (!w || !w->ops || w->held)
        mome_fatal("node %u answered a refresh of page %llu of segment '%s' (%#llx) that this node "
                   "has not asked for, or has had answered (a lost or repeated message); stopping",
                   m->src, (unsigned long long)d->page, mome_seg_name_of(d->seg),
                   (unsigned long long)d->seg);
    if (m->type == MOME_MSG_SYNC_DATA && s && (w->ndiffs || w->nacks || inflight)) {
        /* This node released the page since the request left: the answer may lack that. */
        w->held = mome_malloc(mome_coh.page_size);
        if (!w->held)
            mome_fatal("out of memory refreshing page %llu of segment '%s'; stopping",
                       (unsigned long long)d->page, s->name);
        memcpy(w->held, m->payload, mome_coh.page_size);
        w->held_ver = d->ver;
        w->held_src = m->src;
        if (!inflight)
            how = sync_decide(w, s, d->page);
    } else if (m->type == MOME_MSG_SYNC_DATA && s && !inflight) {
        sync_install(s, d->page, m->payload, d->ver, (int)m->src);
    }
    mome_ref_t done = {.seg = d->seg, .page = d->page, .node = (uint32_t)mome_coh.self};
    mome_send((int)d->mgr, MOME_MSG_DONE, 0, &done, NULL, 0);
    if (!w->held) /* else mome_req_released decides once the diffs are acknowledged */
        sync_answered(w, s, d->page, how);
}

void mome_req_diff_sent(uint64_t seg, uint64_t page, const void *data, uint32_t len, uint32_t flags)
{
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, seg, page);
    if (!w || !w->ops)
        return;
    syncdiff_t *d = mome_malloc(sizeof(*d) + len);
    if (!d)
        mome_fatal("out of memory keeping a diff of page %llu of segment '%s' for a refresh; "
                   "stopping",
                   (unsigned long long)page, mome_seg_name_of(seg));
    d->next = w->diffs;
    d->len = len;
    d->flags = flags;
    memcpy(d->data, data, len);
    w->diffs = d;
    w->ndiffs++;
}

static void defer_sync(deferred_t **list, mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    deferred_t *d = mome_calloc(1, sizeof(*d));
    if (!d)
        mome_fatal("out of memory refreshing page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    d->seg = s->id;
    d->page = page;
    d->op = op;
    if (op)
        mome_op_hold(op);
    d->next = *list;
    *list = d;
}

/*
 * Run again the MomeSyncMem calls of the page deferred on list. They are taken off it first: one
 * run now may be deferred again (a flush run by a release sent another diff of the page, relpend
 * > 0), and walking the list as it grew went round for ever (helper-50's audit: a node's progress
 * thread spun here, and the job hung).
 */
static void resume_syncs(deferred_t **list, uint64_t seg, uint64_t page)
{
    deferred_t *mine = NULL;
    for (deferred_t **p = list; *p;) {
        deferred_t *d = *p;
        if (d->seg != seg || d->page != page) {
            p = &d->next;
            continue;
        }
        *p = d->next;
        d->next = mine;
        mine = d;
    }
    syncwait_t *fresh = NULL;
    while (mine) {
        deferred_t *d = mine;
        mine = d->next;
        mome_seg_t *s = mome_seg_page(seg, page);
        if (s &&
            !(mome_seg_pg(s, page)->flags & MOME_PG_OWNER)) /* (an owner's master is current) */
            sync_start(s, page, d->op, &fresh);
        if (d->op)
            mome_op_put(d->op);
        free(d);
    }
}

/* A transaction of the segment freed (arg): forgotten with it, it is no longer awaited, and the
 * operation it was part of (an acquire's refresh, a drop) goes on without it. */
static void forget_txn(const mome_txn_t *t, void *arg)
{
    if (t->seg->id != *(const uint64_t *)arg)
        return;
    mome_coh.outstanding--;
    if (t->op)
        mome_op_put(t->op);
}

/* The segment is freed here: the calls waiting for one of its requests, forgotten with it
 * (mome_txn_forget_seg) and so never to complete, end. */
void mome_req_forget_seg(uint64_t seg)
{
    mome_txn_foreach(forget_txn, &seg);
    for (deferred_t **p = &after_txn; *p;) {
        deferred_t *d = *p;
        if (d->seg != seg) {
            p = &d->next;
            continue;
        }
        *p = d->next;
        if (d->op)
            mome_op_put(d->op);
        free(d);
    }
}

void mome_req_switched(mome_seg_t *s, uint64_t page)
{
    mome_txn_t *t = mome_txn_find(s->id, page);
    /* (A held request leaves after every synchronisation so far; a drop brings nothing.) */
    if (t && !t->held && t->kind != MOME_TXN_DROP)
        t->switched = 1;
}

static int sync_later(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    if (!x || !x->relpend)
        return 0;
    defer_sync(&after_release, s, page, op);
    return 1;
}

void mome_req_released(uint64_t seg, uint64_t page, uint64_t ver, int all)
{
    mome_txn_t *t = mome_txn_find(seg, page);
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, seg, page);
    if (w && w->ops) { /* (more than diffs: not all were of this node's diffs; asked again) */
        w->vmin = w->nacks && w->vmin < ver ? w->vmin : ver;
        w->vmax = w->vmax > ver ? w->vmax : ver;
        w->nacks++;
    }
    if (!all)
        return;
    if (w && w->held) {
        mome_seg_t *s = mome_seg_page(seg, page);
        sync_answered(w, s, page, sync_decide(w, s, page));
    }
    if (t && t->held) {
        t->held = 0;
        send_request(t, t->held_flags);
    }
    resume_syncs(&after_release, seg, page);
}

/*
 * A copy with writes not yet released (another thread wrote it while this node was releasing):
 * fetch the master's content without dropping the copy, and merge this node's changes on top
 * when it comes (merge_install). Its views are write-protected meanwhile: writes wait for the
 * refresh, as faults on a page being fetched do.
 */
void mome_req_renew(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    if (mome_seg_pg(s, page)->flags & MOME_PG_DIRTY)
        refresh_keeping_writes(s, page, op);
    else
        mome_copy_drop(s, page); /* fetched afresh when used */
}

static void refresh_keeping_writes(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_copy_protect(s, page);
    pg->flags &= (uint16_t)~MOME_PG_USED;
    mome_op_hold(op);
    merge_request(s, page, NULL, op);
}

void mome_req_refresh(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    int writer = pg->access == MOME_ACC_WRITE && (pg->flags & MOME_PG_TRACK) &&
                 !(pg->flags & MOME_PG_OWNER);

    pg->flags &= (uint16_t)~MOME_PG_USED;
    /* Out of every view now; the current content comes back as if this node had faulted. */
    mome_copy_drop(s, page);
    if (pg->flags & MOME_PG_BUSY)
        return;
    mome_op_hold(op);
    request(s, page, writer ? MOME_TXN_WRITE : MOME_TXN_READ, mome_page_model(pg), NULL, op, 0);
}

void mome_req_access(mome_seg_t *s, uint64_t page, int model, mome_op_t *op)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    /* Readers wait for the answer: a copy that is not the owner's master may be one kept under
     * WEAK (by a FLUSH, or a FWD_WRITE that kept it), never notified; the directory sends such a
     * holder the content, and until it lands an acquire has nothing to catch up (helper-53). */
    if (pg->access != MOME_ACC_NONE && !(pg->flags & MOME_PG_OWNER))
        mome_copy_unmap(s, page);
    mome_op_hold(op);
    request(s, page, MOME_TXN_READ, model, NULL, op, 0);
}

void mome_req_sync(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    sync_start(s, page, op, NULL);
}

/*
 * MomeSyncMem of a page: asks, or waits (defers, or joins a request in flight). fresh, when not
 * NULL, names a request sent during the resume of deferred calls (resume_syncs), which the others
 * resumed with it join: it left after all of their calls.
 */
static void sync_start(mome_seg_t *s, uint64_t page, mome_op_t *op, syncwait_t **fresh)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (pg->access == MOME_ACC_NONE) {
        /*
         * No copy: the next use fetches the current content. A request already sent (a
         * read-ahead, another thread's fault) may have been served before a change released
         * before the caller's date, and WEAK copies take no notice of it: the caller waits for
         * it, then asks about the copy it left, as about any copy (txn_try_complete). Mapped as
         * it came, a read-ahead sent before a thread's lock acquire and MomeSyncMem gave it a
         * counter one increment short (mix_threads mode 25, 2 jobs in 2,759). Its content still
         * serves the threads that fault meanwhile: they have not synced since it left. (Dropped
         * and asked again instead, the caller, which need not fault, could read it once mapped
         * for another thread: helper-62's review.) Deferred now, not after this node's diffs of
         * the page are in (sync_later): the answer may come first. A request still held for
         * them, or a drop, ends before the next request leaves.
         */
        const mome_txn_t *t = mome_txn_find(s->id, page);
        if (t && !t->held && t->kind != MOME_TXN_DROP)
            defer_sync(&after_txn, s, page, op);
        return;
    }
    if (sync_later(s, page, op))
        return;
    /* (A read copy without MOME_PG_REMOTE may be the directory's master: the only current
     * content, whatever this node wrote.) */
    if (mome_store_is_paged(s->store, page) && !(x && x->twin) && (pg->flags & MOME_PG_REMOTE) &&
        !(pg->flags & (MOME_PG_BUSY | MOME_PG_DIRTY | MOME_PG_OWNER))) {
        /* Paged out and nothing of this node's in it: cheaper to drop than to bring back and
         * refresh; the next access fetches the current content. */
        mome_copy_drop(s, page);
        mome_store_unpage(s->store, page);
        return;
    }
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, s->id, page);
    syncop_t *o = mome_calloc(1, sizeof(*o));
    if (!w)
        w = mome_calloc(1, sizeof(*w));
    if (!w || !o)
        mome_fatal("out of memory refreshing page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    mome_op_hold(op);
    o->op = op;
    if (w->ops && fresh && *fresh == w) {
        o->next = w->ops;
        w->ops = o;
        return;
    }
    if (w->ops) { /* in flight: the next request serves this caller */
        o->next = w->after;
        w->after = o;
        return;
    }
    w->h.k1 = s->id;
    w->h.k2 = page;
    w->ops = o;
    mome_htab_put(&syncs, &w->h);
    sync_send(w, s, page, fresh != NULL);
    if (fresh)
        *fresh = w;
}

static void sync_send(syncwait_t *w, mome_seg_t *s, uint64_t page, int waited)
{
    w->acquires = mome_coh.acquires;
    mome_req_t r = {.seg = s->id,
                    .page = page,
                    .node = (uint32_t)mome_coh.self,
                    .ver = mome_seg_pg(s, page)->ver};
    MOME_TR(MOME_TR_SYNC, s->id, page, mome_seg_manager(s, page), (uint32_t)r.ver,
            waited ? MOME_TRF_WAITED : 0);
    mome_send(mome_seg_manager(s, page), MOME_MSG_SYNC_REQ, 0, &r, NULL, 0);
}

/* End the callers' waits (put their ops), or only free the list (put = 0: the node stops). */
static void syncops_end(syncop_t *o, int put)
{
    while (o) {
        syncop_t *next = o->next;
        if (put)
            mome_op_put(o->op);
        free(o);
        o = next;
    }
}

static void syncops_put(syncop_t *o)
{
    syncops_end(o, 1);
}

int mome_req_catch_up(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->stale_date)
        return 0;
    if (pg->ver >= x->stale_ver || (pg->flags & MOME_PG_OWNER)) {
        x->stale_date = x->stale_ver = 0;
        mome_pext_put(pg, x);
    } else if (pg->flags & MOME_PG_DIRTY) {
        refresh_keeping_writes(s, page, op); /* dropping it would lose those writes */
    } else if (op && (pg->flags & MOME_PG_USED)) {
        mome_req_refresh(s, page, op); /* clears the notice (and may free x) */
    } else {
        mome_req_drop(s, page, op); /* clears the notice (and may free x) */
    }
    return 0;
}

/*
 * A read copy of a master another node holds, not used since its last refresh, goes at an acquire
 * (mome_req_catch_up), and the manager hears of it (DROP): when no node but the owner holds the
 * page any more, the owner stops tracking its writes (directory.c start_drop). The page stays busy
 * until DROP_ACK, so that a fault meanwhile asks again only after the manager took the drop: a
 * request overtaking it would be undone by it. The acquire (op) waits for DROP_ACK as it waits for
 * a refresh: no drop is left open after it (MomeFinalize's last barrier, a checkpoint's). Any
 * other copy is dropped without a word, as before (the directory keeps counting it; a writer's,
 * whose diffs a flush must still reach).
 */
void mome_req_drop(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    int tell = pg->access == MOME_ACC_READ && (pg->flags & MOME_PG_REMOTE) &&
               !(pg->flags & (MOME_PG_BUSY | MOME_PG_OWNER | MOME_PG_TRACK | MOME_PG_DIRTY)) &&
               mome_model_of_id(pg->model)->notified;

    mome_copy_drop(s, page);
    if (!tell)
        return;
    pg->flags &= (uint16_t)~MOME_PG_REMOTE;
    mome_txn_t *t = mome_txn_new(s, s->id, page, MOME_TXN_DROP);
    if (!t)
        mome_fatal("out of memory for a drop of page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    t->model = pg->model;
    t->op = op;
    mome_op_hold(op);
    pg->flags |= MOME_PG_BUSY;
    mome_coh.outstanding++;
    mome_req_t r = {.seg = s->id, .page = page, .node = (uint32_t)mome_coh.self};
    MOME_TR(MOME_TR_DROP, s->id, page, mome_seg_manager(s, page), 0, 0);
    mome_send(mome_seg_manager(s, page), MOME_MSG_DROP, 0, &r, NULL, 0);
}

/* The manager took this node's drop: faults that came meanwhile ask for the page now. */
static void on_drop_ack(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *a = body;
    mome_txn_t *t = mome_txn_find(a->seg, a->page);
    if (!t || t->kind != MOME_TXN_DROP)
        /* One DROP_ACK per DROP, and a drop holds its node's close back (helper-115). */
        mome_fatal("node %u acknowledged a drop of page %llu of segment '%s' (%#llx), which this "
                   "node did not drop: the nodes disagree on the page; stopping",
                   m->src, (unsigned long long)a->page, mome_seg_name_of(a->seg),
                   (unsigned long long)a->seg);
    mome_seg_t *s = t->seg;
    uint64_t page = t->page;
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_op_t *op = t->op;
    mome_waiter_t *w = txn_end_empty(t, a->node);

    mome_coh.woke = 1;
    /* A notice that came meanwhile was noted against a transaction in flight: no copy is here,
     * and a request made from now on follows it (its content includes the change). */
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x) {
        if (pg->access == MOME_ACC_NONE) {
            x->stale_date = x->stale_ver = 0;
            x->stale_due = 0;
        }
        mome_pext_put(pg, x);
    }
    if (!ask_again(s, page, w, NULL) && mome_seg_is_served(s->id))
        mome_served_kick(s, page); /* a recall that waited for this transaction */
    mome_op_put(op);
}

/* ---- the message table ---- */

/* DATA always carries its grant (holder.c's send_copy, its only sender): without it the request
 * would never be granted, no DONE would go, and the page would hang job-wide. */
static const char *check_data(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    if (m->type != MOME_MSG_SYNC_OK && m->len != ctx->page_size)
        return "payload (a page)";
    if (m->type == MOME_MSG_DATA && !(m->flags & MOME_DATA_GRANT))
        return "flags (DATA carries its grant: DATA_GRANT)";
    return NULL;
}

/*
 * GRANT_NONE declines: it grants nothing, with nothing to wait for and no content. A GRANT comes
 * from the manager it names (directory.c's grant(): the entry's node sends it): DONE goes to that
 * node, and another one, with no entry for the page, would take it for a DONE crossing the
 * segment's destruction while the manager's entry stayed busy for ever.
 */
static const char *check_grant(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_grant_t *g = body;
    (void)ctx;
    if ((m->flags & MOME_GRANT_NONE) && ((m->flags & MOME_GRANT_ZERO) || g->rights || g->acks))
        return "flags (NONE: no rights, no acknowledgements, no zeros)";
    if (g->mgr != m->src)
        return "mgr (not the sender: the manager grants)";
    return NULL;
}

/* DROP_ACK: the manager that took the drop names itself (directory.c start_drop): this node's
 * next requests for the page go there. */
static const char *check_drop_ack(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    (void)ctx;
    return ((const mome_ref_t *)body)->node != m->src ? "node (not the sender: the manager)" : NULL;
}

static const mome_field_t grant_fields[] = {
    MOME_FIELD(mome_grant_t, seg, MOME_FK_RAW, 0),
    MOME_FIELD(mome_grant_t, page, MOME_FK_RAW, 0),
    MOME_FIELD(mome_grant_t, owner, MOME_FK_NODE, 0),
    MOME_FIELD(mome_grant_t, mgr, MOME_FK_NODE, 0),
    MOME_FIELD(mome_grant_t, acks, MOME_FK_NCOUNT, 0),
    MOME_FIELD(mome_grant_t, rights, MOME_FK_MASK, MOME_RIGHTS_ALL)};
static const mome_field_t data_fields[] = {
    MOME_FIELD(mome_data_t, seg, MOME_FK_RAW, 0),
    MOME_FIELD(mome_data_t, page, MOME_FK_RAW, 0),
    MOME_FIELD(mome_data_t, mgr, MOME_FK_NODE, 0),
    MOME_FIELD(mome_data_t, acks, MOME_FK_NCOUNT, 0),
    MOME_FIELD(mome_data_t, rights, MOME_FK_MASK, MOME_RIGHTS_ALL),
    MOME_FIELD(mome_data_t, ver, MOME_FK_RAW, 0)};
static const mome_field_t sync_fields[] = {MOME_FIELD(mome_data_t, seg, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_data_t, page, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_data_t, mgr, MOME_FK_NODE, 0),
                                           MOME_FIELD(mome_data_t, ver, MOME_FK_RAW, 0)};
static const mome_field_t ref_fields[] = {MOME_FIELD(mome_ref_t, seg, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, page, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, node, MOME_FK_NODE, 0)};
static const mome_field_t ref2_fields[] = {MOME_FIELD(mome_ref_t, seg, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_ref_t, page, MOME_FK_RAW, 0)};

#define NF(a) (uint8_t)(sizeof(a) / sizeof((a)[0]))

static const mome_msg_def_t req_msgs[] = {
    {.type = MOME_MSG_GRANT,
     .wire = {"GRANT", grant_fields, NF(grant_fields), MOME_GRANT_ZERO | MOME_GRANT_NONE, 0, 0},
     .body_size = sizeof(mome_grant_t), .validate = check_grant, .handler = on_grant},
    {.type = MOME_MSG_DATA,
     .wire = {"DATA", data_fields, NF(data_fields), MOME_DATA_GRANT, 0,
              MOME_LEN_PAGE},
     .body_size = sizeof(mome_data_t), .emulated = MOME_MSG_EMU_PAYLOAD, .validate = check_data,
     .handler = on_data},
    {.type = MOME_MSG_INV_ACK, .wire = {"INV_ACK", ref2_fields, NF(ref2_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t), .handler = on_inv_ack},
    {.type = MOME_MSG_DROP_ACK, .wire = {"DROP_ACK", ref_fields, NF(ref_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t), .validate = check_drop_ack, .handler = on_drop_ack},
    {.type = MOME_MSG_SYNC_DATA,
     .wire = {"SYNC_DATA", sync_fields, NF(sync_fields), 0, 0, MOME_LEN_PAGE},
     .body_size = sizeof(mome_data_t), .emulated = MOME_MSG_EMU_PAYLOAD, .validate = check_data,
     .handler = on_sync_reply},
    {.type = MOME_MSG_SYNC_OK, .wire = {"SYNC_OK", sync_fields, 3, 0, 0, 0},
     .body_size = sizeof(mome_data_t), .handler = on_sync_reply},
};

static const mome_served_req_t served_req = {.recall = mome_req_recall,
                                              .data = mome_req_served_data};

int mome_req_init(void)
{
    mome_served_set_req(&served_req);
    zero_page = mome_aligned_alloc(4096, mome_coh.page_size);
    load_buf = mome_aligned_alloc(4096, mome_coh.page_size);
    if (!zero_page || !load_buf || mome_htab_init(&syncs, 64) < 0)
        return -ENOMEM;
    memset(zero_page, 0, mome_coh.page_size);
    return mome_msg_register(req_msgs, sizeof(req_msgs) / sizeof(req_msgs[0]));
}

static void free_deferred(deferred_t **list)
{
    while (*list) {
        deferred_t *d = *list;
        *list = d->next;
        free(d);
    }
}

void mome_req_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&syncs, h, tmp)
    {
        syncops_end(((syncwait_t *)h)->ops, 0);
        syncops_end(((syncwait_t *)h)->after, 0);
        free(((syncwait_t *)h)->held);
        sync_forget_diffs((syncwait_t *)h);
        free(h);
    }
    mome_htab_free(&syncs);
    free_deferred(&after_release);
    free_deferred(&after_txn);
    free(zero_page);
    free(load_buf);
    zero_page = load_buf = NULL;
}

/* ---- what the faults wait for (the report of core/watch.c) ---- */

typedef struct describe {
    char *buf;
    size_t len, n;
    int shown, more;
    uint64_t now;
} describe_t;

static void describe_txn(const mome_txn_t *t, void *arg)
{
    describe_t *d = arg;
    const mome_waiter_t *w = t->waiters;

    if (!w)
        return; /* a read-ahead or a refresh: no thread waits for it */
    if (d->shown == 4 || d->n >= d->len) {
        d->more++;
        return;
    }
    d->n += (size_t)snprintf(d->buf + d->n, d->len - d->n,
                             "%sa %s fault on page %llu of segment '%s' for %.1f s (asked node %d "
                             "for %s%s)", d->shown++ ? "; " : "", w->write ? "write" : "read",
                             (unsigned long long)t->page, t->seg ? t->seg->name : "?",
                             (double)(d->now - w->t0) / 1e9,
                             t->seg ? mome_seg_manager(t->seg, t->page) : -1,
                             t->kind == MOME_TXN_WRITE  ? "write access"
                             : t->kind == MOME_TXN_DROP ? "the end of its drop of the page"
                                                        : "a copy",
                             !t->granted                   ? ""
                             : t->acks < t->acks_needed    ? "; granted, invalidations pending"
                             : !t->have_data               ? "; granted, content pending"
                                                           : "; granted");
}

size_t mome_req_describe_faults(char *buf, size_t len)
{
    describe_t d = {.buf = buf, .len = len, .now = mome_now_ns()};

    if (len)
        buf[0] = 0;
    mome_txn_foreach(describe_txn, &d);
    if (d.more && d.n < len)
        d.n += (size_t)snprintf(buf + d.n, len - d.n, "; %d more faults", d.more);
    return d.n < len ? d.n : len ? len - 1 : 0;
}
