/*
 * stats.c - counters: snapshot for MomeStats() and the MOME_STATS report at finalize.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/stats.h"

MomeStatsT mome_stats;
static const char *evict_policy; /* a policy's static name, or NULL */

/* The public struct never changes size: new counters come out of `reserved`. */
_Static_assert(sizeof(MomeStatsT) == 48 * sizeof(uint64_t), "MomeStatsT changed size");

void mome_stats_set_evict(const char *policy)
{
    evict_policy = policy;
}

void mome_stats_reset(void)
{
    memset(&mome_stats, 0, sizeof(mome_stats));
}

void mome_stats_read(MomeStatsT *out)
{
    const uint64_t *src = (const uint64_t *)&mome_stats;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(MomeStatsT) / sizeof(uint64_t); i++)
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

void mome_stats_print(int node)
{
    MomeStatsT s;
    char buf[2048];
    int n;

    mome_stats_read(&s);
    n = snprintf(buf, sizeof(buf),
                 "mome stats node %d: faults read %llu write %llu (%.1f us avg); pages fetched %llu "
                 "(prefetched %llu) sent %llu; written ahead %llu; msgs sent %llu recv %llu; bytes sent %llu recv %llu; invalidations "
                 "sent %llu recv %llu; twins %llu diffs %llu (%llu bytes); syncs %llu; evictions "
                 "%llu (%s, %llu waited for; resident %llu, peak %llu); page-outs %llu (to nodes %llu, to disk %llu, %llu bytes written, "
                 "%llu zero pages skipped) page-ins %llu; locks %llu (waited %llu, %.3f ms); "
                 "barriers %llu (%.3f ms); dir migrations %llu; repository pages read %llu written %llu\n",
                 node, (unsigned long long)s.read_faults, (unsigned long long)s.write_faults,
                 (s.read_faults + s.write_faults)
                     ? (double)s.fault_ns / 1e3 / (double)(s.read_faults + s.write_faults)
                     : 0.0,
                 (unsigned long long)s.pages_fetched, (unsigned long long)s.pages_prefetched,
                 (unsigned long long)s.pages_sent, (unsigned long long)s.pages_written_ahead,
                 (unsigned long long)s.msgs_sent, (unsigned long long)s.msgs_received,
                 (unsigned long long)s.bytes_sent, (unsigned long long)s.bytes_received,
                 (unsigned long long)s.invalidations_sent,
                 (unsigned long long)s.invalidations_received, (unsigned long long)s.twins,
                 (unsigned long long)s.diffs, (unsigned long long)s.diff_bytes,
                 (unsigned long long)s.syncs, (unsigned long long)s.evictions,
                 evict_policy ? evict_policy : "no budget",
                 (unsigned long long)s.evictions_waited, (unsigned long long)s.resident_pages,
                 (unsigned long long)s.resident_peak, (unsigned long long)s.page_outs,
                 (unsigned long long)s.page_outs_node, (unsigned long long)s.page_outs_disk,
                 (unsigned long long)s.swap_bytes_written,
                 (unsigned long long)s.zero_pages_skipped, (unsigned long long)s.page_ins,
                 (unsigned long long)s.lock_acquires,
                 (unsigned long long)s.lock_waits, (double)s.lock_wait_ns / 1e6,
                 (unsigned long long)s.barriers, (double)s.barrier_wait_ns / 1e6,
                 (unsigned long long)s.dir_migrations, (unsigned long long)s.repo_pages_read,
                 (unsigned long long)s.repo_pages_written);
    if (n > 0 && write(2, buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf))) < 0)
        return;
}
