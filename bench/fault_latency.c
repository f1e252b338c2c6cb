/*
 * fault_latency.c - remote fault costs on 2 nodes, and the local floors they are compared with,
 * measured in the same process (node 1; both nodes print the CPUs they are bound to). Each test
 * prints "key value" pairs on node 1's standard output; run-bench.sh takes medians over runs and
 * prints the ratios.
 *
 *   mome-run -n 2 ./fault_latency [-p pages] [-f floor_pages] [-s scale_pages] [-S many_pages]
 *                                 [-G big_gib] test...
 *
 * Tests (any order, each in fresh segments):
 *   floors  node 1 alone, no Mome memory, `floor_pages` (2,000) faults each: first_touch_us
 *           (a write to an anonymous page never touched, 4 KiB pages: alloc + zero + map),
 *           memfd_minor_us (a read of a memfd page already in the page cache, through a fresh
 *           MAP_SHARED mapping, one page per 64 KiB so fault-around maps nothing more),
 *           uffd_same_us and uffd_other_us (a read of a missing memfd page registered with
 *           userfaultfd, resolved by UFFDIO_COPY from a handler thread waiting in poll on the same
 *           core as the faulting thread, or on another core), uffd_minor_us (same core, page
 *           already cached, resolved by UFFDIO_CONTINUE).
 *   steps   node 1 alone: the system calls of Mome's fault path one at a time, on a memfd and a
 *           view registered as memory.c registers them, `floor_pages` fresh pages each, medians:
 *           step_populate_us (MADV_POPULATE_WRITE: a fresh page), step_memcpy_us (4 KiB into it;
 *           step_memcpy_again_us: a second time), step_continue_us (UFFDIO_CONTINUE, half of
 *           them MODE_WP), step_wp_on_us and
 *           step_wp_off_us (UFFDIO_WRITEPROTECT of a mapped writable page), step_zap_us
 *           (MADV_DONTNEED), step_punch_us (FALLOC_FL_PUNCH_HOLE), step_uffd_copy_us
 *           (UFFDIO_COPY into a missing page: allocate, copy, map), step_uffd_copy_zeros_us and
 *           step_uffd_zeropage_us (a page of zeros mapped writable: UFFDIO_COPY from zeros, or
 *           UFFDIO_ZEROPAGE, alternately), step_yield_us (sched_yield),
 *           step_epoll0_us (epoll_wait with timeout 0).
 *   sparse  node 0 writes `pages` pages spread over a 1 GiB segment, 9 pages apart at least, so a
 *           read-ahead of 7 pages never fetches a page used later; node 1 reads them in random
 *           order: read_sparse_us per fault. Run it with MOME_PREFETCH=0 for "read-ahead off".
 *   dense   node 0 writes `pages` consecutive pages, node 1 reads them in order: read_dense_us per
 *           page (with the default read-ahead most pages are fetched ahead of their fault).
 *   write   as sparse, but node 1 writes (an atomic add, checking node 0's value): write_fault_us
 *           per fault, a remote write fault on a page another node holds writable.
 *   first   node 1 writes `pages` spread pages nobody has: first_write_us per fault.
 *   firstseq node 1 writes `pages` consecutive pages nobody has, in order (an initialisation
 *           loop; STRONG, the default: write-ahead opens most of them): first_seq_write_us per
 *           page.
 *   scale   as write with `scale_pages` pages (20,000) in a 1 GiB segment, then in a big_gib
 *           (16) GiB one, then `many_pages` (300,000) in another big_gib one: write_1g_us,
 *           write_big_us, write_many_us; write_many_head_us and write_many_tail_us are the cost
 *           of its first and of its last `scale_pages` faults.
 *
 * Every value node 1 reads is checked against what node 0 wrote; a wrong one ends the run with
 * "wrong data" and exit status 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mome.h>

#define SPREAD 9        /* pages between two pages a sparse test touches, at least */
#define FAULT_AROUND 16 /* pages: the kernel's default fault-around window (64 KiB) */

static size_t ps;
static int me;
static char *prog = "fault_latency";

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void fail(const char *what)
{
    fprintf(stderr, "%s (node %d): %s: %s\n", prog, me, what, strerror(errno));
    MomeAbort(1, "fault_latency failed");
}

