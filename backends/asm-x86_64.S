/* SPDX-License-Identifier: MIT */
/*
 * x86-64 (System V ABI) context switch of the asm backend.
 *
 * The saved frame is struct coop__ctx (asm.h); its offsets come from
 * asm-frame.h:
 *
 *   offset  register  why it is saved
 *   ------  --------  --------------------------------------------------
 *        0  rsp       the stack pointer at the switch point
 *        8  rip       resume address (the switch jumps there; new: start)
 *       16  rbx       callee-saved; a new context's coop_t *
 *       24  rbp       callee-saved, frame pointer; 0 in a new context
 *       32  r12       callee-saved
 *       40  r13       callee-saved
 *       48  r14       callee-saved
 *       56  r15       callee-saved
 *       64  MXCSR     SSE control bits (bits 0-5, sticky flags, are not
 *                     control state); bit 31 set: new, inherit the
 *                     enterer's control state
 *       68  x87 CW    x87 control word (rounding, precision, masks)
 *       70  -         unused
 *
 * Nothing else: the caller-saved registers (rax, rcx, rdx, rsi, rdi,
 * r8-r11, xmm/ymm/zmm, x87/MMX, flags) are declared clobbered by the asm
 * statement in asm.h, so the compiler keeps nothing live in them.
 *
 * Floating-point control state: saved on every switch (stmxcsr, fnstcw),
 * reloaded only where to's differs from the current one, and then with the
 * current sticky flags merged in, so contexts whose flags differ never pay
 * for an ldmxcsr.  A new or restarted context (bit 31 of its MXCSR slot,
 * which no real MXCSR has) keeps the state of whoever enters it.
 *
 * Shadow stacks (CET SHSTK) are not supported.  The switch uses no call and
 * no ret, so it does not touch a shadow stack itself, but the C code around
 * it does: a coroutine's coop_yield() returns to the coroutine's own caller
 * while the thread's single shadow stack holds the return address of the
 * coop_enter() that entered it, and that ret raises #CP.  Support needs one
 * shadow stack per coroutine (map_shadow_stack(2) with a restore token) and
 * a saveprevssp/rstorssp pair here, taken only when rdsspq reads non-zero
 * (SHSTK on).  Linux 6.6+ with glibc 2.39+ turns SHSTK on only for a
 * program all of whose objects are marked SHSTK-compatible, so libcoop is
 * built with -fcf-protection=branch: its objects, these included (the note
 * follows __CET__), claim IBT and not SHSTK, and such a program keeps
 * running without shadow stacks instead of dying at its first switch.
 * IBT is fully supported: every indirect-jump target, here and in asm.h,
 * starts with endbr64.
 */

/* Frame offsets; _CET_ENDBR (endbr64 when IBT is on) from <cet.h>; the
 * .note.gnu.property marking the object with the same features as the C
 * objects (from __CET__) -- on every architecture, see asm-notes.h. */
#include "asm-frame.h"
#include "asm-notes.h"

#if defined(__x86_64__)

/* A hidden function symbol: .globl for asm.c and asm.h, never exported. */
#define COOP__SYMBOL(name)                                                    \
        .globl name;                                                          \
        .hidden name;                                                         \
        .type name, %function;                                                \
name:
#define COOP__SYMBOL_END(name) .size name, . - name

/* DWARF register numbers. */
#define DW_RSI 4
#define DW_RDI 5
#define DW_RBX 3
#define DW_RBP 6
#define DW_R12 12
#define DW_R13 13
#define DW_R14 14
#define DW_R15 15
#define DW_RA  16

/*
 * CFI rule "reg was saved at [base + off]": DW_CFA_expression (0x10) with
 * the one-operation expression DW_OP_breg<base> off (0x70 + base); every
 * frame offset used here is below 64, so it is one SLEB128 byte.
 */
        .macro  cfi_saved_at reg, base, off
        .cfi_escape 0x10, \reg, 2, 0x70 + \base, \off
        .endm

/* The callee-saved registers and the return address, all saved in the
 * frame at base: the unwinder's view of a context that is not running. */
        .macro  cfi_frame_at base
        cfi_saved_at DW_RBX, \base, COOP__FRAME_RBX
        cfi_saved_at DW_RBP, \base, COOP__FRAME_RBP
        cfi_saved_at DW_R12, \base, COOP__FRAME_R12
        cfi_saved_at DW_R13, \base, COOP__FRAME_R13
        cfi_saved_at DW_R14, \base, COOP__FRAME_R14
        cfi_saved_at DW_R15, \base, COOP__FRAME_R15
        cfi_saved_at DW_RA,  \base, COOP__FRAME_RIP
        .endm

        .text

