/*
 * copy.c - this node's copies of pages: mapping, protection, dropping, twins, and the dirty and
 * stale lists.
 *
 * Local page state (page.h): access (none, read, write) as granted; TRACK when writes must be
 * noticed (this node writes a multiple-writer page: a twinning writer always, the owner once
 * others hold copies); DIRTY once such a page is written since its last release. A tracked clean
 * page is mapped write-protected, so its first write faults, twins the page if another node owns
 * the master, and marks it dirty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/stats.h"
#include "coherence/ckptflag.h"
#include "coherence/copy.h"
#include "coherence/model.h"

static mome_plist_t dirty, stale;

int mome_copy_init(void)
{
    memset(&dirty, 0, sizeof(dirty));
    memset(&stale, 0, sizeof(stale));
    return 0;
}

void mome_copy_fini(void)
{
    free(dirty.v);
    free(stale.v);
    memset(&dirty, 0, sizeof(dirty));
    memset(&stale, 0, sizeof(stale));
}

int mome_plist_add(mome_plist_t *l, uint64_t seg, uint64_t page)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        mome_pref_t *nv = mome_realloc(l->v, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].seg = seg;
    l->v[l->n].page = page;
    l->n++;
    return 0;
}

mome_plist_t *mome_copy_dirty(void)
{
    return &dirty;
}

mome_plist_t *mome_copy_stale(void)
{
    return &stale;
}

/* May a view map the page writable now? Tracked pages only once their write was noticed. */
static int map_writable(const mome_page_t *pg)
{
    return pg->access == MOME_ACC_WRITE &&
           (!(pg->flags & MOME_PG_TRACK) || (pg->flags & MOME_PG_DIRTY));
}

void mome_copy_map(mome_seg_t *s, uint64_t page, const mome_view_t *v, char *a)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    int writable = map_writable(pg) && v->writable;
    if (writable && !mome_ckpt_writable(s, page))
        writable = 0; /* persistent: writable once a write is noticed (the fault flags it) */
    int wp = !writable && v->writable; /* read-only views need no write-protect bits */
    if (mome_store_is_paged(s->store, page))
        mome_store_page_in(s->store, page); /* paged out: back before it is mapped */
    int rc = mome_store_map(s->store, page, a, wp);

    if (rc == -EEXIST) /* partly mapped before: now wholly, with the old protection */
        rc = writable ? mome_store_protect(a, 0) : mome_store_wake(a, mome_coh.page_size);
    /* -ENOENT: the view went away meanwhile (MomeMUnmap); a faulting thread then gets SIGSEGV. */
    if (rc < 0 && rc != -ENOENT)
        mome_fatal("cannot map page %llu of segment '%s' at %p: %s: a thread would wait for it "
                   "for ever; stopping",
                   (unsigned long long)page, s->name, (void *)a, strerror(-rc));
}

void mome_copy_map_all(mome_seg_t *s, uint64_t page, const mome_view_t *but)
{
    MOME_SEG_FOREACH_MAP(s, page, v, a)
    if (v != but)
        mome_copy_map(s, page, v, a);
}

void mome_copy_protect(mome_seg_t *s, uint64_t page)
{
    MOME_SEG_FOREACH_MAP(s, page, v, a)
    {
        int rc = v->writable ? mome_store_protect(a, 1) : 0;
        if (rc < 0 && rc != -ENOENT)
            mome_fatal("cannot write-protect page %llu of segment '%s' at %p: %s: its next writes "
                       "would go unnoticed; stopping",
                       (unsigned long long)page, s->name, (void *)a, strerror(-rc));
    }
}

/* Apply op to the part of pages [first, first + n) each view maps (writable views only if
 * writable_only): one system call per view. Stops the job if it fails: the consequence says why. */
