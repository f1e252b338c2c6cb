/*
 * directory.c - manager side of the coherence protocol: per-page contracts (STRONG, RELEASE,
 * WEAK), single writer / multiple readers, multiple writers merged at a master copy, notices,
 * forwarding and migration of entries.
 *
 * A page is in one of two regimes. STRONG: at most one writer (the exclusive owner); copies held
 * under STRONG or RELEASE are current and are invalidated before anyone writes; copies held under
 * WEAK are never touched. MULTI: nodes writing under RELEASE or WEAK, none under STRONG; the owner
 * holds the master copy, other writers twin their copy and send diffs to it at release, and the
 * owner's notice of each released change reaches every RELEASE holder (not WEAK ones) before the
 * release completes. A STRONG request on a MULTI page first flushes every writer (FLUSH: release
 * now, stop writing) and drops the RELEASE copies, then runs in the STRONG regime.
 *
 * Transitions (R requester, O owner):
 *   READ   untouched                -> GRANT(write, zero, owner) to R
 *   READ   STRONG, O writable       -> FWD_READ to O (O keeps a read copy); WEAK: FWD_SNAP, O keeps
 *                                      writing
 *   READ   STRONG, shared           -> FWD_READ to a current holder
 *   READ   MULTI (RELEASE/WEAK)     -> FWD_SNAP to O
 *   WRITE  STRONG, as STRONG        -> INV to STRONG/RELEASE holders; content from O (FWD_WRITE)
 *   WRITE  STRONG, as RELEASE/WEAK  -> INV to STRONG holders; R becomes owner of a MULTI page
 *   WRITE  MULTI, as RELEASE/WEAK   -> R writes too: a twin on its copy, or FWD_SNAP(twin) from O
 *   any STRONG request on MULTI     -> FLUSH writers and RELEASE holders, then as in STRONG
 *   DONE                            -> close the transaction, start the next queued request
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/directory.h"
#include "base/hash.h"
#include "base/log.h"
#include "mome.h"
#include "core/node.h"
#include "base/stats.h"

#define MIGRATE_AFTER 2 /* consecutive transactions with this manager as a third party */

enum { CS = 0, STRONG_SET, WEAK_SET, WRITERS, NSETS };

typedef struct dreq {
    struct dreq *next;
    mome_msg_t m; /* a request (no payload) */
} dreq_t;

typedef struct dentry {
    mome_hnode_t h;  /* k1 = segment, k2 = page */
    int32_t owner;   /* master content; -1 = never written (zeros) */
    int32_t fwd;     /* >= 0: the entry moved there */
    int32_t busy;    /* requester of the open transaction, or -1 */
    int32_t flushing; /* acks the flush phase still waits for */
    uint8_t excl;    /* STRONG regime: the owner holds it writable */
    uint8_t multi;   /* MULTI regime */
    uint8_t moving;  /* DIR_MOVE sent, waiting for its ack */
    uint8_t third;   /* consecutive third-party transactions */
    mome_msg_t saved; /* the request a flush phase serves */
    dreq_t *q, *qtail;
    uint64_t sets[];  /* NSETS bitmaps of dir_words words */
} dentry_t;

/* A batch of notices waiting for its holders' acknowledgements. */
typedef struct notice {
    mome_hnode_t h; /* k1 = token */
    uint32_t origin;
    uint32_t left;    /* STALE messages not acknowledged yet */
    mome_batch_t ack; /* the pages to acknowledge to the origin */
} notice_t;

static mome_htab_t dir, notices;
static mome_batch_t *stale_out; /* STALE being built, per holder */
static int dir_nnodes, dir_self, dir_migrate;
static size_t dir_words;
static uint32_t next_token = 1;

