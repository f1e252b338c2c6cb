/*
 * consistency.c - node side of the protocol: fault resolution, transactions, serving and dropping
 * copies, and the per-page consistency model this node chose.
 *
 * STRONG (sequential consistency) is single writer / multiple readers: a page is mapped read-only
 * while other nodes may hold copies and writable only while this node is its exclusive owner.
 * Invariant: access != NONE implies the memfd holds the page's current content.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consistency.h"
#include "directory.h"
#include "log.h"
#include "memory.h"
#include "mome.h"
#include "segment.h"
#include "stats.h"

static char *zero_page; /* one page of zeros */
static size_t os_page;

int mome_cons_init(void)
{
    zero_page = aligned_alloc(4096, mome_g.page_size);
    if (!zero_page)
        return -ENOMEM;
    memset(zero_page, 0, mome_g.page_size);
    os_page = (size_t)sysconf(_SC_PAGESIZE);
    return 0;
}

void mome_cons_fini(void)
{
    free(zero_page);
    zero_page = NULL;
}

static int satisfied(const mome_page_t *pg, int write)
{
    return write ? pg->access == MOME_ACC_WRITE : pg->access != MOME_ACC_NONE;
}

static void fault_done(uint64_t t0)
{
    MOME_STAT_ADD(fault_ns, mome_now_ns() - t0);
}

/* Map a page this node holds into view v at a, writable only if held for writing. */
static void map_view(const mome_page_t *pg, const mome_view_t *v, char *a)
{
    size_t ps = mome_g.page_size;
    int writable = pg->access == MOME_ACC_WRITE && v->writable;
    int wp = !writable && v->writable; /* read-only views need no write-protect bits */
    int rc = mome_mem_map(a, ps, wp);

    if (rc == -EEXIST) {
        /* Some of it is mapped already (another thread, or read-only before an upgrade). */
        if (ps > os_page)
            for (size_t o = 0; o < ps; o += os_page)
                mome_mem_map(a + o, os_page, wp);
        rc = writable ? mome_mem_protect(a, ps, 0) : mome_mem_wake(a, ps);
    }
    if (rc < 0 && rc != -ENOENT)
        mome_error("consistency", "cannot map page at %p: %s", (void *)a, strerror(-rc));
}

static uint32_t manager_of(const mome_seg_t *s, uint64_t page)
{
    const mome_page_t *pg = &s->pages[page];
    return pg->mgr ? pg->mgr - 1 : (uint32_t)mome_dir_default_manager(s->id, page);
}

/* Start a transaction for page, with the given waiters. */
static void request(mome_seg_t *s, uint64_t page, int kind, mome_waiter_t *waiters)
{
    mome_page_t *pg = &s->pages[page];
    mome_txn_t *t = mome_txn_new(s, page, kind);
    if (!t) {
        mome_error("consistency", "out of memory for a page request; faulting threads stay "
                                  "blocked");
        return;
    }
    t->waiters = waiters;
    pg->flags |= MOME_PG_BUSY;
    mome_msg_t m = {.type = kind == MOME_TXN_WRITE ? MOME_MSG_WRITE_REQ : MOME_MSG_READ_REQ,
                    .flags = pg->access != MOME_ACC_NONE ? MOME_MF_COPY : 0,
                    .seg = s->id, .page = page, .node = (uint32_t)mome_g.rank};
    mome_node_outstanding(1);
    mome_send((int)manager_of(s, page), &m);
}

void mome_cons_fault(char *addr, int write, uint64_t t0)
{
    size_t ps = mome_g.page_size;
    char *a = (char *)((uintptr_t)addr & ~(uintptr_t)(ps - 1));
    mome_view_t *v = mome_seg_view_find(addr);

    if (write)
        MOME_STAT_INC(write_faults);
    else
        MOME_STAT_INC(read_faults);
    if (!v) {
        /* The view went away meanwhile: let the thread retry and meet SIGSEGV. */
        mome_mem_wake(a, ps);
        return;
    }
    mome_seg_t *s = v->seg;
    uint64_t page = (v->off + (uint64_t)(a - v->addr)) >> mome_g.page_shift;
    mome_page_t *pg = &s->pages[page];

    if (!(pg->flags & MOME_PG_BUSY) && satisfied(pg, write)) {
        map_view(pg, v, a);
        fault_done(t0);
        mome_node_woke();
        return;
    }
    mome_waiter_t *w = mome_waiter_new();
    if (!w) {
        mome_error("consistency", "out of memory for a waiting fault");
        return;
    }
    w->addr = a;
    w->view = v;
    w->write = (uint8_t)write;
    w->t0 = t0;
    if (pg->flags & MOME_PG_BUSY) {
        mome_txn_t *t = mome_txn_find(s->id, page);
        w->next = t->waiters;
        t->waiters = w;
        return;
    }
    request(s, page, write ? MOME_TXN_WRITE : MOME_TXN_READ, w);
}

/*
 * Tell the manager the transaction is over. Safe before the content is installed: a later request
 * the manager forwards here is handled by this same thread after the install.
 */
