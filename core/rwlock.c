/* SPDX-License-Identifier: MIT */
/*
 * Coroutine rwlock after QEMU's CoRwlock, safe across threads.  The state
 * word holds the readers (in units of READER) or WRITER, and SPIN, a bit
 * lock (spin.h).  Waiters queue in arrival order in a ring through
 * co->next, each marked with what it waits for (rw_read).  The side that
 * releases grants the lock to the first waiter before waking it, so nobody
 * sneaks in between; a woken reader passes the grant on to a reader right
 * behind it.  Waking is coop__wake_waiter()'s: coop_wake() on the waiter's
 * own thread, its home loop from another.
 *
 * Every call runs its logic in a short critical section: on the bias
 * (bias.h) while only one thread uses the rwlock, plain loads and stores;
 * under SPIN once threads share it, one atomic read-modify-write.  The
 * section never spans a switch: it ends before anyone is woken or sleeps.
 */
#include "config.h"

#include "bias.h"
#include "coop-internal.h"
#include "diag.h"
#include "spin.h"

#define COOP__RW_SPIN   ((uintptr_t)1)
#define COOP__RW_WRITER ((uintptr_t)2)
#define COOP__RW_READER ((uintptr_t)4) /* one reader */

/* The critical section: returns the state; *biased is the slot it runs
 * on, or NULL when it holds SPIN. */
static inline uintptr_t coop__rw_lock(coop_rwlock_t *l, coop_t *self,
                                      struct coop__bias **biased)
{
    struct coop__bias *me = self->home->bias;

    if (coop__bias_is(&l->coop_bias_, me) ||
        coop__bias_settle(&l->coop_bias_, me, l)) {
        coop__bias_enter(me, l);
        if (coop__likely(coop__bias_is(&l->coop_bias_, me))) {
            *biased = me;
            return __atomic_load_n(&l->coop_state_, __ATOMIC_RELAXED);
        }
        coop__bias_leave(me);
        coop__bias_settle(&l->coop_bias_, me, l); /* taken away: shared */
    }
    *biased = NULL;
    return coop__bit_lock(&l->coop_state_, COOP__RW_SPIN);
}

static inline void coop__rw_unlock(coop_rwlock_t *l, uintptr_t s,
                                   struct coop__bias *biased)
{
    if (biased) {
        __atomic_store_n(&l->coop_state_, s, __ATOMIC_RELAXED);
        coop__bias_leave(biased);
    } else {
        coop__bit_unlock(&l->coop_state_, s);
    }
}

void coop_rwlock_init(coop_rwlock_t *l)
{
    __atomic_store_n(&l->coop_state_, 0, __ATOMIC_RELAXED);
    l->coop_last_ = NULL;
    __atomic_store_n(&l->coop_bias_, COOP__BIAS_NONE, __ATOMIC_RELAXED);
}

/* In the section: grant the lock to the first waiter if it can have it
 * now, updating *s; the caller wakes it once the section is over. */
static coop_t *coop__rw_grant_first(coop_rwlock_t *l, uintptr_t *s)
{
    coop_t *first = coop__ring_first(&l->coop_last_);

    if (!first)
        return NULL;
    if (first->rw_read ? (*s & COOP__RW_WRITER) != 0 : *s != 0)
        return NULL;
    *s = first->rw_read ? *s + COOP__RW_READER : COOP__RW_WRITER;
    return coop__ring_pop(&l->coop_last_);
}

static void coop__rw_release_and_wake(coop_rwlock_t *l, uintptr_t s,
                                      struct coop__bias *biased,
                                      const coop_t *self)
{
    coop_t *next = coop__rw_grant_first(l, &s);

    coop__rw_unlock(l, s, biased);
    if (next)
        coop__wake_waiter(next, self->home);
}

/* In the section: queue self (a waiter before anyone can see it). */
static void coop__rw_queue(coop_rwlock_t *l, coop_t *self, bool read)
{
    self->rw_read = read;
    coop__publish(self->waiting_on, l);
    coop__ring_push(&l->coop_last_, self);
}

void coop_rwlock_rdlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_rdlock");
    struct coop__bias *biased;
    uintptr_t s = coop__rw_lock(l, self, &biased);

    /* A writer in line goes first: readers do not overtake it. */
    if (!(s & COOP__RW_WRITER) && !l->coop_last_) {
        coop__rw_unlock(l, s + COOP__RW_READER, biased);
    } else {
        coop__rw_queue(l, self, true);
        coop__rw_unlock(l, s, biased);
        coop__sleep_published();
        /* granted; a reader behind us may come in too */
        s = coop__rw_lock(l, self, &biased);
        coop__rw_release_and_wake(l, s, biased, self);
    }
    self->locks_held++;
}

void coop_rwlock_wrlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_wrlock");
    struct coop__bias *biased;
    uintptr_t s = coop__rw_lock(l, self, &biased);

    if (s == 0 && !l->coop_last_) {
        coop__rw_unlock(l, COOP__RW_WRITER, biased);
    } else {
        coop__rw_queue(l, self, false);
        coop__rw_unlock(l, s, biased);
        coop__sleep_published(); /* granted */
    }
    self->locks_held++;
}

void coop_rwlock_upgrade(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_upgrade");
    struct coop__bias *biased;
    uintptr_t s = coop__rw_lock(l, self, &biased);
    coop_t *next;

    if (s < COOP__RW_READER || self->locks_held == 0) {
        coop__rw_unlock(l, s, biased);
        coop__die("coop_rwlock_upgrade() on rwlock %p without a read hold",
                  (void *)l);
    }
    if (s == COOP__RW_READER && !l->coop_last_) {
        coop__rw_unlock(l, COOP__RW_WRITER, biased);
        return;
    }
    /* Give up the read hold and queue as a writer behind the others. */
    s -= COOP__RW_READER;
    self->locks_held--;
    next = coop__rw_grant_first(l, &s);
    coop__rw_queue(l, self, false);
    coop__rw_unlock(l, s, biased);
    if (next)
        coop__wake_waiter(next, self->home);
    coop__sleep_published();
    self->locks_held++;
}

void coop_rwlock_downgrade(coop_rwlock_t *l)
{
    coop_t *self = coop__self_fast();
    struct coop__bias *biased;
    uintptr_t s = coop__rw_lock(l, self, &biased);

    if (s != COOP__RW_WRITER) {
        coop__rw_unlock(l, s, biased);
        coop__die("coop_rwlock_downgrade() on rwlock %p without the write hold",
                  (void *)l);
    }
    /* queued readers come in, up to a writer */
    coop__rw_release_and_wake(l, COOP__RW_READER, biased, self);
}

void coop_rwlock_unlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_fast();
    struct coop__bias *biased;
    uintptr_t s = coop__rw_lock(l, self, &biased);

    if (s == 0 || self->locks_held == 0) {
        coop__rw_unlock(l, s, biased);
        coop__die("unlocking rwlock %p, which the caller does not hold",
                  (void *)l);
    }
    self->locks_held--;
    coop__rw_release_and_wake(l,
                              s == COOP__RW_WRITER ? 0 : s - COOP__RW_READER,
                              biased, self);
}
