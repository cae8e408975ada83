/* SPDX-License-Identifier: MIT */
/*
 * Queue, mutex and rwlock: scenarios with a recorded order of events, every
 * misuse, and a randomised run checked against a reference model.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <coop.h>

#include "suites.h"

/* ------------------------------------------------------------ event log */

static char events[256];
static size_t n_events;

static void event(char c)
{
    if (n_events < sizeof(events) - 1)
        events[n_events++] = c;
    events[n_events] = '\0';
}

static void events_reset(void)
{
    n_events = 0;
    events[0] = '\0';
}

/* ---------------------------------------------------------------- mutex */

static coop_mutex_t mtx = COOP_MUTEX_INITIALIZER(mtx);

START_TEST(test_mutex_uncontended_counts_locks_held)
{
    coop_mutex_t m;

    coop_mutex_init(&m);
    ck_assert(coop_mutex_trylock(&m)); /* the main context may hold it */
    ck_assert_uint_eq(coop_locks_held(), 1);
    ck_assert(!coop_mutex_trylock(&m));
    coop_mutex_unlock(&m);
    ck_assert_uint_eq(coop_locks_held(), 0);
}
END_TEST

struct locker {
    char name;
    coop_mutex_t *m;
};

/* Lock, note it, yield while holding, unlock. */
static void lock_yield_unlock(void *opaque)
{
    struct locker *l = opaque;

    coop_mutex_lock(l->m);
    event(l->name);
    ck_assert_uint_eq(coop_locks_held(), 1);
    coop_yield();
    coop_mutex_unlock(l->m);
    ck_assert_uint_eq(coop_locks_held(), 0);
}

START_TEST(test_mutex_waiters_served_in_arrival_order)
{
    struct locker l[4] = { { 'a', &mtx }, { 'b', &mtx }, { 'c', &mtx },
                           { 'd', &mtx } };
    coop_t *co[4];

    coop_mutex_init(&mtx);
    events_reset();
    for (int i = 0; i < 4; i++)
        co[i] = coop_create(lock_yield_unlock, &l[i]);
    coop_enter(co[0]);                 /* a holds it, yielded */
    coop_enter(co[2]);                 /* c waits */
    coop_enter(co[1]);                 /* b waits, behind c */
    coop_enter(co[3]);                 /* d waits, behind b */
    ck_assert_str_eq(events, "a");
    coop_enter(co[0]);                 /* a unlocks: c gets it, runs at once */
    ck_assert_str_eq(events, "ac");
    coop_enter(co[2]);                 /* c unlocks: b */
    coop_enter(co[1]);                 /* b unlocks: d */
    ck_assert_str_eq(events, "acbd");
    coop_enter(co[3]);
    ck_assert(coop_mutex_trylock(&mtx));
    coop_mutex_unlock(&mtx);
}
END_TEST

/* Unlock and relock at once: the waiter must get the mutex first. */
static void barger(void *opaque)
{
    coop_mutex_t *m = opaque;

    coop_mutex_lock(m);
    event('B');
    coop_yield();
    coop_mutex_unlock(m);
    ck_assert(!coop_mutex_trylock(m)); /* handed over already */
    coop_mutex_lock(m);                /* queues behind the waiter */
    event('B');
    coop_mutex_unlock(m);
}

static void waiter(void *opaque)
{
    coop_mutex_t *m = opaque;

    coop_mutex_lock(m);
    event('W');
    coop_mutex_unlock(m);
}

START_TEST(test_mutex_unlock_relock_cannot_barge)
{
    coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);
    coop_t *b = coop_create(barger, &m), *w = coop_create(waiter, &m);

    events_reset();
    coop_enter(b);
    coop_enter(w);
    ck_assert_str_eq(events, "B");
    coop_enter(b); /* unlock wakes w (runs when b blocks), b relocks after */
    ck_assert_str_eq(events, "BWB");
    ck_assert(coop_mutex_trylock(&m));
    coop_mutex_unlock(&m);
}
END_TEST

static void trylock_inside(void *opaque)
{
    coop_mutex_t *m = opaque;

    ck_assert(!coop_mutex_trylock(m)); /* main holds it */
    coop_mutex_lock(m);
    event('L');
    ck_assert(!coop_mutex_trylock(m)); /* not recursive: false, no abort */
    coop_mutex_unlock(m);
}

