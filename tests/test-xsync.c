/* SPDX-License-Identifier: MIT */
/*
 * Mutexes, rwlocks and queues shared between threads: waiters from several
 * threads served in arrival order with hand-off, each woken in its own
 * thread's loop; a randomised model run over 4 threads and hundreds of
 * coroutines that also hop between threads while holding locks; the
 * misuse of releasing a waiter whose thread has no loop.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coop.h>
#include <coop-loop.h>

#include "suites.h"

static bool under_sanitizer(void)
{
    return getenv("COOP_TEST_SANITIZER") != NULL;
}

/* pthread_self() is declared const: called again after a switch it could
 * be answered from before it.  A real call each time. */
static __attribute__((noinline)) pthread_t current_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

/* Wait (from a thread's main context) until co sleeps in a primitive. */
static void wait_until_waiting(coop_t *co)
{
    while (coop_get_state(co) != COOP_STATE_WAITING)
        sched_yield();
}

/* A thread whose loop runs until released. */
struct loop_thread {
    pthread_t thread;
    coop_loop_t *loop;
    pthread_barrier_t *ready;
};

static void *loop_thread_main(void *opaque)
{
    struct loop_thread *lt = opaque;

    lt->loop = coop_loop_self();
    if (lt->loop)
        coop_loop_hold(lt->loop);
    pthread_barrier_wait(lt->ready);
    if (lt->loop)
        coop_loop_run();
    return NULL;
}

static void start_loop_threads(struct loop_thread *lt, int n,
                               pthread_barrier_t *ready)
{
    ck_assert_int_eq(pthread_barrier_init(ready, NULL, (unsigned)n + 1), 0);
    for (int i = 0; i < n; i++) {
        lt[i].ready = ready;
        ck_assert_int_eq(
            pthread_create(&lt[i].thread, NULL, loop_thread_main, &lt[i]), 0);
    }
    pthread_barrier_wait(ready);
    for (int i = 0; i < n; i++)
        ck_assert_ptr_nonnull(lt[i].loop);
}

static void stop_loop_threads(struct loop_thread *lt, int n,
                              pthread_barrier_t *ready)
{
    for (int i = 0; i < n; i++)
        coop_loop_release(lt[i].loop);
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_join(lt[i].thread, NULL), 0);
    pthread_barrier_destroy(ready);
}

/* ------------------------------- arrival order and hand-off across threads */

#define FIFO_WAITERS 6

struct fifo {
    coop_mutex_t m;
    coop_rwlock_t rw;
    bool use_rwlock;
    struct loop_thread lt[2];
    pthread_t home[FIFO_WAITERS];
    int order[FIFO_WAITERS];
    int served;                  /* atomic */
    int wrong_thread;            /* atomic */
    bool barged;
    int checked;                 /* atomic: the holder tried to barge */
};

static struct fifo *fifo;

static void fifo_waiter(void *opaque)
{
    int me = (int)(intptr_t)opaque;

    fifo->home[me] = current_thread();
    if (fifo->use_rwlock)
        coop_rwlock_wrlock(&fifo->rw);
    else
        coop_mutex_lock(&fifo->m);
    if (!pthread_equal(current_thread(), fifo->home[me]))
        __atomic_add_fetch(&fifo->wrong_thread, 1, __ATOMIC_RELAXED);
    while (!__atomic_load_n(&fifo->checked, __ATOMIC_ACQUIRE))
        sched_yield(); /* keep it while the old holder tries to barge */
    fifo->order[__atomic_fetch_add(&fifo->served, 1, __ATOMIC_RELAXED)] = me;
    if (fifo->use_rwlock)
        coop_rwlock_unlock(&fifo->rw);
    else
        coop_mutex_unlock(&fifo->m);
}

static void fifo_holder(void *opaque)
{
    (void)opaque;
    if (fifo->use_rwlock)
        coop_rwlock_wrlock(&fifo->rw);
    else
        coop_mutex_lock(&fifo->m);
    coop_yield();
    if (fifo->use_rwlock) {
        coop_rwlock_unlock(&fifo->rw);
    } else {
        coop_mutex_unlock(&fifo->m);
        /* handed over already: taking it back must fail */
        fifo->barged = coop_mutex_trylock(&fifo->m);
        if (fifo->barged)
            coop_mutex_unlock(&fifo->m);
    }
    __atomic_store_n(&fifo->checked, 1, __ATOMIC_RELEASE);
}

