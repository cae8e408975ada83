/* SPDX-License-Identifier: MIT */
/*
 * Fair coroutine mutex, safe across threads (QEMU's CoMutex behaviour).
 *
 * The state word is the holder's handle with two flag bits: WAITERS (the
 * FIFO is not empty) and QLOCK (a bit lock, spin.h, that guards the FIFO
 * when threads share the mutex).  The FIFO is a ring through co->next; the
 * mutex keeps its newest waiter.  Unlock with waiters hands the mutex
 * straight to the oldest (it is the holder before it even runs), so nobody
 * barges in and waiters are served in arrival order.  A waiter is woken as
 * coop_wake() does on its own thread, in its home loop from any other
 * (coop__wake_waiter).
 *
 * Two ways to change the state (the bias word says which, bias.h):
 *  - biased: the one thread the mutex is biased to uses plain loads and
 *    stores, so a mutex that never leaves its thread costs no atomic
 *    instruction, contended or not;
 *  - shared: once a second thread has used it, compare-and-swap: one each
 *    way uncontended (0 -> self, self -> 0), the bit lock around the FIFO
 *    otherwise.  A coroutine that finds the mutex held by a context
 *    running on another thread, with nobody waiting, spins briefly first:
 *    the holder may let go sooner than two switches and a loop wake-up.
 */
#include "config.h"

#include "bias.h"
#include "coop-internal.h"
#include "diag.h"
#include "spin.h"

#define COOP__MX_WAITERS ((uintptr_t)1)
#define COOP__MX_QLOCK   ((uintptr_t)2)
#define COOP__MX_FLAGS   (COOP__MX_WAITERS | COOP__MX_QLOCK)

/* Rounds of waiting for a holder on another thread before queueing. */
#define COOP__MX_SPINS 256

_Static_assert(_Alignof(struct coop) > COOP__MX_FLAGS,
               "the mutex flags live in the low bits of a handle");

static inline coop_t *coop__mx_holder(uintptr_t s)
{
    return (coop_t *)(s & ~COOP__MX_FLAGS);
}

static inline uintptr_t coop__mx_load(const coop_mutex_t *m)
{
    return __atomic_load_n(&m->coop_state_, __ATOMIC_RELAXED);
}

/* What a lock attempt came to. */
enum coop__mx_took { COOP__MX_TOOK, COOP__MX_QUEUED, COOP__MX_UNBIASED };

/* Under QLOCK: queue self and publish s | WAITERS (which releases QLOCK).
 * The caller then sleeps until the unlocker hands it the mutex. */
static void coop__mx_queue(coop_mutex_t *m, coop_t *self, uintptr_t s)
{
    coop__publish(self->waiting_on, m); /* a waiter before it is visible */
    coop__ring_push(&m->coop_last_, self);
    coop__bit_unlock(&m->coop_state_,
                     (s & ~COOP__MX_QLOCK) | COOP__MX_WAITERS);
}

/* Under the bias or QLOCK, s has WAITERS: hand m to the oldest waiter
 * (the store releases QLOCK) and return it, to be woken.  Its hold is
 * counted here, so that its coop_mutex_lock() ends with the switch itself
 * (a tail call: it resumes straight in its caller, no return to
 * mispredict). */
static inline coop_t *coop__mx_hand_over(coop_mutex_t *m)
{
    coop_t *next = coop__ring_pop(&m->coop_last_);

    next->locks_held++;

    coop__bit_unlock(&m->coop_state_,
                     (uintptr_t)next | (m->coop_last_ ? COOP__MX_WAITERS : 0));
    return next;
}

static __attribute__((noreturn, cold)) void coop__mx_relock(coop_mutex_t *m,
                                                            coop_t *self)
{
    char label[COOP__LABEL_MAX];

    coop__die("coroutine %s locked a mutex it already holds (%p)",
              coop__label(self, label), (void *)m);
}

static __attribute__((noreturn, cold)) void coop__mx_not_held(coop_mutex_t *m)
{
    coop__die("unlocking mutex %p, which the caller does not hold", (void *)m);
}