static void run_views(mome_seg_t *s, uint64_t first, uint64_t n, int writable_only,
                      int (*op)(char *, size_t), const char *what, const char *consequence)
{
    uint64_t lo = first << mome_coh.page_shift, hi = (first + n) << mome_coh.page_shift;
    for (mome_view_t *v = s->views; v; v = v->seg_next) {
        uint64_t a = lo > v->off ? lo : v->off, b = hi < v->off + v->len ? hi : v->off + v->len;
        if ((writable_only && !v->writable) || a >= b)
            continue;
        int rc = op(v->addr + (a - v->off), (size_t)(b - a));
        if (rc < 0 && rc != -ENOENT)
            mome_fatal("cannot %s pages %llu to %llu of segment '%s' at %p: %s: %s; stopping", what,
                       (unsigned long long)first, (unsigned long long)(first + n - 1), s->name,
                       (void *)(v->addr + (a - v->off)), strerror(-rc), consequence);
    }
}

void mome_copy_protect_run(mome_seg_t *s, uint64_t first, uint64_t n)
{
    run_views(s, first, n, 1, mome_store_protect_range, "write-protect",
              "their next writes would go unnoticed");
}

void mome_copy_unmap_run(mome_seg_t *s, uint64_t first, uint64_t n)
{
    run_views(s, first, n, 0, mome_store_zap_range, "unmap", "stale copies would stay visible");
}

void mome_copy_unmap(mome_seg_t *s, uint64_t page)
{
    MOME_SEG_FOREACH_MAP(s, page, v, a)
    {
        int rc = mome_store_zap(a);
        if (rc < 0)
            mome_fatal("cannot unmap page %llu of segment '%s' at %p: %s: a stale copy would stay "
                       "visible; stopping",
                       (unsigned long long)page, s->name, (void *)a, strerror(-rc));
    }
}

/*
 * Once mome_copy_unmap returns, no thread can write the page (every view's entry is gone and the
 * TLBs flushed; the next access faults and waits for this thread): a write-protect before it
 * would only cost another flush (40 us on a paravirtualized guest).
 */
void mome_copy_drop(mome_seg_t *s, uint64_t page)
{
    mome_copy_unmap(s, page);
    mome_copy_forget(s, page);
}

static void forget(mome_seg_t *s, uint64_t page, int notices)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x;

    pg->access = MOME_ACC_NONE;
    /* Paged out, its bytes on another node or on disk are dead now: given back there (the pager
     * punches out the memory of a page without access for the same reason). Not while a
     * transaction is in flight: the content it brings replaces them anyway. */
    if (!(pg->flags & MOME_PG_BUSY))
        mome_store_unpage(s->store, page);
    pg->flags &= (uint16_t)~(MOME_PG_WRITING | MOME_PG_INPLACE);
    x = mome_pext_find(pg, s->id, page);
    if (x) {
        free(x->twin);
        free(x->spec);
        free(x->master);
        x->twin = x->spec = x->master = NULL;
        if (notices)
            x->stale_date = x->stale_ver = 0;
        x->push = 0;
        x->kept_back = 0;
        mome_pext_put(pg, x);
    }
}

void mome_copy_forget(mome_seg_t *s, uint64_t page)
{
    forget(s, page, 1);
}

void mome_copy_discard(mome_seg_t *s, uint64_t page)
{
    mome_copy_unmap(s, page);
    forget(s, page, 0);
}

void mome_copy_replace(mome_seg_t *s, uint64_t page, const void *data, uint64_t ver)
{
    mome_copy_unmap(s, page); /* out of every view while it changes; accesses fault back in */
    mome_copy_fill(s, page, data, ver);
}

void mome_copy_fill(mome_seg_t *s, uint64_t page, const void *data, uint64_t ver)
{
    mome_store_fill(s->store, page, data);
    mome_seg_pg(s, page)->ver = ver;
    mome_copy_settle_stale(s, page);
}

void mome_copy_rebase(mome_seg_t *s, uint64_t page, const void *data)
{
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    uint64_t *p = (uint64_t *)mome_seg_bytes(s, page), *tw = (uint64_t *)x->twin;
    const uint64_t *d = data;

    for (size_t i = 0; i < mome_coh.page_size / 8; i++) {
        uint64_t mine = p[i] ^ tw[i];
        tw[i] = d[i];
        p[i] = d[i] ^ mine;
    }
}

