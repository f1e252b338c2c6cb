/*
 * consistency.c - node side of the protocol: fault resolution, transactions, write tracking with
 * twins, releases of single pages, serving, flushing and dropping copies, applying diffs.
 *
 * Local page state (page.h): access (none, read, write) as granted; TRACK when writes must be
 * noticed (this node writes a MULTI page: a twinning writer always, the owner once others hold
 * copies); DIRTY once such a page is written since its last release. A tracked clean page is mapped
 * write-protected, so its first write faults here, twins the page if another node owns the master,
 * and marks it dirty. Invariant: access != NONE implies the memfd holds this node's copy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coherence/consistency.h"
#include "coherence/diff.h"
#include "coherence/directory.h"
#include "base/log.h"
#include "memory/memory.h"
#include "mome.h"
#include "coherence/release.h"
#include "core/segment.h"
#include "base/stats.h"

static char *zero_page; /* one page of zeros */
static uint8_t *diffbuf; /* one encoded diff */
static size_t os_page;

/* Messages a release builds, one per destination: diffs per owner, notices per manager, new
 * versions pushed to readers. */
static mome_batch_t *rel_diffs, *rel_notices, *rel_pushes;
/* Notices an owner sends after merging a batch of diffs, per manager. */
static mome_batch_t *merge_notices;

/* Refreshes of WEAK copies in flight, by page. */
typedef struct syncwait {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    void *ops[8];
    int nops;
} syncwait_t;
static mome_htab_t syncs;

static void on_sync_reply(const mome_msg_t *m);

int mome_cons_init(void)
{
    zero_page = aligned_alloc(4096, mome_g.page_size);
    diffbuf = malloc(mome_g.page_size);
    rel_diffs = calloc((size_t)mome_g.nnodes, sizeof(*rel_diffs));
    rel_notices = calloc((size_t)mome_g.nnodes, sizeof(*rel_notices));
    rel_pushes = calloc((size_t)mome_g.nnodes, sizeof(*rel_pushes));
    merge_notices = calloc((size_t)mome_g.nnodes, sizeof(*merge_notices));
    if (!zero_page || !diffbuf || !rel_diffs || !rel_notices || !rel_pushes || !merge_notices ||
        mome_htab_init(&syncs, 64) < 0)
        return -ENOMEM;
    memset(zero_page, 0, mome_g.page_size);
    os_page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

void mome_cons_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&syncs, h, tmp) free(h);
    mome_htab_free(&syncs);
    for (int i = 0; rel_diffs && i < mome_g.nnodes; i++) {
        mome_batch_free(&rel_diffs[i]);
        mome_batch_free(&rel_notices[i]);
        mome_batch_free(&rel_pushes[i]);
        mome_batch_free(&merge_notices[i]);
    }
    free(rel_diffs);
    free(rel_notices);
    free(rel_pushes);
    free(merge_notices);
    rel_diffs = rel_notices = rel_pushes = merge_notices = NULL;
    free(zero_page);
    free(diffbuf);
    zero_page = NULL;
    diffbuf = NULL;
}

static int model_of(const mome_page_t *pg)
{
    return pg->model ? pg->model : MOME_STRONG;
}

static int satisfied(const mome_page_t *pg, int write)
{
    return write ? pg->access == MOME_ACC_WRITE : pg->access != MOME_ACC_NONE;
}

/* May a view map the page writable now? Tracked pages only once their write was noticed. */
static int map_writable(const mome_page_t *pg)
{
    return pg->access == MOME_ACC_WRITE &&
           (!(pg->flags & MOME_PG_TRACK) || (pg->flags & MOME_PG_DIRTY));
}

/* Tracked and not written since its last release: every view of the page is write-protected,
 * and the next write opens it (start_writing). */
static int tracked_clean(const mome_page_t *pg)
{
    return (pg->flags & (MOME_PG_TRACK | MOME_PG_DIRTY)) == MOME_PG_TRACK;
}

static void fault_done(uint64_t t0)
{
    MOME_STAT_ADD(fault_ns, mome_now_ns() - t0);
}

static char *rt_page(const mome_seg_t *s, uint64_t page)
{
    return s->rt + (page << mome_g.page_shift);
}

/* Map a page this node holds into view v at a, writable only when map_writable() says so. */
static void map_view(const mome_page_t *pg, const mome_view_t *v, char *a)
{
    size_t ps = mome_g.page_size;
    int writable = map_writable(pg) && v->writable;
    int wp = !writable && v->writable; /* read-only views need no write-protect bits */
    int rc = mome_mem_map(a, ps, wp);

    if (rc == -EEXIST) {
        /* Some of it is mapped already (another thread, or read-only before an upgrade). */
        if (ps > os_page)
            for (size_t o = 0; o < ps; o += os_page)
                mome_mem_map(a + o, os_page, wp);
        rc = writable ? mome_mem_protect(a, ps, 0) : mome_mem_wake(a, ps);
    }
    if (rc < 0 && rc != -ENOENT)
        mome_error("consistency", "cannot map page at %p: %s", (void *)a, strerror(-rc));
}

/* Write-protect every writable view of the page. */
static void protect_views(mome_seg_t *s, uint64_t page)
{
    for (mome_view_t *v = s->views; v; v = v->next) {
        char *a = mome_view_page_addr(v, page);
        if (a && v->writable)
            mome_mem_protect(a, mome_g.page_size, 1);
    }
}

