/*
 * stats_contracts.c - the counters prove the contracts: a WEAK reader receives no invalidation
 * while others write; a single RELEASE writer makes no twin; two RELEASE writers of one page do.
 */
#include "itest.h"

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    char *a = itest_map("stats_contracts", ps * 8, NULL);
    volatile uint64_t *weak_page = (volatile uint64_t *)a;          /* page 0 */
    volatile uint64_t *single = (volatile uint64_t *)(a + ps * 2);  /* page 2 */
    volatile uint8_t *shared = (volatile uint8_t *)(a + ps * 4);    /* page 4 */
    MomeStatsT s0, s1;

    CHECK(n >= 2, "needs 2 nodes or more");
    /* 1. Node 1 reads page 0 under WEAK while node 0 writes it (STRONG, then RELEASE). */
    MUST(MomeConsistency((void *)weak_page, ps, me == 1 ? MOME_WEAK : MOME_STRONG));
    MomeBarrier();
    uint64_t seen = weak_page[0];
    MUST(MomeStats(&s0));
    for (int r = 1; r <= 20; r++) {
        if (me == 0) {
            if (r == 10)
                MUST(MomeConsistency((void *)weak_page, ps, MOME_RELEASE));
            weak_page[0] = (uint64_t)r;
        }
        MomeBarrier();
        if (me == 1)
            CHECK(weak_page[0] == seen, "round %d: a WEAK copy changed without MomeSyncMem", r);
    }
    MUST(MomeStats(&s1));
    if (me == 1)
        CHECK(s1.invalidations_received == s0.invalidations_received,
              "the WEAK reader received %llu invalidations",
              (unsigned long long)(s1.invalidations_received - s0.invalidations_received));
    if (me == 1) {
        MUST(MomeSyncMem((void *)weak_page, ps, MomeLastBarrierDate()));
        CHECK(weak_page[0] == 20, "after MomeSyncMem: %llu", (unsigned long long)weak_page[0]);
    }
    MomeBarrier();

    /* 2. Node 0 alone writes page 2 under RELEASE, node 1 reads it every round: no twin. */
    MUST(MomeConsistency((void *)single, ps, MOME_RELEASE));
    MUST(MomeStats(&s0));
    MomeBarrier();
    for (int r = 1; r <= 20; r++) {
        if (me == 0)
            single[1] = (uint64_t)r;
        MomeBarrier();
        CHECK(single[1] == (uint64_t)r, "single writer, round %d", r);
        MomeBarrier();
    }
    MUST(MomeStats(&s1));
    CHECK(s1.twins == s0.twins, "node %d made %llu twins with a single writer", me,
          (unsigned long long)(s1.twins - s0.twins));

    /* 3. Nodes 0 and 1 write different bytes of page 4 under RELEASE: the non-owner twins. */
    MUST(MomeConsistency((void *)shared, ps, MOME_RELEASE));
    MomeBarrier();
    MUST(MomeStats(&s0));
    for (int r = 1; r <= 5; r++) {
        if (me <= 1)
            for (size_t i = (size_t)me; i < ps; i += 2)
                shared[i] = (uint8_t)(r + (int)i);
        MomeBarrier();
        for (size_t i = 0; i < ps; i++)
            CHECK(shared[i] == (uint8_t)(r + (int)i), "false sharing round %d byte %zu", r, i);
        MomeBarrier();
    }
    MUST(MomeStats(&s1));
    uint64_t twins = s1.twins - s0.twins, diffs = s1.diffs - s0.diffs;
    uint64_t *all = MomeMalloc(sizeof(uint64_t) * 2);
    (void)all;
    if (me <= 1)
        printf("stats: node %d made %llu twins and %llu diffs while writing with another node\n",
               me, (unsigned long long)twins, (unsigned long long)diffs);
    /* One of the two writers owns the page; the other one twins and diffs every round. */
    MomeBarrier();
    volatile uint64_t *tw = (volatile uint64_t *)(a + ps * 6);
    if (me <= 1)
        tw[me] = twins + 1000 * diffs;
    MomeBarrier();
    if (me == 0) {
        uint64_t t0 = tw[0] % 1000, t1 = tw[1] % 1000;
        CHECK(t0 + t1 >= 5, "only %llu twins for 5 rounds of two writers",
              (unsigned long long)(t0 + t1));
        CHECK(tw[0] / 1000 + tw[1] / 1000 >= 5, "no diffs");
        printf("stats contracts: WEAK reader got no invalidation; single writer made no twin; two "
               "writers made %llu twins\n", (unsigned long long)(t0 + t1));
    }
    MomeFree(all);
    MomeFinalize();
    return 0;
}
