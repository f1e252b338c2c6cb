/*
 * alloc.c - allocation with a test-only failure injection.
 */
#include <stdlib.h>

#include "base/alloc.h"

static unsigned long fail_at; /* 0: never */
static unsigned long count;

void mome_alloc_fail_at(unsigned long n)
{
    __atomic_store_n(&count, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fail_at, n, __ATOMIC_RELAXED);
}

static int injected(void)
{
    unsigned long at = __atomic_load_n(&fail_at, __ATOMIC_RELAXED);
    return at && __atomic_add_fetch(&count, 1, __ATOMIC_RELAXED) == at;
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
