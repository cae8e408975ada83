/* SPDX-License-Identifier: MIT */
/*
 * x86-64 (System V ABI) context switch of the asm backend, and the fast
 * paths of coop_enter() and coop_yield().
 *
 * The saved frame is struct coop__ctx (asm.h); its offsets come from
 * asm-frame.h:
 *
 *   offset  register  why it is saved
 *   ------  --------  --------------------------------------------------
 *        0  rsp       the stack pointer to resume with
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
 *       70  flags     how the frame was saved: 0 inside a switch of
 *                     ours; AT_CALL by a fast path, at the call of
 *                     coop_yield()/coop_enter() (rsp above the return
 *                     address, rip = the return address); IN_ENTER too
 *                     when that was coop_enter()
 *
 * Nothing else: the caller-saved registers (rax, rcx, rdx, rsi, rdi,
 * r8-r11, xmm/ymm/zmm, x87/MMX, flags) are declared clobbered by the asm
 * statement in asm.h, and are free at a call anyway, so nothing lives in
 * them.
 *
 * Return by jump.  A `ret` that crosses stacks is mispredicted: the CPU's
 * return-stack buffer holds the return address of the side that called,
 * not of the side that resumes.  So nothing here returns: the fast
 * coop_enter() saves its caller as it will be once the call returns and
 * jumps into the coroutine; the fast coop_yield() saves the coroutine the
 * same way and jumps straight to the return address of the coop_enter()
 * call that entered it.  Both jumps are indirect jumps, which the branch
 * predictor learns per site.  The calls push return-stack entries that are
 * never popped; that buffer is circular and just forgets them.  The C
 * enter loop (wake-ups, finish, sanitizers) keeps switching with the asm
 * statement of asm.h; a coroutine that comes back to a fast coop_enter()
 * with such work is handed to core's coop__enter_resume() on the
 * enterer's stack (coop__asm_switch below).
 *
 * Floating-point control state: saved on every switch (stmxcsr, fnstcw),
 * reloaded only where to's differs from the current one, and then with the
 * current sticky flags merged in, so contexts whose flags differ never pay
 * for an ldmxcsr.  A new or restarted context (bit 31 of its MXCSR slot,
 * which no real MXCSR has) keeps the state of whoever enters it.
 *
 * IBT: a return address has no endbr64, so every resume is a "notrack"
 * jump, which IBT lets land anywhere when the loader sets NO_TRACK_EN (as
 * it must for gcc's own switch tables, which jump the same way).  The
 * landing pads stay where a resume may land inside our code (asm.h, the
 * start of a new context), and every function here starts with one.
 *
 * Shadow stacks (CET SHSTK) are not supported: a coroutine's frames return
 * through return addresses that a single per-thread shadow stack cannot
 * hold in order.  Support needs one shadow stack per coroutine
 * (map_shadow_stack(2) with a restore token) and a saveprevssp/rstorssp
 * pair here, taken only when rdsspq reads non-zero (SHSTK on).  Linux 6.6+
 * with glibc 2.39+ turns SHSTK on only for a program all of whose objects
 * are marked SHSTK-compatible, so libcoop is built with
 * -fcf-protection=branch: its objects, these included (the note follows
 * __CET__), claim IBT and not SHSTK, and such a program keeps running
 * without shadow stacks instead of dying at its first switch.
 */

/* Frame offsets; _CET_ENDBR (endbr64 when IBT is on) from <cet.h>; the
 * .note.gnu.property marking the object with the same features as the C
 * objects (from __CET__) -- on every architecture, see asm-notes.h. */
#include "asm-frame.h"
#include "asm-notes.h"
#include "switch.h"

#if defined(__x86_64__)

/* COOP__SYMBOL, COOP__PUBLIC; the core symbols reached directly. */
#include "asm-symbols.h"
/* cfi_saved_at. */
#include "asm-cfi.h"

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

/* The action codes of switch.h (an enum there). */
#define ACTION_ENTER 1
#define ACTION_YIELD 2

