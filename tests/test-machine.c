/* SPDX-License-Identifier: MIT */
/*
 * What every switch must keep: floating-point control state per
 * coroutine, callee-saved registers, ABI stack alignment; and what must
 * keep working inside coroutines: signal handlers, backtrace().
 */
#define _GNU_SOURCE
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#if defined(HAVE_EXECINFO_H)
#include <execinfo.h>
#elif defined(HAVE__UNWIND_BACKTRACE)
#include <unwind.h>
#endif
#include <fenv.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <coop.h>

#include "suites.h"

/* ============================================ floating-point control */

static void restore_rounding(void)
{
    fesetround(FE_TONEAREST);
}

struct fpround {
    coop_t *co;
    int first, after_yield, inner_first;
    coop_t *inner;
};

static void upward_then_yield(void *opaque)
{
    struct fpround *f = opaque;

    fesetround(FE_UPWARD);
    f->first = fegetround();
    coop_yield();
    f->after_yield = fegetround();
}

START_TEST(test_rounding_mode_belongs_to_coroutine)
{
    struct fpround f = { NULL, -1, -1, -1, NULL };

    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    f.co = coop_create(upward_then_yield, &f);
    ck_assert_ptr_nonnull(f.co);
    coop_enter(f.co);
    ck_assert_int_eq(f.first, FE_UPWARD);
    ck_assert_int_eq(fegetround(), FE_TONEAREST); /* did not leak */

    fesetround(FE_TOWARDZERO); /* main changes its own meanwhile */
    coop_enter(f.co);
    ck_assert_int_eq(f.after_yield, FE_UPWARD);
    ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
    restore_rounding();
}
END_TEST

static void record_rounding(void *opaque)
{
    *(int *)opaque = fegetround();
}

START_TEST(test_new_coroutine_starts_with_enterer_rounding)
{
    int seen = -1;
    coop_t *co;

    /* created under one mode, first entered under another: the enterer's */
    co = coop_create(record_rounding, &seen);
    ck_assert_ptr_nonnull(co);
    fesetround(FE_DOWNWARD);
    coop_enter(co);
    ck_assert_int_eq(seen, FE_DOWNWARD);
    ck_assert_int_eq(fegetround(), FE_DOWNWARD);
    restore_rounding();
}
END_TEST

static void set_upward_and_finish(void *opaque)
{
    (void)opaque;
    fesetround(FE_UPWARD);
}

START_TEST(test_pooled_coroutine_starts_with_enterer_rounding)
{
    int seen = -1;
    coop_t *co;

    coop_pool_drain();
    co = coop_create(set_upward_and_finish, NULL);
    ck_assert_ptr_nonnull(co);
    coop_enter(co); /* finishes with FE_UPWARD set */
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    ck_assert_uint_eq(coop_pool_size(), 1);

    co = coop_create(record_rounding, &seen);
    ck_assert_ptr_nonnull(co);
    ck_assert_uint_eq(coop_pool_size(), 0); /* it is the reused one */
    coop_enter(co);
    ck_assert_int_eq(seen, FE_TONEAREST);

    fesetround(FE_TOWARDZERO);
    co = coop_create(record_rounding, &seen);
    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_eq(seen, FE_TOWARDZERO);
    restore_rounding();
}
END_TEST

/* A coroutine that first enters another hands it its own mode. */
static void upward_enters_inner(void *opaque)
{
    struct fpround *f = opaque;

    fesetround(FE_UPWARD);
    f->inner = coop_create(record_rounding, &f->inner_first);
    if (f->inner != NULL)
        coop_enter(f->inner);
    f->after_yield = fegetround();
}

START_TEST(test_nested_coroutine_starts_with_enterer_rounding)
{
    struct fpround f = { NULL, -1, -1, -1, NULL };

    f.co = coop_create(upward_enters_inner, &f);
    ck_assert_ptr_nonnull(f.co);
    coop_enter(f.co);
    ck_assert_ptr_nonnull(f.inner);
    ck_assert_int_eq(f.inner_first, FE_UPWARD);
    ck_assert_int_eq(f.after_yield, FE_UPWARD);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
}
END_TEST

/*
 * A coroutine woken by one that runs under core's enter loop may be
 * switched to straight from its waker (a direct hand-off); new or reused,
 * it must still start with the mode of the loop that enters it, not the
 * waker's.  main enters A; A wakes B and yields, so main's enter runs B;
 * B sets its own mode, wakes a not-yet-started C and yields.
 */
struct handoff_rounding {
    coop_t *b, *c;
    int c_first, b_after;
};

static void handoff_wakes_b(void *opaque)
{
    struct handoff_rounding *h = opaque;

    coop_wake(h->b);
    coop_yield();
}

static void handoff_b_wakes_c(void *opaque)
{
    struct handoff_rounding *h = opaque;

    fesetround(FE_UPWARD);
    coop_wake(h->c);
    coop_yield();
    h->b_after = fegetround();
}

START_TEST(test_handed_off_coroutine_starts_with_loop_rounding)
{
    int reuse;

    for (reuse = 0; reuse < 2; reuse++) {
        struct handoff_rounding h = { NULL, NULL, -1, -1 };
        coop_t *a;

        coop_pool_drain();
        if (reuse) { /* leave one in the pool for C, finished under UPWARD */
            coop_t *spent = coop_create(set_upward_and_finish, NULL);

            ck_assert_ptr_nonnull(spent);
            coop_enter(spent);
            ck_assert_uint_eq(coop_pool_size(), 1);
        }
        h.c = coop_create(record_rounding, &h.c_first);
        a = coop_create(handoff_wakes_b, &h);
        h.b = coop_create(handoff_b_wakes_c, &h);
        ck_assert_ptr_nonnull(h.c);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(h.b);

        fesetround(FE_DOWNWARD);
        coop_enter(a);
        ck_assert_int_eq(h.c_first, FE_DOWNWARD); /* the loop's, not B's */
        ck_assert_int_eq(fegetround(), FE_DOWNWARD);
        coop_enter(a);
        coop_enter(h.b);
        ck_assert_int_eq(h.b_after, FE_UPWARD);   /* B kept its own */
        ck_assert_int_eq(fegetround(), FE_DOWNWARD);
        restore_rounding();
    }
}
END_TEST

/*
 * Sticky status flags are the thread's, not a context's: a switch that
 * restores the rounding mode (the two sides' modes differ here, so it
 * must write the control register) leaves the flags raised so far as they
 * are, in both directions.
 */
