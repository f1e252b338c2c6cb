/*
 * segment.c - the segment name service, this node's handles and use counts, and MomeMMap views.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/hash.h"
#include "base/log.h"
#include "coherence/coherence.h"
#include "coherence/release.h"
#include "coherence/seg.h"
#include "core/proto.h"
#include "core/segment.h"
#include "memory/memory.h"
#include "memory/store_repo.h"
#include "memory/view.h"
#include "mome.h"
#include "repo/repo.h"
#include "net/server.h"

/* ---- name service (records live on the name's manager) ---- */

typedef struct name_rec {
    mome_hnode_t by_name; /* k1, k2 = two hashes of the name */
    mome_hnode_t by_id;   /* k1 = id */
    uint64_t id, size;
    int unlinked;
    int used;      /* a node closed it after using it: it held data (a failed create did not) */
    mome_repo_seg_t *repo; /* MOME_PERSIST: the repository segment, locked while the job runs */
    int served;            /* MOME_PERSIST with momed: momed keeps it (net/srvproto.h) */
    int fresh;             /* MOME_PERSIST: created in the repository by this job's open */
    uint64_t *users;       /* MOME_PERSIST: the nodes that have it (a checkpoint's participants) */
    uint64_t *held;        /* MOME_PERSIST: the nodes that held it (a node holds a segment once) */
    char name[MOME_SEG_NAME_MAX + 1];
    uint32_t opens[]; /* per node: its opens not closed yet (what a SEG_CLOSE may end) */
} name_rec_t;

#define REC_OF_ID(h) ((name_rec_t *)((char *)(h)-offsetof(name_rec_t, by_id)))

/* Does any node have the name open (an open not yet closed)? */
static int open_anywhere(const name_rec_t *r)
{
    for (int n = 0; n < mome_g.nnodes; n++)
        if (r->opens[n])
            return 1;
    return 0;
}

static mome_htab_t names, ids;
static uint64_t id_counter;

/* ---- this node's use of its segments ---- */

typedef struct use {
    mome_hnode_t h; /* k1 = segment id */
    mome_seg_t *s;
    int handles; /* open handles on this node */
    int opens;   /* SEG_OPENs not yet matched by a SEG_CLOSE */
    int closing; /* its SEG_CLOSE waits for this node's transactions on it (seg_maybe_release) */
    int ckpt;    /* checkpoints of it gathering here: its SEG_CLOSE waits for them too */
} use_t;

static mome_htab_t uses;
static int nclosing;    /* uses with closing set */
static use_t **handles; /* handle -> use (NULL: free) */
static int nhandles;

/* Commands waiting for a reply from a name manager, by token: a MomeSegOpen or a MomeSegUnlink
 * (the reply's type), of a name, asked of its name manager. */
typedef struct pending {
    mome_hnode_t h; /* k1 = token */
    mome_cmd_t *cmd;
    int reply;        /* MOME_MSG_SEG_OPEN_REPLY or MOME_MSG_SEG_UNLINK_REPLY */
    int mgr;          /* the node asked */
    const char *name; /* the command's */
    uint64_t hold;    /* a hold (mome_segment_hold): the segment's id; else 0 */
} pending_t;
static mome_htab_t pend;
static uint64_t next_token = 1;

/* Holds (mome_segment_hold) waiting for this node's MomeSegOpens of their names to be answered. */
typedef struct deferred {
    struct deferred *next;
    uint64_t id;
    const char *name;
    mome_cmd_t *cmd;
} deferred_t;
static deferred_t *deferred;

static uint64_t name_hash2(const char *name)
{
    return mome_hash2(mome_hash_str(name, strlen(name)), 0x5851f42d4c957f2dull);
}

static int name_manager(const char *name)
{
    return (int)(mome_hash_str(name, strlen(name)) % (uint64_t)mome_g.nnodes);
}

static use_t *use_of(uint64_t id)
{
    return (use_t *)mome_htab_get(&uses, id, 0);
}

static use_t *by_handle(int h)
{
    return h >= 0 && h < nhandles ? handles[h] : NULL;
}

/*
 * A view's mapping goes, and so does its record: at the node's teardown only (a segment destroyed
 * job-wide has no view here). A mapping the kernel keeps (ENOMEM at vm.max_map_count, when the
 * view shares one kernel mapping with a neighbour) is said: its addresses stay mapped, no longer
 * Mome memory.
 */
static void view_free(mome_view_t *v)
{
    int rc = mome_mem_view_unmap(v->addr, v->len);
    if (rc < 0)
        mome_warn("segment",
                  "cannot unmap the view [%p, %p) of segment '%s': %s; its addresses stay "
                  "mapped, no longer Mome memory",
                  (void *)v->addr, (void *)(v->addr + v->len), v->seg->name, strerror(-rc));
    mome_view_remove(v);
    mome_seg_detach(v->seg, v);
    free(v);
}

static void seg_local_free(use_t *u)
{
    mome_seg_t *s = u->s;
    while (s->views)
        view_free(s->views);
    if (u->closing)
        nclosing--;
    mome_htab_del(&uses, &u->h);
    free(u);
    mome_coh_seg_free(s);
}

/*
 * This node's record of a segment. A persistent one reads pages it never held from the
 * repository: its page map is loaded here (a corrupted index fails the open, naming it), and the
 * repository segment must be the one the name manager opened (same uid): every node must see the
 * same MOME_REPOSITORY.
 */
static use_t *seg_local_new(uint64_t id, uint64_t size, const char *name, uint64_t uid, int *err,
                            char *why, size_t whylen)
{
    use_t *u = mome_calloc(1, sizeof(*u));
    mome_repo_seg_t *rs = NULL;

    why[0] = 0;
    if (!u) {
        *err = -ENOMEM;
        return NULL;
    }
    if (uid) {
        mome_repo_info_t info;
        *err = mome_repo_open(mome_g.cfg.repository, name, size, (uint32_t)mome_g.page_size,
                              MOME_REPO_MAP, NULL, &rs, why, whylen);
        if (*err == 0) {
            mome_repo_info(rs, &info);
            if (info.head.uid != uid) {
                *err = -EXDEV;
                snprintf(why, whylen, "node %d finds another segment '%s' at %.200s than the name "
                         "manager (node %d): MOME_REPOSITORY must name the same directory, on a "
                         "file system they share, on every node", mome_g.rank, name, info.path,
                         name_manager(name));
            }
        }
        if (*err < 0) {
            mome_repo_close(rs);
            free(u);
            return NULL;
        }
    }
    u->s = mome_seg_new(id, size, name, rs ? &mome_store_repo : &mome_store_mem, err);
    if (!u->s) {
        mome_repo_close(rs);
        free(u);
        return NULL;
    }
    if (rs)
        mome_store_repo_attach(u->s->store, rs);
    u->h.k1 = id;
    mome_htab_put(&uses, &u->h);
    return u;
}

/*
 * No handle and no view left on this node: tell the name manager, once this node's transactions
 * on the segment are over (pages asked ahead that no thread waited for). Its last SEG_CLOSE may
 * destroy the segment job-wide, and each node then forgets its pages and directory entries: a
 * request still on its way would reach a node that no longer knows the segment (a holder took
 * the forwarded read for a broken directory and stopped the job: helper-81's review).
 */
