/*
 * bits.h - private: bitmaps as arrays of 64-bit words, bit i in word i / 64.
 */
#ifndef MOME_BITS_H
#define MOME_BITS_H

#include <stdint.h>

static inline int mome_bit(const uint64_t *b, uint64_t i)
{
    return (int)((b[i / 64] >> (i % 64)) & 1);
}

static inline void mome_bit_set(uint64_t *b, uint64_t i)
{
    b[i / 64] |= 1ull << (i % 64);
}

static inline void mome_bit_clear(uint64_t *b, uint64_t i)
{
    b[i / 64] &= ~(1ull << (i % 64));
}

#endif
