/*
 * flag_pingpong.c - a counter bounced between nodes through STRONG flag pages, spinning as the
 * user guide shows: node 2k writes ping = i and spins until pong == i; node 2k+1 spins until
 * ping == i and writes pong = i. With 4 nodes, pairs (0,1) and (2,3) bounce at once, each on its
 * own two pages. Each mode runs in the same job, in turns (bare, yield, bare, yield...), so that
 * a change in load hits both alike:
 *   bare   while (*pong != i) ;
 *   yield  while (*pong != i) sched_yield();
 *   poll   while (*pong != i) MomePoll();
 * Prints microseconds per round trip for each mode (the median of the turns, seen by node 0) and
 * the ratio bare/yield; checks every value read (a node that sees a counter it was not waiting
 * for, or a value going backwards, stops the job).
 *
 * With `reads` > 0, each round trip also carries a stream of faults before the spin: node 2k
 * writes one word in each of `reads` pages of its pair (9 pages apart, so that no read-ahead
 * fetches them) before it writes ping, and node 2k+1, once it has seen ping, reads them all
 * (each read a remote fault: its copies went with node 2k's writes) and checks that each holds
 * the round trip's counter, then writes pong. A progress thread that stays busy or runnable after
 * such a stream, instead of sleeping, keeps the spinning node's messages waiting (design.md
 * section 2): this mode shows it.
 *
 *   mome-run -n 2|4 ./flag_pingpong [round_trips [turns [modes [reads]]]]  (modes: bare,yield...)
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mome.h>

enum { BARE, YIELD, POLL, NMODES };
static const char *mode_name[NMODES] = {"bare", "yield", "poll"};

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void fail(const char *what, uint64_t want, uint64_t got)
{
    fprintf(stderr, "flag_pingpong: node %d: %s: expected %llu, read %llu\n", MomeNode(), what,
            (unsigned long long)want, (unsigned long long)got);
    MomeAbort(1, "flag_pingpong read a wrong value");
}

/* Spin until *flag == want; the value may only be want - 1 meanwhile. */
static void spin(volatile uint64_t *flag, uint64_t want, int mode, const char *what)
{
    uint64_t v;
    while ((v = *flag) != want) {
        if (v != want - 1)
            fail(what, want, v);
        if (mode == YIELD)
            sched_yield();
        else if (mode == POLL)
            MomePoll();
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "flag_pingpong: %s\n", MomeError());
        return 1;
    }
    long trips = argc > 1 ? atol(argv[1]) : 2000;
    int turns = argc > 2 ? atoi(argv[2]) : 3;
    const char *modes = argc > 3 ? argv[3] : "bare,yield";
    long reads = argc > 4 ? atol(argv[4]) : 0;
    int me = MomeNode(), n = MomeNodes(), use[NMODES] = {0}, nuse = 0;
    if (trips <= 0 || turns <= 0 || turns > 100 || n < 2 || n % 2 || reads < 0 || reads > 4096) {
        fprintf(stderr, "usage: mome-run -n 2|4|... flag_pingpong [round_trips [turns "
                        "[bare,yield,poll [reads]]]] (an even number of nodes; reads: 0 to "
                        "4096 pages)\n");
        return 2;
    }
    for (int m = 0; m < NMODES; m++)
        if (strstr(modes, mode_name[m]))
            use[m] = 1, nuse++;
    if (!nuse) {
        fprintf(stderr, "flag_pingpong: modes are bare, yield and poll, not '%s'\n", modes);
        return 2;
    }
    size_t ps = MomePageSize(), spread = 9 * ps, pair_len = spread * (size_t)reads;
    size_t len = ps * (size_t)n + pair_len * (size_t)(n / 2);
    int seg = MomeSegOpen("flag_pingpong", len, MOME_CREATE);
    char *a = MomeMMap(NULL, len, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (a == MOME_MAP_FAILED) {
        fprintf(stderr, "flag_pingpong: %s\n", MomeError());
        return 1;
    }
    /* Pair p = me / 2: its ping page is 2p, its pong page 2p + 1. */
    volatile uint64_t *ping = (volatile uint64_t *)(a + ps * (size_t)(me & ~1));
    volatile uint64_t *pong = (volatile uint64_t *)(a + ps * (size_t)(me | 1));
    char *pages = a + ps * (size_t)n + pair_len * (size_t)(me / 2); /* this pair's, if reads */
    double us[NMODES][100];
    uint64_t base = 0;

    MomeBarrier();
    for (int t = 0; t < turns; t++) {
        for (int m = 0; m < NMODES; m++) {
            if (!use[m])
                continue;
            /* One warm-up round trip, then the timed ones; the counter never goes back. */
            spin(ping, base, BARE, "ping before the turn");
            MomeBarrier();
            double t0 = 0;
            for (long i = 0; i <= trips; i++) {
                uint64_t v = base + 1 + (uint64_t)i;
                if (i == 1)
                    t0 = now_us();
                if (me % 2 == 0) {
                    for (long r = 0; r < reads; r++)
                        *(volatile uint64_t *)(pages + spread * (size_t)r) = v;
                    *ping = v;
                    spin(pong, v, m, "pong");
                } else {
                    spin(ping, v, m, "ping");
                    for (long r = 0; r < reads; r++) {
                        uint64_t got = *(volatile uint64_t *)(pages + spread * (size_t)r);
                        if (got != v)
                            fail("a page written before ping", v, got);
                    }
                    *pong = v;
                }
            }
            us[m][t] = (now_us() - t0) / (double)trips;
            base += (uint64_t)trips + 1;
            MomeBarrier();
        }
    }
    if (me == 0) {
        double med[NMODES] = {0};
        printf("flag_pingpong: %d nodes (%d pair(s)), %ld round trips x %d turns, %ld reads "
               "each:",
               n, n / 2, trips, turns, reads);
        for (int m = 0; m < NMODES; m++) {
            if (!use[m])
                continue;
            qsort(us[m], (size_t)turns, sizeof(double), cmp);
            med[m] = turns % 2 ? us[m][turns / 2] : (us[m][turns / 2 - 1] + us[m][turns / 2]) / 2;
            printf(" %s_us %.2f", mode_name[m], med[m]);
        }
        if (use[BARE] && use[YIELD])
            printf(" bare/yield %.2f", med[BARE] / med[YIELD]);
        printf("\n");
        fflush(stdout);
    }
    MomeFinalize();
    return 0;
}