static uint64_t value_of(uint64_t page)
{
    return page * 0x9e3779b97f4a7c15ull + 1;
}

/* xorshift64: the same sequence on both nodes. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/*
 * n distinct slots of 0..nslots-1 in random order (a partial Fisher-Yates shuffle), each times
 * `stride` plus `first`: page numbers. The same on every node.
 */
static uint64_t *pick(uint64_t n, uint64_t nslots, uint64_t stride, uint64_t first)
{
    uint64_t *slot = malloc(sizeof(*slot) * nslots), *out = malloc(sizeof(*out) * n);
    uint64_t seed = 88172645463325252ull;
    if (!slot || !out || n > nslots) {
        fprintf(stderr, "%s: %llu pages do not fit (%llu slots) or no memory\n", prog,
                (unsigned long long)n, (unsigned long long)nslots);
        MomeAbort(1, "fault_latency: bad sizes");
    }
    for (uint64_t i = 0; i < nslots; i++)
        slot[i] = i;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t j = i + rnd(&seed) % (nslots - i), t = slot[i];
        slot[i] = slot[j], slot[j] = t;
        out[i] = slot[i] * stride + first;
    }
    free(slot);
    return out;
}

/* ---- the floors: node 1 alone, plain kernel memory ---- */

static double first_touch(long n)
{
    char *a =
        mmap(NULL, (size_t)n * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        fail("mmap");
    madvise(a, (size_t)n * ps, MADV_NOHUGEPAGE); /* 4 KiB pages, as Mome's */
    uint64_t *order = pick((uint64_t)n, (uint64_t)n, 1, 0);
    double t0 = now_us();
    for (long i = 0; i < n; i++)
        *(volatile uint64_t *)(a + order[i] * ps) = 1;
    double us = (now_us() - t0) / (double)n;
    munmap(a, (size_t)n * ps);
    free(order);
    return us;
}

/* A memfd of n * FAULT_AROUND pages whose touched pages (one per window) are in the page cache. */
static int cached_memfd(long n, const uint64_t *order)
{
    int fd = memfd_create("fault_latency", MFD_CLOEXEC);
    static char buf[1 << 16];
    if (fd < 0 || ftruncate(fd, (off_t)((size_t)n * FAULT_AROUND * ps)) < 0)
        fail("memfd");
    memset(buf, 0x5a, sizeof(buf));
    for (long i = 0; i < n; i++)
        if (pwrite(fd, buf, ps, (off_t)(order[i] * ps)) != (ssize_t)ps)
            fail("pwrite");
    return fd;
}

static double memfd_minor(long n)
{
    uint64_t *order = pick((uint64_t)n, (uint64_t)n, FAULT_AROUND, 0);
    int fd = cached_memfd(n, order);
    size_t len = (size_t)n * FAULT_AROUND * ps;
    char *a = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    uint64_t sum = 0;
    if (a == MAP_FAILED)
        fail("mmap memfd");
    double t0 = now_us();
    for (long i = 0; i < n; i++)
        sum += *(volatile uint8_t *)(a + order[i] * ps);
    double us = (now_us() - t0) / (double)n;
    if (sum != 0x5aull * (uint64_t)n) {
        fprintf(stderr, "%s: memfd floor read wrong data\n", prog);
        MomeAbort(1, "fault_latency: wrong data");
    }
    munmap(a, len);
    close(fd);
    free(order);
    return us;
}

typedef struct uffd_handler {
    int uffd, stopfd, cpu, minor;
    char *src;
    long served;
} uffd_handler_t;

/* Waits in poll as Mome's progress thread waits in epoll, and resolves each fault. */
static void *uffd_serve(void *arg)
{
    uffd_handler_t *h = arg;
    if (h->cpu >= 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(h->cpu, &one);
        if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) != 0)
            h->cpu = -2;
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = h->uffd, .events = POLLIN},
                              {.fd = h->stopfd, .events = POLLIN}};
        struct uffd_msg m[16];
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            fail("poll");
        if (p[1].revents)
            return NULL;
        ssize_t k = read(h->uffd, m, sizeof(m));
        if (k < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (k < 0)
            fail("read userfaultfd");
        for (long i = 0; i < k / (ssize_t)sizeof(m[0]); i++) {
            if (m[i].event != UFFD_EVENT_PAGEFAULT)
                continue;
            uint64_t a = m[i].arg.pagefault.address & ~(uint64_t)(ps - 1);
            int rc;
            if (h->minor) {
                struct uffdio_continue c = {.range = {a, ps}};
                rc = ioctl(h->uffd, UFFDIO_CONTINUE, &c);
            } else {
                struct uffdio_copy c = {.dst = a, .src = (uintptr_t)h->src, .len = ps};
                rc = ioctl(h->uffd, UFFDIO_COPY, &c);
            }
            if (rc < 0 && errno != EEXIST)
                fail("resolving a userfaultfd fault");
            h->served++;
        }
    }
}

