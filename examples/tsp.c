/*
 * tsp.c - branch and bound for the travelling salesman on Mome (the classic TreadMarks workload).
 *
 * The nodes share a work queue of partial tours and the best tour found so far, both in a
 * segment. The queue is a stack protected by a MomeLock: a node pops a partial tour; if it is
 * shorter than the split depth it pushes its children (nearest city on top, so the order follows
 * the serial search), otherwise it completes it by a local depth-first search, cutting every branch
 * whose lower bound exceeds the best length. A complete tour that may beat the best is compared and
 * stored under a second MomeLock. The search stops when the queue is empty and no node is
 * expanding a tour. Ties are broken on the canonical tour (tsp_kernel.h), so the best length and
 * the tour printed are exactly those of the serial reference (tsp_serial.c), whatever the order in
 * which the nodes find them.
 *
 * Consistency: the queue is RELEASE: it is only touched under its lock, whose acquire brings in
 * what the previous holder released, and a pop or a push writes a few bytes of one or two pages.
 * Measured on 2 nodes, a lock, a write and an unlock cost about 90 us when the lock goes from
 * node to node with a RELEASE page, 120 us with a STRONG one (whose page must follow the lock).
 * The best length is STRONG, on a page of its own: every node reads it at every step of its
 * search, without a lock; STRONG keeps a read-only copy on every node at no cost and invalidates
 * it the moment a better tour is stored, so all nodes cut with the new bound at once, where under
 * RELEASE a node would see it only at its next acquire.
 *
 * Work split: tours of fewer than `split` cities are expanded through the queue, longer ones are
 * searched locally; the default 3 gives up to (n-1)(n-2) tasks (342 for 20 cities), enough to
 * balance a few nodes for a few hundred lock round trips. (Depth 4 gives thousands of tasks and
 * was slower: more locking, and more of the search done before a good bound is known.) A parallel
 * search visits somewhat more nodes than the serial one, as a node may explore a branch with a
 * bound that another node has not yet improved; the answer is the same.
 *
 * The default is 20 cities: with this bound 13 cities take about 2 ms, too little to spread over
 * nodes; 20 take about a second serially. The search, from the first barrier to the last, is timed
 * (it includes the first, greedy, tour, as in the serial reference). Node 0 prints
 *
 *   tsp cities=20 seed=1 nodes=2 length=2964 tour=0,7,18,... checksum=0x... time=0.123456s
 *
 * With APPS_VERBOSE set, every node prints how many tours it took from the queue and how many
 * search nodes it visited.
 *
 *   mome-run -n 2 ./tsp [cities [seed [split-depth]]]     (defaults 20, 1, 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define APP_NAME "tsp"
#include "apps_mome.h"

#include "apps_util.h"
#include "tsp_kernel.h"

#define QUEUE_LOCK 1
#define BEST_LOCK 2
#define QUEUE_CAP (TSP_MAX * TSP_MAX) /* a stack holds at most depth x (n - 1) + 1 tours */

/* Page 0 of the segment: STRONG. */
typedef struct best {
    int len;
    uint8_t tour[TSP_MAX]; /* canonical */
} best_t;

/* From page 1: RELEASE, only touched under QUEUE_LOCK. */
typedef struct queue {
    int top;  /* tours in the stack */
    int busy; /* nodes expanding a tour they popped: they will push */
    tsp_tour_t tour[QUEUE_CAP];
} queue_t;

static int me, nodes;
static best_t *best;

static void lock(int id)
{
    if (MomeLock(id) < 0)
        apps_die("MomeLock");
}

static void unlock(int id)
{
    if (MomeUnlock(id) < 0)
        apps_die("MomeUnlock");
}

/* A complete tour no longer than the best known: keep it if it beats the best, under the lock. */
static void found(tsp_search_t *s, int len, const uint8_t *path)
{
    uint8_t canon[TSP_MAX];

    tsp_canon(s->p->n, path, canon);
    lock(BEST_LOCK);
    if (tsp_better(s->p->n, len, canon, best->len, best->tour)) {
        memcpy(best->tour, canon, sizeof(canon));
        best->len = len;
    }
    unlock(BEST_LOCK);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    int split = argc > 3 ? atoi(argv[3]) : 3;
    tsp_prob_t p;

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "tsp: %s\n", MomeError());
        return 1;
    }
    me = MomeNode();
    nodes = MomeNodes();
    if (!tsp_make(&p, n, seed) || split < 1) {
        fprintf(stderr, "tsp: cities must be 2 .. %d, split depth >= 1\n", TSP_MAX);
        return 2;
    }
    const size_t ps = MomePageSize();
    const size_t qbytes = (sizeof(queue_t) + ps - 1) / ps * ps;
    int seg = MomeSegOpen("tsp", ps + qbytes, MOME_CREATE);
    char *base =
        seg < 0 ? MOME_MAP_FAILED : MomeMMap(NULL, ps + qbytes, MOME_READ | MOME_WRITE, 0, seg, 0);
    if (base == MOME_MAP_FAILED)
        apps_die("segment");
    best = (best_t *)base;
    queue_t *q = (queue_t *)(base + ps);
    if (MomeConsistency(q, qbytes, MOME_RELEASE) < 0)
        apps_die("MomeConsistency");
    MomeBarrier();

    double start = apps_now();
    if (me == 0) {
        uint8_t path[TSP_MAX];

        best->len = tsp_greedy(&p, path);
        tsp_canon(n, path, best->tour);
        tsp_root(&p, &q->tour[0]);
        q->top = 1;
    }
    MomeBarrier();

    tsp_search_t s = {.p = &p, .best = &best->len, .found = found, .nodes = 0};
    tsp_tour_t t, kids[TSP_MAX];
    long popped = 0;
    for (;;) {
        lock(QUEUE_LOCK);
        if (q->top == 0) {
            int done = q->busy == 0;
            unlock(QUEUE_LOCK);
            if (done)
                break;
            usleep(100); /* someone is about to push */
            continue;
        }
        t = q->tour[--q->top];
        int expand = t.depth < split && t.depth < n;
        if (expand)
            q->busy++;
        unlock(QUEUE_LOCK);
        popped++;

        if (!expand) {
            tsp_dfs(&s, &t);
            continue;
        }
        int k = 0;
        if (t.bound <= best->len)
            k = tsp_children(&p, &t, kids);
        lock(QUEUE_LOCK);
        /* Push the farthest first, so that the nearest city is popped first. (The stack cannot
         * overflow with the default split depth; if it would, search the children here.) */
        int room = q->top + k <= QUEUE_CAP;
        for (int i = k - 1; i >= 0 && room; i--)
            if (kids[i].bound <= best->len)
                q->tour[q->top++] = kids[i];
        q->busy--;
        unlock(QUEUE_LOCK);
        for (int i = 0; i < k && !room; i++)
            tsp_dfs(&s, &kids[i]);
    }
    MomeBarrier();
    double end = apps_now();

    if (getenv("APPS_VERBOSE"))
        fprintf(stderr, "tsp: node %d: %ld tours popped, %llu search nodes\n", me, popped,
                (unsigned long long)s.nodes);
    if (me == 0) {
        printf("tsp cities=%d seed=%llu nodes=%d ", n, (unsigned long long)seed, nodes);
        tsp_print(n, best->len, best->tour);
        printf(" time=%.6fs\n", end - start);
        fflush(stdout);
    }
    MomeBarrier();
    MomeMUnmap(base, ps + qbytes);
    MomeSegClose(seg);
    MomeFinalize();
    return 0;
}