static uint32_t manager_of(const mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = &s->pages[page];
    return pg->mgr ? pg->mgr - 1 : (uint32_t)mome_dir_default_manager(s->id, page);
}

static int request_flags; /* extra MOME_MF_* for the next request (a read-ahead) */

/* Start a transaction for page, with the given waiters (and an operation to tell when done). */
static void request(mome_seg_t *s, uint64_t page, int kind, int model, mome_waiter_t *waiters,
                    void *op)
{
    mome_page_t *pg = &s->pages[page];
    mome_txn_t *t = mome_txn_new(s, page, kind);
    if (!t) {
        mome_error("consistency", "out of memory for a page request; faulting threads stay "
                                  "blocked");
        return;
    }
    t->waiters = waiters;
    t->op = op;
    pg->flags |= MOME_PG_BUSY;
    mome_msg_t m = {.type = kind == MOME_TXN_WRITE ? MOME_MSG_WRITE_REQ : MOME_MSG_READ_REQ,
                    .flags = (uint8_t)((pg->access != MOME_ACC_NONE ? MOME_MF_COPY : 0) |
                                       request_flags),
                    .seg = s->id,
                    .page = page, .node = (uint32_t)mome_g.rank, .arg2 = (uint64_t)model};
    mome_node_outstanding(1);
    mome_send((int)manager_of(s, page), &m);
}

/*
 * The first write of a tracked page since its last release: twin it if another node owns the
 * master copy, and remember it for the next release. A write-ahead (ahead = 1) opens the page
 * before any write: the owner then keeps a copy too, so that its release tells nobody if the page
 * was not written after all.
 */
static int start_writing(mome_seg_t *s, uint64_t page, int ahead)
{
    mome_page_t *pg = &s->pages[page];
    int owner = !!(pg->flags & MOME_PG_OWNER);

    if (!owner || ahead) {
        mome_pext_t *x = mome_pext_get(pg, s->id, page);
        if (!x)
            return -ENOMEM;
        uint8_t **copy = owner ? &x->spec : &x->twin;
        if (!*copy) {
            *copy = malloc(mome_g.page_size);
            if (!*copy) {
                mome_pext_put(pg, x);
                return -ENOMEM;
            }
            memcpy(*copy, rt_page(s, page), mome_g.page_size);
            if (!owner)
                MOME_STAT_INC(twins);
        }
    }
    pg->flags |= MOME_PG_DIRTY;
    mome_rel_note_dirty(s, page);
    return 0;
}

/* Forget the owner's write-ahead copy of a page (its release, flush or departure). Returns 1 if
 * the page differs from it, or if there was none (a write fault opened the page). */
static int forget_spec(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->spec)
        return 1;
    int changed = memcmp(rt_page(s, page), x->spec, mome_g.page_size) != 0;
    free(x->spec);
    x->spec = NULL;
    mome_pext_put(pg, x);
    return changed;
}

/*
 * A read fault went to the directory: ask at once for the next pages of the same view that this
 * node lacks, in parallel, and map them when they come (sequential reads then mostly find their
 * pages here). Stops at the first page held, being fetched, or outside the view.
 */
static void read_ahead(mome_seg_t *s, const mome_view_t *v, uint64_t page)
{
    uint64_t last = (v->off + v->len) >> mome_g.page_shift;
    for (uint64_t p = page + 1; p <= page + mome_g.cfg.prefetch && p < last; p++) {
        mome_page_t *pg = &s->pages[p];
        if (pg->access != MOME_ACC_NONE || (pg->flags & MOME_PG_BUSY))
            break;
        request_flags = MOME_MF_AHEAD;
        request(s, p, MOME_TXN_READ, model_of(pg), NULL, NULL);
        request_flags = 0;
        mome_txn_t *t = mome_txn_find(s->id, p);
        if (t)
            t->ahead = 1;
        MOME_STAT_INC(pages_prefetched);
    }
}

/* Map a page fetched ahead into every view of it, as a fault would. */
static void map_ahead(mome_seg_t *s, uint64_t page)
{
    for (mome_view_t *v = s->views; v; v = v->next) {
        char *a = mome_view_page_addr(v, page);
        if (a)
            map_view(&s->pages[page], v, a);
    }
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
    uint64_t last = (v->off + v->len) >> mome_g.page_shift;
    for (uint64_t p = page + 1; p <= page + mome_g.cfg.prefetch && p < last; p++) {
        mome_page_t *pg = &s->pages[p];
        if ((pg->flags & (MOME_PG_BUSY | MOME_PG_DIRTY | MOME_PG_TRACK | MOME_PG_WROTE)) !=
                (MOME_PG_TRACK | MOME_PG_WROTE) ||
            pg->access != MOME_ACC_WRITE || start_writing(s, p, 1) < 0)
            break;
        pg->flags |= MOME_PG_USED;
        map_ahead(s, p);
        MOME_STAT_INC(pages_written_ahead);
    }
}

