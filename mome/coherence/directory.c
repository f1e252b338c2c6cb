/*
 * directory.c - manager side of the coherence protocol: per-page contracts, single writer /
 * multiple readers, multiple writers merged at a master copy, notices, forwarding and migration of
 * entries.
 *
 * A page is in one of two regimes. STRONG: at most one writer (the exclusive owner); copies held
 * under models that are invalidated (model.h) are current and are taken back before anyone
 * writes; the others are never touched. MULTI: nodes writing under models without a single
 * writer, none under one that has it; the owner holds the master copy, other writers twin their
 * copy and send diffs to it at release, and the owner's notice of each released change reaches
 * every holder whose model is notified before the release completes. A single-writer request on a
 * MULTI page first flushes every writer (FLUSH: release now, stop writing) and drops the notified
 * copies, then runs in the STRONG regime.
 *
 * Transitions (R requester, O owner):
 *   READ   untouched                -> GRANT(write, zero, owner) to R
 *   READ   STRONG, O writable       -> FWD_READ to O (O keeps a read copy); a reader whose model
 *                                      does not stop the writer: FWD_SNAP, O keeps writing
 *   READ   STRONG, shared           -> FWD_READ to a current holder
 *   READ   MULTI                    -> FWD_SNAP to O
 *   WRITE  STRONG, single writer    -> INV to invalidated holders; content from O (FWD_WRITE)
 *   WRITE  STRONG, multiple writers -> INV to single-writer holders; R owns a MULTI page
 *   WRITE  MULTI, multiple writers  -> R writes too: a twin on its copy, or FWD_SNAP(twin) from O
 *   single-writer request on MULTI  -> FLUSH writers and notified holders, then as in STRONG
 *   DROP   a reader dropped its copy -> DROP_ACK; R is no holder; if only the owner of a MULTI
 *                                      page holds it now, UNSHARE to O (busy until UNSHARE_ACK)
 *   DONE                            -> close the transaction, start the next queued request
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bits.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/stats.h"
#include "coherence/directory.h"
#include "coherence/model.h"
#include "coherence/proto.h"
#include "coherence/seg.h"
#include "mome.h"
#include "net/srvproto.h"

#define MIGRATE_AFTER 2 /* consecutive transactions with this manager as a third party */

/* Node sets of an entry: holders, holders whose model has a single writer, holders whose model
 * keeps their copy (never invalidated), holders whose model is notified of released changes, and
 * writers of a MULTI page. */
/* The holder sets (NHOLD, sent with an entry that moves), then the flush phase's own. */
enum { CS = 0, SINGLE_SET, KEPT_SET, NOTIFY_SET, WRITERS, NHOLD, FLUSHING = NHOLD, NSETS };
_Static_assert(NHOLD == MOME_DIR_MOVE_SETS, "a DIR_MOVE carries the holder sets (proto.h)");

typedef struct dreq {
    struct dreq *next;
    mome_msg_t m; /* a request (no payload) */
} dreq_t;

/* A notice for one page, held while the page's entry moves (on_notice). */
typedef struct dnotice {
    struct dnotice *next;
    mome_msg_t m;     /* the NOTICE it came in, its payload one's */
    mome_batch_t one; /* the page's entry alone */
} dnotice_t;

typedef struct dentry {
    mome_hnode_t h;   /* k1 = segment, k2 = page */
    int32_t owner;    /* master content; -1 = never written (zeros) */
    int32_t fwd;      /* >= 0: the entry moved there */
    int32_t busy;     /* requester of the open transaction, or -1 */
    int32_t move_to;  /* moving: the node the entry was sent to */
    uint8_t excl;     /* STRONG regime: the owner holds it writable */
    uint8_t multi;    /* MULTI regime */
    uint8_t moving;   /* DIR_MOVE sent (to move_to), waiting for its ack */
    uint8_t third;    /* consecutive third-party transactions */
    uint8_t unsharing; /* UNSHARE sent to the owner (busy), waiting for its UNSHARE_ACK */
    mome_msg_t saved; /* the request a flush phase serves */
    dreq_t *q, *qtail;
    dnotice_t *held; /* notices that came while moving, for the new manager */
    uint64_t sets[]; /* NSETS bitmaps of dir_words words */
} dentry_t;

/* A batch of notices waiting for its holders' acknowledgements. */
typedef struct notice {
    mome_hnode_t h; /* k1 = token */
    uint32_t origin;
    uint32_t left;    /* STALE messages not acknowledged yet */
    mome_batch_t ack; /* the pages to acknowledge to the origin */
    uint32_t out[];   /* per node: its STALE messages not acknowledged yet */
} notice_t;

static mome_htab_t dir, notices;
/*
 * What may still come for the entries a segment's destruction (SEG_DESTROY) took: the DONE or
 * UNSHARE_ACK of each entry then busy, which its node sent before the destruction reached here.
 * One record per such entry, keyed (seg, page), holding the node it waited for; it goes when that
 * answer comes, so they are as many as the answers in flight (a set of every destroyed segment's
 * id grew for the whole job: helper-139). Any other answer for a page without an entry went to a
 * node that never managed the transaction, and the real manager's entry stays busy for ever.
 */
typedef struct crossing {
    mome_hnode_t h;
    int32_t node;
    int unshare; /* an UNSHARE_ACK, else a DONE */
} crossing_t;
static mome_htab_t crossing;
static mome_batch_t *stale_out; /* STALE being built, per holder */
static int dir_nnodes, dir_self, dir_migrate;
static size_t dir_words;
static uint64_t next_token = 1;

static uint64_t *set(dentry_t *e, int k)
{
    return e->sets + (size_t)k * dir_words;
}
static int has(dentry_t *e, int k, int n)
{
    return n >= 0 && mome_bit(set(e, k), (uint64_t)n);
}
static void add(dentry_t *e, int k, int n)
{
    mome_bit_set(set(e, k), (uint64_t)n);
}
static void del(dentry_t *e, int k, int n)
{
    mome_bit_clear(set(e, k), (uint64_t)n);
}
static void clear(dentry_t *e, int k)
{
    memset(set(e, k), 0, dir_words * 8);
}
static int count(dentry_t *e, int k)
{
    int n = 0;
    for (size_t i = 0; i < dir_words; i++)
        n += __builtin_popcountll(set(e, k)[i]);
    return n;
}

/* Record n as a holder under model m (and forget any older contract it had here). */
static void add_holder(dentry_t *e, int n, const mome_model_t *m)
{
    add(e, CS, n);
    del(e, SINGLE_SET, n);
    del(e, KEPT_SET, n);
    del(e, NOTIFY_SET, n);
    if (!m->invalidated)
        add(e, KEPT_SET, n);
    else if (m->single_writer)
        add(e, SINGLE_SET, n);
    if (m->notified)
        add(e, NOTIFY_SET, n);
}

