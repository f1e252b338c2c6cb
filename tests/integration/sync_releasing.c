/*
 * sync_releasing.c - MomeSyncMem of a WEAK page that other threads of the node write and release
 * over and over. On every node but 0, W writer threads each write a word of their own (a counter,
 * 1, 2, 3, ...) and call MomeRelease, without pause, while a syncer thread calls MomeSyncMem of
 * the page SYNCS times. Node 0, the page's first toucher, does the same with its writers alone.
 *
 *   sync_releasing SYNCS W
 *
 * Checked: after each MomeSyncMem, the syncer reads every word of its node's writers no lower
 * than before (an answer lacking the node's own released writes replaced them: a word went
 * back), and no higher than what the writer wrote; after the last barrier every node reads every
 * word as its writer last wrote it (an XOR diff computed against content lacking a released
 * write undid the word at the owner). Printed: the median time of a MomeSyncMem (before the
 * answer lacking released writes came in with them on top, it was asked again until no release
 * ran meanwhile: 6 requests a sync on 3 nodes over TCP).
 */
#include <pthread.h>

#include "itest.h"

#define MAXW 4

static volatile uint64_t *p, *expect;
static size_t ps;
static int nw, syncs, stop, me;
static uint64_t wrote[MAXW]; /* the last value each writer of this node wrote */

/* Writer w of node n: word 8 + 8 * (n * MAXW + w). */
static volatile uint64_t *word(int n, int w)
{
    return p + 8 + 8 * (n * MAXW + w);
}

static void *writer(void *arg)
{
    int w = (int)(intptr_t)arg;
    for (uint64_t i = 1; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); i++) {
        /* wrote[] first: a syncer that reads i in the word reads at least i there. */
        __atomic_store_n(&wrote[w], i, __ATOMIC_SEQ_CST);
        __atomic_store_n(word(me, w), i, __ATOMIC_RELAXED); /* the other thread reads it */
        MomeRelease();
    }
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(argc == 3, "usage: sync_releasing SYNCS W (W <= %d)", MAXW);
    syncs = atoi(argv[1]);
    nw = atoi(argv[2]);
    CHECK(syncs > 0 && nw > 0 && nw <= MAXW, "SYNCS > 0, 1 <= W <= %d", MAXW);
    me = MomeNode();
    int n = MomeNodes();
    ps = MomePageSize();
    CHECK((size_t)(8 + 8 * n * MAXW) * 8 <= ps && (size_t)(n * MAXW) * 8 <= ps,
          "too many nodes for one page");
    p = itest_map("sync_releasing", ps, NULL);
    MUST(MomeConsistency((void *)p, ps, MOME_WEAK));
    expect = itest_map("sync_releasing_expect", ps, NULL);
    MUST(MomeConsistency((void *)expect, ps, MOME_RELEASE));
    if (me == 0)
        p[0] = 1; /* node 0 owns the master */
    MUST(MomeSyncMem((void *)p, ps, MomeBarrier()));

    pthread_t t[MAXW];
    for (int w = 0; w < nw; w++)
        CHECK(pthread_create(&t[w], NULL, writer, (void *)(intptr_t)w) == 0, "pthread_create");
    uint64_t seen[MAXW] = {0}, *ns = calloc((size_t)syncs, sizeof(*ns));
    CHECK(ns != NULL, "calloc");
    for (int k = 0; k < syncs && me != 0; k++) {
        uint64_t t0 = itest_now_ns();
        MUST(MomeSyncMem((void *)p, ps, MomeClock()));
        ns[k] = itest_now_ns() - t0;
        for (int w = 0; w < nw; w++) {
            uint64_t v = __atomic_load_n(word(me, w), __ATOMIC_RELAXED);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            uint64_t hi = __atomic_load_n(&wrote[w], __ATOMIC_SEQ_CST);
            CHECK(v >= seen[w] && v <= hi,
                  "sync %d: writer %d's word is %llu, it read %llu before, the writer wrote %llu",
                  k, w, (unsigned long long)v, (unsigned long long)seen[w], (unsigned long long)hi);
            seen[w] = v;
        }
    }
    MomeBarrier(); /* the syncs are over */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int w = 0; w < nw; w++)
        pthread_join(t[w], NULL);
    /* Every writer released its last write; what each wrote goes to a RELEASE page. */
    for (int w = 0; w < nw; w++)
        expect[me * MAXW + w] = wrote[w];
    MUST(MomeSyncMem((void *)p, ps, MomeBarrier()));
    for (int q = 0; q < n; q++)
        for (int w = 0; w < nw; w++)
            CHECK(*word(q, w) == expect[q * MAXW + w],
                  "node %d writer %d's word is %llu after the barrier, it wrote %llu", q, w,
                  (unsigned long long)*word(q, w), (unsigned long long)expect[q * MAXW + w]);
    if (me == 1) {
        qsort(ns, (size_t)syncs, sizeof(*ns), cmp_u64);
        printf("sync_releasing: %d nodes, %d writers a node: MomeSyncMem median %.1f us, "
               "slowest %.1f us\n",
               n, nw, ns[syncs / 2] / 1e3, ns[syncs - 1] / 1e3);
    }
    free(ns);
    MomeBarrier();
    MomeFinalize();
    return 0;
}
