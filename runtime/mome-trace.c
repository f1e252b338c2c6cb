/*
 * mome-trace.c - reads the per-node trace files a job wrote (MOME_TRACE) and draws its page
 * traffic: an SVG picture (pages against time, coloured by node, with faults, page-outs and
 * barriers marked), Chrome/Perfetto trace-event JSON, or a per-node summary of counts. Links
 * nothing of the library: the file format is base/trace.h's.
 */
#include "ac_config.h"
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/trace.h"

/* ---- reading ---- */

typedef struct tfile {
    const char *path;
    mome_trace_hdr_t h;
    uint64_t offset; /* added to a record's ns (modulo 2^64: it may be "negative") to put it on
                        the job's common time line */
} tfile_t;

typedef struct ev {
    uint64_t t; /* ns since the start of the job's trace */
    mome_trace_rec_t r;
    uint32_t node;
    uint32_t seq; /* order within its file: keeps a node's events in order at equal times */
} ev_t;

static tfile_t *files;
static int nfiles;
static ev_t *evs;
static size_t nevs, evcap;
static uint32_t nnodes; /* node numbers run 0 .. nnodes-1 */
static uint64_t t_end;  /* the last event's time */
static const char *prog = "mome-trace";

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        die("out of memory");
    return p;
}

/*
 * Segment names: the MOME_TR_SEG_NAME records each node wrote when a segment came to it. Their
 * chunks are kept as read, then sorted into one name per segment (make_names) for lookups by
 * binary search: a file may name many segments.
 */
typedef struct name_chunk {
    uint64_t seg;
    uint32_t k; /* the chunk's number: bytes 12 k to 12 k + 11 of the name */
    char b[MOME_TRACE_NAME_CHUNK];
} name_chunk_t;
static name_chunk_t *chunks;
static size_t nchunks, cap_chunks;

typedef struct segname {
    uint64_t seg;
    char name[MOME_TRACE_NAME_MAX + 1];
} segname_t;
static segname_t *names;
static size_t nnames;

static void note_name(const mome_trace_rec_t *r)
{
    if ((size_t)r->flags * MOME_TRACE_NAME_CHUNK >= MOME_TRACE_NAME_MAX)
        return; /* not a chunk of a name: skipped, as an unknown kind would be */
    if (nchunks == cap_chunks) {
        cap_chunks = cap_chunks ? cap_chunks * 2 : 256;
        chunks = xrealloc(chunks, cap_chunks * sizeof(*chunks));
    }
    name_chunk_t *c = &chunks[nchunks++];
    c->seg = r->seg;
    c->k = r->flags;
    memcpy(c->b, &r->page, 8);
    memcpy(c->b + 8, &r->arg, 4);
}

