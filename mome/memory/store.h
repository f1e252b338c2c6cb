/*
 * store.h - private: the page store, between the coherence layer and Mome memory.
 *
 * A store holds one segment's pages on this node: where their bytes are (a region of Mome memory
 * while resident; a backend for content that is not: zeros, a repository file, a swap file or
 * another node), how bytes get into a view (filled through the runtime's view, or installed
 * atomically), and what an eviction policy needs (resident counts, a touch signal, a victim).
 * Every page enters memory through mome_store_fill/install and leaves through mome_store_drop, so
 * the counts are exact. The coherence layer calls these and never memfd or userfaultfd. A backend
 * is one file implementing mome_store_ops_t (mome_store_mem, in store.c, is the default: pages
 * live in Mome memory only). Progress thread only.
 */
#ifndef MOME_MEMORY_STORE_H
#define MOME_MEMORY_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/bits.h"

typedef struct mome_store mome_store_t;

typedef struct mome_store_ops {
    const char *name;
    /* Content of a page this job never held: 0 = zeros, 1 = read into dst, or -errno. */
    int (*load)(mome_store_t *st, uint64_t page, void *dst);
    /* Keep a page's content outside Mome memory before it leaves it (-ENOTSUP: cannot). */
    int (*save)(mome_store_t *st, uint64_t page, const void *src);
    void (*close)(mome_store_t *st);
} mome_store_ops_t;

struct mome_store {
    const mome_store_ops_t *ops;
    uint64_t id;       /* the segment's id */
    const char *name;  /* and its name, for messages: set by the layer above ("" until then) */
    uint64_t npages;
    uint64_t size;     /* bytes, whole Mome pages */
    uint64_t base;     /* its region of Mome memory */
    uint8_t *rt;       /* the runtime's view of the region */
    uint64_t *present; /* bitmap: the page's content is in Mome memory */
    uint64_t *paged;   /* bitmap: the content is kept elsewhere (page-out): bring it back first */
    uint64_t *viewed;  /* bitmap: the runtime view has an entry for the page, or it was copied out
                          once through the file (mome_store_copy_out) */
    uint64_t resident; /* pages present */
    void *priv;        /* the backend's */
};

extern const mome_store_ops_t mome_store_mem; /* Mome memory only: new pages are zeros */

/* Set up the page size (Mome memory is up: memory.h) and the eviction policy by name (NULL or
 * "": no page budget, so no policy and no bookkeeping on the fault path). -EINVAL for an unknown
 * policy. */
int mome_store_init(size_t page_size, const char *policy);
void mome_store_fini(void);

/* A store of `size` bytes for segment `id`; NULL with *err = -errno. */
mome_store_t *mome_store_open(const mome_store_ops_t *ops, uint64_t id, uint64_t size, int *err);
/* Give every page back (no view may map it any more). */
void mome_store_close(mome_store_t *st);

/* The page's bytes through the runtime's view (valid while resident). */
static inline uint8_t *mome_store_bytes(const mome_store_t *st, uint64_t page, unsigned shift)
{
    return st->rt + (page << shift);
}
static inline int mome_store_has(const mome_store_t *st, uint64_t page)
{
    return mome_bit(st->present, page);
}

/* Content of a page that no node holds (the backend's load): 0 = zeros, 1 = in dst. */
int mome_store_load(mome_store_t *st, uint64_t page, void *dst);
/*
 * Copy a page's content to dst (a page to send), brought back first if it was paged out. A page
 * not copied out before, and with fewer than two of its 64 KiB neighbours copied out, is read
 * through the file; the others through the runtime view (design 5).
 */
void mome_store_copy_out(mome_store_t *st, uint64_t page, void *dst);
/* Put content into a page no view maps (through the runtime's view). */
void mome_store_fill(mome_store_t *st, uint64_t page, const void *src);
/* Put content into an absent page and map it at va, atomically; -EEXIST if it is resident. */
int mome_store_install(mome_store_t *st, uint64_t page, char *va, const void *src, int ro);
/* Map the resident page at va. -EEXIST: some of it was mapped already (the rest is mapped now,
 * read-only or not as before: protect or wake it). */
