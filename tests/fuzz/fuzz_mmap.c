/*
 * fuzz_mmap.c - the libFuzzer build only (linked with -Wl,--wrap=mmap,--wrap=munmap,
 * --wrap=madvise): the small anonymous mappings a test node makes and unmaps for every input
 * (page tables, residency bitmaps, views, the fake memory's arena) are kept for the next input
 * instead, zeroed, because each munmap or MADV_DONTNEED of touched memory costs a TLB shootdown
 * that made up most of an input's time on our 2-core VMs. What is kept is poisoned for ASan until
 * it is handed out again, so a use after munmap is still reported.
 */
#include <sanitizer/asan_interface.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_munmap(void *addr, size_t len);
int __real_madvise(void *addr, size_t len, int advice);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_munmap(void *addr, size_t len);
int __wrap_madvise(void *addr, size_t len, int advice);

#define KEPT_MAX 256
#define SMALL (1u << 20)        /* mappings kept: at most this long, or the arena */
#define ARENA (1ull << 36)      /* tests/common/fake_memory.c */
#define RELEASED_MAX 1024

static struct kept {
    void *addr;
    size_t len;
    int prot, flags, used;
} kept[KEPT_MAX];
static int nkept;

/* Regions of the arena given back (MADV_DONTNEED): zeroed and poisoned until the arena is mapped
 * again. */
static struct {
    void *addr;
    size_t len;
} released[RELEASED_MAX];
static int nreleased;
static char *arena;

static int keepable(void *addr, size_t len, int flags, int fd)
{
    return !addr && fd == -1 && (flags & MAP_ANONYMOUS) && (flags & MAP_PRIVATE) &&
           !(flags & MAP_FIXED) && (len <= SMALL || len == ARENA);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!keepable(addr, len, flags, fd))
        return __real_mmap(addr, len, prot, flags, fd, off);
    for (int i = 0; i < nkept; i++) {
        struct kept *k = &kept[i];
        if (k->used || k->len != len || k->prot != prot || k->flags != flags)
            continue;
        k->used = 1;
        if (len == ARENA) {
            for (int r = 0; r < nreleased; r++)
                ASAN_UNPOISON_MEMORY_REGION(released[r].addr, released[r].len);
            nreleased = 0;
            arena = k->addr;
        } else if (prot & PROT_WRITE) {
            ASAN_UNPOISON_MEMORY_REGION(k->addr, len);
            memset(k->addr, 0, len);
        }
        return k->addr;
    }
    void *p = __real_mmap(addr, len, prot, flags, fd, off);
    if (p != MAP_FAILED && nkept < KEPT_MAX) {
        kept[nkept++] = (struct kept){p, len, prot, flags, 1};
        if (len == ARENA)
            arena = p;
    }
    return p;
}

int __wrap_munmap(void *addr, size_t len)
{
    for (int i = 0; i < nkept; i++) {
        struct kept *k = &kept[i];
        if (k->addr != addr || k->len != len || !k->used)
            continue;
        k->used = 0;
        if (len == ARENA)
            arena = NULL; /* its regions were all given back (zeroed) before */
        else if (k->prot & PROT_WRITE)
            ASAN_POISON_MEMORY_REGION(addr, len);
        return 0;
    }
    return __real_munmap(addr, len);
}

int __wrap_madvise(void *addr, size_t len, int advice)
{
    char *a = addr;
    if (advice == MADV_DONTNEED && arena && a >= arena && a + len <= arena + ARENA &&
        len <= 64 * SMALL && nreleased < RELEASED_MAX) {
        memset(a, 0, len); /* what DONTNEED leaves of private anonymous memory */
        ASAN_POISON_MEMORY_REGION(a, len);
        released[nreleased].addr = a;
        released[nreleased].len = len;
        nreleased++;
        return 0;
    }
    return __real_madvise(addr, len, advice);
}
