/*
 * trace.h - private: the page-traffic trace (MOME_TRACE). Each event (a fault, a fetch, an
 * invalidation, a diff, a page-out, a lock, a barrier...) is one fixed-size record, with its time
 * and Lamport date, put in a per-node ring in memory; the progress thread writes the ring to the
 * node's file in large pieces (once it is half full, and at MomeFinalize or exit), so recording
 * costs a clock read and a 40-byte store, never a system call per event.
 *
 * Any thread may record (a spin lock keeps producers apart; in practice the progress thread does
 * everything traced). The file format below is also described in doc/trace.md; runtime/mome-trace
 * reads it, so this header stands alone (stdint only).
 */
#ifndef MOME_BASE_TRACE_H
#define MOME_BASE_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* ---- the file: a header, then records until the end of the file (host byte order: x86-64 and
 * aarch64 are little-endian; a reader that finds version byte-swapped refuses the file) ---- */

#define MOME_TRACE_MAGIC "MOMETRC" /* with its NUL: 8 bytes */
#define MOME_TRACE_VERSION 1
#define MOME_TRACE_NONE 0xffff   /* peer: no other node */
#define MOME_TRACE_NAME_MAX 255  /* bytes of a segment's name (MOME_TR_SEG_NAME) */
#define MOME_TRACE_NAME_CHUNK 12 /* bytes of it per record */

typedef struct mome_trace_hdr {
    char magic[8];      /* MOME_TRACE_MAGIC */
    uint32_t version;   /* MOME_TRACE_VERSION */
    uint32_t hdr_size;  /* bytes before the first record (128) */
    uint32_t rec_size;  /* bytes per record (40); a reader skips what it does not know */
    uint32_t node;      /* this file's node */
    uint32_t nnodes;    /* nodes in the job */
    uint32_t page_size; /* MomePageSize() */
    uint64_t mono_ns;   /* CLOCK_MONOTONIC when the trace began (records' clock) */
    uint64_t real_ns;   /* CLOCK_REALTIME at that instant: aligns files from several machines */
    uint32_t pid;
    uint32_t reserved0;
    char host[64];
    uint64_t job; /* the job's (a hash of its key; 0: not known): mome-trace mixes no two jobs */
} mome_trace_hdr_t;

typedef struct mome_trace_rec {
    uint64_t ns;   /* CLOCK_MONOTONIC, nanoseconds */
    uint64_t date; /* this node's Lamport date at the event */
    uint64_t seg;  /* segment id (0 for locks and barriers) */
    uint64_t page; /* page in the segment; the lock's id; the barrier's number */
    uint32_t arg;  /* bytes moved (FETCH, DIFF_*, PAGE_OUT, PAGE_IN); LOCK_*: the request; else 0 */
    uint16_t peer; /* the other node, or MOME_TRACE_NONE */
    uint8_t kind;  /* MOME_TR_* */
    uint8_t flags; /* MOME_TRF_* */
} mome_trace_rec_t;

_Static_assert(sizeof(mome_trace_hdr_t) == 128, "trace header layout");
_Static_assert(sizeof(mome_trace_rec_t) == 40, "trace record layout");

