/*
 * view.h - private: this node's views (MomeMMap aliases of Mome memory), indexed by address.
 *
 * A view maps part of one segment's region; `seg` is that segment as the coherence layer knows it
 * (coherence/seg.h, which also keeps the segment's list of views through `seg_next`). The index
 * answers "which view holds this address" for the fault path in O(log views). Progress thread
 * only.
 */
#ifndef MOME_MEMORY_VIEW_H
#define MOME_MEMORY_VIEW_H

#include <stddef.h>
#include <stdint.h>

typedef struct mome_view {
    char *addr;
    size_t len;
    uint64_t off;               /* segment offset mapped at addr */
    int writable;
    struct mome_seg *seg;       /* the segment it maps (coherence/seg.h) */
    struct mome_view *seg_next; /* the segment's other views (kept by coherence/seg.c) */
} mome_view_t;

/* The view holding addr, or NULL. */
mome_view_t *mome_view_find(const void *addr);
/* Add v to the index (-ENOMEM), remove it. */
int mome_view_insert(mome_view_t *v);
/* Room for one more view (-ENOMEM): the next mome_view_insert cannot fail. */
int mome_view_reserve(void);
void mome_view_remove(mome_view_t *v);
/* Does [a, a+len) overlap a view? */
int mome_view_overlaps(const char *a, size_t len);
/* The first view overlapping [a, a+len) for which keep(v) is true, or NULL. */
mome_view_t *mome_view_first_in(const char *a, size_t len, int (*keep)(const mome_view_t *v));
void mome_view_fini(void);

/* Address of Mome page `page` (of size 1 << shift) in v, or NULL if v does not map it. */
static inline char *mome_view_page_addr(const mome_view_t *v, uint64_t page, unsigned shift)
{
    uint64_t off = page << shift;
    if (off < v->off || off >= v->off + v->len)
        return NULL;
    return v->addr + (off - v->off);
}

/* The Mome page of segment offset mapped at a (inside v). */
static inline uint64_t mome_view_page_of(const mome_view_t *v, const char *a, unsigned shift)
{
    return (v->off + (uint64_t)(a - v->addr)) >> shift;
}

#endif