void mome_cons_fault(char *addr, int write, uint64_t t0)
{
    size_t ps = mome_g.page_size;
    char *a = (char *)((uintptr_t)addr & ~(uintptr_t)(ps - 1));
    mome_view_t *v = mome_seg_view_find(addr);

    if (write)
        MOME_STAT_INC(write_faults);
    else
        MOME_STAT_INC(read_faults);
    if (!v) {
        /* The view went away meanwhile: let the thread retry and meet SIGSEGV. */
        mome_mem_wake(a, ps);
        return;
    }
    mome_seg_t *s = v->seg;
    uint64_t page = (v->off + (uint64_t)(a - v->addr)) >> mome_g.page_shift;
    mome_page_t *pg = &s->pages[page];

    pg->flags |= MOME_PG_USED;
    if (!(pg->flags & MOME_PG_BUSY) && satisfied(pg, write)) {
        int opens = write && tracked_clean(pg);
        if (opens && start_writing(s, page, 0) < 0) {
            mome_error("consistency", "out of memory for a twin; the writer stays blocked");
            return;
        }
        map_view(pg, v, a);
        fault_done(t0);
        mome_node_woke();
        if (opens && (pg->flags & MOME_PG_WROTE))
            write_ahead(s, v, page);
        return;
    }
    mome_waiter_t *w = mome_waiter_new();
    if (!w) {
        mome_error("consistency", "out of memory for a waiting fault");
        return;
    }
    w->addr = a;
    w->view = v;
    w->write = (uint8_t)write;
    w->t0 = t0;
    if (pg->flags & MOME_PG_BUSY) {
        mome_txn_t *t = mome_txn_find(s->id, page);
        w->next = t->waiters;
        t->waiters = w;
        return;
    }
    request(s, page, write ? MOME_TXN_WRITE : MOME_TXN_READ, model_of(pg), w, NULL);
    if (!write)
        read_ahead(s, v, page);
}

/*
 * Tell the manager the transaction is over. Safe before the content is installed: a later request
 * the manager forwards here is handled by this same thread after the install.
 */
static void send_done(mome_txn_t *t)
{
    if (t->done_sent)
        return;
    mome_msg_t done = {.type = MOME_MSG_DONE, .seg = t->seg->id, .page = t->page,
                       .node = (uint32_t)mome_g.rank};
    t->done_sent = 1;
    mome_send((int)t->mgr, &done);
}

/* Content newer than a pending notice makes the notice moot. */
static void settle_stale(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x && x->stale_date && pg->ver >= x->stale_ver) {
        x->stale_date = 0;
        x->stale_ver = 0;
        mome_pext_put(pg, x);
    }
}

/* Apply the grant's rights to the local page state. */
static void take_rights(mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = &s->pages[t->page];
    int g = t->gflags;

    if (pg->access == MOME_ACC_WRITE && !t->rw)
        protect_views(s, t->page);
    pg->access = t->rw ? MOME_ACC_WRITE : MOME_ACC_READ;
    pg->flags &= (uint16_t)~(MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK);
    if (g & MOME_MF_OWNER)
        pg->flags |= MOME_PG_OWNER;
    if (t->rw && (g & MOME_MF_SHARED))
        pg->flags |= MOME_PG_SHARED | MOME_PG_TRACK;
    if (t->rw && (g & MOME_MF_TWIN)) {
        mome_pext_t *x = mome_pext_get(pg, s->id, t->page);
        pg->flags |= MOME_PG_TRACK;
        if (x)
            x->owner = t->owner;
    }
    if (!(pg->flags & MOME_PG_TRACK))
        pg->flags &= (uint16_t)~MOME_PG_DIRTY;
    if (t->have_ver)
        pg->ver = t->ver;
    settle_stale(s, t->page);
}

static void txn_try_complete(mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg;
    mome_waiter_t *w, *again = NULL;
    void *op = t->op;

    if (!t->granted || !t->have_data || t->acks < t->acks_needed)
        return;
    pg = &s->pages[t->page];
    take_rights(t);
    pg->flags = (uint16_t)((pg->flags & ~MOME_PG_BUSY) | MOME_PG_CACHED);
    pg->mgr = t->mgr + 1;
    send_done(t);
    mome_node_outstanding(-1);
    mome_node_woke();

    w = t->waiters;
    t->waiters = NULL;
    uint64_t page = t->page;
    int ahead = t->ahead && !w;
    mome_txn_free(t);
    if (ahead)
        map_ahead(s, page);
    while (w) {
        mome_waiter_t *next = w->next;
        if (satisfied(pg, w->write)) {
            if (w->write && tracked_clean(pg))
                start_writing(s, page, 0);
            if (!w->mapped)
                map_view(pg, w->view, w->addr);
            fault_done(w->t0);
            mome_waiter_free(w);
        } else {
            w->mapped = 0;
            w->next = again;
            again = w;
        }
        w = next;
    }
    if (again)
        request(s, page, MOME_TXN_WRITE, model_of(pg), again, NULL);
    if (op)
        mome_rel_op_done(op);
}

/*
 * Put content into the page. When it completes the transaction, install it atomically in the
 * first waiter's view (one UFFDIO_COPY); otherwise copy it through the runtime view while no view
 * maps the page, and map later.
 */
static void install(mome_txn_t *t, const void *data)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = &s->pages[t->page];
    size_t ps = mome_g.page_size;
    mome_waiter_t *w = t->waiters;
    int rc = -EEXIST;

    if (t->granted && t->acks >= t->acks_needed && w && (!w->write || t->rw) &&
        !(pg->flags & MOME_PG_CACHED) && !(t->rw && (t->gflags & (MOME_MF_SHARED | MOME_MF_TWIN)))) {
        int wp = !t->rw && w->view->writable;
        rc = mome_mem_install(w->addr, ps, data, wp);
        w->mapped = rc == 0;
    }
    if (rc < 0) {
        if (pg->access != MOME_ACC_NONE) /* a stale copy still mapped: unmap it first */
            mome_cons_drop(s, t->page);
        memcpy(rt_page(s, t->page), data, ps);
    }
    pg->flags |= MOME_PG_CACHED;
    t->have_data = 1;
}