static void raise_inexact_then_yield(void *opaque)
{
    int *seen = opaque;

    fesetround(FE_UPWARD);
    feraiseexcept(FE_INEXACT);
    coop_yield();
    *seen = fetestexcept(FE_ALL_EXCEPT);
}

START_TEST(test_fp_status_flags_not_switched)
{
    int seen = -1;
    coop_t *co;

    if (coop_test_skip_under("valgrind", __func__,
                             "valgrind's virtual CPU does not keep the status "
                             "flags"))
        return;
    co = coop_create(raise_inexact_then_yield, &seen);
    ck_assert_ptr_nonnull(co);
    feclearexcept(FE_ALL_EXCEPT);
    coop_enter(co);
    ck_assert_int_eq(fegetround(), FE_TONEAREST);
    ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), FE_INEXACT);
    feclearexcept(FE_ALL_EXCEPT);
    feraiseexcept(FE_DIVBYZERO);
    coop_enter(co);
    ck_assert_int_eq(seen, FE_DIVBYZERO);
    ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), FE_DIVBYZERO);
    feclearexcept(FE_ALL_EXCEPT);
    restore_rounding();
}
END_TEST

/*
 * The raw control registers, beyond what fenv shows.  x86-64: MXCSR
 * without its sticky flags (bits 0-5), and the x87 control word; aarch64:
 * FPCR (it holds no sticky flags); riscv64: frm, fcsr's rounding mode,
 * including the one fenv cannot name (RMM).
 */
#if defined(__x86_64__)
#define HAVE_FP_CONTROL 1
#define MXCSR_FTZ 0x8000u
#define MXCSR_DAZ 0x0040u
#define X87_PC_MASK 0x0300u /* precision control; 00 = 24-bit */

static uint64_t fp_control(void)
{
    uint32_t mxcsr;
    uint16_t cw;

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (uint64_t)(mxcsr & ~0x3fu) | (uint64_t)cw << 32;
}

