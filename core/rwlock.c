/* SPDX-License-Identifier: MIT */
/*
 * Coroutine rwlock after QEMU's CoRwlock: owners counts the
 * readers, or is -1 for a writer; waiters queue in arrival order in the
 * coroutine FIFO, each marked with what it waits for (rw_read).  The side
 * that releases grants the lock to the first waiter before waking it, so
 * nobody sneaks in between; a woken reader passes the grant on to a reader
 * right behind it.
 */
#include "config.h"

#include "coop-internal.h"
#include "diag.h"

void coop_rwlock_init(coop_rwlock_t *l)
{
    l->coop_owners_ = 0;
    coop_queue_init(&l->coop_waiters_);
}

/* Grant the lock to the first waiter if it can have it now. */
static void coop__rw_wake_one(coop_rwlock_t *l)
{
    coop_t *first = l->coop_waiters_.coop_head_;

    if (!first)
        return;
    if (first->rw_read ? l->coop_owners_ < 0 : l->coop_owners_ != 0)
        return;
    l->coop_owners_ = first->rw_read ? l->coop_owners_ + 1 : -1;
    coop__fifo_pop(&l->coop_waiters_);
    coop__wake_waiter(first);
}

static void coop__rw_wait(coop_rwlock_t *l, coop_t *self, bool read)
{
    self->rw_read = read;
    coop__fifo_push(&l->coop_waiters_, self);
    coop__sleep(self, l);
}

void coop_rwlock_rdlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_rdlock");

    /* A writer in line goes first: readers do not overtake it. */
    if (l->coop_owners_ >= 0 && coop_queue_empty(&l->coop_waiters_)) {
        l->coop_owners_++;
    } else {
        coop__rw_wait(l, self, true);
        coop__rw_wake_one(l); /* a reader behind us may come in too */
    }
    self->locks_held++;
}

void coop_rwlock_wrlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_wrlock");

    if (l->coop_owners_ == 0 && coop_queue_empty(&l->coop_waiters_))
        l->coop_owners_ = -1;
    else
        coop__rw_wait(l, self, false);
    self->locks_held++;
}

void coop_rwlock_upgrade(coop_rwlock_t *l)
{
    coop_t *self = coop__self_for_blocking("coop_rwlock_upgrade");

    if (l->coop_owners_ <= 0 || self->locks_held == 0)
        coop__die("coop_rwlock_upgrade() on rwlock %p without a read hold",
                  (void *)l);
    if (l->coop_owners_ == 1 && coop_queue_empty(&l->coop_waiters_)) {
        l->coop_owners_ = -1;
        return;
    }
    /* Give up the read hold and queue as a writer behind the others. */
    l->coop_owners_--;
    self->locks_held--;
    coop__rw_wake_one(l);
    coop__rw_wait(l, self, false);
    self->locks_held++;
}

void coop_rwlock_downgrade(coop_rwlock_t *l)
{
    if (l->coop_owners_ != -1)
        coop__die("coop_rwlock_downgrade() on rwlock %p without the write hold",
                  (void *)l);
    l->coop_owners_ = 1;
    coop__rw_wake_one(l); /* queued readers come in, up to a writer */
}

void coop_rwlock_unlock(coop_rwlock_t *l)
{
    coop_t *self = coop__self_fast();

    if (l->coop_owners_ == 0 || self->locks_held == 0)
        coop__die("unlocking rwlock %p, which the caller does not hold",
                  (void *)l);
    self->locks_held--;
    if (l->coop_owners_ > 0)
        l->coop_owners_--;
    else
        l->coop_owners_ = 0;
    coop__rw_wake_one(l);
}