static void drop_holder(dentry_t *e, int n)
{
    for (int k = 0; k < NHOLD; k++)
        del(e, k, n);
}

static const mome_req_t *req_of(const mome_msg_t *m)
{
    return mome_msg_body(m);
}

static const mome_model_t *model_of(const mome_msg_t *m)
{
    return mome_model_of_id((uint8_t)req_of(m)->model); /* validated: MOME_FK_MODEL */
}

static dentry_t *entry_new(uint64_t seg, uint64_t page)
{
    dentry_t *e = mome_calloc(1, sizeof(*e) + NSETS * dir_words * 8);
    if (!e)
        return NULL;
    e->h.k1 = seg;
    e->h.k2 = page;
    e->owner = -1;
    e->fwd = -1;
    e->busy = -1;
    mome_htab_put(&dir, &e->h);
    return e;
}

static void free_entry(dentry_t *e)
{
    while (e->q) {
        dreq_t *r = e->q;
        e->q = r->next;
        free(r);
    }
    while (e->held) {
        dnotice_t *n = e->held;
        e->held = n->next;
        mome_batch_free(&n->one);
        free(n);
    }
    free(e);
}

/* A forward to a holder on behalf of the request's requester. */
static void fwd(int to, int type, int flags, const mome_msg_t *req, uint32_t acks, uint32_t rights,
                uint32_t model)
{
    const mome_req_t *r = req_of(req);
    mome_fwd_t f = {.seg = r->seg, .page = r->page, .node = r->node, .acks = acks,
                    .rights = rights, .model = model, .ver = r->ver};
    mome_send(to, type, flags, &f, NULL, 0);
}

/* A GRANT names the master copy's holder in `owner` (where a twinning writer sends diffs). */
static void grant(const mome_msg_t *req, int flags, uint32_t rights, uint32_t acks, int owner)
{
    const mome_req_t *r = req_of(req);
    mome_grant_t g = {.seg = r->seg, .page = r->page,
                      .owner = (uint32_t)(owner >= 0 ? owner : (int)r->node),
                      .mgr = (uint32_t)dir_self, .acks = acks, .rights = rights};
    mome_send((int)r->node, MOME_MSG_GRANT, flags, &g, NULL, 0);
}

static int nopush(const mome_msg_t *req)
{
    return req->flags & MOME_REQ_NOPUSH ? MOME_FWD_NOPUSH : 0;
}

static void inv(int to, const mome_msg_t *req)
{
    const mome_req_t *r = req_of(req);
    mome_ref_t ref = {.seg = r->seg, .page = r->page, .node = r->node};
    mome_send(to, MOME_MSG_INV, 0, &ref, NULL, 0);
}

static void forward(const mome_msg_t *m, int to)
{
    if (mome_msg_forward(to, m) < 0)
        mome_fatal("%s from node %u loops between managers (forwarded %u times): the "
                   "directory is inconsistent; stopping",
                   mome_msg_name(m->type), m->src, m->hops);
}

/* Does the requester hold a copy good enough for this request? Its own word (REQ_COPY) decides:
 * a node may drop a copy it holds under a weaker model without telling the directory. */
static int holds(dentry_t *e, const mome_msg_t *req)
{
    return has(e, CS, (int)req_of(req)->node) && (req->flags & MOME_REQ_COPY);
}

static int others_hold(dentry_t *e, int n)
{
    int c = count(e, CS);
    return c > (has(e, CS, n) ? 1 : 0);
}

/*
 * OWNER goes only with MULTI pages: there the owner merges the others' diffs and tells the
 * holders. In the STRONG regime the owner is just the holder of the latest content, and it may
 * change without the old one hearing of it (a writer that holds a copy needs no content).
 */
static uint32_t multi_rights(dentry_t *e, int r)
{
    if (!e->multi)
        return 0;
    return MOME_RIGHT_OWNER | (others_hold(e, r) ? MOME_RIGHT_SHARED : 0);
}

static void start_read(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req_of(req)->node;
    const mome_model_t *m = model_of(req);
    int copy = holds(e, req);

    if (!copy && r != e->owner)
        drop_holder(e, r);
    /* A served page the job does not hold comes from momed for writing, read ahead or not. */
    int ahead = (req->flags & MOME_REQ_AHEAD) && !mome_seg_is_served(req_of(req)->seg);
    if (e->owner < 0 && count(e, CS) == 0 && !ahead) {
        e->owner = r;
        e->excl = 1;
        add_holder(e, r, m);
        grant(req, MOME_GRANT_ZERO, MOME_RIGHT_RW, 0, r);
    } else if (e->owner < 0) {
        /* Never written, and read by others (or read ahead): a read-only page of zeros. */
        add_holder(e, r, m);
        grant(req, MOME_GRANT_ZERO, 0, 0, r);
    } else if (r == e->owner) {
        /* Its copy is the master: confirm what it may do with it. */
        int rw = e->excl || (e->multi && has(e, WRITERS, r));
        add_holder(e, r, m);
        grant(req, 0, (rw ? MOME_RIGHT_RW : 0) | multi_rights(e, r), 0, r);
    } else if (e->multi) {
        /* The owner learns the reader's model: it pushes new versions to pushed models. */
        fwd(e->owner, MOME_MSG_FWD_SNAP, nopush(req), req, 0, 0, (uint32_t)m->id);
        add_holder(e, r, m);
    } else if (e->excl) {
        if (!m->stops_writer) {
            fwd(e->owner, MOME_MSG_FWD_SNAP, nopush(req), req, 0, 0, (uint32_t)m->id); /* writes on */
        } else {
            fwd(e->owner, MOME_MSG_FWD_READ, 0, req, 0, 0, (uint32_t)m->id);
            e->excl = 0;
        }
        add_holder(e, r, m);
    } else if (copy && !has(e, KEPT_SET, r)) {
        add_holder(e, r, m); /* a current copy already: a contract change */
        grant(req, 0, 0, 0, e->owner);
    } else {
        int src = has(e, CS, dir_self) && !has(e, KEPT_SET, dir_self) ? dir_self : e->owner;
        fwd(src, MOME_MSG_FWD_READ, 0, req, 0, 0, (uint32_t)m->id);
        add_holder(e, r, m);
    }
    e->busy = r;
}

/* A single-writer write: every other invalidated copy goes; kept copies stay (and go stale),
 * but for momed's recall, which takes them all (the page leaves the job). */