static void run_fifo_across_threads(bool use_rwlock)
{
    struct fifo f;
    pthread_barrier_t ready;
    coop_t *holder, *w[FIFO_WAITERS];

    memset(&f, 0, sizeof(f));
    fifo = &f;
    f.use_rwlock = use_rwlock;
    coop_mutex_init(&f.m);
    coop_rwlock_init(&f.rw);
    start_loop_threads(f.lt, 2, &ready);

    holder = coop_create(fifo_holder, NULL);
    ck_assert_ptr_nonnull(holder);
    coop_enter(holder); /* holds the lock, suspended */
    for (int i = 0; i < FIFO_WAITERS; i++) {
        w[i] = coop_create(fifo_waiter, (void *)(intptr_t)i);
        ck_assert_ptr_nonnull(w[i]);
        coop_schedule(f.lt[i % 2].loop, w[i]);
        wait_until_waiting(w[i]); /* queued before the next one starts */
    }
    coop_enter(holder); /* unlocks: the first waiter gets it, on its thread */
    while (__atomic_load_n(&f.served, __ATOMIC_ACQUIRE) < FIFO_WAITERS)
        sched_yield();
    stop_loop_threads(f.lt, 2, &ready);

    for (int i = 0; i < FIFO_WAITERS; i++)
        ck_assert_int_eq(f.order[i], i);
    ck_assert_int_eq(f.wrong_thread, 0);
    ck_assert(!f.barged);
}

START_TEST(test_mutex_waiters_of_two_threads_served_in_arrival_order)
{
    run_fifo_across_threads(false);
}
END_TEST

START_TEST(test_rwlock_writers_of_two_threads_served_in_arrival_order)
{
    run_fifo_across_threads(true);
}
END_TEST

/* ------------------------------------------- condition variable: ping-pong */

#define PINGPONG_ROUNDS 2000

struct pingpong {
    coop_mutex_t m;
    coop_queue_t turn_changed;
    int turn;                    /* 0: ping's, 1: pong's; under m */
    int rounds[2];
    int wrong_thread[2];
    pthread_t home[2];
    int done;                    /* atomic */
};

static struct pingpong *pp;

static void pingpong_player(void *opaque)
{
    int me = (int)(intptr_t)opaque;

    pp->home[me] = current_thread();
    for (int i = 0; i < PINGPONG_ROUNDS; i++) {
        coop_mutex_lock(&pp->m);
        while (pp->turn != me)
            coop_queue_wait(&pp->turn_changed, &pp->m);
        if (!pthread_equal(current_thread(), pp->home[me]))
            pp->wrong_thread[me]++;
        pp->rounds[me]++;
        pp->turn = !me;
        coop_queue_restart_all(&pp->turn_changed);
        coop_mutex_unlock(&pp->m);
    }
    __atomic_add_fetch(&pp->done, 1, __ATOMIC_RELEASE);
}

START_TEST(test_queue_under_mutex_between_two_threads)
{
    struct pingpong p;
    struct loop_thread lt[2];
    pthread_barrier_t ready;

    memset(&p, 0, sizeof(p));
    pp = &p;
    coop_mutex_init(&p.m);
    coop_queue_init(&p.turn_changed);
    start_loop_threads(lt, 2, &ready);
    for (int i = 0; i < 2; i++) {
        coop_t *co = coop_create(pingpong_player, (void *)(intptr_t)i);

        ck_assert_ptr_nonnull(co);
        coop_schedule(lt[i].loop, co);
    }
    while (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    stop_loop_threads(lt, 2, &ready);
    ck_assert_int_eq(p.rounds[0], PINGPONG_ROUNDS);
    ck_assert_int_eq(p.rounds[1], PINGPONG_ROUNDS);
    ck_assert_int_eq(p.wrong_thread[0] + p.wrong_thread[1], 0);
}
END_TEST

/* ------------------------------------------------- randomised model run */

/*
 * Four threads, each running its loop, each with its own coroutines; every
 * coroutine takes random steps: mutex, read, write and upgraded holds,
 * tokens through a queue under a mutex, with yields to the loop and hops
 * to another thread's loop in between, also while holding.  Checked: the
 * exclusion of every hold (atomics), counts of the plain data each lock
 * guards, that a coroutine comes back from every blocking call on the
 * thread it called from, and that everything finishes (no lost wake-up).
 * The seed is printed; COOP_TEST_SEED=N repeats the steps (not the
 * threads' interleaving).
 */
#define MODEL_THREADS 4
#define MODEL_COS_PER_THREAD 64
#define MODEL_COS_SANITIZED 16
#define MODEL_STEPS 60

struct model {
    unsigned seed;
    coop_loop_t *loops[MODEL_THREADS];
    pthread_barrier_t ready;
    int per_thread;
    int remaining;                 /* coroutines still running (atomic) */

    coop_mutex_t m;
    long mutex_count;              /* plain: guarded by m */
    int in_mutex;                  /* atomic */

    coop_rwlock_t rw;
    long write_count;              /* plain: guarded by rw's write hold */
    int readers, writers;          /* atomic */

    coop_mutex_t tm;
    coop_queue_t tokens_put;
    long tokens;                   /* plain: guarded by tm */

    long mutex_ops, write_ops;     /* atomic: what the counts must be */
    int violations;                /* atomic */
    int wrong_thread;              /* atomic */
    int failed_create;             /* atomic */
    char first_violation[128];
};

static struct model *model;
static __thread int model_thread_index;

static __attribute__((noinline)) int model_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return model_thread_index;
}

