/*
 * switch_threads.c - a thread of each node switches pages between STRONG, RELEASE and WEAK while
 * two other threads write them: lock-protected counters on page 0 (each increment after a
 * MomeSyncMem, so that it holds under WEAK too) and words of their own, without locks, on pages
 * 1 and 2. After each round every node must see every increment and every word.
 *
 * Arguments: ROUNDS ITERS PAGES SEED. PAGES: which pages the switching thread switches ("all",
 * "words": pages 1 and 2 only, or "one": the words are on page 0 with the counters, which is
 * switched between STRONG and WEAK). An audit's program, before MomeConsistency waited for the
 * node's lock sections, lost increments in every run. Switching the pages written without locks
 * found three more defects, each in 1 run in 15 to 30 (a copy silently dropped by a switch, from
 * which its manager's node was asked to serve a reader; a flush during a refresh keeping writes;
 * a MomeSyncMem served by a request sent before the caller's acquire, or whose answer was dropped
 * because another thread had written the page meanwhile).
 *
 * With the words beside the counters (helper-50's audit), a write fault's upgrade was in flight
 * when the page switched from WEAK to STRONG, and the WEAK copy stayed readable until it landed:
 * the next lock holder read a counter one short (9 of 10 jobs).
 *
 * Then, on each node: a switch waits for another thread's lock section to end, and a switch by a
 * thread holding a lock while another thread holds one fails with EDEADLK.
 */
#include <pthread.h>
#include <unistd.h>

#include "itest.h"

#define WORKERS 2
#define NPAGES 3
#define COUNTERS 4

static int rounds, iters, words_only, one_page, me, n;
static uint64_t seed;
static size_t ps;
static volatile uint64_t *base;
static pthread_barrier_t pb;
static int done; /* workers done with the round (atomic) */
static const int models[3] = {MOME_STRONG, MOME_RELEASE, MOME_WEAK};

static volatile uint64_t *page(int p)
{
    return base + (size_t)p * ps / 8;
}

/* Worker t's words: 8 of them, on page 1 or 2 (with the counters on page 0 in "one" mode). */
static volatile uint64_t *words(int node, int t)
{
    int k = node * WORKERS + t;
    if (one_page)
        return page(0) + 64 + (size_t)k * 8;
    return page(1 + k % 2) + (size_t)(k / 2) * 8;
}

static void *switcher(void *arg)
{
    uint64_t x = seed * 2654435761u + (uint64_t)me + 1;
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&pb);
        while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < WORKERS) {
            int p = words_only ? 1 + (int)(itest_rand(&x) % 2) : (int)(itest_rand(&x) % NPAGES);
            int m = models[itest_rand(&x) % 3];
            if (one_page) /* STRONG and WEAK in turn: the pair that lost increments */
                p = 0, m = itest_rand(&x) % 2 ? MOME_STRONG : MOME_WEAK;
            MUST(MomeConsistency((void *)page(p), ps, m));
            usleep((useconds_t)(itest_rand(&x) % 200));
        }
        pthread_barrier_wait(&pb);
    }
    return arg;
}

static void barrier(void)
{
    CHECK(MomeBarrier() != 0, "MomeBarrier failed");
}

/* After round r: every increment, every node's last words. */
static void check(int r)
{
    barrier();
    MUST(MomeConsistency((void *)base, NPAGES * ps, MOME_RELEASE)); /* current after the barrier */
    uint64_t total = 0;
    for (int k = 0; k < COUNTERS; k++)
        total += page(0)[8 * k];
    CHECK(total == (uint64_t)(r + 1) * (uint64_t)(n * WORKERS * iters),
          "round %d: the counters add up to %llu, %d increments were made", r,
          (unsigned long long)total, (r + 1) * n * WORKERS * iters);
    for (int node = 0; node < n; node++)
        for (int t = 0; t < WORKERS; t++)
            itest_check_words(words(node, t), r, node, t, iters, 8);
    barrier(); /* nobody writes round r + 1 before everyone checked */
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_wait(&pb);
        for (int i = 0; i < iters; i++) {
            int k = (i + t + me) % COUNTERS;
            MUST(MomeLock(100 + k));
            MUST(MomeSyncMem((void *)page(0), ps, MomeClock()));
            page(0)[8 * k] = page(0)[8 * k] + 1;
            MUST(MomeUnlock(100 + k));
            words(me, t)[i % 8] = itest_word(r, me, t, i);
            CHECK(words(me, t)[i % 8] == itest_word(r, me, t, i),
                  "a thread's own word reads back %#llx", (unsigned long long)words(me, t)[i % 8]);
        }
        __atomic_add_fetch(&done, 1, __ATOMIC_ACQ_REL);
        pthread_barrier_wait(&pb);
        if (t == 0) {
            __atomic_store_n(&done, 0, __ATOMIC_RELEASE);
            check(r);
        }
    }
    return arg;
}