static mome_txn_t *txn_of(const mome_msg_t *m)
{
    mome_txn_t *t = mome_txn_find(m->seg, m->page);
    if (!t)
        mome_warn("consistency", "%s for page %llu of segment %#llx without a request; ignored",
                  mome_msg_type_name(m->type), (unsigned long long)m->page,
                  (unsigned long long)m->seg);
    return t;
}

static void take_grant(mome_txn_t *t, const mome_msg_t *m)
{
    t->granted = 1;
    t->rw = !!(m->flags & MOME_MF_RW);
    t->gflags = m->flags;
    t->acks_needed = (int32_t)m->count;
    t->mgr = (uint32_t)m->arg;
}

static void on_grant(const mome_msg_t *m)
{
    mome_txn_t *t = txn_of(m);
    if (!t)
        return;
    take_grant(t, m);
    t->owner = m->node;
    if (m->flags & MOME_MF_ZERO) {
        t->ver = 0;
        t->have_ver = 1;
        install(t, zero_page);
    } else {
        t->have_data = 1; /* it keeps its own copy */
    }
    txn_try_complete(t);
}

static void on_data(const mome_msg_t *m)
{
    mome_txn_t *t;

    if (m->flags & MOME_MF_SYNC) {
        on_sync_reply(m);
        return;
    }
    t = txn_of(m);
    if (!t)
        return;
    if (m->flags & MOME_MF_GRANT)
        take_grant(t, m);
    t->owner = m->src;
    t->ver = m->arg2;
    t->have_ver = 1;
    if (m->src != (uint32_t)mome_g.rank)
        MOME_STAT_INC(pages_fetched);
    if (t->granted && t->acks >= t->acks_needed)
        send_done(t); /* off the faulting thread's path: before the install wakes it */
    install(t, (m->flags & MOME_MF_ZERO) ? zero_page : m->payload);
    txn_try_complete(t);
}

static void on_inv_ack(const mome_msg_t *m)
{
    mome_txn_t *t = txn_of(m);
    if (!t)
        return;
    t->acks++;
    txn_try_complete(t);
}

/* Stop writing: from now on this node only reads its copy (a STRONG downgrade). */
static void stop_writing(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    if (pg->access == MOME_ACC_WRITE)
        protect_views(s, page);
    pg->access = pg->access ? MOME_ACC_READ : MOME_ACC_NONE;
}

/* Remove the page from every view: the next access faults (and is resolved from the state). */
static void unmap_views(mome_seg_t *s, uint64_t page)
{
    for (mome_view_t *v = s->views; v; v = v->next) {
        char *a = mome_view_page_addr(v, page);
        int rc = a ? mome_mem_zap(a, mome_g.page_size) : 0;
        if (rc < 0)
            mome_error("consistency", "cannot unmap page %llu: %s", (unsigned long long)page,
                       strerror(-rc));
    }
}

void mome_cons_drop(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x;

    if (pg->access == MOME_ACC_WRITE)
        protect_views(s, page);
    unmap_views(s, page);
    pg->access = MOME_ACC_NONE;
    pg->flags &= (uint16_t)~(MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY);
    x = mome_pext_find(pg, s->id, page);
    if (x) {
        free(x->twin);
        free(x->spec);
        x->twin = x->spec = NULL;
        x->stale_date = x->stale_ver = 0;
        x->push = 0;
        mome_pext_put(pg, x);
    }
}

static mome_seg_t *holder_seg(const mome_msg_t *m)
{
    mome_seg_t *s = mome_seg_find(m->seg);
    if (!s || m->page >= s->npages)
        return NULL;
    return s;
}

/* The owner hands out content: writes it did untracked since its version was set count now. */
static void bump_if_untracked(mome_page_t *pg)
{
    if (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK))
        pg->ver++;
}

/* Others are getting a copy of a page this node writes: from now on track its writes. */
static void start_sharing(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    pg->flags |= MOME_PG_SHARED;
    if (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK)) {
        pg->flags |= MOME_PG_TRACK;
        pg->flags &= (uint16_t)~MOME_PG_DIRTY;
        protect_views(s, page);
    }
}

/* Send this node's copy to the requester with the grant the manager delegated to us. */
static void send_copy(const mome_msg_t *m, mome_seg_t *s, int flags)
{
    mome_msg_t d = {.type = MOME_MSG_DATA, .seg = m->seg, .page = m->page,
                    .flags = (uint8_t)(MOME_MF_GRANT | flags), .count = m->count, .arg = m->src};
    if (!s || s->pages[m->page].access == MOME_ACC_NONE) {
        mome_error("consistency", "asked for page %llu of segment %#llx which this node does "
                                  "not hold; sending zeros", (unsigned long long)m->page,
                   (unsigned long long)m->seg);
        d.flags |= MOME_MF_ZERO;
        mome_send((int)m->node, &d);
        return;
    }
    d.arg2 = s->pages[m->page].ver;
    if (m->type == MOME_MSG_FWD_SNAP && flags == 0 && m->arg2 == MOME_RELEASE &&
        (s->pages[m->page].flags & MOME_PG_OWNER) && m->node < 64 &&
        m->node != (uint32_t)mome_g.rank) {
        /* A RELEASE reader of a page this node writes: push it the new versions at release. */
        mome_pext_t *x = mome_pext_get(&s->pages[m->page], s->id, m->page);
        if (x)
            x->push |= 1ull << m->node;
    }
    /* Straight from the runtime view: the send copies it before returning (or keeps a copy). */
    d.flags |= MOME_MF_DATA;
    d.payload = rt_page(s, m->page);
    d.len = (uint32_t)mome_g.page_size;
    mome_send((int)m->node, &d);
    if (m->node != (uint32_t)mome_g.rank)
        MOME_STAT_INC(pages_sent);
}

