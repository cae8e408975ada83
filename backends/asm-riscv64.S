/* SPDX-License-Identifier: MIT */
/*
 * RISC-V 64 (RV64GC, LP64D ABI) context switch of the asm backend, and
 * the fast paths of coop_enter() and coop_yield().
 *
 * The saved frame is struct coop__ctx (asm.h); its offsets come from
 * asm-frame.h:
 *
 *   offset  register  why it is saved
 *   ------  --------  --------------------------------------------------
 *        0  s0        callee-saved, frame pointer; 0 in a new context
 *        8  s1        callee-saved; a new context's coop_t *
 *   16..88  s2-s11    callee-saved
 *       96  ra        resume address (the switch jumps there; new: start)
 *      104  sp        the stack pointer at the switch point
 *  112-200  fs0-fs11  callee-saved, all 64 bits (LP64D)
 *      208  frm       rounding mode, the control part of fcsr (fflags,
 *                     the sticky exception flags, are not kept); bit 63
 *                     set: new, inherit the enterer's rounding mode
 *      216  flags     how the frame was saved: 0 inside a switch of ours;
 *                     AT_CALL by a fast path at the call of coop_yield()/
 *                     coop_enter() (ra = the return address); IN_ENTER
 *                     too when that was coop_enter()
 *
 * Nothing else: ra (its slot holds the resume address instead), t0-t6,
 * a0-a7, ft0-ft11 and fa0-fa7 are caller-saved, declared clobbered by the
 * asm statement in asm.h.  gp and tp are not saved either: gp holds the
 * program's global pointer and tp the thread pointer, both the same for
 * every coroutine a thread runs (tp changes with the thread, which is why
 * thread-local storage is read afresh on every call).
 *
 * frm is read on every switch and written only where to's differs (or,
 * for a new context, never: it keeps its enterer's).
 *
 * The fast paths are those of asm-x86_64.S (read its "Return by jump"),
 * and as on x86-64 nothing here returns across stacks.  Every resume is
 * "jr t1": a jalr whose source is neither ra nor t0 and whose destination
 * is x0, which the RISC-V return-address-stack hints define as a plain
 * indirect jump, neither a call nor a return, so the predictor learns it
 * per site and the return stack is left alone.  (t0 would count as a
 * link register, so the resume address never goes in t0.)
 */

/* Frame offsets; asm-notes.h emits no property on riscv64 (there is no
 * control-flow protection note for it in this toolchain), but is kept
 * for the symmetry of the build. */
#include "asm-frame.h"
#include "asm-notes.h"
#include "switch.h"

#if defined(__riscv) && __riscv_xlen == 64

/* COOP__SYMBOL, COOP__PUBLIC; the core symbols reached directly. */
#include "asm-symbols.h"
/* cfi_saved_at. */
#include "asm-cfi.h"

/* DWARF register numbers: x<n> is n, f<n> is 32 + n. */
#define DW_RA 1
#define DW_A0 10
#define DW_A1 11

/* The callee-saved registers and the return address, all saved in the
 * frame at x<base> + bias: the unwinder's view of a context that is not
 * running (bias: COOP__CO_CTX when x<base> points at the struct coop). */
        .macro  cfi_frame_at base, bias
        cfi_saved_at 8, \base, \bias + COOP__FRAME_S0
        cfi_saved_at 9, \base, \bias + COOP__FRAME_S1
        cfi_saved_at 18, \base, \bias + COOP__FRAME_S2
        cfi_saved_at 19, \base, \bias + COOP__FRAME_S3
        cfi_saved_at 20, \base, \bias + COOP__FRAME_S4
        cfi_saved_at 21, \base, \bias + COOP__FRAME_S5
        cfi_saved_at 22, \base, \bias + COOP__FRAME_S6
        cfi_saved_at 23, \base, \bias + COOP__FRAME_S7
        cfi_saved_at 24, \base, \bias + COOP__FRAME_S8
        cfi_saved_at 25, \base, \bias + COOP__FRAME_S9
        cfi_saved_at 26, \base, \bias + COOP__FRAME_S10
        cfi_saved_at 27, \base, \bias + COOP__FRAME_S11
        cfi_saved_at DW_RA, \base, \bias + COOP__FRAME_RA
        cfi_saved_at 40, \base, \bias + COOP__FRAME_FS0
        cfi_saved_at 41, \base, \bias + COOP__FRAME_FS1
        cfi_saved_at 50, \base, \bias + COOP__FRAME_FS2
        cfi_saved_at 51, \base, \bias + COOP__FRAME_FS3
        cfi_saved_at 52, \base, \bias + COOP__FRAME_FS4
        cfi_saved_at 53, \base, \bias + COOP__FRAME_FS5
        cfi_saved_at 54, \base, \bias + COOP__FRAME_FS6
        cfi_saved_at 55, \base, \bias + COOP__FRAME_FS7
        cfi_saved_at 56, \base, \bias + COOP__FRAME_FS8
        cfi_saved_at 57, \base, \bias + COOP__FRAME_FS9
        cfi_saved_at 58, \base, \bias + COOP__FRAME_FS10
        cfi_saved_at 59, \base, \bias + COOP__FRAME_FS11
        .endm

