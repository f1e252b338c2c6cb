/*
 * repo.c - opening a repository segment: the repository and segment directories, the lock, the
 * head, the page map replayed from the delta indexes, and reading a page.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/stats.h"
#include "repo/internal.h"
#include "repo/repo.h"
#include "repo/sum.h"

#define FORMAT_TEXT "mome repository, format 1\n"
/* Where a segment opened with MOME_REPO_STAGE is built (dot names are not segments). */
#define STAGE_PREFIX ".import."

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static mome_repo_seg_t *registry;

int mome_repo_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

int mome_repo_sync(int fd)
{
    return fsync(fd) < 0 ? -errno : 0;
}

DIR *mome_repo_opendir_at(int fd)
{
    int d = dup(fd);
    DIR *dir = d >= 0 ? fdopendir(d) : NULL;
    if (!dir && d >= 0) {
        int e = errno;
        close(d);
        errno = e;
    }
    /* The duplicate shares fd's offset, which an earlier listing left at the end (an unlinked
     * segment's files were then never removed: helper-104). */
    if (dir)
        rewinddir(dir);
    return dir;
}

/*
 * Open a file of the repository at dirfd/name (dirfd AT_FDCWD: a path) that must be a regular file:
 * a FIFO there made every open, mome-repo ls and verify wait for ever, and a symbolic link named
 * `lock` had the lock's holder line written over the file it pointed to (helper-120). -EIO for
 * anything else, -ELOOP for a symbolic link.
 */
int mome_repo_open_file(int dirfd, const char *name, int flags, mode_t mode)
{
    struct stat st;
    int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -EIO;
    }
    /* (O_NONBLOCK only kept the open from waiting on a FIFO: a network file system may honour
     * it on reads, which retry on EINTR only) */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* Read a whole small file at dirfd/name (at most max bytes) into a malloc'd buffer. */
static int read_small(int dirfd, const char *name, size_t max, uint8_t **out, size_t *len)
{
    int fd = mome_repo_open_file(dirfd, name, O_RDONLY, 0);
    struct stat st;
    uint8_t *b;
    size_t got = 0;

    if (fd < 0)
        return fd;
    if (fstat(fd, &st) < 0) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return -EFBIG;
    }
    b = malloc((size_t)st.st_size + 1);
    if (!b) {
        close(fd);
        return -ENOMEM;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int rc = n < 0 ? -errno : -EIO;
            free(b);
            close(fd);
            return rc;
        }
        got += (size_t)n;
    }
    close(fd);
    b[got] = 0;
    *out = b;
    *len = got;
    return 0;
}

int mome_repo_parse_file(const char *name, const char *prefix, uint64_t *gen, uint32_t *node)
{
    size_t pl = strlen(prefix);
    char *end;
    unsigned long long g, n;

    if (strncmp(name, prefix, pl) != 0 || name[pl] < '0' || name[pl] > '9')
        return 0;
    g = strtoull(name + pl, &end, 10);
    if (*end != '.' || end[1] < '0' || end[1] > '9')
        return 0;
    n = strtoull(end + 1, &end, 10);
    if (*end || n > UINT32_MAX)
        return 0;
    *gen = g;
    *node = (uint32_t)n;
    return 1;
}

/* ---- the repository directory ---- */

#define FORMAT_TMP MOME_REPO_FORMAT_FILE ".tmp."

static uint64_t new_uid(void);

/* FORMAT.tmp.<16 hex digits>: a FORMAT being created (create_format). */
static int format_tmp(const char *name)
{
    size_t pl = strlen(FORMAT_TMP);
    return !strncmp(name, FORMAT_TMP, pl) && strlen(name + pl) == 16 &&
           strspn(name + pl, "0123456789abcdef") == 16;
}

/*
 * A directory without a FORMAT file is taken for a repository only if nothing but what Mome itself
 * puts there first is in it (momed's lock, address and log files, a FORMAT being created): a
 * mistyped MOME_REPOSITORY or -r naming a directory of other files must not be written into,
 * listed or removed from.
 */
static int only_mome_files(int fd)
{
    DIR *d = mome_repo_opendir_at(fd);
    struct dirent *de;
    int ok = 1;

    if (!d)
        return -1;
    while (ok && (de = readdir(d)))
        ok = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
             !strcmp(de->d_name, MOME_SRV_ADDR_FILE) || !strcmp(de->d_name, MOME_SRV_LOCK_FILE) ||
             !strcmp(de->d_name, MOME_SRV_LOG_FILE) || format_tmp(de->d_name);
    closedir(d);
    return ok;
}

/*
 * Create FORMAT whole or not at all: its text is written and fsync'd under a name of this
 * creator's own, then linked to FORMAT, so no one ever reads it empty or partial. (It was created
 * in place: a concurrent creator could read it empty, and a full disk or a crash left it empty,
 * which made the repository unusable until someone removed it by hand.) 0 once FORMAT exists,
 * ours or a concurrent creator's (link's EEXIST), or -errno; nothing is left behind either way
 * (but a crash between the write and the link leaves the temporary file, which is ignored).
 */
static int create_format(int fd)
{
    char tmp[64];
    int f, rc;

    snprintf(tmp, sizeof(tmp), "%s%016llx", FORMAT_TMP, (unsigned long long)new_uid());
    f = openat(fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0)
        return -errno;
    fchmod(f, 0600);
    rc = mome_repo_pwrite_all(f, FORMAT_TEXT, strlen(FORMAT_TEXT), 0);
    if (rc == 0)
        rc = mome_repo_sync(f);
    close(f);
    if (rc == 0 && linkat(fd, tmp, fd, MOME_REPO_FORMAT_FILE, 0) < 0 && errno != EEXIST)
        rc = -errno;
    unlinkat(fd, tmp, 0);
    if (rc == 0) /* else a crash could leave segments in a directory without FORMAT */
        rc = mome_repo_sync(fd);
    return rc;
}

int mome_repo_sync_parent(const char *path)
{
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') /* "a/b/" names b in a */
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    char *parent = n ? strndup(path, n) : strdup(".");
    if (!parent)
        return -ENOMEM;
    int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = fd < 0 ? -errno : 0;
    free(parent);
    if (fd >= 0) {
        rc = mome_repo_sync(fd);
        close(fd);
    }
    /* A drop-box parent (write and search, no read: 1733), or a file system that cannot sync a
     * directory: the repository works as before (helper-100). */
    if (rc == -EACCES || rc == -EPERM || rc == -EINVAL || rc == -EROFS)
        rc = 0;
    return rc;
}