/* The callee-saved registers and the return address, all saved in the
 * frame at base + bias: the unwinder's view of a context that is not
 * running (bias: COOP__CO_CTX when base points at the struct coop). */
        .macro  cfi_frame_at base, bias
        cfi_saved_at DW_RBX, \base, \bias + COOP__FRAME_RBX
        cfi_saved_at DW_RBP, \base, \bias + COOP__FRAME_RBP
        cfi_saved_at DW_R12, \base, \bias + COOP__FRAME_R12
        cfi_saved_at DW_R13, \base, \bias + COOP__FRAME_R13
        cfi_saved_at DW_R14, \base, \bias + COOP__FRAME_R14
        cfi_saved_at DW_R15, \base, \bias + COOP__FRAME_R15
        cfi_saved_at DW_RA,  \base, \bias + COOP__FRAME_RIP
        .endm

/*
 * save_frame base, bias, sp, pc, flags: save the running context into the
 * frame at base + bias (bias: COOP__CO_CTX when base points at the struct
 * coop): callee-saved registers, FP control state, sp and pc as the stack
 * pointer and resume address, and flags.
 */
        .macro  save_frame base, bias, sp, pc, flags
        stmxcsr \bias + COOP__FRAME_MXCSR(\base) /* slow: first, used last */
        fnstcw  \bias + COOP__FRAME_X87CW(\base) /* (no-wait form) */
        movq    \sp, \bias + COOP__FRAME_RSP(\base)
        movq    \pc, \bias + COOP__FRAME_RIP(\base)
        movw    $\flags, \bias + COOP__FRAME_FLAGS(\base)
        movq    %rbx, \bias + COOP__FRAME_RBX(\base)
        movq    %rbp, \bias + COOP__FRAME_RBP(\base)
        movq    %r12, \bias + COOP__FRAME_R12(\base)
        movq    %r13, \bias + COOP__FRAME_R13(\base)
        movq    %r14, \bias + COOP__FRAME_R14(\base)
        movq    %r15, \bias + COOP__FRAME_R15(\base)
        .endm

/*
 * load_frame from, to, todw, bias, tag: the second half of every switch,
 * after save_frame into from: take to's stack and callee-saved registers
 * (todw: to's DWARF register number, for the CFI), and its FP control
 * state where it differs from the one just saved in from.  Ends ready to
 * jump to to's resume address; the CFI from then on describes to's frame.
 * The rare part, fp_differs with the same arguments, goes after that
 * jump.  Uses edx and r8d.
 */
        .macro  load_frame from, to, todw, bias, tag
        movq    \bias + COOP__FRAME_RSP(\to), %rsp /* the switch proper */
        .cfi_def_cfa %rsp, 0
        cfi_frame_at \todw, \bias                /* now we are to's frame */
        movq    \bias + COOP__FRAME_RBX(\to), %rbx
        movq    \bias + COOP__FRAME_RBP(\to), %rbp
        movq    \bias + COOP__FRAME_R12(\to), %r12
        movq    \bias + COOP__FRAME_R13(\to), %r13
        movq    \bias + COOP__FRAME_R14(\to), %r14
        movq    \bias + COOP__FRAME_R15(\to), %r15
        movl    \bias + COOP__FRAME_MXCSR(\from), %edx
        xorl    \bias + COOP__FRAME_MXCSR(\to), %edx /* bits where to differs... */
        testl   $~COOP__FRAME_MXCSR_FLAGS, %edx  /* ...besides sticky flags */
        jnz     .Lmxcsr_differs_\tag             /* (or to is new: bit 31) */
        movzwl  \bias + COOP__FRAME_X87CW(\from), %edx /* x87 CW has no flags */
        cmpw    \bias + COOP__FRAME_X87CW(\to), %dx
        jne     .Lx87cw_differs_\tag
.Lfp_done_\tag:
        .endm

/* Sticky flags stay as they are; a new context (bit 31) keeps ours. */
        .macro  fp_differs from, to, todw, bias, tag
.Lmxcsr_differs_\tag:
        .cfi_def_cfa %rsp, 0                     /* as at the jumps here */
        cfi_frame_at \todw, \bias
        js      .Lfp_done_\tag                   /* bit 31: new, keeps ours */
        movl    \bias + COOP__FRAME_MXCSR(\to), %edx
        movl    \bias + COOP__FRAME_MXCSR(\from), %r8d
        andl    $~COOP__FRAME_MXCSR_FLAGS, %edx  /* to's control bits */
        andl    $COOP__FRAME_MXCSR_FLAGS, %r8d   /* the flags raised so far */
        orl     %r8d, %edx                       /* flags stay as they are */
        movl    %edx, \bias + COOP__FRAME_MXCSR(\to) /* to's slot, redone later */
        ldmxcsr \bias + COOP__FRAME_MXCSR(\to)   /* the costly part, rare */
        movzwl  \bias + COOP__FRAME_X87CW(\from), %edx
        cmpw    \bias + COOP__FRAME_X87CW(\to), %dx
        je      .Lfp_done_\tag