static void on_fwd_read(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    if (s && s->pages[m->page].access != MOME_ACC_NONE) {
        bump_if_untracked(&s->pages[m->page]);
        stop_writing(s, m->page);
    }
    send_copy(m, s, m->flags);
}

static void on_fwd_write(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    if (s && s->pages[m->page].access != MOME_ACC_NONE) {
        bump_if_untracked(&s->pages[m->page]);
        stop_writing(s, m->page);
    }
    send_copy(m, s, m->flags);
    if (!s || s->pages[m->page].access == MOME_ACC_NONE)
        return;
    if (m->arg2) {
        /* It stays a reader (a RELEASE or WEAK copy) of a page it no longer owns. */
        forget_spec(s, m->page);
        s->pages[m->page].flags &=
            (uint16_t)~(MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY);
    } else {
        mome_cons_drop(s, m->page);
    }
}

static void on_fwd_snap(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    if (s && s->pages[m->page].access != MOME_ACC_NONE) {
        mome_page_t *pg = &s->pages[m->page];
        bump_if_untracked(pg);
        if (pg->flags & MOME_PG_OWNER)
            start_sharing(s, m->page);
    }
    send_copy(m, s, m->flags);
}

static void on_inv(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    if (s && s->pages[m->page].access != MOME_ACC_NONE)
        mome_cons_drop(s, m->page);
    MOME_STAT_INC(invalidations_received);
    mome_msg_t ack = {.type = MOME_MSG_INV_ACK, .seg = m->seg, .page = m->page};
    mome_send((int)m->node, &ack);
}

static void flush_ack(const mome_msg_t *m, uint32_t mgr)
{
    mome_msg_t ack = {.type = MOME_MSG_FLUSH_ACK, .seg = m->seg, .page = m->page};
    mome_send((int)mgr, &ack);
}

/*
 * This node's changes of a page whose master another node owns: page XOR twin, as runs or whole.
 * flush_mgr < 0: a release (appended to the batch for the owner, whose notice is acknowledged to
 * this node); else part of a flush (sent at once; the owner acknowledges that manager). Returns 1
 * when an acknowledgement will follow.
 */
static int send_diff(mome_seg_t *s, uint64_t page, uint64_t date, int flush_mgr)
{
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    int full;
    size_t n;

    if (!x || !x->twin)
        return 0;
    n = mome_diff_encode((const uint8_t *)rt_page(s, page), x->twin, mome_g.page_size, diffbuf,
                         &full);
    free(x->twin);
    x->twin = NULL;
    if (flush_mgr < 0) /* a release: predicts whether write-ahead opens the page next time */
        pg->flags = (uint16_t)(n ? pg->flags | MOME_PG_WROTE : pg->flags & ~MOME_PG_WROTE);
    if (n == 0) {
        mome_pext_put(pg, x);
        return 0;
    }
    MOME_STAT_INC(diffs);
    MOME_STAT_ADD(diff_bytes, n);
    pg->flags |= MOME_PG_USED; /* written this interval: worth refreshing at the next acquire */
    if (flush_mgr < 0) {
        if (mome_batch_diff(&rel_diffs[x->owner], s->id, page, diffbuf, (uint32_t)n,
                            full ? MOME_MF_FULL : 0) < 0) {
            mome_error("consistency", "out of memory batching a diff; page %llu not released",
                       (unsigned long long)page);
            return 0;
        }
        x->relpend++;
        return 1;
    }
    mome_batch_t one = {0};
    if (mome_batch_diff(&one, s->id, page, diffbuf, (uint32_t)n, full ? MOME_MF_FULL : 0) < 0) {
        mome_error("consistency", "out of memory flushing page %llu", (unsigned long long)page);
        return 0;
    }
    mome_msg_t d = {.type = MOME_MSG_DIFF, .node = (uint32_t)mome_g.rank, .arg = date,
                    .arg2 = (uint64_t)flush_mgr, .flags = MOME_MF_FLUSH, .payload = one.buf,
                    .len = (uint32_t)one.len};
    mome_send((int)x->owner, &d);
    mome_batch_free(&one);
    mome_pext_put(pg, x);
    return 1;
}

/*
 * The directory turns the page STRONG: release this node's changes now (a twinning writer's diff
 * is acknowledged to the manager by the owner once merged), stop writing, and drop the copy if
 * asked. Waits for this page's releases still in flight, so no diff arrives after the flush.
 */
static void do_flush(mome_seg_t *s, uint64_t page, uint32_t mgr, int drop)
{
    mome_page_t *pg = &s->pages[page];
    mome_msg_t ref = {.seg = s->id, .page = page};
    int acked_by_owner = 0;

    if (pg->access != MOME_ACC_NONE && (pg->flags & MOME_PG_DIRTY)) {
        protect_views(s, page);
        pg->flags &= (uint16_t)~MOME_PG_DIRTY;
        if (pg->flags & MOME_PG_OWNER)
            pg->ver += (uint64_t)forget_spec(s, page);
        else
            acked_by_owner = send_diff(s, page, mome_clock_now(), (int)mgr);
    }
    if (!acked_by_owner)
        flush_ack(&ref, mgr);
    if (pg->access == MOME_ACC_NONE)
        return;
    if (drop) {
        mome_cons_drop(s, page);
        MOME_STAT_INC(invalidations_received);
    } else {
        /* The page turns STRONG: its master is just the latest content from now on. */
        mome_pext_t *x = mome_pext_find(pg, s->id, page);
        stop_writing(s, page);
        pg->flags &= (uint16_t)~(MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY);
        if (x) {
            x->push = 0;
            mome_pext_put(pg, x);
        }
    }
}

