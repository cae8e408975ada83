/* SPDX-License-Identifier: MIT */
/*
 * Coroutine states (coop_get_state, coop_state_name) through a whole life,
 * and coop_enter_if_inactive entering only new or suspended coroutines.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include <coop.h>
#include <coop-loop.h>

#include "suites.h"

struct seen {
    coop_t *other;                 /* a coroutine to look at from inside */
    coop_state_t self_state, other_state, caller_state;
    coop_t *caller;
    int runs;
};

static void yield_twice(void *opaque)
{
    struct seen *s = opaque;

    s->runs++;
    s->self_state = coop_get_state(coop_self());
    coop_yield();
    s->runs++;
    coop_yield();
    s->runs++;
}

START_TEST(test_state_new_entered_suspended)
{
    struct seen s;
    coop_t *co;

    memset(&s, 0, sizeof(s));
    co = coop_create(yield_twice, &s);
    ck_assert_ptr_nonnull(co);
    ck_assert_int_eq(coop_get_state(co), COOP_STATE_NEW);
    coop_enter(co);
    ck_assert_int_eq(s.self_state, COOP_STATE_ENTERED);
    ck_assert_int_eq(coop_get_state(co), COOP_STATE_SUSPENDED);
    coop_enter(co);
    ck_assert_int_eq(coop_get_state(co), COOP_STATE_SUSPENDED);
    coop_enter(co); /* finishes */
    ck_assert_int_eq(s.runs, 3);
}
END_TEST

static void look_at_caller(void *opaque)
{
    struct seen *s = opaque;

    s->caller_state = coop_get_state(s->caller);
}

static void enter_other(void *opaque)
{
    struct seen *s = opaque;

    s->caller = coop_self();
    coop_enter(s->other); /* we are up the chain while it runs */
}

START_TEST(test_state_of_caller_up_the_chain_is_entered)
{
    struct seen s;
    coop_t *outer;

    memset(&s, 0, sizeof(s));
    s.other = coop_create(look_at_caller, &s);
    outer = coop_create(enter_other, &s);
    ck_assert_ptr_nonnull(s.other);
    ck_assert_ptr_nonnull(outer);
    coop_enter(outer);
    ck_assert_int_eq(s.caller_state, COOP_STATE_ENTERED);
}
END_TEST

static void wake_and_look(void *opaque)
{
    struct seen *s = opaque;

    coop_wake(s->other);
    s->other_state = coop_get_state(s->other);
}

START_TEST(test_state_woken_until_it_runs)
{
    struct seen s, inner;
    coop_t *waker;

    memset(&s, 0, sizeof(s));
    memset(&inner, 0, sizeof(inner));
    s.other = coop_create(yield_twice, &inner);
    waker = coop_create(wake_and_look, &s);
    coop_enter(waker);
    ck_assert_int_eq(s.other_state, COOP_STATE_WOKEN);
    ck_assert_int_eq(inner.runs, 1); /* ran once the waker finished */
    ck_assert_int_eq(coop_get_state(s.other), COOP_STATE_SUSPENDED);
    coop_enter(s.other);
    coop_enter(s.other);
}
END_TEST

static coop_mutex_t state_mutex = COOP_MUTEX_INITIALIZER(state_mutex);
static coop_queue_t state_queue = COOP_QUEUE_INITIALIZER(state_queue);

static void lock_once(void *opaque)
{
    (void)opaque;
    coop_mutex_lock(&state_mutex);
    coop_mutex_unlock(&state_mutex);
}

static void wait_once(void *opaque)
{
    (void)opaque;
    coop_queue_wait(&state_queue, NULL);
}

static void sleep_once(void *opaque)
{
    (void)opaque;
    coop_sleep_ns(1000000);
}

START_TEST(test_state_waiting_in_mutex_queue_and_sleep)
{
    coop_t *locker = coop_create(lock_once, NULL);
    coop_t *waiter = coop_create(wait_once, NULL);
    coop_t *sleeper = coop_create(sleep_once, NULL);

    ck_assert(coop_mutex_trylock(&state_mutex)); /* main holds it */
    coop_enter(locker);
    ck_assert_int_eq(coop_get_state(locker), COOP_STATE_WAITING);
    ck_assert(!coop_enter_if_inactive(locker));
    coop_mutex_unlock(&state_mutex); /* hands over, runs it to the end */

    coop_enter(waiter);
    ck_assert_int_eq(coop_get_state(waiter), COOP_STATE_WAITING);
    ck_assert(!coop_enter_if_inactive(waiter));
    ck_assert(coop_queue_next(&state_queue));

    coop_enter(sleeper);
    ck_assert_int_eq(coop_get_state(sleeper), COOP_STATE_WAITING);
    ck_assert(!coop_enter_if_inactive(sleeper));
    coop_loop_run();
}
END_TEST