static int cmp_chunk(const void *a, const void *b)
{
    const name_chunk_t *x = a, *y = b;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

static void make_names(void)
{
    if (!nchunks)
        return;
    qsort(chunks, nchunks, sizeof(*chunks), cmp_chunk);
    names = xrealloc(NULL, nchunks * sizeof(*names));
    for (size_t i = 0; i < nchunks; i++) {
        if (!nnames || names[nnames - 1].seg != chunks[i].seg) {
            memset(&names[nnames], 0, sizeof(names[nnames]));
            names[nnames++].seg = chunks[i].seg;
        }
        size_t off = (size_t)chunks[i].k * MOME_TRACE_NAME_CHUNK;
        size_t n = MOME_TRACE_NAME_MAX - off < sizeof(chunks[i].b) ? MOME_TRACE_NAME_MAX - off
                                                                   : sizeof(chunks[i].b);
        memcpy(names[nnames - 1].name + off, chunks[i].b, n);
    }
    free(chunks);
    chunks = NULL;
    nchunks = cap_chunks = 0;
}

static int cmp_name(const void *key, const void *elem)
{
    uint64_t seg = *(const uint64_t *)key, other = ((const segname_t *)elem)->seg;
    return seg < other ? -1 : seg > other;
}

/* A segment's name, or NULL when no file named it (a trace of an older Mome). */
static const char *seg_name(uint64_t seg)
{
    const segname_t *n = nnames ? bsearch(&seg, names, nnames, sizeof(*names), cmp_name) : NULL;
    return n && n->name[0] ? n->name : NULL;
}

static void read_file(tfile_t *f)
{
    FILE *in = fopen(f->path, "rb");
    unsigned char buf[4096];
    size_t got, partial = 0;
    uint32_t seq = 0;

    if (!in)
        die("cannot open %s: %s", f->path, strerror(errno));
    got = fread(&f->h, 1, sizeof(f->h), in);
    if (got < 32 || memcmp(f->h.magic, MOME_TRACE_MAGIC, sizeof(f->h.magic)) != 0)
        die("%s is not a Mome trace file (MOME_TRACE writes them)", f->path);
    if (f->h.version != MOME_TRACE_VERSION)
        die("%s is a trace of format version %" PRIu32 " (of another byte order, or newer than "
            "this mome-trace, which reads version %d)",
            f->path, f->h.version, MOME_TRACE_VERSION);
    if (got < sizeof(f->h) || f->h.hdr_size < sizeof(f->h) ||
        f->h.rec_size < sizeof(mome_trace_rec_t) || f->h.rec_size > sizeof(buf) ||
        f->h.nnodes == 0 || f->h.nnodes > MOME_TRACE_NONE || f->h.node >= f->h.nnodes)
        die("%s: damaged header (record size %" PRIu32 ", node %" PRIu32 " of %" PRIu32 ")",
            f->path, f->h.rec_size, f->h.node, f->h.nnodes);
    if (fseek(in, (long)f->h.hdr_size, SEEK_SET) < 0)
        die("%s: %s", f->path, strerror(errno));
    while ((got = fread(buf, 1, f->h.rec_size, in)) > 0) {
        if (got < f->h.rec_size) {
            partial = got;
            break;
        }
        mome_trace_rec_t r;
        memcpy(&r, buf, sizeof(r));
        if (r.kind == MOME_TR_SEG_NAME) {
            note_name(&r);
            continue;
        }
        if (nevs == evcap) {
            evcap = evcap ? evcap * 2 : 4096;
            evs = xrealloc(evs, evcap * sizeof(*evs));
        }
        ev_t *e = &evs[nevs++];
        e->r = r;
        e->node = f->h.node;
        e->seq = seq++;
    }
    if (ferror(in))
        die("cannot read %s: %s", f->path, strerror(errno));
    if (partial)
        fprintf(stderr,
                "%s: %s ends with %zu bytes of a record (the node stopped while writing "
                "it): ignored\n",
                prog, f->path, partial);
    fclose(in);
}

static int cmp_ev(const void *a, const void *b)
{
    const ev_t *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Read every file, put all events on one time line (0: the first event) and sort them. Files of one
 * machine share CLOCK_MONOTONIC: their records are compared as they are. Files of several machines
 * are aligned by the CLOCK_REALTIME each took with its start (as good as the machines' clock sync).
 */
static void load(char **paths, int n)
{
    int one_host = 1;
    uint64_t t0 = UINT64_MAX;

    files = xrealloc(NULL, (size_t)n * sizeof(*files));
    nfiles = n;
    for (int i = 0; i < n; i++) {
        size_t first = nevs;
        files[i].path = paths[i];
        read_file(&files[i]);
        for (size_t k = first; k < nevs; k++)
            evs[k].seq = (uint32_t)(k - first);
        if (strncmp(files[i].h.host, files[0].h.host, sizeof(files[i].h.host)) != 0)
            one_host = 0;
        /* Files of another job (a run.2.trace an earlier, larger job left) were drawn as part
         * of this one (helper-106). Older files say no job (0). */
        if ((files[i].h.job && files[0].h.job && files[i].h.job != files[0].h.job) ||
            files[i].h.nnodes != files[0].h.nnodes)
            die("%s and %s are traces of two different jobs (%s): give the files of one job",
                files[0].path, files[i].path,
                files[i].h.nnodes != files[0].h.nnodes ? "of different sizes" : "different keys");
        for (int j = 0; j < i; j++)
            if (files[j].h.node == files[i].h.node)
                die("%s and %s are both traces of node %" PRIu32 " (of two jobs?)", files[j].path,
                    files[i].path, files[i].h.node);
        if (files[i].h.nnodes > nnodes)
            nnodes = files[i].h.nnodes;
    }
    for (int i = 0; i < n; i++)
        files[i].offset = one_host ? 0 : files[i].h.real_ns - files[i].h.mono_ns;
    /* Each event's file: events were appended file by file. */
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        for (; k < nevs && evs[k].node == files[i].h.node; k++) {
            evs[k].t = evs[k].r.ns + files[i].offset; /* unsigned: a damaged file wraps, no UB */
            if (evs[k].t < t0)
                t0 = evs[k].t;
        }
    }
    if (t0 == UINT64_MAX) /* no event at all */
        t0 = 0;
    for (k = 0; k < nevs; k++)
        evs[k].t -= t0;
    if (nevs) /* qsort of a NULL array, even empty, is undefined */
        qsort(evs, nevs, sizeof(*evs), cmp_ev);
    make_names();
    t_end = nevs ? evs[nevs - 1].t : 0;
}

static const char *const kind_names[MOME_TR_NKINDS] = {
    [MOME_TR_FAULT] = "fault",
    [MOME_TR_REQUEST] = "request",
    [MOME_TR_FETCH] = "fetch",
    [MOME_TR_ZERO] = "zero",
    [MOME_TR_INV] = "invalidation",
    [MOME_TR_FLUSH] = "flush",
    [MOME_TR_DIFF_SEND] = "diff_sent",
    [MOME_TR_DIFF_MERGE] = "diff_merged",
    [MOME_TR_EVICT] = "eviction",
    [MOME_TR_PAGE_OUT] = "page_out",
    [MOME_TR_PAGE_IN] = "page_in",
    [MOME_TR_LOCK_REQ] = "lock_request",
    [MOME_TR_LOCK_GOT] = "lock_granted",
    [MOME_TR_LOCK_REL] = "lock_release",
    [MOME_TR_BAR_ENTER] = "barrier_enter",
    [MOME_TR_BAR_EXIT] = "barrier_exit",
    [MOME_TR_GRANT] = "grant",
    [MOME_TR_DROP] = "drop",
    [MOME_TR_UNSHARE] = "unshare",
    [MOME_TR_SYNC] = "sync",
    [MOME_TR_DECLINED] = "declined",
};

static const char *kind_name(int k)
{
    return k > 0 && k < MOME_TR_NKINDS && kind_names[k] ? kind_names[k] : NULL;
}

/* Events about a page of a segment (the others are locks and barriers). */
static int is_page_event(int k)
{
    return (k >= MOME_TR_FAULT && k <= MOME_TR_PAGE_IN) || k == MOME_TR_GRANT ||
           k == MOME_TR_DROP || k == MOME_TR_UNSHARE || k == MOME_TR_SYNC || k == MOME_TR_DECLINED;
}

/* ---- summary ---- */

static int summary(FILE *out)
{
    enum { FAULT_R = MOME_TR_NKINDS, FAULT_W, NCOUNT };
    uint64_t(*c)[NCOUNT] = xrealloc(NULL, nnodes * sizeof(*c));
    uint64_t unknown = 0;

    memset(c, 0, nnodes * sizeof(*c));
    for (size_t i = 0; i < nevs; i++) {
        int k = evs[i].r.kind;
        if (!kind_name(k)) {
            unknown++;
            continue;
        }
        c[evs[i].node][k]++;
        if (k == MOME_TR_FAULT)
            c[evs[i].node][evs[i].r.flags & MOME_TRF_WRITE ? FAULT_W : FAULT_R]++;
    }
    fprintf(out, "trace of %" PRIu32 " node(s), %d file(s), %zu events over %.6f s\n", nnodes,
            nfiles, nevs, (double)t_end / 1e9);
    for (int f = 0; f < nfiles; f++) {
        uint32_t n = files[f].h.node;
        fprintf(out,
                "node %" PRIu32 ": host=%.64s pid=%" PRIu32 " fault_read=%" PRIu64
                " fault_write=%" PRIu64,
                n, files[f].h.host, files[f].h.pid, c[n][FAULT_R], c[n][FAULT_W]);
        for (int k = MOME_TR_REQUEST; k < MOME_TR_NKINDS; k++)
            if (kind_names[k]) /* not MOME_TR_SEG_NAME, which names, and is no event */
                fprintf(out, " %s=%" PRIu64, kind_names[k], c[n][k]);
        fputc('\n', out);
    }
    if (unknown)
        fprintf(out, "%" PRIu64 " events of kinds this mome-trace does not know (newer library)\n",
                unknown);
    free(c);
    return 0;
}

/* ---- Perfetto / Chrome trace-event JSON ---- */

/* A string from a file (a host name) as JSON string content. */
/*
 * Bytes of a valid UTF-8 sequence at s (1 to 4, within avail bytes), or 0: a byte that XML and
 * JSON text may not hold as it is. Stops at a NUL (no continuation byte).
 */
static int utf8_len(const unsigned char *s, size_t avail)
{
    int n = s[0] < 0x80                    ? 1
            : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
            : s[0] >= 0xe0 && s[0] <= 0xef ? 3
            : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
                                           : 0;
    if ((size_t)n > avail)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (n == 3 && s[0] == 0xef && s[1] == 0xbf && s[2] >= 0xbe) ||
        (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
        return 0; /* overlong, a surrogate, U+FFFE/FFFF, beyond U+10FFFF */
    return n;
}

/* s (at most max bytes) as JSON string content: valid UTF-8 as it is, other bytes as U+FFFD. */
static void json_str(FILE *out, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < max && u[i];) {
        int n = utf8_len(u + i, max - i);
        if (u[i] == '"' || u[i] == '\\')
            fprintf(out, "\\%c", u[i]);
        else if (u[i] < 0x20 || u[i] == 0x7f)
            fprintf(out, "\\u%04x", u[i]);
        else if (n == 0)
            fputs("\\ufffd", out);
        else
            fwrite(u + i, 1, (size_t)n, out);
        i += n > 1 ? (size_t)n : 1;
    }
}

static void json_ts(FILE *out, uint64_t ns)
{
    fprintf(out, "%" PRIu64 ".%03u", ns / 1000, (unsigned)(ns % 1000));
}

enum { TID_FAULTS = 1, TID_COHERENCE, TID_SYNC, TID_PAGING };

static int tid_of(int k)
{
    switch (k) {
    case MOME_TR_FAULT:
    case MOME_TR_REQUEST:
    case MOME_TR_FETCH:
    case MOME_TR_GRANT:
    case MOME_TR_ZERO:
    case MOME_TR_DECLINED:
        return TID_FAULTS;
    case MOME_TR_EVICT:
    case MOME_TR_PAGE_OUT:
    case MOME_TR_PAGE_IN:
        return TID_PAGING;
    case MOME_TR_LOCK_REQ:
    case MOME_TR_LOCK_GOT:
    case MOME_TR_LOCK_REL:
    case MOME_TR_BAR_ENTER:
    case MOME_TR_BAR_EXIT:
        return TID_SYNC;
    default:
        return TID_COHERENCE;
    }
}

static void json_args(FILE *out, const ev_t *e)
{
    const mome_trace_rec_t *r = &e->r;
    fprintf(out, "\"args\":{\"date\":%" PRIu64, r->date);
    if (is_page_event(r->kind)) {
        fprintf(out, ",\"seg\":\"%#" PRIx64 "\"", r->seg);
        if (seg_name(r->seg)) {
            fputs(",\"segment\":\"", out);
            json_str(out, seg_name(r->seg), MOME_TRACE_NAME_MAX);
            fputc('"', out);
        }
        fprintf(out, ",\"page\":%" PRIu64, r->page);
    } else if (r->kind >= MOME_TR_LOCK_REQ && r->kind <= MOME_TR_LOCK_REL)
        fprintf(out, ",\"lock\":%" PRIu64, r->page);
    else
        fprintf(out, ",\"barrier\":%" PRIu64, r->page);
    if (r->peer != MOME_TRACE_NONE)
        fprintf(out, ",\"peer\":%u", r->peer);
    if (r->arg && r->kind >= MOME_TR_LOCK_REQ && r->kind <= MOME_TR_LOCK_REL)
        fprintf(out, ",\"request\":%" PRIu32, r->arg);
    else if (r->arg)
        fprintf(out, ",\"bytes\":%" PRIu32, r->arg);
    if (r->flags) {
        static const char *const fl[] = {"write", "ahead",  "disk", "zero",
                                         "drop",  "waited", "full", "push"};
        fputs(",\"flags\":\"", out);
        for (int b = 0, first = 1; b < 8; b++) {
            if (r->flags & (1u << b)) {
                fprintf(out, "%s%s", first ? "" : "|", fl[b]);
                first = 0;
            }
        }
        fputc('"', out);
    }
    fputc('}', out);
}

/* A map from (node, segment, page) to a time, for the spans open while reading events in order:
 * open addressing, entries never removed (UINT64_MAX: nothing open). */
typedef struct slot {
    uint64_t seg, page, t;
    uint32_t node, used;
} slot_t;

typedef struct tmap {
    slot_t *v;
    size_t cap, n;
} tmap_t;

static uint64_t *tmap_at(tmap_t *m, uint32_t node, uint64_t seg, uint64_t page)
{
    if (2 * (m->n + 1) > m->cap) {
        tmap_t g = {xrealloc(NULL, (m->cap ? m->cap * 2 : 1024) * sizeof(slot_t)),
                    m->cap ? m->cap * 2 : 1024, 0};
        memset(g.v, 0, g.cap * sizeof(slot_t));
        for (size_t i = 0; i < m->cap; i++)
            if (m->v[i].used)
                *tmap_at(&g, m->v[i].node, m->v[i].seg, m->v[i].page) = m->v[i].t;
        free(m->v);
        *m = g;
    }
    uint64_t h = (seg * 0x9e3779b97f4a7c15ull) ^ (page * 0xc2b2ae3d27d4eb4full) ^ node;
    h ^= h >> 29;
    for (size_t i = (size_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        slot_t *sl = &m->v[i];
        if (!sl->used) {
            *sl = (slot_t){seg, page, UINT64_MAX, node, 1};
            m->n++;
            return &sl->t;
        }
        if (sl->node == node && sl->seg == seg && sl->page == page)
            return &sl->t;
    }
}

/*
 * For each event that opens a span, the index of the event that closes it (or SIZE_MAX), in one
 * pass: a request closes at its page's arrival (FETCH not pushed, or ZERO), a lock wait at its
 * grant, a lock hold at its release, a barrier at its exit; the same span opened again before it
 * closed drops the first.
 */
#define NS_LOCK_WAIT (UINT64_MAX - 1)
#define NS_LOCK_HOLD (UINT64_MAX - 2)
#define NS_BARRIER (UINT64_MAX - 3)

static size_t *match_spans(void)
{
    size_t *end = xrealloc(NULL, (nevs + 1) * sizeof(*end));
    tmap_t open = {0};
    for (size_t i = 0; i < nevs; i++) {
        const ev_t *e = &evs[i];
        uint64_t ns = e->r.seg, *at;
        int k = e->r.kind, opens = 0, closes = 0;
        end[i] = SIZE_MAX;
        switch (k) {
        case MOME_TR_REQUEST:
            opens = 1;
            break;
        case MOME_TR_FETCH:
            closes = !(e->r.flags & MOME_TRF_PUSH);
            break;
        case MOME_TR_ZERO:
        case MOME_TR_GRANT:
        case MOME_TR_DECLINED:
            closes = 1;
            break;
        case MOME_TR_LOCK_REQ:
            ns = NS_LOCK_WAIT;
            opens = 1;
            break;
        case MOME_TR_LOCK_GOT:
            ns = NS_LOCK_WAIT;
            closes = 1;
            break;
        case MOME_TR_LOCK_REL:
            ns = NS_LOCK_HOLD;
            closes = 1;
            break;
        case MOME_TR_BAR_ENTER:
            ns = NS_BARRIER;
            opens = 1;
            break;
        case MOME_TR_BAR_EXIT:
            ns = NS_BARRIER;
            closes = 1;
            break;
        default:
            continue;
        }
        /* A lock's records carry their request's token (0 in older files): the requests of
         * several threads of one node for one lock are told apart (helper-106). */
        if (k == MOME_TR_LOCK_REQ || k == MOME_TR_LOCK_GOT || k == MOME_TR_LOCK_REL)
            ns ^= (uint64_t)e->r.arg << 32;
        at = tmap_at(&open, e->node, ns, e->r.page);
        if (closes && *at != UINT64_MAX) {
            end[*at] = i;
            *at = UINT64_MAX;
        }
        if (opens)
            *at = i;
        if (k == MOME_TR_LOCK_GOT) /* a grant also opens the hold */
            *tmap_at(&open, e->node, NS_LOCK_HOLD ^ (uint64_t)e->r.arg << 32, e->r.page) = i;
    }
    free(open.v);
    return end;
}

static int perfetto(FILE *out)
{
    static const char *const tname[] = {"", "faults and fetches", "coherence", "locks and barriers",
                                        "page-out"};
    int first = 1;
    unsigned long id = 0;
    size_t *end = match_spans();

    fputs("{\"displayTimeUnit\":\"ns\",\"otherData\":{\"generator\":\"mome-trace\"},"
          "\"traceEvents\":[\n",
          out);
#define SEP() (first ? (void)(first = 0) : (void)fputs(",\n", out))
    for (int f = 0; f < nfiles; f++) {
        uint32_t n = files[f].h.node;
        SEP();
        fprintf(out,
                "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%" PRIu32 ",\"tid\":0,"
                "\"args\":{\"name\":\"node %" PRIu32 " (",
                n, n);
        json_str(out, files[f].h.host, sizeof(files[f].h.host));
        fprintf(out, ", pid %" PRIu32 ")\"}}", files[f].h.pid);
        SEP();
        fprintf(out,
                "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%" PRIu32
                ",\"tid\":0,\"args\":{\"sort_index\":%" PRIu32 "}}",
                n, n);
        for (int t = TID_FAULTS; t <= TID_PAGING; t++) {
            SEP();
            fprintf(out,
                    "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu32 ",\"tid\":%d,"
                    "\"args\":{\"name\":\"%s\"}}",
                    n, t, tname[t]);
        }
    }
    for (size_t i = 0; i < nevs; i++) {
        const ev_t *e = &evs[i], *x;
        int k = e->r.kind;
        const char *name = kind_name(k);
        if (!name || k == MOME_TR_BAR_EXIT || k == MOME_TR_LOCK_REL)
            continue; /* unknown, or the end of a span drawn from its start */
        SEP();
        if (k == MOME_TR_BAR_ENTER || k == MOME_TR_LOCK_GOT || k == MOME_TR_REQUEST ||
            k == MOME_TR_LOCK_REQ) {
            /* Spans: a barrier (entered to left), a lock wait and hold, a fetch. Fetches and locks
             * overlap one another: async spans, each on its own track. */
            x = end[i] == SIZE_MAX ? NULL : &evs[end[i]];
            uint64_t dur = x ? x->t - e->t : 0;
            char label[64];
            if (k == MOME_TR_BAR_ENTER)
                snprintf(label, sizeof(label), "barrier %" PRIu64, e->r.page);
            else if (k == MOME_TR_LOCK_GOT)
                snprintf(label, sizeof(label), "lock %" PRIu64 " held", e->r.page);
            else if (k == MOME_TR_LOCK_REQ)
                snprintf(label, sizeof(label), "lock %" PRIu64 " wait", e->r.page);
            else
                snprintf(label, sizeof(label), "%s %" PRIu64,
                         e->r.flags & MOME_TRF_AHEAD ? "read-ahead" : "fetch", e->r.page);
            if (k == MOME_TR_BAR_ENTER) {
                fprintf(out,
                        "{\"name\":\"%s\",\"cat\":\"barrier\",\"ph\":\"X\",\"pid\":%" PRIu32
                        ",\"tid\":%d,\"ts\":",
                        label, e->node, tid_of(k));
                json_ts(out, e->t);
                fputs(",\"dur\":", out);
                json_ts(out, dur);
                fputc(',', out);
                json_args(out, e);
                fputc('}', out);
                continue;
            }
            const char *cat = k == MOME_TR_REQUEST ? "fetch" : "lock";
            id++;
            fprintf(out,
                    "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"b\",\"id\":%lu,\"pid\":%" PRIu32
                    ",\"tid\":%d,\"ts\":",
                    label, cat, id, e->node, tid_of(k));
            json_ts(out, e->t);
            fputc(',', out);
            json_args(out, e);
            fputs("},\n", out);
            fprintf(out,
                    "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"e\",\"id\":%lu,\"pid\":%" PRIu32
                    ",\"tid\":%d,\"ts\":",
                    label, cat, id, e->node, tid_of(k));
            json_ts(out, x ? x->t : e->t);
            fputc('}', out);
            continue;
        }
        fprintf(out,
                "{\"name\":\"%s%s\",\"cat\":\"%s\",\"ph\":\"i\",\"s\":\"t\",\"pid\":%" PRIu32
                ",\"tid\":%d,\"ts\":",
                name, k == MOME_TR_FAULT ? (e->r.flags & MOME_TRF_WRITE ? " write" : " read") : "",
                name, e->node, tid_of(k));
        json_ts(out, e->t);
        fputc(',', out);
        json_args(out, e);
        fputc('}', out);
    }
#undef SEP
    free(end);
    fputs("\n]}\n", out);
    return 0;
}

/* ---- SVG ---- */

/* Page rows: every (segment, page) some event names, in order; grouped into ranges when there
 * are more than max_rows. */
typedef struct key {
    uint64_t seg, page;
} pkey_t;

static pkey_t *keys;
static size_t nkeys, per_row, nrows;

static int cmp_key(const void *a, const void *b)
{
    const pkey_t *x = a, *y = b;
    if (x->seg != y->seg)
        return x->seg < y->seg ? -1 : 1;
    return x->page < y->page ? -1 : x->page > y->page;
}

static void make_rows(size_t max_rows)
{
    size_t n = 0;
    keys = xrealloc(NULL, (nevs + 1) * sizeof(*keys));
    for (size_t i = 0; i < nevs; i++)
        if (is_page_event(evs[i].r.kind))
            keys[n++] = (pkey_t){evs[i].r.seg, evs[i].r.page};
    qsort(keys, n, sizeof(*keys), cmp_key);
    nkeys = 0;
    for (size_t i = 0; i < n; i++)
        if (!nkeys || cmp_key(&keys[nkeys - 1], &keys[i]))
            keys[nkeys++] = keys[i];
    per_row = nkeys > max_rows ? (nkeys + max_rows - 1) / max_rows : 1;
    nrows = (nkeys + per_row - 1) / per_row;
}

static size_t row_of(uint64_t seg, uint64_t page)
{
    pkey_t k = {seg, page};
    size_t lo = 0, hi = nkeys;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp_key(&keys[mid], &k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo / per_row;
}

/* A colour per node: Tableau's ten, then hues around the circle. */
static void node_colour(uint32_t n, char *out, size_t len)
{
    static const char *const ten[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                      "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    if (n < 10)
        snprintf(out, len, "%s", ten[n]);
    else
        snprintf(out, len, "hsl(%u,65%%,45%%)", (unsigned)((n * 137) % 360));
}

/* Time ticks: a step of 1, 2 or 5 times a power of ten giving about `want` ticks. */
static double tick_step(double span, int want)
{
    double raw = span / want, p = pow(10, floor(log10(raw)));
    return raw / p < 1.5 ? p : raw / p < 3.5 ? 2 * p : raw / p < 7.5 ? 5 * p : 10 * p;
}

typedef struct svgcfg {
    int width;        /* pixels */
    size_t max_rows;  /* page rows before grouping into ranges */
    size_t max_marks; /* marks drawn one by one before they are binned */
} svgcfg_t;

/* Layout, in pixels. */
static double X0, X1, Y0, ROWH, LANEH;
static double tscale; /* pixels per ns */
static double unit_ns;
static const char *unit_name;

#define PAD 8.0 /* pixels between the axis and time 0, and after the end */

static double px(uint64_t t)
{
    return X0 + PAD + (double)t * tscale;
}

/* Binned marks (a big trace): one per (row, pixel column, kind, node), with a count. */
typedef struct bin {
    uint64_t key; /* row, column, kind, node packed */
    uint32_t count;
    uint64_t t;
} bin_t;

static int cmp_bin(const void *a, const void *b)
{
    const bin_t *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* The classes of marks drawn, their shape in the legend. */
enum { M_FAULT_R, M_FAULT_W, M_FETCH, M_INV, M_DIFF, M_EVICT, M_OUT, M_IN, M_LOCK, M_NMARKS };
static const char *const mark_class[M_NMARKS] = {"fault read",   "fault write", "fetch",
                                                 "invalidation", "diff",        "eviction",
                                                 "page-out",     "page-in",     "lock"};

static int mark_of(const ev_t *e)
{
    switch (e->r.kind) {
    case MOME_TR_FAULT:
        return e->r.flags & MOME_TRF_WRITE ? M_FAULT_W : M_FAULT_R;
    case MOME_TR_FETCH:
        return M_FETCH;
    case MOME_TR_INV:
    case MOME_TR_FLUSH:
        return M_INV;
    case MOME_TR_DIFF_SEND:
    case MOME_TR_DIFF_MERGE:
        return M_DIFF;
    case MOME_TR_EVICT:
        return M_EVICT;
    case MOME_TR_PAGE_OUT:
        return M_OUT;
    case MOME_TR_PAGE_IN:
        return M_IN;
    case MOME_TR_LOCK_GOT:
        return M_LOCK;
    default:
        return -1;
    }
}

/* Draw mark m centred at (x, y) in colour col, with a tooltip. */
static void draw_mark(FILE *out, const char *cls, int m, double x, double y, const char *col,
                      const char *title)
{
    double s = LANEH / 2 > 4 ? 4 : LANEH / 2 < 2 ? 2 : LANEH / 2;
    fprintf(out, "<g class=\"%s %s\">", cls, mark_class[m]);
    switch (m) {
    case M_FAULT_R:
        fprintf(out,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"white\" stroke=\"%s\" "
                "stroke-width=\"1.2\">",
                x, y, s, col);
        break;
    case M_FAULT_W:
        fprintf(out,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" stroke=\"black\" "
                "stroke-width=\"0.5\">",
                x, y, s, col);
        break;
    case M_FETCH:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"1.5\" height=\"%.1f\" fill=\"%s\">",
                x - 0.75, y - s, 2 * s, col);
        break;
    case M_INV:
        fprintf(out,
                "<path d=\"M%.1f %.1fl%.1f %.1fM%.1f %.1fl%.1f %.1f\" stroke=\"%s\" "
                "stroke-width=\"1.5\">",
                x - s, y - s, 2 * s, 2 * s, x - s, y + s, 2 * s, -2 * s, col);
        break;
    case M_DIFF:
        fprintf(out,
                "<path d=\"M%.1f %.1fl%.1f %.1fl%.1f %.1fl%.1f %.1fz\" fill=\"%s\" "
                "stroke=\"black\" stroke-width=\"0.4\">",
                x, y - s, s, s, -s, s, -s, -s, col);
        break;
    case M_EVICT:
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
                "stroke=\"%s\" stroke-width=\"1.2\">",
                x - s, y - s, 2 * s, 2 * s, col);
        break;
    case M_OUT:
        fprintf(out,
                "<path d=\"M%.1f %.1fh%.1fl%.1f %.1fz\" fill=\"%s\" stroke=\"black\" "
                "stroke-width=\"0.5\">",
                x - s, y - s, 2 * s, -s, 2 * s, col);
        break;
    case M_IN:
        fprintf(out,
                "<path d=\"M%.1f %.1fh%.1fl%.1f %.1fz\" fill=\"%s\" stroke=\"black\" "
                "stroke-width=\"0.5\">",
                x - s, y + s, 2 * s, -s, -2 * s, col);
        break;
    case M_LOCK:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">",
                x - s, y - s, 2 * s, 2 * s, col);
        break;
    }
    fprintf(out, "<title>%s</title>", title);
    static const char *const close_tag[M_NMARKS] = {"circle", "circle", "rect", "path", "path",
                                                    "rect",   "path",   "path", "rect"};
    fprintf(out, "</%s></g>\n", close_tag[m]);
}

static void fmt_time(char *buf, size_t len, uint64_t t)
{
    snprintf(buf, len, "%.3f %s", (double)t / unit_ns, unit_name);
}

/* Spans drawn on a row's lane for a node: a band where the node holds the page (bands of a row of
 * several pages merge, and bands closer than a pixel join), a line where it waits for one. */
typedef struct hold {
    size_t row;
    uint32_t node;
    uint64_t t0, t1;
} hold_t;

static int cmp_hold(const void *a, const void *b)
{
    const hold_t *x = a, *y = b;
    if (x->row != y->row)
        return x->row < y->row ? -1 : 1;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->t0 < y->t0 ? -1 : x->t0 > y->t0;
}

static hold_t *holds, *waits; /* pages held; requests waiting for their page */
static size_t nholds, cap_holds, nwaits, cap_waits;

static void add_span(hold_t **v, size_t *n, size_t *cap, size_t row, uint32_t node, uint64_t t0,
                     uint64_t t1)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *v = xrealloc(*v, *cap * sizeof(**v));
    }
    (*v)[(*n)++] = (hold_t){row, node, t0, t1};
}

/*
 * Replay the events: a node holds a page from the content's arrival (FETCH, ZERO grant,
 * PAGE_IN) until it leaves (INV, FLUSH with DROP, DROP, EVICT, PAGE_OUT) or the trace ends; a
 * request waits from REQUEST until its answer (FETCH but not a PUSH, ZERO, or GRANT for an
 * upgrade).
 */
static void compute_spans(void)
{
    tmap_t held = {0}, asked = {0};
    for (size_t i = 0; i < nevs; i++) {
        const ev_t *e = &evs[i];
        int k = e->r.kind;
        if (!is_page_event(k))
            continue;
        size_t row = row_of(e->r.seg, e->r.page);
        uint64_t *since = tmap_at(&held, e->node, e->r.seg, e->r.page);
        uint64_t *req = tmap_at(&asked, e->node, e->r.seg, e->r.page);
        int arrives = (k == MOME_TR_FETCH && !(e->r.flags & MOME_TRF_PUSH)) || k == MOME_TR_ZERO ||
                      k == MOME_TR_GRANT;
        int starts = arrives || k == MOME_TR_PAGE_IN || k == MOME_TR_FETCH;
        int ends = k == MOME_TR_INV || k == MOME_TR_DROP || k == MOME_TR_EVICT ||
                   k == MOME_TR_PAGE_OUT || (k == MOME_TR_FLUSH && (e->r.flags & MOME_TRF_DROP));
        if (k == MOME_TR_REQUEST)
            *req = e->t;
        if (arrives && *req != UINT64_MAX) {
            add_span(&waits, &nwaits, &cap_waits, row, e->node, *req, e->t);
            *req = UINT64_MAX;
        }
        if (ends || k == MOME_TR_DECLINED) /* a declined write-ahead: no wait, nothing held */
            *req = UINT64_MAX;
        if (starts && *since == UINT64_MAX) {
            *since = e->t;
        } else if (ends && *since != UINT64_MAX) {
            add_span(&holds, &nholds, &cap_holds, row, e->node, *since, e->t);
            *since = UINT64_MAX;
        }
    }
    for (size_t i = 0; i < held.cap; i++)
        if (held.v[i].used && held.v[i].t != UINT64_MAX)
            add_span(&holds, &nholds, &cap_holds, row_of(held.v[i].seg, held.v[i].page),
                     held.v[i].node, held.v[i].t, t_end);
    free(held.v);
    free(asked.v);
    if (nholds)
        qsort(holds, nholds, sizeof(*holds), cmp_hold);
}

/* Segments get short names (s0, s1, ...) in the picture, in order of id; the legend gives ids. */
static uint64_t *segs;
static size_t nsegs;

static void make_segs(void)
{
    segs = xrealloc(NULL, (nkeys + 1) * sizeof(*segs));
    for (size_t i = 0; i < nkeys; i++)
        if (!nsegs || segs[nsegs - 1] != keys[i].seg)
            segs[nsegs++] = keys[i].seg;
}

static size_t seg_index(uint64_t seg)
{
    for (size_t i = 0; i < nsegs; i++)
        if (segs[i] == seg)
            return i;
    return 0;
}

/*
 * s, quoted for SVG text, into out: entities for markup characters, valid UTF-8 as it is, and ?
 * for control characters and bytes that are no UTF-8 (a name is any bytes but NUL and /).
 */
static void xml_quote(const char *s, char *out, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    while (*u && o + 7 < len) {
        const char *ent = *u == '&'    ? "&amp;"
                          : *u == '<'  ? "&lt;"
                          : *u == '>'  ? "&gt;"
                          : *u == '"'  ? "&quot;"
                          : *u == '\'' ? "&apos;"
                                       : NULL;
        int n = utf8_len(u, 4); /* NUL-terminated: it stops there */
        if (ent) {
            o += (size_t)snprintf(out + o, len - o, "%s", ent);
            u++;
        } else if (n == 0 || *u < 0x20 || *u == 0x7f || (n == 2 && u[0] == 0xc2 && u[1] < 0xa0)) {
            out[o++] = '?'; /* not UTF-8, or a control character (C0, DEL, C1) */
            u += n ? (size_t)n : 1;
        } else {
            memcpy(out + o, u, (size_t)n);
            o += (size_t)n;
            u += n;
        }
    }
    out[o] = 0;
}

/* "'name' " for a segment some file named (quoted for SVG), else "". */
static void seg_label(uint64_t seg, char *out, size_t len)
{
    char q[6 * MOME_TRACE_NAME_MAX + 8];
    const char *n = seg_name(seg);
    if (!n) {
        out[0] = 0;
        return;
    }
    xml_quote(n, q, sizeof(q));
    snprintf(out, len, "'%s' ", q);
}

static void row_label(size_t row, char *buf, size_t len)
{
    const pkey_t *a = &keys[row * per_row];
    size_t last = (row + 1) * per_row < nkeys ? (row + 1) * per_row - 1 : nkeys - 1;
    const pkey_t *b = &keys[last];
    if (a == b)
        snprintf(buf, len, "s%zu:%" PRIu64, seg_index(a->seg), a->page);
    else if (a->seg == b->seg)
        snprintf(buf, len, "s%zu:%" PRIu64 "-%" PRIu64, seg_index(a->seg), a->page, b->page);
    else
        snprintf(buf, len, "s%zu:%" PRIu64 "-s%zu:%" PRIu64, seg_index(a->seg), a->page,
                 seg_index(b->seg), b->page);
}

static double lane_y(size_t row, uint32_t node)
{
    return Y0 + (double)row * ROWH + (nnodes <= 8 ? (node + 0.5) * LANEH : ROWH / 2);
}

/* Marks drawn one by one in a big trace too: the rare events. The others become heat. */
static int rare(int m)
{
    return m == M_INV || m == M_EVICT || m == M_OUT || m == M_IN || m == M_LOCK;
}

/* Barriers: a band from the moment every node is in (the last entry) to the last exit, a dashed
 * line there, and its number on top (thinned out when they crowd). */
static size_t draw_barriers(FILE *out, double top)
{
    uint64_t maxb = 0, (*bt)[3];
    size_t nbar = 0;
    double last_label = -1e9;
    char tb[64];

    for (size_t i = 0; i < nevs; i++)
        if ((evs[i].r.kind == MOME_TR_BAR_ENTER || evs[i].r.kind == MOME_TR_BAR_EXIT) &&
            evs[i].r.page + 1 > maxb && evs[i].r.page < nevs)
            maxb = evs[i].r.page + 1;
    bt = xrealloc(NULL, (maxb ? maxb : 1) * sizeof(*bt));
    for (uint64_t b = 0; b < maxb; b++)
        bt[b][0] = UINT64_MAX, bt[b][1] = 0, bt[b][2] = UINT64_MAX;
    for (size_t i = 0; i < nevs; i++) {
        uint64_t b = evs[i].r.page;
        int k = evs[i].r.kind;
        if ((k != MOME_TR_BAR_ENTER && k != MOME_TR_BAR_EXIT) || b >= maxb)
            continue;
        if (k == MOME_TR_BAR_ENTER && (bt[b][0] == UINT64_MAX || evs[i].t > bt[b][0]))
            bt[b][0] = evs[i].t;
        if (k == MOME_TR_BAR_ENTER && evs[i].t < bt[b][2])
            bt[b][2] = evs[i].t;
        if (evs[i].t > bt[b][1])
            bt[b][1] = evs[i].t;
    }
    double yb = Y0 + (double)nrows * ROWH;
    fprintf(out, "<g class=\"barriers\">\n");
    for (uint64_t b = 0; b < maxb; b++) {
        uint64_t t0 = bt[b][0], t1 = bt[b][1];
        if (t0 == UINT64_MAX)
            continue;
        double x0 = px(t0), x1 = px(t1);
        fmt_time(tb, sizeof(tb), t1);
        fprintf(out,
                "<g class=\"mark barrier\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                "height=\"%.1f\" fill=\"#888\" fill-opacity=\"0.25\"/><line x1=\"%.1f\" "
                "x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#444\" "
                "stroke-dasharray=\"4 3\"/>",
                x0, top, x1 - x0 < 1 ? 1 : x1 - x0, yb - top, x1, x1, top, yb);
        if (x1 - last_label >= 26) {
            fprintf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#444\">B%" PRIu64
                    "</text>",
                    x1, top - 3, b);
            last_label = x1;
        }
        fprintf(out,
                "<title>barrier %" PRIu64 ": first node in at %.3f %s, every node in at "
                "%.3f %s, the last out at %s</title></g>\n",
                b, (double)bt[b][2] / unit_ns, unit_name, (double)t0 / unit_ns, unit_name, tb);
        nbar++;
    }
    fprintf(out, "</g>\n");
    free(bt);
    return nbar;
}

