/*
 * repo.h - private: the repository of MOME_PERSIST segments, a directory (MOME_REPOSITORY) with
 * one subdirectory per segment: append-only page data files and per-checkpoint delta indexes,
 * and a head file naming the current generation, whose atomic rename commits a checkpoint.
 *
 * This layer depends on base/ only: a node's page store (memory/store_repo.c), the segment name
 * service and checkpoints (core/), the mome-repo tool and a repository server use it alike.
 * Any thread: a segment handle has its own mutex (taken by every call on it); handles are shared
 * within a process (opening a segment twice gives the same handle, counted).
 */
#ifndef MOME_REPO_REPO_H
#define MOME_REPO_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "repo/format.h"

typedef struct mome_repo_seg mome_repo_seg_t;

enum {
    MOME_REPO_CREATE = 0x1, /* create the segment if it does not exist (needs MOME_REPO_LOCK) */
    MOME_REPO_EXCL = 0x2,   /* with CREATE: -EEXIST if it exists */
    MOME_REPO_LOCK = 0x4,   /* take the segment's lock: one job (or tool) at a time, -EBUSY */
    MOME_REPO_MAP = 0x8,    /* load the page map now (reads load it on first use otherwise) */
    MOME_REPO_STAGE = 0x10, /* with CREATE, EXCL and LOCK: create it out of sight, where no other
                             * process finds it, until mome_repo_publish (an import) */
};

/* What a segment's head says, and where it is. */
typedef struct mome_repo_info {
    mome_repo_head_t head; /* files not copied (NULL) */
    char path[1300];       /* the segment's directory, for messages */
} mome_repo_info_t;

/*
 * Open segment `name` of repository `dir`. size and page_size: what to create with, or to check
 * against the stored ones (0: any). `who` is written to the lock file with MOME_REPO_LOCK (for
 * mome-repo ls and another job's EBUSY message). Returns 0 or -errno with a one-line message in
 * err: ENOENT (no repository or no such segment), EEXIST, EINVAL (size or page size differ: the
 * message gives the stored ones), EBUSY (locked elsewhere: the message says by whom), EIO
 * (a corrupted head or index: the message names the file and the cause), EACCES, ENOTDIR...
 */
int mome_repo_open(const char *dir, const char *name, uint64_t size, uint32_t page_size, int flags,
                   const char *who, mome_repo_seg_t **out, char *err, size_t errlen);
/*
 * Put a segment opened with MOME_REPO_STAGE in place under its name, at once (a rename), and make
 * that durable. Returns 0; -EEXIST if a segment of that name was created meanwhile, or another
 * -errno (this one stays out of sight: unlink it); 1 if the repository's directory could not be
 * fsync'd (the segment is in place, but may not survive a crash of the machine; err says so).
 */
int mome_repo_publish(mome_repo_seg_t *rs, char *err, size_t errlen);
/* Drop a reference; the last one closes the files and releases the lock. */
void mome_repo_close(mome_repo_seg_t *rs);
/* One more reference to an open segment, which mome_repo_close drops: for a user that may outlive
 * the one that opened it (a checkpoint of a segment destroyed meanwhile). */
void mome_repo_hold(mome_repo_seg_t *rs);
void mome_repo_info(mome_repo_seg_t *rs, mome_repo_info_t *out);
/* The current generation as this process knows it (a commit elsewhere tells it: set_gen). */
uint64_t mome_repo_gen(mome_repo_seg_t *rs);
void mome_repo_set_gen(mome_repo_seg_t *rs, uint64_t gen);

/*
 * A page's content as the current generation holds it: 0 (zeros: never stored, or stored as
 * zeros), 1 (read into dst and checksum verified), or -EIO with the cause in err (naming the
 * segment, the page, the file and offset). Never gives wrong bytes.
 */
int mome_repo_read(mome_repo_seg_t *rs, uint64_t page, void *dst, char *err, size_t errlen);

/* ---- checkpoints: every writer writes a delta, then one coordinator commits ---- */

typedef struct mome_repo_delta mome_repo_delta_t;

/* Start this writer's delta of generation gen (files data.<gen>.<node>, index.<gen>.<node>). */
int mome_repo_delta_begin(mome_repo_seg_t *rs, uint64_t gen, uint32_t node, mome_repo_delta_t **out,
                          char *err, size_t errlen);
/* n pages (numbers, and their bytes back to back): zero pages are recorded as a flag. */
int mome_repo_delta_add(mome_repo_delta_t *d, const uint64_t *pages, const void *bytes, size_t n,
                        char *err, size_t errlen);
/* Make the delta durable (data, index and directory fsync'd) and describe it for the head: an
 * empty delta leaves no file (f->entries 0). Frees d, whatever the result. */
int mome_repo_delta_finish(mome_repo_delta_t *d, mome_repo_file_t *f, char *err, size_t errlen);
/* Give up: remove its files. */
void mome_repo_delta_abort(mome_repo_delta_t *d);
/* Remove node's files of generation gen, finished but not committed (the checkpoint failed). */
void mome_repo_delta_discard(mome_repo_seg_t *rs, uint64_t gen, uint32_t node);

