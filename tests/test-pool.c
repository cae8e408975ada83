/* SPDX-License-Identifier: MIT */
/*
 * The per-thread pool of finished coroutines: reuse without growth,
 * limits, draining, stack-size matching and release at thread exit.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coop.h>

#include "suites.h"

#define DEFAULT_POOL_MAX 64 /* coop.h: "Decision: the default is 64" */

static void count(void *opaque)
{
    (*(unsigned long *)opaque)++;
}

/* Create and finish n coroutines, all alive at once before they finish. */
static void create_many_then_finish(size_t n)
{
    coop_t **co = calloc(n, sizeof(*co));
    unsigned long ran = 0;

    ck_assert_ptr_nonnull(co);
    for (size_t i = 0; i < n; i++) {
        co[i] = coop_create(count, &ran);
        ck_assert_ptr_nonnull(co[i]);
    }
    for (size_t i = 0; i < n; i++)
        coop_enter(co[i]);
    ck_assert_uint_eq(ran, n);
    free(co);
}

/*
 * Let the library set up its per-process and per-thread state without
 * making a stack (a creation that fails on its size), so that counting
 * mappings afterwards sees only stacks.  Counting before any stack exists
 * matters: stacks may be carved out of shared chunks, and a leaked stack
 * keeps its chunk mapped only if that chunk was not there before.
 */
static void set_up_without_stacks(void)
{
    coop_attr_t attr;

    coop_attr_init(&attr);
    attr.stack_size = SIZE_MAX;
    ck_assert_ptr_null(coop_create_attr(&attr, coop_test_noop, NULL));
    ck_assert_uint_eq(coop_pool_size(), 0);
}

static void cycle(unsigned long n, unsigned long *ran)
{
    for (unsigned long i = 0; i < n; i++) {
        coop_t *co = coop_create(count, ran);

        ck_assert_ptr_nonnull(co);
        coop_enter(co);
    }
}

/* ----------------------------------------------------------------- reuse */

START_TEST(test_finished_coroutine_goes_to_pool_and_is_reused)
{
    coop_t *co;
    unsigned long ran = 0;

    coop_pool_drain();
    ck_assert_uint_eq(coop_pool_size(), 0);
    co = coop_create(count, &ran);
    ck_assert_ptr_nonnull(co);
    ck_assert_uint_eq(coop_pool_size(), 0);
    coop_enter(co);
    ck_assert_uint_eq(coop_pool_size(), 1);
    co = coop_create(count, &ran); /* taken from the pool */
    ck_assert_ptr_nonnull(co);
    ck_assert_uint_eq(coop_pool_size(), 0);
    coop_enter(co);
    ck_assert_uint_eq(coop_pool_size(), 1);
    ck_assert_uint_eq(ran, 2);
}
END_TEST

START_TEST(test_million_cycles_no_growth)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime maps memory of its own: /proc/self/maps "
                "counts mean nothing\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    const unsigned long cycles = 1000000;
    unsigned long ran = 0;
    size_t maps, heap, max_pool = 0;

    /* warm up: per-thread state, pool, stdio of count_mappings */
    cycle(1000, &ran);
    maps = count_mappings();
    heap = malloc_in_use();

    for (unsigned long done = 0; done < cycles; done += 1000) {
        size_t n;

        cycle(1000, &ran);
        n = coop_pool_size();
        if (n > max_pool)
            max_pool = n;
    }
    ck_assert_uint_eq(ran, cycles + 1000);
    ck_assert_uint_le(count_mappings(), maps);
    ck_assert_uint_le(malloc_in_use(), heap);
    ck_assert_uint_ge(max_pool, 1);
    ck_assert_uint_le(max_pool, DEFAULT_POOL_MAX);
}
END_TEST

/* ----------------------------------------------------------------- limits */

START_TEST(test_pool_default_max_is_64)
{
    coop_pool_drain();
    create_many_then_finish(DEFAULT_POOL_MAX + 36);
    ck_assert_uint_eq(coop_pool_size(), DEFAULT_POOL_MAX);
}
END_TEST

START_TEST(test_pool_set_max_caps_pool)
{
    coop_pool_drain();
    coop_pool_set_max(8);
    create_many_then_finish(20);
    ck_assert_uint_eq(coop_pool_size(), 8);
    coop_pool_set_max(100);
    create_many_then_finish(90);
    ck_assert_uint_eq(coop_pool_size(), 90);
}
END_TEST