static void send_done(mome_txn_t *t)
{
    if (t->done_sent)
        return;
    mome_msg_t done = {.type = MOME_MSG_DONE, .seg = t->seg->id, .page = t->page,
                       .node = (uint32_t)mome_g.rank};
    t->done_sent = 1;
    mome_send((int)t->mgr, &done);
}

static void txn_try_complete(mome_txn_t *t)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg;
    mome_waiter_t *w, *again = NULL;

    if (!t->granted || !t->have_data || t->acks < t->acks_needed)
        return;
    pg = &s->pages[t->page];
    pg->access = t->rw ? MOME_ACC_WRITE : MOME_ACC_READ;
    pg->flags = (uint8_t)((pg->flags & ~MOME_PG_BUSY) | MOME_PG_CACHED);
    pg->mgr = t->mgr + 1;

    send_done(t);
    mome_node_outstanding(-1);
    mome_node_woke();

    w = t->waiters;
    t->waiters = NULL;
    uint64_t page = t->page;
    mome_txn_free(t);
    while (w) {
        mome_waiter_t *next = w->next;
        if (satisfied(pg, w->write)) {
            if (!w->mapped)
                map_view(pg, w->view, w->addr);
            fault_done(w->t0);
            mome_waiter_free(w);
        } else {
            w->mapped = 0;
            w->next = again;
            again = w;
        }
        w = next;
    }
    if (again)
        request(s, page, MOME_TXN_WRITE, again);
}

/*
 * Put content into the page. When it completes the transaction, install it atomically in the
 * first waiter's view (one UFFDIO_COPY); otherwise write it to the memfd unmapped and map later.
 */
static void install(mome_txn_t *t, const void *data)
{
    mome_seg_t *s = t->seg;
    mome_page_t *pg = &s->pages[t->page];
    size_t ps = mome_g.page_size;
    mome_waiter_t *w = t->waiters;
    int rc = -EEXIST;

    if (t->granted && t->acks >= t->acks_needed && w && (!w->write || t->rw) &&
        !(pg->flags & MOME_PG_CACHED)) {
        int wp = !t->rw && w->view->writable;
        rc = mome_mem_install(w->addr, ps, data, wp);
        w->mapped = rc == 0;
    }
    if (rc < 0) {
        /* No view maps the page now (access is NONE): the runtime view may fill it unseen. */
        memcpy(s->rt + (t->page << mome_g.page_shift), data, ps);
    }
    pg->flags |= MOME_PG_CACHED;
    t->have_data = 1;
}

static mome_txn_t *txn_of(const mome_msg_t *m)
{
    mome_txn_t *t = mome_txn_find(m->seg, m->page);
    if (!t)
        mome_warn("consistency", "%s for page %llu of segment %#llx without a request; ignored",
                  mome_msg_type_name(m->type), (unsigned long long)m->page,
                  (unsigned long long)m->seg);
    return t;
}

static void take_grant(mome_txn_t *t, const mome_msg_t *m)
{
    t->granted = 1;
    t->rw = !!(m->flags & MOME_MF_RW);
    t->acks_needed = (int32_t)m->count;
    t->mgr = (uint32_t)m->arg;
}

static void on_grant(const mome_msg_t *m)
{
    mome_txn_t *t = txn_of(m);
    if (!t)
        return;
    take_grant(t, m);
    if (m->flags & MOME_MF_ZERO)
        install(t, zero_page);
    else
        t->have_data = 1; /* it keeps its own copy */
    txn_try_complete(t);
}

static void on_data(const mome_msg_t *m)
{
    mome_txn_t *t = txn_of(m);
    if (!t)
        return;
    if (m->flags & MOME_MF_GRANT)
        take_grant(t, m);
    if (m->src != (uint32_t)mome_g.rank)
        MOME_STAT_INC(pages_fetched);
    if (t->granted && t->acks >= t->acks_needed)
        send_done(t); /* off the faulting thread's path: before the install wakes it */
    install(t, (m->flags & MOME_MF_ZERO) ? zero_page : m->payload);
    txn_try_complete(t);
}

static void on_inv_ack(const mome_msg_t *m)
{
    mome_txn_t *t = txn_of(m);
    if (!t)
        return;
    t->acks++;
    txn_try_complete(t);
}

/* Write-protect every writable view of the page: from now on this node only reads it. */
static void downgrade(mome_seg_t *s, uint64_t page)
{
    for (mome_view_t *v = s->views; v; v = v->next) {
        char *a = mome_view_page_addr(v, page);
        if (a && v->writable)
            mome_mem_protect(a, mome_g.page_size, 1);
    }
    s->pages[page].access = MOME_ACC_READ;
}

/*
 * Forget this node's copy: every view loses the page, so any access faults again. The stale
 * content stays in the memfd (MOME_PG_CACHED): fetching the page again then costs a copy into it
 * and a map, not an allocation, and zapping a view is cheaper than punching the file. The memory
 * goes back when the segment does (or when a page budget evicts it).
 */
