/* SPDX-License-Identifier: MIT */
/*
 * coop_wake(): order of the wake-up lists, waking from the main context,
 * waking from a coroutine that finishes, and long wake chains that must
 * run in constant stack.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <coop.h>

#include "suites.h"

struct wlog {
    char s[64];
    size_t n;
    coop_t *a, *b, *c, *d;
    coop_t *b_enterer;
};

static void note(struct wlog *w, char c)
{
    if (w->n < sizeof(w->s) - 1) {
        w->s[w->n++] = c;
        w->s[w->n] = '\0';
    }
}

/* ------------------------------------------------------------ wake order */

static void order_d(void *opaque)
{
    note(opaque, 'D');
}

static void order_c(void *opaque)
{
    note(opaque, 'C');
}

static void order_b(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'B');
    coop_wake(w->d);
    note(w, 'b'); /* D has not run yet */
    coop_yield();
    note(w, '!'); /* nobody resumes B in this test */
}

static void order_a(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'A');
    coop_wake(w->b);
    coop_wake(w->c);
    note(w, 'a'); /* waking runs nothing yet */
    coop_yield();
    note(w, '!');
}

START_TEST(test_wake_order_depth_first)
{
    struct wlog w;

    memset(&w, 0, sizeof(w));
    w.a = coop_create(order_a, &w);
    w.b = coop_create(order_b, &w);
    w.c = coop_create(order_c, &w);
    w.d = coop_create(order_d, &w);
    ck_assert_ptr_nonnull(w.a);
    ck_assert_ptr_nonnull(w.b);
    ck_assert_ptr_nonnull(w.c);
    ck_assert_ptr_nonnull(w.d);

    coop_enter(w.a); /* A, then B, then B's D, then C */
    ck_assert_str_eq(w.s, "AaBbDC");

    /* A and B are suspended at their yields: finish them */
    w.n = 0;
    coop_enter(w.a);
    coop_enter(w.b);
    ck_assert_str_eq(w.s, "!!");
}
END_TEST

/* Woken ones are run by the coop_enter() that ran the waker, even when
 * that coop_enter() was called from inside a coroutine. */
static void inner_b(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'B');
    coop_wake(w->c);
    coop_yield();
    note(w, 'b');
}

static void inner_a(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'A');
    coop_enter(w->b);
    note(w, 'a'); /* C ran before our coop_enter returned */
    coop_enter(w->b);
}

START_TEST(test_woken_run_by_inner_enter)
{
    struct wlog w;

    memset(&w, 0, sizeof(w));
    w.a = coop_create(inner_a, &w);
    w.b = coop_create(inner_b, &w);
    w.c = coop_create(order_c, &w);
    ck_assert_ptr_nonnull(w.a);
    ck_assert_ptr_nonnull(w.b);
    ck_assert_ptr_nonnull(w.c);
    coop_enter(w.a);
    ck_assert_str_eq(w.s, "ABCab");
}
END_TEST

/* ------------------------------------------------------ wake from main */

static void yield_once(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'A');
    coop_wake(w->b);
    coop_yield();
    note(w, 'a');
}

static void record_self(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'B');
    w->b_enterer = coop_self();
}

START_TEST(test_wake_from_main_enters_at_once)
{
    struct wlog w;
    coop_t *main_handle = coop_self();

    memset(&w, 0, sizeof(w));
    w.a = coop_create(yield_once, &w);
    w.b = coop_create(record_self, &w);
    ck_assert_ptr_nonnull(w.a);
    ck_assert_ptr_nonnull(w.b);

    coop_wake(w.a); /* runs A until it yields, then the B it woke */
    ck_assert_str_eq(w.s, "AB");
    ck_assert_ptr_eq(w.b_enterer, w.b);
    ck_assert_ptr_eq(coop_self(), main_handle);
    ck_assert(!coop_in_coroutine());
    ck_assert(!coop_entered(w.a));

    coop_wake(w.a); /* resumes after its yield, as coop_enter would */
    ck_assert_str_eq(w.s, "ABa");
}
END_TEST