START_TEST(test_lowering_max_trims_at_next_release)
{
    unsigned long ran = 0;

    coop_pool_drain();
    coop_pool_set_max(16);
    create_many_then_finish(20);
    ck_assert_uint_eq(coop_pool_size(), 16);
    coop_pool_set_max(4);
    cycle(1, &ran); /* one create (from the pool) and one release */
    ck_assert_uint_eq(coop_pool_size(), 4);
}
END_TEST

START_TEST(test_drain_empties_pool_and_unmaps)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime maps memory of its own: /proc/self/maps "
                "counts mean nothing\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    size_t maps;
    unsigned long ran = 0;

    set_up_without_stacks();
    maps = count_mappings();
    create_many_then_finish(40);
    ck_assert_uint_eq(coop_pool_size(), 40);
    coop_pool_drain();
    ck_assert_uint_eq(coop_pool_size(), 0);
    ck_assert_uint_le(count_mappings(), maps);
    coop_pool_drain(); /* draining an empty pool is harmless */
    ck_assert_uint_eq(coop_pool_size(), 0);
    cycle(10, &ran);
    ck_assert_uint_eq(ran, 10);
}
END_TEST

START_TEST(test_pool_max_zero_disables_pooling)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime maps memory of its own: /proc/self/maps "
                "counts mean nothing\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    size_t maps;
    long vm;
    unsigned long ran = 0;

    set_up_without_stacks();
    maps = count_mappings() + MALLOC_MAPPINGS_SLACK;
    /* Where malloc's mappings blur the count, the address space must not
     * grow by a stack either: one kept mapped is 256 KiB (a chunk of them
     * more), and malloc's own growth here stays well below it.  (Not with
     * glibc, whose count is exact: under qemu-user, statm is the
     * emulator's, which grows as it pleases.) */
    vm = vm_kib() + 128;
    coop_pool_set_max(0);
    for (int i = 0; i < 50; i++) {
        cycle(1, &ran);
        ck_assert_uint_eq(coop_pool_size(), 0);
        ck_assert_uint_le(count_mappings(), maps); /* freed at once */
        if (MALLOC_MAPPINGS_SLACK != 0)
            ck_assert_int_le(vm_kib(), vm);
    }
    create_many_then_finish(10);
    ck_assert_uint_eq(coop_pool_size(), 0);
    ck_assert_uint_le(count_mappings(), maps);
    if (MALLOC_MAPPINGS_SLACK != 0)
        ck_assert_int_le(vm_kib(), vm);
}
END_TEST

/* ------------------------------------------------------ stack-size match */

static __attribute__((noinline)) void touch_stack(size_t n)
{
    volatile char *p = __builtin_alloca(n);

    for (size_t i = 0; i < n; i += 1024)
        p[i] = 1;
}

struct deep {
    size_t use;
    size_t seen_size;
};

static void deep_user(void *opaque)
{
    struct deep *d = opaque;

    d->seen_size = coop_stack_size(coop_self());
    touch_stack(d->use);
}

static coop_t *create_sized(size_t size, struct deep *d)
{
    coop_attr_t attr;
    coop_t *co;

    coop_attr_init(&attr);
    attr.stack_size = size;
    co = coop_create_attr(&attr, deep_user, d);
    ck_assert_ptr_nonnull(co);
    return co;
}

START_TEST(test_pool_does_not_hand_out_mismatched_stack)
{
    struct deep d = { 1024, 0 };
    coop_t *co;

    coop_pool_drain();
    coop_enter(create_sized(65536, &d)); /* pool: one 64 KiB stack */
    ck_assert_uint_eq(coop_pool_size(), 1);

    /* a 1 MiB request must not get the 64 KiB stack */
    d.use = 512 * 1024; /* would overflow a 64 KiB stack */
    co = create_sized(1048576, &d);
    ck_assert_uint_eq(coop_stack_size(co), 1048576);
    coop_enter(co);
    ck_assert_uint_eq(d.seen_size, 1048576);

    /* pool now: 64 KiB and 1 MiB; ask for 256 KiB */
    d.use = 200 * 1024;
    co = create_sized(262144, &d);
    ck_assert_uint_eq(coop_stack_size(co), 262144);
    coop_enter(co);
    ck_assert_uint_eq(d.seen_size, 262144);

    /* and the 64 KiB request still gets a 64 KiB stack */
    d.use = 1024;
    co = create_sized(65536, &d);
    ck_assert_uint_eq(coop_stack_size(co), 65536);
    coop_enter(co);
    ck_assert_uint_eq(d.seen_size, 65536);
}
END_TEST

