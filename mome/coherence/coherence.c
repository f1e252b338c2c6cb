/*
 * coherence.c - the layer's start and stop: every part in dependency order.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coherence/ckptflag.h"
#include "coherence/coherence.h"
#include "coherence/copy.h"
#include "coherence/directory.h"
#include "coherence/holder.h"
#include "coherence/owner.h"
#include "coherence/pageout.h"
#include "coherence/release.h"
#include "coherence/requester.h"
#include "coherence/seg.h"
#include "coherence/served.h"
#include "memory/fault.h"

static int finishing; /* MomeFinalize's quiesce round has begun */

static void pageout_config(const mome_coh_config_t *cfg, mome_pageout_config_t *pc)
{
    *pc = (mome_pageout_config_t){.pages = cfg->budget,
                                  .high = cfg->high,
                                  .low = cfg->low,
                                  .swap_dir = cfg->swap_dir,
                                  .disk_only = cfg->pageout_disk};
}

int mome_coh_check(const mome_coh_config_t *cfg, char *err, size_t errlen)
{
    mome_pageout_config_t pc;
    pageout_config(cfg, &pc);
    return mome_pageout_check(&pc, err, errlen);
}

int mome_coh_init(const mome_coh_config_t *cfg, char *err, size_t errlen)
{
    int rc;

    finishing = 0;
    mome_coh.page_size = cfg->page_size;
    mome_coh.page_shift = (unsigned)__builtin_ctzl(cfg->page_size);
    mome_coh.nnodes = cfg->nnodes;
    mome_coh.self = cfg->self;
    mome_coh.prefetch = cfg->prefetch;
    mome_coh.outstanding = 0;
    mome_coh.woke = 0;
    rc = mome_store_init(cfg->page_size, cfg->budget ? (cfg->evict ? cfg->evict : "fifo") : NULL);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set up the page store: %s", strerror(-rc));
        return rc;
    }
    if ((rc = mome_seg_init()) < 0 || (rc = mome_txn_init()) < 0 || (rc = mome_copy_init()) < 0 ||
        (rc = mome_dir_init(cfg->nnodes, cfg->self, cfg->dir_migrate)) < 0 ||
        (rc = mome_req_init()) < 0 || (rc = mome_holder_init()) < 0 ||
        (rc = mome_rel_init()) < 0 || (rc = mome_ckpt_init()) < 0 ||
        (rc = mome_served_init()) < 0) {
        snprintf(err, errlen, "cannot set up the coherence layer: %s", strerror(-rc));
        return rc;
    }
    mome_pageout_config_t pc;
    pageout_config(cfg, &pc);
    if ((rc = mome_pageout_init(&pc, err, errlen)) < 0)
        return rc;
    mome_fault_set_handler(mome_req_fault);
    return 0;
}

void mome_coh_fini(void)
{
    mome_fault_set_handler(NULL);
    mome_pageout_fini();
    mome_ckpt_fini();
    mome_served_fini();
    mome_rel_fini();
    mome_req_fini();
    mome_dir_fini();
    mome_seg_fini();
    mome_txn_fini();
    mome_copy_fini();
    mome_store_fini();
}

void mome_coh_seg_destroyed(uint64_t seg)
{
    mome_dir_forget_seg(seg);
}

void mome_coh_seg_free(mome_seg_t *s)
{
    mome_req_forget_seg(s->id);
    mome_seg_free(s);
}

int mome_coh_seg_requests(const mome_seg_t *s)
{
    return mome_txn_count_seg(s->id);
}

int mome_coh_seg_unreleased(const mome_seg_t *s)
{
    return mome_rel_seg_unreleased(s);
}

void mome_coh_seg_closed(mome_seg_t *s)
{
    s->closed = 1;
}

void mome_coh_seg_reopened(mome_seg_t *s)
{
    mome_rel_seg_reopened(s);
}

int mome_coh_outstanding(void)
{
    return mome_coh.outstanding;
}

int mome_coh_awaited(void)
{
    int n = mome_coh.outstanding - mome_txn_unawaited_count();
    return n > 0 ? n : 0;
}

void mome_coh_finishing(void)
{
    finishing = 1;
}

int mome_coh_idle(void)
{
    return finishing ? 0 : mome_store_trim();
}

int mome_coh_take_woke(void)
{
    int w = mome_coh.woke;
    mome_coh.woke = 0;
    return w;
}

size_t mome_coh_describe_faults(char *buf, size_t len)
{
    size_t n = mome_req_describe_faults(buf, len);
    if (n + 2 < len) { /* the pager's wait, if any: its answer holds every other message */
        size_t m = mome_pageout_describe(buf + n + (n ? 2 : 0), len - n - (n ? 2 : 0));
        if (m && n)
            memcpy(buf + n, "; ", 2);
        n += m ? m + (n ? 2 : 0) : 0;
    }
    return n;
}