static void start_write_single(dentry_t *e, const mome_msg_t *req, const mome_model_t *m)
{
    int r = (int)req_of(req)->node;
    int copy = holds(e, req) && !has(e, KEPT_SET, r);
    int src = !copy && e->owner >= 0 && e->owner != r ? e->owner : -1;
    int recall = !!(req->flags & MOME_REQ_RECALL);
    uint32_t nacks = 0;

    for (int s = 0; s < dir_nnodes; s++) {
        if (s == r || s == src || !has(e, CS, s) || (has(e, KEPT_SET, s) && !recall))
            continue;
        inv(s, req);
        drop_holder(e, s);
        nacks++;
    }
    MOME_STAT_ADD(invalidations_sent, nacks);
    if (src >= 0) {
        int keep = has(e, KEPT_SET, src) && !recall; /* a kept copy is never taken away */
        fwd(src, MOME_MSG_FWD_WRITE, keep ? MOME_FWD_KEEP : 0, req, nacks, MOME_RIGHT_RW, 0);
        if (!keep)
            drop_holder(e, src);
    } else {
        grant(req, !copy && r != e->owner ? MOME_GRANT_ZERO : 0, MOME_RIGHT_RW, nacks, r);
    }
    e->owner = r;
    e->excl = 1;
    add_holder(e, r, m);
}

/* A multiple-writer write on a STRONG page: single-writer copies go, R owns a MULTI page. */
static void start_write_multi_from_single(dentry_t *e, const mome_msg_t *req,
                                          const mome_model_t *m)
{
    int r = (int)req_of(req)->node;
    int copy = holds(e, req) && !has(e, KEPT_SET, r);
    int src = !copy && e->owner >= 0 && e->owner != r ? e->owner : -1;
    uint32_t nacks = 0;
    int keep = src >= 0 && !has(e, SINGLE_SET, src); /* the old owner stays a reader */

    for (int s = 0; s < dir_nnodes; s++) {
        if (s == r || s == src || !has(e, SINGLE_SET, s))
            continue;
        inv(s, req);
        drop_holder(e, s);
        nacks++;
    }
    MOME_STAT_ADD(invalidations_sent, nacks);
    if (src >= 0 && !keep)
        drop_holder(e, src);
    add_holder(e, r, m);
    uint32_t rights = MOME_RIGHT_RW | MOME_RIGHT_OWNER | (others_hold(e, r) ? MOME_RIGHT_SHARED : 0);
    if (src >= 0)
        fwd(src, MOME_MSG_FWD_WRITE, keep ? MOME_FWD_KEEP : 0, req, nacks, rights, 0);
    else
        grant(req, !copy && r != e->owner ? MOME_GRANT_ZERO : 0, rights, nacks, r);
    e->owner = r;
    e->excl = 0;
    e->multi = 1;
    clear(e, WRITERS);
    add(e, WRITERS, r);
}

static void start_write(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req_of(req)->node;
    const mome_model_t *m = model_of(req);

    if (!holds(e, req) && r != e->owner)
        drop_holder(e, r);
    if (!e->multi && m->single_writer) {
        start_write_single(e, req, m);
    } else if (!e->multi) {
        start_write_multi_from_single(e, req, m);
    } else if (r == e->owner) {
        add(e, WRITERS, r);
        add_holder(e, r, m);
        grant(req, 0, MOME_RIGHT_RW | multi_rights(e, r), 0, r);
    } else if (holds(e, req) && !has(e, KEPT_SET, r) && m->notified) {
        /* A stale copy is a fine twin: only this node's own changes travel, and its notices
         * bring it up to date at the node's next acquire. Not a copy kept under a contract
         * without notices (WEAK): it missed the releases made meanwhile. Asked for under a
         * contract with notices, no acquire would ever catch it up (a lock holder read a counter
         * one short after a switch from WEAK to RELEASE, and its increment undid another's).
         * Written under WEAK, its twin would hold, for a word written now, a value older than
         * the master's, that a barrier ordered before this write: the XOR diff then gave the
         * master old ^ new ^ theirs, a value nobody wrote (helper-127; weak_write.test). So its
         * first write in each interval takes the master's content, as in the STRONG regime
         * (start_write_single: a kept copy is no copy for a write). */
        add(e, WRITERS, r);
        add_holder(e, r, m);
        grant(req, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0, e->owner);
    } else {
        add(e, WRITERS, r);
        add_holder(e, r, m);
        fwd(e->owner, MOME_MSG_FWD_SNAP, 0, req, 0, MOME_RIGHT_RW | MOME_RIGHT_TWIN, 0);
    }
    e->busy = r;
}

/* A WEAK holder asks whether its copy is still the master's version. */
static void start_sync(dentry_t *e, const mome_msg_t *req)
{
    const mome_req_t *r = req_of(req);
    if (e->owner < 0 || e->owner == (int)r->node) {
        mome_data_t ok = {.seg = r->seg, .page = r->page, .mgr = (uint32_t)dir_self};
        mome_send((int)r->node, MOME_MSG_SYNC_OK, 0, &ok, NULL, 0);
    } else {
        /* An exclusive STRONG owner may have written since: it always answers with content. */
        fwd(e->owner, MOME_MSG_FWD_SYNC, e->excl ? MOME_FWD_EXCL : 0, req, 0, 0, 0);
    }
    e->busy = (int)r->node;
}

/* MULTI -> STRONG: every writer releases and stops, notified copies go; then serve `req`. */
static void begin_flush(dentry_t *e, const mome_msg_t *req)
{
    const mome_req_t *r = req_of(req);
    e->saved = *req;
    e->saved.payload = NULL;
    e->saved.len = 0;
    clear(e, FLUSHING);
    e->busy = (int)r->node;
    for (int s = 0; s < dir_nnodes; s++) {
        if (!has(e, CS, s) && !has(e, WRITERS, s))
            continue;
        if (s != e->owner && has(e, KEPT_SET, s) && !has(e, WRITERS, s))
            continue; /* kept readers keep their copies */
        int drop = s != e->owner && !has(e, KEPT_SET, s);
        mome_ref_t f = {.seg = r->seg, .page = r->page, .node = (uint32_t)dir_self};
        mome_send(s, MOME_MSG_FLUSH, drop ? MOME_FLUSH_DROP : 0, &f, NULL, 0);
        if (drop) {
            drop_holder(e, s);
            MOME_STAT_INC(invalidations_sent);
        }
        add(e, FLUSHING, s); /* its FLUSH_ACK awaited */
    }
    clear(e, WRITERS);
    e->multi = 0;
    e->excl = 0;
    if (e->owner >= 0 && !has(e, KEPT_SET, e->owner))
        add_holder(e, e->owner, &mome_model_release);
}

