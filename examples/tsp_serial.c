/*
 * tsp_serial.c - the serial reference of tsp.c: branch and bound for the travelling salesman on
 * one process, without Mome, with the same cities, bound and tie-breaking (tsp_kernel.c), so the
 * best length and the canonical tour must equal tsp's exactly. Only the search is timed.
 *
 *   tsp_serial [cities [seed]]      (defaults 20, 1)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps_util.h"
#include "tsp_kernel.h"

static int best_len;
static uint8_t best_tour[TSP_MAX];

static void found(tsp_search_t *s, int len, const uint8_t *path)
{
    uint8_t canon[TSP_MAX];

    tsp_canon(s->p->n, path, canon);
    if (tsp_better(s->p->n, len, canon, best_len, best_tour)) {
        best_len = len;
        memcpy(best_tour, canon, sizeof(canon));
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    tsp_prob_t p;
    tsp_tour_t root;
    uint8_t path[TSP_MAX];

    if (!tsp_make(&p, n, seed)) {
        fprintf(stderr, "tsp_serial: cities must be 2 .. %d\n", TSP_MAX);
        return 2;
    }
    double t0 = apps_now();
    best_len = tsp_greedy(&p, path);
    tsp_canon(n, path, best_tour);
    tsp_root(&p, &root);
    tsp_search_t s = {.p = &p, .best = &best_len, .found = found, .nodes = 0};
    tsp_dfs(&s, &root);
    double t1 = apps_now();

    printf("tsp cities=%d seed=%llu nodes=serial ", n, (unsigned long long)seed);
    tsp_print(n, best_len, best_tour);
    printf(" time=%.6fs\n", t1 - t0);
    if (getenv("APPS_VERBOSE"))
        fprintf(stderr, "tsp_serial: %llu search nodes\n", (unsigned long long)s.nodes);
    return 0;
}