static void set_fp_control(uint64_t v)
{
    uint32_t mxcsr;
    uint16_t cw = (uint16_t)(v >> 32);

    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr = (mxcsr & 0x3fu) | ((uint32_t)v & ~0x3fu);
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

/* Variant 0: MXCSR only (flush-to-zero, denormals-are-zero); 1: the x87
 * control word only (single precision); 2: both.  A switch may compare
 * the registers separately, so each must be checked alone. */
static uint64_t unusual_fp_control(uint64_t v, int variant)
{
    if (variant != 1)
        v |= MXCSR_FTZ | MXCSR_DAZ;
    if (variant != 0)
        v &= ~((uint64_t)X87_PC_MASK << 32);
    return v;
}
#elif defined(__aarch64__)
#define HAVE_FP_CONTROL 1
#define FPCR_FZ (1ull << 24)
#define FPCR_DN (1ull << 25)

static uint64_t fp_control(void)
{
    uint64_t v;

    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    return v;
}

static void set_fp_control(uint64_t v)
{
    __asm__ volatile("msr fpcr, %0" : : "r"(v));
}

/* Variant 0: flush-to-zero; 1: default NaN; 2: both. */
static uint64_t unusual_fp_control(uint64_t v, int variant)
{
    if (variant != 1)
        v |= FPCR_FZ;
    if (variant != 0)
        v |= FPCR_DN;
    return v;
}
#elif defined(__riscv) && defined(__riscv_flen)
#define HAVE_FP_CONTROL 1
#define FRM_RTZ 1u
#define FRM_RUP 3u
#define FRM_RMM 4u /* round to nearest, ties away: no FE_ name for it */

static uint64_t fp_control(void)
{
    uint64_t v;

    __asm__ volatile("frrm %0" : "=r"(v));
    return v;
}

static void set_fp_control(uint64_t v)
{
    __asm__ volatile("fsrm %0" : : "r"(v));
}

/* One field, three values: 0: RMM; 1: toward zero; 2: upward.  Each
 * differs from v, whatever rounding the test started with. */
static uint64_t unusual_fp_control(uint64_t v, int variant)
{
    static const uint64_t pick[3][2] = {
        { FRM_RMM, FRM_RTZ }, { FRM_RTZ, FRM_RUP }, { FRM_RUP, FRM_RMM } };

    return pick[variant][v == pick[variant][0]];
}
#endif

#ifdef HAVE_FP_CONTROL
struct fpctl {
    uint64_t set, first, after_yield;
};

static void unusual_then_yield(void *opaque)
{
    struct fpctl *f = opaque;

    set_fp_control(f->set);
    f->first = fp_control();
    coop_yield();
    f->after_yield = fp_control();
}

static void record_fp_control(void *opaque)
{
    *(uint64_t *)opaque = fp_control();
}
#endif

START_TEST(test_fp_control_registers_belong_to_coroutine)
{
    if (coop_test_skip_under("valgrind", __func__,
                             "valgrind's virtual CPU ignores most MXCSR and "
                             "x87 control bits"))
        return;
#ifdef HAVE_FP_CONTROL
    uint64_t orig = fp_control();

    for (int variant = 0; variant < 3; variant++) {
        struct fpctl f = { unusual_fp_control(orig, variant), 0, 0 };
        coop_t *co;

        ck_assert_uint_ne(f.set, orig);
        co = coop_create(unusual_then_yield, &f);
        ck_assert_ptr_nonnull(co);
        coop_enter(co);
        ck_assert_uint_eq(f.first, f.set);
        ck_assert_msg(fp_control() == orig, "variant %d leaked into main",
                      variant);
        coop_enter(co);
        ck_assert_msg(f.after_yield == f.set, "variant %d lost by the "
                      "coroutine: %#llx, expected %#llx", variant,
                      (unsigned long long)f.after_yield,
                      (unsigned long long)f.set);
        ck_assert_uint_eq(fp_control(), orig);
    }
#else
    fprintf(stderr, "%s: no FP control register test on this architecture\n",
            __func__);
#endif
}
END_TEST

START_TEST(test_fp_control_registers_inherited_by_new_and_pooled)
{
    if (coop_test_skip_under("valgrind", __func__,
                             "valgrind's virtual CPU ignores most MXCSR and "
                             "x87 control bits"))
        return;
#ifdef HAVE_FP_CONTROL
    uint64_t orig = fp_control(), seen = 0;

    for (int variant = 0; variant < 3; variant++) {
        uint64_t unusual = unusual_fp_control(orig, variant);
        coop_t *co;

        coop_pool_drain();
        co = coop_create(record_fp_control, &seen);
        ck_assert_ptr_nonnull(co);
        set_fp_control(unusual);
        coop_enter(co); /* new: starts with main's unusual state */
        ck_assert_msg(seen == unusual, "variant %d not inherited", variant);

        set_fp_control(orig);
        ck_assert_uint_eq(coop_pool_size(), 1);
        co = coop_create(record_fp_control, &seen);
        ck_assert_ptr_nonnull(co);
        coop_enter(co); /* reused: starts with main's state, not its last */
        ck_assert_msg(seen == orig, "variant %d: reused coroutine kept its "
                      "old state", variant);
        ck_assert_uint_eq(fp_control(), orig);
    }
#else
    fprintf(stderr, "%s: no FP control register test on this architecture\n",
            __func__);
#endif
}
END_TEST

/* ============================================ callee-saved registers */

/*
 * long coop_test_clobber_check(void (*fn)(void *), void *arg, uint64_t seed)
 *
 * Loads a distinct value (a constant xor seed) into every callee-saved
 * register, calls fn(arg), and returns a bitmask of the registers that no
 * longer hold their value (0: all preserved).  The caller's registers are
 * restored before it returns.  The seed lets two contexts that both sit in
 * this function hold different values, so a switch that failed to restore
 * a register cannot go unnoticed because both sides used the same value.
 *
 * Bits: x86-64 rbx 0, rbp 1, r12 2, r13 3, r14 4, r15 5;
 *       aarch64 x19..x28 0..9, x29 10, d8..d15 11..18;
 *       riscv64 s1..s11 0..10, s0 11, fs0..fs11 12..23, sp 24.
 */
long coop_test_clobber_check(void (*fn)(void *), void *arg, uint64_t seed);

/* Breaks the ABI on purpose: flips bit 0 of rbx (x86-64), x19 (aarch64)
 * or s1 (riscv64) and returns; the checker must report it as bit 0. */
void coop_test_break_first_register(void *arg);

#if defined(__x86_64__)
#define HAVE_CLOBBER_CHECK 1
#if defined(__CET__)
#define TEST_ENDBR "endbr64\n"
#else
#define TEST_ENDBR ""
#endif
/* compare reg with constant^seed (seed in rdx); set bit on mismatch */
#define X86_CHECK(reg, k, bit)                                                \
    "movabsq $" k ", %rcx\n xorq %rdx, %rcx\n cmpq %rcx, " reg "\n"          \
    "je 1f\n orl $" bit ", %eax\n1:\n"
#define X86_LOAD(reg, k) "movabsq $" k ", " reg "\n xorq %rdx, " reg "\n"
__asm__(
    ".pushsection .text\n"
    ".globl coop_test_clobber_check\n"
    ".type coop_test_clobber_check, @function\n"
    ".p2align 4\n"
    "coop_test_clobber_check:\n"
    ".cfi_startproc\n"
    TEST_ENDBR
    "pushq %rbp\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %rbp, 0\n"
    "pushq %rbx\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %rbx, 0\n"
    "pushq %r12\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %r12, 0\n"
    "pushq %r13\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %r13, 0\n"
    "pushq %r14\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %r14, 0\n"
    "pushq %r15\n .cfi_adjust_cfa_offset 8\n .cfi_rel_offset %r15, 0\n"
    /* 7th push: the seed, and rsp is 16-byte aligned for the call */
    "pushq %rdx\n .cfi_adjust_cfa_offset 8\n"
    "movq %rdi, %rax\n"
    "movq %rsi, %rdi\n"
    X86_LOAD("%rbx", "0x5b0b1c2d3e4f6001")
    X86_LOAD("%rbp", "0x4a1b2c3d4e5f6102")
    X86_LOAD("%r12", "0x3c2b1a0f1e2d6203")
    X86_LOAD("%r13", "0x2d3c4b5a69786304")
    X86_LOAD("%r14", "0x1e2f3a4b5c6d6405")
    X86_LOAD("%r15", "0x0f1e2d3c4b5a6506")
    "callq *%rax\n"
    "movq (%rsp), %rdx\n"
    "xorl %eax, %eax\n"
    X86_CHECK("%rbx", "0x5b0b1c2d3e4f6001", "1")
    X86_CHECK("%rbp", "0x4a1b2c3d4e5f6102", "2")
    X86_CHECK("%r12", "0x3c2b1a0f1e2d6203", "4")
    X86_CHECK("%r13", "0x2d3c4b5a69786304", "8")
    X86_CHECK("%r14", "0x1e2f3a4b5c6d6405", "16")
    X86_CHECK("%r15", "0x0f1e2d3c4b5a6506", "32")
    "addq $8, %rsp\n .cfi_adjust_cfa_offset -8\n"
    "popq %r15\n .cfi_adjust_cfa_offset -8\n .cfi_restore %r15\n"
    "popq %r14\n .cfi_adjust_cfa_offset -8\n .cfi_restore %r14\n"
    "popq %r13\n .cfi_adjust_cfa_offset -8\n .cfi_restore %r13\n"
    "popq %r12\n .cfi_adjust_cfa_offset -8\n .cfi_restore %r12\n"
    "popq %rbx\n .cfi_adjust_cfa_offset -8\n .cfi_restore %rbx\n"
    "popq %rbp\n .cfi_adjust_cfa_offset -8\n .cfi_restore %rbp\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size coop_test_clobber_check, .-coop_test_clobber_check\n"
    ".globl coop_test_break_first_register\n"
    ".type coop_test_break_first_register, @function\n"
    ".p2align 4\n"
    "coop_test_break_first_register:\n"
    ".cfi_startproc\n"
    TEST_ENDBR
    "xorq $1, %rbx\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size coop_test_break_first_register, .-coop_test_break_first_register\n"
    ".popsection\n");
#elif defined(__aarch64__)
#define HAVE_CLOBBER_CHECK 1
#if defined(__ARM_FEATURE_BTI_DEFAULT)
#define TEST_BTI_C "hint #34\n"
#else
#define TEST_BTI_C ""
#endif
/* x2 holds the seed while loading and comparing */
#define A64_LOAD(reg, k) "ldr x9, =" k "\n eor " reg ", x9, x2\n"
#define A64_LOADD(reg, k) "ldr x9, =" k "\n eor x9, x9, x2\n fmov " reg ", x9\n"
#define A64_CHECK(reg, k, bit)                                                \
    "ldr x9, =" k "\n eor x9, x9, x2\n cmp " reg ", x9\n cset x10, ne\n"       \
    "orr x0, x0, x10, lsl #" bit "\n"
#define A64_CHECKD(reg, k, bit)                                               \
    "fmov x11, " reg "\n" A64_CHECK("x11", k, bit)
__asm__(
    ".pushsection .text\n"
    ".globl coop_test_clobber_check\n"
    ".type coop_test_clobber_check, %function\n"
    ".p2align 2\n"
    "coop_test_clobber_check:\n"
    ".cfi_startproc\n"
    TEST_BTI_C
    "stp x29, x30, [sp, #-176]!\n"
    ".cfi_def_cfa_offset 176\n"
    ".cfi_offset x29, -176\n .cfi_offset x30, -168\n"
    "stp x19, x20, [sp, #16]\n .cfi_offset x19, -160\n .cfi_offset x20, -152\n"
    "stp x21, x22, [sp, #32]\n .cfi_offset x21, -144\n .cfi_offset x22, -136\n"
    "stp x23, x24, [sp, #48]\n .cfi_offset x23, -128\n .cfi_offset x24, -120\n"
    "stp x25, x26, [sp, #64]\n .cfi_offset x25, -112\n .cfi_offset x26, -104\n"
    "stp x27, x28, [sp, #80]\n .cfi_offset x27, -96\n .cfi_offset x28, -88\n"
    "stp d8, d9, [sp, #96]\n .cfi_offset d8, -80\n .cfi_offset d9, -72\n"
    "stp d10, d11, [sp, #112]\n .cfi_offset d10, -64\n .cfi_offset d11, -56\n"
    "stp d12, d13, [sp, #128]\n .cfi_offset d12, -48\n .cfi_offset d13, -40\n"
    "stp d14, d15, [sp, #144]\n .cfi_offset d14, -32\n .cfi_offset d15, -24\n"
    "str x2, [sp, #160]\n" /* the seed survives the call here */
    "mov x16, x0\n"
    "mov x0, x1\n"
    A64_LOAD("x19", "0x1913a5c3e1f00119")
    A64_LOAD("x20", "0x2024b6d4f2e10220")
    A64_LOAD("x21", "0x2135c7e503d20321")
    A64_LOAD("x22", "0x2246d8f614c30422")
    A64_LOAD("x23", "0x2357e90725b40523")
    A64_LOAD("x24", "0x2468fa1836a50624")
    A64_LOAD("x25", "0x25790b2947960725")
    A64_LOAD("x26", "0x268a1c3a58870826")
    A64_LOAD("x27", "0x279b2d4b69780927")
    A64_LOAD("x28", "0x28ac3e5c7a690a28")
    A64_LOAD("x29", "0x29bd4f6d8b5a0b29")
    A64_LOADD("d8", "0x08ce5f7e9c4b0c08")
    A64_LOADD("d9", "0x09df608fad3c0d09")
    A64_LOADD("d10", "0x10e071a0be2d0e10")
    A64_LOADD("d11", "0x11f182b1cf1e0f11")
    A64_LOADD("d12", "0x120293c2d00f1012")
    A64_LOADD("d13", "0x1313a4d3e1001113")
    A64_LOADD("d14", "0x1424b5e4f2f11214")
    A64_LOADD("d15", "0x1535c6f503e21315")
    "blr x16\n"
    "ldr x2, [sp, #160]\n"
    "mov x0, #0\n"
    A64_CHECK("x19", "0x1913a5c3e1f00119", "0")
    A64_CHECK("x20", "0x2024b6d4f2e10220", "1")
    A64_CHECK("x21", "0x2135c7e503d20321", "2")
    A64_CHECK("x22", "0x2246d8f614c30422", "3")
    A64_CHECK("x23", "0x2357e90725b40523", "4")
    A64_CHECK("x24", "0x2468fa1836a50624", "5")
    A64_CHECK("x25", "0x25790b2947960725", "6")
    A64_CHECK("x26", "0x268a1c3a58870826", "7")
    A64_CHECK("x27", "0x279b2d4b69780927", "8")
    A64_CHECK("x28", "0x28ac3e5c7a690a28", "9")
    A64_CHECK("x29", "0x29bd4f6d8b5a0b29", "10")
    A64_CHECKD("d8", "0x08ce5f7e9c4b0c08", "11")
    A64_CHECKD("d9", "0x09df608fad3c0d09", "12")
    A64_CHECKD("d10", "0x10e071a0be2d0e10", "13")
    A64_CHECKD("d11", "0x11f182b1cf1e0f11", "14")
    A64_CHECKD("d12", "0x120293c2d00f1012", "15")
    A64_CHECKD("d13", "0x1313a4d3e1001113", "16")
    A64_CHECKD("d14", "0x1424b5e4f2f11214", "17")
    A64_CHECKD("d15", "0x1535c6f503e21315", "18")
    "ldp d14, d15, [sp, #144]\n"
    "ldp d12, d13, [sp, #128]\n"
    "ldp d10, d11, [sp, #112]\n"
    "ldp d8, d9, [sp, #96]\n"
    "ldp x27, x28, [sp, #80]\n"
    "ldp x25, x26, [sp, #64]\n"
    "ldp x23, x24, [sp, #48]\n"
    "ldp x21, x22, [sp, #32]\n"
    "ldp x19, x20, [sp, #16]\n"
    "ldp x29, x30, [sp], #176\n"
    ".cfi_def_cfa_offset 0\n"
    ".cfi_restore x29\n .cfi_restore x30\n"
    "ret\n"
    ".ltorg\n"
    ".cfi_endproc\n"
    ".size coop_test_clobber_check, .-coop_test_clobber_check\n"
    ".globl coop_test_break_first_register\n"
    ".type coop_test_break_first_register, %function\n"
    ".p2align 2\n"
    "coop_test_break_first_register:\n"
    ".cfi_startproc\n"
    TEST_BTI_C
    "eor x19, x19, #1\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size coop_test_break_first_register, .-coop_test_break_first_register\n"
    ".popsection\n");
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_flen) && \
    __riscv_flen == 64
