/*
 * test_heap.c - unit tests of the shared-heap allocator (mome/heap.c), without a job: the heap is a
 * local anonymous mapping split into partitions as on a 4-node job, seen from node 1.
 *
 * The mapping is PROT_NONE, so any read or write of heap memory by the allocator kills the test
 * with SIGSEGV: every test here also checks that the metadata stays in private memory.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "core/heap.h"
#include "core/proto.h"
#include "base/log.h"
#include "nodecase.h"
#include "unit.h"

#define PAGE 4096ul
#define NNODES 4
#define SELF 1
#define HEAP_SIZE (4ull << 30)
#define PSIZE (HEAP_SIZE / NNODES)

static char *base;
static char *pbase; /* this node's partition */

typedef struct blk {
    char *p;
    size_t n;
} blk_t;

/* ---- helpers ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Mostly small blocks, some of a few pages, a few large. */
static size_t rnd_size(uint64_t *s, size_t max_pages)
{
    uint64_t r = rnd(s);

    switch (r % 8) {
    case 5:
    case 6:
        return (r >> 8) % (4 * PAGE);
    case 7:
        return (r >> 8) % (max_pages * PAGE);
    default:
        return (r >> 8) % (PAGE / 2 + 1);
    }
}

static size_t extent(size_t n)
{
    return n ? n : 1;
}

static int overlaps(const blk_t *a, const blk_t *b)
{
    return a->p < b->p + extent(b->n) && b->p < a->p + extent(a->n);
}

static int in_partition(const blk_t *b, char *part, uint64_t psize)
{
    return b->p >= part && b->p + extent(b->n) <= part + psize;
}

static int blk_cmp(const void *x, const void *y)
{
    const blk_t *a = x, *b = y;
    return a->p < b->p ? -1 : a->p > b->p;
}

/* Sort the blocks and fail on any two that overlap. */
static void check_disjoint(blk_t *b, size_t n)
{
    qsort(b, n, sizeof(*b), blk_cmp);
    for (size_t i = 1; i < n; i++)
        if (b[i - 1].p + extent(b[i - 1].n) > b[i].p)
            ck_abort_msg("%p+%zu overlaps %p", b[i - 1].p, b[i - 1].n, b[i].p);
}

static char *map_region(uint64_t size, int prot)
{
    char *p = mmap(NULL, size, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_msg(p != MAP_FAILED, "mmap of %llu bytes failed", (unsigned long long)size);
    return p;
}

static void *xalloc(size_t size)
{
    int err = 0;
    void *p = mome_heap_alloc(size, &err);
    ck_assert_msg(p, "alloc(%zu) failed: %d", size, err);
    return p;
}

/* Start again on a smaller heap of the same base (exhaustion and edge tests). */
static void reinit(uint64_t size, int self)
{
    mome_heap_fini();
    ck_assert_int_eq(mome_heap_init(base, size, NNODES, self, PAGE), 0);
}

static void setup(void)
{
    mome_log_level = MOME_LOG_WARN; /* some tests lower it; without fork mode it would stay */
    base = map_region(HEAP_SIZE, PROT_NONE);
    pbase = base + SELF * PSIZE;
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, PAGE), 0);
}

static void teardown(void)
{
    mome_heap_fini();
    munmap(base, HEAP_SIZE);
}

/* ---- tests ---- */

START_TEST(test_heap__alignment)
{
    static const size_t fixed[] = {0,    1,    15,    16,    17,      47,           48,   49,
                                   100,  2047, 2048,  2049,  4095,    4096,         4097, 8191,
                                   8192, 8193, 12345, 65536, 1 << 20, (1 << 20) + 1};
    size_t nf = sizeof(fixed) / sizeof(fixed[0]);

    for (size_t i = 0; i < nf; i++) {
        char *p = xalloc(fixed[i]);
        ck_assert_msg((uintptr_t)p % 16 == 0, "size %zu at %p", fixed[i], p);
        if (fixed[i] >= PAGE)
            ck_assert_msg((uintptr_t)p % PAGE == 0, "size %zu at %p", fixed[i], p);
    }
    for (size_t n = 1; n <= 3 * PAGE; n += 13) {
        char *p = xalloc(n);
        ck_assert_msg((uintptr_t)p % 16 == 0, "size %zu at %p", n, p);
        if (n >= PAGE)
            ck_assert_msg((uintptr_t)p % PAGE == 0, "size %zu at %p", n, p);
    }
}
END_TEST

