/*
 * heap.c - the allocator of this node's partition of the shared heap: size-class slabs for small
 * blocks, a coalescing page pool for large ones. Every piece of metadata lives in malloc'd private
 * memory; the allocator never reads or writes the shared pages, so it causes no page traffic.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "coherence/release.h"
#include "core/cmd.h"
#include "core/heap.h"
#include "base/log.h"
#include "core/proto.h"

#define MIN_BLOCK 16     /* smallest class and the alignment of every block */
#define MAX_CLASSES 64   /* enough for pages up to 2^30 bytes (two classes per power of two) */
#define SLAB_MAX_PAGES 8 /* the pages of a slab are looked up one by one on free */

/*
 * A run of whole pages of the partition, in one of three states:
 *   large block: in `used` (by h), slab == NULL;
 *   slab:        in `used` (by h), slab != NULL;
 *   free:        in `free_start` (by h), `free_end` (by h_end) and the size tree.
 * The never-used tail [bump, npages) has no run, and no free run ends at bump: a run freed next to
 * the tail joins it, so a large request can always use the tail and the free run below it together.
 */
typedef struct run {
    mome_hnode_t h;           /* k1 = first page (must stay first: lookups cast back) */
    mome_hnode_t h_end;       /* k1 = page after the last, while free */
    uint64_t start, npages;   /* pages, counted from the partition start */
    struct run *left, *right; /* size tree (a treap keyed by npages, then start) */
    uint64_t prio;
    struct slab *slab;
} run_t;

#define RUN_OF_END(hn) ((run_t *)((char *)(hn)-offsetof(run_t, h_end)))

/* A run carved into equal slots of one class; a bitmap of free slots replaces an in-band list. */
typedef struct slab {
    struct slab *prev, *next; /* partial list of its class: slabs with at least one free slot */
    run_t *run;
    uint32_t cls, nfree;
    uint32_t hint;   /* bits[0 .. hint) has no free slot */
    uint64_t bits[]; /* 1 = free slot */
} slab_t;

typedef struct sclass {
    size_t size;
    uint32_t npages, nslots, nwords;
    slab_t *partial;
} sclass_t;

/*
 * The partition. The geometry and the class sizes are written by init and fini only and read
 * without the lock, so those two must not race with other calls. The partial lists and everything
 * below `cls` are under heap_lock, which any thread may take and which is a leaf lock (nothing else
 * is acquired, and no shared page is touched, while it is held).
 */
typedef struct heap {
    int ready;
    char *base;    /* the whole heap */
    uint64_t size; /* the whole heap, bytes */
    int nnodes, self;
    size_t page;
    unsigned shift;  /* log2(page) */
    uint64_t psize;  /* bytes per partition, a multiple of page */
    char *pbase;     /* this node's partition */
    uint64_t npages; /* pages in this partition */
    uint32_t max_slab_pages;
    int ncls;
    sclass_t cls[MAX_CLASSES];

    uint64_t bump;   /* first never-used page */
    uint64_t in_use; /* bytes handed out, counted as rounded up to the class or to pages */
    mome_htab_t used, free_start, free_end;
    run_t *tree; /* free runs by size */
} heap_t;

static pthread_mutex_t heap_lock = PTHREAD_MUTEX_INITIALIZER;
static heap_t heap;

/* ---- free runs by size: a treap, so best fit is O(log n) ---- */

static int run_less(const run_t *a, const run_t *b)
{
    return a->npages < b->npages || (a->npages == b->npages && a->start < b->start);
}

/* Split t into the runs ordered before x (*l) and the others (*r). */
static void tree_split(run_t *t, const run_t *x, run_t **l, run_t **r)
{
    if (!t) {
        *l = *r = NULL;
    } else if (run_less(t, x)) {
        tree_split(t->right, x, &t->right, r);
        *l = t;
    } else {
        tree_split(t->left, x, l, &t->left);
        *r = t;
    }
}

/* Join two treaps, every run of a ordered before every run of b. */
static run_t *tree_merge(run_t *a, run_t *b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    if (a->prio > b->prio) {
        a->right = tree_merge(a->right, b);
        return a;
    }
    b->left = tree_merge(a, b->left);
    return b;
}

static void tree_insert(run_t *x)
{
    run_t **link = &heap.tree;

    /* A hash of the (unique) key is as good a priority as a random number and needs no state. */
    x->prio = mome_hash2(x->start, x->npages);
    while (*link && (*link)->prio >= x->prio)
        link = run_less(x, *link) ? &(*link)->left : &(*link)->right;
    tree_split(*link, x, &x->left, &x->right);
    *link = x;
}

