/*
 * lock_counter.c - a shared counter incremented under MomeLock by every node (and, with a second
 * argument, by several threads per node); it must end exact. Third argument: the model of the
 * counter's page (strong, release; default strong).
 */
#include <pthread.h>

#include "itest.h"

static int iters;
static volatile uint64_t *counter;

static void *worker(void *arg)
{
    for (int i = 0; i < iters; i++) {
        MUST(MomeLock(42));
        uint64_t v = *counter;
        *counter = v + 1;
        MUST(MomeUnlock(42));
    }
    return arg;
}

int main(int argc, char **argv)
{
    iters = argc > 1 ? atoi(argv[1]) : 10000;
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    int release = argc > 3 && !strcmp(argv[3], "release");
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    counter = itest_map("counter", MomePageSize(), NULL);
    if (release)
        MUST(MomeConsistency((void *)counter, MomePageSize(), MOME_RELEASE));
    pthread_t t[8];

    MomeBarrier();
    for (int i = 1; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    worker(NULL);
    for (int i = 1; i < threads; i++)
        pthread_join(t[i], NULL);
    MomeBarrier();
    uint64_t want = (uint64_t)iters * (uint64_t)n * (uint64_t)threads;
    CHECK(*counter == want, "counter = %llu, want %llu", (unsigned long long)*counter,
          (unsigned long long)want);
    MomeStatsT s;
    MUST(MomeStats(&s));
    CHECK(s.lock_acquires == (uint64_t)iters * (uint64_t)threads, "lock_acquires = %llu",
          (unsigned long long)s.lock_acquires);
    if (me == 0)
        printf("lock counter (%s): %d nodes x %d threads x %d increments = %llu, exact\n",
               release ? "RELEASE" : "STRONG", n, threads, iters, (unsigned long long)*counter);
    MomeFinalize();
    return 0;
}
