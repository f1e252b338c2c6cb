/*
 * holder.c - serving, dropping and flushing this node's copies at the directory's request, stale
 * notices, and pushed versions.
 */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "coherence/ckptflag.h"
#include "coherence/copy.h"
#include "coherence/directory.h"
#include "coherence/holder.h"
#include "coherence/model.h"
#include "coherence/owner.h"
#include "coherence/proto.h"
#include "coherence/release.h"
#include "mome.h"

/* The owner hands out content: writes it did untracked since its version was set count now. */
static void bump_if_untracked(mome_page_t *pg)
{
    if (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK))
        pg->ver++;
}

/* Others are getting a copy of a page this node writes: from now on track its writes (protected:
 * the caller write-protected it already). */
static void start_sharing(mome_seg_t *s, uint64_t page, int protected)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    pg->flags |= MOME_PG_SHARED;
    if (pg->access == MOME_ACC_WRITE && !(pg->flags & MOME_PG_TRACK)) {
        pg->flags |= MOME_PG_TRACK;
        pg->flags &= (uint16_t)~MOME_PG_DIRTY;
        if (!protected)
            mome_copy_protect(s, page);
    }
}

/*
 * The bytes to send of a page this node holds. A RELEASE or WEAK writer keeps writing while it
 * serves a copy (its changes travel later, as diffs), so its live page can change between the
 * message's checksum, which covers the payload, and the transport's copy of it: the receiver would
 * then refuse the message as corrupted and stop the job (seen under load: "a DATA message ...
 * fails validation (checksum)"). Every page is sent from a snapshot, taken once here (a 4 KiB
 * copy, well under a microsecond: cheaper than knowing for sure that no thread can write it; the
 * first one of a page through the file, mome_store_copy_out).
 */
static const void *stable_bytes(mome_seg_t *s, uint64_t page)
{
    static void *snap;
    if (!snap && !(snap = malloc(mome_coh.page_size)))
        mome_fatal("out of memory copying page %llu of segment '%s' to send it; stopping",
                   (unsigned long long)page, s->name);
    const uint8_t *apart = mome_copy_apart(s, page); /* a master kept apart from a WEAK view */
    if (apart)
        memcpy(snap, apart, mome_coh.page_size);
    else
        mome_store_copy_out(s->store, page, snap);
    mome_copy_served(s, page, snap); /* the copy sent carries the page's version */
    return snap;
}

/* The copy this node holds of a forwarded request's page, or NULL. */
static mome_seg_t *held(const mome_fwd_t *f)
{
    mome_seg_t *s = mome_seg_page(f->seg, f->page);
    return s && mome_seg_pg(s, f->page)->access != MOME_ACC_NONE ? s : NULL;
}

/* Send this node's copy to the requester with the grant the manager delegated to us. */
static void send_copy(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s)
{
    mome_data_t d = {.seg = f->seg, .page = f->page, .mgr = m->src, .acks = f->acks,
                     .rights = f->rights};
    if (!s)
        mome_fatal("node %u forwarded a %s for page %llu of segment '%s' (%#llx), which this node "
                   "does not hold: the directory is inconsistent; stopping",
                   m->src, mome_msg_name(m->type), (unsigned long long)f->page,
                   mome_seg_name_of(f->seg), (unsigned long long)f->seg);
    mome_page_t *pg = mome_seg_pg(s, f->page);
    d.ver = pg->ver;
    if (m->type == MOME_MSG_FWD_SNAP && f->rights == 0 && !(m->flags & MOME_FWD_NOPUSH) &&
        mome_model_get((int)f->model)->pushed &&
        (pg->flags & MOME_PG_OWNER) && f->node < 64 && f->node != (uint32_t)mome_coh.self) {
        /* A reader whose model takes pushes, of a page this node writes: push it the new
         * versions at release. */
        mome_pext_t *x = mome_pext_get(pg, s->id, f->page);
        if (!x)
            mome_fatal("out of memory recording a reader of page %llu of segment '%s'; "
                       "stopping", (unsigned long long)f->page, s->name);
        x->push |= 1ull << f->node;
    }
    /* From a snapshot of the runtime view (stable_bytes): the send copies it before returning. */
    mome_send((int)f->node, MOME_MSG_DATA, MOME_DATA_GRANT, &d, stable_bytes(s, f->page),
              (uint32_t)mome_coh.page_size);
    if (f->node != (uint32_t)mome_coh.self)
        MOME_STAT_INC(pages_sent);
}

