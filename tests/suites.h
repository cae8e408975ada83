/* SPDX-License-Identifier: MIT */
/*
 * The suites of the libcoop test runner, and the helpers they share
 * (defined in helpers.c).
 */
#ifndef COOP_TESTS_SUITES_H
#define COOP_TESTS_SUITES_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <stddef.h>
#include <check.h>
#include <stdbool.h>

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

/* Bytes malloc has handed out and not got back (mallinfo2().uordblks);
 * always 0 where the C library has no mallinfo (musl). */
size_t malloc_in_use(void);

/* Mappings the C library's malloc may add or drop around the test's own
 * calls (Check's assertions allocate): none with glibc, whose small blocks
 * come from its heaps; musl's malloc maps small groups of blocks on demand
 * and unmaps them when empty.  Where it is not 0, tests that compare
 * mapping counts also compare the address space's size (vm_kib). */
#ifdef HAVE_MALLINFO
#define MALLOC_MAPPINGS_SLACK 0
#else
#define MALLOC_MAPPINGS_SLACK 2
#endif

/* Size of the address space in KiB (VmSize, /proc/self/statm). */
long vm_kib(void);

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

/* True, after printing "FUNC: skipped under COOP_TEST_SANITIZER=RUNTIME:
 * WHY" to stderr, when the suite runs under that runtime ("address",
 * "thread", "valgrind"...): the caller then returns without testing. */
bool coop_test_skip_under(const char *runtime, const char *func,
                          const char *why);

#ifdef __cplusplus
}
#endif

#endif /* COOP_TESTS_SUITES_H */
