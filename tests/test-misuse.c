/* SPDX-License-Identifier: MIT */
/*
 * Misuse is reported with one "coop: ..." line on stderr, then abort().
 *
 * Each misuse is checked twice: as a Check test expecting SIGABRT, and
 * through expect_abort(), which also reads the child's stderr and checks
 * the message.
 *
 * The misuses that involve the queue/mutex/rwlock primitives (entering or
 * waking a coroutine that waits in one, finishing while coop_locks_held()
 * is not 0, blocking calls outside a coroutine, relocking, unlocking what
 * is not held) are tested with those primitives, in test-sync.c.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>

#include <coop.h>

#include "suites.h"

/* Each misuse_* function commits one misuse; none may return normally. */

static void enter_self(void *opaque)
{
    (void)opaque;
    coop_enter(coop_self());
}

static void misuse_enter_self(void *arg)
{
    (void)arg;
    coop_enter(coop_create(enter_self, NULL));
}

/* B, entered by A, enters A: A is up B's caller chain. */
static void enter_caller_b(void *opaque)
{
    coop_enter(*(coop_t **)opaque);
}

static void enter_caller_a(void *opaque)
{
    coop_t *b = coop_create(enter_caller_b, opaque);

    coop_enter(b);
}

static void misuse_enter_caller(void *arg)
{
    static coop_t *a;

    (void)arg;
    a = coop_create(enter_caller_a, &a);
    coop_enter(a);
}

/* B, entered by A, wakes A (reported at the wake). */
static void wake_caller_b(void *opaque)
{
    coop_wake(*(coop_t **)opaque);
    coop_yield();
}

static void wake_caller_a(void *opaque)
{
    coop_t *b = coop_create(wake_caller_b, opaque);

    coop_enter(b);
}

static void misuse_wake_caller(void *arg)
{
    static coop_t *a;

    (void)arg;
    a = coop_create(wake_caller_a, &a);
    coop_enter(a);
}

static void misuse_yield_from_main(void *arg)
{
    (void)arg;
    coop_yield();
}

static void wake_self(void *opaque)
{
    (void)opaque;
    coop_wake(coop_self());
    coop_yield();
}

static void misuse_wake_self(void *arg)
{
    (void)arg;
    coop_enter(coop_create(wake_self, NULL));
}

static void wake_twice(void *opaque)
{
    coop_t *b = coop_create(coop_test_noop, NULL);

    (void)opaque;
    coop_wake(b);
    coop_wake(b);
    coop_yield();
}

static void misuse_wake_twice(void *arg)
{
    (void)arg;
    coop_enter(coop_create(wake_twice, NULL));
}

static void enter_woken(void *opaque)
{
    coop_t *b = coop_create(coop_test_noop, NULL);

    (void)opaque;
    coop_wake(b);
    coop_enter(b);
}

static void misuse_enter_woken(void *arg)
{
    (void)arg;
    coop_enter(coop_create(enter_woken, NULL));
}

static void misuse_enter_main(void *arg)
{
    (void)arg;
    coop_enter(coop_self());
}

static void misuse_wake_main_from_main(void *arg)
{
    (void)arg;
    coop_wake(coop_self());
}

static void wake_main(void *opaque)
{
    coop_wake(opaque);
    coop_yield();
}

static void misuse_wake_main_from_coroutine(void *arg)
{
    (void)arg;
    coop_enter(coop_create(wake_main, coop_self()));
}

static void enter_main(void *opaque)
{
    coop_enter(opaque);
}

static void misuse_enter_main_from_coroutine(void *arg)
{
    (void)arg;
    coop_enter(coop_create(enter_main, coop_self()));
}

/* ------------------------------------------------------ SIGABRT expected */

#define ABORT_TEST(name, fn)                                                  \
    START_TEST(name)                                                          \
    {                                                                         \
        fn(NULL);                                                             \
    }                                                                         \
    END_TEST

