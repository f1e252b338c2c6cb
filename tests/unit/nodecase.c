/*
 * nodecase.c - see nodecase.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/stats.h"
#include "coherence/requester.h"
#include "memory/view.h"
#include "nodecase.h"

#define MAXVIEWS 8

static int up;
static mome_view_t *views[MAXVIEWS];
static int nviews;

void nc_up(int nnodes, int self)
{
    ck_assert_int_eq(testnode_up(nnodes, self, 0), 0);
    up = 1;
    mome_coh.prefetch = 0; /* the read-ahead tests ask for it */
}

void nc_down(void)
{
    if (!up)
        return;
    for (int i = 0; i < nviews; i++) {
        mome_view_remove(views[i]);
        mome_seg_detach(views[i]->seg, views[i]);
        munmap(views[i]->addr, views[i]->len);
        free(views[i]);
    }
    nviews = 0;
    testnode_down();
    up = 0;
}

mome_view_t *nc_view(mome_seg_t *s)
{
    mome_view_t *v = calloc(1, sizeof(*v));
    ck_assert_ptr_nonnull(v);
    ck_assert_int_lt(nviews, MAXVIEWS);
    v->len = s->size;
    v->addr = mmap(NULL, v->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ck_assert_ptr_ne(v->addr, MAP_FAILED);
    v->writable = 1;
    ck_assert_int_eq(mome_view_insert(v), 0);
    mome_seg_attach(s, v);
    views[nviews++] = v;
    return v;
}

void nc_deliver(int type, int flags, int from, const void *body, const void *payload, uint32_t len)
{
    msgtest_reset();
    ck_assert_int_eq(msgtest_deliver(type, flags, from, body, payload, len), 0);
}

void nc_fault_at(char *addr, int write)
{
    mome_req_fault(addr, write, mome_now_ns());
}

void nc_fault(mome_seg_t *s, uint64_t page, int write)
{
    nc_fault_at(testnode_addr(s, page), write);
}

const mome_msg_t *nc_msg(int type, int to)
{
    const mome_msg_t *m = msgtest_find(type, to);
    ck_assert_msg(m != NULL, "no %s sent to node %d", mome_msg_name(type), to);
    return m;
}

void nc_grant(mome_seg_t *s, uint64_t page, int flags, uint32_t rights, uint32_t acks, int mgr,
              uint32_t owner)
{
    mome_grant_t g = {.seg = s->id,
                      .page = page,
                      .owner = owner,
                      .mgr = (uint32_t)mgr,
                      .acks = acks,
                      .rights = rights};
    nc_deliver(MOME_MSG_GRANT, flags, mgr, &g, NULL, 0);
}

void nc_data(mome_seg_t *s, uint64_t page, int from, int mgr, uint32_t rights, uint32_t acks,
             uint64_t ver, const void *bytes)
{
    mome_data_t d = {.seg = s->id,
                     .page = page,
                     .mgr = (uint32_t)mgr,
                     .acks = acks,
                     .rights = rights,
                     .ver = ver};
    nc_deliver(MOME_MSG_DATA, MOME_DATA_GRANT, from, &d, bytes, NC_PAGE);
}

static void held(mome_seg_t *s, uint64_t page, int write)
{
    mome_page_t *pg = mome_seg_pg(s, page);
    ck_assert_int_eq(pg->flags & MOME_PG_BUSY, 0);
    ck_assert_int_eq(pg->access, write ? MOME_ACC_WRITE : MOME_ACC_READ);
    msgtest_reset();
}

void nc_ack_ver(int from, uint64_t seg, uint64_t page, uint64_t ver)
{
    mome_batch_t b = {0};
    ck_assert_int_eq(mome_batch_notice(&b, seg, page, ver), 0);
    nc_deliver(MOME_MSG_NOTICE_ACK, 0, from, NULL, b.buf, (uint32_t)b.len);
    mome_batch_free(&b);
}

void nc_ack_page(int from, uint64_t seg, uint64_t page)
{
    mome_seg_t *s = mome_seg_page(seg, page);
    ck_assert_ptr_nonnull(s);
    nc_ack_ver(from, seg, page, mome_seg_pg(s, page)->ver + 1);
}

void nc_hold_zero(mome_seg_t *s, uint64_t page, int write, uint32_t rights)
{
    int mgr = mome_seg_manager(s, page);
    nc_fault(s, page, write);
    nc_grant(s, page, MOME_GRANT_ZERO, rights, 0, mgr, 0);
    held(s, page, write);
}

void nc_hold_data(mome_seg_t *s, uint64_t page, int write, uint32_t rights, int from,
                  const void *bytes, uint64_t ver)
{
    int mgr = mome_seg_manager(s, page);
    nc_fault(s, page, write);
    nc_data(s, page, from, mgr, rights, 0, ver, bytes);
    held(s, page, write);
}

void nc_pattern(uint8_t *buf, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 12345;
    for (int i = 0; i < NC_PAGE; i++) {
        x = x * 1103515245u + 12345;
        buf[i] = (uint8_t)((x >> 16) | 1);
    }
}

int nc_listed(const mome_plist_t *l, uint64_t seg, uint64_t page)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].seg == seg && l->v[i].page == page;
    return n;
}

int nc_entries(int kind, const mome_msg_t *m, mome_entry_t *out, int max)
{
    mome_entry_t e;
    int n = 0;
    MOME_BATCH_FOREACH(kind, m, e)
    {
        ck_assert_int_lt(n, max);
        out[n++] = e;
    }
    return n;
}

/* Under valgrind, a child's exit status is valgrind's (--error-exitcode, leaks found at exit,
 * mome_exit's alarm during the leak check): only its message and its not going on count. */
static int under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* The child's exit: the fake memory goes first, or valgrind's leak check would scan its arena. */
static void child_exit(void)
{
    fake_memory_release();
}

void nc_expect_death(void (*fn)(void *), void *arg, const char *msg)
{
    char out[8192];
    size_t n = 0;
    ssize_t r;
    int fds[2], st;

    ck_assert_int_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        atexit(child_exit);
        fn(arg);
        fprintf(stderr, "(went on)\n");
        _exit(99); /* the parent reports it */
    }
    close(fds[1]);
    while (n < sizeof(out) - 1 && (r = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = 0;
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(!strstr(out, "(went on)"), "the node was not stopped; it said: %s", out);
    ck_assert_msg(under_valgrind() || (WIFEXITED(st) && WEXITSTATUS(st) == 1),
                  "the node was not stopped by mome_die (status %#x); it said: %s", st, out);
    ck_assert_msg(strstr(out, msg) != NULL, "the node stopped saying \"%s\", not \"%s\"", out, msg);
}
