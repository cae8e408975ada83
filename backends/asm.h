/* SPDX-License-Identifier: MIT */
/*
 * Context of the hand-written assembly backend (asm.c, asm-x86_64.S,
 * asm-aarch64.S, asm-riscv64.S): the saved frame of asm-frame.h, and the switch itself.
 *
 * The switch is an asm statement in the caller's own frame (core's enter
 * loop, its slow coop_yield, coop__coroutine_main) that branches -- a
 * plain jump, not a call -- to coop__asm_switch with the address of the
 * instruction that follows it.  coop__asm_switch stores the callee-saved
 * registers, the stack pointer, that resume address and the floating-point
 * control state into `from`, loads `to`'s, and jumps to `to`'s resume
 * address.  No call and no return is added to a switch.  The common
 * coop_enter()/coop_yield() round trip does not come here at all: the
 * .S files define those functions with fast paths of their own that
 * return by jump (see asm-x86_64.S).
 *
 * What the compiler is told: the asm returns (eventually) with the stack
 * pointer and every callee-saved register as they were -- coop__asm_switch
 * restores them -- while every caller-saved register, the flags and memory
 * may have changed, because the other side ran arbitrary code meanwhile.
 * The action arrives in eax/x2/a2, where the side that switched back put it.
 */
#ifndef COOP_ASM_H
#define COOP_ASM_H

#include <stddef.h>
#include <stdint.h>

#include "asm-frame.h"

#if defined(__x86_64__)

/* asm-x86_64.S defines coop_enter() and coop_yield() (switch.h). */
#define COOP__BACKEND_FAST_PATHS 1

typedef struct coop__ctx {
    uint64_t rsp, rip;                   /* see asm-frame.h for the why */
    uint64_t rbx, rbp, r12, r13, r14, r15;
    uint32_t mxcsr;                      /* or COOP__FRAME_FRESH: new */
    uint16_t x87cw;
    uint16_t flags;                      /* COOP__FRAME_AT_CALL...    */
} coop__ctx;

