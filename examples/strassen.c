/*
 * strassen.c - matrix multiplication by Strassen's algorithm on shared matrices (the benchmark of
 * Haven, Holmgren and Fang's Li-Hudak DSM), on Mome.
 *
 * A, B and C (n x n doubles, n a power of two) are allocated with MomeMalloc, so every node sees
 * them at the same address. The top two levels of the recursion give 7 x 7 = 49 independent
 * products of n/4 x n/4 matrices, Mij = Sij Tij, where Sij and Tij are sums of n/4 x n/4 tiles of
 * A and B. Each node computes a share of the 49 products (25/24 on 2 nodes, 13/12/12/12 on 4),
 * each with serial Strassen below the cutoff, into its own MomeMalloc'd temporary. Then the two
 * combination steps (Mi from Mi1..Mi7, then C from M1..M7) are done by rows: node k computes its
 * band of the rows of every block of C, reading the same rows of the Mij (or of Mi, below).
 *
 * Every element goes through exactly the same floating-point operations as in the serial
 * recursion (strassen_serial.c; both link strassen_kernel.c), only on different nodes, so the
 * checksum (the sum of C, row by row) equals the serial one bit for bit: no tolerance.
 *
 * Data placement. Moving a 4 KiB page from another node costs 20 to 30 us here, so a tile of
 * n = 512 (32 pages) costs about as much to fetch as one of the 49 products costs to compute: the
 * program moves as little as it can.
 *  - A and B are stored as 16 tiles of n/4 x n/4 each (contiguous), and product (i, j) reads
 *    only the (at most) 4 + 4 tiles its operands use. Each matrix and product is a block of
 *    whole pages of its own (page_alloc): a model is set per page, and blocks sharing a page
 *    (small n, or large pages) took the last model set, read stale data and gave a wrong
 *    checksum with the two models different (helper-109).
 *  - Which node computes which product is chosen by a small local search (deterministic, so the
 *    same on every node) that keeps the shares balanced and minimises the pages the busiest node
 *    must fetch: the input tiles it lacks (each tile is initialised by a node that needs it), and
 *    the bands it reads to combine. When one node computes all seven Mi1..Mi7, it also computes
 *    the whole of Mi, and the others read their band of Mi (4 tile bands) instead of the bands
 *    of seven products. On 2 nodes the busiest node fetches about 600 pages, where A and B
 *    stored by rows with products dealt in blocks made it fetch about 900.
 *  - A node fetches what a phase needs at its start, touching a byte per page, while the other
 *    nodes do the same, and a barrier follows: a node that computes answers requests for its
 *    pages only when its core lets it, so faults scattered through the computation would each
 *    wait for the other node's scheduler (we measured 55 us per fault that way, 20-30 us this way).
 *
 * Consistency: A and B are written once (by their tiles' owners) and then only read: STRONG lets
 * every node keep read-only copies with no further traffic. The results (the products, the whole
 * Mi and C) use RELEASE: each page has one writer per phase and is read only after a barrier,
 * which is exactly release consistency's contract; and where a band boundary falls inside a page
 * of C (when n/4 rows do not split evenly into pages per node), two nodes write the page at once
 * and RELEASE merges their halves instead of moving the page back and forth. Measured on 2 nodes,
 * the models cost about the same here (every page has one writer, which touched it first, and
 * each page is read once), within the noise of this machine; the models can be changed on the
 * command line to compare: strassen [n [cutoff [results-model [inputs-model]]]], each model
 * strong, release or weak.
 *
 * Only the multiplication is timed, from a barrier after the inputs are initialised to the
 * barrier that ends the combination, as in the serial reference; it includes fetching the inputs.
 * Each node first-touches the pages it will write (its products and its rows of C) before that,
 * as the first write to a heap page asks the directory. The final line, on node 0:
 *
 *   strassen n=512 cutoff=64 nodes=2 checksum=0x... (...) time=0.123456s
 *
 * With APPS_VERBOSE set, every node prints the time and the pages fetched in each phase.
 *
 *   mome-run -n 2 ./strassen [n [cutoff [results-model [inputs-model]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APP_NAME "strassen"
#include "apps_mome.h"

#include "apps_util.h"
#include "strassen_kernel.h"

#define P STRASSEN_PRODUCTS
#define TASKS (P * P)
#define MAX_NODES 256
#define TILES 32 /* 16 tiles of A (bits 0-15), then 16 of B; tile 4 b + x of a matrix is the */
                 /* quadrant x of its block b (0: X11, 1: X12, 2: X21, 3: X22) */