/* A read fault resolved by a handler thread on this core (cpu -1) or on `cpu`; minor: the page is
 * cached and mapped by UFFDIO_CONTINUE, else missing and filled by UFFDIO_COPY. -1: no
 * userfaultfd, -2: the handler could not move to that core. */
static double uffd_fault(long n, int cpu, int minor)
{
    uint64_t *order = pick((uint64_t)n, (uint64_t)n, FAULT_AROUND, 0);
    int fd = minor ? cached_memfd(n, order) : memfd_create("fault_latency", MFD_CLOEXEC);
    size_t len = (size_t)n * FAULT_AROUND * ps;
    uffd_handler_t h = {.cpu = cpu, .minor = minor};
    uint64_t sum = 0;
    pthread_t th;

    if (fd < 0 || (!minor && ftruncate(fd, (off_t)len) < 0))
        fail("memfd");
    h.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    struct uffdio_api api = {
        .api = UFFD_API, .features = minor ? UFFD_FEATURE_MINOR_SHMEM : UFFD_FEATURE_MISSING_SHMEM};
    if (h.uffd < 0 || ioctl(h.uffd, UFFDIO_API, &api) < 0) {
        close(fd);
        free(order);
        if (h.uffd >= 0)
            close(h.uffd);
        return -1;
    }
    char *a = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED)
        fail("mmap");
    struct uffdio_register reg = {.range = {(uintptr_t)a, len},
                                  .mode = minor ? UFFDIO_REGISTER_MODE_MINOR
                                                : UFFDIO_REGISTER_MODE_MISSING};
    if (ioctl(h.uffd, UFFDIO_REGISTER, &reg) < 0)
        fail("UFFDIO_REGISTER");
    h.src = aligned_alloc(ps, ps);
    h.stopfd = eventfd(0, EFD_CLOEXEC);
    if (!h.src || h.stopfd < 0)
        fail("handler setup");
    memset(h.src, 0x5a, ps);
    if (pthread_create(&th, NULL, uffd_serve, &h) != 0)
        fail("pthread_create");
    double t0 = now_us();
    for (long i = 0; i < n; i++)
        sum += *(volatile uint8_t *)(a + order[i] * ps);
    double us = (now_us() - t0) / (double)n;
    uint64_t one = 1;
    if (write(h.stopfd, &one, sizeof(one)) != sizeof(one))
        fail("eventfd");
    pthread_join(th, NULL);
    if (sum != 0x5aull * (uint64_t)n) {
        fprintf(stderr, "%s: userfaultfd floor read wrong data\n", prog);
        MomeAbort(1, "fault_latency: wrong data");
    }
    munmap(a, len);
    close(h.uffd);
    close(h.stopfd);
    close(fd);
    free(h.src);
    free(order);
    return h.cpu == -2 ? -2 : us;
}

/* Another core than the one this thread runs on, or -1 if there is none. */
static int other_cpu(void)
{
    int here = sched_getcpu();
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 1 ? (int)((here + 1) % n) : -1;
}

