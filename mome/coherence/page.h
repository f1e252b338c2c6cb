/*
 * page.h - private: this node's bookkeeping of its page copies and of requests in flight.
 *
 * Every segment known to this node has a table of mome_page_t, one per Mome page (mome_ptab_t,
 * below), whose resident size follows the pages used. A request in flight for a page is a
 * transaction with the faults waiting on it. Whether the page's bytes are in Mome memory is the
 * page store's to say (memory/store.h). Progress thread only.
 */
#ifndef MOME_COHERENCE_PAGE_H
#define MOME_COHERENCE_PAGE_H

#include <stdint.h>

#include "base/hash.h"
#include "coherence/op.h"
#include "mome.h"

struct mome_seg;
struct mome_view;

enum { MOME_ACC_NONE = 0, MOME_ACC_READ = 1, MOME_ACC_WRITE = 2 };

#define MOME_PG_BUSY 0x0001   /* a transaction is in flight */
#define MOME_PG_DIRTY 0x0004  /* written since the last release (tracked pages only) */
#define MOME_PG_TRACK 0x0008  /* writes must be tracked: views are write-protected while clean */
#define MOME_PG_OWNER 0x0010  /* this node holds the master copy of a multiple-writer page */
#define MOME_PG_SHARED 0x0020 /* owner: other nodes hold copies (so releases send notices) */
#define MOME_PG_EXT 0x0040    /* a side record exists (twin, pending notice, release in flight) */
#define MOME_PG_LISTED 0x0080 /* in the dirty list */
#define MOME_PG_USED 0x0100   /* accessed (faulted in, or written) since it was last refreshed */
/* Changed in this node's last release, or an owner's page kept open until a release closed it
 * unchanged (copy.h): write-ahead opens it early, and a release that finds it written keeps it
 * open. */
#define MOME_PG_WROTE 0x0200
#define MOME_PG_REMOTE 0x0400 /* read copy of a master another node holds (per its grant) */
/* Pushed versions written in place since the copy last left the views: 0 to 3 times
 * MOME_PG_INPLACE_ONE (holder.c take_push). */
#define MOME_PG_INPLACE 0x1800
#define MOME_PG_INPLACE_ONE 0x0800
/* Owner: kept open for writing through releases, not write-protected at them (copy.h
 * mome_copy_keeps_open). */
#define MOME_PG_KEPT 0x2000
/* This node's writing of a page as its owner or tracker: cleared together when that ends. */
#define MOME_PG_WRITING                                                                            \
    (MOME_PG_OWNER | MOME_PG_SHARED | MOME_PG_TRACK | MOME_PG_DIRTY | MOME_PG_KEPT)
#define MOME_PG_CKLISTED 0x4000 /* in the list of pages changed since the checkpoint (ckptflag.c) */
#define MOME_PG_CKPT 0x8000   /* persistent: changed here since the last checkpoint (ckptflag.h) */

typedef struct mome_page {
    uint8_t access;  /* MOME_ACC_*: what the directory granted this node */
    uint8_t model;   /* MOME_STRONG, MOME_RELEASE, MOME_WEAK (0 = STRONG) */
    uint16_t flags;  /* MOME_PG_* */
    uint32_t mgr;    /* manager hint + 1; 0 = the default manager */
    uint64_t ver;    /* version of the master copy this copy reflects */
} mome_page_t;

/*
 * Side record of a page that needs more than mome_page_t: a twin (this node writes a page whose
 * master copy another node owns), the owner's copy of a page opened by write-ahead (so an unwritten
 * page sends no notice), a stale notice not yet applied, releases still in flight (a
 * FLUSH for the page waits for them).
 */
