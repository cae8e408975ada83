/* SPDX-License-Identifier: MIT */
/*
 * Coroutine rwlock after QEMU's CoRwlock, safe across threads.  The state
 * word holds the readers (in units of READER) or WRITER, and SPIN, the bit
 * lock of spin.h that every operation takes for a few instructions: one
 * atomic read-modify-write per call when nobody waits.  Waiters queue in
 * arrival order in the coroutine FIFO, each marked with what it waits for
 * (rw_read).  The side that releases grants the lock to the first waiter
 * before waking it, so nobody sneaks in between; a woken reader passes the
 * grant on to a reader right behind it.  Waking is coop__wake_waiter()'s:
 * coop_wake() on the waiter's own thread, its home loop from another.
 */
#include "config.h"

#include "coop-internal.h"
#include "diag.h"
#include "spin.h"

#define COOP__RW_SPIN   ((uintptr_t)1)
#define COOP__RW_WRITER ((uintptr_t)2)
#define COOP__RW_READER ((uintptr_t)4) /* one reader */

static inline uintptr_t coop__rw_lock(coop_rwlock_t *l)
{
    return coop__bit_lock(&l->coop_state_, COOP__RW_SPIN);
}

static inline void coop__rw_unlock(coop_rwlock_t *l, uintptr_t s)
{
    coop__bit_unlock(&l->coop_state_, s);
}

void coop_rwlock_init(coop_rwlock_t *l)
{
    __atomic_store_n(&l->coop_state_, 0, __ATOMIC_RELAXED);
    coop_queue_init(&l->coop_waiters_);
}

/* Under SPIN: grant the lock to the first waiter if it can have it now,
 * updating *s; the caller wakes it once SPIN is released. */
static coop_t *coop__rw_grant_first(coop_rwlock_t *l, uintptr_t *s)
{
    coop_t *first = l->coop_waiters_.coop_head_;

    if (!first)
        return NULL;
    if (first->rw_read ? (*s & COOP__RW_WRITER) != 0 : *s != 0)
        return NULL;
    *s = first->rw_read ? *s + COOP__RW_READER : COOP__RW_WRITER;
    return coop__fifo_pop(&l->coop_waiters_);
}

static void coop__rw_release_and_wake(coop_rwlock_t *l, uintptr_t s)
{
    coop_t *next = coop__rw_grant_first(l, &s);

    coop__rw_unlock(l, s);
    if (next)
        coop__wake_waiter(next);
}

/* Under SPIN (state s): queue self, release SPIN, sleep until granted. */
static void coop__rw_wait(coop_rwlock_t *l, uintptr_t s, coop_t *self,
                          bool read)
{
    self->rw_read = read;
    /* a waiter before anyone can see us in the FIFO */
    coop__publish(self->waiting_on, l);
    coop__fifo_push(&l->coop_waiters_, self);
    coop__rw_unlock(l, s);
    coop__sleep_published(self);
}

void coop_rwlock_rdlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_rdlock");
    uintptr_t s = coop__rw_lock(l);

    /* A writer in line goes first: readers do not overtake it. */
    if (!(s & COOP__RW_WRITER) && coop_queue_empty(&l->coop_waiters_)) {
        coop__rw_unlock(l, s + COOP__RW_READER);
    } else {
        coop__rw_wait(l, s, self, true);
        /* a reader behind us may come in too */
        coop__rw_release_and_wake(l, coop__rw_lock(l));
    }
    self->locks_held++;
}

void coop_rwlock_wrlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_wrlock");
    uintptr_t s = coop__rw_lock(l);

    if (s == 0 && coop_queue_empty(&l->coop_waiters_))
        coop__rw_unlock(l, COOP__RW_WRITER);
    else
        coop__rw_wait(l, s, self, false);
    self->locks_held++;
}

void coop_rwlock_upgrade(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_upgrade");
    uintptr_t s = coop__rw_lock(l);
    coop_t *next;

    if (s < COOP__RW_READER || self->locks_held == 0) {
        coop__rw_unlock(l, s);
        coop__die("coop_rwlock_upgrade() on rwlock %p without a read hold",
                  (void *)l);
    }
    if (s == COOP__RW_READER && coop_queue_empty(&l->coop_waiters_)) {
        coop__rw_unlock(l, COOP__RW_WRITER);
        return;
    }
    /* Give up the read hold and queue as a writer behind the others. */
    s -= COOP__RW_READER;
    self->locks_held--;
    next = coop__rw_grant_first(l, &s);
    self->rw_read = false;
    coop__publish(self->waiting_on, l);
    coop__fifo_push(&l->coop_waiters_, self);
    coop__rw_unlock(l, s);
    if (next)
        coop__wake_waiter(next);
    coop__sleep_published(self);
    self->locks_held++;
}

void coop_rwlock_downgrade(coop_rwlock_t *l)
{
    uintptr_t s = coop__rw_lock(l);

    if (s != COOP__RW_WRITER) {
        coop__rw_unlock(l, s);
        coop__die("coop_rwlock_downgrade() on rwlock %p without the write hold",
                  (void *)l);
    }
    /* queued readers come in, up to a writer */
    coop__rw_release_and_wake(l, COOP__RW_READER);
}

void coop_rwlock_unlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_fast();
    uintptr_t s = coop__rw_lock(l);

    if (s == 0 || self->locks_held == 0) {
        coop__rw_unlock(l, s);
        coop__die("unlocking rwlock %p, which the caller does not hold",
                  (void *)l);
    }
    self->locks_held--;
    coop__rw_release_and_wake(l, s == COOP__RW_WRITER ? 0
                                                       : s - COOP__RW_READER);
}
