/*
 * admin.c - the repository as a whole, for mome-repo (and a server): listing segments, verifying
 * every checksum, exporting a flat image and importing one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo/internal.h"
#include "repo/repo.h"
#include "repo/sum.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int mome_repo_list(const char *dir, int (*cb)(const char *dirname, void *arg), void *arg, char *err,
                   size_t errlen)
{
    int fd = mome_repo_dir_open(dir, 0, err, errlen), rc = 0;
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;

    if (fd < 0)
        return fd;
    if (!d) {
        rc = -errno;
        close(fd);
        return mome_repo_say(err, errlen, rc, "cannot list repository '%s': %s", dir,
                             strerror(-rc));
    }
    /* The segments' directories, visited in name order. */
    while (rc == 0 && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] == '.' || !strcmp(de->d_name, MOME_REPO_FORMAT_FILE))
            continue;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (n == cap) {
            char **more = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof(*names));
            rc = more ? 0 : -ENOMEM;
            names = more ? more : names;
        }
        if (rc == 0 && !(names[n] = strdup(de->d_name)))
            rc = -ENOMEM;
        n += rc == 0;
    }
    closedir(d);
    if (rc < 0)
        mome_repo_say(err, errlen, rc, "listing repository '%s': %s", dir, strerror(-rc));
    if (n)
        qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = cb(names[i], arg);
        free(names[i]);
    }
    free(names);
    return rc < 0 ? rc : 0;
}

/* ---- verify ---- */

/* A pass's problems are held (held: lines back to back, each ending with its NUL) until the head
 * is known to have stayed current through the pass: only then are they reported. */
typedef struct vctx {
    void (*report)(void *, const char *);
    void *arg;
    int problems;
    const char *dir, *dirname;
    char *held;
    size_t len, cap;
} vctx_t;

static void hold(vctx_t *v, const char *line)
{
    size_t n = strlen(line) + 1;
    v->problems++;
    if (v->len + n > v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 4096;
        char *more = realloc(v->held, cap > v->len + n ? cap : v->len + n);
        if (!more)
            return; /* counted, not told: the count still says the segment is not sound */
        v->held = more;
        v->cap = cap > v->len + n ? cap : v->len + n;
    }
    memcpy(v->held + v->len, line, n);
    v->len += n;
}