/* ---------------------------------------------------------------- bias */

static inline bool coop__mx_biased_to(const coop_mutex_t *m,
                                      const struct coop__bias *me)
{
    return coop__bias_is(&m->coop_bias_, me);
}

/* Lock on the bias (UNBIASED: taken away meanwhile, nothing done). */
static inline enum coop__mx_took coop__mx_lock_biased(coop_mutex_t *m,
                                                      coop_t *self,
                                                      struct coop__bias *me)
{
    uintptr_t s;

    coop__bias_enter(me, m);
    if (coop__unlikely(!coop__mx_biased_to(m, me))) {
        coop__bias_leave(me);
        return COOP__MX_UNBIASED;
    }
    s = coop__mx_load(m);
    if (coop__likely(s == 0)) {
        __atomic_store_n(&m->coop_state_, (uintptr_t)self, __ATOMIC_RELAXED);
        coop__bias_leave(me);
        return COOP__MX_TOOK;
    }
    if (coop__mx_holder(s) == self) {
        coop__bias_leave(me);
        coop__mx_relock(m, self);
    }
    coop__publish(self->waiting_on, m);
    coop__ring_push(&m->coop_last_, self);
    __atomic_store_n(&m->coop_state_, s | COOP__MX_WAITERS, __ATOMIC_RELAXED);
    coop__bias_leave(me);
    return COOP__MX_QUEUED;
}

/* Unlock on the bias: false when it was taken away meanwhile. */
static inline bool coop__mx_unlock_biased(coop_mutex_t *m, coop_t *self,
                                          struct coop__bias *me)
{
    uintptr_t s;
    coop_t *next;

    coop__bias_enter(me, m);
    if (coop__unlikely(!coop__mx_biased_to(m, me))) {
        coop__bias_leave(me);
        return false;
    }
    s = coop__mx_load(m);
    if (coop__unlikely(coop__mx_holder(s) != self)) {
        coop__bias_leave(me);
        coop__mx_not_held(m);
    }
    if (coop__likely(s == (uintptr_t)self)) {
        __atomic_store_n(&m->coop_state_, 0, __ATOMIC_RELAXED);
        coop__bias_leave(me);
        return true;
    }
    next = coop__mx_hand_over(m);
    coop__bias_leave(me);
    /* may enter it at once: off the bias first */
    coop__wake_waiter(next, self->home);
    return true;
}

/* --------------------------------------------------------------- shared */

