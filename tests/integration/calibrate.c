/*
 * calibrate.c - how slow this machine is, now: node 0 of a 2-node job writes PAGES fresh pages
 * (each a page fault resolved through the directory, half of the time on the other node) and
 * prints the mean cost of one, in microseconds: "fault_us N". The test harness scales its time
 * limits by it (never the checks).
 */
#include <time.h>

#include "itest.h"

int main(int argc, char **argv)
{
    int pages = argc > 1 ? atoi(argv[1]) : 2000;
    itest_init(&argc, &argv);
    size_t ps = MomePageSize();
    volatile char *a = itest_map("calibrate", (uint64_t)pages * ps, NULL);
    MomeBarrier();
    if (MomeNode() == 0) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int p = 0; p < pages; p++)
            a[(size_t)p * ps] = 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                    1e3 / pages;
        printf("fault_us %.1f\n", us);
    }
    MomeFinalize();
    return 0;
}