START_TEST(test_mutex_main_context_holds_and_hands_over)
{
    coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);
    coop_t *co = coop_create(trylock_inside, &m);

    events_reset();
    ck_assert(coop_mutex_trylock(&m));
    coop_enter(co);                    /* blocks on the main context's hold */
    ck_assert_str_eq(events, "");
    coop_mutex_unlock(&m);             /* from main: the waiter runs at once */
    ck_assert_str_eq(events, "L");
    ck_assert_uint_eq(coop_locks_held(), 0);
}
END_TEST

/* ---------------------------------------------------------------- queue */

static coop_queue_t queue = COOP_QUEUE_INITIALIZER(queue);

static void queue_sleeper(void *opaque)
{
    char name = *(const char *)opaque;

    event(name);
    coop_queue_wait(&queue, NULL);
    event((char)(name - 'a' + 'A'));
}

START_TEST(test_queue_next_wakes_in_fifo_order)
{
    static const char names[] = "abc";
    coop_t *co[3];

    coop_queue_init(&queue);
    events_reset();
    ck_assert(coop_queue_empty(&queue));
    ck_assert(!coop_queue_next(&queue));
    for (int i = 0; i < 3; i++) {
        co[i] = coop_create(queue_sleeper, (void *)&names[i]);
        coop_enter(co[i]);
    }
    ck_assert(!coop_queue_empty(&queue));
    ck_assert(coop_queue_next(&queue)); /* from main: runs at once */
    ck_assert_str_eq(events, "abcA");
    ck_assert(coop_queue_next(&queue));
    ck_assert(coop_queue_next(&queue));
    ck_assert_str_eq(events, "abcABC");
    ck_assert(coop_queue_empty(&queue));
}
END_TEST

static void queue_waker(void *opaque)
{
    (void)opaque;
    ck_assert(coop_queue_next(&queue));
    event('w'); /* the woken one has not run yet */
    coop_yield();
    event('x');
}

START_TEST(test_queue_next_from_coroutine_runs_woken_after_yield)
{
    static const char a = 'a';
    coop_t *s = coop_create(queue_sleeper, (void *)&a);
    coop_t *w = coop_create(queue_waker, NULL);

    coop_queue_init(&queue);
    events_reset();
    coop_enter(s);
    coop_enter(w);
    ck_assert_str_eq(events, "awA");
    coop_enter(w);
    ck_assert_str_eq(events, "awAx");
}
END_TEST

/* Waits twice: the second wait must not be served by the same restart. */
static void rewaiter(void *opaque)
{
    char name = *(const char *)opaque;

    coop_queue_wait(&queue, NULL);
    event(name);
    coop_queue_wait(&queue, NULL);
    event((char)(name - 'a' + 'A'));
}

START_TEST(test_queue_restart_all_wakes_present_waiters_in_order)
{
    static const char names[] = "abc";
    coop_t *co[3];

    coop_queue_init(&queue);
    events_reset();
    for (int i = 0; i < 3; i++) {
        co[i] = coop_create(rewaiter, (void *)&names[i]);
        coop_enter(co[i]);
    }
    coop_queue_restart_all(&queue);
    ck_assert_str_eq(events, "abc");
    ck_assert(!coop_queue_empty(&queue)); /* all three wait again */
    coop_queue_restart_all(&queue);
    ck_assert_str_eq(events, "abcABC");
    ck_assert(coop_queue_empty(&queue));
}
END_TEST

/* Queue + mutex as a condition variable: a bounded buffer. */
struct bounded {
    coop_mutex_t lock;
    coop_queue_t not_empty, not_full;
    int items[2], count, produced, consumed_sum;
};

static void bounded_producer(void *opaque)
{
    struct bounded *b = opaque;

    for (int i = 1; i <= 50; i++) {
        coop_mutex_lock(&b->lock);
        while (b->count == 2)
            coop_queue_wait(&b->not_full, &b->lock);
        ck_assert_uint_eq(coop_locks_held(), 1); /* re-acquired */
        b->items[b->count++] = i;
        b->produced++;
        coop_queue_next(&b->not_empty);
        coop_mutex_unlock(&b->lock);
        if (i % 7 == 0)
            coop_yield();
    }
}