/*
 * A write opened ahead (MOME_REQ_AHEAD on a write, requester.c's ask_ahead) is granted as a write
 * only where it takes nothing from anyone: a page no node holds (the node becomes its owner, as
 * its first write would make it) or, under RELEASE and WEAK, a twin of a multiple-writer page
 * another node owns. Anywhere else a RELEASE or WEAK one is a read-ahead (a single writer's page,
 * zeros others read): the node's write, if it comes, asks again, so opening ahead never stops a
 * writer. A STRONG one is declined there, and a RELEASE one where a single writer would be
 * stopped (ahead_declined).
 */
static int write_ahead_ok(dentry_t *e, const mome_msg_t *req)
{
    if (e->owner < 0)
        return count(e, CS) == 0;
    return e->multi && e->owner != (int)req_of(req)->node;
}

/*
 * A reader dropped a copy it no longer used (requester.c, mome_req_drop) and waits for DROP_ACK
 * before it asks for the page again, so this comes before any later request of its own: it holds
 * nothing now. A writer (its diffs may be in flight: a flush must still reach it) and the owner
 * stay as they are. When only the owner of a multiple-writer page holds it now, the owner's writes
 * need no tracking (no notices, no write faults): UNSHARE tells it, and the entry stays busy until
 * it acknowledges, so that a read served after it (FWD_SNAP) finds it untracked and starts
 * tracking again, never the other way round.
 */
static void start_drop(dentry_t *e, const mome_msg_t *req)
{
    const mome_req_t *r = req_of(req);
    int n = (int)r->node;
    int gone = n != e->owner && has(e, CS, n) && !has(e, WRITERS, n);
    mome_ref_t ack = {.seg = r->seg, .page = r->page, .node = (uint32_t)dir_self};

    if (gone)
        drop_holder(e, n);
    mome_send(n, MOME_MSG_DROP_ACK, 0, &ack, NULL, 0);
    if (!gone || !e->multi || e->owner < 0 || others_hold(e, e->owner) ||
        count(e, WRITERS) > has(e, WRITERS, e->owner))
        return;
    mome_ref_t u = {.seg = r->seg, .page = r->page, .node = (uint32_t)dir_self};
    mome_send(e->owner, MOME_MSG_UNSHARE, 0, &u, NULL, 0);
    e->busy = e->owner;
    e->unsharing = 1;
}

int mome_dir_reroute_read(const mome_fwd_t *f)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, f->seg, f->page);
    if (!e || e->fwd >= 0 || e->busy != (int32_t)f->node || e->excl || e->multi || e->owner < 0 ||
        e->owner == dir_self)
        return -1;
    drop_holder(e, dir_self);
    mome_send(e->owner, MOME_MSG_FWD_READ, 0, f, NULL, 0);
    return 0;
}

/*
 * A STRONG write asked ahead of a page some node holds (or that is shared by RELEASE writers) is
 * declined: GRANT_NONE, the entry left as it was and not busy, no DONE to wait for. Served as a
 * read-ahead, it would write-protect the page's single writer (whose next write would take the
 * page back) and the requester's own write would then ask a second time; served as a write, it
 * would take the page from a node that may be using it. So is a RELEASE one of a page another
 * node writes alone: its read-ahead stopped that writer (FWD_READ) for a page the requester may
 * never write (helper-93). A WEAK one reads a snapshot there, the writer writing on.
 */
static int ahead_declined(dentry_t *e, const mome_msg_t *req)
{
    if (req->type != MOME_MSG_WRITE_REQ || !(req->flags & MOME_REQ_AHEAD))
        return 0;
    if (model_of(req)->single_writer)
        return e->owner >= 0 || count(e, CS) > 0 || e->multi;
    return model_of(req)->stops_writer && e->excl && e->owner >= 0 &&
           e->owner != (int)req_of(req)->node;
}

static void start(dentry_t *e, const mome_msg_t *req)
{
    if (req->type == MOME_MSG_DROP) {
        start_drop(e, req);
        return;
    }
    if ((req->flags & MOME_REQ_RECALL) && e->owner < 0)
        mome_fatal("momed recalls page %llu of segment '%s' (%#llx) from node %u, but this job "
                   "does not hold it: momed and the job disagree; stopping",
                   (unsigned long long)req_of(req)->page, mome_seg_name_of(req_of(req)->seg),
                   (unsigned long long)req_of(req)->seg, req_of(req)->node);
    if (req->type == MOME_MSG_SYNC_REQ)
        start_sync(e, req);
    else if (ahead_declined(e, req))
        grant(req, MOME_GRANT_NONE, 0, 0, -1);
    else if (e->multi && model_of(req)->single_writer)
        begin_flush(e, req);
    else if (req->type == MOME_MSG_READ_REQ || ((req->flags & MOME_REQ_AHEAD) && !write_ahead_ok(e, req)))
        start_read(e, req);
    else
        start_write(e, req);
}

static void enqueue(dentry_t *e, const mome_msg_t *req)
{
    dreq_t *r = mome_malloc(sizeof(*r));
    if (!r)
        mome_fatal("out of memory queueing a request for page %llu of segment '%s' (%#llx); "
                   "stopping",
                   (unsigned long long)req_of(req)->page, mome_seg_name_of(req_of(req)->seg),
                   (unsigned long long)req_of(req)->seg);
    r->m = *req;
    r->m.payload = NULL;
    r->m.len = 0;
    r->next = NULL;
    if (e->qtail)
        e->qtail->next = r;
    else
        e->q = r;
    e->qtail = r;
}

static void run_queue(dentry_t *e)
{
    while (e->q && e->busy < 0 && !e->moving && e->fwd < 0) {
        dreq_t *r = e->q;
        e->q = r->next;
        if (!e->q)
            e->qtail = NULL;
        start(e, &r->m);
        free(r);
    }
}

/* The entry a message about (seg, page) is for, or NULL if it was forwarded elsewhere. */
static dentry_t *route(const mome_msg_t *m, uint64_t seg, uint64_t page)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, seg, page);
    if (!e) {
        int def = mome_page_default_manager(seg, page, dir_nnodes);
        if (def != dir_self) {
            forward(m, def); /* never managed here: the default manager knows */
            return NULL;
        }
        e = entry_new(seg, page);
        if (!e)
            mome_fatal("out of memory for the directory entry of page %llu of segment '%s' "
                       "(%#llx); stopping",
                       (unsigned long long)page, mome_seg_name_of(seg), (unsigned long long)seg);
    }
    if (e->fwd >= 0) {
        forward(m, e->fwd);
        return NULL;
    }
    return e;
}

static void on_request(const mome_msg_t *m, const void *body)
{
    const mome_req_t *r = body;
    dentry_t *e = route(m, r->seg, r->page);
    if (!e)
        return;
    if (e->busy >= 0 || e->moving) {
        enqueue(e, m);
        return;
    }
    start(e, m);
}