/*
 * Forwarded requests served together. Read-ahead and write-ahead ask for runs of consecutive
 * pages, and before this node sends a page it holds it must write-protect it (a reader's copy, or a
 * snapshot of a page it writes untracked) or take it out of its views (a writer's): one
 * UFFDIO_WRITEPROTECT or MADV_DONTNEED over a run costs one TLB flush where a page at a time costs
 * one each (40 us on a paravirtualized guest when the flush interrupts the other CPU). The message
 * layer runs what is held here before any message other than a request, a forwarded read, write
 * or snapshot, or a DONE, and at the end of its round (mome_msg_set_flush): the pages' state is
 * left as it was until then, as if the messages had come a moment later. A second request for a
 * page already held serves the held ones first. Progress thread only.
 */
#define HELD_MAX 64
enum { HOLD_PROTECT = 1, HOLD_UNMAP = 2 };
static struct held_fwd {
    mome_msg_t m; /* a FWD_READ, FWD_WRITE or FWD_SNAP (no payload) */
    mome_fwd_t f;
    int act; /* what the page needs before it is sent: HOLD_PROTECT or HOLD_UNMAP */
} held_q[HELD_MAX];
static int nheld;

static int by_page(const void *a, const void *b)
{
    const struct held_fwd *x = *(const struct held_fwd *const *)a,
                          *y = *(const struct held_fwd *const *)b;
    if (x->act != y->act)
        return x->act - y->act;
    if (x->f.seg != y->f.seg)
        return x->f.seg < y->f.seg ? -1 : 1;
    return x->f.page < y->f.page ? -1 : x->f.page > y->f.page;
}

static void serve_read(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_wp);
static void serve_write(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_op);
static void serve_snap(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_wp);

/* Serve the held requests: protect or unmap each run of consecutive pages at once, then send. */
static void serve_held(void)
{
    struct held_fwd *v[HELD_MAX];
    int n = nheld;

    if (!n)
        return;
    nheld = 0;
    for (int i = 0; i < n; i++)
        v[i] = &held_q[i];
    qsort(v, (size_t)n, sizeof(v[0]), by_page);
    for (int i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && v[j]->act == v[i]->act && v[j]->f.seg == v[i]->f.seg &&
                        v[j]->f.page == v[j - 1]->f.page + 1;
             j++)
            ;
        mome_seg_t *s = mome_seg_page(v[i]->f.seg, v[i]->f.page);
        if (!s)
            continue; /* gone meanwhile: send_copy below says so */
        if (v[i]->act == HOLD_PROTECT)
            mome_copy_protect_run(s, v[i]->f.page, (uint64_t)(j - i));
        else
            mome_copy_unmap_run(s, v[i]->f.page, (uint64_t)(j - i));
    }
    /* In the order they came; nothing changed the pages' state since they were held. */
    for (int i = 0; i < n; i++) {
        const mome_msg_t *m = &held_q[i].m;
        const mome_fwd_t *f = &held_q[i].f;
        mome_seg_t *s = mome_seg_page(f->seg, f->page);
        if (m->type == MOME_MSG_FWD_READ)
            serve_read(m, f, s, 1);
        else if (m->type == MOME_MSG_FWD_WRITE)
            serve_write(m, f, s, 1);
        else
            serve_snap(m, f, s, 1);
    }
}

/* Hold a request whose page needs act before it is sent (serve_held). */
static void hold(const mome_msg_t *m, const mome_fwd_t *f, int act)
{
    for (int i = 0; i < nheld; i++)
        if (held_q[i].f.seg == f->seg && held_q[i].f.page == f->page) {
            serve_held(); /* the held one first, as it came */
            break;
        }
    if (nheld == HELD_MAX)
        serve_held();
    held_q[nheld].m = *m;
    held_q[nheld].f = *f;
    held_q[nheld].act = act;
    nheld++;
}

