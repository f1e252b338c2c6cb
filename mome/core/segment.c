/*
 * segment.c - the segment name service, this node's segments and handles, and MomeMMap views.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coherence/directory.h"
#include "base/log.h"
#include "memory/memory.h"
#include "mome.h"
#include "coherence/release.h"
#include "core/segment.h"

/* ---- name service (records live on the name's manager) ---- */

typedef struct name_rec {
    mome_hnode_t by_name; /* k1, k2 = two hashes of the name */
    mome_hnode_t by_id;   /* k1 = id */
    uint64_t id, size;
    int unlinked;
    int64_t total; /* opens minus closes over all nodes */
    char name[MOME_SEG_NAME_MAX + 1];
} name_rec_t;

#define REC_OF_ID(h) ((name_rec_t *)((char *)(h)-offsetof(name_rec_t, by_id)))

static mome_htab_t names, ids;
static uint64_t id_counter;

/* ---- this node ---- */

static mome_htab_t segs;       /* id -> mome_seg_t */
static mome_seg_t **handles;   /* handle -> segment (NULL: free) */
static int nhandles;
static mome_view_t **views;    /* sorted by address */
static size_t nviews, cviews;

/* Commands waiting for a reply from a name manager, by token. */
typedef struct pending {
    mome_hnode_t h; /* k1 = token */
    mome_cmd_t *cmd;
} pending_t;
static mome_htab_t pend;
static uint64_t next_token = 1;

static uint64_t name_hash2(const char *name)
{
    return mome_hash2(mome_hash_str(name, strlen(name)), 0x5851f42d4c957f2dull);
}

static int name_manager(const char *name)
{
    return (int)(mome_hash_str(name, strlen(name)) % (uint64_t)mome_g.nnodes);
}

int mome_seg_init(void)
{
    if (mome_htab_init(&names, 64) < 0 || mome_htab_init(&ids, 64) < 0 ||
        mome_htab_init(&segs, 64) < 0 || mome_htab_init(&pend, 16) < 0)
        return -ENOMEM;
    id_counter = 0;
    return 0;
}

mome_seg_t *mome_seg_find(uint64_t id)
{
    return (mome_seg_t *)mome_htab_get(&segs, id, 0);
}

mome_seg_t *mome_seg_by_handle(int h)
{
    if (h < 0 || h >= nhandles)
        return NULL;
    return handles[h];
}

/* ---- views ---- */