static void bounded_consumer(void *opaque)
{
    struct bounded *b = opaque;

    for (int i = 0; i < 25; i++) {
        coop_mutex_lock(&b->lock);
        while (b->count == 0)
            coop_queue_wait(&b->not_empty, &b->lock);
        b->consumed_sum += b->items[--b->count];
        coop_queue_next(&b->not_full);
        coop_mutex_unlock(&b->lock);
    }
}

START_TEST(test_queue_with_mutex_as_condition_variable)
{
    struct bounded b;
    coop_t *p, *c1, *c2;

    memset(&b, 0, sizeof(b));
    coop_mutex_init(&b.lock);
    coop_queue_init(&b.not_empty);
    coop_queue_init(&b.not_full);
    c1 = coop_create(bounded_consumer, &b);
    c2 = coop_create(bounded_consumer, &b);
    p = coop_create(bounded_producer, &b);
    coop_enter(c1);
    coop_enter(c2);
    coop_enter(p);
    for (int i = 0; i < 100 && b.produced < 50; i++)
        coop_enter(p); /* resumes the producer after each of its yields */
    ck_assert_int_eq(b.produced, 50);
    ck_assert_int_eq(b.consumed_sum, 50 * 51 / 2);
    ck_assert(coop_queue_empty(&b.not_empty));
}
END_TEST

/* --------------------------------------------------------------- rwlock */

static coop_rwlock_t rw = COOP_RWLOCK_INITIALIZER(rw);

struct rw_step {
    char name;
    char kind; /* 'r' read, 'w' write, 'u' read then upgrade, 'd' write then downgrade */
};

static void rw_user(void *opaque)
{
    const struct rw_step *s = opaque;

    switch (s->kind) {
    case 'r':
        coop_rwlock_rdlock(&rw);
        break;
    case 'u':
        coop_rwlock_rdlock(&rw);
        event(s->name);
        coop_yield();
        coop_rwlock_upgrade(&rw);
        break;
    default:
        coop_rwlock_wrlock(&rw);
        break;
    }
    event(s->name);
    ck_assert_uint_eq(coop_locks_held(), 1);
    coop_yield();
    if (s->kind == 'd') {
        coop_rwlock_downgrade(&rw);
        event('v');
        coop_yield();
    }
    coop_rwlock_unlock(&rw);
    ck_assert_uint_eq(coop_locks_held(), 0);
}

START_TEST(test_rwlock_readers_share_writer_excludes)
{
    struct rw_step r1 = { 'a', 'r' }, r2 = { 'b', 'r' }, w = { 'W', 'w' };
    coop_t *a = coop_create(rw_user, &r1), *b = coop_create(rw_user, &r2);
    coop_t *wr = coop_create(rw_user, &w);

    coop_rwlock_init(&rw);
    events_reset();
    coop_enter(a);
    coop_enter(b);
    ck_assert_str_eq(events, "ab");  /* two readers at once */
    coop_enter(wr);
    ck_assert_str_eq(events, "ab");  /* the writer waits */
    coop_enter(a);
    ck_assert_str_eq(events, "ab");  /* one reader still in */
    coop_enter(b);
    ck_assert_str_eq(events, "abW"); /* last reader out: writer runs */
    coop_enter(wr);
}
END_TEST

START_TEST(test_rwlock_waiting_writer_blocks_new_readers)
{
    struct rw_step r1 = { 'a', 'r' }, w = { 'W', 'w' }, r2 = { 'b', 'r' };
    coop_t *a = coop_create(rw_user, &r1), *wr = coop_create(rw_user, &w);
    coop_t *b = coop_create(rw_user, &r2);

    coop_rwlock_init(&rw);
    events_reset();
    coop_enter(a);
    coop_enter(wr);                  /* queued behind reader a */
    coop_enter(b);                   /* must queue behind the writer */
    ck_assert_str_eq(events, "a");
    coop_enter(a);                   /* a unlocks: W, not b */
    ck_assert_str_eq(events, "aW");
    coop_enter(wr);                  /* W unlocks: b */
    ck_assert_str_eq(events, "aWb");
    coop_enter(b);
}
END_TEST

