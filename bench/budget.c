/*
 * budget.c - the cost of a page budget (MOME_LOCAL_PAGES): every node updates random pages of its
 * own working set of PAGES pages, ACCESSES times, and reports accesses per second, faults per
 * second, the cost of a fault and the page traffic (page-outs to nodes and to disk, page-ins).
 * run-bench.sh runs it on node 0 with no budget and with budgets of 1/2, 1/5 and 1/10 of the working
 * set, node 1 (ACCESSES 0, no budget) keeping the pages node 0 pages out,
 * per eviction policy, and with page-out to the swap file only (MOME_PAGEOUT=disk).
 *
 *   budget PAGES ACCESSES
 *
 * Output, one line per node: "budget node N pages P accesses A s S faults F outs_node O
 * outs_disk D ins I evictions E waited W".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mome.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    uint64_t pages = argc > 1 ? strtoull(argv[1], NULL, 0) : 2048;
    uint64_t accesses = argc > 2 ? strtoull(argv[2], NULL, 0) : 20000;
    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "budget: %s\n", MomeError());
        return 1;
    }
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    int h = MomeSegOpen("bench-budget", pages * ps * (uint64_t)n, MOME_CREATE);
    uint8_t *all = h < 0 ? MOME_MAP_FAILED
                         : MomeMMap(NULL, pages * ps * (uint64_t)n, MOME_READ | MOME_WRITE, 0, h, 0);
    if (all == MOME_MAP_FAILED) {
        fprintf(stderr, "budget: segment of %llu pages per node: %s\n",
                (unsigned long long)pages, MomeError());
        return 1;
    }
    uint8_t *a = all + (uint64_t)me * pages * ps;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(me + 1), sum = 0;

    /* First touch of every page (not measured), then random updates. */
    for (uint64_t p = 0; p < pages; p++)
        a[p * ps] = 1;
    MomeBarrier();
    MomeStatsT s0, s1;
    MomeStats(&s0);
    double t0 = now();
    for (uint64_t i = 0; i < accesses; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t p = x % pages;
        sum += a[p * ps + (i % ps)];
        a[p * ps + (i % ps)] = (uint8_t)i;
    }
    double t = now() - t0;
    MomeStats(&s1);
    printf("budget node %d pages %llu accesses %llu s %.6f faults %llu outs_node %llu outs_disk "
           "%llu ins %llu evictions %llu waited %llu (sum %llu)\n",
           me, (unsigned long long)pages, (unsigned long long)accesses, t,
           (unsigned long long)(s1.read_faults + s1.write_faults - s0.read_faults -
                                s0.write_faults),
           (unsigned long long)(s1.page_outs_node - s0.page_outs_node),
           (unsigned long long)(s1.page_outs_disk - s0.page_outs_disk),
           (unsigned long long)(s1.page_ins - s0.page_ins),
           (unsigned long long)(s1.evictions - s0.evictions),
           (unsigned long long)(s1.evictions_waited - s0.evictions_waited),
           (unsigned long long)sum);
    MomeBarrier();
    MomeFinalize();
    return 0;
}
