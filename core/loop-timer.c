/* SPDX-License-Identifier: MIT */
/*
 * A loop's timers: a binary min-heap of waiting coroutines ordered by
 * (deadline, seq), each knowing its own index so that a wait that ends
 * early leaves in O(log n).  seq keeps equal deadlines in the order the
 * waits began.  The keys sit in the heap array itself: comparing through
 * the coroutines would cost a cache miss per level with many sleepers.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "loop.h"

static bool coop__timer_before(const struct coop__timer *a,
                               const struct coop__timer *b)
{
    return a->deadline < b->deadline ||
           (a->deadline == b->deadline && a->seq < b->seq);
}

static void coop__heap_set(struct coop_loop *loop, size_t i,
                           struct coop__timer t)
{
    loop->heap[i] = t;
    t.co->wait.heap_at = i + 1;
}

static void coop__heap_up(struct coop_loop *loop, size_t i)
{
    struct coop__timer t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!coop__timer_before(&t, &loop->heap[parent]))
            break;
        coop__heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    coop__heap_set(loop, i, t);
}

static void coop__heap_down(struct coop_loop *loop, size_t i)
{
    struct coop__timer t = loop->heap[i];

    for (;;) {
        size_t child = 2 * i + 1;

        if (child >= loop->heap_n)
            break;
        if (child + 1 < loop->heap_n &&
            coop__timer_before(&loop->heap[child + 1], &loop->heap[child]))
            child++;
        if (!coop__timer_before(&loop->heap[child], &t))
            break;
        coop__heap_set(loop, i, loop->heap[child]);
        i = child;
    }
    coop__heap_set(loop, i, t);
}

int coop__timer_add(struct coop_loop *loop, coop_t *co, int64_t deadline)
{
    if (loop->heap_n == loop->heap_cap) {
        size_t cap = loop->heap_cap ? 2 * loop->heap_cap : 64;
        struct coop__timer *heap = realloc(loop->heap, cap * sizeof(*heap));

        if (!heap) {
            errno = ENOMEM;
            return -1;
        }
        loop->heap = heap;
        loop->heap_cap = cap;
    }
    loop->heap[loop->heap_n].deadline = deadline;
    loop->heap[loop->heap_n].seq = loop->seq++;
    loop->heap[loop->heap_n].co = co;
    coop__heap_up(loop, loop->heap_n++);
    return 0;
}

void coop__timer_remove(struct coop_loop *loop, coop_t *co)
{
    size_t i;
    struct coop__timer last;

    if (!co->wait.heap_at)
        return;
    i = co->wait.heap_at - 1;
    co->wait.heap_at = 0;
    last = loop->heap[--loop->heap_n];
    if (last.co == co)
        return;
    coop__heap_set(loop, i, last);
    if (i > 0 && coop__timer_before(&last, &loop->heap[(i - 1) / 2]))
        coop__heap_up(loop, i);
    else
        coop__heap_down(loop, i);
}

int64_t coop__timer_next(const struct coop_loop *loop)
{
    return loop->heap_n ? loop->heap[0].deadline : -1;
}

/* Every wait whose deadline is not after now ends, earliest first. */
void coop__timer_expire(struct coop_loop *loop, int64_t now)
{
    while (loop->heap_n && loop->heap[0].deadline <= now)
        coop__loop_wait_over(loop, loop->heap[0].co, 0);
}

void coop__timer_free(struct coop_loop *loop)
{
    free(loop->heap);
    loop->heap = NULL;
    loop->heap_n = loop->heap_cap = 0;
}

int coop_sleep_ns(int64_t ns)
{
    coop_t *self = coop__self_for_blocking("coop_sleep_ns");
    struct coop_loop *loop = coop__loop_get();

    if (!loop)
        return -1;
    if (ns <= 0) { /* once round the loop */
        coop_schedule(loop, self);
        coop__sleep(self, NULL); /* a plain yield */
        return 0;
    }
    self->wait.fd = -1;
    if (coop__timer_add(loop, self, coop__now_ns() + ns) != 0)
        return -1;
    coop__loop_wait(self, loop);
    if (self->wait.err) {
        errno = self->wait.err;
        return -1;
    }
    return 0;
}