#define HAVE_CLOBBER_CHECK 1
/* a2 holds the seed while loading and comparing; t1 and t3 are scratch */
#define RV_LOAD(reg, k) "li t1, " k "\n xor " reg ", t1, a2\n"
#define RV_LOADD(reg, k) "li t1, " k "\n xor t1, t1, a2\n fmv.d.x " reg ", t1\n"
#define RV_CHECK(reg, k, bit)                                                 \
    "li t1, " k "\n xor t1, t1, a2\n xor t1, t1, " reg "\n"                   \
    "snez t1, t1\n slli t1, t1, " bit "\n or a0, a0, t1\n"
#define RV_CHECKD(reg, k, bit) "fmv.x.d t3, " reg "\n" RV_CHECK("t3", k, bit)
__asm__(
    ".pushsection .text\n"
    ".globl coop_test_clobber_check\n"
    ".type coop_test_clobber_check, @function\n"
    ".p2align 2\n"
    "coop_test_clobber_check:\n"
    ".cfi_startproc\n"
    "addi sp, sp, -224\n .cfi_def_cfa_offset 224\n"
    "sd ra, 216(sp)\n .cfi_offset ra, -8\n"
    "sd s0, 208(sp)\n .cfi_offset s0, -16\n"
    "sd s1, 200(sp)\n .cfi_offset s1, -24\n"
    "sd s2, 192(sp)\n .cfi_offset s2, -32\n"
    "sd s3, 184(sp)\n .cfi_offset s3, -40\n"
    "sd s4, 176(sp)\n .cfi_offset s4, -48\n"
    "sd s5, 168(sp)\n .cfi_offset s5, -56\n"
    "sd s6, 160(sp)\n .cfi_offset s6, -64\n"
    "sd s7, 152(sp)\n .cfi_offset s7, -72\n"
    "sd s8, 144(sp)\n .cfi_offset s8, -80\n"
    "sd s9, 136(sp)\n .cfi_offset s9, -88\n"
    "sd s10, 128(sp)\n .cfi_offset s10, -96\n"
    "sd s11, 120(sp)\n .cfi_offset s11, -104\n"
    "fsd fs0, 112(sp)\n .cfi_offset fs0, -112\n"
    "fsd fs1, 104(sp)\n .cfi_offset fs1, -120\n"
    "fsd fs2, 96(sp)\n .cfi_offset fs2, -128\n"
    "fsd fs3, 88(sp)\n .cfi_offset fs3, -136\n"
    "fsd fs4, 80(sp)\n .cfi_offset fs4, -144\n"
    "fsd fs5, 72(sp)\n .cfi_offset fs5, -152\n"
    "fsd fs6, 64(sp)\n .cfi_offset fs6, -160\n"
    "fsd fs7, 56(sp)\n .cfi_offset fs7, -168\n"
    "fsd fs8, 48(sp)\n .cfi_offset fs8, -176\n"
    "fsd fs9, 40(sp)\n .cfi_offset fs9, -184\n"
    "fsd fs10, 32(sp)\n .cfi_offset fs10, -192\n"
    "fsd fs11, 24(sp)\n .cfi_offset fs11, -200\n"
    "sd a2, 0(sp)\n" /* the seed survives the call here */
    "sd sp, 8(sp)\n" /* and the stack pointer, to see it come back */
    "mv t0, a0\n"
    "mv a0, a1\n"
    RV_LOAD("s1", "0x5113a5c3e1f00109")
    RV_LOAD("s2", "0x5224b6d4f2e10212")
    RV_LOAD("s3", "0x5335c7e503d20313")
    RV_LOAD("s4", "0x5446d8f614c30414")
    RV_LOAD("s5", "0x5557e90725b40515")
    RV_LOAD("s6", "0x5668fa1836a50616")
    RV_LOAD("s7", "0x57790b2947960717")
    RV_LOAD("s8", "0x588a1c3a58870818")
    RV_LOAD("s9", "0x599b2d4b69780919")
    RV_LOAD("s10", "0x5aac3e5c7a690a1a")
    RV_LOAD("s11", "0x5bbd4f6d8b5a0b1b")
    RV_LOAD("s0", "0x50ce5f7e9c4b0c08")
    RV_LOADD("fs0", "0xf0df608fad3c0d00")
    RV_LOADD("fs1", "0xf1e071a0be2d0e01")
    RV_LOADD("fs2", "0xf2f182b1cf1e0f02")
    RV_LOADD("fs3", "0xf30293c2d00f1003")
    RV_LOADD("fs4", "0xf413a4d3e1001104")
    RV_LOADD("fs5", "0xf524b5e4f2f11205")
    RV_LOADD("fs6", "0xf635c6f503e21306")
    RV_LOADD("fs7", "0xf746d70614d31407")
    RV_LOADD("fs8", "0xf857e81725c41508")
    RV_LOADD("fs9", "0xf968f92836b51609")
    RV_LOADD("fs10", "0xfa790a3947a6170a")
    RV_LOADD("fs11", "0xfb8a1b4a5897180b")
    "jalr t0\n"
    "ld a2, 0(sp)\n"
    "li a0, 0\n"
    RV_CHECK("s1", "0x5113a5c3e1f00109", "0")
    RV_CHECK("s2", "0x5224b6d4f2e10212", "1")
    RV_CHECK("s3", "0x5335c7e503d20313", "2")
    RV_CHECK("s4", "0x5446d8f614c30414", "3")
    RV_CHECK("s5", "0x5557e90725b40515", "4")
    RV_CHECK("s6", "0x5668fa1836a50616", "5")
    RV_CHECK("s7", "0x57790b2947960717", "6")
    RV_CHECK("s8", "0x588a1c3a58870818", "7")
    RV_CHECK("s9", "0x599b2d4b69780919", "8")
    RV_CHECK("s10", "0x5aac3e5c7a690a1a", "9")
    RV_CHECK("s11", "0x5bbd4f6d8b5a0b1b", "10")
    RV_CHECK("s0", "0x50ce5f7e9c4b0c08", "11")
    RV_CHECKD("fs0", "0xf0df608fad3c0d00", "12")
    RV_CHECKD("fs1", "0xf1e071a0be2d0e01", "13")
    RV_CHECKD("fs2", "0xf2f182b1cf1e0f02", "14")
    RV_CHECKD("fs3", "0xf30293c2d00f1003", "15")
    RV_CHECKD("fs4", "0xf413a4d3e1001104", "16")
    RV_CHECKD("fs5", "0xf524b5e4f2f11205", "17")
    RV_CHECKD("fs6", "0xf635c6f503e21306", "18")
    RV_CHECKD("fs7", "0xf746d70614d31407", "19")
    RV_CHECKD("fs8", "0xf857e81725c41508", "20")
    RV_CHECKD("fs9", "0xf968f92836b51609", "21")
    RV_CHECKD("fs10", "0xfa790a3947a6170a", "22")
    RV_CHECKD("fs11", "0xfb8a1b4a5897180b", "23")
    "ld t1, 8(sp)\n xor t1, t1, sp\n snez t1, t1\n slli t1, t1, 24\n"
    "or a0, a0, t1\n"
    "fld fs11, 24(sp)\n .cfi_restore fs11\n"
    "fld fs10, 32(sp)\n .cfi_restore fs10\n"
    "fld fs9, 40(sp)\n .cfi_restore fs9\n"
    "fld fs8, 48(sp)\n .cfi_restore fs8\n"
    "fld fs7, 56(sp)\n .cfi_restore fs7\n"
    "fld fs6, 64(sp)\n .cfi_restore fs6\n"
    "fld fs5, 72(sp)\n .cfi_restore fs5\n"
    "fld fs4, 80(sp)\n .cfi_restore fs4\n"
    "fld fs3, 88(sp)\n .cfi_restore fs3\n"
    "fld fs2, 96(sp)\n .cfi_restore fs2\n"
    "fld fs1, 104(sp)\n .cfi_restore fs1\n"
    "fld fs0, 112(sp)\n .cfi_restore fs0\n"
    "ld s11, 120(sp)\n .cfi_restore s11\n"
    "ld s10, 128(sp)\n .cfi_restore s10\n"
    "ld s9, 136(sp)\n .cfi_restore s9\n"
    "ld s8, 144(sp)\n .cfi_restore s8\n"
    "ld s7, 152(sp)\n .cfi_restore s7\n"
    "ld s6, 160(sp)\n .cfi_restore s6\n"
    "ld s5, 168(sp)\n .cfi_restore s5\n"
    "ld s4, 176(sp)\n .cfi_restore s4\n"
    "ld s3, 184(sp)\n .cfi_restore s3\n"
    "ld s2, 192(sp)\n .cfi_restore s2\n"
    "ld s1, 200(sp)\n .cfi_restore s1\n"
    "ld s0, 208(sp)\n .cfi_restore s0\n"
    "ld ra, 216(sp)\n .cfi_restore ra\n"
    "addi sp, sp, 224\n .cfi_def_cfa_offset 0\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size coop_test_clobber_check, .-coop_test_clobber_check\n"
    ".globl coop_test_break_first_register\n"
    ".type coop_test_break_first_register, @function\n"
    ".p2align 2\n"
    "coop_test_break_first_register:\n"
    ".cfi_startproc\n"
    "xori s1, s1, 1\n"
    "ret\n"
    ".cfi_endproc\n"
    ".size coop_test_break_first_register, .-coop_test_break_first_register\n"
    ".popsection\n");
