/*
 * test_evict.c - the eviction policies (memory/evict_*.c) through the page store over the fake
 * memory: each policy's order of victims, what a touch (a fault on a resident page) changes, and
 * that remove (a page dropped), skip and forget (a store closed) take pages out of its choice.
 */
#include <errno.h>
#include <string.h>

#include "fake_memory.h"
#include "memory/evict.h"
#include "memory/store.h"
#include "unit.h"

#define PG 4096
#define MAXST 4

static const char *const policies[] = {"fifo", "clock", "random"};
#define NPOL (sizeof(policies) / sizeof(policies[0]))

static mome_store_t *stores[MAXST];
static int up;

static void store_down(void);

/* The store layer over fresh fake memory, with the named eviction policy. */
static void store_up(const char *policy)
{
    store_down();
    fake_memory_use();
    up = 1;
    ck_assert_int_eq(mome_store_init(PG, policy), 0);
}

static mome_store_t *open_store(uint64_t id, uint64_t npages)
{
    int err = 0;
    mome_store_t *st = mome_store_open(&mome_store_mem, id, npages * PG, &err);
    ck_assert_msg(st != NULL, "mome_store_open: %d", err);
    for (int i = 0; i < MAXST; i++) {
        if (!stores[i]) {
            stores[i] = st;
            return st;
        }
    }
    ck_abort_msg("too many stores");
    return NULL;
}

static void close_store(mome_store_t *st)
{
    for (int i = 0; i < MAXST; i++)
        if (stores[i] == st)
            stores[i] = NULL;
    mome_store_close(st);
}

/* Checked teardown: what a failed test left open is closed. */
static void store_down(void)
{
    if (!up)
        return;
    for (int i = 0; i < MAXST; i++)
        if (stores[i])
            close_store(stores[i]);
    mome_store_fini();
    fake_memory_release();
    up = 0;
}

static void fill(mome_store_t *st, uint64_t page)
{
    static uint8_t b[PG];
    mome_store_fill(st, page, b);
}

static void victim_is(mome_store_t *want_st, uint64_t want_page)
{
    mome_store_t *st = NULL;
    uint64_t page = ~0ull;
    ck_assert_int_eq(mome_store_victim(&st, &page), 0);
    ck_assert_ptr_eq(st, want_st);
    ck_assert_uint_eq(page, want_page);
}

static void no_victim(void)
{
    mome_store_t *st;
    uint64_t page;
    ck_assert_int_eq(mome_store_victim(&st, &page), -ENOENT);
}

START_TEST(test_evict__every_policy_is_found_by_name)
{
    for (size_t i = 0; i < NPOL; i++) {
        const mome_evict_ops_t *p = mome_evict_find(policies[i]);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->name, policies[i]);
        ck_assert(p->init && p->fini && p->insert && p->touch && p->remove && p->forget &&
                  p->victim && p->skip);
    }
    ck_assert_ptr_eq(mome_evict_find("CLOCK"), &mome_evict_clock);
    ck_assert_ptr_eq(mome_evict_find("Random"), &mome_evict_random);
    ck_assert_ptr_null(mome_evict_find("lru"));
    ck_assert_ptr_null(mome_evict_find(""));
    ck_assert_ptr_null(mome_evict_find(NULL));
}
END_TEST

/* A page faulted on again since it entered is spared once; the first unused page goes. */
START_TEST(test_evict__clock_spares_pages_used_again)
{
    store_up("clock");
    mome_store_t *st = open_store(1, 16);
    no_victim();
    fill(st, 1);
    fill(st, 2);
    fill(st, 3);
    mome_store_touch(st, 1);
    mome_store_touch(st, 3);
    victim_is(st, 2); /* 1 spared (its bit cleared), 2 unused */
    victim_is(st, 2); /* asked again before it left: the same page */
    mome_store_drop(st, 2);
    fill(st, 4);      /* enters behind the hand: last of the turn */
    victim_is(st, 1); /* 3 spared, 1's chance is spent */
    mome_store_drop(st, 1);
    victim_is(st, 4); /* 3's chance is spent too, but 4 comes first */
    mome_store_touch(st, 4);
    victim_is(st, 3);
    mome_store_drop(st, 3);
    victim_is(st, 4); /* spared once, alone now */
    mome_store_drop(st, 4);
    no_victim();
}
END_TEST

/* Every page used again: one full turn clears every bit, then the oldest goes (FIFO order). */
START_TEST(test_evict__clock_with_every_page_used_is_fifo)
{
    store_up("clock");
    mome_store_t *st = open_store(1, 16);
    for (uint64_t p = 0; p < 8; p++)
        fill(st, p);
    for (uint64_t p = 0; p < 8; p++)
        mome_store_touch(st, p);
    for (uint64_t p = 0; p < 8; p++) {
        victim_is(st, p);
        mome_store_drop(st, p);
    }
    no_victim();
}
END_TEST

/* A touch of a page that is not resident (a fault that will fetch it) changes nothing. */
START_TEST(test_evict__clock_touch_of_an_absent_page_is_ignored)
{
    store_up("clock");
    mome_store_t *st = open_store(1, 16);
    mome_store_touch(st, 5);
    fill(st, 5);
    fill(st, 6);
    victim_is(st, 5); /* entered with its bit clear: the earlier touch did not count */
}
END_TEST

START_TEST(test_evict__clock_skip_moves_the_hand_past_the_victim)
{
    store_up("clock");
    mome_store_t *st = open_store(1, 16);
    fill(st, 1);
    fill(st, 2);
    fill(st, 3);
    victim_is(st, 1);
    mome_store_skip(st, 1); /* busy: another */
    victim_is(st, 2);
    mome_store_drop(st, 2);
    victim_is(st, 3);
    mome_store_drop(st, 3);
    victim_is(st, 1);
}
END_TEST

