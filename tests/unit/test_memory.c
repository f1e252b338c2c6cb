/*
 * test_memory.c - the store over real Mome memory (memfd + userfaultfd, memory/memory.c), where
 * the kernel's answers matter: a Mome page of several OS pages, part of which is mapped already,
 * is mapped read-only whole. Each OS page's entry is read back from /proc/self/pagemap (present,
 * and the userfaultfd write-protect bit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memory/memory.h"
#include "memory/store.h"
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

Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    UNIT_CASE(s, test_memory__a_page_partly_mapped_writable_is_protected_whole);
    return s;
}
