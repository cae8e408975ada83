/* SPDX-License-Identifier: MIT */
/* Core's private view of a coroutine and of a thread. */
#ifndef COOP_INTERNAL_H
#define COOP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coop.h"
#include "stack.h"
#include "switch.h"

#define COOP__NAME_MAX 32 /* bytes kept of a name, with its NUL */

#define coop__likely(x)   __builtin_expect(!!(x), 1)
#define coop__unlikely(x) __builtin_expect(!!(x), 0)

struct coop_loop;

/* A coroutine's sleep or descriptor wait in its thread's loop (loop.c). */
struct coop__loop_wait {
    struct coop_loop *loop;   /* where it waits                           */
    size_t      heap_at;      /* 1 + index in the loop's timer heap; 0    */
    int         fd;           /* -1: a sleep                              */
    short       events, revents;
    int         err;          /* 0, or EINTR                              */
    unsigned char state;      /* COOP__WAIT_* (atomic: coop_interrupt)    */
    unsigned char intr_queued;/* on the loop's interrupt list (atomic)    */
    coop_t     *intr_next;
};

struct coop {
    /* Read by the backends' fast paths at the offsets switch.h gives. */
    coop_t     *caller;     /* who entered us; NULL when not entered        */
    const void *waiting_on; /* the queue/mutex/rwlock we sleep in, or NULL  */
    coop_queue_t wakes;     /* coroutines woken while we ran, in order      */
    coop_t     *back;       /* set by who switched back to us as caller     */
    bool        is_main;    /* a thread's main-context handle               */
    bool        pooled;     /* finished, kept in a pool for reuse           */
    bool        woken;      /* on someone's wake-up list, not yet run       */
    bool        scheduled;  /* in a loop's schedule, not yet entered (atomic) */
    struct coop__thread *home; /* the thread that last entered us           */
    coop__ctx   ctx;        /* backend state                                */

    coop_queue_t pending;   /* our enter loop's coroutines still to enter   */
    coop_t     *next;       /* link: pending, wake-up, wait or pool FIFO    */
    coop_t     *batch_next; /* link between batches in the pool reserve     */
    coop_t     *reg_prev;   /* links in the debuggers' registry             */
    coop_t     *reg_next;
    coop_fn     fn;
    void       *opaque;
    size_t      locks_held;
    bool        started;    /* fn is running (for debuggers: new or not)    */
    bool        rw_read;    /* waiting in an rwlock for a read hold         */
    bool        has_name;
    unsigned char trim_state; /* pool scans survived idle (2: trimmed)    */
    size_t      stack_size; /* usable bytes, as coop_stack_size() reports  */
    coop__stack stack;      /* the mapping this struct lives in (not main)  */
    void       *stack_lo;   /* the stack is [stack_lo, this struct)         */
    /* for sanitizers and valgrind (hooks.c) */
    void       *asan_fake_stack;
    const void *asan_caller_bottom;
    size_t      asan_caller_size;
    void       *tsan_fiber;
    unsigned    valgrind_stack_id;
    char        name[COOP__NAME_MAX];
    /* for loops (loop.c) */
    struct coop__loop_wait wait;
    coop_t     *sched_next; /* link in a loop's schedule list (atomic)      */
    struct coop_loop *hop_to; /* scheduled there while running: after yield */
};