/* The action codes of switch.h (an enum there). */
#define ACTION_ENTER 1
#define ACTION_YIELD 2

/*
 * save_frame f, bias, flags: save the running context into the frame at
 * f + bias: callee-saved registers, ra as the resume address, sp, the
 * rounding mode (left in t2 for load_frame) and flags.  Uses t2, t3.
 */
        .macro  save_frame f, bias, flags
        frrm    t2                               /* first, compared last */
        sd      s0, \bias + COOP__FRAME_S0(\f)
        sd      s1, \bias + COOP__FRAME_S1(\f)
        sd      s2, \bias + COOP__FRAME_S2(\f)
        sd      s3, \bias + COOP__FRAME_S3(\f)
        sd      s4, \bias + COOP__FRAME_S4(\f)
        sd      s5, \bias + COOP__FRAME_S5(\f)
        sd      s6, \bias + COOP__FRAME_S6(\f)
        sd      s7, \bias + COOP__FRAME_S7(\f)
        sd      s8, \bias + COOP__FRAME_S8(\f)
        sd      s9, \bias + COOP__FRAME_S9(\f)
        sd      s10, \bias + COOP__FRAME_S10(\f)
        sd      s11, \bias + COOP__FRAME_S11(\f)
        sd      ra, \bias + COOP__FRAME_RA(\f)   /* resume here */
        sd      sp, \bias + COOP__FRAME_SP(\f)
        fsd     fs0, \bias + COOP__FRAME_FS0(\f)
        fsd     fs1, \bias + COOP__FRAME_FS1(\f)
        fsd     fs2, \bias + COOP__FRAME_FS2(\f)
        fsd     fs3, \bias + COOP__FRAME_FS3(\f)
        fsd     fs4, \bias + COOP__FRAME_FS4(\f)
        fsd     fs5, \bias + COOP__FRAME_FS5(\f)
        fsd     fs6, \bias + COOP__FRAME_FS6(\f)
        fsd     fs7, \bias + COOP__FRAME_FS7(\f)
        fsd     fs8, \bias + COOP__FRAME_FS8(\f)
        fsd     fs9, \bias + COOP__FRAME_FS9(\f)
        fsd     fs10, \bias + COOP__FRAME_FS10(\f)
        fsd     fs11, \bias + COOP__FRAME_FS11(\f)
        sd      t2, \bias + COOP__FRAME_FRM(\f)
        .if \flags
        li      t3, \flags
        sd      t3, \bias + COOP__FRAME_FLAGS(\f)
        .else
        sd      zero, \bias + COOP__FRAME_FLAGS(\f)
        .endif
        .endm

/*
 * load_frame t, tdw, bias, tag: the second half of every switch, after
 * save_frame: take the stack, callee-saved registers and resume address
 * (into t1) of the frame at t + bias (tdw: t's DWARF number), and its
 * rounding mode where it differs from ours (t2).  The CFI from the stack
 * switch on describes t's frame.  The rare part, frm_differs with the
 * same arguments, goes after the jump that ends the switch.  Uses t3.
 */
        .macro  load_frame t, tdw, bias, tag
        ld      sp, \bias + COOP__FRAME_SP(\t)   /* the switch proper */
        cfi_frame_at \tdw, \bias                 /* now we are t's frame */
        ld      s0, \bias + COOP__FRAME_S0(\t)
        ld      s1, \bias + COOP__FRAME_S1(\t)
        ld      s2, \bias + COOP__FRAME_S2(\t)
        ld      s3, \bias + COOP__FRAME_S3(\t)
        ld      s4, \bias + COOP__FRAME_S4(\t)
        ld      s5, \bias + COOP__FRAME_S5(\t)
        ld      s6, \bias + COOP__FRAME_S6(\t)
        ld      s7, \bias + COOP__FRAME_S7(\t)
        ld      s8, \bias + COOP__FRAME_S8(\t)
        ld      s9, \bias + COOP__FRAME_S9(\t)
        ld      s10, \bias + COOP__FRAME_S10(\t)
        ld      s11, \bias + COOP__FRAME_S11(\t)
        ld      t1, \bias + COOP__FRAME_RA(\t)   /* t1: resume there */
        fld     fs0, \bias + COOP__FRAME_FS0(\t)
        fld     fs1, \bias + COOP__FRAME_FS1(\t)
        fld     fs2, \bias + COOP__FRAME_FS2(\t)
        fld     fs3, \bias + COOP__FRAME_FS3(\t)
        fld     fs4, \bias + COOP__FRAME_FS4(\t)
        fld     fs5, \bias + COOP__FRAME_FS5(\t)
        fld     fs6, \bias + COOP__FRAME_FS6(\t)
        fld     fs7, \bias + COOP__FRAME_FS7(\t)
        fld     fs8, \bias + COOP__FRAME_FS8(\t)
        fld     fs9, \bias + COOP__FRAME_FS9(\t)
        fld     fs10, \bias + COOP__FRAME_FS10(\t)
        fld     fs11, \bias + COOP__FRAME_FS11(\t)
        ld      t3, \bias + COOP__FRAME_FRM(\t)
        bne     t2, t3, .Lfrm_differs_\tag       /* differs (or t is new) */
