/* SPDX-License-Identifier: MIT */
/*
 * Coroutine lifecycle: create, the enter loop, yield, wake, finish.
 *
 * Every coroutine that runs has a caller: the context whose coop_enter()
 * (or wake-up list) started it, and to which it yields.  The enterer keeps
 * a pending list: the coroutine it was asked to run, then whatever that one
 * woke while it ran, depth first.  With a backend's fast paths (switch.h)
 * the common cases never come here: a plain enter and yield switch in
 * assembly, and a yield that woke some goes straight to the first of them.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "coop-internal.h"
#include "diag.h"
#include "hooks.h"

void coop_attr_init(coop_attr_t *attr)
{
    memset(attr, 0, sizeof(*attr));
}

const char *coop_version(void)
{
    return PACKAGE_VERSION;
}

const char *coop_backend(void)
{
    return coop__backend_name;
}

/* ------------------------------------------------------------- lifecycle */

static coop_t *coop__new(size_t usable)
{
    coop__stack stack;
    void *stack_lo;
    coop_t *co;

    co = coop__stack_map(usable, sizeof(*co), &stack, &stack_lo);
    if (!co)
        return NULL;
    /* Fresh anonymous pages are zero: every field starts cleared. */
    coop__hooks_stack_made(co, stack_lo, co);
    co->stack = stack;
    co->stack_size = usable;
    if (coop__ctx_make(&co->ctx, stack_lo,
                       (size_t)((char *)co - (char *)stack_lo), co) != 0) {
        int err = errno; /* the backend's reason */
        coop__hooks_stack_gone(co);
        coop__stack_unmap(&stack);
        errno = err;
        return NULL;
    }
    coop__registry_add(co);
    return co;
}

void coop__destroy(coop_t *co)
{
    coop__stack stack = co->stack; /* co lives inside the mapping */

    coop__registry_remove(co);
    coop__hooks_stack_gone(co);
    coop__ctx_release(&co->ctx);
    coop__stack_unmap(&stack);
}

/* Both public creators, without a call (through the PLT) between them. */
static inline __attribute__((always_inline)) coop_t *
coop__create(const coop_attr_t *attr, coop_fn fn, void *opaque)
{
    struct coop__thread *t;
    size_t usable;
    coop_t *co;

    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    if (coop__stack_usable_size(attr ? attr->stack_size : 0, &usable) != 0)
        return NULL;

    t = coop__thread();
    if (coop__unlikely(__atomic_load_n(&coop__overflow_armed, __ATOMIC_RELAXED)))
        if (coop__overflow_thread_prepare(t) != 0)
            return NULL;
    co = coop__pool_take(t, usable);
    if (co) {
        coop__ctx_restart(&co->ctx);
        co->pooled = false;
    } else {
        co = coop__new(usable);
        if (!co)
            return NULL;
    }
    co->fn = fn;
    co->opaque = opaque;
    co->next = NULL;
    coop__set_home(co, t);
    co->hop_to = NULL;
    co->has_name = attr && attr->name;
    if (co->has_name) {
        strncpy(co->name, attr->name, COOP__NAME_MAX - 1);
        co->name[COOP__NAME_MAX - 1] = '\0';
    }
    return co;
}

coop_t *coop_create(coop_fn fn, void *opaque)
{
    return coop__create(NULL, fn, opaque);
}

coop_t *coop_create_attr(const coop_attr_t *attr, coop_fn fn, void *opaque)
{
    return coop__create(attr, fn, opaque);
}

/* ------------------------------------------------------------ switching */

/*
 * The one way core switches: the backend's switch, announced to the
 * sanitizers.  Evaluates to the action whoever switches back hands us.  A
 * macro, as the backend's switch may be (sigsetjmp must run in the frame
 * that resumes).
 */
#ifdef COOP__SWITCH_CALLS_LEAVE_HOOK
#define coop__announce_leave(from, to, action) ((void)0) /* the backend does */
#else
#define coop__announce_leave(from, to, action)                              \
    do {                                                                    \
        if (coop__hooks_active())                                           \
            coop__hooks_leave((from), (to),                                 \
                              (action) == COOP__ENTER ? COOP__LEAVE_ENTER   \
                              : (action) == COOP__YIELD ? COOP__LEAVE_YIELD \
                                                        : COOP__LEAVE_FINISH); \
    } while (0)