static uint64_t *set(dentry_t *e, int k)
{
    return e->sets + (size_t)k * dir_words;
}
static int has(dentry_t *e, int k, int n)
{
    return n >= 0 && (set(e, k)[n / 64] >> (n % 64)) & 1;
}
static void add(dentry_t *e, int k, int n)
{
    set(e, k)[n / 64] |= 1ull << (n % 64);
}
static void del(dentry_t *e, int k, int n)
{
    set(e, k)[n / 64] &= ~(1ull << (n % 64));
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
static void add_holder(dentry_t *e, int n, int m)
{
    add(e, CS, n);
    del(e, STRONG_SET, n);
    del(e, WEAK_SET, n);
    if (m == MOME_WEAK)
        add(e, WEAK_SET, n);
    else if (m != MOME_RELEASE)
        add(e, STRONG_SET, n);
}

static void drop_holder(dentry_t *e, int n)
{
    for (int k = 0; k < NSETS; k++)
        del(e, k, n);
}

int mome_dir_init(int nnodes, int self, int migrate)
{
    dir_nnodes = nnodes;
    dir_self = self;
    dir_migrate = migrate && nnodes > 2;
    dir_words = ((size_t)nnodes + 63) / 64;
    stale_out = calloc((size_t)nnodes, sizeof(*stale_out));
    if (!stale_out || mome_htab_init(&dir, 1024) < 0 || mome_htab_init(&notices, 64) < 0)
        return -ENOMEM;
    return 0;
}

static void free_entry(dentry_t *e)
{
    while (e->q) {
        dreq_t *r = e->q;
        e->q = r->next;
        free(r);
    }
    free(e);
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
    mome_htab_free(&dir);
    mome_htab_free(&notices);
}

int mome_dir_default_manager(uint64_t seg, uint64_t page)
{
    uint64_t s = (seg * 0x9e3779b97f4a7c15ull) >> 32;
    return (int)((s + page) % (uint64_t)dir_nnodes);
}

static dentry_t *entry_new(uint64_t seg, uint64_t page)
{
    dentry_t *e = calloc(1, sizeof(*e) + NSETS * dir_words * 8);
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

static void send_to(int to, int type, int flags, const mome_msg_t *req, uint32_t cnt,
                    uint64_t arg2)
{
    mome_msg_t m = {.type = (uint8_t)type, .flags = (uint8_t)flags, .seg = req->seg,
                    .page = req->page, .node = req->node, .count = cnt,
                    .arg = (uint64_t)dir_self, .arg2 = arg2};
    mome_send(to, &m);
}

/* A GRANT names the master copy's holder in `node` (where a twinning writer sends diffs). */
static void grant(const mome_msg_t *req, int flags, uint32_t acks, int owner)
{
    mome_msg_t m = {.type = MOME_MSG_GRANT, .flags = (uint8_t)flags, .seg = req->seg,
                    .page = req->page, .node = (uint32_t)(owner >= 0 ? owner : (int)req->node),
                    .count = acks, .arg = (uint64_t)dir_self};
    mome_send((int)req->node, &m);
}

static void forward(const mome_msg_t *req, int to)
{
    mome_msg_t m = *req;
    if (m.hops > 4 * dir_nnodes + 8) {
        mome_error("directory", "%s for page %llu of segment %#llx loops between managers; "
                                "dropped", mome_msg_type_name(m.type),
                   (unsigned long long)m.page, (unsigned long long)m.seg);
        return;
    }
    m.hops++;
    mome_send(to, &m);
}

/* Does the requester hold a copy good enough for this request? Its own word (MF_COPY) decides:
 * a node may drop a RELEASE or WEAK copy without telling the directory. */
static int holds(dentry_t *e, const mome_msg_t *req)
{
    return has(e, CS, (int)req->node) && (req->flags & MOME_MF_COPY);
}

static int others_hold(dentry_t *e, int n)
{
    int c = count(e, CS);
    return c > (has(e, CS, n) ? 1 : 0);
}

/*
 * MOME_MF_OWNER goes only with MULTI pages: there the owner merges the others' diffs and tells
 * the holders. In the STRONG regime the owner is just the holder of the latest content, and it
 * may change without the old one hearing of it (a writer that holds a copy needs no content).
 */
static int multi_rights(dentry_t *e, int r)
{
    if (!e->multi)
        return 0;
    return MOME_MF_OWNER | (others_hold(e, r) ? MOME_MF_SHARED : 0);
}

static void start_read(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node, m = (int)req->arg2;
    int copy = holds(e, req);

    if (!copy && r != e->owner)
        drop_holder(e, r);
    if (e->owner < 0 && count(e, CS) == 0 && !(req->flags & MOME_MF_AHEAD)) {
        e->owner = r;
        e->excl = 1;
        add_holder(e, r, m);
        grant(req, MOME_MF_RW | MOME_MF_ZERO, 0, r);
    } else if (e->owner < 0) {
        /* Never written, and read by others (or read ahead): a read-only page of zeros. */
        add_holder(e, r, m);
        grant(req, MOME_MF_ZERO, 0, r);
    } else if (r == e->owner) {
        /* Its copy is the master: confirm what it may do with it. */
        int rw = e->excl || (e->multi && has(e, WRITERS, r));
        add_holder(e, r, m);
        grant(req, (rw ? MOME_MF_RW : 0) | multi_rights(e, r), 0, r);
    } else if (e->multi) {
        /* The owner learns the reader's model: it pushes new versions to RELEASE readers. */
        send_to(e->owner, MOME_MSG_FWD_SNAP, 0, req, 0, (uint64_t)m);
        add_holder(e, r, m);
    } else if (e->excl) {
        if (m == MOME_WEAK) {
            send_to(e->owner, MOME_MSG_FWD_SNAP, 0, req, 0, MOME_WEAK); /* the owner writes on */
        } else {
            send_to(e->owner, MOME_MSG_FWD_READ, 0, req, 0, 0);
            e->excl = 0;
        }
        add_holder(e, r, m);
    } else if (copy && !has(e, WEAK_SET, r)) {
        add_holder(e, r, m); /* a current copy already: a contract change */
        grant(req, 0, 0, e->owner);
    } else {
        int src = has(e, CS, dir_self) && !has(e, WEAK_SET, dir_self) ? dir_self : e->owner;
        send_to(src, MOME_MSG_FWD_READ, 0, req, 0, 0);
        add_holder(e, r, m);
    }
    e->busy = r;
}

/* A STRONG write: every other STRONG or RELEASE copy goes; WEAK copies stay (and go stale). */
static void start_write_strong(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node;
    int copy = holds(e, req) && !has(e, WEAK_SET, r);
    int src = !copy && e->owner >= 0 && e->owner != r ? e->owner : -1;
    uint32_t nacks = 0;

    for (int s = 0; s < dir_nnodes; s++) {
        if (s == r || s == src || !has(e, CS, s) || has(e, WEAK_SET, s))
            continue;
        send_to(s, MOME_MSG_INV, 0, req, 0, 0);
        drop_holder(e, s);
        nacks++;
    }
    MOME_STAT_ADD(invalidations_sent, nacks);
    if (src >= 0) {
        int keep = has(e, WEAK_SET, src); /* a WEAK copy is never taken away */
        send_to(src, MOME_MSG_FWD_WRITE, MOME_MF_RW, req, nacks, (uint64_t)keep);
        if (!keep)
            drop_holder(e, src);
    } else {
        grant(req, MOME_MF_RW | (!copy && r != e->owner ? MOME_MF_ZERO : 0), nacks, r);
    }
    e->owner = r;
    e->excl = 1;
    add_holder(e, r, MOME_STRONG);
}

/* A RELEASE/WEAK write on a STRONG page: STRONG copies go, R owns the master of a MULTI page. */
static void start_write_multi_from_strong(dentry_t *e, const mome_msg_t *req, int m)
{
    int r = (int)req->node;
    int copy = holds(e, req) && !has(e, WEAK_SET, r);
    int src = !copy && e->owner >= 0 && e->owner != r ? e->owner : -1;
    uint32_t nacks = 0;
    int keep = src >= 0 && !has(e, STRONG_SET, src); /* the old owner stays a reader */

    for (int s = 0; s < dir_nnodes; s++) {
        if (s == r || s == src || !has(e, STRONG_SET, s))
            continue;
        send_to(s, MOME_MSG_INV, 0, req, 0, 0);
        drop_holder(e, s);
        nacks++;
    }
    MOME_STAT_ADD(invalidations_sent, nacks);
    if (src >= 0 && !keep)
        drop_holder(e, src);
    add_holder(e, r, m);
    int flags = MOME_MF_RW | MOME_MF_OWNER | (others_hold(e, r) ? MOME_MF_SHARED : 0);
    if (src >= 0)
        send_to(src, MOME_MSG_FWD_WRITE, flags, req, nacks, (uint64_t)keep);
    else
        grant(req, flags | (!copy && r != e->owner ? MOME_MF_ZERO : 0), nacks, r);
    e->owner = r;
    e->excl = 0;
    e->multi = 1;
    clear(e, WRITERS);
    add(e, WRITERS, r);
}

static void start_write(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node, m = (int)req->arg2;

    if (!holds(e, req) && r != e->owner)
        drop_holder(e, r);
    if (!e->multi && m == MOME_STRONG) {
        start_write_strong(e, req);
    } else if (!e->multi) {
        start_write_multi_from_strong(e, req, m);
    } else if (r == e->owner) {
        add(e, WRITERS, r);
        add_holder(e, r, m);
        grant(req, MOME_MF_RW | multi_rights(e, r), 0, r);
    } else if (holds(e, req)) {
        /* A stale copy is a fine twin: only this node's own changes travel. */
        add(e, WRITERS, r);
        add_holder(e, r, m);
        grant(req, MOME_MF_RW | MOME_MF_TWIN, 0, e->owner);
    } else {
        add(e, WRITERS, r);
        add_holder(e, r, m);
        send_to(e->owner, MOME_MSG_FWD_SNAP, MOME_MF_RW | MOME_MF_TWIN, req, 0, 0);
    }
    e->busy = r;
}

/* A WEAK holder asks whether its copy is still the master's version. */
static void start_sync(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node;
    if (e->owner < 0 || e->owner == r) {
        mome_msg_t ok = {.type = MOME_MSG_SYNC_OK, .seg = req->seg, .page = req->page,
                         .arg = (uint64_t)dir_self};
        mome_send(r, &ok);
    } else {
        /* An exclusive STRONG owner may have written since: it always answers with content. */
        send_to(e->owner, MOME_MSG_FWD_SYNC, e->excl ? MOME_MF_RW : 0, req, 0, req->arg2);
    }
    e->busy = r;
}

/* MULTI -> STRONG: every writer releases and stops, RELEASE copies go; then serve `req`. */
static void begin_flush(dentry_t *e, const mome_msg_t *req)
{
    e->saved = *req;
    e->saved.payload = NULL;
    e->saved.len = 0;
    e->flushing = 0;
    e->busy = (int)req->node;
    for (int s = 0; s < dir_nnodes; s++) {
        if (!has(e, CS, s) && !has(e, WRITERS, s))
            continue;
        if (s != e->owner && has(e, WEAK_SET, s) && !has(e, WRITERS, s))
            continue; /* WEAK readers keep their copies */
        int drop = s != e->owner && !has(e, WEAK_SET, s);
        mome_msg_t f = {.type = MOME_MSG_FLUSH, .seg = req->seg, .page = req->page,
                        .count = (uint32_t)drop, .arg = (uint64_t)dir_self};
        mome_send(s, &f);
        if (drop) {
            drop_holder(e, s);
            MOME_STAT_INC(invalidations_sent);
        }
        e->flushing++;
    }
    clear(e, WRITERS);
    e->multi = 0;
    e->excl = 0;
    if (e->owner >= 0 && !has(e, WEAK_SET, e->owner))
        add_holder(e, e->owner, MOME_RELEASE);
}

static void start(dentry_t *e, const mome_msg_t *req)
{
    if (req->type == MOME_MSG_SYNC_REQ)
        start_sync(e, req);
    else if (e->multi && req->arg2 == MOME_STRONG)
        begin_flush(e, req);
    else if (req->type == MOME_MSG_READ_REQ)
        start_read(e, req);
    else
        start_write(e, req);
}

static void enqueue(dentry_t *e, const mome_msg_t *req)
{
    dreq_t *r = malloc(sizeof(*r));
    if (!r) {
        mome_error("directory", "out of memory queueing a request; dropped");
        return;
    }
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

/* The entry a message is about, or NULL if it was forwarded elsewhere. */
static dentry_t *route(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (!e) {
        int def = mome_dir_default_manager(m->seg, m->page);
        if (def != dir_self) {
            forward(m, def); /* never managed here: the default manager knows */
            return NULL;
        }
        e = entry_new(m->seg, m->page);
        if (!e) {
            mome_error("directory", "out of memory for a directory entry; request dropped");
            return NULL;
        }
    }
    if (e->fwd >= 0) {
        forward(m, e->fwd);
        return NULL;
    }
    return e;
}

static void on_request(const mome_msg_t *m)
{
    dentry_t *e = route(m);
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
    mome_msg_t m = {.type = MOME_MSG_DIR_MOVE, .seg = e->h.k1, .page = e->h.k2,
                    .node = (uint32_t)(e->owner < 0 ? requester : e->owner),
                    .count = e->excl | (e->owner < 0 ? 2u : 0u) | (e->multi ? 4u : 0u),
                    .payload = e->sets, .len = (uint32_t)(NSETS * dir_words * 8)};
    mome_send(requester, &m);
    e->moving = 1;
    return 1;
}

static void on_done(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (!e || e->busy != (int)m->node || e->flushing) {
        mome_debug("directory", "unexpected DONE from node %u for page %llu", m->node,
                   (unsigned long long)m->page);
        return;
    }
    e->busy = -1;
    if (maybe_migrate(e, (int)m->node))
        return;
    run_queue(e);
}

static void on_flush_ack(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (!e || e->flushing <= 0) {
        mome_warn("directory", "unexpected FLUSH_ACK for page %llu", (unsigned long long)m->page);
        return;
    }
    if (--e->flushing == 0) {
        mome_msg_t req = e->saved;
        start(e, &req); /* the page is STRONG now */
    }
}

/* A notice entry for a page this node does not manage goes on alone, to where the entry is. */
static void forward_notice(const mome_msg_t *m, const mome_entry_t *e, int to)
{
    mome_batch_t one = {0};
    if (mome_batch_notice(&one, e->seg, e->page, e->ver) < 0) {
        mome_error("directory", "out of memory forwarding a notice; dropped");
        return;
    }
    mome_msg_t f = *m;
    f.payload = one.buf;
    f.len = (uint32_t)one.len;
    forward(&f, to);
    mome_batch_free(&one);
}

/*
 * The owner announces new versions: every node holding a RELEASE copy of each page (not the owner,
 * not the writer, not WEAK holders) gets a STALE entry, one message per holder; the writer hears
 * back once they all acknowledged.
 */
static void on_notice(const mome_msg_t *m)
{
    const uint8_t *p = m->payload, *end = p + m->len;
    mome_batch_t ack = {0};
    mome_entry_t ent;
    size_t k;
    uint32_t msgs = 0;

    while ((k = mome_batch_read(MOME_MSG_NOTICE, p, end, &ent)) > 0) {
        p += k;
        dentry_t *e = (dentry_t *)mome_htab_get(&dir, ent.seg, ent.page);
        int def = mome_dir_default_manager(ent.seg, ent.page);
        if ((!e && def != dir_self) || (e && e->fwd >= 0)) {
            forward_notice(m, &ent, e ? e->fwd : def);
            continue;
        }
        for (int s = 0; e && s < dir_nnodes; s++) {
            if (!has(e, CS, s) || has(e, WEAK_SET, s) || s == e->owner || s == (int)m->node)
                continue;
            if (mome_batch_notice(&stale_out[s], ent.seg, ent.page, ent.ver) < 0)
                mome_error("directory", "out of memory for a notice; node %d not told", s);
        }
        if (mome_batch_page(&ack, ent.seg, ent.page) < 0)
            mome_error("directory", "out of memory acknowledging a notice");
    }
    notice_t *n = calloc(1, sizeof(*n));
    for (int s = 0; s < dir_nnodes; s++) {
        if (!stale_out[s].n)
            continue;
        if (n && !n->h.k1) {
            n->h.k1 = next_token++;
            n->origin = m->node;
            mome_htab_put(&notices, &n->h);
        }
        mome_msg_t st = {.type = MOME_MSG_STALE, .arg = m->arg, .payload = stale_out[s].buf,
                         .len = (uint32_t)stale_out[s].len,
                         .count = n ? (uint32_t)n->h.k1 : 0};
        MOME_STAT_ADD(invalidations_sent, stale_out[s].n);
        mome_send(s, &st);
        mome_batch_reset(&stale_out[s]);
        msgs++;
    }
    if (msgs && n) {
        n->left = msgs;
        n->ack = ack;
        return;
    }
    if (msgs && !n)
        mome_error("directory", "out of memory tracking a notice; node %u waits", m->node);
    free(n);
    if (ack.n) {
        mome_msg_t a = {.type = MOME_MSG_NOTICE_ACK, .payload = ack.buf, .len = (uint32_t)ack.len};
        mome_send((int)m->node, &a);
    }
    mome_batch_free(&ack);
}

static void on_stale_ack(const mome_msg_t *m)
{
    notice_t *n = (notice_t *)mome_htab_get(&notices, m->count, 0);
    if (!n) {
        mome_warn("directory", "STALE_ACK for an unknown notice");
        return;
    }
    if (--n->left > 0)
        return;
    mome_msg_t ack = {.type = MOME_MSG_NOTICE_ACK, .payload = n->ack.buf,
                      .len = (uint32_t)n->ack.len};
    mome_send((int)n->origin, &ack);
    mome_htab_del(&notices, &n->h);
    mome_batch_free(&n->ack);
    free(n);
}

static void on_move(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (e) {
        /* It comes back: replace the forwarder (a forwarder holds no requests). */
        mome_htab_del(&dir, &e->h);
        free_entry(e);
    }
    if (m->len != NSETS * dir_words * 8) {
        mome_error("directory", "DIR_MOVE with %u bytes of state; dropped", m->len);
        return;
    }
    e = entry_new(m->seg, m->page);
    if (!e) {
        mome_error("directory", "out of memory taking over a directory entry");
        return;
    }
    e->owner = (m->count & 2) ? -1 : (int32_t)m->node;
    e->excl = m->count & 1;
    e->multi = !!(m->count & 4);
    memcpy(e->sets, m->payload, NSETS * dir_words * 8);
    mome_msg_t ack = {.type = MOME_MSG_DIR_MOVE_ACK, .seg = m->seg, .page = m->page};
    mome_send((int)m->src, &ack);
}

static void on_move_ack(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (!e || !e->moving) {
        mome_warn("directory", "unexpected DIR_MOVE_ACK for page %llu",
                  (unsigned long long)m->page);
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
}

void mome_dir_msg(const mome_msg_t *m)
{
    switch (m->type) {
    case MOME_MSG_READ_REQ:
    case MOME_MSG_WRITE_REQ:
    case MOME_MSG_SYNC_REQ: on_request(m); break;
    case MOME_MSG_DONE: on_done(m); break;
    case MOME_MSG_FLUSH_ACK: on_flush_ack(m); break;
    case MOME_MSG_NOTICE: on_notice(m); break;
    case MOME_MSG_STALE_ACK: on_stale_ack(m); break;
    case MOME_MSG_DIR_MOVE: on_move(m); break;
    case MOME_MSG_DIR_MOVE_ACK: on_move_ack(m); break;
    default: break;
    }
}

void mome_dir_forget_seg(uint64_t seg)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&dir, h, tmp)
    {
        if (h->k1 != seg)
            continue;
        mome_htab_del(&dir, h);
        free_entry((dentry_t *)h);
    }
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
    out->flushing = e->flushing;
    out->ncopies = count(e, CS);
    out->nwriters = count(e, WRITERS);
    for (dreq_t *r = e->q; r; r = r->next)
        out->queued++;
    out->copyset0 = set(e, CS)[0];
    out->weak0 = set(e, WEAK_SET)[0];
    out->strong0 = set(e, STRONG_SET)[0];
    out->writers0 = set(e, WRITERS)[0];
}