START_TEST(test_rwlock_upgrade_immediate_when_alone)
{
    struct rw_step u = { 'u', 'u' };
    coop_t *co = coop_create(rw_user, &u);

    coop_rwlock_init(&rw);
    events_reset();
    coop_enter(co);
    coop_enter(co);                  /* upgrades at once */
    ck_assert_str_eq(events, "uu");
    ck_assert_uint_eq(rw.coop_state_, 2); /* core/rwlock.c: WRITER alone */
    coop_enter(co);
}
END_TEST

START_TEST(test_rwlock_upgrade_queues_behind_waiting_writer)
{
    struct rw_step u = { 'u', 'u' }, r = { 'r', 'r' }, w = { 'W', 'w' };
    coop_t *up = coop_create(rw_user, &u), *rd = coop_create(rw_user, &r);
    coop_t *wr = coop_create(rw_user, &w);

    coop_rwlock_init(&rw);
    events_reset();
    coop_enter(up);                  /* reader u */
    coop_enter(rd);                  /* reader r */
    coop_enter(wr);                  /* writer W waits */
    coop_enter(up);                  /* u upgrades: gives up its hold, queues behind W */
    ck_assert_str_eq(events, "ur");
    coop_enter(rd);                  /* r unlocks: W first */
    ck_assert_str_eq(events, "urW");
    coop_enter(wr);                  /* W unlocks: now u, as writer */
    ck_assert_str_eq(events, "urWu");
    coop_enter(up);
}
END_TEST

START_TEST(test_rwlock_downgrade_lets_queued_readers_in)
{
    struct rw_step d = { 'D', 'd' }, r1 = { 'a', 'r' }, r2 = { 'b', 'r' };
    struct rw_step w = { 'W', 'w' };
    coop_t *dw = coop_create(rw_user, &d), *a = coop_create(rw_user, &r1);
    coop_t *b = coop_create(rw_user, &r2), *wr = coop_create(rw_user, &w);

    coop_rwlock_init(&rw);
    events_reset();
    coop_enter(dw);                  /* writer D */
    coop_enter(a);
    coop_enter(b);
    coop_enter(wr);                  /* queue: a b W */
    ck_assert_str_eq(events, "D");
    coop_enter(dw);                  /* downgrade: a and b come in, W waits */
    ck_assert_str_eq(events, "Dvab");
    coop_enter(a);
    coop_enter(b);
    ck_assert_str_eq(events, "Dvab");
    coop_enter(dw);                  /* last reader out: W */
    ck_assert_str_eq(events, "DvabW");
    coop_enter(wr);
}
END_TEST

/* --------------------------------------------------------------- misuse */

static void run_in_coroutine(void (*fn)(void *), void *arg)
{
    coop_t *co = coop_create(fn, arg);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
}

static void lock_twice(void *opaque)
{
    coop_mutex_t *m = opaque;

    coop_mutex_lock(m);
    coop_mutex_lock(m);
}

static void misuse_lock_twice(void *opaque)
{
    run_in_coroutine(lock_twice, opaque);
}

static void misuse_unlock_not_held(void *opaque)
{
    coop_mutex_unlock(opaque);
}

static void misuse_lock_from_main(void *opaque)
{
    coop_mutex_lock(opaque);
}

static void misuse_wait_from_main(void *opaque)
{
    coop_queue_wait(opaque, NULL);
}

static void hold_and_finish(void *opaque)
{
    coop_mutex_lock(opaque);
}

static void misuse_finish_holding(void *opaque)
{
    run_in_coroutine(hold_and_finish, opaque);
}

static void misuse_enter_waiting(void *opaque)
{
    coop_t *co = coop_create(queue_sleeper, (void *)"a");

    (void)opaque;
    coop_queue_init(&queue);
    coop_enter(co); /* now waits in the queue */
    coop_enter(co);
}

static void wake_target(void *opaque)
{
    coop_wake(opaque);
}

static void misuse_wake_waiting(void *opaque)
{
    coop_t *co = coop_create(queue_sleeper, (void *)"a");

    (void)opaque;
    coop_queue_init(&queue);
    coop_enter(co);
    run_in_coroutine(wake_target, co);
}

static void misuse_rdlock_from_main(void *opaque)
{
    coop_rwlock_rdlock(opaque);
}

