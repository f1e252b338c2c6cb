/*
 * segment.h - private: segment names (job-wide), handles, and MomeMMap/MomeMUnmap.
 *
 * A segment's name lives with its name manager (a hash of the name), which assigns the job-wide
 * id and counts which nodes use it, so any node may open any name in any order. On each node a
 * segment is a coherence-layer record (coherence/seg.h) with views (memory/view.h) into it; this
 * file adds what the API needs: handles and the counts that say when a node stops using it.
 * Progress thread only.
 */
#ifndef MOME_CORE_SEGMENT_H
#define MOME_CORE_SEGMENT_H

#include <stdint.h>

#include "core/cmd.h"
#include "core/job.h"

/* Registers SEG_OPEN, SEG_OPEN_REPLY, SEG_CLOSE, SEG_UNLINK, SEG_UNLINK_REPLY, SEG_DESTROY. */
int mome_segment_init(void);
/* Unmaps every view and frees every segment (the node is leaving). */
void mome_segment_fini(void);

/* Commands: MomeSegOpen, MomeSegClose, MomeSegUnlink, MomeMMap, MomeMUnmap. */
void mome_segment_cmd_open(mome_cmd_t *c);
void mome_segment_cmd_close(mome_cmd_t *c);
/* Progress thread, every round: the SEG_CLOSEs that waited for this node's transactions on their
 * segment, sent once those are over (finishing: MomeFinalize's last round began, and they are
 * dropped: the job ends). */
void mome_segment_poll(int finishing);
void mome_segment_cmd_unlink(mome_cmd_t *c);
void mome_segment_cmd_mmap(mome_cmd_t *c);
void mome_segment_cmd_munmap(mome_cmd_t *c);

/* ---- persistent segments (core/checkpoint.c) ---- */

struct mome_seg;
struct mome_repo_seg;

/* The segment of a handle (NULL: not open here), and the node managing its name (a checkpoint's
 * coordinator). */
struct mome_seg *mome_segment_of(int handle);
int mome_segment_manager(const char *name);
/* A segment's name for messages: from this node's record of it, else from the name record when
 * this node manages its name (a checkpoint's coordinator need not have it open), else
 * "(not open here)" (mome_seg_name_of). */
const char *mome_segment_name(uint64_t id);
/* Name manager: the repository segment of a persistent segment it manages (NULL if none), the
 * nodes that have it (a bitmap of MomeNodes() bits) and whether it was unlinked. */
struct mome_repo_seg *mome_segment_managed(uint64_t id, const uint64_t **users, int *unlinked);
/* Name manager: segment id was this node's and has been destroyed (unlinked, then closed
 * everywhere): a node that had not heard yet may still name it. */
int mome_segment_destroyed(uint64_t id);
/* Name manager: fn(id) is called when a persistent segment's name record goes (unlinked, then
 * closed everywhere), before its SEG_DESTROYs: a checkpoint of it under way ends. */
void mome_segment_on_destroy(void (*fn)(uint64_t id));
/*
 * A checkpoint of segment id runs on this node (from mome_checkpoint_check, or the final one's
 * start, until its delta is written): this node's SEG_CLOSE of it waits for
 * mome_segment_ckpt_end. Its gathering asks other nodes for pages, and no request for a segment
 * may leave a node after its SEG_CLOSE: that close may be the last one, which destroys the segment
 * job-wide while the request or its answer is on its way. Nothing if this node has no record of
 * it; a segment closed here already (its SEG_CLOSE gone) stays closed (MomeFinalize's checkpoint
 * holds it first: mome_segment_hold).
 */
void mome_segment_ckpt_begin(uint64_t id);
void mome_segment_ckpt_end(uint64_t id);
/*
 * MomeFinalize's checkpoint of segment id, which this node closed (its SEG_CLOSE sent; between
 * mome_segment_ckpt_begin and _end): its name manager counts an open of it for this node again,
 * so that no last close destroys it while the checkpoint asks other nodes for its pages; the
 * hold ends with mome_segment_ckpt_end. Returns 0 if there is nothing to ask (the segment is open
 * here, or gone), else 1, and c completes later: 0 once held, 1 if the segment was unlinked (or
 * destroyed) before, which leaves nothing to save. name (its name) must stay until then.
 */
int mome_segment_hold(uint64_t id, const char *name, mome_cmd_t *c);
/* This node's persistent segments (ids of its records), and those whose name it manages; arrays
 * malloc'd (free them). -ENOMEM. */
int mome_segment_persistent(uint64_t **local, size_t *nlocal, uint64_t **managed,
                            size_t *nmanaged);

/* Create the shared heap segment mapped at addr on every node (MomeInit, collective). */
int mome_segment_heap_create(void *addr, uint64_t size, char *err, size_t errlen);

/*
 * Check that [addr, addr+len) lies wholly inside Mome mappings (for MomeSyncMem and
 * MomeConsistency): returns its first Mome page address and sets *end, or NULL after failing c
 * with a message naming `call`.
 */
char *mome_segment_check_range(mome_cmd_t *c, const char *call, void *addr, size_t len,
                               char **end);

#endif
