/*
 * release.c - the release/acquire engine: dirty and stale page lists, releases with completion,
 * acquires, MomeSyncMem and switches between consistency models.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/consistency.h"
#include "base/log.h"
#include "mome.h"
#include "coherence/release.h"
#include "core/segment.h"
#include "base/stats.h"

typedef struct pref {
    uint64_t seg, page;
} pref_t;

typedef struct plist {
    pref_t *v;
    size_t n, cap;
} plist_t;

typedef struct rwait {
    mome_rel_cb_t cb;
    void *arg;
    struct rwait *next;
} rwait_t;

static plist_t dirty, stale;
static int rel_running;           /* a release is in flight */
static int rel_pending;           /* its acknowledgements still awaited */
static mome_date_t rel_date;      /* its date */
static rwait_t *rel_cur, *rel_next; /* callers of the running release, of the next one */

/* An operation waiting for answers (a SyncMem, a model switch, an acquire after a release). */
typedef struct relop {
    mome_cmd_t *cmd;
    int pending;
    mome_date_t date;
    int model;
    mome_rel_cb_t cb; /* acquire: continue with cb(arg) */
    void *arg;
    void (*finish)(struct relop *op);
} relop_t;

static int plist_add(plist_t *l, uint64_t seg, uint64_t page)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 256;
        pref_t *nv = realloc(l->v, nc * sizeof(*nv));
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

int mome_rel_init(void)
{
    memset(&dirty, 0, sizeof(dirty));
    memset(&stale, 0, sizeof(stale));
    rel_running = rel_pending = 0;
    rel_cur = rel_next = NULL;
    return 0;
}

static void free_waiters(rwait_t *w)
{
    while (w) {
        rwait_t *n = w->next;
        free(w);
        w = n;
    }
}

void mome_rel_fini(void)
{
    free(dirty.v);
    free(stale.v);
    memset(&dirty, 0, sizeof(dirty));
    memset(&stale, 0, sizeof(stale));
    free_waiters(rel_cur);
    free_waiters(rel_next);
    rel_cur = rel_next = NULL;
}

void mome_rel_note_dirty(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    if (pg->flags & MOME_PG_LISTED)
        return;
    if (plist_add(&dirty, s->id, page) < 0) {
        mome_error("release", "out of memory recording a written page");
        return;
    }
    pg->flags |= MOME_PG_LISTED;
}

void mome_rel_note_stale(mome_seg_t *s, uint64_t page)
{
    if (plist_add(&stale, s->id, page) < 0)
        mome_error("release", "out of memory recording a stale page");
}

/* ---- release ---- */

static void start_release(void);

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
        start_release();
    }
    while (w) {
        rwait_t *n = w->next;
        w->cb(w->arg, d);
        free(w);
        w = n;
    }
}

static void start_release(void)
{
    rel_running = 1;
    rel_pending = 0;
    rel_date = mome_clock_tick();
    for (size_t i = 0; i < dirty.n; i++) {
        mome_seg_t *s = mome_seg_find(dirty.v[i].seg);
        if (!s || dirty.v[i].page >= s->npages)
            continue;
        s->pages[dirty.v[i].page].flags &= (uint16_t)~MOME_PG_LISTED;
        rel_pending += mome_cons_release_page(s, dirty.v[i].page, rel_date);
    }
    dirty.n = 0;
    mome_cons_release_send(rel_date);
    if (rel_pending > 0)
        mome_node_outstanding(1);
    else
        finish_release();
}

void mome_rel_ack(int pages)
{
    if (rel_pending <= 0)
        return;
    rel_pending -= pages;
    if (rel_pending <= 0) {
        rel_pending = 0;
        mome_node_outstanding(-1);
        finish_release();
    }
}

void mome_rel_release(mome_rel_cb_t cb, void *arg)
{
    rwait_t *w = calloc(1, sizeof(*w));
    if (!w) {
        mome_error("release", "out of memory for a release; completing it without waiting");
        cb(arg, mome_clock_tick());
        return;
    }
    w->cb = cb;
    w->arg = arg;
    if (rel_running) {
        w->next = rel_next;
        rel_next = w;
        return;
    }
    w->next = rel_cur;
    rel_cur = w;
    start_release();
}

/* ---- acquire ---- */

static mome_pext_t *stale_of(const pref_t *r, mome_seg_t **sp)
{
    mome_seg_t *s = mome_seg_find(r->seg);
    mome_page_t *pg;
    *sp = s;
    if (!s || r->page >= s->npages)
        return NULL;
    pg = &s->pages[r->page];
    mome_pext_t *x = mome_pext_find(pg, s->id, r->page);
    return x && x->stale_date ? x : NULL;
}