/* A small trace: every holding band, every wait, every mark. */
static void draw_detail(FILE *out, double top, double lock_h)
{
    char col[32], buf[2048], tb[64];

    fprintf(out, "<g class=\"holds\" fill-opacity=\"0.45\">\n");
    for (size_t i = 0; i < nholds;) {
        hold_t h = holds[i++];
        while (i < nholds && holds[i].row == h.row && holds[i].node == h.node &&
               px(holds[i].t0) <= px(h.t1) + 1) {
            if (holds[i].t1 > h.t1)
                h.t1 = holds[i].t1;
            i++;
        }
        double y = lane_y(h.row, h.node) - (nnodes <= 8 ? LANEH : ROWH) / 2;
        double w = px(h.t1) - px(h.t0);
        node_colour(h.node, col, sizeof(col));
        fprintf(out,
                "<rect class=\"hold\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"/>\n",
                px(h.t0), y + 0.5, w < 1 ? 1 : w, (nnodes <= 8 ? LANEH : ROWH) - 1, col);
    }
    fprintf(out, "</g>\n<g class=\"waits\" stroke-width=\"1\">\n");
    for (size_t i = 0; i < nwaits; i++) {
        const hold_t *w = &waits[i];
        double y = lane_y(w->row, w->node);
        node_colour(w->node, col, sizeof(col));
        fprintf(out,
                "<line class=\"wait\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"%s\"><title>node %u waited %.3f %s for the page</title></line>\n",
                px(w->t0), px(w->t1), y, y, col, w->node, (double)(w->t1 - w->t0) / unit_ns,
                unit_name);
    }
    fprintf(out, "</g>\n<g class=\"marks\">\n");
    for (size_t i = 0; i < nevs; i++) {
        const ev_t *e = &evs[i];
        int m = mark_of(e);
        if (m < 0)
            continue;
        double y = m == M_LOCK ? top + lock_h / 2 : lane_y(row_of(e->r.seg, e->r.page), e->node);
        node_colour(e->node, col, sizeof(col));
        fmt_time(tb, sizeof(tb), e->t);
        if (m == M_LOCK) {
            snprintf(buf, sizeof(buf), "node %u: lock %" PRIu64 " granted at %s (date %" PRIu64 ")",
                     e->node, e->r.page, tb, e->r.date);
        } else {
            char nm[6 * MOME_TRACE_NAME_MAX + 16];
            seg_label(e->r.seg, nm, sizeof(nm));
            int l = snprintf(buf, sizeof(buf),
                             "node %u: %s, s%zu (segment %s%#" PRIx64 ") page %" PRIu64
                             " at %s (date %" PRIu64 ")",
                             e->node, mark_class[m], seg_index(e->r.seg), nm, e->r.seg, e->r.page,
                             tb, e->r.date);
            if (e->r.peer != MOME_TRACE_NONE && l > 0 && (size_t)l < sizeof(buf))
                snprintf(buf + l, sizeof(buf) - (size_t)l, ", %s node %u",
                         m == M_FETCH ? "from" : "with", e->r.peer);
        }
        draw_mark(out, "mark", m, px(e->t), y, col, buf);
    }
    fprintf(out, "</g>\n");
}

