/*
 * weak_flush.c - WEAK on the node that holds the masters, with a STRONG user of some pages.
 * weak_flush SEED. Node 0 (WEAK) writes every word of PAGES pages first, so it holds their
 * masters, then writes its words on even rounds only; node 1 (RELEASE) and nodes 2.. (WEAK) write
 * their words in every round, each word's writer drawn from SEED, THREADS threads per node. In
 * some rounds node 1 switches some pages to STRONG while its threads write, reads every word
 * after the barrier (STRONG reads, flushing the page's writers again), and goes back to RELEASE.
 * On odd rounds node 0 must read every page that node 1 did not hold STRONG in this round or the
 * one before exactly as it read it at its last check: its view changes only when it asks, or at
 * the flush of such a page (doc/consistency.md section 1: a flush joins the master kept apart and
 * the view, without being asked). Every word node 0 reads is a value its writer wrote there, never
 * older than what it read before; after a MomeSyncMem (on some rounds, and at the end) it reads
 * every word as last written. The others read every word as last written after each barrier.
 */
#include "itest.h"

#include <pthread.h>

#define ROUNDS 20
#define PAGES 4
#define THREADS 2

static uint64_t seed;
static int me, n, cur_round;
static size_t nwords; /* per page */
static volatile uint64_t *w;
static uint64_t *expect, *floor_, *seen;

/* Who writes word i of page p in round r (n: nobody). */
static int writer(int r, size_t p, size_t i)
{
    if (r == 0)
        return 0;
    int wr = (int)(itest_mix(seed, (uint64_t)r, p * 4096 + i) % (uint64_t)(n + 2));
    return wr == 0 && r % 2 ? n : wr;
}

static uint64_t enc(int r, int wr, size_t p, size_t i)
{
    return (uint64_t)(r + 1) << 40 | (uint64_t)wr << 32 | (uint64_t)p << 12 | i;
}

/* Does node 1 hold page p STRONG in round r? */
static int strong1(int r, size_t p)
{
    return r > 0 && itest_mix(seed ^ 0x55, (uint64_t)r, 3) % 4 == 0 &&
           itest_mix(seed, (uint64_t)r, p + 3000) % 3 == 0;
}

static void *work(void *arg)
{
    size_t t = (size_t)(uintptr_t)arg;
    for (size_t p = 0; p < PAGES; p++)
        for (size_t i = t; i < nwords; i += THREADS)
            if (writer(cur_round, p, i) == me)
                w[p * nwords + i] = enc(cur_round, me, p, i);
    return NULL;
}

static void switch_pages(int r, int model)
{
    for (size_t p = 0; p < PAGES; p++)
        if (strong1(r, p))
            MUST(MomeConsistency((void *)(w + p * nwords), nwords * 8, model));
}

/* Node 0, WEAK, before it asks. */
static void check0(int r)
{
    for (size_t p = 0; p < PAGES; p++)
        for (size_t i = 0; i < nwords; i++) {
            size_t k = p * nwords + i;
            uint64_t v = w[k];
            if (r % 2 && !strong1(r, p) && !strong1(r - 1, p))
                CHECK(v == seen[k],
                      "seed %llu round %d: page %zu word %zu changed from %#llx to %#llx though "
                      "node 0 did not ask and no STRONG request flushed the page",
                      (unsigned long long)seed, r, p, i, (unsigned long long)seen[k],
                      (unsigned long long)v);
            int vr = (int)(v >> 40) - 1, vw = (int)(v >> 32 & 0xff);
            CHECK((v & 0xffffffffu) == (p << 12 | i) && vr >= 0 && vr <= r &&
                      writer(vr, p, i) == vw,
                  "seed %llu round %d: page %zu word %zu reads %#llx, a value nobody wrote there",
                  (unsigned long long)seed, r, p, i, (unsigned long long)v);
            CHECK(v >> 40 >= floor_[k] >> 40 && v >> 40 >= seen[k] >> 40,
                  "seed %llu round %d: page %zu word %zu reads %#llx, older than %#llx (synced) or "
                  "%#llx (read before)",
                  (unsigned long long)seed, r, p, i, (unsigned long long)v,
                  (unsigned long long)floor_[k], (unsigned long long)seen[k]);
            seen[k] = v;
        }
}

static void check_exact(int r, const char *what)
{
    for (size_t k = 0; k < nwords * PAGES; k++)
        CHECK(w[k] == expect[k],
              "seed %llu round %d, %s: page %zu word %zu reads %#llx, want %#llx",
              (unsigned long long)seed, r, what, k / nwords, k % nwords, (unsigned long long)w[k],
              (unsigned long long)expect[k]);
}

static void sync_all(void)
{
    MUST(MomeSyncMem((void *)w, nwords * 8 * PAGES, MomeLastBarrierDate()));
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 9;
    me = MomeNode();
    n = MomeNodes();
    CHECK(n >= 3 && n < 255, "3 nodes or more");
    nwords = MomePageSize() / 8;
    size_t tot = nwords * PAGES;
    expect = calloc(tot, 8);
    floor_ = calloc(tot, 8);
    seen = calloc(tot, 8);
    CHECK(expect && floor_ && seen, "out of memory");
    w = itest_map("weak_flush", tot * 8, NULL);
    int model = me == 1 ? MOME_RELEASE : MOME_WEAK;
    MUST(MomeConsistency((void *)w, tot * 8, model));
    MomeBarrier();

    for (int r = 0; r <= ROUNDS; r++) {
        pthread_t th[THREADS];
        cur_round = r;
        for (int t = 0; t < THREADS; t++)
            CHECK(pthread_create(&th[t], NULL, work, (void *)(uintptr_t)t) == 0, "pthread_create");
        if (me == 1)
            switch_pages(r, MOME_STRONG); /* while its threads write */
        for (int t = 0; t < THREADS; t++)
            pthread_join(th[t], NULL);
        for (size_t p = 0; p < PAGES; p++)
            for (size_t i = 0; i < nwords; i++)
                if (writer(r, p, i) < n)
                    expect[p * nwords + i] = enc(r, writer(r, p, i), p, i);
        MomeBarrier();
        if (r == 0)
            memcpy(floor_, expect, tot * 8);
        if (me == 0) {
            check0(r);
            if (itest_mix(seed ^ 0x55, (uint64_t)r, 4) % 3 == 0) {
                sync_all();
                memcpy(floor_, expect, tot * 8);
                memcpy(seen, expect, tot * 8);
                check_exact(r, "node 0 after MomeSyncMem");
            }
        } else {
            if (model == MOME_WEAK)
                sync_all();
            check_exact(r, "after the barrier"); /* node 1: STRONG reads of its STRONG pages */
        }
        MomeBarrier();
        if (me == 1)
            switch_pages(r, MOME_RELEASE);
        MomeBarrier();
    }
    if (model == MOME_WEAK)
        sync_all();
    check_exact(ROUNDS, "at the end");
    MomeBarrier();
    if (me == 0)
        printf("weak_flush seed %llu: %d rounds, %d pages, %d nodes: node 0's view changed only "
               "when it asked or at a flush, no write lost\n",
               (unsigned long long)seed, ROUNDS, PAGES, n);
    MUST(MomeFinalize());
    return 0;
}