static void floors(long n)
{
    if (me == 1) {
        int oc = other_cpu();
        /* warm-up: the allocator's first pages, the code */
        first_touch(n / 10 + 1);
        printf("first_touch_us %.2f\n", first_touch(n));
        printf("memfd_minor_us %.2f\n", memfd_minor(n));
        printf("uffd_same_us %.2f\n", uffd_fault(n, -1, 0));
        printf("uffd_other_us %.2f\n", oc < 0 ? -1 : uffd_fault(n, oc, 0));
        printf("uffd_minor_us %.2f\n", uffd_fault(n, -1, 1));
        fflush(stdout);
    }
    MomeBarrier();
}

/* ---- the steps of Mome's fault path, one at a time, on memory set up as Mome's ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of n samples (sorts them). */
static double median_of(double *v, long n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define TIME_STEP(v, i, op)                                                                        \
    do {                                                                                           \
        double t0_ = now_us();                                                                     \
        if ((op) < 0)                                                                              \
            fail(#op);                                                                             \
        (v)[i] = now_us() - t0_;                                                                   \
    } while (0)

/*
 * Node 1 alone: a memfd with a runtime mapping and a view registered with userfaultfd in missing,
 * minor and write-protect modes, as memory.c sets them up; each operation the fault path uses,
 * timed one page at a time on fresh pages, medians printed (no fault is taken: the calls alone).
 */
static void steps(long n)
{
    if (me != 1) {
        MomeBarrier();
        return;
    }
    size_t len = (size_t)n * FAULT_AROUND * ps;
    int fd = memfd_create("fault_latency", MFD_CLOEXEC);
    int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    int efd = eventfd(0, EFD_CLOEXEC), ep = epoll_create1(EPOLL_CLOEXEC);
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM |
                                         UFFD_FEATURE_WP_HUGETLBFS_SHMEM};
    double *v = malloc(sizeof(*v) * (size_t)n);
    char *src = aligned_alloc(ps, ps);
    struct epoll_event ev = {.events = EPOLLIN};

    if (fd < 0 || ftruncate(fd, (off_t)(2 * len)) < 0 || uffd < 0 || efd < 0 || ep < 0 || !v ||
        !src || ioctl(uffd, UFFDIO_API, &api) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, uffd, &ev) < 0)
        fail("steps setup");
    memset(src, 0x5a, ps);
    char *rt = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *view = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (rt == MAP_FAILED || view == MAP_FAILED)
        fail("mmap");
    struct uffdio_register reg = {.range = {(uintptr_t)view, 2 * len},
                                  .mode = UFFDIO_REGISTER_MODE_MISSING |
                                          UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
        fail("UFFDIO_REGISTER");
#define PG(i) ((size_t)(i)*FAULT_AROUND * ps)
    /* A page arrives: fresh memory (request), the content copied in, mapped read-only. */
    for (long i = 0; i < n; i++)
        TIME_STEP(v, i, madvise(rt + PG(i), ps, MADV_POPULATE_WRITE));
    printf("step_populate_us %.2f\n", median_of(v, n));
    for (long i = 0; i < n; i++)
        TIME_STEP(v, i, (memcpy(rt + PG(i), src, ps), 0));
    printf("step_memcpy_us %.2f\n", median_of(v, n));
    for (long i = 0; i < n; i++) /* the same pages again: their page table entries are known */
        TIME_STEP(v, i, (memcpy(rt + PG(i), src, ps), 0));
    printf("step_memcpy_again_us %.2f\n", median_of(v, n));
    for (long i = 0; i < n; i++) {
        struct uffdio_continue c = {.range = {(uintptr_t)(view + PG(i)), ps},
                                    .mode = (i & 1) ? UFFDIO_CONTINUE_MODE_WP : 0};
        TIME_STEP(v, i, ioctl(uffd, UFFDIO_CONTINUE, &c));
    }
    printf("step_continue_us %.2f\n", median_of(v, n));
    /* The holder: write-protect a writable mapped page, and back; drop it from the view. */
    for (long i = 0; i < n; i += 2) /* the writable ones */
        *(volatile char *)(view + PG(i)) = 1;
    for (long i = 0; i < n / 2; i++) {
        struct uffdio_writeprotect w = {.range = {(uintptr_t)(view + PG(2 * i)), ps},
                                        .mode = UFFDIO_WRITEPROTECT_MODE_WP};
        TIME_STEP(v, i, ioctl(uffd, UFFDIO_WRITEPROTECT, &w));
    }
    printf("step_wp_on_us %.2f\n", median_of(v, n / 2));
    for (long i = 0; i < n / 2; i++) {
        struct uffdio_writeprotect w = {.range = {(uintptr_t)(view + PG(2 * i)), ps}};
        TIME_STEP(v, i, ioctl(uffd, UFFDIO_WRITEPROTECT, &w));
    }
    printf("step_wp_off_us %.2f\n", median_of(v, n / 2));
    for (long i = 0; i < n; i++)
        TIME_STEP(v, i, madvise(view + PG(i), ps, MADV_DONTNEED));
    printf("step_zap_us %.2f\n", median_of(v, n));
    for (long i = 0; i < n; i++)
        TIME_STEP(
            v, i,
            fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)PG(i), (off_t)ps));
    printf("step_punch_us %.2f\n", median_of(v, n));
    /* The other path: a fresh page allocated, filled and mapped by one UFFDIO_COPY. */
    for (long i = 0; i < n; i++) {
        struct uffdio_copy c = {.dst = (uintptr_t)(view + len + PG(i)),
                                .src = (uintptr_t)src,
                                .len = ps,
                                .mode = UFFDIO_COPY_MODE_WP};
        TIME_STEP(v, i, ioctl(uffd, UFFDIO_COPY, &c));
    }
    printf("step_uffd_copy_us %.2f\n", median_of(v, n));
    /* A page of zeros mapped writable (a first write): copied from a page of zeros, or cleared by
     * the kernel (UFFDIO_ZEROPAGE), alternately, on the page after each of the pages above. */
    double *z = malloc(sizeof(*z) * (size_t)n);
    char *zsrc = aligned_alloc(ps, ps);
    if (!z || !zsrc)
        fail("malloc");
    memset(zsrc, 0, ps);
    for (long i = 0; i < n; i++) {
        uintptr_t dst = (uintptr_t)(view + len + PG(i) + ps);
        struct uffdio_copy c = {.dst = dst, .src = (uintptr_t)zsrc, .len = ps};
        struct uffdio_zeropage zp = {.range = {dst, ps}};
        if (i & 1)
            TIME_STEP(z, i / 2, ioctl(uffd, UFFDIO_ZEROPAGE, &zp));
        else
            TIME_STEP(v, i / 2, ioctl(uffd, UFFDIO_COPY, &c));
    }
    printf("step_uffd_copy_zeros_us %.2f\n", median_of(v, (n + 1) / 2));
    printf("step_uffd_zeropage_us %.2f\n", median_of(z, n / 2));
    free(z);
    free(zsrc);
    /* The progress thread's loop. */
    for (long i = 0; i < n; i++)
        TIME_STEP(v, i, sched_yield());
    printf("step_yield_us %.2f\n", median_of(v, n));
    for (long i = 0; i < n; i++) {
        struct epoll_event e[8];
        TIME_STEP(v, i, epoll_wait(ep, e, 8, 0));
    }
    printf("step_epoll0_us %.2f\n", median_of(v, n));
    fflush(stdout);