#define COOP__CHECK_OFFSET(field, off)                                      \
    _Static_assert(offsetof(struct coop, field) == (off),                   \
                   "switch.h disagrees with struct coop: " #field)
COOP__CHECK_OFFSET(caller, COOP__CO_CALLER);
COOP__CHECK_OFFSET(waiting_on, COOP__CO_WAITING_ON);
COOP__CHECK_OFFSET(wakes.coop_head_, COOP__CO_WAKE_HEAD);
COOP__CHECK_OFFSET(back, COOP__CO_BACK);
COOP__CHECK_OFFSET(is_main, COOP__CO_STATE);
COOP__CHECK_OFFSET(pooled, COOP__CO_STATE + 1);
COOP__CHECK_OFFSET(woken, COOP__CO_STATE + 2);
COOP__CHECK_OFFSET(scheduled, COOP__CO_STATE + 3);
COOP__CHECK_OFFSET(home, COOP__CO_HOME);
COOP__CHECK_OFFSET(ctx, COOP__CO_CTX);

/* The coroutine a backend's context belongs to. */
static inline coop_t *coop__ctx_owner(coop__ctx *ctx)
{
    return (coop_t *)(void *)((char *)ctx - offsetof(struct coop, ctx));
}

/* Per-thread state; the main-context handle is what coop_self() returns
 * outside any coroutine. */
struct coop__thread {
    coop_t  main;
    coop_t *pool;           /* idle coroutines, most recently finished first */
    size_t  pool_n;
    coop_t *surplus;        /* one batch of one stack size, for the reserve */
    size_t  surplus_n;
    size_t  releases;       /* coroutines put in the pool, ever             */
    void   *altstack;       /* signal stack we installed for overflows      */
    bool    altstack_ready; /* this thread has an alternate signal stack    */
    struct coop_loop *loop; /* made on first use; read by others (atomic)   */
    struct coop__bias *bias; /* mutexes biased to this thread (bias.h)      */
};

/* thread.c: thread-local storage.  Each accessor is a real call so no caller
 * keeps a thread-local address (or, on aarch64, the thread pointer) across a
 * switch: a suspended coroutine may resume on another thread. */
coop_t *coop__current(void);              /* NULL before the thread's first use */
void coop__set_current(coop_t *co);
struct coop__thread *coop__thread(void);  /* sets up the thread on first use */

#define COOP__TLS_FAST __attribute__((tls_model("initial-exec")))
extern __thread coop_t *coop__current_co COOP__TLS_FAST;

/*
 * coop__current() without the call, for functions that touch thread-local
 * storage only before their first switch (or never switch): after a switch
 * the compiler could reuse the thread pointer it computed here.  Public
 * functions are noinline (COOP_API), so a read here in one of them is never
 * merged into a caller that switches in between.
 */
static inline coop_t *coop__current_before_switch(void)
{
    return coop__current_co;
}

/* The running coroutine or the thread's main-context handle (coop_self()),
 * under the same rule as coop__current_before_switch(). */
static inline coop_t *coop__self_fast(void)
{
    coop_t *self = coop__current_before_switch();

    return __builtin_expect(self != NULL, 1) ? self : &coop__thread()->main;
}

/* pool.c */
coop_t *coop__pool_take(struct coop__thread *t, size_t stack_size);
void coop__pool_put(struct coop__thread *t, coop_t *co);
void coop__pool_free_all(struct coop__thread *t);

/* overflow.c */
extern int coop__overflow_armed; /* coop_catch_overflow() was called (also
                                    COOP__SLOW_OVERFLOW in coop__slow)   */
int coop__overflow_thread_prepare(struct coop__thread *t);
void coop__overflow_thread_exit(struct coop__thread *t);

/* registry.c: every coroutine whose stack exists, for debuggers. */
void coop__registry_add(coop_t *co);
void coop__registry_remove(coop_t *co);

/* coop.c */
void coop__destroy(coop_t *co);

/* The running coroutine, for blocking calls: misuse outside a coroutine
 * (under the rule of coop__current_before_switch()). */
__attribute__((noreturn, cold)) void coop__blocking_outside(const char *call);

static inline coop_t *coop__self_for_blocking(const char *call)
{
    coop_t *self = coop__current_before_switch();

    if (coop__unlikely(!self || self->is_main))
        coop__blocking_outside(call);
    return self;
}

/* Sleep in the primitive `on` until coop__wake_waiter() wakes us. */
void coop__sleep(coop_t *self, const void *on);

/* The same for the running coroutine, whose waiting_on was set before it
 * became visible to wakers (a lock's FIFO shared with other threads). */
void coop__sleep_published(void);

/* End co's sleep in a primitive and wake it: as coop_wake() does when co's
 * home is here, the calling thread, else in co's home loop
 * (coop_wake_home()). */
void coop__wake_waiter(coop_t *co, const struct coop__thread *here);

/* caller, waiting_on, woken, started: coop_get_state() may read them from
 * another thread, so they are written as (relaxed) atomics, which costs
 * nothing over a plain store. */
#define coop__publish(field, value)                                         \
    __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

/* Other threads read co->home (coop_home(), coop_wake_home()) while an
 * enter may rewrite it; the fast paths' plain store is the same access. */
static inline void coop__set_home(coop_t *co, struct coop__thread *t)
{
    __atomic_store_n(&co->home, t, __ATOMIC_RELAXED);
}

/* loop.c: what core's lifecycle needs of loops. */
extern const char coop__in_loop;         /* waiting_on of a loop wait    */
void coop__loop_hop(coop_t *co);         /* co yielded with hop_to set   */
void coop__wake_in_home(coop_t *co, struct coop__thread *home);
void coop__loop_thread_exit(struct coop__thread *t);

/* The one FIFO of coroutines, linked through co->next, under wake-up
 * lists, the enter loop's pending list, queues, mutexes and rwlocks. */
static inline void coop__fifo_push(coop_queue_t *q, coop_t *co)
{
    co->next = NULL;
    if (q->coop_tail_)
        q->coop_tail_->next = co;
    else
        q->coop_head_ = co;
    q->coop_tail_ = co;
}

static inline coop_t *coop__fifo_pop(coop_queue_t *q)
{
    coop_t *co = q->coop_head_;

    if (co) {
        q->coop_head_ = co->next;
        if (!q->coop_head_)
            q->coop_tail_ = NULL;
        co->next = NULL;
    }
    return co;
}

/* Move all of from (left empty) in front of q. */
static inline void coop__fifo_prepend(coop_queue_t *q, coop_queue_t *from)
{
    if (!from->coop_head_)
        return;
    from->coop_tail_->next = q->coop_head_;
    if (!q->coop_head_)
        q->coop_tail_ = from->coop_tail_;
    q->coop_head_ = from->coop_head_;
    from->coop_head_ = from->coop_tail_ = NULL;
}

/* A ring of coroutines through co->next, kept by its newest member: the
 * waiters of a mutex or rwlock in one pointer (oldest first out). */
static inline void coop__ring_push(coop_t **last, coop_t *co)
{
    if (*last) {
        co->next = (*last)->next;
        (*last)->next = co;
    } else {
        co->next = co;
    }
    *last = co;
}

static inline coop_t *coop__ring_first(coop_t *const *last)
{
    return *last ? (*last)->next : NULL;
}

static inline coop_t *coop__ring_pop(coop_t **last)
{
    coop_t *newest = *last, *oldest;

    if (!newest)
        return NULL;
    oldest = newest->next;
    if (oldest == newest)
        *last = NULL;
    else
        newest->next = oldest->next;
    oldest->next = NULL;
    return oldest;
}

#endif /* COOP_INTERNAL_H */
