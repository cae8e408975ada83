/* SPDX-License-Identifier: MIT */
/*
 * A thread's loop: making and freeing it, one poll pass, run, holds, and
 * what other threads do to it (schedule, interrupt, release).
 *
 * Other threads push onto two lock-free lists (schedules, interrupt
 * requests) and write the loop's eventfd only when it sleeps: the loop
 * announces "sleeping" before it looks at the lists a last time, and a
 * pusher reads it after pushing, both sequentially consistent, so either
 * the loop sees the push or the pusher sees the sleep.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "loop.h"

const char coop__in_loop = 0;

#define COOP__EVFD_TAG UINT64_MAX /* epoll data of the eventfd */
#define COOP__EVENTS_PER_WAIT 256

int64_t coop__now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------ making, freeing */

static void coop__loop_free(struct coop_loop *loop)
{
    close(loop->epfd);
    close(loop->evfd);
    coop__timer_free(loop);
    coop__fd_free(loop);
    free(loop);
}

/* In a forked child only the forking thread lives on: its loop (the
 * parent's) is dropped, so nothing the parent waited for is entered. */
static void coop__loop_atfork_child(void)
{
    struct coop__thread *t = coop__thread();
    struct coop_loop *loop = __atomic_load_n(&t->loop, __ATOMIC_RELAXED);

    if (loop) {
        __atomic_store_n(&t->loop, NULL, __ATOMIC_RELAXED);
        coop__loop_free(loop);
    }
}

static pthread_once_t coop__atfork_once = PTHREAD_ONCE_INIT;

static void coop__atfork_register(void)
{
    if (pthread_atfork(NULL, NULL, coop__loop_atfork_child) != 0)
        coop__die("cannot register the loop's fork handler");
}

static struct coop_loop *coop__loop_make(struct coop__thread *t)
{
    struct coop_loop *loop = calloc(1, sizeof(*loop));
    struct epoll_event ev = { .events = EPOLLIN };
    int err;

    if (!loop)
        return NULL;
    pthread_once(&coop__atfork_once, coop__atfork_register);
    loop->thread = t;
    loop->pid = getpid();
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        goto fail_epoll;
    loop->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (loop->evfd < 0)
        goto fail_eventfd;
    ev.data.u64 = COOP__EVFD_TAG;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->evfd, &ev) != 0)
        goto fail_ctl;
    coop_queue_init(&loop->slept);
    coop_queue_init(&loop->ready);
    __atomic_store_n(&t->loop, loop, __ATOMIC_RELEASE);
    return loop;

fail_ctl:
    err = errno;
    close(loop->evfd);
    errno = err;
fail_eventfd:
    err = errno;
    close(loop->epfd);
    errno = err;
fail_epoll:
    free(loop);
    return NULL;
}

struct coop_loop *coop__loop_get(void)
{
    struct coop__thread *t = coop__thread();
    struct coop_loop *loop = __atomic_load_n(&t->loop, __ATOMIC_RELAXED);

    return coop__likely(loop != NULL) ? loop : coop__loop_make(t);
}

/* A release (or schedule) from another thread may be what lets this
 * thread's run return and the thread exit: the loop stays until that call
 * is out of it. */
void coop__loop_thread_exit(struct coop__thread *t)
{
    struct coop_loop *loop = __atomic_load_n(&t->loop, __ATOMIC_RELAXED);

    if (loop) {
        __atomic_store_n(&t->loop, NULL, __ATOMIC_RELAXED);
        while (__atomic_load_n(&loop->pinned, __ATOMIC_ACQUIRE))
            sched_yield();
        coop__loop_free(loop);
    }
}

static void coop__loop_pin(struct coop_loop *loop)
{
    __atomic_add_fetch(&loop->pinned, 1, __ATOMIC_SEQ_CST);
}

static void coop__loop_unpin(struct coop_loop *loop)
{
    __atomic_sub_fetch(&loop->pinned, 1, __ATOMIC_RELEASE);
}

coop_loop_t *coop_loop_self(void)
{
    return coop__loop_get();
}