static void violation(const char *what)
{
    if (__atomic_fetch_add(&model->violations, 1, __ATOMIC_RELAXED) == 0)
        snprintf(model->first_violation, sizeof(model->first_violation),
                 "%s", what);
}

struct walker {
    unsigned rng;
    int at;                        /* the thread it runs on */
};

static unsigned walker_rand(struct walker *w)
{
    w->rng = w->rng * 1103515245u + 12345u;
    return (w->rng >> 16) & 0x7fff;
}

/* Blocking calls return on the thread they were called on. */
static void check_thread(struct walker *w)
{
    if (model_thread() != w->at)
        __atomic_add_fetch(&model->wrong_thread, 1, __ATOMIC_RELAXED);
}

/* Give way: nothing, back to the loop once, or a hop to a random thread. */
static void wander(struct walker *w)
{
    unsigned r = walker_rand(w) % 8;

    if (r < 4)
        return;
    if (r < 6) {
        coop_sleep_ns(0);
        check_thread(w);
        return;
    }
    w->at = (int)(walker_rand(w) % MODEL_THREADS);
    coop_schedule(model->loops[w->at], coop_self());
    coop_yield();
    check_thread(w);
}

static void model_mutex_step(struct walker *w)
{
    coop_mutex_lock(&model->m);
    check_thread(w);
    if (__atomic_exchange_n(&model->in_mutex, 1, __ATOMIC_RELAXED))
        violation("two mutex holders");
    model->mutex_count++;
    __atomic_add_fetch(&model->mutex_ops, 1, __ATOMIC_RELAXED);
    wander(w);
    __atomic_store_n(&model->in_mutex, 0, __ATOMIC_RELAXED);
    coop_mutex_unlock(&model->m);
}

static void model_enter_write(void)
{
    if (__atomic_add_fetch(&model->writers, 1, __ATOMIC_RELAXED) != 1 ||
        __atomic_load_n(&model->readers, __ATOMIC_RELAXED) != 0)
        violation("writer not alone");
    model->write_count++;
    __atomic_add_fetch(&model->write_ops, 1, __ATOMIC_RELAXED);
}

static void model_enter_read(void)
{
    __atomic_add_fetch(&model->readers, 1, __ATOMIC_RELAXED);
    if (__atomic_load_n(&model->writers, __ATOMIC_RELAXED) != 0)
        violation("reader beside a writer");
}

static void model_rwlock_step(struct walker *w, unsigned kind)
{
    if (kind == 0) {
        coop_rwlock_wrlock(&model->rw);
        check_thread(w);
        model_enter_write();
        wander(w);
        __atomic_sub_fetch(&model->writers, 1, __ATOMIC_RELAXED);
    } else {
        coop_rwlock_rdlock(&model->rw);
        check_thread(w);
        model_enter_read();
        wander(w);
        __atomic_sub_fetch(&model->readers, 1, __ATOMIC_RELAXED);
        if (kind == 2) { /* read, upgrade, write, downgrade, read */
            coop_rwlock_upgrade(&model->rw);
            check_thread(w);
            model_enter_write();
            wander(w);
            __atomic_sub_fetch(&model->writers, 1, __ATOMIC_RELAXED);
            coop_rwlock_downgrade(&model->rw);
            model_enter_read();
            wander(w);
            __atomic_sub_fetch(&model->readers, 1, __ATOMIC_RELAXED);
        }
    }
    coop_rwlock_unlock(&model->rw);
}

