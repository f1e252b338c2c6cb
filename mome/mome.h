/*
 * mome.h - the public interface of Mome, a user-level distributed shared memory.
 *
 * This is the only installed C header. Every call is thread-safe. Unless stated otherwise a call
 * returns 0 on success, or -1 with errno set and a one-line message readable with MomeError().
 * See mome(3) and doc/user-guide.md for examples.
 */
#ifndef MOME_H
#define MOME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && __GNUC__ >= 4
#define MOME_API __attribute__((visibility("default")))
#else
#define MOME_API
#endif

/** A Lamport date: a scalar clock value carried by every message. */
typedef uint64_t MomeDate;

/** MomeSegOpen() flags. */
#define MOME_CREATE 0x1  /**< create the segment if it does not exist */
#define MOME_EXCL 0x2    /**< with MOME_CREATE: fail with EEXIST if it exists */
#define MOME_PERSIST 0x4 /**< keep the segment in the repository (see MOME_REPOSITORY) */

/** MomeMMap() protections. MOME_WRITE implies MOME_READ. */
#define MOME_READ 0x1
#define MOME_WRITE 0x2

/** MomeMMap() flags. */
#define MOME_FIXED 0x1 /**< map exactly at addr, replacing ordinary memory there */

/** MomeMMap() failure value. */
#define MOME_MAP_FAILED ((void *)-1)

/** Consistency models for MomeConsistency(). */
#define MOME_STRONG 1  /**< sequential consistency, no synchronisation needed */
#define MOME_RELEASE 2 /**< release consistency: visible after release + acquire */
#define MOME_WEAK 3    /**< changes only on MomeSyncMem() */

/** MomeInfoPrint() sections. */
#define MOME_INFO_VERSION 0x1
#define MOME_INFO_TRANSPORTS 0x2
#define MOME_INFO_TOPOLOGY 0x4
#define MOME_INFO_CONFIG 0x8
#define MOME_INFO_ALL 0xf

/**
 * This node's counters, filled by MomeStats(). All counts are since MomeInit().
 * New fields are only ever added at the end, taken from `reserved`.
 */
typedef struct MomeStatsT {
    uint64_t read_faults;            /**< faults that needed read access */
    uint64_t write_faults;           /**< faults that needed write access */
    uint64_t pages_fetched;          /**< page contents received from other nodes */
    uint64_t pages_sent;             /**< page contents sent to other nodes */
    uint64_t msgs_sent;              /**< protocol messages sent to other nodes */
    uint64_t msgs_received;          /**< protocol messages received from other nodes */
    uint64_t bytes_sent;             /**< bytes sent to other nodes (headers and data) */
    uint64_t bytes_received;         /**< bytes received from other nodes */
    uint64_t invalidations_sent;     /**< invalidation requests this node's directory sent */
    uint64_t invalidations_received; /**< copies this node dropped on request */
    uint64_t twins;                  /**< twin copies made for multiple writers */
    uint64_t diffs;                  /**< diffs (page XOR twin) sent */
    uint64_t diff_bytes;             /**< bytes of diffs sent */
    uint64_t syncs;                  /**< MomeSyncMem() calls */
    uint64_t page_outs;              /**< pages paged out (to a node or to disk) */
    uint64_t page_ins;               /**< paged-out pages brought back in */
    uint64_t lock_acquires;          /**< MomeLock() calls that succeeded */
    uint64_t lock_waits;             /**< MomeLock() calls that had to wait for another holder */
    uint64_t lock_wait_ns;           /**< time spent in MomeLock() */
    uint64_t barriers;               /**< MomeBarrier() calls */
    uint64_t barrier_wait_ns;        /**< time spent in MomeBarrier() */
    uint64_t fault_ns;               /**< time from fault notification to resolution */
    uint64_t dir_migrations;         /**< directory entries this node handed to another node */
    uint64_t pages_prefetched;       /**< pages fetched ahead of a read fault (MOME_PREFETCH) */
    uint64_t pages_written_ahead;    /**< pages opened for writing ahead of a write fault */
    uint64_t page_outs_node;         /**< page-outs to another node's memory (MOME_LOCAL_PAGES) */
    uint64_t page_outs_disk;         /**< page-outs to the swap file (MOME_SWAP_DIR) */
    uint64_t evictions;              /**< pages the eviction policy (MOME_EVICT) made leave */
    uint64_t zero_pages_skipped;     /**< pages paged out as a flag: all zeros, no bytes sent */
    uint64_t swap_bytes_written;     /**< bytes written to the swap file */
    uint64_t evictions_waited;       /**< evictions a fault or an arriving page waited for */
    uint64_t resident_pages;         /**< Mome pages in memory now (own and kept for others) */
    uint64_t resident_peak;          /**< the most at once since the counters were reset */
    uint64_t repo_pages_read;        /**< pages read from the repository (MOME_PERSIST) */
    uint64_t repo_pages_written;     /**< pages written to the repository by checkpoints */
    uint64_t reserved[13];
} MomeStatsT;

