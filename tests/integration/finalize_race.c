/*
 * finalize_race.c - MomeFinalize while the other nodes still work: every node writes its own byte
 * of every page of a RELEASE segment (multiple writers of every page, nothing released yet), then
 * one node calls MomeFinalize at once while the others first read (faulting, refreshing) for a
 * while. Finalize must release everything, let every node's acquire finish, and stop: no hang, no
 * error. argv[1] seeds who finalizes first and how long the others work.
 */
#include <time.h>

#include "itest.h"

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 1;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    int pages = 64;
    volatile uint8_t *a = itest_map("race", (uint64_t)pages * ps, NULL);

    MomeBarrier();
    MUST(MomeConsistency((void *)a, (size_t)pages * ps, MOME_RELEASE));
    for (int p = 0; p < pages; p++)
        a[(size_t)p * ps + (size_t)me] = (uint8_t)(me + 1);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    int first = (int)(itest_rand(&s) % (uint64_t)n);
    if (me != first) {
        /* Work for up to a few ms: reads that fault and fetch while the first node finalizes. */
        struct timespec t0, t;
        uint64_t spin_ns = itest_rand(&s) % 5000000, sum = 0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        do {
            for (int p = 0; p < pages; p++)
                sum += a[(size_t)p * ps + (size_t)((me + 1) % n)];
            clock_gettime(CLOCK_MONOTONIC, &t);
        } while ((uint64_t)(t.tv_sec - t0.tv_sec) * 1000000000ull +
                     (uint64_t)(t.tv_nsec - t0.tv_nsec) <
                 spin_ns);
        (void)sum;
    }
    MUST(MomeFinalize());
    return 0;
}
