/*
 * model_switch.c - a node switches a page it holds to a stronger model (MomeConsistency), then
 * another node writes it under STRONG: after the next barrier the switching node must read the new
 * value, and the writer what the switching node wrote before. For each pair (RELEASE to STRONG,
 * WEAK to STRONG, WEAK to RELEASE) and each first use by the switching node (a read, a write),
 * on a page of its own. Helper-49's audit: a switch dropped a copy that was the page's master
 * without telling the directory, and the next write stopped the job ("forwarded a FWD_WRITE ...
 * which this node does not hold"); a WEAK master switched to RELEASE stayed unknown to the
 * directory as such, and never saw the STRONG write (it read 0 after the barrier). Last, a WEAK
 * writer of a page another node owns (a twin copy, not the master) switches to STRONG: its view
 * must then show what the owner wrote meanwhile (the first fix kept such a copy as if it were the
 * master, and it read 0).
 */
#include "itest.h"

static const struct {
    int from, to;
    const char *name;
} pairs[] = {{MOME_RELEASE, MOME_STRONG, "RELEASE to STRONG"},
             {MOME_WEAK, MOME_STRONG, "WEAK to STRONG"},
             {MOME_WEAK, MOME_RELEASE, "WEAK to RELEASE"}};
#define NPAIRS (sizeof(pairs) / sizeof(pairs[0]))

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes(), sw = n - 1; /* the last node switches, node 0 writes */
    size_t ps = MomePageSize();
    volatile uint64_t *a = itest_map("model_switch", (2 * NPAIRS + 1) * ps, NULL);

    for (size_t k = 0; k < 2 * NPAIRS; k++) {
        volatile uint64_t *p = a + k * ps / 8;
        int from = pairs[k / 2].from, to = pairs[k / 2].to, writes = (int)(k % 2);
        if (me == sw)
            MUST(MomeConsistency((void *)p, ps, from));
        MomeBarrier();
        if (me == sw && writes)
            p[1] = 7 + k;
        else if (me == sw)
            CHECK(p[0] == 0, "%s: a new page reads %llu", pairs[k / 2].name,
                  (unsigned long long)p[0]);
        MomeBarrier();
        if (me == sw)
            MUST(MomeConsistency((void *)p, ps, to));
        MomeBarrier();
        if (me == 0)
            p[0] = 42 + k;
        MomeBarrier();
        if (me == sw)
            CHECK(p[0] == 42 + k,
                  "%s, after a %s: node %d reads %llu after the barrier, node 0 "
                  "wrote %llu",
                  pairs[k / 2].name, writes ? "write" : "read", me, (unsigned long long)p[0],
                  (unsigned long long)(42 + k));
        if (me == 0 && writes)
            CHECK(p[1] == 7 + k, "%s: node 0 reads %llu, node %d wrote %llu", pairs[k / 2].name,
                  (unsigned long long)p[1], sw, (unsigned long long)(7 + k));
        MomeBarrier();
    }
    volatile uint64_t *w = a + 2 * NPAIRS * ps / 8;
    MUST(MomeConsistency((void *)w, ps, MOME_WEAK));
    MomeBarrier();
    if (me == 0)
        w[0] = 5; /* node 0 owns it */
    MomeBarrier();
    if (me == sw)
        w[1] = 6; /* a twin of node 0's master */
    MomeBarrier();
    if (me == 0)
        w[2] = 77;
    MomeBarrier();
    if (me == sw) {
        MUST(MomeConsistency((void *)w, ps, MOME_STRONG));
        CHECK(w[0] == 5 && w[1] == 6 && w[2] == 77,
              "WEAK to STRONG, a writer of node 0's page: node %d reads %llu %llu %llu, want 5 6 "
              "77",
              me, (unsigned long long)w[0], (unsigned long long)w[1], (unsigned long long)w[2]);
    }
    MomeBarrier();
    if (me == 0)
        printf("model switches of a held page: %zu cases on %d nodes, every value seen\n",
               2 * NPAIRS + 1, n);
    MUST(MomeFinalize());
    return 0;
}
