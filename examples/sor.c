/*
 * sor.c - red-black successive over-relaxation on Mome (the classic TreadMarks workload).
 *
 * The (n+2) x (n+2) grid, with a fixed border, lives in a segment every node maps. As in
 * TreadMarks, red and black points are stored apart (sor_kernel.h): a row of one colour is n/2
 * doubles, one page when n = 1024. The n interior rows are split into one band of consecutive
 * rows per node; each band's rows of each colour start on a page boundary of the segment (rows
 * are reached through tables of row pointers), so two nodes never write the same page. The two
 * border columns never change: each node keeps its own copy. Each iteration is a red half-sweep,
 * a barrier, a black half-sweep and a barrier. A point is updated from its four neighbours, all of
 * the other colour, so the result is the serial one bit for bit whatever the split (sor_serial.c
 * links the same kernel, sor_kernel.c): no tolerance.
 *
 * What moves: in the half-sweep of one colour a node reads, besides its band, the row of the
 * other colour just above and just below its band, which its neighbours wrote in the previous
 * half-sweep and do not write in this one. Right after each barrier, every node brings in those
 * rows and takes back write access to its own rows that its neighbours read last time, all nodes
 * at once: in the middle of a half-sweep each fault would wait for the other node's core.
 *
 * Consistency: RELEASE by default. Each page has one writer, and is read by a neighbour only after
 * a barrier: the barrier's acquire invalidates exactly the rows the neighbours wrote, the first
 * read refetches them, and a node writing its own page that a neighbour has read needs no
 * invalidation round trip (STRONG needs one, inside the next half-sweep's preparation). WEAK does
 * the same with an explicit MomeSyncMem of the two rows, which cost more per exchange than the
 * barrier's invalidation when measured (see the report of the apps branch). The model can be
 * chosen on the command line to compare: sor [n [iterations [omega [strong|release|weak]]]].
 *
 * Only the iterations are timed, from a barrier after the grid is initialised (each node
 * initialises its own band) to the barrier after the last half-sweep. Node 0 then sums the whole
 * grid, row by row, and prints
 *
 *   sor n=1024 iters=50 omega=1.25 nodes=2 checksum=0x... (...) time=0.123456s
 *
 * With APPS_VERBOSE set, every node prints where its time went.
 *
 *   mome-run -n 2 ./sor [n [iterations [omega [model]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP_NAME "sor"
#include "apps_mome.h"

#include "apps_util.h"
#include "sor_kernel.h"

static int me, nodes;

/* The grid rows of node k's band: [lo, hi); the first and last node also own the border rows. */
static void band(int n, int k, int *lo, int *hi)
{
    *lo = k == 0 ? 0 : 1 + (int)((long)n * k / nodes);
    *hi = k == nodes - 1 ? n + 2 : 1 + (int)((long)n * (k + 1) / nodes);
}

/* Bring a row (a neighbour's) in now: under WEAK refresh it first, then read a word per page. */
static void fetch_row(const double *row, size_t rowbytes, int model)
{
    const size_t ps = MomePageSize();
    const volatile char *c = (const volatile char *)row;

    if (model == MOME_WEAK && MomeSyncMem((void *)row, rowbytes, MomeLastBarrierDate()) < 0)
        apps_die("MomeSyncMem");
    for (size_t o = 0; o < rowbytes; o += ps)
        (void)c[o];
    (void)c[rowbytes - 1];
}