static void seg_maybe_release(use_t *u)
{
    if (u->s->id == MOME_HEAP_SEG_ID || u->handles || u->s->nviews || !u->opens)
        return;
    /* Nor while its writes here are not released: a diff or notice sent after the close could
     * reach a node that destroyed the segment. From the close on, acquires send nothing for it
     * (mome_coh_seg_closed: helper-91). Nor while a checkpoint of it gathers its pages here:
     * its fetches after the close reached nodes that had destroyed the segment, and their
     * answers a node that had forgotten it ("sent GRANT ... which this node did not ask for":
     * another thread's MomeSegClose during MomeCheckpoint, helper-156). */
    if (u->ckpt || mome_coh_seg_requests(u->s) || mome_coh_seg_unreleased(u->s)) {
        if (!u->closing)
            nclosing++;
        u->closing = 1; /* mome_segment_poll sends it */
        return;
    }
    if (u->closing)
        nclosing--;
    u->closing = 0;
    mome_segmsg_t m = {.id = u->s->id, .count = (uint32_t)u->opens};
    u->opens = 0;
    mome_coh_seg_closed(u->s);
    mome_send(name_manager(u->s->name), MOME_MSG_SEG_CLOSE, 0, &m, NULL, 0);
}

void mome_segment_poll(int finishing)
{
    mome_hnode_t *h, *tmp;
    if (!nclosing)
        return;
    mome_htab_foreach(&uses, h, tmp)
    {
        use_t *u = (use_t *)h;
        if (!u->closing)
            continue;
        if (finishing || u->handles || u->s->nviews) { /* the job ends, or it is in use again */
            u->closing = 0;
            nclosing--;
        } else {
            seg_maybe_release(u); /* sends it once the requests are over */
        }
    }
}

void mome_segment_ckpt_begin(uint64_t id)
{
    use_t *u = use_of(id);
    if (u)
        u->ckpt++;
}

void mome_segment_ckpt_end(uint64_t id)
{
    use_t *u = use_of(id);
    if (!u || !u->ckpt)
        return; /* (no record: destroyed since) */
    if (--u->ckpt == 0)
        seg_maybe_release(u); /* a close that waited, or a hold (mome_segment_hold), ends */
}

static int handle_alloc(use_t *u)
{
    for (int i = 0; i < nhandles; i++) {
        if (!handles[i]) {
            handles[i] = u;
            return i;
        }
    }
    int n = nhandles ? nhandles * 2 : 16;
    use_t **nh = mome_realloc(handles, (size_t)n * sizeof(*nh));
    if (!nh)
        return -ENOMEM;
    memset(nh + nhandles, 0, (size_t)(n - nhandles) * sizeof(*nh));
    handles = nh;
    int h = nhandles;
    nhandles = n;
    handles[h] = u;
    return h;
}

/* ---- requests from this node ---- */

static uint64_t pending_add(mome_cmd_t *c, int reply, const char *name, uint64_t hold)
{
    pending_t *p = mome_malloc(sizeof(*p));
    if (!p)
        return 0;
    p->cmd = c;
    p->reply = reply;
    p->mgr = name_manager(name);
    p->name = name;
    p->hold = hold;
    p->h.k1 = next_token++;
    p->h.k2 = 0;
    mome_htab_put(&pend, &p->h);
    return p->h.k1;
}

/*
 * The command a reply answers. One reply per request: a stray one was counted as an open nobody
 * holds (helper-115). Opens, holds (*hold: the segment's id; else 0) and unlinks share the
 * tokens, and a name's manager stays the same for the whole job (a hash of the name over the node
 * count): an unlink's reply carrying an open's token completed the MomeSegOpen with handle 0, and
 * a reply from another node than the one asked answered for a manager that may have decided
 * otherwise.
 */
static mome_cmd_t *pending_take(const mome_msg_t *msg, uint64_t token, uint64_t *hold)
{
    pending_t *p = (pending_t *)mome_htab_get(&pend, token, 0);
    const char *call = msg->type == MOME_MSG_SEG_OPEN_REPLY ? "MomeSegOpen" : "MomeSegUnlink";
    mome_cmd_t *c;
    if (!p)
        mome_fatal("node %u answered a %s this node did not make (token %llu): the nodes "
                   "disagree on the segments; stopping",
                   msg->src, call, (unsigned long long)token);
    if (p->reply != msg->type || p->mgr != (int)msg->src)
        mome_fatal("node %u answered with %s token %llu, which is this node's %s of segment '%s' "
                   "asked of its name manager, node %d: the nodes disagree on the segments; "
                   "stopping",
                   msg->src, mome_msg_name(msg->type), (unsigned long long)token,
                   p->reply == MOME_MSG_SEG_OPEN_REPLY ? "MomeSegOpen" : "MomeSegUnlink", p->name,
                   p->mgr);
    mome_htab_del(&pend, &p->h);
    c = p->cmd;
    *hold = p->hold;
    free(p);
    return c;
}

void mome_segment_cmd_open(mome_cmd_t *c)
{
    const char *name = c->u.open.name;
    uint64_t token = pending_add(c, MOME_MSG_SEG_OPEN_REPLY, name, 0);
    if (!token) {
        mome_cmd_fail(c, ENOMEM, "MomeSegOpen: out of memory");
        return;
    }
    mome_segmsg_t m = {.size = c->u.open.size, .flags = (uint32_t)c->u.open.flags,
                       .token = token};
    mome_send(name_manager(name), MOME_MSG_SEG_OPEN, 0, &m, name, (uint32_t)strlen(name));
}

/* A persistent segment's uid, from SEG_OPEN_REPLY's payload (8 bytes: validated). */
static uint64_t uid_of(const mome_msg_t *msg)
{
    const uint8_t *p = msg->payload;
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | p[i];
    return u;
}

/*
 * MomeFinalize's checkpoint of a segment this node closed (its SEG_CLOSE sent): the name manager
 * counts an open of it for this node again, so that no last close destroys it while the
 * checkpoint asks other nodes for its pages, or it answers that the segment was unlinked (or
 * destroyed: its SEG_DESTROY came before this answer): nothing to save. Gathered without one,
 * the checkpoint's requests met nodes that had destroyed the segment, unlinked and closed by its
 * last user right before MomeFinalize, and the answers a node that had forgotten it ("sent GRANT
 * ... which this node did not ask for": defects finclosed, helper-159). The hold ends as an open
 * does, with a SEG_CLOSE, once the checkpoint has gathered (mome_segment_ckpt_end).
 */
/* Is a MomeSegOpen of that name asked of its name manager, not answered yet? */
static int open_pending(const char *name)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&pend, h, tmp)
    {
        const pending_t *p = (const pending_t *)h;
        if (p->reply == MOME_MSG_SEG_OPEN_REPLY && !p->hold && strcmp(p->name, name) == 0)
            return 1;
    }
    return 0;
}

static void hold_send(uint64_t id, const char *name, mome_cmd_t *c)
{
    uint64_t token = pending_add(c, MOME_MSG_SEG_OPEN_REPLY, name, id);
    if (!token)
        mome_fatal("out of memory for the final checkpoint of segment '%s' (%#llx); its last "
                   "checkpoint is intact; stopping",
                   name, (unsigned long long)id);
    mome_segmsg_t m = {.id = id, .token = token};
    mome_send(name_manager(name), MOME_MSG_SEG_OPEN, MOME_SEGO_HOLD, &m, name,
              (uint32_t)strlen(name));
}

/*
 * The name manager takes a hold from a node that has the segment open by its count for one that
 * node cannot send (its SEG_CLOSE goes before, on the same way). Another thread's MomeSegOpen of
 * the name, asked before the hold and answered after it, is such an open: the hold waits for its
 * answer, after which the segment is open here (nothing to hold) or not.
 */