coop_loop_t *coop_home(const coop_t *co)
{
    struct coop__thread *t = __atomic_load_n(&co->home, __ATOMIC_RELAXED);

    return t ? __atomic_load_n(&t->loop, __ATOMIC_ACQUIRE) : NULL;
}

/* ------------------------------------------------ other threads' doing */

void coop__loop_notify(struct coop_loop *loop)
{
    uint64_t one = 1;

    if (__atomic_load_n(&loop->sleeping, __ATOMIC_SEQ_CST) &&
        !__atomic_exchange_n(&loop->notified, 1, __ATOMIC_SEQ_CST)) {
        ssize_t n = write(loop->evfd, &one, sizeof(one));

        (void)n; /* EAGAIN: the counter is full, the loop wakes anyway */
    }
}

static void coop__sched_push(struct coop_loop *loop, coop_t *co)
{
    coop_t *head;

    coop__loop_pin(loop);
    head = __atomic_load_n(&loop->sched_head, __ATOMIC_RELAXED);
    do
        co->sched_next = head;
    while (!__atomic_compare_exchange_n(&loop->sched_head, &head, co, true,
                                        __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
    coop__loop_notify(loop);
    coop__loop_unpin(loop);
}

void coop_schedule(coop_loop_t *loop, coop_t *co)
{
    char label[COOP__LABEL_MAX];
    coop_t *self = coop__current_before_switch();

    if (coop__unlikely(!loop))
        coop__die("coop_schedule() of coroutine %s into no loop (NULL)",
                  coop__label(co, label));
    if (coop__unlikely(co->is_main))
        coop__die("the main-context handle cannot be scheduled");
    if (__atomic_exchange_n(&co->scheduled, 1, __ATOMIC_ACQ_REL))
        coop__die("coroutine %s already scheduled, and it has not run yet",
                  coop__label(co, label));
    if (co == self && loop->thread != self->home) {
        /* a hop: handed over once it has yielded (coop__loop_hop) */
        co->hop_to = loop;
        return;
    }
    coop__sched_push(loop, co);
}

void coop__loop_hop(coop_t *co)
{
    struct coop_loop *loop = co->hop_to;

    co->hop_to = NULL;
    coop__sched_push(loop, co);
}

void coop_wake_home(coop_t *co)
{
    struct coop__thread *t = coop__thread();
    struct coop_loop *home = coop_home(co);
    char label[COOP__LABEL_MAX];

    if (coop__unlikely(!home))
        coop__die("coop_wake_home() of coroutine %s, whose home thread has "
                  "no loop", coop__label(co, label));
    if (__atomic_load_n(&co->home, __ATOMIC_RELAXED) == t)
        coop_wake(co);
    else
        coop_schedule(home, co);
}

void coop__wake_in_home(coop_t *co, struct coop__thread *home)
{
    struct coop_loop *loop = __atomic_load_n(&home->loop, __ATOMIC_ACQUIRE);
    char label[COOP__LABEL_MAX];

    if (coop__unlikely(!loop))
        coop__die("coroutine %s waits for a lock released on another thread, "
                  "but its own thread has no loop to wake it in (run "
                  "coop_loop_run() there, held)", coop__label(co, label));
    coop_schedule(loop, co);
}

bool coop_interrupt(coop_t *co)
{
    unsigned char waiting = COOP__WAIT_WAITING;
    struct coop_loop *loop;
    coop_t *head;

    if (!__atomic_compare_exchange_n(&co->wait.state, &waiting,
                                     COOP__WAIT_INTERRUPTED, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return false;
    loop = co->wait.loop;
    coop__loop_pin(loop);
    if (!__atomic_exchange_n(&co->wait.intr_queued, 1, __ATOMIC_SEQ_CST)) {
        head = __atomic_load_n(&loop->intr_head, __ATOMIC_RELAXED);
        do
            co->wait.intr_next = head;
        while (!__atomic_compare_exchange_n(&loop->intr_head, &head, co, true,
                                            __ATOMIC_SEQ_CST,
                                            __ATOMIC_RELAXED));
    }
    coop__loop_notify(loop);
    coop__loop_unpin(loop);
    return true;
}

void coop_loop_hold(coop_loop_t *loop)
{
    __atomic_add_fetch(&loop->holds, 1, __ATOMIC_SEQ_CST);
}

void coop_loop_release(coop_loop_t *loop)
{
    coop__loop_pin(loop);
    if (__atomic_sub_fetch(&loop->holds, 1, __ATOMIC_SEQ_CST) < 0) {
        __atomic_add_fetch(&loop->holds, 1, __ATOMIC_SEQ_CST);
        coop__die("coop_loop_release() of loop %p, which is not held",
                  (void *)loop);
    }
    __atomic_store_n(&loop->kicked, 1, __ATOMIC_SEQ_CST);
    coop__loop_notify(loop);
    coop__loop_unpin(loop);
}

/* ------------------------------------------------------------- waiting */

void coop__loop_wait(coop_t *self, struct coop_loop *loop)
{
    self->wait.loop = loop;
    self->wait.err = 0;
    loop->waits++;
    __atomic_store_n(&self->wait.state, COOP__WAIT_WAITING, __ATOMIC_RELEASE);
    coop__sleep(self, &coop__in_loop);
}

void coop__loop_wait_over(struct coop_loop *loop, coop_t *co, int err)
{
    unsigned char waiting = COOP__WAIT_WAITING;

    /* an interrupt that got in first wins: its caller was told so */
    if (!__atomic_compare_exchange_n(&co->wait.state, &waiting,
                                     COOP__WAIT_NONE, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        if (waiting != COOP__WAIT_INTERRUPTED)
            return; /* over already */
        __atomic_store_n(&co->wait.state, COOP__WAIT_NONE, __ATOMIC_RELEASE);
        err = EINTR;
    }
    co->wait.err = err;
    coop__timer_remove(loop, co);
    if (co->wait.fd >= 0)
        coop__fd_forget(loop, co);
    loop->waits--;
    coop__fifo_push(co->wait.fd < 0 && err == 0 ? &loop->slept : &loop->ready,
                    co);
}

/* ---------------------------------------------------------------- poll */

static void coop__take_interrupts(struct coop_loop *loop)
{
    coop_t *co = __atomic_exchange_n(&loop->intr_head, NULL, __ATOMIC_SEQ_CST);

    while (co) {
        coop_t *next = co->wait.intr_next;

        __atomic_store_n(&co->wait.intr_queued, 0, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&co->wait.state, __ATOMIC_ACQUIRE) ==
            COOP__WAIT_INTERRUPTED)
            coop__loop_wait_over(loop, co, EINTR);
        co = next;
    }
}

/* The schedules so far, oldest first (the list is newest first). */
static coop_t *coop__take_schedules(struct coop_loop *loop)
{
    coop_t *co = __atomic_exchange_n(&loop->sched_head, NULL, __ATOMIC_SEQ_CST);
    coop_t *oldest = NULL;

    while (co) {
        coop_t *next = co->sched_next;

        co->sched_next = oldest;
        oldest = co;
        co = next;
    }
    return oldest;
}

static bool coop__has_work(struct coop_loop *loop)
{
    return __atomic_load_n(&loop->sched_head, __ATOMIC_SEQ_CST) ||
           __atomic_load_n(&loop->intr_head, __ATOMIC_SEQ_CST) ||
           !coop_queue_empty(&loop->slept) || !coop_queue_empty(&loop->ready);
}

/* Wait for descriptors (and timers, schedules, releases) at most
 * timeout_ms; -1: until something happens. */
static void coop__loop_epoll(struct coop_loop *loop, int timeout_ms)
{
    struct epoll_event evs[COOP__EVENTS_PER_WAIT];
    bool evfd_ready = false;
    int n;

    /* A pending notification (notified still set) means a pusher may have
     * written the eventfd after our last read took its count, and the
     * next pusher will not write again: do not block on it. */
    if (timeout_ms != 0) {
        __atomic_store_n(&loop->sleeping, 1, __ATOMIC_SEQ_CST);
        if (coop__has_work(loop) ||
            __atomic_exchange_n(&loop->kicked, 0, __ATOMIC_SEQ_CST) ||
            __atomic_load_n(&loop->notified, __ATOMIC_SEQ_CST))
            timeout_ms = 0;
    }
    n = epoll_wait(loop->epfd, evs, COOP__EVENTS_PER_WAIT, timeout_ms);
    __atomic_store_n(&loop->sleeping, 0, __ATOMIC_SEQ_CST);
    for (int i = 0; i < n; i++)
        if (evs[i].data.u64 == COOP__EVFD_TAG)
            evfd_ready = true;
    /* Accept notifications first, then empty the counter: a write that
     * lands after the read is seen readable by the next epoll_wait, and
     * one whose count the read took leaves notified set (above). */
    if (__atomic_exchange_n(&loop->notified, 0, __ATOMIC_SEQ_CST) ||
        evfd_ready) {
        uint64_t count;
        ssize_t r = read(loop->evfd, &count, sizeof(count));

        (void)r; /* EAGAIN: nothing was left */
    }
    for (int i = 0; i < n; i++)
        if (evs[i].data.u64 != COOP__EVFD_TAG)
            coop__fd_events(loop, evs[i].data.u64, evs[i].events);
}

static int coop__timeout_ms(struct coop_loop *loop)
{
    int64_t next = coop__timer_next(loop), ns;

    if (next < 0)
        return -1;
    ns = next - coop__now_ns();
    if (ns <= 0)
        return 0;
    /* round up: waking early would only mean a second epoll_wait */
    return ns >= (int64_t)INT32_MAX * 1000000 ? INT32_MAX
                                              : (int)((ns + 999999) / 1000000);
}

static void coop__enter_from_loop(coop_t *co)
{
    coop__publish(co->waiting_on, NULL);
    coop_enter(co);
}

static struct coop_loop *coop__loop_for_main(const char *call)
{
    coop_t *self = coop__current_before_switch();
    struct coop_loop *loop;

    if (coop__unlikely(self && !self->is_main))
        coop__die("%s() called inside a coroutine; call it from the thread's "
                  "main context", call);
    loop = coop__loop_get();
    if (loop && coop__unlikely(loop->pid != getpid()))
        coop__die("%s(): the loop belongs to another process", call);
    return loop;
}

static bool coop__poll(struct coop_loop *loop, bool block)
{
    coop_t *sched, *co;
    int timeout_ms = 0;
    bool entered = false;

    coop__take_interrupts(loop);
    if (block && !coop__has_work(loop)) {
        timeout_ms = coop__timeout_ms(loop);
        if (timeout_ms != 0 && coop__timer_next(loop) >= 0 &&
            coop__timer_next(loop) <= coop__now_ns())
            timeout_ms = 0;
    }
    coop__loop_epoll(loop, timeout_ms);
    coop__take_interrupts(loop);
    sched = coop__take_schedules(loop);
    coop__timer_expire(loop, coop__now_ns());

    while (sched) {
        co = sched;
        sched = co->sched_next;
        co->sched_next = NULL;
        __atomic_store_n(&co->scheduled, 0, __ATOMIC_RELEASE);
        coop_enter(co);
        entered = true;
    }
    /* only what ended before this pass: waits that end while these run
     * are entered by the next one */
    {
        coop_queue_t slept = loop->slept, ready = loop->ready;

        coop_queue_init(&loop->slept);
        coop_queue_init(&loop->ready);
        while ((co = coop__fifo_pop(&slept)) != NULL) {
            coop__enter_from_loop(co);
            entered = true;
        }
        while ((co = coop__fifo_pop(&ready)) != NULL) {
            coop__enter_from_loop(co);
            entered = true;
        }
    }
    return entered;
}

bool coop_loop_poll(bool block)
{
    struct coop_loop *loop = coop__loop_for_main("coop_loop_poll");

    return loop ? coop__poll(loop, block) : false;
}

void coop_loop_run(void)
{
    struct coop_loop *loop = coop__loop_for_main("coop_loop_run");

    if (!loop)
        return;
    /* holds first: a thread schedules, then releases; seeing its release
     * means seeing its schedule too (both sequentially consistent) */
    while (__atomic_load_n(&loop->holds, __ATOMIC_SEQ_CST) > 0 ||
           loop->waits || coop__has_work(loop))
        coop__poll(loop, true);
}