#endif

#ifdef HAVE_CLOBBER_CHECK
#define SEED_CO 0x0123456789abcdefull
#define SEED_CO2 0x7766554433221100ull

struct clobber {
    coop_t *co, *woken;
    long co_mask, woken_mask;
};

static void yield_twice(void *opaque)
{
    (void)opaque;
    coop_yield();
    coop_yield();
}

/* Sits in the checker, with its own register values, across two yields. */
static void clobbering_body(void *opaque)
{
    struct clobber *c = opaque;

    c->co_mask = coop_test_clobber_check(yield_twice, NULL, SEED_CO);
}

static void yield_once(void *opaque)
{
    (void)opaque;
    coop_yield();
}

static void woken_body(void *opaque)
{
    struct clobber *c = opaque;

    c->woken_mask = coop_test_clobber_check(yield_once, NULL, SEED_CO2);
}

static void wakes_then_clobbers(void *opaque)
{
    struct clobber *c = opaque;

    coop_wake(c->woken);
    c->co_mask = coop_test_clobber_check(yield_once, NULL, SEED_CO);
}

static void enter_arg(void *co)
{
    coop_enter(co);
}

static void wake_arg(void *co)
{
    coop_wake(co);
}

static void plain_call(void *arg)
{
    (void)arg;
    __asm__ volatile("" ::: "memory");
}
#endif

