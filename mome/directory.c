/*
 * directory.c - manager side of the coherence protocol: single writer / multiple readers with
 * invalidation, per-page serialisation, forwarding and migration of entries.
 *
 * Transitions (R = requester, O = owner, S = other copy holders):
 *   READ,  untouched page        -> GRANT(RW, zero) to R            (exclusive, like MESI's E)
 *   READ,  O writable            -> FWD_READ to O: O keeps a read-only copy and sends DATA to R
 *   READ,  shared                -> FWD_READ to a holder (this node if it holds one)
 *   WRITE, R holds a copy        -> INV to S; GRANT(RW, acks = |S|) to R
 *   WRITE, R holds none          -> INV to S; FWD_WRITE(acks) to O: O sends DATA and drops its copy
 *   WRITE, untouched page        -> GRANT(RW, zero) to R
 *   DONE                         -> close the transaction, start the next queued request
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hash.h"
#include "log.h"
#include "node.h"
#include "stats.h"

#define MIGRATE_AFTER 2 /* consecutive transactions with this manager as a third party */

typedef struct dreq {
    struct dreq *next;
    mome_msg_t m; /* a request (no payload) */
} dreq_t;

typedef struct dentry {
    mome_hnode_t h; /* k1 = segment, k2 = page */
    int32_t owner;  /* latest content; -1 = never written (zeros) */
    int32_t fwd;    /* >= 0: the entry moved there */
    int32_t busy;   /* requester of the open transaction, or -1 */
    uint8_t excl;   /* owner holds it writable */
    uint8_t moving; /* DIR_MOVE sent, waiting for its ack */
    uint8_t third;  /* consecutive third-party transactions */
    dreq_t *q, *qtail;
    uint64_t copyset[];
} dentry_t;

static mome_htab_t dir;
static int dir_nnodes, dir_self, dir_migrate;
static size_t dir_words;

static int cs_has(const dentry_t *e, int n)
{
    return (e->copyset[n / 64] >> (n % 64)) & 1;
}
static void cs_add(dentry_t *e, int n)
{
    e->copyset[n / 64] |= 1ull << (n % 64);
}
static void cs_clear(dentry_t *e)
{
    memset(e->copyset, 0, dir_words * 8);
}
static int cs_count(const dentry_t *e)
{
    int n = 0;
    for (size_t i = 0; i < dir_words; i++)
        n += __builtin_popcountll(e->copyset[i]);
    return n;
}

int mome_dir_init(int nnodes, int self, int migrate)
{
    dir_nnodes = nnodes;
    dir_self = self;
    dir_migrate = migrate && nnodes > 2;
    dir_words = ((size_t)nnodes + 63) / 64;
    return mome_htab_init(&dir, 1024) < 0 ? -ENOMEM : 0;
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
    mome_htab_free(&dir);
}

int mome_dir_default_manager(uint64_t seg, uint64_t page)
{
    uint64_t s = (seg * 0x9e3779b97f4a7c15ull) >> 32;
    return (int)((s + page) % (uint64_t)dir_nnodes);
}

