/*
 * memory.c - Mome memory: the memfd, segment regions, userfaultfd-registered view aliases and the
 * page operations the protocol uses (install, map, protect, drop).
 *
 * Linux-specific: needs userfaultfd with shmem missing/minor/write-protect support (Linux >= 5.19;
 * >= 6.4 for atomic read-only mapping of cached pages, UFFDIO_CONTINUE_MODE_WP).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "memory/memory.h"

/* Newer than the installed headers may know. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFDIO_CONTINUE_MODE_WP
#define UFFDIO_CONTINUE_MODE_WP ((__u64)1 << 1)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#define REGISTER_MODES                                                                             \
    (UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_MINOR | UFFDIO_REGISTER_MODE_WP)

static int mem_fd = -1;   /* the memfd: Mome memory */
static int uffd = -1;     /* userfaultfd for every view */
static size_t mem_pgsz;   /* Mome page size */
static uint64_t mem_next; /* end of the regions taken: no region lies past it */
static uint64_t mem_size; /* current memfd size */
static int cont_wp;       /* UFFDIO_CONTINUE_MODE_WP works */
static int kernel_faults; /* uffd handles kernel-mode faults */

/*
 * The file offsets regions gave back, each range one or more regions with their guard pages, taken
 * again before the memfd grows (a segment created and destroyed in a loop grew it by its size
 * each time, until the file size limit stopped it). Sorted, neighbours merged, all below mem_next:
 * a range reaching it moves mem_next down instead, and the file shrinks. Progress thread only, as
 * every region operation.
 */
typedef struct free_range {
    uint64_t base, len;
} free_range_t;
static free_range_t *frees;
static size_t nfrees, cfrees;
/* The regions taken, each with its span (guard page included), in no order: a region given back
 * must be one of them, whole (helper-132: a region given back twice, its start taken by a smaller
 * one meanwhile, had that one's live pages punched out). */
static free_range_t *used;
static size_t nused, cused;

static int open_uffd(int flags)
{
    int fd = (int)syscall(SYS_userfaultfd, flags);
    if (fd >= 0 || errno != EPERM)
        return fd;
    /* Unprivileged users may be allowed through /dev/userfaultfd (Linux >= 6.1). */
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0) {
        errno = EPERM;
        return -1;
    }
    fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    close(dev);
    return fd;
}

static int setup_uffd(char *err, size_t errlen)
{
    const uint64_t need =
        UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
    struct uffdio_api api;

    kernel_faults = 1;
    uffd = open_uffd(O_CLOEXEC | O_NONBLOCK);
    if (uffd < 0 && errno == EPERM) {
        uffd = open_uffd(O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
        kernel_faults = 0;
    }
    if (uffd < 0 && errno == ENOSYS) {
        snprintf(err, errlen, "this kernel has no userfaultfd (CONFIG_USERFAULTFD), or a tool "
                              "such as valgrind hides it; Mome needs it");
        return -ENOSYS;
    }
    if (uffd < 0) {
        snprintf(err, errlen,
                 "userfaultfd is not permitted (%s): run as root, or allow it with "
                 "'sysctl vm.unprivileged_userfaultfd=1' or read-write access to /dev/userfaultfd",
                 strerror(errno));
        return -EPERM;
    }
    if (!kernel_faults)
        mome_warn("memory", "userfaultfd limited to user-mode faults: read(2) into Mome memory not "
                            "yet present will fail with EFAULT; see 'vm.unprivileged_userfaultfd'");

    api = (struct uffdio_api){.api = UFFD_API, .features = need | UFFD_FEATURE_WP_UNPOPULATED};
    if (ioctl(uffd, UFFDIO_API, &api) < 0) {
        /* A kernel that predates WP_UNPOPULATED refuses the whole request: ask for less. */
        close(uffd);
        uffd = open_uffd(O_CLOEXEC | O_NONBLOCK | (kernel_faults ? 0 : UFFD_USER_MODE_ONLY));
        api = (struct uffdio_api){.api = UFFD_API, .features = need};
        if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
            snprintf(err, errlen, "this kernel's userfaultfd lacks shmem missing/minor/wp "
                                  "support (Linux >= 5.19 is needed): %s", strerror(errno));
            return -ENOTSUP;
        }
    }
    if ((api.features & need) != need) {
        snprintf(err, errlen, "this kernel's userfaultfd lacks shmem missing/minor/wp support "
                              "(Linux >= 5.19 is needed)");
        return -ENOTSUP;
    }
    return 0;
}

