/* SPDX-License-Identifier: MIT */
/*
 * The libcoop test runner: every suite in one SRunner.
 *
 * Check's own environment variables apply: CK_FORK=no runs in one process
 * (the tests that must abort then take the runner down), CK_RUN_SUITE /
 * CK_RUN_CASE pick a suite or test case, CK_VERBOSITY the output (normal
 * by default).
 *
 * "coop-test --print-default-stack-size" prints coop_stack_size() of a
 * coroutine made with coop_create() and of one made with a zero stack_size
 * attribute, then exits: test-attr.c runs it with COOP_STACK_SIZE set,
 * because the library reads that variable only once per process.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coop.h>

#include "suites.h"

static int print_default_stack_size(void)
{
    coop_attr_t attr;
    coop_t *a, *b;

    coop_attr_init(&attr);
    a = coop_create(coop_test_noop, NULL);
    b = coop_create_attr(&attr, coop_test_noop, NULL);
    if (a == NULL || b == NULL) {
        perror("coop_create");
        return EXIT_FAILURE;
    }
    printf("%zu %zu\n", coop_stack_size(a), coop_stack_size(b));
    coop_enter(a);
    coop_enter(b);
    return EXIT_SUCCESS;
}

/* The summary line exactly as Check prints it (check_str.c). */
static void write_summary(SRunner *sr, int fd)
{
    int run = srunner_ntests_run(sr);
    int failures = 0, errors = 0, percent;
    TestResult **results = srunner_results(sr);

    for (int i = 0; i < run; i++) {
        if (tr_rtype(results[i]) == CK_FAILURE)
            failures++;
        else if (tr_rtype(results[i]) == CK_ERROR)
            errors++;
    }
    free(results);

    if (failures == 0 && errors == 0)
        percent = 100;
    else if (run == 0)
        percent = 0;
    else
        percent = (int)((float)(run - (failures + errors)) / (float)run
                        * 100);
    dprintf(fd, "%d%%: Checks: %d, Failures: %d, Errors: %d\n",
            percent, run, failures, errors);
}

int main(int argc, char **argv)
{
    SRunner *sr;
    int failed;

    if (argc == 2 && strcmp(argv[1], "--print-default-stack-size") == 0)
        return print_default_stack_size();
    if (argc != 1) {
        fprintf(stderr, "usage: %s [--print-default-stack-size]\n", argv[0]);
        return EXIT_FAILURE;
    }

    sr = srunner_create(lifecycle_suite());
    srunner_add_suite(sr, wake_suite());
    srunner_add_suite(sr, misuse_suite());
    srunner_add_suite(sr, pool_suite());
    srunner_add_suite(sr, threads_suite());
    srunner_add_suite(sr, machine_suite());
    srunner_add_suite(sr, attr_suite());
#ifdef COOP_TEST_CXX
    srunner_add_suite(sr, cxx_suite());
#endif
    srunner_add_suite(sr, sync_suite());
    srunner_add_suite(sr, stack_suite());
    srunner_add_suite(sr, sigaltstack_suite());
    srunner_add_suite(sr, loop_suite());
    srunner_add_suite(sr, xsync_suite());
    srunner_add_suite(sr, state_suite());
    srunner_add_suite(sr, tls_suite());

    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);

    /* the harness sends fd 9 to the console (AM_TESTS_FD_REDIRECT) */
    if (fcntl(9, F_GETFD) != -1)
        write_summary(sr, 9);

    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