#endif
#define coop__switch(from, to, action)                                      \
    __extension__({                                                         \
        coop_t *coop_sw_from_ = (from), *coop_sw_to_ = (to);                \
        coop__action coop_sw_back_;                                         \
        coop__announce_leave(coop_sw_from_, coop_sw_to_, (action));         \
        coop_sw_back_ = coop__ctx_switch(&coop_sw_from_->ctx,               \
                                         &coop_sw_to_->ctx, (action));      \
        /* Back: entered by a caller, unless we were the enterer. */        \
        if (coop__hooks_active())                                           \
            coop__hooks_arrive(coop_sw_from_, (action) != COOP__ENTER);     \
        coop_sw_back_;                                                      \
    })

/* Runs on the coroutine's own stack, entered by the backend's trampoline.
 * A pooled coroutine comes back here with its next function. */
void coop__coroutine_main(coop_t *co)
{
    if (coop__hooks_active())
        coop__hooks_arrive(co, true);
    for (;;) {
        coop_t *caller;
        char label[COOP__LABEL_MAX];

        coop__publish(co->started, true);
        co->fn(co->opaque);
        coop__publish(co->started, false);
        if (co->locks_held)
            coop__die("coroutine %s finished while holding %zu lock(s)",
                      coop__label(co, label), co->locks_held);
        if (coop__unlikely(__atomic_load_n(&co->scheduled, __ATOMIC_ACQUIRE)))
            coop__die("coroutine %s finished while scheduled into a loop "
                      "(after coop_schedule() of itself it must yield)",
                      coop__label(co, label));
        caller = co->caller;
        coop__publish(co->caller, NULL);
        caller->back = co;
        coop__switch(co, caller, COOP__TERMINATE);
    }
}

/* --------------------------------------------------------------- misuse */

/* Why co may not be entered or woken now; only called when it may not. */
static __attribute__((noreturn, cold, noinline))
void coop__not_runnable(const coop_t *co)
{
    char label[COOP__LABEL_MAX];

    if (co->is_main)
        coop__die("the main-context handle (coop_self() outside a coroutine) "
                  "cannot be entered or woken");
    if (co->pooled)
        coop__die("coroutine %p entered or woken after it finished",
                  (const void *)co);
    if (co->caller)
        coop__die("coroutine %s re-entered recursively",
                  coop__label(co, label));
    if (co->waiting_on == &coop__in_loop)
        coop__die("coroutine %s entered, woken or scheduled while it waits in "
                  "the loop (a sleep or descriptor wait; coop_interrupt ends "
                  "one)", coop__label(co, label));
    if (co->waiting_on)
        coop__die("coroutine %s entered or woken while it waits in a queue, "
                  "mutex or rwlock", coop__label(co, label));
    if (__atomic_load_n(&co->scheduled, __ATOMIC_RELAXED))
        coop__die("coroutine %s entered or woken while it is scheduled into a "
                  "loop and has not run yet", coop__label(co, label));
    coop__die("coroutine %s is already woken and has not run yet",
              coop__label(co, label));
}

/* The one runnable check of coop_enter() and coop_wake() (the backends'
 * fast paths test the same fields, see switch.h): co must be a suspended
 * or new coroutine, sleeping in no primitive. */
static inline void coop__check_runnable(const coop_t *co)
{
    if (coop__unlikely(co->caller || co->waiting_on || co->is_main ||
                       co->pooled || co->woken ||
                       __atomic_load_n(&co->scheduled, __ATOMIC_RELAXED)))
        coop__not_runnable(co);
}

/* A coroutine that passed coop__check_runnable() when it was entered or
 * woken, about to run: only being entered or put to sleep meanwhile can
 * have changed that (a woken one cannot finish, nor become a main). */
static inline void coop__check_still_runnable(const coop_t *co)
{
    if (coop__unlikely(co->caller || co->waiting_on))
        coop__not_runnable(co);
}

/* ------------------------------------------------------------ enter loop */