const uint8_t *mome_copy_apart(const mome_seg_t *s, uint64_t page)
{
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    return x ? x->master : NULL;
}

/* A page buffer, or the job stops naming the page and what it was for. */
static uint8_t *page_buf(const mome_seg_t *s, uint64_t page, const void *from, const char *what)
{
    uint8_t *b = mome_malloc(mome_coh.page_size);
    if (!b)
        mome_fatal("out of memory for the %s of page %llu of segment '%s'; stopping", what,
                   (unsigned long long)page, s->name);
    memcpy(b, from, mome_coh.page_size);
    return b;
}

uint8_t *mome_copy_split(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (x && x->master)
        return x->master;
    /* Only while this node owns the MULTI page: a flush joins them (owner.c do_flush), since the
     * directory may then let a STRONG writer take the page without a word to this node, and only
     * a request of this node's would learn whether the master is still the latest content. (A
     * twin here would be a writer's copy of a master held elsewhere: no diff comes for it.) */
    if (mome_page_model(pg) != MOME_WEAK || !(pg->flags & MOME_PG_OWNER) || (x && x->twin))
        return NULL;
    if (!(x = mome_pext_get(pg, s->id, page)))
        mome_fatal("out of memory keeping the master of page %llu of segment '%s' apart; stopping",
                   (unsigned long long)page, s->name);
    /*
     * Threads may be writing the view (an open page): master and twin are the same snapshot, so
     * each byte a thread writes is in the snapshot (in the master already) or differs from the
     * twin at the release (merged into the master then). The writes made in place before the
     * split are in the master: its release announces a new version whatever the diff holds.
     */
    x->master = page_buf(s, page, mome_seg_bytes(s, page), "master kept apart");
    x->view_ver = pg->ver;
    x->current_in = mome_coh.acquires; /* the view is the master's content in this acquire */
    if (pg->access == MOME_ACC_WRITE && (pg->flags & MOME_PG_DIRTY)) {
        x->twin = page_buf(s, page, x->master, "twin");
        free(x->spec); /* the twin says what the view changed from now on */
        x->spec = NULL;
        pg->flags &= (uint16_t)~MOME_PG_KEPT; /* write-protected by its release (release.c) */
    } else if (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK)) {
        /* Written untracked until now: its next write must fault, to take a twin. */
        pg->flags |= MOME_PG_TRACK;
        mome_copy_protect(s, page);
    }
    return x->master;
}

int mome_copy_release_apart(mome_seg_t *s, uint64_t page)
{
    mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    if (!x || !x->master)
        return 0;
    if (x->twin) {
        uint64_t *m = (uint64_t *)x->master, *tw = (uint64_t *)x->twin;
        const uint64_t *p = (const uint64_t *)mome_seg_bytes(s, page);
        for (size_t i = 0; i < mome_coh.page_size / 8; i++)
            m[i] ^= p[i] ^ tw[i];
        free(x->twin);
        x->twin = NULL;
    }
    return 1;
}

void mome_copy_join(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->master)
        return;
    if (x->twin) {
        /* Written since its release: this node's writes go on top, views write-protected
         * meanwhile. The store's copy is the master again, written in place: no twin (unless a
         * grant just made this node a twinning writer: its twin is then the master's content). */
        mome_copy_protect(s, page);
        mome_copy_rebase(s, page, x->master);
        if ((pg->flags & (MOME_PG_OWNER | MOME_PG_TRACK | MOME_PG_DIRTY)) !=
            (MOME_PG_TRACK | MOME_PG_DIRTY)) {
            free(x->twin);
            x->twin = NULL;
        }
    } else {
        mome_copy_replace(s, page, x->master, pg->ver);
    }
    free(x->master);
    x->master = NULL;
    mome_pext_put(pg, x);
}