/* ------------------------------------------------------------- threads */

struct thread_work {
    size_t n;
    size_t pool_in_thread;
};

static void yield_then_count(void *opaque)
{
    coop_yield();
    (*(unsigned long *)opaque)++;
}

static void *create_and_finish(void *opaque)
{
    struct thread_work *w = opaque;
    coop_t **co = calloc(w->n, sizeof(*co));
    unsigned long ran = 0;

    if (co == NULL || w->n == 0) {
        free(co); /* w->n == 0: only set up glibc's per-thread memory */
        return w;
    }
    for (size_t i = 0; i < w->n; i++) {
        co[i] = coop_create(yield_then_count, &ran);
        if (co[i] == NULL)
            return NULL;
        coop_enter(co[i]);
    }
    for (size_t i = 0; i < w->n; i++)
        coop_enter(co[i]);
    free(co);
    w->pool_in_thread = coop_pool_size();
    return ran == w->n ? w : NULL;
}

static void run_thread(struct thread_work *w)
{
    pthread_t t;
    void *ret;

    ck_assert_int_eq(pthread_create(&t, NULL, create_and_finish, w), 0);
    ck_assert_int_eq(pthread_join(t, &ret), 0);
    ck_assert_ptr_eq(ret, w);
}

START_TEST(test_thread_exit_frees_its_pool)
{
    if (getenv("COOP_TEST_SANITIZER")) {
        fprintf(stderr, "%s: skipped under COOP_TEST_SANITIZER=%s: "
                "the runtime maps memory of its own: /proc/self/maps "
                "counts mean nothing\n",
                __func__, getenv("COOP_TEST_SANITIZER"));
        return;
    }
    struct thread_work warm = { 0, 0 }, w = { 48, 0 };
    size_t maps;

    /* glibc keeps the stack (and malloc arena) of an exited thread: let a
     * first thread, which makes no coroutine, put them in place; count
     * while no coroutine exists in this (forked) process */
    run_thread(&warm);
    set_up_without_stacks();
    maps = count_mappings();

    run_thread(&w);
    ck_assert_uint_eq(w.pool_in_thread, 48);
    ck_assert_uint_le(count_mappings(), maps);
}
END_TEST

START_TEST(test_pool_is_per_thread)
{
    struct thread_work w = { 5, 0 };

    coop_pool_drain();
    run_thread(&w);
    ck_assert_uint_eq(w.pool_in_thread, 5);
    ck_assert_uint_eq(coop_pool_size(), 0);
}
END_TEST

/* Under CK_FORK=no the tests share a process: restore the default. */
static void restore_pool_max(void)
{
    coop_pool_set_max(DEFAULT_POOL_MAX);
}

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc;

    tc = coop_test_tcase(s, "reuse");
    tcase_add_test(tc, test_finished_coroutine_goes_to_pool_and_is_reused);
    tcase_add_test(tc, test_million_cycles_no_growth);

    tc = coop_test_tcase(s, "limits");
    tcase_add_checked_fixture(tc, NULL, restore_pool_max);
    tcase_add_test(tc, test_pool_default_max_is_64);
    tcase_add_test(tc, test_pool_set_max_caps_pool);
    tcase_add_test(tc, test_lowering_max_trims_at_next_release);
    tcase_add_test(tc, test_drain_empties_pool_and_unmaps);
    tcase_add_test(tc, test_pool_max_zero_disables_pooling);

    tc = coop_test_tcase(s, "stack-size");
    tcase_add_test(tc, test_pool_does_not_hand_out_mismatched_stack);

    tc = coop_test_tcase(s, "threads");
    tcase_add_test(tc, test_thread_exit_frees_its_pool);
    tcase_add_test(tc, test_pool_is_per_thread);
    return s;
}