/*
 * A big trace: page events become heat, a cell per row and 3-pixel column, coloured by the node
 * with most events there (a majority vote) and darker with more of them (log scale, 6 levels);
 * cells of a row alike side by side are one rectangle. Rare events (invalidations, evictions,
 * page-outs, page-ins, lock grants) stay marks, one per row, column, kind and node, with a count.
 */
#define CELL 3.0

static void draw_heat(FILE *out, double top, double lock_h)
{
    char col[32], buf[256], tb[64];
    size_t ncols = (size_t)((X1 - X0 - 2 * PAD) / CELL) + 1, ncells = nrows * ncols;
    uint32_t *total = xrealloc(NULL, (ncells + 1) * sizeof(*total));
    uint32_t *cand = xrealloc(NULL, (ncells + 1) * sizeof(*cand));
    uint32_t *votes = xrealloc(NULL, (ncells + 1) * sizeof(*votes));
    uint32_t max = 1;
    bin_t *bins = xrealloc(NULL, (nevs + 1) * sizeof(*bins));
    size_t nb = 0;

    memset(total, 0, ncells * sizeof(*total));
    memset(votes, 0, ncells * sizeof(*votes));
    for (size_t i = 0; i < nevs; i++) {
        const ev_t *e = &evs[i];
        int m = mark_of(e);
        size_t colx = (size_t)((px(e->t) - X0 - PAD) / CELL);
        if (colx >= ncols)
            colx = ncols - 1;
        if (m >= 0 && rare(m)) {
            size_t row = m == M_LOCK ? 0xfffff : row_of(e->r.seg, e->r.page);
            bins[nb].key = ((uint64_t)row << 44) | ((uint64_t)colx << 20) | ((uint64_t)m << 16) |
                           (e->node & 0xffff);
            bins[nb].count = 1;
            bins[nb++].t = e->t;
            continue;
        }
        if (!is_page_event(e->r.kind))
            continue;
        size_t c = row_of(e->r.seg, e->r.page) * ncols + colx;
        if (++total[c] > max)
            max = total[c];
        if (!votes[c])
            cand[c] = e->node, votes[c] = 1;
        else if (cand[c] == e->node)
            votes[c]++;
        else
            votes[c]--;
    }
    fprintf(out, "<g class=\"heat\">\n");
    for (size_t r = 0; r < nrows; r++) {
        for (size_t c = 0; c < ncols;) {
            size_t k = r * ncols + c;
            if (!total[k]) {
                c++;
                continue;
            }
            int lvl = (int)ceil(6 * log1p(total[k]) / log1p(max));
            uint32_t node = cand[k], sum = 0;
            size_t c0 = c;
            while (c < ncols && total[r * ncols + c] && cand[r * ncols + c] == node &&
                   (int)ceil(6 * log1p(total[r * ncols + c]) / log1p(max)) == lvl)
                sum += total[r * ncols + c++];
            node_colour(node, col, sizeof(col));
            row_label(r, tb, sizeof(tb));
            fprintf(out,
                    "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\" fill-opacity=\"%.2f\"><title>pages %s, "
                    "%.3f-%.3f %s: %u events, most by node %u</title></rect>\n",
                    X0 + PAD + (double)c0 * CELL, Y0 + (double)r * ROWH + 0.5,
                    (double)(c - c0) * CELL, ROWH - 1, col, 0.1 + 0.15 * lvl, tb,
                    (double)c0 * CELL / tscale / unit_ns, (double)c * CELL / tscale / unit_ns,
                    unit_name, sum, node);
        }
    }
    fprintf(out, "</g>\n<g class=\"marks\">\n");
    qsort(bins, nb, sizeof(*bins), cmp_bin);
    for (size_t i = 0; i < nb;) {
        bin_t b = bins[i++];
        while (i < nb && bins[i].key == b.key)
            b.count++, i++;
        size_t row = (size_t)(b.key >> 44);
        int m = (int)((b.key >> 16) & 0xf);
        uint32_t node = (uint32_t)(b.key & 0xffff);
        double y = m == M_LOCK ? top + lock_h / 2 : lane_y(row, node);
        double x = X0 + PAD + (double)((b.key >> 20) & 0xffffff) * CELL + CELL / 2;
        node_colour(node, col, sizeof(col));
        if (m == M_LOCK) {
            snprintf(buf, sizeof(buf), "node %u: %u lock grants near %.3f %s", node, b.count,
                     (double)b.t / unit_ns, unit_name);
        } else {
            row_label(row, tb, sizeof(tb));
            snprintf(buf, sizeof(buf), "node %u: %u %s near %.3f %s, pages %s", node, b.count,
                     mark_class[m], (double)b.t / unit_ns, unit_name, tb);
        }
        draw_mark(out, "mark", m, x, y, col, buf);
    }
    fprintf(out, "</g>\n");
    free(bins);
    free(total);
    free(cand);
    free(votes);
}