/* The checker itself: silent for an ordinary call, loud for a clobber. */
START_TEST(test_register_checker_detects_clobber)
{
#ifdef HAVE_CLOBBER_CHECK
    ck_assert_int_eq(coop_test_clobber_check(plain_call, NULL, 7), 0);
    ck_assert_int_eq(
        coop_test_clobber_check(coop_test_break_first_register, NULL, 7), 1);
#else
    fprintf(stderr, "%s: no register check on this architecture\n",
            __func__);
#endif
}
END_TEST

START_TEST(test_callee_saved_registers_kept_across_switches)
{
#ifdef HAVE_CLOBBER_CHECK
    struct clobber c = { NULL, NULL, -1, -1 };
    long m;

    c.co = coop_create(clobbering_body, &c);
    ck_assert_ptr_nonnull(c.co);
    /* first entry (start-up path), resume, resume-and-finish; main sits
     * in its own checker with a different seed each time */
    m = coop_test_clobber_check(enter_arg, c.co, 1);
    ck_assert_msg(m == 0, "main lost registers (mask %#lx) on first enter", m);
    m = coop_test_clobber_check(enter_arg, c.co, 2);
    ck_assert_msg(m == 0, "main lost registers (mask %#lx) on resume", m);
    ck_assert_int_eq(c.co_mask, -1); /* still inside */
    m = coop_test_clobber_check(enter_arg, c.co, 3);
    ck_assert_msg(m == 0, "main lost registers (mask %#lx) on finish", m);
    ck_assert_msg(c.co_mask == 0,
                  "coroutine lost registers (mask %#lx) across yield",
                  c.co_mask);
#else
    fprintf(stderr, "%s: no register check on this architecture\n",
            __func__);
#endif
}
END_TEST