/* Event kinds. New kinds are only ever appended; a reader skips kinds it does not know. */
enum mome_trace_kind {
    MOME_TR_FAULT = 1,  /* an application thread faulted on the page (WRITE) */
    MOME_TR_REQUEST,    /* this node asked the page's manager (peer) for it (WRITE, AHEAD) */
    MOME_TR_FETCH,      /* the page's content arrived from peer (arg: bytes) */
    MOME_TR_ZERO,       /* the manager (peer) granted a page no node held: zeros, no transfer */
    MOME_TR_INV,        /* this node dropped its copy, invalidated for peer's write */
    MOME_TR_FLUSH,      /* the manager (peer) flushed this node's copy: changes released, the
                           copy dropped (DROP) or kept read-only */
    MOME_TR_DIFF_SEND,  /* this node's changes to the page sent to its owner (peer) (arg: bytes) */
    MOME_TR_DIFF_MERGE, /* a writer's (peer) diff merged into the master held here (arg: bytes) */
    MOME_TR_EVICT,      /* the eviction policy made the page leave this node's memory */
    MOME_TR_PAGE_OUT,   /* page-out to node peer, or to the swap file (DISK); ZERO: as a flag */
    MOME_TR_PAGE_IN,    /* a paged-out page came back from peer or the swap file (DISK) */
    MOME_TR_LOCK_REQ,   /* MomeLock asked lock `page` of its manager (peer) */
    MOME_TR_LOCK_GOT,   /* lock `page` granted (WAITED: after another holder) */
    MOME_TR_LOCK_REL,   /* MomeUnlock released lock `page` */
    MOME_TR_BAR_ENTER,  /* this node entered barrier `page` (its release done) */
    MOME_TR_BAR_EXIT,   /* barrier `page` ended (date: the barrier's date) */
    MOME_TR_GRANT,      /* the manager (peer) granted the page without content: this node's copy
                           is up to date (an upgrade to write) */
    MOME_TR_DROP,       /* this node dropped its unused read copy at an acquire and told the
                           page's manager (peer) */
    MOME_TR_UNSHARE,    /* the manager (peer) said no other node holds the page: this owner stops
                           tracking its writes and pushing its versions */
    MOME_TR_SEG_NAME,   /* not an event: segment `seg` is named; its name's bytes 12 k to 12 k + 11
                           (k = flags) are in page (8) then arg (4); it ends at its first NUL, or
                           at MOME_TRACE_NAME_MAX bytes */
    MOME_TR_SYNC,       /* MomeSyncMem asked the page's manager (peer) whether this node's copy
                           is current (arg: the copy's version, low 32 bits; WAITED: the call
                           waited first for a request of the page or for this node's diffs) */
    MOME_TR_DECLINED,   /* the manager (peer) declined a STRONG write asked ahead: a node holds
                           the page, which stays as it was here */
    MOME_TR_NKINDS
};

/* Flags of a record. */
enum {
    MOME_TRF_WRITE = 0x01,  /* FAULT, REQUEST: write access */
    MOME_TRF_AHEAD = 0x02,  /* REQUEST: read-ahead, no thread waits */
    MOME_TRF_DISK = 0x04,   /* PAGE_OUT, PAGE_IN: the swap file, not a node */
    MOME_TRF_ZERO = 0x08,   /* PAGE_OUT, PAGE_IN: a zero page, sent as a flag */
    MOME_TRF_DROP = 0x10,   /* FLUSH: the copy was dropped */
    MOME_TRF_WAITED = 0x20, /* LOCK_GOT: waited for another holder; SYNC: see above */
    MOME_TRF_FULL = 0x40,   /* DIFF_*: the whole page, not runs */
    MOME_TRF_PUSH = 0x80,   /* FETCH: a new version the owner pushed at its release */
};

/* ---- recording ---- */

extern int mome_trace_on; /* a trace is being recorded (read on every traced event) */
/* mome_trace_on, read by any thread while another may set it (a relaxed load: a plain move). */
static inline int mome_tracing(void)
{
    return __atomic_load_n(&mome_trace_on, __ATOMIC_RELAXED);
}

/*
 * Start recording: create the file (path with %n, %p, %h expanded), write its header, set up a
 * ring of nrec records (0: the default, 65536, 2.5 MiB; rounded up to a power of two). On failure
 * returns -errno, logs why, and records nothing. Flushes at exit if MomeFinalize is not reached.
 */
int mome_trace_open(const char *path, int node, int nnodes, uint32_t page_size, size_t nrec);
/* The job's identity for the next mome_trace_open's header (never the key itself). */
void mome_trace_set_job(uint64_t job);
/* Record one event (use MOME_TR: it costs one test when no trace is on). peer < 0: none. */
void mome_trace_event(int kind, uint64_t seg, uint64_t page, int peer, uint32_t arg, int flags);
/* Record a segment's name (MOME_TR_SEG_NAME records, not logged), when it comes to this node. */
void mome_trace_seg_name(uint64_t seg, const char *name);
/* The ring is half full or more: the progress thread should write it out (mome_trace_flush). */
int mome_trace_due(void);
/* Write every record in the ring to the file (one or two writes). */
void mome_trace_flush(void);
/* Flush, close the file, free the ring. */
void mome_trace_close(void);
/* Also log each event as one debug line (MOME_LOG_LEVEL=debug), naming segments with seg_name
 * (called on the recording thread; NULL or a NULL result: the id), until the stop call. */
void mome_trace_log_start(const char *(*seg_name)(uint64_t seg));
void mome_trace_log_stop(void);

#define MOME_TR(_kind, _seg, _page, _peer, _arg, _flags)                                           \
    do {                                                                                           \
        if (__builtin_expect(mome_tracing(), 0))                                                   \
            mome_trace_event((_kind), (_seg), (_page), (_peer), (_arg), (_flags));                 \
    } while (0)

#endif
