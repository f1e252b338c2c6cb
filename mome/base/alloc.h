/*
 * alloc.h - private: the allocation calls of the library, with a test-only failure injection
 * (MOME_TEST_FAIL_ALLOC): the protocol's answer to a failed allocation (stop the job with a
 * message) can then be tested at any point. Any thread.
 */
#ifndef MOME_BASE_ALLOC_H
#define MOME_BASE_ALLOC_H

#include <stddef.h>

void *mome_malloc(size_t size);
void *mome_calloc(size_t n, size_t size);
void *mome_realloc(void *p, size_t size);
void *mome_aligned_alloc(size_t align, size_t size);

/* Make allocation number n (counted from now, 1 = the next) fail; 0 disarms. */
void mome_alloc_fail_at(unsigned long n);

#endif
