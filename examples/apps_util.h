/*
 * apps_util.h - small helpers shared by the classic DSM applications (strassen, sor, tsp) and
 * their serial references: a wall clock, a deterministic generator of input values, and the
 * checksum of a result in a fixed order, printed so that bit-for-bit equality can be seen.
 * Nothing here uses Mome: the serial references include it too.
 */
#ifndef APPS_UTIL_H
#define APPS_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Wall-clock seconds, from an arbitrary origin. */
static inline double apps_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64: a deterministic, well mixed 64-bit value for (seed, index). */
static inline uint64_t apps_hash(uint64_t seed, uint64_t i)
{
    uint64_t z = seed * 0x9e3779b97f4a7c15ull + i * 0xbf58476d1ce4e5b9ull + 0x94d049bb133111ebull;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A double in [-1, 1) with a full 53-bit mantissa, so that rounding shows in every result. */
static inline double apps_value(uint64_t seed, uint64_t i)
{
    return (double)(apps_hash(seed, i) >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

/* The raw IEEE-754 bits of a double. */
static inline uint64_t apps_bits(double x)
{
    uint64_t b;

    memcpy(&b, &x, sizeof(b));
    return b;
}

/*
 * The checksum of a result: the sum of a rows x cols matrix stored with leading dimension ld, in
 * row-major order, left to right. The Mome programs and the serial references call it on identical
 * arrays, so equal results give equal bits.
 */
static inline double apps_sum_matrix(const double *a, long rows, long cols, long ld)
{
    double s = 0.0;

    for (long r = 0; r < rows; r++)
        for (long c = 0; c < cols; c++)
            s += a[r * ld + c];
    return s;
}

/* Print "checksum=0x<bits> (<%.17g>)" without a newline. */
static inline void apps_print_checksum(double s)
{
    printf("checksum=0x%016llx (%.17g)", (unsigned long long)apps_bits(s), s);
}

#endif
