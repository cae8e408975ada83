/* SPDX-License-Identifier: MIT */
/*
 * ucontext backend: makecontext() and one setcontext() make a context, once
 * per coroutine (pooled coroutines keep it); every switch after that is the
 * sigsetjmp/siglongjmp pair of sjlj.c.
 */
#undef _FORTIFY_SOURCE /* see sjlj.c: siglongjmp crosses stacks here too */

#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <ucontext.h>

#include "switch.h"

const char coop__backend_name[] = "ucontext";
const size_t coop__backend_min_stack = 16 * 1024;

/* Lives on the creator's stack for the duration of coop__ctx_make(). */
struct coop__ucontext_start {
    coop__ctx        *ctx;
    coop_t           *co;
    sigjmp_buf        back;
    struct coop__boot boot; /* for sanitizers, see switch.h */
};

/* makecontext() passes int arguments only: the pointer travels in halves. */
static void coop__ucontext_trampoline(unsigned int hi, unsigned int lo)
{
    struct coop__ucontext_start *start =
        (struct coop__ucontext_start *)(uintptr_t)(((uint64_t)hi << 32) | lo);
    coop_t *co = start->co;

    /* The outermost frame of the coroutine: unwinders (backtrace(), gdb,
     * C++ exceptions) stop here rather than in makecontext's helper. */
#if defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__x86_64__)
    __asm__ volatile(".cfi_undefined rip");
#elif defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__aarch64__)
    __asm__ volatile(".cfi_undefined x30");
#elif defined(__GCC_HAVE_DWARF2_CFI_ASM) && defined(__riscv)
    __asm__ volatile(".cfi_undefined ra");
#endif
    if (coop__hooks_active())
        coop__hooks_boot_arrive(&start->boot);
    /* Capture this frame, then return to the creator; the first switch into
     * the context lands here and runs the coroutine. */
    if (sigsetjmp(start->ctx->env, 0) == 0) {
        if (coop__hooks_active())
            coop__hooks_boot_leave(co, &start->boot);
        siglongjmp(start->back, 1);
    }
    coop__coroutine_main(co);
}

int coop__ctx_make(coop__ctx *ctx, void *stack_lo, size_t stack_bytes,
                   coop_t *co)
{
    struct coop__ucontext_start start;
    ucontext_t uc;
    uint64_t p = (uintptr_t)&start;

    if (getcontext(&uc) == -1)
        return -1;
    uc.uc_link = NULL;
    uc.uc_stack.ss_sp = stack_lo;
    uc.uc_stack.ss_size = stack_bytes;
    uc.uc_stack.ss_flags = 0;
    start.ctx = ctx;
    start.co = co;
    makecontext(&uc, (void (*)(void))coop__ucontext_trampoline, 2,
                (unsigned int)(p >> 32), (unsigned int)p);
    if (sigsetjmp(start.back, 0) == 0) {
        if (coop__hooks_active())
            coop__hooks_boot_go(co, &start.boot);
        /* setcontext, not swapcontext: we come back by siglongjmp anyway,
         * and AddressSanitizer warns about every swapcontext call. */
        setcontext(&uc);
        return -1; /* setcontext failed; errno is set */
    }
    if (coop__hooks_active())
        coop__hooks_boot_back(&start.boot);
    ctx->fpc_valid = false;
    return 0;
}
