/*
 * page.c - local page tables, transactions in flight, and waiting faults.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coherence/page.h"

static mome_htab_t txns;
static mome_htab_t pexts;
static mome_waiter_t *free_waiters;

int mome_page_default_manager(uint64_t seg, uint64_t page, int nnodes)
{
    uint64_t s = (seg * 0x9e3779b97f4a7c15ull) >> 32;
    return (int)((s + page) % (uint64_t)nnodes);
}

mome_pext_t *mome_pext_find(const mome_page_t *pg, uint64_t seg_id, uint64_t page)
{
    return (pg->flags & MOME_PG_EXT) ? (mome_pext_t *)mome_htab_get(&pexts, seg_id, page) : NULL;
}

mome_pext_t *mome_pext_get(mome_page_t *pg, uint64_t seg_id, uint64_t page)
{
    mome_pext_t *x = mome_pext_find(pg, seg_id, page);
    if (x)
        return x;
    x = mome_calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->h.k1 = seg_id;
    x->h.k2 = page;
    mome_htab_put(&pexts, &x->h);
    pg->flags |= MOME_PG_EXT;
    return x;
}

void mome_pext_put(mome_page_t *pg, mome_pext_t *x)
{
    if (!x || x->twin || x->spec || x->master || x->relpend || x->stale_date || x->has_flush ||
        x->push || x->merging || x->late || x->kept_back)
        return;
    /* A writer of a page another node owns keeps the owner's name here between releases. */
    if (pg && (pg->flags & MOME_PG_TRACK) && !(pg->flags & MOME_PG_OWNER))
        return;
    mome_htab_del(&pexts, &x->h);
    free(x);
    if (pg)
        pg->flags &= (uint16_t)~MOME_PG_EXT;
}

/* Zero pages until touched: resident size follows the pages used, not the segment size. */
static void *reserve(uint64_t n, size_t size)
{
    if (n == 0 || n > SIZE_MAX / size)
        return NULL;
    void *p = mmap(NULL, (size_t)n * size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int mome_ptab_init(mome_ptab_t *t, uint64_t npages)
{
    memset(t, 0, sizeof(*t));
    t->nleaves = (npages + MOME_PT_LEAF - 1) >> MOME_PT_LEAF_SHIFT;
    t->dir = reserve(t->nleaves, sizeof(*t->dir));
    t->pool = t->dir ? reserve(t->nleaves, MOME_PT_LEAF * sizeof(mome_page_t)) : NULL;
    if (!t->pool) {
        mome_ptab_fini(t);
        return -ENOMEM;
    }
    return 0;
}

void mome_ptab_fini(mome_ptab_t *t)
{
    if (t->dir)
        munmap(t->dir, (size_t)t->nleaves * sizeof(*t->dir));
    if (t->pool)
        munmap(t->pool, (size_t)t->nleaves * MOME_PT_LEAF * sizeof(mome_page_t));
    memset(t, 0, sizeof(*t));
}

mome_page_t *mome_ptab_leaf(mome_ptab_t *t, uint64_t page)
{
    /* One leaf per directory entry at most: the pool cannot run out. */
    mome_page_t *leaf = t->pool + t->used++ * MOME_PT_LEAF;
    t->dir[page >> MOME_PT_LEAF_SHIFT] = leaf;
    return leaf;
}

int mome_txn_init(void)
{
    if (mome_htab_init(&txns, 256) < 0 || mome_htab_init(&pexts, 256) < 0)
        return -ENOMEM;
    return 0;
}

void mome_txn_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&txns, h, tmp) mome_txn_free((mome_txn_t *)h);
    mome_htab_free(&txns);
    mome_htab_foreach(&pexts, h, tmp)
    {
        free(((mome_pext_t *)h)->twin);
        free(((mome_pext_t *)h)->spec);
        free(((mome_pext_t *)h)->master);
        free(h);
    }
    mome_htab_free(&pexts);
    while (free_waiters) {
        mome_waiter_t *w = free_waiters;
        free_waiters = w->next;
        free(w);
    }
}

mome_txn_t *mome_txn_find(uint64_t seg_id, uint64_t page)
{
    return (mome_txn_t *)mome_htab_get(&txns, seg_id, page);
}

mome_txn_t *mome_txn_new(struct mome_seg *seg, uint64_t seg_id, uint64_t page, int kind)
{
    mome_txn_t *t = mome_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->seg = seg;
    t->page = page;
    t->kind = (uint8_t)kind;
    t->h.k1 = seg_id;
    t->h.k2 = page;
    mome_htab_put(&txns, &t->h);
    return t;
}

static int unawaited;

void mome_txn_unawaited(mome_txn_t *t)
{
    if (!t->unawaited)
        unawaited++;
    t->unawaited = 1;
}

void mome_txn_awaited(mome_txn_t *t)
{
    if (t->unawaited)
        unawaited--;
    t->unawaited = 0;
}

int mome_txn_unawaited_count(void)
{
    return unawaited;
}

void mome_txn_free(mome_txn_t *t)
{
    mome_txn_awaited(t);
    mome_htab_del(&txns, &t->h);
    while (t->waiters) {
        mome_waiter_t *w = t->waiters;
        t->waiters = w->next;
        mome_waiter_free(w);
    }
    free(t->acked_more);
    free(t);
}

void mome_txn_forget_range(char *addr, size_t len)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&txns, h, tmp)
    {
        mome_txn_t *t = (mome_txn_t *)h;
        mome_waiter_t **pp = &t->waiters;
        while (*pp) {
            mome_waiter_t *w = *pp;
            if (w->addr >= addr && w->addr < addr + len) {
                *pp = w->next;
                mome_waiter_free(w);
            } else {
                pp = &w->next;
            }
        }
    }
}

int mome_txn_count_seg(uint64_t seg_id)
{
    mome_hnode_t *h, *tmp;
    int n = 0;
    mome_htab_foreach(&txns, h, tmp) n += h->k1 == seg_id;
    return n;
}

void mome_txn_forget_seg(uint64_t seg_id)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&txns, h, tmp) if (h->k1 == seg_id) mome_txn_free((mome_txn_t *)h);
    mome_htab_foreach(&pexts, h, tmp)
    {
        if (h->k1 != seg_id)
            continue;
        mome_htab_del(&pexts, h);
        free(((mome_pext_t *)h)->twin);
        free(((mome_pext_t *)h)->spec);
        free(((mome_pext_t *)h)->master);
        free(h);
    }
}

int mome_txn_count(void)
{
    return (int)txns.n;
}

mome_waiter_t *mome_waiter_new(void)
{
    mome_waiter_t *w = free_waiters;
    if (w) {
        free_waiters = w->next;
        memset(w, 0, sizeof(*w));
        return w;
    }
    return mome_calloc(1, sizeof(*w));
}

void mome_waiter_free(mome_waiter_t *w)
{
    w->next = free_waiters;
    free_waiters = w;
}

void mome_txn_foreach(void (*fn)(const mome_txn_t *t, void *arg), void *arg)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&txns, h, tmp) fn((const mome_txn_t *)h, arg);
}
