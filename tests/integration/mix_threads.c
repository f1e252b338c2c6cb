/*
 * mix_threads.c - a thread of each node switches pages between models while the other threads
 * take locks, write words of their own and meet in MomeBarrier (helper-52's audit). T workers per
 * node increment lock-protected counters (each after a MomeSyncMem of the counter), keep a tally
 * word each, and write slots whose owner (node, thread) changes every round, without locks; every
 * node reads every slot after the round's MomeBarrier. After each round the counters must add up
 * to the tallies and every slot must hold its owner's word.
 *
 *   mix_threads ROUNDS ITERS SEED T MODE
 *
 * MODE, a bit mask: 1 the switcher never stops (it switches through MomeBarrier and the check;
 * otherwise it waits while the round is checked); 2 only node 0 switches; 4 node 0's workers make
 * no increments (read-only lock sections) and write no slots; 8 the switcher also calls
 * MomeRelease and MomeSyncMem; 16 each round is three phases, each with a MomeBarrier and a check.
 * With modes 25, 9 and 17, a switch during another thread's MomeBarrier failed 1 job in 25 before
 * the fixes of design.md section 9. MIX_THREADS_LOG=PREFIX writes every increment and switch with
 * its CLOCK_MONOTONIC time (that of MOME_TRACE records) to PREFIX.NODE.log, for a failure to be
 * traced (named apart from MOME_TRACE=PREFIX.%n: the same prefix once overwrote both).
 */
#include <pthread.h>
#include <unistd.h>
#include "itest.h"

#define NPAGES 4
#define CPP 4
#define NCOUNTERS (NPAGES * CPP)
#define MAXT 6
#define NSLOTS (NPAGES * 32)

static int rounds, iters, T, mode, me, n;
static uint64_t seed;
static size_t ps;
static volatile uint64_t *base;
static pthread_barrier_t pb;
static int stop; /* all rounds over */
static int done; /* workers done with the phase being checked */
static pthread_mutex_t idle_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle_cv = PTHREAD_COND_INITIALIZER;
static const int models[3] = {MOME_STRONG, MOME_RELEASE, MOME_WEAK};

static volatile uint64_t *page(int p)
{
    return base + (size_t)p * ps / 8;
}
static volatile uint64_t *counter(int k)
{
    return page(k % NPAGES) + 8 * (k / NPAGES);
}
static volatile uint64_t *tallyw(int node, int t)
{
    int s = node * MAXT + t;
    return page(s % NPAGES) + 64 + (size_t)(s / NPAGES) * 8;
}
static volatile uint64_t *slot(int s)
{
    return page(s % NPAGES) + 128 + s / NPAGES;
}
/* Diagnosis only: thread t of node `node`'s increments of counter k, on a page of their own
 * (RELEASE, never switched), so that a check that fails names the counter that lost them. */
static volatile uint64_t *incs(int node, int t, int k)
{
    return page(NPAGES) + ((size_t)node * MAXT + (size_t)t) * NCOUNTERS + (size_t)k;
}
/*
 * Diagnosis only (MIX_THREADS_LOG=PREFIX): every increment and every switch, with CLOCK_MONOTONIC
 * times (the clock of MOME_TRACE records), in PREFIX.NODE.log, flushed at each check.
 */
static FILE *dlog;
static int first_writer(void)
{
    return (mode & 4) ? 1 : 0;
}
static void owner(int s, int ph, int *node, int *t)
{
    int nw = n - first_writer();
    *node = first_writer() + (s + ph) % nw;
    *t = (s / nw + ph) % T;
}