static void on_flush(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    mome_page_t *pg;
    mome_pext_t *x;

    if (!s) {
        flush_ack(m, (uint32_t)m->src);
        return;
    }
    pg = &s->pages[m->page];
    x = mome_pext_find(pg, s->id, m->page);
    if (x && x->relpend) {
        x->has_flush = 1;
        x->flush_mgr = m->src;
        x->flush_drop = m->count;
        return;
    }
    do_flush(s, m->page, m->src, (int)m->count);
}

/* Send every non-empty batch of `b` (one per node) as messages of `type` and empty them. */
static void send_batches(mome_batch_t *b, int type, uint64_t date, uint32_t origin)
{
    for (int to = 0; to < mome_g.nnodes; to++) {
        if (!b[to].n)
            continue;
        mome_msg_t m = {.type = (uint8_t)type, .node = origin, .arg = date, .payload = b[to].buf,
                        .len = (uint32_t)b[to].len};
        mome_send(to, &m);
        mome_batch_reset(&b[to]);
    }
}

/* Merge one writer's diff into the master copy held here. */
static int merge(const mome_entry_t *e, uint32_t origin)
{
    mome_seg_t *s = mome_seg_find(e->seg);
    mome_page_t *pg = s && e->page < s->npages ? &s->pages[e->page] : NULL;
    int rc = -ENOENT, full = !!(e->flags & MOME_MF_FULL);

    /*
     * Diffs always reach the node holding the master: a flush waits for every writer's diffs in
     * flight before the master moves. They may arrive after this node's own FLUSH ended its MULTI
     * ownership, so merge them whenever the copy is here.
     */
    if (pg && pg->access != MOME_ACC_NONE) {
        /* Application threads may be writing other bytes of the page unless its views are
         * write-protected: then the whole page can be XORed at once. */
        rc = (tracked_clean(pg) ? mome_diff_apply : mome_diff_apply_sparse)(
            (uint8_t *)rt_page(s, e->page), mome_g.page_size, e->data, e->len, full);
    }
    mome_pext_t *x = rc == 0 ? mome_pext_find(pg, s->id, e->page) : NULL;
    if (x && x->spec) /* a write-ahead copy: others' changes are not this node's writes */
        mome_diff_apply(x->spec, mome_g.page_size, e->data, e->len, full);
    if (rc < 0) {
        mome_error("consistency", "diff from node %u for page %llu not applied (%s)", origin,
                   (unsigned long long)e->page, rc == -ENOENT ? "no copy here" : "malformed");
        return rc;
    }
    pg->ver++;
    return 0;
}

/* This node owns the master copies: merge a writer's diffs, then announce the new versions. */
static void on_diff(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_entry_t e;
    size_t k;

    while ((k = mome_batch_read(MOME_MSG_DIFF, p, end, &e)) > 0) {
        p += k;
        int rc = merge(&e, m->node);
        if (m->flags & MOME_MF_FLUSH) {
            mome_msg_t ref = {.seg = e.seg, .page = e.page};
            flush_ack(&ref, (uint32_t)m->arg2);
            continue;
        }
        mome_seg_t *s = mome_seg_find(e.seg);
        uint64_t ver = rc == 0 ? s->pages[e.page].ver : 0;
        int mgr = s ? (int)manager_of(s, e.page) : mome_dir_default_manager(e.seg, e.page);
        if (mome_batch_notice(&merge_notices[mgr], e.seg, e.page, ver) < 0)
            mome_error("consistency", "out of memory for a notice; the writer's release hangs");
    }
    send_batches(merge_notices, MOME_MSG_NOTICE, m->arg, m->node);
}

/* Remember that this copy lacks a modification released at `date` (master version `ver`). */
static void note_stale(uint64_t seg, uint64_t page, uint64_t date, uint64_t ver)
{
    mome_seg_t *s = mome_seg_find(seg);
    if (!s || page >= s->npages)
        return;
    mome_page_t *pg = &s->pages[page];
    if ((pg->access == MOME_ACC_NONE && !(pg->flags & MOME_PG_BUSY)) || ver <= pg->ver)
        return;
    mome_pext_t *x = mome_pext_get(pg, s->id, page);
    if (!x)
        return;
    if (!x->stale_date)
        mome_rel_note_stale(s, page);
    if (!x->stale_date || date < x->stale_date)
        x->stale_date = date ? date : 1;
    if (ver > x->stale_ver)
        x->stale_ver = ver;
    MOME_STAT_INC(invalidations_received);
}

static void on_stale(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_entry_t e;
    size_t k;

    while ((k = mome_batch_read(MOME_MSG_STALE, p, end, &e)) > 0) {
        p += k;
        note_stale(e.seg, e.page, m->arg, e.ver);
    }
    mome_msg_t ack = {.type = MOME_MSG_STALE_ACK, .count = m->count};
    mome_send((int)m->src, &ack);
}