START_TEST(test_state_scheduled_until_the_loop_enters_it)
{
    struct seen s;
    coop_t *co;

    memset(&s, 0, sizeof(s));
    co = coop_create(yield_twice, &s);
    coop_schedule(coop_loop_self(), co);
    ck_assert_int_eq(coop_get_state(co), COOP_STATE_SCHEDULED);
    ck_assert(!coop_enter_if_inactive(co));
    ck_assert_int_eq(s.runs, 0);
    coop_loop_poll(false);
    ck_assert_int_eq(s.runs, 1);
    ck_assert_int_eq(coop_get_state(co), COOP_STATE_SUSPENDED);
    coop_enter(co);
    coop_enter(co);
}
END_TEST

START_TEST(test_main_handle_is_entered)
{
    ck_assert_int_eq(coop_get_state(coop_self()), COOP_STATE_ENTERED);
    ck_assert(!coop_enter_if_inactive(coop_self()));
}
END_TEST

START_TEST(test_state_names)
{
    static const char *const want[] = { "new",     "suspended", "entered",
                                        "woken",   "scheduled", "waiting" };

    ck_assert_str_eq(coop_state_name(COOP_STATE_NEW), want[0]);
    ck_assert_str_eq(coop_state_name(COOP_STATE_SUSPENDED), want[1]);
    ck_assert_str_eq(coop_state_name(COOP_STATE_ENTERED), want[2]);
    ck_assert_str_eq(coop_state_name(COOP_STATE_WOKEN), want[3]);
    ck_assert_str_eq(coop_state_name(COOP_STATE_SCHEDULED), want[4]);
    ck_assert_str_eq(coop_state_name(COOP_STATE_WAITING), want[5]);
    ck_assert_ptr_null(coop_state_name((coop_state_t)6));
    ck_assert_ptr_null(coop_state_name((coop_state_t)-1));
}
END_TEST

/* ------------------------------------------------- coop_enter_if_inactive */

static void enter_self_if_inactive(void *opaque)
{
    struct seen *s = opaque;

    s->runs++;
    /* running: must not re-enter (that would be a recursive enter) */
    if (coop_enter_if_inactive(coop_self()))
        s->runs += 100;
    coop_yield();
    s->runs++;
}

START_TEST(test_enter_if_inactive_enters_new_and_suspended_only)
{
    struct seen s;
    coop_t *co;

    memset(&s, 0, sizeof(s));
    co = coop_create(enter_self_if_inactive, &s);
    ck_assert(coop_enter_if_inactive(co)); /* new */
    ck_assert_int_eq(s.runs, 1);
    ck_assert(coop_enter_if_inactive(co)); /* suspended: runs to the end */
    ck_assert_int_eq(s.runs, 2);
}
END_TEST

/* From another thread: a coroutine that runs elsewhere is entered. */
struct remote {
    coop_t *co;
    int state_seen;                 /* atomic */
    int go;                         /* atomic */
};

static void spin_until_go(void *opaque)
{
    struct remote *r = opaque;

    while (!__atomic_load_n(&r->go, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void *look_from_thread(void *opaque)
{
    struct remote *r = opaque;

    __atomic_store_n(&r->state_seen, (int)coop_get_state(r->co) + 1,
                     __ATOMIC_RELEASE);
    __atomic_store_n(&r->go, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void run_and_get_looked_at(void *opaque)
{
    struct remote *r = opaque;
    pthread_t t;

    pthread_create(&t, NULL, look_from_thread, r);
    spin_until_go(r);
    pthread_join(t, NULL);
}

START_TEST(test_state_from_another_thread_sees_entered)
{
    struct remote r;

    memset(&r, 0, sizeof(r));
    r.co = coop_create(run_and_get_looked_at, &r);
    coop_enter(r.co);
    ck_assert_int_eq(r.state_seen, COOP_STATE_ENTERED + 1);
}
END_TEST

static void misuse_state_of_finished(void *opaque)
{
    coop_t *co = coop_create(coop_test_noop, NULL);

    (void)opaque;
    coop_pool_set_max(8); /* kept in the pool, so still mapped */
    coop_enter(co);
    coop_get_state(co);
}

START_TEST(test_state_of_finished_coroutine_aborts)
{
    expect_abort(misuse_state_of_finished, NULL, "has finished");
}
END_TEST

Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc;

    tc = coop_test_tcase(s, "states");
    tcase_add_test(tc, test_state_new_entered_suspended);
    tcase_add_test(tc, test_state_of_caller_up_the_chain_is_entered);
    tcase_add_test(tc, test_state_woken_until_it_runs);
    tcase_add_test(tc, test_state_waiting_in_mutex_queue_and_sleep);
    tcase_add_test(tc, test_state_scheduled_until_the_loop_enters_it);
    tcase_add_test(tc, test_main_handle_is_entered);
    tcase_add_test(tc, test_state_names);
    tcase_add_test(tc, test_state_from_another_thread_sees_entered);
    tcase_add_test(tc, test_state_of_finished_coroutine_aborts);

    tc = coop_test_tcase(s, "enter_if_inactive");
    tcase_add_test(tc, test_enter_if_inactive_enters_new_and_suspended_only);
    return s;
}