/* Put a token, later take one: every take follows its own put, so the
 * takers always get one in the end. */
static void model_token_step(struct walker *w)
{
    coop_mutex_lock(&model->tm);
    model->tokens++;
    coop_queue_restart_all(&model->tokens_put);
    coop_mutex_unlock(&model->tm);
    wander(w);
    coop_mutex_lock(&model->tm);
    while (model->tokens == 0) {
        coop_queue_wait(&model->tokens_put, &model->tm);
        check_thread(w);
    }
    model->tokens--;
    coop_mutex_unlock(&model->tm);
}

static void model_walker(void *opaque)
{
    struct walker w;

    w.rng = model->seed ^ (unsigned)(uintptr_t)opaque * 2654435761u;
    w.at = model_thread();
    for (int step = 0; step < MODEL_STEPS; step++) {
        unsigned op = walker_rand(&w) % 6;

        if (op < 2)
            model_mutex_step(&w);
        else if (op < 5)
            model_rwlock_step(&w, op - 2);
        else
            model_token_step(&w);
        if (coop_locks_held() != 0)
            violation("locks_held not back to 0");
    }
    if (__atomic_sub_fetch(&model->remaining, 1, __ATOMIC_ACQ_REL) == 0)
        for (int i = 0; i < MODEL_THREADS; i++)
            coop_loop_release(model->loops[i]);
}

static void *model_thread_main(void *opaque)
{
    int index = (int)(intptr_t)opaque;
    coop_loop_t *loop = coop_loop_self();

    model_thread_index = index;
    model->loops[index] = loop;
    if (loop)
        coop_loop_hold(loop);
    pthread_barrier_wait(&model->ready);
    if (!loop)
        return NULL; /* the others never finish: the test times out */
    for (int i = 0; i < model->per_thread; i++) {
        coop_t *co = coop_create(model_walker,
                                 (void *)(intptr_t)(index * 1000 + i + 1));

        if (!co) {
            __atomic_add_fetch(&model->failed_create, 1, __ATOMIC_RELAXED);
            if (__atomic_sub_fetch(&model->remaining, 1, __ATOMIC_ACQ_REL) == 0)
                for (int j = 0; j < MODEL_THREADS; j++)
                    coop_loop_release(model->loops[j]);
            continue;
        }
        coop_schedule(loop, co);
    }
    coop_loop_run();
    return NULL;
}

START_TEST(test_random_steps_of_four_threads_keep_exclusion)
{
    struct model md;
    pthread_t t[MODEL_THREADS];
    const char *env = getenv("COOP_TEST_SEED");

    memset(&md, 0, sizeof(md));
    model = &md;
    md.seed = env ? (unsigned)strtoul(env, NULL, 0)
                  : (unsigned)time(NULL) * 2654435761u + (unsigned)_i;
    printf("xsync model: seed %u (COOP_TEST_SEED=%u repeats the steps)\n",
           md.seed, md.seed);
    fflush(stdout);
    md.per_thread = under_sanitizer() ? MODEL_COS_SANITIZED
                                      : MODEL_COS_PER_THREAD;
    md.remaining = md.per_thread * MODEL_THREADS;
    coop_mutex_init(&md.m);
    coop_rwlock_init(&md.rw);
    coop_mutex_init(&md.tm);
    coop_queue_init(&md.tokens_put);
    ck_assert_int_eq(pthread_barrier_init(&md.ready, NULL, MODEL_THREADS), 0);
    for (int i = 0; i < MODEL_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, model_thread_main,
                                        (void *)(intptr_t)i), 0);
    for (int i = 0; i < MODEL_THREADS; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    pthread_barrier_destroy(&md.ready);

    ck_assert_msg(md.violations == 0, "seed %u: %d violations, first: %s",
                  md.seed, md.violations, md.first_violation);
    ck_assert_msg(md.wrong_thread == 0,
                  "seed %u: %d blocking calls came back on another thread",
                  md.seed, md.wrong_thread);
    ck_assert_int_eq(md.failed_create, 0);
    ck_assert_msg(md.mutex_count == md.mutex_ops, "seed %u: %ld of %ld",
                  md.seed, md.mutex_count, md.mutex_ops);
    ck_assert_msg(md.write_count == md.write_ops, "seed %u: %ld of %ld",
                  md.seed, md.write_count, md.write_ops);
    ck_assert_msg(md.tokens == 0, "seed %u: %ld tokens left", md.seed,
                  md.tokens);
    ck_assert_uint_eq(md.m.coop_state_, 0);
    ck_assert_uint_eq(md.rw.coop_state_, 0);
    ck_assert(coop_queue_empty(&md.tokens_put));
}
END_TEST