/* Hand the entry to the requester when this node keeps brokering transfers between others. */
static int maybe_migrate(dentry_t *e, int requester)
{
    if (!dir_migrate || requester == dir_self || e->q)
        return 0;
    if (has(e, CS, dir_self)) {
        e->third = 0;
        return 0;
    }
    if (++e->third < MIGRATE_AFTER)
        return 0;
    e->third = 0;
    mome_move_t mv = {.seg = e->h.k1, .page = e->h.k2,
                      .owner = e->owner < 0 ? MOME_NODE_NONE : (uint32_t)e->owner};
    int flags = (e->excl ? MOME_DIR_EXCL : 0) | (e->owner < 0 ? MOME_DIR_UNTOUCHED : 0) |
                (e->multi ? MOME_DIR_MULTI : 0);
    mome_send(requester, MOME_MSG_DIR_MOVE, flags, &mv, e->sets, (uint32_t)(NHOLD * dir_words * 8));
    e->moving = 1;
    e->move_to = requester;
    return 1;
}

/* A DONE or UNSHARE_ACK (what) from node src for a page without an entry here: nothing if it
 * crossed its segment's destruction, else the job stops. */
static void no_entry(const char *what, uint32_t src, uint64_t seg, uint64_t page, int unshare)
{
    crossing_t *c = (crossing_t *)mome_htab_get(&crossing, seg, page);
    if (!c || c->node != (int32_t)src || c->unshare != unshare)
        mome_fatal("node %u %s of page %llu of segment '%s' (%#llx), which this node does not "
                   "manage (no entry here, and none waited for it when its segment was "
                   "destroyed): the directory is inconsistent, and the page's manager waits for it "
                   "for ever; stopping",
                   src, what, (unsigned long long)page, mome_seg_name_of(seg),
                   (unsigned long long)seg);
    mome_htab_del(&crossing, &c->h);
    free(c);
}

static void on_done(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *d = body;
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, d->seg, d->page);
    if (!e) {
        no_entry("ended a transaction", d->node, d->seg, d->page, 0);
        return; /* the segment was destroyed meanwhile (its last close came first) */
    }
    if (e->busy != (int)d->node || count(e, FLUSHING) || e->unsharing)
        /* Taken, it ended another node's transaction; ignored, the one it names hung (helper-115:
         * only a debug line). */
        mome_fatal("node %u ended a transaction of page %llu of segment '%s' (%#llx) that is not "
                   "open here (%s): the directory is inconsistent; stopping",
                   d->node, (unsigned long long)d->page, mome_seg_name_of(d->seg),
                   (unsigned long long)d->seg,
                   e->busy < 0               ? "none is"
                   : e->busy != (int)d->node ? "another node's is"
                                             : "a flush or unshare is");
    e->busy = -1;
    if (m->flags & MOME_DONE_RESET) {
        /* The page went back to momed: the job holds it no more (served.h). */
        e->owner = -1;
        e->excl = e->multi = 0;
        for (int k = 0; k < NSETS; k++)
            clear(e, k);
    }
    if (maybe_migrate(e, (int)d->node))
        return;
    run_queue(e);
}

/* The owner stopped tracking the page (UNSHARE): the next request may run. */
static void on_unshare_ack(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *a = body;
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, a->seg, a->page);
    if (!e) {
        no_entry("acknowledged an UNSHARE", a->node, a->seg, a->page, 1);
        return; /* the segment was destroyed meanwhile (the owner's close came first) */
    }
    if (!e->unsharing || e->busy != (int)a->node)
        mome_fatal("node %u acknowledged an UNSHARE of page %llu of segment '%s' (%#llx) that this "
                   "node did not send: the directory is inconsistent; stopping",
                   a->node, (unsigned long long)a->page, mome_seg_name_of(a->seg),
                   (unsigned long long)a->seg);
    e->unsharing = 0;
    e->busy = -1;
    run_queue(e);
}

static void on_flush_ack(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *a = body;
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, a->seg, a->page);
    /* From the flushed node, or from the owner for a writer whose diff it merged. */
    if (!e || !has(e, FLUSHING, (int)a->node) || (m->src != a->node && (int)m->src != e->owner))
        mome_fatal("node %u acknowledged a flush of node %u's copy of page %llu of segment '%s' "
                   "(%#llx) that this node did not ask for (a lost or repeated message); "
                   "stopping",
                   m->src, a->node, (unsigned long long)a->page, mome_seg_name_of(a->seg),
                   (unsigned long long)a->seg);
    del(e, FLUSHING, (int)a->node);
    if (!count(e, FLUSHING)) {
        mome_msg_t req = e->saved;
        start(e, &req); /* the page is STRONG now */
    }
}

/* The notice m as a NOTICE of ent's page alone, its payload one's. */
static mome_msg_t notice_alone(const mome_msg_t *m, const mome_entry_t *ent, mome_batch_t *one)
{
    if (mome_batch_notice(one, ent->seg, ent->page, ent->ver) < 0)
        mome_fatal("out of memory forwarding a notice for page %llu of segment '%s' (%#llx); "
                   "stopping",
                   (unsigned long long)ent->page, mome_seg_name_of(ent->seg),
                   (unsigned long long)ent->seg);
    mome_msg_t f = *m;
    f.payload = one->buf;
    f.len = (uint32_t)one->len;
    return f;
}

/* A notice entry for a page this node does not manage goes on alone, to where the entry is. */
static void forward_notice(const mome_msg_t *m, const mome_entry_t *ent, int to)
{
    mome_batch_t one = {0};
    mome_msg_t f = notice_alone(m, ent, &one);
    forward(&f, to);
    mome_batch_free(&one);
}

/*
 * A notice for a page whose entry is moving waits for the move's ack, then follows the entry: the
 * new manager may have let a reader in meanwhile, which this node's sets do not name. Applied
 * here, the notice missed that reader, whose copy, served before the change, was then read after
 * an acquire that passed it (helper-64's review; 4 nodes or more: a new manager, an old one, the
 * owner, the reader).
 */
static void hold_notice(dentry_t *e, const mome_msg_t *m, const mome_entry_t *ent)
{
    dnotice_t *n = mome_calloc(1, sizeof(*n));
    if (!n)
        mome_fatal("out of memory holding a notice for page %llu of segment '%s' (%#llx); "
                   "stopping",
                   (unsigned long long)ent->page, mome_seg_name_of(ent->seg),
                   (unsigned long long)ent->seg);
    n->m = notice_alone(m, ent, &n->one);
    n->next = e->held;
    e->held = n;
}