/* Take write access to a row of mine now: rewrite one word per page with its own value. */
static void own_row(double *row, size_t rowbytes)
{
    const size_t ps = MomePageSize(), m = rowbytes / sizeof(double);
    volatile double *x = row;
    uintptr_t last = 0;

    for (size_t k = 0; k < m; k++) {
        uintptr_t page = (uintptr_t)&x[k] / ps;
        if (page != last) {
            x[k] = x[k];
            last = page;
        }
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1024;
    int iters = argc > 2 ? atoi(argv[2]) : 50;
    double omega = argc > 3 ? atof(argv[3]) : 1.25;
    int model = apps_model(argc > 4 ? argv[4] : "release");

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "sor: %s\n", MomeError());
        return 1;
    }
    me = MomeNode();
    nodes = MomeNodes();
    if (n < 2 || n % 2 || n < nodes || iters < 0) {
        fprintf(stderr, "sor: n must be even and >= 2 and the node count, iterations >= 0\n");
        return 2;
    }
    const size_t ps = MomePageSize(), w = (size_t)n + 2, rowbytes = (size_t)n / 2 * sizeof(double);

    /* Lay the bands out one after the other: each band's red rows, then its black rows, each
     * from a page boundary. */
    sor_grid_t g = {.n = n,
                    .row = {malloc(w * sizeof(double *)), malloc(w * sizeof(double *))},
                    .west = malloc(w * sizeof(double)),
                    .east = malloc(w * sizeof(double))};
    size_t *off = malloc(((size_t)nodes + 1) * sizeof(size_t));
    if (!g.row[0] || !g.row[1] || !g.west || !g.east || !off) {
        fprintf(stderr, "sor: node %d: out of memory\n", me);
        return 1;
    }
    off[0] = 0;
    for (int k = 0; k < nodes; k++) {
        int lo, hi;
        band(n, k, &lo, &hi);
        off[k + 1] = off[k] + 2 * (((size_t)(hi - lo) * rowbytes + ps - 1) / ps * ps);
    }
    int seg = MomeSegOpen("sor", off[nodes], MOME_CREATE);
    char *base =
        seg < 0 ? MOME_MAP_FAILED : MomeMMap(NULL, off[nodes], MOME_READ | MOME_WRITE, 0, seg, 0);
    if (base == MOME_MAP_FAILED)
        apps_die("grid segment");
    if (model != MOME_STRONG && MomeConsistency(base, off[nodes], model) < 0)
        apps_die("MomeConsistency");
    for (int k = 0; k < nodes; k++) {
        int lo, hi;
        band(n, k, &lo, &hi);
        size_t half = (off[k + 1] - off[k]) / 2;
        for (int i = lo; i < hi; i++)
            for (int c = 0; c < 2; c++)
                g.row[c][i] =
                    (double *)(base + off[k] + (size_t)c * half + (size_t)(i - lo) * rowbytes);
    }

    /* My band, and the border columns (every node has its own copy: they never change). */
    int lo, hi;
    band(n, me, &lo, &hi);
    for (int i = lo; i < hi; i++)
        for (int c = 0; c < 2; c++)
            sor_init_row(g.row[c][i], n, i, c);
    for (int i = 0; i < n + 2; i++) {
        g.west[i] = sor_init_point(n, i, 0);
        g.east[i] = sor_init_point(n, i, n + 1);
    }
    /* The interior rows I update; whether I have a neighbour above and below. */
    const int r0 = 1 + (int)((long)n * me / nodes), r1 = 1 + (int)((long)n * (me + 1) / nodes);
    const int above = r0 > 1, below = r1 < n + 1;

    MomeBarrier();
    MomeStatsT st0, st1;
    double compute = 0.0;
    MomeStats(&st0);
    double start = apps_now();
    for (int it = 0; it < iters; it++) {
        for (int color = SOR_RED; color <= SOR_BLACK; color++) {
            /* Fetch the neighbours' rows of the other colour; own my border rows of this one. */
            if (above) {
                fetch_row(g.row[1 - color][r0 - 1], rowbytes, model);
                own_row(g.row[color][r0], rowbytes);
            }
            if (below) {
                fetch_row(g.row[1 - color][r1], rowbytes, model);
                own_row(g.row[color][r1 - 1], rowbytes);
            }
            double t = apps_now();
            sor_halfsweep(&g, r0, r1, color, omega);
            compute += apps_now() - t;
            MomeBarrier();
        }
    }
    double end = apps_now();
    MomeStats(&st1);

    if (getenv("APPS_VERBOSE")) {
        unsigned long long f =
            st1.read_faults + st1.write_faults - st0.read_faults - st0.write_faults;
        fprintf(stderr,
                "sor: node %d: half-sweeps %.4fs, exchanges and barriers %.4fs (barrier wait "
                "%.4fs); faults read %llu write %llu (%.1f us avg)\n",
                me, compute, end - start - compute,
                (double)(st1.barrier_wait_ns - st0.barrier_wait_ns) / 1e9,
                (unsigned long long)(st1.read_faults - st0.read_faults),
                (unsigned long long)(st1.write_faults - st0.write_faults),
                f ? (double)(st1.fault_ns - st0.fault_ns) / 1e3 / (double)f : 0.0);
    }
    if (me == 0) {
        if (model == MOME_WEAK && MomeSyncMem(base, off[nodes], MomeLastBarrierDate()) < 0)
            apps_die("MomeSyncMem");
        printf("sor n=%d iters=%d omega=%g nodes=%d ", n, iters, omega, nodes);
        apps_print_checksum(sor_checksum(&g));
        printf(" time=%.6fs\n", end - start);
        fflush(stdout);
    }
    MomeBarrier();
    MomeMUnmap(base, off[nodes]);
    MomeSegClose(seg);
    free(g.row[0]);
    free(g.row[1]);
    free(g.west);
    free(g.east);
    free(off);
    MomeFinalize();
    return 0;
}
