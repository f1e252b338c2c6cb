/*
 * pageout.c - the page budget's coherence side: which pages leave memory and how, where their
 * bytes go (another node's memory, or a swap file), and serving other nodes' pages.
 *
 * A page-out or page-in waits for its answer with the message table held (net/msg.h): only the
 * paging messages run meanwhile, so the protocol's state never changes under the handler that
 * waits. Two nodes waiting for each other both serve each other's paging messages, and a node
 * that serves never waits, so these waits always end (or the launcher says a node was lost). A
 * node waiting for momed serves them too (net/server.c srv_wait).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "coherence/copy.h"
#include "coherence/pageout.h"
#include "coherence/proto.h"
#include "coherence/seg.h"
#include "memory/store.h"
#include "mome.h"

/* A node that does not answer about a page's bytes for this long is taken for lost; an emulated
 * interconnect (MOME_EMU_*) adds the time its links take to carry WAIT_EMU_PAGES pages (the page
 * waits behind what other nodes send). */
#define WAIT_NS (30ull * 1000000000ull)
#define WAIT_EMU_PAGES 64
#define SPIN_NS 50000ull   /* poll for an answer this long before sleeping for it */
#define WAIT_SLICE_MS 10   /* then sleep at most this long between checks of WAIT_NS */

/* Where this node's paged-out pages are. */
enum { AT_ZERO = -1, AT_SWAP = -2 };
typedef struct placed {
    mome_hnode_t h; /* k1 = segment id, k2 = page */
    int32_t at;     /* a node, AT_ZERO or AT_SWAP */
    uint64_t slot;  /* AT_SWAP: the page's slot in the swap file */
} placed_t;

/* Pages kept here for other nodes. */
typedef struct kept {
    mome_hnode_t h; /* k1 = segment id, k2 = page; owner in the record */
    uint32_t owner;
    uint8_t bytes[];
} kept_t;

static mome_htab_t placed, kept;
static uint64_t budget;
static int disk_only; /* MOME_PAGEOUT=disk */
static int next_node; /* where the next page-out goes first: the last node that had room */
/* A node that refused a page-out (no room) is not asked again for its backoff's number of
 * page-outs (doubling while it keeps refusing): each refusal costs a page sent for nothing. */
#define BACKOFF_MAX 4096
static uint32_t *skip, *backoff;
static char swap_dir[1024];
static int swap_fd = -1;
static uint64_t swap_slots;                /* slots in the file */
static uint64_t *free_slots, nfree, cfree; /* slots to reuse */

/* The answer a wait is for. */
static struct {
    uint64_t seg, page;
    int done, status;
    uint8_t *dst; /* PAGEIN_DATA: where the bytes go */
    int node;     /* who is to answer, since when, about what (mome_pageout_describe) */
    uint64_t t0;
    const char *what;
} answer = {.done = 1}; /* done: no wait is on (an answer now is unexpected) */

static void wait_answer(int node, const char *what, const mome_store_t *st, uint64_t page)
{
    uint64_t bound = WAIT_NS + WAIT_EMU_PAGES * mome_msg_emu_cost(mome_coh.page_size);
    uint64_t until = mome_now_ns() + bound;
    uint64_t spin = mome_now_ns() + SPIN_NS;
    answer.node = node;
    answer.what = what;
    answer.t0 = mome_now_ns();
    mome_msg_hold();
    while (!answer.done) {
        /* Poll while the answer may be close, then sleep until something arrives. */
        if (mome_msg_poll() == 0 && mome_now_ns() > spin)
            mome_msg_wait(WAIT_SLICE_MS);
        if (mome_now_ns() > until)
            mome_fatal("node %d did not answer %s of page %llu of segment '%s' (%#llx) for %llu s; "
                       "stopping",
                       node, what, (unsigned long long)page, mome_seg_name_of(st->id),
                       (unsigned long long)st->id, bound / 1000000000ull);
    }
    mome_msg_unhold();
}

