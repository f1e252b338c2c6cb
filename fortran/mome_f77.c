/*
 * mome_f77.c - the Fortran 77 interface: every Mome call as a subroutine or function taking its
 * arguments by reference, under the linker name configure found (F77_FUNC). A failed call stops the
 * program with a message naming the call and the cause, as MPI's default error handler does.
 */
#include "ac_config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mome.h"

/* The hidden length that follows the other arguments for each CHARACTER argument. */
typedef MOME_F77_STRLEN_T flen_t;

/* The counters MomeStats copies, in the order of the MOME_ST_* indices of mome.fh. */
#define NSTATS 35

#define F77_API MOME_API

/* Every entry point, by its Fortran name: mome.fh declares the types of the functions. */
F77_API void F77_FUNC(momeinit, MOMEINIT)(void);
F77_API void F77_FUNC(momefinalize, MOMEFINALIZE)(void);
F77_API int F77_FUNC(momenode, MOMENODE)(void);
F77_API int F77_FUNC(momenodes, MOMENODES)(void);
F77_API int F77_FUNC(momeapp, MOMEAPP)(void);
F77_API int F77_FUNC(momeappnode, MOMEAPPNODE)(void);
F77_API int F77_FUNC(momeappnodes, MOMEAPPNODES)(void);
F77_API void F77_FUNC(momeappbarrier, MOMEAPPBARRIER)(void);
F77_API int F77_FUNC(momepagesize, MOMEPAGESIZE)(void);
F77_API int F77_FUNC(momesegopen, MOMESEGOPEN)(const char *name, const int *size, const int *flags,
                                               flen_t name_len);
F77_API int F77_FUNC(momesegopen8, MOMESEGOPEN8)(const char *name, const int64_t *size,
                                                 const int *flags, flen_t name_len);
F77_API void F77_FUNC(momesegclose, MOMESEGCLOSE)(const int *seg);
F77_API void F77_FUNC(momesegunlink, MOMESEGUNLINK)(const char *name, flen_t name_len);
F77_API void F77_FUNC(momemmap, MOMEMMAP)(void *a, const int *len, const int *prot,
                                          const int *flags, const int *seg, const int *offset);
F77_API void F77_FUNC(momemmap8, MOMEMMAP8)(void *a, const int64_t *len, const int *prot,
                                            const int *flags, const int *seg,
                                            const int64_t *offset);
F77_API void F77_FUNC(momemunmap, MOMEMUNMAP)(void *a, const int *len);
F77_API void F77_FUNC(momemunmap8, MOMEMUNMAP8)(void *a, const int64_t *len);
F77_API void F77_FUNC(momeconsistency, MOMECONSISTENCY)(void *a, const int *len, const int *model);
F77_API void F77_FUNC(momeconsistency8, MOMECONSISTENCY8)(void *a, const int64_t *len,
                                                          const int *model);
F77_API int64_t F77_FUNC(momeclock, MOMECLOCK)(void);
F77_API int64_t F77_FUNC(momerelease, MOMERELEASE)(void);
F77_API void F77_FUNC(momesyncmem, MOMESYNCMEM)(void *a, const int *len, const int64_t *date);
F77_API void F77_FUNC(momesyncmem8, MOMESYNCMEM8)(void *a, const int64_t *len, const int64_t *date);
F77_API void F77_FUNC(momebarrier, MOMEBARRIER)(void);
F77_API int64_t F77_FUNC(momelastbarrierdate, MOMELASTBARRIERDATE)(void);
F77_API void F77_FUNC(momepoll, MOMEPOLL)(void);
F77_API void F77_FUNC(momelock, MOMELOCK)(const int *id);
F77_API void F77_FUNC(momeunlock, MOMEUNLOCK)(const int *id);
F77_API void F77_FUNC(momestats, MOMESTATS)(int64_t *counts);
F77_API void F77_FUNC(momecheckpoint, MOMECHECKPOINT)(const int *seg);
F77_API void F77_FUNC(momeabort, MOMEABORT)(const int *status, const char *msg, flen_t msg_len);

