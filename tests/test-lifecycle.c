/* SPDX-License-Identifier: MIT */
/*
 * Creating, entering, yielding and finishing coroutines; what coop_self(),
 * coop_in_coroutine() and coop_entered() report in each state; names,
 * stack sizes, version and backend.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <coop.h>

#include "suites.h"

/* A log of steps: each step appends one character. */
struct steps {
    char s[256];
    size_t n;
};

static void step(struct steps *log, char c)
{
    ck_assert_uint_lt(log->n, sizeof(log->s) - 1);
    log->s[log->n++] = c;
    log->s[log->n] = '\0';
}

/* --------------------------------------------------------------- basics */

static void set_flag(void *opaque)
{
    (*(int *)opaque)++;
}

START_TEST(test_create_does_not_run_fn)
{
    int ran = 0;
    coop_t *co = coop_create(set_flag, &ran);

    ck_assert_ptr_nonnull(co);
    ck_assert_int_eq(ran, 0);
    ck_assert(!coop_entered(co));
    coop_enter(co);
    ck_assert_int_eq(ran, 1);
}
END_TEST

struct two_halves {
    coop_t *co;
    int phase;
    bool entered_inside;
};

static void two_halves(void *opaque)
{
    struct two_halves *t = opaque;

    t->phase = 1;
    t->entered_inside = coop_entered(t->co);
    coop_yield();
    t->phase = 2;
}

START_TEST(test_enter_runs_until_yield)
{
    struct two_halves t = { NULL, 0, false };

    t.co = coop_create(two_halves, &t);
    ck_assert_ptr_nonnull(t.co);
    coop_enter(t.co);
    ck_assert_int_eq(t.phase, 1);
    ck_assert(t.entered_inside);
    ck_assert(!coop_entered(t.co)); /* yielded */
    coop_enter(t.co);
    ck_assert_int_eq(t.phase, 2);
}
END_TEST

/* Locals on the coroutine's stack survive its yields. */
static void count_with_locals(void *opaque)
{
    int *out = opaque;
    volatile unsigned char pattern[512];
    unsigned sum = 0;

    for (unsigned i = 0; i < sizeof(pattern); i++)
        pattern[i] = (unsigned char)(i * 7 + 3);
    for (int round = 0; round < 10; round++) {
        out[round] = round;
        coop_yield();
    }
    for (unsigned i = 0; i < sizeof(pattern); i++)
        sum += pattern[i] == (unsigned char)(i * 7 + 3);
    out[10] = (int)sum;
}

START_TEST(test_resume_continues_after_yield)
{
    int out[11];
    coop_t *co;

    memset(out, -1, sizeof(out));
    co = coop_create(count_with_locals, out);
    ck_assert_ptr_nonnull(co);
    for (int round = 0; round < 10; round++) {
        coop_enter(co);
        ck_assert_int_eq(out[round], round);
        ck_assert_int_eq(out[round + 1], -1); /* stopped at the yield */
    }
    coop_enter(co); /* finishes */
    ck_assert_int_eq(out[10], 512);
}
END_TEST

START_TEST(test_finish_returns_to_enterer_and_library_stays_usable)
{
    int ran = 0;

    for (int i = 0; i < 100; i++) {
        coop_t *co = coop_create(set_flag, &ran);

        ck_assert_ptr_nonnull(co);
        coop_enter(co);
        ck_assert_int_eq(ran, i + 1);
        ck_assert(!coop_in_coroutine());
    }
}
END_TEST

/* ----------------------------------------------------- order of events */

struct order {
    struct steps log;
    coop_t *a, *b, *c;
};

static void order_a(void *opaque)
{
    struct order *o = opaque;

    step(&o->log, 'a');
    coop_yield();
    step(&o->log, 'A');
}

static void order_c(void *opaque)
{
    struct order *o = opaque;

    step(&o->log, 'c');
    coop_yield();
    step(&o->log, 'C');
}

static void order_b(void *opaque)
{
    struct order *o = opaque;

    step(&o->log, 'b');
    coop_enter(o->c); /* C yields back here, not to main */
    step(&o->log, '1');
    coop_yield();
    step(&o->log, 'B');
}

