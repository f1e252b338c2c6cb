/*
 * segment.h - private: segments (named, job-wide) and this node's views of them.
 *
 * A segment's name lives with its name manager (a hash of the name), which assigns the job-wide
 * id and counts which nodes use it, so any node may open any name in any order. On each node a
 * segment has a region of Mome memory, a page table, and the views (MomeMMap aliases) into it.
 * Progress thread only.
 */
#ifndef MOME_SEGMENT_H
#define MOME_SEGMENT_H

#include <stdint.h>

#include "base/hash.h"
#include "core/node.h"
#include "coherence/page.h"

#define MOME_HEAP_SEG_ID (1ull << 63)

typedef struct mome_view {
    char *addr;
    size_t len;
    uint64_t off; /* segment offset mapped at addr */
    int writable;
    struct mome_seg *seg;
    struct mome_view *next; /* in seg->views */
} mome_view_t;

typedef struct mome_seg {
    mome_hnode_t h; /* k1 = id */
    uint64_t id;
    uint64_t size;   /* bytes, whole pages */
    uint64_t npages;
    uint64_t base;   /* file offset of page 0 in Mome memory */
    char *rt;        /* the runtime's view of the region (progress thread only) */
    mome_page_t *pages;
    mome_view_t *views;
    int handles;     /* open handles on this node */
    int nviews;
    int opens;       /* SEG_OPENs not yet matched by a SEG_CLOSE */
    char name[MOME_SEG_NAME_MAX + 1];
} mome_seg_t;

int mome_seg_init(void);
void mome_seg_fini(void);

mome_seg_t *mome_seg_find(uint64_t id);
mome_view_t *mome_seg_view_find(const void *addr);

/* File offset of a page in Mome memory. */
static inline uint64_t mome_seg_page_off(const mome_seg_t *s, uint64_t page)
{
    return s->base + (page << mome_g.page_shift);
}

/* Address of page in view v, or NULL if v does not map it. */
static inline char *mome_view_page_addr(const mome_view_t *v, uint64_t page)
{
    uint64_t off = page << mome_g.page_shift;
    if (off < v->off || off >= v->off + v->len)
        return NULL;
    return v->addr + (off - v->off);
}

/* Commands: open(a0 size, a1 flags, p name), close(a0 handle), unlink(p name),
 * mmap(p addr, a0 len, a1 prot, a2 flags, a3 handle, a4 offset), munmap(p addr, a0 len). */
void mome_seg_cmd_open(mome_cmd_t *c);
void mome_seg_cmd_close(mome_cmd_t *c);
void mome_seg_cmd_unlink(mome_cmd_t *c);
void mome_seg_cmd_mmap(mome_cmd_t *c);
void mome_seg_cmd_munmap(mome_cmd_t *c);

/* SEG_OPEN, SEG_OPEN_REPLY, SEG_CLOSE, SEG_UNLINK, SEG_UNLINK_REPLY, SEG_DESTROY. */
void mome_seg_msg(const mome_msg_t *m);

/* Create the shared heap segment mapped at addr on every node (MomeInit, collective). */
int mome_seg_heap_create(void *addr, uint64_t size, char *err, size_t errlen);

/* Handle -> segment for other modules (NULL if not open). */
mome_seg_t *mome_seg_by_handle(int handle);

#endif
