/*
 * pageout.h - private: the page budget's coherence side (MOME_LOCAL_PAGES). When the store must
 * make room, a victim leaves memory: a copy nobody needs kept (a RELEASE read copy this node does
 * not own, or a stale cached page) is dropped; any other keeps its coherence state untouched and
 * its bytes go elsewhere, to another node with room in its budget or, when none has, to a swap
 * file, and come back on the next access (a fault, or any use of the page's bytes by the
 * protocol). Zero pages travel as a flag. Progress thread only.
 */
#ifndef MOME_COHERENCE_PAGEOUT_H
#define MOME_COHERENCE_PAGEOUT_H

#include <stdint.h>

typedef struct mome_pageout_config {
    uint64_t pages;       /* the budget (0: none, and nothing here runs) */
    double high, low;     /* watermarks, as fractions of it */
    const char *swap_dir; /* where the swap file goes */
    int disk_only;        /* MOME_PAGEOUT=disk: never to other nodes' memory */
} mome_pageout_config_t;

/* Before the node joins the job (no transport, no coherence state): with a budget, can a swap
 * file be made in cfg->swap_dir? 0, or -EINVAL and a message naming MOME_SWAP_DIR and why. */
int mome_pageout_check(const mome_pageout_config_t *cfg, char *err, size_t errlen);
/* Registers PAGEOUT, PAGEOUT_ACK, PAGEIN, PAGEIN_DATA, PAGE_FREE (a node serves other nodes'
 * pages whether or not it has a budget itself); sets the store's budget and pager. */
int mome_pageout_init(const mome_pageout_config_t *cfg, char *err, size_t errlen);
void mome_pageout_fini(void);
/* What this node waits for, if it waits for another node's answer about a page it pages out or
 * in ("node 1's answer to a page-out of page 4 of segment 'x' for 31.0 s"), in buf; its length,
 * 0 if it waits for none. Progress thread. */
size_t mome_pageout_describe(char *buf, size_t len);

#endif
