/*
 * checkpoint.c - which pages of a persistent segment this node must write at a checkpoint, and
 * their current content.
 *
 * The flag (MOME_PG_CKPT, ckptflag.h) follows the master content. Ways a flagged copy can go other
 * than to a new writer (an eviction, an acquire dropping a stale copy, a model switch) keep the
 * flag: at the checkpoint that node fetches the page's current content and writes it, which at
 * worst writes a page twice, with the same content (every modification was released before).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "coherence/checkpoint.h"
#include "coherence/copy.h"
#include "coherence/requester.h"
#include "mome.h"

/*
 * After every modification was released and acquired (the checkpoint's barrier): is this node's
 * copy the page's current content? The master (a multiple-writer page's owner, an exclusive
 * writer) is; so is a STRONG copy with no notice pending. Other copies are fetched again.
 */
static int current(mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if (pg->access == MOME_ACC_NONE || (pg->flags & MOME_PG_BUSY))
        return 0;
    if ((pg->flags & MOME_PG_OWNER) || mome_copy_apart(s, page) ||
        (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK)))
        return 1;
    if (mome_page_model(pg) != MOME_STRONG)
        return 0;
    const mome_pext_t *x = mome_pext_find(pg, s->id, page);
    return !(x && x->stale_date);
}

/* Ask for the page's current content: 1, or 0 if a request of another is in flight. */
static int fetch(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    const mome_page_t *pg = mome_seg_pg(s, page);
    if (pg->flags & MOME_PG_BUSY)
        return 0; /* a request in flight: taken by a later round */
    if (pg->access == MOME_ACC_NONE)
        mome_req_access(s, page, mome_page_model(pg), op);
    else if (pg->flags & MOME_PG_DIRTY)
        mome_req_renew(s, page, op); /* keeps writes made meanwhile (not released before) */
    else if (mome_page_may_be_master(pg))
        /* (A first writer a STRONG reader left with a read copy.) Kept until the answer, which
         * confirms it or replaces it: dropped, a reader's FWD_READ queued ahead of this request
         * found nothing to send, and a paged-out master's bytes were given back before the
         * directory confirmed the copy (helper-117). */
        mome_req_access(s, page, mome_page_model(pg), op);
    else
        mome_req_refresh(s, page, op);
    return 1;
}

int mome_ckpt_gather(mome_seg_t *s, mome_op_t *op, mome_ckpt_set_t *set)
{
    long n = mome_ckpt_flagged(s, &set->pages);

    set->n = 0;
    set->fetched = NULL;
    if (n < 0)
        return (int)n;
    set->n = (size_t)n;
    set->fetched = mome_calloc(set->n ? set->n : 1, 1);
    if (!set->fetched) {
        mome_ckpt_restore(s, set->pages, set->n);
        mome_ckpt_set_free(set);
        return -ENOMEM;
    }
    /* Only what this gathering asked for counts as fetched: a request already in flight (a
     * read ahead of the barrier) is judged by current() when it is taken (helper-101). */
    for (size_t i = 0; i < set->n; i++)
        if (!current(s, set->pages[i]))
            set->fetched[i] = (uint8_t)fetch(s, set->pages[i], op);
    return 0;
}

size_t mome_ckpt_take(mome_seg_t *s, mome_ckpt_set_t *set)
{
    size_t taken = 0, left = 0;
    uint64_t run = 0, nrun = 0; /* pages [run, run + nrun) to write-protect, at once */

    for (size_t i = 0; i < set->n; i++) {
        uint64_t page = set->pages[i];
        mome_page_t *pg = mome_seg_pg(s, page);
        if (!(pg->flags & MOME_PG_CKPT))
            continue; /* handed to a new writer meanwhile: it writes the page */
        int fresh = set->fetched[i] && pg->access != MOME_ACC_NONE &&
                    !(pg->flags & MOME_PG_BUSY);
        if (!fresh && !current(s, page)) {
            mome_ckpt_keep(s, page); /* still flagged: the next round */
            left++;
            continue;
        }
        set->pages[taken++] = page;
        pg->flags &= (uint16_t)~MOME_PG_CKPT;
        if (mome_ckpt_changed_during(s, page)) {
            mome_ckpt_mark(s, page); /* written again at the next checkpoint (ckptflag.h) */
            continue;
        }
        /* The next write must fault, to flag the page again. Consecutive pages are protected in
         * one call: a call costs a TLB flush on every CPU, whatever its length. */
        if (pg->access == MOME_ACC_WRITE && !mome_copy_tracked_clean(pg)) {
            if (nrun && page != run + nrun) {
                mome_copy_protect_run(s, run, nrun);
                nrun = 0;
            }
            if (!nrun)
                run = page;
            nrun++;
        }
    }
    if (nrun)
        mome_copy_protect_run(s, run, nrun);
    set->n = taken;
    return left;
}

size_t mome_ckpt_copy(mome_seg_t *s, const uint64_t *pages, size_t n, void *buf)
{
    for (size_t i = 0; i < n; i++) {
        mome_page_t *pg = mome_seg_pg(s, pages[i]);
        if (pg->access == MOME_ACC_NONE)
            return i; /* evicted since it was taken */
        const uint8_t *apart = mome_copy_apart(s, pages[i]); /* a master apart from its view */
        memcpy((uint8_t *)buf + i * mome_coh.page_size, apart ? apart : mome_seg_bytes(s, pages[i]),
               mome_coh.page_size);
    }
    return n;
}

void mome_ckpt_restore(mome_seg_t *s, const uint64_t *pages, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (pages[i] < s->npages)
            mome_ckpt_keep(s, pages[i]);
}

void mome_ckpt_set_free(mome_ckpt_set_t *set)
{
    free(set->pages);
    free(set->fetched);
    memset(set, 0, sizeof(*set));
}
