/* SPDX-License-Identifier: MIT */
/*
 * Opt-in stack-overflow reports.  Running into a guard region raises
 * SIGSEGV; the handler runs on a per-thread alternate signal stack (the
 * faulting stack has no room left), names the coroutine whose guard was hit
 * and aborts.  Every other fault goes to the handler that was installed
 * before, exactly as if we were not there.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "coop-internal.h"
#include "diag.h"

#define COOP__ALTSTACK_SIZE ((size_t)64 << 10)

static pthread_mutex_t coop__overflow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sigaction coop__previous_segv;
int coop__overflow_armed;

static void coop__overflow_handler(int sig, siginfo_t *si, void *uctx)
{
    coop_t *co = coop__current();
    const struct sigaction *prev = &coop__previous_segv;

    if (co && !co->is_main && coop__stack_in_guard(&co->stack, si->si_addr)) {
        if (co->has_name)
            coop__die("stack overflow in coroutine %s", co->name);
        coop__die("stack overflow in coroutine %p", (void *)co);
    }

    /* Not ours: behave as the previous disposition would. */
    if (prev->sa_flags & SA_SIGINFO) {
        prev->sa_sigaction(sig, si, uctx);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        /* Default action: a real fault recurs on return and kills us;
         * a signal someone sent must be sent again. */
        struct sigaction dfl;

        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        sigaction(sig, &dfl, NULL);
        if (si->si_code <= 0)
            raise(sig);
    }
}

int coop_catch_overflow(void)
{
    struct sigaction sa;
    int ret = 0;

    pthread_mutex_lock(&coop__overflow_lock);
    if (!__atomic_load_n(&coop__overflow_armed, __ATOMIC_RELAXED)) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = coop__overflow_handler;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGSEGV, &sa, &coop__previous_segv) == 0) {
            __atomic_store_n(&coop__overflow_armed, 1, __ATOMIC_RELEASE);
            /* Every enter now prepares its thread first: no fast path. */
            __atomic_fetch_or(&coop__slow, COOP__SLOW_OVERFLOW,
                              __ATOMIC_RELEASE);
        } else
            ret = -1;
    }
    pthread_mutex_unlock(&coop__overflow_lock);
    if (ret == 0 && coop__overflow_thread_prepare(coop__thread()) != 0)
        ret = -1;
    return ret;
}

int coop__overflow_thread_prepare(struct coop__thread *t)
{
    stack_t ss, old;
    void *mem;

    if (t->altstack_ready)
        return 0;
    /* A program that gave this thread an alternate stack keeps it. */
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE)) {
        t->altstack_ready = true;
        return 0;
    }
    mem = mmap(NULL, COOP__ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) {
        errno = ENOMEM;
        return -1;
    }
    ss.ss_sp = mem;
    ss.ss_size = COOP__ALTSTACK_SIZE;
    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0) {
        int err = errno;
        munmap(mem, COOP__ALTSTACK_SIZE);
        errno = err;
        return -1;
    }
    t->altstack = mem;
    t->altstack_ready = true;
    return 0;
}

void coop__overflow_thread_exit(struct coop__thread *t)
{
    stack_t ss, cur;

    if (!t->altstack)
        return;
    /* Only take down the stack if it is still the one we installed. */
    if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == t->altstack &&
        !(cur.ss_flags & SS_ONSTACK)) {
        memset(&ss, 0, sizeof(ss));
        ss.ss_flags = SS_DISABLE;
        sigaltstack(&ss, NULL);
        munmap(t->altstack, COOP__ALTSTACK_SIZE);
    }
    t->altstack = NULL;
    t->altstack_ready = false;
}