static int model_of(const mome_page_t *pg)
{
    return pg->model ? pg->model : MOME_STRONG;
}

/*
 * Deal with the copies whose pending notice is dated <= d and which lack that modification: a copy
 * this node used since its last refresh is fetched again now, with the others in parallel (op
 * counts them), the rest is dropped (fetched if ever touched). Pages in [lo, hi) only when hi > lo
 * (a MomeSyncMem range); WEAK copies never (they receive no notices unless this node switched
 * model meanwhile). Copies not due yet stay listed.
 */
static void apply_stale(mome_date_t d, const char *lo, const char *hi, relop_t *op)
{
    size_t keep = 0;
    for (size_t i = 0; i < stale.n; i++) {
        mome_seg_t *s;
        mome_pext_t *x = stale_of(&stale.v[i], &s);
        if (!x)
            continue;
        uint64_t page = stale.v[i].page;
        mome_page_t *pg = &s->pages[page];
        int in_range = hi <= lo;
        for (mome_view_t *v = s->views; v && !in_range; v = v->next) {
            char *a = mome_view_page_addr(v, page);
            in_range = a && a >= lo && a < hi;
        }
        if (x->stale_date > d || !in_range || (pg->flags & MOME_PG_BUSY) ||
            model_of(pg) == MOME_WEAK) {
            stale.v[keep++] = stale.v[i];
            continue;
        }
        if (pg->ver >= x->stale_ver || (pg->flags & MOME_PG_OWNER)) {
            x->stale_date = x->stale_ver = 0;
            mome_pext_put(pg, x);
        } else if (op && (pg->flags & MOME_PG_USED)) {
            op->pending++;
            mome_cons_refresh(s, page, op); /* clears the notice (and may free x) */
        } else {
            mome_cons_drop(s, page); /* clears the notice (and may free x) */
        }
    }
    stale.n = keep;
}

/* Would applying notices up to d drop a copy that has unreleased writes? */
static int stale_dirty(mome_date_t d)
{
    for (size_t i = 0; i < stale.n; i++) {
        mome_seg_t *s;
        mome_pext_t *x = stale_of(&stale.v[i], &s);
        if (x && x->stale_date <= d && (s->pages[stale.v[i].page].flags & MOME_PG_DIRTY))
            return 1;
    }
    return 0;
}

static void acquire_done(relop_t *op)
{
    op->cb(op->arg, op->date);
    free(op);
}

/* Drop or refresh the stale copies; the acquire ends when the refreshed ones are in. */
static void acquire_apply(relop_t *op)
{
    op->pending = 1; /* held while refreshes go out */
    apply_stale(op->date, NULL, NULL, op);
    mome_rel_op_done(op);
}

static void acquire_after_release(void *arg, mome_date_t date)
{
    acquire_apply(arg);
}

void mome_rel_acquire(mome_date_t d, mome_rel_cb_t cb, void *arg)
{
    relop_t *op = calloc(1, sizeof(*op));
    if (!op) {
        mome_error("release", "out of memory for an acquire; stale copies are dropped");
        apply_stale(d, NULL, NULL, NULL);
        cb(arg, d);
        return;
    }
    op->date = d;
    op->cb = cb;
    op->arg = arg;
    op->finish = acquire_done;
    if (stale_dirty(d)) {
        /* Merging first keeps this node's own writes: they reach the master before the drop. */
        mome_rel_release(acquire_after_release, op);
        return;
    }
    acquire_apply(op);
}

/* ---- commands ---- */

static void release_done(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    c->result = date;
    mome_cmd_complete(c, 0);
}

void mome_rel_cmd_release(mome_cmd_t *c)
{
    mome_rel_release(release_done, c);
}

void mome_rel_op_done(void *arg)
{
    relop_t *op = arg;
    if (--op->pending == 0)
        op->finish(op);
}

/* Check that [p, p+len) lies inside Mome mappings; returns its first page address. */
static char *check_range(mome_cmd_t *c, const char *call, char **end)
{
    char *a = (char *)c->p;
    size_t len = (size_t)c->a[0], ps = mome_g.page_size;

    if (len == 0 || (uintptr_t)a + len < (uintptr_t)a) {
        mome_cmd_fail(c, EINVAL, "%s: empty or wrapping range", call);
        return NULL;
    }
    *end = a + len;
    a = (char *)((uintptr_t)a & ~(uintptr_t)(ps - 1));
    for (char *p = a; p < *end; p += ps) {
        if (!mome_seg_view_find(p)) {
            mome_cmd_fail(c, EINVAL, "%s: %p is not in a Mome mapping", call, (void *)p);
            return NULL;
        }
    }
    return a;
}

