/*
 * weak_owner.c - WEAK on the node that holds a page's master. Node 0 writes the page first, so it
 * holds the master, under WEAK; the others write other words of it and release them (node 1
 * under RELEASE, node 2 under WEAK). Node 0's view must not change until it asks: at every round
 * it reads every word as it was when its view last took the master's content, plus its own writes
 * (before Mome kept a master apart from such a view, the others' released diffs were merged into
 * the memory node 0 reads). On some rounds it calls MomeSyncMem and must then read everything;
 * it writes words of its own and words node 1 wrote in earlier rounds (ordered before by
 * barriers: its values must win). The others read every word as last written after each
 * barrier. Then node 1 writes under STRONG (node 0's master is flushed and handed to it while
 * node 0's view stays as it was), goes back to RELEASE, and the rounds run again.
 */
#include "itest.h"

#define ROUNDS 24
#define REGION 64 /* words per node */

static volatile uint64_t *w;
static uint64_t *expect; /* every word as last written by any node */
static uint64_t *shadow; /* node 0: what its WEAK view must read */
static size_t nwords;
static int me, n;

static void check_all(const uint64_t *want, const char *what, int phase, int r)
{
    for (size_t i = 0; i < nwords; i++)
        CHECK(w[i] == want[i], "phase %d round %d: %s: word %zu reads %llu, want %llu", phase, r,
              what, i, (unsigned long long)w[i], (unsigned long long)want[i]);
}

/* Node `who` writes word i (every node keeps the record). */
static void put(int who, size_t i, uint64_t v)
{
    if (me == who)
        w[i] = v;
    expect[i] = v;
}

static void sync0(void)
{
    MUST(MomeSyncMem((void *)w, nwords * 8, MomeLastBarrierDate()));
    memcpy(shadow, expect, nwords * 8);
}

static void rounds(int phase, int count)
{
    for (int r = 0; r < count; r++) {
        uint64_t base = (uint64_t)(phase + 1) * 1000000 + (uint64_t)r * 16;
        for (int k = 1; k < n; k++)
            put(k, (size_t)k * REGION + (size_t)r % REGION, base + (uint64_t)k);
        MomeBarrier();
        if (me == 0) {
            /* Released by the others before the barrier: not seen until node 0 asks. */
            check_all(shadow, "node 0's WEAK view, before it asks", phase, r);
            if (r % 3 == 1) {
                sync0();
                check_all(shadow, "node 0's WEAK view after MomeSyncMem", phase, r);
            }
        }
        put(0, (size_t)r % REGION, base + 8);
        if (r >= 1 && r % 2 == 0)
            put(0, REGION + (size_t)(r - 1) % REGION, base + 9); /* node 1 wrote it before */
        if (me == 0)
            /* Its first write since the barrier took the master's content (consistency.md). */
            memcpy(shadow, expect, nwords * 8);
        MomeBarrier();
        if (me == 2)
            MUST(MomeSyncMem((void *)w, nwords * 8, MomeLastBarrierDate()));
        check_all(me == 0 ? shadow : expect, "after the barrier", phase, r);
        MomeBarrier();
    }
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    me = MomeNode();
    n = MomeNodes();
    size_t ps = MomePageSize();
    nwords = ps / 8;
    CHECK(n >= 2 && n <= 3 && nwords >= 3 * REGION, "2 or 3 nodes, pages of %d words", 3 * REGION);
    w = itest_map("weak_owner", ps, NULL);
    expect = calloc(nwords, 8);
    shadow = calloc(nwords, 8);
    CHECK(expect && shadow, "out of memory");

    MUST(MomeConsistency((void *)w, ps, me == 1 ? MOME_RELEASE : MOME_WEAK));
    MomeBarrier();
    put(0, 0, 1); /* node 0 writes first: it holds the master */
    if (me == 0)
        memcpy(shadow, expect, nwords * 8);
    MomeBarrier();
    rounds(0, ROUNDS);

    /* Node 1 writes under STRONG: node 0's master is flushed, then goes to node 1. */
    if (me == 1) {
        MUST(MomeConsistency((void *)w, ps, MOME_STRONG));
    }
    put(1, 2 * REGION - 1, 777);
    MomeBarrier();
    if (me == 0) {
        check_all(shadow, "node 0's WEAK view after node 1's STRONG write", 1, 0);
        sync0();
        check_all(shadow, "node 0's WEAK view after MomeSyncMem", 1, 0);
    }
    put(0, REGION - 1, 778); /* node 0 writes again: the master comes back to it */
    if (me == 0)
        memcpy(shadow, expect, nwords * 8);
    if (me == 1)
        MUST(MomeConsistency((void *)w, ps, MOME_RELEASE));
    MomeBarrier();
    if (me == 2)
        MUST(MomeSyncMem((void *)w, ps, MomeLastBarrierDate()));
    check_all(me == 0 ? shadow : expect, "after the STRONG round", 1, 0);
    MomeBarrier();
    rounds(2, ROUNDS / 2);

    /* Every write is in the master: node 0 sees them all once it asks. */
    if (me == 0)
        sync0();
    if (me == 2)
        MUST(MomeSyncMem((void *)w, ps, MomeLastBarrierDate()));
    check_all(expect, "at the end", 3, 0);
    MomeBarrier();
    if (me == 0)
        printf("WEAK on the master's node: %d rounds on %d nodes, its view changed only when it "
               "asked, no write lost\n",
               ROUNDS + ROUNDS / 2, n);
    MUST(MomeFinalize());
    return 0;
}
