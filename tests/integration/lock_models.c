/*
 * lock_models - THREADS threads per node increment COUNTERS counters on one page, counter k under
 * lock k, each node using the model MODELS[node] on that page (S STRONG, R RELEASE, W WEAK; a WEAK
 * node syncs the counter on MomeClock() after MomeLock, as doc/consistency.md section 4 says).
 * Every increment must count: each node checks the totals after a barrier, and every value a
 * thread read under a lock is checked to have been read once only in the whole job (a read of a
 * stale copy shows as a value read twice).
 *
 *   lock_models ITERS THREADS COUNTERS MODELS
 */
#include <pthread.h>

#include "itest.h"

enum { MAX_THREADS = 8, MAX_COUNTERS = 8, STRIDE = 8 /* words: one counter per 64 bytes */ };

static int iters, nthreads, ncounters, me, model;
static volatile uint64_t *ctr;
static uint64_t *seen; /* per thread, per iteration: counter << 48 | value read */

static void *work(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < iters; i++) {
        int k = (i + t + me) % ncounters;
        MUST(MomeLock(k));
        if (model == MOME_WEAK)
            MUST(MomeSyncMem((void *)&ctr[k * STRIDE], 8, MomeClock()));
        uint64_t v = ctr[k * STRIDE];
        ctr[k * STRIDE] = v + 1;
        MUST(MomeUnlock(k));
        seen[(size_t)t * iters + i] = (uint64_t)k << 48 | v;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(argc == 5, "usage: lock_models ITERS THREADS COUNTERS MODELS");
    iters = atoi(argv[1]);
    nthreads = atoi(argv[2]);
    ncounters = atoi(argv[3]);
    me = MomeNode();
    int n = MomeNodes();
    CHECK(iters > 0 && nthreads > 0 && nthreads <= MAX_THREADS && ncounters > 0 &&
              ncounters <= MAX_COUNTERS && (int)strlen(argv[4]) >= n,
          "bad arguments");
    char c = argv[4][me];
    model = c == 'S' ? MOME_STRONG : c == 'R' ? MOME_RELEASE : MOME_WEAK;

    size_t ps = MomePageSize();
    uint64_t total = (uint64_t)n * nthreads * iters;
    size_t logsz = ((size_t)total * 8 + ps - 1) / ps * ps;
    ctr = itest_map("lock_models", ps, NULL);
    uint64_t *all = itest_map("lock_models.log", logsz, NULL); /* every node's reads */
    MUST(MomeConsistency((void *)ctr, ps, model));
    seen = all + (size_t)me * nthreads * iters;
    MomeBarrier();

    pthread_t th[MAX_THREADS];
    for (int t = 0; t < nthreads; t++)
        CHECK(pthread_create(&th[t], NULL, work, (void *)(intptr_t)t) == 0, "pthread_create");
    for (int t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    MomeBarrier();
    MUST(MomeSyncMem((void *)ctr, ps, MomeLastBarrierDate()));
    MUST(MomeSyncMem(all, logsz, MomeLastBarrierDate()));

    uint64_t sum = 0;
    for (int k = 0; k < ncounters; k++)
        sum += ctr[k * STRIDE];
    CHECK(sum == total, "the counters add up to %llu, not %llu: increments were lost",
          (unsigned long long)sum, (unsigned long long)total);
    if (me == 0) {
        /* Under lock k the values read are 0, 1, 2, ...: each exactly once. */
        uint64_t per[MAX_COUNTERS] = {0};
        for (uint64_t i = 0; i < total; i++)
            per[all[i] >> 48]++;
        for (int k = 0; k < ncounters; k++) {
            uint8_t *once = calloc(per[k] ? per[k] : 1, 1);
            CHECK(once, "calloc");
            for (uint64_t i = 0; i < total; i++) {
                uint64_t v = all[i] & ((1ull << 48) - 1);
                if ((int)(all[i] >> 48) != k)
                    continue;
                CHECK(v < per[k] && !once[v],
                      "under lock %d, value %llu was read twice or out of range (node %llu's "
                      "copy was stale after the lock)",
                      k, (unsigned long long)v,
                      (unsigned long long)(i / ((uint64_t)nthreads * iters)));
                once[v] = 1;
            }
            free(once);
        }
        printf("lock_models: %llu increments under %d locks, models %.*s: ok\n",
               (unsigned long long)total, ncounters, n, argv[4]);
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