static dentry_t *entry_new(uint64_t seg, uint64_t page)
{
    dentry_t *e = calloc(1, sizeof(*e) + dir_words * 8);
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

static void reply(int to, int type, int flags, const mome_msg_t *req, uint32_t count)
{
    mome_msg_t m = {.type = (uint8_t)type, .flags = (uint8_t)flags, .seg = req->seg,
                    .page = req->page, .node = req->node, .count = count,
                    .arg = (uint64_t)dir_self};
    mome_send(to, &m);
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

static void start_read(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node;

    if (e->owner < 0 && cs_count(e) == 0) {
        e->owner = r;
        e->excl = 1;
        cs_add(e, r);
        reply(r, MOME_MSG_GRANT, MOME_MF_RW | MOME_MF_ZERO, req, 0);
    } else if (e->owner == r || cs_has(e, r)) {
        /* It holds a valid copy already (a repeated request): confirm what it has. */
        mome_warn("directory", "node %d asks for page %llu it already holds", r,
                  (unsigned long long)req->page);
        reply(r, MOME_MSG_GRANT, e->excl && e->owner == r ? MOME_MF_RW : 0, req, 0);
    } else if (e->excl) {
        reply(e->owner, MOME_MSG_FWD_READ, 0, req, 0);
        e->excl = 0;
        cs_add(e, r);
    } else {
        int src = cs_has(e, dir_self) ? dir_self : e->owner;
        reply(src, MOME_MSG_FWD_READ, 0, req, 0);
        cs_add(e, r);
    }
    e->busy = r;
}

static void start_write(dentry_t *e, const mome_msg_t *req)
{
    int r = (int)req->node;
    int need_data = !cs_has(e, r) && e->owner != r;
    int src = need_data && e->owner >= 0 && cs_has(e, e->owner) ? e->owner : -1;
    uint32_t nacks = 0;

    for (int s = 0; s < dir_nnodes; s++) {
        if (s == r || s == src || !cs_has(e, s))
            continue;
        reply(s, MOME_MSG_INV, 0, req, 0);
        nacks++;
    }
    MOME_STAT_ADD(invalidations_sent, nacks);
    if (src >= 0)
        reply(src, MOME_MSG_FWD_WRITE, 0, req, nacks);
    else if (need_data)
        reply(r, MOME_MSG_GRANT, MOME_MF_RW | MOME_MF_ZERO, req, nacks);
    else
        reply(r, MOME_MSG_GRANT, MOME_MF_RW, req, nacks);
    e->owner = r;
    e->excl = 1;
    cs_clear(e);
    cs_add(e, r);
    e->busy = r;
}

static void start(dentry_t *e, const mome_msg_t *req)
{
    if (req->type == MOME_MSG_READ_REQ)
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

static void on_request(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);

    if (!e) {
        int def = mome_dir_default_manager(m->seg, m->page);
        if (def != dir_self) {
            forward(m, def); /* never managed here: the default manager knows */
            return;
        }
        e = entry_new(m->seg, m->page);
        if (!e) {
            mome_error("directory", "out of memory for a directory entry; request dropped");
            return;
        }
    }
    if (e->fwd >= 0) {
        forward(m, e->fwd);
        return;
    }
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
    if (cs_has(e, dir_self)) {
        e->third = 0;
        return 0;
    }
    if (++e->third < MIGRATE_AFTER)
        return 0;
    e->third = 0;
    mome_msg_t m = {.type = MOME_MSG_DIR_MOVE, .seg = e->h.k1, .page = e->h.k2,
                    .node = (uint32_t)(e->owner < 0 ? requester : e->owner),
                    .count = e->excl | (e->owner < 0 ? 2u : 0u),
                    .payload = e->copyset, .len = (uint32_t)(dir_words * 8)};
    mome_send(requester, &m);
    e->moving = 1;
    return 1;
}

static void on_done(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (!e || e->busy != (int)m->node) {
        mome_warn("directory", "unexpected DONE from node %u for page %llu", m->node,
                  (unsigned long long)m->page);
        return;
    }
    e->busy = -1;
    if (maybe_migrate(e, (int)m->node))
        return;
    run_queue(e);
}

static void on_move(const mome_msg_t *m)
{
    dentry_t *e = (dentry_t *)mome_htab_get(&dir, m->seg, m->page);
    if (e) {
        /* It comes back: replace the forwarder (a forwarder holds no requests). */
        mome_htab_del(&dir, &e->h);
        free_entry(e);
    }
    e = entry_new(m->seg, m->page);
    if (!e) {
        mome_error("directory", "out of memory taking over a directory entry");
        return;
    }
    e->owner = (m->count & 2) ? -1 : (int32_t)m->node;
    e->excl = m->count & 1;
    memcpy(e->copyset, m->payload, dir_words * 8);
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
    cs_clear(e);
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
    case MOME_MSG_WRITE_REQ: on_request(m); break;
    case MOME_MSG_DONE: on_done(m); break;
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
    const dentry_t *e = (const dentry_t *)mome_htab_get(&dir, seg, page);
    memset(out, 0, sizeof(*out));
    out->owner = out->busy = out->fwd = -1;
    if (!e)
        return;
    out->known = 1;
    out->owner = e->owner;
    out->excl = e->excl;
    out->busy = e->busy;
    out->fwd = e->fwd;
    out->ncopies = cs_count(e);
    for (dreq_t *r = e->q; r; r = r->next)
        out->queued++;
    out->copyset0 = e->copyset[0];
}
