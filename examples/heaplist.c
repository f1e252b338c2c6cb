/*
 * heaplist.c - a linked list in the shared heap: every node MomeMalloc's its elements and links
 * them into one list under a MomeLock; after a barrier each node walks the whole list (pointers
 * are valid on every node) and checks it; then node 0 frees every element, those the other nodes
 * made too (a MomeFree of another node's block goes to that node).
 *
 *   mome-run -n 4 ./heaplist [elements-per-node]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <mome.h>

typedef struct elem {
    struct elem *next;
    int node;
    int seq;
    uint64_t value;
} elem_t;

#define LIST_LOCK 1

int main(int argc, char **argv)
{
    int per = argc > 1 ? atoi(argv[1]) : 100;
    int me, n, seg, bad = 0;
    elem_t **head;

    if (MomeInit(&argc, &argv) < 0) {
        fprintf(stderr, "heaplist: %s\n", MomeError());
        return 1;
    }
    me = MomeNode();
    n = MomeNodes();
    /* The list head lives in a small segment every node maps. */
    seg = MomeSegOpen("heaplist", MomePageSize(), MOME_CREATE);
    head = seg < 0 ? MOME_MAP_FAILED
                   : MomeMMap(NULL, MomePageSize(), MOME_READ | MOME_WRITE, 0, seg, 0);
    if (head == MOME_MAP_FAILED) {
        fprintf(stderr, "heaplist: %s\n", MomeError());
        return 1;
    }
    MomeBarrier();

    for (int i = 0; i < per; i++) {
        elem_t *e = MomeMalloc(sizeof(*e));
        if (!e) {
            fprintf(stderr, "heaplist: %s\n", MomeError());
            return 1;
        }
        e->node = me;
        e->seq = i;
        e->value = (uint64_t)me * 1000003u + (uint64_t)i;
        MomeLock(LIST_LOCK);
        e->next = *head;
        *head = e;
        MomeUnlock(LIST_LOCK);
    }
    MomeBarrier();

    /* Walk: every element of every node, exactly once. */
    int *seen = calloc((size_t)n * (size_t)per, sizeof(int));
    long count = 0;
    for (elem_t *e = *head; e; e = e->next, count++) {
        if (e->node < 0 || e->node >= n || e->seq < 0 || e->seq >= per ||
            e->value != (uint64_t)e->node * 1000003u + (uint64_t)e->seq ||
            seen[e->node * per + e->seq]++) {
            bad++;
            break;
        }
    }
    if (count != (long)n * per)
        bad++;
    printf("heaplist: node %d walked %ld elements made by %d nodes: %s\n", me, count, n,
           bad ? "WRONG" : "all present, each once");
    MomeBarrier();

    /* Node 0 frees every element: frees of other nodes' blocks travel to their owner. */
    if (me == 0) {
        elem_t *e = *head;
        while (e) {
            elem_t *next = e->next;
            MomeFree(e);
            e = next;
        }
        *head = NULL;
    }
    free(seen);
    MomeBarrier();
    MomeFinalize();
    return bad ? 1 : 0;
}