/* ---- the node's own threads: waiting for a section, refusing when it could deadlock ---- */

static pthread_barrier_t pair;
static int unlocked; /* atomic: set by holder */

static void *holder(void *arg)
{
    MUST(MomeLock(500 + me));
    pthread_barrier_wait(&pair);
    usleep(20000); /* the switch is called meanwhile; it must not end before the unlock */
    __atomic_store_n(&unlocked, 1, __ATOMIC_RELEASE);
    MUST(MomeUnlock(500 + me));
    pthread_barrier_wait(&pair); /* then: this thread holds a lock while the other switches */
    MUST(MomeLock(600 + me));
    pthread_barrier_wait(&pair);
    pthread_barrier_wait(&pair);
    MUST(MomeUnlock(600 + me));
    return arg;
}

static void sections(void)
{
    pthread_t th;
    pthread_barrier_init(&pair, NULL, 2);
    pthread_create(&th, NULL, holder, NULL);
    pthread_barrier_wait(&pair);
    MUST(MomeConsistency((void *)page(1), ps, MOME_STRONG));
    CHECK(__atomic_load_n(&unlocked, __ATOMIC_ACQUIRE),
          "MomeConsistency returned while another thread of the node held lock %d", 500 + me);
    pthread_barrier_wait(&pair);
    MUST(MomeLock(700 + me));
    pthread_barrier_wait(&pair);
    errno = 0;
    CHECK(MomeConsistency((void *)page(1), ps, MOME_RELEASE) == -1 && errno == EDEADLK &&
              strstr(MomeError(), "holds lock"),
          "a switch in a lock section while another thread holds a lock: errno %d", errno);
    pthread_barrier_wait(&pair);
    pthread_join(th, NULL);
    MUST(MomeConsistency((void *)page(1), ps, MOME_WEAK)); /* in its own section, alone: fine */
    MUST(MomeUnlock(700 + me));
    pthread_barrier_destroy(&pair);
}

int main(int argc, char **argv)
{
    rounds = argc > 1 ? atoi(argv[1]) : 4;
    iters = argc > 2 ? atoi(argv[2]) : 50;
    words_only = argc > 3 && !strcmp(argv[3], "words");
    one_page = argc > 3 && !strcmp(argv[3], "one");
    seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
    itest_init(&argc, &argv);
    CHECK(rounds >= 1 && iters >= 1, "usage: switch_threads ROUNDS ITERS [all|words|one [SEED]]");
    me = MomeNode();
    n = MomeNodes();
    ps = MomePageSize();
    CHECK(n * WORKERS * 64 + 512 <= (int)ps, "too many nodes for the words' pages");
    base = itest_map("switch_threads", NPAGES * ps, NULL);
    MUST(MomeConsistency((void *)base, NPAGES * ps, MOME_RELEASE));
    barrier();

    pthread_t th[WORKERS + 1];
    pthread_barrier_init(&pb, NULL, WORKERS + 1);
    for (int t = 1; t < WORKERS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    pthread_create(&th[WORKERS], NULL, switcher, NULL);
    worker((void *)0);
    for (int t = 1; t <= WORKERS; t++)
        pthread_join(th[t], NULL);
    pthread_barrier_destroy(&pb);

    sections();
    barrier();
    if (me == 0)
        printf("switch_threads: %d nodes, %d rounds of %d increments and words per thread, "
               "switching %s pages: all seen\n",
               n, rounds, iters,
               words_only ? "the words'"
               : one_page ? "the counters' and words' page"
                          : "all");
    MUST(MomeFinalize());
    return 0;
}
