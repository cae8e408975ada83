/* SPDX-License-Identifier: MIT */
/*
 * Threads: a suspended coroutine entered next from another thread must see
 * that thread (coop_self(), library state, its own thread-locals); each
 * thread has its own main context; threads create coroutines concurrently.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <coop.h>

#include "suites.h"

static __thread int thread_tag;

/*
 * Read thread_tag afresh.  Not inlined, and the barrier keeps the compiler
 * from treating it as pure, so a thread-local address computed before a
 * yield is never reused after it (that would be a bug in this test, not
 * in the library).
 */
static __attribute__((noinline)) int read_thread_tag(void)
{
    __asm__ volatile("" ::: "memory");
    return thread_tag;
}

static __attribute__((noinline)) void write_thread_tag(int v)
{
    __asm__ volatile("" ::: "memory");
    thread_tag = v;
}

/* ------------------------------------------ resume on another thread */

struct child {
    coop_t *self;
    bool self_ok;
    int tag;
};

static void child_fn(void *opaque)
{
    struct child *c = opaque;

    c->self_ok = coop_self() == c->self;
    c->tag = read_thread_tag();
}

#define HOPS 4

struct migrant {
    coop_t *co;
    int tag[HOPS];
    pthread_t thread[HOPS];
    bool self_ok[HOPS], in_co[HOPS], entered[HOPS];
    bool child_self_ok[HOPS], self_after_child[HOPS];
    int child_tag[HOPS];
    size_t pool_after_child[HOPS];
    int hops;
};

static void migrant_fn(void *opaque)
{
    struct migrant *m = opaque;

    for (int i = 0; i < HOPS; i++) {
        struct child c = { NULL, false, -1 };

        m->tag[i] = read_thread_tag();
        m->thread[i] = pthread_self();
        m->self_ok[i] = coop_self() == m->co;
        m->in_co[i] = coop_in_coroutine();
        m->entered[i] = coop_entered(m->co);

        /* library calls made here act on the current thread */
        c.self = coop_create(child_fn, &c);
        if (c.self != NULL)
            coop_enter(c.self);
        m->child_self_ok[i] = c.self_ok;
        m->child_tag[i] = c.tag;
        m->self_after_child[i] = coop_self() == m->co;
        m->pool_after_child[i] = coop_pool_size();

        m->hops = i + 1;
        if (i + 1 < HOPS)
            coop_yield();
    }
}

struct hop {
    struct migrant *m;
    int tag;
    pthread_t self;
    bool create;
};

static void *hop_thread(void *opaque)
{
    struct hop *h = opaque;

    write_thread_tag(h->tag);
    h->self = pthread_self();
    if (h->create)
        h->m->co = coop_create(migrant_fn, h->m);
    if (h->m->co != NULL)
        coop_enter(h->m->co);
    return NULL;
}

static void hop_on_new_thread(struct migrant *m, struct hop *h)
{
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, hop_thread, h), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
}

START_TEST(test_coroutine_resumed_on_other_thread_sees_it)
{
    struct migrant m;
    struct hop h[HOPS];

    memset(&m, 0, sizeof(m));
    memset(h, 0, sizeof(h));
    for (int i = 0; i < HOPS; i++) {
        h[i].m = &m;
        h[i].tag = 100 + i;
        h[i].create = i == 0;
    }

    /* created and first entered on T1, which exits; then T2 */
    hop_on_new_thread(&m, &h[0]);
    ck_assert_ptr_nonnull(m.co);
    ck_assert_int_eq(m.hops, 1);
    hop_on_new_thread(&m, &h[1]);
    ck_assert_int_eq(m.hops, 2);
    /* then the main thread */
    write_thread_tag(100 + 2);
    h[2].self = pthread_self();
    coop_enter(m.co);
    ck_assert_int_eq(m.hops, 3);
    /* and a last new thread, where it finishes */
    hop_on_new_thread(&m, &h[3]);
    ck_assert_int_eq(m.hops, 4);

    for (int i = 0; i < HOPS; i++) {
        ck_assert_int_eq(m.tag[i], 100 + i);
        ck_assert(pthread_equal(m.thread[i], h[i].self));
        ck_assert(m.self_ok[i]);
        ck_assert(m.in_co[i]);
        ck_assert(m.entered[i]);
        ck_assert(m.child_self_ok[i]);
        ck_assert_int_eq(m.child_tag[i], 100 + i);
        ck_assert(m.self_after_child[i]);
        if (i != 2) /* a fresh thread's pool holds just the child */
            ck_assert_uint_eq(m.pool_after_child[i], 1);
    }
}
END_TEST

/* ------------------------------------------------ ping-pong on 2 threads */

#define PINGPONG_ROUNDS 10000

struct pingpong {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int turn;          /* which thread enters next */
    int expect_tag;    /* the tag of the thread that entered */
    bool finished;
    coop_t *co;
    int resumed, bad_tag, bad_self, bad_child;
};

static void pingpong_fn(void *opaque)
{
    struct pingpong *p = opaque;

    for (int i = 0; i < PINGPONG_ROUNDS; i++) {
        if (read_thread_tag() != p->expect_tag)
            p->bad_tag++;
        if (coop_self() != p->co || !coop_in_coroutine())
            p->bad_self++;
        if (i % 1000 == 0) {
            struct child c = { NULL, false, -1 };

            c.self = coop_create(child_fn, &c);
            if (c.self != NULL)
                coop_enter(c.self);
            if (!c.self_ok || c.tag != p->expect_tag)
                p->bad_child++;
        }
        p->resumed++;
        coop_yield();
    }
    p->finished = true;
}