.Lfp_done_\tag:
        .endm

        .macro  frm_differs t, tdw, bias, tag
.Lfrm_differs_\tag:
        .cfi_def_cfa sp, 0                       /* as at the branch here */
        cfi_frame_at \tdw, \bias
        bltz    t3, .Lfp_done_\tag               /* new: keeps ours */
        fsrm    t3
        j       .Lfp_done_\tag
        .endm

/* From a fast path to its slow branch: the CFI of the entry. */
        .macro  cfi_at_entry
        .cfi_def_cfa sp, 0
        .cfi_same_value DW_RA
        .irp r, 8, 9, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 40, 41, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59
        .cfi_same_value \r
        .endr
        .endm

/* t0 = the address of this thread's coop__current_co (initial-exec). */
        .macro  current_slot
        la.tls.ie t0, coop__current_co
        add     t0, t0, tp
        .endm

        .text

/*
 * coop__asm_switch: reached by a jump from the asm statement in asm.h, with
 *   a0 = from (frame to save into)     a1 = to (frame to resume)
 *   a2 = action (passed through)       ra = from's resume address
 * Saves from, restores to and jumps to its resume address -- or, when to
 * was saved by the fast coop_enter() and this is not an enter, has core
 * finish that enter first (coop__enter_resume, see switch.h).  Uses t1-t3
 * besides.
 *
 * CFI: like a leaf function that saved nothing -- CFA = sp, return address
 * in ra -- until our registers are overwritten; from then on they are
 * described in from, and once sp is switched, to's are described in to.
 * An unwinder gets a correct chain at every instruction.
 */
        .p2align 4
COOP__SYMBOL(coop__asm_switch)
        .cfi_startproc
        save_frame a0, 0, 0
        cfi_frame_at DW_A0, 0                    /* ours are in from now */
        load_frame a1, DW_A1, 0, sw
        ld      t3, COOP__FRAME_FLAGS(a1)
        andi    t3, t3, COOP__FRAME_IN_ENTER
        bnez    t3, .Lto_in_enter
.Lresume_sw:
        jr      t1

.Lto_in_enter:
        li      t3, ACTION_ENTER
        beq     a2, t3, .Lresume_sw              /* (nobody enters an enterer) */
        /* As if to's caller had called coop__enter_resume(to, from, action)
         * instead of coop_enter(): its return address back in ra. */
        mv      ra, t1
        cfi_at_entry                             /* to's registers are live */
        mv      t3, a0
        addi    a0, a1, -COOP__CO_CTX            /* to's coroutine: the enterer */
        addi    a1, t3, -COOP__CO_CTX            /* from's */
        tail    coop__enter_resume               /* action still in a2 */

        frm_differs a1, DW_A1, 0, sw
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_switch)

/*
 * coop_enter(co), fast path: the public function itself.  Taken when
 * nothing in coop__slow is set, the thread runs a coroutine or its main
 * context already (coop__current_co is set), and co may be entered as far
 * as switch.h's fields say (caller, waiting_on and the state word are 0).
 * Then: co->caller = self, the current coroutine is co, and self is saved
 * as it is at this call (AT_CALL | IN_ENTER: ra, our return address, is
 * where it resumes), so that a plain coop_yield() of co goes straight back
 * to our caller.  Anything else goes, untouched, to coop__enter_slow(co).
 * Thread-local storage is read afresh on every call: a coroutine may be
 * resumed on another thread.
 */
        .p2align 4
