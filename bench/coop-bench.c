/* SPDX-License-Identifier: MIT */
/*
 * Switch and creation cost of libcoop next to a plain sigsetjmp(env, 0) /
 * siglongjmp ping-pong between two stacks, measured interleaved in one run.
 * Prints medians (and min/max) over several rounds; never fails on time.
 *
 *   bench/coop-bench [iterations-per-round]
 */
#undef _FORTIFY_SOURCE /* the reference ping-pong jumps between stacks */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef HAVE_MAKECONTEXT
#include <ucontext.h>
#endif

#include <coop.h>

#define ROUNDS 11

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

struct series {
    const char *name;
    double ns[ROUNDS];
};

static void report(const struct series *s, double per_unit_of)
{
    double sorted[ROUNDS];
    for (int i = 0; i < ROUNDS; i++)
        sorted[i] = s->ns[i];
    qsort(sorted, ROUNDS, sizeof(double), cmp_double);
    printf("  %-44s %8.1f ns  (min %.1f, max %.1f)", s->name,
           sorted[ROUNDS / 2], sorted[0], sorted[ROUNDS - 1]);
    if (per_unit_of > 0)
        printf("  %.2fx", sorted[ROUNDS / 2] / per_unit_of);
    printf("\n");
}

static double median(const struct series *s)
{
    double sorted[ROUNDS];
    for (int i = 0; i < ROUNDS; i++)
        sorted[i] = s->ns[i];
    qsort(sorted, ROUNDS, sizeof(double), cmp_double);
    return sorted[ROUNDS / 2];
}

/* ------------------------------------------ references: raw sjlj ping-pong */

static sigjmp_buf ref_main, ref_co;
static volatile long ref_count;
static volatile int ref_through_call; /* switch inside a called function? */

/* The same jump pair behind a function call, as any library's enter and
 * yield must be: after the jump, its return goes to an address the CPU's
 * return predictor did not see pushed on this stack, and mispredicts. */
static __attribute__((noinline)) void ref_switch(sigjmp_buf *from,
                                                 sigjmp_buf *to)
{
    if (sigsetjmp(*from, 0) == 0)
        siglongjmp(*to, 1);
    __asm__ volatile("");
}

static void ref_body(void)
{
    if (sigsetjmp(ref_co, 0) == 0)
        siglongjmp(ref_main, 1); /* captured: back to setup */
    for (;;) {
        ref_count++;
        if (ref_through_call)
            ref_switch(&ref_co, &ref_main);
        else if (sigsetjmp(ref_co, 0) == 0)
            siglongjmp(ref_main, 1);
    }
}

static char ref_stack[64 * 1024] __attribute__((aligned(16)));

#ifdef HAVE_MAKECONTEXT
static void ref_setup(void)
{
    static ucontext_t uc, old;

    getcontext(&uc);
    uc.uc_stack.ss_sp = ref_stack;
    uc.uc_stack.ss_size = sizeof(ref_stack);
    uc.uc_link = NULL;
    makecontext(&uc, ref_body, 0);
    if (sigsetjmp(ref_main, 0) == 0)
        swapcontext(&old, &uc);
}
#else
/* No makecontext (musl): a signal handler on ref_stack as the alternate
 * signal stack saves its frame and returns; jumping back into that frame
 * later runs ref_body there.  Nothing else uses the stack in between. */
static sigjmp_buf ref_boot;

static void ref_boot_handler(int sig)
{
    (void)sig;
    if (sigsetjmp(ref_boot, 0) == 0)
        return;
    ref_body();
}

static void ref_setup(void)
{
    stack_t ss = { .ss_sp = ref_stack, .ss_size = sizeof(ref_stack) };
    stack_t off = { .ss_flags = SS_DISABLE };
    struct sigaction sa, old_sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ref_boot_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGUSR2, &sa, &old_sa) != 0) {
        perror("reference stack");
        exit(1);
    }
    raise(SIGUSR2);
    sigaction(SIGUSR2, &old_sa, NULL);
    sigaltstack(&off, NULL);
    if (sigsetjmp(ref_main, 0) == 0)
        siglongjmp(ref_boot, 1);
}
#endif

static double ref_round_trip(long n)
{
    double t0 = now_ns();
    ref_through_call = 0;
    for (long i = 0; i < n; i++)
        if (sigsetjmp(ref_main, 0) == 0)
            siglongjmp(ref_co, 1);
    return (now_ns() - t0) / (double)n;
}

static double ref_call_round_trip(long n)
{
    double t0 = now_ns();
    ref_through_call = 1;
    for (long i = 0; i < n; i++)
        ref_switch(&ref_main, &ref_co);
    return (now_ns() - t0) / (double)n;
}