/* ---- job ---------------------------------------------------------------------------------- */

/**
 * Join the job. Started by mome-run, the node learns its peers from the launcher; started alone it
 * is a one-node job. argc/argv may be NULL; Mome does not consume arguments.
 * Errors: EALREADY (called twice, or after MomeFinalize), EPERM (userfaultfd not permitted),
 * ENOSYS (no userfaultfd), ENOTSUP (kernel older than 5.19), EINVAL (a bad MOME_* value,
 * MOME_PAGE_SIZE differing between nodes, a broken launcher environment), ENOMEM, EIO (transport
 * or launcher).
 */
MOME_API int MomeInit(int *argc, char ***argv);

/** Release everything, wait for the other nodes (collective), leave. Views are unmapped.
 * Errors: ENOTCONN, EBUSY (another thread of this node is in a barrier). */
MOME_API int MomeFinalize(void);

/** This node's number in 0 .. MomeNodes()-1, or -1 (ENOTCONN) before MomeInit(). */
MOME_API int MomeNode(void);

/**
 * Stop the whole job, like MPI_Abort: print `msg` (if not NULL) on stderr (or in MOME_LOG_FILE),
 * ask the launcher to stop every other node with that message, flush this process's output and
 * exit with `status` (1 if its low 8 bits are 0: an abort never exits 0). Usable before
 * MomeInit() (it then only exits). Does not return.
 */
MOME_API void MomeAbort(int status, const char *msg) __attribute__((noreturn));

/** The number of nodes in the job, or -1 (ENOTCONN) before MomeInit(). */
MOME_API int MomeNodes(void);

/**
 * The programs of one job (mome-run -n 2 ./sim : -n 1 ./ana): the index of this node's program
 * on the launcher's command line (0 for the first), this node's rank among the nodes of its
 * program (0 .. MomeAppNodes()-1), and their number. A program's nodes are consecutive nodes of
 * the job. -1 (ENOTCONN) before MomeInit(). Under a PMIx launcher without PMIX_APPNUM the job is
 * one program.
 */
MOME_API int MomeApp(void);
MOME_API int MomeAppNode(void);
MOME_API int MomeAppNodes(void);

/** The coherence unit in bytes (MOME_PAGE_SIZE), valid before MomeInit() too. */
MOME_API size_t MomePageSize(void);

/** The calling thread's message for the last failed Mome call ("" if none). */
MOME_API const char *MomeError(void);

/** The library version, "major.minor.patch". */
MOME_API const char *MomeVersion(void);

/* ---- segments ----------------------------------------------------------------------------- */

/**
 * Open the segment `name` (1..255 bytes) on this node; returns a handle >= 0. With MOME_CREATE a
 * missing segment of `size` bytes (zero-filled) is created; with MOME_EXCL too, an existing one is
 * an error. Opening an existing segment takes size 0 or its exact size. Any node may call it, in
 * any order: every node sees the same segment for the same name. Errors: EINVAL, ENAMETOOLONG,
 * ENOENT, EEXIST, ENOMEM, ENOTCONN; with MOME_PERSIST also EBUSY, EIO, EACCES, ENOTDIR, EPROTO
 * (MomeSegOpen(3)).
 */
MOME_API int MomeSegOpen(const char *name, uint64_t size, int flags);

/** Close a handle. Mappings made through it stay valid. Errors: EBADF. */
MOME_API int MomeSegClose(int seg);

/**
 * Remove the name. The segment's memory is freed once no node has it open or mapped; open handles
 * and mappings keep working meanwhile, and the name can be reused at once. A persistent one leaves
 * the repository (MOME_REPOSITORY).
 * Errors: ENOENT, EINVAL, ENAMETOOLONG, ENOTCONN; for a persistent one, also EBUSY (another job
 * has it open, or momed serves it), EIO, EACCES, ENOTDIR (the repository).
 */
MOME_API int MomeSegUnlink(const char *name);

/**
 * Map `len` bytes of segment `seg` from `offset`. `prot` is MOME_READ or MOME_READ|MOME_WRITE
 * (MOME_WRITE alone means the same). With MOME_FIXED the mapping is placed exactly at `addr`, which
 * with `len` and `offset` must be MomePageSize() aligned, replacing ordinary memory there;
 * overlapping an existing Mome mapping fails with EBUSY. Without it, `addr` is ignored, `offset`
 * must be aligned and `len` is rounded up to whole pages. Returns the address, or MOME_MAP_FAILED
 * with errno set (EINVAL, EBADF, EBUSY, ENOMEM, ENOTCONN). A write through a MOME_READ mapping
 * raises SIGSEGV.
 */
MOME_API void *MomeMMap(void *addr, size_t len, int prot, int flags, int seg, uint64_t offset);

/** Release this node's pending modifications, then unmap whole Mome pages of one or more Mome
 * mappings. Errors: EINVAL (not aligned, or no Mome mapping in the range), ENOMEM, ENOTCONN. */