.Lx87cw_differs_\tag:
        fldcw   \bias + COOP__FRAME_X87CW(\to)
        jmp     .Lfp_done_\tag
        .endm

/* From the end of a fast path to its slow branch: the CFI of the entry. */
        .macro  cfi_at_entry
        .cfi_def_cfa %rsp, 8
        .cfi_offset %rip, -8
        .cfi_same_value %rbx
        .cfi_same_value %rbp
        .cfi_same_value %r12
        .cfi_same_value %r13
        .cfi_same_value %r14
        .cfi_same_value %r15
        .endm

        .text

/*
 * coop__asm_switch: reached by a jmp from the asm statement in asm.h, with
 *   rdi = from (frame to save into)     rsi = to (frame to resume)
 *   eax = action (passed through)       rcx = from's resume address
 * Saves from, restores to and jumps to its resume address -- or, when to
 * was saved by the fast coop_enter() and this is not an enter, has core
 * finish that enter first (coop__enter_resume, see switch.h).  Uses rdx
 * and r8 besides; everything caller-saved is clobbered as far as C knows.
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
        save_frame %rdi, 0, %rsp, %rcx, 0
        cfi_frame_at DW_RDI, 0                   /* ours are in from now */
        load_frame %rdi, %rsi, DW_RSI, 0, sw
        testb   $COOP__FRAME_IN_ENTER, COOP__FRAME_FLAGS(%rsi)
        jnz     .Lto_in_enter
.Lresume:
        notrack jmpq *COOP__FRAME_RIP(%rsi)      /* see "IBT" at the top */

.Lto_in_enter:
        .cfi_def_cfa %rsp, 0
        cfi_frame_at DW_RSI, 0
        cmpl    $ACTION_ENTER, %eax              /* (nobody enters an enterer) */
        je      .Lresume
        /* As if to's caller had called coop__enter_resume(to, from, action)
         * instead of coop_enter(): its return address back on its stack. */
        pushq   COOP__FRAME_RIP(%rsi)
        cfi_at_entry                             /* to's registers are live */
        movl    %eax, %edx                       /* action */
        movq    %rsi, %rax
        leaq    -COOP__CO_CTX(%rdi), %rsi        /* from's coroutine */
        leaq    -COOP__CO_CTX(%rax), %rdi        /* to's: the enterer */
        jmp     coop__enter_resume

        fp_differs %rdi, %rsi, DW_RSI, 0, sw
        .cfi_endproc
COOP__SYMBOL_END(coop__asm_switch)

/*
 * coop_enter(co), fast path: the public function itself.  Taken when
 * nothing in coop__slow is set, the thread runs a coroutine or its main
 * context already (coop__current_co is set), and co may be entered as far
 * as switch.h's fields say (caller, waiting_on and the state word are 0).
 * Then: co->caller = self, the current coroutine is co, and self is saved
 * as it will be when this call returns (AT_CALL | IN_ENTER), so that a
 * plain coop_yield() of co jumps straight back to our caller.  Anything
 * else goes, untouched, to core's coop__enter_slow(co).
 *
 * Thread-local storage is read afresh on every call (the thread pointer
 * is %fs): a coroutine may be resumed on another thread.
 */
        .p2align 4