typedef struct mome_pext {
    mome_hnode_t h;         /* k1 = segment id, k2 = page */
    uint8_t *twin;          /* content when this node started writing, or NULL */
    uint8_t *spec;          /* owner: content when a write-ahead opened the page, or NULL */
    uint32_t owner;         /* node holding the master copy (where diffs go) */
    uint32_t relpend;       /* notices/diffs of this page not acknowledged yet */
    uint64_t stale_date;    /* earliest date of a modification this copy lacks (0: none) */
    uint64_t stale_ver;     /* the master version including it */
    uint8_t stale_due;      /* an acquire passed that notice while a transaction for the page
                               was in flight: what the transaction brings must include stale_ver */
    uint64_t push;          /* owner: RELEASE readers (nodes < 64) to push new versions to */
    uint16_t kept_idle; /* owner, kept open (MOME_PG_KEPT): releases in a row it was unchanged */
    uint8_t kept_back;  /* owner: times such releases closed it (each doubles how many it takes) */
    int has_flush;          /* a FLUSH waits for relpend to drop to 0 */
    uint8_t merging;        /* a refresh keeping this node's writes is in flight (requester.c) */
    uint8_t flushed;        /* meanwhile a flush sent those writes to the master (owner.c) */
    uint8_t late;           /* the running release waits for it to release this page */
    uint64_t current_in;    /* WEAK twinning writer: the acquire (mome_coh.acquires) in which
                               its copy was last known current (requester.c, weak_stale) */
    uint8_t *master;        /* the master kept apart from a WEAK view (copy.h mome_copy_split),
                               or NULL: the view is the master */
    uint64_t view_ver;      /* with it: the master's version the view last reflected */
    uint32_t flush_mgr;     /* its manager */
    uint32_t flush_drop;    /* its drop flag */
} mome_pext_t;

/* A fault waiting for a page: the view address to map when it arrives. */
typedef struct mome_waiter {
    char *addr; /* Mome-page aligned address in view */
    struct mome_view *view;
    uint8_t write;
    uint8_t mapped; /* the content was installed straight into this view */
    uint64_t t0; /* when the fault was read, ns */
    struct mome_waiter *next;
} mome_waiter_t;

/* MOME_TXN_DROP: this node dropped a read copy and told the manager (DROP), which has not
 * acknowledged yet: faults on the page wait for that, then ask anew (requester.c). */
enum { MOME_TXN_READ = 1, MOME_TXN_WRITE = 2, MOME_TXN_DROP = 3 };

typedef struct mome_txn {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    struct mome_seg *seg;
    uint64_t page;
    uint8_t kind;        /* MOME_TXN_* */
    uint8_t granted;     /* grant received */
    uint8_t have_data;   /* content in the memfd (or not needed) */
    uint8_t expect_data; /* grant said content comes separately */
    uint8_t rw;          /* write access granted */
    uint8_t done_sent;   /* DONE already sent to the manager */
    uint8_t rights;      /* the grant's MOME_RIGHT_* */
    uint8_t have_ver;    /* ver below was received */
    uint32_t owner;      /* node holding the master copy, per the grant */
    uint64_t ver;        /* version of the content received */
    mome_op_t *op;       /* an operation to tell on completion (coherence/op.h) */
    uint8_t ahead;       /* a read-ahead: map the page in the views when it arrives */
    uint8_t unawaited;   /* asked ahead, and no thread has faulted on it yet (page.c counts) */
    uint8_t model;       /* the model the request was made under */
    uint8_t switched;    /* the page changed model while it was out (mome_req_switched) */
    uint8_t merge;       /* a refresh of a copy with unreleased writes: keep them (XOR merge) */
    uint8_t served;      /* a served page: its content comes from momed (SRV_PAGE) */
    uint8_t recall;      /* momed recalls the page: its content goes back, the entry resets */
    uint8_t held;        /* not sent yet: this node's diffs of the page are still in flight */
    uint8_t fresh;       /* the master's content came (install) */
    uint64_t acquires;   /* mome_coh.acquires when it was sent */
    uint32_t held_flags; /* the request's flags, for when it is sent */
    int32_t acks_needed; /* from the grant */
    int32_t acks;        /* invalidation acks received so far */
    uint64_t acked_by;   /* the nodes below 64 they came from (one each) */
    uint64_t *acked_more; /* those of 64 and above, a bit each (allocated by the first) */
    uint32_t mgr;        /* node that granted */
    const struct mome_view *in_view; /* read ahead: installed into this view already */
    mome_waiter_t *waiters;
} mome_txn_t;

/* This node's model for the page (MOME_STRONG until it chose one). */
static inline int mome_page_model(const mome_page_t *pg)
{
    return pg->model ? pg->model : MOME_STRONG;
}

