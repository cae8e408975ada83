/* SPDX-License-Identifier: MIT */
/*
 * AArch64 (AAPCS64) context switch of the asm backend, and the fast paths
 * of coop_enter() and coop_yield().
 *
 * The saved frame is struct coop__ctx (asm.h); its offsets come from
 * asm-frame.h:
 *
 *   offset  register  why it is saved
 *   ------  --------  --------------------------------------------------
 *        0  x19       callee-saved; a new context's coop_t *
 *    8..72  x20-x28   callee-saved
 *       80  x29       callee-saved, frame pointer; 0 in a new context
 *       88  x30       resume address (the switch branches there; new: start)
 *       96  sp        the stack pointer at the switch point
 *  104-160  d8-d15    callee-saved low halves of v8-v15
 *      168  FPCR      floating-point control (no sticky flags: those are in
 *                     FPSR, not kept); bit 63 (RES0) set: new, inherit the
 *                     enterer's control state
 *      176  flags     how the frame was saved: 0 inside a switch of ours;
 *                     AT_CALL by a fast path at the call of coop_yield()/
 *                     coop_enter() (x30 = the return address); IN_ENTER
 *                     too when that was coop_enter()
 *
 * Nothing else: x0-x18 (x18 is an ordinary temporary on Linux), the link
 * register x30 (its slot holds the resume address instead), v0-v7,
 * v16-v31, the upper halves of v8-v15 and NZCV are caller-saved, declared
 * clobbered by the asm statement in asm.h; FPSR holds only sticky flags.
 *
 * FPCR is read on every switch and written only where to's differs from
 * the current one (msr fpcr is the costly part).  A new or restarted
 * context (bit 63 of its FPCR slot, RES0 in a real FPCR) keeps the FPCR of
 * whoever enters it.
 *
 * The fast paths are those of asm-x86_64.S (read its "Return by jump"),
 * with one difference.  BTI: the resume points inside our code (asm.h,
 * coop__asm_start) are reached with "br x16", which "bti c" (hint #34)
 * accepts; so are the functions here, reached through the PLT or a linker
 * veneer.  But a return address has no landing pad, and BTI forbids "br"
 * to it: a frame saved at a call (AT_CALL) is resumed with "ret x16",
 * which BTI does not check and the return predictor gets wrong.  So on
 * aarch64 the fast paths save the C enter loop, a call, a few dozen
 * instructions and all but one flag test, but one mispredicted return
 * per switch remains, as before.  PAC: nothing here signs or
 * authenticates a return address; the C functions around the switch
 * authenticate their own, saved on their own stacks, and a frame resumed
 * at a return address gets back the raw x30 its caller's bl produced.
 */

/* Frame offsets; the .note.gnu.property marking the object BTI- and
 * PAC-compatible like the C objects -- on every architecture, see
 * asm-notes.h. */
#include "asm-frame.h"
#include "asm-notes.h"
#include "switch.h"

#if defined(__aarch64__)

/* COOP__SYMBOL, COOP__PUBLIC; the core symbols reached directly. */
#include "asm-symbols.h"
/* cfi_saved_at. */
#include "asm-cfi.h"

#define BTI_C hint #34          /* "bti c", a no-op on cores without BTI */

/* DWARF register numbers: x<n> is n, d<n> is 64 + n. */
#define DW_RA 30

/* The callee-saved registers and the return address, all saved in the
 * frame at x<base> + bias: the unwinder's view of a context that is not
 * running (bias: COOP__CO_CTX when x<base> points at the struct coop). */
        .macro  cfi_frame_at base, bias
        cfi_saved_at 19, \base, \bias + COOP__FRAME_X19
        cfi_saved_at 20, \base, \bias + COOP__FRAME_X20
        cfi_saved_at 21, \base, \bias + COOP__FRAME_X21
        cfi_saved_at 22, \base, \bias + COOP__FRAME_X22
        cfi_saved_at 23, \base, \bias + COOP__FRAME_X23
        cfi_saved_at 24, \base, \bias + COOP__FRAME_X24
        cfi_saved_at 25, \base, \bias + COOP__FRAME_X25
        cfi_saved_at 26, \base, \bias + COOP__FRAME_X26
        cfi_saved_at 27, \base, \bias + COOP__FRAME_X27
        cfi_saved_at 28, \base, \bias + COOP__FRAME_X28
        cfi_saved_at 29, \base, \bias + COOP__FRAME_X29
        cfi_saved_at DW_RA, \base, \bias + COOP__FRAME_X30
        cfi_saved_at 72, \base, \bias + COOP__FRAME_D8
        cfi_saved_at 73, \base, \bias + COOP__FRAME_D9
        cfi_saved_at 74, \base, \bias + COOP__FRAME_D10
        cfi_saved_at 75, \base, \bias + COOP__FRAME_D11
        cfi_saved_at 76, \base, \bias + COOP__FRAME_D12
        cfi_saved_at 77, \base, \bias + COOP__FRAME_D13
        cfi_saved_at 78, \base, \bias + COOP__FRAME_D14
        cfi_saved_at 79, \base, \bias + COOP__FRAME_D15
        .endm

