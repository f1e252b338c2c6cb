/*
 * store.c - the page store: a segment's region of Mome memory, the residency of its pages and the
 * eviction policy's signals. Page bytes move through memory.c; the backend says what a page holds
 * before this job first had it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/trace.h"
#include "memory/evict.h"
#include "memory/memory.h"
#include "memory/store.h"

static size_t pgsz, os_page;
static unsigned pgshift;
static uint64_t resident_total;
static const mome_evict_ops_t *policy; /* NULL: no budget, nothing to order */
static void *policy_state;
static uint64_t budget, high_mark, low_mark; /* pages; budget 0: none */
static int64_t extra_pages;                  /* kept for other nodes by the pager */

static uint64_t in_memory(void);
static void gauge(void);
static const mome_store_pager_t *pager;

int mome_store_init(size_t page_size, const char *policy_name)
{
    pgsz = page_size;
    pgshift = (unsigned)__builtin_ctzl(page_size);
    os_page = (size_t)sysconf(_SC_PAGESIZE);
    resident_total = 0;
    policy = NULL;
    mome_stats_set_evict(NULL);
    if (!policy_name || !*policy_name)
        return 0;
    policy = mome_evict_find(policy_name);
    if (!policy)
        return -EINVAL;
    if (policy->init(&policy_state) < 0) {
        policy = NULL;
        return -ENOMEM;
    }
    mome_stats_set_evict(policy->name);
    return 0;
}

void mome_store_fini(void)
{
    if (policy)
        policy->fini(policy_state);
    policy = NULL;
    policy_state = NULL;
}