static int svg(FILE *out, const svgcfg_t *cfg)
{
    char col[32], buf[256];
    const double left = 110, right = 200, top = 60, bottom = 64, lock_h = 16;
    size_t nbar, nmarks = 0;
    int heat;

    make_rows(cfg->max_rows);
    make_segs();
    compute_spans();
    for (size_t i = 0; i < nevs; i++)
        nmarks += mark_of(&evs[i]) >= 0;
    heat = nmarks > cfg->max_marks;

    /* Rows: 18 px for a few pages, down to 6 px for many; a lane per node inside. */
    ROWH = nrows <= 16 ? 18 : nrows <= 64 ? 10 : 6;
    LANEH = nnodes <= 8 ? ROWH / nnodes : ROWH;
    X0 = left;
    X1 = cfg->width - right;
    Y0 = top + lock_h;
    double yb = Y0 + (double)nrows * ROWH;
    double H = yb + bottom;
    double legend_h =
        15.0 * ((nnodes <= 16 ? nnodes : 17) + M_NMARKS + 6 + (nsegs <= 8 ? nsegs : 9)) + 60;
    if (H < Y0 + legend_h)
        H = Y0 + legend_h;
    uint64_t span = t_end ? t_end : 1;
    tscale = (X1 - X0 - 2 * PAD) / (double)span;
    unit_ns = span < 10000000ull ? 1e3 : span < 10000000000ull ? 1e6 : 1e9;
    unit_name = span < 10000000ull ? "us" : span < 10000000000ull ? "ms" : "s";

    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
            "viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\" font-size=\"11\">\n",
            cfg->width, H, cfg->width, H);
    fprintf(out, "<title>Mome page traffic: %" PRIu32 " nodes, %zu pages, %zu events</title>\n",
            nnodes, nkeys, nevs);
    fprintf(out, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(out,
            "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">Page traffic: "
            "%" PRIu32 " node%s, %zu page%s, %zu events in %.3f %s</text>\n",
            X0, nnodes, nnodes == 1 ? "" : "s", nkeys, nkeys == 1 ? "" : "s", nevs,
            (double)span / unit_ns, unit_name);
    fprintf(out, "<text x=\"%.0f\" y=\"40\" fill=\"#555\">%s%s</text>\n", X0,
            per_row > 1 ? "each row is a range of pages; " : "",
            heat ? "cells: page events there, coloured by the node with most, darker with more; "
                   "rare events marked (hover for counts)"
                 : "bands: a node holds the page; lines: a node waits for it");

    fprintf(out, "<g class=\"rows\">\n");
    size_t label_every = nrows <= 40 ? 1 : (nrows + 39) / 40;
    for (size_t r = 0; r < nrows; r++) {
        double y = Y0 + (double)r * ROWH;
        if (r % 2)
            fprintf(out,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"#f4f4f4\"/>\n",
                    X0, y, X1 - X0, ROWH);
        if (r % label_every == 0) {
            row_label(r, buf, sizeof(buf));
            fprintf(out,
                    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" font-size=\"%d\">%s"
                    "</text>\n",
                    X0 - 6, y + ROWH / 2 + 3.5, ROWH < 10 ? 8 : 10, buf);
        }
    }
    fprintf(out, "</g>\n");

    nbar = draw_barriers(out, top);
    if (heat)
        draw_heat(out, top, lock_h);
    else
        draw_detail(out, top, lock_h);

    /* Axes: time below, with ticks and its unit; pages on the left. */
    fprintf(out,
            "<g class=\"axes\" stroke=\"black\">\n<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" "
            "y2=\"%.1f\"/>\n<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>\n",
            X0, X1, yb, yb, X0, X0, top, yb);
    double step = tick_step((double)span / unit_ns, 8);
    for (double v = 0; v <= (double)span / unit_ns + step * 1e-9; v += step) {
        double x = X0 + PAD + v * unit_ns * tscale;
        fprintf(out,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.1f\" "
                "y=\"%.1f\" stroke=\"none\" text-anchor=\"middle\">%g</text>\n",
                x, x, yb, yb + 5, x, yb + 18, v);
    }
    fprintf(out,
            "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" text-anchor=\"middle\">time (%s) "
            "since the first event</text>\n",
            (X0 + X1) / 2, yb + 40, unit_name);
    fprintf(out,
            "<text transform=\"translate(14 %.1f) rotate(-90)\" stroke=\"none\" "
            "text-anchor=\"middle\">segment:page%s</text>\n",
            (Y0 + yb) / 2, per_row > 1 ? " (ranges)" : "");
    fprintf(out,
            "<text x=\"%.1f\" y=\"%.1f\" stroke=\"none\" text-anchor=\"end\" "
            "font-size=\"9\">locks</text>\n</g>\n",
            X0 - 6, top + lock_h / 2 + 3);

    /* Legend: node colours, marks, segments. */
    double lx = X1 + 20, ly = Y0;
    fprintf(out,
            "<g class=\"legend\">\n<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">nodes"
            "</text>\n",
            lx, ly);
    uint32_t shown = nnodes <= 16 ? nnodes : 16;
    for (uint32_t n = 0; n < shown; n++) {
        ly += 15;
        node_colour(n, col, sizeof(col));
        fprintf(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"9\" fill=\"%s\" "
                "fill-opacity=\"0.6\"/><text x=\"%.1f\" y=\"%.1f\">node %u</text>\n",
                lx, ly - 8, col, lx + 24, ly, n);
    }
    if (shown < nnodes) {
        ly += 15;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">... %u nodes</text>\n", lx, ly, nnodes);
    }
    ly += 22;
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">marks</text>\n", lx, ly);
    ly += 15;
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"9\" fill=\"#999\" "
            "fill-opacity=\"0.45\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n",
            lx, ly - 8, lx + 24, ly, heat ? "page events (cell)" : "page held");
    if (!heat) {
        ly += 15;
        fprintf(out,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#777\"/>"
                "<text x=\"%.1f\" y=\"%.1f\">waiting for it</text>\n",
                lx, lx + 18, ly - 4, ly - 4, lx + 24, ly);
    }
    for (int m = 0; m < M_NMARKS; m++) {
        if (heat && !rare(m))
            continue;
        ly += 15;
        double save = LANEH;
        LANEH = 8;
        draw_mark(out, "key", m, lx + 9, ly - 4, "#777", mark_class[m]);
        LANEH = save;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lx + 24, ly, mark_class[m]);
    }
    ly += 15;
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"18\" height=\"9\" fill=\"#888\" "
            "fill-opacity=\"0.3\"/><text x=\"%.1f\" y=\"%.1f\">barrier B<tspan "
            "font-style=\"italic\">n</tspan></text>\n",
            lx, ly - 8, lx + 24, ly);
    ly += 22;
    fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">segments</text>\n", lx, ly);
    for (size_t i = 0; i < nsegs && i < 8; i++) {
        ly += 15;
        char nm[6 * MOME_TRACE_NAME_MAX + 16];
        seg_label(segs[i], nm, sizeof(nm));
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">s%zu: %sid %#" PRIx64 "</text>\n", lx, ly, i, nm,
                segs[i]);
    }
    if (nsegs > 8) {
        ly += 15;
        fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">... %zu segments</text>\n", lx, ly, nsegs);
    }
    fprintf(out, "</g>\n<!-- %zu barriers, %zu marks, %zu holding bands, %s -->\n</svg>\n", nbar,
            nmarks, nholds, heat ? "heat map" : "every event drawn");
    return 0;
}

