/* SPDX-License-Identifier: MIT */
/*
 * The registry of every coroutine that exists (suspended, running or
 * pooled), for debuggers.  A coroutine joins when its stack is made and
 * leaves when the stack goes back to the system, so pool reuse costs
 * nothing here.
 *
 * Debuggers read it without debug information (a packaged libcoop is
 * stripped): coop__debug is the one exported symbol outside the API, and it
 * carries the offsets of the fields they need.  Bump COOP__DEBUG_VERSION
 * when the meaning of any field changes; gdb/libcoop-gdb.py checks it.
 */
#include "config.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "coop-internal.h"

#define COOP__DEBUG_VERSION 2 /* 2: off_started, asm frame flags */

struct coop__debug_info {
    uint32_t    version;
    uint32_t    coop_size;        /* sizeof(struct coop)                  */
    coop_t     *head;             /* registered coroutines, newest first  */
    uint64_t    count;
    const char *backend;          /* coop_backend(): says how ctx reads   */
    /* offsets in struct coop */
    uint16_t    off_ctx;
    uint16_t    off_reg_next;
    uint16_t    off_caller;
    uint16_t    off_name;         /* char[COOP__NAME_MAX]                 */
    uint16_t    off_has_name;     /* bool                                 */
    uint16_t    off_pooled;       /* bool: in a pool                       */
    uint16_t    off_waiting_on;   /* pointer: asleep in a primitive       */
    uint16_t    off_woken;        /* bool                                 */
    uint16_t    off_stack_lo;     /* pointer: the stack is [stack_lo, co) */
    uint16_t    off_stack_size;   /* size_t: usable bytes                 */
    uint16_t    off_fn;           /* entry function                       */
    uint16_t    off_started;      /* bool: its function is running        */
};

__attribute__((visibility("default"))) struct coop__debug_info coop__debug = {
    .version = COOP__DEBUG_VERSION,
    .coop_size = sizeof(struct coop),
    .off_ctx = offsetof(struct coop, ctx),
    .off_reg_next = offsetof(struct coop, reg_next),
    .off_caller = offsetof(struct coop, caller),
    .off_name = offsetof(struct coop, name),
    .off_has_name = offsetof(struct coop, has_name),
    .off_pooled = offsetof(struct coop, pooled),
    .off_waiting_on = offsetof(struct coop, waiting_on),
    .off_woken = offsetof(struct coop, woken),
    .off_stack_lo = offsetof(struct coop, stack_lo),
    .off_stack_size = offsetof(struct coop, stack_size),
    .off_fn = offsetof(struct coop, fn),
    .off_started = offsetof(struct coop, started),
};

static pthread_mutex_t coop__registry_lock = PTHREAD_MUTEX_INITIALIZER;

void coop__registry_add(coop_t *co)
{
    pthread_mutex_lock(&coop__registry_lock);
    coop__debug.backend = coop__backend_name;
    co->reg_prev = NULL;
    co->reg_next = coop__debug.head;
    if (co->reg_next)
        co->reg_next->reg_prev = co;
    coop__debug.head = co;
    coop__debug.count++;
    pthread_mutex_unlock(&coop__registry_lock);
}

void coop__registry_remove(coop_t *co)
{
    pthread_mutex_lock(&coop__registry_lock);
    if (co->reg_prev)
        co->reg_prev->reg_next = co->reg_next;
    else
        coop__debug.head = co->reg_next;
    if (co->reg_next)
        co->reg_next->reg_prev = co->reg_prev;
    coop__debug.count--;
    pthread_mutex_unlock(&coop__registry_lock);
}