START_TEST(test_order_of_events_across_coroutines)
{
    struct order o;

    memset(&o, 0, sizeof(o));
    o.a = coop_create(order_a, &o);
    o.b = coop_create(order_b, &o);
    o.c = coop_create(order_c, &o);
    ck_assert_ptr_nonnull(o.a);
    ck_assert_ptr_nonnull(o.b);
    ck_assert_ptr_nonnull(o.c);

    coop_enter(o.a);
    step(&o.log, '.');
    coop_enter(o.b);
    step(&o.log, '.');
    coop_enter(o.a);
    step(&o.log, '.');
    coop_enter(o.c); /* now entered from main: yields/finishes to main */
    step(&o.log, '.');
    coop_enter(o.b);
    step(&o.log, '.');
    ck_assert_str_eq(o.log.s, "a.bc1.A.C.B.");
}
END_TEST

/* ---------------------------------------------------------- deep nesting */

#define DEPTH 128

struct chain {
    coop_t *co[DEPTH];
    int level_of_enter[DEPTH]; /* which level ran each step */
    int bad_self, bad_entered, unwound, finished;
};

static int chain_level(struct chain *c)
{
    for (int i = 0; i < DEPTH; i++)
        if (c->co[i] == coop_self())
            return i;
    return -1;
}

static void chain_link(void *opaque)
{
    struct chain *c = opaque;
    int me = chain_level(c);

    if (me < 0)
        return;
    /* everyone up the chain is entered; nobody below has started */
    for (int i = 0; i < DEPTH; i++)
        if (coop_entered(c->co[i]) != (i <= me))
            c->bad_entered++;
    if (me + 1 < DEPTH) {
        coop_enter(c->co[me + 1]);
        /* the deeper one yielded to us, its caller */
        if (coop_self() != c->co[me])
            c->bad_self++;
        if (coop_entered(c->co[me + 1]) || !coop_entered(c->co[me]))
            c->bad_entered++;
    }
    c->unwound++;
    coop_yield(); /* back to our caller, one level up */

    /* resumed by main, in order 0..DEPTH-1: the lower ones have finished
     * (their handles are invalid), the higher ones are still suspended */
    if (coop_self() != c->co[me] || !coop_entered(c->co[me]))
        c->bad_self++;
    for (int i = me + 1; i < DEPTH; i++)
        if (coop_entered(c->co[i]))
            c->bad_entered++;
    c->finished++;
}

START_TEST(test_nesting_128_deep_unwinds_caller_chain)
{
    struct chain *c = calloc(1, sizeof(*c));

    ck_assert_ptr_nonnull(c);
    for (int i = 0; i < DEPTH; i++) {
        c->co[i] = coop_create(chain_link, c);
        ck_assert_ptr_nonnull(c->co[i]);
    }
    coop_enter(c->co[0]);
    ck_assert_int_eq(c->unwound, DEPTH);
    ck_assert_int_eq(c->bad_self, 0);
    ck_assert_int_eq(c->bad_entered, 0);
    for (int i = 0; i < DEPTH; i++)
        ck_assert(!coop_entered(c->co[i]));

    for (int i = 0; i < DEPTH; i++) {
        coop_enter(c->co[i]);
        ck_assert_int_eq(c->finished, i + 1);
    }
    ck_assert_int_eq(c->bad_self, 0);
    ck_assert_int_eq(c->bad_entered, 0);
    free(c);
}
END_TEST

/* ------------------------------------------------- state introspection */

struct states {
    coop_t *main, *co, *inner;
    coop_t *self_inside, *self_inner, *self_after_inner;
    bool in_co, entered_inside, outer_entered_from_inner;
    bool inner_in_co;
};

static void states_inner(void *opaque)
{
    struct states *s = opaque;

    s->self_inner = coop_self();
    s->inner_in_co = coop_in_coroutine();
    s->outer_entered_from_inner = coop_entered(s->co);
}

static void states_outer(void *opaque)
{
    struct states *s = opaque;

    s->self_inside = coop_self();
    s->in_co = coop_in_coroutine();
    s->entered_inside = coop_entered(s->co);
    coop_yield();
    coop_enter(s->inner);
    s->self_after_inner = coop_self();
}

