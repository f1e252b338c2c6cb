/*
 * thresholds.c - background eviction between the watermarks (MOME_LOCAL_HIGH, MOME_LOCAL_LOW)
 * under a steady fault load: node 0 (with a budget) writes PAGES pages one after the other, four
 * times its budget, reading Mome's count of resident pages after each; the other nodes only keep
 * what it pages out. Residency never passes the budget, never falls below the low watermark once
 * it reached it (eviction stops there), and most evictions happen in the background (faults
 * rarely wait for one). Every page is checked at the end.
 *
 *   thresholds PAGES     (node 0 runs with MOME_LOCAL_PAGES, MOME_LOCAL_HIGH, MOME_LOCAL_LOW)
 */
#include <string.h>

#include "itest.h"

static double knob(const char *name, double dflt)
{
    const char *v = getenv(name);
    return v ? strtod(v, NULL) : dflt;
}

int main(int argc, char **argv)
{
    uint64_t pages = argc > 1 ? strtoull(argv[1], NULL, 0) : 800;
    itest_init(&argc, &argv);
    int me = MomeNode();
    size_t ps = MomePageSize();
    uint8_t *a = itest_map("thresholds", pages * ps, NULL);

    if (me == 0) {
        uint64_t budget = (uint64_t)knob("MOME_LOCAL_PAGES", 0);
        uint64_t high = (uint64_t)((double)budget * knob("MOME_LOCAL_HIGH", 0.95));
        uint64_t low = (uint64_t)((double)budget * knob("MOME_LOCAL_LOW", 0.85));
        uint64_t most = 0, least = UINT64_MAX;
        int reached = 0;
        MomeStatsT s;

        CHECK(budget > 0 && pages >= 4 * budget, "run node 0 with a budget of at most %llu pages",
              (unsigned long long)pages / 4);
        for (uint64_t p = 0; p < pages; p++) {
            memset(a + p * ps, (int)(p % 251) + 1, ps);
            MUST(MomeStats(&s));
            most = s.resident_pages > most ? s.resident_pages : most;
            reached |= s.resident_pages >= high;
            if (reached && s.resident_pages < least)
                least = s.resident_pages;
        }
        printf("node 0: budget %llu (high %llu, low %llu): resident at most %llu, at least %llu "
               "after reaching high; %llu evictions, %llu waited for\n",
               (unsigned long long)budget, (unsigned long long)high, (unsigned long long)low,
               (unsigned long long)most, (unsigned long long)least,
               (unsigned long long)s.evictions, (unsigned long long)s.evictions_waited);
        CHECK(most <= budget, "%llu pages resident, over the budget of %llu",
              (unsigned long long)most, (unsigned long long)budget);
        CHECK(reached, "residency never reached the high watermark (%llu)",
              (unsigned long long)high);
        CHECK(least + 1 >= low, "eviction went down to %llu pages, below the low watermark %llu",
              (unsigned long long)least, (unsigned long long)low);
        CHECK(s.evictions >= pages - budget, "%llu evictions for %llu pages over the budget",
              (unsigned long long)s.evictions, (unsigned long long)(pages - budget));
        CHECK(2 * s.evictions_waited < s.evictions,
              "faults waited for %llu of %llu evictions: the background did not keep up",
              (unsigned long long)s.evictions_waited, (unsigned long long)s.evictions);
        for (uint64_t p = 0; p < pages; p++)
            for (size_t i = 0; i < ps; i += 512)
                CHECK(a[p * ps + i] == (uint8_t)(p % 251 + 1), "page %llu byte %zu wrong",
                      (unsigned long long)p, i);
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
