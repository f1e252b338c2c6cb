/*
 * clock.h - private: this node's scalar Lamport clock.
 *
 * Rules: a local synchronisation event or a send advances the clock by one; a receive sets it to
 * max(local, message date) + 1. Touched by every thread, lock-free (atomics only).
 */
#ifndef MOME_CLOCK_H
#define MOME_CLOCK_H

#include <stdint.h>

typedef uint64_t mome_date_t;

void mome_clock_reset(mome_date_t d);
mome_date_t mome_clock_now(void);
mome_date_t mome_clock_tick(void);
mome_date_t mome_clock_merge(mome_date_t seen);
/* Raise the clock to at least d (no tick); returns the new value. */
mome_date_t mome_clock_raise(mome_date_t d);

#endif
