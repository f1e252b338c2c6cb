/*
 * delta.c - writing a checkpoint: each writer's delta (its pages appended to a data file of the new
 * generation, and an index of them), the coordinator's commit (a new head, renamed over the old
 * one), and compaction.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "base/stats.h"
#include "repo/internal.h"
#include "repo/repo.h"
#include "repo/sum.h"

struct mome_repo_delta {
    mome_repo_seg_t *rs;
    uint64_t gen;
    uint32_t node;
    uint32_t page_size;
    uint64_t uid;
    int datafd;
    uint64_t slots; /* pages of bytes written so far */
    mome_repo_entry_t *e;
    size_t n, cap;
    int failed; /* -errno: an earlier add failed */
    int mid;    /* the test crash point "delta-mid" was passed */
};

static int all_zero(const void *p, size_t len)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < len / 8; i++)
        if (w[i])
            return 0;
    return 1;
}

/* data.<gen>.<node> exists: remove it if no head on disk names it (a crashed attempt's), refuse
 * (-EEXIST) if the head does: it holds a committed generation's pages. */
static int leftover(mome_repo_seg_t *rs, uint64_t gen, uint32_t node, const char *name, char *err,
                    size_t errlen)
{
    mome_repo_head_t h;
    int rc = mome_repo_peek(rs->dir, rs->dirname, &h, err, errlen), named = 0;

    if (rc < 0)
        return rc;
    for (uint32_t i = 0; i < h.nfiles; i++)
        named |= h.files[i].gen == gen && h.files[i].node == node;
    mome_repo_head_free(&h);
    if (named)
        return mome_repo_say(err, errlen, -EEXIST,
                             "%s/%s/%s holds pages of generation %llu, which the head names: a "
                             "checkpoint must not write it again (the repository is at "
                             "generation %llu here; please report this)",
                             SEGPATH(rs), name, (unsigned long long)gen,
                             (unsigned long long)mome_repo_gen(rs));
    if (unlinkat(rs->segfd, name, 0) < 0 && errno != ENOENT)
        return mome_repo_say(err, errlen, -errno, "cannot remove %s/%s/%s: %s", SEGPATH(rs), name,
                             strerror(errno));
    return 0;
}