size_t mome_pageout_describe(char *buf, size_t len)
{
    int n;
    if (answer.done || !len)
        return 0;
    n = snprintf(buf, len, "node %d's answer to %s of page %llu of segment '%s' for %.1f s",
                 answer.node, answer.what, (unsigned long long)answer.page,
                 mome_seg_name_of(answer.seg), (double)(mome_now_ns() - answer.t0) / 1e9);
    return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static void expect(const mome_store_t *st, uint64_t page, uint8_t *dst)
{
    if (!answer.done) /* one answer is awaited at a time: a second would take the first's */
        mome_fatal("a page-out or page-in of page %llu of segment '%s' (%#llx) started while one "
                   "of page %llu waits for its answer; stopping",
                   (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id,
                   (unsigned long long)answer.page);
    answer.seg = st->id;
    answer.page = page;
    answer.done = 0;
    answer.dst = dst;
}

/* ---- the swap file ---- */

static int swap_open(void)
{
    char path[1100];
    if (swap_fd >= 0)
        return 0;
    snprintf(path, sizeof(path), "%s/mome-swap.XXXXXX", swap_dir);
    swap_fd = mkostemp(path, O_CLOEXEC);
    if (swap_fd < 0)
        return -errno;
    unlink(path); /* it goes with the process, whatever happens */
    return 0;
}

static void swap_free(uint64_t slot)
{
    if (nfree == cfree) {
        uint64_t nc = cfree ? cfree * 2 : 256, *n = mome_realloc(free_slots, nc * sizeof(*n));
        if (!n)
            return; /* the slot is lost to reuse, nothing else */
        free_slots = n;
        cfree = nc;
    }
    free_slots[nfree++] = slot;
}

static int swap_write(const void *bytes, uint64_t *slot)
{
    size_t ps = mome_coh.page_size;
    int rc = swap_open();
    if (rc < 0)
        return rc;
    *slot = nfree ? free_slots[--nfree] : swap_slots++;
    for (size_t done = 0; done < ps;) {
        ssize_t w =
            pwrite(swap_fd, (const char *)bytes + done, ps - done, (off_t)(*slot * ps + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = w < 0 ? -errno : -ENOSPC;
            swap_free(*slot);
            return rc;
        }
        done += (size_t)w;
    }
    return 0;
}

/* ---- this node's pages ---- */

static int pager_save(mome_store_t *st, uint64_t page, const void *bytes, int zero)
{
    placed_t *p;
    int rc;

    if (mome_htab_get(&placed, st->id, page))
        mome_fatal("page %llu of segment '%s' (%#llx) is paged out again while its bytes are "
                   "kept elsewhere: the page store is inconsistent; stopping",
                   (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id);
    p = mome_calloc(1, sizeof(*p));
    if (!p)
        mome_fatal("out of memory paging out page %llu of segment '%s' (%#llx); stopping",
                   (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id);
    p->h.k1 = st->id;
    p->h.k2 = page;
    if (zero) {
        p->at = AT_ZERO; /* a flag, not 4 KiB of zeros */
        MOME_STAT_ZERO_SKIPPED();
        MOME_STAT_INC(page_outs);
        MOME_TR(MOME_TR_PAGE_OUT, st->id, page, -1, 0, MOME_TRF_ZERO);
        goto placed;
    }
    for (int k = 0; k < mome_coh.nnodes && !disk_only; k++) {
        int n = (next_node + k) % mome_coh.nnodes;
        if (n == mome_coh.self)
            continue;
        if (skip[n]) {
            skip[n]--;
            continue;
        }
        mome_pgout_t o = {.seg = st->id, .page = page};
        expect(st, page, NULL);
        mome_send(n, MOME_MSG_PAGEOUT, 0, &o, bytes, (uint32_t)mome_coh.page_size);
        wait_answer(n, "a page-out", st, page);
        if (answer.status != 0) {
            backoff[n] =
                backoff[n] ? (backoff[n] * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff[n] * 2) : 16;
            skip[n] = backoff[n];
        } else {
            backoff[n] = 0;
            next_node = n;
            p->at = n;
            MOME_STAT_PAGE_OUT_NODE();
            MOME_TR(MOME_TR_PAGE_OUT, st->id, page, n, 0, 0);
            goto placed;
        }
    }
    /* No node has room (or MOME_PAGEOUT=disk): to disk. */
    rc = swap_write(bytes, &p->slot);
    if (rc < 0) {
        free(p);
        mome_fatal("%s page %llu of segment '%s' (%#llx) cannot be written to the swap file in "
                   "MOME_SWAP_DIR=%s: %s; stopping",
                   disk_only             ? "MOME_PAGEOUT=disk, and"
                   : mome_coh.nnodes > 1 ? "no other node has room, and"
                                         : "a one-node job, and",
                   (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id,
                   swap_dir, strerror(-rc));
    }
    p->at = AT_SWAP;
    MOME_STAT_PAGE_OUT_DISK(mome_coh.page_size);
    MOME_TR(MOME_TR_PAGE_OUT, st->id, page, -1, 0, MOME_TRF_DISK);
placed:
    mome_htab_put(&placed, &p->h);
    return 0;
}

static void pager_load(mome_store_t *st, uint64_t page, void *dst)
{
    placed_t *p = (placed_t *)mome_htab_get(&placed, st->id, page);
    size_t ps = mome_coh.page_size;

    if (!p)
        mome_fatal("page %llu of segment '%s' (%#llx) was paged out but nobody keeps it; stopping",
                   (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id);
    mome_htab_del(&placed, &p->h);
    if (p->at == AT_ZERO) {
        memset(dst, 0, ps);
    } else if (p->at == AT_SWAP) {
        for (size_t done = 0; done < ps;) {
            ssize_t r = pread(swap_fd, (char *)dst + done, ps - done, (off_t)(p->slot * ps + done));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                mome_fatal(
                    "cannot read page %llu of segment '%s' (%#llx) back from the swap file: %s; "
                    "stopping",
                    (unsigned long long)page, mome_seg_name_of(st->id), (unsigned long long)st->id,
                    r < 0 ? strerror(errno) : "short read");
            done += (size_t)r;
        }
        swap_free(p->slot);
    } else {
        mome_pgout_t o = {.seg = st->id, .page = page};
        expect(st, page, dst);
        mome_send(p->at, MOME_MSG_PAGEIN, 0, &o, NULL, 0);
        wait_answer(p->at, "a page-in", st, page);
    }
    MOME_TR(MOME_TR_PAGE_IN, st->id, page, p->at >= 0 ? p->at : -1, 0,
            p->at == AT_ZERO   ? MOME_TRF_ZERO
            : p->at == AT_SWAP ? MOME_TRF_DISK
                               : 0);
    free(p);
    MOME_STAT_PAGE_IN();
}

static void pager_discard(mome_store_t *st, uint64_t page)
{
    placed_t *p = (placed_t *)mome_htab_get(&placed, st->id, page);
    if (!p)
        return;
    mome_htab_del(&placed, &p->h);
    if (p->at == AT_SWAP) {
        swap_free(p->slot);
    } else if (p->at >= 0) {
        mome_pgout_t o = {.seg = st->id, .page = page};
        mome_send(p->at, MOME_MSG_PAGE_FREE, 0, &o, NULL, 0);
    }
    free(p);
}

/*
 * The policy chose this page to leave memory. A copy nothing depends on goes: a stale cached page
 * (no access). Any other, a read copy too (below), keeps its state and its bytes go elsewhere. A
 * page in a transaction stays.
 */
static int pager_evict(mome_store_t *st, uint64_t page)
{
    mome_seg_t *s = mome_seg_page(st->id, page);
    mome_page_t *pg;

    if (!s)
        return -EBUSY;
    pg = mome_seg_pg(s, page);
    if (pg->flags & MOME_PG_BUSY)
        return -EBUSY;
    if (pg->access == MOME_ACC_NONE) {
        mome_copy_unmap(s, page);
        mome_store_drop(st, page);
        return 0;
    }
    /* A read copy is paged out like any other, even a clean RELEASE copy of a master another
     * node holds. Such copies used to be dropped silently: this node stayed in the page's
     * copyset, and its manager, when it was this node (or became it), served the next reader
     * from the copy gone ("a FWD_READ ... which this node does not hold"). */
    mome_copy_unmap(s, page); /* the next access faults and brings it back */
    return mome_store_page_out(st, page);
}

static const mome_store_pager_t pager = {
    .evict = pager_evict,
    .save = pager_save,
    .load = pager_load,
    .discard = pager_discard,
};

/* ---- other nodes' pages ---- */

static void on_pageout(const mome_msg_t *m, const void *body)
{
    const mome_pgout_t *o = body;
    mome_pgout_t ack = {.seg = o->seg, .page = o->page, .status = -ENOSPC};
    kept_t *k = (kept_t *)mome_htab_get(&kept, o->seg, o->page ^ ((uint64_t)m->src << 48));

    if (k)
        /* Kept, the second copy would shadow the first: one given back, the other left here for
         * good with its share of the budget (helper-119). */
        mome_fatal("node %u pages out page %llu of segment '%s' (%#llx) again, without taking "
                   "it back first: a repeated message; stopping",
                   m->src, (unsigned long long)o->page, mome_seg_name_of(o->seg),
                   (unsigned long long)o->seg);
    if (mome_store_can_keep()) {
        k = mome_malloc(sizeof(*k) + mome_coh.page_size);
        if (k) {
            k->h.k1 = o->seg;
            k->h.k2 = o->page ^ ((uint64_t)m->src << 48); /* pages of distinct owners apart */
            k->owner = m->src;
            memcpy(k->bytes, m->payload, mome_coh.page_size);
            mome_htab_put(&kept, &k->h);
            mome_store_extra(1);
            ack.status = 0;
        }
    }
    mome_send((int)m->src, MOME_MSG_PAGEOUT_ACK, 0, &ack, NULL, 0);
}

static kept_t *take_kept(const mome_msg_t *m, const mome_pgout_t *o)
{
    kept_t *k = (kept_t *)mome_htab_get(&kept, o->seg, o->page ^ ((uint64_t)m->src << 48));
    if (k && k->owner != m->src)
        k = NULL; /* (PG_PAGE_MAX keeps owners' keys apart: cannot happen) */
    if (k) {
        mome_htab_del(&kept, &k->h);
        mome_store_extra(-1);
    }
    return k;
}

static void on_pagein(const mome_msg_t *m, const void *body)
{
    const mome_pgout_t *o = body;
    kept_t *k = take_kept(m, o);
    if (!k)
        mome_fatal(
            "node %u asks for page %llu of segment '%s' (%#llx), which it did not leave here: "
            "its content would be lost; stopping",
            m->src, (unsigned long long)o->page, mome_seg_name_of(o->seg),
            (unsigned long long)o->seg);
    mome_send((int)m->src, MOME_MSG_PAGEIN_DATA, 0, o, k->bytes, (uint32_t)mome_coh.page_size);
    free(k);
}

static void on_page_free(const mome_msg_t *m, const void *body)
{
    const mome_pgout_t *o = body;
    kept_t *k = take_kept(m, o);
    if (!k) /* the page's owner and this node disagree on where its content is */
        mome_fatal("node %u gives back page %llu of segment '%s' (%#llx), which it did not leave "
                   "here; stopping",
                   m->src, (unsigned long long)o->page, mome_seg_name_of(o->seg),
                   (unsigned long long)o->seg);
    free(k);
}

static void on_answer(const mome_msg_t *m, const void *body)
{
    const mome_pgout_t *o = body;
    /* A page-in (dst set) is answered by PAGEIN_DATA only, a page-out by PAGEOUT_ACK only. */
    if (answer.done || o->seg != answer.seg || o->page != answer.page ||
        (int)m->src != answer.node || (m->type == MOME_MSG_PAGEIN_DATA) != (answer.dst != NULL))
        mome_fatal(
            "node %u answered about page %llu of segment '%s' (%#llx), which this node is not "
            "waiting for; stopping",
            m->src, (unsigned long long)o->page, mome_seg_name_of(o->seg),
            (unsigned long long)o->seg);
    if (m->type == MOME_MSG_PAGEIN_DATA)
        memcpy(answer.dst, m->payload, mome_coh.page_size);
    answer.status = o->status;
    answer.done = 1;
}

static const char *check_page(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    return m->len != ctx->page_size ? "payload (a page)" : NULL;
}

/* Pages of a segment number below 2^44 (MomeSegOpen's 2^56 bytes); the keys of pages kept here
 * (take_kept) keep owners apart from bit 48 on. */
#define PG_PAGE_MAX ((1ull << 48) - 1)
static const mome_field_t pg_fields[] = {MOME_FIELD(mome_pgout_t, seg, MOME_FK_RAW, 0),
                                         MOME_FIELD(mome_pgout_t, page, MOME_FK_MAX, PG_PAGE_MAX)};
static const mome_field_t ack_fields[] = {MOME_FIELD(mome_pgout_t, seg, MOME_FK_RAW, 0),
                                          MOME_FIELD(mome_pgout_t, page, MOME_FK_MAX, PG_PAGE_MAX),
                                          MOME_FIELD(mome_pgout_t, status, MOME_FK_ERRNO, 0)};

static const mome_msg_def_t pageout_msgs[] = {
    {.type = MOME_MSG_PAGEOUT,
     .wire = {"PAGEOUT", pg_fields, 2, 0, 0, MOME_LEN_PAGE},
     .body_size = sizeof(mome_pgout_t),
     .emulated = MOME_MSG_EMU_ALWAYS,
     .service = 1,
     .validate = check_page,
     .handler = on_pageout},
    {.type = MOME_MSG_PAGEOUT_ACK,
     .wire = {"PAGEOUT_ACK", ack_fields, 3, 0, 0, 0},
     .body_size = sizeof(mome_pgout_t),
     .service = 1,
     .handler = on_answer},
    {.type = MOME_MSG_PAGEIN,
     .wire = {"PAGEIN", pg_fields, 2, 0, 0, 0},
     .body_size = sizeof(mome_pgout_t),
     .service = 1,
     .handler = on_pagein},
    {.type = MOME_MSG_PAGEIN_DATA,
     .wire = {"PAGEIN_DATA", pg_fields, 2, 0, 0, MOME_LEN_PAGE},
     .body_size = sizeof(mome_pgout_t),
     .emulated = MOME_MSG_EMU_ALWAYS,
     .service = 1,
     .validate = check_page,
     .handler = on_answer},
    {.type = MOME_MSG_PAGE_FREE,
     .wire = {"PAGE_FREE", pg_fields, 2, 0, 0, 0},
     .body_size = sizeof(mome_pgout_t),
     .service = 1,
     .handler = on_page_free},
};

static void swap_dir_message(char *err, size_t errlen, const char *dir, int rc)
{
    snprintf(err, errlen,
             "MOME_SWAP_DIR=%s: cannot create the swap file there (%s); "
             "expected a writable directory: with MOME_LOCAL_PAGES, pages no "
             "node has room for are written there",
             dir, strerror(-rc));
}

int mome_pageout_check(const mome_pageout_config_t *cfg, char *err, size_t errlen)
{
    const char *dir = cfg->swap_dir ? cfg->swap_dir : "/var/tmp";
    char path[1100];
    if (!cfg->pages)
        return 0;
    /* A file made as the swap file is (swap_open), gone at once. */
    snprintf(path, sizeof(path), "%s/mome-swap.XXXXXX", dir);
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        swap_dir_message(err, errlen, dir, -errno);
        return -EINVAL; /* a setting to change, as a bad value is */
    }
    unlink(path);
    close(fd);
    return 0;
}

int mome_pageout_init(const mome_pageout_config_t *cfg, char *err, size_t errlen)
{
    answer.done = 1;
    answer.dst = NULL;
    budget = cfg->pages;
    disk_only = cfg->disk_only;
    next_node = (mome_coh.self + 1) % mome_coh.nnodes;
    snprintf(swap_dir, sizeof(swap_dir), "%s", cfg->swap_dir ? cfg->swap_dir : "/var/tmp");
    skip = mome_calloc((size_t)mome_coh.nnodes, sizeof(*skip));
    backoff = mome_calloc((size_t)mome_coh.nnodes, sizeof(*backoff));
    if (!skip || !backoff || mome_htab_init(&placed, 1024) < 0 || mome_htab_init(&kept, 256) < 0) {
        snprintf(err, errlen, "out of memory setting up the page budget");
        return -ENOMEM;
    }
    if (budget) {
        /* The configuration checked the values (mome_config_load), and MomeInit the swap
         * directory (mome_pageout_check) before the node joined the job. */
        uint64_t high = (uint64_t)((double)budget * cfg->high);
        uint64_t low = (uint64_t)((double)budget * cfg->low);
        /* The swap file now: a directory that cannot hold it is a mistake to report at start,
         * not when the first page has nowhere else to go (said before the node joined the job
         * unless the directory changed since). */
        int rc = swap_open();
        if (rc < 0) {
            swap_dir_message(err, errlen, swap_dir, rc);
            return rc;
        }
        mome_store_budget(budget, high, low < high ? low : high, &pager);
    }
    return mome_msg_register(pageout_msgs, sizeof(pageout_msgs) / sizeof(pageout_msgs[0]));
}

void mome_pageout_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&placed, h, tmp) free(h);
    mome_htab_foreach(&kept, h, tmp) free(h);
    mome_htab_free(&placed);
    mome_htab_free(&kept);
    free(free_slots);
    free(skip);
    free(backoff);
    free_slots = NULL;
    skip = backoff = NULL;
    nfree = cfree = swap_slots = 0;
    if (swap_fd >= 0)
        close(swap_fd);
    swap_fd = -1;
    mome_store_budget(0, 0, 0, NULL);
}