/* held_wp: the page was write-protected with others (serve_held). */
static void serve_read(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_wp)
{
    if (s) {
        bump_if_untracked(mome_seg_pg(s, f->page));
        if (held_wp)
            mome_seg_pg(s, f->page)->access = MOME_ACC_READ;
        else
            mome_copy_stop_writing(s, f->page);
    }
    send_copy(m, f, s);
}

static void on_fwd_read(const mome_msg_t *m, const void *body)
{
    const mome_fwd_t *f = body;
    mome_seg_t *s = held(f);
    if (!s && m->src == (uint32_t)mome_coh.self && mome_dir_reroute_read(f) == 0)
        return;
    if (s && mome_seg_pg(s, f->page)->access == MOME_ACC_WRITE)
        hold(m, f, HOLD_PROTECT);
    else
        serve_read(m, f, s, 0);
}

/* held_op: the page was write-protected (a kept copy) or unmapped with others (serve_held). */
static void serve_write(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_op)
{
    int keep = !!(m->flags & MOME_FWD_KEEP);
    if (s) {
        mome_page_t *pg = mome_seg_pg(s, f->page);
        bump_if_untracked(pg);
        /* A kept copy stays mapped read-only; one that goes leaves the views before it is sent
         * (one TLB flush: a write-protect then an unmap would cost two). Either way no thread
         * writes the page from here on. */
        if (keep && held_op)
            pg->access = MOME_ACC_READ;
        else if (keep)
            mome_copy_stop_writing(s, f->page);
        else if (!held_op)
            mome_copy_unmap(s, f->page);
        mome_ckpt_handoff(s, f->page); /* (flagged, it stays so: ckptflag.h) */
    }
    send_copy(m, f, s);
    if (keep) {
        /* It stays a reader (a kept or notified copy) of a page it no longer owns; a WEAK view
         * whose master was kept apart stays as it was, at the version it reflects. */
        mome_copy_forget_spec(s, f->page);
        mome_seg_pg(s, f->page)->flags &= (uint16_t)~MOME_PG_WRITING;
        mome_copy_leave_apart(s, f->page);
    } else {
        mome_copy_forget(s, f->page);
    }
}

static void on_fwd_write(const mome_msg_t *m, const void *body)
{
    const mome_fwd_t *f = body;
    mome_seg_t *s = held(f);
    int keep = !!(m->flags & MOME_FWD_KEEP);
    if (s && !keep)
        hold(m, f, HOLD_UNMAP);
    else if (s && mome_seg_pg(s, f->page)->access == MOME_ACC_WRITE)
        hold(m, f, HOLD_PROTECT);
    else
        serve_write(m, f, s, 0);
}

/* held_wp: the page was write-protected with others (serve_held). */
static void serve_snap(const mome_msg_t *m, const mome_fwd_t *f, mome_seg_t *s, int held_wp)
{
    if (s) {
        mome_page_t *pg = mome_seg_pg(s, f->page);
        bump_if_untracked(pg);
        if (pg->flags & MOME_PG_OWNER)
            start_sharing(s, f->page, held_wp);
    }
    send_copy(m, f, s);
}

static void on_fwd_snap(const mome_msg_t *m, const void *body)
{
    const mome_fwd_t *f = body;
    mome_seg_t *s = held(f);
    const mome_page_t *pg = s ? mome_seg_pg(s, f->page) : NULL;
    if (pg && (pg->flags & MOME_PG_OWNER) && pg->access == MOME_ACC_WRITE &&
        !(pg->flags & MOME_PG_TRACK))
        hold(m, f, HOLD_PROTECT); /* as start_sharing would, with others */
    else
        serve_snap(m, f, s, 0);
}

/*
 * This node owns the master: a WEAK holder asks whether its version is current. The manager sends
 * it only while no transaction is open on the page (its entry is busy from each request to its
 * DONE, and the sync's own DONE comes after this answer), to the owner the entry names: the node
 * that installed the master before its DONE, in the same handler, and gives it up only through a
 * transaction of that entry (another node's write, momed's recall, which resets the entry: no
 * owner, the manager answers itself). An owner never drops its master without one (model_*.c
 * enter, requester.c brings_stale). So this node holds the page, unless its segment is gone here:
 * destroyed job-wide, which crosses a sync only if the requester closed the segment while the
 * sync was out (its SEG_CLOSE waits for its transactions, not for a MomeSyncMem another thread
 * or an acquire started); the answer changes nothing there. A segment known here without the
 * page is a directory that names the wrong owner: answered SYNC_OK, the requester took a stale
 * copy for current (design.md section 7).
 */