int mome_segment_hold(uint64_t id, const char *name, mome_cmd_t *c)
{
    use_t *u = use_of(id);
    if (!u || u->opens) /* (open here: its SEG_CLOSE waits for the checkpoint) */
        return 0;
    if (open_pending(name)) {
        deferred_t *d = mome_malloc(sizeof(*d));
        if (!d)
            mome_fatal("out of memory for the final checkpoint of segment '%s' (%#llx); its last "
                       "checkpoint is intact; stopping",
                       name, (unsigned long long)id);
        *d = (deferred_t){.next = deferred, .id = id, .name = name, .cmd = c};
        deferred = d;
        return 1;
    }
    hold_send(id, name, c);
    return 1;
}

/* The holds whose names no MomeSegOpen of this node waits for any more go (or are not needed). */
static void holds_resume(void)
{
    for (deferred_t **pp = &deferred, *d; (d = *pp);) {
        if (open_pending(d->name)) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        use_t *u = use_of(d->id);
        if (!u || u->opens) /* open here now, or gone: as if never closed here */
            mome_cmd_complete(d->cmd, 0);
        else
            hold_send(d->id, d->name, d->cmd);
        free(d);
    }
}

static void on_hold_reply(const mome_msg_t *msg, const mome_segmsg_t *m, mome_cmd_t *c, uint64_t id)
{
    use_t *u = use_of(id);
    int gone = m->status == -ENOENT;
    /* The manager's answer: the hold's segment, no payload nor flag, its size, or nothing and
     * ENOENT (unlinked, or destroyed). */
    if ((m->status != 0 && !gone) || m->id != id || msg->len || msg->flags || (gone && m->size))
        mome_fatal("node %u answered this node's hold of segment '%s' (%#llx) for its final "
                   "checkpoint with segment %#llx of %llu bytes, status %d, flags %#x and %u "
                   "bytes of payload: the nodes disagree on the segment; stopping",
                   msg->src, mome_segment_name(id), (unsigned long long)id,
                   (unsigned long long)m->id, (unsigned long long)m->size, m->status, msg->flags,
                   msg->len);
    if (gone) {
        mome_cmd_complete(c, 1);
        return;
    }
    if (!u)
        /* The manager destroys a segment before it answers (rec_destroy), never after a hold. */
        mome_fatal("node %u holds segment %#llx for this node's final checkpoint, which this node "
                   "has destroyed: the nodes disagree on the segment; stopping",
                   msg->src, (unsigned long long)id);
    if (!m->size || m->size > u->s->size || u->s->size - m->size >= mome_g.page_size)
        mome_fatal("node %u holds segment '%s' (%#llx) for this node's final checkpoint with %llu "
                   "bytes, which has %llu here: the nodes disagree on the segment; stopping",
                   msg->src, u->s->name, (unsigned long long)id, (unsigned long long)m->size,
                   (unsigned long long)u->s->size);
    u->opens++;
    mome_cmd_complete(c, 0);
}

static void open_replied(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    uint64_t held;
    mome_cmd_t *c = pending_take(msg, m->token, &held);
    if (held)
        return on_hold_reply(msg, m, c, held);
    const char *name = c->u.open.name;
    int status = m->status, err = 0, h;
    char why[600];
    use_t *u;

    if (status < 0 && msg->len) {
        /* The name manager's own words (the repository's errors name files and holders). */
        mome_cmd_fail(c, -status, "MomeSegOpen: %.*s", (int)msg->len, (const char *)msg->payload);
        return;
    }
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
            if (m->size)
                mome_cmd_fail(c, EINVAL, "MomeSegOpen: segment '%s' exists with size %llu; pass "
                                         "0 or that size", name, (unsigned long long)m->size);
            else
                mome_cmd_fail(c, EINVAL, "MomeSegOpen: size 0 cannot create segment '%s'", name);
            break;
        default:
            mome_cmd_fail(c, -status, "MomeSegOpen: '%s': %s", name, strerror(-status));
        }
        return;
    }
    u = use_of(m->id);
    if (u && u->s->closed) /* closed here, not destroyed: open again */
        mome_coh_seg_reopened(u->s);
    if (!u)
        u = seg_local_new(m->id, m->size, name, (msg->flags & MOME_SEGR_PERSIST) ? uid_of(msg) : 0,
                          &err, why, sizeof(why));
    if (!u) {
        mome_segmsg_t close = {.id = m->id, .count = 1};
        mome_send(name_manager(name), MOME_MSG_SEG_CLOSE, MOME_SEGC_NOREC, &close, NULL, 0);
        /* A persistent segment is opened here by its name: an unlink (and a new segment of the
         * name) between the manager's answer and this open left none, or another (ENOENT,
         * EXDEV). Ask the manager again, as if the open had come after the unlink (helper-91);
         * each time, another node may have unlinked and created it again meanwhile (3 tries were
         * all lost in CI, under load, to a node doing that in a loop: 100). The same segment
         * twice (its uid) was not unlinked in between: this node's repository is not the
         * manager's. */
        int persist = (msg->flags & MOME_SEGR_PERSIST) != 0;
        int again = persist && c->u.open.tries > 0 && uid_of(msg) == c->u.open.uid;
        if (persist && !again && (err == -ENOENT || err == -EXDEV) && c->u.open.tries++ < 100) {
            c->u.open.uid = uid_of(msg);
            mome_segment_cmd_open(c);
            return;
        }
        if (again && err == -ENOENT) {
            char here[PATH_MAX];
            const char *dir = mome_g.cfg.repository;
            int known = realpath(dir, here) != NULL && strcmp(here, dir) != 0;
            mome_cmd_fail(c, EXDEV,
                          "MomeSegOpen: node %d finds no segment '%s' in its repository '%.300s'%s"
                          "%.300s%s where its name manager, node %d, opened it: MOME_REPOSITORY "
                          "must name the same directory, on a file system they share, on every "
                          "node",
                          mome_g.rank, name, known ? here : dir, known ? " (MOME_REPOSITORY=" : "",
                          known ? dir : "", known ? ")" : "", name_manager(name));
        } else if (err == -EFBIG)
            mome_cmd_fail(c, ENOMEM,
                          "MomeSegOpen: segment '%s' of %llu bytes would take this "
                          "node's Mome memory, a file holding its segments and the shared heap, "
                          "past the process's file size limit of %llu KiB: raise it (ulimit -f "
                          "unlimited)",
                          name, (unsigned long long)m->size,
                          (unsigned long long)(mome_mem_file_limit() >> 10));
        else if (why[0])
            mome_cmd_fail(c, -err, "MomeSegOpen: %s", why);
        else
            mome_cmd_fail(c, -err, "MomeSegOpen: cannot set up segment '%s' of %llu bytes here: "
                                   "%s", name, (unsigned long long)m->size, strerror(-err));
        return;
    }
    h = handle_alloc(u);
    if (h < 0) {
        err = h;
        seg_maybe_release(u);
        goto err_undo;
    }
    u->handles++;
    u->opens++;
    mome_cmd_complete(c, h);
    return;

err_undo: {
    mome_segmsg_t close = {.id = m->id, .count = 1};
    mome_send(name_manager(name), MOME_MSG_SEG_CLOSE, 0, &close, NULL, 0);
    mome_cmd_fail(c, -err, "MomeSegOpen: cannot set up segment '%s' of %llu bytes here: %s",
                  name, (unsigned long long)m->size, strerror(-err));
}
}

static void on_open_reply(const mome_msg_t *msg, const void *body)
{
    open_replied(msg, body);
    if (deferred)
        holds_resume();
}

