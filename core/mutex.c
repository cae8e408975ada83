/* SPDX-License-Identifier: MIT */
/*
 * Fair coroutine mutex, safe across threads (QEMU's CoMutex behaviour).
 *
 * The state word is the holder's handle with two flag bits: WAITERS (the
 * FIFO is not empty) and QLOCK (the bit lock of spin.h, which guards the
 * FIFO).  Uncontended, lock and unlock are one compare-and-swap each
 * (0 -> self, self -> 0).  Unlock with waiters hands the mutex straight to
 * the first of them (it is the holder before it even runs), so nobody
 * barges in and waiters are served in arrival order.  The waiter is woken
 * as coop_wake() does on its own thread, in its home loop from any other
 * (coop__wake_waiter).  A coroutine that finds the mutex held by a context
 * running on another thread, with nobody waiting, spins briefly first: the
 * holder may let go sooner than two switches and a loop's wake-up take.
 */
#include "config.h"

#include "coop-internal.h"
#include "diag.h"
#include "spin.h"

#define COOP__MX_WAITERS ((uintptr_t)1)
#define COOP__MX_QLOCK   ((uintptr_t)2)
#define COOP__MX_FLAGS   (COOP__MX_WAITERS | COOP__MX_QLOCK)

/* Rounds of waiting for a holder on another thread before queueing. */
#define COOP__MX_SPINS 1000

_Static_assert(_Alignof(struct coop) > COOP__MX_FLAGS,
               "the mutex flags live in the low bits of a handle");

static inline coop_t *coop__mx_holder(uintptr_t s)
{
    return (coop_t *)(s & ~COOP__MX_FLAGS);
}

void coop_mutex_init(coop_mutex_t *m)
{
    __atomic_store_n(&m->coop_state_, 0, __ATOMIC_RELAXED);
    coop_queue_init(&m->coop_waiters_);
}

static inline bool coop__mx_try(coop_mutex_t *m, coop_t *self)
{
    uintptr_t free = 0;

    return __atomic_compare_exchange_n(&m->coop_state_, &free,
                                       (uintptr_t)self, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Wait (without queueing) while holder s runs elsewhere and nobody waits;
 * true once self took the mutex. */
static bool coop__mx_spin(coop_mutex_t *m, coop_t *self)
{
    unsigned round = 0;

    for (int i = 0; i < COOP__MX_SPINS; i++) {
        uintptr_t s = __atomic_load_n(&m->coop_state_, __ATOMIC_RELAXED);

        if (s == 0 && coop__mx_try(m, self))
            return true;
        if (s & COOP__MX_WAITERS)
            return false; /* others queued first: join them */
        coop__spin_wait(&round);
    }
    return false;
}

static __attribute__((noinline)) void coop__mx_lock_slow(coop_mutex_t *m,
                                                         coop_t *self)
{
    char label[COOP__LABEL_MAX];
    bool spun = false;

    for (;;) {
        uintptr_t s = __atomic_load_n(&m->coop_state_, __ATOMIC_RELAXED);
        coop_t *holder;

        if (s == 0) {
            if (coop__mx_try(m, self))
                return;
            continue;
        }
        if (coop__mx_holder(s) == self)
            coop__die("coroutine %s locked a mutex it already holds (%p)",
                      coop__label(self, label), (void *)m);
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
                return;
            continue;
        }
        /* a waiter before anyone can see us in the FIFO */
        coop__publish(self->waiting_on, m);
        coop__fifo_push(&m->coop_waiters_, self);
        coop__bit_unlock(&m->coop_state_, s | COOP__MX_WAITERS);
        coop__sleep_published(self); /* the unlocker made us the holder */
        return;
    }
}

void coop_mutex_lock(coop_mutex_t *m)
{
    coop_t *self = coop__self_for_blocking("coop_mutex_lock");

    if (coop__unlikely(!coop__mx_try(m, self)))
        coop__mx_lock_slow(m, self);
    self->locks_held++;
}

bool coop_mutex_trylock(coop_mutex_t *m)
{
    coop_t *self = coop__self_fast();

    if (!coop__mx_try(m, self))
        return false;
    self->locks_held++;
    return true;
}

static __attribute__((noinline)) void coop__mx_unlock_slow(coop_mutex_t *m,
                                                           coop_t *self,
                                                           uintptr_t s)
{
    coop_t *next;

    if (coop__mx_holder(s) != self)
        coop__die("unlocking mutex %p, which the caller does not hold",
                  (void *)m);
    s = coop__bit_lock(&m->coop_state_, COOP__MX_QLOCK);
    next = coop__fifo_pop(&m->coop_waiters_);
    if (!next) { /* only a spinner had the bit */
        coop__bit_unlock(&m->coop_state_, 0);
        return;
    }
    coop__bit_unlock(&m->coop_state_,
                     (uintptr_t)next | (coop_queue_empty(&m->coop_waiters_)
                                            ? 0 : COOP__MX_WAITERS));
    coop__wake_waiter(next);
}

void coop_mutex_unlock(coop_mutex_t *m)
{
    coop_t *self = coop__self_fast();
    uintptr_t s = (uintptr_t)self;

    if (coop__unlikely(!__atomic_compare_exchange_n(
            &m->coop_state_, &s, 0, false, __ATOMIC_RELEASE,
            __ATOMIC_RELAXED)))
        coop__mx_unlock_slow(m, self, s);
    self->locks_held--;
}