/*
 * The enter loop: enter first (unless NULL), then each coroutine of
 * self->pending in turn on behalf of self, each one's own woken ones right
 * after it.  Whoever switches
 * back to self names itself in self->back: the coroutine entered, or one
 * that a fast coop_yield() handed the CPU to directly (coop__handoff()).
 * A macro so that, without fast paths, it runs in coop_enter()'s own frame
 * (what debuggers show of an enterer, even in a stripped library).
 */
#define COOP__ENTER_LOOP(self, first)                                       \
    do {                                                                    \
        coop_t *to = (first) ? (first) : coop__next_pending(self);          \
                                                                            \
        while (to) {                                                        \
            coop__action action;                                            \
            coop_t *back;                                                   \
                                                                            \
            coop__publish(to->caller, (self));                              \
            coop__set_home(to, (self)->home);                               \
            coop__set_current(to);                                          \
            action = coop__switch((self), to, COOP__ENTER);                 \
            coop__set_current(self);                                        \
            back = (self)->back;                                            \
            coop__fifo_prepend(&(self)->pending, &back->wakes);             \
            if (action == COOP__TERMINATE)                                  \
                coop__pool_put(coop__thread(), back);                       \
            else if (coop__unlikely(back->hop_to))                          \
                coop__loop_hop(back);                                       \
            to = coop__next_pending(self);                                  \
        }                                                                   \
    } while (0)

/* The next coroutine of self's pending list, ready to be entered. */
static inline coop_t *coop__next_pending(coop_t *self)
{
    coop_t *to = coop__fifo_pop(&self->pending);

    if (to) {
        coop__publish(to->woken, false);
        coop__check_still_runnable(to);
    }
    return to;
}

/*
 * With the sigsetjmp backends the switch runs in the frame of the loop;
 * nothing in that frame runs between a switch and the jump back into it,
 * so no local can change in between, and gcc's -Wclobbered warning (which
 * cannot see that) is silenced for the functions that contain it.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
#endif

/* With fast paths the backend defines coop_enter/coop_yield and comes
 * here for everything else; otherwise these are the public functions. */
#ifdef COOP__BACKEND_FAST_PATHS
static void coop__run(coop_t *self, coop_t *first)
{
    COOP__ENTER_LOOP(self, first);
}

void coop__enter_slow(coop_t *first)
#else
void coop_enter(coop_t *first)
#endif
{
    coop_t *self = coop__current_before_switch();

    if (coop__unlikely(!self))
        self = &coop__thread()->main;
    if (coop__unlikely(__atomic_load_n(&coop__overflow_armed, __ATOMIC_RELAXED)))
        coop__overflow_thread_prepare(coop__thread());
    coop__check_runnable(first);
#ifdef COOP__BACKEND_FAST_PATHS
    coop__run(self, first);
#else
    COOP__ENTER_LOOP(self, first);
#endif
}

#ifdef COOP__BACKEND_FAST_PATHS
#define COOP__YIELD_FULL coop__yield_slow
#else
#define COOP__YIELD_FULL coop_yield
#endif

void COOP__YIELD_FULL(void)
{
    coop_t *self = coop__current_before_switch();
    coop_t *to;

    if (coop__unlikely(!self || self->is_main))
        coop__die("coop_yield() called outside a coroutine");
    to = self->caller;
    coop__publish(self->caller, NULL);
    to->back = self;
    coop__switch(self, to, COOP__YIELD);
}

#ifdef COOP__BACKEND_FAST_PATHS
/* A fast coop_enter() of from by self comes back with work: finish it,
 * on self's stack, as the enter loop would have. */
void coop__enter_resume(coop_t *self, coop_t *from, coop__action action)
{
    coop__set_current(self);
    coop__fifo_prepend(&self->pending, &from->wakes);
    if (action == COOP__TERMINATE)
        coop__pool_put(coop__thread(), from);
    else if (coop__unlikely(from->hop_to))
        coop__loop_hop(from);
    if (self->pending.coop_head_)
        coop__run(self, NULL);
}

/* self yields having woken some, and its caller runs core's enter loop:
 * do what that loop would do after the switch and before the next one,
 * and name the coroutine to switch to instead of the loop. */
