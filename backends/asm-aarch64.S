/* SPDX-License-Identifier: MIT */
/*
 * AArch64 (AAPCS64) context switch of the asm backend.
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
 * BTI: the resume points (in asm.h and coop__asm_start) are reached with
 * "br x16", which "bti c" (hint #34) accepts; so is coop__asm_switch itself
 * in case a linker veneer reaches it through x16/x17.  PAC: nothing here
 * signs, stores or returns through a return address, and the C functions
 * around the switch authenticate their own, saved on their own stacks.
 */

/* Frame offsets; the .note.gnu.property marking the object BTI- and
 * PAC-compatible like the C objects -- on every architecture, see
 * asm-notes.h. */
#include "asm-frame.h"
#include "asm-notes.h"

#if defined(__aarch64__)

/* A hidden function symbol: .globl for asm.c and asm.h, never exported. */
#define COOP__SYMBOL(name)                                                    \
        .globl name;                                                          \
        .hidden name;                                                         \
        .type name, %function;                                                \
name:
#define COOP__SYMBOL_END(name) .size name, . - name

#define BTI_C hint #34          /* "bti c", a no-op on cores without BTI */

/* DWARF register numbers: x<n> is n, d<n> is 64 + n. */
#define DW_RA 30

/*
 * CFI rule "reg was saved at [base + off]": DW_CFA_expression (0x10) with
 * the one-operation expression DW_OP_breg<base> off (0x70 + base), off in
 * SLEB128: one byte below 64, two below 8192.
 */
        .macro  cfi_saved_at reg, base, off
        .if \off < 64
        .cfi_escape 0x10, \reg, 2, 0x70 + \base, \off
        .else
        .cfi_escape 0x10, \reg, 3, 0x70 + \base, ((\off) & 0x7f) | 0x80, (\off) >> 7
        .endif
        .endm

/* The callee-saved registers and the return address, all saved in the
 * frame at x<base>: the unwinder's view of a context that is not running. */
        .macro  cfi_frame_at base
        cfi_saved_at 19, \base, COOP__FRAME_X19
        cfi_saved_at 20, \base, COOP__FRAME_X20
        cfi_saved_at 21, \base, COOP__FRAME_X21
        cfi_saved_at 22, \base, COOP__FRAME_X22
        cfi_saved_at 23, \base, COOP__FRAME_X23
        cfi_saved_at 24, \base, COOP__FRAME_X24
        cfi_saved_at 25, \base, COOP__FRAME_X25
        cfi_saved_at 26, \base, COOP__FRAME_X26
        cfi_saved_at 27, \base, COOP__FRAME_X27
        cfi_saved_at 28, \base, COOP__FRAME_X28
        cfi_saved_at 29, \base, COOP__FRAME_X29
        cfi_saved_at DW_RA, \base, COOP__FRAME_X30
        cfi_saved_at 72, \base, COOP__FRAME_D8
        cfi_saved_at 73, \base, COOP__FRAME_D9
        cfi_saved_at 74, \base, COOP__FRAME_D10
        cfi_saved_at 75, \base, COOP__FRAME_D11
        cfi_saved_at 76, \base, COOP__FRAME_D12
        cfi_saved_at 77, \base, COOP__FRAME_D13
        cfi_saved_at 78, \base, COOP__FRAME_D14
        cfi_saved_at 79, \base, COOP__FRAME_D15
        .endm

        .text

/*
 * coop__asm_switch: reached by a "b" from the asm statement in asm.h, with
 *   x0 = from (frame to save into)     x1 = to (frame to resume)
 *   x2 = action (passed through)       x30 = from's resume address
 * Saves from, loads to, restores to's FPCR where it differs from the
 * current one, and branches to to's resume address.  Uses x9-x11 and x16
 * besides.
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
        mrs     x10, fpcr                        /* first, compared last */
        mov     x9, sp                           /* stp cannot store sp */
        stp     x19, x20, [x0, #COOP__FRAME_X19]
        stp     x21, x22, [x0, #COOP__FRAME_X21]
        stp     x23, x24, [x0, #COOP__FRAME_X23]
        stp     x25, x26, [x0, #COOP__FRAME_X25]
        stp     x27, x28, [x0, #COOP__FRAME_X27]
        stp     x29, x30, [x0, #COOP__FRAME_X29] /* x30: where from resumes */
        str     x9, [x0, #COOP__FRAME_SP]
        stp     d8, d9, [x0, #COOP__FRAME_D8]
        stp     d10, d11, [x0, #COOP__FRAME_D10]
        stp     d12, d13, [x0, #COOP__FRAME_D12]
        stp     d14, d15, [x0, #COOP__FRAME_D14]
        str     x10, [x0, #COOP__FRAME_FPCR]
        cfi_frame_at 0                           /* ours are in from now */
        .cfi_remember_state                      /* (for the slow path below) */
        ldp     x19, x20, [x1, #COOP__FRAME_X19]
        ldp     x21, x22, [x1, #COOP__FRAME_X21]
        ldp     x23, x24, [x1, #COOP__FRAME_X23]
        ldp     x25, x26, [x1, #COOP__FRAME_X25]
        ldp     x27, x28, [x1, #COOP__FRAME_X27]
        ldp     x29, x16, [x1, #COOP__FRAME_X29] /* x16: where to resumes */
        ldp     d8, d9, [x1, #COOP__FRAME_D8]
        ldp     d10, d11, [x1, #COOP__FRAME_D10]
        ldp     d12, d13, [x1, #COOP__FRAME_D12]
        ldp     d14, d15, [x1, #COOP__FRAME_D14]
        ldr     x11, [x1, #COOP__FRAME_FPCR]
        cmp     x10, x11
        b.ne    .Lfpcr_differs                   /* differs (or to is new) */
.Lfp_done:
        ldr     x9, [x1, #COOP__FRAME_SP]
        mov     sp, x9                           /* the switch proper */
        cfi_frame_at 1                           /* now we are to's frame */
        br      x16                              /* a "bti c" waits there */

        /* Out of line, rare: the control state differs. */
.Lfpcr_differs:
        .cfi_restore_state
        tbnz    x11, #COOP__FRAME_FRESH_BIT, .Lfp_done /* new: keeps ours */
        msr     fpcr, x11                        /* the costly part, rare */
        b       .Lfp_done
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_switch)

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