/* Random alloc/free: every new block is checked against a shadow list of the live ones. */
START_TEST(test_heap__no_overlap)
{
    enum { MAXLIVE = 400, OPS = 30000 };
    static blk_t live[MAXLIVE];
    size_t nlive = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ull;

    for (int op = 0; op < OPS; op++) {
        if (nlive == MAXLIVE || (nlive && rnd(&seed) % 100 < 45)) {
            size_t i = rnd(&seed) % nlive;
            ck_assert_int_eq(mome_heap_free_local(live[i].p), 0);
            live[i] = live[--nlive];
            continue;
        }
        blk_t b = {.n = rnd_size(&seed, 64)};
        b.p = xalloc(b.n);
        /* Each ck_assert is a message to the runner: test first, assert only on failure. */
        for (size_t i = 0; i < nlive; i++)
            if (overlaps(&b, &live[i]))
                ck_abort_msg("op %d: %p+%zu overlaps %p+%zu", op, b.p, b.n, live[i].p, live[i].n);
        live[nlive++] = b;
    }
    ck_assert_uint_gt(mome_heap_in_use(), 0);
    for (size_t i = 0; i < nlive; i++)
        ck_assert_int_eq(mome_heap_free_local(live[i].p), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
}
END_TEST

/* Blocks stay inside the node's partition, also when it is full and for the first and last node. */
START_TEST(test_heap__partition)
{
    enum { MAXLIVE = 300, OPS = 20000 };
    static blk_t live[MAXLIVE];
    static const int selves[] = {SELF, 0, NNODES - 1};
    const uint64_t psize = 256 * PAGE; /* small: the workload fills it */

    for (int k = 0; k < 3; k++) {
        char *part = base + selves[k] * psize;
        uint64_t seed = 12345 + k;
        size_t nlive = 0;
        int full = 0;

        reinit(NNODES * psize, selves[k]);
        for (int op = 0; op < OPS; op++) {
            if (nlive == MAXLIVE || (nlive && rnd(&seed) % 100 < 40)) {
                size_t i = rnd(&seed) % nlive;
                ck_assert_int_eq(mome_heap_free_local(live[i].p), 0);
                live[i] = live[--nlive];
                continue;
            }
            int err = 0;
            blk_t b = {.n = rnd_size(&seed, 32)};
            b.p = mome_heap_alloc(b.n, &err);
            if (!b.p) {
                ck_assert_int_eq(err, -ENOMEM);
                full++;
                continue;
            }
            ck_assert_msg(in_partition(&b, part, psize), "%p+%zu outside node %d", b.p, b.n,
                          selves[k]);
            ck_assert_int_eq(mome_heap_owner(b.p), selves[k]);
            ck_assert_int_eq(mome_heap_owner(b.p + extent(b.n) - 1), selves[k]);
            live[nlive++] = b;
        }
        ck_assert_msg(full > 0, "the workload never filled node %d's partition", selves[k]);
        check_disjoint(live, nlive);
    }
}
END_TEST

START_TEST(test_heap__bad_free)
{
    char *small = xalloc(32);
    char *other = xalloc(32); /* same slab: keeps it alive after small is freed */
    char *odd = xalloc(48);   /* 85 slots of 48 bytes per page: 16 bytes of slack at the end */
    char *large = xalloc(3 * PAGE);
    char *slab48 = (char *)((uintptr_t)odd & ~(PAGE - 1));
    uint64_t used = mome_heap_in_use();

    mome_log_level = MOME_LOG_ERROR; /* each rejection is logged as a warning */
    ck_assert_int_eq(mome_heap_free_local(small + 16), -EINVAL); /* interior, small */
    ck_assert_int_eq(mome_heap_free_local(small + 1), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local(large + 16), -EINVAL);        /* interior, large */
    ck_assert_int_eq(mome_heap_free_local(large + PAGE), -EINVAL);      /* its second page */
    ck_assert_int_eq(mome_heap_free_local(small + 32 * 20), -EINVAL);   /* never-used slot */
    ck_assert_int_eq(mome_heap_free_local(slab48 + 85 * 48), -EINVAL);  /* slab slack */
    ck_assert_int_eq(mome_heap_free_local(pbase + PSIZE / 2), -EINVAL); /* never-used pages */
    ck_assert_int_eq(mome_heap_free_local(base), -EINVAL);              /* node 0 */
    ck_assert_int_eq(mome_heap_free_local(base + 2 * PSIZE), -EINVAL);  /* node 2 */
    ck_assert_int_eq(mome_heap_free_local(pbase + PSIZE), -EINVAL);     /* just past ours */
    ck_assert_int_eq(mome_heap_free_local(pbase - 16), -EINVAL);        /* just before */
    ck_assert_int_eq(mome_heap_free_local(NULL), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local((void *)16), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local((void *)UINTPTR_MAX), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local(base + HEAP_SIZE + PAGE), -EINVAL);
    ck_assert_uint_eq(mome_heap_in_use(), used);

    /* Double frees, and a freed slot in a slab that is still alive. */
    ck_assert_int_eq(mome_heap_free_local(small), 0);
    ck_assert_int_eq(mome_heap_free_local(small), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local(large), 0);
    ck_assert_int_eq(mome_heap_free_local(large), -EINVAL);
    ck_assert_int_eq(mome_heap_free_local(large + PAGE), -EINVAL);

    /* Nothing was corrupted: the rest frees normally and the heap is empty. */
    ck_assert_int_eq(mome_heap_free_local(other), 0);
    ck_assert_int_eq(mome_heap_free_local(odd), 0);
    ck_assert_int_eq(mome_heap_free_local(odd), -EINVAL); /* its slab went back to the pool */
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    ck_assert_ptr_eq(xalloc(3 * PAGE), pbase); /* all pages coalesced back into the tail */
}
END_TEST

START_TEST(test_heap__exhaustion)
{
    enum { NPAGES = 64, PER_PAGE = PAGE / 16 };
    static char *blocks[NPAGES * PER_PAGE];
    size_t n = 0;
    int err = 0;

    reinit(NNODES * NPAGES * PAGE, SELF);
    pbase = base + SELF * NPAGES * PAGE;

    ck_assert_ptr_null(mome_heap_alloc(NPAGES * PAGE + 1, &err));
    ck_assert_int_eq(err, -ENOMEM);
    err = 0;
    ck_assert_ptr_null(mome_heap_alloc(SIZE_MAX, &err));
    ck_assert_int_eq(err, -ENOMEM);
    err = 0;
    ck_assert_ptr_null(mome_heap_alloc(SIZE_MAX - PAGE / 2, &err));
    ck_assert_int_eq(err, -ENOMEM);

    /* Fill every page with 16-byte blocks. */
    for (;;) {
        err = 0;
        char *p = mome_heap_alloc(16, &err);
        if (!p)
            break;
        ck_assert_uint_lt(n, NPAGES * PER_PAGE);
        blocks[n++] = p;
    }
    ck_assert_int_eq(err, -ENOMEM);
    ck_assert_uint_eq(n, NPAGES * PER_PAGE);
    ck_assert_uint_eq(mome_heap_in_use(), NPAGES * PAGE);
    err = 0;
    ck_assert_ptr_null(mome_heap_alloc(PAGE, &err));
    ck_assert_int_eq(err, -ENOMEM);

    /* A freed slot can be allocated again. */
    ck_assert_int_eq(mome_heap_free_local(blocks[777]), 0);
    ck_assert_ptr_eq(xalloc(1), blocks[777]);

    /* Once everything is freed, the whole partition is one block again. */
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mome_heap_free_local(blocks[i]), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    ck_assert_ptr_eq(xalloc(NPAGES * PAGE), pbase);
    err = 0;
    ck_assert_ptr_null(mome_heap_alloc(0, &err));
    ck_assert_int_eq(err, -ENOMEM);
}
END_TEST

/* Freed pages are reused before never-used space: the footprint (highest end) does not grow. */
START_TEST(test_heap__reuse)
{
    char *a = xalloc(5 * PAGE);
    char *guard = xalloc(3 * PAGE); /* keeps a away from the never-used tail */
    char *top = guard + 3 * PAGE;
    uint64_t used = mome_heap_in_use();

    ck_assert_int_eq(mome_heap_free_local(a), 0);
    ck_assert_uint_eq(mome_heap_in_use(), used - 5 * PAGE);
    ck_assert_ptr_eq(xalloc(5 * PAGE - 100), a);
    ck_assert_uint_eq(mome_heap_in_use(), used);

    /* A smaller request is carved from the freed block, not from the tail. */
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    char *b = xalloc(2 * PAGE);
    char *c = xalloc(3 * PAGE);
    ck_assert_ptr_eq(b, a);
    ck_assert_ptr_eq(c, a + 2 * PAGE);
    ck_assert_ptr_eq(xalloc(PAGE), top); /* the tail starts where it did */

    /* Small blocks: a freed slot comes back, and so do the pages of an empty slab. */
    char *s = xalloc(100);
    used = mome_heap_in_use();
    ck_assert_int_eq(mome_heap_free_local(s), 0);
    ck_assert_ptr_eq(xalloc(100), s);
    ck_assert_uint_eq(mome_heap_in_use(), used);
    ck_assert_int_eq(mome_heap_free_local(s), 0);
    ck_assert_ptr_eq(xalloc(PAGE), s); /* the slab's page */
}
END_TEST

START_TEST(test_heap__coalesce)
{
    char *a = xalloc(4 * PAGE);
    char *b = xalloc(4 * PAGE);
    char *c = xalloc(4 * PAGE);
    char *d = xalloc(4 * PAGE);
    char *e = xalloc(PAGE); /* guard: the runs below never touch the tail */

    ck_assert_ptr_eq(b, a + 4 * PAGE);
    ck_assert_ptr_eq(c, b + 4 * PAGE);
    ck_assert_ptr_eq(d, c + 4 * PAGE);
    ck_assert_ptr_eq(e, d + 4 * PAGE);

    /* Merge with the following free run. */
    ck_assert_int_eq(mome_heap_free_local(b), 0);
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    ck_assert_ptr_eq(xalloc(8 * PAGE), a);

    /* Merge with the preceding free run. */
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    a = xalloc(4 * PAGE);
    b = xalloc(4 * PAGE);
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    ck_assert_int_eq(mome_heap_free_local(b), 0);
    ck_assert_ptr_eq(xalloc(8 * PAGE), a);

    /* Merge on both sides at once: a..d become one 16-page run. */
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    b = xalloc(4 * PAGE);
    ck_assert_ptr_eq(b, a);
    ck_assert_ptr_eq(xalloc(4 * PAGE), a + 4 * PAGE);
    ck_assert_int_eq(mome_heap_free_local(b), 0);
    ck_assert_int_eq(mome_heap_free_local(d), 0);
    ck_assert_int_eq(mome_heap_free_local(c), 0);
    ck_assert_int_eq(mome_heap_free_local(a + 4 * PAGE), 0);
    ck_assert_ptr_eq(xalloc(16 * PAGE), a);

    /* A run freed next to the never-used tail joins it. */
    ck_assert_int_eq(mome_heap_free_local(e), 0);
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    ck_assert_ptr_eq(xalloc(100 * PAGE), a);
}
END_TEST

START_TEST(test_heap__size_zero)
{
    char *a = xalloc(0);
    char *b = xalloc(0);

    ck_assert_ptr_ne(a, b);
    ck_assert_uint_eq((uintptr_t)a % 16, 0);
    ck_assert_uint_eq((uintptr_t)b % 16, 0);
    ck_assert_int_eq(mome_heap_owner(a), SELF);
    ck_assert_uint_gt(mome_heap_in_use(), 0);
    ck_assert_int_eq(mome_heap_free_local(a), 0);
    ck_assert_int_eq(mome_heap_free_local(b), 0);
    mome_log_level = MOME_LOG_ERROR;
    ck_assert_int_eq(mome_heap_free_local(a), -EINVAL);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
}
END_TEST

START_TEST(test_heap__owner_offset)
{
    for (int n = 0; n < NNODES; n++) {
        ck_assert_int_eq(mome_heap_owner(base + n * PSIZE), n);
        ck_assert_int_eq(mome_heap_owner(base + n * PSIZE + PSIZE / 3), n);
        ck_assert_int_eq(mome_heap_owner(base + (n + 1) * PSIZE - 1), n);
    }
    ck_assert_int_eq(mome_heap_owner(base - 1), -1);
    ck_assert_int_eq(mome_heap_owner(base + HEAP_SIZE), -1);
    ck_assert_int_eq(mome_heap_owner(NULL), -1);

    char *p = xalloc(1000);
    char *q = xalloc(10 * PAGE);
    ck_assert_int_eq(mome_heap_owner(p), SELF);
    ck_assert_int_eq(mome_heap_owner(q), SELF);
    ck_assert_ptr_eq(mome_heap_at(mome_heap_offset(p)), p);
    ck_assert_ptr_eq(mome_heap_at(mome_heap_offset(q)), q);
    ck_assert_uint_eq(mome_heap_offset(base), 0);
    ck_assert_uint_eq(mome_heap_offset(pbase), SELF * PSIZE);
    for (uint64_t o = 0; o < HEAP_SIZE; o += HEAP_SIZE / 7 + 16)
        ck_assert_uint_eq(mome_heap_offset(mome_heap_at(o)), o);
    ck_assert_ptr_null(mome_heap_at(HEAP_SIZE));
    ck_assert_int_eq(mome_heap_free_local(mome_heap_at(mome_heap_offset(q))), 0);

    /* A heap that does not split evenly: partitions round down to pages, the rest has no owner. */
    uint64_t psize = 10 * PAGE;
    reinit(NNODES * (psize + 100) + 7, SELF);
    ck_assert_int_eq(mome_heap_owner(base + NNODES * psize - 1), NNODES - 1);
    ck_assert_int_eq(mome_heap_owner(base + NNODES * psize), -1);
    ck_assert_ptr_eq(xalloc(psize), base + SELF * psize);
    int err = 0;
    ck_assert_ptr_null(mome_heap_alloc(1, &err));
    ck_assert_int_eq(err, -ENOMEM);
}
END_TEST

START_TEST(test_heap__init)
{
    mome_heap_fini();
    mome_log_level = -1; /* the rejections below are logged as errors */
    ck_assert_int_eq(mome_heap_init(NULL, HEAP_SIZE, NNODES, SELF, PAGE), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, 0, 0, PAGE), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, NNODES, PAGE), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, -1, PAGE), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, 3000), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base + 16, HEAP_SIZE, NNODES, SELF, PAGE), -EINVAL);
    ck_assert_int_eq(mome_heap_init(base, NNODES * PAGE - 1, NNODES, SELF, PAGE), -EINVAL);
    ck_assert_ptr_null(mome_heap_alloc(16, NULL)); /* not initialised */

    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, PAGE), 0);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, PAGE), -EBUSY);

    /* fini with live blocks releases the metadata (valgrind checks) and a new init starts over. */
    for (int i = 0; i < 100; i++)
        xalloc((size_t)i * 97);
    ck_assert_int_eq(mome_heap_free_local(xalloc(7 * PAGE)), 0);
    mome_heap_fini();
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, PAGE), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    ck_assert_ptr_eq(xalloc(PAGE), pbase);
}
END_TEST

