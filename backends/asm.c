/* SPDX-License-Identifier: MIT */
/*
 * Hand-written assembly backend, C side: the initial frame of a new
 * context.  The switch is in asm.h (an asm statement in the caller's frame)
 * and in asm-<arch>.S (coop__asm_switch and the entry trampoline
 * coop__asm_start); the frame layout is in asm-frame.h.
 *
 * A new context needs no syscall and nothing written but its frame and
 * one zeroed frame record at the top of its stack: the first switch into
 * it "resumes" at coop__asm_start with the stack pointer just below that
 * record, the coroutine handle in a callee-saved register and a zero frame
 * pointer; coop__asm_start calls coop__coroutine_main(co).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "switch.h"

#if defined(__x86_64__)
const char coop__backend_name[] = "asm-x86_64";
#elif defined(__aarch64__)
const char coop__backend_name[] = "asm-aarch64";
#elif defined(__riscv)
const char coop__backend_name[] = "asm-riscv64";
#endif

/* Enough for coop__coroutine_main, a user function of a few frames and a
 * signal handler on the same stack (the kernel's signal frame alone takes
 * a few KiB where it holds AVX-512 or SVE state).  The switch itself uses
 * no stack at all. */
const size_t coop__backend_min_stack = 16 * 1024;

/* In asm-<arch>.S: the first resume address of every context. */
extern void coop__asm_start(void) __attribute__((visibility("hidden")));

int coop__ctx_make(coop__ctx *ctx, void *stack_lo, size_t stack_bytes,
                   coop_t *co)
{
    /* The stack's top, 16-byte aligned; below it one zeroed frame record
     * (saved frame pointer 0, return address 0) for walkers that follow
     * frame pointers without looking at them first. */
    uintptr_t top = ((uintptr_t)stack_lo + stack_bytes) & ~(uintptr_t)15;
    uint64_t *record = (uint64_t *)top - 2;

    record[0] = 0;
    record[1] = 0;
    memset(ctx, 0, sizeof(*ctx));
#if defined(__x86_64__)
    ctx->rsp = (uint64_t)(uintptr_t)record;          /* 16-byte aligned */
    ctx->rip = (uint64_t)(uintptr_t)coop__asm_start;
    ctx->rbx = (uint64_t)(uintptr_t)co;              /* rbp stays 0 */
    ctx->mxcsr = COOP__FRAME_FRESH;
#elif defined(__aarch64__)
    ctx->sp = (uint64_t)(uintptr_t)record;
    ctx->x30 = (uint64_t)(uintptr_t)coop__asm_start;
    ctx->x19_28[0] = (uint64_t)(uintptr_t)co;        /* x29 stays 0 */
    ctx->fpcr = (uint64_t)1 << COOP__FRAME_FRESH_BIT;
#elif defined(__riscv)
    ctx->sp = (uint64_t)(uintptr_t)record;
    ctx->ra = (uint64_t)(uintptr_t)coop__asm_start;
    ctx->s0_11[1] = (uint64_t)(uintptr_t)co;         /* s0 stays 0 */
    ctx->frm = (uint64_t)1 << COOP__FRAME_FRESH_BIT;
#endif
    return 0;
}

void coop__ctx_restart(coop__ctx *ctx)
{
    /* The frame itself stays: the coroutine sits in its trampoline loop
     * (coop__coroutine_main) and resumes there.  Only the control state is
     * forgotten, so the next enterer's carries over as for a new one. */
#if defined(__x86_64__)
    ctx->mxcsr = COOP__FRAME_FRESH;
#elif defined(__aarch64__)
    ctx->fpcr = (uint64_t)1 << COOP__FRAME_FRESH_BIT;
#elif defined(__riscv)
    ctx->frm = (uint64_t)1 << COOP__FRAME_FRESH_BIT;
#endif
}

void coop__ctx_release(coop__ctx *ctx)
{
    (void)ctx;
}
