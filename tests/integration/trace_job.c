/*
 * trace_job.c - a small job whose page traffic is known, for trace.test: on 2 nodes, 4 pages
 * (STRONG, no read-ahead: MOME_PREFETCH=0). Node 0 writes the 4 pages; barrier 0; node 1 reads
 * them, then writes page 2 (node 0's copy is invalidated) under lock 7; barrier 1; node 0 reads
 * page 2 back from node 1. Every value is checked.
 * With the argument "drop": one RELEASE page that node 0 writes at each of 10 steps and node 1
 * reads only at the first. Node 0 pushes its new versions to node 1 at its releases (fetches on
 * node 1) until node 1's copy, unused, goes at an acquire (a drop, told to the manager), and its
 * owner, node 0, hears that no other node holds it (an unshare): 6 fetches, 1 drop, 1 unshare.
 * With the argument "sync": one WEAK page that node 0 writes at each of 3 steps, and that node 1,
 * which read it first, brings up to date with MomeSyncMem after each: 3 syncs on node 1, none on
 * node 0.
 */
#include <string.h>

#include "itest.h"

#define NPAGES 4

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(MomeNodes() == 2, "needs 2 nodes, has %d", MomeNodes());
    size_t ps = MomePageSize();
    if (argc > 1 && strcmp(argv[1], "drop") == 0) {
        volatile int *d = itest_map("drop", ps, NULL);
        MUST(MomeConsistency((void *)d, ps, MOME_RELEASE));
        for (int step = 0; step < 10; step++) {
            if (MomeNode() == 0)
                d[0] = step + 1;
            MomeBarrier();
            if (MomeNode() == 1 && step == 0)
                CHECK(d[0] == 1, "the page holds %d, not 1", d[0]);
            MomeBarrier();
        }
        MUST(MomeFinalize());
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sync") == 0) {
        volatile int *d = itest_map("sync", ps, NULL);
        MUST(MomeConsistency((void *)d, ps, MOME_WEAK));
        if (MomeNode() == 0)
            d[0] = -1;
        MomeBarrier();
        if (MomeNode() == 1)
            CHECK(d[0] == -1, "the page holds %d, not -1", d[0]);
        MomeBarrier();
        for (int step = 0; step < 3; step++) {
            if (MomeNode() == 0)
                d[0] = step + 1;
            MomeBarrier();
            if (MomeNode() == 1) {
                MUST(MomeSyncMem((void *)d, ps, MomeLastBarrierDate()));
                CHECK(d[0] == step + 1, "the page holds %d, not %d", d[0], step + 1);
            }
            MomeBarrier();
        }
        MUST(MomeFinalize());
        return 0;
    }
    volatile char *p = itest_map("trace", NPAGES * ps, NULL);
    int me = MomeNode();

    if (me == 0)
        for (int i = 0; i < NPAGES; i++)
            p[i * ps] = (char)(10 + i);
    MomeBarrier();
    if (me == 1) {
        for (int i = 0; i < NPAGES; i++)
            CHECK(p[i * ps] == 10 + i, "page %d holds %d", i, p[i * ps]);
        MUST(MomeLock(7));
        p[2 * ps] = 42;
        MUST(MomeUnlock(7));
    }
    MomeBarrier();
    if (me == 0)
        CHECK(p[2 * ps] == 42, "page 2 holds %d", p[2 * ps]);
    MUST(MomeFinalize());
    return 0;
}
