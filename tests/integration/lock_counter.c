/*
 * lock_counter.c - a shared counter incremented under MomeLock by every node (and, with a second
 * argument, by several threads per node); it must end exact. Third argument: the model of the
 * counter's page (strong, release; default strong). Fourth: K counters on that one page, 8 words
 * apart, counter k under lock k; each thread takes them in turn (its i-th increment is of counter
 * (i + thread + node) mod K), so threads of one node hold different locks of one page at once:
 * a refresh at one thread's acquire must not lose what another thread of the node has released
 * and its owner not yet merged (helper-47's D1: lost increments, 3 nodes).
 */
#include <pthread.h>

#include "itest.h"

static int iters, ncounters, me;
static volatile uint64_t *counter;

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < iters; i++) {
        int k = (i + t + me) % ncounters;
        MUST(MomeLock(42 + k));
        uint64_t v = counter[8 * k];
        counter[8 * k] = v + 1;
        MUST(MomeUnlock(42 + k));
    }
    return arg;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atoi(argv[1]) : 10000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int release = argc > 3 && !strcmp(argv[3], "release");
    ncounters = argc > 4 ? atoi(argv[4]) : 1;
    itest_init(&argc, &argv);
    me = MomeNode();
    int n = MomeNodes();
    CHECK(threads >= 1 && threads <= 8 && ncounters >= 1 && ncounters * 64 <= (int)MomePageSize(),
          "usage: lock_counter ITERS [THREADS (1-8) [strong|release [COUNTERS]]]");
    counter = itest_map("counter", MomePageSize(), NULL);
    if (release)
        MUST(MomeConsistency((void *)counter, MomePageSize(), MOME_RELEASE));
    pthread_t t[8];

    MomeBarrier();
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    worker((void *)(intptr_t)0);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    MomeBarrier();
    uint64_t want = (uint64_t)iters * (uint64_t)n * (uint64_t)threads, total = 0;
    for (int k = 0; k < ncounters; k++)
        total += counter[8 * k];
    CHECK(total == want, "the %d counters add up to %llu, want %llu", ncounters,
          (unsigned long long)total, (unsigned long long)want);
    MomeStatsT s;
    MUST(MomeStats(&s));
    CHECK(s.lock_acquires == (uint64_t)iters * (uint64_t)threads, "lock_acquires = %llu",
          (unsigned long long)s.lock_acquires);
    if (me == 0)
        printf("lock counter (%s): %d nodes x %d threads x %d increments over %d counter(s) = "
               "%llu, exact\n",
               release ? "RELEASE" : "STRONG", n, threads, iters, ncounters,
               (unsigned long long)total);
    MomeFinalize();
    return 0;
}