/* The action codes of switch.h (an enum there). */
#define ACTION_ENTER 1
#define ACTION_YIELD 2

/*
 * save_frame f, bias, flags: save the running context into the frame at
 * x<f> + bias: callee-saved registers, x30 as the resume address, sp, the
 * FPCR (left in x10 for load_frame) and flags.  Uses x9-x11.
 */
        .macro  save_frame f, bias, flags
        mrs     x10, fpcr                        /* first, compared last */
        mov     x9, sp                           /* stp cannot store sp */
        stp     x19, x20, [\f, #\bias + COOP__FRAME_X19]
        stp     x21, x22, [\f, #\bias + COOP__FRAME_X21]
        stp     x23, x24, [\f, #\bias + COOP__FRAME_X23]
        stp     x25, x26, [\f, #\bias + COOP__FRAME_X25]
        stp     x27, x28, [\f, #\bias + COOP__FRAME_X27]
        stp     x29, x30, [\f, #\bias + COOP__FRAME_X29] /* x30: resume here */
        str     x9, [\f, #\bias + COOP__FRAME_SP]
        stp     d8, d9, [\f, #\bias + COOP__FRAME_D8]
        stp     d10, d11, [\f, #\bias + COOP__FRAME_D10]
        stp     d12, d13, [\f, #\bias + COOP__FRAME_D12]
        stp     d14, d15, [\f, #\bias + COOP__FRAME_D14]
        str     x10, [\f, #\bias + COOP__FRAME_FPCR]
        .if \flags
        mov     x11, #\flags
        str     x11, [\f, #\bias + COOP__FRAME_FLAGS]
        .else
        str     xzr, [\f, #\bias + COOP__FRAME_FLAGS]
        .endif
        .endm

/*
 * load_frame t, tdw, bias, tag: the second half of every switch, after
 * save_frame: take the stack, callee-saved registers and resume address
 * (into x16) of the frame at x<t> + bias (tdw: t's DWARF number), and its
 * FPCR where it differs from ours (x10).  The CFI from the stack switch on
 * describes t's frame.  The rare part, fpcr_differs with the same
 * arguments, goes after the branch that ends the switch.  Uses x9, x11.
 */
        .macro  load_frame t, tdw, bias, tag
        ldr     x9, [\t, #\bias + COOP__FRAME_SP]
        mov     sp, x9                           /* the switch proper */
        cfi_frame_at \tdw, \bias                 /* now we are t's frame */
        ldp     x19, x20, [\t, #\bias + COOP__FRAME_X19]
        ldp     x21, x22, [\t, #\bias + COOP__FRAME_X21]
        ldp     x23, x24, [\t, #\bias + COOP__FRAME_X23]
        ldp     x25, x26, [\t, #\bias + COOP__FRAME_X25]
        ldp     x27, x28, [\t, #\bias + COOP__FRAME_X27]
        ldp     x29, x16, [\t, #\bias + COOP__FRAME_X29] /* x16: resume there */
        ldp     d8, d9, [\t, #\bias + COOP__FRAME_D8]
        ldp     d10, d11, [\t, #\bias + COOP__FRAME_D10]
        ldp     d12, d13, [\t, #\bias + COOP__FRAME_D12]
        ldp     d14, d15, [\t, #\bias + COOP__FRAME_D14]
        ldr     x11, [\t, #\bias + COOP__FRAME_FPCR]
        cmp     x10, x11
        b.ne    .Lfpcr_differs_\tag              /* differs (or t is new) */
.Lfp_done_\tag:
        .endm

        .macro  fpcr_differs t, tdw, bias, tag
.Lfpcr_differs_\tag:
        .cfi_def_cfa sp, 0                       /* as at the branch here */
        cfi_frame_at \tdw, \bias
        tbnz    x11, #COOP__FRAME_FRESH_BIT, .Lfp_done_\tag /* new: keeps ours */
        msr     fpcr, x11                        /* the costly part, rare */
        b       .Lfp_done_\tag
        .endm

/*
 * resume t, bias, tag: branch to the resume address in x16.  A frame saved
 * at a call (AT_CALL) resumes at a return address, which has no BTI
 * landing pad: "ret x16" then (BTI does not check returns; the return
 * predictor misses, which is what remains of the cost on aarch64); frames
 * saved inside our own code resume at a "bti c" with "br x16", which the
 * indirect predictor gets right.
 */
        .macro  resume t, bias, tag
        ldr     x11, [\t, #\bias + COOP__FRAME_FLAGS]
        tbnz    x11, #0, .Lret_\tag              /* COOP__FRAME_AT_CALL */
        br      x16                              /* a "bti c" waits there */
.Lret_\tag:
        ret     x16
        .endm

/* From a fast path to its slow branch: the CFI of the entry. */
        .macro  cfi_at_entry
        .cfi_def_cfa sp, 0
        .cfi_same_value x30
        .irp r, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 72, 73, 74, 75, 76, 77, 78, 79
        .cfi_same_value \r
        .endr
        .endm

/* x9 = the address of this thread's coop__current_co (initial-exec). */
        .macro  current_slot
        mrs     x9, tpidr_el0
        adrp    x10, :gottprel:coop__current_co
        ldr     x10, [x10, #:gottprel_lo12:coop__current_co]
        add     x9, x9, x10
        .endm

        .text

/*
 * coop__asm_switch: reached by a "b" from the asm statement in asm.h, with
 *   x0 = from (frame to save into)     x1 = to (frame to resume)
 *   x2 = action (passed through)       x30 = from's resume address
 * Saves from, restores to and branches to its resume address -- or, when
 * to was saved by the fast coop_enter() and this is not an enter, has core
 * finish that enter first (coop__enter_resume, see switch.h).  Uses x9-x11
 * and x16 besides.
 *
 * CFI: like a leaf function that saved nothing -- CFA = sp, return address
 * in x30 -- until our registers are overwritten; from then on they are
 * described in from, and once sp is switched, to's are described in to.
 * An unwinder gets a correct chain at every instruction.
 */
        .p2align 4
COOP__SYMBOL(coop__asm_switch)
        .cfi_startproc
        BTI_C
        save_frame x0, 0, 0
        cfi_frame_at 0, 0                        /* ours are in from now */
        load_frame x1, 1, 0, sw
        ldr     x11, [x1, #COOP__FRAME_FLAGS]
        tbnz    x11, #1, .Lto_in_enter           /* COOP__FRAME_IN_ENTER */
.Lresume_sw:
        resume  x1, 0, sw

.Lto_in_enter:
        cmp     x2, #ACTION_ENTER                /* (nobody enters an enterer) */
        b.eq    .Lresume_sw
        /* As if to's caller had called coop__enter_resume(to, from, action)
         * instead of coop_enter(): its return address back in x30. */
        mov     x30, x16
        cfi_at_entry                             /* to's registers are live */
        mov     x9, x0
        sub     x0, x1, #COOP__CO_CTX            /* to's coroutine: the enterer */
        sub     x1, x9, #COOP__CO_CTX            /* from's */
        b       coop__enter_resume               /* action still in x2 */

        fpcr_differs x1, 1, 0, sw
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_switch)

/*
 * coop_enter(co), fast path: the public function itself.  Taken when
 * nothing in coop__slow is set, the thread runs a coroutine or its main
 * context already (coop__current_co is set), and co may be entered as far
 * as switch.h's fields say (caller, waiting_on and the state word are 0).
 * Then: co->caller = self, the current coroutine is co, and self is saved
 * as it is at this call (AT_CALL | IN_ENTER: x30, our return address, is
 * where it resumes), so that a plain coop_yield() of co goes straight back
 * to our caller.  Anything else goes, untouched, to coop__enter_slow(co).
 * Thread-local storage is read afresh on every call: a coroutine may be
 * resumed on another thread.
 */
        .p2align 4
COOP__PUBLIC(coop_enter)
        .cfi_startproc
        BTI_C                                    /* reached through the PLT */
        current_slot
        ldr     x1, [x9]                         /* self */
        cbz     x1, .Lenter_slow                 /* the thread's first use */
        ldp     x11, x12, [x0, #COOP__CO_CALLER] /* caller, waiting_on */
        ldr     w13, [x0, #COOP__CO_STATE]       /* main, pooled, woken */
        orr     x11, x11, x12
        orr     x11, x11, x13
        adrp    x12, coop__slow
        ldr     w12, [x12, #:lo12:coop__slow]    /* hooks, overflow handler */
        orr     x11, x11, x12
        cbnz    x11, .Lenter_slow
        str     x1, [x0, #COOP__CO_CALLER]       /* co->caller = self */
        ldr     x10, [x1, #COOP__CO_HOME]
        str     x10, [x0, #COOP__CO_HOME]        /* co->home = self->home */
        str     x0, [x9]                         /* current = co */
        save_frame x1, COOP__CO_CTX, (COOP__FRAME_AT_CALL | COOP__FRAME_IN_ENTER)
        load_frame x0, 0, COOP__CO_CTX, en
        mov     x2, #ACTION_ENTER
        resume  x0, COOP__CO_CTX, en

        fpcr_differs x0, 0, COOP__CO_CTX, en
.Lenter_slow:
        cfi_at_entry
        b       coop__enter_slow                 /* co still in x0 */
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
        BTI_C
        current_slot
        ldr     x0, [x9]                         /* self */
        cbz     x0, .Lyield_slow                 /* (a misuse: reported there) */
        ldr     w11, [x0, #COOP__CO_STATE]       /* is_main: a misuse; scheduled */
        adrp    x12, coop__slow
        ldr     w12, [x12, #:lo12:coop__slow]
        orr     x11, x11, x12
        cbnz    x11, .Lyield_slow
        ldr     x1, [x0, #COOP__CO_CALLER]       /* to */
        ldr     x11, [x0, #COOP__CO_WAKE_HEAD]
        cbnz    x11, .Lyield_woke                /* woke some: who runs them? */
        str     x0, [x1, #COOP__CO_BACK]         /* to->back = self */
.Lyield_go:
        str     xzr, [x0, #COOP__CO_CALLER]
        str     x1, [x9]                         /* current = to */
        save_frame x0, COOP__CO_CTX, COOP__FRAME_AT_CALL
        load_frame x1, 1, COOP__CO_CTX, yi
        mov     x2, #ACTION_YIELD
        resume  x1, COOP__CO_CTX, yi

        fpcr_differs x1, 1, COOP__CO_CTX, yi
.Lyield_woke:
        cfi_at_entry
        /* A fast coop_enter cannot run them: the slow path.  Core's enter
         * loop would, right after the switch: go to the first of them
         * directly instead, as the loop would (coop__handoff). */
        ldr     x11, [x1, #COOP__CO_CTX + COOP__FRAME_FLAGS]
        tbnz    x11, #1, .Lyield_slow            /* COOP__FRAME_IN_ENTER */
        stp     x0, x30, [sp, #-16]!             /* self, our return address */
        .cfi_adjust_cfa_offset 16
        .cfi_offset x30, -8
        bl      coop__handoff                    /* -> the one to run */
        mov     x1, x0                           /* to */
        ldp     x0, x30, [sp], #16
        .cfi_adjust_cfa_offset -16
        .cfi_same_value x30
        current_slot
        b       .Lyield_go
.Lyield_slow:
        b       coop__yield_slow
        .cfi_endproc
COOP__SYMBOL_END(coop_yield)

/*
 * coop__asm_start: the resume address of a new context.  The first switch
 * into it arrives here on the new stack: sp 16-byte aligned, x29 0,
 * x19 = the coroutine.  It is the outermost frame: its return address is
 * undefined, so backtrace(), gdb and C++ unwinding stop here, and
 * frame-pointer walkers stop at the 0 in x29.
 */
        .p2align 4
        .cfi_startproc
        .cfi_undefined x30                       /* outermost frame */
        nop                                      /* unwinders look up ra-1 */
COOP__SYMBOL(coop__asm_start)
        BTI_C                                    /* the switch branches here */
        mov     x0, x19                          /* co */
        bl      coop__coroutine_main             /* never returns */
        brk     #0x1                             /* not reached */
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_start)

#endif /* __aarch64__ */

/* No executable stack, on every architecture.  (The property note comes
 * from asm-notes.h, also on every architecture.) */
        .section .note.GNU-stack, "", %progbits
