/* SPDX-License-Identifier: MIT */
/*
 * Layout of the asm backend's saved frame (struct coop__ctx), shared by the
 * C side (asm.h, asm.c) and the assembly (asm-x86_64.S, asm-aarch64.S,
 * asm-riscv64.S), so that the two cannot drift apart (asm.h checks every
 * offset against the C struct).  Only preprocessor definitions: the assembler reads this file
 * too.
 *
 * The frame lives in the context itself, not on the stack: a coroutine's
 * context sits in core's struct coop at the top of its own stack mapping,
 * the main context's in the thread's state.  The switch writes the frame
 * of the side that leaves and reads the frame of the side that resumes;
 * it pushes nothing, so it never touches the x86-64 red zone of the
 * function that contains it.
 */
#ifndef COOP_ASM_FRAME_H
#define COOP_ASM_FRAME_H

#if defined(__x86_64__)

/*  offset  what            why                                              */
#define COOP__FRAME_RSP    0  /* stack pointer at the switch point           */
#define COOP__FRAME_RIP    8  /* resume address: the switch jumps there      */
#define COOP__FRAME_RBX   16  /* callee-saved (SysV); on a new context: co   */
#define COOP__FRAME_RBP   24  /* callee-saved, frame pointer; 0 when new     */
#define COOP__FRAME_R12   32  /* callee-saved                                */
#define COOP__FRAME_R13   40  /* callee-saved                                */
#define COOP__FRAME_R14   48  /* callee-saved                                */
#define COOP__FRAME_R15   56  /* callee-saved                                */
#define COOP__FRAME_MXCSR 64  /* SSE control (bits 0-5 are sticky flags)     */
#define COOP__FRAME_X87CW 68  /* x87 control word                            */
#define COOP__FRAME_FLAGS 70  /* 16 bits: how the frame was saved (below)    */
#define COOP__FRAME_SIZE  72

/* A reserved MXCSR bit (ldmxcsr would fault on it), so never a saved value:
 * set by coop__ctx_make/restart to mean "new: inherit the enterer's control
 * state".  The next stmxcsr into the slot clears it. */
#define COOP__FRAME_FRESH 0x80000000
/* MXCSR status flags IE DE ZE OE UE PE: not control state. */
#define COOP__FRAME_MXCSR_FLAGS 0x3f

#elif defined(__aarch64__)

/*  offset  what            why                                              */
#define COOP__FRAME_X19    0  /* callee-saved (AAPCS64); on a new ctx: co    */
#define COOP__FRAME_X20    8  /* callee-saved                                */
#define COOP__FRAME_X21   16  /* callee-saved                                */
#define COOP__FRAME_X22   24  /* callee-saved                                */
#define COOP__FRAME_X23   32  /* callee-saved                                */
#define COOP__FRAME_X24   40  /* callee-saved                                */
#define COOP__FRAME_X25   48  /* callee-saved                                */
#define COOP__FRAME_X26   56  /* callee-saved                                */
#define COOP__FRAME_X27   64  /* callee-saved                                */
#define COOP__FRAME_X28   72  /* callee-saved                                */
#define COOP__FRAME_X29   80  /* frame pointer; 0 when new                   */
#define COOP__FRAME_X30   88  /* resume address: the switch branches there   */
#define COOP__FRAME_SP    96  /* stack pointer at the switch point           */
#define COOP__FRAME_D8   104  /* low halves of v8-v15 are callee-saved       */
#define COOP__FRAME_D9   112
#define COOP__FRAME_D10  120
#define COOP__FRAME_D11  128
#define COOP__FRAME_D12  136
#define COOP__FRAME_D13  144
#define COOP__FRAME_D14  152
#define COOP__FRAME_D15  160
#define COOP__FRAME_FPCR 168  /* floating-point control register             */
#define COOP__FRAME_FLAGS 176 /* how the frame was saved (below)             */
#define COOP__FRAME_SIZE 184

/* FPCR bit 63 is RES0, so never a saved value: "new: inherit the enterer's
 * control state".  The next save of FPCR into the slot clears it. */
#define COOP__FRAME_FRESH_BIT 63

#elif defined(__riscv) && __riscv_xlen == 64

/*  offset  what            why                                              */
#define COOP__FRAME_S0     0  /* callee-saved, frame pointer; 0 when new     */
#define COOP__FRAME_S1     8  /* callee-saved (LP64D); on a new ctx: co      */
#define COOP__FRAME_S2    16  /* s2-s11: callee-saved                        */
#define COOP__FRAME_S3    24
#define COOP__FRAME_S4    32
#define COOP__FRAME_S5    40
#define COOP__FRAME_S6    48
#define COOP__FRAME_S7    56
#define COOP__FRAME_S8    64
#define COOP__FRAME_S9    72
#define COOP__FRAME_S10   80
#define COOP__FRAME_S11   88
#define COOP__FRAME_RA    96  /* resume address: the switch jumps there      */
#define COOP__FRAME_SP   104  /* stack pointer at the switch point           */
#define COOP__FRAME_FS0  112  /* fs0-fs11: callee-saved doubles (LP64D)      */
#define COOP__FRAME_FS1  120
#define COOP__FRAME_FS2  128
#define COOP__FRAME_FS3  136
#define COOP__FRAME_FS4  144
#define COOP__FRAME_FS5  152
#define COOP__FRAME_FS6  160
#define COOP__FRAME_FS7  168
#define COOP__FRAME_FS8  176
#define COOP__FRAME_FS9  184
#define COOP__FRAME_FS10 192
#define COOP__FRAME_FS11 200
#define COOP__FRAME_FRM  208  /* rounding mode, fcsr bits 7:5 (frrm's value) */
#define COOP__FRAME_FLAGS 216 /* how the frame was saved (below)             */
#define COOP__FRAME_SIZE 224

/* frrm reads 3 bits, so bit 63 is never a saved value: "new: inherit the
 * enterer's rounding mode" (a negative slot).  The next save clears it. */
#define COOP__FRAME_FRESH_BIT 63

#endif

/*
 * Flags of a saved frame, on every architecture.  0: saved inside a
 * switch, in the middle of a function of ours (asm.h's switch, run by
 * core's C code), which looks at the action it is handed.  AT_CALL: saved
 * by a fast path at its call (coop_enter() or coop_yield()), as the caller
 * will be once the call returns: the stack pointer above the return
 * address, and the return address as the resume address.  IN_ENTER (with
 * AT_CALL): saved by the fast coop_enter(), whose caller must not be
 * resumed directly with YIELD or TERMINATE: core's coop__enter_resume()
 * runs first (switch.h).  Debuggers read them (gdb/libcoop-gdb.py).
 */
#define COOP__FRAME_AT_CALL  1
#define COOP__FRAME_IN_ENTER 2

#endif /* COOP_ASM_FRAME_H */