/* Does UFFDIO_CONTINUE take MODE_WP (map a cached page read-only atomically)? Try it. */
static void probe_continue_wp(void)
{
    uint64_t off;
    int e;

    if (mome_mem_region_alloc(mem_pgsz, &off) < 0)
        return;
    void *p = mome_mem_view_map(NULL, mem_pgsz, 1, 0, off, &e);
    char *page = calloc(1, mem_pgsz); /* every OS page of the Mome page must be in the cache */
    if (!p || !page) {
        free(page);
        return;
    }
    if (pwrite(mem_fd, page, mem_pgsz, (off_t)off) == (ssize_t)mem_pgsz) {
        struct uffdio_continue c = {.range = {(uintptr_t)p, mem_pgsz},
                                    .mode = UFFDIO_CONTINUE_MODE_WP};
        cont_wp = ioctl(uffd, UFFDIO_CONTINUE, &c) == 0;
    }
    free(page);
    mome_mem_view_unmap(p, mem_pgsz);
    mome_mem_region_release(off, mem_pgsz);
    if (!cont_wp)
        mome_warn("memory", "kernel lacks UFFDIO_CONTINUE_MODE_WP (Linux < 6.4): a second view "
                            "of a read-only page is mapped then protected in two steps");
}

int mome_mem_init(size_t page_size, char *err, size_t errlen)
{
    int rc;

    mem_pgsz = page_size;
    mem_next = 0;
    mem_size = 0;
    nfrees = 0;
    mem_fd = (int)syscall(SYS_memfd_create, "mome-memory", MFD_CLOEXEC);
    if (mem_fd < 0) {
        snprintf(err, errlen, "memfd_create: %s", strerror(errno));
        return -errno;
    }
    rc = setup_uffd(err, errlen);
    if (rc < 0)
        goto err_close_memfd;
    probe_continue_wp();
    return 0;

err_close_memfd:
    close(mem_fd);
    mem_fd = -1;
    if (uffd >= 0)
        close(uffd);
    uffd = -1;
    return rc;
}

void mome_mem_fini(void)
{
    if (uffd >= 0)
        close(uffd);
    if (mem_fd >= 0)
        close(mem_fd);
    uffd = mem_fd = -1;
    free(frees);
    frees = NULL;
    nfrees = cfrees = 0;
    free(used);
    used = NULL;
    nused = cused = 0;
}

/* Room in *v (n used of *cap) for one more range (-ENOMEM: none). */
static int room(free_range_t **v, size_t n, size_t *cap)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    free_range_t *nv = mome_realloc(*v, nc * sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    *v = nv;
    *cap = nc;
    return 0;
}

int mome_mem_uffd(void)
{
    return uffd;
}

int mome_mem_kernel_faults(void)
{
    return kernel_faults;
}

uint64_t mome_mem_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_FSIZE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return UINT64_MAX;
    return (uint64_t)rl.rlim_cur;
}

/* The offsets a region of `size` bytes takes: whole pages, and a guard page after them, which
 * keeps a stray view from aliasing the next region. 0 if it would wrap. */
static uint64_t region_span(uint64_t size)
{
    uint64_t sz = (size + mem_pgsz - 1) & ~(uint64_t)(mem_pgsz - 1);
    return sz < size || sz + mem_pgsz < sz ? 0 : sz + mem_pgsz;
}

/* The smallest range given back that holds span bytes: its start is taken. */
static int reuse(uint64_t span, uint64_t *base)
{
    size_t best = nfrees;
    for (size_t i = 0; i < nfrees; i++)
        if (frees[i].len >= span && (best == nfrees || frees[i].len < frees[best].len))
            best = i;
    if (best == nfrees)
        return 0;
    *base = frees[best].base;
    frees[best].base += span;
    frees[best].len -= span;
    if (!frees[best].len) {
        memmove(&frees[best], &frees[best + 1], (nfrees - best - 1) * sizeof(*frees));
        nfrees--;
    }
    return 1;
}

/*
 * [base, base+span), a region taken (mome_mem_region_release checked it against the regions
 * taken), is free again: into the ranges, merged with its neighbours, or off the end.
 */
