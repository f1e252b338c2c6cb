/*
 * copy.h - private: this node's copy of a page: how it is mapped in the views (writable only once
 * a tracked write was noticed), protected, dropped, twinned when this node starts writing, and the
 * two lists the release engine works from: the pages written since the last release and the copies
 * with a stale notice pending. Invariant: access != NONE implies the store holds this node's copy.
 * Progress thread only.
 */
#ifndef MOME_COHERENCE_COPY_H
#define MOME_COHERENCE_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "coherence/seg.h"

int mome_copy_init(void);
void mome_copy_fini(void);

/* May the access be served by the copy as it is? */
static inline int mome_copy_satisfies(const mome_page_t *pg, int write)
{
    return write ? pg->access == MOME_ACC_WRITE : pg->access != MOME_ACC_NONE;
}
/* Tracked and not written since its last release: every view of the page is write-protected,
 * and the next write opens it (mome_copy_start_writing). */
static inline int mome_copy_tracked_clean(const mome_page_t *pg)
{
    return (pg->flags & (MOME_PG_TRACK | MOME_PG_DIRTY)) == MOME_PG_TRACK;
}

/* A twinning writer's copy (the master elsewhere) kept under a model without notices (WEAK): it
 * may lack releases an acquire of this node ordered before its writes (requester.c weak_stale). */
int mome_copy_weak_twin(const mome_page_t *pg);

/* Map the copy into view v at a (writable only when its writes are noticed), or into every view
 * but one (NULL: every view). */
void mome_copy_map(mome_seg_t *s, uint64_t page, const mome_view_t *v, char *a);
void mome_copy_map_all(mome_seg_t *s, uint64_t page, const mome_view_t *but);
/* Write-protect every writable view of the page. */
void mome_copy_protect(mome_seg_t *s, uint64_t page);
/* The same for pages [first, first + n), one call per view. */
void mome_copy_protect_run(mome_seg_t *s, uint64_t first, uint64_t n);
/* Remove the page from every view: the next access faults (and is resolved from the state). */
void mome_copy_unmap(mome_seg_t *s, uint64_t page);
/* The same for pages [first, first + n), one call per view (one TLB flush for them all). */
void mome_copy_unmap_run(mome_seg_t *s, uint64_t first, uint64_t n);
/* Forget this node's copy (access none, twin and notices gone); the content stays in the store. */
void mome_copy_drop(mome_seg_t *s, uint64_t page);
/* The same for a copy already out of every view (mome_copy_unmap): the state only. */
void mome_copy_forget(mome_seg_t *s, uint64_t page);
/* mome_copy_drop for content about to replace the copy (a transaction's): a notice pending stays,
 * since that content may have been served before the change the notice announces (the
 * transaction's version settles it). */
void mome_copy_discard(mome_seg_t *s, uint64_t page);
/* Replace the content of a copy no view may see changing: out of every view, then filled. */
void mome_copy_replace(mome_seg_t *s, uint64_t page, const void *data, uint64_t ver);
/* The same for a copy already out of every view (mome_copy_unmap, mome_copy_unmap_run). */
void mome_copy_fill(mome_seg_t *s, uint64_t page, const void *data, uint64_t ver);
/* Fresh content for a copy with unreleased writes (it has a twin), whose views no thread can
 * write meanwhile (write-protected): this node's changes, page XOR twin, go on top of data, which
 * becomes the twin. Nothing this node wrote is lost, and the copy has every change data has. */
void mome_copy_rebase(mome_seg_t *s, uint64_t page, const void *data);
/* From now on this node only reads its copy (a STRONG downgrade). */
void mome_copy_stop_writing(mome_seg_t *s, uint64_t page);
/* The first write of a tracked page since its last release: list it dirty and twin it (or, for
 * the owner's write-ahead, keep a copy to compare). Out of memory stops the job, naming the page
 * and which failed: a write not listed or not twinned would never be released. */
void mome_copy_start_writing(mome_seg_t *s, uint64_t page, int ahead);
/* Forget the owner's write-ahead copy; 1 if the page differs from it (or there was none). */
int mome_copy_forget_spec(mome_seg_t *s, uint64_t page);
/* A copy of the page, `sent`, goes to another node labelled with the page's version (holder.c).
 * If the owner keeps a copy to compare (a page kept open or opened ahead: the spec, what that
 * version holds for every other node) and sent differs from it, the spec goes: the next release
 * publishes the page whatever it holds then. Compared with the spec, a page written back to it
 * before that release would look unchanged, and the node served would keep the bytes it got. */
