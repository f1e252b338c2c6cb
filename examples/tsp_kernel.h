/*
 * tsp_kernel.h - branch and bound for the travelling salesman problem, shared by tsp.c (on Mome)
 * and tsp_serial.c (the reference).
 *
 * Cities have integer coordinates drawn from a seed and integer distances (Euclidean, rounded to
 * the nearest integer as in TSPLIB's EUC_2D), so tour lengths are exact whatever the order of the
 * additions. Tours start at city 0. A branch is cut only when its lower bound is strictly greater
 * than the best length known, so every optimal tour is reached, and among tours of equal length
 * the smallest canonical tour (from city 0, in the direction of the smaller neighbour, compared
 * lexicographically) wins: the answer is unique, and any search order, serial or parallel, finds
 * the same one.
 */
#ifndef TSP_KERNEL_H
#define TSP_KERNEL_H

#include <stdint.h>

/* The largest number of cities (a visited set is a 32-bit mask). */
#define TSP_MAX 24

typedef struct tsp_prob {
    int n;
    int x[TSP_MAX], y[TSP_MAX];
    int dist[TSP_MAX][TSP_MAX];
    int minout[TSP_MAX];            /* the shortest edge from each city */
    uint8_t near[TSP_MAX][TSP_MAX]; /* near[c][0 .. n-2]: the other cities, nearest first */
} tsp_prob_t;

/* A partial tour from city 0: a node of the search tree; plain data, it may live in Mome memory. */
typedef struct tsp_tour {
    int len;          /* length of path[0 .. depth-1] */
    int rem;          /* sum of minout over the cities not yet visited */
    int bound;        /* a lower bound on every complete tour that extends this one */
    int depth;        /* number of cities in path */
    uint32_t visited; /* mask of the cities in path */
    uint8_t path[TSP_MAX];
} tsp_tour_t;

/* A search: how it learns the best length and reports tours that may beat it. */
typedef struct tsp_search tsp_search_t;
struct tsp_search {
    const tsp_prob_t *p;
    /* The best length known. Read without a lock: it only ever decreases, and a stale (larger)
     * value only cuts fewer branches. */
    const volatile int *best;
    /* Called with a complete tour whose length is <= *best (it may tie). */
    void (*found)(tsp_search_t *s, int len, const uint8_t *path);
    uint64_t nodes; /* search nodes expanded (statistics) */
};

/* Cities 0 .. n-1 (2 <= n <= TSP_MAX) from seed; 1 on success, 0 if n is out of range. */
int tsp_make(tsp_prob_t *p, int n, uint64_t seed);

/* The tour that holds only city 0. */
void tsp_root(const tsp_prob_t *p, tsp_tour_t *t);

/* The children of t that go on to an unvisited city, nearest first; returns how many (<= n-1). */
int tsp_children(const tsp_prob_t *p, const tsp_tour_t *t, tsp_tour_t *out);

/* Complete t in every way whose bound is <= *s->best, depth first, nearest city first. */
void tsp_dfs(tsp_search_t *s, const tsp_tour_t *t);

/* A first tour, to start with a bound: nearest neighbour from city 0. Returns its length. */
int tsp_greedy(const tsp_prob_t *p, uint8_t *path);

/* The canonical form of a tour: from city 0, towards its smaller neighbour. */
void tsp_canon(int n, const uint8_t *path, uint8_t *out);

/* Whether (len, canonical tour a) comes before (best_len, canonical tour b). */
int tsp_better(int n, int len, const uint8_t *a, int best_len, const uint8_t *b);

/* Print "length=L tour=0,a,b,...  checksum=0x..." (no newline) for a canonical tour. */
void tsp_print(int n, int len, const uint8_t *canon);

#endif