COOP__PUBLIC(coop_enter)
        .cfi_startproc
        _CET_ENDBR
        movq    coop__current_co@gottpoff(%rip), %rdx
        movq    %fs:(%rdx), %rsi                 /* self */
        testq   %rsi, %rsi
        jz      .Lenter_slow                     /* the thread's first use */
        movq    COOP__CO_CALLER(%rdi), %rax
        orq     COOP__CO_WAITING_ON(%rdi), %rax
        jnz     .Lenter_slow                     /* entered, or waiting */
        cmpl    $0, COOP__CO_STATE(%rdi)
        jne     .Lenter_slow                     /* main, pooled or woken */
        cmpl    $0, coop__slow(%rip)
        jne     .Lenter_slow                     /* hooks, overflow handler */
        movq    %rsi, COOP__CO_CALLER(%rdi)      /* co->caller = self */
        movq    COOP__CO_HOME(%rsi), %rax
        movq    %rax, COOP__CO_HOME(%rdi)        /* co->home = self->home */
        movq    %rdi, %fs:(%rdx)                 /* current = co */
        movq    (%rsp), %rcx                     /* where self resumes */
        leaq    8(%rsp), %r8                     /* and its sp, once returned */
        save_frame %rsi, COOP__CO_CTX, %r8, %rcx, (COOP__FRAME_AT_CALL | COOP__FRAME_IN_ENTER)
        load_frame %rsi, %rdi, DW_RDI, COOP__CO_CTX, en
        movl    $ACTION_ENTER, %eax
        notrack jmpq *COOP__CO_CTX + COOP__FRAME_RIP(%rdi)

        fp_differs %rsi, %rdi, DW_RDI, COOP__CO_CTX, en
.Lenter_slow:
        cfi_at_entry
        jmp     coop__enter_slow                 /* co still in rdi */
        .cfi_endproc
COOP__SYMBOL_END(coop_enter)

/*
 * coop_yield(), fast path: taken when nothing in coop__slow is set and
 * the caller goes on by itself: core's enter loop (it takes on whatever
 * the coroutine woke), or the fast coop_enter's caller when the coroutine
 * woke nobody.  Saves self as it will be when this call returns (AT_CALL),
 * clears its caller, makes the caller current and jumps back into it.
 * Anything else (outside a coroutine; woken ones that a fast coop_enter
 * could not run) goes to coop__yield_slow().
 */
        .p2align 4
COOP__PUBLIC(coop_yield)
        .cfi_startproc
        _CET_ENDBR
        movq    coop__current_co@gottpoff(%rip), %rdx
        movq    %fs:(%rdx), %rdi                 /* self */
        testq   %rdi, %rdi
        jz      .Lyield_slow                     /* (a misuse: reported there) */
        cmpl    $0, COOP__CO_STATE(%rdi)
        jne     .Lyield_slow                     /* is_main: a misuse; scheduled */
        cmpl    $0, coop__slow(%rip)
        jne     .Lyield_slow
        movq    COOP__CO_CALLER(%rdi), %rsi      /* to */
        cmpq    $0, COOP__CO_WAKE_HEAD(%rdi)
        jne     .Lyield_woke                     /* woke some: who runs them? */
        movq    %rdi, COOP__CO_BACK(%rsi)        /* to->back = self */
.Lyield_go:
        movq    $0, COOP__CO_CALLER(%rdi)
        movq    %rsi, %fs:(%rdx)                 /* current = to */
        movq    (%rsp), %rcx                     /* where self resumes */
        leaq    8(%rsp), %r8
        save_frame %rdi, COOP__CO_CTX, %r8, %rcx, COOP__FRAME_AT_CALL
        load_frame %rdi, %rsi, DW_RSI, COOP__CO_CTX, yi
        movl    $ACTION_YIELD, %eax
        notrack jmpq *COOP__CO_CTX + COOP__FRAME_RIP(%rsi)

        fp_differs %rdi, %rsi, DW_RSI, COOP__CO_CTX, yi
.Lyield_woke:
        cfi_at_entry
        /* A fast coop_enter cannot run them: the slow path.  Core's enter
         * loop would, right after the switch: go to the first of them
         * directly instead, as the loop would (coop__handoff). */
        testb   $COOP__FRAME_IN_ENTER, COOP__CO_CTX + COOP__FRAME_FLAGS(%rsi)
        jnz     .Lyield_slow
        pushq   %rdi                             /* self; aligns the call */
        .cfi_adjust_cfa_offset 8
        call    coop__handoff                    /* -> the one to run */
        popq    %rdi
        .cfi_adjust_cfa_offset -8
        movq    %rax, %rsi                       /* to */
        movq    coop__current_co@gottpoff(%rip), %rdx
        jmp     .Lyield_go
.Lyield_slow:
        jmp     coop__yield_slow
        .cfi_endproc
COOP__SYMBOL_END(coop_yield)

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