static void on_fwd_sync(const mome_msg_t *m, const void *body)
{
    const mome_fwd_t *f = body;
    mome_seg_t *s = held(f);
    mome_data_t d = {.seg = f->seg, .page = f->page, .mgr = m->src};

    if (!s && mome_seg_find(f->seg))
        mome_fatal("node %u forwarded a FWD_SYNC of node %u for page %llu of segment '%s' (%#llx), "
                   "which this node does not hold: the directory is inconsistent (its owner is "
                   "elsewhere, and node %u's copy may be stale); stopping",
                   m->src, f->node, (unsigned long long)f->page, mome_seg_name_of(f->seg),
                   (unsigned long long)f->seg, f->node);
    if (s) {
        mome_page_t *pg = mome_seg_pg(s, f->page);
        bump_if_untracked(pg);
        if ((m->flags & MOME_FWD_EXCL) || pg->ver > f->ver) {
            d.ver = pg->ver;
            mome_send((int)f->node, MOME_MSG_SYNC_DATA, 0, &d, stable_bytes(s, f->page),
                      (uint32_t)mome_coh.page_size);
            return;
        }
    }
    mome_send((int)f->node, MOME_MSG_SYNC_OK, 0, &d, NULL, 0);
}

static void on_inv(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *r = body;
    mome_seg_t *s = mome_seg_page(r->seg, r->page);
    MOME_TR(MOME_TR_INV, r->seg, r->page, (int)r->node, 0, 0);
    if (s && mome_seg_pg(s, r->page)->access != MOME_ACC_NONE) {
        mome_ckpt_handoff(s, r->page); /* (flagged, it stays so: ckptflag.h) */
        mome_copy_drop(s, r->page);
    }
    MOME_STAT_INC(invalidations_received);
    mome_ref_t ack = {.seg = r->seg, .page = r->page};
    mome_send((int)r->node, MOME_MSG_INV_ACK, 0, &ack, NULL, 0);
}

static void on_flush(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *r = body;
    mome_seg_t *s = mome_seg_page(r->seg, r->page);

    MOME_TR(MOME_TR_FLUSH, r->seg, r->page, (int)m->src, 0,
            m->flags & MOME_FLUSH_DROP ? MOME_TRF_DROP : 0);
    if (!s) {
        mome_ref_t ack = {.seg = r->seg, .page = r->page, .node = (uint32_t)mome_coh.self};
        mome_send((int)m->src, MOME_MSG_FLUSH_ACK, 0, &ack, NULL, 0);
        return;
    }
    mome_owner_flush(s, r->page, m->src, !!(m->flags & MOME_FLUSH_DROP));
}

/*
 * The manager says no node but this one holds a page whose master this node writes (every reader
 * dropped its copy, directory.c start_drop): its writes need no tracking any more. It becomes the
 * page of a sole owner, as if nobody had ever read it: writable without faults, released without
 * notices, its version counted when a copy is handed out again (bump_if_untracked). Writes not
 * released yet go with it (nobody to tell of them), and so does the write-ahead copy (it only
 * saves a notice). The manager's entry stays busy until the acknowledgement: a read served after
 * it starts the tracking again (start_sharing). The views stay write-protected until the next
 * write faults once and maps the page writable (mome_copy_map).
 */