static void give_back(uint64_t base, uint64_t span)
{
    size_t i = 0;
    while (i < nfrees && frees[i].base < base)
        i++;
    int prev = i > 0 && frees[i - 1].base + frees[i - 1].len == base;
    int next = i < nfrees && base + span == frees[i].base;
    if (prev && next) {
        frees[i - 1].len += span + frees[i].len;
        memmove(&frees[i], &frees[i + 1], (nfrees - i - 1) * sizeof(*frees));
        nfrees--;
    } else if (prev) {
        frees[i - 1].len += span;
    } else if (next) {
        frees[i].base = base;
        frees[i].len += span;
    } else {
        if (room(&frees, nfrees, &cfrees) < 0) {
            mome_warn("memory", "out of memory: the region at %#llx will not be reused",
                      (unsigned long long)base);
            return;
        }
        memmove(&frees[i + 1], &frees[i], (nfrees - i) * sizeof(*frees));
        frees[i] = (free_range_t){base, span};
        nfrees++;
    }
    /* The last range reaches the end: the end comes down, and the file with it (its memory was
     * given back already; its size counts against the file size limit). */
    if (nfrees && frees[nfrees - 1].base + frees[nfrees - 1].len == mem_next) {
        mem_next = frees[--nfrees].base;
        if (ftruncate(mem_fd, (off_t)mem_next) == 0)
            mem_size = mem_next;
    }
}

int mome_mem_region_alloc(uint64_t size, uint64_t *base)
{
    uint64_t span = region_span(size), end = mem_next + span;

    if (size == 0 || span == 0 || end < mem_next || end > ((uint64_t)1 << 62))
        return -ENOMEM;
    if (room(&used, nused, &cused) < 0)
        return -ENOMEM;
    if (reuse(span, base)) {
        used[nused++] = (free_range_t){*base, span};
        return 0;
    }
    /*
     * The memfd is a file: grown past the soft file size limit (ulimit -f), it raises SIGXFSZ,
     * which killed the process, or fails with EFBIG where the signal is blocked (the progress
     * thread). The limit is the user's and stays as it is (raised, it would be lifted for the
     * program's own files too): a region past it is refused.
     */
    if (end > mem_size && end > mome_mem_file_limit())
        return -EFBIG;
    if (end > mem_size) {
        if (ftruncate(mem_fd, (off_t)end) < 0)
            return -errno;
        mem_size = end;
    }
    *base = mem_next;
    mem_next = end;
    used[nused++] = (free_range_t){*base, span};
    return 0;
}

void mome_mem_region_release(uint64_t base, uint64_t size)
{
    uint64_t span = region_span(size);
    size_t i = 0;
    while (i < nused && !(used[i].base == base && used[i].len == span))
        i++;
    if (i == nused)
        mome_fatal("Mome memory region [%#llx, %#llx) given back, which is not one taken (given "
                   "back twice, or never taken): its offsets may be a live segment's, whose pages "
                   "would be dropped; stopping",
                   (unsigned long long)base, (unsigned long long)(base + span));
    used[i] = used[--nused];
    if (mome_mem_drop(base, size) < 0) {
        /* Its pages are still there: taken again, the next segment would not start as zeros. */
        mome_warn("memory", "cannot release region at %#llx: %m; its offsets will not be reused",
                  (unsigned long long)base);
        return;
    }
    give_back(base, span);
}

void *mome_mem_view_map(void *addr, size_t len, int writable, int fixed, uint64_t file_off,
                        int *err)
{
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    char *p;

    if (!fixed) {
        /* Over-reserve so the view can start on a Mome page boundary. */
        size_t span = len + mem_pgsz;
        char *r = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED) {
            *err = -errno;
            return NULL;
        }
        p = (char *)(((uintptr_t)r + mem_pgsz - 1) & ~(uintptr_t)(mem_pgsz - 1));
        if (p > r)
            munmap(r, (size_t)(p - r));
        if (r + span > p + len)
            munmap(p + len, (size_t)(r + span - (p + len)));
        addr = p;
    }
    /*
     * Map inaccessible first and open it up after registration, so no other thread can touch the
     * range between mmap and UFFDIO_REGISTER and see the page cache without a fault.
     */
    p = mmap(addr, len, PROT_NONE, MAP_SHARED | MAP_FIXED | MAP_NORESERVE, mem_fd,
             (off_t)file_off);
    if (p == MAP_FAILED) {
        *err = -errno;
        if (!fixed)
            munmap(addr, len); /* the reservation made above */
        return NULL;
    }
    /*
     * Not in a child of fork: it is no node, and its stores into this shared mapping would change
     * the node's pages behind the protocol, unseen (helper-47's audit: another node read them after
     * the next barrier). Such a child gets SIGSEGV instead, as for memory it does not have.
     */
    if (madvise(p, len, MADV_DONTFORK) < 0) {
        *err = -errno;
        munmap(p, len);
        return NULL;
    }
    struct uffdio_register reg = {.range = {(uintptr_t)p, len}, .mode = REGISTER_MODES};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0) {
        *err = -errno;
        mome_error("memory", "UFFDIO_REGISTER of %zu bytes at %p failed: %m", len, (void *)p);
        munmap(p, len);
        return NULL;
    }
    if (mprotect(p, len, prot) < 0) {
        *err = -errno;
        munmap(p, len);
        return NULL;
    }
    return p;
}

