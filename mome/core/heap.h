/*
 * heap.h - private: the allocator behind MomeMalloc/MomeFree.
 *
 * The shared heap is one segment mapped at the same address on every node and split into one
 * partition per node, so allocation never needs a message and blocks of different nodes never share
 * a page. Each node keeps the metadata of its own partition in private memory (never in the shared
 * pages, so the allocator itself causes no page traffic). A block freed by another node is sent to
 * its owner. Any thread may call these; a mutex protects the partition's metadata and is never held
 * while touching shared pages.
 */
#ifndef MOME_CORE_HEAP_H
#define MOME_CORE_HEAP_H

#include <stddef.h>
#include <stdint.h>

/* base/size: the whole heap (all partitions); page_size: the Mome page. */
int mome_heap_init(char *base, uint64_t size, int nnodes, int self, size_t page_size);
void mome_heap_fini(void);

/* Allocate from this node's partition: 16-byte aligned, page aligned for blocks >= one page.
 * Returns NULL with *err = -ENOMEM when the partition is exhausted, -ENOTCONN once the heap is
 * down (MomeFinalize). size 0 gives a unique block. Any thread. */
void *mome_heap_alloc(size_t size, int *err);

/* The node whose partition holds p, -1 if p is outside the heap, -ENOTCONN once it is down. */
int mome_heap_owner(const void *p);

/* Free a block of this node's partition. -EINVAL if p is not the start of a live block,
 * -ENOTCONN once the heap is down. */
int mome_heap_free_local(const void *p);

/* Offset of p in the heap and back (for HEAP_FREE messages). */
uint64_t mome_heap_offset(const void *p);
void *mome_heap_at(uint64_t offset);

/* Progress thread: register HEAP_FREE. */
int mome_heap_msg_init(void);
/* Progress thread: MomeFree of another node's block (u.heap_free, posted): this node's writes are
 * released first, then the block goes back to its owner. */
struct mome_cmd;
void mome_heap_cmd_free(struct mome_cmd *c);

/* Bytes of this node's partition (MOME_HEAP_SIZE / nodes, in whole pages). */
uint64_t mome_heap_share(void);
/* Bytes currently allocated from this node's partition (tests, statistics). */
uint64_t mome_heap_in_use(void);

#endif
