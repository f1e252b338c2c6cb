/*
 * ckptflag.h - private: which pages of persistent segments this node changed since the last
 * checkpoint. Such a page carries MOME_PG_CKPT (page.h): set where this node comes to change the
 * master content (a view of it made writable while this node holds the master, a diff merged
 * into its master), cleared when a checkpoint takes the page or when the content goes to a new
 * writer (who sets it in turn). Every page changed since the last checkpoint is therefore flagged
 * on at least one node. The hooks below are called by copy.c, requester.c, owner.c and holder.c.
 * Progress thread only.
 */
#ifndef MOME_COHERENCE_CKPTFLAG_H
#define MOME_COHERENCE_CKPTFLAG_H

#include <stddef.h>
#include <stdint.h>

#include "coherence/seg.h"
#include "memory/store_repo.h"

/* The page may change here from now on (this node holds its master): flag it. */
void mome_ckpt_mark(mome_seg_t *s, uint64_t page);
/* The page stays flagged, unchanged (a checkpoint did not write it yet). */
void mome_ckpt_keep(mome_seg_t *s, uint64_t page);

/* A write to the page is about to be allowed (a write fault, a write-ahead): flag it if this node
 * holds the master (not a twinning writer, whose changes reach the master as a diff). */
static inline void mome_ckpt_note(mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if (mome_store_persistent(s->store) &&
        ((pg->flags & MOME_PG_OWNER) || !(pg->flags & MOME_PG_TRACK)))
        mome_ckpt_mark(s, page);
}

/* May a view of the page be mapped writable now (its access allows it)? A persistent page this
 * node holds the master of only once a write to it was noticed since the last checkpoint (a write
 * fault flags it first: mome_ckpt_note), as a tracked page only once it is dirty. */
static inline int mome_ckpt_writable(const mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    return !mome_store_persistent(s->store) || (pg->flags & MOME_PG_CKPT) ||
           ((pg->flags & MOME_PG_TRACK) && !(pg->flags & MOME_PG_OWNER));
}

/* A grant with write access installs the page: may the view be writable at once? Yes for a write
 * fault (flagged now) or a page flagged already; a persistent page that is read first is
 * installed read-only, so that its first write is noticed. */
static inline int mome_ckpt_install_writable(mome_seg_t *s, uint64_t page, int write)
{
    if (!mome_store_persistent(s->store) || (mome_seg_pg(s, page)->flags & MOME_PG_CKPT))
        return 1;
    if (write)
        mome_ckpt_mark(s, page);
    return write;
}

/*
 * This node's copy goes to a new writer (INV, FWD_WRITE): its flag stays, and the checkpoint
 * fetches the page's current content here (coherence/checkpoint.c). The writer flags it only
 * when it writes: one that took the page ahead (write-ahead, a page kept open through releases)
 * and never wrote it flagged nothing, and the changes merged here since the last checkpoint were
 * saved by no node (3 nodes writing a RELEASE page, one switching it to STRONG: a clean
 * MomeCheckpoint or MomeFinalize left the page as the checkpoint before, 7 jobs of 8; helper-168).
 */
static inline void mome_ckpt_handoff(mome_seg_t *s, uint64_t page)
{
    (void)s;
    (void)page;
}

/*
 * The checkpoint of segment seg begins on this node (before its barrier), or (seg 0) the one that
 * ran ends. Pages of seg marked meanwhile (written, or come here for writing) keep their flag when
 * the checkpoint takes them (mome_ckpt_changed_during): another node may have taken an older copy
 * of such a page for the same generation, and the newer node number's copy is the one the
 * repository keeps (repo/delta.c). Its flag cleared here, the newer content was lost for good,
 * even after a clean MomeFinalize (helper-112).
 */
void mome_ckpt_window(uint64_t seg);
int mome_ckpt_changed_during(const mome_seg_t *s, uint64_t page);

/* Take s's flagged pages out of the list (sorted; malloc'd into *pages, NULL when none); they stay
 * flagged. Returns their number, or -ENOMEM. */
long mome_ckpt_flagged(mome_seg_t *s, uint64_t **pages);

int mome_ckpt_init(void);
void mome_ckpt_fini(void);

#endif
