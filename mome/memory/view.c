/*
 * view.c - the address index of this node's views: a sorted array, binary searched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "memory/view.h"

static mome_view_t **views; /* sorted by address; views never overlap */
static size_t nviews, cviews;

/* First index whose view starts above addr. */
static size_t view_pos(const void *addr)
{
    size_t lo = 0, hi = nviews;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((const char *)views[mid]->addr <= (const char *)addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

mome_view_t *mome_view_find(const void *addr)
{
    size_t i = view_pos(addr);
    if (i == 0)
        return NULL;
    mome_view_t *v = views[i - 1];
    return (const char *)addr < v->addr + v->len ? v : NULL;
}

int mome_view_reserve(void)
{
    if (nviews == cviews) {
        size_t nc = cviews ? cviews * 2 : 16;
        mome_view_t **nv = mome_realloc(views, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        views = nv;
        cviews = nc;
    }
    return 0;
}

int mome_view_insert(mome_view_t *v)
{
    if (mome_view_reserve() < 0)
        return -ENOMEM;
    size_t i = view_pos(v->addr);
    memmove(&views[i + 1], &views[i], (nviews - i) * sizeof(*views));
    views[i] = v;
    nviews++;
    return 0;
}

void mome_view_remove(mome_view_t *v)
{
    for (size_t i = 0; i < nviews; i++) {
        if (views[i] == v) {
            memmove(&views[i], &views[i + 1], (nviews - i - 1) * sizeof(*views));
            nviews--;
            return;
        }
    }
}

int mome_view_overlaps(const char *a, size_t len)
{
    return mome_view_first_in(a, len, NULL) != NULL;
}

mome_view_t *mome_view_first_in(const char *a, size_t len, int (*keep)(const mome_view_t *v))
{
    for (size_t i = view_pos(a) ? view_pos(a) - 1 : 0; i < nviews; i++) {
        mome_view_t *v = views[i];
        if (v->addr >= a + len)
            break;
        if (a < v->addr + v->len && (!keep || keep(v)))
            return v;
    }
    return NULL;
}

void mome_view_fini(void)
{
    free(views);
    views = NULL;
    nviews = cviews = 0;
}
