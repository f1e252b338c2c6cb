/*
 * multiview.c - several MomeMMap views of the same segment pages in one process stay coherent with
 * each other and with other nodes; a write through a MOME_READ view raises SIGSEGV.
 */
#include <setjmp.h>
#include <signal.h>

#include "itest.h"

static sigjmp_buf jb;
static volatile sig_atomic_t segv;

static void on_segv(int sig)
{
    segv = 1;
    siglongjmp(jb, 1);
}

int main(int argc, char **argv)
{
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t ps = MomePageSize(), len = ps * 8;
    int seg = MomeSegOpen("views", len, MOME_CREATE);
    CHECK(seg >= 0, "open");
    volatile uint64_t *v1 = MomeMMap(NULL, len, MOME_READ | MOME_WRITE, 0, seg, 0);
    volatile uint64_t *v2 = MomeMMap(NULL, len, MOME_READ | MOME_WRITE, 0, seg, 0);
    /* A third view of the last 4 pages only, read-only. */
    volatile uint64_t *v3 = MomeMMap(NULL, ps * 4, MOME_READ, 0, seg, ps * 4);
    CHECK(v1 != MOME_MAP_FAILED && v2 != MOME_MAP_FAILED && v3 != MOME_MAP_FAILED, "mmap");
    CHECK(v1 != v2, "two views at the same address");
    size_t words = len / 8, q = ps / 8;

    /* Same process: a write through one view is seen through the other at once. */
    MomeBarrier();
    if (me == 0) {
        for (size_t i = 0; i < words; i += 16)
            v1[i] = i + 1;
        for (size_t i = 0; i < words; i += 16)
            CHECK(v2[i] == i + 1, "v2[%zu] = %llu after v1 write", i, (unsigned long long)v2[i]);
        v2[3] = 77;
        CHECK(v1[3] == 77, "v1 does not see v2's write");
        CHECK(v3[16] == 4 * q + 16 + 1, "read-only view of a later page");
    }
    MomeBarrier();
    /* Other nodes, through either view, and through the partial read-only view. */
    for (size_t i = 0; i < words; i += 16)
        CHECK(v1[i] == i + 1 && v2[i] == i + 1, "word %zu on node %d", i, me);
    CHECK(v3[0] == 4 * q + 1, "v3[0] = %llu", (unsigned long long)v3[0]);
    MomeBarrier();
    /* Each node writes through v2; everyone checks through v1 and v3. */
    v2[4 * q + (size_t)me] = 1000 + (uint64_t)me;
    MomeBarrier();
    for (int k = 0; k < n; k++)
        CHECK(v1[4 * q + (size_t)k] == 1000 + (uint64_t)k && v3[k] == 1000 + (uint64_t)k,
              "node %d's write", k);
    MomeBarrier();
    /* Writing through the read-only view raises SIGSEGV. */
    signal(SIGSEGV, on_segv);
    if (sigsetjmp(jb, 1) == 0)
        v3[1] = 5;
    CHECK(segv, "a write through a MOME_READ view did not raise SIGSEGV");
    signal(SIGSEGV, SIG_DFL);
    /* Unmap one view: the other keeps working, and the range is gone. */
    MUST(MomeMUnmap((void *)v2, len));
    CHECK(v1[16] == 17, "v1 after unmapping v2");
    CHECK(MomeMUnmap((void *)v2, len) == -1 && errno == EINVAL, "second unmap");
    MomeBarrier();
    if (me == 0)
        printf("multiview: 3 views per node on %d nodes stayed coherent; read-only view "
               "faults on write\n", n);
    MomeFinalize();
    return 0;
}