void mome_segment_cmd_close(mome_cmd_t *c)
{
    int h = c->u.close.handle;
    use_t *u = by_handle(h);
    if (!u) {
        mome_cmd_fail(c, EBADF, "MomeSegClose: %d is not an open segment handle", h);
        return;
    }
    handles[h] = NULL;
    u->handles--;
    seg_maybe_release(u);
    mome_cmd_complete(c, 0);
}

void mome_segment_cmd_unlink(mome_cmd_t *c)
{
    const char *name = c->u.unlink.name;
    uint64_t token = pending_add(c, MOME_MSG_SEG_UNLINK_REPLY, name, 0);
    if (!token) {
        mome_cmd_fail(c, ENOMEM, "MomeSegUnlink: out of memory");
        return;
    }
    mome_segmsg_t m = {.token = token};
    mome_send(name_manager(name), MOME_MSG_SEG_UNLINK, 0, &m, name, (uint32_t)strlen(name));
}

static void on_unlink_reply(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    uint64_t held;
    mome_cmd_t *c = pending_take(msg, m->token, &held);
    if (m->status < 0 && msg->len)
        mome_cmd_fail(c, -m->status, "MomeSegUnlink: %.*s", (int)msg->len,
                      (const char *)msg->payload);
    else if (m->status < 0)
        mome_cmd_fail(c, ENOENT, "MomeSegUnlink: segment '%s' does not exist",
                      c->u.unlink.name);
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

static void reply_open(const mome_msg_t *req, const mome_segmsg_t *rm, int status, uint64_t id,
                       uint64_t size)
{
    mome_segmsg_t m = {.id = id, .size = size, .status = status, .token = rm->token};
    mome_send((int)req->src, MOME_MSG_SEG_OPEN_REPLY, 0, &m, NULL, 0);
}

/* A failure the requester reports in the name manager's words. */
static void reply_why(const mome_msg_t *req, const mome_segmsg_t *rm, int status, const char *why)
{
    mome_segmsg_t m = {.status = status, .token = rm->token};
    size_t len = strnlen(why, MOME_SEG_WHY_MAX);
    mome_send((int)req->src, MOME_MSG_SEG_OPEN_REPLY, 0, &m, why, (uint32_t)len);
}

static void reply_persist(const mome_msg_t *req, const mome_segmsg_t *rm, name_rec_t *r)
{
    mome_repo_info_t info;
    mome_repo_info(r->repo, &info);
    r->users[req->src / 64] |= 1ull << (req->src % 64);
    mome_segmsg_t m = {.id = r->id, .size = r->size, .token = rm->token};
    uint8_t uid[8];
    for (int i = 0; i < 8; i++)
        uid[i] = (uint8_t)(info.head.uid >> (8 * i));
    mome_send((int)req->src, MOME_MSG_SEG_OPEN_REPLY, MOME_SEGR_PERSIST, &m, uid, sizeof(uid));
}

/* The record of a name that node `by` opens first. */
static name_rec_t *rec_new(const char *name, size_t len, uint64_t size, uint32_t by)
{
    name_rec_t *r = mome_calloc(1, sizeof(*r) + (size_t)mome_g.nnodes * sizeof(r->opens[0]));
    if (!r)
        return NULL;
    memcpy(r->name, name, len);
    r->name[len] = 0;
    r->id = ((uint64_t)mome_g.rank << 40) | ++id_counter;
    r->size = size;
    r->opens[by] = 1;
    r->by_name.k1 = mome_hash_str(r->name, len);
    r->by_name.k2 = name_hash2(r->name);
    r->by_id.k1 = r->id;
    return r;
}

/*
 * The first MOME_PERSIST open of a name in this job: the repository segment is opened (created
 * with MOME_CREATE) and locked by this node, the name manager, until the job ends or unlinks it;
 * another job opening it meanwhile gets EBUSY. Errors go back in the repository's words.
 */
static void open_persistent(const mome_msg_t *msg, const mome_segmsg_t *m)
{
    int flags = (int)m->flags, rf = MOME_REPO_LOCK, rc;
    char name[MOME_SEG_NAME_MAX + 1], why[MOME_SEG_WHY_MAX], who[300], host[128] = "?", t[64];
    time_t now = time(NULL);
    struct tm tm;
    mome_repo_seg_t *rs;
    mome_repo_info_t info;
    name_rec_t *r;

    memcpy(name, msg->payload, msg->len);
    name[msg->len] = 0;
    if (flags & MOME_CREATE)
        rf |= MOME_REPO_CREATE | ((flags & MOME_EXCL) ? MOME_REPO_EXCL : 0);
    struct timespec before;
    clock_gettime(CLOCK_REALTIME, &before);
    gethostname(host, sizeof(host) - 1);
    localtime_r(&now, &tm);
    strftime(t, sizeof(t), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(who, sizeof(who), "pid %d on %s, node %d of %d, since %s", (int)getpid(), host,
             mome_g.rank, mome_g.nnodes, t);
    rc = mome_repo_open(mome_g.cfg.repository, name, m->size, (uint32_t)mome_g.page_size, rf, who,
                        &rs, why, sizeof(why));
    if (rc < 0)
        return reply_why(msg, m, rc, why);
    mome_repo_info(rs, &info);
    r = rec_new(name, msg->len, info.head.size, msg->src);
    if (r) {
        r->users = mome_calloc(((size_t)mome_g.nnodes + 63) / 64, sizeof(*r->users));
        r->held = mome_calloc(((size_t)mome_g.nnodes + 63) / 64, sizeof(*r->held));
    }
    if (!r || !r->users || !r->held) {
        if (r) {
            free(r->users);
            free(r->held);
        }
        free(r);
        mome_repo_close(rs);
        return reply_open(msg, m, -ENOMEM, 0, 0);
    }
    r->repo = rs;
    r->fresh =
        info.head.gen == 0 &&
        info.head.created_ns >= (uint64_t)before.tv_sec * 1000000000ull + (uint64_t)before.tv_nsec;
    mome_htab_put(&names, &r->by_name);
    mome_htab_put(&ids, &r->by_id);
    reply_persist(msg, m, r);
}

/*
 * The first MOME_PERSIST open of a name in this job when momed serves the repository: momed opens
 * (or creates) it and names it; every job gets the same id, and the pages come from momed
 * (coherence/served.h). Errors go back in momed's words.
 */
static void open_served(const mome_msg_t *msg, const mome_segmsg_t *m)
{
    static uint64_t token;
    mome_srvopen_t o = {.size = m->size, .token = ++token}, out;
    char why[MOME_SEG_WHY_MAX];
    name_rec_t *r;
    int rc;

    if (m->flags & MOME_CREATE)
        o.flags = MOME_SRVO_CREATE | ((m->flags & MOME_EXCL) ? MOME_SRVO_EXCL : 0);
    rc = mome_srv_call(MOME_SRV_OPEN, &o, msg->payload, msg->len, MOME_SRV_OPEN_REPLY, o.token,
                       &out, why, sizeof(why), MOME_SRV_WAIT_MS);
    if (rc < 0) {
        snprintf(why, sizeof(why), "%s does not answer (%s)", mome_srv_where(), strerror(-rc));
        return reply_why(msg, m, rc, why);
    }
    if (out.status < 0)
        return reply_why(msg, m, out.status, why);
    /* The size is in bytes, as the repository keeps it, not a whole number of pages (the last
     * page, partial, is mapped whole, as with an embedded repository): any size but 0 that
     * rounds up to whole pages in 64 bits, and the one asked for when one was. */
    if (!mome_seg_is_served(out.id) || !out.size || out.size > UINT64_MAX - mome_g.page_size ||
        (m->size && out.size != m->size))
        mome_fatal("%s answered SRV_OPEN of '%.*s' (%llu bytes asked) with segment %#llx of "
                   "%llu bytes: not a served segment of that size; stopping",
                   mome_srv_where(), (int)msg->len, (const char *)msg->payload,
                   (unsigned long long)m->size, (unsigned long long)out.id,
                   (unsigned long long)out.size);
    r = rec_new(msg->payload, msg->len, out.size, msg->src);
    if (!r)
        return reply_open(msg, m, -ENOMEM, 0, 0);
    r->id = out.id;
    r->by_id.k1 = r->id;
    r->served = 1;
    mome_htab_put(&names, &r->by_name);
    mome_htab_put(&ids, &r->by_id);
    reply_open(msg, m, 0, r->id, r->size);
}

/* What is wrong with node n's hold of r by that name (NULL: nothing). */
static const char *hold_wrong(const name_rec_t *r, uint32_t n, const mome_msg_t *msg)
{
    if (strlen(r->name) != msg->len || memcmp(r->name, msg->payload, msg->len) != 0)
        return "by another name";
    if (!r->repo)
        return "as a segment that is not persistent";
    if (!(r->users[n / 64] >> (n % 64) & 1))
        return "as one that node never set up";
    /* (Its opens are not looked at: its SEG_CLOSE, sent before its hold, may come after it, as
     * nothing orders two nodes' messages; the hold is counted as one more open.) */
    if (r->held[n / 64] >> (n % 64) & 1)
        return "as one that node held already (a node holds a segment once)";
    return NULL;
}

/* A node's hold of a persistent segment it closed, for its final checkpoint (mome_segment_hold):
 * an open of it by that node, unless it was unlinked (or destroyed: ENOENT). */
static void on_hold(const mome_msg_t *msg, const mome_segmsg_t *m)
{
    mome_hnode_t *h = mome_htab_get(&ids, m->id, 0);
    name_rec_t *r = h ? REC_OF_ID(h) : NULL;
    uint32_t n = msg->src;
    const char *wrong;
    if (m->size || m->flags)
        mome_fatal("node %u asked to keep segment '%.*s' (%#llx) for its final checkpoint with "
                   "size %llu and flags %#x, which a hold does not carry: the nodes disagree on "
                   "the segment; stopping",
                   n, (int)msg->len, (const char *)msg->payload, (unsigned long long)m->id,
                   (unsigned long long)m->size, m->flags);
    if (!r && !mome_segment_destroyed(m->id))
        mome_fatal("node %u asked to keep segment %#llx for its final checkpoint, which this "
                   "name manager never had: the nodes disagree on the segment; stopping",
                   n, (unsigned long long)m->id);
    if (r && (wrong = hold_wrong(r, n, msg)))
        mome_fatal("node %u asked to keep segment '%.*s' (%#llx) for its final checkpoint, which "
                   "this name manager knows %s ('%s'): the nodes disagree on the segment; stopping",
                   n, (int)msg->len, (const char *)msg->payload, (unsigned long long)m->id, wrong,
                   r->name);
    if (r)
        r->held[n / 64] |= 1ull << (n % 64);
    if (!r || r->unlinked)
        return reply_open(msg, m, -ENOENT, m->id, 0);
    r->opens[n]++;
    reply_open(msg, m, 0, r->id, r->size);
}

static void on_open(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    if (msg->flags & MOME_SEGO_HOLD)
        return on_hold(msg, m);
    if (m->id)
        mome_fatal("node %u opened segment '%.*s' giving id %#llx, which only a hold (SEGO_HOLD, "
                   "for a final checkpoint) carries: the nodes disagree on the segment; stopping",
                   msg->src, (int)msg->len, (const char *)msg->payload, (unsigned long long)m->id);
    name_rec_t *r = rec_by_name(msg->payload, msg->len);
    int flags = (int)m->flags;
    uint64_t size = m->size;
    char why[MOME_SEG_WHY_MAX];

    if (r) {
        if ((flags & MOME_CREATE) && (flags & MOME_EXCL))
            return reply_open(msg, m, -EEXIST, 0, 0);
        if ((flags & MOME_PERSIST) && !r->repo && !r->served) {
            snprintf(why, sizeof(why), "segment '%s' is open in this job without MOME_PERSIST; "
                     "the first open of a name in a job decides", r->name);
            return reply_why(msg, m, -EINVAL, why);
        }
        if (size && size != r->size && r->served) {
            snprintf(why, sizeof(why), "segment '%s' is served by %s with size %llu; pass 0 or "
                     "that size", r->name, mome_srv_where(), (unsigned long long)r->size);
            return reply_why(msg, m, -EINVAL, why);
        }
        if (size && size != r->size && r->repo) {
            snprintf(why, sizeof(why), "segment '%s' is stored in repository '%.200s' with size "
                     "%llu; pass 0 or that size", r->name, mome_g.cfg.repository,
                     (unsigned long long)r->size);
            return reply_why(msg, m, -EINVAL, why);
        }
        if (size && size != r->size)
            return reply_open(msg, m, -EINVAL, 0, r->size);
        r->opens[msg->src]++;
        if (r->repo)
            return reply_persist(msg, m, r);
        return reply_open(msg, m, 0, r->id, r->size);
    }
    if ((flags & MOME_PERSIST) && mome_srv_fd() >= 0)
        return open_served(msg, m);
    if (flags & MOME_PERSIST)
        return open_persistent(msg, m);
    if (!(flags & MOME_CREATE))
        return reply_open(msg, m, -ENOENT, 0, 0);
    if (!size)
        return reply_open(msg, m, -EINVAL, 0, 0);
    r = rec_new(msg->payload, msg->len, size, msg->src);
    if (!r)
        return reply_open(msg, m, -ENOMEM, 0, 0);
    mome_htab_put(&names, &r->by_name);
    mome_htab_put(&ids, &r->by_id);
    reply_open(msg, m, 0, r->id, r->size);
}

static void rec_free(name_rec_t *r)
{
    mome_repo_close(r->repo); /* unlinked: its files go now */
    free(r->users);
    free(r->held);
    free(r);
}

static void (*destroy_hook)(uint64_t id);

void mome_segment_on_destroy(void (*fn)(uint64_t id))
{
    destroy_hook = fn;
}

static void rec_destroy(name_rec_t *r)
{
    mome_htab_del(&ids, &r->by_id);
    if (r->repo && destroy_hook)
        destroy_hook(r->id); /* a checkpoint of it under way: its nodes get their outcome */
    for (int n = 0; n < mome_g.nnodes; n++) {
        mome_segmsg_t d = {.id = r->id};
        mome_send(n, MOME_MSG_SEG_DESTROY, 0, &d, NULL, 0);
    }
    rec_free(r);
}

static void on_close(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    mome_hnode_t *h = mome_htab_get(&ids, m->id, 0);
    if (!h)
        /* A record goes once every open is closed: this is a close too many (helper-115). */
        mome_fatal("node %u closed segment %#llx, which this name manager does not know (closed "
                   "job-wide already): the nodes disagree on the segment; stopping",
                   msg->src, (unsigned long long)m->id);
    name_rec_t *r = REC_OF_ID(h);
    if (!m->count || m->count > r->opens[msg->src])
        /* Counted, the segment went job-wide while nodes still used it (helper-111). */
        mome_fatal("node %u closed segment '%s' (%#llx) %u times, which it has open %u times "
                   "by this name manager's count: the nodes disagree on the segment; stopping",
                   msg->src, r->name, (unsigned long long)r->id, m->count, r->opens[msg->src]);
    r->opens[msg->src] -= m->count;
    if ((msg->flags & MOME_SEGC_NOREC) && r->users) /* not set up there: no checkpoint there */
        r->users[msg->src / 64] &= ~(1ull << (msg->src % 64));
    if (!(msg->flags & MOME_SEGC_NOREC))
        r->used = 1;
    /* Created, but set up on no node (the creator's open failed there, say for its size): the
     * name goes, or it kept that unusable size until an unlink (helper-91). A persistent one
     * too if this open created it (nothing is in it yet): else a MomeSegOpen of 2^50 bytes that
     * failed with ENOMEM left it in the repository at that size for good (helper-104). One it
     * found there may hold data: it stays. */
    char why[MOME_SEG_WHY_MAX];
    if (!r->unlinked && !open_anywhere(r) && !r->used && !r->served &&
        (msg->flags & MOME_SEGC_NOREC) &&
        (!r->repo || (r->fresh && mome_repo_gen(r->repo) == 0 &&
                      mome_repo_unlink(r->repo, why, sizeof(why)) == 0))) {
        mome_htab_del(&names, &r->by_name);
        r->unlinked = 1;
    }
    if (r->unlinked && !open_anywhere(r))
        rec_destroy(r);
}

/*
 * A name this job does not have may still be a persistent segment: its repository copy goes
 * (unless another job has it open). Only a name found nowhere is ENOENT.
 */
static int unlink_stored(const char *payload, uint32_t len, char *why, size_t whylen)
{
    char name[MOME_SEG_NAME_MAX + 1];
    int rc;
    memcpy(name, payload, len);
    name[len] = 0;
    rc = mome_repo_remove(mome_g.cfg.repository, name, why, whylen);
    if (rc == -ENOENT)
        why[0] = 0;
    return rc;
}

static void on_unlink(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    name_rec_t *r = rec_by_name(msg->payload, msg->len);
    mome_segmsg_t rep = {.token = m->token};
    char why[MOME_SEG_WHY_MAX] = "";

    if (!r) {
        rep.status = unlink_stored(msg->payload, msg->len, why, sizeof(why));
        mome_send((int)msg->src, MOME_MSG_SEG_UNLINK_REPLY, 0, &rep, why,
                  (uint32_t)strnlen(why, sizeof(why)));
        return;
    }
    if (r->served) {
        rep.status = -EBUSY;
        snprintf(why, sizeof(why), "segment '%s' is served by %s, which other jobs may share: "
                 "stop momed, then remove it with mome-repo rm", r->name, mome_srv_where());
    }
    if (r->served || (r->repo && (rep.status = mome_repo_unlink(r->repo, why, sizeof(why))) < 0)) {
        mome_send((int)msg->src, MOME_MSG_SEG_UNLINK_REPLY, 0, &rep, why,
                  (uint32_t)strnlen(why, sizeof(why)));
        return;
    }
    mome_htab_del(&names, &r->by_name);
    r->unlinked = 1;
    mome_send((int)msg->src, MOME_MSG_SEG_UNLINK_REPLY, 0, &rep, NULL, 0);
    if (!open_anywhere(r))
        rec_destroy(r);
}

static void on_destroy(const mome_msg_t *msg, const void *body)
{
    const mome_segmsg_t *m = body;
    use_t *u = use_of(m->id);
    /* Only a segment's name manager destroys it (rec_destroy), and a destroy drops the directory
     * entries this node keeps for it: from another node, those of a live segment went and the
     * next request for one of its pages got a zero page instead of its master's bytes. The id
     * names its name manager (rec_new: its rank above bit 40). A served one's is momed's number,
     * but no name manager destroys a served segment in a job (momed keeps it: MomeSegUnlink
     * refuses it, and its record stays once closed everywhere). */
    uint64_t mgr = m->id >> 40;
    if (mome_seg_is_served(m->id))
        mome_fatal("node %u destroyed segment '%s' (%#llx), which momed serves: no node destroys "
                   "a served segment in a job; the nodes disagree on the segment; stopping",
                   msg->src, mome_segment_name(m->id), (unsigned long long)m->id);
    if (mgr != msg->src) {
        char who[48] = "no node: no segment has that id";
        if (mgr < (uint64_t)mome_g.nnodes)
            snprintf(who, sizeof(who), "node %llu", (unsigned long long)mgr);
        mome_fatal("node %u destroyed segment '%s' (%#llx), whose name manager is %s: only the "
                   "name manager destroys a segment; the nodes disagree on the segment; stopping",
                   msg->src, mome_segment_name(m->id), (unsigned long long)m->id, who);
    }
    if (u && (u->handles || u->s->nviews))
        /* The name manager destroys a segment once every open is closed (helper-115: warned
         * about, after its directory entries here were forgotten). */
        mome_fatal("node %u destroyed segment '%s' (%#llx), which this node still has open (%d "
                   "handles, %d views): the nodes disagree on the segment; stopping",
                   msg->src, u->s->name, (unsigned long long)m->id, u->handles, u->s->nviews);
    mome_coh_seg_destroyed(m->id); /* the directory entries this node managed */
    if (u)
        seg_local_free(u);
}

/* ---- MomeMMap / MomeMUnmap ---- */

static int check_mmap(mome_cmd_t *c, use_t *u, char *addr, size_t *len, int prot, int flags,
                      uint64_t off)
{
    size_t ps = mome_g.page_size;
    if (!u)
        return mome_cmd_fail(c, EBADF, "MomeMMap: %d is not an open segment handle",
                             c->u.mmap.handle),
               -1;
    if (prot != MOME_READ && prot != MOME_WRITE && prot != (MOME_READ | MOME_WRITE))
        return mome_cmd_fail(c, EINVAL,
                             "MomeMMap: prot must be MOME_READ, or MOME_READ|MOME_WRITE "
                             "(MOME_WRITE alone means the same) (got %#x)",
                             prot),
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
    mome_seg_t *s = u->s;
    if (off > s->size || *len > s->size - off)
        return mome_cmd_fail(c, EINVAL, "MomeMMap: offset %llu and length %zu go beyond segment "
                                        "'%s' of %llu bytes", (unsigned long long)off, *len,
                             s->name, (unsigned long long)s->size),
               -1;
    if ((flags & MOME_FIXED) && mome_view_overlaps(addr, *len))
        return mome_cmd_fail(c, EBUSY, "MomeMMap: [%p, %p) overlaps an existing Mome mapping",
                             (void *)addr, (void *)(addr + *len)),
               -1;
    return 0;
}

/* A new view of s: mapped, indexed, in the segment's list. */
static mome_view_t *view_new(mome_seg_t *s, void *addr, size_t len, uint64_t off, int writable,
                             int fixed, int *err)
{
    mome_view_t *v = mome_calloc(1, sizeof(*v));
    if (!v) {
        *err = -ENOMEM;
        return NULL;
    }
    /* Room in the index first: a mapping that could not be unmapped again would be in no view,
     * and a fault there would find none. */
    if ((*err = mome_view_reserve()) < 0) {
        free(v);
        return NULL;
    }
    v->addr = mome_mem_view_map(addr, len, writable, fixed, s->store->base + off, err);
    if (!v->addr) {
        free(v);
        return NULL;
    }
    v->len = len;
    v->off = off;
    v->writable = writable;
    mome_view_insert(v); /* cannot fail: reserved */
    mome_seg_attach(s, v);
    return v;
}

void mome_segment_cmd_mmap(mome_cmd_t *c)
{
    char *addr = c->u.mmap.addr;
    size_t len = c->u.mmap.len;
    int prot = c->u.mmap.prot, flags = c->u.mmap.flags, err = 0;
    uint64_t off = c->u.mmap.off;
    use_t *u = by_handle(c->u.mmap.handle);

    if (check_mmap(c, u, addr, &len, prot, flags, off) < 0)
        return;
    mome_view_t *v = view_new(u->s, addr, len, off, !!(prot & MOME_WRITE), flags & MOME_FIXED,
                              &err);
    if (!v) {
        mome_cmd_fail(c, -err, "MomeMMap: cannot map %zu bytes: %s", len, strerror(-err));
        return;
    }
    c->result = (uint64_t)(uintptr_t)v->addr;
    mome_cmd_complete(c, 0);
}

/*
 * Remove [a, b) from view v, which it overlaps; splits v when the hole is in its middle. The
 * kernel's unmap comes before the records change: it refuses (ENOMEM) to make one mapping two once
 * the process has vm.max_map_count of them, for a hole but also for a whole view the kernel merged
 * with its neighbours, and nothing has changed then. (The records changed first and the refusal
 * went unseen: the pages stayed mapped in no view, written without coherence, and a read of one
 * not yet here faulted for ever.) Fails c, saying why; done: what MomeMUnmap unmapped before v.
 */
static int view_cut(mome_cmd_t *c, mome_view_t *v, char *a, char *b, int done)
{
    char *va = v->addr, *vb = v->addr + v->len;
    char *x = a > va ? a : va, *y = b < vb ? b : vb;
    mome_view_t *t = NULL;
    int rc;

    /* A hole in the middle: the second part's view first, so that a failure changes nothing (the
     * hole was unmapped first, and then the second part stayed mapped in no view, written
     * without coherence: helper-104). */
    if (x > va && y < vb) {
        if (!(t = mome_calloc(1, sizeof(*t))))
            goto err_nomem;
        t->addr = y;
        t->len = (size_t)(vb - y);
        t->off = v->off + (uint64_t)(y - va);
        t->writable = v->writable;
        v->len = (size_t)(x - va); /* no overlap in the index */
        if (mome_view_insert(t) < 0) {
            v->len = (size_t)(vb - va);
            free(t);
            goto err_nomem;
        }
        mome_seg_attach(v->seg, t);
    }
    rc = mome_mem_view_unmap(x, (size_t)(y - x));
    if (rc < 0) {
        if (t) {
            mome_view_remove(t);
            mome_seg_detach(v->seg, t);
            free(t);
            v->len = (size_t)(vb - va);
        }
        mome_cmd_fail(c, -rc,
                      "MomeMUnmap: the kernel refused to unmap [%p, %p): %s (this splits "
                      "a kernel mapping, which neighbouring views may share, and the process has "
                      "all the mappings vm.max_map_count allows: raise it, or use fewer mappings); "
                      "the Mome mappings from %p on are unchanged%s",
                      (void *)x, (void *)y, strerror(-rc), (void *)x,
                      done ? ", those before it unmapped" : "");
        return -1;
    }
    mome_mem_wake(x, (size_t)(y - x)); /* faulting threads retry and get SIGSEGV, as mmap */
    mome_txn_forget_range(x, (size_t)(y - x));
    if (x == va && y == vb) {
        mome_seg_t *s = v->seg;
        mome_view_remove(v);
        mome_seg_detach(s, v);
        free(v);
        seg_maybe_release(use_of(s->id));
        return 0;
    }
    if (x == va) {
        /* The index stays sorted: v's start moves up but no other view lies in [va, y). */
        v->off += (uint64_t)(y - va);
        v->len -= (size_t)(y - va);
        v->addr = y;
        return 0;
    }
    v->len = (size_t)(x - va);
    return 0;

err_nomem:
    mome_cmd_fail(c, ENOMEM, "MomeMUnmap: out of memory splitting a mapping");
    return -1;
}

static int not_heap(const mome_view_t *v)
{
    return v->seg->id != MOME_HEAP_SEG_ID;
}

static int is_heap(const mome_view_t *v)
{
    return !not_heap(v);
}

static void munmap_after_release(void *arg, mome_date_t date)
{
    mome_cmd_t *c = arg;
    char *a = c->u.munmap.addr;
    size_t len = c->u.munmap.len, ps = mome_g.page_size;
    mome_view_t *v;
    int found = 0;

    len = (len + ps - 1) & ~(ps - 1);
    while ((v = mome_view_first_in(a, len, not_heap))) {
        if (view_cut(c, v, a, a + len, found) < 0)
            return;
        found = 1;
    }
    if (!found && mome_view_first_in(a, len, is_heap)) {
        mome_cmd_fail(c, EINVAL,
                      "MomeMUnmap: [%p, %p) is in the shared heap, which MomeMUnmap does not "
                      "unmap: give MomeMalloc's blocks back with MomeFree",
                      (void *)a, (void *)(a + len));
        return;
    }
    if (!found) {
        mome_cmd_fail(c, EINVAL, "MomeMUnmap: [%p, %p) holds no Mome mapping", (void *)a,
                      (void *)(a + len));
        return;
    }
    mome_cmd_complete(c, 0);
}

void mome_segment_cmd_munmap(mome_cmd_t *c)
{
    char *a = c->u.munmap.addr;
    size_t len = c->u.munmap.len, ps = mome_g.page_size;

    if ((uintptr_t)a % ps || len == 0 || len > SIZE_MAX - ps ||
        (uintptr_t)a + ((len + ps - 1) & ~(ps - 1)) < (uintptr_t)a) {
        mome_cmd_fail(c, EINVAL, "MomeMUnmap: address %p must be aligned on the Mome page size "
                                 "%zu, and the length non-zero and not wrapping the address "
                                 "space (got %zu)", (void *)a, ps, len);
        return;
    }
    /* Pending modifications are released before the mapping goes. */
    mome_rel_release(munmap_after_release, c);
}

char *mome_segment_check_range(mome_cmd_t *c, const char *call, void *addr, size_t len,
                               char **end)
{
    char *a = addr;
    size_t ps = mome_g.page_size;

    if (len == 0 || (uintptr_t)a + len < (uintptr_t)a) {
        mome_cmd_fail(c, EINVAL, "%s: empty or wrapping range", call);
        return NULL;
    }
    *end = a + len;
    a = (char *)((uintptr_t)a & ~(uintptr_t)(ps - 1));
    for (char *p = a; p < *end; p += ps) {
        if (!mome_view_find(p)) {
            mome_cmd_fail(c, EINVAL, "%s: %p is not in a Mome mapping", call, (void *)p);
            return NULL;
        }
    }
    return a;
}

/* ---- heap segment, setup and teardown ---- */

int mome_segment_heap_create(void *addr, uint64_t size, char *err, size_t errlen)
{
    int rc = 0;
    char why[8];
    use_t *u = seg_local_new(MOME_HEAP_SEG_ID, size, "mome.heap", 0, &rc, why, sizeof(why));
    if (!u && rc == -EFBIG) {
        snprintf(err, errlen,
                 "cannot create the shared heap of %llu MiB: it would take this "
                 "node's Mome memory, a file, past the process's file size limit of %llu KiB: "
                 "raise it (ulimit -f unlimited) or lower MOME_HEAP_SIZE",
                 (unsigned long long)(size >> 20),
                 (unsigned long long)(mome_mem_file_limit() >> 10));
        return -ENOMEM;
    }
    if (!u) {
        snprintf(err, errlen,
                 "cannot create the shared heap of %llu MiB: %s (lower "
                 "MOME_HEAP_SIZE)",
                 (unsigned long long)(size >> 20), strerror(-rc));
        return rc;
    }
    if (!view_new(u->s, addr, size, 0, 1, 1, &rc)) {
        snprintf(err, errlen, "cannot map the shared heap at %p: %s", addr, strerror(-rc));
        return rc;
    }
    return 0;
}

static const mome_field_t open_fields[] = {
    MOME_FIELD(mome_segmsg_t, size, MOME_FK_RAW, 0),
    MOME_FIELD(mome_segmsg_t, token, MOME_FK_RAW, 0),
    MOME_FIELD(mome_segmsg_t, flags, MOME_FK_MASK, MOME_CREATE | MOME_EXCL | MOME_PERSIST),
    MOME_FIELD(mome_segmsg_t, id, MOME_FK_RAW, 0)};
static const mome_field_t reply_fields[] = {MOME_FIELD(mome_segmsg_t, id, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_segmsg_t, size, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_segmsg_t, token, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_segmsg_t, status, MOME_FK_ERRNO, 0)};
static const mome_field_t close_fields[] = {MOME_FIELD(mome_segmsg_t, id, MOME_FK_RAW, 0),
                                            MOME_FIELD(mome_segmsg_t, count, MOME_FK_RAW, 0)};
static const mome_field_t unlink_fields[] = {MOME_FIELD(mome_segmsg_t, token, MOME_FK_RAW, 0),
                                             MOME_FIELD(mome_segmsg_t, status, MOME_FK_ERRNO, 0)};

/* A name: no NUL inside (the length says where it ends). */
static const char *check_name(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    return memchr(m->payload, 0, m->len) ? "segment name" : NULL;
}

/* A reply's text (a failure's cause) comes with a failure only, and holds no NUL. */
static const char *check_why(const mome_msg_t *m, const void *body, const mome_wire_ctx_t *ctx)
{
    const mome_segmsg_t *s = body;
    if (m->flags & MOME_SEGR_PERSIST)
        return s->status < 0 || m->len != 8 ? "persistent segment uid" : NULL;
    if (m->len && (s->status >= 0 || memchr(m->payload, 0, m->len)))
        return "failure text";
    return NULL;
}

static const mome_msg_def_t seg_msgs[] = {
    {.type = MOME_MSG_SEG_OPEN,
     .wire = {"SEG_OPEN", open_fields, 4, MOME_SEGO_HOLD, 1, MOME_SEG_NAME_MAX},
     .body_size = sizeof(mome_segmsg_t),
     .validate = check_name,
     .handler = on_open},
    {.type = MOME_MSG_SEG_OPEN_REPLY,
     .wire = {"SEG_OPEN_REPLY", reply_fields, 4, MOME_SEGR_PERSIST, 0, MOME_SEG_WHY_MAX},
     .body_size = sizeof(mome_segmsg_t),
     .validate = check_why,
     .handler = on_open_reply},
    {.type = MOME_MSG_SEG_CLOSE,
     .wire = {"SEG_CLOSE", close_fields, 2, MOME_SEGC_NOREC, 0, 0},
     .body_size = sizeof(mome_segmsg_t),
     .handler = on_close},
    {.type = MOME_MSG_SEG_UNLINK,
     .wire = {"SEG_UNLINK", unlink_fields, 1, 0, 1, MOME_SEG_NAME_MAX},
     .body_size = sizeof(mome_segmsg_t),
     .validate = check_name,
     .handler = on_unlink},
    {.type = MOME_MSG_SEG_UNLINK_REPLY,
     .wire = {"SEG_UNLINK_REPLY", unlink_fields, 2, 0, 0, MOME_SEG_WHY_MAX},
     .body_size = sizeof(mome_segmsg_t),
     .validate = check_why,
     .handler = on_unlink_reply},
    {.type = MOME_MSG_SEG_DESTROY,
     .wire = {"SEG_DESTROY", close_fields, 1, 0, 0, 0},
     .body_size = sizeof(mome_segmsg_t),
     .handler = on_destroy},
};

/* ---- persistent segments ---- */

struct mome_seg *mome_segment_of(int handle)
{
    use_t *u = by_handle(handle);
    return u ? u->s : NULL;
}

int mome_segment_manager(const char *name)
{
    return name_manager(name);
}

const char *mome_segment_name(uint64_t id)
{
    mome_hnode_t *h = mome_seg_find(id) ? NULL : mome_htab_get(&ids, id, 0);
    return h ? REC_OF_ID(h)->name : mome_seg_name_of(id);
}

struct mome_repo_seg *mome_segment_managed(uint64_t id, const uint64_t **users, int *unlinked)
{
    mome_hnode_t *h = mome_htab_get(&ids, id, 0);
    name_rec_t *r = h ? REC_OF_ID(h) : NULL;
    if (!r || !r->repo)
        return NULL;
    *users = r->users;
    *unlinked = r->unlinked;
    return r->repo;
}

int mome_segment_destroyed(uint64_t id)
{
    uint64_t n = id & ((1ull << 40) - 1);
    return (id >> 40) == (uint64_t)mome_g.rank && n && n <= id_counter &&
           !mome_htab_get(&ids, id, 0);
}

int mome_segment_persistent(uint64_t **local, size_t *nlocal, uint64_t **managed,
                            size_t *nmanaged)
{
    mome_hnode_t *h, *tmp;
    *nlocal = *nmanaged = 0;
    *local = mome_malloc((uses.n + 1) * sizeof(**local));
    *managed = mome_malloc((ids.n + 1) * sizeof(**managed));
    if (!*local || !*managed) {
        free(*local);
        free(*managed);
        return -ENOMEM;
    }
    mome_htab_foreach(&uses, h, tmp)
    {
        use_t *u = (use_t *)h;
        if (mome_store_persistent(u->s->store))
            (*local)[(*nlocal)++] = u->s->id;
    }
    mome_htab_foreach(&ids, h, tmp)
    {
        name_rec_t *r = REC_OF_ID(h);
        if (r->repo)
            (*managed)[(*nmanaged)++] = r->id;
    }
    return 0;
}

int mome_segment_init(void)
{
    if (mome_htab_init(&names, 64) < 0 || mome_htab_init(&ids, 64) < 0 ||
        mome_htab_init(&uses, 64) < 0 || mome_htab_init(&pend, 16) < 0)
        return -ENOMEM;
    id_counter = 0;
    return mome_msg_register(seg_msgs, sizeof(seg_msgs) / sizeof(seg_msgs[0]));
}

/*
 * The job is over: a persistent segment's lock goes with its handle. Its superseded pages are
 * reclaimed first when they outnumber the live ones (nobody reads the segment any more, and a
 * crash during the compaction leaves the last checkpoint: compaction commits like one).
 */
static void rec_fini(name_rec_t *r)
{
    char why[600];
    if (r->repo && !r->unlinked && mome_repo_should_compact(r->repo) &&
        mome_repo_compact(r->repo, why, sizeof(why)) < 0)
        mome_warn("segment", "could not compact segment '%s' (its last checkpoint is intact): %s",
                  r->name, why);
    rec_free(r);
}

void mome_segment_fini(void)
{
    mome_hnode_t *h, *tmp;
    mome_htab_foreach(&uses, h, tmp) seg_local_free((use_t *)h);
    mome_htab_foreach(&ids, h, tmp) rec_fini(REC_OF_ID(h));
    mome_htab_foreach(&pend, h, tmp) free(h);
    while (deferred) {
        deferred_t *d = deferred;
        deferred = d->next;
        free(d);
    }
    mome_htab_free(&uses);
    mome_htab_free(&names);
    mome_htab_free(&ids);
    mome_htab_free(&pend);
    free(handles);
    handles = NULL;
    nhandles = 0;
}