COOP__PUBLIC(coop_enter)
        .cfi_startproc
        current_slot
        ld      a1, 0(t0)                        /* self */
        beqz    a1, .Lenter_slow                 /* the thread's first use */
        ld      t3, COOP__CO_CALLER(a0)
        ld      t4, COOP__CO_WAITING_ON(a0)
        lwu     t5, COOP__CO_STATE(a0)           /* main, pooled, woken */
        or      t3, t3, t4
        or      t3, t3, t5
        lw      t4, coop__slow                   /* hooks, overflow handler */
        or      t3, t3, t4
        bnez    t3, .Lenter_slow
        sd      a1, COOP__CO_CALLER(a0)          /* co->caller = self */
        ld      t4, COOP__CO_HOME(a1)
        sd      t4, COOP__CO_HOME(a0)            /* co->home = self->home */
        sd      a0, 0(t0)                        /* current = co */
        save_frame a1, COOP__CO_CTX, (COOP__FRAME_AT_CALL | COOP__FRAME_IN_ENTER)
        load_frame a0, DW_A0, COOP__CO_CTX, en
        li      a2, ACTION_ENTER
        jr      t1

        frm_differs a0, DW_A0, COOP__CO_CTX, en
.Lenter_slow:
        cfi_at_entry
        tail    coop__enter_slow                 /* co still in a0 */
        .cfi_endproc
COOP__SYMBOL_END(coop_enter)

/*
 * coop_yield(), fast path: taken when nothing in coop__slow is set and
 * the caller goes on by itself: core's enter loop (it takes on whatever
 * the coroutine woke), or the fast coop_enter's caller when the coroutine
 * woke nobody.  Saves self as it is at this call (AT_CALL), clears its
 * caller, makes the caller current and resumes it.  Anything else
 * (outside a coroutine; woken ones that a fast coop_enter could not run)
 * goes to coop__yield_slow().
 */
        .p2align 4
COOP__PUBLIC(coop_yield)
        .cfi_startproc
        current_slot
        ld      a0, 0(t0)                        /* self */
        beqz    a0, .Lyield_slow                 /* (a misuse: reported there) */
        lwu     t3, COOP__CO_STATE(a0)           /* is_main: a misuse; scheduled */
        lw      t4, coop__slow
        or      t3, t3, t4
        bnez    t3, .Lyield_slow
        ld      a1, COOP__CO_CALLER(a0)          /* to */
        ld      t3, COOP__CO_WAKE_HEAD(a0)
        bnez    t3, .Lyield_woke                 /* woke some: who runs them? */
        sd      a0, COOP__CO_BACK(a1)            /* to->back = self */
.Lyield_go:
        sd      zero, COOP__CO_CALLER(a0)
        sd      a1, 0(t0)                        /* current = to */
        save_frame a0, COOP__CO_CTX, COOP__FRAME_AT_CALL
        load_frame a1, DW_A1, COOP__CO_CTX, yi
        li      a2, ACTION_YIELD
        jr      t1

        frm_differs a1, DW_A1, COOP__CO_CTX, yi
.Lyield_woke:
        cfi_at_entry
        /* A fast coop_enter cannot run them: the slow path.  Core's enter
         * loop would, right after the switch: go to the first of them
         * directly instead, as the loop would (coop__handoff). */
        ld      t3, COOP__CO_CTX + COOP__FRAME_FLAGS(a1)
        andi    t3, t3, COOP__FRAME_IN_ENTER
        bnez    t3, .Lyield_slow
        addi    sp, sp, -16
        .cfi_adjust_cfa_offset 16
        sd      a0, 0(sp)                        /* self */
        sd      ra, 8(sp)                        /* our return address */
        .cfi_offset ra, -8
        call    coop__handoff                    /* -> the one to run */
        mv      a1, a0                           /* to */
        ld      a0, 0(sp)
        ld      ra, 8(sp)
        .cfi_same_value ra
        addi    sp, sp, 16
        .cfi_adjust_cfa_offset -16
        current_slot
        j       .Lyield_go
.Lyield_slow:
        tail    coop__yield_slow
        .cfi_endproc
COOP__SYMBOL_END(coop_yield)

/*
 * coop__asm_start: the resume address of a new context.  The first switch
 * into it arrives here on the new stack: sp 16-byte aligned, s0 0,
 * s1 = the coroutine.  It is the outermost frame: its return address is
 * undefined, so backtrace(), gdb and C++ unwinding stop here, and
 * frame-pointer walkers stop at the 0 in s0.
 */
        .p2align 4
        .cfi_startproc
        .cfi_undefined ra                        /* outermost frame */
        nop                                      /* unwinders look up ra-1 */
COOP__SYMBOL(coop__asm_start)
        mv      a0, s1                           /* co */
        call    coop__coroutine_main             /* never returns */
        ebreak                                   /* not reached */
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_start)

#endif /* __riscv && __riscv_xlen == 64 */

/* No executable stack, on every architecture. */
        .section .note.GNU-stack, "", %progbits