#undef PG
    munmap(rt, 2 * len);
    munmap(view, 2 * len);
    close(uffd);
    close(fd);
    close(efd);
    close(ep);
    free(v);
    free(src);
    MomeBarrier();
}

/* ---- the remote faults ---- */

typedef struct region {
    int seg;
    char *a;
    uint64_t size;
    char name[64];
} region_t;

static region_t open_region(const char *name, uint64_t size)
{
    region_t r = {.size = size};
    snprintf(r.name, sizeof(r.name), "fault_latency.%s", name);
    r.seg = MomeSegOpen(r.name, size, MOME_CREATE);
    if (r.seg < 0)
        fail(MomeError());
    r.a = MomeMMap(NULL, size, MOME_READ | MOME_WRITE, 0, r.seg, 0);
    if (r.a == MOME_MAP_FAILED)
        fail(MomeError());
    return r;
}

/* Done with it on both nodes: its memory goes. */
static void close_region(region_t *r)
{
    MomeBarrier();
    if (MomeMUnmap(r->a, r->size) < 0 || MomeSegClose(r->seg) < 0)
        fail(MomeError());
    MomeBarrier();
    if (me == 0 && MomeSegUnlink(r->name) < 0)
        fail(MomeError());
}

static void wrong(uint64_t page, uint64_t got)
{
    fprintf(stderr,
            "%s: wrong data: page %llu holds %#llx, not what node 0 wrote (%#llx) nor "
            "zeros\n",
            prog, (unsigned long long)page, (unsigned long long)got,
            (unsigned long long)value_of(page));
    MomeAbort(1, "fault_latency: wrong data");
}