START_TEST(test_callee_saved_registers_kept_with_wake_and_pool)
{
#ifdef HAVE_CLOBBER_CHECK
    struct clobber c = { NULL, NULL, -1, -1 };
    long m;

    /* the wake-up path, with coroutines reused from the pool */
    c.co = coop_create(coop_test_noop, NULL);
    c.woken = coop_create(coop_test_noop, NULL);
    ck_assert_ptr_nonnull(c.co);
    ck_assert_ptr_nonnull(c.woken);
    coop_enter(c.co);
    coop_enter(c.woken);
    c.co = coop_create(wakes_then_clobbers, &c);
    c.woken = coop_create(woken_body, &c);
    ck_assert_ptr_nonnull(c.co);
    ck_assert_ptr_nonnull(c.woken);
    m = coop_test_clobber_check(enter_arg, c.co, 4); /* runs both */
    ck_assert_msg(m == 0, "main lost registers (mask %#lx) with wake", m);
    m = coop_test_clobber_check(wake_arg, c.woken, 5); /* wake from main */
    ck_assert_msg(m == 0, "main lost registers (mask %#lx) on wake", m);
    m = coop_test_clobber_check(enter_arg, c.co, 6);
    ck_assert_msg(m == 0, "main lost registers (mask %#lx)", m);
    ck_assert_msg(c.co_mask == 0, "waker lost registers (mask %#lx)",
                  c.co_mask);
    ck_assert_msg(c.woken_mask == 0, "woken lost registers (mask %#lx)",
                  c.woken_mask);
#else
    fprintf(stderr, "%s: no register check on this architecture\n",
            __func__);
#endif
}
END_TEST

/* ====================================================== stack alignment */

/* Bit set for each misaligned thing; 0 when all is aligned. */
static __attribute__((noinline)) int misalignment(void)
{
    _Alignas(16) volatile unsigned char buf[16];
    char text[32];
    int bad = 0;

    if ((uintptr_t)__builtin_frame_address(0) % 16 != 0)
        bad |= 1;
    if ((uintptr_t)buf % 16 != 0)
        bad |= 2;
#if defined(__SSE2__)
    {
        /* aligned vector stores to the stack fault if it is misaligned */
        volatile __m128d v = _mm_set_pd(1.5, 2.5);

        if ((uintptr_t)&v % 16 != 0)
            bad |= 4;
        if (_mm_cvtsd_f64(v) != 2.5)
            bad |= 8;
    }
#endif
    /* variadic calls with doubles spill vector registers */
    snprintf(text, sizeof(text), "%.2f", 1.25);
    if (strcmp(text, "1.25") != 0)
        bad |= 16;
    buf[0] = 0;
    return bad;
}

struct align {
    int entry, callee, entry_after, callee_after;
};

static void check_alignment(void *opaque)
{
    struct align *a = opaque;

    a->entry = (uintptr_t)__builtin_frame_address(0) % 16 != 0;
    a->callee = misalignment();
    coop_yield();
    a->entry_after = (uintptr_t)__builtin_frame_address(0) % 16 != 0;
    a->callee_after = misalignment();
}

START_TEST(test_stack_aligned_in_coroutine)
{
    ck_assert_int_eq(misalignment(), 0); /* the check itself, in main */
    /* twice: the second coroutine is a reused one */
    for (int round = 0; round < 2; round++) {
        struct align a = { -1, -1, -1, -1 };
        coop_t *co = coop_create(check_alignment, &a);

        ck_assert_ptr_nonnull(co);
        coop_enter(co);
        coop_enter(co);
        ck_assert_int_eq(a.entry, 0);
        ck_assert_int_eq(a.callee, 0);
        ck_assert_int_eq(a.entry_after, 0);
        ck_assert_int_eq(a.callee_after, 0);
    }
}
END_TEST

/* ==================================================== signals mid-switch */

#define SIGNAL_ROUNDS 200000

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    volatile char scratch[512]; /* use the stack we interrupted */

    for (size_t i = 0; i < sizeof(scratch); i++)
        scratch[i] = (char)(i + (size_t)sig);
    alarms = alarms + 1;
}

struct ticker {
    unsigned long step;
    unsigned long long sum;
    bool stop;
    int blocked; /* SIGALRM found blocked inside the coroutine */
};

static void ticker_fn(void *opaque)
{
    struct ticker *t = opaque;
    sigset_t mask;

    for (unsigned long i = 0;; i++) {
        t->step = i;
        t->sum += i;
        if (i % 4096 == 0) {
            pthread_sigmask(SIG_BLOCK, NULL, &mask);
            t->blocked += sigismember(&mask, SIGALRM);
        }
        coop_yield();
        if (t->stop)
            break;
    }
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec)
           + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

START_TEST(test_signals_during_switches)
{
    struct sigaction sa, old_sa;
    struct itimerval tick = { { 0, 100 }, { 0, 100 } }, off, old_timer;
    struct ticker t = { 0, 0, false, 0 };
    unsigned long n, wrong_step = 0;
    struct timespec t0;
    sigset_t mask;
    coop_t *co;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, &old_sa), 0);
    alarms = 0;

    co = coop_create(ticker_fn, &t);
    ck_assert_ptr_nonnull(co);
    ck_assert_int_eq(setitimer(ITIMER_REAL, &tick, &old_timer), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* at least SIGNAL_ROUNDS round trips; then go on until a few signals
     * came (emulators deliver them late), but for 10 s at most */
    for (n = 0;; n++) {
        if (n >= SIGNAL_ROUNDS && n % 1024 == 0
            && (alarms >= 5 || seconds_since(&t0) > 10))
            break;
        coop_enter(co);
        if (t.step != n)
            wrong_step++;
    }
    memset(&off, 0, sizeof(off));
    ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
    t.stop = true;
    coop_enter(co);
    ck_assert_int_eq(sigaction(SIGALRM, &old_sa, NULL), 0);

    ck_assert_uint_eq(wrong_step, 0);
    ck_assert_uint_eq(t.sum, (unsigned long long)n * (n - 1) / 2);
    ck_assert_int_eq(t.blocked, 0);
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    ck_assert_int_eq(sigismember(&mask, SIGALRM), 0);
    ck_assert_int_gt(alarms, 0);
}
END_TEST

/* ============================================================ backtrace */

struct code_query {
    uintptr_t addr;
    bool found;
};

static int find_code(struct dl_phdr_info *info, size_t size, void *opaque)
{
    struct code_query *q = opaque;

    (void)size;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && q->addr >= lo
            && q->addr - lo < ph->p_memsz) {
            q->found = true;
            return 1;
        }
    }
    return 0;
}

/* A return address must point into the code of some loaded object. */
static bool is_code_address(void *ret)
{
    struct code_query q = { (uintptr_t)ret - 1, false };

    dl_iterate_phdr(find_code, &q);
    return q.found;
}

#if defined(HAVE_EXECINFO_H)
#define HAVE_BACKTRACE 1
#elif defined(HAVE__UNWIND_BACKTRACE)
#define HAVE_BACKTRACE 1
/* No backtrace() (musl): walk the stack with libgcc's unwinder, the one
 * glibc's backtrace() uses, collecting return addresses as it does. */
