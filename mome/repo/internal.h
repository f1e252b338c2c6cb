/*
 * internal.h - private to repo/: a segment handle's fields and the helpers its files share.
 * Every field below `mu` is protected by it.
 */
#ifndef MOME_REPO_INTERNAL_H
#define MOME_REPO_INTERNAL_H

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

#include "repo/format.h"

/* Pages a pass over a segment (import, compact, verify) holds in memory at once: 256, or 8 MiB
 * of them where pages are larger (256 pages of 16 MiB were 4 GiB; helper-89). */
static inline size_t mome_repo_batch(uint32_t page_size)
{
    size_t n = (8u << 20) / page_size;
    return n < 1 ? 1 : n > 256 ? 256 : n;
}

/* A page map entry: where the current generation keeps the page. */
#define LOC_PRESENT (1ull << 63)
#define LOC_ZERO (1ull << 62)
#define LOC_FILE_SHIFT 32
#define LOC_FILE_MAX ((1u << 30) - 1)
#define LOC_SLOT_MAX MOME_REPO_SLOT_MAX
typedef struct mapent {
    uint64_t loc; /* 0: never stored; else PRESENT | ZERO? | file << 32 | slot */
    uint64_t sum;
} mapent_t;

struct mome_repo_seg {
    struct mome_repo_seg *next; /* in the process's list (registry lock) */
    int refs;                   /* registry lock */
    dev_t dev;                  /* the segment directory's identity */
    ino_t ino;
    pid_t pid; /* the process that opened it (a forked child opens its own) */
    pthread_mutex_t mu;
    int segfd;    /* the segment's directory (O_PATH-like: renames do not affect it) */
    int repofd;   /* the repository's directory */
    int lockfd;   /* the lock file, flock'ed by this process; -1: not locked here */
    int detached; /* unlinked: renamed to detached_name, removed at the last close */
    char detached_name[64];
    char dir[MOME_REPO_DIR_MAX]; /* the repository, as given */
    char dirname[256]; /* the segment's directory name */
    mome_repo_head_t head;
    uint64_t gen; /* the current generation as this process knows it */
    uint64_t npages;
    mapent_t *map; /* npages entries, MAP_NORESERVE: resident as far as pages are stored */
    size_t map_bytes;
    int *fds; /* data file of head.files[i], opened on first read (-1) */
    uint32_t nfds;
    uint32_t nopen, fd_hand; /* fds open (at most REPO_FDS_OPEN), the next one to close */
};

/* "dir/dirname", for messages. */
#define SEGPATH(rs) (rs)->dir, (rs)->dirname

/* Files of a generation and writer. */
static inline void data_name(char *b, size_t n, uint64_t gen, uint32_t node)
{
    snprintf(b, n, "data.%llu.%u", (unsigned long long)gen, node);
}
static inline void index_name(char *b, size_t n, uint64_t gen, uint32_t node)
{
    snprintf(b, n, "index.%llu.%u", (unsigned long long)gen, node);
}

/* Write all of buf at off (retrying short writes); 0 or -errno. */
int mome_repo_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* fsync, -errno. */
int mome_repo_sync(int fd);
/* Open dirfd/name (AT_FDCWD: a path), which must be a regular file, never through a symbolic
 * link (flags: O_RDONLY, O_RDWR, O_WRONLY with O_CREAT...): a descriptor, -ELOOP for a link,
 * -EIO for anything not a regular file, or -errno. */
int mome_repo_open_file(int dirfd, const char *name, int flags, mode_t mode);
/* The repository directory, opened (created with `create`) and its format checked: a descriptor,
 * or -errno with a message (mome_repo_check's refusals). */
int mome_repo_dir_open(const char *dir, int create, char *err, size_t errlen);
/* A directory stream of directory fd's entries, fd itself staying open (NULL, errno set). */
DIR *mome_repo_opendir_at(int fd);
/* A segment directory without a head that holds nothing but its lock and a head.tmp: its creation
 * was interrupted before the head's rename, so it holds nothing, as if never created. Any delta
 * file without a head means the head was lost: damage. */
int mome_repo_creation_interrupted(int segfd);
/* Write the head atomically: head.tmp, fsync, rename, fsync the directory. -errno: not written,
 * the old head is current. MOME_REPO_UNSYNCED (a message in err): the rename, the commit point,
 * was made, so the new head is current, but the directory's fsync failed: the caller must take the
 * new head as the current one, and not rely on the old one's files being unused. */
#define MOME_REPO_UNSYNCED 1
int mome_repo_write_head(struct mome_repo_seg *rs, const mome_repo_head_t *h, char *err,
                         size_t errlen);
/* Load the page map (mu held); -errno with a message. */
int mome_repo_map_load(struct mome_repo_seg *rs, char *err, size_t errlen);
/* Forget the page map and the open data files (mu held). */
void mome_repo_map_drop(struct mome_repo_seg *rs);
/* Remove the files of segfd that the head does not name (mu held, lock held). */
void mome_repo_sweep(struct mome_repo_seg *rs);
/* Map one index file (its checks done against f): the mapping and its length, or NULL. */
const uint8_t *mome_repo_idx_map(int segfd, const mome_repo_file_t *f, uint32_t page_size,
                                 uint64_t uid, size_t *len, const char **why, int *err);
/* Read a stored page of the map into dst, checked (mu held): 0, 1 or -EIO with a message. */
int mome_repo_read_locked(struct mome_repo_seg *rs, uint64_t page, void *dst, char *err,
                          size_t errlen);
/* Parse "data.<gen>.<node>" / "index.<gen>.<node>": 1 and the numbers, or 0. */
int mome_repo_parse_file(const char *name, const char *prefix, uint64_t *gen, uint32_t *node);

#endif