/* ------------------------------------------------- waker that finishes */

static void wake_then_finish(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'A');
    coop_wake(w->b);
    coop_wake(w->c);
    note(w, 'a');
}

START_TEST(test_woken_runs_when_waker_finishes)
{
    struct wlog w;

    memset(&w, 0, sizeof(w));
    w.a = coop_create(wake_then_finish, &w);
    w.b = coop_create(record_self, &w);
    w.c = coop_create(order_c, &w);
    ck_assert_ptr_nonnull(w.a);
    ck_assert_ptr_nonnull(w.b);
    ck_assert_ptr_nonnull(w.c);
    coop_enter(w.a);
    ck_assert_str_eq(w.s, "AaBC");
    ck_assert_ptr_eq(w.b_enterer, w.b);
}
END_TEST

/* ----------------------------------------------------------- wake chain */

#define CHAIN_STEPS 25000

struct chain {
    coop_t *co[2];
    int steps, finished[2];
    uintptr_t first[2];
    uintptr_t spread[2]; /* largest distance from first[i] */
};

static void ping(void *opaque)
{
    struct chain *c = opaque;
    int me = coop_self() == c->co[1];

    for (;;) {
        volatile char marker = 0;
        uintptr_t here = (uintptr_t)&marker;
        uintptr_t d;

        if (c->first[me] == 0)
            c->first[me] = here;
        d = here > c->first[me] ? here - c->first[me] : c->first[me] - here;
        if (d > c->spread[me])
            c->spread[me] = d;
        if (c->steps >= CHAIN_STEPS)
            break;
        c->steps++;
        coop_wake(c->co[!me]);
        coop_yield();
    }
    c->finished[me] = 1;
}

static void run_chain(struct chain *c)
{
    memset(c, 0, sizeof(*c));
    c->co[0] = coop_create(ping, c);
    c->co[1] = coop_create(ping, c);
    ck_assert_ptr_nonnull(c->co[0]);
    ck_assert_ptr_nonnull(c->co[1]);

    coop_enter(c->co[0]); /* the whole chain runs inside this call */
    ck_assert_int_eq(c->steps, CHAIN_STEPS);
    ck_assert_int_eq(c->finished[0] + c->finished[1], 1);
    /* the other one yielded and was not woken again: finish it */
    coop_enter(c->co[c->finished[0] ? 1 : 0]);
    ck_assert_int_eq(c->finished[0] + c->finished[1], 2);
}

START_TEST(test_wake_chain_25000_steps_constant_stack)
{
    struct chain c;

    run_chain(&c);
    ck_assert_uint_le(c.spread[0], 4096);
    ck_assert_uint_le(c.spread[1], 4096);
}
END_TEST

/* The same chain from inside a coroutine with a 64 KiB stack: an enter
 * loop that recursed per woken coroutine would overflow it. */
static void chain_host(void *opaque)
{
    run_chain(opaque);
}

START_TEST(test_wake_chain_inside_small_coroutine)
{
    struct chain c;
    coop_attr_t attr;
    coop_t *host;

    coop_attr_init(&attr);
    attr.stack_size = 65536;
    host = coop_create_attr(&attr, chain_host, &c);
    ck_assert_ptr_nonnull(host);
    coop_enter(host);
    ck_assert_int_eq(c.steps, CHAIN_STEPS);
    ck_assert_uint_le(c.spread[0], 4096);
    ck_assert_uint_le(c.spread[1], 4096);
}
END_TEST

/* -------------------------------------------------- who comes back, and how */

/*
 * X wakes W1 and yields; W1 wakes W2 and yields; W2 finishes.  W1's yield
 * may hand the CPU straight to W2 (its caller runs the enter loop): the
 * one that finishes is W2, and it alone must go to the pool, while W1
 * stays suspended and resumable.
 */
