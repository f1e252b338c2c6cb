/*
 * test_page.c - local page bookkeeping: lazily backed page tables, transactions in flight and the
 * faults waiting on them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "coherence/page.h"
#include "coherence/seg.h"
#include "unit.h"

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &v) == 1)
            break;
    if (f)
        fclose(f);
    return v;
}

/* Resident KiB a scattered touched entry may cost: its page, and under ASan (--enable-sanitizers)
 * the shadow page the instrumented access reads too. */
#if defined(__SANITIZE_ADDRESS__)
#define TOUCH_KIB (2 * 4)
#else
#define TOUCH_KIB 4
#endif

START_TEST(test_page__table_is_zeroed_and_lazily_backed)
{
    uint64_t n = 16ull << 20; /* pages of a 64 GiB segment */
    mome_ptab_t t;
    long before = rss_kib();
    ck_assert_int_eq(mome_ptab_init(&t, n), 0);
    /* Touch 1000 scattered entries: resident memory grows by about 1000 pages, not 128 MiB. */
    for (uint64_t i = 0; i < 1000; i++) {
        mome_page_t *pg = mome_ptab_get(&t, (i * 7919 * 4096) % n);
        ck_assert_int_eq(pg->access, MOME_ACC_NONE);
        ck_assert_int_eq(pg->flags, 0);
        pg->access = MOME_ACC_READ;
    }
    ck_assert_int_lt(rss_kib() - before, 1000 * TOUCH_KIB + 4096);
    mome_ptab_fini(&t);
    ck_assert_int_eq(mome_ptab_init(&t, 0), -ENOMEM);
}
END_TEST

/* Entries of pages far apart share pages of memory: 20,000 pages 209 apart (as scale.test's
 * 20,000 pages over 16 GiB) cost about 1,800 new pages, where a dense table took one each. */
START_TEST(test_page__entries_far_apart_share_memory)
{
    uint64_t n = 4ull << 20, gap = 209, count = 20000; /* a 16 GiB segment */
    mome_ptab_t t;
    long before = rss_kib();
    ck_assert_int_eq(mome_ptab_init(&t, n), 0);
    for (uint64_t i = 0; i < count; i++) {
        mome_page_t *pg = mome_ptab_get(&t, i * gap);
        ck_assert_int_eq(pg->access, MOME_ACC_NONE);
        ck_assert_uint_eq(pg->ver, 0);
        pg->ver = i + 1;
        pg->mgr = (uint32_t)i;
        mome_ptab_get(&t, i * gap + 1)->flags = MOME_PG_USED; /* its neighbour, in its leaf */
    }
    ck_assert_int_lt(rss_kib() - before, (long)count * TOUCH_KIB / 8 + 4096);
    for (uint64_t i = 0; i < count; i++) {
        ck_assert_uint_eq(mome_ptab_get(&t, i * gap)->ver, i + 1);
        ck_assert_uint_eq(mome_ptab_get(&t, i * gap)->mgr, i);
        ck_assert_int_eq(mome_ptab_get(&t, i * gap)->flags, 0);
        ck_assert_int_eq(mome_ptab_get(&t, i * gap + 1)->flags, MOME_PG_USED);
        ck_assert_uint_eq(mome_ptab_get(&t, i * gap + 2)->ver, 0);
    }
    ck_assert_uint_eq(mome_ptab_get(&t, n - 1)->ver, 0); /* the last page has an entry */
    mome_ptab_fini(&t);
}
END_TEST

START_TEST(test_page__transactions_by_segment_and_page)
{
    mome_seg_t a = {.id = 1}, b = {.id = 2};
    ck_assert_int_eq(mome_txn_init(), 0);
    mome_txn_t *t1 = mome_txn_new(&a, a.id, 5, MOME_TXN_READ);
    mome_txn_t *t2 = mome_txn_new(&b, b.id, 5, MOME_TXN_WRITE);
    mome_txn_t *t3 = mome_txn_new(&a, a.id, 6, MOME_TXN_WRITE);
    ck_assert_ptr_eq(mome_txn_find(1, 5), t1);
    ck_assert_ptr_eq(mome_txn_find(2, 5), t2);
    ck_assert_ptr_eq(mome_txn_find(1, 6), t3);
    ck_assert_ptr_null(mome_txn_find(2, 6));
    ck_assert_int_eq(mome_txn_count(), 3);
    ck_assert_int_eq(t1->kind, MOME_TXN_READ);
    ck_assert_int_eq(t1->granted + t1->have_data + t1->acks + t1->acks_needed, 0);
    mome_txn_free(t2);
    ck_assert_ptr_null(mome_txn_find(2, 5));
    mome_txn_forget_seg(1);
    ck_assert_int_eq(mome_txn_count(), 0);
    mome_txn_fini();
}
END_TEST

START_TEST(test_page__many_transactions)
{
    mome_seg_t s = {.id = 9};
    ck_assert_int_eq(mome_txn_init(), 0);
    for (uint64_t p = 0; p < 20000; p++)
        ck_assert_ptr_nonnull(mome_txn_new(&s, s.id, p * 3, MOME_TXN_READ));
    for (uint64_t p = 0; p < 20000; p++) {
        mome_txn_t *t = mome_txn_find(9, p * 3);
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->page, p * 3);
        ck_assert_ptr_null(mome_txn_find(9, p * 3 + 1));
    }
    ck_assert_int_eq(mome_txn_count(), 20000);
    mome_txn_fini();
}
END_TEST

START_TEST(test_page__waiters_of_an_unmapped_range_are_dropped)
{
    mome_seg_t s = {.id = 3};
    char base[8 * 4096];
    ck_assert_int_eq(mome_txn_init(), 0);
    mome_txn_t *t = mome_txn_new(&s, s.id, 0, MOME_TXN_WRITE);
    for (int i = 0; i < 8; i++) {
        mome_waiter_t *w = mome_waiter_new();
        ck_assert_ptr_nonnull(w);
        w->addr = base + i * 4096;
        w->next = t->waiters;
        t->waiters = w;
    }
    mome_txn_forget_range(base + 2 * 4096, 3 * 4096); /* pages 2, 3, 4 */
    int n = 0;
    for (mome_waiter_t *w = t->waiters; w; w = w->next, n++)
        ck_assert(w->addr < base + 2 * 4096 || w->addr >= base + 5 * 4096);
    ck_assert_int_eq(n, 5);
    mome_txn_fini();
}
END_TEST

START_TEST(test_page__waiters_are_recycled)
{
    mome_waiter_t *a = mome_waiter_new();
    a->write = 1;
    a->mapped = 1;
    mome_waiter_free(a);
    mome_waiter_t *b = mome_waiter_new();
    ck_assert_ptr_eq(a, b); /* from the free list, and cleared */
    ck_assert_int_eq(b->write, 0);
    ck_assert_int_eq(b->mapped, 0);
    mome_waiter_free(b);
    ck_assert_int_eq(mome_txn_init(), 0);
    mome_txn_fini();
}
END_TEST

Suite *page_suite(void)
{
    Suite *s = suite_create("page");
    UNIT_CASE(s, test_page__table_is_zeroed_and_lazily_backed);
    UNIT_CASE(s, test_page__entries_far_apart_share_memory);
    UNIT_CASE(s, test_page__transactions_by_segment_and_page);
    UNIT_CASE(s, test_page__many_transactions);
    UNIT_CASE(s, test_page__waiters_of_an_unmapped_range_are_dropped);
    UNIT_CASE(s, test_page__waiters_are_recycled);
    return s;
}