/*
 * Coordinator: make generation gen (the current one + 1) current, made of the previous
 * generation's files and these deltas (entries > 0; their indexes are read and checked): head.tmp
 * written and fsync'd, renamed to head (the commit point), the directory fsync'd; then files no
 * head names (superseded by compaction, or left by a crashed checkpoint) are removed. With no
 * delta, nothing changes. 0 or -errno (the previous generation stays current).
 */
int mome_repo_commit(mome_repo_seg_t *rs, uint64_t gen, const mome_repo_file_t *deltas, int n,
                     char *err, size_t errlen);

/* Rewrite the live pages into one delta of a new generation and drop the others (the caller
 * holds the lock and no one reads the segment meanwhile). */
int mome_repo_compact(mome_repo_seg_t *rs, char *err, size_t errlen);
/* Is compaction worth it (superseded pages outnumber live ones, or too many files)? */
int mome_repo_should_compact(mome_repo_seg_t *rs);

/* The segment leaves its name (held with the lock): renamed out of the way at once, so the name
 * may be created again; removed by mome_repo_close when the last reference goes. */
int mome_repo_unlink(mome_repo_seg_t *rs, char *err, size_t errlen);

/* ---- the repository as a whole (mome-repo) ---- */

/* Is dir a repository (with create: make it one if it is new or empty)? 0, or -errno with a
 * message: -EINVAL for a directory of other files, -ENOENT for none. */
int mome_repo_check(const char *dir, int create, char *err, size_t errlen);
/* fsync the directory holding path, so that a directory just created there survives a crash: 0,
 * or -errno (a parent this process may not read, or whose file system cannot sync a directory,
 * counts as done: nothing more can be made durable there). */
int mome_repo_sync_parent(const char *path);

/* Visit every segment directory of the repository: cb(name of the directory, arg); stops at a
 * non-zero return. -errno (ENOENT: no repository) with a message. */
int mome_repo_list(const char *dir, int (*cb)(const char *dirname, void *arg), void *arg, char *err,
                   size_t errlen);
/* Read a segment's head by its directory name, without locking: 0, or -errno with a message
 * (-ENOENT: it has none yet, its creation interrupted or under way; -EIO: it has lost it). */
int mome_repo_peek(const char *dir, const char *dirname, mome_repo_head_t *h, char *err,
                   size_t errlen);
/* Is the segment locked? 0 (no), 1 (yes: who holds it in `who`), -errno. */
int mome_repo_locked(const char *dir, const char *dirname, char *who, size_t wholen);
/* Check every checksum (head, indexes, live pages) and the structure; report(arg, text) is called
 * for each problem. Returns the number of problems (0: sound), or -errno when it cannot start.
 * Takes no lock: a segment a job has open is verified as its last checkpoint. Problems found while
 * a compaction replaced the head (and removed the files read) are not reported: the new head is
 * verified instead; -EAGAIN if it was replaced under each of MOME_REPO_VERIFY_TRIES passes. */
#define MOME_REPO_VERIFY_TRIES 8
int mome_repo_verify(const char *dir, const char *dirname, void (*report)(void *, const char *),
                     void *arg);
/* Remove a segment no job has open. */
int mome_repo_remove(const char *dir, const char *name, char *err, size_t errlen);
/* A segment name is 1 to MOME_REPO_NAME_MAX bytes: 0, else -EINVAL or -ENAMETOOLONG with a
 * message (every call taking a name checks it). */
int mome_repo_check_name(const char *name, char *err, size_t errlen);
/* Write the current generation as a flat image of the segment's bytes (holes for zeros). Takes
 * no lock: -EAGAIN if a checkpoint or compaction replaced the head meanwhile and removed a file
 * it needed (open the segment again and retry; the image is then incomplete). */
int mome_repo_export(mome_repo_seg_t *rs, int fd, char *err, size_t errlen);
/* A new segment of the file's size holding its bytes, committed as generation 1. */
int mome_repo_import(const char *dir, const char *name, int fd, uint32_t page_size, const char *who,
                     char *err, size_t errlen);

/* Testing (MOME_TEST_CRASH_AT=step[:node[:stop|:eio]]): this process kills itself (SIGKILL; with
 * :stop, stops itself with SIGSTOP, once) when it reaches that step of a checkpoint: delta-mid,
 * delta-data, delta-index, ready, head-tmp, head, done, returned (a node of a momed-served
 * checkpoint gave its pages back), verify (mome_repo_verify read the head: its first pass only, for
 * unit tests), lock (mome_repo_open or mome_repo_remove opened the segment's directory and will
 * lock it), sweep (a sweep of leftovers opened one and will lock it), aside (an import opened an
 * interrupted creation under its segment's name and will lock it) (the last four for unit tests);
 * with :eio, the step fails once with EIO instead (dirsync: the
 * directory's fsync after a checkpoint's head was renamed). Returns -EINVAL on any other spec. */
int mome_repo_crash_setup(const char *spec, int node);
void mome_repo_crash_point(const char *step);
int mome_repo_fail_point(const char *step); /* -EIO if the spec says so, once */

#endif
