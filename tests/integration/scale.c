/*
 * scale.c - a big sparse segment (16 GiB by default) on 2 nodes: node 0 writes P random pages
 * (300,000 by default), node 1 reads and updates each of them (one write fault per page, checking
 * node 0's value), node 0 checks a sample of node 1's updates. Every Mome mapping stays one VMA, so
 * the default vm.max_map_count holds, and resident memory follows the pages touched.
 */
#include <unistd.h>

#include "itest.h"

static long count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    long n = 0;
    int c;
    while (f && (c = fgetc(f)) != EOF)
        n += c == '\n';
    if (f)
        fclose(f);
    return n;
}

static uint64_t value_of(uint64_t page)
{
    return page * 0x9e3779b97f4a7c15ull + 1;
}

int main(int argc, char **argv)
{
    uint64_t size = argc > 1 ? strtoull(argv[1], NULL, 0) << 30 : 16ull << 30;
    uint64_t touch = argc > 2 ? strtoull(argv[2], NULL, 0) : 300000;
    itest_init(&argc, &argv);
    int me = MomeNode();
    size_t ps = MomePageSize();
    uint64_t npages = size / ps;
    long rss0 = itest_status_kib("VmRSS");
    char *a = itest_map("scale", size, NULL);

    CHECK(MomeNodes() == 2, "runs on 2 nodes");
    CHECK(touch <= npages, "too many pages");
    /* Distinct pages in random order: i -> i * odd mod 2^k is a permutation. */
    uint64_t mult = 0x9e3779b97f4a7c15ull | 1;
#define PAGE_I(i) (((uint64_t)(i) * mult) & (npages - 1))
    CHECK((npages & (npages - 1)) == 0, "segment pages must be a power of two");

    if (me == 0)
        for (uint64_t i = 0; i < touch; i++)
            *(volatile uint64_t *)(a + PAGE_I(i) * ps) = value_of(PAGE_I(i));
    MomeBarrier();
    if (me == 1) {
        for (uint64_t i = 0; i < touch; i++) {
            uint64_t p = PAGE_I(i);
            /* One atomic read-modify-write: a single write fault fetches and takes the page. */
            uint64_t old = __atomic_fetch_add((uint64_t *)(a + p * ps), 1, __ATOMIC_RELAXED);
            CHECK(old == value_of(p), "page %llu holds %llu, node 0 wrote %llu",
                  (unsigned long long)p, (unsigned long long)old,
                  (unsigned long long)value_of(p));
        }
        long rss = itest_status_kib("VmRSS") - rss0, maps = count_maps();
        long touched_kib = (long)(touch * ps / 1024);
        printf("scale: %llu GiB segment, %llu pages touched (%ld MiB): resident grew %ld MiB, "
               "%ld mappings in the process\n", (unsigned long long)(size >> 30),
               (unsigned long long)touch, touched_kib / 1024, rss / 1024, maps);
        /* Resident memory follows the touched pages (plus page tables), far below the segment. */
        CHECK(rss < touched_kib * 2 + 256 * 1024, "resident grew %ld KiB for %ld KiB touched", rss,
              touched_kib);
        CHECK(maps < 1000, "%ld mappings: Mome views must not split per page", maps);
    }
    MomeBarrier();
    if (me == 0) {
        for (uint64_t i = 0; i < touch; i += 97) {
            uint64_t p = PAGE_I(i);
            CHECK(*(volatile uint64_t *)(a + p * ps) == value_of(p) + 1, "update of page %llu",
                  (unsigned long long)p);
        }
        long maps = count_maps();
        CHECK(maps < 1000, "%ld mappings on node 0", maps);
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