/* Open (creating it with `create`) the repository directory and check its format. */
int mome_repo_dir_open(const char *dir, int create, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint8_t *fmt;
    size_t len;
    int rc;

    if (fd < 0 && errno == ENOENT && create) {
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return mome_repo_say(err, errlen, -errno, "cannot create repository directory '%s': %s",
                                 dir, strerror(errno));
        rc = mome_repo_sync_parent(dir); /* else a crash could take the directory, and all in it */
        if (rc < 0)
            return mome_repo_say(err, errlen, rc, "cannot fsync the directory holding '%s': %s",
                                 dir, strerror(-rc));
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0) {
        rc = -errno;
        if (rc == -ENOENT)
            return mome_repo_say(err, errlen, rc,
                                 "repository '%s' does not exist (MOME_REPOSITORY)", dir);
        return mome_repo_say(err, errlen, rc, "cannot open repository '%s': %s", dir,
                             strerror(-rc));
    }
    rc = read_small(fd, MOME_REPO_FORMAT_FILE, 4096, &fmt, &len);
    if (rc == -ENOENT && only_mome_files(fd) != 1) {
        /* Unless another process made it a repository meanwhile: its FORMAT, whole, is in place
         * before anything else it puts there. */
        rc = read_small(fd, MOME_REPO_FORMAT_FILE, 4096, &fmt, &len);
        if (rc == -ENOENT) {
            close(fd);
            return mome_repo_say(err, errlen, -EINVAL,
                                 "'%s' is not a Mome repository: it has no %s file and holds "
                                 "other files; give MOME_REPOSITORY (or -r) a new or empty "
                                 "directory, or an existing repository",
                                 dir, MOME_REPO_FORMAT_FILE);
        }
    }
    if (rc == -ENOENT && create) {
        /* The repository directory's own entry too, when its user made it (mkdir): else a crash
         * could take it, and every checkpoint in it (helper-120). */
        rc = mome_repo_sync_parent(dir);
        if (rc == 0)
            rc = create_format(fd);
        if (rc < 0) {
            close(fd);
            return mome_repo_say(err, errlen, rc, "cannot write %s/%s: %s", dir,
                                 MOME_REPO_FORMAT_FILE, strerror(-rc));
        }
        rc = read_small(fd, MOME_REPO_FORMAT_FILE, 4096, &fmt, &len);
    }
    if (rc == -ENOENT) /* a directory that never held a segment */
        return fd;
    if (rc < 0) {
        close(fd);
        return mome_repo_say(err, errlen, rc, "cannot read %s/%s: %s", dir, MOME_REPO_FORMAT_FILE,
                             strerror(-rc));
    }
    rc = strcmp((char *)fmt, FORMAT_TEXT) == 0 ? fd : -EPROTO;
    if (rc < 0) {
        fmt[strcspn((char *)fmt, "\n")] = 0;
        close(fd);
        mome_repo_say(err, errlen, rc, "%s/%s says '%.60s': this Mome reads repository format %d",
                      dir, MOME_REPO_FORMAT_FILE, (char *)fmt, MOME_REPO_VERSION);
    }
    free(fmt);
    return rc;
}

int mome_repo_check(const char *dir, int create, char *err, size_t errlen)
{
    int fd = mome_repo_dir_open(dir, create, err, errlen);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* ---- lock ---- */

/*
 * Take the segment's lock (flock: it goes with the process, so a crashed job's lock goes with
 * it). A holder that only peeks (mome-repo ls takes it shared for an instant) is waited for a
 * little; a job holding it makes this fail with EBUSY, saying which.
 */
static int take_lock(int segfd, const char *who, int *out, char *holder, size_t hlen)
{
    int fd = mome_repo_open_file(segfd, "lock", O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return fd;
    fchmod(fd, 0600);
    for (int tries = 0;; tries++) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            break;
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int rc = -errno;
            close(fd);
            return rc;
        }
        if (tries >= 20) {
            ssize_t n = pread(fd, holder, hlen - 1, 0);
            holder[n > 0 ? n : 0] = 0;
            if (n > 0 && holder[n - 1] == '\n')
                holder[n - 1] = 0;
            close(fd);
            return -EBUSY;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (who) {
        char line[512];
        int n = snprintf(line, sizeof(line), "%s\n", who);
        if (ftruncate(fd, 0) < 0 || mome_repo_pwrite_all(fd, line, (size_t)n, 0) < 0) {
            /* Only informative: the lock itself is held. */
        }
    }
    *out = fd;
    return 0;
}

int mome_repo_locked(const char *dir, const char *dirname, char *who, size_t wholen)
{
    char path[1400];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/%s/lock", dir, dirname);
    who[0] = 0;
    fd = mome_repo_open_file(AT_FDCWD, path, O_RDONLY, 0);
    if (fd < 0)
        return fd == -ENOENT ? 0 : fd;
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
    } else if (errno == EWOULDBLOCK) {
        ssize_t n = pread(fd, who, wholen - 1, 0);
        who[n > 0 ? n : 0] = 0;
        if (n > 0 && who[n - 1] == '\n')
            who[n - 1] = 0;
        rc = 1;
    } else {
        rc = -errno;
    }
    close(fd);
    return rc;
}

/* ---- head ---- */

int mome_repo_write_head(mome_repo_seg_t *rs, const mome_repo_head_t *h, char *err, size_t errlen)
{
    size_t len;
    uint8_t *b = mome_repo_head_encode(h, &len);
    int fd, rc;

    if (!b)
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory writing the head of %s/%s",
                             SEGPATH(rs));
    fd = mome_repo_open_file(rs->segfd, "head.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        rc = fd; /* (errno: not a regular file sets none) */
        goto out;
    }
    fchmod(fd, 0600);
    rc = mome_repo_pwrite_all(fd, b, len, 0);
    if (rc == 0)
        rc = h->gen ? mome_repo_fail_point("head-write") : 0; /* tests: a full disk here */
    if (rc == 0)
        rc = mome_repo_sync(fd);
    close(fd);
    if (rc < 0)
        goto out_unlink;
    mome_repo_crash_point("head-tmp");
    /* The commit point: from here on the new head is the current one. */
    if (renameat(rs->segfd, "head.tmp", rs->segfd, "head") < 0) {
        rc = -errno;
        goto out_unlink;
    }
    mome_repo_crash_point("head");
    rc = h->gen ? mome_repo_fail_point("dirsync") : 0; /* a checkpoint's head, not a creation's */
    if (rc == 0)
        rc = mome_repo_sync(rs->segfd);
    free(b);
    if (rc < 0) {
        /* Committed all the same: returning an error here left the caller on the old head, and
         * its next checkpoint rewrote (O_TRUNC) the files the head on disk names. */
        mome_repo_say(err, errlen, rc,
                      "%s/%s: generation %llu is in place, but the directory could not be "
                      "fsync'd after its head was renamed (%s): it may not survive a crash of "
                      "the machine",
                      SEGPATH(rs), (unsigned long long)h->gen, strerror(-rc));
        return MOME_REPO_UNSYNCED;
    }
    return 0;
out_unlink:
    unlinkat(rs->segfd, "head.tmp", 0);
out:
    free(b);
    return mome_repo_say(err, errlen, rc, "cannot write the head of %s/%s: %s", SEGPATH(rs),
                         strerror(-rc));
}

int mome_repo_creation_interrupted(int segfd)
{
    DIR *d = mome_repo_opendir_at(segfd);
    struct dirent *de;
    int clean = 1;

    if (!d)
        return 0;
    while (clean && (de = readdir(d)))
        clean = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                !strcmp(de->d_name, "lock") || !strcmp(de->d_name, "head.tmp");
    closedir(d);
    return clean;
}

