/*
 * lock_list.c - a linked list under RELEASE built by every node under one MomeLock: each node
 * takes elements from its own slice of a segment and pushes them on the shared list; after a
 * barrier every node walks the list and finds every element exactly once.
 */
#include "itest.h"

typedef struct elem {
    int64_t next; /* index of the next element, -1 at the end */
    int node, seq;
    uint64_t value;
} elem_t;

int main(int argc, char **argv)
{
    int per = argc > 1 ? atoi(argv[1]) : 200;
    itest_init(&argc, &argv);
    int me = MomeNode(), n = MomeNodes();
    size_t len = sizeof(int64_t) + sizeof(elem_t) * (size_t)per * (size_t)n;
    len = (len + MomePageSize() - 1) / MomePageSize() * MomePageSize();
    char *a = itest_map("lock_list", len, NULL);
    int64_t *head = (int64_t *)a;
    elem_t *el = (elem_t *)(a + 64);

    MUST(MomeConsistency(a, len, MOME_RELEASE));
    if (me == 0) {
        MUST(MomeLock(9));
        *head = -1;
        MUST(MomeUnlock(9));
    }
    MomeBarrier();
    for (int i = 0; i < per; i++) {
        int64_t k = (int64_t)me * per + i;
        MUST(MomeLock(9));
        el[k].node = me;
        el[k].seq = i;
        el[k].value = (uint64_t)k * 977u;
        el[k].next = *head;
        *head = k;
        MUST(MomeUnlock(9));
    }
    MomeBarrier();
    char *seen = calloc((size_t)per * (size_t)n, 1);
    long count = 0;
    for (int64_t k = *head; k >= 0; k = el[k].next, count++) {
        CHECK(k < (int64_t)per * n, "index %lld out of range", (long long)k);
        CHECK(!seen[k]++, "element %lld twice", (long long)k);
        CHECK(el[k].value == (uint64_t)k * 977u && el[k].node == k / per, "element %lld",
              (long long)k);
    }
    CHECK(count == (long)per * n, "walked %ld elements, want %d", count, per * n);
    MomeBarrier();
    if (me == 0)
        printf("lock list (RELEASE): %d nodes pushed %d elements each under a lock; every node "
               "walked all %ld\n", n, per, count);
    free(seen);
    MomeFinalize();
    return 0;
}
