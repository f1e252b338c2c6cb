/*
 * seg.h - private: the segments this node knows, as the coherence layer sees them: a page table,
 * a page store (where the bytes are) and the views that map them. The name service, handles and
 * MomeMMap live above (core/segment.c); this is what a message or a fault about a page needs.
 * Progress thread only.
 */
#ifndef MOME_COHERENCE_SEG_H
#define MOME_COHERENCE_SEG_H

#include <stdint.h>

#include "base/hash.h"
#include "coherence/page.h"
#include "memory/store.h"
#include "memory/view.h"

#define MOME_SEG_NAME_MAX 255
#define MOME_HEAP_SEG_ID (1ull << 63)

/* Read streams a segment follows at once (threads of a node reading apart, each in order). */
#define MOME_RA_STREAMS 16
/* STRONG writes asked ahead and declined in a row after which a segment's STRONG write faults ask
 * nothing ahead (until one gets a page nobody had). */
#define MOME_WA_DECLINED 8

typedef struct mome_seg {
    mome_hnode_t h; /* k1 = id */
    uint64_t id;
    uint64_t size; /* bytes, whole pages */
    uint64_t npages;
    mome_store_t *store;
    mome_ptab_t pt;     /* this node's entry for each page (page.h): mome_seg_pg */
    mome_view_t *views; /* through mome_view_t.seg_next */
    int nviews;
    /* Faults that went to the directory, for reading ahead at a stride (requester.c): the page
     * of the last one plus 1 (0: none yet), and the run being read ahead (stride 0: none). */
    uint64_t fault_last, run_next, run_stride;
    /* The reads being read ahead (requester.c, read_window): per stream, the page of the fault
     * that started it, the page after the pages its last fault asked ahead (0: an empty slot),
     * how many that fault asked for, and when a fault last met it (ra_clock's count of read faults
     * that asked the directory); read faults in a row that landed near no stream. */
    struct mome_ra_stream {
        uint64_t start, next;
        uint32_t window, used;
    } ra[MOME_RA_STREAMS];
    uint32_t ra_clock, ra_misses;
    /* STRONG writes asked ahead and declined in a row (requester.c, declined) */
    uint32_t wa_declined;
    /* This node closed it (no handle, no view; SEG_CLOSE sent): its last close may destroy it
     * job-wide, so an acquire starts no request for its copies (their notices wait for a reopen:
     * mome_coh_seg_reopened). */
    int closed;
    char name[MOME_SEG_NAME_MAX + 1];
} mome_seg_t;

/* The layer's geometry, set once at start, and what the engine's polling needs to know. */
typedef struct mome_coh {
    size_t page_size;
    unsigned page_shift;
    int nnodes, self;
    uint64_t prefetch; /* MOME_PREFETCH: pages read (or opened for writing) ahead */
    int outstanding; /* requests awaiting replies: the engine polls while > 0 */
    int woke;        /* a faulting thread was just woken (the engine yields to it) */
    /* Acquires (locks, barriers) begun here, from 1: a WEAK copy known current in one may lack
     * releases the next one orders before this node's accesses (requester.c, weak_stale). */
    uint64_t acquires;
} mome_coh_t;
extern mome_coh_t mome_coh;

int mome_seg_init(void);
void mome_seg_fini(void); /* frees every segment */

/* A new segment record with its store (backend ops); NULL with *err = -errno. */
mome_seg_t *mome_seg_new(uint64_t id, uint64_t size, const char *name,
                         const mome_store_ops_t *ops, int *err);
/* Free it: views must have been detached (their mappings gone) and waiters forgotten. */
void mome_seg_free(mome_seg_t *s);
mome_seg_t *mome_seg_find(uint64_t id);
/* A segment's name for messages: "(not open here)" when this node has no record of it (a message
 * may be about another node's page, of a segment this node also has, or not). */
const char *mome_seg_name_of(uint64_t id);

/* The segment of a message about (seg, page), or NULL when this node has no such page (a peer's
 * page number is checked here before any table is indexed with it). */
mome_seg_t *mome_seg_page(uint64_t seg, uint64_t page);

/* A view's membership in its segment's list. */
void mome_seg_attach(mome_seg_t *s, mome_view_t *v);
void mome_seg_detach(mome_seg_t *s, mome_view_t *v);

/* The page's bytes through the runtime's view, brought back first if they were paged out. The
 * pointer is good until the next page enters memory (another page may leave to make room). */
static inline uint8_t *mome_seg_bytes(const mome_seg_t *s, uint64_t page)
{
    if (mome_store_is_paged(s->store, page))
        mome_store_page_in(s->store, page);
    return mome_store_bytes(s->store, page, mome_coh.page_shift);
}

static inline char *mome_seg_view_addr(const mome_view_t *v, uint64_t page)
{
    return mome_view_page_addr(v, page, mome_coh.page_shift);
}

/* This node's entry for a page of s (page < s->npages), zero until first used. The table is
 * filled lazily: asking for a page's entry changes nothing a caller can see, so s may be const. */
static inline mome_page_t *mome_seg_pg(const mome_seg_t *s, uint64_t page)
{
    return mome_ptab_get((mome_ptab_t *)&s->pt, page);
}

/* The node to ask about a page: the manager hint (page.h), else the default manager. */
static inline int mome_seg_manager(const mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    return pg->mgr ? (int)pg->mgr - 1 : mome_page_default_manager(s->id, page, mome_coh.nnodes);
}

/* Visit every view of s that maps page, with its address there. */
#define MOME_SEG_FOREACH_MAP(_s, _page, _v, _a)                                                    \
    for (mome_view_t *_v = (_s)->views; _v; _v = _v->seg_next)                                    \
        for (char *_a = mome_seg_view_addr(_v, (_page)); _a; _a = NULL)

#endif
