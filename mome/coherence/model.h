/*
 * model.h - private: a consistency model is one file implementing this table: the contract the
 * directory keeps for a node's copy under the model, and what the node does with the copy at an
 * acquire, at a MomeSyncMem and when it switches to the model. STRONG, RELEASE and WEAK are
 * model_strong.c, model_release.c and model_weak.c; doc/design.md shows how to add one. What the
 * models share (faults, twins, releases of written pages) is in requester.c, owner.c and copy.c.
 * Progress thread only.
 */
#ifndef MOME_COHERENCE_MODEL_H
#define MOME_COHERENCE_MODEL_H

#include <stdint.h>

#include "coherence/op.h"

struct mome_seg;

typedef struct mome_model {
    int id;           /* MOME_STRONG, ... (mome.h): what MomeConsistency and the wire name */
    const char *name;
    int strength;     /* switching to a stronger model first makes this node's view current */

    /* The contract the directory keeps for a copy held under this model. */
    unsigned single_writer : 1; /* no other writer while the copy is valid: a write is exclusive,
                                   and a request turns a multiple-writer page single-writer */
    unsigned invalidated : 1;   /* the copy is taken back before another node writes under a
                                   single-writer model (else it just goes stale) */
    unsigned notified : 1;      /* the copy gets stale notices of released changes */
    unsigned stops_writer : 1;  /* a read copy needs an exclusive writer to stop writing */
    unsigned pushed : 1;        /* the owner pushes new versions at its release */

    /*
     * A stale notice dated at or before an acquire's date is due for this copy (it lacks a
     * released change): bring the copy up to date, holding op for any request. Returns 1 to keep
     * the notice pending instead (a copy that changes only when asked).
     */
    int (*acquire)(struct mome_seg *s, uint64_t page, mome_op_t *op);
    /* MomeSyncMem reached this page (after its notices were applied as at an acquire). */
    void (*sync)(struct mome_seg *s, uint64_t page, mome_op_t *op);
    /* The node switched a page it holds to this model (its own writes released) from a weaker
     * one, or from an invalidated one to one that is not (release.c must_enter). */
    void (*enter)(struct mome_seg *s, uint64_t page, mome_op_t *op);
} mome_model_t;

extern const mome_model_t mome_model_strong, mome_model_release, mome_model_weak;

/* The ids of the models, as a bit mask (bit id set), for the decoder's checks. */
uint32_t mome_model_mask(void);
/* The model with this id, or NULL (an id from the application or a peer is checked here). */
const mome_model_t *mome_model_get(int id);
/* A page's model (mome_page_t.model, 0 = STRONG). */
const mome_model_t *mome_model_of_id(uint8_t id);

#endif