/* Visit every Mome page of [a, end). */
#define FOR_EACH_PAGE(_a, _end, _s, _page)                                                         \
    for (char *_p = (_a); _p < (_end); _p += mome_g.page_size)                                    \
        for (mome_view_t *_v = mome_seg_view_find(_p); _v; _v = NULL)                            \
            for (mome_seg_t *_s = _v->seg; _s; _s = NULL)                                        \
                for (uint64_t _page = (_v->off + (uint64_t)(_p - _v->addr)) >> mome_g.page_shift,  \
                              _once = 1;                                                           \
                     _once; _once = 0)

static void op_complete(relop_t *op)
{
    mome_cmd_complete(op->cmd, 0);
    free(op);
}

static void sync_after_release(void *arg, mome_date_t date)
{
    relop_t *op = arg;
    mome_cmd_t *c = op->cmd;
    char *end, *a = (char *)((uintptr_t)c->p & ~(uintptr_t)(mome_g.page_size - 1));

    end = (char *)c->p + c->a[0];
    op->pending = 1; /* held while requests go out */
    apply_stale(op->date, a, end, op);
    FOR_EACH_PAGE(a, end, s, page)
    {
        mome_page_t *pg = &s->pages[page];
        if (model_of(pg) != MOME_WEAK || pg->access == MOME_ACC_NONE ||
            (pg->flags & MOME_PG_OWNER))
            continue;
        op->pending++;
        mome_cons_sync(s, page, op);
    }
    mome_rel_op_done(op);
}

void mome_rel_cmd_sync(mome_cmd_t *c)
{
    char *end;
    relop_t *op;

    if (!check_range(c, "MomeSyncMem", &end))
        return;
    MOME_STAT_INC(syncs);
    op = calloc(1, sizeof(*op));
    if (!op) {
        mome_cmd_fail(c, ENOMEM, "MomeSyncMem: out of memory");
        return;
    }
    op->cmd = c;
    op->date = c->a[1];
    op->finish = op_complete;
    /* This node's own writes first: a refreshed copy then includes them. */
    mome_rel_release(sync_after_release, op);
}

static int strength(int model)
{
    return model == MOME_STRONG ? 3 : model == MOME_RELEASE ? 2 : 1;
}

static void model_after_release(void *arg, mome_date_t date)
{
    relop_t *op = arg;
    mome_cmd_t *c = op->cmd;
    char *end, *a = (char *)((uintptr_t)c->p & ~(uintptr_t)(mome_g.page_size - 1));

    end = (char *)c->p + c->a[0];
    op->pending = 1;
    FOR_EACH_PAGE(a, end, s, page)
    {
        mome_page_t *pg = &s->pages[page];
        int old = model_of(pg);
        pg->model = (uint8_t)op->model;
        if (strength(op->model) <= strength(old) || pg->access == MOME_ACC_NONE)
            continue;
        if (!(pg->flags & MOME_PG_OWNER)) {
            mome_cons_drop(s, page); /* fetched afresh, under the new contract, when used */
        } else if (op->model == MOME_STRONG) {
            /* The master copy is current; the directory must stop the other writers. */
            op->pending++;
            mome_cons_request(s, page, MOME_STRONG, op);
        }
    }
    mome_rel_op_done(op);
}

void mome_rel_cmd_model(mome_cmd_t *c)
{
    char *a, *end;
    int model = (int)c->a[1], stronger = 0;
    relop_t *op;

    if (model != MOME_STRONG && model != MOME_RELEASE && model != MOME_WEAK) {
        mome_cmd_fail(c, EINVAL, "MomeConsistency: unknown model %d (MOME_STRONG, MOME_RELEASE "
                                 "or MOME_WEAK)", model);
        return;
    }
    if (!(a = check_range(c, "MomeConsistency", &end)))
        return;
    FOR_EACH_PAGE(a, end, s, page)
    {
        mome_page_t *pg = &s->pages[page];
        if (strength(model) > strength(model_of(pg)) && pg->access != MOME_ACC_NONE)
            stronger = 1;
        else if (strength(model) <= strength(model_of(pg)))
            pg->model = (uint8_t)model;
    }
    if (!stronger) {
        FOR_EACH_PAGE(a, end, s, page) s->pages[page].model = (uint8_t)model;
        mome_cmd_complete(c, 0);
        return;
    }
    op = calloc(1, sizeof(*op));
    if (!op) {
        mome_cmd_fail(c, ENOMEM, "MomeConsistency: out of memory");
        return;
    }
    op->cmd = c;
    op->model = model;
    op->finish = op_complete;
    /* Stronger: make this node's view current first (own writes out, stale copies dropped). */
    mome_rel_release(model_after_release, op);
}
