/*
 * testnode.c - see testnode.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "base/clock.h"
#include "base/log.h"
#include "coherence/coherence.h"
#include "core/checkpoint.h"
#include "core/heap.h"
#include "core/job.h"
#include "core/segment.h"
#include "core/sync.h"
#include "memory/view.h"
#include "testnode.h"

#define MAXSEGS 16

static struct {
    mome_seg_t *s;
    mome_view_t *v;
} segs[MAXSEGS];
static int nsegs;

int testnode_up(int nnodes, int self, int migrate)
{
    mome_coh_config_t cc = {.page_size = 4096, .nnodes = nnodes, .self = self,
                            .dir_migrate = migrate,
                            .prefetch = 7};
    char err[256];
    int rc;

    mome_log_level = MOME_LOG_ERROR;
    /* A fresh node's clock: without CK_FORK (gdb, valgrind) the tests share one process, and a
     * clock left by an earlier test is past the dates a later one's peers send. */
    mome_clock_reset(0);
    mome_g.rank = self;
    mome_g.nnodes = nnodes;
    mome_g.page_size = 4096;
    mome_g.page_shift = 12;
    fake_memory_use();
    msgtest_setup(nnodes, self, 4096);
    if ((rc = mome_coh_init(&cc, err, sizeof(err))) < 0 || (rc = mome_segment_init()) < 0 ||
        (rc = mome_sync_init()) < 0 || (rc = mome_heap_msg_init()) < 0 ||
        (rc = mome_checkpoint_init()) < 0) {
        fprintf(stderr, "testnode: %s (%d)\n", err, rc);
        return rc;
    }
    nsegs = 0;
    return 0;
}

void testnode_down(void)
{
    for (int i = 0; i < nsegs; i++) {
        mome_view_remove(segs[i].v);
        mome_seg_detach(segs[i].s, segs[i].v);
        munmap(segs[i].v->addr, segs[i].v->len);
        free(segs[i].v);
        mome_seg_free(segs[i].s);
    }
    nsegs = 0;
    mome_segment_fini();
    mome_checkpoint_fini();
    mome_sync_fini();
    mome_coh_fini();
    mome_view_fini();
    msgtest_teardown();
    fake_memory_release();
}

mome_seg_t *testnode_segment(uint64_t id, uint64_t npages)
{
    int err;
    char name[32];
    if (nsegs == MAXSEGS)
        return NULL;
    snprintf(name, sizeof(name), "test%llu", (unsigned long long)id);
    mome_seg_t *s = mome_seg_new(id, npages * 4096, name, &mome_store_mem, &err);
    mome_view_t *v = calloc(1, sizeof(*v));
    if (!s || !v)
        return NULL;
    v->len = npages * 4096;
    v->addr = mmap(NULL, v->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    v->writable = 1;
    if (v->addr == MAP_FAILED || mome_view_insert(v) < 0)
        return NULL;
    mome_seg_attach(s, v);
    segs[nsegs].s = s;
    segs[nsegs].v = v;
    nsegs++;
    return s;
}

char *testnode_addr(mome_seg_t *s, uint64_t page)
{
    return mome_seg_view_addr(s->views, page);
}
