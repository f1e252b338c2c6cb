/*
 * trace_job.c - a small job whose page traffic is known, for trace.test: on 2 nodes, 4 pages
 * (STRONG, no read-ahead: MOME_PREFETCH=0). Node 0 writes the 4 pages; barrier 0; node 1 reads
 * them, then writes page 2 (node 0's copy is invalidated) under lock 7; barrier 1; node 0 reads
 * page 2 back from node 1. Every value is checked.
 */
#include "itest.h"

#define NPAGES 4

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(MomeNodes() == 2, "needs 2 nodes, has %d", MomeNodes());
    size_t ps = MomePageSize();
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