/* One released page is known to every holder: end its release, run a flush that waited. */
static void released(uint64_t seg, uint64_t page)
{
    mome_seg_t *s = mome_seg_find(seg);
    if (!s || page >= s->npages)
        return;
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x && x->relpend && --x->relpend == 0 && x->has_flush) {
        uint32_t mgr = x->flush_mgr;
        int drop = (int)x->flush_drop;
        x->has_flush = 0;
        mome_pext_put(pg, x); /* do_flush may drop the page: x must not be used after */
        do_flush(s, page, mgr, drop);
    } else if (x) {
        mome_pext_put(pg, x);
    }
}

static void on_notice_ack(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_entry_t e;
    size_t k;
    int n = 0;

    while ((k = mome_batch_read(MOME_MSG_NOTICE_ACK, p, end, &e)) > 0) {
        p += k;
        released(e.seg, e.page);
        n++;
    }
    mome_rel_ack(n);
}

/* This node owns the master: a WEAK holder asks whether its version is current. */
static void on_fwd_sync(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    mome_page_t *pg = s ? &s->pages[m->page] : NULL;

    if (pg && pg->access != MOME_ACC_NONE) {
        bump_if_untracked(pg);
        if ((m->flags & MOME_MF_RW) || pg->ver > m->arg2) {
            mome_msg_t d = {.type = MOME_MSG_DATA, .seg = m->seg, .page = m->page,
                            .flags = MOME_MF_DATA | MOME_MF_SYNC, .arg = m->src,
                            .arg2 = pg->ver, .payload = rt_page(s, m->page),
                            .len = (uint32_t)mome_g.page_size};
            mome_send((int)m->node, &d);
            return;
        }
    }
    mome_msg_t ok = {.type = MOME_MSG_SYNC_OK, .seg = m->seg, .page = m->page, .arg = m->src};
    mome_send((int)m->node, &ok);
}

/* The answer to this node's SYNC_REQ: new content for its WEAK copy, or none (SYNC_OK). */
static void on_sync_reply(const mome_msg_t *m)
{
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, m->seg, m->page);
    mome_seg_t *s = holder_seg(m);

    if (m->type == MOME_MSG_DATA && s) {
        mome_page_t *pg = &s->pages[m->page];
        if (pg->access != MOME_ACC_NONE && !(pg->flags & MOME_PG_DIRTY)) {
            /* Out of every view while it changes; accesses fault back in. */
            unmap_views(s, m->page);
            memcpy(rt_page(s, m->page), m->payload, mome_g.page_size);
            pg->ver = m->arg2;
            settle_stale(s, m->page);
            if (m->src != (uint32_t)mome_g.rank)
                MOME_STAT_INC(pages_fetched);
        }
    }
    mome_msg_t done = {.type = MOME_MSG_DONE, .seg = m->seg, .page = m->page,
                       .node = (uint32_t)mome_g.rank};
    mome_send((int)m->arg, &done);
    if (!w)
        return;
    mome_htab_del(&syncs, &w->h);
    for (int i = 0; i < w->nops; i++)
        mome_rel_op_done(w->ops[i]);
    free(w);
}

/*
 * A new version pushed by the page's owner at its release: replace a RELEASE read copy with it (a
 * pure shortcut: the notices still decide what is stale). The copy leaves the views, so its next
 * use faults locally and tells whether the page is still read: the ack asks for more pushes only
 * if it was used since the previous one.
 */
static int take_push(const mome_entry_t *e)
{
    mome_seg_t *s = mome_seg_find(e->seg);
    if (!s || e->page >= s->npages)
        return 0;
    mome_page_t *pg = &s->pages[e->page];
    if (model_of(pg) != MOME_RELEASE || pg->access != MOME_ACC_READ ||
        (pg->flags & (MOME_PG_TRACK | MOME_PG_DIRTY | MOME_PG_OWNER)))
        return 0;
    if ((pg->flags & MOME_PG_BUSY) || e->ver <= pg->ver)
        return 1; /* a transaction or a newer copy is here: keep the subscription */
    int used = !!(pg->flags & MOME_PG_USED);
    unmap_views(s, e->page);
    memcpy(rt_page(s, e->page), e->data, mome_g.page_size);
    pg->ver = e->ver;
    pg->flags &= (uint16_t)~MOME_PG_USED;
    settle_stale(s, e->page);
    MOME_STAT_INC(pages_fetched);
    return used;
}

static void on_push(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_batch_t ack = {0};
    mome_entry_t e;
    size_t k;

    while ((k = mome_batch_read(MOME_MSG_PUSH, p, end, &e)) > 0) {
        p += k;
        if (mome_batch_notice(&ack, e.seg, e.page, (uint64_t)take_push(&e)) < 0)
            mome_error("consistency", "out of memory acknowledging a push");
    }
    mome_msg_t a = {.type = MOME_MSG_PUSH_ACK, .payload = ack.buf, .len = (uint32_t)ack.len};
    if (ack.n)
        mome_send((int)m->src, &a);
    mome_batch_free(&ack);
}

static void on_push_ack(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_entry_t e;
    size_t k;
    int n = 0;

    while ((k = mome_batch_read(MOME_MSG_PUSH_ACK, p, end, &e)) > 0) {
        p += k;
        n++;
        mome_seg_t *s = mome_seg_find(e.seg);
        if (e.ver || !s || e.page >= s->npages || m->src >= 64)
            continue;
        mome_page_t *pg = &s->pages[e.page];
        mome_pext_t *x = mome_pext_find(pg, s->id, e.page);
        if (x) {
            x->push &= ~(1ull << m->src); /* no longer read there: stop pushing */
            mome_pext_put(pg, x);
        }
    }
    mome_rel_ack(n);
}

