/* SPDX-License-Identifier: MIT */
/*
 * Pools of finished coroutines.  A pooled coroutine keeps its stack and its
 * backend context, so reusing one costs no mmap, no malloc and no context
 * creation: it re-enters its trampoline loop.
 *
 * Each thread keeps up to coop_pool_set_max() coroutines.  Beyond that it
 * collects a surplus batch of one stack size and hands it to a small
 * process-wide reserve, where a thread that runs short picks a whole batch
 * up: a thread that only creates and one that only finishes coroutines then
 * meet there instead of in mmap.
 *
 * Stacks that once ran deep keep their pages while they sit in a pool; a
 * coroutine that stayed idle in its thread's pool for a whole trim period
 * gives back what lies more than COOP__STACK_KEEP below its top (the page
 * work is coop__stack_trim() in stack.c).
 */
#include "config.h"

#include <pthread.h>

#include "coop-internal.h"
#include "stack.h"

#define COOP__POOL_MAX_DEFAULT 64
#define COOP__BATCH_MAX        32           /* coroutines per batch        */
#define COOP__RESERVE_BATCHES  4            /* batches in the reserve      */
#define COOP__TRIM_PERIOD      64           /* releases between trim scans */
#define COOP__STACK_KEEP       ((size_t)64 << 10)

static size_t coop__pool_max = COOP__POOL_MAX_DEFAULT;

/* The reserve: batches chained through their first coroutine's batch_next,
 * the rest of a batch through next. */
static pthread_mutex_t coop__reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static coop_t *coop__reserve;
static size_t coop__reserve_batches;

void coop_pool_set_max(size_t n)
{
    __atomic_store_n(&coop__pool_max, n, __ATOMIC_RELAXED);
}

size_t coop_pool_size(void)
{
    return coop__thread()->pool_n;
}

static size_t coop__batch_size(size_t max)
{
    size_t b = max / 2;

    return b > COOP__BATCH_MAX ? COOP__BATCH_MAX : b;
}

/* Destroy a list of coroutines linked through next. */
static void coop__list_free(coop_t *co)
{
    while (co) {
        coop_t *next = co->next;
        coop__destroy(co);
        co = next;
    }
}

/* ------------------------------------------------------------- reserve */

/* Put t's surplus (a batch of one stack size) into the reserve; free it
 * when the reserve is full. */
static void coop__reserve_put(struct coop__thread *t)
{
    coop_t *batch = t->surplus;

    t->surplus = NULL;
    t->surplus_n = 0;
    pthread_mutex_lock(&coop__reserve_lock);
    if (coop__reserve_batches < COOP__RESERVE_BATCHES) {
        batch->batch_next = coop__reserve;
        /* atomic: coop__reserve_take() peeks at it without the lock */
        __atomic_store_n(&coop__reserve, batch, __ATOMIC_RELAXED);
        coop__reserve_batches++;
        batch = NULL;
    }
    pthread_mutex_unlock(&coop__reserve_lock);
    coop__list_free(batch);
}

/* Take a batch of stack_size coroutines from the reserve as t's surplus. */
static bool coop__reserve_take(struct coop__thread *t, size_t stack_size)
{
    coop_t **link, *batch = NULL;
    size_t n = 0;

    if (!__atomic_load_n(&coop__reserve, __ATOMIC_RELAXED))
        return false;
    pthread_mutex_lock(&coop__reserve_lock);
    for (link = &coop__reserve; *link; link = &(*link)->batch_next) {
        if ((*link)->stack_size == stack_size) {
            batch = *link;
            __atomic_store_n(link, batch->batch_next, __ATOMIC_RELAXED);
            coop__reserve_batches--;
            break;
        }
    }
    pthread_mutex_unlock(&coop__reserve_lock);
    if (!batch)
        return false;
    coop__list_free(t->surplus);
    for (coop_t *co = batch; co; co = co->next)
        n++;
    t->surplus = batch;
    t->surplus_n = n;
    return true;
}

static void coop__reserve_free_all(void)
{
    coop_t *batches;

    pthread_mutex_lock(&coop__reserve_lock);
    batches = coop__reserve;
    __atomic_store_n(&coop__reserve, NULL, __ATOMIC_RELAXED);
    coop__reserve_batches = 0;
    pthread_mutex_unlock(&coop__reserve_lock);
    while (batches) {
        coop_t *batch = batches;
        batches = batch->batch_next;
        coop__list_free(batch);
    }
}

/* ------------------------------------------------------- deep stacks */

/* Trim each stack once, at the first scan after a whole trim period idle:
 * coop__pool_take() resets trim_state, so busy stacks keep their pages. */
static void coop__trim_scan(struct coop__thread *t)
{
    for (coop_t *co = t->pool; co; co = co->next) {
        if (co->trim_state == 1)
            coop__stack_trim(co->stack_lo, co, COOP__STACK_KEEP);
        if (co->trim_state < 2)
            co->trim_state++;
    }
}

/* ----------------------------------------------------------- the pool */

coop_t *coop__pool_take(struct coop__thread *t, size_t stack_size)
{
    coop_t **link, *co;

    for (link = &t->pool; *link; link = &(*link)->next) {
        co = *link;
        if (co->stack_size == stack_size) {
            *link = co->next;
            t->pool_n--;
            co->trim_state = 0;
            return co;
        }
    }
    if ((!t->surplus || t->surplus->stack_size != stack_size) &&
        !coop__reserve_take(t, stack_size))
        return NULL;
    co = t->surplus;
    t->surplus = co->next;
    t->surplus_n--;
    co->trim_state = 0;
    return co;
}

void coop__pool_put(struct coop__thread *t, coop_t *co)
{
    size_t max = __atomic_load_n(&coop__pool_max, __ATOMIC_RELAXED);
    size_t batch;

    co->pooled = true;
    /* A lowered limit takes effect here. */
    while (t->pool_n > max) {
        coop_t *old = t->pool;
        t->pool = old->next;
        t->pool_n--;
        coop__destroy(old);
    }
    if (t->pool_n < max) {
        co->next = t->pool;
        t->pool = co;
        t->pool_n++;
        if (++t->releases % COOP__TRIM_PERIOD == 0)
            coop__trim_scan(t);
        return;
    }
    /* Full: collect a batch of one stack size for the reserve. */
    batch = coop__batch_size(max);
    if (batch == 0 || (t->surplus && t->surplus->stack_size != co->stack_size)) {
        coop__destroy(co);
        return;
    }
    co->next = t->surplus;
    t->surplus = co;
    if (++t->surplus_n >= batch)
        coop__reserve_put(t);
}

void coop__pool_free_all(struct coop__thread *t)
{
    coop__list_free(t->pool);
    t->pool = NULL;
    t->pool_n = 0;
    coop__list_free(t->surplus);
    t->surplus = NULL;
    t->surplus_n = 0;
}

void coop_pool_drain(void)
{
    coop__pool_free_all(coop__thread());
    coop__reserve_free_all();
}
