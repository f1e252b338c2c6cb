/*
 * fake_memory.h - plain process memory behind the page operations of mome/memory/memory.h, for
 * the unit tests and the fuzzers: a segment's region is part of one big anonymous arena (the
 * runtime's view is a pointer into it), and the view operations (install, map, protect, zap) only
 * record what they were asked, so the coherence layer runs as a pure state machine.
 */
#ifndef MOME_FAKE_MEMORY_H
#define MOME_FAKE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "memory/memory.h"

extern const mome_mem_ops_t fake_memory_ops;

/* What a view address last had done to it. */
enum { FAKE_NONE = 0, FAKE_MAPPED_RO, FAKE_MAPPED_RW, FAKE_ZAPPED };

typedef struct fake_memory_counts {
    unsigned installs, maps, protects, unprotects, wakes, zaps, drops, reads;
} fake_memory_counts_t;

/* Put the fake in place (mome_mem), empty; give the arena back. */
void fake_memory_use(void);
void fake_memory_release(void);
const fake_memory_counts_t *fake_memory_counts(void);
/* Make every read through the file (mome_mem->read) fail with -err from now on (0: succeed). */
void fake_memory_fail_reads(int err);
/* The state of the page mapped at va (FAKE_*): what the last operation left. */
int fake_memory_state(const void *va);

#endif