static void *switcher(void *arg)
{
    uint64_t x = seed * 2654435761u + (uint64_t)me * 77 + 1;
    if ((mode & 2) && me != 0)
        return arg;
    for (;;) {
        pthread_mutex_lock(&idle_mu); /* unless MODE 1, wait while the round is checked */
        while (!stop && !(mode & 1) && done >= T)
            pthread_cond_wait(&idle_cv, &idle_mu);
        int over = stop;
        pthread_mutex_unlock(&idle_mu);
        if (over)
            break;
        int p = (int)(itest_rand(&x) % NPAGES);
        if (mode & 8) {
            if (itest_rand(&x) % 3 == 0)
                CHECK(MomeRelease() != 0, "MomeRelease");
            if (itest_rand(&x) % 3 == 0)
                MUST(MomeSyncMem((void *)page(p), ps, MomeClock()));
        }
        int model = models[itest_rand(&x) % 3];
        uint64_t t0 = dlog ? itest_now_ns() : 0;
        MUST(MomeConsistency((void *)page(p), ps, model));
        if (dlog)
            fprintf(dlog, "switch %llu %llu page %d model %d\n", (unsigned long long)t0,
                    (unsigned long long)itest_now_ns(), p, model);
        if (itest_rand(&x) % 4 == 0)
            usleep((useconds_t)(itest_rand(&x) % 100));
    }
    return arg;
}

/* done += D, or done = 0 if D is 0, or stop if D < 0; wakes the switcher */
static void progress(int d)
{
    pthread_mutex_lock(&idle_mu);
    if (d > 0)
        done += d;
    else if (d == 0)
        done = 0;
    else
        stop = 1;
    pthread_cond_broadcast(&idle_cv);
    pthread_mutex_unlock(&idle_mu);
}

static uint64_t tally[MAXT];

