/* SPDX-License-Identifier: MIT */
/*
 * The switch interface: the only thing core/ calls to move the CPU between
 * stacks.  One backend is compiled in; it defines struct coop__ctx (embedded
 * in every coroutine and in each thread's main-context handle) and the
 * functions below.  A backend never touches the pool, wake-up lists or lock
 * counts; core never touches registers or signals.
 */
#ifndef COOP_SWITCH_H
#define COOP_SWITCH_H

#include <stdbool.h>
#include <stddef.h>

typedef struct coop coop_t;

/* What the side that switches away tells the side it switches to. */
typedef enum coop__action {
    COOP__ENTER = 1,     /* caller -> coroutine: run                      */
    COOP__YIELD = 2,     /* coroutine -> caller: suspended, may resume    */
    COOP__TERMINATE = 3, /* coroutine -> caller: its function returned    */
} coop__action;

#if defined(COOP_BACKEND_UCONTEXT) || defined(COOP_BACKEND_SIGALTSTACK)
#include "sjlj.h"
#elif defined(COOP_BACKEND_ASM)
#include "asm.h"
#else
#error "no coroutine backend selected (configure --with-coroutine=...)"
#endif

/* The backend's name as coop_backend() reports it. */
extern const char coop__backend_name[];

/* Smallest usable stack the backend accepts, in bytes (at most 16 KiB). */
extern const size_t coop__backend_min_stack;

/*
 * Make ctx a context on the stack [stack_lo, stack_lo + stack_bytes) such
 * that the first coop__ctx_switch() into it calls coop__coroutine_main(co)
 * there.  Runs on the creating thread; may be slow.  0, or -1 with errno.
 */
int coop__ctx_make(coop__ctx *ctx, void *stack_lo, size_t stack_bytes,
                   coop_t *co);

/*
 * ctx belongs to a pooled coroutine about to run a new function: the next
 * switch into it must give it the floating-point control state of the
 * context that enters it, as a new coroutine gets.
 */
void coop__ctx_restart(coop__ctx *ctx);

/* ctx's stack is about to be unmapped. */
void coop__ctx_release(coop__ctx *ctx);

/*
 * The backend header above also provides the switch itself, as an inline
 * function or a macro (so that it can run in the caller's own frame):
 *
 *   coop__action coop__ctx_switch(coop__ctx *from, coop__ctx *to,
 *                                 coop__action action);
 *
 * Save the current context into from, resume to handing it action, and
 * evaluate to the action passed by whoever switches back into from.  No
 * syscalls, no allocation, no locks.  A function that uses it must not read
 * thread-local storage both before and after it.
 */

/*
 * A backend whose switch goes through functions that ThreadSanitizer
 * intercepts (sigsetjmp/siglongjmp) defines COOP__SWITCH_CALLS_LEAVE_HOOK
 * in its header and calls coop__hooks_leave_ctx() itself, between saving
 * `from` and jumping, when coop__hooks_on is set; otherwise core calls the
 * hook right before the switch.  Contexts that run code on a new stack
 * while being made bracket it with the coop__hooks_boot_* calls (hooks.h).
 */

/* Provided by core: the body of every coroutine; never returns. */
void coop__coroutine_main(coop_t *co) __attribute__((noreturn));

#endif /* COOP_SWITCH_H */
