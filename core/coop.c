/* SPDX-License-Identifier: MIT */
/*
 * Coroutine lifecycle: create, the enter loop, yield, wake, finish.
 *
 * Every coroutine that runs has a caller: the context whose coop_enter()
 * (or wake-up list) started it, and to which it yields.  coop_enter() keeps
 * a pending list: the coroutine it was asked to run, then whatever that one
 * woke while it ran, depth first.
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
    co->stack = stack;
    co->stack_size = usable;
    coop__hooks_stack_made(co, stack_lo, co);
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

coop_t *coop_create(coop_fn fn, void *opaque)
{
    return coop_create_attr(NULL, fn, opaque);
}

coop_t *coop_create_attr(const coop_attr_t *attr, coop_fn fn, void *opaque)
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
    co->has_name = attr && attr->name;
    if (co->has_name) {
        strncpy(co->name, attr->name, COOP__NAME_MAX - 1);
        co->name[COOP__NAME_MAX - 1] = '\0';
    }
    return co;
}

/* Runs on the coroutine's own stack, entered by the backend's trampoline.
 * A pooled coroutine comes back here with its next function. */
void coop__coroutine_main(coop_t *co)
{
    for (;;) {
        coop_t *caller;
        char label[COOP__LABEL_MAX];

        if (coop__unlikely(coop__hooks_on))
            coop__hooks_arrive(co, true);
        co->fn(co->opaque);
        if (co->locks_held)
            coop__die("coroutine %s finished while holding %zu lock(s)",
                      coop__label(co, label), co->locks_held);
        caller = co->caller;
        co->caller = NULL;
#ifndef COOP__SWITCH_CALLS_LEAVE_HOOK
        if (coop__unlikely(coop__hooks_on))
            coop__hooks_leave(co, caller, COOP__LEAVE_FINISH);
#endif
        coop__ctx_switch(&co->ctx, &caller->ctx, COOP__TERMINATE);
    }
}

/* --------------------------------------------------------------- misuse */

/* Checks shared by coop_enter() and coop_wake(): co must be a suspended or
 * new coroutine, sleeping in no primitive. */
static void coop__check_runnable(const coop_t *co)
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
    if (co->waiting_on)
        coop__die("coroutine %s entered or woken while it waits in a queue, "
                  "mutex or rwlock", coop__label(co, label));
    if (co->woken)
        coop__die("coroutine %s is already woken and has not run yet",
                  coop__label(co, label));
}

/* ------------------------------------------------------------ enter loop */

static void coop__enter_checked(coop_t *co)
{
    if (coop__unlikely(co->is_main || co->pooled || co->caller ||
                       co->waiting_on || co->woken))
        coop__check_runnable(co);
}

/*
 * The enter loop.  With the sigsetjmp backends the switch runs in this very
 * frame; nothing in this frame runs between a switch and the jump back into
 * it, so no local can change in between, and gcc's -Wclobbered warning
 * (which cannot see that) is silenced here.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wclobbered"
#endif
void coop_enter(coop_t *first)
{
    coop_t *self = coop__current_before_switch();
    coop_t *pending;

    if (coop__unlikely(!self))
        self = &coop__thread()->main;
    if (coop__unlikely(__atomic_load_n(&coop__overflow_armed, __ATOMIC_RELAXED)))
        coop__overflow_thread_prepare(coop__thread());
    coop__enter_checked(first);
    first->next = NULL;
    pending = first;
    while (pending) {
        coop_t *to = pending;
        coop__action action;

        pending = to->next;
        to->woken = false;
        if (coop__unlikely(to->caller || to->waiting_on))
            coop__check_runnable(to); /* entered or put to sleep meanwhile */
        to->caller = self;
        coop__set_current(to);
#ifndef COOP__SWITCH_CALLS_LEAVE_HOOK
        if (coop__unlikely(coop__hooks_on))
            coop__hooks_leave(self, to, COOP__LEAVE_ENTER);
#endif
        action = coop__ctx_switch(&self->ctx, &to->ctx, COOP__ENTER);
        if (coop__unlikely(coop__hooks_on))
            coop__hooks_arrive(self, false);
        coop__set_current(self);

        /* What to woke runs next, before the rest of the list. */
        if (to->wake_head) {
            to->wake_tail->next = pending;
            pending = to->wake_head;
            to->wake_head = to->wake_tail = NULL;
        }
        if (action == COOP__TERMINATE)
            coop__pool_put(coop__thread(), to);
    }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

void coop_yield(void)
{
    coop_t *self = coop__current_before_switch();
    coop_t *to;

    if (coop__unlikely(!self || self->is_main))
        coop__die("coop_yield() called outside a coroutine");
    to = self->caller;
    self->caller = NULL;
#ifndef COOP__SWITCH_CALLS_LEAVE_HOOK
    if (coop__unlikely(coop__hooks_on))
        coop__hooks_leave(self, to, COOP__LEAVE_YIELD);
#endif
    coop__ctx_switch(&self->ctx, &to->ctx, COOP__YIELD);
    if (coop__unlikely(coop__hooks_on))
        coop__hooks_arrive(self, true);
}

void coop_wake(coop_t *co)
{
    coop_t *self = coop__current_before_switch();
    char label[COOP__LABEL_MAX];

    if (!self || self->is_main) {
        coop_enter(co);
        return;
    }
    if (coop__unlikely(co == self))
        coop__die("coroutine %s woke itself", coop__label(co, label));
    if (coop__unlikely(co->is_main || co->pooled || co->caller ||
                       co->waiting_on || co->woken))
        coop__check_runnable(co);
    co->woken = true;
    co->next = NULL;
    if (self->wake_tail)
        self->wake_tail->next = co;
    else
        self->wake_head = co;
    self->wake_tail = co;
}

/* ------------------------------------------------- sleeping in primitives */

coop_t *coop__self_for_blocking(const char *call)
{
    coop_t *self = coop__current_before_switch();

    if (coop__unlikely(!self || self->is_main))
        coop__die("%s() called outside a coroutine", call);
    return self;
}

void coop__sleep(coop_t *self, const void *on)
{
    self->waiting_on = on;
    coop_yield();
}

void coop__wake_waiter(coop_t *co)
{
    co->waiting_on = NULL;
    coop_wake(co);
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

size_t coop_locks_held(void)
{
    return coop__self_fast()->locks_held;
}