START_TEST(test_self_in_coroutine_entered_in_each_state)
{
    struct states s;
    coop_t *main_handle = coop_self();

    memset(&s, 0, sizeof(s));
    /* the main context */
    ck_assert_ptr_nonnull(main_handle);
    ck_assert_ptr_eq(coop_self(), main_handle);
    ck_assert(!coop_in_coroutine());
    ck_assert(!coop_entered(main_handle));
    ck_assert_ptr_null(coop_name(main_handle));
    ck_assert_uint_eq(coop_stack_size(main_handle), 0);

    s.main = main_handle;
    s.co = coop_create(states_outer, &s);
    s.inner = coop_create(states_inner, &s);
    ck_assert_ptr_nonnull(s.co);
    ck_assert_ptr_nonnull(s.inner);
    ck_assert_ptr_ne(s.co, main_handle);
    ck_assert(!coop_entered(s.co)); /* not started */

    coop_enter(s.co);
    ck_assert_ptr_eq(s.self_inside, s.co);
    ck_assert(s.in_co);
    ck_assert(s.entered_inside);
    ck_assert(!coop_entered(s.co)); /* yielded */
    ck_assert_ptr_eq(coop_self(), main_handle); /* stable */
    ck_assert(!coop_in_coroutine());

    coop_enter(s.co);
    ck_assert_ptr_eq(s.self_inner, s.inner);
    ck_assert(s.inner_in_co);
    ck_assert(s.outer_entered_from_inner); /* it is inner's caller */
    ck_assert_ptr_eq(s.self_after_inner, s.co);
    ck_assert_ptr_eq(coop_self(), main_handle);
    ck_assert(!coop_entered(main_handle));
}
END_TEST

/* ---------------------------------------- a finished caller is forgotten */

struct orphan {
    struct steps log;
    coop_t *b;
    int fillers_resumed;
};

static void orphan_b(void *opaque)
{
    struct orphan *o = opaque;

    step(&o->log, 'b');
    coop_yield(); /* to A, its caller at the time */
    step(&o->log, 'B');
    coop_yield(); /* A is gone: must reach whoever entered us now */
    step(&o->log, 'Z');
}

static void orphan_a(void *opaque)
{
    struct orphan *o = opaque;

    step(&o->log, 'a');
    coop_enter(o->b);
    step(&o->log, 'A'); /* then A finishes */
}

/* Takes A's place in the pool; must never be resumed by B's yield. */
static void orphan_filler(void *opaque)
{
    struct orphan *o = opaque;

    coop_yield();
    o->fillers_resumed++;
}

START_TEST(test_enter_finished_caller_not_touched)
{
    struct orphan o;
    coop_t *a, *filler[8];

    memset(&o, 0, sizeof(o));
    a = coop_create(orphan_a, &o);
    o.b = coop_create(orphan_b, &o);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(o.b);
    coop_enter(a);
    ck_assert_str_eq(o.log.s, "abA");

    /* reuse A's memory (and more) for suspended coroutines */
    for (int i = 0; i < 8; i++) {
        filler[i] = coop_create(orphan_filler, &o);
        ck_assert_ptr_nonnull(filler[i]);
        coop_enter(filler[i]);
    }

    coop_enter(o.b);
    step(&o.log, '.');
    ck_assert_str_eq(o.log.s, "abAB.");
    ck_assert_int_eq(o.fillers_resumed, 0);
    ck_assert_ptr_eq(coop_self(), coop_self());
    ck_assert(!coop_in_coroutine());

    coop_enter(o.b);
    ck_assert_str_eq(o.log.s, "abAB.Z");
    ck_assert_int_eq(o.fillers_resumed, 0);

    for (int i = 0; i < 8; i++)
        coop_enter(filler[i]);
    ck_assert_int_eq(o.fillers_resumed, 8);
}
END_TEST

/* A enters B; B yields to A; A finishes; then a new coroutine that reuses
 * A's memory enters B: B must now yield to the new one. */
static void reenter_b(void *opaque)
{
    struct orphan *o = opaque;

    coop_yield();
    step(&o->log, 'B');
    coop_yield();
    step(&o->log, 'Z');
}

static void reenter_x(void *opaque)
{
    struct orphan *o = opaque;

    step(&o->log, 'x');
    coop_enter(o->b);
    step(&o->log, 'X');
}

