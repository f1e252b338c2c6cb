/*
 * spin_ring.c - a token passed around all nodes through STRONG flags, with no synchronisation call
 * at all: node k spins until flag k-1 holds the round number, then raises flag k. Every spinner
 * must see the change (sequential consistency needs no release/acquire).
 */
#include "itest.h"

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    char *a = itest_map("ring", ps * (size_t)n, NULL);
    volatile uint64_t *mine = (volatile uint64_t *)(a + ps * (size_t)me);
    volatile uint64_t *prev = (volatile uint64_t *)(a + ps * (size_t)((me + n - 1) % n));

    MomeBarrier();
    for (uint64_t r = 1; r <= (uint64_t)rounds; r++) {
        if (me != 0 || r > 1)
            while (*prev != (me == 0 ? r - 1 : r))
                ;
        *mine = r;
    }
    if (me == 0)
        while (*prev != (uint64_t)rounds)
            ;
    MomeBarrier();
    if (me == 0)
        printf("spin ring: token went %d times around %d nodes through STRONG flags\n", rounds,
               n);
    MomeFinalize();
    return 0;
}
