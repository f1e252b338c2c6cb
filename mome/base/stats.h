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

void mome_stats_reset(void);
void mome_stats_read(MomeStatsT *out);
void mome_stats_print(int node);

static inline uint64_t mome_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