/*
 * coop__asm_switch: reached by a jmp from the asm statement in asm.h, with
 *   rdi = from (frame to save into)     rsi = to (frame to resume)
 *   eax = action (passed through)       rcx = from's resume address
 * Saves from, restores the floating-point control state of to where it
 * differs, loads to and jumps to its resume address.  Uses rdx and r8
 * besides; everything caller-saved is clobbered as far as C knows.
 *
 * CFI: nothing is pushed, so the CFA is rsp throughout and the "caller" is
 * the function whose asm statement jumped here, with its return address in
 * rcx; once the stack pointer is switched, the caller is to's.  An unwinder
 * (a profiler's signal handler, gdb stepping) gets a correct chain at every
 * instruction.
 */
        .p2align 4
COOP__SYMBOL(coop__asm_switch)
        .cfi_startproc
        .cfi_def_cfa %rsp, 0                     /* jumped to: nothing pushed */
        .cfi_register %rip, %rcx                 /* caller's resume address */
        _CET_ENDBR
        stmxcsr COOP__FRAME_MXCSR(%rdi)          /* slow: first, used last */
        fnstcw  COOP__FRAME_X87CW(%rdi)          /* (no-wait form) */
        movq    %rsp, COOP__FRAME_RSP(%rdi)
        movq    %rcx, COOP__FRAME_RIP(%rdi)      /* where from resumes */
        movq    %rbx, COOP__FRAME_RBX(%rdi)
        movq    %rbp, COOP__FRAME_RBP(%rdi)
        movq    %r12, COOP__FRAME_R12(%rdi)
        movq    %r13, COOP__FRAME_R13(%rdi)
        movq    %r14, COOP__FRAME_R14(%rdi)
        movq    %r15, COOP__FRAME_R15(%rdi)
        cfi_frame_at DW_RDI                      /* ours are in from now */
        .cfi_remember_state                      /* (for the slow path below) */
        movq    COOP__FRAME_RBX(%rsi), %rbx
        movq    COOP__FRAME_RBP(%rsi), %rbp
        movq    COOP__FRAME_R12(%rsi), %r12
        movq    COOP__FRAME_R13(%rsi), %r13
        movq    COOP__FRAME_R14(%rsi), %r14
        movq    COOP__FRAME_R15(%rsi), %r15
        movl    COOP__FRAME_MXCSR(%rdi), %edx
        xorl    COOP__FRAME_MXCSR(%rsi), %edx    /* bits where to differs... */
        testl   $~COOP__FRAME_MXCSR_FLAGS, %edx  /* ...besides sticky flags */
        jnz     .Lmxcsr_differs                  /* (or to is new: bit 31) */
        movzwl  COOP__FRAME_X87CW(%rdi), %edx    /* x87 CW holds no flags */
        cmpw    COOP__FRAME_X87CW(%rsi), %dx
        jne     .Lx87cw_differs
.Lfp_done:
        movq    COOP__FRAME_RSP(%rsi), %rsp      /* the switch proper */
        cfi_frame_at DW_RSI                      /* now we are to's frame */
        jmpq    *COOP__FRAME_RIP(%rsi)           /* an endbr64 waits there */

        /* Out of line, rare: the control state differs. */
.Lmxcsr_differs:
        .cfi_restore_state
        js      .Lfp_done                        /* bit 31: new, keeps ours */
        movl    COOP__FRAME_MXCSR(%rsi), %edx
        movl    COOP__FRAME_MXCSR(%rdi), %r8d
        andl    $~COOP__FRAME_MXCSR_FLAGS, %edx  /* to's control bits */
        andl    $COOP__FRAME_MXCSR_FLAGS, %r8d   /* the flags raised so far */
        orl     %r8d, %edx                       /* flags stay as they are */
        movl    %edx, COOP__FRAME_MXCSR(%rsi)    /* to's slot, redone later */
        ldmxcsr COOP__FRAME_MXCSR(%rsi)          /* the costly part, rare */
        movzwl  COOP__FRAME_X87CW(%rdi), %edx
        cmpw    COOP__FRAME_X87CW(%rsi), %dx
        je      .Lfp_done
.Lx87cw_differs:
        fldcw   COOP__FRAME_X87CW(%rsi)
        jmp     .Lfp_done
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_switch)

/*
 * coop__asm_start: the resume address of a new context.  The first switch
 * into it arrives here on the new stack: rsp 16-byte aligned (as at a call
 * instruction), rbp 0, rbx = the coroutine.  It is the outermost frame:
 * its return address is undefined, so backtrace(), gdb and C++ unwinding
 * stop here, and frame-pointer walkers stop at the 0 in rbp.
 */
        .p2align 4
        .cfi_startproc
        .cfi_undefined %rip                      /* outermost frame */
        nop                                      /* unwinders look up ra-1 */
COOP__SYMBOL(coop__asm_start)
        _CET_ENDBR                               /* the switch jumps here */
        movq    %rbx, %rdi                       /* co */
        call    coop__coroutine_main             /* never returns */
        ud2                                      /* not reached */
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_start)

#endif /* __x86_64__ */

/* No executable stack, on every architecture.  (The property note comes
 * from asm-notes.h, also on every architecture.) */
        .section .note.GNU-stack, "", %progbits