coop_t *coop__handoff(coop_t *self)
{
    coop_t *loop = self->caller;
    coop_t *to;

    coop__fifo_prepend(&loop->pending, &self->wakes);
    to = coop__fifo_pop(&loop->pending); /* the first self woke */
    coop__publish(to->woken, false);
    coop__check_still_runnable(to);
    coop__publish(to->caller, loop);
    coop__set_home(to, loop->home);
    coop__ctx_adopt_fresh(&to->ctx, &loop->ctx);
    coop__publish(self->caller, NULL);
    return to;
}
#endif

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void coop_wake(coop_t *co)
{
    coop_t *self = coop__current_before_switch();
    char label[COOP__LABEL_MAX];

    if (!self || self->is_main) {
#ifdef COOP__BACKEND_FAST_PATHS
        coop__coop_enter_direct(co);
#else
        coop_enter(co);
#endif
        return;
    }
    if (coop__unlikely(co == self))
        coop__die("coroutine %s woke itself", coop__label(co, label));
    coop__check_runnable(co);
    coop__publish(co->woken, true);
    coop__fifo_push(&self->wakes, co);
}

/* ------------------------------------------------- sleeping in primitives */

void coop__blocking_outside(const char *call)
{
    coop__die("%s() called outside a coroutine", call);
}

void coop__sleep_published(void)
{
#ifdef COOP__BACKEND_FAST_PATHS
    coop__coop_yield_direct();
#else
    coop_yield();
#endif
}

void coop__sleep(coop_t *self, const void *on)
{
    coop__publish(self->waiting_on, on);
    coop__sleep_published();
}

void coop__wake_waiter(coop_t *co, const struct coop__thread *here)
{
    /* co sleeps (or is about to, on its thread): its home is settled */
    struct coop__thread *home = __atomic_load_n(&co->home, __ATOMIC_RELAXED);

    coop__publish(co->waiting_on, NULL);
    if (coop__likely(home == here))
        coop_wake(co);
    else
        coop__wake_in_home(co, home);
}

/* ---------------------------------------------------------- introspection */

coop_t *coop_self(void)
{
    return coop__self_fast();
}

bool coop_in_coroutine(void)
{
    coop_t *self = coop__current_before_switch();

    return self && !self->is_main;
}

bool coop_entered(const coop_t *co)
{
    return co->caller != NULL;
}

const char *coop_name(const coop_t *co)
{
    return co->has_name ? co->name : NULL;
}

size_t coop_stack_size(const coop_t *co)
{
    return co->stack_size;
}

coop_state_t coop_get_state(const coop_t *co)
{
    char label[COOP__LABEL_MAX];

    if (co->is_main)
        return COOP_STATE_ENTERED;
    if (coop__unlikely(co->pooled))
        coop__die("coop_get_state() of coroutine %s, which has finished",
                  coop__label(co, label));
    if (__atomic_load_n(&co->caller, __ATOMIC_RELAXED))
        return COOP_STATE_ENTERED;
    if (__atomic_load_n(&co->scheduled, __ATOMIC_RELAXED))
        return COOP_STATE_SCHEDULED;
    if (__atomic_load_n(&co->woken, __ATOMIC_RELAXED))
        return COOP_STATE_WOKEN;
    if (__atomic_load_n(&co->waiting_on, __ATOMIC_RELAXED))
        return COOP_STATE_WAITING;
    return __atomic_load_n(&co->started, __ATOMIC_RELAXED) ? COOP_STATE_SUSPENDED
                                                           : COOP_STATE_NEW;
}

const char *coop_state_name(coop_state_t state)
{
    static const char *const names[] = {
        [COOP_STATE_NEW] = "new",         [COOP_STATE_SUSPENDED] = "suspended",
        [COOP_STATE_ENTERED] = "entered", [COOP_STATE_WOKEN] = "woken",
        [COOP_STATE_SCHEDULED] = "scheduled", [COOP_STATE_WAITING] = "waiting",
    };

    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state]
                                                               : NULL;
}

bool coop_enter_if_inactive(coop_t *co)
{
    coop_state_t state = coop_get_state(co);

    if (state != COOP_STATE_NEW && state != COOP_STATE_SUSPENDED)
        return false;
#ifdef COOP__BACKEND_FAST_PATHS
    coop__coop_enter_direct(co);
#else
    coop_enter(co);
#endif
    return true;
}

size_t coop_locks_held(void)
{
    return coop__self_fast()->locks_held;
}
