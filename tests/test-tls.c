/* SPDX-License-Identifier: MIT */
/*
 * Thread-local storage that follows a coroutine to its new thread: the
 * COOP_TLS_* accessors read, write and point at the copy of the thread the
 * coroutine runs on now, even in one function body that reads them before
 * and after a coop_yield() that moved it (a compiler that cached the thread
 * pointer or the variable's address across the yield would fail these).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <coop.h>

#include "suites.h"

/* External accessors (declared as a header would), static ones, and a
 * struct. */
COOP_TLS_DECLARE(int, tls_int);
COOP_TLS_DEFINE(int, tls_int);

COOP_TLS_DEFINE_STATIC(int, tls_static);

struct tls_rec {
    long id;
    const void *owner;
    char label[24];
};
COOP_TLS_DEFINE_STATIC(struct tls_rec, tls_rec);

/* -------------------------------------------------- one thread, basics */

struct fresh {
    int value;
    long rec_id;
    int *ptr;
};

static void *read_fresh_thread(void *opaque)
{
    struct fresh *f = opaque;

    f->value = get_tls_int();
    f->rec_id = get_tls_rec().id;
    f->ptr = get_ptr_tls_int();
    return NULL;
}

START_TEST(test_accessors_on_one_thread)
{
    struct tls_rec rec;
    struct fresh other;
    pthread_t t;

    ck_assert_int_eq(get_tls_int(), 0);
    ck_assert_int_eq(get_tls_static(), 0);
    ck_assert_int_eq(get_tls_rec().id, 0);

    set_tls_int(7);
    ck_assert_int_eq(get_tls_int(), 7);
    *get_ptr_tls_int() = 8;
    ck_assert_int_eq(get_tls_int(), 8);
    ck_assert_ptr_eq(get_ptr_tls_int(), get_ptr_tls_int());
    set_tls_static(-3);
    ck_assert_int_eq(*get_ptr_tls_static(), -3);

    memset(&rec, 0, sizeof(rec));
    rec.id = 42;
    rec.owner = &rec;
    strcpy(rec.label, "main");
    set_tls_rec(rec);
    ck_assert_int_eq(get_tls_rec().id, 42);
    ck_assert_ptr_eq(get_tls_rec().owner, &rec);
    ck_assert_str_eq(get_ptr_tls_rec()->label, "main");

    /* another thread has its own, zero-initialised copies */
    memset(&other, 0xff, sizeof(other));
    ck_assert_int_eq(pthread_create(&t, NULL, read_fresh_thread, &other), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert_int_eq(other.value, 0);
    ck_assert_int_eq(other.rec_id, 0);
    ck_assert_ptr_ne(other.ptr, get_ptr_tls_int());
    ck_assert_int_eq(get_tls_int(), 8);
}
END_TEST

/* --------------------------------- first entered on T1, resumed on T2 */

struct first_hop {
    coop_t *co;
    /* what the coroutine saw on T1, after setting its value there */
    int t1_value;
    int *t1_ptr;
    /* what it saw on T2, and what T2 reported for its own copy */
    int t2_value;
    int *t2_ptr;
    int *t2_own_ptr;
    /* T1's copy after the coroutine yielded back to it */
    int t1_after;
    int *t1_own_ptr;
    bool done;
};

static void first_hop_fn(void *opaque)
{
    struct first_hop *h = opaque;

    set_tls_int(111);
    h->t1_value = get_tls_int();
    h->t1_ptr = get_ptr_tls_int();
    coop_yield();
    /* the same function, now on T2 */
    h->t2_value = get_tls_int();
    h->t2_ptr = get_ptr_tls_int();
    set_tls_int(333);
    h->done = true;
}

static void *first_hop_t1(void *opaque)
{
    struct first_hop *h = opaque;

    set_tls_int(100);
    h->t1_own_ptr = get_ptr_tls_int();
    h->co = coop_create(first_hop_fn, h);
    if (h->co != NULL)
        coop_enter(h->co);
    h->t1_after = get_tls_int();
    return NULL;
}

START_TEST(test_resumed_on_other_thread_sees_its_copy)
{
    struct first_hop h;
    pthread_t t1;

    memset(&h, 0, sizeof(h));
    ck_assert_int_eq(pthread_create(&t1, NULL, first_hop_t1, &h), 0);
    ck_assert_int_eq(pthread_join(t1, NULL), 0);
    ck_assert_ptr_nonnull(h.co);
    ck_assert_int_eq(h.t1_value, 111);
    ck_assert_ptr_eq(h.t1_ptr, h.t1_own_ptr);
    ck_assert_int_eq(h.t1_after, 111); /* the coroutine wrote T1's copy */
    ck_assert(!h.done);

    /* T2: this thread */
    set_tls_int(222);
    h.t2_own_ptr = get_ptr_tls_int();
    ck_assert_ptr_ne(h.t2_own_ptr, h.t1_own_ptr);
    coop_enter(h.co);
    ck_assert(h.done);
    ck_assert_int_eq(h.t2_value, 222);
    ck_assert_ptr_eq(h.t2_ptr, h.t2_own_ptr);
    ck_assert_int_eq(get_tls_int(), 333); /* written to T2's copy */
}
END_TEST

/* ------------------------------ a relay: 1000 hand-overs, 3 threads */

#define RELAY_THREADS 3
#define RELAY_HANDOVERS 1000

struct relay {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;          /* the thread that enters next */
    int handovers;     /* coop_enter() calls so far */
    bool finished;          /* under mu */
    bool fn_done;           /* the coroutine's last act, read by the thread
                               that entered it once coop_enter() returns */
    coop_t *co;
    /* published by the entering thread before it enters: its values and
     * the addresses of its copies */
    int expect_int, expect_static;
    long expect_rec;
    int *expect_int_ptr, *expect_static_ptr;
    struct tls_rec *expect_rec_ptr;
    /* what the coroutine read, and what it counted */
    struct relay_seen {
        int v, sv;
        int *p, *sp;
        struct tls_rec rec;
        struct tls_rec *rp;
    } seen;
    int resumed, checks, bad_int, bad_static, bad_rec;
};

/* Compare what the coroutine read (r->seen) with what the entering
 * thread published; the reads themselves happen in relay_fn. */
static void relay_check(struct relay *r)
{
    const struct relay_seen *s = &r->seen;

    r->checks++;
    if (s->v != r->expect_int || s->p != r->expect_int_ptr)
        r->bad_int++;
    if (s->sv != r->expect_static || s->sp != r->expect_static_ptr)
        r->bad_static++;
    if (s->rec.id != r->expect_rec || s->rec.owner != r->expect_rec_ptr
        || s->rp != r->expect_rec_ptr || s->rp->id != r->expect_rec
        || strcmp(s->rp->label, "relay") != 0)
        r->bad_rec++;
}

/* Each entry reads all three before and after the yield, in this one
 * function, then writes each thread's copy (value + 1), which the thread
 * checks once coop_enter() returns. */
static void relay_fn(void *opaque)
{
    struct relay *r = opaque;

    for (int i = 0; i < RELAY_HANDOVERS; i++) {
        r->seen.v = get_tls_int();
        r->seen.p = get_ptr_tls_int();
        r->seen.sv = get_tls_static();
        r->seen.sp = get_ptr_tls_static();
        r->seen.rec = get_tls_rec();
        r->seen.rp = get_ptr_tls_rec();
        relay_check(r);
        set_tls_int(r->expect_int + 1);
        *get_ptr_tls_static() = r->expect_static + 1;
        get_ptr_tls_rec()->id = r->expect_rec + 1;

        coop_yield(); /* next on another thread */

        r->resumed++;
        r->seen.v = get_tls_int();
        r->seen.p = get_ptr_tls_int();
        r->seen.sv = get_tls_static();
        r->seen.sp = get_ptr_tls_static();
        r->seen.rec = get_tls_rec();
        r->seen.rp = get_ptr_tls_rec();
        relay_check(r);
    }
    set_tls_int(r->expect_int + 1);
    *get_ptr_tls_static() = r->expect_static + 1;
    get_ptr_tls_rec()->id = r->expect_rec + 1;
    r->fn_done = true;
}

struct runner {
    struct relay *r;
    int id;
    int entered, bad_written;
    int *own_ptr;
};

static void *relay_thread(void *opaque)
{
    struct runner *me = opaque;
    struct relay *r = me->r;
    struct tls_rec rec;

    memset(&rec, 0, sizeof(rec));
    strcpy(rec.label, "relay");
    rec.owner = get_ptr_tls_rec();
    set_tls_rec(rec);
    me->own_ptr = get_ptr_tls_int();

    pthread_mutex_lock(&r->mu);
    for (;;) {
        int visit;

        while (r->turn != me->id && !r->finished)
            pthread_cond_wait(&r->cv, &r->mu);
        if (r->finished)
            break;
        if (r->co == NULL)
            r->co = coop_create(relay_fn, r);
        if (r->co == NULL) {
            r->finished = true;
            pthread_cond_broadcast(&r->cv);
            break;
        }
        /* fresh values at every visit, so no stale copy can match */
        visit = r->handovers * RELAY_THREADS + me->id + 1;
        set_tls_int(visit);
        set_tls_static(-visit);
        get_ptr_tls_rec()->id = 10L * visit;
        r->expect_int = get_tls_int();
        r->expect_static = get_tls_static();
        r->expect_rec = get_tls_rec().id;
        r->expect_int_ptr = get_ptr_tls_int();
        r->expect_static_ptr = get_ptr_tls_static();
        r->expect_rec_ptr = get_ptr_tls_rec();
        r->handovers++;
        pthread_mutex_unlock(&r->mu);

        coop_enter(r->co);
        me->entered++;
        if (get_tls_int() != visit + 1 || get_tls_static() != -visit + 1
            || get_tls_rec().id != 10L * visit + 1)
            me->bad_written++;

        pthread_mutex_lock(&r->mu);
        if (r->fn_done)
            r->finished = true; /* under mu: the others read it */
        /* on to another thread, in a varying order (steps of 1 and 2,
         * three of each in turn) */
        r->turn = (me->id + 1 + r->handovers / 3 % (RELAY_THREADS - 1))
                  % RELAY_THREADS;
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

START_TEST(test_relay_between_threads)
{
    struct relay r;
    struct runner run[RELAY_THREADS];
    pthread_t t[RELAY_THREADS];
    int entered = 0;

    memset(&r, 0, sizeof(r));
    memset(run, 0, sizeof(run));
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    for (int i = 0; i < RELAY_THREADS; i++) {
        run[i].r = &r;
        run[i].id = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, relay_thread, &run[i]),
                         0);
    }
    for (int i = 0; i < RELAY_THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);

    ck_assert_ptr_nonnull(r.co);
    ck_assert(r.finished);
    ck_assert_int_eq(r.handovers, RELAY_HANDOVERS + 1);
    ck_assert_int_eq(r.resumed, RELAY_HANDOVERS);
    ck_assert_int_eq(r.checks, 2 * RELAY_HANDOVERS);
    ck_assert_int_eq(r.bad_int, 0);
    ck_assert_int_eq(r.bad_static, 0);
    ck_assert_int_eq(r.bad_rec, 0);
    for (int i = 0; i < RELAY_THREADS; i++) {
        /* each thread had the coroutine several times, and its own copy */
        ck_assert_int_gt(run[i].entered, RELAY_HANDOVERS / RELAY_THREADS / 2);
        ck_assert_int_eq(run[i].bad_written, 0);
        for (int j = 0; j < i; j++)
            ck_assert_ptr_ne(run[i].own_ptr, run[j].own_ptr);
        entered += run[i].entered;
    }
    ck_assert_int_eq(entered, RELAY_HANDOVERS + 1);
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}
END_TEST

Suite *tls_suite(void)
{
    Suite *s = suite_create("tls");
    TCase *tc;

    tc = coop_test_tcase(s, "accessors");
    tcase_add_test(tc, test_accessors_on_one_thread);

    tc = coop_test_tcase(s, "follow");
    tcase_add_test(tc, test_resumed_on_other_thread_sees_its_copy);
    tcase_add_test(tc, test_relay_between_threads);
    return s;
}
