/*
 * tsp_kernel.c - the travelling salesman's branch and bound: problem generation, the lower bound,
 * the depth-first search and the canonical form of a tour, linked into both tsp (Mome) and
 * tsp_serial.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "apps_util.h"
#include "tsp_kernel.h"

int tsp_make(tsp_prob_t *p, int n, uint64_t seed)
{
    if (n < 2 || n > TSP_MAX)
        return 0;
    memset(p, 0, sizeof(*p));
    p->n = n;
    for (int c = 0; c < n; c++) {
        p->x[c] = (int)(apps_hash(seed, 2 * (uint64_t)c) % 1000);
        p->y[c] = (int)(apps_hash(seed, 2 * (uint64_t)c + 1) % 1000);
    }
    for (int a = 0; a < n; a++)
        for (int b = 0; b < n; b++) {
            double dx = p->x[a] - p->x[b], dy = p->y[a] - p->y[b];

            p->dist[a][b] = (int)(sqrt(dx * dx + dy * dy) + 0.5);
        }
    for (int a = 0; a < n; a++) {
        /* Insertion sort of the other cities by distance, ties by number. */
        int k = 0;

        for (int b = 0; b < n; b++) {
            if (b == a)
                continue;
            int i = k++;
            while (i > 0 && p->dist[a][p->near[a][i - 1]] > p->dist[a][b]) {
                p->near[a][i] = p->near[a][i - 1];
                i--;
            }
            p->near[a][i] = (uint8_t)b;
        }
        p->minout[a] = p->dist[a][p->near[a][0]];
    }
    return 1;
}

void tsp_root(const tsp_prob_t *p, tsp_tour_t *t)
{
    memset(t, 0, sizeof(*t));
    t->depth = 1;
    t->visited = 1;
    for (int c = 1; c < p->n; c++)
        t->rem += p->minout[c];
    /* The rest of the tour leaves city 0 and every other city once. */
    t->bound = p->minout[0] + t->rem;
}

int tsp_children(const tsp_prob_t *p, const tsp_tour_t *t, tsp_tour_t *out)
{
    const int last = t->path[t->depth - 1];
    int k = 0;

    for (int i = 0; i < p->n - 1; i++) {
        const int c = p->near[last][i];
        tsp_tour_t *u = &out[k];

        if (t->visited & (1u << c))
            continue;
        *u = *t;
        u->path[u->depth++] = (uint8_t)c;
        u->visited |= 1u << c;
        u->len += p->dist[last][c];
        u->rem -= p->minout[c];
        /* Edges still to come: out of c and out of every unvisited city (the last one to 0). */
        u->bound = u->depth == p->n ? u->len + p->dist[c][0] : u->len + p->minout[c] + u->rem;
        k++;
    }
    return k;
}

/* The recursion of tsp_dfs: path[0 .. depth-1] is fixed, of length len, ending at last. */
static void dfs(tsp_search_t *s, uint8_t *path, int depth, int len, uint32_t visited, int rem)
{
    const tsp_prob_t *p = s->p;
    const int n = p->n, last = path[depth - 1];

    s->nodes++;
    if (depth == n) {
        const int total = len + p->dist[last][0];

        if (total <= *s->best)
            s->found(s, total, path);
        return;
    }
    for (int i = 0; i < n - 1; i++) {
        const int c = p->near[last][i];

        if (visited & (1u << c))
            continue;
        /* The bound of the child is len + d + rem; cities come nearest first, so once one child
         * is cut, so are all the following ones. */
        const int d = p->dist[last][c];
        if (len + d + rem > *s->best)
            break;
        path[depth] = (uint8_t)c;
        dfs(s, path, depth + 1, len + d, visited | (1u << c), rem - p->minout[c]);
    }
}

void tsp_dfs(tsp_search_t *s, const tsp_tour_t *t)
{
    uint8_t path[TSP_MAX];

    if (t->bound > *s->best)
        return;
    memcpy(path, t->path, sizeof(path));
    dfs(s, path, t->depth, t->len, t->visited, t->rem);
}

int tsp_greedy(const tsp_prob_t *p, uint8_t *path)
{
    uint32_t visited = 1;
    int len = 0;

    path[0] = 0;
    for (int k = 1; k < p->n; k++) {
        const int last = path[k - 1];

        for (int i = 0; i < p->n - 1; i++) {
            const int c = p->near[last][i];
            if (!(visited & (1u << c))) {
                path[k] = (uint8_t)c;
                visited |= 1u << c;
                len += p->dist[last][c];
                break;
            }
        }
    }
    return len + p->dist[path[p->n - 1]][0];
}

void tsp_canon(int n, const uint8_t *path, uint8_t *out)
{
    /* Tours from the search start at city 0 already; rotate anyway, to accept any tour. */
    int z = 0;

    while (path[z] != 0)
        z++;
    int fwd = n < 3 || path[(z + 1) % n] < path[(z + n - 1) % n];
    for (int k = 0; k < n; k++)
        out[k] = path[fwd ? (z + k) % n : (z + n - k) % n];
}

int tsp_better(int n, int len, const uint8_t *a, int best_len, const uint8_t *b)
{
    if (len != best_len)
        return len < best_len;
    return memcmp(a, b, (size_t)n) < 0;
}

void tsp_print(int n, int len, const uint8_t *canon)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a over the length and the tour */

    for (int k = 0; k < 4; k++)
        h = (h ^ (uint8_t)((unsigned)len >> (8 * k))) * 0x100000001b3ull;
    for (int k = 0; k < n; k++)
        h = (h ^ canon[k]) * 0x100000001b3ull;
    printf("length=%d tour=", len);
    for (int k = 0; k < n; k++)
        printf("%s%d", k ? "," : "", canon[k]);
    printf(" checksum=0x%016llx", (unsigned long long)h);
}