void mome_copy_served(mome_seg_t *s, uint64_t page, const void *sent);
/*
 * A release keeps an owner's page open for writing, without write-protecting it, if it was
 * written in the interval being released and in the one before (MOME_PG_WROTE), or if it was kept
 * open at the previous release (MOME_PG_KEPT): a page written at every step or every other step
 * (a stencil's boundary row, its two grids) then costs no TLB flush at a release and no write
 * fault after it. Its writes are noticed by comparing it with the snapshot of what was last
 * released (its spec), as for a page write-ahead opened; unchanged at MOME_KEEP_IDLE_MAX releases
 * in a row it is write-protected and tracked by its write faults again. A page so closed keeps
 * MOME_PG_WROTE: if it is written again (rewritten with the values it holds: a stencil's rows
 * that the heat has not reached yet), the release that finds it written keeps it open at once,
 * and each close doubles the unchanged releases the next one waits for (up to
 * MOME_KEEP_IDLE_MAX << MOME_KEEP_BACK_MAX). Closed sooner, such a page took a write fault, a
 * write-protect and a push of the bytes it held every few releases.
 */
int mome_copy_keeps_open(const mome_seg_t *s, uint64_t page);
/* The release of a kept page: a snapshot of it, which is what the release publishes; NULL if it
 * equals the previous snapshot (not written since). */
uint8_t *mome_copy_kept_snapshot(mome_seg_t *s, uint64_t page);
/* Not changed since: 1 if it stays open all the same (unchanged for fewer than
 * MOME_KEEP_IDLE_MAX << (times closed so, up to MOME_KEEP_BACK_MAX) releases in a row; its writes
 * may be of the values it holds), 0 if it goes back to being tracked by write faults. */
#define MOME_KEEP_IDLE_MAX 8
#define MOME_KEEP_BACK_MAX 5
int mome_copy_kept_idle(mome_seg_t *s, uint64_t page);
/* After that release: the snapshot becomes the copy later writes are compared with, and the
 * page stays open (dirty; the caller lists it again). */
void mome_copy_reopen(mome_seg_t *s, uint64_t page, uint8_t *snap);

/*
 * A master kept apart from a WEAK view. The node holding a page's master writes it in place, and
 * other nodes' diffs are merged into it: under WEAK this node's program would see them without
 * asking. So the first diff from another node for a master whose page is WEAK here splits them:
 * the master gets a buffer of its own (what this node serves, pushes, checkpoints and merges
 * into), and the view keeps its content, tracked with a twin like a non-owner's copy, its writes
 * merged into the master at each release (mome_copy_release_apart). MomeSyncMem, a switch to
 * a stronger model, a grant for the page, a flush, or the view's first write after an acquire
 * joins them again (mome_copy_join); a master handed to another node leaves the view as a WEAK
 * copy of the version it reflects (mome_copy_leave_apart). The buffer is outside the page budget
 * (MOME_LOCAL_PAGES): at most one per page this node owns and others write, until it joins.
 */
/* The master kept apart, or NULL (the copy in the store is the master, if any here). */
const uint8_t *mome_copy_apart(const mome_seg_t *s, uint64_t page);
/* A diff for the master held here is about to be merged: the buffer to merge it into (split
 * first if the page is WEAK here), or NULL to merge into the copy in the store. */
uint8_t *mome_copy_split(mome_seg_t *s, uint64_t page);
/* Its release (views write-protected): this node's writes, view XOR twin, go into the master kept
 * apart, and the twin goes. 1 if the master is kept apart (the caller announces a new version),
 * else 0. */
int mome_copy_release_apart(mome_seg_t *s, uint64_t page);
/* The view takes the master's content again (this node's unreleased writes on top) and the
 * store's copy is the master again. No-op if it is not kept apart. */
void mome_copy_join(mome_seg_t *s, uint64_t page);
/* A master kept apart, and an acquire began since the view was last the master's content: the
 * view's next write joins them first (a twin of it could lack a release that acquire orders
 * before the write, requester.c weak_stale). */
int mome_copy_apart_stale(const mome_seg_t *s, uint64_t page);
/* The master went to another node: forget it; the view stays, a copy of the version it last
 * reflected. */
void mome_copy_leave_apart(mome_seg_t *s, uint64_t page);

/* A stale notice: this copy lacks a change released at `date` (master version ver). */
void mome_copy_note_stale(mome_seg_t *s, uint64_t page, uint64_t date, uint64_t ver);
/* Content at least as new as the pending notice makes it moot. */
void mome_copy_settle_stale(mome_seg_t *s, uint64_t page);
/* An acquire passed the pending notice of a page with a transaction in flight: mark it due, and
 * take a copy held meanwhile out of the views (the transaction's end maps or drops it). */
void mome_copy_stale_passed(mome_seg_t *s, uint64_t page);
/* Would the copy at version ver lack a change an acquire already passed (a due notice, under a
 * model that takes notices)? Then no thread may see it. */
int mome_copy_lacks_due(mome_seg_t *s, uint64_t page, uint64_t ver);

/* Page lists (segment id, page), in the order pages were added. */
typedef struct mome_pref {
    uint64_t seg, page;
} mome_pref_t;
typedef struct mome_plist {
    mome_pref_t *v;
    size_t n, cap;
} mome_plist_t;
int mome_plist_add(mome_plist_t *l, uint64_t seg, uint64_t page);

/* Pages written since the last release (each once: MOME_PG_LISTED), and copies with a pending
 * stale notice. The release engine takes and filters them. */
mome_plist_t *mome_copy_dirty(void);
mome_plist_t *mome_copy_stale(void);

#endif