/* The shared control page: where the matrices are. Each pointer is written by its allocator. */
typedef struct ctl {
    double *A, *B, *C;
    double *M[TASKS]; /* M[7 i + j]: product j of the recursion on product i */
    double *Mi[P];    /* Mi, n/2 x n/2, when one node computes all of Mi1..Mi7 */
} ctl_t;

static int me, nodes;

static void set_model(void *p, size_t len, int model)
{
    if (MomeConsistency(p, len, model) < 0)
        apps_die("MomeConsistency");
}

/* A block of whole pages of its own (MomeMalloc aligns blocks of a page or more on a page). */
static void *page_alloc(size_t bytes)
{
    size_t ps = MomePageSize();
    return MomeMalloc(bytes < ps ? ps : (bytes + ps - 1) / ps * ps);
}

/* Under WEAK, bring a range up to the last barrier (the other models need nothing). */
static void sync_range(const void *p, size_t len, int model)
{
    if (model == MOME_WEAK && MomeSyncMem((void *)p, len, MomeLastBarrierDate()) < 0)
        apps_die("MomeSyncMem");
}

/* Read one byte of every page of a range, so that its pages come in now. */
static void touch(const void *p, size_t len)
{
    const size_t ps = MomePageSize();
    const volatile char *c = p;

    for (size_t o = 0; o < len; o += ps)
        (void)c[o];
}

/* The tiles product t = 7 i + j reads: quadrants blocks(j) of the blocks blocks(i) of A and B. */
static uint32_t tiles_of(int t)
{
    const int i = t / P, j = t % P;
    uint32_t m = 0;

    for (int w = 0; w < 2; w++)
        for (int b = 0; b < 4; b++)
            for (int x = 0; x < 4; x++)
                if ((strassen_blocks(i, w) >> b & 1) && (strassen_blocks(j, w) >> x & 1))
                    m |= 1u << (16 * w + 4 * b + x);
    return m;
}

/* Tile `tile` of the inputs: A's tiles are 0-15, B's 16-31, each qq doubles. */
static double *tile_at(double *A, double *B, size_t qq, int tile)
{
    return tile < 16 ? A + (size_t)tile * qq : B + (size_t)(tile - 16) * qq;
}

/* Give each tile an owner, which initialises it: a node that needs it, the least loaded one. */
static void place(int *owner, const uint32_t *uses)
{
    int held[MAX_NODES] = {0};

    for (int pass = 0; pass < 3; pass++)
        for (int tile = 0; tile < TILES; tile++) {
            int users = 0, pick = -1;

            for (int k = 0; k < nodes; k++)
                users += uses[k] >> tile & 1;
            /* Tiles only one node needs first, then shared ones, then unused ones. */
            if (pass != (users == 1 ? 0 : users > 1 ? 1 : 2))
                continue;
            for (int k = 0; k < nodes; k++)
                if ((users == 0 || (uses[k] >> tile & 1)) && (pick < 0 || held[k] < held[pick]))
                    pick = k;
            owner[tile] = pick;
            held[pick]++;
        }
}

/* The node that computes all of Mi1..Mi7, or -1 if they are spread over several. */
static int whole_group(const int *node_of, int i)
{
    for (int j = 1; j < P; j++)
        if (node_of[P * i + j] != node_of[P * i])
            return -1;
    return node_of[P * i];
}

/*
 * What an assignment costs in pages to move, counted in bands (a band is a node's share of the
 * rows of a tile; a tile is `nodes` bands): the input tiles each node needs and does not own,
 * then, for the combination, the band of Mi (4 bands) of each group computed whole by another
 * node, and the band of each product of a group spread over nodes that another node computed.
 * Returns the largest over the nodes, then the sum, as one number to minimise.
 */
static long cost(const int *node_of, const uint32_t *need)
{
    uint32_t uses[MAX_NODES] = {0};
    int owner[TILES];
    long max = 0, sum = 0;

    for (int t = 0; t < TASKS; t++)
        uses[node_of[t]] |= need[t];
    place(owner, uses);
    for (int k = 0; k < nodes; k++) {
        long c = 0;

        for (int tile = 0; tile < TILES; tile++)
            if ((uses[k] >> tile & 1) && owner[tile] != k)
                c += nodes;
        for (int i = 0; i < P; i++) {
            int whole = whole_group(node_of, i);

            if (whole >= 0)
                c += whole != k ? 4 : 0;
            else
                for (int j = 0; j < P; j++)
                    c += node_of[P * i + j] != k;
        }
        sum += c;
        max = c > max ? c : max;
    }
    return max * 65536 + sum;
}

