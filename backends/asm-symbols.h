/* SPDX-License-Identifier: MIT */
/*
 * Assembler only, included inside each .S file's architecture block: the
 * symbol macros of the asm backend, and the core symbols its fast paths
 * reach directly (switch.h).  (Outside that block the other architecture's
 * empty object would declare them too, which the linker rejects.)
 */
#ifndef COOP_ASM_SYMBOLS_H
#define COOP_ASM_SYMBOLS_H

/* A hidden function symbol: .globl for asm.c and asm.h, never exported. */
#define COOP__SYMBOL(name)                                                    \
        .globl name;                                                          \
        .hidden name;                                                         \
        .type name, %function;                                                \
name:
#define COOP__SYMBOL_END(name) .size name, . - name
/* An exported function of the API (the version script gives it its
 * version), and a hidden alias core calls without the PLT (switch.h). */
#define COOP__PUBLIC(name)                                                    \
        .globl name;                                                          \
        .type name, %function;                                                \
        .globl coop__##name##_direct;                                         \
        .hidden coop__##name##_direct;                                        \
        .type coop__##name##_direct, %function;                               \
coop__##name##_direct:                                                        \
name:

/* What core gives the fast paths (switch.h); hidden, reached directly. */
        .hidden coop__slow
        .hidden coop__current_co
        .hidden coop__enter_slow
        .hidden coop__yield_slow
        .hidden coop__enter_resume
        .hidden coop__handoff

#endif /* COOP_ASM_SYMBOLS_H */
