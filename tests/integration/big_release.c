/*
 * big_release.c - one release carries any amount of modification: nothing is lost however many
 * pages or bytes a node releases at once (batches are sent as they fill).
 *
 *   big_release whole MIB   node 0 writes every word of an MIB segment (so it owns every page),
 *                           then the other nodes rewrite every word between them, each release
 *                           sends whole-page diffs to node 0;
 *   big_release small PAGES node 0 writes word 0 of PAGES pages, then each other node writes one
 *                           word of its share of the pages: PAGES small diffs to one owner.
 * After a barrier every node checks every word it should: the whole segment, or words 0 and k of
 * each page.
 */
#include <string.h>

#include "itest.h"

static uint64_t value(uint64_t w, int writer)
{
    return (w * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)writer << 56) ^ 0x5a5a;
}

/* A release's own memory is bounded (the transport holds at most 64 MiB of unsent copies), whatever
 * its size: its diffs go out batch by batch. */
#define RELEASE_MEM_KIB (160 * 1024)

int main(int argc, char **argv)
{
    int whole = argc > 1 && strcmp(argv[1], "whole") == 0;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 0) : 16;
    itest_init(&argc, &argv);
    int me = MomeNode(), nodes = MomeNodes();
    size_t ps = MomePageSize(), wpp = ps / 8;
    uint64_t size = whole ? n << 20 : n * ps, words = size / 8, npages = size / ps;
    uint64_t *a = itest_map("big", size, NULL);
    int writers = nodes - 1;

    CHECK(nodes >= 2, "needs 2 nodes or more");
    MUST(MomeConsistency(a, size, MOME_RELEASE));
    /* Node 0 writes first: it becomes the owner of every page's master. */
    if (me == 0) {
        if (whole)
            for (uint64_t w = 0; w < words; w++)
                a[w] = value(w, 0);
        else
            for (uint64_t p = 0; p < npages; p++)
                a[p * wpp] = value(p, 0);
    }
    MomeBarrier();
    /* The owner's own memory (not the view's pages, which its progress thread also maps) while
     * the others release to it: what it queues of their diffs. */
    long anon0 = itest_status_kib("RssAnon");
    /* Then the others, at once, each on its share: one release each, with every change. */
    if (me > 0) {
        if (whole) {
            for (uint64_t w = (uint64_t)(me - 1); w < words; w += (uint64_t)writers)
                a[w] = value(w, me);
        } else {
            for (uint64_t p = (uint64_t)(me - 1); p < npages; p += (uint64_t)writers)
                a[p * wpp + (uint64_t)me] = value(p, me);
        }
        long before = itest_status_kib("VmHWM");
        MomeDate d = MomeRelease();
        CHECK(d != 0, "MomeRelease");
        /* What the release itself needed: not a copy of everything it sent (sends UCX could not
         * take at once were each copied until done: a 1000 MiB release peaked 1 GiB higher). */
        long grew = itest_status_kib("VmHWM") - before;
        printf("node %d: the release raised the peak resident memory by %ld KiB\n", me, grew);
        CHECK(grew < RELEASE_MEM_KIB, "the release of %llu bytes raised the node's peak memory by "
              "%ld KiB (at most %d KiB)", (unsigned long long)size, grew, RELEASE_MEM_KIB);
    }
    MomeBarrier();
    if (me == 0) {
        /* UCX always had more from two writers, and the owner queued it all before handling any:
         * up to 500 MB at 1 GiB (make check-long). glibc keeps what it freed: this is the peak. */
        long grew = itest_status_kib("RssAnon") - anon0;
        printf("node 0: the others' releases raised its own memory by %ld KiB\n", grew);
        CHECK(grew < RELEASE_MEM_KIB,
              "the others' releases of %llu bytes raised the owner's "
              "memory by %ld KiB (at most %d KiB)",
              (unsigned long long)size, grew, RELEASE_MEM_KIB);
    }
    uint64_t bad = 0, first = UINT64_MAX;
    if (whole) {
        for (uint64_t w = 0; w < words; w++) {
            if (a[w] != value(w, 1 + (int)(w % (uint64_t)writers))) {
                bad++;
                first = first < w ? first : w;
            }
        }
    } else {
        for (uint64_t p = 0; p < npages; p++) {
            int k = 1 + (int)(p % (uint64_t)writers);
            if (a[p * wpp] != value(p, 0) || a[p * wpp + (uint64_t)k] != value(p, k)) {
                bad++;
                first = first < p ? first : p;
            }
        }
    }
    CHECK(bad == 0, "%llu %s of %llu stale or wrong on node %d (first %llu)",
          (unsigned long long)bad, whole ? "words" : "pages",
          (unsigned long long)(whole ? words : npages), me, (unsigned long long)first);
    if (me == 0)
        printf("big_release %s: %llu %s released at once by %d node(s), every %s checked on every "
               "node\n", whole ? "whole" : "small", (unsigned long long)(whole ? n : npages),
               whole ? "MiB" : "small diffs", writers, whole ? "word" : "page");
    MomeFinalize();
    return 0;
}