/* Send the STALE batch built for holder s, counting it against notice n. */
static void send_stale(int s, const mome_rel_t *rel, notice_t *n)
{
    mome_rel_t st = {.date = rel->date, .token = n->h.k1};
    MOME_STAT_ADD(invalidations_sent, stale_out[s].n);
    mome_send(s, MOME_MSG_STALE, 0, &st, stale_out[s].buf, (uint32_t)stale_out[s].len);
    mome_batch_reset(&stale_out[s]);
    n->left++;
    n->out[s]++;
}

static void stale_add(int s, const mome_entry_t *ent, const mome_rel_t *rel, notice_t *n)
{
    int rc = mome_batch_notice(&stale_out[s], ent->seg, ent->page, ent->ver);
    if (rc == -E2BIG) { /* full: send it and start the next one */
        send_stale(s, rel, n);
        rc = mome_batch_notice(&stale_out[s], ent->seg, ent->page, ent->ver);
    }
    if (rc < 0)
        mome_fatal("out of memory telling node %d of a change to page %llu of segment '%s' "
                   "(%#llx); stopping",
                   s, (unsigned long long)ent->page, mome_seg_name_of(ent->seg),
                   (unsigned long long)ent->seg);
}

/*
 * The owner announces new versions: every node holding a notified copy of each page (not the
 * owner, not the writer) gets a STALE entry, one message per holder (more when it fills); the
 * writer hears back once they all acknowledged.
 */
static void on_notice(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    notice_t *n = mome_calloc(1, sizeof(*n) + (size_t)dir_nnodes * sizeof(n->out[0]));
    mome_entry_t ent;

    if (!n)
        mome_fatal("out of memory for a notice from node %u; stopping", rel->origin);
    n->h.k1 = next_token++;
    n->origin = rel->origin;
    MOME_BATCH_FOREACH(MOME_BATCH_NOTICE, m, ent)
    {
        dentry_t *e = (dentry_t *)mome_htab_get(&dir, ent.seg, ent.page);
        int def = mome_page_default_manager(ent.seg, ent.page, dir_nnodes);
        if ((!e && def != dir_self) || (e && e->fwd >= 0)) {
            forward_notice(m, &ent, e ? e->fwd : def);
            continue;
        }
        if (e && e->moving) {
            hold_notice(e, m, &ent);
            continue;
        }
        for (int s = 0; e && s < dir_nnodes; s++) {
            /* A copy an open flush drops is in no set now, but still mapped until its FLUSH gets
             * there: told too (after its FLUSH), or its holder could read it after an acquire
             * this release orders before it (helper-113; owner.c announce_flushed). */
            int leaving = has(e, FLUSHING, s) && !has(e, KEPT_SET, s);
            if (!(has(e, NOTIFY_SET, s) || leaving) || s == e->owner || s == (int)rel->origin)
                continue;
            stale_add(s, &ent, rel, n);
        }
        if (mome_batch_notice(&n->ack, ent.seg, ent.page, ent.ver) < 0)
            mome_fatal("out of memory acknowledging a notice from node %u; stopping",
                       rel->origin);
    }
    for (int s = 0; s < dir_nnodes; s++)
        if (stale_out[s].n)
            send_stale(s, rel, n);
    if (n->left) {
        mome_htab_put(&notices, &n->h);
        return;
    }
    if (n->ack.n)
        mome_send((int)n->origin, MOME_MSG_NOTICE_ACK, 0, NULL, n->ack.buf, (uint32_t)n->ack.len);
    mome_batch_free(&n->ack);
    free(n);
}

static void on_stale_ack(const mome_msg_t *m, const void *body)
{
    const mome_rel_t *rel = body;
    notice_t *n = (notice_t *)mome_htab_get(&notices, rel->token, 0);
    if (!n || !n->out[m->src])
        mome_fatal("node %u acknowledged invalidations (notice %llu) that this node did not send "
                   "it (a lost or repeated message); stopping",
                   m->src, (unsigned long long)rel->token);
    n->out[m->src]--;
    if (--n->left > 0)
        return;
    mome_send((int)n->origin, MOME_MSG_NOTICE_ACK, 0, NULL, n->ack.buf, (uint32_t)n->ack.len);
    mome_htab_del(&notices, &n->h);
    mome_batch_free(&n->ack);
    free(n);
}

static void on_move(const mome_msg_t *m, const void *body)
{
    const mome_move_t *mv = body;
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, mv->seg, mv->page);
    mome_ref_t ack = {.seg = mv->seg, .page = mv->page};
    /* The entry goes to a node that used the page, so has the segment, unless the segment was
     * destroyed here since (its last close): taken, the entry stayed for good (helper-91). */
    mome_seg_t *s = mome_seg_page(mv->seg, mv->page);
    if (!s) {
        mome_send((int)m->src, MOME_MSG_DIR_MOVE_ACK, 0, &ack, NULL, 0);
        return;
    }
    if (e && e->fwd < 0)
        /* Managed here already: two managers would grant the page each on its own (an earlier
         * review: the entry was replaced, its holders and queued requests forgotten). */
        mome_fatal("node %u moved the directory entry of page %llu of segment '%s' (%#llx) here, "
                   "where it is managed already (owner %d): the directory is inconsistent; "
                   "stopping",
                   m->src, (unsigned long long)mv->page, mome_seg_name_of(mv->seg),
                   (unsigned long long)mv->seg, e->owner);
    if (e) {
        /* It comes back: replace the forwarder (a forwarder holds no requests). */
        mome_htab_del(&dir, &e->h);
        free_entry(e);
    }
    e = entry_new(mv->seg, mv->page);
    if (!e)
        mome_fatal("out of memory taking over the directory entry of page %llu of segment '%s' "
                   "(%#llx); stopping",
                   (unsigned long long)mv->page, mome_seg_name_of(mv->seg),
                   (unsigned long long)mv->seg);
    e->owner = (m->flags & MOME_DIR_UNTOUCHED) ? -1 : (int32_t)mv->owner;
    e->excl = !!(m->flags & MOME_DIR_EXCL);
    e->multi = !!(m->flags & MOME_DIR_MULTI);
    memcpy(e->sets, m->payload, NHOLD * dir_words * 8);
    /* Requests of this node go straight here from now on. */
    mome_seg_pg(s, mv->page)->mgr = (uint32_t)dir_self + 1;
    mome_send((int)m->src, MOME_MSG_DIR_MOVE_ACK, 0, &ack, NULL, 0);
}