/* The allocator never touches heap memory. The PROT_NONE fixture checks it for every test (a
 * touch is a SIGSEGV); here a readable, writable heap is left untouched: no page becomes resident
 * (mincore counts read faults too, which map the zero page). */
START_TEST(test_heap__no_touch)
{
    enum { NBLOCKS = 12000 };
    const uint64_t size = NNODES * 65536 * PAGE;
    char *rw = map_region(size, PROT_READ | PROT_WRITE);
    static unsigned char vec[NNODES * 65536];
    static void *blocks[NBLOCKS];
    uint64_t seed = 42;
    size_t n = 0;

    mome_heap_fini();
    ck_assert_int_eq(mome_heap_init(rw, size, NNODES, SELF, PAGE), 0);
    for (size_t sz = 0; sz <= 2 * PAGE; sz += 16)
        blocks[n++] = xalloc(sz);
    while (n < NBLOCKS)
        blocks[n++] = xalloc(rnd_size(&seed, 16));
    for (size_t i = 0; i < n; i += 2)
        ck_assert_int_eq(mome_heap_free_local(blocks[i]), 0);
    for (size_t i = 0; i < n; i += 2)
        blocks[i] = xalloc(rnd_size(&seed, 16));
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mome_heap_free_local(blocks[i]), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    mome_heap_fini();

    ck_assert_int_eq(mincore(rw, size, vec), 0);
    for (size_t i = 0; i < sizeof(vec); i++)
        if (vec[i] & 1)
            ck_abort_msg("heap page %zu was touched", i);
    munmap(rw, size);
    ck_assert_int_eq(mome_heap_init(base, HEAP_SIZE, NNODES, SELF, PAGE), 0); /* for teardown */
}
END_TEST

