/*
 * false_sharing.c - every node writes the bytes i with i mod nodes == node of the same pages under
 * RELEASE (several writers per page: twins and XOR merging), then a barrier, then every node
 * checks every byte. Repeated for many rounds with new values each round.
 *
 *   false_sharing [pages] [rounds]
 */
#include "itest.h"

static uint8_t value(int r, size_t i)
{
    return (uint8_t)((size_t)r * 31u + i * 7u + (i >> 8));
}

int main(int argc, char **argv)
{
    int pages = argc > 1 ? atoi(argv[1]) : 64;
    int rounds = argc > 2 ? atoi(argv[2]) : 100;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t len = MomePageSize() * (size_t)pages;
    uint8_t *a = itest_map("false_sharing", len, NULL);

    MUST(MomeConsistency(a, len, MOME_RELEASE));
    MomeBarrier();
    for (int r = 1; r <= rounds; r++) {
        for (size_t i = (size_t)me; i < len; i += (size_t)n)
            a[i] = value(r, i);
        MomeBarrier();
        for (size_t i = 0; i < len; i++)
            CHECK(a[i] == value(r, i), "round %d byte %zu (written by node %zu) = %u, want %u", r,
                  i, i % (size_t)n, a[i], value(r, i));
        MomeBarrier();
    }
    MomeStatsT st;
    MUST(MomeStats(&st));
    /* Several writers per page: the ones that do not own a page twin it (the first writer of a
     * page owns it and never twins, so count over the job). */
    int sseg;
    volatile uint64_t *tw = itest_map("false_sharing_twins", MomePageSize(), &sseg);
    tw[me] = st.twins;
    MomeBarrier();
    uint64_t total = 0;
    for (int k = 0; k < n; k++)
        total += tw[k];
    CHECK(n == 1 || total > 0, "no twin made although %d nodes wrote the same pages", n);
    if (me == 0)
        printf("false sharing: %d nodes wrote interleaved bytes of %d pages for %d rounds under "
               "RELEASE; every byte exact (node 0: %llu twins, %llu diffs, %llu diff bytes)\n",
               n, pages, rounds, (unsigned long long)st.twins, (unsigned long long)st.diffs,
               (unsigned long long)st.diff_bytes);
    MomeFinalize();
    return 0;
}