static int read_head(int segfd, const char *dir, const char *dirname, mome_repo_head_t *h,
                     char *err, size_t errlen)
{
    uint8_t *b;
    size_t len;
    const char *why = NULL;
    int rc = read_small(segfd, "head", 1u << 26, &b, &len);

    if (rc == -ENOENT)
        return rc;
    if (rc < 0)
        return mome_repo_say(err, errlen, rc == -EFBIG ? -EIO : rc, "cannot read %s/%s/head: %s",
                             dir, dirname, strerror(-rc));
    rc = mome_repo_head_decode(b, len, h, &why);
    free(b);
    if (rc == -EBADMSG)
        return mome_repo_say(err, errlen, -EIO,
                             "%s/%s/head is corrupted: %s (run mome-repo verify)", dir, dirname,
                             why);
    if (rc < 0)
        return mome_repo_say(err, errlen, rc, "cannot decode %s/%s/head: %s", dir, dirname,
                             strerror(-rc));
    if (h->size > MOME_REPO_SIZE_MAX) {
        /* Checked here, not by the decoder, to say the figures: the page count computed from such
         * a size overflowed, and the refusal said "0 pages". */
        rc = mome_repo_say(err, errlen, -EIO,
                           "%s/%s/head is corrupted: it gives a segment size of %llu bytes, more "
                           "than the %llu bytes (128 PiB) a segment may have (run mome-repo "
                           "verify)",
                           dir, dirname, (unsigned long long)h->size,
                           (unsigned long long)MOME_REPO_SIZE_MAX);
        mome_repo_head_free(h);
        return rc;
    }
    return 0;
}

/*
 * read_head, and when there is none (-ENOENT), whether the directory has lost it (*lost: it holds
 * more than an interrupted creation's lock and head.tmp) rather than never had one. An open
 * without the lock does not wait for a creator, who may rename head.tmp to head between the two
 * looks: such a directory looked damaged, and a job's open failed (defects persistrace in CI), so
 * the head is read again before it is called lost.
 */
static int read_head_or_none(int segfd, const char *dir, const char *dirname, mome_repo_head_t *h,
                             int *lost, char *err, size_t errlen)
{
    int rc = read_head(segfd, dir, dirname, h, err, errlen);

    *lost = 0;
    if (rc != -ENOENT)
        return rc;
    mome_repo_crash_point("nohead");
    if (mome_repo_creation_interrupted(segfd))
        return rc;
    rc = read_head(segfd, dir, dirname, h, err, errlen);
    *lost = rc == -ENOENT;
    return rc;
}

int mome_repo_peek(const char *dir, const char *dirname, mome_repo_head_t *h, char *err,
                   size_t errlen)
{
    char path[1400];
    int fd, rc, lost;

    snprintf(path, sizeof(path), "%s/%s", dir, dirname);
    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return mome_repo_say(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
    rc = read_head_or_none(fd, dir, dirname, h, &lost, err, errlen);
    if (rc == -ENOENT && !lost)
        mome_repo_say(err, errlen, rc, "%s has no head (its creation was interrupted)", path);
    else if (rc == -ENOENT)
        rc = mome_repo_say(err, errlen, -EIO,
                           "%s has lost its head: it holds delta files but no "
                           "head names them (damage; restore it from a copy, or remove it with "
                           "mome-repo rm)",
                           path);
    close(fd);
    return rc;
}

/* ---- page map ---- */

const uint8_t *mome_repo_idx_map(int segfd, const mome_repo_file_t *f, uint32_t page_size,
                                 uint64_t uid, size_t *len, const char **why, int *err)
{
    char name[64];
    struct stat st;
    void *m;
    int fd;

    index_name(name, sizeof(name), f->gen, f->node);
    *why = NULL;
    fd = mome_repo_open_file(segfd, name, O_RDONLY, 0);
    if (fd < 0) {
        *err = fd;
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        *err = -errno;
        close(fd);
        return NULL;
    }
    /* The length follows from what the head says: check it before mapping anything. */
    if (!mome_repo_idx_len_ok((uint64_t)st.st_size, f->entries)) {
        *why = "its length disagrees with the head (truncated?)";
        *err = -EBADMSG;
        close(fd);
        return NULL;
    }
    m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        *err = -errno;
        return NULL;
    }
    *err = mome_repo_idx_check(m, (size_t)st.st_size, f, page_size, uid, why);
    if (*err < 0) {
        munmap(m, (size_t)st.st_size);
        return NULL;
    }
    *len = (size_t)st.st_size;
    return m;
}

void mome_repo_map_drop(mome_repo_seg_t *rs)
{
    if (rs->map)
        munmap(rs->map, rs->map_bytes);
    rs->map = NULL;
    for (uint32_t i = 0; i < rs->nfds; i++)
        if (rs->fds[i] >= 0)
            close(rs->fds[i]);
    free(rs->fds);
    rs->fds = NULL;
    rs->nfds = rs->nopen = rs->fd_hand = 0;
}

/*
 * The data files a read keeps open: a bounded number, the others closed in turn. One per file
 * (a pass over every page of a segment whose pages lie in over a thousand delta files) ran out
 * of descriptors: export and compact failed, compact being the remedy itself (helper-89).
 */
#define REPO_FDS_OPEN 64

static int data_fd(mome_repo_seg_t *rs, uint32_t fi, const char *name)
{
    if (rs->fds[fi] >= 0)
        return rs->fds[fi];
    while (rs->nopen >= REPO_FDS_OPEN) {
        uint32_t v = rs->fd_hand++ % rs->nfds;
        if (rs->fds[v] >= 0 && v != fi) {
            close(rs->fds[v]);
            rs->fds[v] = -1;
            rs->nopen--;
        }
    }
    int fd = mome_repo_open_file(rs->segfd, name, O_RDONLY, 0);
    if (fd < 0) {
        errno = -fd; /* (the callers read it) */
        return -1;
    }
    rs->fds[fi] = fd;
    rs->nopen++;
    return fd;
}