int mome_mem_view_unmap(void *addr, size_t len)
{
    /* munmap drops the userfaultfd registration with the VMA. */
    return munmap(addr, len) < 0 ? -errno : 0;
}

char *mome_mem_runtime_map(uint64_t base, uint64_t size)
{
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, mem_fd,
                   (off_t)base);
    if (p != MAP_FAILED && madvise(p, size, MADV_DONTFORK) < 0) { /* as the views */
        munmap(p, size);
        return NULL;
    }
    return p == MAP_FAILED ? NULL : p;
}

void mome_mem_runtime_unmap(char *p, uint64_t size)
{
    if (p)
        munmap(p, size);
}

int mome_mem_read(uint64_t off, void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(mem_fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    return 0;
}

int mome_mem_write(uint64_t off, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = pwrite(mem_fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        done += (size_t)w;
    }
    return 0;
}

int mome_mem_drop(uint64_t off, size_t len)
{
    if (fallocate(mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0)
        return -errno;
    return 0;
}

int mome_mem_install(uint64_t off, void *addr, size_t len, const void *src, int ro)
{
    (void)off; /* the view maps it at addr */
    for (;;) {
        struct uffdio_copy c = {.dst = (uintptr_t)addr, .src = (uintptr_t)src, .len = len,
                                .mode = ro ? UFFDIO_COPY_MODE_WP : 0};
        if (ioctl(uffd, UFFDIO_COPY, &c) == 0)
            return 0;
        if (errno != EAGAIN)
            return -errno;
        /* Interrupted, or partly done (c.copy bytes): go on from there. Retried whole, the part
         * done failed with EEXIST and the rest was never installed (helper-92). */
        if (c.copy > 0 && (size_t)c.copy < len) {
            addr = (char *)addr + c.copy;
            src = (const char *)src + c.copy;
            len -= (size_t)c.copy;
        }
    }
}

int mome_mem_map(void *addr, size_t len, int ro)
{
    struct uffdio_continue c = {.range = {(uintptr_t)addr, len}};

    if (ro && !cont_wp)
        c.mode = UFFDIO_CONTINUE_MODE_DONTWAKE;
    else if (ro)
        c.mode = UFFDIO_CONTINUE_MODE_WP;
    int rc = 0;
    for (;;) {
        if (ioctl(uffd, UFFDIO_CONTINUE, &c) == 0)
            break;
        if (errno != EAGAIN) {
            rc = -errno;
            break;
        }
        /* Partly done (c.mapped bytes): go on from there (see mome_mem_install). */
        if (c.mapped > 0 && (uint64_t)c.mapped < c.range.len) {
            c.range.start += (uint64_t)c.mapped;
            c.range.len -= (uint64_t)c.mapped;
        }
    }
    if (ro && !cont_wp && (rc == 0 || rc == -EEXIST)) {
        /* Old kernels: protect then wake; another thread may write in between (documented).
         * Also when part of it was mapped already (EEXIST): what was mapped must be protected. */
        int prc = mome_mem_protect(addr, len, 1);
        mome_mem_wake(addr, len);
        return rc ? rc : prc;
    }
    return rc;
}

int mome_mem_protect(void *addr, size_t len, int ro)
{
    struct uffdio_writeprotect w = {.range = {(uintptr_t)addr, len},
                                    .mode = ro ? UFFDIO_WRITEPROTECT_MODE_WP : 0};
    for (;;) {
        if (ioctl(uffd, UFFDIO_WRITEPROTECT, &w) == 0)
            return 0;
        if (errno == EAGAIN)
            continue;
        return -errno;
    }
}

int mome_mem_wake(void *addr, size_t len)
{
    struct uffdio_range r = {(uintptr_t)addr, len};
    return ioctl(uffd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

int mome_mem_zap(void *addr, size_t len)
{
    return madvise(addr, len, MADV_DONTNEED) < 0 ? -errno : 0;
}

const mome_mem_ops_t mome_mem_uffd_ops = {
    .name = "memfd+userfaultfd",
    .region_alloc = mome_mem_region_alloc,
    .region_release = mome_mem_region_release,
    .runtime_map = mome_mem_runtime_map,
    .runtime_unmap = mome_mem_runtime_unmap,
    .install = mome_mem_install,
    .map = mome_mem_map,
    .protect = mome_mem_protect,
    .wake = mome_mem_wake,
    .zap = mome_mem_zap,
    .drop = mome_mem_drop,
    .write = mome_mem_write,
    .read = mome_mem_read,
};

const mome_mem_ops_t *mome_mem = &mome_mem_uffd_ops;