static void on_unshare(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *r = body;
    mome_seg_t *s = mome_seg_find(r->seg);

    if (s) {
        mome_page_t *pg = r->page < s->npages ? mome_seg_pg(s, r->page) : NULL;
        MOME_TR(MOME_TR_UNSHARE, s->id, r->page, (int)m->src, 0, 0);
        /* The manager sends it to the owner of a MULTI page while the entry is idle, and keeps the
         * entry busy until the ack: nothing can change the ownership meanwhile, and a MULTI owner
         * holds its master writable (every grant that makes or keeps it the owner says RW and
         * OWNER; only a flush, which ends MULTI, takes that away). So this node is that owner,
         * unless its segment is gone here (destroyed job-wide after the reader's DROP_ACK: the
         * directory waits for this ack as a crossing). Acknowledged by another node, the entry
         * went on with an owner that still tracks, or one that never was. */
        if (!pg || !(pg->flags & MOME_PG_OWNER) || pg->access != MOME_ACC_WRITE)
            mome_fatal(
                "node %u asked this node to stop tracking its writes of page %llu of "
                "segment '%s' (%#llx) (UNSHARE), which this node does not own (it holds %s): "
                "the directory is inconsistent; stopping",
                m->src, (unsigned long long)r->page, s->name, (unsigned long long)s->id,
                !pg                           ? "no such page: the segment is shorter"
                : pg->access == MOME_ACC_NONE ? "no copy"
                : pg->access == MOME_ACC_READ ? "a read copy"
                                              : "a copy it writes, not the master of a page "
                                                "several nodes write");
        /* (A master kept apart from a WEAK view stays tracked: the view's writes reach it by
         * their twin.) */
        if (!mome_copy_apart(s, r->page)) {
            mome_copy_forget_spec(s, r->page);
            pg->flags &= (uint16_t)~(MOME_PG_WRITING & ~MOME_PG_OWNER); /* still its owner */
        }
        mome_pext_t *x = mome_pext_find(pg, s->id, r->page);
        if (x) {
            x->push = 0; /* nobody reads it */
            mome_pext_put(pg, x);
        }
    }
    mome_ref_t ack = {.seg = r->seg, .page = r->page, .node = (uint32_t)mome_coh.self};
    mome_send((int)m->src, MOME_MSG_UNSHARE_ACK, 0, &ack, NULL, 0);
}

static void on_stale(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    mome_entry_t e;

    MOME_BATCH_FOREACH(MOME_BATCH_NOTICE, m, e)
    {
        mome_seg_t *s = mome_seg_page(e.seg, e.page);
        if (s)
            mome_copy_note_stale(s, e.page, rel->date, e.ver);
    }
    mome_rel_t ack = {.token = rel->token};
    mome_send((int)m->src, MOME_MSG_STALE_ACK, 0, &ack, NULL, 0);
}

/*
 * A new version pushed by the page's owner at its release: replace a read copy held under a
 * pushed model with it (a pure shortcut: the notices still decide what is stale). Whether the page
 * is still read here decides whether the owner keeps pushing it (the ack), and only a copy that
 * left the views can tell: its next use faults locally (MOME_PG_USED). But taking a copy out of
 * the views costs a TLB flush (40 us on a paravirtualized guest whose other vCPU is busy) and its
 * next read a fault (20 us), at every push of a page read at every step (a stencil's halo). So a
 * copy used since it last left the views is written in place, still mapped read-only, for up to
 * 3 pushes in a row (PUSH_IN_PLACE), and leaves the views at the next one (PUSH_REPLACE), which
 * asks for more only if it was used since (so a page no longer read stops being pushed within 5
 * pushes instead of 1).
 *
 * Writing in place is safe because a pushed model is RELEASE: a thread of this node may read the
 * page only after an acquire that orders the owner's release (which sent this push) before it,
 * or else its read races with the owner's write and may see either value. In a data-race-free
 * program no thread reads the page while the push is written (its readers wait in that acquire
 * or have not reached the page yet); a racy one may see a mix of the two versions, as it
 * could already see either version whole.
 */
enum { PUSH_NOT_HELD, PUSH_KEEP, PUSH_REPLACE, PUSH_IN_PLACE };
#define PUSH_IN_PLACE_MAX 3

