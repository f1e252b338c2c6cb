/*
 * itest.h - helpers shared by the integration test programs (run as real jobs under mome-run).
 * A failed check prints the node, the file:line and the condition, and exits 1.
 */
#ifndef MOME_ITEST_H
#define MOME_ITEST_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mome.h>

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "node %d: %s:%d: check failed: %s: ", MomeNode(), __FILE__, __LINE__, \
                    #cond);                                                                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, " (MomeError: '%s')\n", MomeError());                                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define MUST(call) CHECK((call) >= 0, "%s failed: errno %d", #call, errno)

/* Join the job or fail loudly. */
static inline void itest_init(int *argc, char ***argv)
{
    if (MomeInit(argc, argv) < 0) {
        fprintf(stderr, "%s\n", MomeError()); /* it names MomeInit */
        exit(1);
    }
}

/* Open (creating) a segment and map all of it read-write. */
static inline void *itest_map(const char *name, uint64_t size, int *seg_out)
{
    int seg = MomeSegOpen(name, size, MOME_CREATE);
    CHECK(seg >= 0, "MomeSegOpen(%s)", name);
    void *p = MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, seg, 0);
    CHECK(p != MOME_MAP_FAILED, "MomeMMap(%s)", name);
    if (seg_out)
        *seg_out = seg;
    return p;
}

/* A cheap deterministic generator (seedable through argv in the tests that use it). */
/* CLOCK_MONOTONIC in nanoseconds (the clock of MOME_TRACE records). */
static inline uint64_t itest_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static inline uint64_t itest_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* A hash of three numbers: the random choices a test draws from its seed, the same on every node.
 */
static inline uint64_t itest_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t x = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull ^
                 (c + 0x94d049bb133111ebull);
    x ^= x >> 31;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 29;
    return x;
}

/* The value thread t of node writes at step i of round r in the multi-threaded tests: every
 * (round, node, thread, step) writes a different one. */
static inline uint64_t itest_word(int r, int node, int t, int i)
{
    return (uint64_t)(r + 1) << 40 | (uint64_t)node << 32 | (uint64_t)t << 24 | (uint64_t)i;
}

/* Thread t of node wrote slot i % slots of w at each step i of round r's iters: each slot must
 * hold the last value written there. */
static inline void itest_check_words(const volatile uint64_t *w, int r, int node, int t, int iters,
                                     int slots)
{
    for (int j = 0; j < slots && j < iters; j++) {
        int last = (iters - 1) - ((iters - 1 - j) % slots);
        CHECK(w[j] == itest_word(r, node, t, last),
              "round %d: node %d thread %d word %d is %#llx, it wrote %#llx", r, node, t, j,
              (unsigned long long)w[j], (unsigned long long)itest_word(r, node, t, last));
    }
}

/* A figure of this process's memory from /proc/self/status, in KiB ("VmRSS", "VmHWM"); -1 if
 * absent. */
static inline long itest_status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t n = strlen(field);
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (!strncmp(line, field, n) && line[n] == ':' && sscanf(line + n + 1, "%ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

#endif