struct backs {
    coop_t *x, *w1, *w2;
    struct wlog log;
};

static void backs_w2(void *opaque)
{
    struct backs *b = opaque;

    note(&b->log, '2');
}

static void backs_w1(void *opaque)
{
    struct backs *b = opaque;

    note(&b->log, '1');
    coop_wake(b->w2);
    coop_yield();
    note(&b->log, 'r'); /* resumed later by the test */
}

static void backs_x(void *opaque)
{
    struct backs *b = opaque;

    note(&b->log, 'X');
    coop_wake(b->w1);
    coop_yield();
    note(&b->log, 'x');
}

START_TEST(test_finish_after_handoff_pools_the_finisher)
{
    struct backs b;
    size_t pooled;

    memset(&b, 0, sizeof(b));
    coop_pool_drain();
    b.x = coop_create(backs_x, &b);
    b.w1 = coop_create(backs_w1, &b);
    b.w2 = coop_create(backs_w2, &b);
    ck_assert_ptr_nonnull(b.x);
    ck_assert_ptr_nonnull(b.w1);
    ck_assert_ptr_nonnull(b.w2);
    pooled = coop_pool_size();

    coop_enter(b.x);
    ck_assert_str_eq(b.log.s, "X12");
    ck_assert_uint_eq(coop_pool_size(), pooled + 1); /* W2, only */
    ck_assert(!coop_entered(b.x));
    ck_assert(!coop_entered(b.w1));
    ck_assert_ptr_eq(coop_create(coop_test_noop, NULL), b.w2); /* reused */

    coop_enter(b.w1);
    ck_assert_str_eq(b.log.s, "X12r");
    coop_enter(b.x);
    ck_assert_str_eq(b.log.s, "X12rx");
}
END_TEST

/* A coroutine handed the CPU by another's yield sees its enterer as the
 * one that runs the loop, and yields back there. */
static void chain_self_check(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'c');
    if (coop_self() != w->c)
        note(w, '?');
}

static void chain_b(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'b');
    coop_wake(w->c);
    coop_yield(); /* C runs next, in our place */
    note(w, 'B');
}

static void chain_a(void *opaque)
{
    struct wlog *w = opaque;

    note(w, 'a');
    coop_wake(w->b);
    coop_yield();
    note(w, 'A');
}

START_TEST(test_handoff_keeps_self_and_order)
{
    struct wlog w;

    memset(&w, 0, sizeof(w));
    w.a = coop_create(chain_a, &w);
    w.b = coop_create(chain_b, &w);
    w.c = coop_create(chain_self_check, &w);
    coop_enter(w.a);
    ck_assert_str_eq(w.s, "abc");
    ck_assert(!coop_in_coroutine());
    coop_enter(w.b);
    coop_enter(w.a);
    ck_assert_str_eq(w.s, "abcBA");
}
END_TEST

Suite *wake_suite(void)
{
    Suite *s = suite_create("wake");
    TCase *tc;

    tc = coop_test_tcase(s, "order");
    tcase_add_test(tc, test_wake_order_depth_first);
    tcase_add_test(tc, test_woken_run_by_inner_enter);

    tc = coop_test_tcase(s, "from-main");
    tcase_add_test(tc, test_wake_from_main_enters_at_once);

    tc = coop_test_tcase(s, "finish");
    tcase_add_test(tc, test_woken_runs_when_waker_finishes);

    tc = coop_test_tcase(s, "handoff");
    tcase_add_test(tc, test_finish_after_handoff_pools_the_finisher);
    tcase_add_test(tc, test_handoff_keeps_self_and_order);

    tc = coop_test_tcase(s, "chain");
    tcase_add_test(tc, test_wake_chain_25000_steps_constant_stack);
    tcase_add_test(tc, test_wake_chain_inside_small_coroutine);
    return s;
}
