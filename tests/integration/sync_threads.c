/*
 * sync_threads.c - several application threads per node use Mome at once (helper-50's audit):
 * T workers increment lock-protected counters (4 per page, under locks of their own, each after
 * a MomeSyncMem of the counter, with nested locks taken in order if NEST) and write words of
 * their own, without a lock, on the same pages; a syncer thread calls MomeRelease, MomeSyncMem
 * and MomeConsistency meanwhile. Each node starts each page under its own model, so pages are
 * written under STRONG, RELEASE and WEAK at once. After each round, every node must see every
 * increment (the sum of the counters equals the sum of the workers' tallies) and every word.
 *
 *   sync_threads ROUNDS ITERS SEED T ACTIONS NEST
 *
 * ACTIONS, the syncer's, a bit mask: 1 MomeRelease, 2 MomeSyncMem of a random page, 4
 * MomeConsistency of a random page to a random model, 8 the workers sleep a little inside some
 * lock sections, 16 MomeSyncMem of the whole region. With 3 workers and ACTIONS 2, a node's
 * progress thread spun for ever in mome_req_released (a deferred WEAK refresh deferred itself
 * again), and the job hung: 3 jobs in 20.
 */
#include <pthread.h>
#include <unistd.h>

#include "itest.h"

#define NPAGES 4
#define CPP 4 /* counters per page */
#define NCOUNTERS (NPAGES * CPP)
#define MAXT 8

static int rounds, iters, T, actions, nest, me, n;
static uint64_t seed;
static size_t ps;
static volatile uint64_t *base;
static pthread_barrier_t pb;
static int done;
static const int models[3] = {MOME_STRONG, MOME_RELEASE, MOME_WEAK};

static volatile uint64_t *page(int p)
{
    return base + (size_t)p * ps / 8;
}
/* Counter k: page k % NPAGES, word 8 * (k / NPAGES). */
static volatile uint64_t *counter(int k)
{
    return page(k % NPAGES) + 8 * (k / NPAGES);
}

/* Worker t of a node: 8 words after the counters of page slot % NPAGES; words 0-5 are data, word
 * 7 the worker's tally of increments. */
static volatile uint64_t *words(int node, int t)
{
    int s = node * MAXT + t;
    return page(s % NPAGES) + 64 + (size_t)(s / NPAGES) * 8;
}

static void *syncer(void *arg)
{
    uint64_t x = seed * 2654435761u + (uint64_t)me * 77 + 1;
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&pb);
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < T) {
            int p = (int)(itest_rand(&x) % NPAGES);
            if (actions & 1)
                CHECK(MomeRelease() != 0, "MomeRelease");
            if (actions & 2)
                MUST(MomeSyncMem((void *)page(p), ps, MomeClock()));
            if (actions & 16)
                MUST(MomeSyncMem((void *)base, NPAGES * ps, MomeClock()));
            if (actions & 4)
                MUST(MomeConsistency((void *)page(p), ps, models[itest_rand(&x) % 3]));
            if (itest_rand(&x) % 4 == 0)
                usleep((useconds_t)(itest_rand(&x) % 100));
        }
        pthread_barrier_wait(&pb);
        pthread_barrier_wait(&pb);
    }
    return arg;
}

static uint64_t tally[MAXT];