struct unwind_frames {
    void **frames;
    int n, max, skip;
};

static _Unwind_Reason_Code unwind_frame(struct _Unwind_Context *ctx,
                                        void *opaque)
{
    struct unwind_frames *u = opaque;
    void *ip = (void *)_Unwind_GetIP(ctx);

    if (ip == NULL)
        return _URC_END_OF_STACK;
    if (u->skip > 0) { /* backtrace() itself, as glibc's leaves it out */
        u->skip--;
        return _URC_NO_REASON;
    }
    if (u->n == u->max)
        return _URC_END_OF_STACK;
    u->frames[u->n++] = ip;
    return _URC_NO_REASON;
}

static int backtrace(void **frames, int max)
{
    struct unwind_frames u = { frames, 0, max, 1 };

    _Unwind_Backtrace(unwind_frame, &u);
    return u.n;
}
#else
/* Neither (musl-gcc on Debian: libgcc's unwinder there needs glibc's
 * _dl_find_object): the backtrace tests say they are skipped. */
static int backtrace(void **frames, int max)
{
    (void)frames;
    (void)max;
    return -1;
}
#endif

/* true (after saying so) where there is no backtrace() to test */
static bool no_backtrace(const char *test)
{
#ifdef HAVE_BACKTRACE
    (void)test;
    return false;
#else
    fprintf(stderr, "%s: skipped: this C library has no backtrace() and "
                    "libgcc's unwinder does not link with it\n", test);
    return true;
#endif
}

/* backtrace() depth from extra + 1 frames below the caller; *garbage
 * counts the frames that are not code (a walk off the end of the stack) */
static __attribute__((noinline)) int depth_below(int extra, int *garbage)
{
    void *frames[64];
    int n;

    if (extra > 0) {
        n = depth_below(extra - 1, garbage);
    } else {
        n = backtrace(frames, 64);
        for (int i = 0; i < n; i++)
            *garbage += !is_code_address(frames[i]);
    }
    __asm__ volatile("" ::: "memory"); /* no tail call, no merging */
    return n;
}

struct trace {
    int at3, at4, after_resume3, after_resume4;
    int garbage;
};

static void tracing(void *opaque)
{
    struct trace *t = opaque;

    t->at3 = depth_below(2, &t->garbage);  /* entry + 3 nested frames */
    t->at4 = depth_below(3, &t->garbage);  /* one frame deeper */
    coop_yield();
    t->after_resume3 = depth_below(2, &t->garbage);
    t->after_resume4 = depth_below(3, &t->garbage);
    __asm__ volatile("" ::: "memory");
}

/* Enter co from a main-stack position extra frames deeper than usual: a
 * backtrace that ran on into the enterer's stack would see them. */
static __attribute__((noinline)) void enter_deeper(coop_t *co, int extra)
{
    if (extra > 0)
        enter_deeper(co, extra - 1);
    else
        coop_enter(co);
    __asm__ volatile("" ::: "memory");
}

START_TEST(test_backtrace_stops_at_coroutine_entry)
{
    if (no_backtrace(__func__))
        return;
    struct trace t = { -1, -1, -1, -1, 0 };
    coop_t *co = coop_create(tracing, &t);

    ck_assert_ptr_nonnull(co);
    coop_enter(co);
    ck_assert_int_gt(t.at3, 0);
    ck_assert_int_lt(t.at3, 64);
    ck_assert_int_eq(t.at4, t.at3 + 1);
    ck_assert_int_eq(t.garbage, 0);

    enter_deeper(co, 10);
    ck_assert_int_eq(t.after_resume3, t.at3);
    ck_assert_int_eq(t.after_resume4, t.at3 + 1);
    ck_assert_int_eq(t.garbage, 0);
}
END_TEST

static void trace_from_nested(void *opaque)
{
    coop_enter(opaque);
}

START_TEST(test_backtrace_same_depth_when_nested)
{
    if (no_backtrace(__func__))
        return;
    struct trace t1 = { -1, -1, -1, -1, 0 }, t2 = { -1, -1, -1, -1, 0 };
    coop_t *direct = coop_create(tracing, &t1);
    coop_t *nested = coop_create(tracing, &t2);
    coop_t *outer = coop_create(trace_from_nested, nested);

    ck_assert_ptr_nonnull(direct);
    ck_assert_ptr_nonnull(nested);
    ck_assert_ptr_nonnull(outer);
    coop_enter(direct);
    coop_enter(outer); /* nested runs with outer as its caller */
    ck_assert_int_gt(t2.at3, 0);
    ck_assert_int_eq(t2.at3, t1.at3);
    ck_assert_int_eq(t2.at4, t1.at4);
    coop_enter(direct);
    coop_enter(nested);
    ck_assert_int_eq(t2.after_resume3, t1.after_resume3);
    ck_assert_int_eq(t1.garbage, 0);
    ck_assert_int_eq(t2.garbage, 0);
}
END_TEST

Suite *machine_suite(void)
{
    Suite *s = suite_create("machine");
    TCase *tc;

    tc = coop_test_tcase(s, "fp-control");
    tcase_add_test(tc, test_rounding_mode_belongs_to_coroutine);
    tcase_add_test(tc, test_new_coroutine_starts_with_enterer_rounding);
    tcase_add_test(tc, test_pooled_coroutine_starts_with_enterer_rounding);
    tcase_add_test(tc, test_nested_coroutine_starts_with_enterer_rounding);
    tcase_add_test(tc, test_handed_off_coroutine_starts_with_loop_rounding);
    tcase_add_test(tc, test_fp_status_flags_not_switched);
    tcase_add_test(tc, test_fp_control_registers_belong_to_coroutine);
    tcase_add_test(tc, test_fp_control_registers_inherited_by_new_and_pooled);

    tc = coop_test_tcase(s, "registers");
    tcase_add_test(tc, test_register_checker_detects_clobber);
    tcase_add_test(tc, test_callee_saved_registers_kept_across_switches);
    tcase_add_test(tc, test_callee_saved_registers_kept_with_wake_and_pool);

    tc = coop_test_tcase(s, "alignment");
    tcase_add_test(tc, test_stack_aligned_in_coroutine);

    tc = coop_test_tcase(s, "signals");
    tcase_add_test(tc, test_signals_during_switches);

    tc = coop_test_tcase(s, "backtrace");
    tcase_add_test(tc, test_backtrace_stops_at_coroutine_entry);
    tcase_add_test(tc, test_backtrace_same_depth_when_nested);
    return s;
}
