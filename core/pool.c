/* SPDX-License-Identifier: MIT */
/*
 * Per-thread pools of finished coroutines.  A pooled coroutine keeps its
 * stack and its backend context, so reusing one costs no mmap, no malloc
 * and no context creation: it re-enters its trampoline loop.
 */
#include "config.h"

#include "coop-internal.h"

#define COOP__POOL_MAX_DEFAULT 64

static size_t coop__pool_max = COOP__POOL_MAX_DEFAULT;

void coop_pool_set_max(size_t n)
{
    __atomic_store_n(&coop__pool_max, n, __ATOMIC_RELAXED);
}

size_t coop_pool_size(void)
{
    return coop__thread()->pool_n;
}

void coop_pool_drain(void)
{
    coop__pool_free_all(coop__thread());
}

coop_t *coop__pool_take(struct coop__thread *t, size_t stack_size)
{
    coop_t **link;

    for (link = &t->pool; *link; link = &(*link)->next) {
        coop_t *co = *link;
        if (co->stack_size == stack_size) {
            *link = co->next;
            t->pool_n--;
            return co;
        }
    }
    return NULL;
}

void coop__pool_put(struct coop__thread *t, coop_t *co)
{
    size_t max = __atomic_load_n(&coop__pool_max, __ATOMIC_RELAXED);

    /* A lowered limit takes effect here, one release at a time. */
    while (t->pool_n >= max && t->pool) {
        coop_t *old = t->pool;
        t->pool = old->next;
        t->pool_n--;
        coop__destroy(old);
    }
    if (t->pool_n >= max) {
        coop__destroy(co);
        return;
    }
    co->finished = true;
    co->next = t->pool;
    t->pool = co;
    t->pool_n++;
}

void coop__pool_free_all(struct coop__thread *t)
{
    while (t->pool) {
        coop_t *co = t->pool;
        t->pool = co->next;
        coop__destroy(co);
    }
    t->pool_n = 0;
}
