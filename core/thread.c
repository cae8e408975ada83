/* SPDX-License-Identifier: MIT */
/*
 * Thread-local state.  A suspended coroutine may resume on another thread,
 * and compilers cache thread-local addresses (and, on aarch64, the thread
 * pointer itself) across calls.  So nothing outside this file touches
 * thread-local storage, and every access is a call the optimiser cannot
 * merge with another across a switch: noinline, with a compiler barrier
 * that also keeps it from being treated as a pure function (even with LTO).
 */
#include "config.h"

#include <pthread.h>

#include "bias.h"
#include "coop-internal.h"
#include "diag.h"

/* The small, hot pointers use the initial-exec model (one load from the
 * thread pointer); the larger state is reached through one of them. */

static __thread struct coop__thread coop__thread_state;
static __thread struct coop__thread *coop__thread_ptr COOP__TLS_FAST;
__thread coop_t *coop__current_co COOP__TLS_FAST;

static pthread_key_t coop__exit_key;
static pthread_once_t coop__exit_key_once = PTHREAD_ONCE_INIT;

#define COOP__TLS_BARRIER() __asm__ volatile("" ::: "memory")

/* At thread exit its idle coroutines and its overflow signal stack go back
 * to the system. */
static void coop__thread_exit(void *arg)
{
    coop__loop_thread_exit(arg);
    coop__pool_free_all(arg);
    coop__overflow_thread_exit(arg);
    coop__bias_slot_free(((struct coop__thread *)arg)->bias);
    ((struct coop__thread *)arg)->bias = NULL;
}

static void coop__exit_key_create(void)
{
    if (pthread_key_create(&coop__exit_key, coop__thread_exit) != 0)
        coop__die("cannot create the thread-exit key that frees pools");
}

static __attribute__((noinline)) struct coop__thread *coop__thread_setup(void)
{
    struct coop__thread *t = &coop__thread_state;

    pthread_once(&coop__exit_key_once, coop__exit_key_create);
    t->main.is_main = true;
    t->main.home = t;
    t->bias = coop__bias_slot_new();
    if (pthread_setspecific(coop__exit_key, t) != 0)
        coop__die("cannot register the thread's pool for thread exit");
    coop__thread_ptr = t;
    coop__current_co = &t->main;
    return t;
}

__attribute__((noinline)) coop_t *coop__current(void)
{
    coop_t *co = coop__current_co;
    COOP__TLS_BARRIER();
    return co;
}

__attribute__((noinline)) void coop__set_current(coop_t *co)
{
    coop__current_co = co;
    COOP__TLS_BARRIER();
}

__attribute__((noinline)) struct coop__thread *coop__thread(void)
{
    struct coop__thread *t = coop__thread_ptr;
    COOP__TLS_BARRIER();
    if (coop__unlikely(!t))
        t = coop__thread_setup();
    return t;
}