int mome_repo_map_load(mome_repo_seg_t *rs, char *err, size_t errlen)
{
    const mome_repo_head_t *h = &rs->head;

    if (rs->map)
        return 0;
    rs->map_bytes = (size_t)rs->npages * sizeof(mapent_t);
    rs->map = mmap(NULL, rs->map_bytes ? rs->map_bytes : 1, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (rs->map == MAP_FAILED) {
        rs->map = NULL;
        return mome_repo_say(err, errlen, -ENOMEM,
                             "no memory for the page map of %s/%s (%llu pages)", SEGPATH(rs),
                             (unsigned long long)rs->npages);
    }
    rs->fds = malloc((h->nfiles ? h->nfiles : 1) * sizeof(int));
    if (!rs->fds) {
        mome_repo_map_drop(rs);
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory opening %s/%s", SEGPATH(rs));
    }
    rs->nfds = h->nfiles;
    rs->nopen = rs->fd_hand = 0;
    for (uint32_t i = 0; i < h->nfiles; i++)
        rs->fds[i] = -1;
    /* Replay the deltas in order: a later generation's entry replaces an earlier one. */
    for (uint32_t i = 0; i < h->nfiles; i++) {
        const mome_repo_file_t *f = &h->files[i];
        char name[64];
        const char *why;
        size_t len;
        int rc;
        const uint8_t *m = mome_repo_idx_map(rs->segfd, f, h->page_size, h->uid, &len, &why, &rc);

        index_name(name, sizeof(name), f->gen, f->node);
        if (!m) {
            mome_repo_map_drop(rs);
            if (why)
                return mome_repo_say(err, errlen, -EIO,
                                     "segment '%s': %s/%s/%s is corrupted: %s (run "
                                     "mome-repo verify)",
                                     h->name, SEGPATH(rs), name, why);
            return mome_repo_say(err, errlen, rc == -ENOENT ? -EIO : rc,
                                 "segment '%s': cannot read "
                                 "%s/%s/%s: %s",
                                 h->name, SEGPATH(rs), name, strerror(-rc));
        }
        for (uint64_t k = 0; k < f->entries; k++) {
            mome_repo_entry_t e;
            mome_repo_idx_get(m + MOME_REPO_IDX_HDR + k * MOME_REPO_IDX_ENTRY, &e);
            if (e.page >= rs->npages) {
                munmap((void *)m, len);
                mome_repo_map_drop(rs);
                return mome_repo_say(err, errlen, -EIO,
                                     "segment '%s': %s/%s/%s names page %llu, beyond "
                                     "the segment's %llu pages (run mome-repo verify)",
                                     h->name, SEGPATH(rs), name, (unsigned long long)e.page,
                                     (unsigned long long)rs->npages);
            }
            mapent_t *me = &rs->map[e.page];
            me->loc = LOC_PRESENT | ((uint64_t)i << LOC_FILE_SHIFT) |
                      (e.where == MOME_REPO_ZERO ? LOC_ZERO : e.where);
            me->sum = e.sum;
        }
        munmap((void *)m, len);
    }
    return 0;
}

int mome_repo_read_locked(mome_repo_seg_t *rs, uint64_t page, void *dst, char *err, size_t errlen)
{
    const mome_repo_head_t *h = &rs->head;
    mapent_t e = rs->map[page];
    uint32_t fi;
    uint64_t off, sum;
    char name[64];
    ssize_t n;
    size_t got = 0;

    if (!(e.loc & LOC_PRESENT) || (e.loc & LOC_ZERO))
        return 0;
    fi = (uint32_t)((e.loc >> LOC_FILE_SHIFT) & LOC_FILE_MAX);
    off = (e.loc & LOC_SLOT_MAX) * h->page_size;
    data_name(name, sizeof(name), h->files[fi].gen, h->files[fi].node);
    if (data_fd(rs, fi, name) < 0)
        return mome_repo_say(err, errlen, -EIO, "segment '%s' page %llu: cannot open %s/%s/%s: %s",
                             h->name, (unsigned long long)page, SEGPATH(rs), name, strerror(errno));
    while (got < h->page_size) {
        n = pread(rs->fds[fi], (char *)dst + got, h->page_size - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mome_repo_say(err, errlen, -EIO,
                                 "segment '%s' page %llu: cannot read %s/%s/%s at "
                                 "offset %llu: %s",
                                 h->name, (unsigned long long)page, SEGPATH(rs), name,
                                 (unsigned long long)(off + got),
                                 n < 0 ? strerror(errno) : "the file is too short");
        got += (size_t)n;
    }
    sum = mome_sum64(dst, h->page_size, page);
    if (sum != e.sum)
        return mome_repo_say(err, errlen, -EIO,
                             "segment '%s' page %llu: checksum mismatch in %s/%s/%s at "
                             "offset %llu (stored %016llx, read %016llx): the "
                             "repository is corrupted (run mome-repo verify)",
                             h->name, (unsigned long long)page, SEGPATH(rs), name,
                             (unsigned long long)off, (unsigned long long)e.sum,
                             (unsigned long long)sum);
    return 1;
}

int mome_repo_read(mome_repo_seg_t *rs, uint64_t page, void *dst, char *err, size_t errlen)
{
    int rc;

    pthread_mutex_lock(&rs->mu);
    if (page >= rs->npages)
        rc = mome_repo_say(err, errlen, -EINVAL, "segment '%s': page %llu is beyond its %llu pages",
                           rs->head.name, (unsigned long long)page, (unsigned long long)rs->npages);
    else
        rc = mome_repo_map_load(rs, err, errlen);
    if (rc == 0)
        rc = mome_repo_read_locked(rs, page, dst, err, errlen);
    pthread_mutex_unlock(&rs->mu);
    if (rc == 1)
        MOME_STAT_INC(repo_pages_read);
    return rc;
}

/* ---- garbage ---- */

/* Whether the head names delta files (gen, node): its files are in (gen, node) order
 * (format.c checks it), and the sweep asks once per file of the directory (helper-120: a scan per
 * file made each sweep quadratic in the files). */
static int named(const mome_repo_head_t *h, uint64_t gen, uint32_t node)
{
    uint32_t lo = 0, hi = h->nfiles;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        const mome_repo_file_t *f = &h->files[mid];
        if (f->gen == gen && f->node == node)
            return 1;
        if (f->gen < gen || (f->gen == gen && f->node < node))
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void mome_repo_sweep(mome_repo_seg_t *rs)
{
    DIR *d = mome_repo_opendir_at(rs->segfd);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        uint64_t gen;
        uint32_t node;
        if ((mome_repo_parse_file(de->d_name, "data.", &gen, &node) ||
             mome_repo_parse_file(de->d_name, "index.", &gen, &node)) &&
            !named(&rs->head, gen, node))
            unlinkat(rs->segfd, de->d_name, 0);
        else if (!strcmp(de->d_name, "head.tmp"))
            unlinkat(rs->segfd, de->d_name, 0);
    }
    closedir(d);
}

/*
 * Remove every file of a segment's directory (its own descriptor dirfd), the lock file last: while
 * it is there, a concurrent sweep finds the directory held (sweep_unlinked).
 */
static void empty_dir(int dirfd)
{
    DIR *d = mome_repo_opendir_at(dirfd);
    struct dirent *de;
    if (d) {
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "lock"))
                unlinkat(dirfd, de->d_name, 0);
        closedir(d);
    }
    unlinkat(dirfd, "lock", 0);
}

/*
 * The directory fd is still the one called name in the repository. Checked by whoever opened a
 * directory by its name and then took its lock, before acting on it by that name or as that
 * name's: in between, another process may have renamed it (an import publishing its segment, an
 * import setting an interrupted creation aside, a mome-repo rm) and let its lock go.
 */