int mome_store_map(mome_store_t *st, uint64_t page, char *va, int ro);
/* View operations on the page at va: write-protect or open, wake its waiters, unmap. */
int mome_store_protect(char *va, int ro);
/* Write-protect the whole pages of [va, va+len) of one view at once (one TLB flush for them all,
 * where a page at a time costs one each). */
int mome_store_protect_range(char *va, size_t len);
int mome_store_wake(char *va, size_t len);
int mome_store_zap(char *va);
/* Unmap the whole pages of [va, va+len) of one view at once (one TLB flush for them all). */
int mome_store_zap_range(char *va, size_t len);
/* The page leaves Mome memory (no view may map it): its memory goes back. */
void mome_store_drop(mome_store_t *st, uint64_t page);
/* Forget what the pager keeps of a paged-out page (its content is no longer needed). */
void mome_store_unpage(mome_store_t *st, uint64_t page);

/*
 * The page budget (MOME_LOCAL_PAGES): at most `pages` pages in Mome memory (the store's pages,
 * plus those the pager says it keeps for other nodes). Before a page enters when the budget is
 * full, the policy's victims leave through the pager's evict (the coherence layer knows whether
 * a copy can be dropped or its bytes must be kept elsewhere: mome_store_page_out); between pages
 * high and low, mome_store_trim (called on every turn of the engine) evicts in the background.
 */
typedef struct mome_store_pager {
    /* Make the page leave memory: 0, or -EBUSY when it cannot now (another is chosen). */
    int (*evict)(mome_store_t *st, uint64_t page);
    /* Keep a page's bytes elsewhere (zero: it is all zeros, bytes not needed); 0 or -errno. */
    int (*save)(mome_store_t *st, uint64_t page, const void *bytes, int zero);
    /* Bring them back into dst (and forget them there). */
    void (*load)(mome_store_t *st, uint64_t page, void *dst);
    /* Forget them: the page got new content. */
    void (*discard)(mome_store_t *st, uint64_t page);
} mome_store_pager_t;

/* Set the budget (0: none), its watermarks (pages) and the pager. */
void mome_store_budget(uint64_t pages, uint64_t high, uint64_t low, const mome_store_pager_t *p);
uint64_t mome_store_budget_pages(void);
/* May this node keep one more page for another node? Yes without a budget, else only below the
 * low watermark: pages kept for others cannot be evicted, so a node full of them would have no
 * room left for its own. */
int mome_store_can_keep(void);
/* Pages the pager keeps in memory for other nodes (count against the budget). */
void mome_store_extra(int64_t delta);
/* Is the page's content kept elsewhere? */
static inline int mome_store_is_paged(const mome_store_t *st, uint64_t page)
{
    return st->paged && mome_bit(st->paged, page);
}
/* The page's bytes leave memory, kept by the pager (its views must not map it any more). */
int mome_store_page_out(mome_store_t *st, uint64_t page);
/* Bring a paged-out page back into memory (its content, not mapped anywhere yet). */
void mome_store_page_in(mome_store_t *st, uint64_t page);
/* Make room for one more page if the budget is full (evicting synchronously). */
void mome_store_room(void);
/* Background eviction: once past the high watermark, evict down to the low one, at most
 * MOME_TRIM_STEP pages per call so that faults are served in between. Returns the pages evicted. */
#define MOME_TRIM_STEP 4
int mome_store_trim(void);

/* Residency, for the page budget and the eviction policy. */
uint64_t mome_store_resident(void);                  /* pages resident, every store */
void mome_store_touch(mome_store_t *st, uint64_t page); /* the page was used (a fault) */
/* The page the policy would evict next (still resident); 0, or -ENOENT when none. Named again
 * until it leaves (mome_store_drop) or is skipped. */
int mome_store_victim(mome_store_t **st, uint64_t *page);
/* The victim cannot leave now (busy): let the policy name another next. */
void mome_store_skip(mome_store_t *st, uint64_t page);

#endif