mome_store_t *mome_store_open(const mome_store_ops_t *ops, uint64_t id, uint64_t size, int *err)
{
    mome_store_t *st = mome_calloc(1, sizeof(*st));
    size_t words;

    *err = -ENOMEM;
    if (!st)
        return NULL;
    st->ops = ops;
    st->id = id;
    st->name = "";
    st->size = (size + pgsz - 1) & ~(uint64_t)(pgsz - 1);
    st->npages = st->size >> pgshift;
    words = (size_t)((st->npages + 63) / 64);
    /* Zero until touched: the bitmaps' resident size follows the pages used. present and viewed
     * share one mapping. */
    st->present = mmap(NULL, 2 * words * 8, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (st->present == MAP_FAILED)
        goto err_free;
    st->viewed = st->present + words;
    if (budget) {
        st->paged = mmap(NULL, words * 8, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (st->paged == MAP_FAILED) {
            st->paged = NULL;
            goto err_unmap;
        }
    }
    *err = mome_mem->region_alloc(st->size, &st->base);
    if (*err < 0)
        goto err_unmap;
    st->rt = (uint8_t *)mome_mem->runtime_map(st->base, st->size);
    if (!st->rt) {
        *err = -ENOMEM;
        goto err_release;
    }
    return st;

err_release:
    mome_mem->region_release(st->base, st->size);
err_unmap:
    if (st->paged)
        munmap(st->paged, words * 8);
    munmap(st->present, 2 * words * 8);
err_free:
    free(st);
    return NULL;
}

void mome_store_close(mome_store_t *st)
{
    if (!st)
        return;
    if (policy)
        policy->forget(policy_state, st);
    resident_total -= st->resident;
    gauge();
    if (st->ops && st->ops->close)
        st->ops->close(st);
    /* Nothing maps the region after the runtime view: the segment's views went before (a segment
     * destroyed job-wide has none on this node, and the node's teardown unmaps them first), and
     * its offsets may go to the next segment opened. */
    mome_mem->runtime_unmap((char *)st->rt, st->size);
    mome_mem->region_release(st->base, st->size);
    if (st->paged) {
        /* What the pager keeps of it goes too (a pager gone first took its records along). */
        for (uint64_t w = 0; pager && w < (st->npages + 63) / 64; w++)
            for (uint64_t b = st->paged[w]; b; b &= b - 1)
                pager->discard(st, w * 64 + (uint64_t)__builtin_ctzll(b));
        munmap(st->paged, (size_t)((st->npages + 63) / 64) * 8);
    }
    munmap(st->present, 2 * (size_t)((st->npages + 63) / 64) * 8);
    free(st);
}

/* The page gets new content: what the pager kept of the old one is stale. */
void mome_store_unpage(mome_store_t *st, uint64_t page)
{
    if (mome_store_is_paged(st, page)) {
        mome_bit_clear(st->paged, page);
        if (pager)
            pager->discard(st, page);
    }
}

/* The page took memory (room was made before, where the budget asks for it). */
static void entered(mome_store_t *st, uint64_t page)
{
    if (mome_store_has(st, page))
        return;
    mome_bit_set(st->present, page);
    st->resident++;
    resident_total++;
    gauge();
    if (policy)
        policy->insert(policy_state, st, page);
}

int mome_store_load(mome_store_t *st, uint64_t page, void *dst)
{
    return st->ops->load ? st->ops->load(st, page, dst) : 0;
}

/*
 * Pages copied out or filled before in the page's fault-around window (the 64 KiB a fault through
 * the runtime view maps at once, of resident pages; within one bitmap word).
 */
#define AROUND_BYTES 65536u
static int viewed_around(const mome_store_t *st, uint64_t page)
{
    /* n: a power of two, 16 at most (Mome pages are 4 KiB or more) */
    unsigned n = pgsz >= AROUND_BYTES ? 1 : (unsigned)(AROUND_BYTES >> pgshift);
    uint64_t first = page & ~(uint64_t)(n - 1);
    return __builtin_popcountll((st->viewed[first / 64] >> (first % 64)) & ((1ull << n) - 1));
}

void mome_store_copy_out(mome_store_t *st, uint64_t page, void *dst)
{
    mome_store_page_in(st, page); /* if it was paged out: brought back first */
    /*
     * A page that came into memory through a user's view (UFFDIO_COPY, a write to a new page) has
     * no runtime-view entry: a copy through the runtime view would take a minor fault (5-8 us on a
     * paravirtualized guest), and on a large segment touched sparsely a new page of page tables
     * too. A page sent once, away from others sent (a sparse pattern), is read through the file
     * (one system call, 1-2 us there). A page sent again (a stencil's boundary, every iteration),
     * or the third of its 64 KiB (a run) is worth the fault: the kernel maps the resident pages
     * around it too (fault-around), so a run costs two calls and one fault per 16 pages.
     */
    int by_file = !mome_bit(st->viewed, page) && mome_mem->read && viewed_around(st, page) < 2;
    mome_bit_set(st->viewed, page);
    if (!by_file) {
        memcpy(dst, mome_store_bytes(st, page, pgshift), pgsz);
        return;
    }
    int rc = mome_mem->read(st->base + (page << pgshift), dst, pgsz);
    if (rc < 0)
        mome_fatal("cannot read page %llu of segment '%s' (%#llx) from Mome memory: %s; stopping",
                   (unsigned long long)page, st->name, (unsigned long long)st->id, strerror(-rc));
}

void mome_store_fill(mome_store_t *st, uint64_t page, const void *src)
{
    mome_store_unpage(st, page);
    int has = mome_store_has(st, page);
    if (!has)
        mome_store_room(); /* before the page takes memory */
    /*
     * A page not in memory is written through the file where the memory layer can: through the
     * runtime view, which has no entry for it, the copy would first take a fault that allocates
     * it (12-17 us on a paravirtualized guest, against 2-3 us for the system call). A resident
     * page is copied through the runtime view: at most its first fill there faults (content
     * installed into a view by UFFDIO_COPY leaves no runtime-view entry), later ones cost no
     * system call.
     */
    if (has || !mome_mem->write) {
        memcpy(mome_store_bytes(st, page, pgshift), src, pgsz);
        mome_bit_set(st->viewed, page);
    } else {
        int rc = mome_mem->write(st->base + (page << pgshift), src, pgsz);
        if (rc < 0)
            mome_fatal("cannot write page %llu of segment '%s' (%#llx) into Mome memory: %s; "
                       "stopping",
                       (unsigned long long)page, st->name, (unsigned long long)st->id,
                       strerror(-rc));
    }
    entered(st, page);
}

int mome_store_install(mome_store_t *st, uint64_t page, char *va, const void *src, int ro)
{
    if (mome_store_has(st, page))
        return -EEXIST;
    mome_store_unpage(st, page);
    mome_store_room(); /* before the page takes memory */
    int rc = mome_mem->install(st->base + (page << pgshift), va, pgsz, src, ro);
    if (rc == 0)
        entered(st, page);
    return rc;
}

int mome_store_map(mome_store_t *st, uint64_t page, char *va, int ro)
{
    int rc = mome_mem->map(va, pgsz, ro);
    (void)st;
    (void)page;
    if (rc == -EEXIST && pgsz > os_page) {
        /* Some of it is mapped already (another thread's fault, or read-only before an upgrade):
         * map the rest, one OS page at a time; read-only asked, what was mapped writable is
         * protected too (it kept its writable entries: helper-92). */
        for (size_t o = 0; o < pgsz; o += os_page)
            mome_mem->map(va + o, os_page, ro);
        if (ro)
            mome_mem->protect(va, pgsz, 1);
    }
    return rc;
}

int mome_store_protect(char *va, int ro)
{
    return mome_mem->protect(va, pgsz, ro);
}

int mome_store_protect_range(char *va, size_t len)
{
    return mome_mem->protect(va, len, 1);
}

int mome_store_wake(char *va, size_t len)
{
    return mome_mem->wake(va, len);
}

int mome_store_zap(char *va)
{
    return mome_mem->zap(va, pgsz);
}

int mome_store_zap_range(char *va, size_t len)
{
    return mome_mem->zap(va, len);
}

void mome_store_drop(mome_store_t *st, uint64_t page)
{
    int rc;
    if (!mome_store_has(st, page))
        return;
    rc = mome_mem->drop(st->base + (page << pgshift), pgsz);
    /* A page left in the memory file would be mapped again by the next access without a fault:
     * the node would read this stale copy instead of asking for the current one. */
    if (rc < 0)
        mome_fatal("cannot give back page %llu of segment '%s' (%#llx): %s: its stale copy would "
                   "be read without a fault; stopping",
                   (unsigned long long)page, st->name, (unsigned long long)st->id, strerror(-rc));
    mome_bit_clear(st->present, page);
    mome_bit_clear(st->viewed, page); /* dropping it took every entry away */
    st->resident--;
    resident_total--;
    gauge();
    if (policy)
        policy->remove(policy_state, st, page);
}

/* ---- the page budget ---- */

void mome_store_budget(uint64_t pages, uint64_t high, uint64_t low, const mome_store_pager_t *p)
{
    budget = pages;
    high_mark = high;
    low_mark = low;
    pager = p;
    extra_pages = 0;
}

/* The residency gauges of MomeStatsT, after every change. */
static void gauge(void)
{
    uint64_t n = in_memory();
    __atomic_store_n(&mome_stats.resident_pages, n, __ATOMIC_RELAXED);
    if (n > __atomic_load_n(&mome_stats.resident_peak, __ATOMIC_RELAXED))
        __atomic_store_n(&mome_stats.resident_peak, n, __ATOMIC_RELAXED);
}

uint64_t mome_store_budget_pages(void)
{
    return budget;
}

int mome_store_can_keep(void)
{
    return !budget || in_memory() + 1 <= low_mark;
}

void mome_store_extra(int64_t delta)
{
    extra_pages += delta;
    gauge();
}

static uint64_t in_memory(void)
{
    return resident_total + (uint64_t)extra_pages;
}

int mome_store_page_out(mome_store_t *st, uint64_t page)
{
    const uint8_t *b = mome_store_bytes(st, page, pgshift);
    int zero = 1, rc;

    for (size_t i = 0; i < pgsz && zero; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        zero = w == 0;
    }
    rc = pager->save(st, page, b, zero);
    if (rc < 0)
        return rc;
    mome_store_drop(st, page);
    mome_bit_set(st->paged, page);
    return 0;
}

void mome_store_page_in(mome_store_t *st, uint64_t page)
{
    if (!mome_store_is_paged(st, page))
        return;
    mome_store_room();
    pager->load(st, page, mome_store_bytes(st, page, pgshift));
    mome_bit_clear(st->paged, page);
    mome_bit_set(st->viewed, page); /* loaded through the runtime view */
    entered(st, page);
}

/* Evict one page: the policy's victims in turn, skipping (re-queued) those that cannot leave
 * now. Returns 0, or -EBUSY when none could. */
static int evict_one(void)
{
    for (int tries = 0; tries < 64; tries++) {
        mome_store_t *st;
        uint64_t page;
        if (policy->victim(policy_state, &st, &page) < 0)
            return -EBUSY;
        if (pager->evict(st, page) == 0) {
            MOME_STAT_EVICTION();
            MOME_TR(MOME_TR_EVICT, st->id, page, -1, 0, 0);
            return 0;
        }
        policy->remove(policy_state, st, page); /* busy now: to the back of the line */
        policy->insert(policy_state, st, page);
    }
    return -EBUSY;
}

/*
 * Going over the budget is said once, then at most every OVER_SAY_NS with how often since: a
 * small budget under heavy writes goes over it at every fault, and five lines a second buried
 * everything else (helper-134).
 */
#define OVER_SAY_NS (10 * 1000000000ull)

static void say_over(void)
{
    static uint64_t said_at, times;
    uint64_t now = mome_now_ns();
    times++;
    if (said_at && now - said_at < OVER_SAY_NS)
        return;
    if (!said_at)
        mome_warn("store",
                  "MOME_LOCAL_PAGES=%llu: every resident page is in use right now; going over the "
                  "budget for a moment (said again at most every 10 s)",
                  (unsigned long long)budget);
    else
        mome_warn("store",
                  "MOME_LOCAL_PAGES=%llu: over the budget %llu times in the last %llu s, every "
                  "resident page in use (a larger budget, or fewer pages written at once, "
                  "avoids it)",
                  (unsigned long long)budget, (unsigned long long)times,
                  (unsigned long long)((now - said_at) / 1000000000ull));
    said_at = now;
    times = 0;
}

void mome_store_room(void)
{
    static int evicting;
    if (!budget || evicting)
        return;
    evicting = 1; /* an eviction's own page-in or messages never recurse here */
    while (in_memory() >= budget) {
        if (evict_one() == 0) {
            MOME_STAT_INC(evictions_waited);
        } else {
            say_over();
            break;
        }
    }
    evicting = 0;
}

int mome_store_trim(void)
{
    static int trimming; /* past the high watermark, not yet down to the low one */
    int n = 0;
    if (!budget)
        return 0;
    if (in_memory() > high_mark)
        trimming = 1;
    /* A few pages per turn of the engine: faults are served between them. */
    while (trimming && n < MOME_TRIM_STEP && in_memory() > low_mark) {
        if (evict_one() < 0) {
            trimming = 0; /* every resident page is in use: try again past the high mark */
            break;
        }
        n++;
    }
    if (in_memory() <= low_mark)
        trimming = 0;
    return n;
}

uint64_t mome_store_resident(void)
{
    return resident_total;
}

void mome_store_touch(mome_store_t *st, uint64_t page)
{
    if (policy && mome_store_has(st, page))
        policy->touch(policy_state, st, page);
}

int mome_store_victim(mome_store_t **st, uint64_t *page)
{
    return policy ? policy->victim(policy_state, st, page) : -ENOENT;
}

void mome_store_skip(mome_store_t *st, uint64_t page)
{
    if (policy)
        policy->skip(policy_state, st, page);
}

/* ---- the default backend: Mome memory only ---- */

static int mem_load(mome_store_t *st, uint64_t page, void *dst)
{
    return 0; /* a page this job never held is zeros */
}

static int mem_save(mome_store_t *st, uint64_t page, const void *src)
{
    return -ENOTSUP;
}

const mome_store_ops_t mome_store_mem = {.name = "memory", .load = mem_load, .save = mem_save};