void mome_copy_leave_apart(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->master)
        return;
    if (x->twin)
        mome_fatal("page %llu of segment '%s' (%#llx) went to another node with writes of this "
                   "node not in its master: they would be lost; stopping",
                   (unsigned long long)page, s->name, (unsigned long long)s->id);
    free(x->master);
    x->master = NULL;
    pg->ver = x->view_ver;
    mome_pext_put(pg, x);
}

int mome_copy_apart_stale(const mome_seg_t *s, uint64_t page)
{
    const mome_pext_t *x = mome_pext_find(mome_seg_pg(s, page), s->id, page);
    return x && x->master && x->current_in != mome_coh.acquires;
}

int mome_copy_weak_twin(const mome_page_t *pg)
{
    return (pg->flags & (MOME_PG_TRACK | MOME_PG_OWNER)) == MOME_PG_TRACK &&
           !mome_model_of_id(pg->model)->notified;
}

void mome_copy_stop_writing(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    if (pg->access == MOME_ACC_WRITE)
        mome_copy_protect(s, page);
    pg->access = pg->access ? MOME_ACC_READ : MOME_ACC_NONE;
}

/*
 * A write-ahead (ahead = 1) opens the page before any write: the owner then keeps a copy too, so
 * that its release tells nobody if the page was not written after all.
 */
void mome_copy_start_writing(mome_seg_t *s, uint64_t page, int ahead)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    int owner = !!(pg->flags & MOME_PG_OWNER);

    /* Listed before anything else: a dirty page that is not listed would never be released. */
    if (!(pg->flags & MOME_PG_LISTED)) {
        if (mome_plist_add(&dirty, s->id, page) < 0)
            mome_fatal("out of memory listing written page %llu of segment '%s' (it would never be "
                       "released); stopping",
                       (unsigned long long)page, s->name);
        pg->flags |= MOME_PG_LISTED;
    }
    /* A master kept apart (mome_copy_split) is not written in place: the view takes a twin. */
    int apart = owner && mome_copy_apart(s, page);
    if (!owner || ahead || apart) {
        mome_pext_t *x = mome_pext_get(pg, s->id, page);
        uint8_t **copy = x ? (owner && !apart ? &x->spec : &x->twin) : NULL;
        if (copy && !*copy && (*copy = mome_malloc(mome_coh.page_size))) {
            memcpy(*copy, mome_seg_bytes(s, page), mome_coh.page_size);
            if (!owner || apart)
                MOME_STAT_INC(twins);
        }
        if (!copy || !*copy)
            mome_fatal("out of memory for the %s of page %llu of segment '%s'; stopping",
                       owner && !apart ? "copy kept open" : "twin", (unsigned long long)page,
                       s->name);
    }
    pg->flags |= MOME_PG_DIRTY;
}

int mome_copy_forget_spec(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->spec)
        return 1;
    int changed = memcmp(mome_seg_bytes(s, page), x->spec, mome_coh.page_size) != 0;
    free(x->spec);
    x->spec = NULL;
    mome_pext_put(pg, x);
    return changed;
}

void mome_copy_served(mome_seg_t *s, uint64_t page, const void *sent)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->spec || memcmp(sent, x->spec, mome_coh.page_size) == 0)
        return;
    free(x->spec);
    x->spec = NULL;
    mome_pext_put(pg, x);
}

int mome_copy_keeps_open(const mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    const uint16_t need = MOME_PG_DIRTY | MOME_PG_TRACK | MOME_PG_OWNER;
    return (pg->flags & (need | MOME_PG_BUSY)) == need &&
           (pg->flags & (MOME_PG_WROTE | MOME_PG_KEPT)) && pg->access == MOME_ACC_WRITE &&
           !mome_store_is_paged(s->store, page) && !mome_copy_apart(s, page);
}

