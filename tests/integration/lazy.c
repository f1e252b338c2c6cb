/*
 * lazy.c - a persistent segment far bigger than what is touched (64 GiB here, more than this
 * machine's memory) reads only the pages a job touches, on their first fault.
 *
 *   lazy write   node 0 creates the segment and writes 10 runs of 16 pages spread over it;
 *                MomeFinalize saves them
 *   lazy read    every node reads its share of 10 pages, one in the middle of each run (node i:
 *                runs i, i + n...); it must have read from the repository exactly the pages it
 *                touched (a scattered fault in a persistent segment reads nothing ahead, although
 *                the pages after it are stored), then their stored neighbours and the never-written
 *                pages around the runs; its resident memory must have grown by little
 */
#include "itest.h"

#define SIZE (64ull << 30)
#define NTOUCH 10
#define NRUN 16 /* pages written per run; the middle one is touched */

static uint64_t page_of(int k, uint64_t npages)
{
    return (uint64_t)k * (npages / NTOUCH) + 17 * (uint64_t)k;
}

int main(int argc, char **argv)
{
    int write = argc > 1 && !strcmp(argv[1], "write");
    itest_init(&argc, &argv);
    int me = MomeNode(), nn = MomeNodes();
    size_t ps = MomePageSize();
    uint64_t npages = SIZE / ps;
    long before = itest_status_kib("VmRSS");

    int seg = MomeSegOpen("lazy", write ? SIZE : 0, (write ? MOME_CREATE : 0) | MOME_PERSIST);
    CHECK(seg >= 0, "MomeSegOpen(lazy, 64 GiB, MOME_PERSIST)");
    uint8_t *base = MomeMMap(NULL, SIZE, MOME_READ | MOME_WRITE, 0, seg, 0);
    CHECK(base != MOME_MAP_FAILED, "MomeMMap of 64 GiB");
    if (write) {
        for (int k = 0; k < NTOUCH && me == 0; k++)
            memset(base + page_of(k, npages) * ps, k + 1, NRUN * ps);
        MUST(MomeFinalize());
        return 0;
    }
    MomeStatsT st0, st1;
    MUST(MomeStats(&st0));
    uint64_t mine = 0;
    for (int k = me; k < NTOUCH; k += nn) {
        const uint8_t *p = base + (page_of(k, npages) + NRUN / 2) * ps;
        for (size_t i = 0; i < ps; i++)
            CHECK(p[i] == k + 1, "page %llu byte %zu: %u, written %d",
                  (unsigned long long)page_of(k, npages) + NRUN / 2, i, p[i], k + 1);
        mine++;
    }
    MUST(MomeStats(&st1));
    for (int k = me; k < NTOUCH; k += nn) {
        const uint8_t *p = base + page_of(k, npages) * ps;
        for (int j = 0; j < NRUN; j++)
            CHECK(p[(size_t)j * ps] == k + 1 && p[(size_t)(j + 1) * ps - 1] == k + 1,
                  "page %llu of run %d holds %d", (unsigned long long)page_of(k, npages) + j, k,
                  k + 1);
        CHECK(p[(size_t)NRUN * ps] == 0 && (k == 0 || p[-1] == 0),
              "the pages around run %d are zeros", k);
    }
    long after = itest_status_kib("VmRSS");
    printf("node %d: %llu pages read from the repository for %llu touched; RSS %ld -> %ld KiB\n",
           me, (unsigned long long)(st1.repo_pages_read - st0.repo_pages_read),
           (unsigned long long)mine, before, after);
    CHECK(st1.repo_pages_read - st0.repo_pages_read == mine,
          "read %llu pages from the repository, touched %llu stored ones",
          (unsigned long long)(st1.repo_pages_read - st0.repo_pages_read),
          (unsigned long long)mine);
    /* The segment is 64 GiB: what it costs here is page tables and maps for touched pages. */
    CHECK(after - before < 64 * 1024, "resident memory grew by %ld KiB", after - before);
    MomeBarrier();
    MUST(MomeFinalize());
    return 0;
}