static int fd_named(int repofd, const char *name, int fd)
{
    struct stat a, b;
    return fstat(fd, &a) == 0 && fstatat(repofd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
           a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* An hour without a change: what no live process is still setting up. */
static int stale_dir(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_mtime < time(NULL) - 3600;
}

/*
 * Remove what unlinked segments left behind: a job that died between MomeSegUnlink and its last
 * close leaves the segment's files in .unlinked.<uid>.<pid>, an interrupted mome-repo rm in
 * .unlinked.rm.<pid>, and nothing else ever removed them. Their owner holds the segment's lock
 * from before the rename until the files are gone, so a directory whose lock can be taken has no
 * owner left; one whose lock file is gone already is being emptied (by its owner, or by one that
 * died doing it), and emptying it as well does no harm. A held one is left alone. The same for a
 * segment being imported (STAGE_PREFIX, MOME_REPO_STAGE) whose importer died, with one
 * difference: its directory exists before its lock file and its lock file before the lock is
 * held, so it is taken for an orphan only once it has a head, which is written under the lock.
 */
static void sweep_unlinked(int repofd)
{
    DIR *d = mome_repo_opendir_at(repofd);
    struct dirent *de;

    if (!d)
        return;
    while ((de = readdir(d))) {
        int segfd, lockfd, orphan, nolock;
        int staged = !strncmp(de->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX));
        if (!staged && strncmp(de->d_name, ".unlinked.", 10))
            continue;
        segfd = openat(repofd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (segfd < 0)
            continue;
        /* Read-write: over NFS an exclusive flock is a write lock, which needs it. */
        lockfd = openat(segfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        nolock = lockfd < 0 && errno == ENOENT;
        mome_repo_crash_point("sweep");
        orphan = lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) == 0;
        if (staged) /* without a head (or a lock file), an importer may be setting it up */
            orphan = (orphan || nolock) &&
                     (faccessat(segfd, "head", F_OK, AT_SYMLINK_NOFOLLOW) == 0 || stale_dir(segfd));
        else
            orphan = orphan || nolock;
        if (orphan && !fd_named(repofd, de->d_name, segfd))
            orphan = 0; /* published by its importer meanwhile, its lock let go: a segment now */
        if (orphan) {
            empty_dir(segfd);
            if (unlinkat(repofd, de->d_name, AT_REMOVEDIR) == 0)
                mome_repo_sync(repofd);
        }
        if (lockfd >= 0)
            close(lockfd);
        close(segfd);
    }
    closedir(d);
}

/* Segment names are 1 to 255 bytes, as MomeSegOpen says (a head keeps 255 of them). */
int mome_repo_check_name(const char *name, char *err, size_t errlen)
{
    size_t len = strlen(name);
    if (len == 0)
        return mome_repo_say(err, errlen, -EINVAL,
                             "a segment name cannot be empty: segment names are 1 to %d bytes",
                             MOME_REPO_NAME_MAX);
    if (len > MOME_REPO_NAME_MAX)
        return mome_repo_say(err, errlen, -ENAMETOOLONG,
                             "segment name '%.40s...' is %zu bytes long: segment names are 1 to "
                             "%d bytes",
                             name, len, MOME_REPO_NAME_MAX);
    return 0;
}

/* ---- open and close ---- */

static uint64_t new_uid(void)
{
    uint64_t u = 0;
    if (getrandom(&u, sizeof(u), 0) != sizeof(u))
        u = mome_repo_wall_ns() ^ ((uint64_t)getpid() << 32);
    return u ? u : 1;
}

static mome_repo_seg_t *registry_find(dev_t dev, ino_t ino)
{
    for (mome_repo_seg_t *r = registry; r; r = r->next)
        if (r->dev == dev && r->ino == ino && !r->detached && r->pid == getpid())
            return r;
    return NULL;
}

/* Create the head of a new segment (the lock is held). */
static int create_head(mome_repo_seg_t *rs, const char *name, uint64_t size, uint32_t page_size,
                       char *err, size_t errlen)
{
    mome_repo_head_t *h = &rs->head;
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "%s", name);
    h->size = size;
    h->page_size = page_size;
    h->uid = new_uid();
    h->created_ns = h->ckpt_ns = mome_repo_wall_ns();
    mome_repo_sweep(rs); /* leftovers of an earlier segment of this name */
    int rc = mome_repo_write_head(rs, h, err, errlen);
    if (rc == 0 && (rc = mome_repo_sync(rs->repofd)) < 0)
        /* The segment directory's own entry: the creation that made it fsyncs it, but a creator
         * killed before that left it to this one, whose checkpoints fsync only the segment's
         * directory (helper-120). */
        return mome_repo_say(err, errlen, rc,
                             "cannot fsync repository '%s' after creating "
                             "segment '%s' in it: %s",
                             rs->dir, name, strerror(-rc));
    return rc == MOME_REPO_UNSYNCED ? -EIO : rc; /* the open fails; the next one finds the head */
}

static void seg_free(mome_repo_seg_t *rs)
{
    mome_repo_map_drop(rs);
    mome_repo_head_free(&rs->head);
    if (rs->detached) {
        empty_dir(rs->segfd); /* unlinked: its files go with the last reference */
        unlinkat(rs->repofd, rs->detached_name, AT_REMOVEDIR);
        mome_repo_sync(rs->repofd);
    }
    if (rs->lockfd >= 0)
        close(rs->lockfd); /* the lock goes with its descriptor */
    if (rs->segfd >= 0)
        close(rs->segfd);
    if (rs->repofd >= 0)
        close(rs->repofd);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
}

int mome_repo_open(const char *dir, const char *name, uint64_t size, uint32_t page_size, int flags,
                   const char *who, mome_repo_seg_t **out, char *err, size_t errlen)
{
    int create = !!(flags & MOME_REPO_CREATE), repofd, segfd, lockfd = -1, rc, renamed = 0, lost;
    char dirname[MOME_REPO_DIRNAME_MAX + 1], holder[400];
    mome_repo_seg_t *rs, *old;
    struct stat st;

    *out = NULL;
    if (strlen(dir) >= sizeof(rs->dir))
        return mome_repo_say(err, errlen, -ENAMETOOLONG, "repository path '%.80s...' is too long",
                             dir);
    if (create && !(flags & MOME_REPO_LOCK))
        return mome_repo_say(err, errlen, -EINVAL, "creating a segment needs its lock");
    rc = mome_repo_check_name(name, err, errlen);
    if (rc < 0)
        return rc;
    mome_repo_dirname(name, dirname, sizeof(dirname));
    repofd = mome_repo_dir_open(dir, create, err, errlen);
    if (repofd < 0)
        return repofd;
    if (flags & MOME_REPO_LOCK)
        sweep_unlinked(repofd);
    if (flags & MOME_REPO_STAGE) {
        char head[MOME_REPO_DIRNAME_MAX + 8];
        if (!create || !(flags & MOME_REPO_EXCL)) {
            rc = mome_repo_say(err, errlen, -EINVAL, "staging a segment needs MOME_REPO_EXCL");
            goto err_repo;
        }
        snprintf(head, sizeof(head), "%s/head", dirname);
        if (faccessat(repofd, head, F_OK, AT_SYMLINK_NOFOLLOW) == 0) { /* say so before the work */
            rc = mome_repo_say(err, errlen, -EEXIST, "segment '%s' exists in repository '%s'", name,
                               dir);
            goto err_repo;
        }
        snprintf(dirname, sizeof(dirname), STAGE_PREFIX "%016llx", (unsigned long long)new_uid());
    }
again:
    segfd = openat(repofd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (segfd < 0 && errno == ENOENT && create && (!size || !page_size)) {
        /* Said before a directory is made: it stayed, 'incomplete or damaged' (helper-104). */
        rc = mome_repo_say(err, errlen, -EINVAL, "size 0 cannot create segment '%s'", name);
        goto err_repo;
    }
    if (segfd < 0 && errno == ENOENT && create) {
        if (mkdirat(repofd, dirname, 0700) < 0 && errno != EEXIST) {
            rc = mome_repo_say(err, errlen, -errno, "cannot create %s/%s: %s", dir, dirname,
                               strerror(errno));
            goto err_repo;
        }
        /* Its entry durable before anything is checkpointed into it (helper-83). */
        int s = mome_repo_sync(repofd);
        if (s < 0) {
            rc = mome_repo_say(err, errlen, s, "cannot fsync %s after creating %s in it: %s", dir,
                               dirname, strerror(-s));
            goto err_repo;
        }
        segfd = openat(repofd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (segfd < 0) {
        rc = -errno;
        if (rc == -ENOENT)
            mome_repo_say(err, errlen, rc,
                          "segment '%s' does not exist in repository '%s' (pass "
                          "MOME_CREATE to create it)",
                          name, dir);
        else
            mome_repo_say(err, errlen, rc, "cannot open %s/%s: %s", dir, dirname, strerror(-rc));
        goto err_repo;
    }
    if (fstat(segfd, &st) < 0) {
        rc = mome_repo_say(err, errlen, -errno, "cannot stat %s/%s: %s", dir, dirname,
                           strerror(errno));
        goto err_seg;
    }
    /*
     * flock belongs to the open file description: a second descriptor of this process would
     * find its own lock in the way. A handle this process holds locked already is shared.
     */
    pthread_mutex_lock(&registry_lock);
    old = registry_find(st.st_dev, st.st_ino);
    int have_lock = old && old->lockfd >= 0;
    pthread_mutex_unlock(&registry_lock);
    if ((flags & MOME_REPO_LOCK) && !have_lock) {
        mome_repo_crash_point("lock");
        rc = take_lock(segfd, who, &lockfd, holder, sizeof(holder));
        if (rc == -ENOENT || rc == -ESTALE)
            goto moved; /* emptied or replaced before its lock file was made */
        if (rc == -EBUSY) {
            mome_repo_say(err, errlen, rc,
                          "segment '%s' of repository '%s' is in use by another job or "
                          "tool (%s)",
                          name, dir, holder[0] ? holder : "holder unknown");
            goto err_seg;
        }
        if (rc < 0) {
            mome_repo_say(err, errlen, rc, "cannot lock %s/%s: %s", dir, dirname, strerror(-rc));
            goto err_seg;
        }
        if (!fd_named(repofd, dirname, segfd))
            goto moved;
    }

    pthread_mutex_lock(&registry_lock);
    old = registry_find(st.st_dev, st.st_ino);
    if (old) {
        /* This process has it open already: share the handle (and the map). */
        old->refs++;
        pthread_mutex_unlock(&registry_lock);
        pthread_mutex_lock(&old->mu);
        rc = 0;
        if ((flags & MOME_REPO_EXCL) && create)
            rc = mome_repo_say(err, errlen, -EEXIST, "segment '%s' exists in repository '%s'", name,
                               dir);
        else if (size && size != old->head.size)
            rc = mome_repo_say(err, errlen, -EINVAL,
                               "segment '%s' is stored in repository '%s' with size "
                               "%llu; pass 0 or that size",
                               name, dir, (unsigned long long)old->head.size);
        if (rc == 0 && lockfd >= 0 && old->lockfd < 0) {
            old->lockfd = lockfd;
            lockfd = -1;
        }
        if (rc == 0 && (flags & MOME_REPO_MAP))
            rc = mome_repo_map_load(old, err, errlen);
        pthread_mutex_unlock(&old->mu);
        if (lockfd >= 0)
            close(lockfd);
        close(segfd);
        close(repofd);
        if (rc < 0) {
            mome_repo_close(old);
            return rc;
        }
        *out = old;
        return 0;
    }
    pthread_mutex_unlock(&registry_lock);
    if ((flags & MOME_REPO_LOCK) && lockfd < 0) {
        /* The handle seen locked above was closed meanwhile: lock afresh. */
        rc = take_lock(segfd, who, &lockfd, holder, sizeof(holder));
        if (rc < 0) {
            mome_repo_say(err, errlen, rc, "segment '%s' of repository '%s': cannot lock (%s)",
                          name, dir, rc == -EBUSY && holder[0] ? holder : strerror(-rc));
            goto err_seg;
        }
        if (!fd_named(repofd, dirname, segfd))
            goto moved;
    }

    rs = calloc(1, sizeof(*rs));
    if (!rs) {
        rc = mome_repo_say(err, errlen, -ENOMEM, "out of memory opening segment '%s'", name);
        goto err_lock;
    }
    pthread_mutex_init(&rs->mu, NULL);
    rs->refs = 1;
    rs->dev = st.st_dev;
    rs->ino = st.st_ino;
    rs->pid = getpid();
    rs->segfd = segfd;
    rs->repofd = repofd;
    rs->lockfd = lockfd;
    snprintf(rs->dir, sizeof(rs->dir), "%s", dir);
    snprintf(rs->dirname, sizeof(rs->dirname), "%s", dirname);
    rc = read_head_or_none(segfd, dir, dirname, &rs->head, &lost, err, errlen);
    if (rc == -ENOENT && lost)
        rc = mome_repo_say(err, errlen, -EIO,
                           "segment '%s' of repository '%s' has lost its head: %s/%s holds delta "
                           "files but no head names them (damage; nothing was changed; restore "
                           "it from a copy, or remove it with mome-repo rm)",
                           name, dir, dir, dirname);
    if (rc == -ENOENT) {
        /* No head: never created, or a creation that was interrupted before its head. */
        if (!create || lockfd < 0) {
            mome_repo_say(err, errlen, rc,
                          "segment '%s' does not exist in repository '%s' (pass "
                          "MOME_CREATE to create it)",
                          name, dir);
            goto err_free;
        }
        if (!size || !page_size) {
            rc = mome_repo_say(err, errlen, -EINVAL, "size 0 cannot create segment '%s'", name);
            goto err_free;
        }
        if (size > MOME_REPO_SIZE_MAX) { /* it could be created, never opened again */
            rc = mome_repo_say(err, errlen, -EFBIG,
                               "segment '%s' cannot have %llu bytes: a segment has at most %llu "
                               "bytes (128 PiB)",
                               name, (unsigned long long)size,
                               (unsigned long long)MOME_REPO_SIZE_MAX);
            goto err_free;
        }
        rc = create_head(rs, name, size, page_size, err, errlen);
    } else if (rc == 0) {
        if ((flags & MOME_REPO_EXCL) && create)
            rc = mome_repo_say(err, errlen, -EEXIST, "segment '%s' exists in repository '%s'", name,
                               dir);
        else if (strcmp(rs->head.name, name) != 0)
            rc = mome_repo_say(err, errlen, -EIO,
                               "%s/%s holds segment '%s', not '%s' (names whose "
                               "encodings collide)",
                               dir, dirname, rs->head.name, name);
        else if (size && size != rs->head.size)
            rc = mome_repo_say(err, errlen, -EINVAL,
                               "segment '%s' is stored in repository '%s' with size "
                               "%llu; pass 0 or that size",
                               name, dir, (unsigned long long)rs->head.size);
        else if (page_size && page_size != rs->head.page_size)
            rc = mome_repo_say(
                err, errlen, -EINVAL,
                "segment '%s' is stored in repository '%s' with "
                "MOME_PAGE_SIZE=%u; run with that page size (or mome-repo export and import "
                "it)",
                name, dir, rs->head.page_size);
    }
    if (rc < 0)
        goto err_free;
    rs->gen = rs->head.gen;
    rs->npages = (rs->head.size + rs->head.page_size - 1) / rs->head.page_size;
    if (lockfd >= 0)
        mome_repo_sweep(rs); /* what a crashed checkpoint left */
    if (flags & MOME_REPO_MAP) {
        rc = mome_repo_map_load(rs, err, errlen);
        if (rc < 0)
            goto err_free;
    }
    pthread_mutex_lock(&registry_lock);
    rs->next = registry;
    registry = rs;
    pthread_mutex_unlock(&registry_lock);
    *out = rs;
    return 0;

moved: /* renamed away before its lock was ours: open what the name is now */
    close(lockfd);
    lockfd = -1;
    close(segfd);
    if (++renamed < 3)
        goto again;
    rc = mome_repo_say(err, errlen, -EAGAIN,
                       "segment '%s' of repository '%s' was removed or replaced while it was being "
                       "opened, 3 times; try again",
                       name, dir);
    goto err_repo;
err_free:
    mome_repo_head_free(&rs->head);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
err_lock:
    if (lockfd >= 0)
        close(lockfd);
err_seg:
    close(segfd);
err_repo:
    close(repofd);
    return rc;
}

void mome_repo_hold(mome_repo_seg_t *rs)
{
    pthread_mutex_lock(&registry_lock);
    rs->refs++;
    pthread_mutex_unlock(&registry_lock);
}

void mome_repo_close(mome_repo_seg_t *rs)
{
    if (!rs)
        return;
    pthread_mutex_lock(&registry_lock);
    if (--rs->refs > 0) {
        pthread_mutex_unlock(&registry_lock);
        return;
    }
    for (mome_repo_seg_t **pp = &registry; *pp; pp = &(*pp)->next) {
        if (*pp == rs) {
            *pp = rs->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    seg_free(rs);
}

void mome_repo_info(mome_repo_seg_t *rs, mome_repo_info_t *out)
{
    pthread_mutex_lock(&rs->mu);
    out->head = rs->head;
    out->head.files = NULL;
    out->head.gen = rs->gen > rs->head.gen ? rs->gen : rs->head.gen;
    snprintf(out->path, sizeof(out->path), "%s/%s", rs->dir,
             rs->detached ? rs->detached_name : rs->dirname);
    pthread_mutex_unlock(&rs->mu);
}

uint64_t mome_repo_gen(mome_repo_seg_t *rs)
{
    uint64_t g;
    pthread_mutex_lock(&rs->mu);
    g = rs->gen > rs->head.gen ? rs->gen : rs->head.gen;
    pthread_mutex_unlock(&rs->mu);
    return g;
}

void mome_repo_set_gen(mome_repo_seg_t *rs, uint64_t gen)
{
    pthread_mutex_lock(&rs->mu);
    if (gen > rs->gen)
        rs->gen = gen;
    pthread_mutex_unlock(&rs->mu);
}

int mome_repo_unlink(mome_repo_seg_t *rs, char *err, size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&rs->mu);
    if (rs->lockfd < 0) {
        rc = mome_repo_say(err, errlen, -EPERM, "segment '%s' is not locked by this process",
                           rs->head.name);
    } else if (!rs->detached) {
        snprintf(rs->detached_name, sizeof(rs->detached_name), ".unlinked.%016llx.%d",
                 (unsigned long long)rs->head.uid, (int)getpid());
        if (renameat(rs->repofd, rs->dirname, rs->repofd, rs->detached_name) < 0)
            rc = mome_repo_say(err, errlen, -errno, "cannot remove %s/%s: %s", SEGPATH(rs),
                               strerror(errno));
        else
            rs->detached = 1;
        mome_repo_sync(rs->repofd);
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

/*
 * A creation interrupted before its head (a directory with a lock file at most) holds nothing, and
 * an open with MOME_REPO_CREATE would reuse it; a staged segment can only take its name by moving
 * it aside, to where sweep_unlinked removes it. Not if a creator holds its lock: that one is
 * writing its head now.
 */
static int set_aside_empty(int repofd, const char *dirname)
{
    char aside[64];
    int segfd = openat(repofd, dirname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), lockfd;
    int moved = 0;

    if (segfd < 0)
        return 0;
    lockfd = openat(segfd, "lock", O_RDWR | O_NOFOLLOW | O_CLOEXEC); /* RDWR: see sweep_unlinked */
    mome_repo_crash_point("aside");
    /* Under its lock, still empty and still of that name (another import may have set it aside
     * and published its segment under the name meanwhile). */
    if ((lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) == 0) &&
        mome_repo_creation_interrupted(segfd) && fd_named(repofd, dirname, segfd)) {
        snprintf(aside, sizeof(aside), ".unlinked.%016llx.%d", (unsigned long long)new_uid(),
                 (int)getpid());
        moved = renameat(repofd, dirname, repofd, aside) == 0;
        if (moved && !fd_named(repofd, aside, segfd)) {
            /* Without a lock file, a segment published by a plain rename (no RENAME_NOREPLACE)
             * could have replaced it just before: put that one back. */
            if (renameat2(repofd, aside, repofd, dirname, RENAME_NOREPLACE) < 0)
                renameat(repofd, aside, repofd, dirname);
            moved = 0;
        }
    }
    if (lockfd >= 0)
        close(lockfd);
    close(segfd);
    return moved;
}

int mome_repo_publish(mome_repo_seg_t *rs, char *err, size_t errlen)
{
    char real[MOME_REPO_DIRNAME_MAX + 1];
    int rc = 0;

    pthread_mutex_lock(&rs->mu);
    mome_repo_dirname(rs->head.name, real, sizeof(real));
    for (int tries = 0;; tries++) {
        if (renameat2(rs->repofd, rs->dirname, rs->repofd, real, RENAME_NOREPLACE) == 0)
            break;
        int e = errno;
        if (e == EINVAL || e == ENOSYS) {
            /* A file system without RENAME_NOREPLACE: a plain rename replaces an empty directory
             * only (one being created, whose creator finds it gone once locked, and opens this
             * segment instead) and fails on any other. */
            if (renameat(rs->repofd, rs->dirname, rs->repofd, real) == 0)
                break;
            e = errno == ENOTEMPTY ? EEXIST : errno;
        }
        if (e == EEXIST && tries == 0 && set_aside_empty(rs->repofd, real))
            continue;
        rc = e == EEXIST ? mome_repo_say(err, errlen, -EEXIST,
                                         "segment '%s' exists in repository '%s' (it was "
                                         "created while this one was being built)",
                                         rs->head.name, rs->dir)
                         : mome_repo_say(err, errlen, -e, "cannot rename %s/%s to %s: %s",
                                         SEGPATH(rs), real, strerror(e));
        break;
    }
    if (rc == 0) {
        int s = mome_repo_sync(rs->repofd);
        snprintf(rs->dirname, sizeof(rs->dirname), "%s", real);
        if (s < 0)
            rc = mome_repo_say(err, errlen, 1,
                               "segment '%s' is in place in repository '%s', but the repository's "
                               "directory could not be fsync'd (%s): it may not survive a crash of "
                               "the machine",
                               rs->head.name, rs->dir, strerror(-s));
    }
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

/* ---- test-only crash points ---- */

static char crash_step[32];
static int crash_node = -1, crash_self = -1, crash_sig = SIGKILL;

int mome_repo_crash_setup(const char *spec, int node)
{
    static const char *const steps[] = {"delta-mid", "delta-data", "delta-index", "ready",
                                        "head-tmp",  "head",       "dirsync",     "done",
                                        "returned",  "verify",     "lock",        "sweep",
                                        "aside",     "head-write", "nohead"};
    const char *colon;
    size_t n;

    crash_step[0] = 0;
    crash_self = node;
    crash_node = -1;
    crash_sig = SIGKILL;
    if (!spec || !*spec)
        return 0;
    colon = strchr(spec, ':');
    n = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        if (strlen(steps[i]) == n && !strncmp(steps[i], spec, n)) {
            long want = -1;
            int sig = SIGKILL;
            if (colon) {
                char *end = (char *)colon + 1;
                if (*end != ':') { /* STEP::eio, STEP::stop: any node */
                    want = strtol(colon + 1, &end, 10);
                    if (end == colon + 1 || want < 0 || want > 1 << 20)
                        return -EINVAL;
                }
                if (*end && strcmp(end, ":stop") && strcmp(end, ":eio"))
                    return -EINVAL;
                if (*end)
                    /* stop there instead, for a test to act meanwhile; or fail the step once */
                    sig = strcmp(end, ":stop") ? 0 : SIGSTOP;
            }
            memcpy(crash_step, spec, n);
            crash_step[n] = 0;
            crash_node = (int)want;
            crash_sig = sig;
            return 0;
        }
    }
    return -EINVAL;
}

void mome_repo_crash_point(const char *step)
{
    if (crash_step[0] && !strcmp(step, crash_step) &&
        (crash_node < 0 || crash_node == crash_self) && crash_sig) {
        if (crash_sig == SIGSTOP)
            crash_step[0] = 0; /* a stop is once: the process goes on after SIGCONT */
        kill(getpid(), crash_sig);
    }
}

int mome_repo_fail_point(const char *step)
{
    if (!crash_step[0] || strcmp(step, crash_step) || crash_sig ||
        (crash_node >= 0 && crash_node != crash_self))
        return 0;
    crash_step[0] = 0; /* once */
    return -EIO;
}

/* ---- removing a segment no job has open (mome-repo rm) ---- */

int mome_repo_remove(const char *dir, const char *name, char *err, size_t errlen)
{
    char dirname[MOME_REPO_DIRNAME_MAX + 1], holder[400], who[64], gone[64];
    int repofd, segfd, lockfd, rc, renamed = 0;

    rc = mome_repo_check_name(name, err, errlen);
    if (rc < 0)
        return rc;
    mome_repo_dirname(name, dirname, sizeof(dirname));
    repofd = mome_repo_dir_open(dir, 0, err, errlen);
    if (repofd < 0)
        return repofd;
    sweep_unlinked(repofd);
again:
    segfd = openat(repofd, dirname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (segfd < 0) {
        rc = -errno;
        close(repofd);
        if (rc == -ENOENT)
            return mome_repo_say(err, errlen, rc, "segment '%s' does not exist in repository '%s'",
                                 name, dir);
        return mome_repo_say(err, errlen, rc, "cannot open %s/%s: %s", dir, dirname, strerror(-rc));
    }
    snprintf(who, sizeof(who), "mome-repo rm, pid %d", (int)getpid());
    mome_repo_crash_point("lock");
    rc = take_lock(segfd, who, &lockfd, holder, sizeof(holder));
    if ((rc == 0 || rc == -ENOENT || rc == -ESTALE) && !fd_named(repofd, dirname, segfd) &&
        renamed++ < 3) {
        /* Removed (and perhaps created again) between the open and the lock: what is it now? */
        if (rc == 0)
            close(lockfd);
        close(segfd);
        goto again;
    }
    if (rc == 0 && !fd_named(repofd, dirname, segfd)) {
        close(lockfd);
        rc = -EAGAIN;
    }
    if (rc < 0) {
        close(segfd);
        close(repofd);
        if (rc == -EAGAIN)
            return mome_repo_say(err, errlen, rc,
                                 "segment '%s' was removed or replaced while it was being "
                                 "removed, 3 times; try again",
                                 name);
        if (rc == -EBUSY)
            return mome_repo_say(err, errlen, rc, "segment '%s' is in use (%s)", name, holder);
        return mome_repo_say(err, errlen, rc, "cannot lock %s/%s: %s", dir, dirname, strerror(-rc));
    }
    /* Out of the way first (atomic), then emptied: an interrupted removal leaves no segment. */
    snprintf(gone, sizeof(gone), ".unlinked.rm.%d", (int)getpid());
    if (renameat(repofd, dirname, repofd, gone) < 0) {
        rc = -errno;
        close(lockfd);
        close(segfd);
        close(repofd);
        return mome_repo_say(err, errlen, rc, "cannot remove %s/%s: %s", dir, dirname,
                             strerror(-rc));
    }
    mome_repo_sync(repofd);
    empty_dir(segfd);
    close(lockfd);
    close(segfd);
    /* ENOENT: another process's sweep_unlinked removed it first, once the lock was gone. */
    rc = unlinkat(repofd, gone, AT_REMOVEDIR) < 0 && errno != ENOENT ? -errno : 0;
    mome_repo_sync(repofd);
    close(repofd);
    if (rc < 0)
        return mome_repo_say(err, errlen, rc,
                             "removed segment '%s', but not its directory %s/%s: %s", name, dir,
                             gone, strerror(-rc));
    return 0;
}