/* ------------------------------------------- the bias moving to threads */

/*
 * A mutex used by one thread only is biased to it (plain loads and
 * stores); the first other thread takes the bias away for good.  Checked
 * through the internal bias word (core/bias.h: 1 is "shared by threads"),
 * and by two threads starting to contend at the same moment, over and
 * over, so the bias is taken while its owner is in the middle of a lock.
 */
#define BIAS_ROUNDS 200
#define BIAS_LOCKS 400

struct bias_race {
    coop_mutex_t m;
    coop_rwlock_t rw;
    bool use_rwlock;
    int readers;                 /* atomic */
    long count;                  /* plain: under m */
    int in_mutex;                /* atomic */
    int violations;              /* atomic */
    int ready, done;             /* atomic */
};

static void bias_racer(void *opaque)
{
    struct bias_race *b = opaque;

    __atomic_add_fetch(&b->ready, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&b->ready, __ATOMIC_ACQUIRE) < 2)
        sched_yield(); /* both threads start together */
    for (int i = 0; i < BIAS_LOCKS; i++) {
        if (b->use_rwlock && i % 3 == 2) { /* a read hold now and then */
            coop_rwlock_rdlock(&b->rw);
            __atomic_add_fetch(&b->readers, 1, __ATOMIC_RELAXED);
            if (__atomic_load_n(&b->in_mutex, __ATOMIC_RELAXED))
                __atomic_add_fetch(&b->violations, 1, __ATOMIC_RELAXED);
            __atomic_sub_fetch(&b->readers, 1, __ATOMIC_RELAXED);
            coop_rwlock_unlock(&b->rw);
            continue;
        }
        if (b->use_rwlock)
            coop_rwlock_wrlock(&b->rw);
        else
            coop_mutex_lock(&b->m);
        if (__atomic_exchange_n(&b->in_mutex, 1, __ATOMIC_RELAXED) ||
            __atomic_load_n(&b->readers, __ATOMIC_RELAXED))
            __atomic_add_fetch(&b->violations, 1, __ATOMIC_RELAXED);
        b->count++;
        __atomic_store_n(&b->in_mutex, 0, __ATOMIC_RELAXED);
        if (b->use_rwlock)
            coop_rwlock_unlock(&b->rw);
        else
            coop_mutex_unlock(&b->m);
    }
    __atomic_add_fetch(&b->done, 1, __ATOMIC_RELEASE);
}

static bool bias_expected(void)
{
    return getenv("COOP_NO_LOCK_BIAS") == NULL &&
           (getenv("COOP_TEST_SANITIZER") == NULL ||
            strcmp(getenv("COOP_TEST_SANITIZER"), "valgrind") == 0);
}

static coop_mutex_t bias_mutex = COOP_MUTEX_INITIALIZER(bias_mutex);
static int bias_done; /* atomic */

static void lock_unlock_once(void *opaque)
{
    (void)opaque;
    coop_mutex_lock(&bias_mutex);
    coop_mutex_unlock(&bias_mutex);
    __atomic_add_fetch(&bias_done, 1, __ATOMIC_RELEASE);
}

START_TEST(test_mutex_bias_is_taken_by_the_second_thread)
{
    coop_mutex_t *m = &bias_mutex;
    struct loop_thread lt[1];
    pthread_barrier_t ready;

    coop_enter(coop_create(lock_unlock_once, NULL));
    if (bias_expected())
        ck_assert_uint_gt(m->coop_bias_, 2); /* a thread's slot */
    else
        ck_assert_uint_eq(m->coop_bias_, 1);
    start_loop_threads(lt, 1, &ready);
    coop_schedule(lt[0].loop, coop_create(lock_unlock_once, NULL));
    while (__atomic_load_n(&bias_done, __ATOMIC_ACQUIRE) < 2)
        sched_yield();
    stop_loop_threads(lt, 1, &ready);
    ck_assert_uint_eq(m->coop_bias_, 1);
    ck_assert_uint_eq(m->coop_state_, 0);
    ck_assert(coop_mutex_trylock(m)); /* shared now: works from here too */
    coop_mutex_unlock(m);
}
END_TEST

