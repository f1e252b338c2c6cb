/*
 * test_store.c - the page store (memory/store.c) over the fake memory: residency counts as pages
 * enter and leave, and the order in which the FIFO eviction policy names its victims.
 */
#include <errno.h>
#include <string.h>

#include "fake_memory.h"
#include "memory/store.h"
#include "unit.h"

#define PG 4096
#define MAXST 4

static mome_store_t *stores[MAXST];
static int up;

/* The store layer over fresh fake memory, with an eviction policy (NULL: none). */
static void store_up(const char *policy)
{
    fake_memory_use();
    up = 1;
    ck_assert_int_eq(mome_store_init(PG, policy), 0);
}

static mome_store_t *open_store(uint64_t id, uint64_t size)
{
    int err = 0;
    mome_store_t *st = mome_store_open(&mome_store_mem, id, size, &err);
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

static void fill(mome_store_t *st, uint64_t page, int byte)
{
    uint8_t b[PG];
    memset(b, byte, sizeof(b));
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

START_TEST(test_store__fill_install_and_drop_count_residency)
{
    uint8_t b[PG];
    char va[PG];
    store_up(NULL);
    mome_store_t *st = open_store(1, 8 * PG);
    ck_assert_uint_eq(st->resident, 0);
    ck_assert_uint_eq(mome_store_resident(), 0);
    fill(st, 2, 0x11);
    ck_assert_int_eq(mome_store_has(st, 2), 1);
    ck_assert_uint_eq(mome_store_bytes(st, 2, 12)[100], 0x11);
    fill(st, 2, 0x22); /* refilled: still one page */
    ck_assert_uint_eq(st->resident, 1);
    memset(b, 0x33, sizeof(b));
    ck_assert_int_eq(mome_store_install(st, 3, va, b, 1), 0);
    ck_assert_int_eq(fake_memory_state(va), FAKE_MAPPED_RO);
    ck_assert_uint_eq(mome_store_bytes(st, 3, 12)[0], 0x33);
    ck_assert_uint_eq(st->resident, 2);
    /* Installing over a resident page would lose it: refused. */
    ck_assert_int_eq(mome_store_install(st, 3, va, b, 0), -EEXIST);
    ck_assert_int_eq(mome_store_install(st, 2, va, b, 0), -EEXIST);
    ck_assert_uint_eq(fake_memory_counts()->installs, 1);
    ck_assert_uint_eq(st->resident, 2);
    ck_assert_uint_eq(mome_store_resident(), 2);
    mome_store_drop(st, 2);
    ck_assert_int_eq(mome_store_has(st, 2), 0);
    ck_assert_uint_eq(mome_store_bytes(st, 2, 12)[100], 0); /* its memory went back */
    ck_assert_uint_eq(st->resident, 1);
    mome_store_drop(st, 2); /* not resident: nothing */
    ck_assert_uint_eq(fake_memory_counts()->drops, 1);
    ck_assert_uint_eq(st->resident, 1);
    ck_assert_uint_eq(mome_store_resident(), 1);
}
END_TEST

/* A page is sent from a copy: its first copy since it came into memory through a user's view is
 * read through the file, later ones (and any after a fill, which went through the runtime view)
 * through the runtime view; so is the third page copied out of a 64 KiB run (16 pages), which a
 * fault maps with its neighbours. */
START_TEST(test_store__a_page_is_copied_out_through_the_file_once)
{
    uint8_t b[PG], out[PG];
    char va[PG];
    store_up(NULL);
    mome_store_t *st = open_store(1, 32 * PG);
    memset(b, 0x44, sizeof(b));
    ck_assert_int_eq(mome_store_install(st, 3, va, b, 0), 0);
    memset(out, 0, sizeof(out));
    mome_store_copy_out(st, 3, out);
    ck_assert_int_eq(memcmp(out, b, PG), 0);
    ck_assert_uint_eq(fake_memory_counts()->reads, 1);
    mome_store_bytes(st, 3, 12)[7] = 0x55; /* a write through the view */
    mome_store_copy_out(st, 3, out);
    ck_assert_uint_eq(out[7], 0x55);
    ck_assert_uint_eq(out[8], 0x44);
    ck_assert_uint_eq(fake_memory_counts()->reads, 1);
    /* Dropped and back: read through the file again. */
    mome_store_drop(st, 3);
    memset(b, 0x66, sizeof(b));
    ck_assert_int_eq(mome_store_install(st, 3, va, b, 0), 0);
    mome_store_copy_out(st, 3, out);
    ck_assert_uint_eq(out[7], 0x66);
    ck_assert_uint_eq(fake_memory_counts()->reads, 2);
    /* Filled through the runtime view: copied out through it at once. */
    fill(st, 5, 0x77);
    mome_store_copy_out(st, 5, out);
    ck_assert_uint_eq(out[100], 0x77);
    ck_assert_uint_eq(fake_memory_counts()->reads, 2);
    /* A run in pages 16-31: two reads through the file, then through the runtime view. */
    for (uint64_t p = 20; p < 24; p++) {
        memset(b, (int)p, sizeof(b));
        ck_assert_int_eq(mome_store_install(st, p, va, b, 0), 0);
        mome_store_copy_out(st, p, out);
        ck_assert_uint_eq(out[9], p);
    }
    ck_assert_uint_eq(fake_memory_counts()->reads, 4);
}
END_TEST

START_TEST(test_store__resident_total_spans_stores)
{
    store_up(NULL);
    mome_store_t *a = open_store(1, 8 * PG), *b = open_store(2, 70 * PG);
    fill(a, 0, 1);
    fill(b, 0, 1);
    fill(b, 65, 1); /* the second bitmap word */
    ck_assert_int_eq(mome_store_has(b, 65), 1);
    ck_assert_int_eq(mome_store_has(b, 1), 0);
    ck_assert_uint_eq(mome_store_resident(), 3);
    close_store(b);
    ck_assert_uint_eq(mome_store_resident(), 1);
    close_store(a);
    ck_assert_uint_eq(mome_store_resident(), 0);
}
END_TEST

START_TEST(test_store__size_rounds_up_to_whole_pages)
{
    store_up(NULL);
    mome_store_t *st = open_store(1, 4 * PG + 1);
    ck_assert_uint_eq(st->npages, 5);
    ck_assert_uint_eq(st->size, 5 * PG);
    uint8_t b[PG];
    ck_assert_int_eq(mome_store_load(st, 4, b), 0); /* never held: zeros */
}
END_TEST

START_TEST(test_store__fifo_victim_is_the_oldest_resident)
{
    store_up("fifo");
    mome_store_t *st = open_store(1, 16 * PG);
    mome_store_t *vs = NULL;
    uint64_t vp;
    ck_assert_int_eq(mome_store_victim(&vs, &vp), -ENOENT);
    fill(st, 5, 1);
    fill(st, 1, 1);
    fill(st, 7, 1);
    victim_is(st, 5);
    mome_store_touch(st, 5); /* FIFO ignores use */
    fill(st, 5, 2);          /* and a refill is no new entry */
    victim_is(st, 5);
    mome_store_drop(st, 5);
    victim_is(st, 1);
    fill(st, 5, 3); /* back in: the youngest now */
    mome_store_drop(st, 1);
    victim_is(st, 7);
    mome_store_drop(st, 7);
    victim_is(st, 5);
    mome_store_drop(st, 5);
    ck_assert_int_eq(mome_store_victim(&vs, &vp), -ENOENT);
}
END_TEST

START_TEST(test_store__fifo_orders_every_store_and_forgets_closed_ones)
{
    char va[PG];
    uint8_t b[PG] = {0};
    store_up("FIFO"); /* names are case-insensitive */
    mome_store_t *a = open_store(1, 8 * PG), *c = open_store(2, 8 * PG);
    fill(a, 0, 1);
    ck_assert_int_eq(mome_store_install(c, 3, va, b, 0), 0); /* installed pages count too */
    fill(a, 1, 1);
    victim_is(a, 0);
    mome_store_drop(a, 0);
    victim_is(c, 3);
    close_store(c);
    victim_is(a, 1);
    close_store(a);
    mome_store_t *vs;
    uint64_t vp;
    ck_assert_int_eq(mome_store_victim(&vs, &vp), -ENOENT);
}
END_TEST

START_TEST(test_store__without_a_policy_nothing_is_a_victim)
{
    store_up(NULL);
    mome_store_t *st = open_store(1, 8 * PG);
    mome_store_t *vs;
    uint64_t vp;
    fill(st, 0, 1);
    ck_assert_int_eq(mome_store_victim(&vs, &vp), -ENOENT);
    close_store(st);
    ck_assert_int_eq(mome_store_init(PG, "lru"), -EINVAL); /* no such policy */
}
END_TEST

Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    UNIT_CASE_TEARDOWN(s, test_store__fill_install_and_drop_count_residency, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__resident_total_spans_stores, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__a_page_is_copied_out_through_the_file_once, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__size_rounds_up_to_whole_pages, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__fifo_victim_is_the_oldest_resident, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__fifo_orders_every_store_and_forgets_closed_ones, store_down);
    UNIT_CASE_TEARDOWN(s, test_store__without_a_policy_nothing_is_a_victim, store_down);
    return s;
}