static void misuse_rwlock_unlock_not_held(void *opaque)
{
    coop_rwlock_unlock(opaque);
}

START_TEST(test_sync_misuse_aborts_with_message)
{
    coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);
    coop_queue_t q = COOP_QUEUE_INITIALIZER(q);
    coop_rwlock_t l = COOP_RWLOCK_INITIALIZER(l);

    no_core_dumps();
    expect_abort(misuse_lock_twice, &m, "already holds");
    expect_abort(misuse_unlock_not_held, &m, "does not hold");
    expect_abort(misuse_lock_from_main, &m, "outside a coroutine");
    expect_abort(misuse_wait_from_main, &q, "outside a coroutine");
    expect_abort(misuse_finish_holding, &m, "holding");
    expect_abort(misuse_enter_waiting, NULL, "waits");
    expect_abort(misuse_wake_waiting, NULL, "waits");
    expect_abort(misuse_rdlock_from_main, &l, "outside a coroutine");
    expect_abort(misuse_rwlock_unlock_not_held, &l, "does not hold");
}
END_TEST

START_TEST(test_finish_holding_lock_raises_sigabrt)
{
    coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);

    no_core_dumps();
    misuse_finish_holding(&m);
}
END_TEST

/* ------------------------------------------------- randomised model run */

/*
 * Random lock/unlock/wait/wake/yield steps over many coroutines, driven
 * from main; after every step the library's state is checked against a
 * reference model: mutual exclusion, FIFO hand-over, no lost wake-up.
 */
#define MODEL_COS 12
#define MODEL_STEPS 20000

enum model_state { M_IDLE, M_WANT_LOCK, M_HOLD, M_WAIT_QUEUE };

struct model {
    coop_mutex_t m;
    coop_queue_t q;
    coop_t *co[MODEL_COS];
    int state[MODEL_COS];         /* what the model expects */
    int cmd[MODEL_COS];           /* what main asks the coroutine to do next */
    int mutex_fifo[MODEL_COS], n_fifo;   /* expected waiters, in order */
    int queue_fifo[MODEL_COS], n_queue;
    int holder;                   /* -1: free */
    int in_critical;              /* coroutines inside the critical section */
    int violations;
};

static struct model *model;

enum { CMD_LOCK, CMD_UNLOCK, CMD_WAIT, CMD_YIELD };

static int model_index(void)
{
    for (int i = 0; i < MODEL_COS; i++)
        if (model->co[i] == coop_self())
            return i;
    return -1;
}

static void model_body(void *opaque)
{
    int me = model_index();

    (void)opaque;
    for (;;) {
        switch (model->cmd[me]) {
        case CMD_LOCK:
            coop_mutex_lock(&model->m);
            if (model->holder != -1 && model->holder != me)
                model->violations++;
            model->in_critical++;
            if (model->in_critical != 1)
                model->violations++;
            break;
        case CMD_UNLOCK:
            model->in_critical--;
            coop_mutex_unlock(&model->m);
            break;
        case CMD_WAIT:
            coop_queue_wait(&model->q, NULL);
            break;
        default:
            break;
        }
        coop_yield();
    }
}

static int pop_front(int *fifo, int *n)
{
    int v = fifo[0];

    memmove(fifo, fifo + 1, (size_t)(*n - 1) * sizeof(int));
    (*n)--;
    return v;
}

