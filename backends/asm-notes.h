/* SPDX-License-Identifier: MIT */
/*
 * Assembler only: the control-flow protection notes (.note.gnu.property)
 * that every .S file of the asm backend emits, on every architecture.
 */
#ifndef COOP_ASM_NOTES_H
#define COOP_ASM_NOTES_H

/*
 * The linker keeps a GNU property (x86 IBT/SHSTK, AArch64 BTI/PAC) in the
 * library only if every object it links has it, and the build links the
 * other architecture's .S too, as an empty object: without the note it
 * would turn the protection off for the whole library.
 */
#if defined(__ASSEMBLER__)
#if defined(__x86_64__)

/* <cet.h> defines _CET_ENDBR (endbr64 when the compiler was given
 * -fcf-protection with IBT) and, when __CET__ is defined, emits
 * GNU_PROPERTY_X86_FEATURE_1_AND with the IBT/SHSTK bits of __CET__,
 * matching what the compiler writes into the C objects. */
#if defined(__has_include)
#if __has_include(<cet.h>)
#include <cet.h>
#endif
#endif
#ifndef _CET_ENDBR
#if defined(__CET__)
/* A compiler that knows -fcf-protection without shipping <cet.h>. */
#if (__CET__ & 1)
#define _CET_ENDBR endbr64
#else
#define _CET_ENDBR
#endif
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size ("GNU\0") */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000002              /* GNU_PROPERTY_X86_FEATURE_1_AND */
        .long   4                       /* its data size */
        .long   (__CET__ & 3)           /* IBT (1) | SHSTK (2) */
        .long   0                       /* pad to 8 bytes */
        .popsection
#else
#define _CET_ENDBR
#endif
#endif

#elif defined(__aarch64__)

/* GNU_PROPERTY_AARCH64_FEATURE_1_AND = BTI (1) | PAC (2), as the C objects
 * compiled with -mbranch-protection=standard carry.  True of our assembly
 * whatever the flags: every indirect-branch target in it and in asm.h has
 * a BTI landing pad, and it never signs or returns through a return
 * address. */
        .pushsection .note.gnu.property, "a"
        .p2align 3
        .long   4                       /* name size ("GNU\0") */
        .long   16                      /* descriptor size */
        .long   5                       /* NT_GNU_PROPERTY_TYPE_0 */
        .asciz  "GNU"
        .long   0xc0000000              /* GNU_PROPERTY_AARCH64_FEATURE_1_AND */
        .long   4                       /* its data size */
        .long   3                       /* BTI | PAC */
        .long   0                       /* pad to 8 bytes */
        .popsection

#endif
#endif /* __ASSEMBLER__ */

#endif /* COOP_ASM_NOTES_H */
