/*
 * litmus_iriw.c - independent reads of independent writes (4 nodes) on STRONG pages: node 0 writes
 * x, node 1 writes y; node 2 waits for x then reads y, node 3 waits for y then reads x. Writes are
 * seen in one order by everyone, so both readers cannot miss the other write.
 */
#include "itest.h"

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    char *a = itest_map("iriw", ps * 3 * (size_t)rounds, NULL);
    int seen_both = 0;

    CHECK(n == 4, "IRIW needs 4 nodes, got %d", n);
    for (int r = 0; r < rounds; r++) {
        volatile uint64_t *x = (volatile uint64_t *)(a + ps * (size_t)(3 * r));
        volatile uint64_t *y = (volatile uint64_t *)(a + ps * (size_t)(3 * r + 1));
        volatile uint64_t *out = (volatile uint64_t *)(a + ps * (size_t)(3 * r + 2));
        MomeBarrier();
        switch (me) {
        case 0: *x = 1; break;
        case 1: *y = 1; break;
        case 2:
            while (*x == 0)
                ;
            out[0] = 10 + *y;
            break;
        case 3:
            while (*y == 0)
                ;
            out[1] = 10 + *x;
            break;
        }
        MomeBarrier();
        if (me == 0) {
            uint64_t r2 = out[0] - 10, r3 = out[1] - 10;
            CHECK(!(r2 == 0 && r3 == 0), "round %d: node 2 saw x before y and node 3 saw y "
                                         "before x: writes seen in different orders", r);
            seen_both += r2 == 1 && r3 == 1;
        }
    }
    MomeBarrier();
    if (me == 0)
        printf("litmus IRIW: %d rounds, no reader pair disagreed on the write order (%d rounds "
               "saw both)\n", rounds, seen_both);
    MomeFinalize();
    return 0;
}
