/*
 * stats.h - private: this node's counters (MomeStatsT), updated with relaxed atomics by any thread.
 */
#ifndef MOME_STATS_H
#define MOME_STATS_H

#include <stdint.h>
#include <time.h>

#include "mome.h"

extern MomeStatsT mome_stats;

#define MOME_STAT_ADD(_f, _v) __atomic_add_fetch(&mome_stats._f, (uint64_t)(_v), __ATOMIC_RELAXED)
#define MOME_STAT_INC(_f) MOME_STAT_ADD(_f, 1)

/*
 * The page budget's counters (MOME_LOCAL_PAGES), one call where each thing happens. An eviction
 * is any page the policy made leave (dropped clean, written back, paged out); a page-out keeps
 * the only copy elsewhere: another node's memory or the swap file; a page-in brings one back. A
 * zero page paged out as a flag counts as a page-out and as skipped.
 */
#define MOME_STAT_EVICTION() MOME_STAT_INC(evictions)
#define MOME_STAT_PAGE_OUT_NODE()                                                                  \
    do {                                                                                           \
        MOME_STAT_INC(page_outs);                                                                  \
        MOME_STAT_INC(page_outs_node);                                                             \
    } while (0)
#define MOME_STAT_PAGE_OUT_DISK(_bytes)                                                            \
    do {                                                                                           \
        MOME_STAT_INC(page_outs);                                                                  \
        MOME_STAT_INC(page_outs_disk);                                                             \
        MOME_STAT_ADD(swap_bytes_written, (_bytes));                                               \
    } while (0)
#define MOME_STAT_ZERO_SKIPPED() MOME_STAT_INC(zero_pages_skipped)
#define MOME_STAT_PAGE_IN() MOME_STAT_INC(page_ins)

void mome_stats_reset(void);
/* The eviction policy in use (NULL: none), named beside the evictions in the report. */
void mome_stats_set_evict(const char *policy);
void mome_stats_read(MomeStatsT *out);
void mome_stats_print(int node);

static inline uint64_t mome_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