START_TEST(test_finished_caller_replaced_by_new_enterer)
{
    struct orphan o;
    coop_t *a, *x;

    memset(&o, 0, sizeof(o));
    o.b = coop_create(reenter_b, &o);
    a = coop_create(orphan_a, &o);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(o.b);
    coop_enter(a);
    ck_assert_str_eq(o.log.s, "aA");

    x = coop_create(reenter_x, &o);
    ck_assert_ptr_nonnull(x);
    coop_enter(x);
    ck_assert_str_eq(o.log.s, "aAxBX");
    coop_enter(o.b);
    ck_assert_str_eq(o.log.s, "aAxBXZ");
}
END_TEST

/* ------------------------------------------------------------------ names */

START_TEST(test_name_is_copied)
{
    char buf[32];
    coop_attr_t attr;
    coop_t *co;

    strcpy(buf, "worker-1");
    coop_attr_init(&attr);
    attr.name = buf;
    co = coop_create_attr(&attr, coop_test_noop, NULL);
    ck_assert_ptr_nonnull(co);
    memset(buf, 'X', sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = '\0';
    ck_assert_ptr_nonnull(coop_name(co));
    ck_assert_ptr_ne(coop_name(co), buf);
    ck_assert_str_eq(coop_name(co), "worker-1");
    coop_enter(co);
}
END_TEST

START_TEST(test_name_truncated_to_31_bytes)
{
    const char *longname = "0123456789abcdefghijklmnopqrstuvwxyz-0123456789";
    const char *exact = "0123456789abcdefghijklmnopqrstu"; /* 31 bytes */
    coop_attr_t attr;
    coop_t *a, *b;

    coop_attr_init(&attr);
    attr.name = longname;
    a = coop_create_attr(&attr, coop_test_noop, NULL);
    attr.name = exact;
    b = coop_create_attr(&attr, coop_test_noop, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(strlen(coop_name(a)), 31);
    ck_assert_int_eq(strncmp(coop_name(a), longname, 31), 0);
    ck_assert_str_eq(coop_name(b), exact);
    coop_enter(a);
    coop_enter(b);
}
END_TEST

static void record_own_name(void *opaque)
{
    const char **out = opaque;

    *out = coop_name(coop_self());
}

START_TEST(test_name_not_inherited_through_pool)
{
    coop_attr_t attr;
    const char *seen = "unset";
    coop_t *co;

    coop_attr_init(&attr);
    attr.name = "first";
    co = coop_create_attr(&attr, record_own_name, &seen);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_str_eq(seen, "first");

    /* likely the same memory again, created without a name */
    co = coop_create(record_own_name, &seen);
    ck_assert_ptr_nonnull(co);
    ck_assert_ptr_null(coop_name(co));
    coop_enter(co);
    ck_assert_ptr_null(seen);

    attr.name = "second";
    co = coop_create_attr(&attr, record_own_name, &seen);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_str_eq(seen, "second");
}
END_TEST

/* ------------------------------------------------------------ stack size */

START_TEST(test_stack_size_default_is_1_mib)
{
    coop_attr_t attr;
    coop_t *a, *b;

    coop_attr_init(&attr);
    a = coop_create(coop_test_noop, NULL);
    b = coop_create_attr(&attr, coop_test_noop, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    if (getenv("COOP_STACK_SIZE") == NULL)
        ck_assert_uint_eq(coop_stack_size(a), 1048576);
    ck_assert_uint_eq(coop_stack_size(b), coop_stack_size(a));
    coop_enter(a);
    coop_enter(b);
}
END_TEST

/* Use about n bytes of stack, page by page, so that a short stack faults. */
static __attribute__((noinline)) void use_stack(size_t n)
{
    volatile char *p = __builtin_alloca(n);

    for (size_t i = 0; i < n; i += 1024)
        p[i] = (char)i;
    p[n - 1] = 1;
}

struct sized {
    size_t use;
    int done;
};

static void use_some_stack(void *opaque)
{
    struct sized *s = opaque;

    use_stack(s->use);
    s->done = 1;
}

START_TEST(test_stack_size_small_request_raised_to_minimum)
{
    size_t max_min = round_to_page(16384);
    coop_attr_t attr;
    struct sized s = { 2048, 0 };
    size_t smallest = 0;

    coop_attr_init(&attr);
    for (size_t req = 1; req <= 16384; req *= 4) {
        coop_t *co;
        size_t got, expect;

        attr.stack_size = req;
        co = coop_create_attr(&attr, use_some_stack, &s);
        ck_assert_ptr_nonnull(co);
        got = coop_stack_size(co);
        ck_assert_uint_ge(got, req);
        ck_assert_uint_le(got, max_min);
        ck_assert_uint_eq(got % (size_t)sysconf(_SC_PAGESIZE), 0);
        /* below the minimum, every request gets the minimum (rounded) */
        if (smallest == 0)
            smallest = got;
        expect = round_to_page(req) > smallest ? round_to_page(req) : smallest;
        ck_assert_uint_eq(got, expect);
        s.done = 0;
        coop_enter(co);
        ck_assert_int_eq(s.done, 1);
    }
}
END_TEST

START_TEST(test_stack_size_rounded_up_to_page)
{
    coop_attr_t attr;
    coop_t *co;
    struct sized s = { 0, 0 };

    coop_attr_init(&attr);
    attr.stack_size = 100000;
    co = coop_create_attr(&attr, use_some_stack, &s);
    ck_assert_ptr_nonnull(co);
    ck_assert_uint_eq(coop_stack_size(co), round_to_page(100000));
    /* the bytes are really usable (leave room for the library's frames) */
    s.use = coop_stack_size(co) - 16384;
    coop_enter(co);
    ck_assert_int_eq(s.done, 1);
}
END_TEST

/* --------------------------------------------------------- introspection */

START_TEST(test_version_matches_macros)
{
    char expect[64];

    snprintf(expect, sizeof(expect), "%d.%d.%d", COOP_VERSION_MAJOR,
             COOP_VERSION_MINOR, COOP_VERSION_PATCH);
    ck_assert_str_eq(coop_version(), expect);
    ck_assert_str_eq(coop_version(), "0.1.0");
}
END_TEST

START_TEST(test_backend_is_known)
{
    const char *b = coop_backend();

    ck_assert_ptr_nonnull(b);
    ck_assert_msg(strcmp(b, "ucontext") == 0 || strcmp(b, "sigaltstack") == 0
                  || strcmp(b, "asm-x86_64") == 0
                  || strcmp(b, "asm-aarch64") == 0
                  || strcmp(b, "asm-riscv64") == 0,
                  "unknown backend \"%s\"", b);
#if !defined(__x86_64__)
    ck_assert_str_ne(b, "asm-x86_64");
#endif
#if !defined(__aarch64__)
    ck_assert_str_ne(b, "asm-aarch64");
#endif
#if !defined(__riscv)
    ck_assert_str_ne(b, "asm-riscv64");
#endif
}
END_TEST

Suite *lifecycle_suite(void)
{
    Suite *s = suite_create("lifecycle");
    TCase *tc;

    tc = coop_test_tcase(s, "basics");
    tcase_add_test(tc, test_create_does_not_run_fn);
    tcase_add_test(tc, test_enter_runs_until_yield);
    tcase_add_test(tc, test_resume_continues_after_yield);
    tcase_add_test(tc, test_finish_returns_to_enterer_and_library_stays_usable);

    tc = coop_test_tcase(s, "order");
    tcase_add_test(tc, test_order_of_events_across_coroutines);
    tcase_add_test(tc, test_nesting_128_deep_unwinds_caller_chain);

    tc = coop_test_tcase(s, "state");
    tcase_add_test(tc, test_self_in_coroutine_entered_in_each_state);

    tc = coop_test_tcase(s, "finished-caller");
    tcase_add_test(tc, test_enter_finished_caller_not_touched);
    tcase_add_test(tc, test_finished_caller_replaced_by_new_enterer);

    tc = coop_test_tcase(s, "name");
    tcase_add_test(tc, test_name_is_copied);
    tcase_add_test(tc, test_name_truncated_to_31_bytes);
    tcase_add_test(tc, test_name_not_inherited_through_pool);

    tc = coop_test_tcase(s, "stack-size");
    tcase_add_test(tc, test_stack_size_default_is_1_mib);
    tcase_add_test(tc, test_stack_size_small_request_raised_to_minimum);
    tcase_add_test(tc, test_stack_size_rounded_up_to_page);

    tc = coop_test_tcase(s, "introspection");
    tcase_add_test(tc, test_version_matches_macros);
    tcase_add_test(tc, test_backend_is_known);
    return s;
}
