/*
 * sum.h - private: the 64-bit checksum of the repository's pages, indexes and heads (XXH64, a
 * fast non-cryptographic hash: it detects corruption, not tampering). Pure functions, any thread.
 */
#ifndef MOME_REPO_SUM_H
#define MOME_REPO_SUM_H

#include <stddef.h>
#include <stdint.h>

/* XXH64 of len bytes at p with this seed (a page's number: a page read from the wrong slot fails
 * its check too). */
uint64_t mome_sum64(const void *p, size_t len, uint64_t seed);

#endif
