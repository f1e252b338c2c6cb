/*
 * keeper.c - pages a node keeps for another under a page budget (MOME_LOCAL_PAGES) go back once
 * their copy is dropped. Node 2 writes segment A (STRONG); node 1 reads it, then writes a
 * segment D of its own, larger than its budget, so that its copies of A are paged out to nodes 0
 * and 2; node 2 rewrites A, which invalidates those copies. Node 0 touched nothing and must then
 * keep nothing, node 2 only its own A (before, the dead copies stayed there for the rest of the job
 * unless node 1 read A again: helper-82's review).
 *
 *   keeper A_PAGES D_PAGES      (3 nodes)
 */
#include "itest.h"

static uint64_t resident(void)
{
    MomeStatsT s;
    MUST(MomeStats(&s));
    return s.resident_pages;
}

int main(int argc, char **argv)
{
    uint64_t na = argc > 1 ? strtoull(argv[1], NULL, 0) : 24;
    uint64_t nd = argc > 2 ? strtoull(argv[2], NULL, 0) : 40;
    itest_init(&argc, &argv);
    int me = MomeNode(), segd;
    size_t ps = MomePageSize();
    CHECK(MomeNodes() == 3, "keeper runs on 3 nodes");
    volatile uint64_t *a = itest_map("A", na * ps, NULL);
    MUST(MomeConsistency((void *)a, na * ps, MOME_STRONG));
    if (me == 2)
        for (uint64_t p = 0; p < na; p++)
            a[p * ps / 8 + 1] = p + 1;
    MomeBarrier();
    if (me == 1) {
        for (uint64_t p = 0; p < na; p++)
            CHECK(a[p * ps / 8 + 1] == p + 1, "page %llu of A", (unsigned long long)p);
        volatile uint64_t *d = itest_map("D", nd * ps, &segd);
        for (uint64_t p = 0; p < nd; p++)
            d[p * ps / 8 + 1] = p + 7;
        MomeStatsT s;
        MUST(MomeStats(&s));
        printf("node 1: %llu pages out to other nodes, %llu to disk\n",
               (unsigned long long)s.page_outs_node, (unsigned long long)s.page_outs_disk);
        CHECK(s.page_outs_node > 0, "node 1 paged nothing out to another node: the test tests "
                                    "nothing (MOME_LOCAL_PAGES below A_PAGES + D_PAGES?)");
        MUST(MomeMUnmap((void *)d, nd * ps));
        MUST(MomeSegClose(segd));
        MUST(MomeSegUnlink("D"));
    }
    MomeBarrier();
    if (me == 2) /* invalidates node 1's copies, paged out on nodes 0 and 2 */
        for (uint64_t p = 0; p < na; p++)
            a[p * ps / 8 + 1] = p + 100;
    MomeBarrier();
    MomeBarrier();
    uint64_t r = resident();
    printf("node %d: %llu resident pages\n", me, (unsigned long long)r);
    if (me == 0)
        CHECK(r == 0, "node 0 keeps %llu pages nobody can ask for", (unsigned long long)r);
    if (me == 2)
        CHECK(r == na, "node 2 keeps %llu pages, its A has %llu", (unsigned long long)r,
              (unsigned long long)na);
    MomeBarrier();
    MUST(MomeFinalize());
    return 0;
}
