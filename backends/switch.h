/* SPDX-License-Identifier: MIT */
/*
 * The switch interface: everything core gives the backends and everything
 * core calls to move the CPU between stacks.  One backend is compiled in;
 * it defines struct coop__ctx (embedded in every coroutine and in each
 * thread's main-context handle) and the functions below.  A backend never
 * touches the pool, wake-up lists or lock counts; core never touches
 * registers or signals.  Backends include this header and nothing of
 * core's.
 *
 * The first block is read by the assembler too (a backend's fast paths
 * test a few fields of struct coop); everything else is C only.
 */
#ifndef COOP_SWITCH_H
#define COOP_SWITCH_H

/*
 * The fields of struct coop a backend's fast paths may read, at fixed
 * offsets at the head of the struct on every architecture
 * (coop-internal.h checks each against the struct):
 */
#define COOP__CO_CALLER     0  /* coop_t *: who entered it; NULL: not entered */
#define COOP__CO_WAITING_ON 8  /* pointer: asleep in a primitive              */
#define COOP__CO_WAKE_HEAD 16  /* coop_t *: first of those it woke            */
#define COOP__CO_BACK      32  /* coop_t *: written by whoever switches back
                                  to this one as its caller: itself          */
#define COOP__CO_STATE     40  /* 4 bytes, each a bool (is_main, pooled,
                                  woken, scheduled): the word is 0 when it may
                                  be entered as far as these say, and 0 in a
                                  running coroutine that may yield fast      */
#define COOP__CO_HOME      48  /* pointer: the thread that last entered it;
                                  an enter copies the enterer's             */
#define COOP__CO_CTX       56  /* struct coop__ctx                            */

/* Bits of coop__slow: a fast path that finds any set takes the slow one. */
#define COOP__SLOW_HOOKS    1u /* a sanitizer runtime wants to hear of switches */
#define COOP__SLOW_OVERFLOW 2u /* coop_catch_overflow(): threads need preparing */

#ifndef __ASSEMBLER__

#include <stdbool.h>
#include <stddef.h>

typedef struct coop coop_t;

/* What the side that switches away tells the side it switches to. */
typedef enum coop__action {
    COOP__ENTER = 1,     /* caller -> coroutine: run                      */
    COOP__YIELD = 2,     /* coroutine -> caller: suspended, may resume    */
    COOP__TERMINATE = 3, /* coroutine -> caller: its function returned    */
} coop__action;

/* Tested once by every fast path (COOP__SLOW_* bits); set before any
 * coroutine runs (hooks) or by coop_catch_overflow(). */
extern unsigned int coop__slow;

static inline bool coop__hooks_active(void)
{
    return __builtin_expect(
        (__atomic_load_n(&coop__slow, __ATOMIC_RELAXED) & COOP__SLOW_HOOKS) != 0,
        0);
}

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
 * thread-local storage both before and after it.  Core calls it only
 * through coop__switch() (coop.c), which adds the sanitizer hooks.
 */

/*
 * Fast paths.  A backend that defines COOP__BACKEND_FAST_PATHS in its
 * header provides the public coop_enter() and coop_yield() itself.  Each
 * handles the common case on its own -- nothing in coop__slow, a running
 * thread, a runnable coroutine (caller, waiting_on and the state word all
 * 0), and for coop_yield either nothing woken or a caller that is core's
 * enter loop -- by updating caller, the caller's back and the current
 * coroutine (coop__current_co) exactly as core would, and switching;
 * anything else it hands, untouched, to core's coop__enter_slow() or
 * coop__yield_slow() with the same arguments and return address.  When a
 * coroutine whose caller is core's enter loop yields having woken some,
 * coop__handoff(self) does the loop's bookkeeping and names the first of
 * them, which the fast path switches to directly instead of to the loop;
 * such a backend also provides coop__ctx_adopt_fresh(to, enterer), which
 * gives a new or reused to the control state of the enterer (the loop)
 * that it would have carried over had the loop switched to it.
 *
 * Such a backend may save the context of coop_enter()'s caller as it is
 * at that call, to be resumed by returning straight to the caller.  When
 * coop__ctx_switch() then switches to that context with COOP__YIELD or
 * COOP__TERMINATE (the coroutine woke others, finished, or yielded through
 * the slow path), the backend must instead run
 * coop__enter_resume(self, from, action) on the caller's stack, as if
 * coop_enter()'s caller had called it, so that core finishes the enter
 * and returns to that caller.
 */
#ifdef COOP__BACKEND_FAST_PATHS
/* The backend's coop_enter/coop_yield under hidden names, for core's own
 * calls (no PLT). */
void coop__coop_enter_direct(coop_t *co);
void coop__coop_yield_direct(void);
void coop__enter_slow(coop_t *co);
void coop__yield_slow(void);
void coop__enter_resume(coop_t *self, coop_t *from, coop__action action);
coop_t *coop__handoff(coop_t *self);
#endif

/* Provided by core: the body of every coroutine; never returns. */
void coop__coroutine_main(coop_t *co) __attribute__((noreturn));

/*
 * Sanitizer hooks for backends (hooks.c), called only when
 * coop__hooks_active().
 *
 * A backend whose switch goes through functions that ThreadSanitizer
 * intercepts (sigsetjmp/siglongjmp) defines COOP__SWITCH_CALLS_LEAVE_HOOK
 * in its header and calls coop__hooks_leave_ctx() itself, between saving
 * `from` and jumping; otherwise core calls its hook right before the
 * switch.  action is what the switch hands over.
 */
void coop__hooks_leave_ctx(coop__ctx *from, coop__ctx *to, int action);

/*
 * Making a context may run code on the new stack before the coroutine
 * exists for anyone (ucontext, sigaltstack).  The backend brackets that:
 * boot_go in the creator right before jumping onto the new stack,
 * boot_arrive first thing there, boot_leave there right before jumping
 * back, boot_back in the creator after it is back.
 */
struct coop__boot {
    void       *creator_fake_stack;
    const void *creator_bottom;
    size_t      creator_size;
    void       *creator_fiber;
};
void coop__hooks_boot_go(coop_t *co, struct coop__boot *b);
void coop__hooks_boot_arrive(struct coop__boot *b);
void coop__hooks_boot_leave(coop_t *co, struct coop__boot *b);
void coop__hooks_boot_back(struct coop__boot *b);

#endif /* !__ASSEMBLER__ */

#endif /* COOP_SWITCH_H */
