/* SPDX-License-Identifier: MIT */
/*
 * What the locks cost, each next to a baseline measured in the same run,
 * rounds interleaved, medians printed:
 *
 *  1. Uncontended: coop_mutex_lock + unlock inside a coroutine, rwlock
 *     read and write holds; baseline pthread_mutex_lock + unlock.
 *  2. Same-thread hand-off: two coroutines of one thread passing a
 *     coop_mutex_t back and forth (every unlock hands it to the other).
 *  3. Cross-thread contention: two threads, each running a loop with one
 *     coroutine that locks, bumps a counter and unlocks, over and over.
 *     The mutex is fair, so with both contending nearly every acquisition
 *     is a hand-off to the other thread (a loop wake-up).  Baseline: two
 *     pthreads doing the same with a pthread_mutex_t, which is not fair:
 *     the thread that unlocks mostly takes it straight back.  Both print
 *     ns per acquisition and the share of acquisitions that changed
 *     thread, so the two are read side by side.
 *
 *   bench/lock-bench [--quick] [--rounds N] [--iterations N]
 *                    [--only uncontended|handoff|contention]
 *
 * Exits 1 when a count comes out wrong.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <coop-loop.h>

#include "bench-stats.h"

static int failures;

/* ------------------------------------------------------- uncontended */

struct uncontended {
    long n;
    int kind;                      /* 0 mutex, 1 rdlock, 2 wrlock */
    double ns;
};

static void uncontended_body(void *opaque)
{
    struct uncontended *u = opaque;
    static coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);
    static coop_rwlock_t rw = COOP_RWLOCK_INITIALIZER(rw);
    int64_t t0 = now_ns();

    switch (u->kind) {
    case 0:
        for (long i = 0; i < u->n; i++) {
            coop_mutex_lock(&m);
            coop_mutex_unlock(&m);
        }
        break;
    case 1:
        for (long i = 0; i < u->n; i++) {
            coop_rwlock_rdlock(&rw);
            coop_rwlock_unlock(&rw);
        }
        break;
    default:
        for (long i = 0; i < u->n; i++) {
            coop_rwlock_wrlock(&rw);
            coop_rwlock_unlock(&rw);
        }
        break;
    }
    u->ns = (double)(now_ns() - t0) / (double)u->n;
}

static double coop_uncontended(long n, int kind)
{
    struct uncontended u = { n, kind, 0 };
    coop_t *co = coop_create(uncontended_body, &u);

    if (!co) {
        perror("coop_create");
        exit(1);
    }
    coop_enter(co);
    return u.ns;
}

static double pthread_uncontended(long n)
{
    static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    int64_t t0 = now_ns();

    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&m);
        pthread_mutex_unlock(&m);
    }
    return (double)(now_ns() - t0) / (double)n;
}

/* ------------------------------------------------ same-thread hand-off */

struct handoff {
    coop_mutex_t m;
    long n, done;
    int started;
};

/* Takes the mutex, then passes it on at every unlock: the other one is
 * always queued by then. */
static void handoff_body(void *opaque)
{
    struct handoff *h = opaque;

    coop_mutex_lock(&h->m);
    if (h->started++ == 0)
        coop_yield(); /* the first holds it until the other queues */
    while (h->done < h->n) {
        h->done++;
        coop_mutex_unlock(&h->m); /* handed to the other one */
        coop_mutex_lock(&h->m);   /* queues behind it */
    }
    coop_mutex_unlock(&h->m);
}

static double coop_handoff(long n)
{
    struct handoff h;
    coop_t *a, *b;
    int64_t t0;

    memset(&h, 0, sizeof(h));
    coop_mutex_init(&h.m);
    h.n = n;
    a = coop_create(handoff_body, &h);
    b = coop_create(handoff_body, &h);
    if (!a || !b) {
        perror("coop_create");
        exit(1);
    }
    coop_enter(a); /* a holds it */
    coop_enter(b); /* b queues for it */
    t0 = now_ns();
    coop_enter(a); /* from here on they alternate, to the end */
    if (h.done != n || !coop_mutex_trylock(&h.m)) {
        fprintf(stderr, "hand-off: did not run to the end\n");
        failures++;
    } else {
        coop_mutex_unlock(&h.m);
    }
    return (double)(now_ns() - t0) / (double)n;
}

/* --------------------------------------------- cross-thread contention */

struct contention {
    coop_mutex_t cm;
    pthread_mutex_t pm;
    long per_thread;
    long count;                    /* plain: under the mutex */
    long changes;                  /* plain: under the mutex */
    int last;                      /* plain: under the mutex */
    coop_loop_t *loops[2];
    pthread_barrier_t start;
    int arrived;                   /* atomic: contenders ready to go */
    int64_t t0, t1;                /* atomic: first start, last finish */
};

/* Both contenders start together (thread start-up is slower than a run),
 * and the clock runs from the first start to the last finish. */