/* What to do about a COMMON block MomeMMap cannot place a view over; doc/fortran.md explains it. */
static const char hint_align[] =
    "a COMMON block is not aligned on Mome pages by default. Link the program with\n"
    "'momef77 -common NAME ...', which places COMMON /NAME/ on a page boundary and pads it to\n"
    "whole pages (add '-common-align SIZE' when MOME_PAGE_SIZE is above 4096), or compile in the\n"
    "C file that 'momef77 -common-source NAME prog.o' prints; then map the block from its first\n"
    "element. See doc/fortran.md, 'Aligning a COMMON block'.";
static const char hint_length[] =
    "the length of a MOME_FIXED view is a whole number of Mome pages: map the whole block\n"
    "placed by 'momef77 -common NAME', which pads it to whole pages, with its length rounded up\n"
    "to a multiple of MomePageSize(). See doc/fortran.md, 'Aligning a COMMON block'.";
static const char hint_int8[] =
    "a byte count of 2 GiB or more overflows a default INTEGER: use the INTEGER*8 variant of the\n"
    "call (MomeSegOpen8, MomeMMap8, MomeMUnmap8, MomeConsistency8, MomeSyncMem8).";

/* MomeError() without the "Call: " the library starts it with, or errno's text. The library
 * names the C call: MomeMMap for MomeMMap8 (the message said "MomeMMap8(...) failed: MomeMMap:").
 */
static const char *cause_of(const char *call, int err)
{
    const char *m = MomeError();
    size_t n = strlen(call);

    if (n > 1 && call[n - 1] == '8')
        n--;
    if (strncmp(m, call, n) == 0 && m[n] == ':' && m[n + 1] == ' ')
        return m + n + 2;
    return *m ? m : strerror(err);
}

/* Append to buf (size n, used *len) as snprintf would, keeping it NUL-terminated when full. */
static void __attribute__((format(printf, 4, 5)))
add(char *buf, size_t n, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int k;

    if (*len >= n - 1)
        return;
    va_start(ap, fmt);
    k = vsnprintf(buf + *len, n - *len, fmt, ap);
    va_end(ap);
    if (k > 0)
        *len = *len + (size_t)k < n - 1 ? *len + (size_t)k : n - 1;
}

/*
 * Stop the program after a failed call: print the call with its arguments, the cause and a hint
 * on stderr in one write (so that the messages of several nodes do not interleave), then stop the
 * whole job through MomeAbort(1, ...), which also flushes the program's Fortran output. `cause`
 * NULL means MomeError()'s.
 */
static void __attribute__((noreturn, format(printf, 4, 5)))
stop(const char *call, const char *cause, const char *hint, const char *args_fmt, ...)
{
    char args[512], why[512], msg[2048];
    size_t len = 0;
    va_list ap;
    int node;
    static int stopping;

    /* Once per process: threads failing together (an OpenMP loop) each printed their message,
     * and the later ones without the node or the cause, as the first was already stopping it.
     * The others wait to be ended with the process. */
    if (__atomic_exchange_n(&stopping, 1, __ATOMIC_ACQ_REL))
        for (;;)
            pause();
    /* The cause first: MomeNode() before MomeInit() would replace MomeError()'s message. */
    snprintf(why, sizeof(why), "%s", cause ? cause : cause_of(call, errno));
    node = MomeNode();
    va_start(ap, args_fmt);
    vsnprintf(args, sizeof(args), args_fmt, ap);
    va_end(ap);
    if (node >= 0)
        add(msg, sizeof(msg), &len, "mome: node %d: ", node);
    else
        add(msg, sizeof(msg), &len, "mome: ");
    add(msg, sizeof(msg), &len, "%s(%s) failed: %s\n", call, args, why);
    for (const char *h = hint, *nl; h && *h; h = *nl ? nl + 1 : nl) {
        nl = strchr(h, '\n');
        if (!nl)
            nl = h + strlen(h);
        add(msg, sizeof(msg), &len, "mome: %.*s\n", (int)(nl - h), h);
    }
    add(msg, sizeof(msg), &len,
        "mome: stopping the program (an error in a Fortran call is fatal)\n");
    fflush(stdout);
    if (write(2, msg, len) < 0)
        perror("mome");
    /* The other nodes stop at once, told why, instead of noticing a lost node. */
    MomeAbort(1, node >= 0 ? "an error in a Fortran call (see its message above)" : NULL);
}

