/* SPDX-License-Identifier: MIT */
/*
 * Floating-point control state, per context, for the backends that switch
 * with sigsetjmp/siglongjmp (which do not save it).  x86-64: the MXCSR
 * control bits and the x87 control word; aarch64: FPCR; riscv64: the
 * rounding mode (frm), fcsr's only control field.  Sticky status flags
 * (riscv64: fflags) are not part of it: a reload keeps the current flags.
 * Reloading only when the control bits differ matters: ldmxcsr is slow,
 * and slower still when the status flags change.
 */
#ifndef COOP_FPCTL_H
#define COOP_FPCTL_H

#include <stdint.h>

#if defined(__x86_64__)

typedef struct coop__fpctl {
    uint32_t mxcsr;
    uint16_t x87cw;
} coop__fpctl;

#define COOP__MXCSR_FLAGS 0x3fu /* IE DE ZE OE UE PE: sticky, not control */

static inline void coop__fpctl_save(coop__fpctl *s)
{
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(s->mxcsr), "=m"(s->x87cw));
}

/* cur: the state saved just now; want: the state to run with. */
static inline void coop__fpctl_apply(const coop__fpctl *cur,
                                     const coop__fpctl *want)
{
    if ((cur->mxcsr ^ want->mxcsr) & ~COOP__MXCSR_FLAGS) {
        uint32_t m = (want->mxcsr & ~COOP__MXCSR_FLAGS) |
                     (cur->mxcsr & COOP__MXCSR_FLAGS);
        __asm__ volatile("ldmxcsr %0" : : "m"(m));
    }
    if (cur->x87cw != want->x87cw)
        __asm__ volatile("fldcw %0" : : "m"(want->x87cw));
}

#elif defined(__aarch64__)

typedef struct coop__fpctl {
    uint64_t fpcr;
} coop__fpctl;

static inline void coop__fpctl_save(coop__fpctl *s)
{
    uint64_t v;
    __asm__ volatile("mrs %0, fpcr" : "=r"(v));
    s->fpcr = v;
}

static inline void coop__fpctl_apply(const coop__fpctl *cur,
                                     const coop__fpctl *want)
{
    if (cur->fpcr != want->fpcr)
        __asm__ volatile("msr fpcr, %0" : : "r"(want->fpcr));
}

#elif defined(__riscv) && defined(__riscv_flen)

typedef struct coop__fpctl {
    uint32_t frm;
} coop__fpctl;

static inline void coop__fpctl_save(coop__fpctl *s)
{
    uint32_t v;
    __asm__ volatile("frrm %0" : "=r"(v));
    s->frm = v;
}

/* fsrm writes frm alone: fflags keep what the code that leaves raised. */
static inline void coop__fpctl_apply(const coop__fpctl *cur,
                                     const coop__fpctl *want)
{
    if (cur->frm != want->frm)
        __asm__ volatile("fsrm %0" : : "r"(want->frm));
}

#else /* other architectures: the C library's jump buffer is all we keep */

typedef struct coop__fpctl {
    char unused;
} coop__fpctl;

static inline void coop__fpctl_save(coop__fpctl *s) { (void)s; }
static inline void coop__fpctl_apply(const coop__fpctl *cur,
                                     const coop__fpctl *want)
{
    (void)cur;
    (void)want;
}

#endif

#endif /* COOP_FPCTL_H */