/* x must be in the tree with the key it was inserted with. */
static void tree_remove(run_t *x)
{
    run_t **link = &heap.tree;

    while (*link != x)
        link = run_less(x, *link) ? &(*link)->left : &(*link)->right;
    *link = tree_merge(x->left, x->right);
}

/* The smallest free run of at least n pages, the lowest one among equals. */
static run_t *tree_best_fit(uint64_t n)
{
    run_t *best = NULL;

    for (run_t *t = heap.tree; t;) {
        if (t->npages >= n) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

/* ---- the page pool ---- */

static void free_insert(run_t *r)
{
    r->slab = NULL;
    r->h.k1 = r->start;
    r->h.k2 = 0;
    r->h_end.k1 = r->start + r->npages;
    r->h_end.k2 = 0;
    mome_htab_put(&heap.free_start, &r->h);
    mome_htab_put(&heap.free_end, &r->h_end);
    tree_insert(r);
}

static void free_remove(run_t *r)
{
    mome_htab_del(&heap.free_start, &r->h);
    mome_htab_del(&heap.free_end, &r->h_end);
    tree_remove(r);
}

/*
 * Take n pages, from the best-fitting free run before the never-used tail so that freed pages are
 * reused before the footprint grows. NULL when there is no room (or no memory for a record).
 */
static run_t *pages_get(uint64_t n)
{
    run_t *f = tree_best_fit(n);
    run_t *r;

    if (f && f->npages == n) {
        free_remove(f);
        return f;
    }
    if (!f && heap.npages - heap.bump < n)
        return NULL;
    r = mome_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (f) {
        free_remove(f);
        r->start = f->start;
        f->start += n;
        f->npages -= n;
        free_insert(f);
    } else {
        r->start = heap.bump;
        heap.bump += n;
    }
    r->npages = n;
    return r;
}

/* Give back a run that is in no table, merged with its free neighbours. Never allocates. */
static void pages_put(run_t *r)
{
    mome_hnode_t *h;

    h = mome_htab_get(&heap.free_end, r->start, 0);
    if (h) {
        run_t *prev = RUN_OF_END(h);
        free_remove(prev);
        prev->npages += r->npages;
        free(r);
        r = prev;
    }
    h = mome_htab_get(&heap.free_start, r->start + r->npages, 0);
    if (h) {
        run_t *next = (run_t *)h;
        free_remove(next);
        r->npages += next->npages;
        free(next);
    }
    if (r->start + r->npages == heap.bump) {
        heap.bump = r->start;
        free(r);
        return;
    }
    free_insert(r);
}

static void used_insert(run_t *r)
{
    r->h.k1 = r->start;
    r->h.k2 = 0;
    mome_htab_put(&heap.used, &r->h);
}

/*
 * The allocated run holding page pg, or NULL. Runs are indexed by their first page only, so look
 * back at most a slab's length: a large block must be freed by its first page anyway.
 */
static run_t *used_find(uint64_t pg)
{
    for (uint64_t i = 0; i < heap.max_slab_pages && i <= pg; i++) {
        mome_hnode_t *h = mome_htab_get(&heap.used, pg - i, 0);
        if (h) {
            run_t *r = (run_t *)h;
            return pg < r->start + r->npages ? r : NULL;
        }
    }
    return NULL;
}

/* ---- slabs ---- */

static void partial_add(sclass_t *sc, slab_t *s)
{
    s->prev = NULL;
    s->next = sc->partial;
    if (sc->partial)
        sc->partial->prev = s;
    sc->partial = s;
}

static void partial_del(sclass_t *sc, slab_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        sc->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static slab_t *slab_new(int c)
{
    sclass_t *sc = &heap.cls[c];
    slab_t *s;

    s = mome_malloc(sizeof(*s) + sc->nwords * sizeof(s->bits[0]));
    if (!s)
        return NULL;
    s->run = pages_get(sc->npages);
    if (!s->run)
        goto err_free_slab;
    s->run->slab = s;
    used_insert(s->run);
    s->cls = (uint32_t)c;
    s->nfree = sc->nslots;
    s->hint = 0;
    memset(s->bits, 0xff, sc->nwords * sizeof(s->bits[0]));
    if (sc->nslots % 64)
        s->bits[sc->nwords - 1] = (1ull << (sc->nslots % 64)) - 1;
    partial_add(sc, s);
    return s;

err_free_slab:
    free(s);
    return NULL;
}

/* The lowest free slot. The scan is bounded by the slab's bitmap, not by the number of blocks. */
static uint32_t slab_take(slab_t *s)
{
    uint32_t w = s->hint;

    while (!s->bits[w])
        w++;
    s->hint = w;
    s->nfree--;
    uint32_t b = (uint32_t)__builtin_ctzll(s->bits[w]);
    s->bits[w] &= s->bits[w] - 1;
    return w * 64 + b;
}

static void slab_release(slab_t *s)
{
    run_t *r = s->run;

    partial_del(&heap.cls[s->cls], s);
    mome_htab_del(&heap.used, &r->h);
    r->slab = NULL;
    free(s);
    pages_put(r);
}

static void *small_alloc(int c)
{
    sclass_t *sc = &heap.cls[c];
    slab_t *s = sc->partial;

    if (!s) {
        s = slab_new(c);
        if (!s)
            return NULL;
    }
    uint32_t i = slab_take(s);
    if (!s->nfree)
        partial_del(sc, s);
    heap.in_use += sc->size;
    return heap.pbase + (s->run->start << heap.shift) + (size_t)i * sc->size;
}

/* rel: offset of the block in the slab. */
static int small_free(slab_t *s, uint64_t rel)
{
    sclass_t *sc = &heap.cls[s->cls];
    uint64_t i = rel / sc->size;

    if (rel % sc->size || i >= sc->nslots)
        return -EINVAL;
    if (s->bits[i / 64] & (1ull << (i % 64)))
        return -EINVAL; /* already free */
    s->bits[i / 64] |= 1ull << (i % 64);
    if (i / 64 < s->hint)
        s->hint = (uint32_t)(i / 64);
    if (!s->nfree++)
        partial_add(sc, s);
    heap.in_use -= sc->size;
    if (s->nfree == sc->nslots)
        slab_release(s);
    return 0;
}

/* ---- large blocks ---- */

static void *large_alloc(size_t size)
{
    uint64_t n = ((uint64_t)size + heap.page - 1) >> heap.shift; /* size <= psize: no overflow */
    run_t *r = pages_get(n);

    if (!r)
        return NULL;
    r->slab = NULL;
    used_insert(r);
    heap.in_use += n << heap.shift;
    return heap.pbase + (r->start << heap.shift);
}

static int large_free(run_t *r, uint64_t off)
{
    if (off != r->start << heap.shift)
        return -EINVAL; /* inside the block */
    mome_htab_del(&heap.used, &r->h);
    heap.in_use -= r->npages << heap.shift;
    pages_put(r);
    return 0;
}

/* ---- size classes ---- */

/* Slab length: the fewest pages (up to SLAB_MAX_PAGES) that waste at most 1/8 of the slab. */
static uint32_t slab_pages(size_t size)
{
    uint32_t best = 1;
    uint64_t best_waste = UINT64_MAX;

    for (uint32_t k = 1; k <= SLAB_MAX_PAGES; k++) {
        uint64_t bytes = (uint64_t)k << heap.shift;
        uint64_t waste = bytes % size;
        if (waste * 8 <= bytes)
            return k;
        if (k == 1 || waste * best < best_waste * k) { /* compare waste / k */
            best = k;
            best_waste = waste;
        }
    }
    return best;
}

/* 16, 32, 48, 64, then two classes per power of two (p, 1.5p) up to page / 2. */
static void classes_init(void)
{
    heap.ncls = 0;
    heap.max_slab_pages = 1;
    for (size_t sz = MIN_BLOCK; sz <= heap.page / 2;) {
        sclass_t *sc = &heap.cls[heap.ncls++];
        sc->size = sz;
        sc->npages = slab_pages(sz);
        /* A slab never larger than the node's share: a share of one page (MOME_HEAP_SIZE over
         * many nodes, or large pages) took no 1536-byte block, its 2-page slab never fitting
         * (helper-124). */
        if (sc->npages > heap.npages && heap.npages > 0)
            sc->npages = (uint32_t)heap.npages;
        sc->nslots = (uint32_t)(((uint64_t)sc->npages << heap.shift) / sz);
        sc->nwords = (sc->nslots + 63) / 64;
        sc->partial = NULL;
        if (sc->npages > heap.max_slab_pages)
            heap.max_slab_pages = sc->npages;
        if (sz < 64)
            sz += MIN_BLOCK;
        else if (sz & (sz - 1))
            sz = sz / 3 * 4; /* 1.5p -> 2p */
        else
            sz += sz / 2;
    }
}

/* The smallest class that holds size (size <= page / 2). */
static int class_of(size_t size)
{
    int lo = 0, hi = heap.ncls - 1;

    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (heap.cls[mid].size >= size)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- interface ---- */

static int check_args(char *base, uint64_t size, int nnodes, int self, size_t page_size)
{
    if (!base || nnodes < 1 || self < 0 || self >= nnodes)
        return -EINVAL;
    /* Pages up to 2^30 keep MAX_CLASSES and the slot counts of a slab in range. */
    if (page_size < 2 * MIN_BLOCK || page_size > (1ul << 30) || (page_size & (page_size - 1)))
        return -EINVAL;
    if ((uintptr_t)base % page_size)
        return -EINVAL; /* large blocks could not be page aligned */
    if (size / (uint64_t)nnodes < page_size)
        return -EINVAL; /* an empty partition */
    return 0;
}

int mome_heap_init(char *base, uint64_t size, int nnodes, int self, size_t page_size)
{
    int rc = check_args(base, size, nnodes, self, page_size);

    if (rc) {
        mome_error("heap", "bad geometry: base %p size %llu nodes %d self %d page %zu", base,
                   (unsigned long long)size, nnodes, self, page_size);
        return rc;
    }
    pthread_mutex_lock(&heap_lock);
    if (heap.ready) {
        mome_error("heap", "already initialised");
        rc = -EBUSY;
        goto out_unlock;
    }
    memset(&heap, 0, sizeof(heap));
    heap.base = base;
    heap.size = size;
    heap.nnodes = nnodes;
    heap.self = self;
    heap.page = page_size;
    heap.shift = (unsigned)__builtin_ctzl(page_size);
    heap.psize = size / (uint64_t)nnodes / page_size * page_size;
    heap.pbase = base + (uint64_t)self * heap.psize;
    heap.npages = heap.psize >> heap.shift;
    classes_init();
    rc = -ENOMEM;
    if (mome_htab_init(&heap.used, 256))
        goto out_unlock;
    if (mome_htab_init(&heap.free_start, 64))
        goto err_free_used;
    if (mome_htab_init(&heap.free_end, 64))
        goto err_free_start;
    heap.ready = 1;
    rc = 0;
    goto out_unlock;

err_free_start:
    mome_htab_free(&heap.free_start);
err_free_used:
    mome_htab_free(&heap.used);
out_unlock:
    pthread_mutex_unlock(&heap_lock);
    if (rc == -ENOMEM)
        mome_error("heap", "cannot allocate the heap tables");
    return rc;
}

void mome_heap_fini(void)
{
    mome_hnode_t *h, *tmp;

    pthread_mutex_lock(&heap_lock);
    if (!heap.ready)
        goto out_unlock;
    mome_htab_foreach(&heap.used, h, tmp)
    {
        run_t *r = (run_t *)h;
        free(r->slab);
        free(r);
    }
    mome_htab_foreach(&heap.free_start, h, tmp)
    {
        free(h); /* run_t, h first */
    }
    mome_htab_free(&heap.used);
    mome_htab_free(&heap.free_start);
    mome_htab_free(&heap.free_end);
    memset(&heap, 0, sizeof(heap));
out_unlock:
    pthread_mutex_unlock(&heap_lock);
}

void *mome_heap_alloc(size_t size, int *err)
{
    void *p = NULL;
    int rc = -ENOMEM;

    /* Under the lock: another thread's MomeFinalize may take the heap down (mome_heap_fini)
     * meanwhile; read before it, heap.ready let this thread into the freed tables (helper-101). */
    pthread_mutex_lock(&heap_lock);
    if (!heap.ready)
        rc = -ENOTCONN;
    else if (size > heap.psize)
        ; /* also catches sizes whose rounding would overflow */
    else if (size <= heap.page / 2)
        p = small_alloc(class_of(size)); /* size 0 gets a unique 16-byte slot */
    else
        p = large_alloc(size);
    pthread_mutex_unlock(&heap_lock);
    if (!p && err)
        *err = rc;
    return p;
}

int mome_heap_owner(const void *p)
{
    int owner = -ENOTCONN;
    pthread_mutex_lock(&heap_lock);
    uintptr_t off = (uintptr_t)p - (uintptr_t)heap.base;
    if (heap.ready)
        owner = -1;
    if (heap.ready && off < heap.psize * (uint64_t)heap.nnodes)
        owner = (int)(off / heap.psize);
    pthread_mutex_unlock(&heap_lock);
    return owner;
}

int mome_heap_free_local(const void *p)
{
    run_t *r;
    int rc = -EINVAL;

    pthread_mutex_lock(&heap_lock);
    uint64_t off = (uintptr_t)p - (uintptr_t)heap.pbase; /* wraps for p below the partition */
    if (!heap.ready)
        rc = -ENOTCONN;
    else if (off < heap.psize && (r = used_find(off >> heap.shift)) && !r->slab)
        rc = large_free(r, off);
    else if (off < heap.psize && r)
        rc = small_free(r->slab, off - (r->start << heap.shift));
    pthread_mutex_unlock(&heap_lock);
    return rc; /* the caller logs it, once: MomeFree, or the HEAP_FREE handler */
}

/* Meaningful only for p inside the heap (check with mome_heap_owner). */
uint64_t mome_heap_offset(const void *p)
{
    return (uint64_t)((uintptr_t)p - (uintptr_t)heap.base);
}

/* NULL for an offset outside the heap (a HEAP_FREE message is not trusted blindly). */
void *mome_heap_at(uint64_t offset)
{
    if (!heap.ready || offset >= heap.size)
        return NULL;
    return heap.base + offset;
}

uint64_t mome_heap_share(void)
{
    return heap.psize;
}

uint64_t mome_heap_in_use(void)
{
    uint64_t n;

    pthread_mutex_lock(&heap_lock);
    n = heap.in_use;
    pthread_mutex_unlock(&heap_lock);
    return n;
}

/* ---- HEAP_FREE: a block freed by another node comes back to its owner ---- */

static void bad_free(uint32_t src, uint64_t off)
{
    mome_warn("heap",
              "node %u freed offset %#llx of the heap, which is not a live MomeMalloc "
              "block of this node",
              src, (unsigned long long)off);
}

typedef struct freed {
    uint32_t src;
    uint64_t off;
} freed_t;

static void free_after_acquire(void *arg, mome_date_t date)
{
    freed_t *f = arg;
    (void)date;
    if (mome_heap_free_local(mome_heap_at(f->off)) < 0)
        bad_free(f->src, f->off);
    free(f);
}

/*
 * The block is given out again only once this node has acquired the freeing node's release (its
 * date comes with the message): a copy of the block's page this node writes must hold that
 * node's writes first, or this node's diff, against a twin without them, would undo them into
 * garbage at the merge (XOR) and the block's next user would read neither (helper-86).
 */
static void on_heap_free(const mome_msg_t *m, const void *body)
{
    const mome_syncmsg_t *f = body;
    freed_t *fr;
    /* The freeing node finds the block's owner itself (MomeFree: mome_heap_owner, which refuses
     * the heap's remainder past the last partition): a block outside this node's partition is no
     * program's error but a broken node's. One of this partition that is not live is the
     * program's (a double free), said as MomeFree says it here. */
    if (f->id >= heap.size || mome_heap_owner(mome_heap_at(f->id)) != heap.self)
        mome_fatal("node %u freed offset %#llx of the heap, which is not in this node's partition "
                   "[%#llx, %#llx): a node sends a free to the block's owner; the nodes disagree "
                   "on the heap; stopping",
                   m->src, (unsigned long long)f->id, (unsigned long long)heap.self * heap.psize,
                   (unsigned long long)(heap.self + 1) * heap.psize);
    if (!(fr = mome_malloc(sizeof(*fr))))
        mome_fatal("out of memory taking back a block node %u freed; stopping", m->src);
    fr->src = m->src;
    fr->off = f->id;
    mome_rel_acquire(f->date, free_after_acquire, fr);
}

static const mome_field_t free_fields[] = {
    MOME_FIELD(mome_syncmsg_t, id, MOME_FK_RAW, 0),
    MOME_FIELD(mome_syncmsg_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX)};
static const mome_msg_def_t heap_msgs[] = {
    {.type = MOME_MSG_HEAP_FREE,
     .wire = {"HEAP_FREE", free_fields, 2, 0, 0, 0},
     .body_size = sizeof(mome_syncmsg_t),
     .handler = on_heap_free},
};

int mome_heap_msg_init(void)
{
    return mome_msg_register(heap_msgs, 1);
}

/*
 * The owner gives the block out again once HEAP_FREE comes: this node's writes to it must be
 * released first, and the owner acquires that release (on_heap_free). Merged at this node's next
 * release instead, they overwrote the bytes the block's next user wrote meanwhile (a RELEASE page
 * two nodes write: helper-86).
 */
static void free_after_release(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    mome_syncmsg_t f = {.id = c->u.heap_free.off, .date = date};
    mome_send(c->u.heap_free.owner, MOME_MSG_HEAP_FREE, 0, &f, NULL, 0);
    mome_cmd_complete(c, 0);
}

void mome_heap_cmd_free(mome_cmd_t *c)
{
    mome_rel_release(free_after_release, c);
}
