/*
 * unit.h - the suites of tests/unit, one per module, gathered by runner.c.
 */
#ifndef MOME_UNIT_H
#define MOME_UNIT_H

#include <check.h>

Suite *wire_suite(void);
Suite *msg_suite(void);
Suite *directory_suite(void);
Suite *clock_suite(void);
Suite *page_suite(void);
Suite *config_suite(void);
Suite *heap_suite(void);
Suite *diff_suite(void);
Suite *requester_suite(void);
Suite *holder_suite(void);
Suite *owner_suite(void);
Suite *release_suite(void);
Suite *sync_suite(void);
Suite *segment_suite(void);
Suite *store_suite(void);
Suite *memory_suite(void);
Suite *repo_suite(void);
Suite *checkpoint_suite(void);
Suite *evict_suite(void);
Suite *trace_suite(void);
Suite *netif_suite(void);
Suite *transport_suite(void);
Suite *watch_suite(void);

/* Add a TCase holding one test, with the time limit every unit test gets. */
#define UNIT_CASE(_s, _fn)                                                                         \
    do {                                                                                           \
        TCase *_tc = tcase_create(#_fn);                                                           \
        tcase_set_timeout(_tc, 30);                                                                \
        tcase_add_test(_tc, _fn);                                                                  \
        suite_add_tcase((_s), _tc);                                                                \
    } while (0)

/* The same with a checked teardown, which runs even after a failed assertion without fork mode
 * (CK_FORK=no), so the next test starts from a clean process. */
#define UNIT_CASE_TEARDOWN(_s, _fn, _teardown)                                                     \
    do {                                                                                           \
        TCase *_tc = tcase_create(#_fn);                                                           \
        tcase_set_timeout(_tc, 30);                                                                \
        tcase_add_checked_fixture(_tc, NULL, (_teardown));                                         \
        tcase_add_test(_tc, _fn);                                                                  \
        suite_add_tcase((_s), _tc);                                                                \
    } while (0)

#endif
