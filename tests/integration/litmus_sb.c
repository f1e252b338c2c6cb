/*
 * litmus_sb.c - store buffering on STRONG pages: node 0 does x=1; r0=y and node 1 does y=1; r1=x
 * at the same time. Sequential consistency forbids r0 == r1 == 0. Other nodes only watch.
 */
#include "itest.h"

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    char *a = itest_map("sb", ps * 2 * (size_t)rounds, NULL);
    int outcomes[4] = {0};
    (void)n;

    for (int r = 0; r < rounds; r++) {
        volatile uint64_t *x = (volatile uint64_t *)(a + ps * (size_t)(2 * r));
        volatile uint64_t *y = (volatile uint64_t *)(a + ps * (size_t)(2 * r + 1));
        uint64_t got = 2;
        MomeBarrier();
        if (me == 0) {
            *x = 1;
            got = *y;
        } else if (me == 1) {
            *y = 1;
            got = *x;
        }
        /* Share the two results through a STRONG page of round r's segment part. */
        if (me <= 1)
            ((volatile uint64_t *)(a + ps * (size_t)(2 * r)))[1 + me] = got + 10;
        MomeBarrier();
        if (me == 0) {
            uint64_t r0 = ((volatile uint64_t *)x)[1] - 10, r1 = ((volatile uint64_t *)x)[2] - 10;
            CHECK(r0 <= 1 && r1 <= 1, "round %d: bad results %llu %llu", r,
                  (unsigned long long)r0, (unsigned long long)r1);
            outcomes[r0 * 2 + r1]++;
            CHECK(!(r0 == 0 && r1 == 0), "round %d: r0 == r1 == 0, forbidden under STRONG", r);
        }
    }
    MomeBarrier();
    if (me == 0)
        printf("litmus SB: %d rounds: (0,1) %d, (1,0) %d, (1,1) %d, (0,0) %d (forbidden)\n",
               rounds, outcomes[1], outcomes[2], outcomes[3], outcomes[0]);
    MomeFinalize();
    return 0;
}