uint8_t *mome_copy_kept_snapshot(mome_seg_t *s, uint64_t page)
{
    size_t ps = mome_coh.page_size;
    mome_page_t *pg = mome_seg_pg(s, page);
    uint8_t *snap = mome_malloc(ps);
    if (!snap)
        mome_fatal("out of memory releasing page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    /*
     * One copy, which the release publishes and later writes are compared with: a thread writing
     * the page meanwhile changes each byte before this copy reads it (released now) or after (the
     * page then differs from the copy at the next release), never lost. The copy comes first: a
     * memcmp of the page itself, while threads write it, may answer "equal" for a page that
     * differs (glibc's x86-64 versions read the first differing bytes again to order them and
     * compare nothing after them: a flag set back meanwhile hid a change further on; helper-71).
     */
    memcpy(snap, mome_seg_bytes(s, page), ps);
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x && x->spec && memcmp(snap, x->spec, ps) == 0) {
        free(snap);
        return NULL;
    }
    return snap;
}

int mome_copy_kept_idle(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (!x) /* a kept page has its spec: not reached */
        return 0;
    int open = ++x->kept_idle < MOME_KEEP_IDLE_MAX << x->kept_back;
    if (!open) {
        x->kept_idle = 0;
        if (x->kept_back < MOME_KEEP_BACK_MAX)
            x->kept_back++;
    }
    mome_pext_put(pg, x);
    return open;
}

void mome_copy_reopen(mome_seg_t *s, uint64_t page, uint8_t *snap)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_get(pg, s->id, page);
    if (!x)
        mome_fatal("out of memory releasing page %llu of segment '%s'; stopping",
                   (unsigned long long)page, s->name);
    free(x->spec);
    x->spec = snap;
    x->kept_idle = 0;
    pg->flags |= MOME_PG_DIRTY;
    mome_ckpt_note(s, page); /* still open for writing, as a write fault would leave it */
}

void mome_copy_settle_stale(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);
    if (x && x->stale_date && pg->ver >= x->stale_ver) {
        x->stale_date = 0;
        x->stale_ver = 0;
        mome_pext_put(pg, x);
    }
}

void mome_copy_stale_passed(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    mome_pext_t *x = mome_pext_find(pg, s->id, page);

    if (!x || !x->stale_date)
        return;
    x->stale_due = 1;
    /* A copy kept while its transaction runs (an upgrade to writing, a refresh keeping writes)
     * stays in the store; the owner's master is current. */
    if (pg->access != MOME_ACC_NONE && !(pg->flags & MOME_PG_OWNER))
        mome_copy_unmap(s, page);
}

int mome_copy_lacks_due(mome_seg_t *s, uint64_t page, uint64_t ver)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);

    return x && x->stale_date && x->stale_due && ver < x->stale_ver &&
           mome_model_of_id(pg->model)->notified;
}

void mome_copy_note_stale(mome_seg_t *s, uint64_t page, uint64_t date, uint64_t ver)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    /* Without a copy here, the page's version is that of a copy gone: nothing to compare with.
     * Versions restart at 0 when a job gets a page back from momed, and a notice for the content
     * being fetched, taken for older than the copy of the page's last stay, was dropped: the
     * content fetched, older than it, stayed after an acquire that passed it (helper-121). */
    if (pg->access == MOME_ACC_NONE ? !(pg->flags & MOME_PG_BUSY) : ver <= pg->ver)
        return;
    mome_pext_t *x = mome_pext_get(pg, s->id, page);
    if (!x)
        mome_fatal("out of memory recording that page %llu of segment '%s' is stale; stopping",
                   (unsigned long long)page, s->name);
    if (!x->stale_date && mome_plist_add(&stale, s->id, page) < 0)
        mome_fatal("out of memory recording that page %llu of segment '%s' is stale: it would "
                   "never be refreshed; stopping",
                   (unsigned long long)page, s->name);
    if (!x->stale_date)
        x->stale_due = 0; /* a first notice: no acquire has passed it yet */
    if (!x->stale_date || date < x->stale_date)
        x->stale_date = date ? date : 1;
    if (ver > x->stale_ver)
        x->stale_ver = ver;
    MOME_STAT_INC(invalidations_received);
}
