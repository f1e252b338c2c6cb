/*
 * memory.h - private: Mome memory, the node's one memfd-backed store of page copies.
 *
 * Each segment owns a region of file offsets in the memfd; an application view is an mmap alias of
 * part of a region, registered with userfaultfd (missing, minor and write-protect modes). The
 * kernel page cache makes all views of one page the same physical page, so views in one process
 * stay coherent by construction. Page content is written through the file (pwrite) or installed
 * atomically (UFFDIO_COPY) while no application PTE maps it, so no thread ever sees a half-copied
 * page; dropping a copy punches a hole and gives the memory back. Only the progress thread calls
 * the page operations; views are created by it too.
 */
#ifndef MOME_MEMORY_MEMORY_H
#define MOME_MEMORY_MEMORY_H

#include <stddef.h>
#include <stdint.h>

/*
 * The page operations the page store uses (store.c), as a table: Mome memory (this file's memfd
 * and userfaultfd) is the one a node runs on; tests and fuzzers put plain memory behind the same
 * table (tests/common/fake_memory.c), so the coherence layer runs without a kernel's help.
 */
typedef struct mome_mem_ops {
    const char *name;
    int (*region_alloc)(uint64_t size, uint64_t *base);
    void (*region_release)(uint64_t base, uint64_t size);
    char *(*runtime_map)(uint64_t base, uint64_t size);
    void (*runtime_unmap)(char *p, uint64_t size);
    int (*install)(uint64_t off, void *addr, size_t len, const void *src, int ro);
    int (*map)(void *addr, size_t len, int ro);
    int (*protect)(void *addr, size_t len, int ro);
    int (*wake)(void *addr, size_t len);
    int (*zap)(void *addr, size_t len);
    int (*drop)(uint64_t off, size_t len);
    /* Page content written by file offset, through no user mapping (NULL: through the runtime
     * view): a page whose runtime-view entry is absent costs no page fault. */
    int (*write)(uint64_t off, const void *src, size_t len);
    /* Page content read by file offset, through no user mapping (NULL: through the runtime
     * view). */
    int (*read)(uint64_t off, void *dst, size_t len);
} mome_mem_ops_t;

extern const mome_mem_ops_t mome_mem_uffd_ops; /* Mome memory */
extern const mome_mem_ops_t *mome_mem;          /* the one in use (Mome memory by default) */

int mome_mem_init(size_t page_size, char *err, size_t errlen);
void mome_mem_fini(void);
int mome_mem_uffd(void);
/* True if kernel-mode accesses (read(2) into a view) are handled rather than failing EFAULT. */
int mome_mem_kernel_faults(void);

/*
 * Reserve `size` bytes of file offsets (page aligned) for a segment. -EFBIG: the memfd would grow
 * past the file size limit (mome_mem_file_limit), which callers report as ENOMEM naming it.
 */
int mome_mem_region_alloc(uint64_t size, uint64_t *base);
/* The soft file size limit (RLIMIT_FSIZE, ulimit -f) in bytes, UINT64_MAX if none. */
uint64_t mome_mem_file_limit(void);
/*
 * Give a region's memory back, and its offsets, which the next region that fits takes (the memfd
 * grows only when none does, and shrinks when the last one goes). Nothing may map the region any
 * more: no view, no runtime view.
 */
void mome_mem_region_release(uint64_t base, uint64_t size);

/*
 * Map [file_off, file_off+len) at addr (MAP_FIXED semantics when fixed, else anywhere, aligned to
 * the Mome page), registered with userfaultfd. Returns the address or NULL with *err = -errno.
 */
void *mome_mem_view_map(void *addr, size_t len, int writable, int fixed, uint64_t file_off,
                        int *err);
int mome_mem_view_unmap(void *addr, size_t len);

/*
 * The runtime's own view of a region: mapped shared, never registered with userfaultfd. Only the
 * progress thread reads it, and only pages this node holds, so it never allocates a page.
 */
char *mome_mem_runtime_map(uint64_t base, uint64_t size);
void mome_mem_runtime_unmap(char *p, uint64_t size);

/* Page content by file offset, without mapping it. */
int mome_mem_read(uint64_t off, void *buf, size_t len);
int mome_mem_write(uint64_t off, const void *buf, size_t len);
int mome_mem_drop(uint64_t off, size_t len);

/*
 * PTE operations on one view range. install: atomically fill a page absent from the memfd (at
 * file offset off, which the view maps at addr) and map it (-EEXIST if the memfd has it); map: map the memfd's page (-EEXIST if already mapped);
 * protect: set (ro) or clear write protection, clearing wakes waiters. ro=1 maps read-only.
 */
int mome_mem_install(uint64_t off, void *addr, size_t len, const void *src, int ro);
int mome_mem_map(void *addr, size_t len, int ro);
int mome_mem_protect(void *addr, size_t len, int ro);
int mome_mem_wake(void *addr, size_t len);
int mome_mem_zap(void *addr, size_t len);

#endif
