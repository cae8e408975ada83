/* SPDX-License-Identifier: MIT */
/*
 * Fair coroutine mutex.  Unlock hands the mutex straight to the first
 * waiter (it becomes the holder before it even runs), so nobody can barge
 * in between, and waiters are served in arrival order.
 */
#include "config.h"

#include "coop-internal.h"
#include "diag.h"

void coop_mutex_init(coop_mutex_t *m)
{
    m->coop_holder_ = NULL;
    coop_queue_init(&m->coop_waiters_);
}

static void coop__mutex_take(coop_mutex_t *m, coop_t *holder)
{
    m->coop_holder_ = holder;
    holder->locks_held++;
}

void coop_mutex_lock(coop_mutex_t *m)
{
    coop_t *self = coop__self_for_blocking("coop_mutex_lock");
    char label[COOP__LABEL_MAX];

    if (coop__likely(!m->coop_holder_)) {
        coop__mutex_take(m, self);
        return;
    }
    if (m->coop_holder_ == self)
        coop__die("coroutine %s locked a mutex it already holds (%p)",
                  coop__label(self, label), (void *)m);
    coop__fifo_push(&m->coop_waiters_, self);
    coop__sleep(self, m); /* the unlocker made us the holder */
}

bool coop_mutex_trylock(coop_mutex_t *m)
{
    if (m->coop_holder_)
        return false;
    coop__mutex_take(m, coop__self_fast());
    return true;
}

void coop_mutex_unlock(coop_mutex_t *m)
{
    coop_t *self = coop__self_fast();
    coop_t *next;

    if (coop__unlikely(m->coop_holder_ != self))
        coop__die("unlocking mutex %p, which the caller does not hold",
                  (void *)m);
    self->locks_held--;
    m->coop_holder_ = NULL;
    next = coop__fifo_pop(&m->coop_waiters_);
    if (next) {
        coop__mutex_take(m, next);
        coop__wake_waiter(next);
    }
}