/* Node 0 writes the pages (in that order); a barrier. */
static void fill(char *a, const uint64_t *pages, uint64_t n)
{
    if (me == 0)
        for (uint64_t i = 0; i < n; i++)
            *(volatile uint64_t *)(a + pages[i] * ps) = value_of(pages[i]);
    MomeBarrier();
}

/* Node 1 reads the pages in that order; microseconds per page. */
static double read_all(char *a, const uint64_t *pages, uint64_t n)
{
    double us = 0;
    if (me == 1) {
        double t0 = now_us();
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v = *(volatile uint64_t *)(a + pages[i] * ps);
            if (v != value_of(pages[i]))
                wrong(pages[i], v);
        }
        us = (now_us() - t0) / (double)n;
    }
    MomeBarrier();
    return us;
}

/* Node 1 updates the pages in that order (one write fault each), checking what they held (node
 * 0's values, or zeros); microseconds per page. With head and tail, also the cost per page of the
 * first and of the last `chunk` pages. */
static double write_all(char *a, const uint64_t *pages, uint64_t n, int zeros, uint64_t chunk,
                        double *head, double *tail)
{
    double us = 0;
    if (me == 1) {
        double t0 = now_us(), th = t0, tt = t0;
        for (uint64_t i = 0; i < n; i++) {
            if (i == chunk)
                th = now_us();
            if (i == n - chunk)
                tt = now_us();
            uint64_t v = __atomic_fetch_add((uint64_t *)(a + pages[i] * ps), 1, __ATOMIC_RELAXED);
            if (v != (zeros ? 0 : value_of(pages[i])))
                wrong(pages[i], v);
        }
        double t1 = now_us();
        us = (t1 - t0) / (double)n;
        if (head && chunk && chunk < n) {
            *head = (th - t0) / (double)chunk;
            *tail = (t1 - tt) / (double)chunk;
        }
    }
    MomeBarrier();
    return us;
}

/* Pages 0 to n - 1, in order. */
static uint64_t *consecutive(uint64_t n)
{
    uint64_t *p = malloc(sizeof(*p) * (size_t)n);
    if (!p)
        fail("malloc");
    for (uint64_t k = 0; k < n; k++)
        p[k] = k;
    return p;
}

/* `n` pages spread over a segment of `gib` GiB, in random order. */
static uint64_t *spread(uint64_t n, uint64_t gib)
{
    uint64_t npages = (gib << 30) / ps;
    return pick(n, npages / SPREAD, SPREAD, 0);
}

static void say(const char *key, double us)
{
    if (me == 1) {
        printf("%s %.2f\n", key, us);
        fflush(stdout);
    }
}

/* Remote write faults: node 0 writes n spread pages of a gib GiB segment, node 1 updates them. */
static double remote_writes(const char *name, uint64_t n, uint64_t gib, uint64_t chunk,
                            double *head, double *tail)
{
    region_t r = open_region(name, gib << 30);
    uint64_t *pages = spread(n, gib);
    fill(r.a, pages, n);
    double us = write_all(r.a, pages, n, 0, chunk, head, tail);
    close_region(&r);
    free(pages);
    return us;
}

static void usage(void)
{
    fprintf(stderr, "usage: mome-run -n 2 fault_latency [-p pages] [-f floor_pages] "
                    "[-s scale_pages] [-S many_pages] [-G big_gib] "
                    "floors|steps|sparse|dense|write|first|firstseq|scale...\n");
    exit(2);
}