static void run_bias_race(bool use_rwlock)
{
    struct loop_thread lt[2];
    pthread_barrier_t ready;
    int rounds = under_sanitizer() ? BIAS_ROUNDS / 4 : BIAS_ROUNDS;

    start_loop_threads(lt, 2, &ready);
    for (int r = 0; r < rounds; r++) {
        struct bias_race b;

        memset(&b, 0, sizeof(b));
        coop_mutex_init(&b.m);
        coop_rwlock_init(&b.rw);
        b.use_rwlock = use_rwlock;
        for (int i = 0; i < 2; i++) {
            coop_t *co = coop_create(bias_racer, &b);

            ck_assert_ptr_nonnull(co);
            coop_schedule(lt[i].loop, co);
        }
        while (__atomic_load_n(&b.done, __ATOMIC_ACQUIRE) < 2)
            sched_yield();
        ck_assert_msg(b.violations == 0, "round %d: two holders at once", r);
        ck_assert_int_eq(b.count, use_rwlock ? 2 * (BIAS_LOCKS - BIAS_LOCKS / 3)
                                             : 2 * BIAS_LOCKS);
        ck_assert_uint_eq(b.m.coop_state_, 0);
        ck_assert_uint_eq(b.rw.coop_state_, 0);
    }
    stop_loop_threads(lt, 2, &ready);
}

START_TEST(test_mutex_bias_taken_while_its_thread_locks)
{
    run_bias_race(false);
}
END_TEST

START_TEST(test_rwlock_bias_taken_while_its_thread_locks)
{
    run_bias_race(true);
}
END_TEST

/* ---------------------------------------------------------------- misuse */

struct no_loop {
    coop_mutex_t m;
    int stage;                     /* atomic */
};

static void no_loop_waiter(void *opaque)
{
    struct no_loop *n = opaque;

    coop_mutex_lock(&n->m); /* held by the other thread: sleeps */
    coop_mutex_unlock(&n->m);
}

static void *no_loop_holder(void *opaque)
{
    struct no_loop *n = opaque;

    coop_mutex_trylock(&n->m); /* the main context holds it */
    __atomic_store_n(&n->stage, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&n->stage, __ATOMIC_ACQUIRE) != 2)
        sched_yield();
    coop_mutex_unlock(&n->m); /* the waiter's thread has no loop: abort */
    return NULL;
}

static void misuse_release_waiter_without_loop(void *opaque)
{
    struct no_loop n;
    pthread_t t;
    coop_t *co;

    (void)opaque;
    memset(&n, 0, sizeof(n));
    coop_mutex_init(&n.m);
    pthread_create(&t, NULL, no_loop_holder, &n);
    while (__atomic_load_n(&n.stage, __ATOMIC_ACQUIRE) != 1)
        sched_yield();
    co = coop_create(no_loop_waiter, &n);
    coop_enter(co); /* waits; this thread has made no loop */
    __atomic_store_n(&n.stage, 2, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
}

START_TEST(test_release_to_thread_without_loop_aborts)
{
    expect_abort(misuse_release_waiter_without_loop, NULL, "has no loop");
}
END_TEST

Suite *xsync_suite(void)
{
    Suite *s = suite_create("xsync");
    TCase *tc;

    tc = coop_test_tcase(s, "order");
    tcase_add_test(tc, test_mutex_waiters_of_two_threads_served_in_arrival_order);
    tcase_add_test(tc, test_rwlock_writers_of_two_threads_served_in_arrival_order);
    tcase_add_test(tc, test_queue_under_mutex_between_two_threads);

    tc = coop_test_tcase(s, "bias");
    tcase_add_test(tc, test_mutex_bias_is_taken_by_the_second_thread);
    tcase_add_test(tc, test_mutex_bias_taken_while_its_thread_locks);
    tcase_add_test(tc, test_rwlock_bias_taken_while_its_thread_locks);

    tc = coop_test_tcase(s, "model");
    tcase_add_loop_test(tc, test_random_steps_of_four_threads_keep_exclusion,
                        0, 3);

    tc = coop_test_tcase(s, "misuse");
    tcase_add_test(tc, test_release_to_thread_without_loop_aborts);
    return s;
}