static void problem(vctx_t *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(vctx_t *v, const char *fmt, ...)
{
    char line[1200];
    int n = snprintf(line, sizeof(line), "%s/%s: ", v->dir, v->dirname);
    va_list ap;
    if (n < 0 || (size_t)n >= sizeof(line)) /* a long path: the cause still fits, cut short */
        n = (int)sizeof(line) / 2;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    hold(v, line);
}

/* Report the problems held, or forget them (report 0: they came from a head replaced meanwhile). */
static void release(vctx_t *v, int report)
{
    for (size_t at = 0; report && v->report && at < v->len; at += strlen(v->held + at) + 1)
        v->report(v->arg, v->held + at);
    v->len = 0;
    if (!report)
        v->problems = 0;
}

/* The same head: same generation of the same segment, naming the same files. */
static int same_head(const mome_repo_head_t *a, const mome_repo_head_t *b)
{
    if (a->uid != b->uid || a->gen != b->gen || a->ckpt_ns != b->ckpt_ns || a->size != b->size ||
        a->page_size != b->page_size || a->live != b->live || a->data != b->data ||
        a->nfiles != b->nfiles || strcmp(a->name, b->name) != 0)
        return 0;
    for (uint32_t i = 0; i < a->nfiles; i++) {
        const mome_repo_file_t *f = &a->files[i], *g = &b->files[i];
        if (f->gen != g->gen || f->node != g->node || f->entries != g->entries ||
            f->sum != g->sum || f->pages != g->pages)
            return 0;
    }
    return 1;
}

typedef struct slotinfo {
    uint64_t page, sum;
} slotinfo_t;

/* Check every stored page of one delta file against its index entries, reading the data file
 * sequentially. */
static void verify_data(vctx_t *v, int segfd, const mome_repo_head_t *h, const mome_repo_file_t *f,
                        const uint8_t *idx)
{
    const size_t chunk = mome_repo_batch(h->page_size);
    char name[64];
    slotinfo_t *slot = NULL;
    uint8_t *buf = NULL, *used = NULL;
    struct stat st;
    int fd;

    data_name(name, sizeof(name), f->gen, f->node);
    fd = mome_repo_open_file(segfd, name, O_RDONLY, 0);
    if (fd < 0) {
        problem(v, "%s: %s", name,
                fd == -EIO ? "cannot be read (not a regular file, or an I/O error)"
                           : strerror(-fd));
        return;
    }
    /* Its length first: the head's page count sizes what follows, and a count the file does not
     * have (a crafted head: 2^32 pages) took 64 GiB and millions of reads (helper-120). */
    if (fstat(fd, &st) < 0)
        st.st_size = -1;
    if ((uint64_t)st.st_size != f->pages * h->page_size) {
        if (st.st_size < 0)
            problem(v, "%s: %s", name, strerror(errno));
        else
            problem(v, "%s: %llu bytes, the index says %llu pages of %u", name,
                    (unsigned long long)st.st_size, (unsigned long long)f->pages, h->page_size);
        close(fd);
        return;
    }
    slot = calloc(f->pages ? f->pages : 1, sizeof(*slot));
    buf = malloc((size_t)chunk * h->page_size);
    used = calloc(f->pages + 1, 1);
    if (!slot || !buf || !used) {
        problem(v, "%s: out of memory to verify it", name);
        close(fd);
        goto out;
    }
    for (uint64_t k = 0; k < f->entries; k++) {
        mome_repo_entry_t e;
        mome_repo_idx_get(idx + MOME_REPO_IDX_HDR + k * MOME_REPO_IDX_ENTRY, &e);
        if (e.where == MOME_REPO_ZERO)
            continue;
        slot[e.where].page = e.page;
        slot[e.where].sum = e.sum;
        used[e.where] = 1;
    }
    for (uint64_t s = 0; s < f->pages; s += chunk) {
        uint64_t n = f->pages - s < chunk ? f->pages - s : chunk;
        size_t want = (size_t)n * h->page_size, got = 0;
        while (got < want) {
            ssize_t r = pread(fd, buf + got, want - got, (off_t)(s * h->page_size + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        for (uint64_t k = 0; k < n; k++) {
            uint64_t sl = s + k;
            if (!used[sl])
                continue;
            if ((k + 1) * h->page_size > got) {
                problem(v, "page %llu: %s is too short for its slot %llu",
                        (unsigned long long)slot[sl].page, name, (unsigned long long)sl);
                continue;
            }
            uint64_t sum = mome_sum64(buf + k * h->page_size, h->page_size, slot[sl].page);
            if (sum != slot[sl].sum)
                problem(v,
                        "page %llu: checksum mismatch in %s at offset %llu (stored %016llx, "
                        "read %016llx)",
                        (unsigned long long)slot[sl].page, name,
                        (unsigned long long)(sl * h->page_size), (unsigned long long)slot[sl].sum,
                        (unsigned long long)sum);
        }
    }
    close(fd);
out:
    free(slot);
    free(buf);
    free(used);
}

/* Check every file head h names, and the head's counts against them (problems held in v). */
static void verify_pass(vctx_t *v, int segfd, const mome_repo_head_t *h)
{
    char want[MOME_REPO_DIRNAME_MAX + 1];
    uint32_t *last = NULL; /* per page: 1 + the file of its last entry, 0 if none */
    uint8_t *zero = NULL;  /* per page: its last entry is a zero page */
    uint64_t npages, live = 0, data = 0;
    size_t mapbytes;
    int rc;

    mome_repo_dirname(h->name, want, sizeof(want));
    if (strcmp(want, v->dirname) != 0)
        problem(v, "holds segment '%s', whose directory would be '%s'", h->name, want);
    npages = (h->size + h->page_size - 1) / h->page_size;
    mapbytes = (size_t)npages * sizeof(*last);
    last = mmap(NULL, mapbytes ? mapbytes : 1, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (last == MAP_FAILED) {
        problem(v, "no memory to verify %llu pages", (unsigned long long)npages);
        goto out;
    }
    zero = mmap(NULL, npages ? npages : 1, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (zero == MAP_FAILED) {
        zero = NULL;
        problem(v, "no memory to verify %llu pages", (unsigned long long)npages);
        goto out;
    }
    for (uint32_t i = 0; i < h->nfiles; i++) {
        const mome_repo_file_t *f = &h->files[i];
        const char *why;
        size_t len;
        char name[64];
        const uint8_t *m = mome_repo_idx_map(segfd, f, h->page_size, h->uid, &len, &why, &rc);

        index_name(name, sizeof(name), f->gen, f->node);
        data += f->pages;
        if (!m) {
            problem(v, "%s: %s", name, why ? why : strerror(-rc));
            continue;
        }
        for (uint64_t k = 0; k < f->entries; k++) {
            mome_repo_entry_t e;
            mome_repo_idx_get(m + MOME_REPO_IDX_HDR + k * MOME_REPO_IDX_ENTRY, &e);
            if (e.page >= npages) {
                problem(v, "%s: entry for page %llu, beyond the segment's %llu pages", name,
                        (unsigned long long)e.page, (unsigned long long)npages);
                continue;
            }
            last[e.page] = i + 1;
            zero[e.page] = e.where == MOME_REPO_ZERO;
        }
        verify_data(v, segfd, h, f, m);
        munmap((void *)m, len);
    }
    for (uint64_t p = 0; p < npages; p++)
        if (last[p] && !zero[p])
            live++;
    if (v->problems == 0 && live != h->live)
        problem(v, "head says %llu live pages, the indexes %llu", (unsigned long long)h->live,
                (unsigned long long)live);
    if (v->problems == 0 && data != h->data)
        problem(v, "head says %llu data pages, the files %llu", (unsigned long long)h->data,
                (unsigned long long)data);
out:
    if (last && last != MAP_FAILED)
        munmap(last, mapbytes ? mapbytes : 1);
    if (zero)
        munmap(zero, npages ? npages : 1);
}

/* Is h still the segment's head (a read that fails: no)? */
static int still_current(const char *dir, const char *dirname, const mome_repo_head_t *h)
{
    mome_repo_head_t now;
    int same;

    if (mome_repo_peek(dir, dirname, &now, NULL, 0) < 0)
        return 0;
    same = same_head(h, &now);
    mome_repo_head_free(&now);
    return same;
}

/*
 * Without the segment's lock: a job (or momed) may hold it for hours, and a job that starts
 * meanwhile must not fail with EBUSY because a verify is reading. So a compaction (mome-repo
 * compact, a job's MomeFinalize, momed) may replace the head and remove the files it read. Files a
 * head names are never changed while that head is current, and a checkpoint leaves them in place:
 * a pass that finds no problem has verified one generation, whole. A pass that finds some is
 * reported only if the head is still the one it read; otherwise the problems may be the removed
 * files, and the new head is verified instead, up to MOME_REPO_VERIFY_TRIES passes.
 */
int mome_repo_verify(const char *dir, const char *dirname, void (*report)(void *, const char *),
                     void *arg)
{
    vctx_t v = {.report = report, .arg = arg, .dir = dir, .dirname = dirname};
    mome_repo_head_t h;
    char path[1400], err[1200];
    int segfd, rc;

    snprintf(path, sizeof(path), "%s/%s", dir, dirname);
    for (int pass = 0;; pass++) {
        if (pass == MOME_REPO_VERIFY_TRIES) {
            free(v.held);
            return -EAGAIN; /* replaced under every pass: nothing verified */
        }
        segfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (segfd < 0) {
            rc = -errno;
            free(v.held);
            return rc;
        }
        rc = mome_repo_peek(dir, dirname, &h, err, sizeof(err));
        if (rc == -ENOENT) { /* not lost: peek said -EIO then */
            if (report) {
                char note[1800];
                snprintf(note, sizeof(note),
                         "note: %s has no head: its creation was interrupted before its first "
                         "commit, so it holds nothing (not damage: the next MomeSegOpen with "
                         "MOME_CREATE creates it, mome-repo rm removes it)",
                         path);
                report(arg, note);
            }
            close(segfd);
            free(v.held);
            return 0;
        }
        if (rc < 0) {
            hold(&v, err); /* "path: ..." already: without the prefix problem() adds */
            close(segfd);
            break;
        }
        if (pass == 0)
            mome_repo_crash_point("verify"); /* where a test replaces the head */
        verify_pass(&v, segfd, &h);
        close(segfd);
        rc = v.problems == 0 || still_current(dir, dirname, &h);
        mome_repo_head_free(&h);
        if (rc)
            break;
        release(&v, 0); /* perhaps the files a compaction removed: verify the new head */
    }
    release(&v, 1);
    free(v.held);
    return v.problems;
}

/* ---- export, import ---- */

int mome_repo_export(mome_repo_seg_t *rs, int fd, char *err, size_t errlen)
{
    const mome_repo_head_t *h = &rs->head;
    uint8_t *buf = malloc(h->page_size);
    int rc, read_failed;

    if (!buf)
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory");
    pthread_mutex_lock(&rs->mu);
    rc = mome_repo_map_load(rs, err, errlen);
    read_failed = rc < 0;
    if (rc == 0 && ftruncate(fd, 0) < 0)
        rc = mome_repo_say(err, errlen, -errno, "cannot truncate the image: %s", strerror(errno));
    if (rc == 0 && ftruncate(fd, (off_t)h->size) < 0) /* zeros: holes */
        rc = mome_repo_say(err, errlen, -errno, "cannot size the image: %s", strerror(errno));
    for (uint64_t p = 0; rc == 0 && p < rs->npages; p++) {
        int r = mome_repo_read_locked(rs, p, buf, err, errlen);
        if (r < 0) {
            rc = r;
            read_failed = 1;
            break;
        }
        if (r == 0)
            continue;
        uint64_t off = p * h->page_size;
        size_t len = h->size - off < h->page_size ? (size_t)(h->size - off) : h->page_size;
        r = mome_repo_pwrite_all(fd, buf, len, off);
        if (r < 0)
            rc = mome_repo_say(err, errlen, r, "cannot write the image: %s", strerror(-r));
    }
    if (rc == 0 && fsync(fd) < 0 && errno != EINVAL)
        rc = mome_repo_say(err, errlen, -errno, "cannot write the image: %s", strerror(errno));
    /* Export takes no lock: a compaction may have removed files of the head it read before it
     * opened them (never changed them: what was read is one generation). A failure to write the
     * image is the image's, whatever the head does. */
    if (read_failed && !still_current(rs->dir, rs->dirname, h)) {
        char why[600];
        snprintf(why, sizeof(why), "%s", err ? err : "");
        rc = mome_repo_say(err, errlen, -EAGAIN,
                           "segment '%s' changed during the export (a checkpoint or compaction "
                           "replaced its head; what failed: %s)",
                           h->name, why);
    }
    pthread_mutex_unlock(&rs->mu);
    free(buf);
    return rc;
}

/* The first offset at or after off that holds data in the image, and in *end where that data
 * ends (the next hole); -1 if only holes are left. A file system that cannot tell (or a failure)
 * reports all of it as data: it is then read, as before. */
static off_t next_data(int fd, off_t off, off_t size, off_t *end)
{
    off_t d = lseek(fd, off, SEEK_DATA);

    if (d < 0 && errno == ENXIO)
        return -1;
    if (d < 0 || d < off) {
        *end = size;
        return off;
    }
    if (d >= size)
        return -1;
    off_t h = lseek(fd, d, SEEK_HOLE);
    *end = h > d ? h : size;
    return d;
}

int mome_repo_import(const char *dir, const char *name, int fd, uint32_t page_size, const char *who,
                     char *err, size_t errlen)
{
    enum { BATCH_MAX = 256 };
    const size_t batch = mome_repo_batch(page_size);
    mome_repo_seg_t *rs;
    mome_repo_delta_t *d;
    mome_repo_file_t f;
    struct stat st;
    uint64_t pages[BATCH_MAX], size;
    uint8_t *buf;
    size_t nb = 0;
    off_t data_end = 0;
    int rc;

    if (fstat(fd, &st) < 0)
        return mome_repo_say(err, errlen, -errno, "cannot stat the image: %s", strerror(errno));
    size = (uint64_t)st.st_size;
    if (size == 0)
        return mome_repo_say(err, errlen, -EINVAL,
                             "the image is empty: a segment has at least one byte");
    rc = mome_repo_open(dir, name, size, page_size,
                        MOME_REPO_CREATE | MOME_REPO_EXCL | MOME_REPO_LOCK | MOME_REPO_MAP |
                            MOME_REPO_STAGE,
                        who, &rs, err, errlen);
    if (rc < 0)
        return rc;
    buf = malloc((size_t)batch * page_size);
    if (!buf) {
        rc = mome_repo_say(err, errlen, -ENOMEM, "out of memory");
        goto err_remove;
    }
    rc = mome_repo_delta_begin(rs, 1, 0, &d, err, errlen);
    if (rc < 0)
        goto err_free;
    for (uint64_t p = 0; p * page_size < size; p++) {
        if ((off_t)(p * page_size) >= data_end) { /* skip the image's holes: they read zeros */
            off_t at = next_data(fd, (off_t)(p * page_size), (off_t)size, &data_end);
            if (at < 0)
                break; /* no data up to the end */
            p = (uint64_t)at / page_size;
        }
        uint8_t *b = buf + nb * page_size;
        size_t want = size - p * page_size < page_size ? (size_t)(size - p * page_size) : page_size;
        size_t got = 0;
        memset(b, 0, page_size);
        while (got < want) {
            ssize_t r = pread(fd, b + got, want - got, (off_t)(p * page_size + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                rc = mome_repo_say(err, errlen, r < 0 ? -errno : -EIO,
                                   "cannot read the image at %llu: "
                                   "%s",
                                   (unsigned long long)(p * page_size + got),
                                   r < 0 ? strerror(errno) : "it became shorter");
                mome_repo_delta_abort(d);
                goto err_free;
            }
            got += (size_t)r;
        }
        int zero = 1;
        for (size_t i = 0; i < page_size && zero; i += 8)
            zero = *(const uint64_t *)(b + i) == 0;
        if (zero)
            continue; /* a new segment reads zeros already */
        pages[nb++] = p;
        if (nb == batch) {
            rc = mome_repo_delta_add(d, pages, buf, nb, err, errlen);
            nb = 0;
            if (rc < 0) {
                mome_repo_delta_abort(d);
                goto err_free;
            }
        }
    }
    if (nb && (rc = mome_repo_delta_add(d, pages, buf, nb, err, errlen)) < 0) {
        mome_repo_delta_abort(d);
        goto err_free;
    }
    if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != size) { /* a hole's zeros are not read */
        rc = mome_repo_say(err, errlen, -EIO, "the image changed size during the import");
        mome_repo_delta_abort(d);
        goto err_free;
    }
    rc = mome_repo_delta_finish(d, &f, err, errlen);
    if (rc == 0)
        rc = mome_repo_commit(rs, 1, &f, 1, err, errlen);
    if (rc == 0)
        rc = mome_repo_publish(rs, err, errlen); /* seen by others from now on, whole */
    if (rc > 0) { /* in place, but not durable: it stays, and err says so */
        free(buf);
        mome_repo_close(rs);
        return -EIO;
    }
    if (rc < 0)
        goto err_free;
    free(buf);
    mome_repo_close(rs);
    return 0;
err_free:
    free(buf);
err_remove:
    mome_repo_unlink(rs, NULL, 0);
    mome_repo_close(rs);
    if (err && errlen > strlen(err)) /* whatever err says of the files: they are gone */
        snprintf(err + strlen(err), errlen - strlen(err),
                 "; the import is abandoned: segment "
                 "'%s' was not created",
                 name);
    return rc;
}