static void drop(mome_seg_t *s, uint64_t page)
{
    mome_page_t *pg = &s->pages[page];
    if (pg->access == MOME_ACC_WRITE)
        downgrade(s, page);
    for (mome_view_t *v = s->views; v; v = v->next) {
        char *a = mome_view_page_addr(v, page);
        int rc = a ? mome_mem_zap(a, mome_g.page_size) : 0;
        if (rc < 0)
            mome_error("consistency", "cannot unmap page %llu: %s", (unsigned long long)page,
                       strerror(-rc));
    }
    pg->access = MOME_ACC_NONE;
}

static mome_seg_t *holder_seg(const mome_msg_t *m)
{
    mome_seg_t *s = mome_seg_find(m->seg);
    if (!s || m->page >= s->npages)
        return NULL;
    return s;
}

/* Send this node's copy to the requester, with the grant the manager delegated to us. */
static void serve(const mome_msg_t *m, int rw)
{
    mome_seg_t *s = holder_seg(m);
    mome_msg_t d = {.type = MOME_MSG_DATA, .seg = m->seg, .page = m->page,
                    .flags = MOME_MF_GRANT | (rw ? MOME_MF_RW : 0), .count = m->count,
                    .arg = m->src};

    if (!s || s->pages[m->page].access == MOME_ACC_NONE) {
        mome_error("consistency", "asked for page %llu of segment %#llx which this node does "
                                  "not hold; sending zeros", (unsigned long long)m->page,
                   (unsigned long long)m->seg);
        d.flags |= MOME_MF_ZERO;
        mome_send((int)m->node, &d);
        return;
    }
    if (s->pages[m->page].access == MOME_ACC_WRITE)
        downgrade(s, m->page);
    /* Straight from the runtime view: the send copies it before returning (or keeps a copy). */
    d.flags |= MOME_MF_DATA;
    d.payload = s->rt + (m->page << mome_g.page_shift);
    d.len = (uint32_t)mome_g.page_size;
    mome_send((int)m->node, &d);
    if (m->node != (uint32_t)mome_g.rank)
        MOME_STAT_INC(pages_sent);
    if (rw)
        drop(s, m->page);
}

static void on_inv(const mome_msg_t *m)
{
    mome_seg_t *s = holder_seg(m);
    if (s && s->pages[m->page].access != MOME_ACC_NONE)
        drop(s, m->page);
    MOME_STAT_INC(invalidations_received);
    mome_msg_t ack = {.type = MOME_MSG_INV_ACK, .seg = m->seg, .page = m->page};
    mome_send((int)m->node, &ack);
}

void mome_cons_msg(const mome_msg_t *m)
{
    switch (m->type) {
    case MOME_MSG_GRANT: on_grant(m); break;
    case MOME_MSG_DATA: on_data(m); break;
    case MOME_MSG_INV_ACK: on_inv_ack(m); break;
    case MOME_MSG_FWD_READ: serve(m, 0); break;
    case MOME_MSG_FWD_WRITE: serve(m, 1); break;
    case MOME_MSG_INV: on_inv(m); break;
    default: break;
    }
}

/* Check that [p, p+len) is wholly inside Mome mappings; returns its first page address. */
static char *check_range(mome_cmd_t *c, const char *call, char **end)
{
    char *a = (char *)c->p;
    size_t len = (size_t)c->a[0], ps = mome_g.page_size;

    if (len == 0 || (uintptr_t)a + len < (uintptr_t)a) {
        mome_cmd_fail(c, EINVAL, "%s: empty or wrapping range", call);
        return NULL;
    }
    *end = a + len;
    a = (char *)((uintptr_t)a & ~(uintptr_t)(ps - 1));
    for (char *p = a; p < *end; p += ps) {
        if (!mome_seg_view_find(p)) {
            mome_cmd_fail(c, EINVAL, "%s: %p is not in a Mome mapping", call, (void *)p);
            return NULL;
        }
    }
    return a;
}

void mome_cons_cmd_sync(mome_cmd_t *c)
{
    char *end;
    if (!check_range(c, "MomeSyncMem", &end))
        return;
    /* STRONG pages are always current: nothing to refresh. */
    mome_cmd_complete(c, 0);
}

void mome_cons_cmd_model(mome_cmd_t *c)
{
    char *a, *end;
    size_t ps = mome_g.page_size;
    int model = (int)c->a[1];

    if (model != MOME_STRONG && model != MOME_RELEASE && model != MOME_WEAK) {
        mome_cmd_fail(c, EINVAL, "MomeConsistency: unknown model %d (MOME_STRONG, MOME_RELEASE "
                                 "or MOME_WEAK)", model);
        return;
    }
    if (!(a = check_range(c, "MomeConsistency", &end)))
        return;
    if (model != MOME_STRONG) {
        mome_cmd_fail(c, ENOTSUP, "MomeConsistency: only MOME_STRONG is available in this "
                                  "release");
        return;
    }
    for (char *p = a; p < end; p += ps) {
        mome_view_t *v = mome_seg_view_find(p);
        uint64_t page = (v->off + (uint64_t)(p - v->addr)) >> mome_g.page_shift;
        v->seg->pages[page].model = (uint8_t)model;
    }
    mome_cmd_complete(c, 0);
}