/*
 * A copy that is not a copy of another node's master (a reader's is MOME_PG_REMOTE, a twinning
 * writer's MOME_PG_TRACK) may be the master itself: a first reader's, a single writer's, one a
 * reader left with a read copy. Not exact (a read-only zero copy, or one kept after the master went
 * elsewhere, passes too), so it may only make a node ask the directory rather than drop the copy:
 * dropped, a master left the page nowhere while the directory sent the next reader here.
 */
static inline int mome_page_may_be_master(const mome_page_t *pg)
{
    return pg->access != MOME_ACC_NONE && !(pg->flags & (MOME_PG_REMOTE | MOME_PG_TRACK));
}

/* The node managing a page's directory entry until it migrates (a pure function of the job). */
int mome_page_default_manager(uint64_t seg, uint64_t page, int nnodes);

/* Side records: find (NULL if the page has none), or find-or-create (NULL on no memory); free
 * when nothing is left in it (a twinning writer's record stays: it names the owner). */
mome_pext_t *mome_pext_find(const mome_page_t *pg, uint64_t seg_id, uint64_t page);
mome_pext_t *mome_pext_get(mome_page_t *pg, uint64_t seg_id, uint64_t page);
void mome_pext_put(mome_page_t *pg, mome_pext_t *x);

/*
 * A segment's page table: an entry per page, zero until the page is first used. Two levels, so
 * that pages used far apart do not each cost a new page of memory for their entry: a directory
 * holds a pointer per MOME_PT_LEAF pages (NULL until one of them is used), and leaves are handed
 * out of a pool in the order they are first used, so that MOME_PT_LEAF * 16 bytes per leaf pack
 * 16 leaves into a page. Both are mapped with MAP_NORESERVE (no more address space than a dense
 * table, and resident as far as used), and a leaf is never given back until the segment goes: no
 * allocation can fail on a fault's path (design.md section 17).
 */
#define MOME_PT_LEAF_SHIFT 4
#define MOME_PT_LEAF (1u << MOME_PT_LEAF_SHIFT)

typedef struct mome_ptab {
    mome_page_t **dir; /* the leaf of pages [i * MOME_PT_LEAF, (i + 1) * MOME_PT_LEAF), or NULL */
    mome_page_t *pool; /* room for every leaf, handed out in turn */
    uint64_t nleaves;  /* directory entries, and leaves the pool holds */
    uint64_t used;     /* leaves handed out */
} mome_ptab_t;

/* A table for npages pages: 0, or -ENOMEM. */
int mome_ptab_init(mome_ptab_t *t, uint64_t npages);
void mome_ptab_fini(mome_ptab_t *t);
/* The leaf of page, taken from the pool (its entries zero). */
mome_page_t *mome_ptab_leaf(mome_ptab_t *t, uint64_t page);

static inline mome_page_t *mome_ptab_get(mome_ptab_t *t, uint64_t page)
{
    mome_page_t *leaf = t->dir[page >> MOME_PT_LEAF_SHIFT];
    if (__builtin_expect(leaf == NULL, 0))
        leaf = mome_ptab_leaf(t, page);
    return leaf + (page & (MOME_PT_LEAF - 1));
}

int mome_txn_init(void);
void mome_txn_fini(void);
mome_txn_t *mome_txn_find(uint64_t seg_id, uint64_t page);
mome_txn_t *mome_txn_new(struct mome_seg *seg, uint64_t seg_id, uint64_t page, int kind);
void mome_txn_free(mome_txn_t *t);
/* Remove the waiters whose address lies in [addr, addr+len) (their view is going away). */
void mome_txn_forget_range(char *addr, size_t len);
/* Remove every transaction of a segment. */
void mome_txn_forget_seg(uint64_t seg_id);
/* How many transactions of a segment are in flight. */
int mome_txn_count_seg(uint64_t seg_id);
int mome_txn_count(void);
/* Progress thread: call fn on every transaction in flight. */
void mome_txn_foreach(void (*fn)(const mome_txn_t *t, void *arg), void *arg);

/* A transaction asked ahead that no thread waits for (mome_txn_unawaited), until a thread faults
 * on its page (mome_txn_awaited) or it ends: how many there are (mome_txn_unawaited_count). */
void mome_txn_unawaited(mome_txn_t *t);
void mome_txn_awaited(mome_txn_t *t);
int mome_txn_unawaited_count(void);
mome_waiter_t *mome_waiter_new(void);
void mome_waiter_free(mome_waiter_t *w);

#endif