static void on_move_ack(const mome_msg_t *m, const void *body)
{
    const mome_ref_t *a = body;
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, a->seg, a->page);
    if (e && e->moving && m->src != (uint32_t)e->move_to)
        mome_fatal("node %u acknowledged the move of the directory entry of page %llu of segment "
                   "'%s', sent to node %d: the directory is inconsistent; stopping",
                   m->src, (unsigned long long)a->page, mome_seg_name_of(a->seg), e->move_to);
    if (!e || !e->moving) {
        /* Expected once the segment is gone job-wide (its entries forgotten here meanwhile: the
         * new manager's close destroyed it before its ack came); else never (helper-115). */
        if (e || mome_seg_page(a->seg, a->page))
            mome_fatal("node %u acknowledged a move of the directory entry of page %llu of "
                       "segment '%s' (%#llx), which this node did not move: the directory is "
                       "inconsistent; stopping",
                       m->src, (unsigned long long)a->page, mome_seg_name_of(a->seg),
                       (unsigned long long)a->seg);
        return;
    }
    e->moving = 0;
    e->fwd = (int32_t)m->src;
    for (int k = 0; k < NSETS; k++)
        clear(e, k);
    MOME_STAT_INC(dir_migrations);
    while (e->q) {
        dreq_t *r = e->q;
        e->q = r->next;
        forward(&r->m, e->fwd);
        free(r);
    }
    e->qtail = NULL;
    while (e->held) {
        dnotice_t *n = e->held;
        e->held = n->next;
        forward(&n->m, e->fwd);
        mome_batch_free(&n->one);
        free(n);
    }
}

/* ---- the message table ---- */

static const char *check_move(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_move_t *mv = body;
    uint32_t words = (ctx->nnodes + 63) / 64;
    if (m->len != NHOLD * words * 8)
        return "copyset length";
    if (!(m->flags & MOME_DIR_UNTOUCHED) && mv->owner == MOME_NODE_NONE)
        return "owner";
    /* An entry is exclusive or shared by writers, not both, and an untouched page is neither. */
    if ((m->flags & MOME_DIR_EXCL) && (m->flags & (MOME_DIR_MULTI | MOME_DIR_UNTOUCHED)))
        return "flags (EXCL with MULTI or UNTOUCHED)";
    if ((m->flags & (MOME_DIR_MULTI | MOME_DIR_UNTOUCHED)) == (MOME_DIR_MULTI | MOME_DIR_UNTOUCHED))
        return "flags (MULTI and UNTOUCHED)";
    /* No node past the job's in any set (counted, they kept an entry busy for ever: helper-93). */
    if (ctx->nnodes % 64)
        for (uint32_t k = 0; k < NHOLD; k++) {
            uint64_t last;
            memcpy(&last, (const char *)m->payload + ((size_t)k * words + words - 1) * 8,
                   sizeof(last));
            if (last >> (ctx->nnodes % 64))
                return "copyset (a node past the job's)";
        }
    return NULL;
}

static const char *check_done(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_ref_t *d = body;
    if ((m->flags & MOME_DONE_RESET) && !mome_seg_is_served(d->seg))
        return "flags (DONE_RESET for a segment momed does not serve)";
    if (d->node != m->src) /* a requester ends its own transaction, never another's (helper-111) */
        return "node (not the sender)";
    return NULL;
}

static const mome_field_t ref_fields[] = {MOME_FIELD(mome_ref_t, seg, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, page, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_ref_t, node, MOME_FK_NODE, 0)};
static const mome_field_t drop_fields[] = {MOME_FIELD(mome_req_t, seg, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_req_t, page, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_req_t, node, MOME_FK_NODE, 0)};

/* UNSHARE_ACK: the owner names itself (it is never forwarded). */
static const char *check_unshare_ack(const mome_msg_t *m, const void *body,
                                     const mome_wire_ctx_t *ctx)
{
    return ((const mome_ref_t *)body)->node != m->src ? "node (the sender)" : NULL;
}

/*
 * A request (READ_REQ, WRITE_REQ, SYNC_REQ, DROP) names its requester, who sends it to the manager
 * it knows; a manager that does not hold the entry forwards it, counting the forward (hops). One
 * that was never forwarded comes from its requester: naming another node, it would be served for
 * that node, which never asked (its answer stopped the job only there, or a DROP took a holder
 * off the entry without a word from it).
 */
static const char *check_request(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    static char why[160];
    const mome_req_t *r = body;
    if (m->hops || r->node == m->src)
        return NULL;
    snprintf(why, sizeof(why),
             "node (%u, not its sender, in a request for page %llu of segment %#llx that no "
             "manager forwarded)",
             r->node, (unsigned long long)r->page, (unsigned long long)r->seg);
    return why;
}

static const char *check_write(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_req_t *r = body;
    const char *why = check_request(m, body, ctx);
    if (why)
        return why;
    if ((m->flags & MOME_REQ_RECALL) && (!mome_seg_is_served(r->seg) || r->model != MOME_STRONG))
        return "flags (RECALL: a STRONG request for a segment momed serves)";
    if ((m->flags & MOME_REQ_AHEAD) && (m->flags & MOME_REQ_RECALL))
        return "flags (AHEAD: a write opened ahead, never a recall)";
    return NULL;
}

static const mome_field_t rw_req_fields[] = {MOME_FIELD(mome_req_t, seg, MOME_FK_RAW, 0),
                                             MOME_FIELD(mome_req_t, page, MOME_FK_RAW, 0),
                                             MOME_FIELD(mome_req_t, node, MOME_FK_NODE, 0),
                                             MOME_FIELD(mome_req_t, model, MOME_FK_MODEL, 0)};
static const mome_field_t sync_req_fields[] = {MOME_FIELD(mome_req_t, seg, MOME_FK_RAW, 0),
                                               MOME_FIELD(mome_req_t, page, MOME_FK_RAW, 0),
                                               MOME_FIELD(mome_req_t, node, MOME_FK_NODE, 0),
                                               MOME_FIELD(mome_req_t, ver, MOME_FK_RAW, 0)};
static const mome_field_t move_fields[] = {MOME_FIELD(mome_move_t, seg, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_move_t, page, MOME_FK_RAW, 0),
                                           MOME_FIELD(mome_move_t, owner, MOME_FK_NODE_NONE, 0)};
static const mome_field_t notice_fields[] = {
    MOME_FIELD(mome_rel_t, date, MOME_FK_MAX, MOME_WIRE_DATE_MAX),
    MOME_FIELD(mome_rel_t, origin, MOME_FK_NODE, 0)};
static const mome_field_t token_fields[] = {MOME_FIELD(mome_rel_t, token, MOME_FK_RAW, 0)};

#define NF(a) (uint8_t)(sizeof(a) / sizeof((a)[0]))

/* READ_REQ and DONE only send (a request the directory serves goes to this node's holder as a
 * message too): they may run while the holder serves reads together (holder.c). */
