/*
 * seg.c - this node's segment records: page tables, stores, view lists.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/trace.h"
#include "coherence/seg.h"

mome_coh_t mome_coh = {.page_size = 4096, .page_shift = 12, .nnodes = 1, .acquires = 1};

static mome_htab_t segs; /* id -> mome_seg_t */

int mome_seg_init(void)
{
    return mome_htab_init(&segs, 64) < 0 ? -ENOMEM : 0;
}

void mome_seg_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&segs, h, tmp) mome_seg_free((mome_seg_t *)h);
    mome_htab_free(&segs);
}

mome_seg_t *mome_seg_new(uint64_t id, uint64_t size, const char *name,
                         const mome_store_ops_t *ops, int *err)
{
    mome_seg_t *s = mome_calloc(1, sizeof(*s));

    *err = -ENOMEM;
    if (!s)
        return NULL;
    s->id = id;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->store = mome_store_open(ops, id, size, err);
    if (!s->store)
        goto err_free;
    s->store->name = s->name; /* the record outlives its store (mome_seg_free closes it first) */
    /* Mappings cover whole pages: the last partial page of a segment is usable too. */
    s->size = s->store->size;
    s->npages = s->store->npages;
    *err = mome_ptab_init(&s->pt, s->npages);
    if (*err < 0)
        goto err_close;
    s->h.k1 = id;
    mome_htab_put(&segs, &s->h);
    if (mome_tracing()) /* so that mome-trace names it */
        mome_trace_seg_name(id, s->name);
    return s;

err_close:
    mome_store_close(s->store);
err_free:
    free(s);
    return NULL;
}

void mome_seg_free(mome_seg_t *s)
{
    mome_txn_forget_seg(s->id);
    mome_store_close(s->store);
    mome_ptab_fini(&s->pt);
    mome_htab_del(&segs, &s->h);
    free(s);
}

mome_seg_t *mome_seg_find(uint64_t id)
{
    return (mome_seg_t *)mome_htab_get(&segs, id, 0);
}

const char *mome_seg_name_of(uint64_t id)
{
    const mome_seg_t *s = mome_seg_find(id);
    return s ? s->name : "(not open here)";
}

mome_seg_t *mome_seg_page(uint64_t seg, uint64_t page)
{
    mome_seg_t *s = mome_seg_find(seg);
    return s && page < s->npages ? s : NULL;
}

void mome_seg_attach(mome_seg_t *s, mome_view_t *v)
{
    v->seg = s;
    v->seg_next = s->views;
    s->views = v;
    s->nviews++;
}

void mome_seg_detach(mome_seg_t *s, mome_view_t *v)
{
    for (mome_view_t **pp = &s->views; *pp; pp = &(*pp)->seg_next) {
        if (*pp == v) {
            *pp = v->seg_next;
            s->nviews--;
            return;
        }
    }
}
