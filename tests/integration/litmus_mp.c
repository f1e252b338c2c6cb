/*
 * litmus_mp.c - message passing on STRONG pages: a writer stores data then a flag (different
 * pages); every reader that sees the flag must see the data. Fresh pages every round.
 */
#include "itest.h"

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    char *a = itest_map("mp", ps * 2 * (size_t)rounds, NULL);
    int writer = 0;

    MomeBarrier();
    for (int r = 0; r < rounds; r++) {
        volatile uint64_t *data = (volatile uint64_t *)(a + ps * (size_t)(2 * r));
        volatile uint64_t *flag = (volatile uint64_t *)(a + ps * (size_t)(2 * r + 1));
        writer = r % n;
        if (me == writer) {
            data[7] = 1000u + (uint64_t)r;
            *flag = 1;
        } else {
            while (*flag == 0)
                ;
            CHECK(data[7] == 1000u + (uint64_t)r, "round %d: flag seen but data = %llu", r,
                  (unsigned long long)data[7]);
        }
    }
    MomeBarrier();
    if (me == 0)
        printf("litmus MP: %d rounds on %d nodes, data always visible with the flag\n", rounds, n);
    MomeFinalize();
    return 0;
}