MOME_API int MomeMUnmap(void *addr, size_t len);

/* ---- consistency -------------------------------------------------------------------------- */

/**
 * Choose this node's consistency model for the mapped pages of [addr, addr+len): MOME_STRONG
 * (default), MOME_RELEASE or MOME_WEAK. Other nodes may use other models on the same pages.
 * Switching to a stronger model makes this node's view current before the call returns.
 * Errors: EINVAL (range not wholly in Mome mappings, bad model), EDEADLK (a lock section of
 * another thread), ENOTCONN; out of memory meanwhile stops the node, naming what it was doing.
 */
MOME_API int MomeConsistency(void *addr, size_t len, int model);

/** This node's current Lamport date (0 before MomeInit). */
MOME_API MomeDate MomeClock(void);

/** Make this node's pending modifications visible (once a node acquires, or syncs, at a date
 * >= the one returned); returns their date (0 on error: ENOTCONN). */
MOME_API MomeDate MomeRelease(void);

/** After it returns, reads in the range see every modification released at a date <= date
 * (STRONG pages always do; RELEASE copies others modified are fetched again if this node used them
 * since its last acquire, dropped otherwise; WEAK copies are refreshed).
 * Errors: EINVAL (range not wholly in Mome mappings), ENOTCONN; out of memory meanwhile stops
 * the node, naming what it was doing. */
MOME_API int MomeSyncMem(void *addr, size_t len, MomeDate date);

/* ---- synchronisation ---------------------------------------------------------------------- */

/**
 * Wait for every node of the job; a release then an acquire. Returns a date greater than every
 * release made before any node entered it, the same on every node (0 on error: ENOTCONN, or
 * EBUSY when another thread of this node is in a barrier). Barriers do not refresh WEAK pages.
 */
MOME_API MomeDate MomeBarrier(void);

/**
 * MomeBarrier() among the nodes of this node's program only (MomeApp()): the same release and
 * acquire, a date above every release made before any of them entered it; the programs of a job
 * may make different numbers of them. 0 on error (ENOTCONN, EBUSY as MomeBarrier()).
 */
MOME_API MomeDate MomeAppBarrier(void);

/** The date the last MomeBarrier() or MomeAppBarrier() returned (0 before the first). */
MOME_API MomeDate MomeLastBarrierDate(void);

/**
 * A pause for loops that wait for another node's write, `while (*flag != v) MomePoll();`: lets
 * this node's progress thread and the other threads of its core run (one sched_yield; nothing
 * when the flag is already set, since it is not called then). Never fails; usable at any time.
 */
MOME_API void MomePoll(void);

/**
 * Job-wide mutual exclusion on lock `id` (any int), held by the calling thread. Lock is an acquire
 * of every modification released by the lock's previous holders. Errors: EDEADLK (this thread
 * holds it already), ENOMEM, ENOTCONN.
 */
MOME_API int MomeLock(int id);

/** Release lock `id`; a release (the call returns once it is complete).
 * Errors: EPERM (the calling thread does not hold it), ENOMEM, ENOTCONN. */
MOME_API int MomeUnlock(int id);

/* ---- shared heap -------------------------------------------------------------------------- */

/**
 * Allocate `size` bytes in the shared heap: the address is the same on every node, so pointers
 * stored in shared memory are valid everywhere. Never sends a message. 16-byte aligned; blocks of
 * more than half a page are page aligned. Returns NULL with errno (ENOMEM, ENOTCONN) on failure.
 */
MOME_API void *MomeMalloc(size_t size);

/** Free a block from MomeMalloc() on any node (another node's block goes back to it). NULL is
 * ignored; a bad pointer is logged once and sets errno (EINVAL) and MomeError(), except one into
 * another node's part: that node logs it, and the caller is not told. */
MOME_API void MomeFree(void *p);

/* ---- repository --------------------------------------------------------------------------- */

/** Collective: write an atomic, checksummed snapshot of a MOME_PERSIST segment.
 * Errors: EBADF, EINVAL (not persistent), ENOSPC, EIO, EDQUOT, EACCES (the previous checkpoint
 * stays), EBUSY, ENOTCONN (MomeCheckpoint(3)). */
MOME_API int MomeCheckpoint(int seg);

/* ---- introspection ------------------------------------------------------------------------ */

/** Fill *s with this node's counters. Errors: EINVAL (NULL), ENOTCONN. */
MOME_API int MomeStats(MomeStatsT *s);

/**
 * Print the sections in `what` (MOME_INFO_*) to file descriptor `fd`: version, the transports UCX
 * offers, the hwloc topology, and every MOME_* knob with its value, default and meaning. Usable
 * before MomeInit(); this is what mome-info prints. A failed write to `fd` fails the call (-1,
 * errno as write(2) set it).
 */
MOME_API int MomeInfoPrint(int fd, int what);

#ifdef __cplusplus
}
#endif

#endif /* MOME_H */
