/*
 * false_sharing.c - nodes write interleaved bytes (byte i by node i mod nodes) of the same pages
 * between barriers, under STRONG, RELEASE or WEAK + MomeSyncMem. Prints the time, messages and
 * bytes per round (all nodes together); the last round is checked byte by byte.
 *
 * Two write orders: "sweep" writes one of its bytes in every page, then the next one in every
 * page, and so on (fine-grained false sharing, as per-node slots in an array of small records);
 * "page" writes all its bytes of a page before the next page (coarse: each node keeps a page for a
 * while, which suits STRONG's single writer).
 *
 *   mome-run -n 4 ./false_sharing strong|release|weak [pages] [rounds] [sweep|page]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mome.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *mname = argc > 1 ? argv[1] : "release";
    int pages = argc > 2 ? atoi(argv[2]) : 64;
    int rounds = argc > 3 ? atoi(argv[3]) : 20;
    int sweep = !(argc > 4 && !strcmp(argv[4], "page"));
    int model = !strcmp(mname, "strong") ? MOME_STRONG
                : !strcmp(mname, "weak") ? MOME_WEAK : MOME_RELEASE;

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "false_sharing: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode(), n = MomeNodes(), bad = 0;
    size_t len = MomePageSize() * (size_t)pages;
    int seg = MomeSegOpen("bench_false_sharing", len, MOME_CREATE);
    int rseg = MomeSegOpen("bench_false_sharing_stats", MomePageSize(), MOME_CREATE);
    volatile uint8_t *a = MomeMMap(NULL, len, MOME_READ | MOME_WRITE, 0, seg, 0);
    volatile uint64_t *res = MomeMMap(NULL, MomePageSize(), MOME_READ | MOME_WRITE, 0, rseg, 0);
    if (a == MOME_MAP_FAILED || res == MOME_MAP_FAILED || MomeConsistency((void *)a, len, model)) {
        fprintf(stderr, "false_sharing: %s\n", MomeError());
        return 1;
    }
    MomeStatsT s0, s1;
    MomeBarrier();
    MomeStats(&s0);
    double t0 = now_s();
    for (int r = 1; r <= rounds; r++) {
        size_t ps = MomePageSize();
        if (sweep) {
            for (size_t o = (size_t)me; o < ps; o += (size_t)n)
                for (size_t p = 0; p < len; p += ps)
                    a[p + o] = (uint8_t)(r + (int)(p + o));
        } else {
            for (size_t i = (size_t)me; i < len; i += (size_t)n)
                a[i] = (uint8_t)(r + (int)i);
        }
        MomeBarrier();
        if (model == MOME_WEAK)
            MomeSyncMem((void *)a, len, MomeLastBarrierDate());
    }
    double t = now_s() - t0;
    MomeStats(&s1);
    for (size_t i = 0; i < len; i++)
        bad += a[i] != (uint8_t)(rounds + (int)i);
    res[3 * me] = s1.msgs_sent - s0.msgs_sent;
    res[3 * me + 1] = s1.bytes_sent - s0.bytes_sent;
    res[3 * me + 2] = (uint64_t)bad;
    MomeBarrier();
    if (me == 0) {
        uint64_t msgs = 0, bytes = 0, wrong = 0;
        for (int k = 0; k < n; k++) {
            msgs += res[3 * k];
            bytes += res[3 * k + 1];
            wrong += res[3 * k + 2];
        }
        printf("false_sharing model=%s order=%s nodes=%d pages=%d rounds=%d round_ms=%.3f "
               "msgs_per_round=%.0f bytes_per_round=%.0f wrong=%llu\n",
               mname, sweep ? "sweep" : "page", n, pages, rounds, t * 1e3 / rounds,
               (double)msgs / rounds,
               (double)bytes / rounds, (unsigned long long)wrong);
    }
    MomeBarrier();
    MomeFinalize();
    return bad ? 1 : 0;
}
