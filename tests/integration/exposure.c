/*
 * exposure.c - a job that keeps checking its own data while the test does something from outside
 * (starts a second job with the same segment names, writes garbage to the job's TCP ports, looks
 * at where its nodes are bound): every round each node writes TOKEN + round into its slot of the
 * segment "exposure", and after a barrier every node checks every slot.
 *
 *   exposure TOKEN READY_FILE GO_FILE
 *
 * Node 0 creates READY_FILE after the first round (the nodes are connected); the nodes keep going
 * until node 0 sees GO_FILE, then do 20 more rounds and finish. A slot holding anything but this
 * job's value fails the job.
 */
#include <unistd.h>

#include "itest.h"

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    CHECK(argc == 4, "usage: exposure TOKEN READY_FILE GO_FILE");
    uint64_t token = strtoull(argv[1], NULL, 0) << 20;
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize();
    volatile uint64_t *slot = itest_map("exposure", ps * (size_t)(n + 1), NULL);
    volatile uint64_t *stop = slot + (size_t)n * ps / sizeof(uint64_t); /* a page of its own */
    uint64_t until = UINT64_MAX;

    for (uint64_t r = 1; r <= until; r++) {
        slot[(size_t)me * ps / sizeof(uint64_t)] = token + r;
        MomeBarrier();
        for (int i = 0; i < n; i++) {
            uint64_t v = slot[(size_t)i * ps / sizeof(uint64_t)];
            CHECK(v == token + r, "round %llu: slot of node %d holds %#llx, not %#llx",
                  (unsigned long long)r, i, (unsigned long long)v,
                  (unsigned long long)(token + r));
        }
        if (me == 0 && r == 1) {
            FILE *f = fopen(argv[2], "w");
            CHECK(f != NULL, "cannot create %s", argv[2]);
            fclose(f);
        }
        if (me == 0 && !*stop && access(argv[3], F_OK) == 0)
            *stop = r;
        MomeBarrier();
        if (until == UINT64_MAX && *stop)
            until = *stop + 20;
    }
    MUST(MomeFinalize());
    if (me == 0)
        printf("exposure: token %s: %llu rounds, every slot held this job's value\n", argv[1],
               (unsigned long long)until);
    return 0;
}
