/*
 * test_clock.c - the Lamport clock rules: tick on local events, max + 1 on receive, raise.
 */
#include <pthread.h>

#include "base/clock.h"
#include "unit.h"

START_TEST(test_clock__tick_advances_by_one)
{
    mome_clock_reset(10);
    ck_assert_uint_eq(mome_clock_tick(), 11);
    ck_assert_uint_eq(mome_clock_tick(), 12);
    ck_assert_uint_eq(mome_clock_now(), 12);
}
END_TEST

START_TEST(test_clock__receive_takes_max_plus_one)
{
    mome_clock_reset(10);
    ck_assert_uint_eq(mome_clock_merge(100), 101); /* a later sender pulls us forward */
    ck_assert_uint_eq(mome_clock_merge(5), 102);   /* an earlier one still ticks */
    ck_assert_uint_eq(mome_clock_merge(102), 103); /* equal */
}
END_TEST

START_TEST(test_clock__raise_never_goes_back)
{
    mome_clock_reset(50);
    ck_assert_uint_eq(mome_clock_raise(40), 50);
    ck_assert_uint_eq(mome_clock_now(), 50);
    ck_assert_uint_eq(mome_clock_raise(70), 70);
    ck_assert_uint_eq(mome_clock_now(), 70);
}
END_TEST

static void *ticker(void *arg)
{
    for (int i = 0; i < 100000; i++)
        mome_clock_tick();
    return arg;
}

START_TEST(test_clock__ticks_from_threads_are_not_lost)
{
    pthread_t t[4];
    mome_clock_reset(0);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, ticker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_uint_eq(mome_clock_now(), 400000);
}
END_TEST

START_TEST(test_clock__send_receive_orders_events)
{
    /* Two simulated nodes: a message's receive is dated after its send, transitively. */
    mome_date_t a, b, c;
    mome_clock_reset(0);
    a = mome_clock_tick();      /* node A sends at a */
    mome_clock_reset(3);        /* node B, behind */
    b = mome_clock_merge(a);    /* B receives */
    ck_assert_uint_gt(b, a);
    c = mome_clock_tick();      /* B sends on */
    mome_clock_reset(1000);     /* node C, ahead */
    ck_assert_uint_gt(mome_clock_merge(c), c);
}
END_TEST

Suite *clock_suite(void)
{
    Suite *s = suite_create("clock");
    UNIT_CASE(s, test_clock__tick_advances_by_one);
    UNIT_CASE(s, test_clock__receive_takes_max_plus_one);
    UNIT_CASE(s, test_clock__raise_never_goes_back);
    UNIT_CASE(s, test_clock__ticks_from_threads_are_not_lost);
    UNIT_CASE(s, test_clock__send_receive_orders_events);
    return s;
}