static int push_action(const mome_entry_t *e, mome_seg_t **sp)
{
    mome_seg_t *s = *sp = mome_seg_page(e->seg, e->page);
    if (!s)
        return PUSH_NOT_HELD;
    const mome_page_t *pg = mome_seg_pg(s, e->page);
    if (!mome_model_of_id(pg->model)->pushed || pg->access != MOME_ACC_READ ||
        (pg->flags & (MOME_PG_TRACK | MOME_PG_DIRTY | MOME_PG_OWNER)))
        return PUSH_NOT_HELD;
    if ((pg->flags & MOME_PG_BUSY) || e->ver <= pg->ver)
        return PUSH_KEEP; /* a transaction or a newer copy is here: keep the subscription */
    if ((pg->flags & MOME_PG_USED) &&
        (pg->flags & MOME_PG_INPLACE) < PUSH_IN_PLACE_MAX * MOME_PG_INPLACE_ONE)
        return PUSH_IN_PLACE;
    return PUSH_REPLACE;
}

/* The copies a push replaces leave the views before any is filled: each run of consecutive pages
 * at once (one TLB flush per run, where a page at a time costs one each). */
static void unmap_pushed(const mome_msg_t *m)
{
    mome_seg_t *run = NULL, *s;
    uint64_t first = 0, n = 0;
    mome_entry_t e;

    MOME_BATCH_FOREACH(MOME_BATCH_PUSH, m, e)
    {
        if (push_action(&e, &s) != PUSH_REPLACE)
            continue;
        if (s == run && e.page == first + n) {
            n++;
            continue;
        }
        if (n)
            mome_copy_unmap_run(run, first, n);
        run = s;
        first = e.page;
        n = 1;
    }
    if (n)
        mome_copy_unmap_run(run, first, n);
}

/* Returns whether to keep pushing the page here (the copy was used since the previous push). */
static int take_push(const mome_entry_t *e)
{
    mome_seg_t *s;
    int act = push_action(e, &s);
    if (act != PUSH_REPLACE && act != PUSH_IN_PLACE)
        return act == PUSH_KEEP;
    mome_page_t *pg = mome_seg_pg(s, e->page);
    int used = !!(pg->flags & MOME_PG_USED);
    /* PUSH_REPLACE: out of the views already (unmap_pushed); PUSH_IN_PLACE: still mapped. */
    mome_copy_fill(s, e->page, e->data, e->ver);
    if (act == PUSH_IN_PLACE) {
        pg->flags = (uint16_t)(pg->flags + MOME_PG_INPLACE_ONE);
    } else {
        pg->flags &= (uint16_t)~(MOME_PG_USED | MOME_PG_INPLACE);
    }
    MOME_STAT_INC(pages_fetched);
    return used;
}

static void on_push(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    mome_rel_t ackb = {.token = rel->token};
    mome_batch_t ack = {0};
    mome_entry_t e;

    unmap_pushed(m);
    MOME_BATCH_FOREACH(MOME_BATCH_PUSH, m, e)
    {
        MOME_TR(MOME_TR_FETCH, e.seg, e.page, (int)m->src, e.len, MOME_TRF_PUSH);
        /* A push batch is at most as long as its ack (a page per entry): no -E2BIG here. */
        if (mome_batch_notice(&ack, e.seg, e.page, (uint64_t)take_push(&e)) < 0)
            mome_fatal("out of memory acknowledging a push from node %u; stopping", m->src);
    }
    uint32_t n = ack.n;
    if (ack.n)
        mome_send((int)m->src, MOME_MSG_PUSH_ACK, 0, &ackb, ack.buf, (uint32_t)ack.len);
    mome_batch_free(&ack);
    if (rel->token) /* a barrier's: its acquire here waits for them (release.h) */
        mome_rel_pushed(m->src, rel->token, n);
}

/* ---- the message table ---- */

#define FWD_BASE                                                                                   \
    MOME_FIELD(mome_fwd_t, seg, MOME_FK_RAW, 0), MOME_FIELD(mome_fwd_t, page, MOME_FK_RAW, 0),     \
        MOME_FIELD(mome_fwd_t, node, MOME_FK_NODE, 0)
static const mome_field_t fwd_read_fields[] = {FWD_BASE,
                                               MOME_FIELD(mome_fwd_t, model, MOME_FK_MODEL, 0)};
static const mome_field_t fwd_write_fields[] = {
    FWD_BASE, MOME_FIELD(mome_fwd_t, acks, MOME_FK_NCOUNT, 0),
    MOME_FIELD(mome_fwd_t, rights, MOME_FK_MASK, MOME_RIGHTS_ALL)};