ABORT_TEST(test_enter_self_aborts, misuse_enter_self)
ABORT_TEST(test_enter_caller_aborts, misuse_enter_caller)
ABORT_TEST(test_wake_caller_aborts, misuse_wake_caller)
ABORT_TEST(test_yield_from_main_aborts, misuse_yield_from_main)
ABORT_TEST(test_wake_self_aborts, misuse_wake_self)
ABORT_TEST(test_wake_twice_aborts, misuse_wake_twice)
ABORT_TEST(test_enter_woken_aborts, misuse_enter_woken)
ABORT_TEST(test_enter_main_handle_aborts, misuse_enter_main)
ABORT_TEST(test_enter_main_handle_from_coroutine_aborts,
           misuse_enter_main_from_coroutine)
ABORT_TEST(test_wake_main_handle_from_main_aborts, misuse_wake_main_from_main)
ABORT_TEST(test_wake_main_handle_from_coroutine_aborts,
           misuse_wake_main_from_coroutine)

/* ---------------------------------------------- message and SIGABRT */

#define MESSAGE_TEST(name, fn, words)                                         \
    START_TEST(name)                                                          \
    {                                                                         \
        expect_abort(fn, NULL, words);                                        \
    }                                                                         \
    END_TEST

MESSAGE_TEST(test_enter_self_message, misuse_enter_self,
             "re-entered recursively")
MESSAGE_TEST(test_enter_caller_message, misuse_enter_caller,
             "re-entered recursively")
MESSAGE_TEST(test_wake_caller_message, misuse_wake_caller,
             "re-entered recursively")
MESSAGE_TEST(test_yield_from_main_message, misuse_yield_from_main,
             "outside a coroutine")
MESSAGE_TEST(test_wake_self_message, misuse_wake_self, "woke itself")
MESSAGE_TEST(test_wake_twice_message, misuse_wake_twice, "already woken")
MESSAGE_TEST(test_enter_woken_message, misuse_enter_woken, "already woken")
MESSAGE_TEST(test_enter_main_handle_message, misuse_enter_main,
             "main-context")
MESSAGE_TEST(test_enter_main_handle_from_coroutine_message,
             misuse_enter_main_from_coroutine, "main-context")
MESSAGE_TEST(test_wake_main_handle_from_main_message,
             misuse_wake_main_from_main, "main-context")
MESSAGE_TEST(test_wake_main_handle_from_coroutine_message,
             misuse_wake_main_from_coroutine, "main-context")

/* A child of this test process must not leave a core file behind. */
static void setup_no_core(void)
{
    no_core_dumps();
}

Suite *misuse_suite(void)
{
    Suite *s = suite_create("misuse");
    TCase *tc;

    tc = coop_test_tcase(s, "abort");
    tcase_add_checked_fixture(tc, setup_no_core, NULL);
    tcase_add_test_raise_signal(tc, test_enter_self_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_enter_caller_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_wake_caller_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_yield_from_main_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_wake_self_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_wake_twice_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_enter_woken_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, test_enter_main_handle_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc,
                                test_enter_main_handle_from_coroutine_aborts,
                                SIGABRT);
    tcase_add_test_raise_signal(tc, test_wake_main_handle_from_main_aborts,
                                SIGABRT);
    tcase_add_test_raise_signal(tc,
                                test_wake_main_handle_from_coroutine_aborts,
                                SIGABRT);

    tc = coop_test_tcase(s, "message");
    tcase_add_test(tc, test_enter_self_message);
    tcase_add_test(tc, test_enter_caller_message);
    tcase_add_test(tc, test_wake_caller_message);
    tcase_add_test(tc, test_yield_from_main_message);
    tcase_add_test(tc, test_wake_self_message);
    tcase_add_test(tc, test_wake_twice_message);
    tcase_add_test(tc, test_enter_woken_message);
    tcase_add_test(tc, test_enter_main_handle_message);
    tcase_add_test(tc, test_enter_main_handle_from_coroutine_message);
    tcase_add_test(tc, test_wake_main_handle_from_main_message);
    tcase_add_test(tc, test_wake_main_handle_from_coroutine_message);
    return s;
}