static size_t view_pos(const void *addr)
{
    /* First index whose view starts above addr. */
    size_t lo = 0, hi = nviews;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((const char *)views[mid]->addr <= (const char *)addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

mome_view_t *mome_seg_view_find(const void *addr)
{
    size_t i = view_pos(addr);
    if (i == 0)
        return NULL;
    mome_view_t *v = views[i - 1];
    return (const char *)addr < v->addr + v->len ? v : NULL;
}

static int view_insert(mome_view_t *v)
{
    if (nviews == cviews) {
        size_t nc = cviews ? cviews * 2 : 16;
        mome_view_t **nv = realloc(views, nc * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        views = nv;
        cviews = nc;
    }
    size_t i = view_pos(v->addr);
    memmove(&views[i + 1], &views[i], (nviews - i) * sizeof(*views));
    views[i] = v;
    nviews++;
    v->next = v->seg->views;
    v->seg->views = v;
    v->seg->nviews++;
    return 0;
}

static void view_remove(mome_view_t *v)
{
    for (size_t i = 0; i < nviews; i++) {
        if (views[i] == v) {
            memmove(&views[i], &views[i + 1], (nviews - i - 1) * sizeof(*views));
            nviews--;
            break;
        }
    }
    for (mome_view_t **pp = &v->seg->views; *pp; pp = &(*pp)->next) {
        if (*pp == v) {
            *pp = v->next;
            break;
        }
    }
    v->seg->nviews--;
}

static int overlaps_view(const char *a, size_t len)
{
    for (size_t i = 0; i < nviews; i++)
        if (views[i]->addr < a + len && a < views[i]->addr + views[i]->len)
            return 1;
    return 0;
}

/* ---- local segments ---- */

static mome_seg_t *seg_local_new(uint64_t id, uint64_t size, const char *name, int *err)
{
    mome_seg_t *s = calloc(1, sizeof(*s));
    /* Mappings cover whole pages: the last partial page of a segment is usable too. */
    size = (size + mome_g.page_size - 1) & ~(uint64_t)(mome_g.page_size - 1);
    if (!s)
        goto err_nomem;
    s->id = id;
    s->size = size;
    s->npages = size >> mome_g.page_shift;
    snprintf(s->name, sizeof(s->name), "%s", name);
    *err = mome_mem_region_alloc(size, &s->base);
    if (*err < 0)
        goto err_free;
    s->rt = mome_mem_runtime_map(s->base, size);
    if (!s->rt)
        goto err_release;
    s->pages = mome_page_table_new(s->npages);
    if (!s->pages)
        goto err_unmap_rt;
    s->h.k1 = id;
    mome_htab_put(&segs, &s->h);
    return s;

err_unmap_rt:
    mome_mem_runtime_unmap(s->rt, size);
err_release:
    mome_mem_region_release(s->base, size);
err_free:
    free(s);
err_nomem:
    if (*err >= 0)
        *err = -ENOMEM;
    return NULL;
}

static void seg_local_free(mome_seg_t *s)
{
    while (s->views) {
        mome_view_t *v = s->views;
        mome_mem_view_unmap(v->addr, v->len);
        view_remove(v);
        free(v);
    }
    mome_txn_forget_seg(s->id);
    mome_mem_runtime_unmap(s->rt, s->size);
    mome_mem_region_release(s->base, s->size);
    mome_page_table_free(s->pages, s->npages);
    mome_htab_del(&segs, &s->h);
    free(s);
}

/* No handle and no view left on this node: tell the name manager. */
static void seg_maybe_release(mome_seg_t *s)
{
    if (s->id == MOME_HEAP_SEG_ID || s->handles || s->nviews || !s->opens)
        return;
    mome_msg_t m = {.type = MOME_MSG_SEG_CLOSE, .seg = s->id, .count = (uint32_t)s->opens};
    s->opens = 0;
    mome_send(name_manager(s->name), &m);
}

static int handle_alloc(mome_seg_t *s)
{
    for (int i = 0; i < nhandles; i++) {
        if (!handles[i]) {
            handles[i] = s;
            return i;
        }
    }
    int n = nhandles ? nhandles * 2 : 16;
    mome_seg_t **nh = realloc(handles, (size_t)n * sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    memset(nh + nhandles, 0, (size_t)(n - nhandles) * sizeof(*nh));
    handles = nh;
    int h = nhandles;
    nhandles = n;
    handles[h] = s;
    return h;
}

/* ---- requests from this node ---- */

static uint64_t pending_add(mome_cmd_t *c)
{
    pending_t *p = malloc(sizeof(*p));
    if (!p)
        return 0;
    p->cmd = c;
    p->h.k1 = next_token++;
    p->h.k2 = 0;
    mome_htab_put(&pend, &p->h);
    return p->h.k1;
}

static mome_cmd_t *pending_take(uint64_t token)
{
    pending_t *p = (pending_t *)mome_htab_get(&pend, token, 0);
    mome_cmd_t *c;
    if (!p)
        return NULL;
    mome_htab_del(&pend, &p->h);
    c = p->cmd;
    free(p);
    return c;
}

void mome_seg_cmd_open(mome_cmd_t *c)
{
    const char *name = c->p;
    uint64_t token = pending_add(c);
    if (!token) {
        mome_cmd_fail(c, ENOMEM, "MomeSegOpen: out of memory");
        return;
    }
    mome_msg_t m = {.type = MOME_MSG_SEG_OPEN, .arg = c->a[0], .count = (uint32_t)c->a[1],
                    .arg2 = token, .payload = name, .len = (uint32_t)strlen(name)};
    mome_send(name_manager(name), &m);
}

static void on_open_reply(const mome_msg_t *m)
{
    mome_cmd_t *c = pending_take(m->arg2);
    const char *name;
    int status = (int)m->count, err = 0, h;
    mome_seg_t *s;

    if (!c) {
        mome_warn("segment", "SEG_OPEN_REPLY for an unknown request; ignored");
        return;
    }
    name = c->p;
    if (status < 0) {
        switch (-status) {
        case ENOENT:
            mome_cmd_fail(c, ENOENT, "MomeSegOpen: segment '%s' does not exist (pass MOME_CREATE "
                                     "to create it)", name);
            break;
        case EEXIST:
            mome_cmd_fail(c, EEXIST, "MomeSegOpen: segment '%s' exists (MOME_EXCL)", name);
            break;
        case EINVAL:
            if (m->arg)
                mome_cmd_fail(c, EINVAL, "MomeSegOpen: segment '%s' exists with size %llu; pass "
                                         "0 or that size", name, (unsigned long long)m->arg);
            else
                mome_cmd_fail(c, EINVAL, "MomeSegOpen: size 0 cannot create segment '%s'", name);
            break;
        default:
            mome_cmd_fail(c, -status, "MomeSegOpen: '%s': %s", name, strerror(-status));
        }
        return;
    }
    s = mome_seg_find(m->seg);
    if (!s)
        s = seg_local_new(m->seg, m->arg, name, &err);
    if (!s)
        goto err_undo;
    h = handle_alloc(s);
    if (h < 0) {
        err = h;
        seg_maybe_release(s);
        goto err_undo;
    }
    s->handles++;
    s->opens++;
    mome_cmd_complete(c, h);
    return;

err_undo: {
    mome_msg_t close = {.type = MOME_MSG_SEG_CLOSE, .seg = m->seg, .count = 1};
    mome_send(name_manager(name), &close);
    mome_cmd_fail(c, -err, "MomeSegOpen: cannot set up segment '%s' of %llu bytes here: %s",
                  name, (unsigned long long)m->arg, strerror(-err));
}
}

void mome_seg_cmd_close(mome_cmd_t *c)
{
    int h = (int)c->a[0];
    mome_seg_t *s = mome_seg_by_handle(h);
    if (!s) {
        mome_cmd_fail(c, EBADF, "MomeSegClose: %d is not an open segment handle", h);
        return;
    }
    handles[h] = NULL;
    s->handles--;
    seg_maybe_release(s);
    mome_cmd_complete(c, 0);
}

void mome_seg_cmd_unlink(mome_cmd_t *c)
{
    const char *name = c->p;
    uint64_t token = pending_add(c);
    if (!token) {
        mome_cmd_fail(c, ENOMEM, "MomeSegUnlink: out of memory");
        return;
    }
    mome_msg_t m = {.type = MOME_MSG_SEG_UNLINK, .arg2 = token, .payload = name,
                    .len = (uint32_t)strlen(name)};
    mome_send(name_manager(name), &m);
}

static void on_unlink_reply(const mome_msg_t *m)
{
    mome_cmd_t *c = pending_take(m->arg2);
    if (!c)
        return;
    if ((int)m->count < 0)
        mome_cmd_fail(c, ENOENT, "MomeSegUnlink: segment '%s' does not exist",
                      (const char *)c->p);
    else
        mome_cmd_complete(c, 0);
}

/* ---- name manager side ---- */

static name_rec_t *rec_by_name(const char *name, size_t len)
{
    char tmp[MOME_SEG_NAME_MAX + 1];
    memcpy(tmp, name, len);
    tmp[len] = 0;
    uint64_t k1 = mome_hash_str(tmp, len), k2 = name_hash2(tmp);
    name_rec_t *r = (name_rec_t *)mome_htab_get(&names, k1, k2);
    if (r && strcmp(r->name, tmp) != 0) {
        mome_error("segment", "segment names '%s' and '%s' collide", r->name, tmp);
        return NULL;
    }
    return r;
}

static void reply_open(const mome_msg_t *req, int status, uint64_t id, uint64_t size)
{
    mome_msg_t m = {.type = MOME_MSG_SEG_OPEN_REPLY, .seg = id, .arg = size,
                    .count = (uint32_t)status, .arg2 = req->arg2};
    mome_send((int)req->src, &m);
}

static void on_open(const mome_msg_t *m)
{
    name_rec_t *r = rec_by_name(m->payload, m->len);
    int flags = (int)m->count;
    uint64_t size = m->arg;

    if (r) {
        if ((flags & MOME_CREATE) && (flags & MOME_EXCL))
            return reply_open(m, -EEXIST, 0, 0);
        if (size && size != r->size)
            return reply_open(m, -EINVAL, 0, r->size);
        r->total++;
        return reply_open(m, 0, r->id, r->size);
    }
    if (!(flags & MOME_CREATE))
        return reply_open(m, -ENOENT, 0, 0);
    if (!size)
        return reply_open(m, -EINVAL, 0, 0);
    r = calloc(1, sizeof(*r));
    if (!r)
        return reply_open(m, -ENOMEM, 0, 0);
    memcpy(r->name, m->payload, m->len);
    r->name[m->len] = 0;
    r->id = ((uint64_t)mome_g.rank << 40) | ++id_counter;
    r->size = size;
    r->total = 1;
    r->by_name.k1 = mome_hash_str(r->name, m->len);
    r->by_name.k2 = name_hash2(r->name);
    r->by_id.k1 = r->id;
    mome_htab_put(&names, &r->by_name);
    mome_htab_put(&ids, &r->by_id);
    reply_open(m, 0, r->id, r->size);
}

static void rec_destroy(name_rec_t *r)
{
    mome_htab_del(&ids, &r->by_id);
    for (int n = 0; n < mome_g.nnodes; n++) {
        mome_msg_t d = {.type = MOME_MSG_SEG_DESTROY, .seg = r->id};
        mome_send(n, &d);
    }
    free(r);
}

static void on_close(const mome_msg_t *m)
{
    mome_hnode_t *h = mome_htab_get(&ids, m->seg, 0);
    if (!h) {
        mome_warn("segment", "SEG_CLOSE for unknown segment %#llx", (unsigned long long)m->seg);
        return;
    }
    name_rec_t *r = REC_OF_ID(h);
    r->total -= m->count;
    if (r->unlinked && r->total <= 0)
        rec_destroy(r);
}

static void on_unlink(const mome_msg_t *m)
{
    name_rec_t *r = rec_by_name(m->payload, m->len);
    mome_msg_t rep = {.type = MOME_MSG_SEG_UNLINK_REPLY, .arg2 = m->arg2};
    if (!r) {
        rep.count = (uint32_t)-ENOENT;
        mome_send((int)m->src, &rep);
        return;
    }
    mome_htab_del(&names, &r->by_name);
    r->unlinked = 1;
    mome_send((int)m->src, &rep);
    if (r->total <= 0)
        rec_destroy(r);
}

static void on_destroy(const mome_msg_t *m)
{
    mome_seg_t *s = mome_seg_find(m->seg);
    mome_dir_forget_seg(m->seg);
    if (!s)
        return;
    if (s->handles || s->nviews) {
        mome_warn("segment", "segment '%s' destroyed while still in use here", s->name);
        return;
    }
    seg_local_free(s);
}

void mome_seg_msg(const mome_msg_t *m)
{
    switch (m->type) {
    case MOME_MSG_SEG_OPEN: on_open(m); break;
    case MOME_MSG_SEG_OPEN_REPLY: on_open_reply(m); break;
    case MOME_MSG_SEG_CLOSE: on_close(m); break;
    case MOME_MSG_SEG_UNLINK: on_unlink(m); break;
    case MOME_MSG_SEG_UNLINK_REPLY: on_unlink_reply(m); break;
    case MOME_MSG_SEG_DESTROY: on_destroy(m); break;
    default: break;
    }
}

/* ---- MomeMMap / MomeMUnmap ---- */

static int check_mmap(mome_cmd_t *c, mome_seg_t *s, char *addr, size_t *len, int prot, int flags,
                      uint64_t off)
{
    size_t ps = mome_g.page_size;
    if (!s)
        return mome_cmd_fail(c, EBADF, "MomeMMap: %d is not an open segment handle",
                             (int)c->a[3]),
               -1;
    if (prot != MOME_READ && prot != MOME_WRITE && prot != (MOME_READ | MOME_WRITE))
        return mome_cmd_fail(c, EINVAL, "MomeMMap: prot must be MOME_READ or "
                                        "MOME_READ|MOME_WRITE (got %#x)", prot),
               -1;
    if (flags & ~MOME_FIXED)
        return mome_cmd_fail(c, EINVAL, "MomeMMap: unknown flags %#x (only MOME_FIXED)",
                             flags & ~MOME_FIXED),
               -1;
    if (*len == 0)
        return mome_cmd_fail(c, EINVAL, "MomeMMap: length 0"), -1;
    if (off % ps)
        return mome_cmd_fail(c, EINVAL, "MomeMMap: offset %llu is not a multiple of the Mome "
                                        "page size %zu", (unsigned long long)off, ps),
               -1;
    if (flags & MOME_FIXED) {
        if (!addr || (uintptr_t)addr % ps)
            return mome_cmd_fail(c, EINVAL, "MomeMMap: MOME_FIXED address %p is not aligned on "
                                            "the Mome page size %zu", (void *)addr, ps),
                   -1;
        if (*len % ps)
            return mome_cmd_fail(c, EINVAL, "MomeMMap: MOME_FIXED length %zu is not a multiple of "
                                            "the Mome page size %zu", *len, ps),
                   -1;
    } else {
        if (*len > SIZE_MAX - ps)
            return mome_cmd_fail(c, EINVAL, "MomeMMap: length %zu too large", *len), -1;
        *len = (*len + ps - 1) & ~(ps - 1);
    }
    if (off > s->size || *len > s->size - off)
        return mome_cmd_fail(c, EINVAL, "MomeMMap: [%llu, %llu) is beyond segment '%s' of %llu "
                                        "bytes", (unsigned long long)off,
                             (unsigned long long)(off + *len), s->name,
                             (unsigned long long)s->size),
               -1;
    if ((flags & MOME_FIXED) && overlaps_view(addr, *len))
        return mome_cmd_fail(c, EBUSY, "MomeMMap: [%p, %p) overlaps an existing Mome mapping",
                             (void *)addr, (void *)(addr + *len)),
               -1;
    return 0;
}

void mome_seg_cmd_mmap(mome_cmd_t *c)
{
    char *addr = (char *)c->p;
    size_t len = (size_t)c->a[0];
    int prot = (int)c->a[1], flags = (int)c->a[2];
    uint64_t off = c->a[4];
    mome_seg_t *s = mome_seg_by_handle((int)c->a[3]);
    int err = 0;

    if (check_mmap(c, s, addr, &len, prot, flags, off) < 0)
        return;
    mome_view_t *v = calloc(1, sizeof(*v));
    if (!v) {
        mome_cmd_fail(c, ENOMEM, "MomeMMap: out of memory");
        return;
    }
    v->addr = mome_mem_view_map(addr, len, prot & MOME_WRITE, flags & MOME_FIXED,
                                s->base + off, &err);
    if (!v->addr) {
        free(v);
        mome_cmd_fail(c, -err, "MomeMMap: cannot map %zu bytes: %s", len, strerror(-err));
        return;
    }
    v->len = len;
    v->off = off;
    v->writable = !!(prot & MOME_WRITE);
    v->seg = s;
    if ((err = view_insert(v)) < 0) {
        mome_mem_view_unmap(v->addr, len);
        free(v);
        mome_cmd_fail(c, ENOMEM, "MomeMMap: out of memory");
        return;
    }
    c->result = (uint64_t)(uintptr_t)v->addr;
    mome_cmd_complete(c, 0);
}

/* Remove [a, b) from view v, which it overlaps; splits v when the hole is in its middle. */
static int view_cut(mome_view_t *v, char *a, char *b)
{
    char *va = v->addr, *vb = v->addr + v->len;
    char *x = a > va ? a : va, *y = b < vb ? b : vb;

    mome_mem_view_unmap(x, (size_t)(y - x));
    mome_mem_wake(x, (size_t)(y - x)); /* faulting threads retry and get SIGSEGV, as mmap */
    mome_txn_forget_range(x, (size_t)(y - x));
    if (x == va && y == vb) {
        mome_seg_t *s = v->seg;
        view_remove(v);
        free(v);
        seg_maybe_release(s);
        return 0;
    }
    if (x == va) {
        /* The array stays sorted: v's start moves up but no other view lies in [va, y). */
        v->off += (uint64_t)(y - va);
        v->len -= (size_t)(y - va);
        v->addr = y;
        return 0;
    }
    v->len = (size_t)(x - va);
    if (y < vb) {
        mome_view_t *t = calloc(1, sizeof(*t));
        if (!t)
            return -ENOMEM;
        t->addr = y;
        t->len = (size_t)(vb - y);
        t->off = v->off + (uint64_t)(y - va);
        t->writable = v->writable;
        t->seg = v->seg;
        return view_insert(t);
    }
    return 0;
}

static void munmap_after_release(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    char *a = (char *)c->p;
    size_t len = (size_t)c->a[0], ps = mome_g.page_size;
    int found = 0;

    len = (len + ps - 1) & ~(ps - 1);
    for (;;) {
        mome_view_t *v = NULL;
        for (size_t i = 0; i < nviews; i++) {
            mome_view_t *w = views[i];
            if (w->seg->id != MOME_HEAP_SEG_ID && w->addr < a + len && a < w->addr + w->len) {
                v = w;
                break;
            }
        }
        if (!v)
            break;
        found = 1;
        if (view_cut(v, a, a + len) < 0) {
            mome_cmd_fail(c, ENOMEM, "MomeMUnmap: out of memory splitting a mapping");
            return;
        }
    }
    if (!found) {
        mome_cmd_fail(c, EINVAL, "MomeMUnmap: [%p, %p) holds no Mome mapping", (void *)a,
                      (void *)(a + len));
        return;
    }
    mome_cmd_complete(c, 0);
}

void mome_seg_cmd_munmap(mome_cmd_t *c)
{
    char *a = (char *)c->p;
    size_t len = (size_t)c->a[0], ps = mome_g.page_size;

    if ((uintptr_t)a % ps || len == 0) {
        mome_cmd_fail(c, EINVAL, "MomeMUnmap: address %p must be aligned on the Mome page size "
                                 "%zu and length non-zero", (void *)a, ps);
        return;
    }
    /* Pending modifications are released before the mapping goes. */
    mome_rel_release(munmap_after_release, c);
}

/* ---- heap segment and teardown ---- */

int mome_seg_heap_create(void *addr, uint64_t size, char *err, size_t errlen)
{
    int rc = 0;
    mome_seg_t *s = seg_local_new(MOME_HEAP_SEG_ID, size, "mome.heap", &rc);
    if (!s) {
        snprintf(err, errlen, "cannot create the shared heap: %s", strerror(-rc));
        return rc;
    }
    mome_view_t *v = calloc(1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->addr = mome_mem_view_map(addr, size, 1, 1, s->base, &rc);
    if (!v->addr) {
        free(v);
        snprintf(err, errlen, "cannot map the shared heap at %p: %s", addr, strerror(-rc));
        return rc;
    }
    v->len = size;
    v->writable = 1;
    v->seg = s;
    return view_insert(v);
}

void mome_seg_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&segs, h, tmp) seg_local_free((mome_seg_t *)h);
    mome_htab_foreach(&names, h, tmp)
    {
        (void)h;
    }
    mome_htab_foreach(&ids, h, tmp) free(REC_OF_ID(h));
    mome_htab_foreach(&pend, h, tmp) free(h);
    mome_htab_free(&segs);
    mome_htab_free(&names);
    mome_htab_free(&ids);
    mome_htab_free(&pend);
    free(handles);
    handles = NULL;
    nhandles = 0;
    free(views);
    views = NULL;
    nviews = cviews = 0;
}