/* A Fortran CHARACTER argument as a C string: trailing blanks dropped. Free it. */
static char *c_string(const char *call, const char *s, flen_t len)
{
    size_t n = (size_t)len;
    char *c;

    while (n > 0 && s[n - 1] == ' ')
        n--;
    c = malloc(n + 1);
    if (!c)
        stop(call, "out of memory", NULL, "'%.*s'", (int)(n > 64 ? 64 : n), s);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

/* A negative byte count is refused; from a default INTEGER it is usually an overflow. */
#define NEGATIVE(what) ("the " what " is negative")
#define HINT_WIDE(wide) ((wide) ? NULL : hint_int8)

void F77_FUNC(momeinit, MOMEINIT)(void)
{
    if (MomeInit(NULL, NULL) < 0)
        stop("MomeInit", NULL, NULL, "%s", "");
}

void F77_FUNC(momefinalize, MOMEFINALIZE)(void)
{
    if (MomeFinalize() < 0)
        stop("MomeFinalize", NULL, NULL, "%s", "");
}

int F77_FUNC(momenode, MOMENODE)(void)
{
    int r = MomeNode();
    if (r < 0)
        stop("MomeNode", NULL, NULL, "%s", "");
    return r;
}

int F77_FUNC(momenodes, MOMENODES)(void)
{
    int r = MomeNodes();
    if (r < 0)
        stop("MomeNodes", NULL, NULL, "%s", "");
    return r;
}

int F77_FUNC(momeapp, MOMEAPP)(void)
{
    int r = MomeApp();
    if (r < 0)
        stop("MomeApp", NULL, NULL, "%s", "");
    return r;
}

int F77_FUNC(momeappnode, MOMEAPPNODE)(void)
{
    int r = MomeAppNode();
    if (r < 0)
        stop("MomeAppNode", NULL, NULL, "%s", "");
    return r;
}

int F77_FUNC(momeappnodes, MOMEAPPNODES)(void)
{
    int r = MomeAppNodes();
    if (r < 0)
        stop("MomeAppNodes", NULL, NULL, "%s", "");
    return r;
}

int F77_FUNC(momepagesize, MOMEPAGESIZE)(void)
{
    return (int)MomePageSize();
}

static int seg_open(const char *call, const char *name, flen_t name_len, int64_t size, int flags,
                    int wide)
{
    char *c;
    int seg;

    c = c_string(call, name, name_len);
    if (size < 0)
        stop(call, NEGATIVE("size"), HINT_WIDE(wide), "'%s', %lld, %d", c, (long long)size, flags);
    seg = MomeSegOpen(c, (uint64_t)size, flags);
    if (seg < 0)
        stop(call, NULL, NULL, "'%s', %lld, %d", c, (long long)size, flags);
    free(c);
    return seg;
}

int F77_FUNC(momesegopen, MOMESEGOPEN)(const char *name, const int *size, const int *flags,
                                       flen_t name_len)
{
    return seg_open("MomeSegOpen", name, name_len, *size, *flags, 0);
}

int F77_FUNC(momesegopen8, MOMESEGOPEN8)(const char *name, const int64_t *size, const int *flags,
                                         flen_t name_len)
{
    return seg_open("MomeSegOpen8", name, name_len, *size, *flags, 1);
}

void F77_FUNC(momesegclose, MOMESEGCLOSE)(const int *seg)
{
    if (MomeSegClose(*seg) < 0)
        stop("MomeSegClose", NULL, NULL, "%d", *seg);
}

void F77_FUNC(momesegunlink, MOMESEGUNLINK)(const char *name, flen_t name_len)
{
    char *c = c_string("MomeSegUnlink", name, name_len);

    if (MomeSegUnlink(c) < 0)
        stop("MomeSegUnlink", NULL, NULL, "'%s'", c);
    free(c);
}

/* call MomeAbort(status, 'why'): stop the whole job, like MPI_ABORT. */
void F77_FUNC(momeabort, MOMEABORT)(const int *status, const char *msg, flen_t msg_len)
{
    char *c = c_string("MomeAbort", msg, msg_len);
    MomeAbort(*status, c);
}

/*
 * From Fortran a view always goes over the array passed (MOME_FIXED). When the library refuses an
 * unaligned address or length, the message says how to align a COMMON block.
 */
static void mmap_fixed(const char *call, void *a, int64_t len, int prot, int flags, int seg,
                       int64_t off, int wide)
{
    size_t ps = MomePageSize();
    const char *hint = NULL;

    if (len < 0 || off < 0)
        stop(call, len < 0 ? NEGATIVE("length") : NEGATIVE("offset"), HINT_WIDE(wide),
             "%p, %lld, %d, %d, %d, %lld", a, (long long)len, prot, flags, seg, (long long)off);
    if (!(flags & MOME_FIXED))
        stop(call,
             "flags must include MOME_FIXED: from Fortran, the view is placed over the "
             "array passed",
             NULL, "%p, %lld, %d, %d, %d, %lld", a, (long long)len, prot, flags, seg,
             (long long)off);
    if (MomeMMap(a, (size_t)len, prot, flags, seg, (uint64_t)off) != MOME_MAP_FAILED)
        return;
    if (errno == EINVAL && (uintptr_t)a % ps != 0 && (uintptr_t)a % 4096 == 0 && ps > 4096) {
        /* Aligned for 4 KiB, as 'momef77 -common' places a block by default: the program was
         * most likely built that way, and only the alignment is missing. */
        static char hint_page[512];
        snprintf(hint_page, sizeof(hint_page),
                 "the array is aligned on 4096 bytes, as 'momef77 -common NAME' places a COMMON\n"
                 "block by default, but Mome pages are %zu bytes (MOME_PAGE_SIZE): add\n"
                 "'-common-align %zu' (or more) to the momef77 command that links the program.\n"
                 "See doc/fortran.md, 'Aligning a COMMON block'.", ps, ps);
        hint = hint_page;
    } else if (errno == EINVAL && (uintptr_t)a % ps != 0)
        hint = hint_align;
    else if (errno == EINVAL && (uint64_t)len % ps != 0)
        hint = hint_length;
    stop(call, NULL, hint, "%p, %lld, %d, %d, %d, %lld", a, (long long)len, prot, flags, seg,
         (long long)off);
}

void F77_FUNC(momemmap, MOMEMMAP)(void *a, const int *len, const int *prot, const int *flags,
                                  const int *seg, const int *offset)
{
    mmap_fixed("MomeMMap", a, *len, *prot, *flags, *seg, *offset, 0);
}

void F77_FUNC(momemmap8, MOMEMMAP8)(void *a, const int64_t *len, const int *prot, const int *flags,
                                    const int *seg, const int64_t *offset)
{
    mmap_fixed("MomeMMap8", a, *len, *prot, *flags, *seg, *offset, 1);
}

static void munmap_range(const char *call, void *a, int64_t len, int wide)
{
    if (len < 0)
        stop(call, NEGATIVE("length"), HINT_WIDE(wide), "%p, %lld", a, (long long)len);
    if (MomeMUnmap(a, (size_t)len) < 0)
        stop(call, NULL, NULL, "%p, %lld", a, (long long)len);
}

void F77_FUNC(momemunmap, MOMEMUNMAP)(void *a, const int *len)
{
    munmap_range("MomeMUnmap", a, *len, 0);
}

void F77_FUNC(momemunmap8, MOMEMUNMAP8)(void *a, const int64_t *len)
{
    munmap_range("MomeMUnmap8", a, *len, 1);
}

static void consistency(const char *call, void *a, int64_t len, int model, int wide)
{
    if (len < 0)
        stop(call, NEGATIVE("length"), HINT_WIDE(wide), "%p, %lld, %d", a, (long long)len, model);
    if (MomeConsistency(a, (size_t)len, model) < 0)
        stop(call, NULL, NULL, "%p, %lld, %d", a, (long long)len, model);
}

void F77_FUNC(momeconsistency, MOMECONSISTENCY)(void *a, const int *len, const int *model)
{
    consistency("MomeConsistency", a, *len, *model, 0);
}

void F77_FUNC(momeconsistency8, MOMECONSISTENCY8)(void *a, const int64_t *len, const int *model)
{
    consistency("MomeConsistency8", a, *len, *model, 1);
}

int64_t F77_FUNC(momeclock, MOMECLOCK)(void)
{
    return (int64_t)MomeClock();
}

/* MomeRelease and MomeBarrier return 0 on failure; a successful one returns a date > 0. */
int64_t F77_FUNC(momerelease, MOMERELEASE)(void)
{
    MomeDate d = MomeRelease();
    if (d == 0)
        stop("MomeRelease", NULL, NULL, "%s", "");
    return (int64_t)d;
}

static void sync_mem(const char *call, void *a, int64_t len, int64_t date, int wide)
{
    if (len < 0)
        stop(call, NEGATIVE("length"), HINT_WIDE(wide), "%p, %lld, %lld", a, (long long)len,
             (long long)date);
    if (MomeSyncMem(a, (size_t)len, (MomeDate)date) < 0)
        stop(call, NULL, NULL, "%p, %lld, %lld", a, (long long)len, (long long)date);
}

void F77_FUNC(momesyncmem, MOMESYNCMEM)(void *a, const int *len, const int64_t *date)
{
    sync_mem("MomeSyncMem", a, *len, *date, 0);
}

void F77_FUNC(momesyncmem8, MOMESYNCMEM8)(void *a, const int64_t *len, const int64_t *date)
{
    sync_mem("MomeSyncMem8", a, *len, *date, 1);
}

void F77_FUNC(momebarrier, MOMEBARRIER)(void)
{
    if (MomeBarrier() == 0)
        stop("MomeBarrier", NULL, NULL, "%s", "");
}

void F77_FUNC(momeappbarrier, MOMEAPPBARRIER)(void)
{
    if (MomeAppBarrier() == 0)
        stop("MomeAppBarrier", NULL, NULL, "%s", "");
}

int64_t F77_FUNC(momelastbarrierdate, MOMELASTBARRIERDATE)(void)
{
    return (int64_t)MomeLastBarrierDate();
}

void F77_FUNC(momepoll, MOMEPOLL)(void)
{
    MomePoll();
}

void F77_FUNC(momelock, MOMELOCK)(const int *id)
{
    if (MomeLock(*id) < 0)
        stop("MomeLock", NULL, NULL, "%d", *id);
}

void F77_FUNC(momeunlock, MOMEUNLOCK)(const int *id)
{
    if (MomeUnlock(*id) < 0)
        stop("MomeUnlock", NULL, NULL, "%d", *id);
}

/* Fill counts(1..MOME_NSTATS) with this node's counters, in the order of MomeStatsT. */
void F77_FUNC(momestats, MOMESTATS)(int64_t *counts)
{
#define F(name) offsetof(MomeStatsT, name)
    static const size_t field[NSTATS] = {F(read_faults),
                                         F(write_faults),
                                         F(pages_fetched),
                                         F(pages_sent),
                                         F(msgs_sent),
                                         F(msgs_received),
                                         F(bytes_sent),
                                         F(bytes_received),
                                         F(invalidations_sent),
                                         F(invalidations_received),
                                         F(twins),
                                         F(diffs),
                                         F(diff_bytes),
                                         F(syncs),
                                         F(page_outs),
                                         F(page_ins),
                                         F(lock_acquires),
                                         F(lock_waits),
                                         F(lock_wait_ns),
                                         F(barriers),
                                         F(barrier_wait_ns),
                                         F(fault_ns),
                                         F(dir_migrations),
                                         F(pages_prefetched),
                                         F(pages_written_ahead),
                                         F(page_outs_node),
                                         F(page_outs_disk),
                                         F(evictions),
                                         F(zero_pages_skipped),
                                         F(swap_bytes_written),
                                         F(evictions_waited),
                                         F(resident_pages),
                                         F(resident_peak),
                                         F(repo_pages_read),
                                         F(repo_pages_written)};
#undef F
    MomeStatsT s;

    if (MomeStats(&s) < 0)
        stop("MomeStats", NULL, NULL, "%s", "counts");
    for (int i = 0; i < NSTATS; i++)
        counts[i] = (int64_t) * (const uint64_t *)((const char *)&s + field[i]);
}

void F77_FUNC(momecheckpoint, MOMECHECKPOINT)(const int *seg)
{
    if (MomeCheckpoint(*seg) < 0)
        stop("MomeCheckpoint", NULL, NULL, "%d", *seg);
}