struct player {
    struct pingpong *p;
    int id;
};

static void *player_thread(void *opaque)
{
    struct player *pl = opaque;
    struct pingpong *p = pl->p;

    write_thread_tag(pl->id + 1);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->turn != pl->id && !p->finished)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->finished)
            break;
        p->expect_tag = pl->id + 1;
        pthread_mutex_unlock(&p->mu);

        coop_enter(p->co);

        pthread_mutex_lock(&p->mu);
        p->turn = !pl->id;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

START_TEST(test_ping_pong_between_two_threads)
{
    struct pingpong p;
    struct player pl[2];
    pthread_t t[2];

    memset(&p, 0, sizeof(p));
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    p.co = coop_create(pingpong_fn, &p);
    ck_assert_ptr_nonnull(p.co);
    for (int i = 0; i < 2; i++) {
        pl[i].p = &p;
        pl[i].id = i;
        ck_assert_int_eq(pthread_create(&t[i], NULL, player_thread, &pl[i]),
                         0);
    }
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);

    ck_assert(p.finished);
    ck_assert_int_eq(p.resumed, PINGPONG_ROUNDS);
    ck_assert_int_eq(p.bad_tag, 0);
    ck_assert_int_eq(p.bad_self, 0);
    ck_assert_int_eq(p.bad_child, 0);
    pthread_cond_destroy(&p.cv);
    pthread_mutex_destroy(&p.mu);
}
END_TEST

/* ------------------------------------------------- main handle per thread */

struct main_handles {
    coop_t *main_of_main;
    bool differ, stable, in_co, entered, has_name;
    size_t stack;
};

static void *inspect_main_handle(void *opaque)
{
    struct main_handles *h = opaque;
    coop_t *mine = coop_self();

    h->differ = mine != NULL && mine != h->main_of_main;
    h->stable = coop_self() == mine;
    h->in_co = coop_in_coroutine();
    h->entered = coop_entered(mine);
    h->has_name = coop_name(mine) != NULL;
    h->stack = coop_stack_size(mine);
    return NULL;
}

START_TEST(test_each_thread_has_own_main_handle)
{
    struct main_handles h;
    pthread_t t;

    memset(&h, 0, sizeof(h));
    h.main_of_main = coop_self();
    h.stack = 1;
    ck_assert_ptr_nonnull(h.main_of_main);
    ck_assert_int_eq(pthread_create(&t, NULL, inspect_main_handle, &h), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    ck_assert(h.differ);
    ck_assert(h.stable);
    ck_assert(!h.in_co);
    ck_assert(!h.entered);
    ck_assert(!h.has_name);
    ck_assert_uint_eq(h.stack, 0);
    ck_assert_ptr_eq(coop_self(), h.main_of_main);
}
END_TEST

/* -------------------------------------------- concurrent creation */

#define WORKERS 4
#define PER_WORKER 200
#define ROUNDS 10

struct worker_co {
    coop_t *self;
    int tag, rounds, bad;
};

static void worker_co_fn(void *opaque)
{
    struct worker_co *w = opaque;

    for (int i = 0; i < ROUNDS; i++) {
        if (coop_self() != w->self || read_thread_tag() != w->tag)
            w->bad++;
        w->rounds++;
        coop_yield();
    }
}

struct worker {
    pthread_barrier_t *start;
    int tag;
    int ok;
};

static void *worker_thread(void *opaque)
{
    struct worker *wk = opaque;
    struct worker_co *co = calloc(PER_WORKER, sizeof(*co));
    int good = 0;

    write_thread_tag(wk->tag);
    pthread_barrier_wait(wk->start);
    if (co == NULL)
        return NULL;
    for (int i = 0; i < PER_WORKER; i++) {
        co[i].tag = wk->tag;
        co[i].self = coop_create(worker_co_fn, &co[i]);
        if (co[i].self == NULL)
            goto out;
    }
    /* round-robin; the last round finishes each one */
    for (int r = 0; r <= ROUNDS; r++)
        for (int i = 0; i < PER_WORKER; i++)
            coop_enter(co[i].self);
    for (int i = 0; i < PER_WORKER; i++)
        good += co[i].rounds == ROUNDS && co[i].bad == 0;
out:
    wk->ok = good;
    free(co);
    return NULL;
}

START_TEST(test_concurrent_creation_on_several_threads)
{
    pthread_barrier_t start;
    struct worker wk[WORKERS];
    pthread_t t[WORKERS];

    ck_assert_int_eq(pthread_barrier_init(&start, NULL, WORKERS), 0);
    for (int i = 0; i < WORKERS; i++) {
        wk[i].start = &start;
        wk[i].tag = 1000 + i;
        wk[i].ok = -1;
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker_thread, &wk[i]),
                         0);
    }
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < WORKERS; i++)
        ck_assert_int_eq(wk[i].ok, PER_WORKER);
    pthread_barrier_destroy(&start);
}
END_TEST

Suite *threads_suite(void)
{
    Suite *s = suite_create("threads");
    TCase *tc;

    tc = coop_test_tcase(s, "migration");
    tcase_add_test(tc, test_coroutine_resumed_on_other_thread_sees_it);
    tcase_add_test(tc, test_ping_pong_between_two_threads);

    tc = coop_test_tcase(s, "per-thread");
    tcase_add_test(tc, test_each_thread_has_own_main_handle);
    tcase_add_test(tc, test_concurrent_creation_on_several_threads);
    return s;
}
