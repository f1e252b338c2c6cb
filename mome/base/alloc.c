/*
 * alloc.c - allocation with a test-only failure injection.
 */
#include <stdlib.h>
#include <unistd.h>

#include "base/alloc.h"

static unsigned long fail_at; /* 0: never */
static unsigned long count;

void mome_alloc_fail_at(unsigned long n)
{
    __atomic_store_n(&count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_at, n, __ATOMIC_RELAXED);
}

/* The injected failure says so on stderr, so that a test can tell a job that never reached it
 * from one that went on as if nothing had failed (one write: async-signal-safe, no allocation). */
static int injected(void)
{
    static const char said[] = "mome: test hook: this allocation fails (MOME_TEST_FAIL_ALLOC)\n";
    unsigned long at = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
    if (!at || __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED) != at)
        return 0;
    ssize_t w = write(2, said, sizeof(said) - 1);
    (void)w; /* nothing to do if stderr is gone */
    return 1;
}

void *mome_malloc(size_t size)
{
    return injected() ? NULL : malloc(size);
}

void *mome_calloc(size_t n, size_t size)
{
    return injected() ? NULL : calloc(n, size);
}

void *mome_realloc(void *p, size_t size)
{
    return injected() ? NULL : realloc(p, size);
}

void *mome_aligned_alloc(size_t align, size_t size)
{
    return injected() ? NULL : aligned_alloc(align, size);
}