static inline bool coop__mx_try(coop_mutex_t *m, coop_t *self)
{
    uintptr_t free = 0;

    return coop__mx_load(m) == 0 &&
           __atomic_compare_exchange_n(&m->coop_state_, &free,
                                       (uintptr_t)self, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Wait (without queueing) while the holder runs elsewhere and nobody
 * waits; true once self took the mutex. */
static bool coop__mx_spin(coop_mutex_t *m, coop_t *self)
{
    unsigned round = 0;

    for (int i = 0; i < COOP__MX_SPINS; i++) {
        uintptr_t s = coop__mx_load(m);

        if (s == 0 && coop__mx_try(m, self))
            return true;
        if (s & COOP__MX_WAITERS)
            return false; /* others queued first: join them */
        coop__spin_wait(&round);
    }
    return false;
}

static enum coop__mx_took coop__mx_lock_shared(coop_mutex_t *m, coop_t *self)
{
    bool spun = false;

    for (;;) {
        uintptr_t s = coop__mx_load(m);
        coop_t *holder;

        if (s == 0) {
            if (coop__mx_try(m, self))
                return COOP__MX_TOOK;
            continue;
        }
        if (coop__mx_holder(s) == self)
            coop__mx_relock(m, self);
        s = coop__bit_lock(&m->coop_state_, COOP__MX_QLOCK);
        holder = coop__mx_holder(s);
        if (!holder) { /* let go meanwhile */
            coop__bit_unlock(&m->coop_state_, s);
            continue;
        }
        /* Under QLOCK the holder cannot unlock, so it cannot finish:
         * reading its home is safe. */
        if (!spun && !(s & COOP__MX_WAITERS) &&
            __atomic_load_n(&holder->home, __ATOMIC_RELAXED) != self->home) {
            coop__bit_unlock(&m->coop_state_, s);
            spun = true;
            if (coop__mx_spin(m, self))
                return COOP__MX_TOOK;
            continue;
        }
        coop__mx_queue(m, self, s);
        return COOP__MX_QUEUED;
    }
}

static void coop__mx_unlock_shared(coop_mutex_t *m, coop_t *self)
{
    uintptr_t s = (uintptr_t)self;

    if (coop__likely(__atomic_compare_exchange_n(&m->coop_state_, &s, 0,
                                                 false, __ATOMIC_RELEASE,
                                                 __ATOMIC_RELAXED)))
        return;
    if (coop__mx_holder(s) != self)
        coop__mx_not_held(m);
    s = coop__bit_lock(&m->coop_state_, COOP__MX_QLOCK);
    if (!(s & COOP__MX_WAITERS)) { /* only a spinner had the bit */
        coop__bit_unlock(&m->coop_state_, 0);
        return;
    }
    coop__wake_waiter(coop__mx_hand_over(m), self->home);
}

/* ---------------------------------------------------------------- API */

void coop_mutex_init(coop_mutex_t *m)
{
    __atomic_store_n(&m->coop_state_, 0, __ATOMIC_RELAXED);
    m->coop_last_ = NULL;
    __atomic_store_n(&m->coop_bias_, COOP__BIAS_NONE, __ATOMIC_RELAXED);
}

void coop_mutex_lock(coop_mutex_t *m)
{
    coop_t *self = coop__self_for_blocking("coop_mutex_lock");
    struct coop__bias *me = self->home->bias;
    enum coop__mx_took took = COOP__MX_UNBIASED;

    if (coop__likely(coop__mx_biased_to(m, me)))
        took = coop__mx_lock_biased(m, self, me);
    if (coop__unlikely(took == COOP__MX_UNBIASED)) {
        if (coop__bias_settle(&m->coop_bias_, me, m))
            took = coop__mx_lock_biased(m, self, me);
        if (took == COOP__MX_UNBIASED)
            took = coop__mx_lock_shared(m, self);
    }
    if (coop__likely(took == COOP__MX_TOOK)) {
        self->locks_held++;
        return;
    }
    coop__sleep_published(); /* the unlocker makes us the holder */
}

bool coop_mutex_trylock(coop_mutex_t *m)
{
    coop_t *self = coop__self_fast();
    struct coop__bias *me = self->home->bias;
    uintptr_t free = 0;

    if (coop__mx_biased_to(m, me) ||
        coop__bias_settle(&m->coop_bias_, me, m)) {
        coop__bias_enter(me, m);
        if (coop__likely(coop__mx_biased_to(m, me))) {
            bool took = coop__mx_load(m) == 0;

            if (took)
                __atomic_store_n(&m->coop_state_, (uintptr_t)self,
                                 __ATOMIC_RELAXED);
            coop__bias_leave(me);
            self->locks_held += took;
            return took;
        }
        coop__bias_leave(me);
        coop__bias_settle(&m->coop_bias_, me, m); /* taken away: now shared */
    }
    if (!__atomic_compare_exchange_n(&m->coop_state_, &free, (uintptr_t)self,
                                     false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return false;
    self->locks_held++;
    return true;
}

void coop_mutex_unlock(coop_mutex_t *m)
{
    coop_t *self = coop__self_fast();
    struct coop__bias *me = self->home->bias;

    if (!coop__likely(coop__mx_biased_to(m, me) &&
                      coop__mx_unlock_biased(m, self, me))) {
        if (!(coop__bias_settle(&m->coop_bias_, me, m) &&
              coop__mx_unlock_biased(m, self, me)))
            coop__mx_unlock_shared(m, self);
    }
    self->locks_held--;
}
