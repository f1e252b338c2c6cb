/*
 * fake_memory.c - see fake_memory.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fake_memory.h"

/* Virtual: only what is written becomes resident. Smaller when the address space is limited
 * (valgrind refuses a 64 GiB mapping). */
#define ARENA_MAX (1ull << 36)
#define ARENA_MIN (1ull << 30)
#define MAXVA 4096

static char *arena;
static uint64_t arena_size;
static uint64_t next_off;
static fake_memory_counts_t counts;
static struct {
    const void *va;
    int state;
} vas[MAXVA];
static int nvas;

static void note(const void *va, int state)
{
    for (int i = 0; i < nvas; i++) {
        if (vas[i].va == va) {
            vas[i].state = state;
            return;
        }
    }
    if (nvas < MAXVA) {
        vas[nvas].va = va;
        vas[nvas].state = state;
        nvas++;
    }
}

int fake_memory_state(const void *va)
{
    for (int i = 0; i < nvas; i++)
        if (vas[i].va == va)
            return vas[i].state;
    return FAKE_NONE;
}

static int region_alloc(uint64_t size, uint64_t *base)
{
    if (next_off + size + 4096 > arena_size)
        return -ENOMEM;
    *base = next_off;
    next_off += (size + 4095) & ~4095ull;
    next_off += 4096;
    return 0;
}

static void region_release(uint64_t base, uint64_t size)
{
    madvise(arena + base, size, MADV_DONTNEED);
}

static char *runtime_map(uint64_t base, uint64_t size)
{
    return arena + base;
}

static void runtime_unmap(char *p, uint64_t size)
{
}

static int install(uint64_t off, void *addr, size_t len, const void *src, int ro)
{
    memcpy(arena + off, src, len);
    counts.installs++;
    note(addr, ro ? FAKE_MAPPED_RO : FAKE_MAPPED_RW);
    return 0;
}

static int map(void *addr, size_t len, int ro)
{
    counts.maps++;
    note(addr, ro ? FAKE_MAPPED_RO : FAKE_MAPPED_RW);
    return 0;
}

static int protect(void *addr, size_t len, int ro)
{
    if (ro)
        counts.protects++;
    else
        counts.unprotects++;
    /* Every mapped page of the range (a checkpoint protects runs of pages at once). */
    for (int i = 0; i < nvas; i++)
        if ((const char *)vas[i].va >= (const char *)addr &&
            (const char *)vas[i].va < (const char *)addr + len &&
            (vas[i].state == FAKE_MAPPED_RO || vas[i].state == FAKE_MAPPED_RW))
            vas[i].state = ro ? FAKE_MAPPED_RO : FAKE_MAPPED_RW;
    return 0;
}

static int wake(void *addr, size_t len)
{
    counts.wakes++;
    return 0;
}

static int zap(void *addr, size_t len)
{
    counts.zaps++;
    note(addr, FAKE_ZAPPED);
    /* Every page of the range (a holder unmaps runs of pages at once). */
    for (int i = 0; i < nvas; i++)
        if ((const char *)vas[i].va >= (const char *)addr &&
            (const char *)vas[i].va < (const char *)addr + len)
            vas[i].state = FAKE_ZAPPED;
    return 0;
}

static int drop(uint64_t off, size_t len)
{
    counts.drops++;
    memset(arena + off, 0, len);
    return 0;
}

static int read_err;

void fake_memory_fail_reads(int err)
{
    read_err = err;
}

static int read_off(uint64_t off, void *dst, size_t len)
{
    counts.reads++;
    if (read_err)
        return -read_err;
    memcpy(dst, arena + off, len);
    return 0;
}

const mome_mem_ops_t fake_memory_ops = {
    .name = "fake",
    .region_alloc = region_alloc,
    .region_release = region_release,
    .runtime_map = runtime_map,
    .runtime_unmap = runtime_unmap,
    .install = install,
    .map = map,
    .protect = protect,
    .wake = wake,
    .zap = zap,
    .drop = drop,
    .read = read_off,
};

void fake_memory_use(void)
{
    if (!arena) {
        for (arena_size = ARENA_MAX; arena_size >= ARENA_MIN; arena_size /= 4) {
            arena = mmap(NULL, arena_size, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (arena != MAP_FAILED)
                break;
        }
        if (arena == MAP_FAILED)
            abort();
    }
    next_off = 0;
    nvas = 0;
    read_err = 0;
    memset(&counts, 0, sizeof(counts));
    mome_mem = &fake_memory_ops;
}

void fake_memory_release(void)
{
    if (arena)
        munmap(arena, arena_size);
    arena = NULL;
    mome_mem = &mome_mem_uffd_ops;
}

const fake_memory_counts_t *fake_memory_counts(void)
{
    return &counts;
}