static const mome_msg_def_t dir_msgs[] = {
    {.type = MOME_MSG_READ_REQ,
     .wire = {"READ_REQ", rw_req_fields, NF(rw_req_fields),
              MOME_REQ_COPY | MOME_REQ_AHEAD | MOME_REQ_NOPUSH, 0, 0},
     .body_size = sizeof(mome_req_t),
     .validate = check_request,
     .batched = 1,
     .handler = on_request},
    {.type = MOME_MSG_WRITE_REQ,
     .wire = {"WRITE_REQ", rw_req_fields, NF(rw_req_fields),
              MOME_REQ_COPY | MOME_REQ_RECALL | MOME_REQ_AHEAD, 0, 0},
     .body_size = sizeof(mome_req_t),
     .validate = check_write,
     .handler = on_request},
    {.type = MOME_MSG_SYNC_REQ,
     .wire = {"SYNC_REQ", sync_req_fields, NF(sync_req_fields), 0, 0, 0},
     .body_size = sizeof(mome_req_t),
     .validate = check_request,
     .handler = on_request},
    {.type = MOME_MSG_DONE,
     .wire = {"DONE", ref_fields, NF(ref_fields), MOME_DONE_RESET, 0, 0},
     .body_size = sizeof(mome_ref_t),
     .validate = check_done,
     .batched = 1,
     .handler = on_done},
    {.type = MOME_MSG_DROP,
     .wire = {"DROP", drop_fields, NF(drop_fields), 0, 0, 0},
     .body_size = sizeof(mome_req_t),
     .validate = check_request,
     .batched = 1,
     .handler = on_request},
    {.type = MOME_MSG_UNSHARE_ACK,
     .wire = {"UNSHARE_ACK", ref_fields, NF(ref_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t),
     .validate = check_unshare_ack,
     .handler = on_unshare_ack},
    {.type = MOME_MSG_FLUSH_ACK,
     .wire = {"FLUSH_ACK", ref_fields, NF(ref_fields), 0, 0, 0},
     .body_size = sizeof(mome_ref_t),
     .handler = on_flush_ack},
    {.type = MOME_MSG_NOTICE,
     .wire = {"NOTICE", notice_fields, NF(notice_fields), 0, MOME_BATCH_NOTICE_SIZE, MOME_LEN_BATCH,
              MOME_BATCH_NOTICE},
     .body_size = sizeof(mome_rel_t),
     .handler = on_notice},
    {.type = MOME_MSG_STALE_ACK,
     .wire = {"STALE_ACK", token_fields, NF(token_fields), 0, 0, 0},
     .body_size = sizeof(mome_rel_t),
     .handler = on_stale_ack},
    {.type = MOME_MSG_DIR_MOVE,
     .wire = {"DIR_MOVE", move_fields, NF(move_fields),
              MOME_DIR_EXCL | MOME_DIR_UNTOUCHED | MOME_DIR_MULTI, 8, 8192, 0},
     .body_size = sizeof(mome_move_t),
     .validate = check_move,
     .handler = on_move},
    {.type = MOME_MSG_DIR_MOVE_ACK,
     .wire = {"DIR_MOVE_ACK", ref_fields, 2, 0, 0, 0},
     .body_size = sizeof(mome_ref_t),
     .handler = on_move_ack},
};

int mome_dir_init(int nnodes, int self, int migrate)
{
    dir_nnodes = nnodes;
    dir_self = self;
    dir_migrate = migrate && nnodes > 2;
    dir_words = ((size_t)nnodes + 63) / 64;
    next_token = 1;
    stale_out = mome_calloc((size_t)nnodes, sizeof(*stale_out));
    if (!stale_out || mome_htab_init(&dir, 1024) < 0 || mome_htab_init(&notices, 64) < 0 ||
        mome_htab_init(&crossing, 16) < 0)
        return -ENOMEM;
    return mome_msg_register(dir_msgs, sizeof(dir_msgs) / sizeof(dir_msgs[0]));
}

void mome_dir_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&dir, h, tmp) free_entry((dentry_t *)h);
    mome_htab_foreach(&notices, h, tmp)
    {
        mome_batch_free(&((notice_t *)h)->ack);
        free(h);
    }
    for (int i = 0; stale_out && i < dir_nnodes; i++)
        mome_batch_free(&stale_out[i]);
    free(stale_out);
    stale_out = NULL;
    mome_htab_foreach(&crossing, h, tmp) free(h);
    mome_htab_free(&dir);
    mome_htab_free(&notices);
    mome_htab_free(&crossing);
}

void mome_dir_forget_seg(uint64_t seg)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&dir, h, tmp)
    {
        if (h->k1 != seg)
            continue;
        if (((dentry_t *)h)->busy >= 0) { /* its DONE or UNSHARE_ACK may be on its way */
            crossing_t *c = mome_calloc(1, sizeof(*c));
            if (!c)
                mome_fatal("out of memory destroying segment %#llx; stopping",
                           (unsigned long long)seg);
            c->h.k1 = seg;
            c->h.k2 = h->k2;
            c->node = ((dentry_t *)h)->busy;
            c->unshare = ((dentry_t *)h)->unsharing;
            mome_htab_put(&crossing, &c->h);
        }
        /* A notice held for the entry's move: its writer counts on an acknowledgement (its next
         * release, or acquire, waits for it), and every holder went with the segment, so none
         * is left to tell (helper-116: a flushed diff's notice, its writer having closed the
         * segment meanwhile, waited for ever). */
        for (const dnotice_t *n = ((dentry_t *)h)->held; n; n = n->next)
            mome_send((int)((const mome_rel_t *)mome_msg_body(&n->m))->origin, MOME_MSG_NOTICE_ACK,
                      0, NULL, n->one.buf, (uint32_t)n->one.len);
        mome_htab_del(&dir, h);
        free_entry((dentry_t *)h);
    }
}

uint64_t mome_dir_entries(void)
{
    return dir.n;
}

void mome_dir_peek(uint64_t seg, uint64_t page, mome_dir_state_t *out)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, seg, page);
    memset(out, 0, sizeof(*out));
    out->owner = out->busy = out->fwd = -1;
    if (!e)
        return;
    out->known = 1;
    out->owner = e->owner;
    out->excl = e->excl;
    out->multi = e->multi;
    out->busy = e->busy;
    out->fwd = e->fwd;
    out->flushing = count(e, FLUSHING);
    out->unsharing = e->unsharing;
    out->ncopies = count(e, CS);
    out->nwriters = count(e, WRITERS);
    for (dreq_t *r = e->q; r; r = r->next)
        out->queued++;
    out->copyset0 = set(e, CS)[0];
    out->weak0 = set(e, KEPT_SET)[0];
    out->strong0 = set(e, SINGLE_SET)[0];
    out->writers0 = set(e, WRITERS)[0];
}
