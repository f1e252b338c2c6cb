/*
 * flag_pingpong.c - the user guide's flag loop: a counter bounced between node 2k and node 2k+1
 * through two STRONG flag pages (node 2k writes ping = i and waits for pong == i; node 2k+1 waits
 * for ping == i and writes pong = i), spinning bare, with sched_yield() and with MomePoll(). With
 * 4 nodes two pairs bounce at once. Every value read is checked: a flag holds the last counter or
 * the one before, never anything else; at the end every node reads every pair's flags. Node 0
 * prints the time per round trip of each loop and the ratio bare/yield (printed, not checked:
 * timings belong to make bench, bench/flag_pingpong.c).
 *
 * Each node also prints its main thread's scheduling policy right after MomeInit ("policy: node N
 * SCHED_BATCH" or "SCHED_OTHER"; flag_pingpong.test matches it against the node's log), and
 * checks that MomeFinalize gave back the policy the thread had before MomeInit. A count of 0 runs
 * that alone, on any number of nodes.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <time.h>

#include "itest.h"

enum { BARE, YIELD, POLL, NMODES };
static const char *const mode_name[NMODES] = {"bare", "sched_yield", "MomePoll"};

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* Wait until *flag == want; meanwhile it may only hold want - 1. */
static void wait_for(volatile uint64_t *flag, uint64_t want, int mode, const char *name)
{
    uint64_t v;
    while ((v = *flag) != want) {
        CHECK(v == want - 1, "%s holds %llu while the node waits for %llu", name,
              (unsigned long long)v, (unsigned long long)want);
        if (mode == YIELD)
            sched_yield();
        else if (mode == POLL)
            MomePoll();
    }
}

static const char *policy_name(int p)
{
    return p == SCHED_OTHER ? "SCHED_OTHER" : p == SCHED_BATCH ? "SCHED_BATCH" : "another";
}

int main(int argc, char **argv)
{
    long trips = argc > 1 ? atol(argv[1]) : 200;
    int before = sched_getscheduler(0);
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    printf("policy: node %d %s\n", me, policy_name(sched_getscheduler(0)));
    fflush(stdout);
    if (trips == 0) { /* the policy alone, on any number of nodes */
        MomeBarrier();
        goto out;
    }
    CHECK(n % 2 == 0 && trips > 0, "needs an even number of nodes and a positive count");
    size_t ps = MomePageSize();
    char *a = itest_map("flag_pingpong", ps * (size_t)n, NULL);
    /* Pair p = me / 2: its ping flag on page 2p, its pong flag on page 2p + 1. */
    volatile uint64_t *ping = (volatile uint64_t *)(a + ps * (size_t)(me & ~1));
    volatile uint64_t *pong = (volatile uint64_t *)(a + ps * (size_t)(me | 1));
    double us[NMODES];
    uint64_t v = 0;

    MomeBarrier();
    for (int m = 0; m < NMODES; m++) {
        double t0 = now_us();
        for (long i = 0; i < trips; i++) {
            v++;
            if (me % 2 == 0) {
                *ping = v;
                wait_for(pong, v, m, "pong");
            } else {
                wait_for(ping, v, m, "ping");
                *pong = v;
            }
        }
        us[m] = (now_us() - t0) / (double)trips;
        MomeBarrier();
        /* Both flags of every pair hold the last counter, on every node. */
        for (int p = 0; p < n; p++) {
            uint64_t got = *(volatile uint64_t *)(a + ps * (size_t)p);
            CHECK(got == v, "after the %s loop, flag page %d holds %llu, not %llu", mode_name[m], p,
                  (unsigned long long)got, (unsigned long long)v);
        }
        MomeBarrier();
    }
    if (me == 0)
        printf("flag ping-pong on %d nodes, %ld round trips each: bare %.1f us, sched_yield %.1f "
               "us, MomePoll %.1f us per round trip; bare/yield %.2f\n",
               n, trips, us[BARE], us[YIELD], us[POLL], us[BARE] / us[YIELD]);
out:
    MomeFinalize();
    if (sched_getscheduler(0) != before) {
        fprintf(stderr, "node %d: check failed: after MomeFinalize the main thread is %s; before "
                "MomeInit it was %s\n", me, policy_name(sched_getscheduler(0)),
                policy_name(before));
        return 1;
    }
    return 0;
}