/* ---------------------------------------------------------------- libcoop */

static void yielder(void *opaque)
{
    volatile long *count = opaque;
    for (;;) {
        (*count)++;
        coop_yield();
    }
}

static double coop_round_trip(coop_t *co, long n)
{
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        coop_enter(co);
    return (now_ns() - t0) / (double)n;
}

static void finisher(void *opaque)
{
    (*(volatile long *)opaque)++;
}

static double coop_create_cycle(long n)
{
    static volatile long count;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        coop_t *co = coop_create(finisher, (void *)&count);
        if (!co) {
            perror("coop_create");
            exit(1);
        }
        coop_enter(co);
    }
    return (now_ns() - t0) / (double)n;
}

/* ------------------------------------------------------------- mutex */

static double mutex_uncontended(long n)
{
    static coop_mutex_t m = COOP_MUTEX_INITIALIZER(m);
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        coop_mutex_trylock(&m); /* from main: lock never blocks */
        coop_mutex_unlock(&m);
    }
    return (now_ns() - t0) / (double)n;
}

struct handoff {
    coop_mutex_t m;
    long rounds;
    int started;
};

/* Two of these pass the mutex back and forth: each unlock hands it to the
 * other, which runs when this one blocks on its next lock. */
static void handoff_body(void *opaque)
{
    struct handoff *h = opaque;

    coop_mutex_lock(&h->m);
    if (h->started++ == 0)
        coop_yield(); /* the first holder waits until the other queues */
    for (long i = 0; i < h->rounds; i++) {
        coop_mutex_unlock(&h->m);
        coop_mutex_lock(&h->m);
    }
    coop_mutex_unlock(&h->m);
}

static double mutex_handoff(long n)
{
    static struct handoff h;
    coop_t *a, *b;
    double t0;

    coop_mutex_init(&h.m);
    h.rounds = n;
    h.started = 0;
    a = coop_create(handoff_body, &h);
    b = coop_create(handoff_body, &h);
    if (!a || !b) {
        perror("coop_create");
        exit(1);
    }
    coop_enter(a);          /* a holds it and yields */
    coop_enter(b);          /* b queues for it */
    t0 = now_ns();
    coop_enter(a);          /* from here on the two alternate to the end */
    if (coop_mutex_trylock(&h.m))
        coop_mutex_unlock(&h.m);
    else {
        fprintf(stderr, "mutex hand-off did not run to the end\n");
        exit(1);
    }
    return (now_ns() - t0) / (double)(2 * n);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    struct series ref = { "sigsetjmp/siglongjmp ping-pong (reference)", { 0 } };
    struct series refc = { "the same behind a function call (floor)", { 0 } };
    struct series rt = { "coop_enter + coop_yield round trip", { 0 } };
    struct series cyc = { "coop_create + enter + finish (pooled)", { 0 } };
    struct series mu = { "mutex lock + unlock, uncontended", { 0 } };
    struct series mh = { "mutex hand-off between two coroutines", { 0 } };
    static volatile long count;
    coop_t *co;

    if (n < 1000)
        n = 1000;
    ref_setup();
    co = coop_create(yielder, (void *)&count);
    if (!co) {
        perror("coop_create");
        return 1;
    }
    /* Warm up caches and the pool. */
    ref_round_trip(n / 10);
    ref_call_round_trip(n / 10);
    coop_round_trip(co, n / 10);
    coop_create_cycle(n / 10);
    mutex_uncontended(n / 10);
    mutex_handoff(n / 10);

    for (int r = 0; r < ROUNDS; r++) {
        ref.ns[r] = ref_round_trip(n);
        refc.ns[r] = ref_call_round_trip(n);
        rt.ns[r] = coop_round_trip(co, n);
        cyc.ns[r] = coop_create_cycle(n);
        mu.ns[r] = mutex_uncontended(n);
        mh.ns[r] = mutex_handoff(n / 4);
    }

    printf("libcoop %s, %s backend, %ld iterations x %d rounds, median:\n",
           coop_version(), coop_backend(), n, ROUNDS);
    report(&ref, 0);
    report(&refc, median(&ref));
    report(&rt, median(&ref));
    printf("    (ratio to the reference; goal for ucontext/sigaltstack: <= 1.5x)\n");
    printf("    (ratio to the function-call floor: %.2fx)\n",
           median(&rt) / median(&refc));
    report(&cyc, median(&rt));
    printf("    (ratio to a round trip; goal: <= 2x)\n");
    report(&mu, 0);
    printf("    (goal: < 2 ns, no switch)\n");
    report(&mh, median(&rt));
    printf("    (ratio to a round trip; goal: <= 1x)\n");
    return 0;
}