void mome_cons_msg(const mome_msg_t *m)
{
    switch (m->type) {
    case MOME_MSG_GRANT: on_grant(m); break;
    case MOME_MSG_DATA: on_data(m); break;
    case MOME_MSG_INV_ACK: on_inv_ack(m); break;
    case MOME_MSG_FWD_READ: on_fwd_read(m); break;
    case MOME_MSG_FWD_WRITE: on_fwd_write(m); break;
    case MOME_MSG_FWD_SNAP: on_fwd_snap(m); break;
    case MOME_MSG_FWD_SYNC: on_fwd_sync(m); break;
    case MOME_MSG_INV: on_inv(m); break;
    case MOME_MSG_FLUSH: on_flush(m); break;
    case MOME_MSG_DIFF: on_diff(m); break;
    case MOME_MSG_STALE: on_stale(m); break;
    case MOME_MSG_NOTICE_ACK: on_notice_ack(m); break;
    case MOME_MSG_SYNC_OK: on_sync_reply(m); break;
    case MOME_MSG_PUSH: on_push(m); break;
    case MOME_MSG_PUSH_ACK: on_push_ack(m); break;
    default: break;
    }
}

void mome_cons_hint(uint64_t seg, uint64_t page, int node)
{
    mome_seg_t *s = mome_seg_find(seg);
    if (s && page < s->npages)
        s->pages[page].mgr = (uint32_t)node + 1;
}

int mome_cons_release_page(mome_seg_t *s, uint64_t page, uint64_t date)
{
    mome_page_t *pg = &s->pages[page];
    mome_pext_t *x;

    if (!(pg->flags & MOME_PG_DIRTY) || pg->access == MOME_ACC_NONE)
        return 0;
    protect_views(s, page); /* writes from now on start the next interval */
    pg->flags &= (uint16_t)~MOME_PG_DIRTY;
    if (!(pg->flags & MOME_PG_OWNER))
        return send_diff(s, page, date, -1);
    if (!forget_spec(s, page)) {
        pg->flags &= (uint16_t)~MOME_PG_WROTE; /* opened ahead, not written: nothing to tell */
        return 0;
    }
    pg->flags |= MOME_PG_WROTE;
    pg->ver++;
    if (!(pg->flags & MOME_PG_SHARED))
        return 0; /* nobody else holds a copy: nobody to tell */
    x = mome_pext_get(pg, s->id, page);
    if (!x || mome_batch_notice(&rel_notices[manager_of(s, page)], s->id, page, pg->ver) < 0)
        return 0;
    x->relpend++;
    int acks = 1;
    for (int n = 0; x->push && n < 64 && n < mome_g.nnodes; n++) {
        if (!(x->push & (1ull << n)))
            continue;
        if (mome_batch_push(&rel_pushes[n], s->id, page, pg->ver, rt_page(s, page),
                            (uint32_t)mome_g.page_size) == 0)
            acks++;
    }
    return acks;
}

void mome_cons_release_send(uint64_t date)
{
    send_batches(rel_diffs, MOME_MSG_DIFF, date, (uint32_t)mome_g.rank);
    send_batches(rel_notices, MOME_MSG_NOTICE, date, (uint32_t)mome_g.rank);
    send_batches(rel_pushes, MOME_MSG_PUSH, date, (uint32_t)mome_g.rank);
}

void mome_cons_refresh(mome_seg_t *s, uint64_t page, void *op)
{
    mome_page_t *pg = &s->pages[page];
    int writer = pg->access == MOME_ACC_WRITE && (pg->flags & MOME_PG_TRACK) &&
                 !(pg->flags & MOME_PG_OWNER);

    pg->flags &= (uint16_t)~MOME_PG_USED;
    if (pg->flags & MOME_PG_BUSY) {
        mome_cons_drop(s, page);
        mome_rel_op_done(op);
        return;
    }
    /* Out of every view now; the current content comes back as if this node had faulted. */
    mome_cons_drop(s, page);
    request(s, page, writer ? MOME_TXN_WRITE : MOME_TXN_READ, model_of(pg), NULL, op);
}

void mome_cons_request(mome_seg_t *s, uint64_t page, int model, void *op)
{
    mome_page_t *pg = &s->pages[page];
    if (pg->flags & MOME_PG_BUSY) {
        /* A fault's request is in flight: the model switch waits for nothing more. */
        mome_rel_op_done(op);
        return;
    }
    request(s, page, MOME_TXN_READ, model, NULL, op);
}

void mome_cons_sync(mome_seg_t *s, uint64_t page, void *op)
{
    syncwait_t *w = (syncwait_t *)mome_htab_get(&syncs, s->id, page);
    if (w && w->nops < 8) {
        w->ops[w->nops++] = op; /* the refresh in flight serves this caller too */
        return;
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        mome_rel_op_done(op);
        return;
    }
    w->h.k1 = s->id;
    w->h.k2 = page;
    w->ops[w->nops++] = op;
    mome_htab_put(&syncs, &w->h);
    mome_msg_t m = {.type = MOME_MSG_SYNC_REQ, .seg = s->id, .page = page,
                    .node = (uint32_t)mome_g.rank, .arg2 = s->pages[page].ver};
    mome_send((int)manager_of(s, page), &m);
}