#define COOP__ASM_CHECK_OFFSET(field, off)                                   \
    _Static_assert(offsetof(coop__ctx, field) == (off),                     \
                   "asm-frame.h disagrees with struct coop__ctx: " #field)
COOP__ASM_CHECK_OFFSET(rsp, COOP__FRAME_RSP);
COOP__ASM_CHECK_OFFSET(rip, COOP__FRAME_RIP);
COOP__ASM_CHECK_OFFSET(rbx, COOP__FRAME_RBX);
COOP__ASM_CHECK_OFFSET(rbp, COOP__FRAME_RBP);
COOP__ASM_CHECK_OFFSET(r12, COOP__FRAME_R12);
COOP__ASM_CHECK_OFFSET(r13, COOP__FRAME_R13);
COOP__ASM_CHECK_OFFSET(r14, COOP__FRAME_R14);
COOP__ASM_CHECK_OFFSET(r15, COOP__FRAME_R15);
COOP__ASM_CHECK_OFFSET(mxcsr, COOP__FRAME_MXCSR);
COOP__ASM_CHECK_OFFSET(x87cw, COOP__FRAME_X87CW);
COOP__ASM_CHECK_OFFSET(flags, COOP__FRAME_FLAGS);
_Static_assert(sizeof(coop__ctx) == COOP__FRAME_SIZE, "asm-frame.h size");

/* The resume point is the target of an indirect jump.  The jumps are
 * "notrack" (asm-x86_64.S), but a landing pad costs nothing: keep one. */
#if defined(__CET__) && (__CET__ & 1)
#define COOP__ASM_LANDING "endbr64"
#else
#define COOP__ASM_LANDING ""
#endif

/* The caller-saved vector state: xmm0-15 always, plus zmm16-31 and the
 * mask registers when the compiler may use them. */
#if defined(__AVX512F__)
#define COOP__ASM_CLOBBER_AVX512                                             \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",          \
    "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29",          \
    "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
#else
#define COOP__ASM_CLOBBER_AVX512
#endif

static inline __attribute__((always_inline)) coop__action
coop__ctx_switch(coop__ctx *from, coop__ctx *to, coop__action action)
{
    unsigned int a = (unsigned int)action;

    /* rdi = from, rsi = to, eax = action, rcx = where to resume us. */
    __asm__ volatile("leaq    1f(%%rip), %%rcx\n\t"
                     "jmp     coop__asm_switch\n"
                     "1:\t" COOP__ASM_LANDING
                     : "+a"(a), "+D"(from), "+S"(to)
                     :
                     : "rcx", "rdx", "r8", "r9", "r10", "r11",
                       "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
                       "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15",
                       COOP__ASM_CLOBBER_AVX512
                       "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",
                       "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", "mm4",
                       "mm5", "mm6", "mm7", "cc", "memory");
    return (coop__action)a;
}

/* A direct hand-off (switch.h) starts a new or reused coroutine from a
 * coroutine, not from its enterer: give it the enterer's control state,
 * which the switch would otherwise have left in place. */
static inline void coop__ctx_adopt_fresh(coop__ctx *to, const coop__ctx *enterer)
{
    if (to->mxcsr & COOP__FRAME_FRESH) {
        to->mxcsr = enterer->mxcsr;
        to->x87cw = enterer->x87cw;
    }
}

#elif defined(__aarch64__)

/* asm-aarch64.S defines coop_enter() and coop_yield() (switch.h). */
#define COOP__BACKEND_FAST_PATHS 1

typedef struct coop__ctx {
    uint64_t x19_28[10];                 /* see asm-frame.h for the why */
    uint64_t x29, x30, sp;
    uint64_t d8_15[8];
    uint64_t fpcr;                       /* or bit 63 set: new */
    uint64_t flags;                      /* COOP__FRAME_AT_CALL...  */
} coop__ctx;

#define COOP__ASM_CHECK_OFFSET(field, off)                                   \
    _Static_assert(offsetof(coop__ctx, field) == (off),                     \
                   "asm-frame.h disagrees with struct coop__ctx: " #field)
COOP__ASM_CHECK_OFFSET(x19_28, COOP__FRAME_X19);
COOP__ASM_CHECK_OFFSET(x19_28[9], COOP__FRAME_X28);
COOP__ASM_CHECK_OFFSET(x29, COOP__FRAME_X29);
COOP__ASM_CHECK_OFFSET(x30, COOP__FRAME_X30);
COOP__ASM_CHECK_OFFSET(sp, COOP__FRAME_SP);
COOP__ASM_CHECK_OFFSET(d8_15, COOP__FRAME_D8);
COOP__ASM_CHECK_OFFSET(d8_15[7], COOP__FRAME_D15);
COOP__ASM_CHECK_OFFSET(fpcr, COOP__FRAME_FPCR);
COOP__ASM_CHECK_OFFSET(flags, COOP__FRAME_FLAGS);
_Static_assert(sizeof(coop__ctx) == COOP__FRAME_SIZE, "asm-frame.h size");

/* The resume point is the target of "br x16": BTI c (hint #34) accepts
 * that, and is a no-op where BTI is off. */
#define COOP__ASM_LANDING "hint    #34"

static inline __attribute__((always_inline)) coop__action
coop__ctx_switch(coop__ctx *from, coop__ctx *to, coop__action action)
{
    register coop__ctx *x0 __asm__("x0") = from;
    register coop__ctx *x1 __asm__("x1") = to;
    register uint64_t x2 __asm__("x2") = (uint64_t)action;

    /* x0 = from, x1 = to, x2 = action, x30 = where to resume us.  adr+b
     * rather than bl: a bl would push a return prediction nobody pops.
     *
     * v8-v15 are not listed: coop__asm_switch restores their low halves,
     * d8-d15, which is what the ABI keeps across a call.  Only a 128-bit
     * value living in one of them across this statement could tell the
     * difference, and compilers put values there only to survive calls,
     * which a 128-bit value cannot do in v8-v15; the functions that
     * switch hold a few pointers (checked: no v8-v15 in their code).
     * Listing them would make each of those functions save d8-d15 again
     * in its prologue, on top of the switch. */
    __asm__ volatile("adr     x30, 1f\n\t"
                     "b       coop__asm_switch\n"
                     "1:\t" COOP__ASM_LANDING
                     : "+r"(x0), "+r"(x1), "+r"(x2)
                     :
                     : "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10",
                       "x11", "x12", "x13", "x14", "x15", "x16", "x17",
                       "x18", "x30",
                       "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7",
                       "v16", "v17", "v18", "v19", "v20", "v21", "v22",
                       "v23", "v24", "v25", "v26", "v27", "v28", "v29",
                       "v30", "v31", "cc", "memory");
    return (coop__action)x2;
}

/* As on x86-64: a direct hand-off gives a new coroutine its enterer's FPCR. */
static inline void coop__ctx_adopt_fresh(coop__ctx *to, const coop__ctx *enterer)
{
    if (to->fpcr >> COOP__FRAME_FRESH_BIT)
        to->fpcr = enterer->fpcr;
}

#elif defined(__riscv) && __riscv_xlen == 64

#if !defined(__riscv_float_abi_double) || defined(__riscv_vector)
/* configure offers asm only for such code (m4/coop_backend.m4). */
#error "the riscv64 asm backend needs the LP64D ABI (fs0-fs11 callee-saved) and no vector extension (its state is not declared clobbered); use --with-coroutine=ucontext"
#endif

/* asm-riscv64.S defines coop_enter() and coop_yield() (switch.h). */
#define COOP__BACKEND_FAST_PATHS 1

typedef struct coop__ctx {
    uint64_t s0_11[12];                  /* see asm-frame.h for the why */
    uint64_t ra, sp;
    uint64_t fs0_11[12];
    uint64_t frm;                        /* or bit 63 set: new */
    uint64_t flags;                      /* COOP__FRAME_AT_CALL...  */
} coop__ctx;

#define COOP__ASM_CHECK_OFFSET(field, off)                                   \
    _Static_assert(offsetof(coop__ctx, field) == (off),                     \
                   "asm-frame.h disagrees with struct coop__ctx: " #field)
COOP__ASM_CHECK_OFFSET(s0_11, COOP__FRAME_S0);
COOP__ASM_CHECK_OFFSET(s0_11[1], COOP__FRAME_S1);
COOP__ASM_CHECK_OFFSET(s0_11[11], COOP__FRAME_S11);
COOP__ASM_CHECK_OFFSET(ra, COOP__FRAME_RA);
COOP__ASM_CHECK_OFFSET(sp, COOP__FRAME_SP);
COOP__ASM_CHECK_OFFSET(fs0_11, COOP__FRAME_FS0);
COOP__ASM_CHECK_OFFSET(fs0_11[11], COOP__FRAME_FS11);
COOP__ASM_CHECK_OFFSET(frm, COOP__FRAME_FRM);
COOP__ASM_CHECK_OFFSET(flags, COOP__FRAME_FLAGS);
_Static_assert(sizeof(coop__ctx) == COOP__FRAME_SIZE, "asm-frame.h size");

static inline __attribute__((always_inline)) coop__action
coop__ctx_switch(coop__ctx *from, coop__ctx *to, coop__action action)
{
    register coop__ctx *a0 __asm__("a0") = from;
    register coop__ctx *a1 __asm__("a1") = to;
    register uint64_t a2 __asm__("a2") = (uint64_t)action;

    /* a0 = from, a1 = to, a2 = action, ra = where to resume us.  lla+tail
     * rather than call: a call would push a return prediction nobody pops
     * (tail jumps through t1, which the predictor treats as a plain
     * indirect jump).  Everything caller-saved of RV64GC is clobbered
     * (the V extension's registers are not: see the #error above);
     * fs0-fs11 are restored whole (64 bits, all of them callee-saved). */
    __asm__ volatile("lla     ra, 1f\n\t"
                     "tail    coop__asm_switch\n"
                     "1:"
                     : "+r"(a0), "+r"(a1), "+r"(a2)
                     :
                     : "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6",
                       "a3", "a4", "a5", "a6", "a7",
                       "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6",
                       "ft7", "ft8", "ft9", "ft10", "ft11",
                       "fa0", "fa1", "fa2", "fa3", "fa4", "fa5", "fa6",
                       "fa7", "memory");
    return (coop__action)a2;
}

/* As on x86-64: a direct hand-off gives a new coroutine its enterer's
 * rounding mode. */
static inline void coop__ctx_adopt_fresh(coop__ctx *to, const coop__ctx *enterer)
{
    if (to->frm >> COOP__FRAME_FRESH_BIT)
        to->frm = enterer->frm;
}

#else
#error "the asm backend supports x86_64, aarch64 and riscv64 only"
#endif

#endif /* COOP_ASM_H */
