/*
 * ckptflag.c - the list of flagged pages of persistent segments (MOME_PG_CKLISTED: a page is in
 * it once), so that a checkpoint visits the changed pages, not the whole segment.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coherence/ckptflag.h"

typedef struct ref {
    uint64_t seg, page;
} ref_t;

static ref_t *changed;
static size_t nchanged, cap;

/* The segment whose checkpoint runs on this node (0: none), and its pages marked since it began
 * (mome_ckpt_window): unsorted, with repeats, sorted when next asked. */
static uint64_t window_seg;
static uint64_t *during;
static size_t nduring, capduring, sorted_upto;

int mome_ckpt_init(void)
{
    changed = NULL;
    nchanged = cap = 0;
    return 0;
}

void mome_ckpt_fini(void)
{
    free(changed);
    changed = NULL;
    nchanged = cap = 0;
    mome_ckpt_window(0);
}

void mome_ckpt_window(uint64_t seg)
{
    window_seg = seg;
    free(during);
    during = NULL;
    nduring = capduring = sorted_upto = 0;
}

static int by_page(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int mome_ckpt_changed_during(const mome_seg_t *s, uint64_t page)
{
    if (!window_seg || s->id != window_seg || !nduring)
        return 0;
    if (sorted_upto != nduring) {
        qsort(during, nduring, sizeof(*during), by_page);
        sorted_upto = nduring;
    }
    return bsearch(&page, during, nduring, sizeof(*during), by_page) != NULL;
}

/* A page of the segment being checkpointed changed (or came here to be written): remembered. */
static void note_during(mome_seg_t *s, uint64_t page)
{
    if (nduring == capduring) {
        size_t nc = capduring ? capduring * 2 : 256;
        uint64_t *n = mome_realloc(during, nc * sizeof(*n));
        if (!n) /* its flag would go with the checkpoint, the change with a lost copy */
            mome_fatal("out of memory recording that page %llu of segment '%s' changed during "
                       "its checkpoint; stopping",
                       (unsigned long long)page, s->name);
        during = n;
        capduring = nc;
    }
    during[nduring++] = page;
}

static void mark(mome_seg_t *s, uint64_t page, int change)
{
    mome_page_t *pg = mome_seg_pg(s, page);

    if (!mome_store_persistent(s->store))
        return;
    if (change && s->id == window_seg)
        note_during(s, page);
    pg->flags |= MOME_PG_CKPT;
    if (pg->flags & MOME_PG_CKLISTED)
        return;
    if (nchanged == cap) {
        size_t nc = cap ? cap * 2 : 1024;
        ref_t *n = mome_realloc(changed, nc * sizeof(*n));
        /* Losing track of a changed page would lose it at the next checkpoint. */
        if (!n)
            mome_fatal("out of memory recording that page %llu of segment '%s' changed: the "
                       "next checkpoint would miss it; stopping",
                       (unsigned long long)page, s->name);
        changed = n;
        cap = nc;
    }
    changed[nchanged].seg = s->id;
    changed[nchanged].page = page;
    nchanged++;
    pg->flags |= MOME_PG_CKLISTED;
}

void mome_ckpt_mark(mome_seg_t *s, uint64_t page)
{
    mark(s, page, 1);
}

void mome_ckpt_keep(mome_seg_t *s, uint64_t page)
{
    mark(s, page, 0);
}

long mome_ckpt_flagged(mome_seg_t *s, uint64_t **pages)
{
    size_t keep = 0, n = 0, k = 0;

    *pages = NULL;
    for (size_t i = 0; i < nchanged; i++)
        n += changed[i].seg == s->id;
    if (n && !(*pages = mome_malloc(n * sizeof(**pages))))
        return -ENOMEM;
    for (size_t i = 0; i < nchanged; i++) {
        ref_t r = changed[i];
        if (r.seg != s->id) {
            if (mome_seg_page(r.seg, r.page))
                changed[keep++] = r; /* (a segment gone meanwhile leaves its entries here) */
            continue;
        }
        mome_page_t *pg = mome_seg_pg(s, r.page);
        pg->flags &= (uint16_t)~MOME_PG_CKLISTED;
        if (pg->flags & MOME_PG_CKPT)
            (*pages)[k++] = r.page;
    }
    nchanged = keep;
    if (k)
        qsort(*pages, k, sizeof(**pages), by_page);
    return (long)k;
}
