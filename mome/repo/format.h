/*
 * format.h - private: the repository's on-disk format, as pure encoding and decoding functions
 * (doc/design.md section 15 describes it): segment directory names, the head (the current
 * generation and its delta files) and delta indexes. Every integer is little-endian; every head
 * and index ends with the XXH64 of everything before it. Any thread.
 */
#ifndef MOME_REPO_FORMAT_H
#define MOME_REPO_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MOME_REPO_VERSION 1
#define MOME_REPO_NAME_MAX 255
/* A repository's path is shorter than this (MOME_REPOSITORY, mome-repo -r). */
#define MOME_REPO_DIR_MAX 1024
#define MOME_REPO_DIRNAME_MAX 200      /* longer encodings end with a hash of the name */
#define MOME_REPO_FORMAT_FILE "FORMAT" /* beside the segments' directories: the format's name */
/* The largest segment a head may give, in bytes: 128 PiB, the widest address space 64-bit Linux
 * gives a process (57 bits, 5-level page tables), so no job maps a larger one; its page count
 * is computed without overflow whatever the page size. */
#define MOME_REPO_SIZE_MAX (1ull << 57)

/* One delta file pair (data.<gen>.<node>, index.<gen>.<node>) as the head lists it. */
typedef struct mome_repo_file {
    uint64_t gen;
    uint32_t node;
    uint64_t entries; /* index entries (pages written, zero pages included) */
    uint64_t sum;     /* the index file's own checksum */
    uint64_t pages;   /* pages of bytes in the data file (entries minus zero pages) */
} mome_repo_file_t;

/* The head: what the current generation is. */
typedef struct mome_repo_head {
    uint64_t gen;  /* 0: created, never checkpointed */
    uint64_t size; /* the segment's size in bytes */
    uint32_t page_size;
    uint64_t uid; /* random: tells this segment from an older one of the same name */
    uint64_t created_ns, ckpt_ns; /* wall-clock times (CLOCK_REALTIME, ns) */
    uint64_t live;                /* pages with content (the others read as zeros) */
    uint64_t data;                /* pages in all data files: live plus superseded (garbage) */
    char name[MOME_REPO_NAME_MAX + 1];
    uint32_t nfiles;
    mome_repo_file_t *files; /* in (gen, node) order: replayed in this order */
} mome_repo_head_t;

/* An index entry: a page and where its content is. */
#define MOME_REPO_ZERO (1ull << 63) /* where: the page is all zeros (no bytes stored) */
#define MOME_REPO_SLOT_MAX 0xffffffffull /* the last slot a data file may have */
typedef struct mome_repo_entry {
    uint64_t page;
    uint64_t where; /* slot (page number within the data file), or MOME_REPO_ZERO */
    uint64_t sum;   /* mome_sum64(bytes, page size, page); 0 for a zero page */
} mome_repo_entry_t;

#define MOME_REPO_HEAD_MAX_FILES (1u << 20) /* delta files a head names, at most */
#define MOME_REPO_IDX_HDR 48
#define MOME_REPO_IDX_ENTRY 24

/* The directory name of a segment: bytes [A-Za-z0-9_-] and '.' (not first) as they are, others
 * as %XX, and the first as %XX in a name the repository keeps for its own files (FORMAT, momed's);
 * an encoding longer than MOME_REPO_DIRNAME_MAX is cut and ends with ~ and a hash. */
void mome_repo_dirname(const char *name, char *out, size_t outlen);

/* Head: encode into a malloc'd buffer (*len bytes), or decode (-EBADMSG with a reason, the
 * files array malloc'd). */
uint8_t *mome_repo_head_encode(const mome_repo_head_t *h, size_t *len);
int mome_repo_head_decode(const uint8_t *buf, size_t len, mome_repo_head_t *h, const char **why);
void mome_repo_head_free(mome_repo_head_t *h);

/* Index: the header fields, then entries; the checksum covers header and entries. */
void mome_repo_idx_header(uint8_t *hdr, uint32_t page_size, uint64_t gen, uint32_t node,
                          uint64_t count, uint64_t uid);
void mome_repo_idx_put(uint8_t *p, const mome_repo_entry_t *e);
void mome_repo_idx_get(const uint8_t *p, mome_repo_entry_t *e);
/* Is len the length of an index of `entries` entries? (Never by a product that wraps: a crafted
 * count would have the loops over the entries read past the file.) */
int mome_repo_idx_len_ok(uint64_t len, uint64_t entries);
/* Check a whole index file's bytes against what the head says of it (f) and the segment; the
 * reason on failure (-EBADMSG). */
int mome_repo_idx_check(const uint8_t *buf, size_t len, const mome_repo_file_t *f,
                        uint32_t page_size, uint64_t uid, const char **why);

/* Little-endian fields. */
static inline void mome_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void mome_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t mome_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}
static inline uint32_t mome_get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Format an error into err (when given) and return rc: the repository's way of failing. */
int mome_repo_say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The wall clock, ns (checkpoint dates). */
uint64_t mome_repo_wall_ns(void);

#endif
