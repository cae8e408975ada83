/* SPDX-License-Identifier: MIT */
/* Wait queues: a FIFO of coroutines (coop-internal.h) sleeping until
 * another wakes them.  No lock of their own: across threads every call is
 * made under one mutex, which orders them (coop.h). */
#include "config.h"

#include "coop-internal.h"

void coop_queue_init(coop_queue_t *q)
{
    q->coop_head_ = q->coop_tail_ = NULL;
}

void coop_queue_wait(coop_queue_t *q, coop_mutex_t *m)
{
    coop_t *self = coop__self_for_blocking("coop_queue_wait");

    /* A waker on another thread may take us off q as soon as m is free,
     * even before we yield: be a waiter first (it is entered after the
     * yield, in our home loop). */
    coop__publish(self->waiting_on, q);
    coop__fifo_push(q, self);
    if (m)
        coop_mutex_unlock(m);
    coop__sleep_published();
    if (m)
        coop_mutex_lock(m);
}

bool coop_queue_next(coop_queue_t *q)
{
    coop_t *co = coop__fifo_pop(q);

    if (!co)
        return false;
    coop__wake_waiter(co, coop__self_fast()->home);
    return true;
}

void coop_queue_restart_all(coop_queue_t *q)
{
    /* Take the waiters present now: from the main context each one runs at
     * once, and one that waits again must not be woken by this call. */
    coop_queue_t present = *q;

    coop_queue_init(q);
    while (coop_queue_next(&present)) {
    }
}

bool coop_queue_empty(const coop_queue_t *q)
{
    return q->coop_head_ == NULL;
}