static void check(int ph)
{
    CHECK(MomeBarrier() != 0, "MomeBarrier");
    MUST(MomeSyncMem((void *)base, NPAGES * ps, MomeLastBarrierDate()));
    uint64_t total = 0, want = 0;
    for (int k = 0; k < NCOUNTERS; k++)
        total += *counter(k);
    for (int node = 0; node < n; node++)
        for (int t = 0; t < T; t++)
            want += tallyw(node, t)[0];
    for (int s = 0; s < NSLOTS; s++) {
        int on, ot;
        owner(s, ph, &on, &ot);
        CHECK(*slot(s) == itest_word(ph, on, ot, s),
              "phase %d: slot %d is %#llx, node %d thread %d wrote %#llx", ph, s,
              (unsigned long long)*slot(s), on, ot, (unsigned long long)itest_word(ph, on, ot, s));
    }
    if (dlog)
        fflush(dlog);
    if (total != want) {
        MUST(MomeSyncMem((void *)page(NPAGES), ps, MomeLastBarrierDate()));
        for (int k = 0; k < NCOUNTERS; k++) {
            uint64_t sum = 0;
            for (int node = 0; node < n; node++)
                for (int t = 0; t < T; t++)
                    sum += *incs(node, t, k);
            if (sum != *counter(k))
                fprintf(stderr,
                        "node %d: phase %d: counter %d (page %d, word %d) is %llu, its "
                        "increments %llu\n",
                        me, ph, k, k % NPAGES, 8 * (k / NPAGES), (unsigned long long)*counter(k),
                        (unsigned long long)sum);
        }
    }
    CHECK(total == want, "phase %d: counters add up to %llu, tallies to %llu", ph,
          (unsigned long long)total, (unsigned long long)want);
    CHECK(MomeBarrier() != 0, "MomeBarrier");
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + (uint64_t)me * 1000 + (uint64_t)t + 7;
    uint64_t seen[NCOUNTERS] = {0}, mine[NCOUNTERS] = {0};
    int sub = (mode & 16) ? 3 : 1;
    int ro = (mode & 4) && me == 0;
    for (int ph = 0; ph < rounds * sub; ph++) {
        pthread_barrier_wait(&pb);
        int my = iters / sub;
        for (int i = 0; i < my; i++) {
            int k = (int)(itest_rand(&x) % NCOUNTERS);
            uint64_t t0 = dlog ? itest_now_ns() : 0;
            MUST(MomeLock(100 + k));
            uint64_t t1 = dlog ? itest_now_ns() : 0;
            MUST(MomeSyncMem((void *)counter(k), 8, MomeClock()));
            uint64_t v = *counter(k);
            CHECK(v >= seen[k], "node %d thread %d: counter %d reads %llu after lock, it saw %llu",
                  me, t, k, (unsigned long long)v, (unsigned long long)seen[k]);
            if (!ro) {
                *counter(k) = v + 1;
                seen[k] = v + 1;
                tally[t]++;
            } else
                seen[k] = v;
            MUST(MomeUnlock(100 + k));
            if (dlog)
                fprintf(dlog, "inc %llu %llu %llu t %d ph %d k %d v %llu\n", (unsigned long long)t0,
                        (unsigned long long)t1, (unsigned long long)itest_now_ns(), t, ph, k,
                        (unsigned long long)v);
            if (!ro) {
                tallyw(me, t)[0] = tally[t];
                *incs(me, t, k) = ++mine[k];
                /* write my slots of this phase, a few at a time */
                int s = (int)(itest_rand(&x) % NSLOTS);
                for (int j = 0; j < NSLOTS; j++, s = (s + 1) % NSLOTS) {
                    int on, ot;
                    owner(s, ph, &on, &ot);
                    if (on == me && ot == t) {
                        *slot(s) = (i == my - 1) ? itest_word(ph, me, t, s)
                                                 : itest_word(ph, me, t, s) ^ 1ull << 60;
                        if (i != my - 1)
                            break;
                    }
                }
            }
        }
        if (!ro) /* be sure every slot holds its final value */
            for (int s = 0; s < NSLOTS; s++) {
                int on, ot;
                owner(s, ph, &on, &ot);
                if (on == me && ot == t)
                    *slot(s) = itest_word(ph, me, t, s);
            }
        progress(1);
        pthread_barrier_wait(&pb);
        if (t == 0) {
            check(ph);
            progress(0);
        }
        pthread_barrier_wait(&pb);
    }
    return arg;
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atoi(argv[1]) : 4;
    iters = argc > 2 ? atoi(argv[2]) : 60;
    seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    T = argc > 4 ? atoi(argv[4]) : 2;
    mode = argc > 5 ? atoi(argv[5]) : 1;
    itest_init(&argc, &argv);
    me = MomeNode();
    n = MomeNodes();
    ps = MomePageSize();
    const char *log = getenv("MIX_THREADS_LOG");
    if (log) {
        char path[4096];
        snprintf(path, sizeof(path), "%s.%d.log", log, me);
        dlog = fopen(path, "w");
        CHECK(dlog != NULL, "cannot write %s", path);
        setvbuf(dlog, NULL, _IOFBF, 1 << 20);
    }
    CHECK(rounds >= 1 && iters >= 3 && T >= 1 && T <= MAXT && n * MAXT <= NPAGES * 7 &&
              n - first_writer() >= 1,
          "usage: mix_threads ROUNDS (>= 1) ITERS (>= 3) SEED T (1-%d) MODE (a mask of 1-16), at "
          "most %d "
          "nodes (MODE 4: at least 2)",
          MAXT, NPAGES * 7 / MAXT);
    base = itest_map("mix_threads", (NPAGES + 1) * ps, NULL);
    MUST(MomeConsistency((void *)page(NPAGES), ps, MOME_RELEASE));
    for (int p = 0; p < NPAGES; p++)
        MUST(MomeConsistency((void *)page(p), ps, models[(p + me + (int)seed) % 3]));
    CHECK(MomeBarrier() != 0, "MomeBarrier");
    pthread_t th[MAXT + 1];
    pthread_barrier_init(&pb, NULL, T);
    for (int t = 0; t < T; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    pthread_create(&th[T], NULL, switcher, NULL);
    for (int t = 0; t < T; t++)
        pthread_join(th[t], NULL);
    progress(-1);
    pthread_join(th[T], NULL);
    pthread_barrier_destroy(&pb);
    CHECK(MomeBarrier() != 0, "MomeBarrier");
    if (me == 0)
        printf("mix_threads: %d nodes x %d workers, %d rounds of %d, mode %d: all seen\n", n, T,
               rounds, iters, mode);
    MUST(MomeFinalize());
    return 0;
}
