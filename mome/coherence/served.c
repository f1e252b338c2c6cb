/*
 * served.c - pages of segments momed serves: fetching a page for the job, giving it back when
 * momed recalls it, and returning them all (a checkpoint, the end of the job). The job holds a
 * page exclusively, as a whole: momed is the directory between jobs, this job's directory inside
 * it, and a recall is a STRONG write request of the node momed asked (it collects the latest
 * content and takes every other copy) that resets the entry when it completes (DONE_RESET).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/bits.h"
#include "base/hash.h"
#include "base/log.h"
#include "coherence/copy.h"
#include "coherence/page.h"
#include "coherence/proto.h"
#include "coherence/served.h"
#include "net/server.h"

/* What this node holds from momed, per served segment: pages fetched and not given back,
 * recalls waiting for a transaction in flight to end, and pages this node is giving back of its
 * own accord (mome_served_return: their content goes in a batch, mome_served_flush). */
typedef struct held {
    mome_hnode_t h; /* k1 = segment id */
    uint64_t npages, count;
    uint64_t *held, *pending, *returning;
} held_t;

static mome_htab_t segs;
static const mome_served_req_t *req;

void mome_served_set_req(const mome_served_req_t *r)
{
    req = r;
}

static held_t *held_of(mome_seg_t *s, int create)
{
    held_t *h = (held_t *)mome_htab_get(&segs, s->id, 0);
    if (h || !create)
        return h;
    h = mome_calloc(1, sizeof(*h));
    size_t words = (size_t)(s->npages + 63) / 64;
    if (h) {
        h->held = mome_calloc(words, 8);
        h->pending = mome_calloc(words, 8);
        h->returning = mome_calloc(words, 8);
    }
    if (!h || !h->held || !h->pending || !h->returning)
        mome_fatal("out of memory recording the pages of segment '%s' held from momed; stopping",
                   s->name);
    h->h.k1 = s->id;
    h->npages = s->npages;
    mome_htab_put(&segs, &h->h);
    return h;
}

void mome_served_fetch(mome_seg_t *s, uint64_t page)
{
    mome_srvpage_t g = {.seg = s->id, .page = page};
    mome_debug("served", "fetching page %llu of segment '%s' from momed", (unsigned long long)page,
               s->name);
    mome_send(MOME_TO_SERVER, MOME_SRV_GET, 0, &g, NULL, 0);
}

void mome_served_recalled(mome_seg_t *s, uint64_t page, const void *content)
{
    held_t *h = held_of(s, 0);
    if (!h || !mome_bit(h->held, page))
        mome_fatal("a recall of page %llu of segment '%s' completed on a page this node does not "
                   "hold from momed; stopping",
                   (unsigned long long)page, s->name);
    int returned = mome_bit(h->returning, page);
    mome_bit_clear(h->held, page);
    /* A recall of momed's that crossed this one is answered too. */
    mome_bit_clear(h->pending, page);
    mome_bit_clear(h->returning, page);
    h->count--;
    if (returned) { /* one of many: in a batch, many pages per message */
        mome_srv_put(s->id, page, content, (uint32_t)mome_coh.page_size);
        return;
    }
    /* momed asked for it (another job waits): at once, after any batch (mome_srv_tx) */
    mome_srvpage_t p = {.seg = s->id, .page = page};
    mome_send(MOME_TO_SERVER, MOME_SRV_PUT, 0, &p, content, (uint32_t)mome_coh.page_size);
}

void mome_served_flush(void)
{
    mome_srv_flush();
}

static void recall(mome_seg_t *s, uint64_t page, mome_op_t *op)
{
    req->recall(s, page, op);
}

void mome_served_kick(mome_seg_t *s, uint64_t page)
{
    held_t *h = held_of(s, 0);
    if (!h || !mome_bit(h->pending, page) || (mome_seg_pg(s, page)->flags & MOME_PG_BUSY))
        return;
    mome_bit_clear(h->pending, page);
    recall(s, page, NULL);
}

/* Will mome_served_return start a recall of this page now? */
static int returnable(mome_seg_t *s, const held_t *h, uint64_t page)
{
    return mome_bit(h->held, page) && !mome_bit(h->pending, page) &&
           !(mome_seg_pg(s, page)->flags & MOME_PG_BUSY);
}