START_TEST(test_random_steps_match_reference_model)
{
    unsigned seed = (unsigned)_i * 7919u + 12345u;
    struct model md;

    memset(&md, 0, sizeof(md));
    model = &md;
    md.holder = -1;
    coop_mutex_init(&md.m);
    coop_queue_init(&md.q);
    for (int i = 0; i < MODEL_COS; i++) {
        md.co[i] = coop_create(model_body, NULL);
        ck_assert_ptr_nonnull(md.co[i]);
        md.cmd[i] = CMD_YIELD;
        coop_enter(md.co[i]); /* parked in its loop's yield */
    }
    srand(seed);
    for (int step = 0; step < MODEL_STEPS; step++) {
        int i = rand() % MODEL_COS, action = rand() % 4;

        if (md.state[i] == M_WANT_LOCK || md.state[i] == M_WAIT_QUEUE) {
            /* Asleep: only the primitive may wake it.  Wake one instead. */
            if (action < 2 && md.n_queue) {
                int w = pop_front(md.queue_fifo, &md.n_queue);
                ck_assert_msg(coop_queue_next(&md.q), "seed %u step %d: lost waiter",
                              seed, step);
                ck_assert_msg(md.state[w] == M_WAIT_QUEUE, "seed %u", seed);
                md.state[w] = M_IDLE; /* ran at once, back in its yield */
            }
            continue;
        }
        if (md.state[i] == M_HOLD) {
            if (action == 0) {
                md.cmd[i] = CMD_YIELD;
                coop_enter(md.co[i]);
                continue;
            }
            md.cmd[i] = CMD_UNLOCK;
            md.state[i] = M_IDLE;
            md.holder = -1;
            if (md.n_fifo) {
                /* Hand-over: the first waiter holds it and has run. */
                md.holder = pop_front(md.mutex_fifo, &md.n_fifo);
                md.state[md.holder] = M_HOLD;
            }
            coop_enter(md.co[i]);
            /* core/mutex.c: the holder, flags in the two low bits */
            ck_assert_msg((coop_t *)(md.m.coop_state_ & ~(uintptr_t)3) ==
                              (md.holder < 0 ? NULL : md.co[md.holder]),
                          "seed %u step %d: wrong mutex holder", seed, step);
            continue;
        }
        /* Idle coroutine. */
        if (action <= 1) {
            md.cmd[i] = CMD_LOCK;
            if (md.holder == -1) {
                md.holder = i;
                md.state[i] = M_HOLD;
            } else {
                md.mutex_fifo[md.n_fifo++] = i;
                md.state[i] = M_WANT_LOCK;
            }
        } else if (action == 2) {
            md.cmd[i] = CMD_WAIT;
            md.queue_fifo[md.n_queue++] = i;
            md.state[i] = M_WAIT_QUEUE;
        } else {
            md.cmd[i] = CMD_YIELD;
        }
        coop_enter(md.co[i]);
        ck_assert_msg(md.violations == 0,
                      "seed %u step %d: mutual exclusion broken", seed, step);
        ck_assert_msg(coop_queue_empty(&md.q) == (md.n_queue == 0),
                      "seed %u step %d: queue disagrees with model", seed, step);
    }
    ck_assert_msg(md.violations == 0, "seed %u: mutual exclusion broken", seed);
    /* Tear down: wake everyone, release the mutex chain; the coroutines
     * stay parked (not finished), which the test process may leave. */
    coop_queue_restart_all(&md.q);
}
END_TEST

Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc;

    tc = coop_test_tcase(s, "mutex");
    tcase_add_test(tc, test_mutex_uncontended_counts_locks_held);
    tcase_add_test(tc, test_mutex_waiters_served_in_arrival_order);
    tcase_add_test(tc, test_mutex_unlock_relock_cannot_barge);
    tcase_add_test(tc, test_mutex_main_context_holds_and_hands_over);

    tc = coop_test_tcase(s, "queue");
    tcase_add_test(tc, test_queue_next_wakes_in_fifo_order);
    tcase_add_test(tc, test_queue_next_from_coroutine_runs_woken_after_yield);
    tcase_add_test(tc, test_queue_restart_all_wakes_present_waiters_in_order);
    tcase_add_test(tc, test_queue_with_mutex_as_condition_variable);

    tc = coop_test_tcase(s, "rwlock");
    tcase_add_test(tc, test_rwlock_readers_share_writer_excludes);
    tcase_add_test(tc, test_rwlock_waiting_writer_blocks_new_readers);
    tcase_add_test(tc, test_rwlock_upgrade_immediate_when_alone);
    tcase_add_test(tc, test_rwlock_upgrade_queues_behind_waiting_writer);
    tcase_add_test(tc, test_rwlock_downgrade_lets_queued_readers_in);

    tc = coop_test_tcase(s, "sync-misuse");
    tcase_add_test(tc, test_sync_misuse_aborts_with_message);
    tcase_add_test_raise_signal(tc, test_finish_holding_lock_raises_sigabrt,
                                SIGABRT);

    tc = coop_test_tcase(s, "model");
    tcase_add_loop_test(tc, test_random_steps_match_reference_model, 0, 4);
    return s;
}