/* ---- threads ---- */

enum { NTHREADS = 4, T_OPS = 20000, T_MAXLIVE = 200 };

/*
 * One bit per 16-byte granule of the partition's low 256 MiB (the workload stays far below): set
 * while a block is live. Set and cleared atomically, so two threads holding overlapping blocks at
 * the same moment are caught even if one of them frees its block later.
 */
#define GRANULES (256ul << 20 >> 4)
static uint64_t *live_map;

typedef struct worker {
    pthread_t tid;
    uint64_t seed;
    blk_t live[T_MAXLIVE];
    size_t nlive;
    const char *fail; /* Check's assertions are not for other threads: report here */
} worker_t;

/* Set (or clear) the bits of [p, p + n); 0 if none was already set (or clear). */
static int mark(const blk_t *b, int set)
{
    uint64_t g = (uint64_t)(b->p - pbase) >> 4;
    uint64_t end = g + ((extent(b->n) + 15) >> 4);

    if (end > GRANULES)
        return -1;
    for (; g < end; g = (g | 63) + 1) {
        uint64_t hi = end - (g & ~63ull) >= 64 ? 64 : end - (g & ~63ull);
        uint64_t m = (hi == 64 ? ~0ull : (1ull << hi) - 1) & ~((1ull << (g & 63)) - 1);
        uint64_t old = set ? __atomic_fetch_or(&live_map[g >> 6], m, __ATOMIC_RELAXED)
                           : __atomic_fetch_and(&live_map[g >> 6], ~m, __ATOMIC_RELAXED);
        if ((old & m) != (set ? 0 : m))
            return -1;
    }
    return 0;
}