static void contender_start(struct contention *c)
{
    int64_t t = 0;

    __atomic_add_fetch(&c->arrived, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&c->arrived, __ATOMIC_ACQUIRE) < 2)
        ;
    t = now_ns();
    int64_t seen = __atomic_load_n(&c->t0, __ATOMIC_RELAXED);
    while ((seen == 0 || t < seen) &&
           !__atomic_compare_exchange_n(&c->t0, &seen, t, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

static void contender_end(struct contention *c)
{
    int64_t t = now_ns();
    int64_t seen = __atomic_load_n(&c->t1, __ATOMIC_RELAXED);

    while (t > seen &&
           !__atomic_compare_exchange_n(&c->t1, &seen, t, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

struct worker {
    struct contention *c;
    int index;
};

static void coop_contender(void *opaque)
{
    struct worker *w = opaque;
    struct contention *c = w->c;

    contender_start(c);
    for (long i = 0; i < c->per_thread; i++) {
        coop_mutex_lock(&c->cm);
        c->count++;
        c->changes += c->last != w->index;
        c->last = w->index;
        coop_mutex_unlock(&c->cm);
    }
    contender_end(c);
    coop_loop_release(c->loops[0]);
    coop_loop_release(c->loops[1]);
}

static void *coop_contention_thread(void *opaque)
{
    struct worker *w = opaque;
    struct contention *c = w->c;
    coop_loop_t *loop = coop_loop_self();
    coop_t *co;

    if (!loop) {
        perror("coop_loop_self");
        exit(1);
    }
    c->loops[w->index] = loop;
    coop_loop_hold(loop);
    coop_loop_hold(loop); /* one release from each contender */
    pthread_barrier_wait(&c->start);
    co = coop_create(coop_contender, w);
    if (!co) {
        perror("coop_create");
        exit(1);
    }
    coop_schedule(loop, co);
    coop_loop_run();
    return NULL;
}

static void *pthread_contention_thread(void *opaque)
{
    struct worker *w = opaque;
    struct contention *c = w->c;

    pthread_barrier_wait(&c->start);
    contender_start(c);
    for (long i = 0; i < c->per_thread; i++) {
        pthread_mutex_lock(&c->pm);
        c->count++;
        c->changes += c->last != w->index;
        c->last = w->index;
        pthread_mutex_unlock(&c->pm);
    }
    contender_end(c);
    return NULL;
}

/* ns per acquisition; *changed: the share that changed thread. */
static double contention(long per_thread, bool coop, double *changed)
{
    struct contention c;
    struct worker w[2];
    pthread_t t[2];

    memset(&c, 0, sizeof(c));
    coop_mutex_init(&c.cm);
    pthread_mutex_init(&c.pm, NULL);
    c.per_thread = per_thread;
    pthread_barrier_init(&c.start, NULL, 3);
    for (int i = 0; i < 2; i++) {
        w[i].c = &c;
        w[i].index = i;
        pthread_create(&t[i], NULL,
                       coop ? coop_contention_thread : pthread_contention_thread,
                       &w[i]);
    }
    pthread_barrier_wait(&c.start);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (c.count != 2 * per_thread) {
        fprintf(stderr, "contention: count %ld, want %ld\n", c.count,
                2 * per_thread);
        failures++;
    }
    pthread_barrier_destroy(&c.start);
    pthread_mutex_destroy(&c.pm);
    *changed = (double)c.changes / (double)c.count;
    return (double)(c.t1 - c.t0) / (double)c.count;
}

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    int rounds = 7;
    long n = 5000000, contended = 100000;
    enum { MUTEX, RDLOCK, WRLOCK, PTHREAD, HANDOFF, XCOOP, XPTHREAD, XCOOP_CH,
           XPTHREAD_CH, SERIES };
    static const char *const names[SERIES] = {
        "coop_mutex lock+unlock, uncontended (in a coroutine)",
        "coop_rwlock rdlock+unlock, uncontended",
        "coop_rwlock wrlock+unlock, uncontended",
        "pthread_mutex lock+unlock, uncontended (baseline)",
        "coop_mutex hand-off between two coroutines of one thread",
        "coop_mutex, two threads contending: per acquisition",
        "pthread_mutex, two threads contending: per acquisition (baseline)",
        "  coop_mutex: acquisitions that changed thread (%)",
        "  pthread_mutex: acquisitions that changed thread (%)",
    };
    double *v[SERIES];
    const char *only = NULL;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            rounds = 3;
            n = 100000;
            contended = 2000;
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            only = argv[++i];
        } else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) {
            n = atol(argv[++i]);
            contended = n / 50 > 0 ? n / 50 : 1;
        } else {
            fprintf(stderr,
                    "usage: %s [--quick] [--rounds N] [--iterations N] "
                    "[--only uncontended|handoff|contention]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1)
        rounds = 1;
    for (int s = 0; s < SERIES; s++)
        v[s] = calloc((size_t)rounds, sizeof(double));

    coop_uncontended(n / 10, 0); /* warm-up: pool, pages, loop */
    coop_handoff(n / 100);
    for (int r = 0; r < rounds; r++) {
        if (!only || !strcmp(only, "uncontended")) {
            v[PTHREAD][r] = pthread_uncontended(n);
            v[MUTEX][r] = coop_uncontended(n, 0);
            v[RDLOCK][r] = coop_uncontended(n, 1);
            v[WRLOCK][r] = coop_uncontended(n, 2);
        }
        if (!only || !strcmp(only, "handoff"))
            v[HANDOFF][r] = coop_handoff(n / 10);
        if (!only || !strcmp(only, "contention")) {
            v[XPTHREAD][r] =
                contention(contended * 10, false, &v[XPTHREAD_CH][r]);
            v[XCOOP][r] = contention(contended, true, &v[XCOOP_CH][r]);
            v[XCOOP_CH][r] *= 100;
            v[XPTHREAD_CH][r] *= 100;
        }
    }
    printf("lock-bench: %s backend, %d rounds, medians\n", coop_backend(),
           rounds);
    for (int s = 0; s < SERIES; s++)
        if (!only || (!strcmp(only, "uncontended") && s <= PTHREAD) ||
            (!strcmp(only, "handoff") && s == HANDOFF) ||
            (!strcmp(only, "contention") && s >= XCOOP))
            printf("  %-68s %10.1f%s\n", names[s], median(v[s], rounds),
               s >= XCOOP_CH ? "" : " ns");
    return failures ? 1 : 0;
}