uint64_t mome_served_return(mome_seg_t *s, mome_op_t *op, uint64_t *busy)
{
    held_t *h = held_of(s, 0);
    uint64_t n = 0, first = 0, run = 0;
    *busy = 0;
    if (!h)
        return 0;
    for (uint64_t page = 0; page <= h->npages; page++) {
        if (page < h->npages && returnable(s, h, page)) {
            if (!run++)
                first = page;
            continue;
        }
        /* Each run leaves every view at once (a fault maps a page again while this node still
         * holds it): one TLB flush per run, where each recall's own unmap (mome_copy_drop) would
         * flush once per page, tens of microseconds each on a virtual machine, most of a
         * checkpoint's time. */
        if (run)
            mome_copy_unmap_run(s, first, run);
        run = 0;
        if (page < h->npages && !(page % 64) && !h->held[page / 64])
            page += 63; /* a word of pages not held */
    }
    for (uint64_t w = 0; w < (h->npages + 63) / 64; w++) {
        uint64_t bits = h->held[w] & ~h->pending[w];
        while (bits) {
            uint64_t page = w * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            if (mome_seg_pg(s, page)->flags & MOME_PG_BUSY) {
                (*busy)++;
                continue;
            }
            mome_bit_set(h->returning, page);
            recall(s, page, op);
            n++;
        }
    }
    for (uint64_t w = 0; w < (h->npages + 63) / 64; w++)
        *busy += (uint64_t)__builtin_popcountll(h->pending[w]);
    return n;
}

uint64_t mome_served_return_all(mome_op_t *op, uint64_t *busy)
{
    mome_hnode_t *n, *tmp;
    uint64_t started = 0, b;
    *busy = 0;
    mome_htab_foreach(&segs, n, tmp)
    {
        mome_seg_t *s = mome_seg_find(n->k1);
        if (!s)
            continue;
        started += mome_served_return(s, op, &b);
        *busy += b;
    }
    return started;
}

uint64_t mome_served_held(mome_seg_t *s)
{
    held_t *h = held_of(s, 0);
    return h ? h->count : 0;
}

/* ---- from momed ---- */

static mome_seg_t *seg_of(const mome_msg_t *m, const mome_srvpage_t *p)
{
    mome_seg_t *s = mome_seg_page(p->seg, p->page);
    if (!s || !mome_seg_is_served(p->seg))
        mome_fatal("%s sent %s for page %llu of segment '%s' (%#llx), which this node does not "
                   "have from it: momed and this job disagree; stopping",
                   mome_srv_where(), mome_msg_name(m->type), (unsigned long long)p->page,
                   mome_seg_name_of(p->seg), (unsigned long long)p->seg);
    return s;
}

static void on_page(const mome_msg_t *m, const void *body)
{
    const mome_srvpage_t *p = body;
    mome_seg_t *s = seg_of(m, p);
    held_t *h = held_of(s, 1);
    if (mome_bit(h->held, p->page) || req->data(s, p->page, m->payload) < 0)
        mome_fatal("%s sent page %llu of segment '%s', which this node did not ask for: momed "
                   "and this job disagree; stopping",
                   mome_srv_where(), (unsigned long long)p->page, s->name);
    mome_bit_set(h->held, p->page);
    h->count++;
}

static void on_recall(const mome_msg_t *m, const void *body)
{
    const mome_srvpage_t *p = body;
    mome_seg_t *s = seg_of(m, p);
    held_t *h = held_of(s, 0);
    mome_txn_t *t = mome_txn_find(s->id, p->page);
    /* A recall that crossed this node's own return of the page (a checkpoint, the end of the
     * job): momed gets the page from that return. */
    if (!h || !mome_bit(h->held, p->page) || mome_bit(h->pending, p->page) || (t && t->recall))
        return;
    if (mome_seg_pg(s, p->page)->flags & MOME_PG_BUSY) {
        mome_bit_set(h->pending, p->page); /* after the transaction in flight */
        return;
    }
    recall(s, p->page, NULL);
}

static const char *check_page(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    return m->len != ctx->page_size ? "payload (a page)" : NULL;
}

static mome_msg_def_t served_msgs[2];

int mome_served_init(void)
{
    served_msgs[0] = (mome_msg_def_t){.type = MOME_SRV_PAGE,
                                      .wire = *mome_srv_types[MOME_SRV_PAGE],
                                      .body_size = sizeof(mome_srvpage_t),
                                      .validate = check_page,
                                      .handler = on_page};
    served_msgs[1] = (mome_msg_def_t){.type = MOME_SRV_RECALL,
                                      .wire = *mome_srv_types[MOME_SRV_RECALL],
                                      .body_size = sizeof(mome_srvpage_t),
                                      .handler = on_recall};
    if (mome_htab_init(&segs, 16) < 0)
        return -ENOMEM;
    return mome_msg_register(served_msgs, 2);
}

void mome_served_fini(void)
{
    mome_hnode_t *n, *tmp;
    mome_htab_foreach(&segs, n, tmp)
    {
        held_t *h = (held_t *)n;
        free(h->held);
        free(h->pending);
        free(h->returning);
        free(h);
    }
    mome_htab_free(&segs);
}