START_TEST(test_evict__fifo_skip_sends_the_victim_to_the_back)
{
    store_up("fifo");
    mome_store_t *st = open_store(1, 16);
    fill(st, 1);
    fill(st, 2);
    fill(st, 3);
    victim_is(st, 1);
    mome_store_skip(st, 1);
    victim_is(st, 2);
    mome_store_touch(st, 2); /* FIFO ignores use */
    victim_is(st, 2);
    mome_store_drop(st, 2);
    victim_is(st, 3);
    mome_store_drop(st, 3);
    victim_is(st, 1);
    mome_store_skip(st, 1); /* alone: stays the victim */
    victim_is(st, 1);
}
END_TEST

/* Draining with victim + drop names each resident page once, never one that left. */
START_TEST(test_evict__random_names_each_resident_page_once)
{
    enum { N = 64 };
    int seen[2][N] = {{0}};
    store_up("random");
    mome_store_t *a = open_store(1, N), *b = open_store(2, N);
    for (uint64_t p = 0; p < N; p++) {
        fill(a, p);
        fill(b, p);
    }
    for (uint64_t p = 0; p < N; p += 4) /* a quarter leaves on its own */
        mome_store_drop(b, p);
    for (int k = 0; k < 2 * N - N / 4; k++) {
        mome_store_t *st, *again;
        uint64_t page, page2;
        ck_assert_int_eq(mome_store_victim(&st, &page), 0);
        ck_assert_int_eq(mome_store_victim(&again, &page2), 0); /* stable until it leaves */
        ck_assert_ptr_eq(again, st);
        ck_assert_uint_eq(page2, page);
        ck_assert(st == a || st == b);
        ck_assert_uint_lt(page, N);
        ck_assert_int_eq(mome_store_has(st, page), 1);
        ck_assert_int_eq(seen[st == b][page]++, 0);
        mome_store_drop(st, page);
    }
    no_victim();
    for (uint64_t p = 0; p < N; p++)
        ck_assert_int_eq(seen[1][p], p % 4 != 0);
}
END_TEST

/* Skipping draws again, uniformly: over 64,000 draws among 64 pages each is named 1,000 times
 * give or take (the seed is fixed: the same counts every run). */
START_TEST(test_evict__random_skip_draws_uniformly)
{
    enum { N = 64, DRAWS = 64000 };
    unsigned count[N] = {0};
    store_up("random");
    mome_store_t *st = open_store(1, N);
    for (uint64_t p = 0; p < N; p++)
        fill(st, p);
    for (int k = 0; k < DRAWS; k++) {
        mome_store_t *vs;
        uint64_t page;
        ck_assert_int_eq(mome_store_victim(&vs, &page), 0);
        count[page]++;
        mome_store_skip(vs, page);
    }
    for (int p = 0; p < N; p++) {
        ck_assert_uint_gt(count[p], 800);
        ck_assert_uint_lt(count[p], 1200);
    }
}
END_TEST

/* For every policy: pages of a closed store are never named again, and a dropped page neither;
 * draining names exactly the pages still resident. */
START_TEST(test_evict__forget_and_remove_take_pages_out)
{
    enum { N = 20 };
    for (size_t i = 0; i < NPOL; i++) {
        int seen[N] = {0}, named = 0;
        store_up(policies[i]);
        mome_store_t *a = open_store(1, N), *b = open_store(2, N);
        for (uint64_t p = 0; p < N; p++) {
            fill(b, p);
            fill(a, p);
            mome_store_touch(p % 3 ? a : b, p);
        }
        close_store(b);
        mome_store_drop(a, 7);
        mome_store_drop(a, 0);
        for (;;) {
            mome_store_t *st;
            uint64_t page;
            if (mome_store_victim(&st, &page) < 0)
                break;
            ck_assert_msg(st == a, "%s named a page of a closed store", policies[i]);
            ck_assert_msg(page != 7 && page != 0, "%s named dropped page %llu", policies[i],
                          (unsigned long long)page);
            ck_assert_int_eq(seen[page]++, 0);
            mome_store_drop(st, page);
            named++;
        }
        ck_assert_int_eq(named, N - 2);
        ck_assert_uint_eq(mome_store_resident(), 0);
        store_down();
    }
}
END_TEST

/* A page filled again while resident is not a new entry: it is named once. */
START_TEST(test_evict__refill_is_not_a_second_entry)
{
    for (size_t i = 0; i < NPOL; i++) {
        store_up(policies[i]);
        mome_store_t *st = open_store(1, 8);
        fill(st, 3);
        fill(st, 3);
        victim_is(st, 3);
        mome_store_drop(st, 3);
        no_victim();
        store_down();
    }
}
END_TEST

Suite *evict_suite(void)
{
    Suite *s = suite_create("evict");
    UNIT_CASE(s, test_evict__every_policy_is_found_by_name);
    UNIT_CASE_TEARDOWN(s, test_evict__clock_spares_pages_used_again, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__clock_with_every_page_used_is_fifo, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__clock_touch_of_an_absent_page_is_ignored, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__clock_skip_moves_the_hand_past_the_victim, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__fifo_skip_sends_the_victim_to_the_back, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__random_names_each_resident_page_once, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__random_skip_draws_uniformly, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__forget_and_remove_take_pages_out, store_down);
    UNIT_CASE_TEARDOWN(s, test_evict__refill_is_not_a_second_entry, store_down);
    return s;
}
