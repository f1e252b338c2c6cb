/*
 * test_memory.c - the store over real Mome memory (memfd + userfaultfd, memory/memory.c), where
 * the kernel's answers matter: a Mome page of several OS pages, part of which is mapped already,
 * is mapped read-only whole. Each OS page's entry is read back from /proc/self/pagemap (present,
 * and the userfaultfd write-protect bit). Regions given back are taken again, and the memfd's
 * size (fstat) stays that of the regions in use.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "memory/memory.h"
#include "memory/store.h"
#include "nodecase.h"
#include "unit.h"

#define PM_PRESENT (1ull << 63)
#define PM_UFFD_WP (1ull << 57)

static uint64_t pagemap(const char *va)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, &e, sizeof(e), (off_t)((uintptr_t)va / 4096 * sizeof(e))),
                     (ssize_t)sizeof(e));
    close(fd);
    return e;
}

/* Every OS page of the Mome page at va is mapped and write-protected. */
static void all_protected(const char *va, size_t ps)
{
    for (size_t o = 0; o < ps; o += (size_t)sysconf(_SC_PAGESIZE)) {
        uint64_t e = pagemap(va + o);
        ck_assert_msg(e & PM_PRESENT, "OS page at +%zu is not mapped", o);
        ck_assert_msg(e & PM_UFFD_WP, "OS page at +%zu is writable: its writes would go unnoticed",
                      o);
    }
}

/*
 * Mapped read-only while part of it was mapped writable already (EEXIST from the kernel): the
 * part mapped before kept its writable entries (helper-92). The first OS page mapped writable,
 * then the second (a partial UFFDIO_CONTINUE on old kernels: EAGAIN).
 */
START_TEST(test_memory__a_page_partly_mapped_writable_is_protected_whole)
{
    const size_t ps = 4 * (size_t)sysconf(_SC_PAGESIZE), os = (size_t)sysconf(_SC_PAGESIZE);
    char err[256], *src = malloc(ps);
    int e;
    ck_assert_msg(mome_mem_init(ps, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(mome_store_init(ps, NULL), 0);
    mome_store_t *st = mome_store_open(&mome_store_mem, 1, 4 * ps, &e);
    ck_assert_ptr_nonnull(st);
    char *v = mome_mem_view_map(NULL, 4 * ps, 1, 0, st->base, &e);
    ck_assert_ptr_nonnull(v);
    memset(src, 0xcd, ps);
    for (uint64_t page = 1; page <= 2; page++) {
        char *va = v + page * ps;
        mome_store_fill(st, page, src);
        ck_assert_int_eq(mome_mem_map(va + (page - 1) * os, os, 0), 0); /* writable */
        ck_assert_int_eq(mome_store_map(st, page, va, 1), -EEXIST);
        all_protected(va, ps);
        ck_assert_int_eq(va[ps - 1], (char)0xcd);
    }
    mome_store_close(st);
    mome_store_fini();
    mome_mem_fini();
    free(src);
}
END_TEST

#define GIB ((uint64_t)1 << 30)

/* The size of Mome memory's memfd, found by its name (memory.c keeps the descriptor to itself). */
static off_t memfd_size(void)
{
    char path[64], target[128];
    struct stat sb;
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0)
            continue;
        target[n] = 0;
        if (!strncmp(target, "/memfd:mome-memory", 18)) {
            ck_assert_int_eq(fstat(fd, &sb), 0);
            return sb.st_size;
        }
    }
    ck_abort_msg("no memfd named mome-memory");
    return -1;
}

