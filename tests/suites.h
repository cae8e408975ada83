/* SPDX-License-Identifier: MIT */
/*
 * The suites of the libcoop test runner, and the helpers they share
 * (defined in helpers.c).
 */
#ifndef COOP_TESTS_SUITES_H
#define COOP_TESTS_SUITES_H

#include <stddef.h>
#include <check.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Generous: tests may run under qemu-user, 10-50 times slower than native. */
#define COOP_TEST_TIMEOUT 60

Suite *lifecycle_suite(void);
Suite *wake_suite(void);
Suite *misuse_suite(void);
Suite *pool_suite(void);
Suite *threads_suite(void);
Suite *machine_suite(void);
Suite *attr_suite(void);
Suite *cxx_suite(void);
Suite *sync_suite(void);
Suite *stack_suite(void);
Suite *sigaltstack_suite(void);
Suite *loop_suite(void);
Suite *xsync_suite(void);
Suite *state_suite(void);
Suite *tls_suite(void);

/* A TCase named name with the suite-wide timeout, already added to s. */
TCase *coop_test_tcase(Suite *s, const char *name);

/* Lines of /proc/self/maps: one per mapping (VMA) of the process. */
size_t count_mappings(void);

/* Bytes malloc has handed out and not got back (mallinfo2().uordblks). */
size_t malloc_in_use(void);

/* n rounded up to a multiple of the page size. */
size_t round_to_page(size_t n);

/* Turn off core dumps in this process (tests that abort on purpose). */
void no_core_dumps(void);

/*
 * Run fn(arg) in a forked child whose stderr goes to a pipe, and assert
 * that the child died of SIGABRT after writing exactly one line to stderr,
 * starting with "coop: " and containing words.
 */
void expect_abort(void (*fn)(void *), void *arg, const char *words);

/* A coroutine body that does nothing. */
void coop_test_noop(void *opaque);

#ifdef __cplusplus
}
#endif

#endif /* COOP_TESTS_SUITES_H */