static void *worker_run(void *arg)
{
    worker_t *w = arg;

    for (int op = 0; op < T_OPS && !w->fail; op++) {
        if (w->nlive == T_MAXLIVE || (w->nlive && rnd(&w->seed) % 100 < 45)) {
            size_t i = rnd(&w->seed) % w->nlive;
            if (mark(&w->live[i], 0) < 0)
                w->fail = "a live block's bits were cleared by another thread";
            else if (mome_heap_free_local(w->live[i].p) != 0)
                w->fail = "free of a live block failed";
            w->live[i] = w->live[--w->nlive];
            continue;
        }
        int err = 0;
        blk_t b = {.n = rnd_size(&w->seed, 16)};
        b.p = mome_heap_alloc(b.n, &err);
        if (!b.p)
            w->fail = "alloc failed";
        else if (!in_partition(&b, pbase, PSIZE))
            w->fail = "block outside the partition";
        else if ((uint64_t)(b.p - pbase) + extent(b.n) > GRANULES * 16)
            w->fail = "block beyond the live map (the footprint grew far too much)";
        else if (mark(&b, 1) < 0)
            w->fail = "block overlaps a live block";
        else
            w->live[w->nlive++] = b;
    }
    return NULL;
}

START_TEST(test_heap__threads)
{
    static worker_t w[NTHREADS];
    static blk_t all[NTHREADS * T_MAXLIVE];
    size_t n = 0;

    live_map = calloc(GRANULES / 64, sizeof(*live_map));
    ck_assert_ptr_nonnull(live_map);
    for (int i = 0; i < NTHREADS; i++) {
        w[i].seed = 0x1234567ull * (i + 1);
        ck_assert_int_eq(pthread_create(&w[i].tid, NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_msg(!w[i].fail, "thread %d: %s", i, w[i].fail);
        for (size_t j = 0; j < w[i].nlive; j++)
            all[n++] = w[i].live[j];
    }
    check_disjoint(all, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(mome_heap_free_local(all[i].p), 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    free(live_map);
}
END_TEST

/* A share of one page takes every size that fits it (a 1536-byte block's slab was two pages, and
 * an empty share refused it: helper-124), and slabs never pass the share. */
START_TEST(test_heap__a_share_of_one_page)
{
    reinit(NNODES * PAGE, SELF);
    void *p = xalloc(1500);
    ck_assert((char *)p >= base + SELF * PAGE && (char *)p + 1500 <= base + (SELF + 1) * PAGE);
    ck_assert_int_eq(mome_heap_free_local(p), 0);
    for (size_t size = 16; size <= PAGE; size += 16) {
        p = xalloc(size);
        ck_assert_int_eq(mome_heap_free_local(p), 0);
    }
    ck_assert_uint_eq(mome_heap_in_use(), 0);
}
END_TEST

/* ---- HEAP_FREE: another node's free of a block of this node's ---- */

static void free_from_2(void *arg)
{
    mome_syncmsg_t f = {.id = *(const uint64_t *)arg};
    msgtest_deliver(MOME_MSG_HEAP_FREE, 0, 2, &f, NULL, 0);
}

/* A node sends a free to the block's owner, which it computes itself: a free of another
 * partition's block, or of no block of the heap, comes from a broken node and stops the job. A
 * block of this partition that is not live is the program's double free: warned about. */
START_TEST(test_heap__a_free_from_another_node_names_this_nodes_block)
{
    nc_up(NNODES, SELF);
    uint64_t off = 64; /* node 0's */
    nc_expect_death(free_from_2, &off,
                    "node 2 freed offset 0x40 of the heap, which is not in this node's partition "
                    "[0x40000000, 0x80000000)");
    off = HEAP_SIZE;
    nc_expect_death(free_from_2, &off, "node 2 freed offset 0x100000000 of the heap");
    char *p = xalloc(100);
    ck_assert_uint_gt(mome_heap_in_use(), 0);
    mome_syncmsg_t f = {.id = (uint64_t)(p - base)};
    nc_deliver(MOME_MSG_HEAP_FREE, 0, 2, &f, NULL, 0);
    ck_assert_uint_eq(mome_heap_in_use(), 0);
    nc_deliver(MOME_MSG_HEAP_FREE, 0, 2, &f, NULL, 0); /* twice: the program's, warned about */
    ck_assert_uint_eq(mome_heap_in_use(), 0);
}
END_TEST

static void node_teardown(void)
{
    nc_down();
    teardown();
}

/* ---- suite (run by runner.c) ---- */

static void add(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

Suite *heap_suite(void)
{
    Suite *s = suite_create("heap");

    add(s, "alignment", test_heap__alignment);
    add(s, "no_overlap", test_heap__no_overlap);
    add(s, "partition", test_heap__partition);
    add(s, "bad_free", test_heap__bad_free);
    add(s, "exhaustion", test_heap__exhaustion);
    add(s, "reuse", test_heap__reuse);
    add(s, "coalesce", test_heap__coalesce);
    add(s, "size_zero", test_heap__size_zero);
    add(s, "owner_offset", test_heap__owner_offset);
    add(s, "init", test_heap__init);
    add(s, "no_touch", test_heap__no_touch);
    add(s, "threads", test_heap__threads);
    add(s, "a_share_of_one_page", test_heap__a_share_of_one_page);
    TCase *tc = tcase_create("a_free_from_another_node_names_this_nodes_block");
    tcase_add_checked_fixture(tc, setup, node_teardown);
    tcase_add_test(tc, test_heap__a_free_from_another_node_names_this_nodes_block);
    suite_add_tcase(s, tc);
    return s;
}