static void mem_up(size_t ps)
{
    char err[256];
    ck_assert_msg(mome_mem_init(ps, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(mome_store_init(ps, NULL), 0);
}

static void mem_down(void)
{
    mome_store_fini();
    mome_mem_fini();
}

/*
 * A segment of 1 GiB created and destroyed again and again takes the same region each time, and
 * the memfd does not grow: it grew by 1 GiB each time, until the file size limit stopped it
 * (iteration 15 under ulimit -f of 80 GiB).
 */
START_TEST(test_memory__a_region_given_back_is_taken_again)
{
    const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t first = 0, base;
    off_t size = 0;
    mem_up(ps);
    for (int i = 0; i < 100; i++) {
        ck_assert_int_eq(mome_mem_region_alloc(GIB, &base), 0);
        if (i == 0) {
            first = base;
            size = memfd_size();
        }
        ck_assert_msg(base == first, "round %d: region at %#llx, not %#llx", i,
                      (unsigned long long)base, (unsigned long long)first);
        ck_assert_int_eq(memfd_size(), size);
        mome_mem_region_release(base, GIB);
    }
    mem_down();
}
END_TEST

/*
 * Regions given back next to each other make one that a larger region takes; one at the end
 * shrinks the memfd. A store that fails to open (1 PiB: its runtime view finds no address space)
 * gives its region back: each failed open of 2^50 bytes moved the memfd's end by 2^50. A region
 * given back twice is not taken by two.
 */
START_TEST(test_memory__regions_given_back_merge_and_the_end_shrinks)
{
    const size_t ps = (size_t)sysconf(_SC_PAGESIZE);
    uint64_t a, b, c, d, e;
    int err;
    mem_up(ps);
    off_t empty = memfd_size();
    ck_assert_int_eq(mome_mem_region_alloc(GIB, &a), 0);
    ck_assert_int_eq(mome_mem_region_alloc(GIB, &b), 0);
    ck_assert_int_eq(mome_mem_region_alloc(GIB, &c), 0);
    off_t three = memfd_size();
    mome_mem_region_release(b, GIB);
    mome_mem_region_release(a, GIB);
    /* Two regions and their guard pages: room for one of 2 GiB and a page, and its guard. */
    ck_assert_int_eq(mome_mem_region_alloc(2 * GIB + ps, &d), 0);
    ck_assert_uint_eq(d, a);
    ck_assert_int_eq(memfd_size(), three);
    for (int i = 0; i < 20; i++)
        ck_assert_ptr_null(mome_store_open(&mome_store_mem, 1, (uint64_t)1 << 50, &err));
    ck_assert_int_eq(memfd_size(), three);
    mome_mem_region_release(c, GIB); /* the last one: the memfd ends where d does */
    ck_assert_int_lt(memfd_size(), three);
    mome_mem_region_release(d, 2 * GIB + ps);
    ck_assert_int_eq(memfd_size(), empty);
    ck_assert_int_eq(mome_mem_region_alloc(GIB, &e), 0);
    ck_assert_uint_eq(e, a);
    mome_mem_region_release(e, GIB);
    mem_down();
}
END_TEST

/* A region given back twice, its start taken by a smaller one meanwhile: the second release
 * stops the node before it drops anything (it punched the live region's pages, then refused to
 * reuse the offsets, and the job went on: helper-132). */
static void release_twice(void *arg)
{
    uint64_t r, r2;
    (void)arg;
    ck_assert_int_eq(mome_mem_region_alloc(2 * GIB, &r), 0);
    mome_mem_region_release(r, 2 * GIB);
    ck_assert_int_eq(mome_mem_region_alloc(GIB, &r2), 0);
    ck_assert_uint_eq(r2, r);
    mome_mem_region_release(r, 2 * GIB);
}

START_TEST(test_memory__a_region_given_back_twice_stops_the_node)
{
    mem_up((size_t)sysconf(_SC_PAGESIZE));
    nc_expect_death(release_twice, NULL, "given back, which is not one taken");
    mem_down();
}
END_TEST

Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    UNIT_CASE(s, test_memory__a_page_partly_mapped_writable_is_protected_whole);
    UNIT_CASE(s, test_memory__a_region_given_back_is_taken_again);
    UNIT_CASE(s, test_memory__regions_given_back_merge_and_the_end_shrinks);
    UNIT_CASE(s, test_memory__a_region_given_back_twice_stops_the_node);
    return s;
}