/* ---- main ---- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: mome-trace [--svg | --perfetto | --summary] [-o OUT] [options] FILE...\n"
            "Draw the page traffic recorded by MOME_TRACE=FILE (one file per node, %%n in the\n"
            "name) as an SVG picture (the default), Chrome/Perfetto trace-event JSON (open it\n"
            "at ui.perfetto.dev), or a per-node summary of the events.\n"
            "  -o, --output OUT    write to OUT (default: standard output)\n"
            "      --svg           SVG: pages against time, coloured by node\n"
            "      --perfetto      trace-event JSON, one process per node\n"
            "      --summary       one line of event counts per node\n"
            "  -w, --width PX      SVG width in pixels (default 1200)\n"
            "  -r, --rows N        at most N page rows; more pages are grouped into ranges\n"
            "                      (default 96)\n"
            "  -m, --marks N       draw up to N marks one by one, then bin them (default 20000)\n"
            "  -h, --help          this help\n"
            "      --version       print the version\n");
}

int main(int argc, char **argv)
{
    enum { OUT_SVG, OUT_PERFETTO, OUT_SUMMARY } mode = OUT_SVG;
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'}, {"svg", no_argument, NULL, 'S'},
        {"perfetto", no_argument, NULL, 'P'},     {"summary", no_argument, NULL, 's'},
        {"width", required_argument, NULL, 'w'},  {"rows", required_argument, NULL, 'r'},
        {"marks", required_argument, NULL, 'm'},  {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    svgcfg_t cfg = {.width = 1200, .max_rows = 96, .max_marks = 20000};
    const char *outpath = NULL;
    FILE *out = stdout;
    int c, rc;
    char *end;

    while ((c = getopt_long(argc, argv, "o:w:r:m:h", opts, NULL)) != -1) {
        long v;
        switch (c) {
        case 'o':
            outpath = optarg;
            break;
        case 'S':
            mode = OUT_SVG;
            break;
        case 'P':
            mode = OUT_PERFETTO;
            break;
        case 's':
            mode = OUT_SUMMARY;
            break;
        case 'w':
        case 'r':
        case 'm':
            v = strtol(optarg, &end, 10);
            if (*end || v < (c == 'w' ? 400 : 1) ||
                v > (c == 'w'   ? 100000
                     : c == 'r' ? 100000
                                : 100000000)) {
                fprintf(stderr, "%s: bad value '%s' for -%c\n", prog, optarg, c);
                return 2;
            }
            if (c == 'w')
                cfg.width = (int)v;
            else if (c == 'r')
                cfg.max_rows = (size_t)v;
            else
                cfg.max_marks = (size_t)v;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("mome-trace (Mome) %s\n", PACKAGE_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    load(argv + optind, argc - optind);
    if (outpath && !(out = fopen(outpath, "w")))
        die("cannot create %s: %s", outpath, strerror(errno));
    rc = mode == OUT_SUMMARY ? summary(out) : mode == OUT_PERFETTO ? perfetto(out) : svg(out, &cfg);
    if (fflush(out) != 0 || ferror(out) || (outpath && fclose(out) != 0))
        die("cannot write %s: %s", outpath ? outpath : "the output", strerror(errno));
    return rc;
}