static const mome_field_t fwd_snap_fields[] = {
    FWD_BASE, MOME_FIELD(mome_fwd_t, rights, MOME_FK_MASK, MOME_RIGHTS_ALL),
    MOME_FIELD(mome_fwd_t, model, MOME_FK_RAW, 0)};
static const mome_field_t fwd_sync_fields[] = {FWD_BASE,
                                               MOME_FIELD(mome_fwd_t, ver, MOME_FK_RAW, 0)};
static const mome_field_t ref_fields[] = {MOME_FIELD(mome_ref_t, seg, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, page, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, node, MOME_FK_NODE, 0)};
static const mome_field_t stale_fields[] = {
    MOME_FIELD(mome_rel_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_rel_t, token, MOME_FK_RAW, 0)};
static const mome_field_t push_fields[] = {
    MOME_FIELD(mome_rel_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_rel_t, origin, MOME_FK_NODE, 0), MOME_FIELD(mome_rel_t, token, MOME_FK_RAW, 0)};

/* FWD_SNAP: a reader names its model; a writer's snapshot (rights RW|TWIN) names none. */
static const char *check_snap(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_fwd_t *f = body;
    if (f->rights ? f->rights != (MOME_RIGHT_RW | MOME_RIGHT_TWIN) || f->model
                  : !mome_model_get((int)f->model))
        return "rights or model";
    return NULL;
}

#define NF(a) (uint8_t)(sizeof(a) / sizeof((a)[0]))

static const mome_msg_def_t holder_msgs[] = {
    {.type = MOME_MSG_FWD_READ,
     .wire = {"FWD_READ", fwd_read_fields, NF(fwd_read_fields), 0, 0, 0},
     .body_size = sizeof(mome_fwd_t), .batched = 1, .handler = on_fwd_read},
    {.type = MOME_MSG_FWD_WRITE,
     .wire = {"FWD_WRITE", fwd_write_fields, NF(fwd_write_fields), MOME_FWD_KEEP, 0, 0},
     .body_size = sizeof(mome_fwd_t), .batched = 1, .handler = on_fwd_write},
    {.type = MOME_MSG_FWD_SNAP,
     .wire = {"FWD_SNAP", fwd_snap_fields, NF(fwd_snap_fields), MOME_FWD_NOPUSH, 0, 0},
     .body_size = sizeof(mome_fwd_t), .validate = check_snap, .batched = 1,
     .handler = on_fwd_snap},
    {.type = MOME_MSG_FWD_SYNC,
     .wire = {"FWD_SYNC", fwd_sync_fields, NF(fwd_sync_fields), MOME_FWD_EXCL, 0, 0},
     .body_size = sizeof(mome_fwd_t), .handler = on_fwd_sync},
    {.type = MOME_MSG_INV, .wire = {"INV", ref_fields, NF(ref_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t), .handler = on_inv},
    {.type = MOME_MSG_FLUSH, .wire = {"FLUSH", ref_fields, NF(ref_fields), MOME_FLUSH_DROP, 0, 0},
     .body_size = sizeof(mome_ref_t), .handler = on_flush},
    {.type = MOME_MSG_UNSHARE, .wire = {"UNSHARE", ref_fields, NF(ref_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t), .handler = on_unshare},
    {.type = MOME_MSG_STALE,
     .wire = {"STALE", stale_fields, NF(stale_fields), 0, MOME_BATCH_NOTICE_SIZE, MOME_LEN_BATCH,
              MOME_BATCH_NOTICE},
     .body_size = sizeof(mome_rel_t), .handler = on_stale},
    {.type = MOME_MSG_PUSH,
     .wire = {"PUSH", push_fields, NF(push_fields), 0, MOME_BATCH_PUSH_HDR, MOME_LEN_BATCH,
              MOME_BATCH_PUSH},
     .body_size = sizeof(mome_rel_t), .emulated = MOME_MSG_EMU_PAYLOAD, .handler = on_push},
};

int mome_holder_init(void)
{
    nheld = 0;
    mome_msg_set_flush(serve_held);
    return mome_msg_register(holder_msgs, sizeof(holder_msgs) / sizeof(holder_msgs[0]));
}