int mome_repo_delta_begin(mome_repo_seg_t *rs, uint64_t gen, uint32_t node, mome_repo_delta_t **out,
                          char *err, size_t errlen)
{
    mome_repo_delta_t *d = calloc(1, sizeof(*d));
    char name[64];

    if (!d)
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory starting a checkpoint");
    pthread_mutex_lock(&rs->mu);
    d->page_size = rs->head.page_size;
    d->uid = rs->head.uid;
    pthread_mutex_unlock(&rs->mu);
    d->rs = rs;
    d->gen = gen;
    d->node = node;
    data_name(name, sizeof(name), gen, node);
    /* A file of this name should only be a crashed attempt's, which no head names: check that
     * the head on disk does not before removing it (a data file is written once). */
    d->datafd = openat(rs->segfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (d->datafd < 0 && errno == EEXIST) {
        int rc = leftover(rs, gen, node, name, err, errlen);
        if (rc < 0) {
            free(d);
            return rc;
        }
        d->datafd = openat(rs->segfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    }
    if (d->datafd < 0) {
        int rc = -errno;
        free(d);
        return mome_repo_say(err, errlen, rc, "cannot create %s/%s/%s: %s", SEGPATH(rs), name,
                             strerror(-rc));
    }
    fchmod(d->datafd, 0600);
    *out = d;
    return 0;
}

/* Write the pages gathered in iov (consecutive slots from `slot`), finishing short writes. */
static int flush(mome_repo_delta_t *d, struct iovec *iov, int niov, uint64_t slot)
{
    uint64_t off = slot * d->page_size;
    while (niov > 0) {
        ssize_t w = pwritev(d->datafd, iov, niov, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        off += (uint64_t)w;
        while (niov > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            niov--;
        }
        if (niov > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int mome_repo_delta_add(mome_repo_delta_t *d, const uint64_t *pages, const void *bytes, size_t n,
                        char *err, size_t errlen)
{
    struct iovec iov[64];
    int niov = 0, rc = 0;
    uint64_t first = d->slots; /* the slot of iov[0] */
    const uint8_t *b = bytes;

    if (d->failed)
        return d->failed;
    if (d->n + n > d->cap) {
        size_t nc = d->cap ? d->cap : 1024;
        while (nc < d->n + n)
            nc *= 2;
        mome_repo_entry_t *ne = realloc(d->e, nc * sizeof(*ne));
        if (!ne)
            return d->failed =
                       mome_repo_say(err, errlen, -ENOMEM, "out of memory for a checkpoint index");
        d->e = ne;
        d->cap = nc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const uint8_t *p = b + i * d->page_size;
        mome_repo_entry_t *e = &d->e[d->n++];
        e->page = pages[i];
        if (all_zero(p, d->page_size)) {
            e->where = MOME_REPO_ZERO; /* a flag, no bytes */
            e->sum = 0;
            continue;
        }
        if (d->slots > LOC_SLOT_MAX)
            return d->failed = mome_repo_say(err, errlen, -EFBIG,
                                             "a checkpoint of more than 2^32 pages by "
                                             "one node is not supported");
        e->where = d->slots++;
        e->sum = mome_sum64(p, d->page_size, e->page);
        /* Consecutive slots: runs of adjacent pages go out as one piece. */
        if (niov && (const uint8_t *)iov[niov - 1].iov_base + iov[niov - 1].iov_len == p) {
            iov[niov - 1].iov_len += d->page_size;
        } else {
            if (niov == 64) {
                rc = flush(d, iov, niov, first);
                first = d->slots - 1;
                niov = 0;
            }
            iov[niov].iov_base = (void *)p;
            iov[niov].iov_len = d->page_size;
            niov++;
        }
    }
    if (rc == 0 && niov)
        rc = flush(d, iov, niov, first);
    if (rc < 0)
        return d->failed = mome_repo_say(err, errlen, rc, "cannot write %s/%s/data.%llu.%u: %s",
                                         SEGPATH(d->rs), (unsigned long long)d->gen, d->node,
                                         strerror(-rc));
    MOME_STAT_ADD(repo_pages_written, n);
    if (!d->mid) {
        d->mid = 1;
        mome_repo_crash_point("delta-mid");
    }
    return 0;
}

void mome_repo_delta_discard(mome_repo_seg_t *rs, uint64_t gen, uint32_t node)
{
    char name[64];
    data_name(name, sizeof(name), gen, node);
    unlinkat(rs->segfd, name, 0);
    index_name(name, sizeof(name), gen, node);
    unlinkat(rs->segfd, name, 0);
}

void mome_repo_delta_abort(mome_repo_delta_t *d)
{
    if (!d)
        return;
    if (d->datafd >= 0)
        close(d->datafd);
    mome_repo_delta_discard(d->rs, d->gen, d->node);
    free(d->e);
    free(d);
}

/* An entry and the order it was added in: of a page given twice, the later copy is the one. */
typedef struct {
    mome_repo_entry_t e;
    size_t pos;
} added_t;

static int by_page(const void *a, const void *b)
{
    const added_t *x = a, *y = b;
    if (x->e.page != y->e.page)
        return x->e.page < y->e.page ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Write an index file for entries e[0..n) (sorted, unique) of generation gen, writer node. */
static int write_index(mome_repo_seg_t *rs, uint64_t gen, uint32_t node, uint32_t page_size,
                       uint64_t uid, const mome_repo_entry_t *e, size_t n, uint64_t *sum, char *err,
                       size_t errlen)
{
    size_t len = MOME_REPO_IDX_HDR + n * MOME_REPO_IDX_ENTRY + 8;
    uint8_t *b = malloc(len);
    char name[64];
    int fd, rc;

    index_name(name, sizeof(name), gen, node);
    if (!b)
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory writing %s/%s/%s", SEGPATH(rs),
                             name);
    mome_repo_idx_header(b, page_size, gen, node, n, uid);
    for (size_t i = 0; i < n; i++)
        mome_repo_idx_put(b + MOME_REPO_IDX_HDR + i * MOME_REPO_IDX_ENTRY, &e[i]);
    *sum = mome_sum64(b, len - 8, 0);
    mome_put64(b + len - 8, *sum);
    fd = mome_repo_open_file(rs->segfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        rc = fd;
    } else {
        fchmod(fd, 0600);
        rc = mome_repo_pwrite_all(fd, b, len, 0);
        mome_repo_crash_point("delta-index");
        if (rc == 0)
            rc = mome_repo_sync(fd);
        close(fd);
    }
    free(b);
    if (rc < 0)
        return mome_repo_say(err, errlen, rc, "cannot write %s/%s/%s: %s", SEGPATH(rs), name,
                             strerror(-rc));
    return 0;
}

int mome_repo_delta_finish(mome_repo_delta_t *d, mome_repo_file_t *f, char *err, size_t errlen)
{
    mome_repo_seg_t *rs = d->rs;
    size_t n = 0;
    int rc = d->failed;

    memset(f, 0, sizeof(*f));
    f->gen = d->gen;
    f->node = d->node;
    if (rc < 0) {
        mome_repo_delta_abort(d);
        return rc; /* the message was given when it failed */
    }
    if (d->n == 0) {
        mome_repo_delta_abort(d);
        return 0;
    }
    /*
     * Sorted by page. A page given twice (a thread wrote it again while the checkpoint took it,
     * and a later round took it again) keeps its later copy, whatever qsort does with equal keys
     * (it need not keep their order: helper-83); the earlier slot stays unreferenced.
     */
    added_t *a = malloc(d->n * sizeof(*a));
    if (!a) {
        mome_repo_delta_abort(d);
        return mome_repo_say(err, errlen, -ENOMEM, "out of memory sorting %zu pages", d->n);
    }
    for (size_t i = 0; i < d->n; i++)
        a[i] = (added_t){d->e[i], i};
    qsort(a, d->n, sizeof(*a), by_page);
    for (size_t i = 0; i < d->n; i++) {
        if (n && d->e[n - 1].page == a[i].e.page)
            n--;
        d->e[n++] = a[i].e;
    }
    free(a);
    mome_repo_crash_point("delta-data");
    rc = mome_repo_sync(d->datafd);
    if (rc < 0) {
        mome_repo_say(err, errlen, rc, "cannot write %s/%s/data.%llu.%u: %s", SEGPATH(rs),
                      (unsigned long long)d->gen, d->node, strerror(-rc));
        mome_repo_delta_abort(d);
        return rc;
    }
    f->entries = n;
    f->pages = d->slots; /* the data file's pages (all referenced, but for a page given twice) */
    rc = write_index(rs, d->gen, d->node, d->page_size, d->uid, d->e, n, &f->sum, err, errlen);
    if (rc == 0)
        rc = mome_repo_sync(rs->segfd);
    if (rc < 0) {
        if (!err || !err[0])
            mome_repo_say(err, errlen, rc, "cannot fsync %s/%s: %s", SEGPATH(rs), strerror(-rc));
        mome_repo_delta_abort(d);
        return rc;
    }
    close(d->datafd);
    free(d->e);
    free(d);
    return 0;
}

/* ---- commit ---- */

typedef struct newent {
    mome_repo_entry_t e;
    uint32_t file; /* its file's index in the new head */
} newent_t;

static int by_page_file(const void *a, const void *b)
{
    const newent_t *x = a, *y = b;
    if (x->e.page != y->e.page)
        return x->e.page < y->e.page ? -1 : 1;
    return x->file < y->file ? -1 : x->file > y->file;
}

int mome_repo_commit(mome_repo_seg_t *rs, uint64_t gen, const mome_repo_file_t *deltas, int n,
                     char *err, size_t errlen)
{
    mome_repo_head_t *h = &rs->head, nh;
    newent_t *ne = NULL;
    size_t nne = 0, total = 0;
    int64_t live;
    int rc = 0, nd = 0;

    for (int i = 0; i < n; i++)
        if (deltas[i].entries)
            nd++;
    pthread_mutex_lock(&rs->mu);
    if (gen != h->gen + 1) {
        rc = mome_repo_say(err, errlen, -ESTALE,
                           "segment '%s': checkpoint of generation %llu, but the "
                           "repository is at generation %llu",
                           h->name, (unsigned long long)gen, (unsigned long long)h->gen);
        goto out;
    }
    if (nd == 0)
        goto out; /* nothing changed: no new generation */
    /* What a head can name (a commit past it wrote a head no open could read: helper-83). */
    if (h->nfiles + (uint32_t)nd > MOME_REPO_HEAD_MAX_FILES ||
        h->nfiles + (uint32_t)nd > LOC_FILE_MAX) {
        rc = mome_repo_say(err, errlen, -EFBIG,
                           "segment '%s' has %u delta files, the most a checkpoint can add to: "
                           "run mome-repo compact",
                           h->name, h->nfiles);
        goto out;
    }
    rc = mome_repo_map_load(rs, err, errlen);
    if (rc < 0)
        goto out;
    /* A delta names each page once at most (entries come from the network: a sum that wraps
     * would make ne too small for the copies below). */
    for (int i = 0; i < n; i++) {
        if (deltas[i].entries > rs->npages) {
            rc = mome_repo_say(err, errlen, -EINVAL,
                               "segment '%s': node %u's delta has %llu "
                               "entries, more than the segment's %llu pages",
                               h->name, deltas[i].node, (unsigned long long)deltas[i].entries,
                               (unsigned long long)rs->npages);
            goto out;
        }
        total += deltas[i].entries;
    }
    ne = malloc((total ? total : 1) * sizeof(*ne));
    memset(&nh, 0, sizeof(nh));
    nh = *h;
    nh.files = malloc((h->nfiles + (size_t)nd) * sizeof(*nh.files));
    if (!ne || !nh.files) {
        rc = mome_repo_say(err, errlen, -ENOMEM, "out of memory committing segment '%s'", h->name);
        goto out_free;
    }
    if (h->nfiles) /* h->files is NULL before the first commit */
        memcpy(nh.files, h->files, h->nfiles * sizeof(*nh.files));
    /* Read and check every writer's index (they were fsync'd before their writers said so). */
    for (int i = 0; i < n; i++) {
        const mome_repo_file_t *f = &deltas[i];
        const char *why;
        size_t len;
        const uint8_t *m;
        char name[64];
        uint32_t fi;

        if (!f->entries)
            continue;
        if (f->gen != gen || (nh.nfiles > h->nfiles && f->node <= nh.files[nh.nfiles - 1].node)) {
            rc = mome_repo_say(err, errlen, -EINVAL, "segment '%s': delta of node %u out of order",
                               h->name, f->node);
            goto out_free;
        }
        fi = nh.nfiles;
        nh.files[nh.nfiles] = *f;
        /* The data file's pages: its length (durable before its writer said it was ready). */
        struct stat st;
        data_name(name, sizeof(name), f->gen, f->node);
        int dfd = mome_repo_open_file(rs->segfd, name, O_RDONLY, 0);
        rc = dfd < 0 ? dfd : fstat(dfd, &st) < 0 ? -errno : 0; /* (errno of this call only) */
        if (rc < 0 || st.st_size % h->page_size) {
            if (dfd >= 0)
                close(dfd);
            rc = mome_repo_say(err, errlen, rc ? rc : -EIO,
                               "segment '%s': %s/%s/%s, just written, cannot "
                               "be used: %s",
                               h->name, SEGPATH(rs), name,
                               rc ? strerror(-rc) : "its length is not a whole number of pages");
            goto out_free;
        }
        close(dfd);
        nh.files[nh.nfiles].pages = (uint64_t)st.st_size / h->page_size;
        f = &nh.files[nh.nfiles++];
        index_name(name, sizeof(name), f->gen, f->node);
        m = mome_repo_idx_map(rs->segfd, f, h->page_size, h->uid, &len, &why, &rc);
        if (!m) {
            if (why)
                rc = mome_repo_say(err, errlen, -EIO,
                                   "segment '%s': %s/%s/%s, just written, is wrong: %s", h->name,
                                   SEGPATH(rs), name, why);
            else
                mome_repo_say(err, errlen, rc, "segment '%s': cannot read %s/%s/%s: %s", h->name,
                              SEGPATH(rs), name, strerror(-rc));
            goto out_free;
        }
        for (uint64_t k = 0; k < f->entries; k++) {
            newent_t *x = &ne[nne++];
            mome_repo_idx_get(m + MOME_REPO_IDX_HDR + k * MOME_REPO_IDX_ENTRY, &x->e);
            x->file = fi;
        }
        munmap((void *)m, len);
        nh.data += f->pages;
    }
    /* The live count: a page's last entry of this generation against what the map holds. */
    qsort(ne, nne, sizeof(*ne), by_page_file);
    live = (int64_t)h->live;
    for (size_t i = 0; i < nne; i++) {
        if (i + 1 < nne && ne[i + 1].e.page == ne[i].e.page)
            continue;
        if (ne[i].e.page >= rs->npages) {
            rc = mome_repo_say(err, errlen, -EINVAL,
                               "segment '%s': a delta names page %llu, beyond the "
                               "segment",
                               h->name, (unsigned long long)ne[i].e.page);
            goto out_free;
        }
        const mapent_t *me = &rs->map[ne[i].e.page];
        int had = (me->loc & LOC_PRESENT) && !(me->loc & LOC_ZERO);
        int has = ne[i].e.where != MOME_REPO_ZERO;
        live += has - had;
    }
    nh.live = (uint64_t)live;
    nh.gen = gen;
    nh.ckpt_ns = mome_repo_wall_ns();
    rc = mome_repo_write_head(rs, &nh, err, errlen);
    if (rc < 0)
        goto out_free;
    /* Committed (even if unsynced: the head on disk is the new one): the map and the open files
     * follow the new head. */
    int *nfds = realloc(rs->fds, nh.nfiles * sizeof(int));
    if (nfds) {
        rs->fds = nfds;
        for (uint32_t i = rs->nfds; i < nh.nfiles; i++)
            rs->fds[i] = -1;
        rs->nfds = nh.nfiles;
    }
    free(h->files);
    *h = nh;
    nh.files = NULL;
    rs->gen = gen;
    if (!nfds) {
        mome_repo_map_drop(rs); /* reloaded from the new head on next use */
    } else {
        for (size_t i = 0; i < nne; i++) {
            mapent_t *me = &rs->map[ne[i].e.page];
            me->loc = LOC_PRESENT | ((uint64_t)ne[i].file << LOC_FILE_SHIFT) |
                      (ne[i].e.where == MOME_REPO_ZERO ? LOC_ZERO : ne[i].e.where);
            me->sum = ne[i].e.sum;
        }
    }
    if (rc == MOME_REPO_UNSYNCED)
        rc = -EIO; /* in place, but not known durable: the caller says so (err holds why) */
    else
        mome_repo_sweep(rs);
out_free:
    free(nh.files);
    free(ne);
out:
    pthread_mutex_unlock(&rs->mu);
    return rc;
}

/* ---- compaction ---- */

int mome_repo_should_compact(mome_repo_seg_t *rs)
{
    int yes;
    pthread_mutex_lock(&rs->mu);
    yes = (rs->head.data > 2 * rs->head.live && rs->head.data - rs->head.live >= 256) ||
          rs->head.nfiles > 256;
    pthread_mutex_unlock(&rs->mu);
    return yes;
}

int mome_repo_compact(mome_repo_seg_t *rs, char *err, size_t errlen)
{
    enum { BATCH_MAX = 256 };
    const size_t batch = mome_repo_batch(rs->head.page_size);
    mome_repo_head_t *h = &rs->head, nh;
    mome_repo_delta_t *d = NULL;
    mome_repo_file_t f;
    uint64_t pages[BATCH_MAX], gen;
    uint8_t *buf = NULL;
    size_t nb = 0;
    int rc;

    pthread_mutex_lock(&rs->mu);
    if (rs->lockfd < 0) {
        rc = mome_repo_say(err, errlen, -EPERM, "compacting segment '%s' needs its lock", h->name);
        goto out;
    }
    rc = mome_repo_map_load(rs, err, errlen);
    if (rc < 0)
        goto out;
    gen = h->gen + 1;
    buf = malloc((size_t)batch * h->page_size);
    if (!buf) {
        rc = mome_repo_say(err, errlen, -ENOMEM, "out of memory compacting segment '%s'", h->name);
        goto out;
    }
    pthread_mutex_unlock(&rs->mu); /* delta_begin takes it */
    rc = mome_repo_delta_begin(rs, gen, 0, &d, err, errlen);
    pthread_mutex_lock(&rs->mu);
    if (rc < 0)
        goto out;
    /* Every live page, checked as it is read: a corrupted page stops the compaction. */
    for (uint64_t p = 0; p < rs->npages; p++) {
        const mapent_t *me = &rs->map[p];
        if (!(me->loc & LOC_PRESENT) || (me->loc & LOC_ZERO))
            continue;
        rc = mome_repo_read_locked(rs, p, buf + nb * h->page_size, err, errlen);
        if (rc < 0)
            goto out_abort;
        pages[nb++] = p;
        if (nb == batch || p + 1 == rs->npages) {
            rc = mome_repo_delta_add(d, pages, buf, nb, err, errlen);
            if (rc < 0)
                goto out_abort;
            nb = 0;
        }
    }
    if (nb && (rc = mome_repo_delta_add(d, pages, buf, nb, err, errlen)) < 0)
        goto out_abort;
    rc = mome_repo_delta_finish(d, &f, err, errlen);
    d = NULL;
    if (rc < 0)
        goto out;
    nh = *h;
    nh.gen = gen;
    nh.nfiles = f.entries ? 1 : 0;
    nh.files = &f;
    nh.data = f.pages;
    nh.live = f.pages;
    nh.ckpt_ns = mome_repo_wall_ns();
    rc = mome_repo_write_head(rs, &nh, err, errlen);
    if (rc < 0) {
        mome_repo_sweep(rs); /* the new files, which the head in place does not name (a full
                              * disk kept them full: helper-112) */
        goto out;
    }
    /* The new head names one file: forget the old ones, and remove them. */
    mome_repo_map_drop(rs);
    free(h->files);
    *h = nh;
    h->files = NULL;
    if (nh.nfiles) {
        h->files = malloc(sizeof(*h->files));
        if (h->files)
            h->files[0] = f;
        else
            h->nfiles = 0; /* cannot happen in practice; reopening reads the head again */
    }
    rs->gen = gen;
    if (rc == MOME_REPO_UNSYNCED)
        rc = -EIO; /* the old files stay: the old head may be back after a crash of the machine */
    else
        mome_repo_sweep(rs);
    goto out;
out_abort:
    mome_repo_delta_abort(d);
out:
    pthread_mutex_unlock(&rs->mu);
    free(buf);
    return rc;
}