static long count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v <= 0)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    long pages = 20000, floor_pages = 2000, scale_pages = 20000, many_pages = 300000, big_gib = 16;
    int c;

    if (MomeInit(&argc, &argv) < 0 || MomeNodes() != 2) {
        fprintf(stderr, "fault_latency: needs a 2-node job: %s\n", MomeError());
        return 1;
    }
    while ((c = getopt(argc, argv, "p:f:s:S:G:")) != -1) {
        switch (c) {
        case 'p':
            pages = count_arg(optarg);
            break;
        case 'f':
            floor_pages = count_arg(optarg);
            break;
        case 's':
            scale_pages = count_arg(optarg);
            break;
        case 'S':
            many_pages = count_arg(optarg);
            break;
        case 'G':
            big_gib = count_arg(optarg);
            break;
        default:
            usage();
        }
    }
    if (optind == argc)
        usage();
    me = MomeNode();
    ps = MomePageSize();
    /* Where the launcher bound this node (another Mome job on the machine may hold a core, and
     * then both nodes share one): run-bench.sh reports it. */
    cpu_set_t set;
    char cpus[256] = "";
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int k = 0, n = 0; k < CPU_SETSIZE && n < 200; k++)
            if (CPU_ISSET(k, &set))
                n += snprintf(cpus + n, sizeof(cpus) - (size_t)n, "%s%d", n ? "," : "", k);
    printf("node%d_cpus %s\n", me, cpus);
    fflush(stdout);
    MomeBarrier();
    if (me == 1)
        printf("pages %ld floor_pages %ld scale_pages %ld many_pages %ld big_gib %ld page_size "
               "%zu\n",
               pages, floor_pages, scale_pages, many_pages, big_gib, ps);
    for (int i = optind; i < argc; i++) {
        const char *t = argv[i];
        if (strcmp(t, "floors") == 0) {
            floors(floor_pages);
        } else if (strcmp(t, "steps") == 0) {
            steps(floor_pages);
        } else if (strcmp(t, "sparse") == 0) {
            region_t r = open_region("sparse", 1ull << 30);
            uint64_t *p = spread((uint64_t)pages, 1);
            fill(r.a, p, (uint64_t)pages);
            say("read_sparse_us", read_all(r.a, p, (uint64_t)pages));
            close_region(&r);
            free(p);
        } else if (strcmp(t, "dense") == 0) {
            region_t r = open_region("dense", (uint64_t)pages * ps);
            uint64_t *p = consecutive((uint64_t)pages);
            fill(r.a, p, (uint64_t)pages);
            say("read_dense_us", read_all(r.a, p, (uint64_t)pages));
            close_region(&r);
            free(p);
        } else if (strcmp(t, "write") == 0) {
            say("write_fault_us", remote_writes("write", (uint64_t)pages, 1, 0, NULL, NULL));
        } else if (strcmp(t, "first") == 0) {
            region_t r = open_region("first", 1ull << 30);
            uint64_t *p = spread((uint64_t)pages, 1);
            MomeBarrier();
            say("first_write_us", write_all(r.a, p, (uint64_t)pages, 1, 0, NULL, NULL));
            close_region(&r);
            free(p);
        } else if (strcmp(t, "firstseq") == 0) {
            region_t r = open_region("firstseq", (uint64_t)pages * ps);
            uint64_t *p = consecutive((uint64_t)pages);
            MomeBarrier();
            say("first_seq_write_us", write_all(r.a, p, (uint64_t)pages, 1, 0, NULL, NULL));
            close_region(&r);
            free(p);
        } else if (strcmp(t, "scale") == 0) {
            uint64_t sp = (uint64_t)scale_pages;
            double head = 0, tail = 0;
            say("write_1g_us", remote_writes("scale1", sp, 1, 0, NULL, NULL));
            say("write_big_us", remote_writes("scale16", sp, (uint64_t)big_gib, 0, NULL, NULL));
            say("write_many_us", remote_writes("scale300k", (uint64_t)many_pages, (uint64_t)big_gib,
                                               sp, &head, &tail));
            say("write_many_head_us", head);
            say("write_many_tail_us", tail);
        } else {
            usage();
        }
    }
    MomeBarrier();
    MomeFinalize();
    return 0;
}