/*
 * Give each product a node: every node gets TASKS/nodes of them (give or take one), and the pages
 * to move are as few as a local search finds. Deterministic, so every node computes the same plan.
 */
static void assign(int *node_of, const uint32_t *need)
{
    int cur[TASKS];
    long best = -1;

    for (int start = 0; start < 8; start++) {
        /* Start from a balanced assignment: blocks of consecutive products, then shuffled. */
        for (int t = 0; t < TASKS; t++)
            cur[t] = (int)((long)t * nodes / TASKS);
        for (int t = TASKS - 1; t > 0 && start > 0; t--) {
            int u = (int)(apps_hash(0x57a55e11 + (uint64_t)start, (uint64_t)t) % (uint64_t)(t + 1));
            int x = cur[t];
            cur[t] = cur[u];
            cur[u] = x;
        }
        long c = cost(cur, need);
        for (int improved = 1; improved;) {
            improved = 0;
            for (int a = 0; a < TASKS; a++)
                for (int b = a + 1; b < TASKS; b++) {
                    if (cur[a] == cur[b])
                        continue;
                    int x = cur[a];
                    cur[a] = cur[b];
                    cur[b] = x;
                    long d = cost(cur, need);
                    if (d < c) {
                        c = d;
                        improved = 1;
                    } else {
                        cur[b] = cur[a];
                        cur[a] = x;
                    }
                }
        }
        if (best < 0 || c < best) {
            best = c;
            memcpy(node_of, cur, sizeof(cur));
        }
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 512;
    int cutoff = argc > 2 ? atoi(argv[2]) : STRASSEN_CUTOFF;
    int rmodel = apps_model(argc > 3 ? argv[3] : "release");
    int imodel = apps_model(argc > 4 ? argv[4] : "strong");

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "strassen: %s\n", MomeError());
        return 1;
    }
    me = MomeNode();
    nodes = MomeNodes();
    if (n < 4 || (n & (n - 1)) || cutoff < 1 || n / 2 <= cutoff) {
        fprintf(stderr, "strassen: n must be a power of two and n/2 > cutoff (n=%d, cutoff=%d)\n",
                n, cutoff);
        return 2;
    }
    if (nodes > MAX_NODES) {
        fprintf(stderr, "strassen: at most %d nodes\n", MAX_NODES);
        return 2;
    }
    const int h = n / 2, q = n / 4;
    const size_t nn = (size_t)n * (size_t)n, qq = (size_t)q * (size_t)q;
    const size_t ps = MomePageSize();

    /* Who computes what, who initialises which tile: the same on every node. */
    uint32_t need[TASKS], uses[MAX_NODES] = {0};
    int node_of[TASKS], owner[TILES], whole[P];
    for (int t = 0; t < TASKS; t++)
        need[t] = tiles_of(t);
    assign(node_of, need);
    for (int t = 0; t < TASKS; t++)
        uses[node_of[t]] |= need[t];
    place(owner, uses);
    for (int i = 0; i < P; i++)
        whole[i] = whole_group(node_of, i);

    int seg = MomeSegOpen("strassen", ps, MOME_CREATE);
    ctl_t *ctl = seg < 0 ? MOME_MAP_FAILED : MomeMMap(NULL, ps, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (ctl == MOME_MAP_FAILED)
        apps_die("control segment");
    /* Several nodes write their pointers into this page at once: RELEASE merges them. */
    set_model(ctl, ps, MOME_RELEASE);

    /* Node 0 allocates the matrices; each node allocates the products it computes. */
    if (me == 0) {
        if (!(ctl->A = page_alloc(nn * sizeof(double))) ||
            !(ctl->B = page_alloc(nn * sizeof(double))) ||
            !(ctl->C = page_alloc(nn * sizeof(double))))
            apps_die("MomeMalloc(matrices)");
    }
    for (int t = 0; t < TASKS; t++)
        if (node_of[t] == me && !(ctl->M[t] = page_alloc(qq * sizeof(double))))
            apps_die("MomeMalloc(product)");
    for (int i = 0; i < P; i++)
        if (whole[i] == me && !(ctl->Mi[i] = page_alloc((size_t)h * (size_t)h * sizeof(double))))
            apps_die("MomeMalloc(product)");
    MomeBarrier();

    double *const A = ctl->A, *const B = ctl->B, *const C = ctl->C;
    double *M[TASKS], *Mi[P];
    memcpy(M, ctl->M, sizeof(M));
    memcpy(Mi, ctl->Mi, sizeof(Mi));
    set_model(A, nn * sizeof(double), imodel);
    set_model(B, nn * sizeof(double), imodel);
    set_model(C, nn * sizeof(double), rmodel);
    for (int t = 0; t < TASKS; t++)
        set_model(M[t], qq * sizeof(double), rmodel);
    for (int i = 0; i < P; i++)
        if (whole[i] >= 0)
            set_model(Mi[i], (size_t)h * (size_t)h * sizeof(double), rmodel);

    /* Initialise the tiles I own; first-touch what I will write: my products and rows of C. */
    const int s0 = q * me / nodes, s1 = q * (me + 1) / nodes, rows = s1 - s0;
    for (int tile = 0; tile < TILES; tile++) {
        if (owner[tile] != me)
            continue;
        const int w = tile / 16, b = tile / 4 % 4, x = tile % 4;
        const int r0 = (b >> 1) * h + (x >> 1) * q, c0 = (b & 1) * h + (x & 1) * q;
        double *T = tile_at(A, B, qq, tile);
        for (int r = 0; r < q; r++)
            for (int c = 0; c < q; c++)
                T[(size_t)r * (size_t)q + (size_t)c] = strassen_input(w, n, r0 + r, c0 + c);
    }
    for (int t = 0; t < TASKS; t++)
        if (node_of[t] == me)
            memset(M[t], 0, qq * sizeof(double));
    for (int i = 0; i < P; i++)
        if (whole[i] == me)
            memset(Mi[i], 0, (size_t)h * (size_t)h * sizeof(double));
    for (int b = 0; b < 4 && rows > 0; b++)
        memset(C + (size_t)(b * q + s0) * (size_t)n, 0, (size_t)rows * (size_t)n * sizeof(double));

    /* Local scratch: quadrants of the level-1 operands, the level-2 operands, bands of Mi. */
    double *S1 = malloc((size_t)h * (size_t)h * sizeof(double));
    double *T1 = malloc((size_t)h * (size_t)h * sizeof(double));
    double *S2 = malloc(qq * sizeof(double)), *T2 = malloc(qq * sizeof(double));
    double *L = malloc(P * (size_t)h * (size_t)h * sizeof(double));
    if (!S1 || !T1 || !S2 || !T2 || !L) {
        fprintf(stderr, "strassen: node %d: out of memory\n", me);
        return 1;
    }
    const double *Mband[TASKS]; /* rows s0 .. s1-1 of every product */
    for (int t = 0; t < TASKS; t++)
        Mband[t] = M[t] + (size_t)s0 * (size_t)q;
    const size_t bandbytes = (size_t)rows * (size_t)q * sizeof(double);
    /* My band of a whole Mi: rows s0 .. s1-1 and q+s0 .. q+s1-1 (of n/2 doubles). */
    const size_t mibytes = (size_t)rows * (size_t)h * sizeof(double);

    MomeBarrier();
    MomeStatsT st[4];
    double tm[6];
    MomeStats(&st[0]);
    tm[0] = apps_now();

    /* Phase 1: fetch the tiles I need, then compute my products. */
    for (int tile = 0; tile < TILES; tile++)
        if ((uses[me] >> tile & 1) && owner[tile] != me) {
            sync_range(tile_at(A, B, qq, tile), qq * sizeof(double), imodel);
            touch(tile_at(A, B, qq, tile), qq * sizeof(double));
        }
    MomeBarrier(); /* nobody computes while another node still reads its tiles */
    MomeStats(&st[1]);
    tm[1] = apps_now();
    int have_i = -1;
    unsigned have_s = 0, have_t = 0; /* quadrants of S1, T1 that hold operand have_i */
    for (int t = 0; t < TASKS; t++) {
        const int i = t / P, j = t % P;

        if (node_of[t] != me)
            continue;
        if (i != have_i) {
            have_i = i;
            have_s = have_t = 0;
        }
        /* The quadrants of Si and Ti that product j needs, from the same quadrant of the tiles. */
        for (int x = 0; x < 4; x++) {
            const size_t o = (size_t)(x >> 1) * (size_t)q * (size_t)h + (size_t)(x & 1) * (size_t)q;
            const double *X[4];

            if ((strassen_blocks(j, 0) >> x & 1) && !(have_s >> x & 1)) {
                for (int b = 0; b < 4; b++)
                    X[b] = tile_at(A, B, qq, 4 * b + x);
                strassen_operand_part(i, 0, q, X, q, S1 + o, h);
                have_s |= 1u << x;
            }
            if ((strassen_blocks(j, 1) >> x & 1) && !(have_t >> x & 1)) {
                for (int b = 0; b < 4; b++)
                    X[b] = tile_at(A, B, qq, 16 + 4 * b + x);
                strassen_operand_part(i, 1, q, X, q, T1 + o, h);
                have_t |= 1u << x;
            }
        }
        strassen_operands(j, q, S1, h, T1, h, S2, T2);
        if (strassen_rec(q, S2, q, T2, q, M[t], q, cutoff) < 0) {
            fprintf(stderr, "strassen: node %d: out of memory\n", me);
            return 1;
        }
    }
    /* Where one node computed all of Mi1..Mi7, it also computes all of Mi, so that the other
     * nodes read 4 bands of Mi instead of 7 bands of products. */
    for (int i = 0; i < P; i++)
        if (whole[i] == me)
            strassen_combine(q, q, (const double *const *)&M[P * i], q, Mi[i], h);
    tm[2] = apps_now();
    MomeBarrier();

    /* Phase 2: fetch my band of every Mi, or of every product of the groups computed by several
     * nodes, then compute rows s0 .. s1-1 of every q x q block of the result, i.e. rows s, q+s,
     * h+s and h+q+s of C for s in [s0, s1). */
    tm[3] = apps_now();
    for (int i = 0; i < P && rows > 0; i++) {
        if (whole[i] >= 0) {
            for (int half = 0; half < 2; half++) {
                const double *band = Mi[i] + (size_t)(half * q + s0) * (size_t)h;
                sync_range(band, mibytes, rmodel);
                if (whole[i] != me)
                    touch(band, mibytes);
            }
            continue;
        }
        for (int t = P * i; t < P * (i + 1); t++) {
            sync_range(Mband[t], bandbytes, rmodel);
            if (node_of[t] != me)
                touch(Mband[t], bandbytes);
        }
    }
    MomeStats(&st[2]);
    tm[4] = apps_now();
    if (rows > 0) {
        const double *src[P]; /* Mi, or the local copy Li of its band (leading dimension h) */

        for (int i = 0; i < P; i++) {
            if (whole[i] >= 0) {
                src[i] = Mi[i];
                continue;
            }
            /* Rows s0.. and q+s0.. of Mi, into Li. */
            double *Li = L + (size_t)i * (size_t)h * (size_t)h;
            strassen_combine(rows, q, &Mband[P * i], q, Li + (size_t)s0 * (size_t)h, h);
            src[i] = Li;
        }
        for (int half = 0; half < 2; half++) {
            const double *Lk[P];
            size_t r = (size_t)(half * q + s0);

            for (int i = 0; i < P; i++)
                Lk[i] = src[i] + r * (size_t)h;
            strassen_combine(rows, h, Lk, h, C + r * (size_t)n, n);
        }
    }
    tm[5] = apps_now();
    MomeStats(&st[3]);
    MomeBarrier();
    double end = apps_now();

    if (getenv("APPS_VERBOSE")) {
        int mine = 0;
        for (int t = 0; t < TASKS; t++)
            mine += node_of[t] == me;
        fprintf(stderr,
                "strassen: node %d: fetch tiles %.4fs (%llu pages) | %d products %.4fs | wait "
                "%.4fs | fetch bands %.4fs (%llu pages) | combine %.4fs (%llu faults) | wait "
                "%.4fs\n",
                me, tm[1] - tm[0], (unsigned long long)(st[1].pages_fetched - st[0].pages_fetched),
                mine, tm[2] - tm[1], tm[3] - tm[2], tm[4] - tm[3],
                (unsigned long long)(st[2].pages_fetched - st[1].pages_fetched), tm[5] - tm[4],
                (unsigned long long)(st[3].read_faults + st[3].write_faults - st[2].read_faults -
                                     st[2].write_faults),
                end - tm[5]);
    }
    if (me == 0) {
        sync_range(C, nn * sizeof(double), rmodel);
        printf("strassen n=%d cutoff=%d nodes=%d ", n, cutoff, nodes);
        apps_print_checksum(apps_sum_matrix(C, n, n, n));
        printf(" time=%.6fs\n", end - tm[0]);
        fflush(stdout);
    }
    MomeBarrier();
    for (int t = 0; t < TASKS; t++)
        if (node_of[t] == me)
            MomeFree(M[t]);
    for (int i = 0; i < P; i++)
        if (whole[i] == me)
            MomeFree(Mi[i]);
    if (me == 0) {
        MomeFree(A);
        MomeFree(B);
        MomeFree(C);
    }
    free(S1);
    free(T1);
    free(S2);
    free(T2);
    free(L);
    MomeFinalize();
    return 0;
}