static void check(int r)
{
    CHECK(MomeBarrier() != 0, "MomeBarrier");
    MUST(MomeSyncMem((void *)base, NPAGES * ps, MomeLastBarrierDate()));
    uint64_t total = 0, want = 0;
    for (int k = 0; k < NCOUNTERS; k++)
        total += *counter(k);
    for (int node = 0; node < n; node++)
        for (int t = 0; t < T; t++) {
            want += words(node, t)[7];
            itest_check_words(words(node, t), r, node, t, iters, 6);
        }
    CHECK(total == want, "round %d: counters add up to %llu, tallies to %llu", r,
          (unsigned long long)total, (unsigned long long)want);
    CHECK(MomeBarrier() != 0, "MomeBarrier");
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + (uint64_t)me * 1000 + (uint64_t)t + 7;
    uint64_t seen[NCOUNTERS] = {0};
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&pb);
        for (int i = 0; i < iters; i++) {
            int k = (int)(itest_rand(&x) % NCOUNTERS);
            int k2 = -1;
            if (nest && itest_rand(&x) % 3 == 0) {
                k2 = (int)(itest_rand(&x) % NCOUNTERS);
                if (k2 == k)
                    k2 = -1;
                else if (k2 < k) {
                    int tmp = k;
                    k = k2;
                    k2 = tmp;
                }
            }
            MUST(MomeLock(100 + k));
            if (k2 >= 0)
                MUST(MomeLock(100 + k2));
            MUST(MomeSyncMem((void *)counter(k), 8, MomeClock()));
            if (k2 >= 0)
                MUST(MomeSyncMem((void *)counter(k2), 8, MomeClock()));
            uint64_t v = *counter(k);
            CHECK(v >= seen[k], "node %d thread %d: counter %d reads %llu after lock, it saw %llu",
                  me, t, k, (unsigned long long)v, (unsigned long long)seen[k]);
            if ((actions & 8) && itest_rand(&x) % 8 == 0)
                usleep(50);
            *counter(k) = v + 1;
            seen[k] = v + 1;
            tally[t]++;
            if (k2 >= 0) {
                uint64_t v2 = *counter(k2);
                CHECK(v2 >= seen[k2], "node %d thread %d: counter %d reads %llu, it saw %llu", me,
                      t, k2, (unsigned long long)v2, (unsigned long long)seen[k2]);
                *counter(k2) = v2 + 1;
                seen[k2] = v2 + 1;
                tally[t]++;
                MUST(MomeUnlock(100 + k2));
            }
            MUST(MomeUnlock(100 + k));
            words(me, t)[i % 6] = itest_word(r, me, t, i);
            words(me, t)[7] = tally[t];
            CHECK(words(me, t)[i % 6] == itest_word(r, me, t, i), "own word reads back %#llx",
                  (unsigned long long)words(me, t)[i % 6]);
        }
        __atomic_add_fetch(&done, 1, __ATOMIC_ACQ_REL);
        pthread_barrier_wait(&pb);
        if (t == 0) {
            __atomic_store_n(&done, 0, __ATOMIC_RELEASE);
            check(r);
        }
        pthread_barrier_wait(&pb);
    }
    return arg;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atoi(argv[1]) : 4;
    iters = argc > 2 ? atoi(argv[2]) : 50;
    seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    T = argc > 4 ? atoi(argv[4]) : 2;
    actions = argc > 5 ? atoi(argv[5]) : 3;
    nest = argc > 6 ? atoi(argv[6]) : 0;
    itest_init(&argc, &argv);
    me = MomeNode();
    n = MomeNodes();
    ps = MomePageSize();
    CHECK(rounds >= 1 && iters >= 1 && T >= 1 && T <= MAXT && n * MAXT <= NPAGES * 7,
          "usage: sync_threads ROUNDS ITERS SEED T (1-%d) ACTIONS NEST, at most %d nodes", MAXT,
          NPAGES * 7 / MAXT);
    base = itest_map("sync_threads", NPAGES * ps, NULL);
    for (int p = 0; p < NPAGES; p++)
        MUST(MomeConsistency((void *)page(p), ps, models[(p + me + (int)seed) % 3]));
    CHECK(MomeBarrier() != 0, "MomeBarrier");

    pthread_t th[MAXT + 1];
    pthread_barrier_init(&pb, NULL, T + 1);
    for (int t = 1; t < T; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    pthread_create(&th[T], NULL, syncer, NULL);
    /* Worker 0 is a thread too: the main thread joins them all, then finalizes. */
    pthread_create(&th[0], NULL, worker, (void *)(intptr_t)0);
    for (int t = 0; t <= T; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&pb);
    if (me == 0)
        printf("sync_threads: %d nodes x %d workers, %d rounds of %d, syncer actions %d, nest %d: "
               "every increment and word seen\n",
               n, T, rounds, iters, actions, nest);
    MUST(MomeFinalize());
    return 0;
}
