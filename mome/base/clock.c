/*
 * clock.c - the Lamport clock: tick on local events and sends, max+1 on receives.
 */
#include "base/clock.h"

static uint64_t clock_value;

void mome_clock_reset(mome_date_t d)
{
    __atomic_store_n(&clock_value, d, __ATOMIC_SEQ_CST);
}

mome_date_t mome_clock_now(void)
{
    return __atomic_load_n(&clock_value, __ATOMIC_ACQUIRE);
}

mome_date_t mome_clock_tick(void)
{
    return __atomic_add_fetch(&clock_value, 1, __ATOMIC_ACQ_REL);
}

mome_date_t mome_clock_merge(mome_date_t seen)
{
    uint64_t cur = __atomic_load_n(&clock_value, __ATOMIC_ACQUIRE);
    uint64_t next;
    do {
        next = (cur > seen ? cur : seen) + 1;
    } while (!__atomic_compare_exchange_n(&clock_value, &cur, next, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    return next;
}

mome_date_t mome_clock_raise(mome_date_t d)
{
    uint64_t cur = __atomic_load_n(&clock_value, __ATOMIC_ACQUIRE);
    while (cur < d &&
           !__atomic_compare_exchange_n(&clock_value, &cur, d, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
        ;
    return cur < d ? d : cur;
}
